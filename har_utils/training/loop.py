"""Seeded training: the configuration of a run, the model it builds, and the fit.

``train(TrainConfig(...), fit, val)`` seeds everything, builds the model from the registry in
:mod:`har_utils.models` (wrapped by the input layers of :mod:`.layers` when asked), compiles it
(categorical cross-entropy on one-hot labels, accuracy) and fits it with early stopping on the
validation loss (best weights restored). It prints one compact line per epoch and returns a
:class:`TrainResult`.

Every epoch's randomness (the shuffling of the windows, dropout, augmentation) is drawn from
(seed, epoch) alone (:class:`~.callbacks.EpochSeeds`), and with ``backup_dir`` everything else
that decides the next epoch (weights, optimizer state, early stopping's state and best weights)
is saved after each epoch: a run interrupted and resumed gives the numbers of the same run
uninterrupted (on the JAX backend, which the project trains on: ``har_utils.backend``).
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np

from .. import backend, config
from ..data import Split
from ..models import build_model
from .callbacks import EpochLog, EpochSeeds, ResumableEarlyStopping
from .labels import ACTIVITY_IDS, to_one_hot
from .layers import (FRAMES, Augment, GravityFrame, RandomRotation, WindowStats,
                     parse_augment, standardization_layer)

OPTIMIZERS: tuple[str, ...] = config.OPTIMIZERS
#: Learning-rate schedules ``TrainConfig.lr_schedule`` may name.
LR_SCHEDULES: tuple[str, ...] = ("constant", "cosine")

_determinism_enabled = False


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and Keras (and TensorFlow, whose ops are then made deterministic,
    when it is the backend; JAX on the CPU is deterministic for a fixed core count).

    Keras draws the seed of every initializer built without one from Python's global
    ``random`` module; in a process where other threads use it too (a Dask worker's event
    loop), the weights would depend on timing. Keras gets its own ``random.Random(seed)``
    instead, which gives the same draws as the seeded global module in a quiet process."""
    global _determinism_enabled
    keras.utils.set_random_seed(int(seed))
    try:
        from keras.src.random import seed_generator
    except ImportError:  # another Keras layout: keep the global module
        pass
    else:
        seed_generator.python_random = random.Random(int(seed))
    if not _determinism_enabled and backend.current() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
        _determinism_enabled = True


# --- configuration --------------------------------------------------------------------------

