"""Ablation study around ``cnn_lstm_paper``: the one-factor studies and their runs.

Every run is a runner :class:`~har_studies.experiments.runner.Run` (name
``<study>__<point>__seed<k>``) under the zoo's ``subjects`` protocol; a configuration several
points share trains once. ``results/ablations/index.json`` records which names the study ran
under which key (no results), so the summary covers every run it made.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from har_utils import config, data
from har_utils.data import HarDataset
from har_utils.io import write_json_atomic

from .. import runner
from ..runner import Pairs, Run, pairs

#: The runner's study label of every ablation run.
STUDY = "ablations"
#: The model every study varies.
BASE_MODEL = "cnn_lstm_paper"
#: Seeds per point of the one-factor and combined studies, and of the final evaluation.
STUDY_SEEDS = 3
FINAL_SEEDS = 5
MAX_EPOCHS = config.PAPER_EPOCHS
#: Early stopping patience (epochs) on the validation subjects' loss (the zoo's).
PATIENCE = 10
#: Validation subjects drawn by :func:`har_utils.data.validation_subjects` (8, 17, 21, 25).
N_VALIDATION_SUBJECTS = config.DEFAULT_N_VALIDATION_SUBJECTS
#: At most this many ``top<k>`` combinations (``all_best`` adds every improving factor).
MAX_COMBINED = 4
#: The issue's target: mean test accuracy over the final seeds, on the official split.
TARGET_ACCURACY = 0.97
#: The study names of the selection steps (not factors).
COMBINED, FINAL = "combined", "final"
#: The combined candidate that is the paper's configuration (no factor changed).
BASELINE = "baseline"

#: Named channel subsets (``config.CHANNELS`` names); "all" is the paper's input.
CHANNEL_SETS: dict[str, tuple[str, ...]] = {
    "all": tuple(config.CHANNELS),
    "body_acc_gyro": tuple(c for c in config.CHANNELS if c.startswith(("body_acc", "body_gyro"))),
    "total_acc": tuple(c for c in config.CHANNELS if c.startswith("total_acc")),
}
#: ``StudyConfig`` fields a point may override.
TRAIN_KEYS: tuple[str, ...] = ("batch_size", "optimizer", "learning_rate", "standardize",
                               "augment", "noise_std", "scale_std", "max_shift")


# --- studies ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Point:
    """One value of a factor: what it changes in the baseline configuration."""

    name: str
    #: Another registered model instead of the base model (e.g. ``cnn_lstm_sequential``).
    model: str | None = None
    model_kwargs: Pairs = ()
    #: ``StudyConfig`` overrides (keys from :data:`TRAIN_KEYS`).
    train: Pairs = ()
    #: A key of :data:`CHANNEL_SETS`.
    channels: str | None = None
    baseline: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "model_kwargs", pairs(self.model_kwargs))
        object.__setattr__(self, "train", pairs(self.train))
        bad = sorted(set(dict(self.train)) - set(TRAIN_KEYS))
        if bad:
            raise ValueError(f"point {self.name!r}: unknown training setting(s) {bad}; "
                             f"use {TRAIN_KEYS}")
        if self.channels is not None and self.channels not in CHANNEL_SETS:
            raise ValueError(f"point {self.name!r}: unknown channel set {self.channels!r}; "
                             f"use one of {sorted(CHANNEL_SETS)}")

    def overrides(self) -> dict[str, Any]:
        """What this point sets, as a JSON-ready dict (empty parts left out)."""
        out: dict[str, Any] = {}
        if self.model:
            out["model"] = self.model
        if self.model_kwargs:
            out["model_kwargs"] = dict(self.model_kwargs)
        if self.train:
            out["train"] = dict(self.train)
        if self.channels:
            out["channels"] = self.channels
        return out


@dataclass(frozen=True)
class Study:
    """One factor: its points, exactly one of them the paper's configuration (baseline)."""

    name: str
    factor: str
    points: tuple[Point, ...]

    def __post_init__(self) -> None:
        if sum(p.baseline for p in self.points) != 1:
            raise ValueError(f"study {self.name!r} must mark exactly one baseline point")
        names = [p.name for p in self.points]
        if len(set(names)) != len(names):
            raise ValueError(f"study {self.name!r} repeats a point name")

    @property
    def baseline(self) -> Point:
        """The paper's value of this factor."""
        return next(p for p in self.points if p.baseline)

    def point(self, name: str) -> Point:
        """The point called ``name``."""
        for p in self.points:
            if p.name == name:
                return p
        raise ValueError(f"study {self.name!r} has no point {name!r}; "
                         f"use one of {[p.name for p in self.points]}")


