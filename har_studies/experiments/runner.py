"""One experiment runner for every study: a run is a configuration plus the data's checksum.

A :class:`Run`'s key hashes what decides its result with the data's checksum; the result is
stored once as ``results/runs/<key>.json`` and reused by every study. :func:`execute` trains
what is missing on local workers (loky) or a Dask cluster; each run is claimed first
(``<key>.lock``) so runners can share a store, and Keras runs resume per epoch from a backup.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from har_utils import backend as backend_module
from har_utils import config, data, evaluation
from har_utils.data import HarDataset, Split
from har_utils.io import HarError, write_json_atomic

from har_utils.threads import configure_threads, current_threads

from ..backends import BackendError, require
from ..folders import check_writable
from .scheduler import SCHEDULER_FIX, scheduler_problem

#: Models fit once on the window features: what it is (stored in the config), its defaults.
ESTIMATORS: dict[str, tuple[str, dict[str, Any]]] = {
    "logreg_features": ("StandardScaler + LogisticRegression", {"C": 1.0}),
    "svm_rbf_features": ("StandardScaler + CalibratedClassifierCV(SVC(kernel='rbf'), "
                         "ensemble=False)", {"C": 1.0, "gamma": "scale"}),
    "hgb_features": ("StandardScaler + HistGradientBoostingClassifier",
                     {"learning_rate": 0.1, "max_iter": 200, "max_leaf_nodes": 31,
                      "l2_regularization": 0.0}),
}
CLASSICAL: tuple[str, ...] = tuple(ESTIMATORS)
#: The Keras backends a run may train on.
BACKENDS: tuple[str, ...] = ("jax", "tensorflow")
#: How long a runner waits for a Dask scheduler to answer.
SCHEDULER_TIMEOUT = "10s"
#: Decimals kept of the test softmax outputs (enough for ensembles; smaller files).
PROBA_DECIMALS = 5


def process_group(run: "Run", runs: Iterable["Run"]) -> tuple[str, int]:
    """(Keras backend, threads) of the workers ``run`` can share; a classical run joins the
    first Keras group with its thread count, if any."""
    if run.model not in CLASSICAL:
        return run.backend, run.threads
    keras_groups = sorted({(r.backend, r.threads) for r in runs if r.model not in CLASSICAL})
    return next((g for g in keras_groups if g[1] == run.threads), ("", run.threads))


def engine(model: str, backend: str) -> str:
    """The backend, or "scikit-learn" for the classical models."""
    return "scikit-learn" if model in CLASSICAL else backend


Pairs = tuple[tuple[str, Any], ...]


def pairs(d: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> Pairs:
    """A mapping (or pairs) as sorted (key, value) pairs: hashable, order-free settings."""
    items = d.items() if isinstance(d, Mapping) else d
    return tuple(sorted((str(k), v) for k, v in items))


@dataclass(frozen=True)
class Run:
    """One training run. Everything but ``study`` and ``name`` decides its result."""

    model: str
    seed: int = 0
    #: Epoch budget (Keras models; the model's own ``max_epochs`` caps it).
    epochs: int = config.PAPER_EPOCHS
    fit_subjects: tuple[int, ...] = tuple(config.TRAIN_SUBJECTS)
    #: Training subjects scored after every epoch (never fitted on).
    val_subjects: tuple[int, ...] = ()
    #: > 0: early stopping on ``val_subjects``' loss with this patience, best weights kept.
    patience: int = 0
    #: Score the test subjects once, at the end (and keep the softmax outputs).
    test: bool = True
    #: Hyper-parameters of the model (the rest at its builder's defaults).
    model_kwargs: Pairs = ()
    #: ``StudyConfig`` settings over the model's defaults; ``max_epochs`` replaces its cap.
    train: Pairs = ()
    #: Input channels (names from ``config.CHANNELS``); empty: all nine.
    channels: tuple[str, ...] = ()
    #: Score the test subjects every epoch (the paper's protocol, measured); never steers.
    watch_test: bool = False
    #: Threads it computes with; they change float rounding, so they are part of the run.
    #: 0: the backend's default.
    threads: int = 1
    #: The Keras backend it trains on (``har_utils.backend``; classical runs ignore it).
    backend: str = backend_module.TRAINING
    study: str = field(default="", compare=False)
    name: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "model_kwargs", pairs(self.model_kwargs))
        object.__setattr__(self, "train", pairs(self.train))
        object.__setattr__(self, "fit_subjects", tuple(sorted(int(s) for s in self.fit_subjects)))
        object.__setattr__(self, "val_subjects", tuple(sorted(int(s) for s in self.val_subjects)))
        object.__setattr__(self, "channels", tuple(self.channels))
        train = set(config.TRAIN_SUBJECTS)
        if not self.fit_subjects or not set(self.fit_subjects) <= train:
            raise ValueError(f"{self.label}: fit subjects must be training subjects")
        if not set(self.val_subjects) <= train or set(self.val_subjects) & set(self.fit_subjects):
            raise ValueError(f"{self.label}: validation subjects must be training subjects "
                             "outside the fit subjects (the test set never steers)")
        if self.patience and not self.val_subjects:
            raise ValueError(f"{self.label}: early stopping needs validation subjects")
        if self.watch_test and (self.val_subjects or self.patience or not self.test):
            raise ValueError(f"{self.label}: watch_test scores the test subjects every epoch; "
                             "it takes no validation subjects, no early stopping, and test=True")
        if self.epochs < 1:
            raise ValueError(f"{self.label}: epochs must be >= 1")
        if self.threads < 0:
            raise ValueError(f"{self.label}: threads must be >= 0 (0: the backend's default)")
        if self.backend not in BACKENDS:
            raise ValueError(f"{self.label}: backend must be one of {BACKENDS}")

    @property
    def label(self) -> str:
        return self.name or f"{self.model}/seed{self.seed}"

    @property
    def engine(self) -> str:
        """What it computes on: its Keras backend, or "scikit-learn" (classical runs)."""
        return engine(self.model, self.backend)

    def train_config(self) -> Any:
        """The resolved :class:`~.fitting.StudyConfig` (Keras models)."""
        from har_utils.models import describe, train_defaults

        from .. import zoo_models  # noqa: F401  (registers the zoo's models, in workers too)
        from .fitting import StudyConfig

        td = train_defaults(self.model)
        defaults = describe(self.model)
        unknown = sorted(set(dict(self.model_kwargs)) - set(defaults))
        if unknown:
            raise ValueError(f"{self.label}: model {self.model!r} has no hyper-parameter(s) "
                             f"{unknown}")
        base = {"batch_size": td.get("batch_size", config.PAPER_BATCH_SIZE),
                "optimizer": td.get("optimizer", config.PAPER_OPTIMIZER),
                "learning_rate": td.get("learning_rate", config.PAPER_LEARNING_RATE)}
        settings = dict(self.train)
        # the model's own cap on epochs (its paper's budget), unless the run sets another
        cap = int(settings.pop("max_epochs", td.get("max_epochs", self.epochs)))
        return StudyConfig(model=self.model, model_kwargs={**defaults, **dict(self.model_kwargs)},
                           epochs=min(self.epochs, cap), patience=self.patience, seed=self.seed,
                           **{**base, **settings})

    def config(self) -> dict[str, Any]:
        """Everything that decides the result besides the data (JSON-ready)."""
        if self.model in CLASSICAL:
            what: dict[str, Any] = {"estimator": ESTIMATORS[self.model][0],
                                    "model": self.model, "model_kwargs": dict(self.model_kwargs)}
        else:
            what = {"train_config": self.train_config().as_dict()}
        return {**what, "fit_subjects": list(self.fit_subjects),
                "val_subjects": list(self.val_subjects), "test": self.test,
                "channels": list(self.channels) or list(config.CHANNELS),
                "watch_test": self.watch_test, "threads": self.threads, "engine": self.engine}

    def key(self, checksum: str) -> str:
        """The run's key: a hash of :meth:`config` and the data's checksum (16 hex digits)."""
        blob = json.dumps({**self.config(), "data_sha256": checksum}, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["model_kwargs"], d["train"] = dict(self.model_kwargs), dict(self.train)
        return d


# --- the store ----------------------------------------------------------------------------

def runs_dir() -> Path:
    """``results/runs`` (follows ``HAR_RESULTS_DIR``)."""
    return config.results_dir() / "runs"


def result_path(key: str) -> Path:
    return runs_dir() / f"{key}.json"


def checksum(ds: HarDataset) -> str:
    """The data checksum that keys runs on ``ds``."""
    c = data.stamp(ds)["checksum_sha256"]
    if not c:
        raise ValueError("the dataset carries no checksum (load it with data.load_dataset)")
    return str(c)


def load(run: Run, ds: HarDataset) -> dict[str, Any] | None:
    """The stored result of ``run`` on ``ds``, or None (a damaged file counts as missing)."""
    path = result_path(run.key(checksum(ds)))
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        print(f"warning: {config.shown(path)} is unreadable; the run will be trained again",
              file=sys.stderr)
        return None


# --- one run, in a worker -----------------------------------------------------------------

def _where() -> dict[str, Any]:
    """Who runs this: the Dask worker's address (or "local"), host and process id."""
    try:
        from distributed import get_worker

        address = get_worker().address
    except (ImportError, ValueError):
        address = "local"
    return {"address": address, "host": socket.gethostname(), "pid": os.getpid()}


