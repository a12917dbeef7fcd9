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
from .layers import Augment, parse_augment, standardization_layer

OPTIMIZERS: tuple[str, ...] = config.OPTIMIZERS

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


def make_optimizer(name: str, learning_rate: float) -> keras.optimizers.Optimizer:
    """The optimizer ``name`` (one of :data:`OPTIMIZERS`) at ``learning_rate``: ``adam`` is
    ``keras.optimizers.Adam(learning_rate)``, ``adam_amsgrad`` the same with ``amsgrad=True``,
    ``sgd`` ``SGD(learning_rate, momentum=0.9)``."""
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; use one of {OPTIMIZERS}")
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate=learning_rate, momentum=0.9)
    return keras.optimizers.Adam(learning_rate=learning_rate, amsgrad=name == "adam_amsgrad")


def build_for(config: TrainConfig, X: np.ndarray) -> keras.Model:
    """Build ``config.model`` for windows shaped like ``X``; with ``standardize`` or
    ``augment``, wrapped as input -> standardize -> augment -> model (weights of the inner
    model as without the wrapping, for the same seed). Uncompiled."""
    shape = tuple(X.shape[1:])
    base = build_model(config.model, input_shape=shape, n_classes=ACTIVITY_IDS.size,
                       **config.kwargs)
    if not config.standardize and not config.augmentations:
        return base
    inputs = keras.Input(shape=shape, name="window")
    x = standardization_layer(X)(inputs) if config.standardize else inputs
    if config.augmentations:
        x = Augment(config.augment, noise_std=config.noise_std, scale_std=config.scale_std,
                    max_shift=config.max_shift, name="augment")(x)
    return keras.Model(inputs, base(x), name=base.name)


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
    model.compile(optimizer=make_optimizer(config.optimizer, config.learning_rate),
                  loss="categorical_crossentropy", metrics=["accuracy"])
    log = EpochLog(config.epochs, log_every, out)
    seeds = EpochSeeds(config.seed)
    every: list[keras.callbacks.Callback] = [seeds, *callbacks, log]
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
