"""Ablation study: cost estimates, the listing of studies, and the command line.

Command line (``python -m har_utils.ablations``)::

    run --study filters --seeds 0,1,2 --max-epochs 100 --workers 2
    select --seeds 0,1,2 --max-epochs 100 --workers 2
    final --seeds 0,1,2,3,4 --max-epochs 100 --workers 2
    summary
    list

``run``: the one-factor studies; ``select``: choose on validation, train the combined
candidates (``selection.json``); ``final``: the chosen configuration and the paper's over the
same seeds, tested once; ``summary``: ``results/ablations/summary.json``; ``list``: studies,
runs, what is stored and the estimated cost of the rest. Every run goes through the one
experiment runner (``results/runs/<key>.json``); nothing is committed for you.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import config, data
from ..data import HarDataset
from . import ablations as core
from . import ablations_report as report
from . import ablations_select as selection
from . import runner
from .runner import Run


def _baseline_results(ds: HarDataset, model: str) -> list[dict[str, Any]]:
    """Stored results of ``model`` at its defaults under the study's protocol (the zoo's
    ``subjects`` runs; for the base model, the studies' baseline), seeds 0..FINAL_SEEDS-1."""
    runs = [core.ablation_run("baseline", model, seed=s, model=model)
            for s in range(core.FINAL_SEEDS)]
    return [r for r in (runner.load(run, ds) for run in runs) if r is not None]


def typical_epochs(ds: HarDataset | None = None, model: str = core.BASE_MODEL) -> float | None:
    """Mean epochs run by the stored runs of ``model`` at its defaults under this protocol
    (None without ``ds`` or without such runs)."""
    epochs = [r["epochs_run"] for r in _baseline_results(ds, model)] if ds is not None else []
    return float(np.mean(epochs)) if epochs else None


def typical_overhead(ds: HarDataset | None = None, model: str = core.BASE_MODEL) -> float:
    """Mean seconds such a run spent outside ``fit`` (building, predicting, scoring); 0 without
    ``ds`` or runs."""
    runs = _baseline_results(ds, model) if ds is not None else []
    extra = [r["wall_seconds"] - r["train_seconds"] for r in runs]
    return float(np.mean(extra)) if extra else 0.0


def estimate_seconds(runs: Sequence[Run], max_epochs: int = core.MAX_EPOCHS,
                     ds: HarDataset | None = None) -> dict[str, Any] | None:
    """Rough serial cost of ``runs`` from ``results/zoo/cost_table.json`` (seconds per epoch of
    each run's model at the paper's sizes) and the typical epoch count of the stored baseline
    runs on ``ds`` (``max_epochs`` without them); None without a cost table. Factors that
    change the cost (filters, batch size, ...) are not modelled."""
    path = config.results_dir() / "zoo" / "cost_table.json"
    if not path.exists():
        return None
    table = json.loads(path.read_text())
    models = {m["model"]: m for m in table["models"]}
    epochs = min(typical_epochs(ds) or max_epochs, max_epochs)
    overhead = typical_overhead(ds)
    total = upper = 0.0
    for run in runs:
        m = models.get(run.model) or models[core.BASE_MODEL]
        first, per = overhead + m["first_epoch_s"], m["s_per_epoch"]
        total += first + per * (epochs - 1)
        upper += first + per * (min(run.epochs, max_epochs) - 1)
    return {"jobs": len(runs), "typical_epochs": epochs, "overhead_s": overhead,
            "seconds_typical": total, "seconds_upper_bound": upper, "cost_table": str(path),
            "cpu_count": table.get("cpu_count")}


def full_study_estimate(ds: HarDataset, seeds: Sequence[int] = tuple(range(core.STUDY_SEEDS)),
                        max_epochs: int = core.MAX_EPOCHS, final_seeds: int = core.FINAL_SEEDS
                        ) -> dict[str, Any] | None:
    """Estimated serial cost of the whole study from scratch: the distinct one-factor runs,
    plus at most ``MAX_COMBINED`` new combined candidates x seeds (``baseline`` and ``top1``
    reuse one-factor runs) and the final seeds beyond ``seeds`` (the others reuse the chosen
    candidate's runs), each at the mean cost of a one-factor run. None without a cost table."""
    est = estimate_seconds(core.unique_runs(core.plan("all", seeds, max_epochs), ds),
                           max_epochs, ds)
    if est is None:
        return None
    extra = core.MAX_COMBINED * len(seeds) + max(0, final_seeds - len(seeds))
    scale = 1 + extra / est["jobs"]
    return {**est, "one_factor_runs": est["jobs"], "extra_runs": extra,
            "runs": est["jobs"] + extra, "seconds_typical": est["seconds_typical"] * scale,
            "seconds_upper_bound": est["seconds_upper_bound"] * scale}


