"""Seeded training, one line per epoch, and atomic saving of trained models.

``train(TrainConfig(...), fit, val)`` seeds everything, builds the model from the registry in
:mod:`har_utils.models`, compiles it (categorical cross-entropy on one-hot labels, accuracy)
and fits it with early stopping on the validation loss (best weights restored). It prints one
compact line per epoch and returns a :class:`TrainResult`. Optional input standardisation
(fitted on the fit windows) and training-only augmentation live *inside* the model as its
first layers, so a saved model needs no extra state to predict. ``save_run`` writes the model and
its history atomically; ``load_model`` and ``load_history`` read them back, with an error that
says how to get the file when it is missing.

The package: :mod:`.loop` (the configuration, the model it builds, the fit), :mod:`.layers`
(standardisation, augmentation, the gravity frame, window statistics), :mod:`.labels` (activity ids and one-hot columns),
:mod:`.callbacks` (the epoch line and per-epoch scores) and :mod:`.saving` (saving and loading). Everything is importable from here: ``from har_utils import training``.
"""

from __future__ import annotations

from .callbacks import EpochLog, EpochScores, EpochSeeds, ResumableEarlyStopping
from .labels import ACTIVITY_IDS, predict_classes, to_one_hot
from .layers import (AUGMENTATIONS, FRAMES, WINDOW_STATS, Augment, GravityFrame, RandomRotation,
                     WindowStats, parse_augment, standardization_layer)
from .loop import (LR_SCHEDULES, OPTIMIZERS, TrainConfig, TrainResult, build_for, learning_rate_for,
                   make_optimizer, set_seed, train)
from .saving import (MISSING_MODEL_FIX, VERSIONED, load_history, load_model, save_model_atomic,
                     save_run)

__all__ = [
    "ACTIVITY_IDS", "AUGMENTATIONS", "FRAMES", "LR_SCHEDULES", "MISSING_MODEL_FIX", "OPTIMIZERS",
    "VERSIONED", "WINDOW_STATS", "Augment", "EpochLog", "EpochScores", "EpochSeeds",
    "GravityFrame", "RandomRotation", "ResumableEarlyStopping", "TrainConfig", "TrainResult",
    "WindowStats", "build_for", "learning_rate_for", "load_history", "load_model", "make_optimizer",
    "parse_augment", "predict_classes", "save_model_atomic", "save_run", "set_seed",
    "standardization_layer", "to_one_hot", "train"]
