"""Atomic saving of trained models and their histories, reading them back, and
:func:`train_once`: train unless this checkout already trained the same inputs.

``save_run`` writes the model and its history atomically; ``load_model`` and ``load_history``
read them back, with an error that says how to get the file when it is missing.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np

from .. import backend
from .. import config as project  # the parameter ``config`` of the functions is a TrainConfig
from ..data import Split
from ..io import HarDataError, atomic_path, write_json_atomic
from ..models import count_params
from ..provenance import package_versions
from . import loop
from .loop import TrainConfig, TrainResult

MISSING_MODEL_FIX = ("run notebook 04 with TRAIN = True, or restore the committed file with "
                     "git checkout")
DAMAGED_MODEL_FIX = ("restore the file (git checkout -- <file> for a committed model) or train "
                     "it again (notebook 04 with TRAIN = True); a model of your own: save it "
                     "with model.save('<name>.keras')")
#: The packages whose versions a saved run records (and whose versions decide its digest).
VERSIONED: tuple[str, ...] = ("keras", "jax", "jaxlib", "tensorflow", "numpy")


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
        "n_params": count_params(result.model),
        "versions": package_versions(VERSIONED),
        "backend": backend.describe(),
        **({"inputs_sha256": inputs_sha256} if inputs_sha256 else {}),
    }
    history_path = write_json_atomic(directory / f"{name}.history.json", meta)
    return {"model": model_path, "history": history_path}


def inputs_digest(config: TrainConfig, fit: Split, val: Split | None) -> str:
    """SHA-256 of everything that decides a training result: the configuration, the fit and
    validation windows and labels, the code of this package (:mod:`har_utils.training`) and of
    the models, the versions of keras, jax, jaxlib, tensorflow and numpy, and the backend."""
    from .. import models

    h = hashlib.sha256(json.dumps(config.as_dict(), sort_keys=True, default=str).encode())
    for split in (fit, val):
        if split is not None:
            h.update(np.ascontiguousarray(split.X, dtype=np.float32).tobytes())
            h.update(np.ascontiguousarray(split.y).tobytes())
    for module in (*sorted(Path(__file__).parent.glob("*.py")), Path(models.__file__)):
        h.update(module.read_bytes())
    h.update(json.dumps(package_versions(VERSIONED), sort_keys=True).encode())
    h.update(backend.current().encode())
    return h.hexdigest()


def train_once(config: TrainConfig, fit: Split, val: Split | None,
               directory: str | os.PathLike[str], name: str, *,
               out: Callable[[str], Any] = print) -> dict[str, Path]:
    """:func:`~.loop.train` and :func:`save_run`, unless this checkout already trained the same
    inputs (:func:`inputs_digest`) into ``directory``: then the saved model is kept. The
    proof is a stamp under ``build/trained/`` (never committed), so a fresh clone always
    trains, and a rerun of the notebook for a change elsewhere (a plot) does not."""
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
    result = loop.train(config, fit, val, out=out)
    written = save_run(result, directory, name, inputs_sha256=digest)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps({"model": project.shown(paths["model"])}))
    return written


def load_model(path: str | os.PathLike[str], *, compile: bool = False) -> keras.Model:
    """Load a ``.keras`` model written by :func:`save_run`; a clear error if missing/broken."""
    path = Path(path)
    if not path.is_file():
        raise HarDataError(path, "trained model not found", MISSING_MODEL_FIX)
    if not zipfile.is_zipfile(path):  # keras would say "File not found" of a file that exists
        raise HarDataError(path, "not a Keras model: a .keras file is a zip archive and this one "
                           "is not (damaged, truncated, or another format)", DAMAGED_MODEL_FIX)
    try:
        return keras.models.load_model(path, compile=compile)
    except Exception as exc:  # keras raises ValueError, OSError, zipfile errors, ...
        raise HarDataError(path, f"unreadable model file ({type(exc).__name__}: {exc})",
                           DAMAGED_MODEL_FIX) from exc


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
