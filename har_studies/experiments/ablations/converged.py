"""The ablation study under protocol cv: every factor notebook 07 varies, trained to convergence.

Screened as the beyond study screens (:mod:`..beyond`): one run per point and fold on the first
3 of protocol cv's 7 folds, 50 epochs each, JAX, no test; a point's score is the nested score
of protocol cv's epoch rule (argmax) over the folds' accuracy curves. The paper's configuration
is the beyond study's ``paper`` candidate; a point whose configuration equals a stored run
(the beyond screen holds standardisation, kernel 7, one LSTM layer, batch 16 and the sequential
reading) reuses it, since a run's key is its configuration. Reads fold runs only.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from har_utils import config, data
from har_utils.data import HarDataset
from har_utils.io import write_json_atomic

from .. import beyond, cv
from ..runner import Run, execute, load, run_seconds
from .studies import BASE_MODEL, CHANNEL_SETS, STUDIES

STUDY = "ablations_cv"
SCREEN_FOLDS = beyond.SCREEN_FOLDS
BUDGET = beyond.BUDGET
EPOCH_RULE = beyond.EPOCH_RULE
#: The paper's configuration, named as the beyond study names it (its runs are shared).
BASELINE = "paper"
#: Seeds of the final test of the chosen combination and of the paper's configuration.
FINAL_SEEDS = 5


def points() -> list[tuple[str, str]]:
    """(factor, point) of every point that changes the paper's configuration, in study order."""
    return [(s.name, p.name) for s in STUDIES.values() for p in s.points if not p.baseline]


def label(factor: str, point: str) -> str:
    return BASELINE if factor == BASELINE else f"{factor}={point}"


