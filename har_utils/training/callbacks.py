"""Keras callbacks of a training run: one printed line per epoch (:class:`EpochLog`) and each
epoch's randomness from (seed, epoch) (:class:`EpochSeeds`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import keras
import numpy as np


class EpochLog(keras.callbacks.Callback):
    """Print one fixed-format line per epoch (every ``every``-th, and the last) via ``out``."""

    def __init__(self, epochs: int, every: int = 1, out: Callable[[str], Any] = print):
        super().__init__()
        self.epochs, self.every, self.out = epochs, max(1, int(every)), out
        self.epoch_seconds: list[float] = []
        self._t0 = 0.0
        self._last: tuple[int, str] | None = None

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._t0 = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        secs = time.perf_counter() - self._t0
        self.epoch_seconds.append(secs)
        line = self.format(epoch + 1, logs or {}, secs)
        if (epoch + 1) % self.every == 0 or epoch + 1 == self.epochs:
            self.out(line)
            self._last = None
        else:
            self._last = (epoch + 1, line)

    def on_train_end(self, logs: dict | None = None) -> None:
        if self._last is not None:  # stopped early on an epoch that was not printed
            self.out(self._last[1])
            self._last = None

    def format(self, epoch: int, logs: dict, secs: float) -> str:
        """``epoch   3/100  loss 0.5123  acc 0.8120  val_loss 0.4300  val_acc 0.8512  6.9 s``."""
        w = len(str(self.epochs))
        parts = [f"epoch {epoch:>{w}d}/{self.epochs}"]
        for key, short in (("loss", "loss"), ("accuracy", "acc"),
                           ("val_loss", "val_loss"), ("val_accuracy", "val_acc")):
            if key in logs:
                parts.append(f"{short} {float(logs[key]):.4f}")
        parts.append(f"{secs:.1f} s")
        return "  ".join(parts)


class EpochSeeds(keras.callbacks.Callback):
    """Draw every epoch's randomness from (seed, epoch) alone, so a run resumed at epoch ``e``
    shuffles and drops out as the same run uninterrupted does.

    At the start of each epoch: NumPy's global generator (which orders the windows of an epoch
    on the JAX backend) is seeded with a hash of (seed, epoch), and every
    ``keras.random.SeedGenerator`` of the model (dropout, augmentation) gets the state it had
    when the model was built, with its counter moved to ``epoch * 2**20``, so no two epochs
    share draws. (On TensorFlow, ``tf.data`` orders the windows from its own seed: resuming
    there is not covered.)"""

    STEP = 2**20

    def __init__(self, seed: int):
        super().__init__()
        self.seed = int(seed)
        self._initial: list[tuple[Any, np.ndarray]] = []
        #: The first epoch (0-based) this fit ran: > 0 when it resumed.
        self.first_epoch: int | None = None

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.first_epoch = None
        self._initial = [(v, np.asarray(v.numpy()).copy()) for v in self.model.non_trainable_variables
                         if v.path.endswith("seed_generator_state")]

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        if self.first_epoch is None:
            self.first_epoch = int(epoch)
        np.random.seed(np.random.SeedSequence([self.seed, int(epoch)]).generate_state(1)[0])
        for var, start in self._initial:
            state = start.copy()
            state[-1] = (int(start[-1]) + int(epoch) * self.STEP) % 2**32
            var.assign(state)
