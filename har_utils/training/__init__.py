"""Seeding and the configuration of a run (:mod:`.loop`), and atomic saving of trained models
(:mod:`.saving`).

Everything is importable from here: ``from har_utils import training``.
"""

from __future__ import annotations

from .callbacks import EpochSeeds
from .labels import ACTIVITY_IDS, predict_classes
from .loop import KERAS_OPTIMIZERS, TrainConfig, TrainResult, set_seed
from .saving import (MISSING_MODEL_FIX, VERSIONED, load_history, load_model, save_model_atomic,
                     save_run, trained_on)
