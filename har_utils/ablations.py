"""Ablation study around ``cnn_lstm_paper``: one factor at a time, then combined
configurations chosen on the validation subjects only, the chosen one tested once over 5 seeds.

Steps (each resumable; a finished job is never run again):

``run``
    The one-factor studies of :data:`STUDIES` (about ten factors; each point at least 3 seeds).
    Every study changes one thing of the paper's configuration (its baseline point) and keeps
    the zoo's ``subjects`` protocol: fit on 17 training subjects, early stopping on the
    validation subjects (8, 17, 21, 25; patience 10, best weights restored), test subjects
    evaluated at the end and recorded.
``select``
    Ranks the points of every complete study by **validation** accuracy (mean over seeds; the
    test numbers in the files are never read: :func:`validation_view` strips them), takes the
    best value of each factor, and builds combined configurations: the factors that beat the
    baseline on validation, added one at a time in order of their gain (``top1``, ``top2``,
    ...) and all of them (``all_best``), plus the baseline. Each is trained (same seeds) and
    the best on validation is chosen (``selection.json``).
``final``
    The chosen configuration over 5 seeds, the test subjects evaluated once, with the zoo's
    95 % interval from resampling test subjects; beside it the paper's configuration over the
    same seeds (``final/baseline``), so that the two are compared seed for seed.
``summary``
    ``results/ablations/summary.json``: per point n_seeds, mean/std of validation and test
    accuracy (the zoo's row form), wall time; the selection and the final row.

Jobs are keyed by a hash of their resolved configuration (model and all its
hyper-parameters, training settings, channels, epoch budget, seed, validation subjects) and
the data's checksum, not by their names: the baseline appears in every study but trains once
per seed, and a combined configuration equal to a one-factor point reuses its runs (the copy
says ``reused_from``). One JSON per job in
``results/ablations/runs/<study>__<point>__seed<k>.json``, written atomically as each job
finishes (optionally git-committed, so the study can span sessions). :func:`run_jobs` runs
jobs in a process pool ("spawn"), each worker limited to ``cpu_count // workers`` TensorFlow
threads (inter-op 1), set before TensorFlow is imported.

Command line (``python -m har_utils.ablations``)::

    run --study filters --seeds 0,1,2 --max-epochs 100 --workers 2
    select --seeds 0,1,2 --max-epochs 100 --workers 2
    final --seeds 0,1,2,3,4 --max-epochs 100 --workers 2
    summary
    list
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from . import config, data, evaluation, zoo
from .data import HarDataset
from .experiments.runner import (Pairs, configure_threads, current_threads, pairs,
                                 threads_per_worker)
from .io import write_json_atomic

#: The model every study varies.
BASE_MODEL = "cnn_lstm_paper"
#: Seeds per point of the one-factor and combined studies, and of the final evaluation.
STUDY_SEEDS = 3
FINAL_SEEDS = 5
MAX_EPOCHS = 100
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
#: ``TrainConfig`` fields a point may override.
TRAIN_KEYS: tuple[str, ...] = ("batch_size", "optimizer", "learning_rate", "standardize",
                               "augment", "noise_std", "scale_std", "max_shift")
#: The fields of a stored result that selection may read (everything about the test set is
#: left out, so choosing on the test set is impossible by construction).
VALIDATION_FIELDS: tuple[str, ...] = (
    "name", "key", "spec", "validation_subjects", "validation_accuracy", "validation_loss",
    "validation", "best_epoch", "epochs_run", "train_seconds", "wall_seconds", "parameters",
    "reused_from")


# --- studies ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Point:
    """One value of a factor: what it changes in the baseline configuration."""

    name: str
    #: Another registered model instead of the base model (e.g. ``cnn_lstm_sequential``).
    model: str | None = None
    model_kwargs: Pairs = ()
    #: ``TrainConfig`` overrides (keys from :data:`TRAIN_KEYS`).
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


def _kw(name: str, baseline: bool = False, **kwargs: Any) -> Point:
    return Point(name, model_kwargs=kwargs, baseline=baseline)


def _tr(name: str, baseline: bool = False, **train: Any) -> Point:
    return Point(name, train=train, baseline=baseline)


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


def _points_text(study: Study) -> str:
    return ", ".join(p.name + ("*" if p.baseline else "") for p in study.points)


def studies_table() -> Any:
    """One row per study: the factor, its points (baseline starred) and what each changes."""
    import pandas as pd

    return pd.DataFrame([{"study": s.name, "factor": s.factor,
                          "points": _points_text(s),
                          "changes": "; ".join(f"{p.name}: {p.overrides()}" for p in s.points
                                               if not p.baseline)}
                         for s in STUDIES.values()])


# --- jobs ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Job:
    """One training run of the study: the base model with overrides, a seed and an epoch
    budget. ``study``/``point`` name its file; its :meth:`key` depends only on what is run."""

    study: str
    point: str
    seed: int = 0
    max_epochs: int = MAX_EPOCHS
    model: str = BASE_MODEL
    #: Hyper-parameter overrides of ``model`` (the rest at the builder's defaults).
    model_kwargs: Pairs = ()
    #: ``TrainConfig`` overrides (the rest at the model's ``train_defaults``).
    train: Pairs = ()
    #: A key of :data:`CHANNEL_SETS`.
    channels: str = "all"
    patience: int = zoo.PATIENCE
    n_validation_subjects: int = config.DEFAULT_N_VALIDATION_SUBJECTS

    def __post_init__(self) -> None:
        object.__setattr__(self, "model_kwargs", pairs(self.model_kwargs))
        object.__setattr__(self, "train", pairs(self.train))
        if self.channels not in CHANNEL_SETS:
            raise ValueError(f"unknown channel set {self.channels!r}; use {sorted(CHANNEL_SETS)}")
        bad = sorted(set(dict(self.train)) - set(TRAIN_KEYS))
        if bad:
            raise ValueError(f"unknown training setting(s) {bad}; use {TRAIN_KEYS}")
        if self.max_epochs < 1:
            raise ValueError(f"max_epochs must be >= 1, got {self.max_epochs}")

    @property
    def name(self) -> str:
        """File stem: ``<study>__<point>__seed<k>``."""
        return f"{self.study}__{self.point}__seed{self.seed}"

    @property
    def channel_names(self) -> tuple[str, ...]:
        """The input channels, in ``config.CHANNELS`` order."""
        return CHANNEL_SETS[self.channels]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields (overrides as dicts)."""
        d = asdict(self)
        d["model_kwargs"], d["train"] = dict(self.model_kwargs), dict(self.train)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Job:
        """The job stored as ``spec`` in a result file (extra keys such as ``protocol`` ignored)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def model_hparams(self) -> dict[str, Any]:
        """All of the model's hyper-parameters: its builder's defaults with the overrides."""
        from .models import describe

        defaults = describe(self.model)
        unknown = sorted(set(dict(self.model_kwargs)) - set(defaults))
        if unknown:
            raise ValueError(f"{self.name}: model {self.model!r} has no hyper-parameter(s) "
                             f"{unknown}")
        return {**defaults, **dict(self.model_kwargs)}

    def train_config(self) -> Any:
        """The resolved :class:`har_utils.training.TrainConfig` (imports TensorFlow)."""
        from .models import train_defaults
        from .training import TrainConfig

        td = train_defaults(self.model)
        base = {"batch_size": td.get("batch_size", 32), "optimizer": td.get("optimizer", "adam"),
                "learning_rate": td.get("learning_rate", 1e-3)}
        return TrainConfig(model=self.model, model_kwargs=self.model_hparams(),
                           epochs=min(self.max_epochs, td.get("max_epochs", self.max_epochs)),
                           patience=self.patience, seed=self.seed,
                           **{**base, **dict(self.train)})

    def config_blob(self) -> dict[str, Any]:
        """Everything that decides the run besides the data (names of study and point left out)."""
        return {"train_config": self.train_config().as_dict(), "channels": list(self.channel_names),
                "validation_subjects": list(data.validation_subjects(self.n_validation_subjects)),
                "protocol": "subjects"}

    def key(self, ds: HarDataset) -> str:
        """Hash of the resolved configuration and the data's checksum (12 hex digits)."""
        blob = json.dumps({**self.config_blob(), "data": data.stamp(ds)}, sort_keys=True,
                          default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]