@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run (hashable)."""

    model: str = "cnn_lstm_paper"
    #: Model hyper-parameters as sorted (key, value) pairs; a dict is accepted and converted.
    model_kwargs: tuple[tuple[str, Any], ...] = ()
    epochs: int = config.PAPER_EPOCHS
    batch_size: int = config.PAPER_BATCH_SIZE
    optimizer: str = config.PAPER_OPTIMIZER
    learning_rate: float = config.PAPER_LEARNING_RATE
    patience: int = 10
    seed: int = 0
    #: Standardise each channel with the fit windows' mean/std (a first layer of the model).
    standardize: bool = False
    #: Training-only augmentation: "none" or "+"-joined names from ``AUGMENTATIONS``.
    augment: str = "none"
    #: Gaussian noise std (per-channel std units when standardised, else absolute).
    noise_std: float = 0.01
    #: Std of the one random amplitude factor per window, drawn from N(1, scale_std).
    scale_std: float = 0.1
    #: Circular time shift of each window by a random whole number in [-max_shift, max_shift].
    max_shift: int = 8
    #: Largest angle (degrees) of the random rotation of augment "rotation" (180: any).
    max_angle: float = 30.0
    #: Input frame: "sensor" (the phone's axes, as recorded) or "gravity" (each window turned
    #: so its gravity estimate points along +x, plus the three sensors' magnitudes).
    frame: str = "sensor"
    #: Join per-channel window statistics (``layers.WindowStats``) with the network's features
    #: before its output layer (Ignatov 2018's recipe).
    window_stats: bool = False
    #: Learning rate over the run: "constant", or "cosine" (from ``learning_rate`` to 0 over
    #: all ``epochs``).
    lr_schedule: str = "constant"
    #: Epochs the schedule spans (0: the run's ``epochs``). A run shorter than its schedule
    #: follows the first epochs of it, as a fold run of that length did.
    schedule_epochs: int = 0
    #: > 0: keep an exponential moving average of the weights with this momentum per step
    #: (Keras' ``use_ema``); the per-epoch scores and the final model use the average.
    ema: float = 0.0

    def __post_init__(self) -> None:
        kw = self.model_kwargs
        pairs = kw.items() if isinstance(kw, Mapping) else kw
        object.__setattr__(self, "model_kwargs", tuple(sorted((str(k), v) for k, v in pairs)))
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; use one of {OPTIMIZERS}")
        if self.epochs < 1 or self.batch_size < 1 or self.patience < 0:
            raise ValueError("epochs and batch_size must be >= 1 and patience >= 0")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate}")
        object.__setattr__(self, "standardize", bool(self.standardize))
        object.__setattr__(self, "augment", "+".join(parse_augment(self.augment)) or "none")
        if not (self.noise_std >= 0 and self.scale_std >= 0 and self.max_shift >= 0):
            raise ValueError("noise_std, scale_std and max_shift must be >= 0")
        if not 0 <= self.max_angle <= 180:
            raise ValueError(f"max_angle must be in [0, 180] degrees, got {self.max_angle}")
        if self.frame not in FRAMES:
            raise ValueError(f"unknown frame {self.frame!r}; use one of {FRAMES}")
        object.__setattr__(self, "window_stats", bool(self.window_stats))
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"unknown lr_schedule {self.lr_schedule!r}; use one of "
                             f"{LR_SCHEDULES}")
        if self.schedule_epochs < 0:
            raise ValueError(f"schedule_epochs must be >= 0, got {self.schedule_epochs}")
        if not 0 <= self.ema < 1:
            raise ValueError(f"ema must be in [0, 1) (0: off), got {self.ema}")

    @property
    def augmentations(self) -> tuple[str, ...]:
        """``augment`` as a tuple of names (empty for "none")."""
        return parse_augment(self.augment)

    @property
    def kwargs(self) -> dict[str, Any]:
        """``model_kwargs`` as a dict."""
        return dict(self.model_kwargs)

    def as_dict(self) -> dict[str, Any]:
        """Every field, as a plain JSON-ready dict (``model_kwargs`` as a dict). A run's key
        (the experiment runner's) hashes it."""
        d = asdict(self)
        d["model_kwargs"] = self.kwargs
        return d


def make_optimizer(name: str, learning_rate: float | keras.optimizers.schedules.LearningRateSchedule,
                   ema: float = 0.0) -> keras.optimizers.Optimizer:
    """The optimizer ``name`` (one of :data:`OPTIMIZERS`) at ``learning_rate`` (a number or a
    Keras schedule): ``adam`` is ``keras.optimizers.Adam(learning_rate)``, ``adam_amsgrad``
    the same with ``amsgrad=True``, ``sgd`` ``SGD(learning_rate, momentum=0.9)``. ``ema`` > 0
    keeps a moving average of the weights with that momentum (``use_ema``)."""
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; use one of {OPTIMIZERS}")
    average = {"use_ema": True, "ema_momentum": float(ema)} if ema else {}
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate=learning_rate, momentum=0.9, **average)
    return keras.optimizers.Adam(learning_rate=learning_rate, amsgrad=name == "adam_amsgrad",
                                 **average)


