"""Protocol ``cv``: every choice made by cross-validation over the 21 training subjects.

GroupKFold folds over the training subjects; fold runs score the held-out subjects every
epoch; an epoch rule (itself chosen by a nested leave-one-fold-out score) picks the epoch
count, a C rule the linear baseline's C; final runs retrain on all 21 subjects and test once.
The choices read only ``history.val_accuracy`` of fold runs. ``har cv cost|run|summary``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from har_utils import config, data, evaluation
from har_utils.data import HarDataset
from har_utils.io import HarError, write_json_atomic, write_table

from . import compare
from .runner import CLASSICAL, Run, backend_of, execute, load, run_seconds
from .zoo import ZOO

STUDY = "cv"
K_FOLDS = 7
SMOOTH = 5
MODELS: tuple[str, ...] = ZOO
#: Folds run per model (the first n of the K folds): the costliest models get 3.
FOLDS: dict[str, int] = {"cnn_lstm_sequential": 3, "lstm": 3, "deepconvlstm": 3,
                         "isplinception": 3}
#: Epoch cap (cost) where below the paper's 100: these take 30 and 116 s per epoch on one core;
#: 50 is past where their earlier 30- and 15-epoch curves still rose.
EPOCH_CAPS: dict[str, int] = {"deepconvlstm": 50, "isplinception": 50}
#: Final seeds per model (default 3); isplinception 1 (its folds alone cost about 4 hours).
FINAL_SEEDS: dict[str, int] = {"cnn_lstm_paper": 5, "isplinception": 1}
DEFAULT_FINAL_SEEDS = 3
#: The linear baseline's C grid, ascending (most regularised first), so the choice is not at its edge.
C_GRID: tuple[float, ...] = (0.001, 0.003, 0.01, 0.03, 0.1, 1.0, 10.0)
#: The earlier epoch rule: its epoch count is also trained and reported as a sensitivity row.
SENSITIVITY_RULE = "one_se"
SMOKE_C_GRID: tuple[float, ...] = (0.1, 1.0)
#: The fewest folds a nested leave-one-fold-out score needs (a rule sees at least 2 folds).
MIN_NESTED_FOLDS = 3


@dataclass(frozen=True)
class Plan:
    """How much of the protocol a model gets (the smoke profile shrinks everything)."""

    folds: int
    budget: int
    final_seeds: int
    c_grid: tuple[float, ...] = C_GRID


def plan_for(model: str, *, smoke: bool = False) -> Plan:
    if smoke:
        return Plan(folds=2, budget=2, final_seeds=1, c_grid=SMOKE_C_GRID)
    if model in CLASSICAL:  # deterministic: one fit per fold and C, one final fit
        return Plan(folds=K_FOLDS, budget=1, final_seeds=1)
    return Plan(folds=FOLDS.get(model, K_FOLDS),
                budget=EPOCH_CAPS.get(model, config.PAPER_EPOCHS),
                final_seeds=FINAL_SEEDS.get(model, DEFAULT_FINAL_SEEDS))


def train_settings(model: str, p: Plan) -> dict[str, int]:
    """The plan's budget replaces a smaller ``max_epochs`` of the model's own, so a fold
    curve can show where the model stops improving."""
    from har_utils.models import train_defaults

    if model in CLASSICAL:
        return {}
    cap = train_defaults(model).get("max_epochs")
    return {"max_epochs": p.budget} if cap is not None and cap < p.budget else {}


def folds(k: int = K_FOLDS) -> list[tuple[int, ...]]:
    """The k held-out subject groups: ``GroupKFold`` on the official window counts."""
    from sklearn.model_selection import GroupKFold

    counts = data.official_counts()
    per = counts[counts["split"] == "train"].groupby("subject")["n_windows"].sum()
    subjects = np.repeat(per.index.to_numpy(), per.to_numpy())
    out = [tuple(sorted(int(s) for s in np.unique(subjects[val])))
           for _, val in GroupKFold(n_splits=k).split(subjects, groups=subjects)]
    return sorted(out)


def fold_runs(model: str, p: Plan, k: int = K_FOLDS, c: float | None = None) -> list[Run]:
    """One run per fold (seed 0): fit on the other subjects, score the fold, no test."""
    out = []
    for i, held in enumerate(folds(k)[: p.folds]):
        fit = tuple(s for s in config.TRAIN_SUBJECTS if s not in held)
        kw = {} if c is None else {"C": c}
        out.append(Run(model, 0, p.budget, fit, held, test=False, model_kwargs=kw, study=STUDY,
                       train=train_settings(model, p),
                       name=f"cv/{model}/fold{i}" + ("" if c is None else f"/C={c:g}")))
    return out


def grid_runs(model: str, p: Plan) -> dict[float, list[Run]]:
    """The classical model's fold runs, per C of the plan's grid."""
    return {c: fold_runs(model, p, c=c) for c in p.c_grid}


def all_fold_runs(model: str, p: Plan) -> list[Run]:
    """Every fold run of ``model`` (for the classical model: per C, then per fold)."""
    if model in CLASSICAL:
        return [r for rs in grid_runs(model, p).values() for r in rs]
    return fold_runs(model, p)


# --- selection rules ----------------------------------------------------------------------

def smoothed(curves: np.ndarray, smooth: int = SMOOTH) -> np.ndarray:
    """Each row smoothed by a centred ``smooth``-epoch mean (shorter windows at the ends)."""
    a = np.atleast_2d(np.asarray(curves, dtype=float))
    return pd.DataFrame(a.T).rolling(smooth, center=True, min_periods=1).mean().to_numpy().T


def standard_error(scores: np.ndarray) -> np.ndarray | float:
    """Std over folds (axis 0, ddof 1) / sqrt(k); 0 with one fold."""
    scores = np.asarray(scores, dtype=float)
    k = len(scores)
    return scores.std(axis=0, ddof=1) / math.sqrt(k) if k > 1 else np.zeros(scores.shape[1:])


def first_within_se(scores: np.ndarray) -> int:
    """0-based column: the first whose mean over folds is within one standard error of the best."""
    mean = scores.mean(axis=0)
    best = int(np.argmax(mean))
    return int(np.argmax(mean >= mean[best] - standard_error(scores[:, best]) - 1e-12))


def first_within_paired_se(scores: np.ndarray) -> int:
    """As :func:`first_within_se` with a *paired* standard error (of best - this column), so
    the between-fold spread common to both cancels."""
    mean = scores.mean(axis=0)
    best = int(np.argmax(mean))
    se = standard_error(scores[:, [best]] - scores)
    return int(np.argmax(mean >= mean[best] - se - 1e-12))


@dataclass(frozen=True)
class Rule:
    """Fold scores (folds x candidates, preferred first) -> the 1-based candidate picked."""

    select: Callable[[np.ndarray], int]
    description: str

    def __call__(self, scores: np.ndarray) -> int:
        return int(self.select(np.atleast_2d(np.asarray(scores, dtype=float))))


def select_epochs(curves: np.ndarray, smooth: int = SMOOTH) -> dict[str, Any]:
    """The ``one_se`` epoch rule with its numbers, from fold accuracy curves (folds x epochs)."""
    curves = np.atleast_2d(np.asarray(curves, dtype=float))
    k, n = curves.shape
    sm = smoothed(curves, smooth)
    mean = sm.mean(axis=0)
    best = int(np.argmax(mean))
    chosen = first_within_se(sm) + 1
    return {"epochs": chosen, "best_smoothed_epoch": best + 1,
            "best_smoothed_accuracy": float(mean[best]),
            "standard_error": float(standard_error(sm[:, best])),
            "accuracy_at_chosen": float(mean[chosen - 1]), "folds": k, "budget": n,
            "smoothing": f"centred {smooth}-epoch mean",
            "rule": "smallest epoch count within one standard error of the maximum"}


#: The candidate epoch rules (name -> rule; the order breaks ties between rules).
EPOCH_RULES: dict[str, Rule] = {
    "argmax": Rule(lambda a: int(np.argmax(smoothed(a).mean(axis=0))) + 1,
                   "the best epoch of the smoothed mean fold curve"),
    "one_se": Rule(lambda a: select_epochs(a)["epochs"],
                   "the smallest epoch within one standard error (over folds) of the best "
                   "smoothed epoch"),
    "paired_se": Rule(lambda a: first_within_paired_se(smoothed(a)) + 1,
                      "the smallest epoch within one paired standard error (over folds, of "
                      "the difference to the best smoothed epoch) of the best smoothed epoch"),
    "end": Rule(lambda a: a.shape[1], "the end of the budget"),
}
DEFAULT_EPOCH_RULE = "argmax"

#: The candidate C rules: the 1-based position in the ascending C grid.
C_RULES: dict[str, Rule] = {
    "best": Rule(lambda a: int(np.argmax(a.mean(axis=0))) + 1,
                 "the C with the best mean fold accuracy"),
    "one_se": Rule(lambda a: first_within_se(a) + 1,
                   "the most regularised C within one standard error (over folds) of the best"),
    "paired_se": Rule(lambda a: first_within_paired_se(a) + 1,
                      "the most regularised C within one paired standard error (over folds, "
                      "of the difference to the best C) of the best"),
}
DEFAULT_C_RULE = "best"
TIE_BREAK = "ties between rules go to the earlier rule of the list"


def nested_score(rule: Callable[[np.ndarray], int], scores: np.ndarray,
                 labels: Sequence[Any] | None = None) -> dict[str, Any] | None:
    """Per fold, ``rule`` on the other folds' scores, read on the fold at the candidate it
    picks; the mean over folds is ``score``. None under ``MIN_NESTED_FOLDS`` folds."""
    scores = np.atleast_2d(np.asarray(scores, dtype=float))
    k = len(scores)
    if k < MIN_NESTED_FOLDS:
        return None
    picked = [rule(np.delete(scores, i, axis=0)) for i in range(k)]
    per_fold = [float(scores[i, j - 1]) for i, j in enumerate(picked)]
    return {"score": float(np.mean(per_fold)), "per_fold": per_fold,
            "picked": picked if labels is None else [labels[j - 1] for j in picked]}


def choose_rule(rules: dict[str, Rule], scores_by_model: dict[str, np.ndarray], default: str,
                what: str = "epochs", labels: Sequence[Any] | None = None) -> dict[str, Any]:
    """The rule with the best nested score averaged over the models (those without one left
    out); ties to the earlier rule; ``default`` when no model has a score."""
    table = {name: {"description": r.description,
                    "per_model": {m: nested_score(r, s, labels)
                                  for m, s in scores_by_model.items()}}
             for name, r in rules.items()}
    for t in table.values():
        got = [v["score"] for v in t["per_model"].values() if v is not None]
        t["mean"] = float(np.mean(got)) if got else None
    means = {n: t["mean"] for n, t in table.items() if t["mean"] is not None}
    scored = [m for m, s in scores_by_model.items() if len(s) >= MIN_NESTED_FOLDS]
    if means:
        top = max(means.values())
        name = next(n for n, v in means.items() if v >= top - 1e-12)
        how = ("the best nested leave-one-fold-out score (mean left-out fold accuracy), "
               f"mean over {len(scored)} model(s): {', '.join(scored)}")
    else:
        name = default
        how = f"default: fewer than {MIN_NESTED_FOLDS} folds everywhere, no nested score"
    pick = (lambda r, s: r(s)) if labels is None else (lambda r, s: labels[r(s) - 1])
    return {"rule": name, "description": rules[name].description, "chosen_by": how,
            "tie_break": TIE_BREAK, "scores": table,
            f"{what}_by_rule": {m: {n: pick(r, s) for n, r in rules.items()}
                                for m, s in scores_by_model.items()}}


def choose_epoch_rule(curves_by_model: dict[str, np.ndarray]) -> dict[str, Any]:
    """One epoch rule for all the Keras models given (model -> fold accuracy curves)."""
    return choose_rule(EPOCH_RULES, curves_by_model, DEFAULT_EPOCH_RULE)


def choose_c_rule(fold_scores: dict[float, list[float]], model: str = "logreg_features"
                  ) -> dict[str, Any]:
    """The C rule for one classical model (C -> accuracy per fold), on its own nested score."""
    grid = sorted(fold_scores)
    scores = np.array([fold_scores[c] for c in grid], dtype=float).T
    return choose_rule(C_RULES, {model: scores}, DEFAULT_C_RULE, "C", grid)


def epoch_choice(curves: np.ndarray, rule: str = DEFAULT_EPOCH_RULE) -> dict[str, Any]:
    """A Keras model's choice on its fold curves under ``rule``, with what every rule picks."""
    curves = np.atleast_2d(np.asarray(curves, dtype=float))
    out = select_epochs(curves)
    epochs = EPOCH_RULES[rule](curves)
    out.update(epochs=epochs, accuracy_at_chosen=float(smoothed(curves).mean(axis=0)[epochs - 1]),
               rule=f"{rule}: {EPOCH_RULES[rule].description}", rule_name=rule,
               epochs_by_rule={n: r(curves) for n, r in EPOCH_RULES.items()})
    return out


