"""Protocol ``cv``: every choice made by cross-validation over the 21 training subjects.

1. **Folds.** ``GroupKFold`` over the 21 training subjects (default 7 folds of 3 subjects),
   computed from the official window counts, so the assignment is the same on every data
   source; it is recorded in ``results/cv/summary.json`` and shown in the notebooks.
2. **Fold runs.** Each fold trains on the other training subjects for a fixed budget (the
   paper's 100 epochs, or the budget the model's own paper gives) and scores its held-out
   subjects after every epoch: accuracy, macro-F1, loss. No weights are chosen on them.
3. **Choice.** The mean fold curve of accuracy, smoothed by a centred 5-epoch mean; the epoch
   count is the smallest whose smoothed mean lies within one standard error (std over folds /
   sqrt(k), at the maximum) of the maximum. The linear baseline's regularisation C is chosen
   the same way over a grid (the most regularised C within one standard error of the best).
4. **Final.** Retrain on all 21 training subjects for the chosen epoch count (5 seeds for the
   paper's model, 3 for the others, fewer where the cost table says so), test once. Reported:
   mean ± std over seeds, the subject-bootstrap interval, per-subject accuracy, and the seed
   ensemble (averaged softmax outputs) as a row of its own.

Every run goes through :mod:`har_utils.experiments.runner` (one store, ``results/runs``);
``results/cv/summary.json`` holds the folds, the fold curves, the choices and the final rows.
``har cv cost|run|summary`` (``make cv``; :mod:`har_utils.cli`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import config, data, evaluation
from ..data import HarDataset
from ..io import write_json_atomic, write_table
from .runner import CLASSICAL, Run, execute, load
from .zoo import ZOO

STUDY = "cv"
K_FOLDS = 7
SMOOTH = 5
#: The models of protocol cv: the zoo's (one list, ``zoo.ZOO``; the paper's model first).
MODELS: tuple[str, ...] = ZOO
#: Folds run per model (the first n of the K folds): the costliest models get 3.
FOLDS: dict[str, int] = {"cnn_lstm_sequential": 3, "lstm": 3, "deepconvlstm": 3,
                         "isplinception": 3}
#: Epoch budget per model (default: the paper's 100; a model's own ``max_epochs`` caps it).
BUDGET: dict[str, int] = {"deepconvlstm": 30}
#: Final seeds per model (default 3).
FINAL_SEEDS: dict[str, int] = {"cnn_lstm_paper": 5, "deepconvlstm": 1, "isplinception": 1}
DEFAULT_FINAL_SEEDS = 3
#: The linear baseline's grid of inverse regularisation strengths.
C_GRID: tuple[float, ...] = (0.01, 0.1, 1.0, 10.0)


@dataclass(frozen=True)
class Plan:
    """How much of the protocol a model gets (the smoke profile shrinks everything)."""

    folds: int
    budget: int
    final_seeds: int
    c_grid: tuple[float, ...] = C_GRID


def plan_for(model: str, *, smoke: bool = False) -> Plan:
    if smoke:
        return Plan(folds=2, budget=2, final_seeds=1, c_grid=C_GRID[1:3])
    from ..models import train_defaults

    if model in CLASSICAL:  # deterministic: one fit per fold and C, one final fit
        return Plan(folds=K_FOLDS, budget=1, final_seeds=1)
    cap = train_defaults(model).get("max_epochs", 100)
    return Plan(folds=FOLDS.get(model, K_FOLDS), budget=min(BUDGET.get(model, 100), cap),
                final_seeds=FINAL_SEEDS.get(model, DEFAULT_FINAL_SEEDS))


def folds(k: int = K_FOLDS) -> list[tuple[int, ...]]:
    """The k held-out subject groups, from ``GroupKFold`` on the official training window
    counts (deterministic; the same whatever the data source)."""
    from sklearn.model_selection import GroupKFold

    counts = data.official_counts()
    per = counts[counts["split"] == "train"].groupby("subject")["n_windows"].sum()
    subjects = np.repeat(per.index.to_numpy(), per.to_numpy())
    out = [tuple(sorted(int(s) for s in np.unique(subjects[val])))
           for _, val in GroupKFold(n_splits=k).split(subjects, groups=subjects)]
    return sorted(out)


def fold_runs(model: str, p: Plan, k: int = K_FOLDS, c: float | None = None) -> list[Run]:
    """One run per fold (seed 0): fit on the other training subjects, score the fold every
    epoch, no test."""
    out = []
    for i, held in enumerate(folds(k)[: p.folds]):
        fit = tuple(s for s in config.TRAIN_SUBJECTS if s not in held)
        kw = {} if c is None else {"C": c}
        out.append(Run(model, 0, p.budget, fit, held, test=False, model_kwargs=kw, study=STUDY,
                       name=f"cv/{model}/fold{i}" + ("" if c is None else f"/C={c:g}")))
    return out


def select_epochs(curves: np.ndarray, smooth: int = SMOOTH) -> dict[str, Any]:
    """The epoch count from fold accuracy curves (folds x epochs): smallest epoch whose
    smoothed mean is within one standard error of the maximum of the smoothed mean."""
    curves = np.asarray(curves, dtype=float)
    k, n = curves.shape
    sm = pd.DataFrame(curves.T).rolling(smooth, center=True, min_periods=1).mean().to_numpy().T
    mean = sm.mean(axis=0)
    best = int(np.argmax(mean))
    se = float(sm[:, best].std(ddof=1) / math.sqrt(k)) if k > 1 else 0.0
    chosen = int(np.argmax(mean >= mean[best] - se - 1e-12)) + 1
    return {"epochs": chosen, "best_smoothed_epoch": best + 1,
            "best_smoothed_accuracy": float(mean[best]), "standard_error": se,
            "accuracy_at_chosen": float(mean[chosen - 1]), "folds": k, "budget": n,
            "smoothing": f"centred {smooth}-epoch mean",
            "rule": "smallest epoch count within one standard error of the maximum"}


def select_c(fold_scores: dict[float, list[float]]) -> dict[str, Any]:
    """The most regularised C whose mean fold accuracy is within one standard error of the
    best mean (``fold_scores``: C -> accuracy per fold)."""
    means = {c: float(np.mean(v)) for c, v in fold_scores.items()}
    best = max(means, key=means.__getitem__)
    v = fold_scores[best]
    se = float(np.std(v, ddof=1) / math.sqrt(len(v))) if len(v) > 1 else 0.0
    chosen = min(c for c, m in means.items() if m >= means[best] - se - 1e-12)
    return {"C": chosen, "best_C": best, "mean_fold_accuracy": means, "standard_error": se,
            "rule": "most regularised C within one standard error of the best"}


def final_runs(model: str, p: Plan, epochs: int, c: float | None = None) -> list[Run]:
    """The final retrains on all 21 training subjects, tested once."""
    kw = {} if c is None else {"C": c}
    return [Run(model, s, epochs, tuple(config.TRAIN_SUBJECTS), (), test=True, model_kwargs=kw,
                study=STUDY, name=f"cv/{model}/final/seed{s}") for s in range(p.final_seeds)]


# --- running ------------------------------------------------------------------------------

def _grid_runs(model: str, p: Plan) -> dict[float, list[Run]]:
    return {c: fold_runs(model, p, c=c) for c in p.c_grid}


def choose(model: str, fold_results: list[dict[str, Any]], p: Plan) -> dict[str, Any]:
    """The choice made on a model's fold results (in the order of its fold runs)."""
    if model in CLASSICAL:
        it = iter(fold_results)
        return select_c({c: [next(it)["history"]["val_accuracy"][-1] for _ in rs]
                         for c, rs in _grid_runs(model, p).items()})
    return select_epochs(np.array([r["history"]["val_accuracy"] for r in fold_results]))


