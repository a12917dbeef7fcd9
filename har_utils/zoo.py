"""The model zoo under one protocol: resumable runs keyed by their configuration, and a summary.

Protocols (the test set is touched once, at the end, except where a protocol says otherwise):

``subjects``
    Fit on 17 training subjects, early stopping on the validation subjects (default 8, 17, 21,
    25: 4 of 21, about a fifth of the training windows, drawn once with a fixed seed) with the
    patience below, best weights restored; then the test subjects once.
``retrain_all``
    Retrain on all 21 training subjects for the epoch count the ``subjects`` run of the same
    model and seed chose (its best epoch); then the test subjects once.
``paper``
    The paper's protocol: all 21 training subjects for the paper's fixed budget of 100 epochs
    (no early stopping), the test set scored after every epoch as the paper's Fig. 5 does. Its
    runs are read two ways (:data:`READINGS`): ``fixed_budget``, the final epoch, which involves
    no choice made on the test set (the test set is watched, it never changes the weights), and
    ``best_on_test``, the epoch with the best test accuracy, which is chosen on the test set and
    is the real inflation.

Each run writes ``results/zoo/runs/<model>__<protocol>__seed<k>.json`` (metrics, per-class,
confusion, per-subject accuracy, predictions, epochs, timing, parameters, data stamp, and the
key of its configuration); a run whose file exists with the same key is skipped, so the study
resumes across sessions. ``python -m har_utils.zoo run ...`` runs what is missing;
``python -m har_utils.zoo summary`` writes ``results/summary.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from . import config, data, evaluation
from .data import HarDataset, Split
from .io import write_json_atomic

PROTOCOLS = ("subjects", "retrain_all", "paper")
#: The two readings of the ``paper`` runs in the summary (their rows' ``protocol``), in order.
READINGS = {"fixed_budget": "the paper's fixed budget (100 epochs) on all 21 training subjects, "
                            "final epoch: no choice made on the test set",
            "best_on_test": "the same runs at the epoch with the best test accuracy: chosen on "
                            "the test set (inflated)"}
#: Row order of the summary table (``cv``: protocol cv's final runs, from results/cv/).
ROW_ORDER = ("cv", "subjects", "retrain_all", *READINGS)
CV_PROTOCOL = ("protocol cv: the epoch count (or C) chosen by cross-validation over the 21 "
               "training subjects, then all 21 trained for it and the test subjects scored once")
#: Early-stopping patience of the ``subjects`` protocol (epochs without a lower val loss).
PATIENCE = 10
#: Seeds per model: 5 for the paper's model, 3 for the others.
SEEDS = {"cnn_lstm_paper": 5}
DEFAULT_SEEDS = 3
#: Seeds of the paper's protocol (it measures what the fixed budget gives and what choosing the
#: epoch on the test set adds, not a ranking of models).
PAPER_PROTOCOL_SEEDS = 3
#: Seeds of ``retrain_all`` where the cost forbids one per ``subjects`` seed: these models cost
#: 74-85 s per epoch on 2 cores (``results/zoo/cost_table.json``), about 25 min per run; one
#: retrained run shows the effect of retraining, the ``subjects`` rows carry the seed spread.
RETRAIN_SEEDS = {"deepconvlstm": 1, "isplinception": 1}
#: The zoo's models (Keras registry names plus the classical baseline).
ZOO = ("cnn_lstm_paper", "cnn_lstm_sequential", "cnn", "lstm", "deepconvlstm", "isplinception",
       "logreg_features")
CLASSICAL = ("logreg_features",)


@dataclass(frozen=True)
class RunSpec:
    """One training run of the zoo."""

    model: str
    protocol: str = "subjects"
    seed: int = 0
    max_epochs: int = 100
    patience: int = PATIENCE
    n_validation_subjects: int = config.DEFAULT_N_VALIDATION_SUBJECTS

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"unknown protocol {self.protocol!r}; use one of {PROTOCOLS}")

    @property
    def name(self) -> str:
        """File stem: ``<model>__<protocol>__seed<k>``."""
        return f"{self.model}__{self.protocol}__seed{self.seed}"

    def key(self, ds: HarDataset) -> str:
        """Hash of the spec, the model's training defaults and the data's checksum."""
        blob = {**asdict(self), "train": _train_settings(self), "data": data.stamp(ds)}
        return hashlib.sha256(json.dumps(blob, sort_keys=True, default=str).encode()).hexdigest()[:12]


def runs_dir() -> Path:
    """``results/zoo/runs`` (follows ``HAR_RESULTS_DIR``)."""
    return config.results_dir() / "zoo" / "runs"


def _train_settings(spec: RunSpec) -> dict[str, Any]:
    if spec.model in CLASSICAL:
        return {"estimator": "StandardScaler + LogisticRegression(C=1, max_iter=3000)"}
    from .models import train_defaults
    d = train_defaults(spec.model)
    return {"batch_size": d.get("batch_size", 32), "optimizer": d.get("optimizer", "adam"),
            "learning_rate": d.get("learning_rate", 1e-3),
            "epochs": min(spec.max_epochs, d.get("max_epochs", spec.max_epochs))}


def _result_path(spec: RunSpec) -> Path:
    return runs_dir() / f"{spec.name}.json"


def load_run(spec: RunSpec) -> dict[str, Any] | None:
    """The stored result of ``spec`` (any key), or None."""
    path = _result_path(spec)
    return json.loads(path.read_text()) if path.exists() else None


def is_done(spec: RunSpec, ds: HarDataset) -> bool:
    """True when the stored result was made with this exact configuration and data."""
    run = load_run(spec)
    return run is not None and run.get("key") == spec.key(ds)


def _evaluate(y_pred: np.ndarray, ds: HarDataset) -> dict[str, Any]:
    m = evaluation.metrics(ds.test.y, y_pred, ds.test.subject)
    low, high = evaluation.subject_bootstrap_ci(ds.test.y, y_pred, ds.test.subject)
    return {"test": m, "test_ci95_subject_bootstrap": [low, high],
            "y_pred": [int(v) for v in y_pred]}


def _run_classical(spec: RunSpec, ds: HarDataset) -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    ftr, fte, names, kind = data.features(ds)
    t0 = time.perf_counter()
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=3000))
    clf.fit(ftr, ds.train.y)
    seconds = time.perf_counter() - t0
    return {"features": kind, "n_features": len(names), "train_seconds": seconds,
            "train_accuracy": float(np.mean(clf.predict(ftr) == ds.train.y)),
            **_evaluate(clf.predict(fte), ds)}


def _run_keras(spec: RunSpec, ds: HarDataset, log: Any) -> dict[str, Any]:
    from . import training
    from .models import count_params

    s = _train_settings(spec)
    cfg = training.TrainConfig(model=spec.model, epochs=s["epochs"], batch_size=s["batch_size"],
                               optimizer=s["optimizer"], learning_rate=s["learning_rate"],
                               patience=spec.patience, seed=spec.seed)
    extra: dict[str, Any] = {}
    if spec.protocol == "subjects":
        fit, val = data.split_validation(ds, data.validation_subjects(spec.n_validation_subjects))
        result = training.train(cfg, fit, val, out=log)
        extra["validation_subjects"] = list(data.validation_subjects(spec.n_validation_subjects))
        extra["validation_accuracy"] = float(
            np.mean(training.predict_classes(result.model, val.X) == val.y))
    elif spec.protocol == "retrain_all":
        base = load_run(RunSpec(spec.model, "subjects", spec.seed, spec.max_epochs, spec.patience,
                                spec.n_validation_subjects))
        if base is None:
            raise RuntimeError(f"{spec.name} needs the 'subjects' run of the same seed first")
        cfg = replace(cfg, epochs=int(base["best_epoch"]))
        fit = ds.train
        result = training.train(cfg, fit, None, out=log)
        extra["epochs_from"] = base["name"]
    else:  # the paper's protocol: the test set as validation, every epoch, no early stopping
        cfg = replace(cfg, patience=0)
        fit = ds.train
        result = training.train(cfg, fit, ds.test, out=log)
        val_acc = result.history["val_accuracy"]
        best = int(np.argmax(val_acc))
        extra.update({"final_epoch_test_accuracy": float(val_acc[-1]),
                      "best_epoch_by_test": best + 1, "best_epoch_test_accuracy": float(val_acc[best])})
    y_pred = training.predict_classes(result.model, ds.test.X)
    return {"train_config": cfg.as_dict(), "epochs_run": result.epochs_run,
            "best_epoch": result.best_epoch, "train_seconds": result.seconds,
            "seconds_per_epoch": result.seconds_per_epoch, "parameters": count_params(result.model),
            "history": result.history,
            "train_accuracy": float(np.mean(training.predict_classes(result.model, fit.X) == fit.y)),
            **extra, **_evaluate(y_pred, ds)}


#: Environment variables that limit TensorFlow's threads; recorded with each run (None: unset).
_THREAD_ENV = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS")


def run(spec: RunSpec, ds: HarDataset, *, force: bool = False, log: Any = print) -> dict[str, Any]:
    """Run ``spec`` unless its result exists with the same key; return the stored result."""
    if not force and is_done(spec, ds):
        return load_run(spec)  # type: ignore[return-value]
    t0, c0 = time.perf_counter(), time.process_time()
    body = _run_classical(spec, ds) if spec.model in CLASSICAL else _run_keras(spec, ds, log)
    result = {"name": spec.name, "key": spec.key(ds), "spec": asdict(spec),
              "data": data.stamp(ds), "wall_seconds": time.perf_counter() - t0,
              "cpu_seconds": time.process_time() - c0, "cpu_count": os.cpu_count(),
              "thread_env": {k: os.environ.get(k) for k in _THREAD_ENV}, **body}
    write_json_atomic(_result_path(spec), result)
    return result


def planned_seeds(model: str, protocol: str = "subjects") -> int:
    """How many seeds the study plans for a model: 5 for the paper's model, 3 for the others,
    1 for a classical model (its fit is deterministic; a seed changes nothing); the paper's
    protocol 3; ``retrain_all`` of the costliest models 1 (``RETRAIN_SEEDS``)."""
    if model in CLASSICAL:
        return 1
    if protocol == "paper":
        return PAPER_PROTOCOL_SEEDS
    if protocol == "retrain_all" and model in RETRAIN_SEEDS:
        return RETRAIN_SEEDS[model]
    return SEEDS.get(model, DEFAULT_SEEDS)


def plan(models: list[str], protocols: list[str], seeds: list[int] | None = None) -> list[RunSpec]:
    """Run specs in a sensible order (``subjects`` before ``retrain_all``)."""
    out = []
    for protocol in sorted(protocols, key=PROTOCOLS.index):
        for model in models:
            if model in CLASSICAL and protocol != "subjects":
                continue  # no epochs to choose, no validation to misuse
            n = planned_seeds(model, protocol)
            for seed in (seeds if seeds is not None else range(n)):
                out.append(RunSpec(model, protocol, seed))
    return out


# --- summary ------------------------------------------------------------------------------

def load_runs() -> list[dict[str, Any]]:
    """Every stored run result."""
    return [json.loads(p.read_text()) for p in sorted(runs_dir().glob("*.json"))]


def summarize(runs: list[dict[str, Any]], y_true: np.ndarray, subjects: np.ndarray
              ) -> list[dict[str, Any]]:
    """One row per (model, protocol): seeds, accuracy and macro-F1 mean/std, and a 95 %
    interval from resampling test subjects over the pooled predictions of all seeds."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in runs:
        groups.setdefault((r["spec"]["model"], r["spec"]["protocol"]), []).append(r)
    rows = []
    for (model, protocol), rs in sorted(groups.items()):
        acc = np.array([r["test"]["accuracy"] for r in rs])
        f1 = np.array([r["test"]["macro_avg"]["f1"] for r in rs])
        preds = np.concatenate([np.asarray(r["y_pred"]) for r in rs])
        low, high = evaluation.subject_bootstrap_ci(np.tile(y_true, len(rs)), preds,
                                                    np.tile(subjects, len(rs)))
        row = {"model": model, "protocol": protocol, "n_seeds": len(rs),
               "planned_seeds": planned_seeds(model, protocol),
               "seeds": sorted(r["spec"]["seed"] for r in rs),
               "accuracy_per_seed": [float(a) for a in acc],
               "accuracy_mean": float(acc.mean()), "accuracy_std": float(acc.std(ddof=1)) if len(rs) > 1 else 0.0,
               "macro_f1_mean": float(f1.mean()), "macro_f1_std": float(f1.std(ddof=1)) if len(rs) > 1 else 0.0,
               "ci95_subject_bootstrap": [low, high],
               "train_seconds_total": float(sum(r.get("train_seconds", 0.0) for r in rs)),
               "wall_seconds_total": float(sum(r.get("wall_seconds", 0.0) for r in rs)),
               "per_subject_accuracy_mean": {
                   subj: float(np.mean([r["test"]["per_subject"][subj]["accuracy"] for r in rs]))
                   for subj in rs[0]["test"]["per_subject"]},
               "data_source": rs[0]["data"]["source_label"]}
        if protocol == "paper":  # two readings of the same runs
            row["protocol"] = "fixed_budget"
            row["final_epoch_test_accuracy_mean"] = float(np.mean([r["final_epoch_test_accuracy"] for r in rs]))
            row["best_epoch_test_accuracy_mean"] = float(np.mean([r["best_epoch_test_accuracy"] for r in rs]))
            best = np.array([r["best_epoch_test_accuracy"] for r in rs])
            rows.append(row)
            row = {"model": model, "protocol": "best_on_test", "n_seeds": len(rs),
                   "planned_seeds": row["planned_seeds"], "seeds": row["seeds"],
                   "accuracy_per_seed": [float(a) for a in best],
                   "accuracy_mean": float(best.mean()),
                   "accuracy_std": float(best.std(ddof=1)) if len(rs) > 1 else 0.0,
                   "best_epochs": [int(r["best_epoch_by_test"]) for r in rs],
                   "inflation_pp": 100 * float(best.mean() - acc.mean()),
                   "data_source": row["data_source"]}
        rows.append(row)
    return rows


