"""The model zoo under one protocol: a list of runs on the experiment runner, and a summary.

``subjects``: fit on 17 training subjects, early stopping on the 4 validation subjects, test
once (the logistic regression: one fit on all 21). ``retrain_all``: all 21 subjects for the
epoch count the ``subjects`` run chose. ``paper``: all 21 for 100 epochs with the test set
watched every epoch, read at the final epoch and at the best test epoch (:data:`READINGS`).
Runs are named ``zoo/<model>/<protocol>/seed<k>``; ``har zoo run|summary``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from har_utils import config, data, evaluation
from har_utils.data import HarDataset
from har_utils.io import HarError, write_json_atomic

from ..zoo_models import zoo_names
from . import compare, runner
from .runner import Run

STUDY = "zoo"


def summary_path() -> Path:
    """``results/zoo/summary.json`` (follows ``HAR_RESULTS_DIR``)."""
    return config.results_dir() / STUDY / "summary.json"


PROTOCOLS = ("subjects", "retrain_all", "paper")
#: The two readings of the ``paper`` runs in the summary (their rows' ``protocol``), in order.
READINGS = {"fixed_budget": "the paper's fixed budget (100 epochs) on all 21 training subjects, "
                            "final epoch: no choice made on the test set",
            "best_on_test": "the same runs at the epoch with the best test accuracy: chosen on "
                            "the test set (inflated)"}
CV_PROTOCOL = ("protocol cv: the epoch count (or C) chosen by cross-validation over the 21 "
               "training subjects, then all 21 trained for it and the test subjects scored once")
#: Early-stopping patience of the ``subjects`` protocol (epochs without a lower val loss).
PATIENCE = 10
#: The paper's epoch budget (``subjects`` and ``paper``; a model's own ``max_epochs`` caps it).
BUDGET = config.PAPER_EPOCHS
#: The logistic regression's inverse regularisation strength (one fit, no choice).
LOGREG_C = 1.0
#: Seeds per model: 5 for the paper's model, 3 for the others.
SEEDS = {"cnn_lstm_paper": 5}
DEFAULT_SEEDS = 3
#: Seeds of the paper's protocol (it measures the inflation, not a ranking of models).
PAPER_PROTOCOL_SEEDS = 3
#: Seeds of ``retrain_all`` where the cost (about 25 min a run) forbids one per ``subjects`` seed.
RETRAIN_SEEDS = {"deepconvlstm": 1, "isplinception": 1}
CLASSICAL = runner.CLASSICAL
#: The zoo's models, the one list: the registry's zoo models and the classical baseline.
ZOO: tuple[str, ...] = (*zoo_names(), "logreg_features")
#: The zoo runs trained with one thread; the others ran with the backend's default (threads 0),
#: which makes them other runs.
ONE_THREAD = frozenset({"cnn_lstm_paper/paper/seed1", "deepconvlstm/retrain_all/seed0",
                        "deepconvlstm/subjects/seed0", "deepconvlstm/subjects/seed1",
                        "deepconvlstm/subjects/seed2", "isplinception/retrain_all/seed0",
                        "lstm/retrain_all/seed1", "lstm/retrain_all/seed2"})

Result = dict[str, Any]


# --- the runs -----------------------------------------------------------------------------

def run_name(model: str, protocol: str, seed: int) -> str:
    """``zoo/<model>/<protocol>/seed<k>``."""
    return f"{STUDY}/{model}/{protocol}/seed{seed}"


def zoo_run(model: str, protocol: str, seed: int = 0, epochs: int | None = None) -> Run:
    """The runner's :class:`Run` of one zoo run (``epochs``: for ``retrain_all`` only)."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; use one of {PROTOCOLS}")
    everyone = tuple(config.TRAIN_SUBJECTS)
    label = {"study": STUDY, "name": run_name(model, protocol, seed),
             "threads": 1 if f"{model}/{protocol}/seed{seed}" in ONE_THREAD else 0}
    if model in CLASSICAL:
        if protocol != "subjects":
            raise ValueError(f"{model} runs under the subjects protocol only (no epochs)")
        return Run(model, seed, 1, everyone, model_kwargs={"C": LOGREG_C}, study=STUDY,
                   name=label["name"])
    if protocol == "subjects":
        val = data.validation_subjects()
        fit = tuple(s for s in everyone if s not in val)
        return Run(model, seed, BUDGET, fit, val, patience=PATIENCE, **label)
    if protocol == "retrain_all":
        if epochs is None:
            raise ValueError(f"{label['name']}: retrain_all takes the epochs of its subjects run")
        return Run(model, seed, int(epochs), everyone, **label)
    return Run(model, seed, BUDGET, everyone, watch_test=True, **label)