def run_models(models: Sequence[str], ds: HarDataset, *, smoke: bool = False,
               stage: str = "all", **execute_kw: Any) -> dict[str, dict[str, Any]]:
    """Fold runs of every model, the choices, then (``stage`` "all") the final runs of every
    model: each stage is one list of runs, so the workers stay busy across models."""
    plans = {m: plan_for(m, smoke=smoke) for m in models}
    folds_of = {m: ([r for rs in _grid_runs(m, p).values() for r in rs] if m in CLASSICAL
                    else fold_runs(m, p)) for m, p in plans.items()}
    results = iter(execute([r for m in models for r in folds_of[m]], ds, **execute_kw))
    choices = {m: choose(m, [next(results) for _ in folds_of[m]], plans[m]) for m in models}
    if stage == "all":
        finals = [r for m in models for r in
                  (final_runs(m, plans[m], 1, choices[m]["C"]) if m in CLASSICAL
                   else final_runs(m, plans[m], choices[m]["epochs"]))]
        execute(finals, ds, **execute_kw)
    return choices


def run_model(model: str, ds: HarDataset, *, smoke: bool = False, stage: str = "all",
              **execute_kw: Any) -> dict[str, Any]:
    """:func:`run_models` for one model; its choice."""
    return run_models([model], ds, smoke=smoke, stage=stage, **execute_kw)[model]