def listing(ds: HarDataset, seeds: Sequence[int] = tuple(range(core.STUDY_SEEDS)),
            max_epochs: int = core.MAX_EPOCHS) -> Any:
    """Per study: points, runs, distinct configurations new to it, how many of those are not
    stored yet, and their estimated cost (a table)."""
    import pandas as pd

    c = runner.checksum(ds)
    rows, seen = [], set()
    for name, study in core.STUDIES.items():
        runs = core.plan(name, seeds, max_epochs)
        new = core.unique_runs([r for r in runs if r.key(c) not in seen], ds)
        seen.update(r.key(c) for r in runs)
        missing = [r for r in new if runner.load(r, ds) is None]
        est = estimate_seconds(missing, max_epochs, ds)
        rows.append({"study": name, "factor": study.factor, "points": core.points_text(study),
                     "jobs": len(runs), "new configurations": len(new),
                     "missing": len(missing),
                     "est. hours (missing, serial)": None if est is None else
                     round(est["seconds_typical"] / 3600, 2)})
    return pd.DataFrame(rows)


def _seeds(text: str) -> list[int]:
    return [int(s) for s in text.split(",") if s.strip()]


def main(argv: list[str] | None = None) -> int:
    """``run``, ``select``, ``final``, ``summary`` or ``list`` (see the module docstring)."""
    ap = argparse.ArgumentParser(prog="python -m har_utils.ablations", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--source", default="auto")
    common.add_argument("--max-epochs", type=int, default=core.MAX_EPOCHS)
    pool = argparse.ArgumentParser(add_help=False)
    pool.add_argument("--workers", type=int, default=2,
                      help="parallel runs, each with cpu_count // workers threads (default 2: "
                           "the committed runs' setting)")
    r = sub.add_parser("run", parents=[common, pool], help="the one-factor studies")
    r.add_argument("--study", default="all", help="'all', a study or a comma list")
    r.add_argument("--seeds", default=",".join(map(str, range(core.STUDY_SEEDS))))
    r.add_argument("--force", action="store_true")
    s = sub.add_parser("select", parents=[common, pool],
                       help="choose on validation, train the combined candidates")
    s.add_argument("--seeds", default=",".join(map(str, range(core.STUDY_SEEDS))))
    s.add_argument("--no-run", action="store_true", help="only rank what is stored")
    f = sub.add_parser("final", parents=[common, pool],
                       help="the chosen configuration and the paper's, same seeds, tested")
    f.add_argument("--seeds", default=",".join(map(str, range(core.FINAL_SEEDS))))
    sub.add_parser("summary", parents=[common], help="write results/ablations/summary.json")
    li = sub.add_parser("list", parents=[common], help="studies, runs and estimated cost")
    li.add_argument("--seeds", default=",".join(map(str, range(core.STUDY_SEEDS))))
    args = ap.parse_args(argv)
    ds = data.load_dataset(args.source)

    def log(line: str) -> None:
        print(line, flush=True)
    if args.cmd == "run":
        core.execute(core.plan(args.study, _seeds(args.seeds), args.max_epochs), ds,
                     workers=args.workers, force=args.force, log=log)
    elif args.cmd == "select":
        sel = selection.run_selection(ds, seeds=_seeds(args.seeds), max_epochs=args.max_epochs,
                                      workers=args.workers, run=not args.no_run, log=log)
        print(f"chosen on validation: {sel['chosen']['name']} {sel['chosen']['parts']}")
    elif args.cmd == "final":
        sel = selection.load_selection()
        if sel is None:
            raise SystemExit("no selection.json yet. Fix: run `python -m har_utils.ablations "
                             "select` first")
        core.execute(selection.final_runs(sel, _seeds(args.seeds)), ds, workers=args.workers,
                     log=log)
    elif args.cmd == "list":
        import pandas as pd

        seeds = _seeds(args.seeds)
        with pd.option_context("display.max_colwidth", 60, "display.width", 200):
            print(listing(ds, seeds, args.max_epochs).to_string(index=False))
        est = full_study_estimate(ds, seeds, args.max_epochs)
        if est:
            print(f"the full study: {est['runs']} distinct runs ({est['one_factor_runs']} "
                  f"one-factor, up to {est['extra_runs']} combined and final), about "
                  f"{est['seconds_typical'] / 3600:.1f} h serial at {est['typical_epochs']:.1f} "
                  f"epochs per run (upper bound {est['seconds_upper_bound'] / 3600:.1f} h at "
                  f"{args.max_epochs}), from {est['cost_table']} ({est['cpu_count']} CPUs)")
        else:
            print("no results/zoo/cost_table.json: `make zoo-cost` measures the cost per epoch")
        return 0
    print(f"wrote {report.write_summary(ds)}")
    return 0