_DATA: dict[str, HarDataset] = {}


def _dataset(payload: HarDataset | str, expected: str) -> HarDataset:
    """The dataset shipped, or loaded once per worker, checked against the client's checksum."""
    if isinstance(payload, HarDataset):
        ds = payload
    else:
        if payload not in _DATA:
            _DATA[payload] = data.load_dataset(payload)
        ds = _DATA[payload]
    if checksum(ds) != expected:
        raise RuntimeError(f"this worker's {payload if isinstance(payload, str) else 'data'} "
                           f"has checksum {checksum(ds)}, the client's {expected}: install the "
                           "same data source on every worker")
    return ds


def _subset(split: Split, subjects: Sequence[int]) -> Split:
    m = np.isin(split.subject, subjects)
    return Split(*(a[m] for a in split))


def backup_dir() -> Path:
    """Where the runs of this store keep their resume backups: ``results/runs/.backup``
    (follows ``HAR_RESULTS_DIR``), so two stores never share one and a store elsewhere needs
    nothing written in the checkout."""
    return runs_dir() / ".backup"


def damaged_weights(path: Path) -> str | None:
    """Why the Keras weights file ``path`` cannot be restored (None: every array reads)."""
    import h5py

    def read(name: str, obj: Any) -> None:
        if isinstance(obj, h5py.Dataset):
            obj[()]

    try:
        with h5py.File(path, "r") as f:
            f.visititems(read)
    except Exception as exc:  # noqa: BLE001 - h5py raises OSError, KeyError, ValueError, ...
        return f"{type(exc).__name__}: {exc}"
    return None


