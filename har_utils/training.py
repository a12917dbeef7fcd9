"""Seeded training, one line per epoch, and atomic saving of trained models.

``train(TrainConfig(...), fit, val)`` seeds everything, builds the model from the registry in
:mod:`har_utils.models`, compiles it (categorical cross-entropy on one-hot labels, accuracy)
and fits it with early stopping on the validation loss (best weights restored). It prints one
compact line per epoch and returns a :class:`TrainResult`. Optional input standardisation
(fitted on the fit windows) and training-only augmentation live *inside* the model as its
first layers, so a saved model needs no extra state to predict. ``save_run`` writes the model and
its history atomically; ``load_model`` and ``load_history`` read them back, with an error that
says how to get the file when it is missing.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import json
import os
import random
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from . import config
from .data import Split
from .io import HarDataError, atomic_path, write_json_atomic
from .models import build_model, count_params

#: Activity ids in label order: column ``k`` of a one-hot row is ``ACTIVITY_IDS[k]``.
ACTIVITY_IDS: np.ndarray = np.array(sorted(config.ACTIVITIES), dtype=np.int64)
OPTIMIZERS: tuple[str, ...] = ("adam", "adam_amsgrad", "sgd")
#: Augmentations ``TrainConfig.augment`` may combine with "+" (written in this order).
AUGMENTATIONS: tuple[str, ...] = ("noise", "scaling", "shift")
MISSING_MODEL_FIX = ("run notebook 04 with TRAIN = True, or restore the committed file with "
                     "git checkout")

_determinism_enabled = False


def set_seed(seed: int) -> None:
    """Seed Python, NumPy, TensorFlow and Keras, and make TensorFlow ops deterministic.

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
    if not _determinism_enabled:
        tf.config.experimental.enable_op_determinism()
        _determinism_enabled = True


# --- configuration --------------------------------------------------------------------------

