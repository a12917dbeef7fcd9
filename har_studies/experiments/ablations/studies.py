"""The ablation study's factors around ``cnn_lstm_paper``: each factor's points, the paper's
value marked as the baseline (notebook 07; :mod:`.converged` runs them under protocol cv)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from har_utils import config

from ..runner import Pairs, Run, pairs

#: The model every factor varies.
BASE_MODEL = "cnn_lstm_paper"

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


def studies_table() -> pd.DataFrame:
    """One row per factor: its points (baseline starred) and what each changes."""
    return pd.DataFrame([{"factor": s.name, "what": s.factor, "points": points_text(s),
                          "changes": "; ".join(f"{p.name}: {p.overrides()}" for p in s.points
                                               if not p.baseline)}
                         for s in STUDIES.values()])


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