def select_c(fold_scores: dict[float, list[float]]) -> dict[str, Any]:
    """The ``one_se`` C rule with its numbers (``fold_scores``: C -> accuracy per fold)."""
    means = {c: float(np.mean(v)) for c, v in fold_scores.items()}
    best = max(means, key=means.__getitem__)
    v = np.asarray(fold_scores[best], dtype=float)
    se = float(standard_error(v))
    chosen = min(c for c, m in means.items() if m >= means[best] - se - 1e-12)
    return {"C": chosen, "best_C": best, "mean_fold_accuracy": means, "standard_error": se,
            "rule": "most regularised C within one standard error of the best"}


def c_choice(fold_scores: dict[float, list[float]], model: str = "logreg_features"
             ) -> dict[str, Any]:
    """The classical model's choice: C by the C rule chosen on its own nested score."""
    out = select_c(fold_scores)
    rc = choose_c_rule(fold_scores, model)
    out.update(C=rc["C_by_rule"][model][rc["rule"]], rule=f"{rc['rule']}: {rc['description']}",
               rule_name=rc["rule"], C_by_rule=rc["C_by_rule"][model], rule_choice=rc)
    return out


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the order given."""
    p = np.asarray(pvalues, dtype=float)
    m = len(p)
    order = np.argsort(p, kind="stable")
    adj = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adj
    return out.tolist()


def final_runs(model: str, p: Plan, epochs: int, c: float | None = None) -> list[Run]:
    """The final retrains on all 21 training subjects, tested once."""
    kw = {} if c is None else {"C": c}
    return [Run(model, s, epochs, tuple(config.TRAIN_SUBJECTS), (), test=True, model_kwargs=kw,
                train=train_settings(model, p), study=STUDY, name=f"cv/{model}/final/seed{s}")
            for s in range(p.final_seeds)]


# --- choices on the fold runs -------------------------------------------------------------

def fold_curves(fold_results: list[dict[str, Any]]) -> np.ndarray:
    """Fold accuracy curves (folds x epochs); a run that saw the test set is refused."""
    if any(r.get("run", {}).get("test") for r in fold_results):
        raise ValueError("a fold result comes from a run with test=True")
    return np.array([r["history"]["val_accuracy"] for r in fold_results], dtype=float)


def c_fold_scores(model: str, fold_results: list[dict[str, Any]], p: Plan
                  ) -> dict[float, list[float]]:
    """C -> the last ``val_accuracy`` per fold, from results in :func:`all_fold_runs` order."""
    curves = iter(fold_curves(fold_results)[:, -1].tolist())
    return {c: [next(curves) for _ in rs] for c, rs in grid_runs(model, p).items()}


def choose(model: str, fold_results: list[dict[str, Any]], p: Plan,
           rule: str = DEFAULT_EPOCH_RULE) -> dict[str, Any]:
    """The choice on a model's fold results: epochs under ``rule``, or the classical C."""
    if model in CLASSICAL:
        return c_choice(c_fold_scores(model, fold_results, p), model)
    return epoch_choice(fold_curves(fold_results), rule)


