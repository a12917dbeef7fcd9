"""Seeded training: the configuration of a run, and the fit.

``train`` builds the model from the registry, compiles it and fits it, with early stopping on
the validation loss (best weights restored). Every epoch's randomness is drawn from
(seed, epoch) alone (:class:`~.callbacks.EpochSeeds`).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import keras
import numpy as np

from .. import backend, config
from ..data import Split
from ..models import build_model
from .callbacks import EpochSeeds
from .labels import ACTIVITY_IDS

#: The optimizers a run may name: the Keras optimizer and its settings besides the learning rate.
KERAS_OPTIMIZERS: dict[str, tuple[type[keras.optimizers.Optimizer], dict[str, Any]]] = {
    "adam": (keras.optimizers.Adam, {}),
    "adam_amsgrad": (keras.optimizers.Adam, {"amsgrad": True}),
    "sgd": (keras.optimizers.SGD, {"momentum": 0.9}),
}

_determinism_enabled = False


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and Keras (TensorFlow ops made deterministic; JAX on the CPU is
    deterministic for a fixed core count).

    Keras seeds unseeded initializers from Python's global ``random``, which other threads
    (a Dask worker's event loop) may also draw from; its own ``random.Random(seed)`` gives the
    same draws as the seeded global module in a quiet process, whatever the timing."""
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

    def __post_init__(self) -> None:
        kw = self.model_kwargs
        pairs = kw.items() if isinstance(kw, Mapping) else kw
        object.__setattr__(self, "model_kwargs", tuple(sorted((str(k), v) for k, v in pairs)))
        if self.optimizer not in config.OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; "
                             f"use one of {config.OPTIMIZERS}")
        if self.epochs < 1 or self.batch_size < 1 or self.patience < 0:
            raise ValueError("epochs and batch_size must be >= 1 and patience >= 0")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate}")

    @property
    def kwargs(self) -> dict[str, Any]:
        """``model_kwargs`` as a dict."""
        return dict(self.model_kwargs)

    def as_dict(self) -> dict[str, Any]:
        """Every field, as a plain JSON-ready dict (``model_kwargs`` as a dict)."""
        d = asdict(self)
        d["model_kwargs"] = self.kwargs
        return d

    def build(self, X: np.ndarray) -> keras.Model:
        """``model`` for windows shaped like ``X`` (uncompiled)."""
        return build_model(self.model, input_shape=tuple(X.shape[1:]),
                           n_classes=ACTIVITY_IDS.size, **self.kwargs)

    def keras_optimizer(self, n_windows: int) -> keras.optimizers.Optimizer:
        """A new ``optimizer`` at ``learning_rate`` (``n_windows``: for subclasses' schedules)."""
        kind, settings = KERAS_OPTIMIZERS[self.optimizer]
        return kind(learning_rate=self.learning_rate, **settings)


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
        """The result of ``model.fit``; ``best_epoch`` (1-based) defaults to the last epoch."""
        hist = {k: [float(v) for v in vs] for k, vs in history.history.items()}
        epochs_run = len(hist["loss"])
        return cls(model=model, history=hist, epochs_run=epochs_run,
                   best_epoch=epochs_run if best_epoch is None else int(best_epoch),
                   seconds=seconds, seconds_per_epoch=seconds / epochs_run, config=config,
                   epoch_seconds=list(epoch_seconds))


def _xy(split: Split) -> tuple[np.ndarray, np.ndarray]:
    """Windows as float32 and their activity ids as one-hot columns (``ACTIVITY_IDS`` order)."""
    Y = keras.utils.to_categorical(np.searchsorted(ACTIVITY_IDS, split.y), ACTIVITY_IDS.size)
    return np.asarray(split.X, dtype=np.float32), Y.astype(np.float32)


def _epoch_printer(epochs: int, out: Callable[[str], Any]
                   ) -> tuple[keras.callbacks.Callback, list[float]]:
    """A callback printing one line per epoch through ``out``, and the epoch seconds it fills."""
    starts: list[float] = []
    seconds: list[float] = []
    shown = {"loss": "loss", "accuracy": "acc", "val_loss": "val_loss", "val_accuracy": "val_acc"}

    def end(epoch: int, logs: dict | None) -> None:
        seconds.append(time.perf_counter() - starts[-1])
        logs = logs or {}
        scores = "  ".join(f"{short} {float(logs[k]):.4f}" for k, short in shown.items() if k in logs)
        out(f"epoch {epoch + 1:>{len(str(epochs))}d}/{epochs}  {scores}  {seconds[-1]:.1f} s")

    return keras.callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: starts.append(time.perf_counter()),
        on_epoch_end=end), seconds


def train(config: TrainConfig, fit: Split, val: Split | None, *,
          out: Callable[[str], Any] = print, callbacks: Sequence[keras.callbacks.Callback] = (),
          early_stopping: keras.callbacks.EarlyStopping | None = None,
          backup: keras.callbacks.BackupAndRestore | None = None) -> TrainResult:
    """Seed, build, compile and fit ``config.model`` on ``fit``.

    With a non-empty ``val`` and ``config.patience > 0``: early stopping on ``val_loss``, best
    weights restored (``early_stopping``: another one to use, e.g. one surviving an
    interruption). ``backup`` runs last, so an epoch counts as done once the others saved.
    """
    set_seed(config.seed)
    X, Y = _xy(fit)
    if len(X) == 0:
        raise ValueError("the training split is empty")
    has_val = val is not None and len(val.X) > 0
    model = config.build(X)
    model.compile(optimizer=config.keras_optimizer(len(X)), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    if early_stopping is None and has_val and config.patience > 0:
        early_stopping = keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=config.patience, restore_best_weights=True)
    seeds = EpochSeeds(config.seed)
    printer, epoch_seconds = _epoch_printer(config.epochs, out)
    every = [seeds, *([early_stopping] if early_stopping else []), *callbacks, printer,
             *([backup] if backup else [])]
    t0 = time.perf_counter()
    hist = model.fit(X, Y, validation_data=_xy(val) if has_val else None,
                     epochs=config.epochs, batch_size=config.batch_size, callbacks=every,
                     verbose=0, shuffle=True)
    seconds = time.perf_counter() - t0
    epochs_run = len(hist.history["loss"])  # in this call: fewer than the run's when it resumed
    if early_stopping is not None:  # over every epoch of the run, resumed ones included
        best_epoch = int(early_stopping.best_epoch) + 1
    else:  # the last epoch of the run
        best_epoch = seeds.first_epoch + epochs_run
    return TrainResult.of(model, hist, config, seconds, best_epoch, epoch_seconds)