def paired_tests(runs: list[dict[str, Any]], y_true: np.ndarray, reference: str = "cnn_lstm_paper",
                 protocol: str = "subjects", seed: int = 0) -> list[dict[str, Any]]:
    """McNemar's test of every model against ``reference`` on the same test windows."""
    by = {(r["spec"]["model"], r["spec"]["protocol"], r["spec"]["seed"]): r for r in runs}
    ref = by.get((reference, protocol, seed))
    if ref is None:
        return []
    out = []
    for (model, prot, s), r in sorted(by.items()):
        if prot != protocol or model == reference or (s != seed and model not in CLASSICAL):
            continue
        t = evaluation.mcnemar(y_true, np.asarray(ref["y_pred"]), np.asarray(r["y_pred"]))
        out.append({"model": model, "reference": reference, "seed": s, **t})
    return out


def cv_rows(path: Path | None = None) -> list[dict[str, Any]]:
    """The final rows of protocol cv (``results/cv/summary.json``, written by ``make cv``) in
    the form of this summary's rows (protocol ``cv``); none where it has not run."""
    path = config.results_dir() / "cv" / "summary.json" if path is None else path
    if not path.exists():
        return []
    doc = json.loads(path.read_text())
    out = []
    for model, e in doc["models"].items():
        f = e.get("final")
        if f is None:
            continue
        out.append({"model": model, "protocol": "cv", "n_seeds": f["n_seeds"],
                    "planned_seeds": e["plan"]["final_seeds"], "seeds": f["seeds"],
                    "epochs": f["epochs"], "folds": e["plan"]["folds"],
                    "chosen": e["choice"].get("C", e["choice"].get("epochs")),
                    "accuracy_per_seed": f["accuracy_per_seed"],
                    "accuracy_mean": f["accuracy_mean"], "accuracy_std": f["accuracy_std"],
                    "macro_f1_mean": f["macro_f1_mean"],
                    "ci95_subject_bootstrap": f["ci95_subject_bootstrap"],
                    "per_subject_accuracy_mean": f["per_subject_accuracy_mean"],
                    "ensemble_accuracy": f["ensemble"]["accuracy"], "devices": f["devices"],
                    "train_seconds_total": f["train_seconds_total"],
                    "data_source": f["data_source"]})
    return out