def make_job(study: str, point: str, parts: Iterable[Point], *, seed: int = 0,
             max_epochs: int = MAX_EPOCHS, base_model: str | None = None) -> Job:
    """A job applying ``parts`` (points of different factors) to the base configuration
    (``base_model``, default :data:`BASE_MODEL`), in order; a later part overrides an
    earlier one where they overlap."""
    model, kwargs, train, channels = base_model or BASE_MODEL, {}, {}, "all"
    for p in parts:
        model = p.model or model
        kwargs.update(dict(p.model_kwargs))
        train.update(dict(p.train))
        channels = p.channels or channels
    return Job(study, point, seed=seed, max_epochs=max_epochs, model=model, model_kwargs=kwargs,
               train=train, channels=channels)


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
         max_epochs: int = MAX_EPOCHS) -> list[Job]:
    """The one-factor jobs of ``study`` ("all", a name or a comma list): every point x seed."""
    seeds = list(seeds)
    return [make_job(name, p.name, [p], seed=s, max_epochs=max_epochs)
            for name in study_names(study) for p in STUDIES[name].points for s in seeds]


def conv_fits(job: Job) -> str | None:
    """``None`` when the two conv+pool stages fit the (sub-)sequence, else why not
    (e.g. kernel 7 on 16-step sub-sequences)."""
    hp = job.model_hparams()
    if "kernel_size" not in hp or "pool_size" not in hp:
        return None
    steps = config.WINDOW_LENGTH // int(hp.get("n_subsequences", 1))
    length = steps
    for _ in range(2):
        length = (length - int(hp["kernel_size"]) + 1) // int(hp["pool_size"])
        if length < 1:
            return f"kernel {hp['kernel_size']} does not fit {steps}-step sub-sequences"
    return None


# --- storage ------------------------------------------------------------------------------

def ablations_dir() -> Path:
    """``results/ablations`` (follows ``HAR_RESULTS_DIR``)."""
    return config.results_dir() / "ablations"


def runs_dir() -> Path:
    """``results/ablations/runs``: one JSON per job."""
    return ablations_dir() / "runs"


def result_path(job: Job) -> Path:
    """``runs/<study>__<point>__seed<k>.json``."""
    return runs_dir() / f"{job.name}.json"


def load_result(job: Job) -> dict[str, Any] | None:
    """The stored result of ``job`` (any key), or None."""
    path = result_path(job)
    return json.loads(path.read_text()) if path.exists() else None


def is_done(job: Job, ds: HarDataset, key: str | None = None) -> bool:
    """True when the stored result was made with this exact configuration and data."""
    r = load_result(job)
    return r is not None and r.get("key") == (key or job.key(ds))


def _key_index() -> dict[str, Path]:
    """Key -> a stored result file with that key (a trained one, not a copy, when there is one)."""
    out: dict[str, Path] = {}
    is_copy: dict[str, bool] = {}
    for p in sorted(runs_dir().glob("*.json")):
        try:
            r = json.loads(p.read_text())
        except ValueError:
            continue
        k = r.get("key")
        if k is not None and (k not in out or (is_copy[k] and not r.get("reused_from"))):
            out[k], is_copy[k] = p, bool(r.get("reused_from"))
    return out


def _spec(job: Job) -> dict[str, Any]:
    return {**job.as_dict(), "protocol": "subjects"}


def _copy_result(job: Job, source: Path) -> dict[str, Any]:
    """Store ``source``'s result (same key) under ``job``'s name, marked ``reused_from``."""
    other = json.loads(source.read_text())
    result = {**other, "name": job.name, "spec": _spec(job),
              "reused_from": other.get("reused_from") or other["name"]}
    write_json_atomic(result_path(job), result)
    return result


# --- running one job ----------------------------------------------------------------------