def learning_rate_for(config: TrainConfig, n_windows: int
                  ) -> float | keras.optimizers.schedules.LearningRateSchedule:
    """``config.learning_rate``, or its schedule over the run's steps (``lr_schedule``)."""
    if config.lr_schedule == "constant":
        return config.learning_rate
    steps = (config.schedule_epochs or config.epochs) * -(-int(n_windows) // config.batch_size)
    return keras.optimizers.schedules.CosineDecay(config.learning_rate, decay_steps=steps)


#: The smallest variance the window statistics are standardised by (a statistic varying by
#: less than 0.001 between windows is treated as the constant it is).
STATS_VARIANCE_FLOOR: float = 1e-6


def build_for(config: TrainConfig, X: np.ndarray) -> keras.Model:
    """Build ``config.model`` for windows shaped like ``X``, wrapped by the input layers its
    settings ask for: input -> random rotation (augment "rotation") -> gravity frame
    (``frame``) -> standardize (fitted on ``X`` in that frame) -> the other augmentations ->
    model; with ``window_stats``, the model's output layer is replaced by one that also sees
    the window statistics (of the window in its frame, standardised on ``X``). The inner
    model's weights are those it has unwrapped, for the same seed. Uncompiled."""
    shape = tuple(X.shape[1:])
    frame = GravityFrame(name="gravity_frame") if config.frame == "gravity" else None
    framed = X if frame is None else keras.ops.convert_to_numpy(frame(np.asarray(X, np.float32)))
    base = build_model(config.model, input_shape=tuple(framed.shape[1:]),
                       n_classes=ACTIVITY_IDS.size, **config.kwargs)
    kinds = tuple(a for a in config.augmentations if a != "rotation")
    if not (config.standardize or config.augmentations or frame or config.window_stats):
        return base
    inputs = keras.Input(shape=shape, name="window")
    x = inputs
    if "rotation" in config.augmentations:
        x = RandomRotation(config.max_angle, name="rotation")(x)
    if frame is not None:
        x = frame(x)
    raw = x
    x = standardization_layer(framed)(x) if config.standardize else x
    if kinds:
        x = Augment("+".join(kinds), noise_std=config.noise_std, scale_std=config.scale_std,
                    max_shift=config.max_shift, name="augment")(x)
    if not config.window_stats:
        return keras.Model(inputs, base(x), name=base.name)
    features = keras.Model(base.inputs, base.get_layer("output").input, name=f"{base.name}_features")
    stats = WindowStats(name="window_stats")
    fitted = keras.ops.convert_to_numpy(stats(np.asarray(framed, np.float32))).astype(np.float64)
    # a statistic constant by construction (in the gravity frame, the mean of total
    # acceleration across x) has a variance of rounding noise: floored, not amplified
    variance = np.maximum(fitted.var(0), STATS_VARIANCE_FLOOR)
    scale = keras.layers.Normalization(axis=-1, mean=fitted.mean(0).tolist(),
                                       variance=variance.tolist(), name="stats_standardize")
    joined = keras.layers.Concatenate(name="joined")([features(x), scale(stats(raw))])
    outputs = keras.layers.Dense(ACTIVITY_IDS.size, activation="softmax", name="output")(joined)
    return keras.Model(inputs, outputs, name=base.name)


# --- training -------------------------------------------------------------------------------

@dataclass
class TrainResult:
    """A trained model and how it got there."""

    model: keras.Model
    history: dict[str, list[float]]
    epochs_run: int
    best_epoch: int  # 1-based: lowest val_loss, or the last epoch without validation
    seconds: float
    seconds_per_epoch: float
    config: TrainConfig
    epoch_seconds: list[float] = field(default_factory=list)

    @classmethod
    def of(cls, model: keras.Model, history: keras.callbacks.History, config: TrainConfig,
           seconds: float, best_epoch: int | None = None,
           epoch_seconds: Sequence[float] = ()) -> "TrainResult":
        """The result of ``model.fit`` (its ``History``) run for ``config`` in ``seconds``;
        ``best_epoch`` (1-based) defaults to the last epoch."""
        hist = {k: [float(v) for v in vs] for k, vs in history.history.items()}
        epochs_run = len(hist["loss"])
        return cls(model=model, history=hist, epochs_run=epochs_run,
                   best_epoch=epochs_run if best_epoch is None else int(best_epoch),
                   seconds=seconds, seconds_per_epoch=seconds / epochs_run, config=config,
                   epoch_seconds=list(epoch_seconds))

    def summary(self) -> str:
        """One line: epochs run, best epoch, time."""
        stop = "stopped early" if self.epochs_run < self.config.epochs else "ran all epochs"
        best = ""
        if "val_loss" in self.history:
            best = (f", best epoch {self.best_epoch} restored "
                    f"(val_loss {self.history['val_loss'][self.best_epoch - 1]:.4f})")
        return (f"{self.config.model}: {self.epochs_run}/{self.config.epochs} epochs ({stop})"
                f"{best}, {self.seconds:.1f} s ({self.seconds_per_epoch:.1f} s/epoch)")


def _xy(split: Split) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(split.X, dtype=np.float32), to_one_hot(split.y)


def train(config: TrainConfig, fit: Split, val: Split | None, *, log_every: int = 1,
          out: Callable[[str], Any] = print,
          callbacks: Sequence[keras.callbacks.Callback] = (),
          backup_dir: str | os.PathLike[str] | None = None) -> TrainResult:
    """Seed, build, compile and fit ``config.model`` on ``fit``.

    With a non-empty ``val`` and ``config.patience > 0``: early stopping on ``val_loss``, best
    weights restored. ``patience == 0`` turns early stopping off (all ``config.epochs``
    epochs, validation still logged). ``config.standardize`` fits the standardisation on
    ``fit`` only (never on ``val``); ``config.augment`` acts on training batches only. With
    ``val`` None or empty: all epochs, no validation (e.g. the final retrain on all training
    subjects). ``best_epoch`` is the epoch whose weights the returned model holds.
    ``callbacks`` run after early stopping and before the epoch line is printed (e.g.
    :class:`EpochScores`). ``backup_dir``: resume from (and back up to) this folder after every
    epoch (``keras.callbacks.BackupAndRestore`` for the weights and the optimizer, early
    stopping's own state beside it); the caller removes it when the run is stored.
    """
    set_seed(config.seed)
    X, Y = _xy(fit)
    if len(X) == 0:
        raise ValueError("the training split is empty")
    has_val = val is not None and len(val.X) > 0
    model = build_for(config, X)
    model.compile(optimizer=make_optimizer(config.optimizer, learning_rate_for(config, len(X)),
                                           config.ema),
                  loss="categorical_crossentropy", metrics=["accuracy"])
    log = EpochLog(config.epochs, log_every, out)
    seeds = EpochSeeds(config.seed)
    # with ema: validation scored on the averaged weights (swapped in for it, then back)
    average = [keras.callbacks.SwapEMAWeights()] if config.ema else []
    every: list[keras.callbacks.Callback] = [seeds, *average, *callbacks, log]
    early_stopping = has_val and config.patience > 0
    stopper = None
    if early_stopping:
        stopper = ResumableEarlyStopping(
            None if backup_dir is None else Path(backup_dir) / "early_stopping",
            monitor="val_loss", patience=config.patience, restore_best_weights=True)
        every.insert(1, stopper)
    if backup_dir is not None:  # last: an epoch counts as done once the rest saved theirs
        every.append(keras.callbacks.BackupAndRestore(str(Path(backup_dir) / "state")))
    t0 = time.perf_counter()
    hist = model.fit(X, Y, validation_data=_xy(val) if has_val else None,
                     epochs=config.epochs, batch_size=config.batch_size, callbacks=every,
                     verbose=0, shuffle=True)
    seconds = time.perf_counter() - t0
    epochs_run = len(hist.history["loss"])  # in this call: fewer than the run's when it resumed
    if stopper is not None:  # over every epoch of the run, resumed ones included
        best_epoch = int(stopper.best_epoch) + 1
    else:  # the last epoch of the run
        best_epoch = seeds.first_epoch + epochs_run
    return TrainResult.of(model, hist, config, seconds, best_epoch, log.epoch_seconds)
