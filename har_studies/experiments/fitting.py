"""The runner's training: :func:`train` (seed, build, compile, fit, one line per epoch) and the
studies' settings on top of it.

:class:`StudyConfig` adds what only the studies vary (input layers inside the model, a cosine
schedule, a weight average); :func:`train_run` saves everything that decides the next epoch,
so a resumed run gives the numbers of the same run uninterrupted (on JAX).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np

from har_utils import training
from har_utils.data import Split
from har_utils.io import atomic_path, write_json_atomic
from har_utils.training import ACTIVITY_IDS, KERAS_OPTIMIZERS, TrainConfig, TrainResult

from ..input_layers import (FRAMES, Augment, GravityFrame, RandomRotation, WindowStats,
                            parse_augment, standardization_layer)

#: Learning-rate schedules ``StudyConfig.lr_schedule`` may name.
LR_SCHEDULES: tuple[str, ...] = ("constant", "cosine")
#: The smallest variance the window statistics are standardised by.
STATS_VARIANCE_FLOOR: float = 1e-6


@dataclass(frozen=True)
class StudyConfig(TrainConfig):
    """A ``TrainConfig`` with the studies' settings (every field goes into a run's key)."""

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
    #: Input frame: "sensor" (as recorded) or "gravity" (:class:`GravityFrame`).
    frame: str = "sensor"
    #: Join window statistics with the network's features before its output layer.
    window_stats: bool = False
    #: "constant", or "cosine" (from ``learning_rate`` to 0 over ``schedule_epochs``).
    lr_schedule: str = "constant"
    #: Epochs the schedule spans (0: the run's ``epochs``).
    schedule_epochs: int = 0
    #: > 0: a moving average of the weights (Keras' ``use_ema``) with this momentum.
    ema: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
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

    def build(self, X: np.ndarray) -> keras.Model:
        return build_for(self, X)

    def keras_optimizer(self, n_windows: int) -> keras.optimizers.Optimizer:
        """The optimizer at ``learning_rate`` or its cosine schedule over the run's steps, with
        the weight average when ``ema`` > 0."""
        kind, settings = KERAS_OPTIMIZERS[self.optimizer]
        rate: Any = self.learning_rate
        if self.lr_schedule == "cosine":
            steps = (self.schedule_epochs or self.epochs) * -(-int(n_windows) // self.batch_size)
            rate = keras.optimizers.schedules.CosineDecay(self.learning_rate, decay_steps=steps)
        average = {"use_ema": True, "ema_momentum": float(self.ema)} if self.ema else {}
        return kind(learning_rate=rate, **settings, **average)


def build_for(config: StudyConfig, X: np.ndarray) -> keras.Model:
    """``config.model`` for windows like ``X``, wrapped by the input layers its settings ask
    for (rotation, frame, standardisation, augmentation; window statistics before the output
    layer). Uncompiled."""
    shape = tuple(X.shape[1:])
    frame = GravityFrame(name="gravity_frame") if config.frame == "gravity" else None
    framed = X if frame is None else keras.ops.convert_to_numpy(frame(np.asarray(X, np.float32)))
    base = TrainConfig.build(config, framed)
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


class EpochScores(keras.callbacks.Callback):
    """After every epoch, what Keras logged and the macro-F1 on ``val``; with ``path``, the
    rows are kept there so a resumed run keeps the epochs before its interruption."""

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
                pred = training.predict_classes(self.model, self.val.X)
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


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    """``EarlyStopping`` whose state (monitored values, best weights) is kept in ``folder``, so
    a resumed run replays it as if it had never stopped."""

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


#: The file that commits a backup's epoch: the epoch count, the name of the weights file
#: saved at that epoch, and that file's SHA-256 (written last, by one atomic rename).
BACKUP_METADATA = "training_metadata.json"
#: The weights file of a backup written before epochs were committed whole (never trusted).
LEGACY_BACKUP_WEIGHTS = "latest.weights.h5"


def file_sha256(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def committed_backup(state: str | os.PathLike[str]) -> tuple[int, Path | None, str | None]:
    """What the backup folder ``state`` (of :class:`AtomicBackupAndRestore`) committed: its
    epoch (0: none), the weights file saved at that epoch, and why those weights cannot be
    trusted with that epoch (None: they can). An unreadable metadata file raises (OSError,
    ValueError, KeyError, TypeError)."""
    state = Path(state)
    path = state / BACKUP_METADATA
    if not path.exists():
        return 0, None, None
    meta = json.loads(path.read_text())
    epoch = int(meta["epoch"])
    if epoch == 0:
        return 0, None, None
    name, recorded = meta.get("weights"), meta.get("weights_sha256")
    if not isinstance(name, str) or not isinstance(recorded, str):
        return epoch, state / LEGACY_BACKUP_WEIGHTS, (
            "are not tied to its epoch count by a checksum (a backup written before epochs "
            "were committed whole: they may be an epoch ahead of it)")
    if not name or Path(name).name != name:
        raise ValueError(f"{path}: the weights file it names, {name!r}, is not a file name")
    weights = state / name
    if not weights.exists():
        return epoch, weights, "are missing"
    actual = file_sha256(weights)
    if actual != recorded:
        return epoch, weights, (f"do not match the checksum its epoch count recorded (sha256 "
                                f"{actual[:12]}..., recorded {recorded[:12]}...)")
    return epoch, weights, None


class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
    """Keras' ``BackupAndRestore`` with each epoch's backup committed by one atomic rename.

    Keras writes ``latest.weights.h5`` and then ``training_metadata.json`` (the epoch count),
    each in place: a kill between the two left epoch k's weights under epoch k-1's count, and
    the run resumed them an epoch behind. Here the weights go to a new file named by their
    epoch (``epoch-00003.weights.h5``, flushed to disk), then ``training_metadata.json`` (the
    epoch, that file's name and its SHA-256) replaces the previous one with ``os.replace``;
    only then are older weights removed. A kill at any point leaves the last committed pair
    or the new one, never a mix; at resume, the weights must match the recorded checksum."""

    def __init__(self, backup_dir: str | os.PathLike[str]):
        super().__init__(str(backup_dir), save_freq="epoch")

    def _save_model(self) -> None:
        folder = Path(self.backup_dir)
        folder.mkdir(parents=True, exist_ok=True)
        # never the committed file's name: that one stays whole until the new one is committed
        name = f"epoch-{self._current_epoch:05d}.weights.h5"
        weights = folder / name
        self.model.save_weights(weights, overwrite=True)
        with open(weights, "rb") as f:
            os.fsync(f.fileno())
        write_json_atomic(folder / BACKUP_METADATA, {
            "epoch": self._current_epoch, "batch": self._last_batch_seen, "weights": name,
            "weights_sha256": file_sha256(weights)})
        for old in folder.glob("*.weights.h5"):
            if old.name != name:
                old.unlink(missing_ok=True)

    def _load_model(self) -> None:
        epoch, weights, why = committed_backup(self.backup_dir)
        if epoch == 0:  # nothing committed: leftover weights are not a state to resume
            return
        if why is not None:
            raise RuntimeError(f"{weights} {why}: delete {self.backup_dir} to start the run "
                               "over")
        if not self.model.built:
            raise ValueError("to resume from a backup, the model must be built before fit()")
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        self.model.load_weights(weights)
        self.model._initial_epoch = epoch


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
    """Seed, build, compile and fit ``config.model`` on ``fit``, one line per epoch through
    ``out`` (the runner's log), as notebook 04's visible ``fit`` does for the same seed.

    With a non-empty ``val`` and ``config.patience > 0``: early stopping on ``val_loss``, best
    weights restored (``early_stopping``: another one to use, e.g. one surviving an
    interruption). ``backup`` runs last, so an epoch counts as done once the others saved.
    """
    training.set_seed(config.seed)
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
    seeds = training.EpochSeeds(config.seed)
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


def train_run(config: StudyConfig, fit: Split, val: Split | None, *, out: Any = print,
              callbacks: Any = (), backup_dir: str | os.PathLike[str] | None = None
              ) -> TrainResult:
    """:func:`train` with the weight average validated, and resumable with
    ``backup_dir`` (the caller removes it once the run is stored)."""

    has_val = val is not None and len(val.X) > 0
    folder = None if backup_dir is None else Path(backup_dir)
    stopper = None
    if has_val and config.patience > 0:
        stopper = ResumableEarlyStopping(None if folder is None else folder / "early_stopping",
                                         monitor="val_loss", patience=config.patience,
                                         restore_best_weights=True)
    average = [keras.callbacks.SwapEMAWeights()] if config.ema else []
    backup = None if folder is None else AtomicBackupAndRestore(folder / "state")
    return train(config, fit, val, out=out, callbacks=[*average, *callbacks],
                          early_stopping=stopper, backup=backup)