def load_folds(ds: HarDataset, models: Sequence[str], plans: dict[str, Plan],
               known: dict[str, list[dict[str, Any]]] | None = None
               ) -> tuple[dict[str, list[dict[str, Any]]], list[str]]:
    """The fold results of each model with all of them stored, and a line per model missing some."""
    out, missing = {}, []
    for m in models:
        res = (known or {}).get(m) or [load(r, ds) for r in all_fold_runs(m, plans[m])]
        if any(x is None for x in res):
            what = "fold fits" if m in CLASSICAL else "folds"
            missing.append(f"{m}: {sum(x is None for x in res)} of {len(res)} {what}")
        else:
            out[m] = res
    return out, missing


def make_choices(fold_results: dict[str, list[dict[str, Any]]], plans: dict[str, Plan]
                 ) -> tuple[dict[str, Any] | None, dict[str, dict[str, Any]]]:
    """The epoch rule chosen across the Keras models (None without any) and every choice."""
    curves = {m: fold_curves(r) for m, r in fold_results.items() if m not in CLASSICAL}
    rule = choose_epoch_rule(curves) if curves else None
    name = rule["rule"] if rule else DEFAULT_EPOCH_RULE
    return rule, {m: choose(m, r, plans[m], name) for m, r in fold_results.items()}


