"""Beyond the paper: a configuration chosen on folds of the training subjects, tested once.

Protocol cv's folds, runner and epoch rule applied to candidates that might lift the paper's
CNN-LSTM past the linear baseline (orientation robustness, a hybrid with window statistics,
schedules and weight averages, the ablation factors, tuned classical models). Stages: screen
on 3 folds, combinations and the zoo, confirm on 7 folds, a seed-ensemble check; the choice
(``results/beyond/choice.json``, fold runs only) is committed before the final runs test it.
``har beyond cost|run|summary|export``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from har_utils import config, data, evaluation
from har_utils.data import HarDataset
from har_utils.io import write_json_atomic

from . import compare, cv
from .. import constants
from .runner import (CLASSICAL, Run, checksum, execute, load, pairs, results_of, run_one,
                     run_seconds, study_hours)

STUDY = "beyond"
#: Protocol cv's epoch rule, chosen on its folds (``results/cv/choice.json``; a test checks it).
EPOCH_RULE = "argmax"
#: Folds of the screen: the first 3 of protocol cv's 7 (3 is the fewest a nested score needs).
SCREEN_FOLDS = 3
#: Epochs per fold run: affordable, and past the curves' rise (protocol cv chose 73 of 100).
BUDGET = 50
#: Keras candidates taken from the screen to all 7 folds.
CONFIRM = 4
#: Seeds of an ensemble (the ensemble check, and each final ensemble).
ENSEMBLE_SEEDS = 3
#: Final seeds (or ensembles) of the chosen configuration; of each family's best (report only).
FINAL_SEEDS = 5
REPORT_SEEDS = 3
#: Models whose seed changes nothing (one final fit): the logistic regression and the SVM.
DETERMINISTIC: tuple[str, ...] = ("logreg_features", "svm_rbf_features")
#: The zoo models the screen's best recipe is tried on (3 folds).
ZOO_MODELS: tuple[str, ...] = ("cnn", "deepconvlstm")


@dataclass(frozen=True)
class Candidate:
    """One configuration: a model, its hyper-parameters, its training settings."""

    name: str
    family: str
    model: str = "cnn_lstm_paper"
    train: tuple[tuple[str, Any], ...] = ()
    model_kwargs: tuple[tuple[str, Any], ...] = ()
    note: str = ""
    #: "screen", "combination", "zoo" (the round it entered).
    round: str = "screen"
    seeds: tuple[int, ...] = field(default=(0,))

    def __post_init__(self) -> None:
        object.__setattr__(self, "train", pairs(self.train))
        object.__setattr__(self, "model_kwargs", pairs(self.model_kwargs))

    @property
    def classical(self) -> bool:
        return self.model in CLASSICAL

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "family": self.family, "model": self.model,
                "train": dict(self.train), "model_kwargs": dict(self.model_kwargs),
                "note": self.note, "round": self.round}


def _c(name: str, family: str, note: str = "", model: str = "cnn_lstm_paper",
       model_kwargs: dict[str, Any] | None = None, **train: Any) -> Candidate:
    return Candidate(name, family, model, train, model_kwargs or {}, note)


#: The families, in the order the report lists them.
FAMILIES: dict[str, str] = {
    "baseline": "the paper's model as protocol cv trains it",
    "orientation": "robustness to how the phone sits: random rotations, the gravity frame",
    "hybrid": "the network's features joined with window statistics (Ignatov 2018)",
    "training": "training that does not stop on noise: a cosine schedule, a weight average",
    "ablation": "the ablation study's factors, under a protocol that trains to convergence",
    "classical": "classical models on the 339 window features, tuned on the same folds",
    "combination": "the best of each family that beat the baseline, joined",
    "zoo": "the screen's best recipe on other zoo models",
}

#: The screen's Keras candidates (all on the paper's model but ``sequential``).
CANDIDATES: tuple[Candidate, ...] = (
    _c("paper", "baseline", "as protocol cv trains it (Adam 1e-3, batch 32)"),
    _c("rotation_15", "orientation", "random rotations up to 15 degrees", augment="rotation",
       max_angle=15.0),
    _c("rotation_45", "orientation", "up to 45 degrees", augment="rotation", max_angle=45.0),
    _c("rotation_90", "orientation", "up to 90 degrees", augment="rotation", max_angle=90.0),
    _c("rotation_any", "orientation", "any orientation", augment="rotation", max_angle=180.0),
    _c("gravity_frame", "orientation", "each window turned so gravity points along x, with the "
       "sensors' magnitudes", frame="gravity"),
    _c("gravity_frame_turned", "orientation", "the gravity frame of randomly turned windows: "
       "the turn about gravity varies", frame="gravity", augment="rotation", max_angle=180.0),
    _c("window_stats", "hybrid", "5 statistics per channel joined before the output layer",
       window_stats=True),
    _c("cosine", "training", f"learning rate from 1e-3 to 0 over {BUDGET} epochs (a shorter "
       "final run follows its first epochs)", lr_schedule="cosine", schedule_epochs=BUDGET),
    _c("ema", "training", "moving average of the weights (momentum 0.999 per step)",
       ema=0.999),
    _c("cosine_ema", "training", "both", lr_schedule="cosine", schedule_epochs=BUDGET,
       ema=0.999),
    _c("standardize", "ablation", "channels standardised on the fit windows", standardize=True),
    _c("kernel_7", "ablation", "convolution kernel 7", model_kwargs={"kernel_size": 7}),
    _c("one_lstm", "ablation", "one LSTM layer", model_kwargs={"lstm_layers": 1}),
    _c("batch_16", "ablation", "batch 16", batch_size=16),
    _c("sequential", "ablation", "the other reading of the paper's Fig. 2",
       model="cnn_lstm_sequential"),
)

#: The classical grid; the logistic regression's is protocol cv's, so the fold fits are shared.
CLASSICAL_GRID: dict[str, dict[str, tuple[Any, ...]]] = {
    "logreg_features": {"C": cv.C_GRID},
    "svm_rbf_features": {"C": (1.0, 10.0, 100.0), "gamma": ("scale", 0.001)},
    "hgb_features": {"learning_rate": (0.05, 0.1), "max_iter": (200, 500)},
}


def classical_candidates(grid: dict[str, dict[str, tuple[Any, ...]]] = CLASSICAL_GRID
                         ) -> list[Candidate]:
    import itertools

    out = []
    for model, axes in grid.items():
        for values in itertools.product(*axes.values()):
            kw = dict(zip(axes, values))
            name = model.replace("_features", "") + "_" + "_".join(f"{k}={v:g}" if isinstance(
                v, float) else f"{k}={v}" for k, v in kw.items())
            out.append(Candidate(name, "classical", model, (), kw))
    return out


@dataclass(frozen=True)
class Plan:
    """How much of the study runs (the smoke profile shrinks it)."""

    screen_folds: int = SCREEN_FOLDS
    budget: int = BUDGET
    confirm: int = CONFIRM
    ensemble_seeds: int = ENSEMBLE_SEEDS
    final_seeds: int = FINAL_SEEDS
    report_seeds: int = REPORT_SEEDS
    zoo_models: tuple[str, ...] = ZOO_MODELS
    #: Replace every Keras candidate's model by this one (the smoke profile: "tiny_cnn").
    model: str | None = None
    #: Only these candidates (names; empty: all).
    only: tuple[str, ...] = ()


SMOKE = Plan(budget=2, confirm=1, ensemble_seeds=2, final_seeds=1, report_seeds=1,
             zoo_models=(), model="tiny_cnn",
             only=("paper", "rotation_45", "gravity_frame", "window_stats",
                   "logreg_C=0.1", "logreg_C=1"))


def screen_candidates(p: Plan) -> list[Candidate]:
    out = [*CANDIDATES, *classical_candidates()]
    if p.only:
        out = [c for c in out if c.name in p.only]
    if p.model:
        out = [c if c.classical else replace(c, model=p.model, model_kwargs=()) for c in out]
    return out


# --- runs ----------------------------------------------------------------------------------

def fold_runs(c: Candidate, p: Plan, fold_ids: Sequence[int], seed: int = 0,
              epochs: int | None = None) -> list[Run]:
    """One run per fold of ``fold_ids`` (protocol cv's folds), no test."""
    out = []
    for i in fold_ids:
        held = cv.folds()[i]
        fit = tuple(s for s in config.TRAIN_SUBJECTS if s not in held)
        n = 1 if c.classical else (epochs or p.budget)
        name = f"{STUDY}/{c.name}/fold{i}" + (f"/seed{seed}" if seed else "") + (
            f"/{epochs}ep" if epochs else "")
        out.append(Run(c.model, seed, n, fit, held, test=False, model_kwargs=c.model_kwargs,
                       train=() if c.classical else c.train, study=STUDY, name=name))
    return out


def final_runs(c: Candidate, epochs: int, seeds: Sequence[int]) -> list[Run]:
    """The candidate on all 21 training subjects, tested once, one run per seed."""
    return [Run(c.model, s, 1 if c.classical else epochs, tuple(config.TRAIN_SUBJECTS), (),
                test=True, model_kwargs=c.model_kwargs, train=() if c.classical else c.train,
                study=STUDY, name=f"{STUDY}/{c.name}/final/seed{s}")
            for s in seeds]


def scores(c: Candidate, results: list[dict[str, Any]]) -> dict[str, Any]:
    """A candidate's fold scores: the nested score of :data:`EPOCH_RULE` and its epoch count
    (Keras), or the mean fold accuracy (classical)."""
    curves = cv.fold_curves(results)
    out: dict[str, Any] = {"folds": [int(r["name"].split("/fold")[1].split("/")[0])
                                     for r in results]}
    if c.classical:
        per = curves[:, -1]
        return out | {"score": float(per.mean()), "per_fold": per.tolist(), "epochs": 1}
    nested = cv.nested_score(cv.EPOCH_RULES[EPOCH_RULE], curves)
    epochs = cv.EPOCH_RULES[EPOCH_RULE](curves)
    sm = cv.smoothed(curves).mean(axis=0)
    return out | {"score": None if nested is None else nested["score"],
                  "per_fold": None if nested is None else nested["per_fold"],
                  "picked": None if nested is None else nested["picked"],
                  "epochs": int(epochs), "smoothed_at_epochs": float(sm[epochs - 1]),
                  "end_of_budget": float(curves[:, -1].mean())}


def _merge(cands: Sequence[Candidate], name: str) -> Candidate:
    """The candidates' settings joined (later ones win; a model other than the paper's is kept)."""
    train: dict[str, Any] = {}
    kw: dict[str, Any] = {}
    model = "cnn_lstm_paper"
    for c in cands:
        t = dict(c.train)
        if "augment" in t and "augment" in train and t["augment"] != train["augment"]:
            t["augment"] = "+".join(sorted(set(train["augment"].split("+"))
                                           | set(t["augment"].split("+"))))
        train |= t
        kw |= dict(c.model_kwargs)
        model = c.model if c.model != "cnn_lstm_paper" else model
    return Candidate(name, "combination", model, train, kw,
                     "joins " + ", ".join(c.name for c in cands), "combination")


def combinations(screen: dict[str, dict[str, Any]], cands: Sequence[Candidate]
                 ) -> list[Candidate]:
    """Each Keras family's best that beat the baseline, all joined (``best_of_each``) and the
    two best joined (``best_two``), where that differs from one candidate or from all."""
    base = screen["paper"]["score"]
    best: list[Candidate] = []
    for fam in ("orientation", "hybrid", "training", "ablation"):
        fam_c = [c for c in cands if c.family == fam and screen.get(c.name, {}).get("score")]
        if not fam_c:
            continue
        top = max(fam_c, key=lambda c: screen[c.name]["score"])
        if screen[top.name]["score"] > base:
            best.append(top)
    best.sort(key=lambda c: -screen[c.name]["score"])
    out = []
    if len(best) >= 2:
        out.append(_merge(best, "best_of_each"))
    if len(best) >= 3:
        out.append(_merge(best[:2], "best_two"))
    return out


def zoo_candidates(best: Candidate, p: Plan) -> list[Candidate]:
    """The best screened recipe (its training settings) on the zoo models of the plan."""
    return [Candidate(f"{m}+{best.name}", "zoo", m, best.train, (),
                      f"{m} with {best.name}'s training settings", "zoo")
            for m in p.zoo_models if m != best.model]


# --- the study, stage by stage --------------------------------------------------------------

def select(ds: HarDataset, p: Plan = Plan(), *, train: bool = False, **execute_kw: Any
           ) -> dict[str, Any]:
    """Every stage up to the choice, training what is missing when ``train``; the choice
    document (``chosen`` None while runs are missing). Reads only fold runs."""
    def get(cands: Sequence[Candidate], fold_ids_of: Any) -> dict[str, list[dict[str, Any]]]:
        return results_of({c.name: fold_runs(c, p, fold_ids_of(c)) for c in cands}, ds,
                          train=train, **execute_kw)
    screen_ids = list(range(p.screen_folds))
    all_ids = list(range(cv.K_FOLDS))
    first = screen_candidates(p)
    keras = [c for c in first if not c.classical]
    res = get(keras, lambda c: screen_ids) | get([c for c in first if c.classical],
                                                 lambda c: all_ids)
    doc: dict[str, Any] = {"data": data.stamp(ds), "reads": "history.val_accuracy of fold runs "
                           "(test=False)", "epoch_rule": EPOCH_RULE, "plan": p.__dict__,
                           "folds": [list(f) for f in cv.folds()], "candidates": {},
                           "missing": [], "chosen": None}
    cand_of = {c.name: c for c in first}

    def record(c: Candidate, rs: list[dict[str, Any]] | None) -> None:
        entry = doc["candidates"].setdefault(c.name, c.describe())
        if rs is None:
            doc["missing"].append(c.name)
            return
        screen_rs = [r for r in rs if int(r["name"].split("/fold")[1].split("/")[0]) in screen_ids]
        entry["screen"] = scores(c, screen_rs)
        if len(rs) == cv.K_FOLDS:
            entry["all"] = scores(c, rs)

    for c in first:
        record(c, res.get(c.name))
    if doc["missing"]:
        return doc
    screen = {n: e["screen"] for n, e in doc["candidates"].items()}
    ranked = sorted((c for c in keras), key=lambda c: -screen[c.name]["score"])
    later = combinations(screen, keras) + zoo_candidates(ranked[0], p)
    res2 = get(later, lambda c: screen_ids)
    for c in later:
        cand_of[c.name] = c
        record(c, res2.get(c.name))
    if doc["missing"]:
        return doc
    screen = {n: e["screen"] for n, e in doc["candidates"].items()}
    pool = [cand_of[n] for n in screen if not cand_of[n].classical]
    top = sorted(pool, key=lambda c: -screen[c.name]["score"])[: p.confirm]
    doc["confirmed"] = [c.name for c in top]
    res3 = get(top, lambda c: all_ids)
    for c in top:
        record(c, res3.get(c.name))
    if doc["missing"]:
        return doc
    finalists = {n: e["all"]["score"] for n, e in doc["candidates"].items() if "all" in e}
    best = max(finalists, key=finalists.__getitem__)
    chosen = cand_of[best]
    doc["chosen_by"] = ("the best score on all 7 folds (Keras: nested leave-one-fold-out score "
                        f"of the {EPOCH_RULE} rule; classical: mean fold accuracy) among the "
                        "confirmed Keras candidates and every classical one")
    epochs = int(doc["candidates"][best]["all"]["epochs"])
    ens = None
    if not chosen.classical and p.ensemble_seeds > 1:
        runs = {s: fold_runs(chosen, p, screen_ids, seed=s, epochs=epochs)
                for s in range(p.ensemble_seeds)}
        flat = [r for rs in runs.values() for r in rs]
        got = (execute(flat, ds, **execute_kw) if train
               else [load(r, ds) for r in flat])
        if any(x is None for x in got):
            doc["missing"].append(f"{best}: ensemble check")
            return doc
        ens = ensemble_check(got, ds, p.ensemble_seeds)
    doc["ensemble_check"] = ens
    use_ensemble = bool(ens and ens["ensemble"] > ens["single_mean"])
    doc["chosen"] = {"name": best, "epochs": epochs, "ensemble_seeds":
                     p.ensemble_seeds if use_ensemble else 1,
                     "score_all_folds": finalists[best], **chosen.describe()}
    doc["family_best"] = family_best(doc)
    return doc


def ensemble_check(results: list[dict[str, Any]], ds: HarDataset, k: int) -> dict[str, Any]:
    """Per fold, one seed's accuracy (mean over seeds) against the ``k`` seeds' ensemble."""
    from har_utils.training import ACTIVITY_IDS

    by_fold: dict[tuple[int, ...], list[dict[str, Any]]] = {}
    for r in results:
        by_fold.setdefault(tuple(r["run"]["val_subjects"]), []).append(r)
    single, ens = [], []
    for held, rs in sorted(by_fold.items()):
        y = ds.train.y[np.isin(ds.train.subject, held)]
        probas = [np.asarray(r["val_proba"]) for r in rs]
        single.append(float(np.mean([np.mean(ACTIVITY_IDS[p.argmax(1)] == y) for p in probas])))
        ens.append(float(np.mean(ACTIVITY_IDS[np.mean(probas, 0).argmax(1)] == y)))
    return {"seeds": k, "single_per_fold": single, "ensemble_per_fold": ens,
            "single_mean": float(np.mean(single)), "ensemble": float(np.mean(ens))}


def family_best(doc: dict[str, Any]) -> dict[str, str]:
    """Each family's best candidate (7-fold scores first, then the screen's)."""
    out: dict[str, tuple[float, int, str]] = {}
    for name, e in doc["candidates"].items():
        if "screen" not in e:
            continue
        s = (e["all"]["score"], 1) if "all" in e else (e["screen"]["score"], 0)
        key = (s[1], s[0], name)
        if e["family"] not in out or key > out[e["family"]]:
            out[e["family"]] = key
    return {f: v[2] for f, v in out.items()}


def candidate_of(doc: dict[str, Any], name: str) -> Candidate:
    e = doc["candidates"][name]
    return Candidate(name, e["family"], e["model"], e["train"], e["model_kwargs"], e["note"],
                     e["round"])


def finals_of(doc: dict[str, Any], p: Plan) -> dict[str, list[Run]]:
    """The final runs: the chosen configuration's and each family's best (report only)."""
    ch = doc["chosen"]
    k = int(ch["ensemble_seeds"])
    n = 1 if ch["model"] in DETERMINISTIC else p.final_seeds * k
    out = {ch["name"]: final_runs(candidate_of(doc, ch["name"]), ch["epochs"], range(n))}
    for fam, name in doc["family_best"].items():
        if name == ch["name"]:
            continue
        e = doc["candidates"][name]
        scored = e.get("all") or e["screen"]
        out[name] = final_runs(candidate_of(doc, name), int(scored["epochs"]),
                               range(1 if e["model"] in DETERMINISTIC else p.report_seeds))
    return out


# --- files ---------------------------------------------------------------------------------

def choice_path() -> Path:
    return config.results_dir() / STUDY / "choice.json"


def summary_path() -> Path:
    return config.results_dir() / STUDY / "summary.json"


def write_choice(ds: HarDataset, p: Plan = Plan(), *, train: bool = False,
                 **execute_kw: Any) -> dict[str, Any]:
    doc = select(ds, p, train=train, **execute_kw)
    write_json_atomic(choice_path(), doc)
    return doc


def committed_choice() -> dict[str, Any]:
    return cv.committed_choice(choice_path(),
                               "run the selection stage first (har beyond run --stage select)")


def run(ds: HarDataset, p: Plan = Plan(), *, stage: str = "all", **execute_kw: Any
        ) -> dict[str, Any]:
    """Train up to the choice and write it; with ``stage`` "all" or "final", the final runs."""
    if stage in ("select", "all"):
        doc = write_choice(ds, p, train=True, **execute_kw)
        if stage == "select" or doc["chosen"] is None:
            return doc
    doc = committed_choice()
    execute([r for rs in finals_of(doc, p).values() for r in rs], ds, **execute_kw)
    return write_summary(ds, p)


def test_rows(name: str, results: list[dict[str, Any]], k: int, ds: HarDataset
              ) -> dict[str, Any]:
    """Test rows per seed (k = 1) or per ensemble of ``k`` consecutive seeds."""
    from har_utils.training import ACTIVITY_IDS

    groups = [results[i:i + k] for i in range(0, len(results) - k + 1, k)]
    preds = [ACTIVITY_IDS[np.mean([np.asarray(r["test_proba"]) for r in g], 0).argmax(1)]
             if k > 1 else np.asarray(g[0]["y_pred"]) for g in groups]
    ms = [evaluation.metrics(ds.test.y, pr, ds.test.subject) for pr in preds]
    acc = np.array([m["accuracy"] for m in ms])
    n = len(preds)
    low, high = evaluation.subject_bootstrap_ci(np.tile(ds.test.y, n), np.concatenate(preds),
                                                np.tile(ds.test.subject, n))
    subjects = sorted(ms[0]["per_subject"], key=int)
    return {"name": name, "ensemble_seeds": k, "n": n,
            "seeds": [[r["run"]["seed"] for r in g] for g in groups],
            "epochs": results[0]["epochs_run"], "accuracy": acc.tolist(),
            "accuracy_mean": float(acc.mean()),
            "accuracy_std": float(acc.std(ddof=1)) if n > 1 else 0.0,
            "macro_f1_mean": float(np.mean([m["macro_avg"]["f1"] for m in ms])),
            "ci95_subject_bootstrap": [low, high],
            "per_subject_accuracy_mean": {s: float(np.mean([m["per_subject"][s]["accuracy"]
                                                            for m in ms])) for s in subjects},
            "train_seconds_total": float(sum(run_seconds(r) for r in results)),
            "backends": sorted({cv.backend_of(r) for r in results}),
            "devices": sorted({r.get("device", "CPU") for r in results})}


def summary(ds: HarDataset, p: Plan = Plan()) -> dict[str, Any]:
    """The committed choice with the test rows, like-for-like comparisons against protocol
    cv's paper model and linear baseline (:func:`like_for_like`), and the compute spent."""
    doc = json.loads(choice_path().read_text())
    out = {**doc, "tested": {}, "missing_finals": []}
    if doc.get("chosen") is None:
        return out
    k_of = {doc["chosen"]["name"]: int(doc["chosen"]["ensemble_seeds"])}
    chosen_runs: list[dict[str, Any]] = []
    for name, runs in finals_of(doc, p).items():
        got = [load(r, ds) for r in runs]
        done = [g for g in got if g is not None]
        if len(done) < len(got):
            out["missing_finals"].append(f"{name}: {len(got) - len(done)} of {len(got)} runs")
            continue
        out["tested"][name] = test_rows(name, done, k_of.get(name, 1), ds)
        if name == doc["chosen"]["name"]:
            chosen_runs = done
    cv_doc = json.loads(cv.summary_path().read_text()) if cv.summary_path().exists() else {}
    refs = {m: (cv_doc.get("models", {}).get(m) or {}).get("final")
            for m in ("cnn_lstm_paper", "logreg_features")}
    out["references"] = {m: None if r is None else {
        "accuracy_mean": r["accuracy_mean"], "accuracy_std": r["accuracy_std"],
        "per_subject_accuracy_mean": r["per_subject_accuracy_mean"]} for m, r in refs.items()}
    if chosen_runs:
        paper = cv_final_results("cnn_lstm_paper", cv_doc, ds)
        out["like_for_like"] = like_for_like(chosen_runs, k_of[doc["chosen"]["name"]], paper,
                                             refs["logreg_features"], ds)
    out["compute_hours"] = compute_hours()
    return out


def cv_final_results(model: str, cv_doc: dict[str, Any], ds: HarDataset
                     ) -> list[dict[str, Any]]:
    """Protocol cv's stored final runs of ``model`` (the epochs its summary chose)."""
    entry = (cv_doc.get("models") or {}).get(model)
    if not entry or "final" not in entry:
        return []
    runs = cv.final_runs(model, cv.plan_for(model), int(entry["choice"]["epochs"]))
    return [r for r in (load(x, ds) for x in runs) if r is not None]


def ensembles_per_subject(results: list[dict[str, Any]], k: int, ds: HarDataset,
                          every: bool = False) -> dict[str, float]:
    """Per-subject test accuracy of ensembles of ``k`` runs (averaged softmax), averaged over
    the ensembles: consecutive groups of ``k``, or with ``every`` all combinations of ``k``."""
    import itertools

    from har_utils.training import ACTIVITY_IDS

    groups = (list(itertools.combinations(results, k)) if every else
              [results[i:i + k] for i in range(0, len(results) - k + 1, k)])
    per: dict[str, list[float]] = {}
    for g in groups:
        pred = ACTIVITY_IDS[np.mean([np.asarray(r["test_proba"]) for r in g], 0).argmax(1)]
        for s, v in evaluation.metrics(ds.test.y, pred, ds.test.subject)["per_subject"].items():
            per.setdefault(s, []).append(v["accuracy"])
    return {s: float(np.mean(v)) for s, v in per.items()}


def singles_per_subject(results: list[dict[str, Any]]) -> dict[str, float]:
    """Per-subject test accuracy of single runs, averaged over the runs."""
    subjects = results[0]["test"]["per_subject"]
    return {s: float(np.mean([r["test"]["per_subject"][s]["accuracy"] for r in results]))
            for s in subjects}


def like_for_like(chosen: list[dict[str, Any]], k: int, paper: list[dict[str, Any]],
                  linear: dict[str, Any] | None, ds: HarDataset) -> list[dict[str, Any]]:
    """The chosen configuration against protocol cv's paper model and linear baseline, paired
    by test subject, like for like: its single seeds against the paper model's single seeds,
    its ensembles of ``k`` against ensembles of ``k`` of the paper model's final seeds (every
    combination of them), and both against the linear baseline (one deterministic fit, so one
    model either way). Holm over the whole family."""
    singles = singles_per_subject(chosen)
    ensembles = (ensembles_per_subject(chosen, k, ds) if k > 1 else singles)
    rows: list[dict[str, Any]] = []

    def add(kind: str, a: dict[str, float], n_a: int, ref: str, b: dict[str, float], n_b: int,
            how: str) -> None:
        rows.append({"comparison": kind, "reference": ref, "chosen_models": n_a,
                     "reference_models": n_b, "reference_how": how,
                     **compare.subject_comparison(a, b)})

    n_groups = len(chosen) // k
    if len(paper) >= 2:
        add("single seeds", singles, len(chosen), "cnn_lstm_paper", singles_per_subject(paper),
            len(paper), f"its {len(paper)} final seeds")
    if k > 1 and len(paper) >= k:
        from math import comb
        add(f"ensembles of {k}", ensembles, n_groups, "cnn_lstm_paper",
            ensembles_per_subject(paper, k, ds, every=True), comb(len(paper), k),
            f"every {k} of its {len(paper)} final seeds")
    if linear:
        ref = linear["per_subject_accuracy_mean"]
        add("single seeds", singles, len(chosen), "logreg_features", ref, 1,
            "one deterministic fit")
        if k > 1:
            add(f"ensembles of {k}", ensembles, n_groups, "logreg_features", ref, 1,
                "one deterministic fit")
    for row, adj in zip(rows, cv.holm([r["wilcoxon_p"] for r in rows])):
        row["wilcoxon_p_holm"] = adj
    return rows


def compute_hours() -> float:
    """Training hours of one worker over every stored run of this study."""
    return study_hours(STUDY)


def write_summary(ds: HarDataset, p: Plan = Plan()) -> dict[str, Any]:
    doc = summary(ds, p)
    write_json_atomic(summary_path(), doc)
    return doc


# --- the chosen model, for the deployment benchmark and `har predict` -----------------------

MODEL_NAME = constants.BEYOND_MODEL


def model_path(classical: bool = False) -> Path:
    """results/models/beyond.keras, or beyond.joblib for a classical choice."""
    return config.results_dir() / "models" / f"{MODEL_NAME}.{'joblib' if classical else 'keras'}"


def _train_member(run: Run, payload: HarDataset | str, expected: str, path: str
                  ) -> dict[str, Any]:
    """One final run trained again in this (fresh) process, its model saved to ``path``."""
    return run_one(run, payload, expected, save_model=Path(path), log=lambda _line: None)


def train_again(run: Run, payload: HarDataset | str, expected: str, path: Path
                ) -> dict[str, Any]:
    """``run`` trained again in a fresh spawned process (as the runner's workers start), its
    model saved to ``path``; its result, to compare with the stored one."""
    import concurrent.futures
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=ctx) as pool:
        return pool.submit(_train_member, run, payload, expected, str(path)).result()


