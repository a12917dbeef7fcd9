"""Ablation study, selection: on the validation subjects only, then the final runs.

:func:`select` ranks every complete study's points by validation accuracy (test numbers never
read), combines the factors that beat the baseline (``top1``, ``top2``, ..., ``all_best``) and
chooses the best combination on validation; :func:`final_runs` tests it and the paper's
configuration over the same seeds.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from har_utils import data
from har_utils.data import HarDataset
from har_utils.io import write_json_atomic

from ..runner import Run
from . import studies as core


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for one value)."""
    return float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def rank_points(named_runs: Mapping[str, Sequence[Run]], ds: HarDataset) -> list[dict[str, Any]]:
    """Points ranked by mean validation accuracy over their runs (ties: lower mean validation
    loss, then name). A point missing any of its runs is left out."""
    rows = []
    for point, runs in named_runs.items():
        views = [core.load_validation(r, ds) for r in runs]
        if not runs or any(v is None for v in views):
            continue
        acc = [v["validation_accuracy"] for v in views]  # type: ignore[index]
        loss = [v["validation_loss"] for v in views]  # type: ignore[index]
        mean, std = mean_std(acc)
        rows.append({"point": point, "n_seeds": len(views), "val_accuracy_mean": mean,
                     "val_accuracy_std": std, "val_loss_mean": float(np.mean(loss))})
    return sorted(rows, key=lambda r: (-r["val_accuracy_mean"], r["val_loss_mean"], r["point"]))


def candidate_run(name: str, parts: Mapping[str, str], *, seed: int = 0,
                  max_epochs: int = core.MAX_EPOCHS, study: str = core.COMBINED) -> Run:
    """The run of a combined configuration: the base with each factor's chosen point."""
    points = [core.STUDIES[s].point(p) for s, p in parts.items()]
    return core.make_run(study, name, points, seed=seed, max_epochs=max_epochs)


def select(ds: HarDataset, *, seeds: Iterable[int] = range(core.STUDY_SEEDS),
           max_epochs: int = core.MAX_EPOCHS, studies: str | Sequence[str] = "all",
           max_combined: int = core.MAX_COMBINED) -> dict[str, Any]:
    """Best value of each complete factor, on validation only, and the combined candidates
    (``baseline``, ``top1`` .. ``top<k>``, ``all_best``; duplicates kept once as ``same_as``)."""

    seeds = list(seeds)
    factors: dict[str, Any] = {}
    incomplete = []
    for name in core.study_names(studies):
        study = core.STUDIES[name]
        named = {p.name: [core.make_run(name, p.name, [p], seed=s, max_epochs=max_epochs)
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
    wanted: list[tuple[str, list[str]]] = [(core.BASELINE, [])]
    wanted += [(f"top{k}", improving[:k]) for k in range(1, min(max_combined, len(improving)) + 1)]
    if len(improving) > max_combined:
        wanted.append(("all_best", improving))
    candidates, skipped, seen = [], [], {}
    for cname, names in wanted:
        parts = {n: factors[n]["best"] for n in names}
        run = candidate_run(cname, parts, seed=seeds[0] if seeds else 0, max_epochs=max_epochs)
        why = core.conv_fits(run)
        if why:
            skipped.append({"name": cname, "parts": parts, "reason": why})
            continue
        blob = json.dumps(replace(run, seed=0).config(), sort_keys=True, default=str)
        if blob in seen:
            skipped.append({"name": cname, "parts": parts, "reason": f"same as {seen[blob]}"})
            continue
        seen[blob] = cname
        candidates.append({"name": cname, "parts": parts, "overrides": core.overrides(run)})
    return {"criterion": "mean validation accuracy over seeds (subjects "
                         f"{list(data.validation_subjects())}); test results are not read",
            "seeds": seeds, "max_epochs": max_epochs, "factors": factors,
            "incomplete_studies": incomplete, "improving": improving,
            "candidates": candidates, "skipped_candidates": skipped}


def combined_runs(selection: Mapping[str, Any]) -> list[Run]:
    """Every candidate of ``selection`` x its seeds (study ``combined``)."""
    return [candidate_run(c["name"], c["parts"], seed=s, max_epochs=selection["max_epochs"])
            for c in selection["candidates"] for s in selection["seeds"]]


def choose(selection: dict[str, Any], ds: HarDataset) -> dict[str, Any]:
    """Rank the combined candidates by validation accuracy (their ``combined`` runs must be
    stored) and add ``ranking`` and ``chosen`` (name and parts) to ``selection``."""
    named = {c["name"]: [candidate_run(c["name"], c["parts"], seed=s,
                                       max_epochs=selection["max_epochs"])
                         for s in selection["seeds"]] for c in selection["candidates"]}
    ranking = rank_points(named, ds)
    missing = sorted(set(named) - {r["point"] for r in ranking})
    if missing:
        raise RuntimeError(f"combined candidates {missing} are not done. Fix: run "
                           "`har ablations select` (it trains them)")
    best = ranking[0]["point"]
    chosen = next(c for c in selection["candidates"] if c["name"] == best)
    return {**selection, "ranking": ranking, "chosen": chosen}


def selection_path() -> Path:
    """``results/ablations/selection.json``."""
    return core.ablations_dir() / "selection.json"


def run_selection(ds: HarDataset, *, seeds: Iterable[int] = range(core.STUDY_SEEDS),
                  max_epochs: int = core.MAX_EPOCHS, workers: int = 1, run: bool = True,
                  log: Callable[[str], Any] = print, **execute_kw: Any) -> dict[str, Any]:
    """:func:`select`, then train the combined candidates (``run``; through
    :func:`~.studies.execute`, with ``workers`` and ``execute_kw``), :func:`choose` and
    write ``selection.json``; returns the selection."""
    sel = select(ds, seeds=seeds, max_epochs=max_epochs)
    if not sel["factors"]:
        raise RuntimeError("no study is complete for these seeds. Fix: run the one-factor "
                           "studies first (`har ablations run`)")
    if run:
        core.execute(combined_runs(sel), ds, workers=workers, log=log, **execute_kw)
    sel = choose(sel, ds)
    write_json_atomic(selection_path(), {"data": data.stamp(ds), **sel})
    return sel


def load_selection() -> dict[str, Any] | None:
    """The stored ``selection.json``, or None."""
    p = selection_path()
    return json.loads(p.read_text()) if p.exists() else None


def final_runs(selection: Mapping[str, Any], seeds: Iterable[int] = range(core.FINAL_SEEDS),
               reference: bool = True) -> list[Run]:
    """The chosen configuration over ``seeds`` (study ``final``), and with ``reference`` the
    paper's configuration (point ``baseline``) over the same seeds, unless it is the chosen one.
    The reference is reported beside the choice; it plays no part in choosing."""
    chosen = selection.get("chosen")
    if not chosen:
        raise RuntimeError("no configuration chosen yet. Fix: run `har ablations select` first")
    seeds = list(seeds)
    configs = [(chosen["name"], chosen["parts"])]
    if reference and chosen["name"] != core.BASELINE:
        configs.append((core.BASELINE, {}))
    return [candidate_run(name, parts, seed=s, max_epochs=selection["max_epochs"],
                          study=core.FINAL)
            for name, parts in configs for s in seeds]