# --- summary ------------------------------------------------------------------------------

def _curve_stats(results: list[dict[str, Any]], key: str) -> dict[str, list[float]] | None:
    rows = [r["history"].get(key) for r in results]
    if not rows or any(v is None for v in rows):
        return None
    a = np.array(rows, dtype=float)
    return {"mean": a.mean(axis=0).tolist(),
            "std": (a.std(axis=0, ddof=1) if len(a) > 1 else np.zeros(a.shape[1])).tolist()}


def early_stopping_cost(results: list[dict[str, Any]], chosen: int, patience: int = 10
                        ) -> dict[str, Any] | None:
    """What early stopping on the fold's loss (patience ``patience``, best weights kept) would
    have given on each fold, read off the fold curves, against the chosen epoch count."""
    if not results or "val_loss" not in results[0]["history"]:
        return None
    stops, acc_stop, acc_chosen = [], [], []
    for r in results:
        loss = np.array(r["history"]["val_loss"])
        best, wait = 0, 0
        for e in range(1, len(loss)):
            if loss[e] < loss[best]:
                best, wait = e, 0
            else:
                wait += 1
                if wait >= patience:
                    break
        stops.append(best + 1)
        acc_stop.append(r["history"]["val_accuracy"][best])
        acc_chosen.append(r["history"]["val_accuracy"][chosen - 1])
    return {"patience": patience, "epochs_kept": stops,
            "fold_accuracy_early_stopping": float(np.mean(acc_stop)),
            "fold_accuracy_chosen_epochs": float(np.mean(acc_chosen)),
            "cost_pp": 100 * float(np.mean(acc_chosen) - np.mean(acc_stop))}


def final_row(model: str, results: list[dict[str, Any]], ds: HarDataset) -> dict[str, Any]:
    """mean ± std over seeds, pooled subject-bootstrap interval, per-subject accuracy, and the
    ensemble of the seeds (averaged softmax) with its own interval (:func:`ensemble`: of the
    seeds whose result kept its softmax outputs, which runs converted from before the runner
    did not)."""
    acc = np.array([r["test"]["accuracy"] for r in results])
    f1 = np.array([r["test"]["macro_avg"]["f1"] for r in results])
    preds = np.concatenate([np.asarray(r["y_pred"]) for r in results])
    n = len(results)
    low, high = evaluation.subject_bootstrap_ci(np.tile(ds.test.y, n), preds,
                                                np.tile(ds.test.subject, n))
    subjects = sorted(results[0]["test"]["per_subject"], key=int)
    return {"model": model, "n_seeds": n, "seeds": [r["run"]["seed"] for r in results],
            "epochs": results[0]["epochs_run"], "accuracy_per_seed": acc.tolist(),
            "accuracy_mean": float(acc.mean()), "accuracy_std": float(acc.std(ddof=1)) if n > 1 else 0.0,
            "macro_f1_mean": float(f1.mean()), "ci95_subject_bootstrap": [low, high],
            "per_subject_accuracy_mean": {s: float(np.mean([r["test"]["per_subject"][s]["accuracy"]
                                                            for r in results])) for s in subjects},
            "ensemble": ensemble(results, ds),
            "devices": sorted({r.get("device", "?") for r in results}),
            "train_seconds_total": float(sum(r.get("train_seconds", 0.0) for r in results)),
            "data_source": results[0]["data"]["source_label"]}