def export(ds: HarDataset, p: Plan = Plan(), *, ship_data: bool = False, log: Any = print
           ) -> dict[str, Any]:
    """Save the chosen model to ``results/models/beyond.keras`` (or ``.joblib``) with
    ``beyond.json``. The runner keeps no models, so each member is trained again in a fresh
    process and must predict exactly its stored final run's test labels."""
    import tempfile

    from har_utils.io import HarError

    path = choice_path()
    doc = committed_choice()
    ch = doc["chosen"]
    classical = ch["model"] in CLASSICAL
    k = 1 if classical else int(ch["ensemble_seeds"])
    runs = finals_of(doc, p)[ch["name"]][:k]
    stored = [load(r, ds) for r in runs]
    if any(r is None for r in stored):
        raise HarError(path, f"the final runs of {ch['name']} are not all stored",
                       "run the final stage first (make beyond-final)")
    expected = checksum(ds)
    if classical:
        return _export_classical(ds, doc, runs[0], stored[0], expected, log)
    members, files = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r, st in zip(runs, stored):
            member = Path(tmp) / f"seed{r.seed}.keras"
            log(f"[beyond export] training {r.label} again ({r.epochs} epochs, "
                f"{r.threads or 'default'} thread(s))")
            again = train_again(r, ds if ship_data else ds.source, expected, member)
            same = again["y_pred"] == st["y_pred"]
            members.append({"name": r.label, "seed": r.seed, "key": st["key"],
                            "test_accuracy": st["test"]["accuracy"],
                            "same_test_predictions": same,
                            "same_losses": again["history"]["loss"] == st["history"]["loss"]})
            if not same:
                raise HarError(None, f"{r.label} trained again predicts other test labels "
                               "than its stored final run (the saved model would not be the "
                               "one reported)", "train on the machine and thread count the "
                               "final runs recorded, or run the final stage again (--force)")
            files.append(member)
        model = joined_model(files)
        from har_utils.training import ACTIVITY_IDS, save_model_atomic

        proba = np.asarray(model.predict(np.asarray(ds.test.X, np.float32), batch_size=256,
                                         verbose=0))
        save_model_atomic(model, model_path())
    acc = float(np.mean(ACTIVITY_IDS[proba.argmax(1)] == ds.test.y))
    return _exported(ds, doc, model_path(), members, acc, log)


