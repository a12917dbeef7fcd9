"""Seeded training and atomic saving of trained models.

``train(TrainConfig(...), fit, val)`` seeds everything, builds the model from the registry in
:mod:`har_utils.models`, compiles it (categorical cross-entropy on one-hot labels, accuracy)
and fits it, with early stopping on the validation loss (best weights restored). ``save_run``
writes the model and its history atomically; ``load_model`` and ``load_history`` read them
back, with an error that says how to get the file when it is missing.

The package: :mod:`.loop` (the configuration and the fit), :mod:`.labels` (activity ids),
:mod:`.callbacks` (each epoch's seeds) and :mod:`.saving`. Everything is
importable from here: ``from har_utils import training``.
"""

from __future__ import annotations

from .callbacks import EpochSeeds
from .labels import ACTIVITY_IDS, predict_classes
from .loop import KERAS_OPTIMIZERS, OPTIMIZERS, TrainConfig, TrainResult, set_seed, train
from .saving import (MISSING_MODEL_FIX, VERSIONED, load_history, load_model, save_model_atomic,
                     save_run)

__all__ = [
    "ACTIVITY_IDS", "KERAS_OPTIMIZERS", "MISSING_MODEL_FIX", "OPTIMIZERS", "VERSIONED",
    "EpochSeeds", "TrainConfig", "TrainResult", "load_history", "load_model",
    "predict_classes", "save_model_atomic", "save_run", "set_seed", "train"]