def resume_point(backup: Path, log: Callable[[str], Any] = print) -> int:
    """The epoch a run resumes at from its backup (0: none). A backup that cannot be resumed
    (its scored epochs do not cover its saved state, a file unreadable, its weights cut short,
    not HDF5, or not the ones its epoch count committed by checksum) is removed with a warning
    naming it, and the run starts from scratch."""
    from .fitting import committed_backup

    if not backup.exists():
        return 0
    rows = backup / "epochs.json"
    stopping = backup / "early_stopping" / "state.json"
    problem = None
    weights: Path | None = None
    try:
        epoch, weights, why = committed_backup(backup / "state")
        scored = len(json.loads(rows.read_text())) if rows.exists() else 0
        if stopping.exists():
            json.loads(stopping.read_text())["values"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        epoch, scored, why = -1, 0, None
        problem = f"a file is unreadable ({type(exc).__name__}: {exc})"
    if problem is None and scored < epoch:
        problem = (f"it does not match its scored epochs (state at epoch {epoch}, {scored} "
                   "epoch(s) scored)")
    if problem is None and epoch > 0 and weights is not None:
        if why is None:
            damage = damaged_weights(weights)
            why = None if damage is None else f"are damaged ({damage})"
        if why is not None:
            problem = f"its weights {config.shown(weights)} {why}"
    if problem is not None:
        log(f"warning: backup {config.shown(backup)} cannot be resumed: {problem}; removed, "
            "training from scratch")
        shutil.rmtree(backup, ignore_errors=True)
        return 0
    if epoch == 0:  # nothing to resume: leftovers (weights, scores) must not be read as one
        shutil.rmtree(backup, ignore_errors=True)
    return epoch


def backend_of(result: dict[str, Any]) -> str:
    """``"jax 0.10.2"``: the backend a stored run trained on (unrecorded: TensorFlow)."""
    name = engine(result.get("run", {}).get("model", ""), result.get("backend", "tensorflow"))
    if name == "scikit-learn":
        return name
    version = result.get("version") or result.get("environment", {}).get(
        "packages", {}).get(name, "")
    return f"{name} {version}".strip()


def run_seconds(result: dict[str, Any]) -> float:
    """One stored run's training seconds, the epochs before a resume counted at its rate."""
    before = int(result.get("resumed_at_epoch") or 0)
    return float(result.get("train_seconds", 0.0)) + before * float(
        result.get("seconds_per_epoch") or 0.0)


def study_hours(study: str) -> float:
    """Training hours of one worker over every stored run labelled ``study``."""
    total = 0.0
    for path in runs_dir().glob("*.json"):
        try:
            r = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if r.get("study") == study:
            total += run_seconds(r)
    return total / 3600


def parent_watch(runner_pid: int) -> Any:
    """A callback that exits the worker once its runner dies, before it writes another backup
    a restarted runner would resume from."""
    import keras

    class ParentWatch(keras.callbacks.Callback):
        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            if os.getppid() != runner_pid:
                os._exit(3)

    return ParentWatch()


#: Seconds between a local worker's checks that its runner still lives.
WATCH_SECONDS = 0.5


def end_with_runner(runner_pid: int) -> None:
    """Initializer of each local worker process: a daemon thread ends the worker once
    ``runner_pid`` is no longer its parent (the runner died: SIGTERM, SIGKILL, a crash), busy
    or idle, so no worker outlives its runner or writes a backup a new runner would resume."""
    import threading

    def watch() -> None:
        while os.getppid() == runner_pid:
            time.sleep(WATCH_SECONDS)
        os._exit(3)

    threading.Thread(target=watch, name="har-end-with-runner", daemon=True).start()


def _keras_body(run: Run, ds: HarDataset, backup: Path | None, log: Callable[[str], Any],
                save_model: Path | None = None, runner_pid: int | None = None
                ) -> dict[str, Any]:
    import keras

    from har_utils import training

    from . import fitting

    sub = data.select_channels(ds, run.channels) if run.channels else ds
    fit = _subset(sub.train, run.fit_subjects)
    val = (sub.test if run.watch_test
           else _subset(sub.train, run.val_subjects) if run.val_subjects else None)
    cfg = run.train_config()
    resumed = 0
    if backup is not None:
        resumed = resume_point(backup, log)
        backup.mkdir(parents=True, exist_ok=True)
    scores = fitting.EpochScores(val, None if backup is None else backup / "epochs.json")
    # the watch first: an orphaned worker stops before the other callbacks write a backup
    watch = [parent_watch(runner_pid)] if runner_pid is not None else []
    res = fitting.train_run(cfg, fit, val, out=log, callbacks=[*watch, scores], backup_dir=backup)
    rows, history = scores.rows, scores.history
    body: dict[str, Any] = {
        "train_config": cfg.as_dict(), "input_shape": list(fit.X.shape[1:]),
        "epochs_run": len(rows), "best_epoch": res.best_epoch if run.patience else len(rows),
        "resumed_at_epoch": resumed, "train_seconds": res.seconds,
        "seconds_per_epoch": res.seconds / max(1, len(rows) - resumed),
        "parameters": res.model.count_params(), "history": history,
        **backend_module.describe()}
    if run.val_subjects:  # the fold's softmax at the end (seed ensembles scored on folds)
        proba = res.model.predict(np.asarray(val.X, np.float32), batch_size=256, verbose=0)
        body["val_proba"] = np.round(proba, PROBA_DECIMALS).tolist()
    if run.test:
        proba = res.model.predict(np.asarray(sub.test.X, np.float32), batch_size=256, verbose=0)
        body["test_proba"] = np.round(proba, PROBA_DECIMALS).tolist()
        body["y_pred"] = [int(v) for v in training.ACTIVITY_IDS[np.argmax(proba, axis=1)]]
    if save_model is not None:
        training.save_model_atomic(res.model, save_model)
    del res
    keras.backend.clear_session()
    return body


def estimator(run: Run) -> Any:
    """The scikit-learn pipeline of a classical run, seeded where it draws random numbers."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    defaults = ESTIMATORS[run.model][1]
    unknown = sorted(set(dict(run.model_kwargs)) - set(defaults))
    if unknown:
        raise ValueError(f"{run.label}: {run.model} has no hyper-parameter(s) {unknown}")
    kw = {**defaults, **dict(run.model_kwargs)}
    if run.model == "logreg_features":
        clf: Any = LogisticRegression(C=float(kw["C"]), max_iter=3000)
    elif run.model == "svm_rbf_features":  # probabilities by 5-fold calibration (deterministic)
        clf = CalibratedClassifierCV(SVC(C=float(kw["C"]), gamma=kw["gamma"]), ensemble=False)
    else:
        clf = HistGradientBoostingClassifier(random_state=run.seed, early_stopping=False, **kw)
    return make_pipeline(StandardScaler(), clf)


def window_classifier(fitted: Any) -> Any:
    """A fitted feature pipeline as a classifier of raw windows (n, 128, 9)."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    from har_utils.data.window_features import feature_matrix

    return make_pipeline(FunctionTransformer(feature_matrix), fitted)


def _classical_body(run: Run, ds: HarDataset, save_model: Path | None = None
                    ) -> dict[str, Any]:
    from sklearn.metrics import f1_score

    from threadpoolctl import threadpool_limits

    from har_utils.training import ACTIVITY_IDS

    ftr, fte, names, kind = data.features(ds)
    fit = np.isin(ds.train.subject, run.fit_subjects)
    t0 = time.perf_counter()
    clf = estimator(run)
    # BLAS threads change the fit's rounding: the run's count, whatever the worker's default
    with threadpool_limits(run.threads or None):
        clf.fit(ftr[fit], ds.train.y[fit])
    body: dict[str, Any] = {"features": kind, "n_features": len(names), "epochs_run": 1,
                            "train_seconds": time.perf_counter() - t0, "device": "CPU",
                            "blas_threads": run.threads or os.cpu_count(),
                            "history": {"accuracy": [float(clf.score(ftr[fit], ds.train.y[fit]))]}}
    if run.val_subjects:
        v = np.isin(ds.train.subject, run.val_subjects)
        pred = clf.predict(ftr[v])
        body["history"].update(val_accuracy=[float(np.mean(pred == ds.train.y[v]))],
                               val_macro_f1=[float(f1_score(ds.train.y[v], pred,
                                                            average="macro"))])
    if run.test:
        proba = clf.predict_proba(fte)
        order = [list(clf.classes_).index(c) for c in ACTIVITY_IDS]
        body["test_proba"] = np.round(proba[:, order], PROBA_DECIMALS).tolist()
        body["y_pred"] = [int(v) for v in clf.predict(fte)]
    if save_model is not None:
        if not kind.startswith("computed"):
            raise ValueError(f"{run.label}: only a model on the computed window features can be "
                             f"saved as a classifier of raw windows, not on the {kind}")
        import joblib

        from har_utils.io import atomic_path

        with atomic_path(save_model, suffix=".tmp.joblib") as tmp:
            joblib.dump(window_classifier(clf), tmp)
    return body


def run_one(run: Run, payload: HarDataset | str, expected: str, *,
            backup_root: str | None = None, log: Callable[[str], Any] | None = None,
            save_model: Path | None = None, runner_pid: int | None = None) -> dict[str, Any]:
    """Train and score ``run`` here and return its result (no file written; ``save_model``:
    where the trained model goes). A process already on another backend or thread count
    raises ``RuntimeError``."""
    t0 = time.perf_counter()
    where = {**_where(), "threads": None}
    if run.model not in CLASSICAL:
        fresh = "run it in a fresh worker process (workers > 1, or a new Python process)"
        try:
            require(run.backend, run.label)
        except BackendError as exc:
            raise RuntimeError(f"{exc}; {fresh}") from exc
        if run.threads:
            where["threads"] = configure_threads(run.threads)
            if where["threads"]["intra_op"] != run.threads:
                raise RuntimeError(
                    f"{run.label} trains with {run.threads} thread(s), but this process "
                    f"already runs {run.backend} with {where['threads']['intra_op']}: {fresh}")
        else:
            where["threads"] = current_threads()
    ds = _dataset(payload, expected)
    key = run.key(expected)
    say = log or (lambda line: print(f"    [{run.label}] {line}", flush=True))
    backup = Path(backup_root) / key if backup_root and run.model not in CLASSICAL else None
    body = (_classical_body(run, ds, save_model) if run.model in CLASSICAL
            else _keras_body(run, ds, backup, say, save_model,
                             runner_pid if runner_pid is not None and runner_pid != os.getpid()
                             else None))
    if backup is not None:
        shutil.rmtree(backup, ignore_errors=True)  # finished: nothing left to resume
    if run.test:
        m = evaluation.metrics(ds.test.y, np.asarray(body["y_pred"]), ds.test.subject)
        low, high = evaluation.subject_bootstrap_ci(ds.test.y, np.asarray(body["y_pred"]),
                                                    ds.test.subject)
        body.update(test=m, test_ci95_subject_bootstrap=[low, high])
    from har_utils.provenance import environment

    return {"key": key, "study": run.study, "name": run.name, "run": run.as_dict(),
            "config": run.config(), "data": data.stamp(ds), **body,
            "wall_seconds": time.perf_counter() - t0, "worker": where,
            "cpu_count": os.cpu_count(), "environment": environment()}


# --- many runs ----------------------------------------------------------------------------

#: Tracked paths whose changes are outputs (results, figures, executed notebooks, rendered
#: docs), not code: a tree with only these changed still trains from its commit's code.
OUTPUT_PATHS: tuple[str, ...] = ("results", "figures", "notebooks", "docs", "README.md")
#: Set (to 1) by ``--allow-dirty``: store runs trained from uncommitted code anyway.
ALLOW_DIRTY_ENV = "HAR_ALLOW_DIRTY"


def uncommitted_code() -> list[str]:
    """Tracked files outside :data:`OUTPUT_PATHS` that differ from the checked-out commit
    (none outside a git checkout)."""
    excluded = [f":(exclude){p}" for p in OUTPUT_PATHS]
    try:
        out = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                              *excluded], cwd=config.PROJECT_ROOT, capture_output=True,
                             text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [line[3:] for line in out.splitlines() if line.strip()]