def ensemble(results: list[dict[str, Any]], ds: HarDataset) -> dict[str, Any] | None:
    """The seed ensemble (averaged test softmax) of the results that kept ``test_proba``;
    None when none did."""
    from ..training import ACTIVITY_IDS

    kept = [r for r in results if "test_proba" in r]
    if not kept:
        return None
    proba = np.mean([np.asarray(r["test_proba"]) for r in kept], axis=0)
    pred = ACTIVITY_IDS[np.argmax(proba, axis=1)]
    ens = evaluation.metrics(ds.test.y, pred, ds.test.subject)
    low, high = evaluation.subject_bootstrap_ci(ds.test.y, pred, ds.test.subject)
    out = {"accuracy": ens["accuracy"], "macro_f1": ens["macro_avg"]["f1"],
           "ci95_subject_bootstrap": [low, high],
           "per_subject_accuracy": {s: v["accuracy"] for s, v in ens["per_subject"].items()}}
    if len(kept) < len(results):
        out["seeds"] = [r["run"]["seed"] for r in kept]
    return out


def subject_comparison(a: dict[str, float], b: dict[str, float], n_boot: int = 10000,
                       seed: int = 0) -> dict[str, Any]:
    """Paired comparison of two models by test subject (per-subject accuracy, mean over
    seeds): the mean difference a - b, a paired subject bootstrap interval of it, and the
    Wilcoxon signed-rank test."""
    from scipy.stats import wilcoxon

    subjects = sorted(set(a) & set(b), key=int)
    d = np.array([a[s] - b[s] for s in subjects])
    rng = np.random.default_rng(seed)
    boots = d[rng.integers(0, len(d), size=(n_boot, len(d)))].mean(axis=1)
    low, high = np.quantile(boots, [0.025, 0.975])
    p = float(wilcoxon(d).pvalue) if np.any(d != 0) else 1.0
    return {"subjects": len(d), "mean_difference": float(d.mean()),
            "ci95_paired_subject_bootstrap": [float(low), float(high)],
            "wilcoxon_p": p, "wins": int((d > 0).sum()), "losses": int((d < 0).sum())}


def summary(ds: HarDataset, models: Sequence[str] = MODELS, *, smoke: bool = False
            ) -> dict[str, Any]:
    """Everything stored for the study (runs not yet trained are left out and listed)."""
    out: dict[str, Any] = {"data": data.stamp(ds), "k_folds": K_FOLDS,
                           "folds": [list(f) for f in folds()], "models": {}, "missing": []}
    for model in models:
        p = plan_for(model, smoke=smoke)
        entry: dict[str, Any] = {"plan": p.__dict__ | {"c_grid": list(p.c_grid)}}
        if model in CLASSICAL:
            fr = [load(r, ds) for rs in _grid_runs(model, p).values() for r in rs]
            if any(x is None for x in fr):
                out["missing"].append(f"{model}: {sum(x is None for x in fr)} of {len(fr)} fold fits")
                continue
            entry["choice"] = choose(model, fr, p)
            finals = [load(r, ds) for r in final_runs(model, p, 1, entry["choice"]["C"])]
        else:
            fr = [load(r, ds) for r in fold_runs(model, p)]
            if any(x is None for x in fr):
                out["missing"].append(f"{model}: {sum(x is None for x in fr)} of {len(fr)} folds")
                continue
            entry["choice"] = choose(model, fr, p)
            entry["fold_curves"] = {k: _curve_stats(fr, k) for k in
                                    ("accuracy", "loss", "val_accuracy", "val_loss", "val_macro_f1")}
            entry["early_stopping"] = early_stopping_cost(fr, entry["choice"]["epochs"])
            entry["fold_seconds"] = float(sum(x.get("train_seconds", 0.0) for x in fr))
            finals = [load(r, ds) for r in final_runs(model, p, entry["choice"]["epochs"])]
        done = [x for x in finals if x is not None]
        if len(done) < len(finals):
            out["missing"].append(f"{model}: {len(finals) - len(done)} of {len(finals)} final seeds")
        devices = sorted({x.get("device", "CPU") for x in done})
        if len(devices) > 1:  # a row never mixes devices: keep the device with the most seeds
            keep = max(devices, key=lambda d: sum(x.get("device", "CPU") == d for x in done))
            entry["left_out_other_device"] = [x["name"] for x in done
                                              if x.get("device", "CPU") != keep]
            done = [x for x in done if x.get("device", "CPU") == keep]
        if done:
            entry["final"] = final_row(model, done, ds)
        out["models"][model] = entry
    ref = (out["models"].get("cnn_lstm_paper") or {}).get("final")
    out["subject_comparisons_vs_cnn_lstm_paper"] = {
        m: subject_comparison(e["final"]["per_subject_accuracy_mean"],
                              ref["per_subject_accuracy_mean"])
        for m, e in out["models"].items() if ref and m != "cnn_lstm_paper" and "final" in e}
    return out