def choice_doc(ds: HarDataset, models: Sequence[str] = MODELS, *, smoke: bool = False,
               known: dict[str, list[dict[str, Any]]] | None = None) -> dict[str, Any]:
    """The choices made on the stored fold runs of ``models`` (no test field is read)."""
    plans = {m: plan_for(m, smoke=smoke) for m in models}
    fr, missing = load_folds(ds, models, plans, known)
    rule, choices = make_choices(fr, plans)
    return {"data": data.stamp(ds), "reads": "history.val_accuracy of the fold runs (test=False)",
            "epoch_rule": rule, "models": choices, "missing": missing}


def choice_path() -> Path:
    return config.results_dir() / STUDY / "choice.json"


def committed_choice(path: Path, fix: str) -> dict[str, Any]:
    """A study's committed choice document at ``path``, refused (naming the file and ``fix``)
    while it is missing or chooses nothing."""
    doc = json.loads(path.read_text()) if path.exists() else {}
    if not doc.get("chosen"):
        raise HarError(path, "no choice yet", fix)
    return doc


def write_choice(ds: HarDataset, models: Sequence[str] = MODELS, *, smoke: bool = False
                 ) -> Path:
    """:func:`choice_doc` written to ``results/cv/choice.json``; its path."""
    write_json_atomic(choice_path(), choice_doc(ds, models, smoke=smoke))
    return choice_path()


