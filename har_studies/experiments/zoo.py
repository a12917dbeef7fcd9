"""The model zoo: Table II on one protocol and one backend (JAX).

Every model's row is protocol cv's final run, read from ``results/cv/summary.json``
(:func:`cv_rows`), and so are the comparisons with ``cnn_lstm_paper`` by test subject
(Holm-adjusted there). The zoo trains one thing itself: the paper's protocol for
``cnn_lstm_paper``, the audit's reference (:data:`SEEDS`): all 21 training subjects for 100
epochs, the test set scored after every epoch and never steering, read at the final epoch
(``fixed_budget``) and at the best test epoch (``best_on_test``: chosen on the test set, the
inflation). Runs are named ``zoo/cnn_lstm_paper/paper/seed<k>``; ``har zoo run|summary``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from har_utils import config, data, evaluation
from har_utils.data import HarDataset
from har_utils.io import HarError, write_json_atomic

from ..zoo_models import zoo_names
from . import runner
from .runner import Run

STUDY = "zoo"
#: The model the paper's protocol is re-run for, its protocol's name and seeds.
MODEL = "cnn_lstm_paper"
PROTOCOL = "paper"
SEEDS: tuple[int, ...] = (0, 1, 2)
#: The paper's epoch budget.
BUDGET = config.PAPER_EPOCHS
#: The two readings of the ``paper`` runs in the summary (their rows' ``protocol``), in order.
READINGS = {"fixed_budget": "the paper's fixed budget (100 epochs) on all 21 training subjects, "
                            "final epoch: no choice made on the test set",
            "best_on_test": "the same runs at the epoch with the best test accuracy: chosen on "
                            "the test set (inflated)"}
CV_PROTOCOL = ("protocol cv: the epoch count (or C) chosen by cross-validation over the 21 "
               "training subjects, then all 21 trained for it and the test subjects scored once")
#: The zoo's models, the one list: the registry's zoo models and the classical baseline.
ZOO: tuple[str, ...] = (*zoo_names(), "logreg_features")

Result = dict[str, Any]


def summary_path() -> Path:
    """``results/zoo/summary.json`` (follows ``HAR_RESULTS_DIR``)."""
    return config.results_dir() / STUDY / "summary.json"


# --- the paper's protocol: its runs ---------------------------------------------------------

def run_name(seed: int) -> str:
    """``zoo/cnn_lstm_paper/paper/seed<k>``."""
    return f"{STUDY}/{MODEL}/{PROTOCOL}/seed{seed}"


def paper_run(seed: int) -> Run:
    """One run of the paper's protocol: all 21 training subjects, :data:`BUDGET` epochs, the
    test set watched every epoch (the runner's defaults: JAX, one thread)."""
    return Run(MODEL, seed, BUDGET, tuple(config.TRAIN_SUBJECTS), watch_test=True,
               study=STUDY, name=run_name(seed))


def plan(seeds: Sequence[int] | None = None) -> list[Run]:
    """The zoo's runs (``seeds``: default :data:`SEEDS`)."""
    return [paper_run(s) for s in (SEEDS if seeds is None else seeds)]


def labelled(run: Run, result: Result) -> Result:
    """``result`` with its zoo label."""
    return {**result, STUDY: {"name": run.name, "model": run.model, "protocol": PROTOCOL,
                              "seed": run.seed}}


def run(ds: HarDataset, seeds: Sequence[int] | None = None, **execute_kw: Any) -> list[Result]:
    """Train what is missing of the zoo's runs (none when all are stored); every result."""
    runs = plan(seeds)
    return [labelled(r, res) for r, res in zip(runs, runner.execute(runs, ds, **execute_kw))]


def load_runs(ds: HarDataset, seeds: Sequence[int] | None = None) -> list[Result]:
    """The zoo's runs stored on ``ds``, labelled, by seed."""
    return [labelled(r, res) for r in plan(seeds) if (res := runner.load(r, ds)) is not None]


def paper_readings(result: Result) -> dict[str, Any]:
    """A run's test curve read at the final epoch and at its best epoch (1-based)."""
    curve = result["history"]["val_accuracy"]
    best = int(np.argmax(curve))
    return {"final_epoch_test_accuracy": float(curve[-1]), "best_epoch_by_test": best + 1,
            "best_epoch_test_accuracy": float(curve[best])}


def summarize(runs: list[Result], y_true: np.ndarray, subjects: np.ndarray) -> list[Result]:
    """The two rows of the paper's protocol (:data:`READINGS`); none without runs."""
    if not runs:
        return []
    n = len(runs)
    std = (lambda a: float(np.std(a, ddof=1)) if n > 1 else 0.0)  # noqa: E731
    acc = np.array([r["test"]["accuracy"] for r in runs])
    f1 = np.array([r["test"]["macro_avg"]["f1"] for r in runs])
    preds = np.concatenate([np.asarray(r["y_pred"]) for r in runs])
    low, high = evaluation.subject_bootstrap_ci(np.tile(y_true, n), preds, np.tile(subjects, n))
    read = [paper_readings(r) for r in runs]
    best = np.array([x["best_epoch_test_accuracy"] for x in read])
    common = {"model": runs[0]["run"]["model"], "n_seeds": n, "planned_seeds": len(SEEDS),
              "seeds": [int(r["run"]["seed"]) for r in runs],
              "backends": sorted({runner.backend_of(r) for r in runs}),
              "devices": sorted({r.get("device", "CPU") for r in runs}),
              "data_source": runs[0]["data"]["source_label"]}
    fixed = {**common, "protocol": "fixed_budget",
             "epochs": sorted({int(r["epochs_run"]) for r in runs}),
             "accuracy_per_seed": acc.tolist(), "accuracy_mean": float(acc.mean()),
             "accuracy_std": std(acc), "macro_f1_mean": float(f1.mean()), "macro_f1_std": std(f1),
             "ci95_subject_bootstrap": [low, high],
             "train_accuracy_logged_mean": float(np.mean([r["history"]["accuracy"][-1]
                                                          for r in runs])),
             "per_subject_accuracy_mean": {
                 s: float(np.mean([r["test"]["per_subject"][s]["accuracy"] for r in runs]))
                 for s in sorted(runs[0]["test"]["per_subject"], key=int)},
             "train_seconds_total": float(sum(runner.run_seconds(r) for r in runs)),
             "wall_seconds_total": float(sum(r.get("wall_seconds", 0.0) for r in runs)),
             "cpu_counts": sorted({r.get("cpu_count") or 0 for r in runs})}
    chosen = {**common, "protocol": "best_on_test", "accuracy_per_seed": best.tolist(),
              "accuracy_mean": float(best.mean()), "accuracy_std": std(best),
              "best_epochs": [x["best_epoch_by_test"] for x in read],
              "inflation_pp": 100 * float(best.mean() - acc.mean())}
    return [fixed, chosen]


# --- protocol cv's rows and comparisons -------------------------------------------------------

def cv_summary(path: Path | None = None) -> dict[str, Any] | None:
    """Protocol cv's summary (``results/cv/summary.json``), or None where it has not run."""
    path = config.results_dir() / "cv" / "summary.json" if path is None else path
    return json.loads(path.read_text()) if path.exists() else None


def cv_rows(path: Path | None = None) -> list[Result]:
    """Protocol cv's final rows as this summary's rows (none where it has not run)."""
    doc = cv_summary(path) or {"models": {}}
    out = []
    for model, e in doc["models"].items():
        f = e.get("final")
        if f is None:
            continue
        out.append({"model": model, "protocol": "cv", "n_seeds": f["n_seeds"],
                    "planned_seeds": e["plan"]["final_seeds"], "seeds": f["seeds"],
                    "epochs": f["epochs"], "folds": e["plan"]["folds"],
                    "budget": e["plan"].get("budget"),
                    "chosen": e["choice"].get("C", e["choice"].get("epochs")),
                    "accuracy_per_seed": f["accuracy_per_seed"],
                    "accuracy_mean": f["accuracy_mean"], "accuracy_std": f["accuracy_std"],
                    "macro_f1_mean": f["macro_f1_mean"],
                    "ci95_subject_bootstrap": f["ci95_subject_bootstrap"],
                    "per_subject_accuracy_mean": f["per_subject_accuracy_mean"],
                    "ensemble_accuracy": (f.get("ensemble") or {}).get("accuracy"),
                    "backends": f.get("backends", []), "devices": f["devices"],
                    "train_seconds_total": f["train_seconds_total"],
                    "data_source": f["data_source"]})
    return out


def cv_comparisons(path: Path | None = None) -> dict[str, Result]:
    """Protocol cv's comparisons of every model with ``cnn_lstm_paper`` by test subject
    (Holm-adjusted there), as it wrote them."""
    return dict((cv_summary(path) or {}).get("subject_comparisons_vs_cnn_lstm_paper", {}))


def refresh_cv_rows(path: Path | None = None) -> Path | None:
    """Replace the zoo summary's protocol-cv rows and comparisons by protocol cv's; its path,
    or None where the zoo has no summary."""
    path = summary_path() if path is None else path
    if not path.exists():
        return None
    doc = json.loads(path.read_text())
    doc["rows"] = cv_rows() + [r for r in doc["rows"] if r["protocol"] != "cv"]
    doc["subject_comparisons_vs_cnn_lstm_paper"] = cv_comparisons()
    write_json_atomic(path, doc)
    return path


# --- summary ------------------------------------------------------------------------------

def stale_runs(current: Iterable[str]) -> list[str]:
    """Names of the stored zoo runs outside the ``current`` keys (other data, other code)."""
    keep, out = set(current), []
    for path in sorted(runner.runs_dir().glob("*.json")):
        if path.stem in keep:
            continue
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if doc.get("study") == STUDY:
            out.append(doc.get("name", path.stem))
    return sorted(out)


def dropped_rows(rows: Sequence[Mapping[str, Any]], path: Path) -> list[str]:
    """``model/protocol`` of the zoo's own rows at ``path`` that ``rows`` lack."""
    if not path.exists():
        return []
    have = {(r["model"], r["protocol"]) for r in rows}
    return sorted(f"{r['model']}/{r['protocol']}" for r in json.loads(path.read_text())["rows"]
                  if r["protocol"] != "cv" and (r["model"], r["protocol"]) not in have)


def write_summary(ds: HarDataset, keep_rows: bool = False) -> Path:
    """``results/zoo/summary.json``; ``keep_rows``: refuse rather than drop a row whose runs
    are not stored for the current code and data."""
    runs = load_runs(ds)
    rows = cv_rows() + summarize(runs, ds.test.y, ds.test.subject)
    path = summary_path()
    lost = dropped_rows(rows, path) if keep_rows else []
    if lost:
        raise HarError(
            path, f"{len(lost)} of its rows have no stored runs for the current code and data "
            f"({data.stamp(ds)['source_label']}): {', '.join(lost)}. Writing it would drop "
            "them, so it was left as it was",
            "`make zoo` trains the missing runs and writes the summary; "
            "`har cv summary` refreshes protocol cv's rows alone")
    doc = {"data": data.stamp(ds), "protocols": {"cv": CV_PROTOCOL, **READINGS},
           "rows": rows, "subject_comparisons_vs_cnn_lstm_paper": cv_comparisons(),
           "n_runs": len(runs), "run_keys": [r["key"] for r in runs],
           "stale_runs_left_out": stale_runs(r["key"] for r in runs)}
    write_json_atomic(path, doc)
    return path