def _exported(ds: HarDataset, doc: dict[str, Any], saved: Path, members: list[dict[str, Any]],
              acc: float, log: Any) -> dict[str, Any]:
    """Write ``beyond.json`` beside the saved model; remove a model of the other kind."""
    from har_utils.provenance import environment

    ch = doc["chosen"]
    other = model_path(classical=saved.suffix == ".keras")
    other.unlink(missing_ok=True)
    info = {"model": MODEL_NAME, "file": config.shown(saved), "candidate": ch["name"],
            "kind": "scikit-learn" if saved.suffix == ".joblib" else "keras",
            "configuration": doc["candidates"][ch["name"]], "epochs": ch["epochs"],
            "ensemble_seeds": len(members), "members": members, "test_accuracy": acc,
            "choice": config.shown(choice_path()), "data": data.stamp(ds),
            "environment": environment()}
    write_json_atomic(saved.with_name(f"{MODEL_NAME}.json"), info)
    log(f"[beyond export] {config.shown(saved)}: {ch['name']}, {len(members)} member(s), test "
        f"accuracy {100 * acc:.2f} %")
    return info


def _export_classical(ds: HarDataset, doc: dict[str, Any], run: Run, stored: dict[str, Any],
                      expected: str, log: Any) -> dict[str, Any]:
    """The classical choice fitted again, saved as a classifier of raw windows, and checked
    to predict the stored final run's test labels."""

    import joblib

    from har_utils.io import HarError
    from har_utils.training import ACTIVITY_IDS

    saved = model_path(classical=True)
    log(f"[beyond export] fitting {run.label} again")
    again = run_one(run, ds, expected, save_model=saved, log=lambda _line: None)
    clf = joblib.load(saved)
    y = np.asarray(clf.predict(np.asarray(ds.test.X, np.float32)))
    same = again["y_pred"] == stored["y_pred"] and y.tolist() == stored["y_pred"]
    if not same:
        saved.unlink(missing_ok=True)
        raise HarError(None, f"{run.label} fitted again predicts other test labels than its "
                       "stored final run", "run the final stage again (--force)")
    assert list(clf.classes_) == list(ACTIVITY_IDS)
    member = {"name": run.label, "seed": run.seed, "key": stored["key"],
              "test_accuracy": stored["test"]["accuracy"], "same_test_predictions": same}
    return _exported(ds, doc, saved, [member], float(np.mean(y == ds.test.y)), log)