# --- running ------------------------------------------------------------------------------

def run_models(models: Sequence[str], ds: HarDataset, *, smoke: bool = False,
               stage: str = "all", **execute_kw: Any) -> dict[str, dict[str, Any]]:
    """Fold runs of every model, the choices, then (``stage`` "all") the final runs; each
    stage is one list of runs so the workers stay busy. The epoch rule sees every model with
    its folds stored, as :func:`summary` does."""
    plans = {m: plan_for(m, smoke=smoke) for m in models}
    folds_of = {m: all_fold_runs(m, p) for m, p in plans.items()}
    results = iter(execute([r for m in models for r in folds_of[m]], ds, **execute_kw))
    known = {m: [next(results) for _ in folds_of[m]] for m in models}
    scope = list(models) + ([] if smoke else [m for m in MODELS if m not in models])
    doc = choice_doc(ds, scope, smoke=smoke, known=known)
    write_json_atomic(choice_path(), doc)
    choices = doc["models"]
    if stage == "all":
        finals = [r for m in models for r in
                  (final_runs(m, plans[m], 1, choices[m]["C"]) if m in CLASSICAL
                   else final_runs(m, plans[m], choices[m]["epochs"]))]
        finals += [r for m in models if m not in CLASSICAL
                   for r in sensitivity_runs(m, plans[m], choices[m])]
        execute(finals, ds, **execute_kw)
    return {m: choices[m] for m in models}


def sensitivity_runs(model: str, p: Plan, choice: dict[str, Any]) -> list[Run]:
    """The final runs at :data:`SENSITIVITY_RULE`'s epoch count, when it differs."""
    n = (choice.get("epochs_by_rule") or {}).get(SENSITIVITY_RULE)
    if n is None or n == choice["epochs"]:
        return []
    return final_runs(model, p, int(n))


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
    """Fold accuracy at the epoch early stopping on the fold's loss would keep, against the
    chosen epoch count (smoothed; ``..._raw`` unsmoothed, optimistic at the stop)."""
    if not results or "val_loss" not in results[0]["history"]:
        return None
    stops = []
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
    raw = fold_curves(results)
    rows = np.arange(len(raw))
    out: dict[str, Any] = {"patience": patience, "epochs_kept": stops, "chosen_epochs": chosen,
                           "smoothing": f"centred {SMOOTH}-epoch mean"}
    for suffix, a in (("", smoothed(raw)), ("_raw", raw)):
        at_stop, at_chosen = a[rows, np.array(stops) - 1], a[:, chosen - 1]
        out |= {f"fold_accuracy_early_stopping{suffix}": float(at_stop.mean()),
                f"fold_accuracy_chosen_epochs{suffix}": float(at_chosen.mean()),
                f"per_fold_early_stopping{suffix}": at_stop.tolist(),
                f"per_fold_chosen_epochs{suffix}": at_chosen.tolist(),
                f"cost_pp{suffix}": 100 * float(at_chosen.mean() - at_stop.mean())}
    return out