def _train_and_evaluate(job: Job, ds: HarDataset, log: Callable[[str], Any]) -> dict[str, Any]:
    import keras

    from . import training
    from .models import count_params

    sub = data.select_channels(ds, job.channel_names)
    subjects = data.validation_subjects(job.n_validation_subjects)
    fit, val = data.split_validation(sub, subjects)
    cfg = job.train_config()
    res = training.train(cfg, fit, val, out=log)
    best = res.best_epoch
    val_pred = training.predict_classes(res.model, val.X)
    y_pred = training.predict_classes(res.model, sub.test.X)
    body = {"train_config": cfg.as_dict(), "channels": list(job.channel_names),
            "input_shape": list(fit.X.shape[1:]), "epochs_run": res.epochs_run,
            "best_epoch": best, "train_seconds": res.seconds,
            "seconds_per_epoch": res.seconds_per_epoch, "parameters": count_params(res.model),
            "history": res.history,
            "train_accuracy": float(np.mean(training.predict_classes(res.model, fit.X) == fit.y)),
            "validation_subjects": list(subjects),
            "validation_accuracy": float(np.mean(val_pred == val.y)),
            "validation_loss": float(res.history["val_loss"][best - 1]),
            "validation": evaluation.metrics(val.y, val_pred, val.subject),
            **zoo._evaluate(y_pred, sub)}
    del res
    keras.backend.clear_session()
    return body