@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run (hashable; ``key()`` names the run)."""

    model: str = "cnn_lstm_paper"
    #: Model hyper-parameters as sorted (key, value) pairs; a dict is accepted and converted.
    model_kwargs: tuple[tuple[str, Any], ...] = ()
    epochs: int = 100
    batch_size: int = 32
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    patience: int = 10
    seed: int = 0
    # Fields below are left out of as_dict()/key() while at their defaults, so the keys of
    # runs configured before they existed do not change.
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
        """Plain JSON-ready dict (``model_kwargs`` as a dict); the optional fields
        (``OPTIONAL_FIELDS``) only where they differ from their defaults."""
        d = {"model": self.model, "model_kwargs": self.kwargs, "epochs": self.epochs,
             "batch_size": self.batch_size, "optimizer": self.optimizer,
             "learning_rate": self.learning_rate, "patience": self.patience,
             "seed": self.seed}
        d.update({k: getattr(self, k) for k, default in OPTIONAL_FIELDS.items()
                  if getattr(self, k) != default})
        return d

    def key(self) -> str:
        """Short SHA-256 of the key-sorted JSON of :meth:`as_dict` (12 hex digits)."""
        text = json.dumps(self.as_dict(), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


#: The fields left out of ``as_dict()``/``key()`` while at these defaults.
OPTIONAL_FIELDS: dict[str, Any] = {
    f.name: f.default for f in fields(TrainConfig)
    if f.name in ("standardize", "augment", "noise_std", "scale_std", "max_shift")}


def parse_augment(augment: str) -> tuple[str, ...]:
    """``"scaling+noise"`` -> ``("noise", "scaling")`` (order of ``AUGMENTATIONS``); "none"
    -> ``()``. Unknown or repeated names raise ``ValueError``."""
    names = [] if augment.strip() == "none" else [a.strip() for a in augment.split("+")]
    bad = [a for a in names if a not in AUGMENTATIONS]
    if bad or len(set(names)) != len(names):
        raise ValueError(f"bad augment {augment!r}: use 'none' or names from {AUGMENTATIONS} "
                         "joined by '+', each at most once")
    return tuple(a for a in AUGMENTATIONS if a in names)


def make_optimizer(cfg: TrainConfig) -> keras.optimizers.Optimizer:
    """The optimizer ``cfg.optimizer`` names, at ``cfg.learning_rate``."""
    if cfg.optimizer == "sgd":
        return keras.optimizers.SGD(learning_rate=cfg.learning_rate, momentum=0.9)
    return keras.optimizers.Adam(learning_rate=cfg.learning_rate,
                                 amsgrad=cfg.optimizer == "adam_amsgrad")



# --- input layers: standardisation and augmentation -----------------------------------------

def standardization_layer(X: np.ndarray) -> keras.layers.Normalization:
    """A ``Normalization(axis=-1)`` with fixed per-channel mean/variance of windows ``X``
    (n, steps, channels), over all windows and time steps (computed in float64)."""
    X = np.asarray(X)
    if X.ndim != 3 or len(X) == 0:
        raise ValueError(f"need non-empty windows (n, steps, channels), got shape {X.shape}")
    mean = X.mean(axis=(0, 1), dtype=np.float64)
    var = X.var(axis=(0, 1), dtype=np.float64)
    return keras.layers.Normalization(axis=-1, mean=mean.tolist(), variance=var.tolist(),
                                      name="standardize")


@keras.saving.register_keras_serializable(package="har_utils")
class Augment(keras.layers.Layer):
    """Training-only augmentation of windows (batch, steps, channels); identity at inference.

    Applied in a fixed order whatever order ``kinds`` is written in: ``shift`` (circular, by
    a random whole number of steps in [-max_shift, max_shift] per window), ``scaling`` (one
    factor ~ N(1, scale_std) per window), then ``noise`` (N(0, noise_std) per value). Random
    draws come from a ``keras.random.SeedGenerator``, so ``set_seed`` makes them reproducible.
    """

    def __init__(self, kinds: str | tuple[str, ...] = "none", noise_std: float = 0.01,
                 scale_std: float = 0.1, max_shift: int = 8, seed: int | None = None,
                 **kwargs: Any):
        super().__init__(**kwargs)
        self.kinds = parse_augment(kinds if isinstance(kinds, str) else "+".join(kinds))
        self.noise_std, self.scale_std = float(noise_std), float(scale_std)
        self.max_shift, self.seed = int(max_shift), seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        if not training or not self.kinds:
            return inputs
        x = inputs
        ops = keras.ops
        batch, steps = ops.shape(x)[0], ops.shape(x)[1]
        if "shift" in self.kinds and self.max_shift > 0:
            k = keras.random.randint((batch, 1), -self.max_shift, self.max_shift + 1,
                                     seed=self.seed_generator)
            idx = ops.mod(ops.arange(steps)[None, :] - k, steps)  # out[t] = x[t - k]
            x = ops.take_along_axis(x, ops.expand_dims(idx, -1), axis=1)
        if "scaling" in self.kinds and self.scale_std > 0:
            x = x * keras.random.normal((batch, 1, 1), mean=1.0, stddev=self.scale_std,
                                        dtype=x.dtype, seed=self.seed_generator)
        if "noise" in self.kinds and self.noise_std > 0:
            x = x + keras.random.normal(ops.shape(x), stddev=self.noise_std, dtype=x.dtype,
                                        seed=self.seed_generator)
        return x

    def compute_output_shape(self, input_shape: tuple[int | None, ...]
                             ) -> tuple[int | None, ...]:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "kinds": "+".join(self.kinds) or "none",
                "noise_std": self.noise_std, "scale_std": self.scale_std,
                "max_shift": self.max_shift, "seed": self.seed}


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


# --- labels ---------------------------------------------------------------------------------

def to_one_hot(y: np.ndarray) -> np.ndarray:
    """Activity ids 1..6 -> one-hot float32 of shape (n, 6); other ids raise ``ValueError``."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"labels must be a 1-D array of activity ids, got shape {y.shape}")
    if y.size and not np.issubdtype(y.dtype, np.integer):
        if not (np.issubdtype(y.dtype, np.floating) and np.all(np.mod(y, 1) == 0)):
            raise ValueError(f"labels must be integer activity ids, got dtype {y.dtype}")
    bad = sorted(set(np.unique(y).tolist()) - set(ACTIVITY_IDS.tolist()))
    if bad:
        raise ValueError(f"activity ids must be in {ACTIVITY_IDS.min()}..{ACTIVITY_IDS.max()} "
                         f"(activity_labels.txt, not zero-based); got {bad[:10]}")
    idx = np.searchsorted(ACTIVITY_IDS, y.astype(np.int64))
    out = np.zeros((y.size, ACTIVITY_IDS.size), dtype=np.float32)
    out[np.arange(y.size), idx] = 1.0
    return out