def model_point(name: str, baseline: bool = False, **kwargs: Any) -> Point:
    """A point that sets hyper-parameters of the model."""
    return Point(name, model_kwargs=kwargs, baseline=baseline)


def train_point(name: str, baseline: bool = False, **train: Any) -> Point:
    """A point that sets ``StudyConfig`` fields."""
    return Point(name, train=train, baseline=baseline)


_kw, _tr = model_point, train_point

#: The one-factor studies around ``cnn_lstm_paper`` (the paper's value marked ``baseline``).
STUDIES: dict[str, Study] = {s.name: s for s in (
    Study("filters", "convolution filters",
          (_kw("32", filters=32), _kw("64", filters=64), _kw("128", True, filters=128))),
    Study("kernel_size", "convolution kernel size",
          (_kw("3", kernel_size=3), _kw("4", True, kernel_size=4), _kw("5", kernel_size=5),
           _kw("7", kernel_size=7))),
    Study("split", "sub-sequence split (none: the sequential reading, cnn_lstm_sequential)",
          (_kw("2x64", n_subsequences=2), _kw("4x32", True, n_subsequences=4),
           _kw("8x16", n_subsequences=8), Point("none", model="cnn_lstm_sequential"))),
    Study("lstm_units", "LSTM units",
          (_kw("50", lstm_units=50), _kw("100", True, lstm_units=100),
           _kw("200", lstm_units=200))),
    Study("lstm_layers", "LSTM layers", (_kw("1", lstm_layers=1), _kw("2", True, lstm_layers=2))),
    Study("dropout", "dropout (convolutional and recurrent, both)",
          (_kw("0.2", conv_dropout=0.2, dropout=0.2),
           _kw("0.5", True, conv_dropout=0.5, dropout=0.5))),
    Study("optimizer", "optimiser (SGD: momentum 0.9, learning rate 0.01)",
          (_tr("adam", True, optimizer="adam", learning_rate=1e-3),
           _tr("sgd", optimizer="sgd", learning_rate=1e-2))),
    Study("batch_size", "batch size",
          (_tr("16", batch_size=16), _tr("32", True, batch_size=32), _tr("64", batch_size=64))),
    Study("standardize", "input standardisation (per channel, fitted on the fit subjects)",
          (_tr("off", True, standardize=False), _tr("on", standardize=True))),
    Study("augment", "training augmentation (noise std 0.01, scaling std 0.1)",
          (_tr("none", True, augment="none"), _tr("noise", augment="noise"),
           _tr("scaling", augment="scaling"), _tr("both", augment="noise+scaling"))),
    Study("channels", "sensor channels",
          (Point("all", channels="all", baseline=True),
           Point("body_acc_gyro", channels="body_acc_gyro"),
           Point("total_acc", channels="total_acc"))),
)}


def points_text(study: Study) -> str:
    """The study's point names, the baseline starred."""
    return ", ".join(p.name + ("*" if p.baseline else "") for p in study.points)


# --- runs ---------------------------------------------------------------------------------

def run_name(study: str, point: str, seed: int) -> str:
    """``<study>__<point>__seed<k>``: the name of an ablation run."""
    return f"{study}__{point}__seed{int(seed)}"


def parse_name(name: str) -> tuple[str, str, int]:
    """(study, point, seed) of a :func:`run_name`."""
    study, point, seed = name.split("__")
    if not seed.startswith("seed"):
        raise ValueError(f"{name!r} is not an ablation run name (<study>__<point>__seed<k>)")
    return study, point, int(seed[4:])


