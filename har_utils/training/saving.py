"""Atomic saving of trained models and their histories, and reading them back."""

from __future__ import annotations

import json
import os
import warnings
import zipfile
from pathlib import Path
from typing import Any

import keras

from .. import backend
from ..io import HarDataError, atomic_path, write_json_atomic
from ..provenance import package_versions
from .loop import TrainResult

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


def save_run(result: TrainResult, directory: str | os.PathLike[str], name: str
             ) -> dict[str, Path]:
    """Write ``<name>.keras`` and ``<name>.history.json`` into ``directory`` (atomically)."""
    directory = Path(directory)
    model_path = save_model_atomic(result.model, directory / f"{name}.keras")
    meta = {"name": name, "history": result.history, "epochs_run": result.epochs_run,
            "best_epoch": result.best_epoch, "seconds": round(result.seconds, 3),
            "seconds_per_epoch": round(result.seconds_per_epoch, 3),
            "config": result.config.as_dict(), "n_params": result.model.count_params(),
            "versions": package_versions(VERSIONED), "backend": backend.describe()}
    history_path = write_json_atomic(directory / f"{name}.history.json", meta)
    return {"model": model_path, "history": history_path}


def trained_on(history: dict[str, Any]) -> str | None:
    """The Keras backend a run read by :func:`load_history` trained on (None: a history
    written before :func:`save_run` recorded it)."""
    recorded = history.get("backend")
    return recorded.get("backend") if isinstance(recorded, dict) else recorded


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