def identity(run: Run) -> tuple[str, str, int]:
    """(model, protocol, seed) of a run made by :func:`zoo_run` (from its name)."""
    study, model, protocol, seed = run.name.split("/")
    if study != STUDY or protocol not in PROTOCOLS or not seed.startswith("seed"):
        raise ValueError(f"{run.name!r} is not the name of a zoo run")
    return model, protocol, int(seed[4:])


def planned_seeds(model: str, protocol: str = "subjects") -> int:
    """How many seeds the study plans for a model under ``protocol`` (classical: 1)."""
    if model in CLASSICAL:
        return 1
    if protocol == "paper":
        return PAPER_PROTOCOL_SEEDS
    if protocol == "retrain_all" and model in RETRAIN_SEEDS:
        return RETRAIN_SEEDS[model]
    return SEEDS.get(model, DEFAULT_SEEDS)


def plan(models: Sequence[str], protocols: Sequence[str], seeds: Sequence[int] | None = None,
         best_epochs: Mapping[tuple[str, int], int] | None = None) -> list[Run]:
    """The zoo's runs in protocol order; ``retrain_all`` runs without ``best_epochs`` are left out."""
    out = []
    for protocol in sorted(protocols, key=PROTOCOLS.index):
        for model in models:
            if model in CLASSICAL and protocol != "subjects":
                continue  # no epochs to choose, no validation to misuse
            for seed in (seeds if seeds is not None else range(planned_seeds(model, protocol))):
                if protocol != "retrain_all":
                    out.append(zoo_run(model, protocol, seed))
                elif (model, seed) in (best_epochs or {}):
                    out.append(zoo_run(model, protocol, seed, best_epochs[(model, seed)]))
    return out


def first_protocols(protocols: Sequence[str]) -> list[str]:
    """The protocols needing nothing stored, and ``subjects`` when ``retrain_all`` is asked."""
    return [p for p in PROTOCOLS if p != "retrain_all" and (
        p in protocols or (p == "subjects" and "retrain_all" in protocols))]


def best_epochs_of(pairs: Iterable[tuple[Run, Result | None]]) -> dict[tuple[str, int], int]:
    """``(model, seed) -> best epoch`` of the stored ``subjects`` runs among ``pairs``."""
    out = {}
    for run, result in pairs:
        model, protocol, seed = identity(run)
        if protocol == "subjects" and result is not None and model not in CLASSICAL:
            out[(model, seed)] = int(result["best_epoch"])
    return out


def run(models: Sequence[str], protocols: Sequence[str], ds: HarDataset,
        seeds: Sequence[int] | None = None, **execute_kw: Any) -> list[Result]:
    """Execute what is missing of the zoo's runs, ``retrain_all`` last (it takes the
    ``subjects`` runs' epochs); the results asked for, labelled."""
    first = plan(models, first_protocols(protocols), seeds)
    pairs = list(zip(first, runner.execute(first, ds, **execute_kw)))
    if "retrain_all" in protocols:
        retrain = plan(models, ["retrain_all"], seeds, best_epochs_of(pairs))
        pairs += list(zip(retrain, runner.execute(retrain, ds, **execute_kw)))
    return [labelled(r, res) for r, res in pairs if identity(r)[1] in protocols]


# --- reading results ----------------------------------------------------------------------

def labelled(run: Run, result: Result) -> Result:
    """``result`` with its zoo label (the stored file may carry another study's name)."""
    model, protocol, seed = identity(run)
    return {**result, STUDY: {"name": run.name, "model": model, "protocol": protocol,
                              "seed": seed}}


def read_planned(read: Callable[[Run], Result | None], models: Sequence[str] = ZOO,
                 protocols: Sequence[str] = PROTOCOLS) -> list[Result]:
    """Every planned zoo run that ``read`` finds stored, labelled, sorted."""
    first = plan(models, first_protocols(protocols))
    pairs = [(r, read(r)) for r in first]
    if "retrain_all" in protocols:
        pairs += [(r, read(r)) for r in plan(models, ["retrain_all"],
                                             best_epochs=best_epochs_of(pairs))]
    out = [labelled(r, res) for r, res in pairs
           if res is not None and identity(r)[1] in protocols]
    return sorted(out, key=identity_of)


def load_runs(ds: HarDataset, models: Sequence[str] = ZOO,
              protocols: Sequence[str] = PROTOCOLS) -> list[Result]:
    """Every planned zoo run stored on ``ds``."""
    return read_planned(lambda r: runner.load(r, ds), models, protocols)