def subject_comparisons(rows: list[dict[str, Any]], reference: str = "cnn_lstm_paper",
                        protocol: str = "subjects") -> dict[str, dict[str, Any]]:
    """Every model against ``reference`` by test subject (per-subject accuracy, mean over
    seeds): the paired comparison McNemar's window-level test cannot make, since windows of one
    person overlap and are not independent."""
    from .experiments.cv import subject_comparison

    by = {r["model"]: r for r in rows if r["protocol"] == protocol
          and "per_subject_accuracy_mean" in r}
    ref = by.get(reference)
    if ref is None:
        return {}
    return {m: subject_comparison(r["per_subject_accuracy_mean"], ref["per_subject_accuracy_mean"])
            for m, r in by.items() if m != reference}


def write_summary(ds: HarDataset) -> Path:
    """``results/summary.json``: the summary table, paired tests and the cost table if measured.

    Only runs made with the current configuration and data count (their key matches); others,
    e.g. runs on the other data source, are named in ``stale_runs_left_out``."""
    current, stale = [], []
    for r in load_runs():
        spec = RunSpec(**r["spec"])
        (current if r.get("key") == spec.key(ds) else stale).append(r)
    runs = current
    rows = cv_rows() + summarize(runs, ds.test.y, ds.test.subject)
    cost_path = config.results_dir() / "zoo" / "cost_table.json"
    doc = {"data": data.stamp(ds), "protocols": {"subjects": f"early stopping on validation "
                                                  f"subjects, patience {PATIENCE}",
                                                  "retrain_all": "all 21 training subjects, epochs "
                                                  "from the subjects run",
                                                  **READINGS, "cv": CV_PROTOCOL},
           "rows": rows,
           "mcnemar_vs_cnn_lstm_paper": paired_tests(runs, ds.test.y),
           "subject_comparisons_vs_cnn_lstm_paper": subject_comparisons(rows),
           "cost_table": json.loads(cost_path.read_text()) if cost_path.exists() else None,
           "n_runs": len(runs),
           "train_seconds_total": float(sum(r.get("train_seconds", 0.0) for r in runs)),
           "wall_seconds_total": float(sum(r.get("wall_seconds", 0.0) for r in runs)),
           "stale_runs_left_out": sorted(RunSpec(**r["spec"]).name for r in stale)}
    path = config.results_dir() / "summary.json"
    write_json_atomic(path, doc)
    return path