def run_job(job: Job, ds: HarDataset, *, force: bool = False, log: Callable[[str], Any] = print,
            threads: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run ``job`` unless done; return its stored result.

    A result with the same key stored under another name (e.g. the baseline of another
    study) is copied instead of training again (``reused_from`` names it). ``threads``
    (recorded in the result) defaults to the current TensorFlow settings.
    """
    key = job.key(ds)
    if not force:
        if is_done(job, ds, key):
            return load_result(job)  # type: ignore[return-value]
        source = _key_index().get(key)
        if source is not None:
            return _copy_result(job, source)
    from .provenance import environment

    t0 = time.perf_counter()
    body = _train_and_evaluate(job, ds, log)
    result = {"name": job.name, "key": key, "spec": _spec(job), "data": data.stamp(ds),
              "study": job.study, "point": job.point,
              "wall_seconds": time.perf_counter() - t0, "cpu_count": os.cpu_count(),
              "threads": threads or {**current_threads(), "workers": 1},
              "environment": environment(), **body}
    write_json_atomic(result_path(job), result)
    return result


# --- the worker pool ----------------------------------------------------------------------

_WORKER: dict[str, Any] = {}


def _init_worker(intra: int, workers: int, ds: HarDataset) -> None:
    """Process-pool initializer: thread limits first (before TensorFlow is imported), then
    the dataset this worker trains on."""
    threads = configure_threads(intra, 1)
    _WORKER.update(ds=ds, threads={**threads, "workers": workers})


def _work(job: Job, force: bool) -> dict[str, Any]:
    def log(line: str) -> None:
        print(f"    [{job.name}] {line}", flush=True)
    r = run_job(job, _WORKER["ds"], force=force, log=log, threads=_WORKER["threads"])
    return _brief(r)


def _brief(r: dict[str, Any]) -> dict[str, Any]:
    return {"name": r["name"], "key": r["key"], "validation_accuracy": r["validation_accuracy"],
            "epochs_run": r["epochs_run"], "wall_seconds": r["wall_seconds"],
            "threads": r.get("threads")}


def git_commit_result(path: Path, message: str) -> bool:
    """``git add`` and ``git commit`` only ``path`` (other staged changes stay staged);
    False when ``path`` is not inside a git work tree or git fails."""
    def git(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["git", *args], cwd=path.parent, capture_output=True, text=True,
                              timeout=60)
    try:
        if git("rev-parse", "--is-inside-work-tree").returncode != 0:
            return False
        return (git("add", "--", path.name).returncode == 0
                and git("commit", "--quiet", "-m", message, "--", path.name).returncode == 0)
    except (OSError, subprocess.SubprocessError):
        return False


def run_jobs(jobs: Sequence[Job], ds: HarDataset, *, workers: int = 1, force: bool = False,
             commit: bool = False, log: Callable[[str], Any] = print) -> list[dict[str, Any]]:
    """Run the jobs that are not done; return every job's stored result, in order.

    Jobs with the same key (e.g. the baseline point of every study) train once; the others
    get a copy. ``workers == 1`` trains in this process (TensorFlow limited to all cores when
    it has not started yet); ``workers > 1`` in a "spawn" process pool whose workers each set
    ``threads_per_worker(workers)`` intra-op threads and 1 inter-op thread before importing
    TensorFlow. ``commit`` git-commits each result file as it is written. A failing job is
    reported and the others go on; a ``RuntimeError`` at the end names the failures.
    """
    t0 = time.perf_counter()
    keys = {job: job.key(ds) for job in jobs}
    index = {} if force else _key_index()
    todo: dict[str, list[Job]] = {}
    done = reused = 0

    def finished(job: Job, how: str) -> None:
        if commit:
            git_commit_result(result_path(job), f"Ablations: {job.name} ({how})")

    for job in jobs:
        if not force and is_done(job, ds, keys[job]):
            done += 1
        elif not force and keys[job] in index:
            _copy_result(job, index[keys[job]])
            finished(job, "reused")
            reused += 1
            log(f"[ablations] {job.name}: same configuration as {index[keys[job]].stem}, reused")
        else:
            todo.setdefault(keys[job], []).append(job)
    log(f"[ablations] {len(jobs)} job(s): {done} done, {reused} reused, {len(todo)} to train "
        f"({sum(map(len, todo.values())) - len(todo)} more will reuse those), workers={workers}")
    failures: list[str] = []
    n = len(todo)

    def completed(i: int, head: Job, brief: dict[str, Any]) -> None:
        finished(head, "trained")
        log(f"[ablations {i}/{n}] {head.name}: validation accuracy "
            f"{brief['validation_accuracy']:.4f}, {brief['epochs_run']} epochs, "
            f"{brief['wall_seconds']:.0f} s")
        for other in todo[brief["key"]][1:]:
            _copy_result(other, result_path(head))
            finished(other, "reused")

    if n and workers <= 1:
        threads = {**configure_threads(threads_per_worker(1), 1), "workers": 1}
        for i, group in enumerate(todo.values(), 1):
            head = group[0]
            log(f"[ablations {i}/{n}] {head.name}: running")
            try:
                r = run_job(head, ds, force=force, threads=threads,
                            log=lambda line: log("    " + line))
                completed(i, head, _brief(r))
            except Exception as exc:  # one failure must not lose the rest of a long study
                failures.append(f"{head.name}: {type(exc).__name__}: {exc}")
                log(f"[ablations {i}/{n}] {head.name}: FAILED\n{traceback.format_exc()}")
    elif n:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor, as_completed

        intra = threads_per_worker(workers)
        log(f"[ablations] pool of {workers} spawned workers, {intra} intra-op thread(s) each")
        with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                                 initializer=_init_worker, initargs=(intra, workers, ds)) as pool:
            futures = {pool.submit(_work, group[0], force): group[0] for group in todo.values()}
            for i, fut in enumerate(as_completed(futures), 1):
                head = futures[fut]
                try:
                    completed(i, head, fut.result())
                except Exception as exc:
                    failures.append(f"{head.name}: {type(exc).__name__}: {exc}")
                    log(f"[ablations {i}/{n}] {head.name}: FAILED: {exc}")
    log(f"[ablations] finished in {time.perf_counter() - t0:.0f} s")
    if failures:
        raise RuntimeError(f"{len(failures)} ablation job(s) failed:\n" + "\n".join(failures))
    return [load_result(job) for job in jobs]  # type: ignore[misc]


# --- selection: validation only -----------------------------------------------------------

def validation_view(result: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of a stored result selection may read: nothing about the test set."""
    return {k: result[k] for k in VALIDATION_FIELDS if k in result}


def load_validation(job: Job, ds: HarDataset, key: str | None = None) -> dict[str, Any] | None:
    """``job``'s stored result reduced to :func:`validation_view`, or None when it is not done
    with the current configuration and data."""
    r = load_result(job)
    if r is None or r.get("key") != (key or job.key(ds)):
        return None
    return validation_view(r)


def _stats(values: Sequence[float]) -> tuple[float, float]:
    return float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def rank_points(named_jobs: Mapping[str, Sequence[Job]], ds: HarDataset) -> list[dict[str, Any]]:
    """Points ranked by mean validation accuracy over their jobs (ties: lower mean validation
    loss, then name). A point missing any of its jobs is left out."""
    rows = []
    for point, jobs in named_jobs.items():
        views = [load_validation(j, ds) for j in jobs]
        if not jobs or any(v is None for v in views):
            continue
        acc = [v["validation_accuracy"] for v in views]  # type: ignore[index]
        loss = [v["validation_loss"] for v in views]  # type: ignore[index]
        mean, std = _stats(acc)
        rows.append({"point": point, "n_seeds": len(views), "val_accuracy_mean": mean,
                     "val_accuracy_std": std, "val_loss_mean": float(np.mean(loss))})
    return sorted(rows, key=lambda r: (-r["val_accuracy_mean"], r["val_loss_mean"], r["point"]))


def select(ds: HarDataset, *, seeds: Iterable[int] = range(STUDY_SEEDS),
           max_epochs: int = MAX_EPOCHS, studies: str | Sequence[str] = "all",
           max_combined: int = MAX_COMBINED) -> dict[str, Any]:
    """Best value of each complete factor, on validation only, and the combined candidates.

    A study counts when every point has a result for every seed. Factors whose best point
    beats their baseline are ordered by their gain; candidates are ``baseline``, ``top1``
    .. ``top<k>`` (the k best factors together, k <= ``max_combined``) and ``all_best``
    (every improving factor) where it differs. A candidate whose convolutions do not fit
    its sub-sequences is left out (``skipped``); candidates with the same configuration are
    kept once (``same_as``). Reads only :func:`validation_view` of the stored results.
    """
    seeds = list(seeds)
    factors: dict[str, Any] = {}
    incomplete = []
    for name in study_names(studies):
        study = STUDIES[name]
        named = {p.name: [make_job(name, p.name, [p], seed=s, max_epochs=max_epochs)
                          for s in seeds] for p in study.points}
        ranking = rank_points(named, ds)
        if len(ranking) < len(study.points):
            incomplete.append(name)
            continue
        base = next(r for r in ranking if r["point"] == study.baseline.name)
        best = ranking[0]
        factors[name] = {"factor": study.factor, "baseline": study.baseline.name,
                         "best": best["point"], "ranking": ranking,
                         "gain_pp": 100 * (best["val_accuracy_mean"] - base["val_accuracy_mean"])}
    improving = sorted((n for n, f in factors.items() if f["best"] != f["baseline"]
                        and f["gain_pp"] > 0), key=lambda n: (-factors[n]["gain_pp"], n))
    wanted: list[tuple[str, list[str]]] = [(BASELINE, [])]
    wanted += [(f"top{k}", improving[:k]) for k in range(1, min(max_combined, len(improving)) + 1)]
    if len(improving) > max_combined:
        wanted.append(("all_best", improving))
    candidates, skipped, seen = [], [], {}
    for cname, names in wanted:
        parts = {n: factors[n]["best"] for n in names}
        job = candidate_job(cname, parts, seed=seeds[0] if seeds else 0, max_epochs=max_epochs)
        why = conv_fits(job)
        if why:
            skipped.append({"name": cname, "parts": parts, "reason": why})
            continue
        blob = json.dumps(replace(job, study="", point="", seed=0).config_blob(), sort_keys=True,
                          default=str)
        if blob in seen:
            skipped.append({"name": cname, "parts": parts, "reason": f"same as {seen[blob]}"})
            continue
        seen[blob] = cname
        candidates.append({"name": cname, "parts": parts,
                           "overrides": {k: v for k, v in job.as_dict().items()
                                         if k in ("model", "model_kwargs", "train", "channels")}})
    return {"criterion": "mean validation accuracy over seeds (subjects "
                         f"{list(data.validation_subjects())}); test results are not read",
            "seeds": seeds, "max_epochs": max_epochs, "factors": factors,
            "incomplete_studies": incomplete, "improving": improving,
            "candidates": candidates, "skipped_candidates": skipped}


def candidate_job(name: str, parts: Mapping[str, str], *, seed: int = 0,
                  max_epochs: int = MAX_EPOCHS, study: str = COMBINED) -> Job:
    """The job of a combined configuration: the base with each factor's chosen point."""
    points = [STUDIES[s].point(p) for s, p in parts.items()]
    return make_job(study, name, points, seed=seed, max_epochs=max_epochs)


def combined_jobs(selection: Mapping[str, Any]) -> list[Job]:
    """Every candidate of ``selection`` x its seeds (study ``combined``)."""
    return [candidate_job(c["name"], c["parts"], seed=s, max_epochs=selection["max_epochs"])
            for c in selection["candidates"] for s in selection["seeds"]]


def choose(selection: dict[str, Any], ds: HarDataset) -> dict[str, Any]:
    """Rank the combined candidates by validation accuracy (their ``combined`` jobs must be
    done) and add ``ranking`` and ``chosen`` (name and parts) to ``selection``."""
    named = {c["name"]: [candidate_job(c["name"], c["parts"], seed=s,
                                       max_epochs=selection["max_epochs"])
                         for s in selection["seeds"]] for c in selection["candidates"]}
    ranking = rank_points(named, ds)
    missing = sorted(set(named) - {r["point"] for r in ranking})
    if missing:
        raise RuntimeError(f"combined candidates {missing} are not done. Fix: run "
                           "`python -m har_utils.ablations select` (it trains them)")
    best = ranking[0]["point"]
    chosen = next(c for c in selection["candidates"] if c["name"] == best)
    return {**selection, "ranking": ranking, "chosen": chosen}


def selection_path() -> Path:
    """``results/ablations/selection.json``."""
    return ablations_dir() / "selection.json"


def run_selection(ds: HarDataset, *, seeds: Iterable[int] = range(STUDY_SEEDS),
                  max_epochs: int = MAX_EPOCHS, workers: int = 1, run: bool = True,
                  commit: bool = False, log: Callable[[str], Any] = print) -> dict[str, Any]:
    """:func:`select`, then train the combined candidates (``run``), :func:`choose` and write
    ``selection.json``; returns the selection."""
    sel = select(ds, seeds=seeds, max_epochs=max_epochs)
    if not sel["factors"]:
        raise RuntimeError("no study is complete for these seeds. Fix: run the one-factor "
                           "studies first (`python -m har_utils.ablations run`)")
    if run:
        run_jobs(combined_jobs(sel), ds, workers=workers, commit=commit, log=log)
    sel = choose(sel, ds)
    write_json_atomic(selection_path(), {"data": data.stamp(ds), **sel})
    return sel


def load_selection() -> dict[str, Any] | None:
    """The stored ``selection.json``, or None."""
    p = selection_path()
    return json.loads(p.read_text()) if p.exists() else None


def final_jobs(selection: Mapping[str, Any], seeds: Iterable[int] = range(FINAL_SEEDS),
               reference: bool = True) -> list[Job]:
    """The chosen configuration over ``seeds`` (study ``final``), and with ``reference`` the
    paper's configuration (point ``baseline``) over the same seeds, unless it is the chosen one.
    The reference is reported beside the choice; it plays no part in choosing."""
    chosen = selection.get("chosen")
    if not chosen:
        raise RuntimeError("no configuration chosen yet. Fix: run `python -m "
                           "har_utils.ablations select` first")
    seeds = list(seeds)
    configs = [(chosen["name"], chosen["parts"])]
    if reference and chosen["name"] != BASELINE:
        configs.append((BASELINE, {}))
    return [candidate_job(name, parts, seed=s, max_epochs=selection["max_epochs"], study=FINAL)
            for name, parts in configs for s in seeds]


# --- summary ------------------------------------------------------------------------------

def load_runs() -> list[dict[str, Any]]:
    """Every stored result."""
    return [json.loads(p.read_text()) for p in sorted(runs_dir().glob("*.json"))]


def _point_order() -> dict[tuple[str, str], int]:
    order = {}
    for i, s in enumerate(STUDIES.values()):
        for j, p in enumerate(s.points):
            order[(s.name, p.name)] = 100 * i + j
    return order


def summarize(runs: list[dict[str, Any]], y_true: np.ndarray, subjects: np.ndarray
              ) -> list[dict[str, Any]]:
    """One row per (study, point), in the zoo's row form (test accuracy and macro-F1 mean/std,
    the subject-bootstrap interval over pooled seeds, per-subject accuracy) plus validation
    accuracy and loss mean/std, epochs, parameters, and whether it is the factor's baseline."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in runs:
        groups.setdefault((r["spec"]["study"], r["spec"]["point"]), []).append(r)
    order = _point_order()
    rows = []
    for (study, point), rs in sorted(groups.items(), key=lambda kv: (
            order.get(kv[0], 10_000), kv[0])):
        rs = sorted(rs, key=lambda r: r["spec"]["seed"])  # per-seed lists in seed order
        row = zoo.summarize(rs, y_true, subjects)[0]
        row.pop("planned_seeds", None)
        acc, std = _stats([r["validation_accuracy"] for r in rs])
        trained = [r for r in rs if not r.get("reused_from")]
        row.update({"study": study, "point": point,
                    "baseline": study in STUDIES and STUDIES[study].baseline.name == point,
                    "val_accuracy_mean": acc, "val_accuracy_std": std,
                    "val_accuracy_per_seed": [float(r["validation_accuracy"]) for r in rs],
                    "val_loss_mean": float(np.mean([r["validation_loss"] for r in rs])),
                    "epochs_run_mean": float(np.mean([r["epochs_run"] for r in rs])),
                    "best_epoch_mean": float(np.mean([r["best_epoch"] for r in rs])),
                    "train_seconds_mean": float(np.mean([r["train_seconds"] for r in rs])),
                    "parameters": int(rs[0]["parameters"]),
                    "overrides": {k: v for k, v in rs[0]["spec"].items()
                                  if k in ("model", "model_kwargs", "train", "channels")},
                    "n_reused": len(rs) - len(trained)})
        rows.append(row)
    return rows


def _final_row(rows: list[dict[str, Any]], sel: Mapping[str, Any] | None, chosen: bool
               ) -> Mapping[str, Any] | None:
    """The ``final`` row of the chosen configuration (``chosen``) or of the paper's (the
    reference: the same row when the paper's configuration was chosen)."""
    if not sel or not sel.get("chosen"):
        return None
    point = sel["chosen"]["name"] if chosen else BASELINE
    return _row({"rows": rows}, FINAL, point)


def summary_path() -> Path:
    """``results/ablations/summary.json``."""
    return ablations_dir() / "summary.json"


def write_summary(ds: HarDataset) -> Path:
    """``results/ablations/summary.json``: the rows of every point with results of the current
    configuration and data (others named in ``stale_runs_left_out``), the selection, the
    final row and the wall time (each trained run counted once, copies not)."""
    current, stale = [], []
    for r in load_runs():
        job = Job.from_dict(r["spec"])
        (current if r.get("key") == job.key(ds) else stale).append(r)
    rows = summarize(current, ds.test.y, ds.test.subject)
    trained = [r for r in current if not r.get("reused_from")]
    sel = load_selection()
    doc = {"data": data.stamp(ds), "base_model": BASE_MODEL,
           "protocol": f"subjects: fit on 17 training subjects, early stopping on validation "
                       f"subjects {list(data.validation_subjects())} (patience {zoo.PATIENCE}, "
                       f"best weights restored); selection on validation only; test reported",
           "studies": {s.name: {"factor": s.factor, "baseline": s.baseline.name,
                                "points": {p.name: p.overrides() for p in s.points}}
                       for s in STUDIES.values()},
           "rows": rows,
           "selection": sel,
           "final": _final_row(rows, sel, chosen=True),
           "final_reference": _final_row(rows, sel, chosen=False),
           "n_runs": len(current), "n_trained_runs": len(trained),
           "train_seconds_total": float(sum(r["train_seconds"] for r in trained)),
           "wall_seconds_total": float(sum(r["wall_seconds"] for r in trained)),
           "parallel_workers": sorted({int(r["threads"]["workers"]) for r in trained
                                       if r.get("threads", {}).get("workers")}),
           "cpu_counts": sorted({int(r["cpu_count"]) for r in trained if r.get("cpu_count")}),
           "stale_runs_left_out": sorted(r["name"] for r in stale)}
    return write_json_atomic(summary_path(), doc)


def load_summary(path: Path | None = None) -> dict[str, Any] | None:
    """The stored ``summary.json``, or None."""
    path = summary_path() if path is None else Path(path)
    return json.loads(path.read_text()) if path.exists() else None


def _accuracy_cells(r: Mapping[str, Any]) -> dict[str, Any]:
    """A summary row's accuracy columns as shown in the tables: validation and test accuracy
    (mean ± std over seeds, %), the test interval from resampling subjects, test macro F1."""
    def pm(col: str) -> str:
        m, s = 100 * r[f"{col}_mean"], 100 * r[f"{col}_std"]
        return f"{m:.2f} ± {s:.2f}" if r["n_seeds"] > 1 else f"{m:.2f} (one seed)"
    low, high = r["ci95_subject_bootstrap"]
    return {"val acc % (mean ± std)": pm("val_accuracy"),
            "test acc % (mean ± std)": pm("accuracy"),
            "test 95 % CI (subjects)": f"{100 * low:.2f}-{100 * high:.2f}",
            "test macro F1": round(r["macro_f1_mean"], 3)}


def table(summary: Mapping[str, Any] | None, study: str | None = None) -> Any:
    """The summary as a table (one row per point; ``study`` filters): validation and test
    accuracy in %, mean ± std over seeds, the test interval, epochs, time and parameters."""
    import pandas as pd

    cols = ["study", "point", "baseline", "n_seeds", "val acc % (mean ± std)",
            "test acc % (mean ± std)", "test 95 % CI (subjects)", "test macro F1",
            "epochs (mean)", "train s / run", "parameters"]
    if not summary:
        return pd.DataFrame(columns=cols)
    out = [{"study": r["study"], "point": r["point"], "baseline": r["baseline"],
            "n_seeds": r["n_seeds"], **_accuracy_cells(r),
            "epochs (mean)": round(r["epochs_run_mean"], 1),
            "train s / run": round(r["train_seconds_mean"], 1),
            "parameters": r["parameters"]}
           for r in summary["rows"] if study is None or r["study"] == study]
    return pd.DataFrame(out, columns=cols)


def selection_table(selection: Mapping[str, Any] | None) -> Any:
    """Per factor: baseline, best point on validation, gain in points; and the candidates'
    ranking when chosen. Two tables (factors, candidates)."""
    import pandas as pd

    if not selection:
        return pd.DataFrame(), pd.DataFrame()
    f = pd.DataFrame([{"study": n, "factor": v["factor"], "baseline": v["baseline"],
                       "best on validation": v["best"], "gain (pp)": round(v["gain_pp"], 2)}
                      for n, v in selection["factors"].items()])
    parts = {c["name"]: c["parts"] for c in selection["candidates"]}
    c = pd.DataFrame([{"candidate": r["point"], "n_seeds": r["n_seeds"],
                       "val acc %": round(100 * r["val_accuracy_mean"], 2),
                       "val std %": round(100 * r["val_accuracy_std"], 2),
                       "parts": ", ".join(f"{k}={v}" for k, v in parts[r["point"]].items())
                       or "(the paper's configuration)",
                       "chosen": r["point"] == selection.get("chosen", {}).get("name")}
                      for r in selection.get("ranking", [])])
    return f, c


def _row(summary: Mapping[str, Any], study: str, point: str) -> Mapping[str, Any] | None:
    return next((r for r in summary["rows"] if r["study"] == study and r["point"] == point), None)


def factor_table(summary: Mapping[str, Any] | None) -> Any:
    """One row per complete factor, in the studies' order: its baseline and its best point on
    validation (the selection's choice), each with validation and test accuracy (mean over
    seeds, %), the validation gain in points, and every other value's validation difference
    from the baseline (which choices matter). Test columns are reported, never used to choose."""
    import pandas as pd

    cols = ["factor", "baseline", "best on validation", "gain on validation (pp)",
            "val acc % (baseline -> best)", "test acc % (baseline -> best)",
            "other values: val minus baseline (pp)", "seeds per point"]
    factors = ((summary or {}).get("selection") or {}).get("factors", {})
    out = []
    for name in [n for n in STUDIES if n in factors] + [n for n in factors if n not in STUDIES]:
        f = factors[name]
        base, best = _row(summary, name, f["baseline"]), _row(summary, name, f["best"])
        if base is None or best is None:
            continue
        val = {r["point"]: r["val_accuracy_mean"] for r in f["ranking"]}
        order = [p.name for p in STUDIES[name].points] if name in STUDIES else list(val)
        others = ", ".join(f"{p}: {100 * (val[p] - val[f['baseline']]):+.2f}"
                           for p in order if p in val and p not in (f["baseline"], f["best"]))
        out.append({"factor": f["factor"], "baseline": f["baseline"],
                    "best on validation": f["best"],
                    "gain on validation (pp)": round(f["gain_pp"], 2),
                    "val acc % (baseline -> best)":
                        f"{100 * base['val_accuracy_mean']:.2f} -> {100 * best['val_accuracy_mean']:.2f}",
                    "test acc % (baseline -> best)":
                        f"{100 * base['accuracy_mean']:.2f} -> {100 * best['accuracy_mean']:.2f}",
                    "other values: val minus baseline (pp)": others or "-",
                    "seeds per point": int(min(base["n_seeds"], best["n_seeds"]))})
    return pd.DataFrame(out, columns=cols)


def outcome_table(summary: Mapping[str, Any] | None) -> Any:
    """The paper's configuration against the chosen one (the ``final`` runs, the same seeds for
    both), validation and test accuracy (mean ± std and per seed, %), the test interval from
    resampling subjects, and the distance to the issue's target of :data:`TARGET_ACCURACY`
    (a target for the official split; the data column says which data these rows come from).
    Before the final runs exist, the paper's row is the studies' shared baseline."""
    import pandas as pd

    cols = ["configuration", "data", "seeds", "val acc % (mean ± std)",
            "test acc % (mean ± std)", "test acc % per seed", "test 95 % CI (subjects)",
            "test macro F1", f"test minus target {100 * TARGET_ACCURACY:g} % (pp)"]
    if not summary:
        return pd.DataFrame(columns=cols)
    sel = summary.get("selection") or {}
    final, ref = summary.get("final"), summary.get("final_reference")
    first = next(iter(STUDIES.values()))
    base = _row(summary, first.name, first.baseline.name)
    if final is not None and ref is not None and final["point"] == ref["point"]:
        rows = [(f"chosen: {final['point']} (the paper's configuration)", final)]
    else:
        rows = ([("the paper's configuration", ref)] if ref is not None else
                [("the paper's configuration (the studies' baseline)", base)] if base else [])
        if final is not None:
            parts = (sel.get("chosen") or {}).get("parts") or {}
            label = ", ".join(f"{k}={v}" for k, v in parts.items())
            rows.append((f"chosen: {final['point']} ({label})", final))
    out = [{"configuration": name, "data": summary["data"]["source_label"],
            "seeds": ",".join(map(str, r.get("seeds") or [])) or r["n_seeds"],
            **_accuracy_cells(r),
            "test acc % per seed": ", ".join(f"{100 * a:.2f}" for a in r["accuracy_per_seed"]),
            cols[-1]: round(100 * (r["accuracy_mean"] - TARGET_ACCURACY), 2)}
           for name, r in rows]
    return pd.DataFrame(out, columns=cols)


def plot_study(summary: Mapping[str, Any], study: str) -> Any:
    """The figure of one factor (:func:`har_utils.plots.ablation_factor`)."""
    import pandas as pd

    from .plots import ablation_factor

    rows = pd.DataFrame([r for r in summary["rows"] if r["study"] == study])
    label = STUDIES[study].factor if study in STUDIES else study
    n = int(rows["n_seeds"].max()) if len(rows) else 0
    return ablation_factor(rows, f"{label} (up to {n} seed{'s' * (n != 1)} per point)")


# --- cost ---------------------------------------------------------------------------------

def _zoo_subject_runs(model: str) -> list[dict[str, Any]]:
    runs = sorted((config.results_dir() / "zoo" / "runs").glob(f"{model}__subjects__seed*.json"))
    return [json.loads(p.read_text()) for p in runs]


def typical_epochs(model: str = BASE_MODEL) -> float | None:
    """Mean epochs run by the zoo's ``subjects`` runs of ``model`` (None if there are none)."""
    epochs = [r["epochs_run"] for r in _zoo_subject_runs(model)]
    return float(np.mean(epochs)) if epochs else None


def typical_overhead(model: str = BASE_MODEL) -> float:
    """Mean seconds a zoo ``subjects`` run of ``model`` spent outside ``fit`` (building,
    predicting, writing); 0 if there are none."""
    extra = [r["wall_seconds"] - r["train_seconds"] for r in _zoo_subject_runs(model)]
    return float(np.mean(extra)) if extra else 0.0


def estimate_seconds(jobs: Sequence[Job], max_epochs: int = MAX_EPOCHS) -> dict[str, Any] | None:
    """Rough serial cost of ``jobs`` from ``results/zoo/cost_table.json`` (seconds per epoch of
    each job's model at the paper's sizes) and the zoo's typical epoch count; None without a
    cost table. Factors that change the cost (filters, batch size, ...) are not modelled."""
    path = config.results_dir() / "zoo" / "cost_table.json"
    if not path.exists():
        return None
    models = {m["model"]: m for m in json.loads(path.read_text())["models"]}
    epochs = typical_epochs() or max_epochs
    epochs = min(epochs, max_epochs)
    overhead = typical_overhead()
    total = upper = 0.0
    for job in jobs:
        m = models.get(job.model) or models[BASE_MODEL]
        first, per = overhead + m["first_epoch_s"], m["s_per_epoch"]
        total += first + per * (epochs - 1)
        upper += first + per * (min(job.max_epochs, max_epochs) - 1)
    return {"jobs": len(jobs), "typical_epochs": epochs, "overhead_s": overhead,
            "seconds_typical": total,
            "seconds_upper_bound": upper, "cost_table": str(path),
            "cpu_count": json.loads(path.read_text()).get("cpu_count")}


def full_study_estimate(ds: HarDataset, seeds: Sequence[int] = tuple(range(STUDY_SEEDS)),
                        max_epochs: int = MAX_EPOCHS, final_seeds: int = FINAL_SEEDS
                        ) -> dict[str, Any] | None:
    """Estimated serial cost of the whole study from scratch: the distinct one-factor runs,
    plus at most ``MAX_COMBINED`` new combined candidates x seeds (``baseline`` and ``top1``
    reuse one-factor runs) and the final seeds beyond ``seeds`` (the others reuse the chosen
    candidate's runs), each at the mean cost of a one-factor run. None without a cost table."""
    est = estimate_seconds(unique_jobs(plan("all", seeds, max_epochs), ds), max_epochs)
    if est is None:
        return None
    extra = MAX_COMBINED * len(seeds) + max(0, final_seeds - len(seeds))
    scale = 1 + extra / est["jobs"]
    return {**est, "one_factor_runs": est["jobs"], "extra_runs": extra,
            "runs": est["jobs"] + extra, "seconds_typical": est["seconds_typical"] * scale,
            "seconds_upper_bound": est["seconds_upper_bound"] * scale}


def unique_jobs(jobs: Sequence[Job], ds: HarDataset) -> list[Job]:
    """One job per key (the first), in order."""
    seen: set[str] = set()
    out = []
    for j in jobs:
        k = j.key(ds)
        if k not in seen:
            seen.add(k)
            out.append(j)
    return out


def listing(ds: HarDataset, seeds: Sequence[int] = tuple(range(STUDY_SEEDS)),
            max_epochs: int = MAX_EPOCHS) -> Any:
    """Per study: points, jobs, distinct configurations, done, and the estimated cost of
    the missing ones (a table)."""
    import pandas as pd

    rows, seen = [], set()
    index = _key_index()
    for name, study in STUDIES.items():
        jobs = plan(name, seeds, max_epochs)
        keys = [j.key(ds) for j in jobs]
        new = [j for j, k in zip(jobs, keys) if k not in seen]
        seen.update(keys)
        missing = [j for j in unique_jobs(new, ds) if j.key(ds) not in index]
        est = estimate_seconds(missing, max_epochs)
        rows.append({"study": name, "factor": study.factor,
                     "points": _points_text(study),
                     "jobs": len(jobs), "new configurations": len(unique_jobs(new, ds)),
                     "missing": len(missing),
                     "est. hours (missing, serial)": None if est is None else
                     round(est["seconds_typical"] / 3600, 2)})
    return pd.DataFrame(rows)


# --- command line -------------------------------------------------------------------------

def _seeds(text: str) -> list[int]:
    return [int(s) for s in text.split(",") if s.strip()]


def main(argv: list[str] | None = None) -> int:
    """``run``, ``select``, ``final``, ``summary`` or ``list`` (see the module docstring)."""
    ap = argparse.ArgumentParser(prog="python -m har_utils.ablations", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--source", default="auto")
    common.add_argument("--max-epochs", type=int, default=MAX_EPOCHS)
    pool = argparse.ArgumentParser(add_help=False)
    pool.add_argument("--workers", type=int, default=2,
                      help="parallel runs, each with cpu_count // workers threads (default 2: "
                           "the committed runs' setting)")
    pool.add_argument("--commit", action="store_true", help="git-commit each result file")
    r = sub.add_parser("run", parents=[common, pool], help="the one-factor studies")
    r.add_argument("--study", default="all", help="'all', a study or a comma list")
    r.add_argument("--seeds", default=",".join(map(str, range(STUDY_SEEDS))))
    r.add_argument("--force", action="store_true")
    s = sub.add_parser("select", parents=[common, pool],
                       help="choose on validation, train the combined candidates")
    s.add_argument("--seeds", default=",".join(map(str, range(STUDY_SEEDS))))
    s.add_argument("--no-run", action="store_true", help="only rank what is stored")
    f = sub.add_parser("final", parents=[common, pool],
                       help="the chosen configuration and the paper's, same seeds, tested")
    f.add_argument("--seeds", default=",".join(map(str, range(FINAL_SEEDS))))
    sub.add_parser("summary", parents=[common], help="write results/ablations/summary.json")
    li = sub.add_parser("list", parents=[common], help="studies, jobs and estimated cost")
    li.add_argument("--seeds", default=",".join(map(str, range(STUDY_SEEDS))))
    args = ap.parse_args(argv)
    ds = data.load_dataset(args.source)

    def log(line: str) -> None:
        print(line, flush=True)
    if args.cmd == "run":
        run_jobs(plan(args.study, _seeds(args.seeds), args.max_epochs), ds, workers=args.workers,
                 force=args.force, commit=args.commit, log=log)
    elif args.cmd == "select":
        sel = run_selection(ds, seeds=_seeds(args.seeds), max_epochs=args.max_epochs,
                            workers=args.workers, run=not args.no_run, commit=args.commit, log=log)
        print(f"chosen on validation: {sel['chosen']['name']} {sel['chosen']['parts']}")
    elif args.cmd == "final":
        sel = load_selection()
        if sel is None:
            raise SystemExit("no selection.json yet. Fix: run `python -m har_utils.ablations "
                             "select` first")
        run_jobs(final_jobs(sel, _seeds(args.seeds)), ds, workers=args.workers,
                 commit=args.commit, log=log)
    elif args.cmd == "list":
        import pandas as pd

        seeds = _seeds(args.seeds)
        with pd.option_context("display.max_colwidth", 60, "display.width", 200):
            print(listing(ds, seeds, args.max_epochs).to_string(index=False))
        est = full_study_estimate(ds, seeds, args.max_epochs)
        if est:
            print(f"the full study: {est['runs']} distinct runs ({est['one_factor_runs']} one-factor, "
                  f"up to {est['extra_runs']} combined and final), about "
                  f"{est['seconds_typical'] / 3600:.1f} h serial at {est['typical_epochs']:.1f} "
                  f"epochs per run (upper bound {est['seconds_upper_bound'] / 3600:.1f} h at "
                  f"{args.max_epochs}), from {est['cost_table']} ({est['cpu_count']} CPUs)")
        else:
            print("no results/zoo/cost_table.json: `make zoo-cost` measures the cost per epoch")
        return 0
    print(f"wrote {write_summary(ds)}")
    return 0


if __name__ == "__main__":
    # Run the package module's main, so the jobs sent to spawned workers pickle as
    # har_utils.ablations.Job, not __main__.Job.
    from har_utils.ablations import main as _main

    sys.exit(_main())