def ablation_run(study: str, point: str, *, seed: int = 0, max_epochs: int = MAX_EPOCHS,
                 model: str | None = None, model_kwargs: Mapping[str, Any] | Pairs = (),
                 train: Mapping[str, Any] | Pairs = (), channels: str = "all",
                 patience: int = PATIENCE,
                 n_validation_subjects: int = N_VALIDATION_SUBJECTS) -> Run:
    """The runner's :class:`Run` of one ablation point and seed: ``model`` (default
    :data:`BASE_MODEL`) with overrides, fit on the training subjects outside the validation
    subjects, early stopping on those, the test subjects scored once."""
    if channels not in CHANNEL_SETS:
        raise ValueError(f"unknown channel set {channels!r}; use {sorted(CHANNEL_SETS)}")
    bad = sorted(set(dict(train)) - set(TRAIN_KEYS))
    if bad:
        raise ValueError(f"unknown training setting(s) {bad}; use {TRAIN_KEYS}")
    if max_epochs < 1:
        raise ValueError(f"max_epochs must be >= 1, got {max_epochs}")
    val = data.validation_subjects(n_validation_subjects)
    return Run(model or BASE_MODEL, seed=seed, epochs=max_epochs,
               fit_subjects=tuple(s for s in config.TRAIN_SUBJECTS if s not in val),
               val_subjects=val, patience=patience, test=True, model_kwargs=dict(model_kwargs),
               train=dict(train), channels=() if channels == "all" else CHANNEL_SETS[channels],
               study=STUDY, name=run_name(study, point, seed))


def make_run(study: str, point: str, parts: Iterable[Point], *, seed: int = 0,
             max_epochs: int = MAX_EPOCHS, base_model: str | None = None) -> Run:
    """The run applying ``parts`` (points of different factors) to the base configuration
    (``base_model``, default :data:`BASE_MODEL`), in order; a later part overrides an
    earlier one where they overlap."""
    model, kwargs, train, channels = base_model or BASE_MODEL, {}, {}, "all"
    for p in parts:
        model = p.model or model
        kwargs.update(dict(p.model_kwargs))
        train.update(dict(p.train))
        channels = p.channels or channels
    return ablation_run(study, point, seed=seed, max_epochs=max_epochs, model=model,
                        model_kwargs=kwargs, train=train, channels=channels)


def channel_set(run: Run) -> str:
    """The :data:`CHANNEL_SETS` name of ``run``'s input channels."""
    chosen = tuple(run.channels) or CHANNEL_SETS["all"]
    for name, channels in CHANNEL_SETS.items():
        if channels == chosen:
            return name
    raise ValueError(f"{run.label}: channels {chosen} are no named channel set")


def overrides(run: Run) -> dict[str, Any]:
    """What the run sets: model, hyper-parameter and training overrides, channel set."""
    return {"model": run.model, "model_kwargs": dict(run.model_kwargs),
            "train": dict(run.train), "channels": channel_set(run)}


def model_hparams(run: Run) -> dict[str, Any]:
    """All of the model's hyper-parameters: its builder's defaults with the overrides."""
    from har_utils.models import describe

    defaults = describe(run.model)
    unknown = sorted(set(dict(run.model_kwargs)) - set(defaults))
    if unknown:
        raise ValueError(f"{run.label}: model {run.model!r} has no hyper-parameter(s) {unknown}")
    return {**defaults, **dict(run.model_kwargs)}


def conv_fits(run: Run) -> str | None:
    """``None`` when the two conv+pool stages fit the (sub-)sequence, else why not
    (e.g. kernel 7 on 16-step sub-sequences)."""
    hp = model_hparams(run)
    if "kernel_size" not in hp or "pool_size" not in hp:
        return None
    steps = config.WINDOW_LENGTH // int(hp.get("n_subsequences", 1))
    length = steps
    for _ in range(2):
        length = (length - int(hp["kernel_size"]) + 1) // int(hp["pool_size"])
        if length < 1:
            return f"kernel {hp['kernel_size']} does not fit {steps}-step sub-sequences"
    return None


def study_names(study: str | Sequence[str] = "all") -> list[str]:
    """``"all"`` -> every study; ``"a,b"`` or a list -> those (checked)."""
    if study == "all":
        names = list(STUDIES)
    elif isinstance(study, str):
        names = [s.strip() for s in study.split(",") if s.strip()]
    else:
        names = list(study)
    unknown = [s for s in names if s not in STUDIES]
    if unknown:
        raise ValueError(f"unknown study {unknown}; use 'all' or names from {list(STUDIES)}")
    return names