def configuration(parts: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """The paper's configuration with the points ``parts`` (factor, point) applied in order:
    model, model_kwargs, train, channels (as a :class:`Run` takes them)."""
    model, kwargs, train, channels = BASE_MODEL, {}, {}, ()
    for factor, point in parts:
        p = STUDIES[factor].point(point)
        model = p.model or model
        kwargs.update(dict(p.model_kwargs))
        train.update(dict(p.train))
        channels = () if p.channels in (None, "all") else CHANNEL_SETS[p.channels]
    return {"model": model, "model_kwargs": kwargs, "train": train, "channels": channels}


def parts_fold_run(parts: Sequence[tuple[str, str]], fold: int, name: str, *,
                   epochs: int = BUDGET, seed: int = 0) -> Run:
    """``parts`` on one of protocol cv's folds: fit on the other training subjects, the
    held-out ones scored after every epoch, no test."""
    held = cv.folds()[fold]
    fit = tuple(s for s in config.TRAIN_SUBJECTS if s not in held)
    c = configuration(parts)
    return Run(c["model"], seed, epochs, fit, held, test=False, model_kwargs=c["model_kwargs"],
               train=c["train"], channels=c["channels"], study=STUDY,
               name=f"{STUDY}/{name}/fold{fold}")


def fold_run(factor: str, point: str, fold: int, *, epochs: int = BUDGET, seed: int = 0) -> Run:
    """One point (or the baseline) on one of protocol cv's folds."""
    parts = [] if factor == BASELINE else [(factor, point)]
    return parts_fold_run(parts, fold, label(factor, point), epochs=epochs, seed=seed)


def screen_plan(folds: int = SCREEN_FOLDS, epochs: int = BUDGET
                ) -> dict[str, list[Run]]:
    """The screen's runs, by point label (the baseline first)."""
    out = {BASELINE: [fold_run(BASELINE, "", i, epochs=epochs) for i in range(folds)]}
    for factor, point in points():
        out[label(factor, point)] = [fold_run(factor, point, i, epochs=epochs)
                                     for i in range(folds)]
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


def screen(ds: HarDataset, *, train: bool = False, folds: int = SCREEN_FOLDS,
           epochs: int = BUDGET, **execute_kw: Any) -> dict[str, Any]:
    """Every point's screen score (training what is missing when ``train``), each beside the
    baseline's; ``missing``: the points without all their fold runs."""
    plan = screen_plan(folds, epochs)
    if train:
        flat = [r for rs in plan.values() for r in rs]
        got = iter(execute(flat, ds, **execute_kw))
        results = {name: [next(got) for _ in rs] for name, rs in plan.items()}
    else:
        stored = {name: [load(r, ds) for r in rs] for name, rs in plan.items()}
        results = {name: rs for name, rs in stored.items() if all(x is not None for x in rs)}
    doc: dict[str, Any] = {"data": data.stamp(ds), "reads": "history.val_accuracy of fold runs "
                           "(test=False)", "epoch_rule": EPOCH_RULE, "folds": folds,
                           "budget": epochs, "points": {},
                           "missing": [n for n in plan if n not in results]}
    base = score(results[BASELINE]) if BASELINE in results else None
    for factor, point in [(BASELINE, ""), *points()]:
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


def cost_table(checksum: str, stored: set[str] = frozenset(), folds: int = SCREEN_FOLDS,
               epochs: int = BUDGET) -> pd.DataFrame:
    """Per stage and point: runs x epochs x measured seconds per epoch (the paper model's on one
    core, as protocol cv measured it; batch 16 counted twice), before anything runs. Runs whose
    key (on data ``checksum``) is among the ``stored`` keys cost nothing; the later stages are
    counted at their most."""
    spe = cv.seconds_per_epoch()[0]
    paper = spe.get(BASE_MODEL, float("nan"))
    rows = []
    for name, runs in screen_plan(folds, epochs).items():
        r = runs[0]
        s = spe.get(r.model, paper) * (2.0 if dict(r.train).get("batch_size") == 16 else 1.0)
        reused = sum(x.key(checksum) in stored for x in runs)
        rows.append({"stage": "screen", "point": name, "model": r.model, "runs": len(runs),
                     "stored": reused, "epochs": epochs, "s per epoch": s,
                     "hours": (len(runs) - reused) * epochs * s * 18 / 21 / 3600})
    n = len(points())
    later = (("confirm", f"the points that beat the baseline (at most {n // 2})",
              (n // 2) * (cv.K_FOLDS - folds), 18 / 21),
             ("confirm", "the baseline's other folds", cv.K_FOLDS - folds, 18 / 21),
             ("combination", "the improving factors joined, two ways", 2 * cv.K_FOLDS, 18 / 21),
             ("final", f"the combination and the paper's, {FINAL_SEEDS} seeds each",
              2 * FINAL_SEEDS, 1.0))
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


def _fits(parts: Sequence[tuple[str, str]]) -> bool:
    """Whether the joined configuration builds (e.g. kernel 7 on 16-step sub-sequences does not)."""
    from .studies import conv_fits

    return conv_fits(parts_fold_run(parts, 0, "check")) is None


def combinations(confirmed: dict[str, float]) -> dict[str, list[tuple[str, str]]]:
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
            if _fits([*parts, *_parts(n)]):
                parts += _parts(n)
        return parts

    out = {}
    for names in ([ranked] if len(ranked) >= 2 else []) + (
            [ranked[:2]] if len(ranked) >= 3 else []):
        parts = joined(names)
        if len(parts) >= 2:
            out["+".join(f"{f}={p}" for f, p in parts)] = parts
    return out


def select(ds: HarDataset, *, train: bool = False, **execute_kw: Any) -> dict[str, Any]:
    """Screen, confirm, combine and choose, training what is missing when ``train``; reads
    only fold runs. ``chosen`` is None while runs are missing.

    Confirm: every point whose screen score beats the baseline's, and the baseline, on all 7
    folds; a point is confirmed when its 7-fold score beats the baseline's. Combine: the
    confirmed factors' best points joined (:func:`combinations`), on all 7 folds. Choose: the
    highest 7-fold score among the confirmed points and the combinations; none confirmed: the
    paper's configuration. Its epoch count is the rule's on its 7 fold curves."""
    doc = screen(ds, train=train, **execute_kw)
    doc["stages"] = {"confirm": {}, "combination": {}}
    doc["chosen"] = None
    if doc["missing"]:
        return doc
    base = doc["points"][BASELINE]["score"]
    ahead = [n for n, e in doc["points"].items() if n != BASELINE and e["score"] > base]

    def on_all_folds(named: dict[str, list[tuple[str, str]]]) -> dict[str, dict[str, Any]]:
        plan = {n: [parts_fold_run(parts, i, n) for i in range(cv.K_FOLDS)]
                for n, parts in named.items()}
        flat = [r for rs in plan.values() for r in rs]
        if train:
            got = iter(execute(flat, ds, **execute_kw))
            results = {n: [next(got) for _ in rs] for n, rs in plan.items()}
        else:
            stored = {n: [load(r, ds) for r in rs] for n, rs in plan.items()}
            results = {n: rs for n, rs in stored.items() if all(x is not None for x in rs)}
        out = {}
        for n in plan:
            entry: dict[str, Any] = {"parts": [list(x) for x in named[n]],
                                     "runs": [r.name for r in plan[n]]}
            if n in results:
                entry |= score(results[n])
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
    combos = on_all_folds(combinations(confirmed))
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


def final_runs(choice: dict[str, Any], seeds: Sequence[int] = range(FINAL_SEEDS)) -> list[Run]:
    """The chosen configuration and the paper's (once if the paper's was chosen) on all 21
    training subjects, each for its own epoch count from its 7 folds, the same seeds, tested
    once."""
    chosen = choice["chosen"]
    configs = {chosen["name"]: (chosen["parts"], chosen["epochs"]),
               BASELINE: ([], chosen["baseline_epochs"])}
    out = []
    for name, (parts, epochs) in configs.items():
        c = configuration([tuple(x) for x in parts])
        out += [Run(c["model"], s, epochs, tuple(config.TRAIN_SUBJECTS), (), test=True,
                    model_kwargs=c["model_kwargs"], train=c["train"], channels=c["channels"],
                    study=STUDY, name=f"{STUDY}/{name}/final/seed{s}") for s in seeds]
    return out
