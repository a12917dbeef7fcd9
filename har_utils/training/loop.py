"""Seeded training: the configuration of a run, its seeding and its result.

Notebook 04 fits with Keras itself; the studies' training loop, built on these, is
``har_studies.experiments.fitting.train``.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import keras
import numpy as np

from .. import backend, config
from ..models import build_model
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
    def of(cls, model: keras.Model, history: keras.callbacks.History, run_config: TrainConfig,
           seconds: float, best_epoch: int | None = None,
           epoch_seconds: Sequence[float] = ()) -> "TrainResult":
        """The result of ``model.fit``; ``best_epoch`` (1-based) defaults to the last epoch."""
        hist = {k: [float(v) for v in vs] for k, vs in history.history.items()}
        epochs_run = len(hist["loss"])
        return cls(model=model, history=hist, epochs_run=epochs_run,
                   best_epoch=epochs_run if best_epoch is None else int(best_epoch),
                   seconds=seconds, seconds_per_epoch=seconds / epochs_run, config=run_config,
                   epoch_seconds=list(epoch_seconds))