def committed_results(model: str, protocol: str = "subjects", root: Path | None = None
                      ) -> list[Result]:
    """The zoo runs of ``model`` in the committed results (``root``), on the data its
    ``summary.json`` describes; [] where the zoo has not run."""
    root = config.PROJECT_ROOT / "results" if root is None else Path(root)
    summary = root / STUDY / "summary.json"
    if not summary.exists():
        return []
    checksum = json.loads(summary.read_text())["data"]["checksum_sha256"]

    def read(r: Run) -> Result | None:
        path = root / "runs" / f"{r.key(checksum)}.json"
        return json.loads(path.read_text()) if path.exists() else None

    return read_planned(read, [model], [protocol])


def identity_of(result: Result) -> tuple[str, str, int]:
    """(model, protocol, seed) of a result: its zoo label, else read off its run."""
    if STUDY in result:
        z = result[STUDY]
        return z["model"], z["protocol"], int(z["seed"])
    r = result["run"]
    protocol = ("paper" if r.get("watch_test") else
                "subjects" if r.get("val_subjects") and r.get("patience") else "retrain_all")
    return r["model"], protocol, int(r["seed"])


def paper_readings(result: Result) -> dict[str, Any]:
    """A ``paper`` run's test curve read at the final epoch and at its best epoch (1-based)."""
    curve = result["history"]["val_accuracy"]
    best = int(np.argmax(curve))
    return {"final_epoch_test_accuracy": float(curve[-1]), "best_epoch_by_test": best + 1,
            "best_epoch_test_accuracy": float(curve[best])}


# --- summary ------------------------------------------------------------------------------

def summarize(runs: list[Result], y_true: np.ndarray, subjects: np.ndarray) -> list[Result]:
    """One row per (model, protocol), the ``paper`` runs two (:data:`READINGS`)."""
    groups: dict[tuple[str, str], list[Result]] = {}
    for r in runs:
        model, protocol, _ = identity_of(r)
        groups.setdefault((model, protocol), []).append(r)
    rows = []
    for (model, protocol), rs in sorted(groups.items()):
        seeds = [identity_of(r)[2] for r in rs]
        acc = np.array([r["test"]["accuracy"] for r in rs])
        f1 = np.array([r["test"]["macro_avg"]["f1"] for r in rs])
        preds = np.concatenate([np.asarray(r["y_pred"]) for r in rs])
        low, high = evaluation.subject_bootstrap_ci(np.tile(y_true, len(rs)), preds,
                                                    np.tile(subjects, len(rs)))
        std = (lambda a: float(a.std(ddof=1)) if len(rs) > 1 else 0.0)  # noqa: E731
        row = {"model": model, "protocol": protocol, "n_seeds": len(rs),
               "planned_seeds": planned_seeds(model, protocol), "seeds": sorted(seeds),
               "accuracy_per_seed": [float(a) for a in acc],
               "accuracy_mean": float(acc.mean()), "accuracy_std": std(acc),
               "macro_f1_mean": float(f1.mean()), "macro_f1_std": std(f1),
               "ci95_subject_bootstrap": [low, high],
               "train_seconds_total": float(sum(runner.run_seconds(r) for r in rs)),
               "wall_seconds_total": float(sum(r.get("wall_seconds", 0.0) for r in rs)),
               "per_subject_accuracy_mean": {
                   subj: float(np.mean([r["test"]["per_subject"][subj]["accuracy"] for r in rs]))
                   for subj in rs[0]["test"]["per_subject"]},
               "data_source": rs[0]["data"]["source_label"]}
        if protocol == "paper":  # two readings of the same runs
            read = [paper_readings(r) for r in rs]
            best = np.array([x["best_epoch_test_accuracy"] for x in read])
            row["protocol"] = "fixed_budget"
            row["final_epoch_test_accuracy_mean"] = float(np.mean(
                [x["final_epoch_test_accuracy"] for x in read]))
            row["best_epoch_test_accuracy_mean"] = float(best.mean())
            rows.append(row)
            row = {"model": model, "protocol": "best_on_test", "n_seeds": len(rs),
                   "planned_seeds": row["planned_seeds"], "seeds": row["seeds"],
                   "accuracy_per_seed": [float(a) for a in best],
                   "accuracy_mean": float(best.mean()), "accuracy_std": std(best),
                   "best_epochs": [x["best_epoch_by_test"] for x in read],
                   "inflation_pp": 100 * float(best.mean() - acc.mean()),
                   "data_source": row["data_source"]}
        rows.append(row)
    return rows


