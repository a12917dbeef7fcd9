"""The ablation study under protocol cv: every factor notebook 07 varies, trained to convergence.

Screened as the beyond study screens (:mod:`..beyond`): one run per point and fold on the first
3 of protocol cv's 7 folds, 50 epochs each, JAX, no test; a point's score is the nested score
of protocol cv's epoch rule (argmax) over the folds' accuracy curves. The paper's configuration
is the beyond study's ``paper`` candidate; a point whose configuration equals a stored run
(the beyond screen holds standardisation, kernel 7, one LSTM layer, batch 16 and the sequential
reading) reuses it, since a run's key is its configuration. Reads fold runs only.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from har_utils import config, data
from har_utils.data import HarDataset
from har_utils.io import write_json_atomic

from .. import beyond, compare, cv
from ..runner import Run, load, results_of, run_seconds, study_hours
from .studies import BASE_MODEL, CHANNEL_SETS, STUDIES

STUDY = "ablations_cv"
SCREEN_FOLDS = beyond.SCREEN_FOLDS
BUDGET = beyond.BUDGET
EPOCH_RULE = beyond.EPOCH_RULE
#: The paper's configuration, named as the beyond study names it (its runs are shared).
BASELINE = "paper"
#: Seeds of the final test of the chosen combination and of the paper's configuration.
FINAL_SEEDS = 5


@dataclass(frozen=True)
class Plan:
    """How much of the study runs (the smoke profile shrinks it)."""

    screen_folds: int = SCREEN_FOLDS
    budget: int = BUDGET
    final_seeds: int = FINAL_SEEDS
    #: Replace the paper's model by this one (the smoke profile: "tiny_cnn"; its points then
    #: keep only their training settings).
    model: str | None = None
    #: Only these point labels (empty: every point).
    only: tuple[str, ...] = ()


#: The smoke profile: the tiny model, 2 epochs, two training-setting points, every stage.
SMOKE = Plan(budget=2, final_seeds=1, model="tiny_cnn", only=("standardize=on", "batch_size=64"))


def points(p: Plan = Plan()) -> list[tuple[str, str]]:
    """(factor, point) of every point that changes the paper's configuration, in study order."""
    out = [(s.name, q.name) for s in STUDIES.values() for q in s.points if not q.baseline]
    return [x for x in out if not p.only or label(*x) in p.only]


def label(factor: str, point: str) -> str:
    return BASELINE if factor == BASELINE else f"{factor}={point}"


def configuration(parts: Sequence[tuple[str, str]], p: Plan = Plan()) -> dict[str, Any]:
    """The paper's configuration with the points ``parts`` (factor, point) applied in order:
    model, model_kwargs, train, channels (as a :class:`Run` takes them)."""
    model, kwargs, train, channels = p.model or BASE_MODEL, {}, {}, ()
    for factor, point in parts:
        q = STUDIES[factor].point(point)
        if not p.model:
            model = q.model or model
            kwargs.update(dict(q.model_kwargs))
        train.update(dict(q.train))
        channels = () if q.channels in (None, "all") else CHANNEL_SETS[q.channels]
    return {"model": model, "model_kwargs": kwargs, "train": train, "channels": channels}


def parts_fold_run(parts: Sequence[tuple[str, str]], fold: int, name: str, p: Plan = Plan(),
                   *, seed: int = 0) -> Run:
    """``parts`` on one of protocol cv's folds for the plan's budget: fit on the other
    training subjects, the held-out ones scored after every epoch, no test."""
    held = cv.folds()[fold]
    fit = tuple(s for s in config.TRAIN_SUBJECTS if s not in held)
    c = configuration(parts, p)
    return Run(c["model"], seed, p.budget, fit, held, test=False, model_kwargs=c["model_kwargs"],
               train=c["train"], channels=c["channels"], study=STUDY,
               name=f"{STUDY}/{name}/fold{fold}")


def fold_run(factor: str, point: str, fold: int, p: Plan = Plan(), *, seed: int = 0) -> Run:
    """One point (or the baseline) on one of protocol cv's folds."""
    parts = [] if factor == BASELINE else [(factor, point)]
    return parts_fold_run(parts, fold, label(factor, point), p, seed=seed)


