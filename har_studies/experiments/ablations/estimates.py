"""Cost estimates of the ablation study's runs and the listing of its studies, runs and what is
stored (``har ablations list``; :mod:`har_studies.cli`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from har_utils import config
from har_utils.data import HarDataset

from .. import runner
from ..runner import Run
from . import studies as core


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
    """Rough serial cost of ``runs`` from the zoo's cost table and the stored baseline runs'
    typical epoch count; None without a cost table."""
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
    """Estimated serial cost of the whole study from scratch (one-factor, combined and final
    runs at the mean cost of a one-factor run); None without a cost table."""

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