def main(argv: list[str] | None = None) -> int:
    """``run [--models ..] [--protocols ..] [--seeds ..]`` or ``summary``."""
    ap = argparse.ArgumentParser(prog="python -m har_utils.zoo", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="run the missing zoo runs, one after another")
    r.add_argument("--models", default=",".join(ZOO))
    r.add_argument("--protocols", default="subjects,retrain_all")
    r.add_argument("--seeds", default=None, help="comma list (default: 5 paper model, 3 others)")
    r.add_argument("--source", default="auto")
    r.add_argument("--force", action="store_true")
    sub.add_parser("summary", help="write results/summary.json").add_argument("--source", default="auto")
    args = ap.parse_args(argv)
    ds = data.load_dataset(args.source)
    if args.cmd == "run":
        seeds = None if args.seeds is None else [int(s) for s in args.seeds.split(",")]
        specs = plan(args.models.split(","), args.protocols.split(","), seeds)
        for i, spec in enumerate(specs, 1):
            if not args.force and is_done(spec, ds):
                print(f"[zoo {i}/{len(specs)}] {spec.name}: done, skipped", flush=True)
                continue
            print(f"[zoo {i}/{len(specs)}] {spec.name}: running", flush=True)
            res = run(spec, ds, force=args.force, log=lambda line: print("    " + line, flush=True))
            print(f"[zoo {i}/{len(specs)}] {spec.name}: test accuracy {res['test']['accuracy']:.4f} "
                  f"in {res['wall_seconds']:.0f} s", flush=True)
    print(f"wrote {write_summary(ds)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