def check_clean_tree(allow_dirty: bool) -> list[str]:
    """Before a run is stored in the committed ``results/runs``: the code must be a commit's.
    Uncommitted code is refused unless ``allow_dirty``; returns what was uncommitted (each such
    run records it)."""
    if runs_dir().resolve() != (config.COMMITTED_RESULTS_DIR / "runs").resolve():
        return []
    changed = uncommitted_code()
    if changed and not allow_dirty:
        shown = ", ".join(changed[:3]) + (", ..." if len(changed) > 3 else "")
        raise HarError(runs_dir(), f"{len(changed)} tracked file(s) differ from the commit "
                       f"({shown}): a study run stored in the committed results must be trained "
                       "from a clean commit",
                       "commit the changes, or run from a worktree at a clean commit (`git "
                       "worktree add`); to store the runs anyway, pass --allow-dirty (each run "
                       "records the files that differed)")
    return changed


#: Seconds a claim file may stay empty or unreadable (a runner writing it) before it counts as
#: stale: its runner died between creating and writing it, or the file was damaged.
CLAIM_UNREADABLE_SECONDS = 5.0
#: When this runner first found each unreadable claim: (path, inode, size, mtime) -> monotonic.
UNREADABLE_CLAIMS: dict[tuple[str, int, int, int], float] = {}
#: The unreadable claims already reported stale.
STALE_CLAIMS_SAID: set[tuple[str, int, int, int]] = set()