def summary_path() -> Path:
    return config.results_dir() / STUDY / "summary.json"


def cost_table(models: Sequence[str] = MODELS, cost: dict[str, Any] | None = None
               ) -> pd.DataFrame:
    """Model x folds x epochs x measured seconds per epoch, before anything long runs.
    Seconds per epoch come from the zoo's measurement on all 21 training subjects
    (``results/zoo/cost_table.json``); a fold trains on 18 of them."""
    if cost is None:
        path = config.PROJECT_ROOT / "results" / "zoo" / "cost_table.json"
        cost = json.loads(path.read_text()) if path.exists() else {"models": []}
    spe = {m["model"]: m["s_per_epoch"] for m in cost["models"]}
    rows = []
    for model in models:
        p = plan_for(model)
        s = spe.get(model)
        fold_h = None if s is None else p.folds * p.budget * s * 18 / 21 / 3600
        final_h = None if s is None else p.final_seeds * p.budget * s / 3600
        notes = []
        if p.folds < K_FOLDS and model not in CLASSICAL:
            notes.append(f"{p.folds} of {K_FOLDS} folds")
        if model not in CLASSICAL and p.budget < 100:
            notes.append(f"budget {p.budget} epochs")
        if model in CLASSICAL:
            notes.append(f"C grid of {len(p.c_grid)} x {p.folds} folds; deterministic: 1 final fit")
        elif p.final_seeds < DEFAULT_FINAL_SEEDS:
            notes.append(f"{p.final_seeds} final seed")
        rows.append({"model": model, "folds": p.folds, "epoch budget": p.budget,
                     "final seeds": p.final_seeds, "s per epoch (21 subjects)": s,
                     "fold hours": fold_h, "final hours (at most)": final_h,
                     "total hours (at most)": None if s is None else fold_h + final_h,
                     "reductions": "; ".join(notes) or "-"})
    return pd.DataFrame(rows)


def write_cost_table(models: Sequence[str] = MODELS) -> tuple[pd.DataFrame, Path]:
    """:func:`cost_table`, written to ``results/cv/cost_table.csv``; the table and its path."""
    table = cost_table(models)
    path = config.results_dir() / STUDY / "cost_table.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_table(table, path, "seconds per epoch measured on the HAPT rebuild "
                "(results/zoo/cost_table.json)", "har cv cost", index=False)
    return table, path


def write_summary(ds: HarDataset, models: Sequence[str] = MODELS, *, smoke: bool = False
                  ) -> dict[str, Any]:
    """:func:`summary`, written to ``results/cv/summary.json``; the summary."""
    doc = summary(ds, models, smoke=smoke)
    write_json_atomic(summary_path(), doc)
    return doc