def predict_classes(model: keras.Model, X: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Predicted activity ids (1..6) for windows ``X``."""
    p = model.predict(np.asarray(X, dtype=np.float32), batch_size=batch_size, verbose=0)
    return ACTIVITY_IDS[np.argmax(p, axis=1)]


# --- training -------------------------------------------------------------------------------

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
          callbacks: Sequence[keras.callbacks.Callback] = ()) -> TrainResult:
    """Seed, build, compile and fit ``config.model`` on ``fit``.

    With a non-empty ``val`` and ``config.patience > 0``: early stopping on ``val_loss``, best
    weights restored. ``patience == 0`` turns early stopping off (all ``config.epochs``
    epochs, validation still logged). ``config.standardize`` fits the standardisation on
    ``fit`` only (never on ``val``); ``config.augment`` acts on training batches only. With
    ``val`` None or empty: all epochs, no validation (e.g. the final retrain on all training
    subjects). ``best_epoch`` is the epoch whose weights the returned model holds.
    ``callbacks`` run after early stopping and before the epoch line is printed (e.g.
    :class:`EpochScores`, ``keras.callbacks.BackupAndRestore``).
    """
    set_seed(config.seed)
    X, Y = _xy(fit)
    if len(X) == 0:
        raise ValueError("the training split is empty")
    has_val = val is not None and len(val.X) > 0
    model = build_for(config, X)
    model.compile(optimizer=make_optimizer(config), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    log = EpochLog(config.epochs, log_every, out)
    every: list[keras.callbacks.Callback] = [*callbacks, log]
    early_stopping = has_val and config.patience > 0
    if early_stopping:
        every.insert(0, keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=config.patience, restore_best_weights=True))
    t0 = time.perf_counter()
    hist = model.fit(X, Y, validation_data=_xy(val) if has_val else None,
                     epochs=config.epochs, batch_size=config.batch_size, callbacks=every,
                     verbose=0, shuffle=True)
    seconds = time.perf_counter() - t0
    history = {k: [float(v) for v in vs] for k, vs in hist.history.items()}
    epochs_run = len(history["loss"])
    if early_stopping:
        best_epoch = int(np.nanargmin(history["val_loss"])) + 1
    else:
        best_epoch = epochs_run
    return TrainResult(model=model, history=history, epochs_run=epochs_run,
                       best_epoch=best_epoch, seconds=seconds,
                       seconds_per_epoch=seconds / epochs_run, config=config,
                       epoch_seconds=list(log.epoch_seconds))


# --- saving and loading ---------------------------------------------------------------------

def _versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in ("keras", "tensorflow", "numpy"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = None
    return out


def save_model_atomic(model: keras.Model, path: str | os.PathLike[str]) -> Path:
    """``model.save`` to a temporary ``.keras`` file beside ``path``, then rename it onto it."""
    with atomic_path(path, suffix=".tmp.keras") as tmp, warnings.catch_warnings():
        # keras-internal numpy 2 notice, not ours
        warnings.filterwarnings("ignore", message="__array__ implementation",
                                category=DeprecationWarning)
        model.save(tmp)
    return Path(path)


def save_run(result: TrainResult, directory: str | os.PathLike[str], name: str,
             inputs_sha256: str | None = None) -> dict[str, Path]:
    """Write ``<name>.keras`` and ``<name>.history.json`` into ``directory`` (atomically);
    ``inputs_sha256``: :func:`inputs_digest` of the run, recorded."""
    directory = Path(directory)
    model_path = save_model_atomic(result.model, directory / f"{name}.keras")
    meta = {
        "name": name,
        "history": result.history,
        "epochs_run": result.epochs_run,
        "best_epoch": result.best_epoch,
        "seconds": round(result.seconds, 3),
        "seconds_per_epoch": round(result.seconds_per_epoch, 3),
        "config": result.config.as_dict(),
        "config_key": result.config.key(),
        "n_params": count_params(result.model),
        "versions": _versions(),
        **({"inputs_sha256": inputs_sha256} if inputs_sha256 else {}),
    }
    history_path = write_json_atomic(directory / f"{name}.history.json", meta)
    return {"model": model_path, "history": history_path}


def inputs_digest(config: TrainConfig, fit: Split, val: Split | None) -> str:
    """SHA-256 of everything that decides a training result: the configuration, the fit and
    validation windows and labels, this module's and the models' code, and the versions of
    keras, tensorflow and numpy."""
    from . import models

    h = hashlib.sha256(config.key().encode())
    for split in (fit, val):
        if split is not None:
            h.update(np.ascontiguousarray(split.X, dtype=np.float32).tobytes())
            h.update(np.ascontiguousarray(split.y).tobytes())
    for module in (__file__, models.__file__):
        h.update(Path(module).read_bytes())
    h.update(json.dumps(_versions(), sort_keys=True).encode())
    return h.hexdigest()


def train_once(config: TrainConfig, fit: Split, val: Split | None,
               directory: str | os.PathLike[str], name: str, *,
               out: Callable[[str], Any] = print) -> dict[str, Path]:
    """:func:`train` and :func:`save_run`, unless this checkout already trained the same
    inputs (:func:`inputs_digest`) into ``directory``: then the saved model is kept. The
    proof is a stamp under ``build/trained/`` (never committed), so a fresh clone always
    trains, and a rerun of the notebook for a change elsewhere (a plot) does not."""
    from . import config as project  # the parameter ``config`` is the TrainConfig

    directory = Path(directory)
    digest = inputs_digest(config, fit, val)
    marker = project.BUILD_DIR / "trained" / digest
    paths = {"model": directory / f"{name}.keras", "history": directory / f"{name}.history.json"}
    if marker.exists() and all(p.is_file() for p in paths.values()):
        try:
            saved = json.loads(paths["history"].read_text()).get("inputs_sha256")
        except (OSError, ValueError):
            saved = None
        if saved == digest:
            out(f"{name}: trained here before with the same configuration, data, code and "
                f"versions ({project.shown(paths['model'])}); kept, not retrained")
            return paths
    result = train(config, fit, val, out=out)
    written = save_run(result, directory, name, inputs_sha256=digest)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps({"model": project.shown(paths["model"])}))
    return written


def load_model(path: str | os.PathLike[str], *, compile: bool = False) -> keras.Model:
    """Load a ``.keras`` model written by :func:`save_run`; a clear error if missing/broken."""
    path = Path(path)
    if not path.is_file():
        raise HarDataError(path, "trained model not found", MISSING_MODEL_FIX)
    try:
        return keras.models.load_model(path, compile=compile)
    except Exception as exc:  # keras raises ValueError, OSError, zipfile errors, ...
        raise HarDataError(path, f"unreadable model file ({type(exc).__name__}: {exc})",
                           MISSING_MODEL_FIX) from exc


def load_history(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a ``<name>.history.json`` written by :func:`save_run`."""
    path = Path(path)
    if not path.is_file():
        raise HarDataError(path, "training history not found", MISSING_MODEL_FIX)
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise HarDataError(path, f"unreadable training history ({exc})",
                           MISSING_MODEL_FIX) from exc