def paired_tests(runs: list[Result], y_true: np.ndarray, reference: str = "cnn_lstm_paper",
                 protocol: str = "subjects", seed: int = 0) -> list[Result]:
    """McNemar's test of every model against ``reference`` on the same test windows."""
    by = {identity_of(r): r for r in runs}
    ref = by.get((reference, protocol, seed))
    if ref is None:
        return []
    out = []
    for (model, prot, s), r in sorted(by.items()):
        if prot != protocol or model == reference or (s != seed and model not in CLASSICAL):
            continue
        t = compare.mcnemar(y_true, np.asarray(ref["y_pred"]), np.asarray(r["y_pred"]))
        out.append({"model": model, "reference": reference, "seed": s, **t})
    return out


def cv_rows(path: Path | None = None) -> list[Result]:
    """Protocol cv's final rows as this summary's rows (none where it has not run)."""
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
                    "budget": e["plan"].get("budget"),
                    "chosen": e["choice"].get("C", e["choice"].get("epochs")),
                    "accuracy_per_seed": f["accuracy_per_seed"],
                    "accuracy_mean": f["accuracy_mean"], "accuracy_std": f["accuracy_std"],
                    "macro_f1_mean": f["macro_f1_mean"],
                    "ci95_subject_bootstrap": f["ci95_subject_bootstrap"],
                    "per_subject_accuracy_mean": f["per_subject_accuracy_mean"],
                    "ensemble_accuracy": (f.get("ensemble") or {}).get("accuracy"),
                    "devices": f["devices"], "train_seconds_total": f["train_seconds_total"],
                    "data_source": f["data_source"]})
    return out


def refresh_cv_rows(path: Path | None = None) -> Path | None:
    """Replace the zoo summary's protocol-cv rows by :func:`cv_rows`; its path, or None."""
    path = summary_path() if path is None else path
    if not path.exists():
        return None
    doc = json.loads(path.read_text())
    doc["rows"] = cv_rows() + [r for r in doc["rows"] if r["protocol"] != "cv"]
    write_json_atomic(path, doc)
    return path


def subject_comparisons(rows: list[Result], reference: str = "cnn_lstm_paper",
                        protocol: str = "subjects") -> dict[str, Result]:
    """Every model against ``reference`` by test subject (windows of one person are not
    independent, so McNemar's window-level test cannot pair them)."""
    by = {r["model"]: r for r in rows if r["protocol"] == protocol
          and "per_subject_accuracy_mean" in r}
    ref = by.get(reference)
    if ref is None:
        return {}
    return {m: compare.subject_comparison(r["per_subject_accuracy_mean"], ref["per_subject_accuracy_mean"])
            for m, r in by.items() if m != reference}


def stale_runs(current: Iterable[str]) -> list[str]:
    """Names of the stored zoo runs outside the ``current`` keys (e.g. other data)."""
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
    """``model/protocol`` of the zoo rows at ``path`` (cv's aside) that ``rows`` lack."""
    if not path.exists():
        return []
    have = {(r["model"], r["protocol"]) for r in rows}
    return sorted(f"{r['model']}/{r['protocol']}" for r in json.loads(path.read_text())["rows"]
                  if r["protocol"] != "cv" and (r["model"], r["protocol"]) not in have)


def write_summary(ds: HarDataset, models: Sequence[str] = ZOO, keep_rows: bool = False) -> Path:
    """``results/zoo/summary.json``; ``keep_rows``: refuse rather than drop a row whose runs
    are not stored for the current code and data."""

    runs = load_runs(ds, models)
    rows = cv_rows() + summarize(runs, ds.test.y, ds.test.subject)
    path = summary_path()
    lost = dropped_rows(rows, path) if keep_rows else []
    if lost:
        raise HarError(
            path, f"{len(lost)} of its zoo rows have no stored runs for the current code and "
            f"data ({data.stamp(ds)['source_label']}): {', '.join(lost)}. Writing it would drop "
            "them, so it was left as it was. (The committed zoo trained on TensorFlow, before "
            "runs moved to JAX; a run on another backend is another run.)",
            "`make zoo` trains the missing runs (hours) and writes the summary; "
            "`har cv summary` refreshes protocol cv's rows alone")
    cost_path = config.results_dir() / STUDY / "cost_table.json"
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
           "train_seconds_total": float(sum(runner.run_seconds(r) for r in runs)),
           "wall_seconds_total": float(sum(r.get("wall_seconds", 0.0) for r in runs)),
           "stale_runs_left_out": stale_runs(r["key"] for r in runs)}
    write_json_atomic(path, doc)
    return path

