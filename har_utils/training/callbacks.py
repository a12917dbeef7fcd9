"""Keras callbacks of a training run: one printed line per epoch (:class:`EpochLog`) and the
per-epoch scores, resumable (:class:`EpochScores`)."""

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
from ..io import write_json_atomic
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
            pred = predict_classes(self.model, self.val.X)
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