def joined_model(paths: Sequence[Path]) -> Any:
    """One model from the saved members: the member itself, or their averaged softmax."""
    import keras

    from har_utils.training import load_model

    from .. import input_layers  # noqa: F401  (layers the members may hold)
    models = [load_model(p) for p in paths]
    if len(models) == 1:
        return models[0]
    inputs = keras.Input(shape=models[0].input_shape[1:], name="window")
    outs = [keras.Model(m.inputs[0], m.outputs[0], name=f"member_{i}")(inputs)
            for i, m in enumerate(models)]
    return keras.Model(inputs, keras.layers.Average(name="ensemble")(outs),
                       name=f"{MODEL_NAME}_ensemble")


def cost_table(p: Plan = Plan(), spe: dict[str, float] | None = None) -> pd.DataFrame:
    """Stage x candidates x folds x epochs x measured seconds per epoch, before anything runs;
    the later stages at their most (the paper's model unless said)."""
    if spe is None:
        spe = cv.seconds_per_epoch()[0]
    paper = spe.get("cnn_lstm_paper", float("nan"))
    fold = 18 / 21  # a fold trains on 18 of the 21 subjects

    def row(stage: str, candidate: str, model: str, runs: int, s: float, share: float = fold
            ) -> dict[str, Any]:
        return {"stage": stage, "candidate": candidate, "model": model, "runs": runs,
                "epochs": p.budget, "s per epoch": s,
                "hours": runs * p.budget * s * share / 3600}

    rows = []
    for c in screen_candidates(p):
        if not c.classical:
            s = spe.get(c.model, paper) * (2.0 if dict(c.train).get("batch_size") == 16 else 1.0)
            rows.append(row("screen", c.name, c.model, p.screen_folds, s))
    rows.append({"stage": "screen", "candidate": "classical grid "
                 f"({len(classical_candidates())} points x 7 folds)", "model": "scikit-learn",
                 "runs": 7 * len(classical_candidates()), "epochs": 1, "s per epoch": None,
                 "hours": 0.5})
    rows.append(row("combinations", "best_of_each, best_two", "cnn_lstm_paper",
                    2 * p.screen_folds, paper))
    for m in p.zoo_models:
        rows.append(row("zoo", f"{m} + the best recipe", m, p.screen_folds, spe.get(m, paper)))
    rows.append(row("confirm", f"{p.confirm} best", "cnn_lstm_paper",
                    p.confirm * (cv.K_FOLDS - p.screen_folds), paper))
    rows.append(row("ensemble check", "the chosen one", "cnn_lstm_paper",
                    p.ensemble_seeds * p.screen_folds, paper))
    rows.append(row("final", f"the chosen one ({p.final_seeds} ensembles of {p.ensemble_seeds} "
                    "seeds at most)", "cnn_lstm_paper", p.final_seeds * p.ensemble_seeds, paper, 1))
    rows.append(row("final (report only)", "each family's best", "cnn_lstm_paper",
                    6 * p.report_seeds, paper, 1))
    return pd.DataFrame(rows)


def write_cost_table(p: Plan = Plan()) -> tuple[pd.DataFrame, Path]:
    spe, source = cv.seconds_per_epoch()
    table = cost_table(p, spe)
    return table, cv.save_cost_table(table, STUDY, source)