def warn(line: str) -> None:
    """The default log of the claims' warnings: standard error."""
    print(line, file=sys.stderr, flush=True)


def claim(key: str, log: Callable[[str], Any] = warn) -> bool:
    """Claim run ``key``: create its lock file atomically. False if a live runner holds it;
    a dead local runner's claim, or one left empty or unreadable, is taken over."""
    path = lock_path(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    mine = json.dumps({"host": socket.gethostname(), "pid": os.getpid(),
                       "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            if claim_alive(key, log):
                return False
            try:
                path.unlink(missing_ok=True)  # stale: its runner died
            except OSError as exc:
                raise HarError(path, f"a stale claim that cannot be removed ({exc.strerror})",
                               "delete the file (no runner holds it), then run again") from None
            continue
        with os.fdopen(fd, "w") as f:
            f.write(mine)
        return True
    return False


def claim_alive(key: str, log: Callable[[str], Any] = warn) -> bool:
    """Whether run ``key``'s claim is alive: another host's counts; this host's while its
    process lives; an empty or unreadable one (being written) for
    :data:`CLAIM_UNREADABLE_SECONDS`, then it is stale (said once through ``log``)."""
    path = lock_path(key)
    try:
        holder = json.loads(path.read_text())
        if not isinstance(holder, dict):
            raise ValueError(f"a JSON {type(holder).__name__}, not an object")
        host, pid = holder["host"], int(holder["pid"])
    except FileNotFoundError:
        return False
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return not unreadable_claim_stale(path, exc, log)
    if host != socket.gethostname():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def unreadable_claim_stale(path: Path, exc: Exception, log: Callable[[str], Any] = warn
                           ) -> bool:
    """Whether the claim file ``path``, unreadable with ``exc``, has been so for
    :data:`CLAIM_UNREADABLE_SECONDS`: since its last change or since this runner first found
    it, whichever is longer (a claim is written right after it is created)."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return True
    except OSError:
        st = None
    ident = (str(path), st.st_ino, st.st_size, st.st_mtime_ns) if st else (str(path), 0, 0, 0)
    now = time.monotonic()
    first = UNREADABLE_CLAIMS.setdefault(ident, now)
    age = max(now - first, time.time() - st.st_mtime if st else 0.0)
    if age < CLAIM_UNREADABLE_SECONDS:
        return False
    if ident not in STALE_CLAIMS_SAID:
        STALE_CLAIMS_SAID.add(ident)
        what = "empty" if st is not None and st.st_size == 0 else (
            f"unreadable ({type(exc).__name__}: {exc})")
        log(f"warning: claim {config.shown(path)} is {what} after {CLAIM_UNREADABLE_SECONDS:g} "
            "s: treated as stale (its runner died while writing it); it is removed and the run "
            "trained here")
    return True


def release(key: str) -> None:
    """Drop this process's claim on run ``key``."""
    lock_path(key).unlink(missing_ok=True)


def stored(key: str) -> bool:
    """Whether run ``key`` has a readable result (parsed once per size and mtime)."""
    try:
        st = result_path(key).stat()
    except OSError:
        return False
    return _readable(key, st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=4096)
def _readable(key: str, size: int, mtime_ns: int) -> bool:
    try:
        return json.loads(result_path(key).read_text()).get("key") == key
    except (OSError, ValueError, AttributeError):
        return False


def lock_path(key: str) -> Path:
    return runs_dir() / f"{key}.lock"


def results_of(named: Mapping[str, Sequence[Run]], ds: HarDataset, *, train: bool = False,
               **execute_kw: Any) -> dict[str, list[dict[str, Any]]]:
    """The results of each named group of runs: with ``train``, what is missing is trained
    (:func:`execute`); without, only the groups whose runs are all stored."""
    if train:
        flat = [r for rs in named.values() for r in rs]
        got = iter(execute(flat, ds, **execute_kw)) if flat else iter(())
        return {name: [next(got) for _ in rs] for name, rs in named.items()}
    out = {}
    for name, rs in named.items():
        res = [load(r, ds) for r in rs]
        if all(x is not None for x in res):
            out[name] = res
    return out


def execute(runs: Sequence[Run], ds: HarDataset, *, workers: int = 1,
            scheduler: str | None = None, ship_data: bool = False,
            force: bool = False, backup_root: Path | None = None,
            log: Callable[[str], Any] = print, poll_seconds: float = 10.0,
            allow_dirty: bool | None = None) -> list[dict[str, Any]]:
    """Run what is missing of ``runs`` on ``ds`` and return every run's result, in order.

    ``workers``: local processes; ``scheduler``: a Dask scheduler's address. ``ship_data``
    sends ``ds`` with each task instead of workers loading ``ds.source``. Runs another runner
    holds are waited for; failures are reported at the end in one ``HarError``. Runs for the
    committed store need a clean commit (:func:`check_clean_tree`; ``allow_dirty``, default
    ``HAR_ALLOW_DIRTY``, stores them anyway, recorded).
    """
    if allow_dirty is None:
        allow_dirty = os.environ.get(ALLOW_DIRTY_ENV, "") == "1"
    expected = checksum(ds)
    keys = [r.key(expected) for r in runs]
    todo: dict[str, Run] = {}
    for r, k in zip(runs, keys):
        if (force or load(r, ds) is None) and k not in todo:
            todo[k] = r
    # the backups live with the store: two stores never share one, and a store outside a
    # read-only checkout writes nothing in it
    backup_root = backup_dir() if backup_root is None else backup_root
    dirty: list[str] = []
    if todo:  # before any training: a result that cannot be written would be lost
        check_writable(runs_dir())
        if any(r.model not in CLASSICAL for r in todo.values()):  # only Keras runs back up
            check_writable(backup_root)
        dirty = check_clean_tree(allow_dirty)
    where = (f"Dask scheduler {scheduler}" if scheduler
             else f"{workers} local worker(s)")
    groups = ", ".join(f"{b} x {c or 'default'}" for b, c in sorted(
        {(r.engine, r.threads) for r in todo.values()}))
    log(f"[runner] {len(runs)} run(s): {len(runs) - len(todo)} stored, {len(todo)} to train "
        f"({where}; backend x threads per run: {groups or '-'})")
    failures: list[str] = []
    t0 = time.perf_counter()
    state = {"i": 0, "n": len(todo)}
    waiting = dict(todo)
    while waiting:
        mine: set[str] = set()  # claimed one at a time, as a worker is about to take it
        try:
            failures += _train(waiting, mine, payload=ds if ship_data else ds.source,
                               expected=expected, workers=workers, scheduler=scheduler,
                               backup_root=backup_root, force=force, log=log, state=state,
                               extra={"uncommitted_code": dirty} if dirty else {})
        finally:
            for k in mine:
                release(k)
        waiting = {k: r for k, r in waiting.items() if k not in mine and not stored(k)}
        if waiting:
            log(f"[runner] {len(waiting)} run(s) claimed by another runner "
                f"({', '.join(config.shown(lock_path(k)) for k in list(waiting)[:3])}"
                f"{', ...' if len(waiting) > 3 else ''}): waiting for them")
            while waiting and all(claim_alive(k, log) for k in waiting):
                time.sleep(poll_seconds)
                waiting = {k: r for k, r in waiting.items() if not stored(k)}
    log(f"[runner] finished in {time.perf_counter() - t0:.0f} s")
    if failures:
        raise HarError(None, f"{len(failures)} run(s) failed:\n"
                       + "\n".join(failures),
                       "fix the cause shown for each; every other run is stored, so the same "
                       "command again trains only the failed ones")
    return [json.loads(result_path(k).read_text()) for k in keys]


def _train(todo: dict[str, Run], mine: set[str], *, payload: HarDataset | str, expected: str,
           workers: int, scheduler: str | None, backup_root: Path, force: bool,
           log: Callable[[str], Any], state: dict[str, int],
           extra: dict[str, Any] | None = None) -> list[str]:
    """Train the runs of ``todo`` this runner claims (one pool per backend and thread count),
    each just before a worker takes it; write each result (with ``extra``'s fields) as it
    arrives; the failures."""

    def claimed(key: str) -> bool:
        if not claim(key, log):
            return False
        if not force and stored(key):  # another runner stored it meanwhile
            release(key)
            return False
        mine.add(key)
        return True

    from joblib import Parallel, delayed, parallel_config

    if scheduler:
        from distributed import Client

        problem = scheduler_problem(scheduler)  # Client hangs on a silent peer
        if problem:
            raise HarError(None, problem, SCHEDULER_FIX)
        try:
            client = Client(scheduler, timeout=SCHEDULER_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            raise HarError(None, f"no Dask scheduler answers at {scheduler} within "
                           f"{SCHEDULER_TIMEOUT} ({type(exc).__name__})", SCHEDULER_FIX) from None
        backend: dict[str, Any] = {"backend": "dask", "n_jobs": -1}
    else:
        client = None
        backend = {"backend": "loky", "n_jobs": workers, "initializer": end_with_runner,
                   "initargs": (os.getpid(),)} if workers > 1 else {
            "backend": "sequential", "n_jobs": 1}
    failures: list[str] = []
    try:
        groups = {k: process_group(r, todo.values()) for k, r in todo.items()}
        for n, group_key in enumerate(sorted(set(groups.values()))):
            if n and backend["backend"] == "loky":  # fresh processes for other settings
                from joblib.externals.loky import get_reusable_executor

                get_reusable_executor().shutdown(wait=True)
            group = {k: r for k, r in todo.items() if groups[k] == group_key}
            with parallel_config(**backend):
                # local worker processes stop when this runner dies (not Dask's: their
                # parent is the nanny)
                pid = os.getpid() if backend["backend"] == "loky" else None
                tasks = (delayed(guarded_run)(k, r, payload, expected, str(backup_root), pid)
                         for k, r in group.items() if claimed(k))
                for key, result, error in Parallel(return_as="generator_unordered")(tasks):
                    state["i"] += 1
                    name = todo[key].label
                    progress = f"[runner {state['i']}/{state['n']}] {name}"
                    if error is None:
                        try:
                            write_json_atomic(result_path(key), {**result, **(extra or {})})
                        except Exception as exc:  # noqa: BLE001 - keep the others in flight
                            error = f"result not written: {type(exc).__name__}: {exc}"
                    if error is not None:
                        failures.append(f"{name}: {error}")
                        log(f"{progress}: FAILED: {error}")
                        continue
                    acc = (result.get("test") or {}).get("accuracy")
                    val = (result["history"].get("val_accuracy") or [None])[-1]
                    log(f"{progress}: {result['epochs_run']} epoch(s)"
                        + (f", last fold/validation accuracy {val:.4f}" if val is not None
                           else "")
                        + (f", test accuracy {acc:.4f}" if acc is not None else "")
                        + f", {result['wall_seconds']:.0f} s on {result['worker']['address']} "
                        f"(pid {result['worker']['pid']}, "
                        f"{todo[key].engine}, {result.get('device', 'CPU')})")
    finally:
        if client is not None:
            client.close()
    return failures


def guarded_run(key: str, run: Run, payload: HarDataset | str, expected: str, backup_root: str,
             runner_pid: int | None = None
             ) -> tuple[str, dict[str, Any] | None, str | None]:
    """:func:`run_one` with its failure returned, not raised."""

    try:
        return key, run_one(run, payload, expected, backup_root=backup_root,
                            runner_pid=runner_pid), None
    except Exception as exc:  # noqa: BLE001 - reported to the client with its type
        import traceback

        return key, None, f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}"