def plan(study: str | Sequence[str] = "all", seeds: Iterable[int] = range(STUDY_SEEDS),
         max_epochs: int = MAX_EPOCHS) -> list[Run]:
    """The one-factor runs of ``study`` ("all", a name or a comma list): every point x seed."""
    seeds = list(seeds)
    return [make_run(name, p.name, [p], seed=s, max_epochs=max_epochs)
            for name in study_names(study) for p in STUDIES[name].points for s in seeds]


def unique_runs(runs: Sequence[Run], ds: HarDataset) -> list[Run]:
    """One run per key (the first), in order."""
    c = runner.checksum(ds)
    seen: set[str] = set()
    out = []
    for r in runs:
        k = r.key(c)
        if k not in seen:
            seen.add(k)
            out.append(r)
    return out


# --- the study's index and running --------------------------------------------------------

def ablations_dir() -> Path:
    """``results/ablations`` (follows ``HAR_RESULTS_DIR``)."""
    return config.results_dir() / "ablations"


def index_path(results: Path | None = None) -> Path:
    """``results/ablations/index.json``: the study's run names, their configurations and keys."""
    return (config.results_dir() if results is None else Path(results)) / "ablations" / "index.json"


def load_index(results: Path | None = None) -> dict[str, dict[str, Any]]:
    """Run name -> ``{"key": ..., "run": Run.as_dict()}`` (empty when nothing ran yet)."""
    path = index_path(results)
    return json.loads(path.read_text()) if path.exists() else {}


def record(runs: Sequence[Run], ds: HarDataset) -> Path:
    """Add ``runs`` (with their keys on ``ds``) to the study's index; returns its path."""
    c = runner.checksum(ds)
    index = load_index()
    index.update({r.name: {"key": r.key(c), "run": r.as_dict()} for r in runs})
    return write_json_atomic(index_path(), index)


def execute(runs: Sequence[Run], ds: HarDataset, *, workers: int = 1,
            ship_data: bool | None = None, log: Callable[[str], Any] = print, **execute_kw: Any) -> list[dict[str, Any]]:
    """:func:`runner.execute`, every stored run recorded in the study's index (failed ones
    not); ``ship_data`` defaults to sending ``ds`` itself when the runs stay in this process."""

    ship = workers <= 1 and not execute_kw.get("scheduler") if ship_data is None else ship_data
    try:
        return runner.execute(runs, ds, workers=workers, ship_data=ship, log=log, **execute_kw)
    finally:
        record([r for r in runs if runner.load(r, ds) is not None], ds)


def trained_here(run: Run, result: Mapping[str, Any]) -> bool:
    """True when ``result`` was trained as ``run`` (False: the same configuration trained
    under another name, e.g. another study's baseline point)."""
    return result.get("name") == run.name and result.get("study") == run.study


# --- validation numbers (the only ones selection reads) -----------------------------------

#: The fields of a stored result selection may read (nothing about the test set, so choosing
#: on the test set is impossible by construction).
VALIDATION_FIELDS: tuple[str, ...] = (
    "name", "key", "run", "validation_subjects", "validation_accuracy", "validation_loss",
    "validation", "best_epoch", "epochs_run", "train_seconds", "wall_seconds", "parameters")


def validation_scores(result: Mapping[str, Any]) -> dict[str, float]:
    """Validation accuracy and loss of the kept weights: the stored ones (results converted
    from the former ablation store, computed on the restored weights) or the history's values
    at ``best_epoch`` (the runner's results; equal to within float32 rounding)."""
    if "validation_accuracy" in result and "validation_loss" in result:
        return {"validation_accuracy": float(result["validation_accuracy"]),
                "validation_loss": float(result["validation_loss"])}
    h, best = result["history"], int(result["best_epoch"])
    return {"validation_accuracy": float(h["val_accuracy"][best - 1]),
            "validation_loss": float(h["val_loss"][best - 1])}


def validation_view(result: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of a stored result selection may read: nothing about the test set."""
    out = {k: result[k] for k in VALIDATION_FIELDS if k in result}
    if "history" in result or "validation_accuracy" in result:
        out.update(validation_scores(result))
    return out


def load_validation(run: Run, ds: HarDataset) -> dict[str, Any] | None:
    """``run``'s stored result reduced to :func:`validation_view`, or None when it is not
    stored for the current configuration and data."""
    r = runner.load(run, ds)
    return None if r is None else validation_view(r)
