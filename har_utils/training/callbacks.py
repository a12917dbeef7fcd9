"""Keras callbacks of a training run: one printed line per epoch (:class:`EpochLog`), the
per-epoch scores, resumable (:class:`EpochScores`), each epoch's randomness from (seed, epoch)
(:class:`EpochSeeds`) and early stopping that survives an interruption
(:class:`ResumableEarlyStopping`)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np

from ..data import Split
from ..io import atomic_path, write_json_atomic
from .labels import predict_classes


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


class EpochScores(keras.callbacks.Callback):
    """After every epoch: what Keras logged (loss, accuracy, val_loss, val_accuracy) and the
    macro-F1 on ``val``, one row per epoch in :attr:`rows`. With ``path``, the rows are also
    written there (atomically) and read back at the start, so a run resumed by
    ``keras.callbacks.BackupAndRestore`` keeps the epochs before its interruption."""

    def __init__(self, val: Split | None = None, path: str | os.PathLike[str] | None = None):
        super().__init__()
        self.val, self.path = val, None if path is None else Path(path)
        self.rows: list[dict[str, float]] = []
        if self.path is not None and self.path.exists():
            self.rows = json.loads(self.path.read_text())

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        from sklearn.metrics import f1_score

        row = {k: float(v) for k, v in (logs or {}).items()}
        if self.val is not None and len(self.val.y):
            # with the optimizer's weight average (use_ema), score it, as Keras' validation does
            swap = keras.callbacks.SwapEMAWeights()
            swap.set_model(self.model)
            average = bool(getattr(self.model.optimizer, "use_ema", False))
            if average:
                swap.on_test_begin()
            try:
                pred = predict_classes(self.model, self.val.X)
            finally:
                if average:
                    swap.on_test_end()
            row["val_macro_f1"] = float(f1_score(self.val.y, pred, average="macro",
                                                 labels=np.unique(self.val.y)))
        del self.rows[epoch:]
        self.rows.append(row)
        if self.path is not None:
            write_json_atomic(self.path, self.rows)

    @property
    def history(self) -> dict[str, list[float]]:
        """The rows as columns, like ``keras.callbacks.History.history``."""
        keys = list(dict.fromkeys(k for r in self.rows for k in r))
        return {k: [r.get(k) for r in self.rows] for k in keys}


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


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    """``keras.callbacks.EarlyStopping`` whose state survives an interruption: with ``folder``,
    every epoch's monitored value is written there, and the best weights whenever they improve
    (the last two kept). A run resumed at epoch ``R`` (its first ``on_epoch_begin``) rebuilds
    wait, best and best weights from the first ``R`` values, as if it had never stopped."""

    def __init__(self, folder: str | os.PathLike[str] | None, **kwargs: Any):
        super().__init__(**kwargs)
        self.folder = None if folder is None else Path(folder)
        self.values: list[float | None] = []
        self._resume_checked = False

    def on_train_begin(self, logs: dict | None = None) -> None:
        super().on_train_begin(logs)
        self.values, self._resume_checked = [], False

    def _state_path(self) -> Path:
        assert self.folder is not None
        return self.folder / "state.json"

    def _weights_path(self, epoch: int) -> Path:
        assert self.folder is not None
        return self.folder / f"best-{epoch:05d}.npz"

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        if self._resume_checked:
            return
        self._resume_checked = True
        if not epoch or self.folder is None or not self._state_path().exists():
            return
        values = json.loads(self._state_path().read_text())["values"][:epoch]
        if len(values) < epoch:
            raise RuntimeError(f"{self.folder}: early stopping's state covers {len(values)} "
                               f"epochs, the backup {epoch}; delete the backup to start over")
        if self.monitor_op is None:
            self._set_monitor_op()
        self.values = []
        for e, v in enumerate(values):  # replay the decisions of the epochs already run
            self.values.append(v)
            if v is None:
                continue
            self.wait += 1
            if self.best_epoch == 0 and self.best is None:
                self.best_epoch = e
            if self._is_improvement(v, self.best):
                self.best, self.best_epoch, self.wait = v, e, 0
        if self.restore_best_weights:
            path = self._weights_path(self.best_epoch)
            if self.best_epoch == epoch - 1:
                self.best_weights = self.model.get_weights()  # restored by BackupAndRestore
            elif path.exists():
                with np.load(path) as z:
                    self.best_weights = [z[f"w{i}"] for i in range(len(z.files))]
            else:
                raise RuntimeError(f"{path} is missing: delete {self.folder.parent} to start "
                                   "the run over")

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        before = self.best_epoch, self.best
        super().on_epoch_end(epoch, logs)
        if self.folder is None:
            return
        value = None if logs is None or self.monitor not in logs else float(logs[self.monitor])
        del self.values[epoch:]
        self.values.append(value)
        self.folder.mkdir(parents=True, exist_ok=True)
        if self.restore_best_weights and (self.best_epoch, self.best) != before:
            path = self._weights_path(self.best_epoch)
            with atomic_path(path, suffix=".tmp.npz") as tmp:
                np.savez(tmp, **{f"w{i}": w for i, w in enumerate(self.best_weights)})
            for old in sorted(self.folder.glob("best-*.npz"))[:-2]:
                old.unlink()
        write_json_atomic(self._state_path(), {"monitor": self.monitor, "values": self.values})