def final_row(model: str, results: list[dict[str, Any]], ds: HarDataset) -> dict[str, Any]:
    """Mean ± std over seeds, subject-bootstrap interval, per-subject accuracy, seed ensemble."""
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
            "backends": sorted({backend_of(r) for r in results}),
            "train_seconds_total": float(sum(run_seconds(r) for r in results)),
            "data_source": results[0]["data"]["source_label"]}


def one_device(results: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """The results of the commonest (backend, device), and the names of the others."""
    where = [(backend_of(r), r.get("device", "CPU")) for r in results]
    if len(set(where)) <= 1:
        return results, []
    keep = max(set(where), key=where.count)
    return ([r for r, w in zip(results, where) if w == keep],
            [r["name"] for r, w in zip(results, where) if w != keep])


def ensemble(results: list[dict[str, Any]], ds: HarDataset) -> dict[str, Any] | None:
    """The seed ensemble (averaged test softmax) of the results that kept ``test_proba``."""
    from har_utils.training import ACTIVITY_IDS

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


def summary(ds: HarDataset, models: Sequence[str] = MODELS, *, smoke: bool = False
            ) -> dict[str, Any]:
    """Everything stored for the study (runs not yet trained are left out and listed)."""
    plans = {m: plan_for(m, smoke=smoke) for m in models}
    fold_results, missing = load_folds(ds, models, plans)
    rule, choices = make_choices(fold_results, plans)
    out: dict[str, Any] = {"data": data.stamp(ds), "k_folds": K_FOLDS,
                           "folds": [list(f) for f in folds()], "epoch_rule": rule,
                           "models": {}, "missing": missing}
    for model in models:
        if model not in fold_results:
            continue
        p, fr, choice = plans[model], fold_results[model], choices[model]
        entry: dict[str, Any] = {"plan": p.__dict__ | {"c_grid": list(p.c_grid)},
                                 "choice": choice}
        if model in CLASSICAL:
            finals = [load(r, ds) for r in final_runs(model, p, 1, choice["C"])]
        else:
            entry["fold_curves"] = {k: _curve_stats(fr, k) for k in
                                    ("accuracy", "loss", "val_accuracy", "val_loss", "val_macro_f1")}
            entry["early_stopping"] = early_stopping_cost(fr, choice["epochs"])
            entry["fold_seconds"] = float(sum(run_seconds(x) for x in fr))
            finals = [load(r, ds) for r in final_runs(model, p, choice["epochs"])]
        done = [x for x in finals if x is not None]
        if len(done) < len(finals):
            out["missing"].append(f"{model}: {len(finals) - len(done)} of {len(finals)} final seeds")
        done, entry["left_out_other_device"] = one_device(done)
        if not entry["left_out_other_device"]:
            del entry["left_out_other_device"]
        if done:
            entry["final"] = final_row(model, done, ds)
        if model not in CLASSICAL:
            extra = [load(r, ds) for r in sensitivity_runs(model, p, choice)]
            kept = one_device([x for x in extra if x is not None])[0]
            if len(kept) < len(extra):
                out["missing"].append(f"{model}: {len(extra) - len(kept)} of {len(extra)} "
                                      f"final seeds at the {SENSITIVITY_RULE} rule's count "
                                      "(sensitivity)")
            if kept:
                entry["sensitivity"] = {"rule": SENSITIVITY_RULE,
                                        "epochs": choice["epochs_by_rule"][SENSITIVITY_RULE],
                                        "final": final_row(model, kept, ds)}
        out["models"][model] = entry
    out["subject_comparisons_vs_cnn_lstm_paper"] = subject_comparisons(out["models"])
    return out


def subject_comparisons(entries: dict[str, dict[str, Any]], ref: str = "cnn_lstm_paper"
                        ) -> dict[str, dict[str, Any]]:
    """Every model's final row against ``ref``'s by test subject, Holm-adjusted."""
    base = (entries.get(ref) or {}).get("final")
    if not base:
        return {}
    out = {m: compare.subject_comparison(e["final"]["per_subject_accuracy_mean"],
                                 base["per_subject_accuracy_mean"])
           for m, e in entries.items() if m != ref and "final" in e}
    for c, p in zip(out.values(), holm([c["wilcoxon_p"] for c in out.values()])):
        c["wilcoxon_p_holm"] = p
    return out


def summary_path() -> Path:
    return config.results_dir() / STUDY / "summary.json"


#: Where the cost table's seconds per epoch come from, the first that exists.
COST_SOURCES: tuple[tuple[str, str], ...] = (
    ("results/benchmarks/backends.json", "JAX, one core (benchmarks/bench_backends.py)"),
    ("results/zoo/cost_table.json", "TensorFlow, 2 cores (benchmarks/bench_epoch_cost.py)"))


def seconds_per_epoch() -> tuple[dict[str, float], str]:
    """Measured seconds per epoch on all 21 training subjects, per model, and the source."""
    for rel, what in COST_SOURCES:
        path = config.PROJECT_ROOT / rel
        if not path.exists():
            continue
        doc = json.loads(path.read_text())
        if "table" in doc:
            spe = {r["model"]: r["jax s/epoch"] for r in doc["table"] if r.get("jax s/epoch")}
        else:
            spe = {m["model"]: m["s_per_epoch"] for m in doc["models"]}
        return spe, f"{rel}: {what}"
    return {}, "no measurement"


def cost_table(models: Sequence[str] = MODELS, spe: dict[str, float] | None = None
               ) -> pd.DataFrame:
    """Model x folds x epochs x measured seconds per epoch; a fold trains on 18 of 21 subjects."""
    if spe is None:
        spe = seconds_per_epoch()[0]
    rows = []
    for model in models:
        p = plan_for(model)
        s = spe.get(model)
        fold_h = None if s is None else p.folds * p.budget * s * 18 / 21 / 3600
        final_h = None if s is None else p.final_seeds * p.budget * s / 3600
        notes = []
        if p.folds < K_FOLDS and model not in CLASSICAL:
            notes.append(f"{p.folds} of {K_FOLDS} folds")
        if model not in CLASSICAL and p.budget < config.PAPER_EPOCHS:
            notes.append(f"budget {p.budget} epochs (cost cap)")
        if model in CLASSICAL:
            notes.append(f"C grid of {len(p.c_grid)} x {p.folds} folds; deterministic: 1 final fit")
        elif p.final_seeds < DEFAULT_FINAL_SEEDS:
            notes.append(f"{p.final_seeds} final seed(s)")
        rows.append({"model": model, "folds": p.folds, "epoch budget": p.budget,
                     "final seeds": p.final_seeds, "s per epoch (21 subjects)": s,
                     "fold hours": fold_h, "final hours (at most)": final_h,
                     "total hours (at most)": None if s is None else fold_h + final_h,
                     "reductions": "; ".join(notes) or "-"})
    return pd.DataFrame(rows)


def write_cost_table(models: Sequence[str] = MODELS) -> tuple[pd.DataFrame, Path]:
    """:func:`cost_table`, written to ``results/cv/cost_table.csv``; the table and its path."""
    spe, source = seconds_per_epoch()
    table = cost_table(models, spe)
    return table, save_cost_table(table, STUDY, source)


def save_cost_table(table: pd.DataFrame, study: str, source: str) -> Path:
    """A study's cost table written to ``results/<study>/cost_table.csv``; its path."""

    path = config.results_dir() / study / "cost_table.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_table(table, path, f"seconds per epoch measured on the HAPT rebuild ({source})",
                f"har {study} cost", index=False)
    return path


def write_summary(ds: HarDataset, models: Sequence[str] = MODELS, *, smoke: bool = False
                  ) -> dict[str, Any]:
    """:func:`summary`, written to ``results/cv/summary.json``; the summary."""
    doc = summary(ds, models, smoke=smoke)
    write_json_atomic(summary_path(), doc)
    return doc