def screen_plan(p: Plan = Plan()) -> dict[str, list[Run]]:
    """The screen's runs, by point label (the baseline first)."""
    out = {BASELINE: [fold_run(BASELINE, "", i, p) for i in range(p.screen_folds)]}
    for factor, point in points(p):
        out[label(factor, point)] = [fold_run(factor, point, i, p)
                                     for i in range(p.screen_folds)]
    return out


def score(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The nested score of the epoch rule over the fold curves, its epoch count, the mean
    curve at the end of the budget."""
    curves = cv.fold_curves(list(results))
    rule = cv.EPOCH_RULES[EPOCH_RULE]
    nested = cv.nested_score(rule, curves)
    return {"score": None if nested is None else nested["score"],
            "per_fold": None if nested is None else nested["per_fold"],
            "epochs": int(rule(curves)), "end_of_budget": float(curves[:, -1].mean())}


def screen(ds: HarDataset, p: Plan = Plan(), *, train: bool = False, **execute_kw: Any
           ) -> dict[str, Any]:
    """Every point's screen score (training what is missing when ``train``), each beside the
    baseline's; ``missing``: the points without all their fold runs."""
    plan = screen_plan(p)
    results = results_of(plan, ds, train=train, **execute_kw)
    doc: dict[str, Any] = {"data": data.stamp(ds), "reads": "history.val_accuracy of fold runs "
                           "(test=False)", "epoch_rule": EPOCH_RULE, "folds": p.screen_folds,
                           "budget": p.budget, "points": {},
                           "missing": [n for n in plan if n not in results]}
    if p != Plan():
        doc["plan"] = p.__dict__
    base = score(results[BASELINE]) if BASELINE in results else None
    for factor, point in [(BASELINE, ""), *points(p)]:
        name = label(factor, point)
        entry: dict[str, Any] = {"factor": factor, "point": point,
                                 "runs": [r.name for r in plan[name]]}
        if name in results:
            entry |= score(results[name])
            entry["train_seconds"] = float(sum(run_seconds(r) for r in results[name]))
            if base is not None and entry["score"] is not None and base["score"] is not None:
                entry["vs_baseline_pp"] = 100 * (entry["score"] - base["score"])
        doc["points"][name] = entry
    return doc


def screen_path() -> Path:
    return config.results_dir() / "ablations" / "cv_screen.json"


def write_screen(doc: dict[str, Any]) -> Path:
    return write_json_atomic(screen_path(), doc)


def cost_table(checksum: str, stored: set[str] = frozenset(), p: Plan = Plan()
               ) -> pd.DataFrame:
    """Per stage and point: runs x epochs x measured seconds per epoch (the paper model's on one
    core, as protocol cv measured it; batch 16 counted twice), before anything runs. Runs whose
    key (on data ``checksum``) is among the ``stored`` keys cost nothing; the later stages are
    counted at their most."""
    spe = cv.seconds_per_epoch()[0]
    paper = spe.get(BASE_MODEL, float("nan"))
    rows = []
    folds, epochs = p.screen_folds, p.budget
    for name, runs in screen_plan(p).items():
        r = runs[0]
        s = spe.get(r.model, paper) * (2.0 if dict(r.train).get("batch_size") == 16 else 1.0)
        reused = sum(x.key(checksum) in stored for x in runs)
        rows.append({"stage": "screen", "point": name, "model": r.model, "runs": len(runs),
                     "stored": reused, "epochs": epochs, "s per epoch": s,
                     "hours": (len(runs) - reused) * epochs * s * 18 / 21 / 3600})
    n = len(points(p))
    later = (("confirm", f"the points that beat the baseline (at most {n // 2})",
              (n // 2) * (cv.K_FOLDS - folds), 18 / 21),
             ("confirm", "the baseline's other folds", cv.K_FOLDS - folds, 18 / 21),
             ("combination", "the improving factors joined, two ways", 2 * cv.K_FOLDS, 18 / 21),
             ("final", f"the combination and the paper's, {p.final_seeds} seeds each",
              2 * p.final_seeds, 1.0))
    rows += [{"stage": stage, "point": what, "model": BASE_MODEL, "runs": k, "stored": 0,
              "epochs": epochs, "s per epoch": paper, "hours": k * epochs * paper * share / 3600}
             for stage, what, k, share in later]
    return pd.DataFrame(rows)


def write_cost_table() -> tuple[pd.DataFrame, Path]:
    """:func:`cost_table`, written to ``results/ablations/cv_cost_table.csv``."""
    from har_utils.io import write_table

    from ..runner import checksum, runs_dir

    stored = {p.stem for p in runs_dir().glob("*.json")}
    table = cost_table(checksum(data.load_dataset("auto")), stored)
    path = config.results_dir() / "ablations" / "cv_cost_table.csv"
    write_table(table, path, f"seconds per epoch measured on the HAPT rebuild "
                f"({cv.seconds_per_epoch()[1]})", "har ablations screen --cost", index=False)
    return table, path


# --- after the screen: confirm, combine, choose (fold runs only), then the final test -------

def _parts(name: str) -> list[tuple[str, str]]:
    """The (factor, point) parts of a screen label or a combination's ``+``-joined labels."""
    if name == BASELINE:
        return []
    return [tuple(x.split("=", 1)) for x in name.split("+")]  # type: ignore[misc]


def _fits(parts: Sequence[tuple[str, str]], p: Plan = Plan()) -> bool:
    """Whether the joined configuration builds (e.g. kernel 7 on 16-step sub-sequences does not)."""
    from .studies import conv_fits

    return conv_fits(parts_fold_run(parts, 0, "check", p)) is None


def combinations(confirmed: dict[str, float], p: Plan = Plan()
                 ) -> dict[str, list[tuple[str, str]]]:
    """From the confirmed points (label: 7-fold score), each factor's best, joined: all of them
    (best first), and the two best when there are three or more factors. Parts that would not
    build with those before them are left out."""
    best: dict[str, tuple[str, float]] = {}
    for name, sc in confirmed.items():
        factor = _parts(name)[0][0]
        if factor not in best or sc > best[factor][1]:
            best[factor] = (name, sc)
    ranked = [name for name, _ in sorted(best.values(), key=lambda x: -x[1])]

    def joined(names: Sequence[str]) -> list[tuple[str, str]]:
        parts: list[tuple[str, str]] = []
        for n in names:
            if _fits([*parts, *_parts(n)], p):
                parts += _parts(n)
        return parts

    out = {}
    for names in ([ranked] if len(ranked) >= 2 else []) + (
            [ranked[:2]] if len(ranked) >= 3 else []):
        parts = joined(names)
        if len(parts) >= 2:
            out["+".join(f"{f}={p}" for f, p in parts)] = parts
    return out


def select(ds: HarDataset, p: Plan = Plan(), *, train: bool = False, **execute_kw: Any
           ) -> dict[str, Any]:
    """Screen, confirm, combine and choose, training what is missing when ``train``; reads
    only fold runs. ``chosen`` is None while runs are missing.

    Confirm: every point whose screen score beats the baseline's, and the baseline, on all 7
    folds; a point is confirmed when its 7-fold score beats the baseline's. Combine: the
    confirmed factors' best points joined (:func:`combinations`), on all 7 folds. Choose: the
    highest 7-fold score among the confirmed points and the combinations; none confirmed: the
    paper's configuration. Its epoch count is the rule's on its 7 fold curves."""
    doc = screen(ds, p, train=train, **execute_kw)
    doc["stages"] = {"confirm": {}, "combination": {}}
    doc["chosen"] = None
    if doc["missing"]:
        return doc
    base = doc["points"][BASELINE]["score"]
    ahead = [n for n, e in doc["points"].items() if n != BASELINE and e["score"] > base]

    def on_all_folds(named: dict[str, list[tuple[str, str]]]) -> dict[str, dict[str, Any]]:
        plan = {n: [parts_fold_run(parts, i, n, p) for i in range(cv.K_FOLDS)]
                for n, parts in named.items()}
        results = results_of(plan, ds, train=train, **execute_kw)
        out = {}
        for n in plan:
            entry: dict[str, Any] = {"parts": [list(x) for x in named[n]],
                                     "runs": [r.name for r in plan[n]]}
            if n in results:
                entry |= score(results[n])
                entry["train_seconds"] = float(sum(run_seconds(r) for r in results[n]))
            else:
                doc["missing"].append(n)
            out[n] = entry
        return out

    confirm = on_all_folds({n: _parts(n) for n in [BASELINE, *ahead]})
    doc["stages"]["confirm"] = confirm
    if doc["missing"]:
        return doc
    base7 = confirm[BASELINE]["score"]
    confirmed = {n: e["score"] for n, e in confirm.items() if n != BASELINE and e["score"] > base7}
    combos = on_all_folds(combinations(confirmed, p))
    doc["stages"]["combination"] = combos
    if doc["missing"]:
        return doc
    pool = {n: confirm[n] for n in confirmed} | combos
    name = max(pool, key=lambda n: pool[n]["score"]) if pool else BASELINE
    entry = pool.get(name, confirm[BASELINE])
    doc["chosen"] = {"name": name, "parts": entry["parts"], "score": entry["score"],
                     "epochs": entry["epochs"], "baseline_score": base7,
                     "baseline_epochs": confirm[BASELINE]["epochs"],
                     "confirmed": sorted(confirmed, key=lambda n: -confirmed[n])}
    return doc


def choice_path() -> Path:
    return config.results_dir() / "ablations" / "cv_choice.json"


def write_choice(doc: dict[str, Any]) -> Path:
    return write_json_atomic(choice_path(), doc)


def final_runs(choice: dict[str, Any], p: Plan = Plan()) -> dict[str, list[Run]]:
    """The chosen configuration and the paper's (once if the paper's was chosen) on all 21
    training subjects, each for its own epoch count from its 7 folds, the same seeds, tested
    once; by name."""
    chosen = choice["chosen"]
    configs = {chosen["name"]: (chosen["parts"], chosen["epochs"]),
               BASELINE: ([], chosen["baseline_epochs"])}
    out = {}
    for name, (parts, epochs) in configs.items():
        c = configuration([tuple(x) for x in parts], p)
        out[name] = [Run(c["model"], s, epochs, tuple(config.TRAIN_SUBJECTS), (), test=True,
                         model_kwargs=c["model_kwargs"], train=c["train"],
                         channels=c["channels"], study=STUDY,
                         name=f"{STUDY}/{name}/final/seed{s}") for s in range(p.final_seeds)]
    return out


# --- the summary: the final test, like for like, and what early stopping hid ------------------

def summary_path() -> Path:
    return config.results_dir() / "ablations" / "cv_summary.json"


def early_stopping_path(results: Path | None = None) -> Path:
    """The retired early-stopping study's summary (TensorFlow), kept for one comparison."""
    root = config.results_dir() if results is None else Path(results)
    return root / "ablations" / "early_stopping" / "summary.json"


def read_json(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.exists() else None


def undertraining(choice: dict[str, Any], early: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Per point: its effect under the retired early-stopping study (validation and test
    subjects, 3 seeds, TensorFlow) beside its effect trained to convergence here (screen, and
    all 7 folds where it went on), each in points against its own baseline."""
    rows_es = {(r["study"], r["point"]): r for r in (early or {}).get("rows", [])}
    base_es = {r["study"]: r for r in rows_es.values() if r.get("baseline")}
    confirm = (choice.get("stages") or {}).get("confirm") or {}
    base7 = (confirm.get(BASELINE) or {}).get("score")
    out = []
    for name, e in choice["points"].items():
        if name == BASELINE:
            continue
        r, b = rows_es.get((e["factor"], e["point"])), base_es.get(e["factor"])
        c7 = (confirm.get(name) or {}).get("score")
        row = {"point": name, "factor": e["factor"],
               "converged_screen_pp": e.get("vs_baseline_pp"),
               "converged_7_folds_pp": (None if c7 is None or base7 is None
                                        else 100 * (c7 - base7)),
               "converged_epochs": e.get("epochs")}
        if r and b:
            row |= {"early_stopping_validation_pp": 100 * (r["val_accuracy_mean"]
                                                            - b["val_accuracy_mean"]),
                    "early_stopping_test_pp": 100 * (r["accuracy_mean"] - b["accuracy_mean"]),
                    "early_stopping_epochs": r.get("best_epoch_mean")}
        out.append(row)
    return out


def like_for_like(rows: dict[str, dict[str, Any]], chosen: str) -> list[dict[str, Any]]:
    """The chosen configuration against the paper's over the same seeds, single seeds against
    single seeds, paired by test subject (one comparison: Holm leaves it as it is)."""
    if chosen == BASELINE or chosen not in rows or BASELINE not in rows:
        return []
    a, b = rows[chosen], rows[BASELINE]
    c = compare.subject_comparison(a["per_subject_accuracy_mean"], b["per_subject_accuracy_mean"])
    holm = cv.holm([c["wilcoxon_p"]])[0]
    return [{"comparison": "single seeds", "chosen": chosen, "reference": BASELINE,
             "chosen_models": len(a["seeds"]), "reference_models": len(b["seeds"]),
             "reference_how": "the same seeds", **c, "wilcoxon_p_holm": holm}]


def summary(ds: HarDataset, p: Plan = Plan()) -> dict[str, Any]:
    """The committed choice's final runs (chosen and paper's, same seeds) as test rows, their
    like-for-like comparison, what the early-stopping study found for each point, and the
    compute spent; final runs not yet trained are listed."""
    choice = read_json(choice_path())
    if not choice:
        raise FileNotFoundError(f"{config.shown(choice_path())}: no choice yet")
    early = read_json(early_stopping_path())
    out: dict[str, Any] = {"data": data.stamp(ds), "epoch_rule": EPOCH_RULE,
                           "chosen": choice.get("chosen"), "finals": {}, "missing_finals": [],
                           "undertraining": undertraining(choice, early),
                           "early_stopping_protocol": (early or {}).get("protocol")}
    if choice.get("chosen"):
        for name, runs in final_runs(choice, p).items():
            got = [load(r, ds) for r in runs]
            done = [g for g in got if g is not None]
            if len(done) < len(got):
                out["missing_finals"].append(f"{name}: {len(got) - len(done)} of {len(got)}")
            if done:
                out["finals"][name] = cv.final_row(done[0]["run"]["model"], done, ds) | {
                    "configuration": name, "epochs": runs[0].epochs}
        if not out["missing_finals"]:
            out["like_for_like"] = like_for_like(out["finals"], choice["chosen"]["name"])
    out["compute_hours"] = compute_hours()
    return out


def compute_hours() -> float:
    """Training hours of one worker over every run this study trained (the baseline's runs,
    which the beyond study trained, not counted)."""
    return study_hours(STUDY)


def write_summary(ds: HarDataset, p: Plan = Plan()) -> dict[str, Any]:
    doc = summary(ds, p)
    write_json_atomic(summary_path(), doc)
    return doc


def committed_choice() -> dict[str, Any]:
    """The choice document, refused while it chooses nothing."""
    return cv.committed_choice(choice_path(), "run the select stage until it writes a choice "
                               "(`har ablations run --stage select`), and commit it")


def run(ds: HarDataset, p: Plan = Plan(), *, stage: str = "select", train: bool = True,
        **execute_kw: Any) -> dict[str, Any]:
    """One stage, training what is missing when ``train``: "screen" writes the screen,
    "select" the choice (commit it before the final stage), "final" trains the committed
    choice's final runs and writes the summary, "all" selects then tests (the smoke run)."""
    if stage == "screen":
        doc = screen(ds, p, train=train, **execute_kw)
        write_screen(doc)
        return doc
    if stage in ("select", "all"):
        doc = select(ds, p, train=train, **execute_kw)
        write_choice(doc)
        if stage == "select" or doc["chosen"] is None:
            return doc
    results_of(final_runs(committed_choice(), p), ds, train=train, **execute_kw)
    return {**write_summary(ds, p), "missing": []}
