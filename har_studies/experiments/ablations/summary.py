"""Ablation study, report: ``results/ablations/summary.json``, its tables and figures.

One row per (study, point) in the zoo's row form with the validation numbers beside it, the
selection, the final rows and the compute spent (each trained run counted once).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from har_utils import config, data, evaluation
from har_utils.data import HarDataset
from har_utils.io import HarError, write_json_atomic

from .. import runner
from ..runner import Run
from . import studies as core
from .selection import load_selection, mean_std

RunResult = tuple[Run, dict[str, Any]]


# --- the study's results ------------------------------------------------------------------

def indexed_results(ds: HarDataset) -> tuple[list[RunResult], list[str]]:
    """Every run of the study's index with its stored result for the current configuration
    and data, and the names of those without one (another configuration or data; not stored)."""
    current: list[RunResult] = []
    missing: list[str] = []
    for name, entry in sorted(core.load_index().items()):
        run = Run(**entry["run"])
        result = runner.load(run, ds)
        if result is None:
            missing.append(name)
        else:
            current.append((run, result))
    return current, missing


def trained_best_epochs(results: Path) -> list[int]:
    """The best (kept) epoch of every run the study trained itself (not those reusing another
    name's run), read from the index and the store under the results folder ``results``."""
    out = []
    for name, entry in sorted(core.load_index(results).items()):
        path = Path(results) / "runs" / f"{entry['key']}.json"
        if path.exists():
            r = json.loads(path.read_text())
            if r.get("name") == name and r.get("study") == core.STUDY:
                out.append(int(r["best_epoch"]))
    return out


def test_row(results: Sequence[Mapping[str, Any]], y_true: np.ndarray, subjects: np.ndarray
             ) -> dict[str, Any]:
    """Seeds of one configuration in the zoo's row form: test accuracy and macro-F1 mean/std,
    a 95 % interval from resampling test subjects over the pooled predictions of all seeds,
    time, per-subject accuracy (mean over seeds)."""
    acc = np.array([r["test"]["accuracy"] for r in results])
    f1 = np.array([r["test"]["macro_avg"]["f1"] for r in results])
    n = len(results)
    preds = np.concatenate([np.asarray(r["y_pred"]) for r in results])
    low, high = evaluation.subject_bootstrap_ci(np.tile(y_true, n), preds, np.tile(subjects, n))
    return {"n_seeds": n, "accuracy_per_seed": [float(a) for a in acc],
            "accuracy_mean": float(acc.mean()),
            "accuracy_std": float(acc.std(ddof=1)) if n > 1 else 0.0,
            "macro_f1_mean": float(f1.mean()),
            "macro_f1_std": float(f1.std(ddof=1)) if n > 1 else 0.0,
            "ci95_subject_bootstrap": [low, high],
            "train_seconds_total": float(sum(runner.run_seconds(r) for r in results)),
            "wall_seconds_total": float(sum(r.get("wall_seconds", 0.0) for r in results)),
            "per_subject_accuracy_mean": {
                subj: float(np.mean([r["test"]["per_subject"][subj]["accuracy"]
                                     for r in results]))
                for subj in results[0]["test"]["per_subject"]},
            "data_source": results[0]["data"]["source_label"]}


def _point_order() -> dict[tuple[str, str], int]:
    order = {}
    for i, s in enumerate(core.STUDIES.values()):
        for j, p in enumerate(s.points):
            order[(s.name, p.name)] = 100 * i + j
    return order


def summarize(pairs: Sequence[RunResult], y_true: np.ndarray, subjects: np.ndarray
              ) -> list[dict[str, Any]]:
    """One row per (study, point): :func:`test_row` plus validation accuracy and loss
    mean/std, epochs, parameters, whether it is the factor's baseline, its overrides and how
    many of its seeds reuse a run trained under another name."""
    groups: dict[tuple[str, str], list[RunResult]] = {}
    for run, result in pairs:
        study, point, _ = core.parse_name(run.name)
        groups.setdefault((study, point), []).append((run, result))
    order = _point_order()
    rows = []
    for (study, point), group in sorted(groups.items(), key=lambda kv: (
            order.get(kv[0], 10_000), kv[0])):
        group = sorted(group, key=lambda rr: rr[0].seed)  # per-seed lists in seed order
        rs = [r for _, r in group]
        val = [core.validation_scores(r) for r in rs]
        acc, std = mean_std([v["validation_accuracy"] for v in val])
        row = {"model": group[0][0].model, "protocol": "subjects",
               "seeds": [run.seed for run, _ in group], **test_row(rs, y_true, subjects)}
        row.update({"study": study, "point": point,
                    "baseline": study in core.STUDIES
                    and core.STUDIES[study].baseline.name == point,
                    "val_accuracy_mean": acc, "val_accuracy_std": std,
                    "val_accuracy_per_seed": [v["validation_accuracy"] for v in val],
                    "val_loss_mean": float(np.mean([v["validation_loss"] for v in val])),
                    "epochs_run_mean": float(np.mean([r["epochs_run"] for r in rs])),
                    "best_epoch_mean": float(np.mean([r["best_epoch"] for r in rs])),
                    "train_seconds_mean": float(np.mean([runner.run_seconds(r) for r in rs])),
                    "parameters": int(rs[0]["parameters"]),
                    "overrides": core.overrides(group[0][0]),
                    "n_reused": sum(not core.trained_here(run, r) for run, r in group)})
        rows.append(row)
    return rows


def _row(summary: Mapping[str, Any], study: str, point: str) -> Mapping[str, Any] | None:
    return next((r for r in summary["rows"] if r["study"] == study and r["point"] == point), None)


def _final_row(rows: list[dict[str, Any]], sel: Mapping[str, Any] | None, chosen: bool
               ) -> Mapping[str, Any] | None:
    """The ``final`` row of the chosen configuration (``chosen``) or of the paper's (the
    reference: the same row when the paper's configuration was chosen)."""
    if not sel or not sel.get("chosen"):
        return None
    point = sel["chosen"]["name"] if chosen else core.BASELINE
    return _row({"rows": rows}, core.FINAL, point)


def summary_path() -> Path:
    """``results/ablations/summary.json``."""
    return core.ablations_dir() / "summary.json"


def write_summary(ds: HarDataset) -> Path:
    """``results/ablations/summary.json``; a summary already there is kept (:class:`HarError`)
    rather than replaced by an empty study when none of the indexed runs is stored."""
    current, stale = indexed_results(ds)
    if stale and not current and summary_path().exists():
        raise HarError(
            summary_path(), f"none of the {len(stale)} runs in {config.shown(core.index_path())} "
            f"is stored for the current code and data ({data.stamp(ds)['source_label']}), so "
            "the summary would describe an empty study; it was left as it was",
            "`python -m har_studies.experiments.rekey` brings runs stored under older keys to "
            "the current ones; on other data, or to train the study anew, `make ablations`")
    rows = summarize(current, ds.test.y, ds.test.subject)
    trained = [r for run, r in current if core.trained_here(run, r)]
    sel = load_selection()
    doc = {"data": data.stamp(ds), "base_model": core.BASE_MODEL,
           "protocol": f"subjects: fit on 17 training subjects, early stopping on validation "
                       f"subjects {list(data.validation_subjects())} (patience "
                       f"{core.PATIENCE}, best weights restored); selection on validation "
                       "only; test reported",
           "studies": {s.name: {"factor": s.factor, "baseline": s.baseline.name,
                                "points": {p.name: p.overrides() for p in s.points}}
                       for s in core.STUDIES.values()},
           "rows": rows,
           "selection": sel,
           "final": _final_row(rows, sel, chosen=True),
           "final_reference": _final_row(rows, sel, chosen=False),
           "n_runs": len(current), "n_trained_runs": len(trained),
           "train_seconds_total": float(sum(runner.run_seconds(r) for r in trained)),
           "wall_seconds_total": float(sum(r["wall_seconds"] for r in trained)),
           "parallel_workers": sorted({int(r["threads"]["workers"]) for r in trained
                                       if r.get("threads", {}).get("workers")}),
           "cpu_counts": sorted({int(r["cpu_count"]) for r in trained if r.get("cpu_count")}),
           "stale_runs_left_out": stale}
    return write_json_atomic(summary_path(), doc)


def load_summary(path: Path | None = None) -> dict[str, Any] | None:
    """The stored ``summary.json``, or None."""
    path = summary_path() if path is None else Path(path)
    return json.loads(path.read_text()) if path.exists() else None


# --- tables and figures -------------------------------------------------------------------

def studies_table() -> Any:
    """One row per study: the factor, its points (baseline starred) and what each changes."""
    import pandas as pd

    return pd.DataFrame([{"study": s.name, "factor": s.factor,
                          "points": core.points_text(s),
                          "changes": "; ".join(f"{p.name}: {p.overrides()}" for p in s.points
                                               if not p.baseline)}
                         for s in core.STUDIES.values()])


def _accuracy_cells(r: Mapping[str, Any]) -> dict[str, Any]:
    """A summary row's accuracy columns as shown in the tables: validation and test accuracy
    (mean ± std over seeds, %), the test interval from resampling subjects, test macro F1."""
    def pm(col: str) -> str:
        m, s = 100 * r[f"{col}_mean"], 100 * r[f"{col}_std"]
        return f"{m:.2f} ± {s:.2f}" if r["n_seeds"] > 1 else f"{m:.2f} (one seed)"
    low, high = r["ci95_subject_bootstrap"]
    return {"val acc % (mean ± std)": pm("val_accuracy"),
            "test acc % (mean ± std)": pm("accuracy"),
            "test 95 % CI (subjects)": f"{100 * low:.2f}-{100 * high:.2f}",
            "test macro F1": round(r["macro_f1_mean"], 3)}


def table(summary: Mapping[str, Any] | None, study: str | None = None) -> Any:
    """The summary as a table (one row per point; ``study`` filters): validation and test
    accuracy in %, mean ± std over seeds, the test interval, epochs, time and parameters."""
    import pandas as pd

    cols = ["study", "point", "baseline", "n_seeds", "val acc % (mean ± std)",
            "test acc % (mean ± std)", "test 95 % CI (subjects)", "test macro F1",
            "epochs (mean)", "train s / run", "parameters"]
    if not summary:
        return pd.DataFrame(columns=cols)
    out = [{"study": r["study"], "point": r["point"], "baseline": r["baseline"],
            "n_seeds": r["n_seeds"], **_accuracy_cells(r),
            "epochs (mean)": round(r["epochs_run_mean"], 1),
            "train s / run": round(r["train_seconds_mean"], 1),
            "parameters": r["parameters"]}
           for r in summary["rows"] if study is None or r["study"] == study]
    return pd.DataFrame(out, columns=cols)


def selection_table(selection: Mapping[str, Any] | None) -> Any:
    """Per factor: baseline, best point on validation, gain in points; and the candidates'
    ranking when chosen. Two tables (factors, candidates)."""
    import pandas as pd

    if not selection:
        return pd.DataFrame(), pd.DataFrame()
    f = pd.DataFrame([{"study": n, "factor": v["factor"], "baseline": v["baseline"],
                       "best on validation": v["best"], "gain (pp)": round(v["gain_pp"], 2)}
                      for n, v in selection["factors"].items()])
    parts = {c["name"]: c["parts"] for c in selection["candidates"]}
    c = pd.DataFrame([{"candidate": r["point"], "n_seeds": r["n_seeds"],
                       "val acc %": round(100 * r["val_accuracy_mean"], 2),
                       "val std %": round(100 * r["val_accuracy_std"], 2),
                       "parts": ", ".join(f"{k}={v}" for k, v in parts[r["point"]].items())
                       or "(the paper's configuration)",
                       "chosen": r["point"] == selection.get("chosen", {}).get("name")}
                      for r in selection.get("ranking", [])])
    return f, c


def factor_table(summary: Mapping[str, Any] | None) -> Any:
    """One row per complete factor: its baseline and best point on validation, with validation
    and test accuracy (%); test columns are reported, never used to choose."""
    import pandas as pd

    cols = ["factor", "baseline", "best on validation", "gain on validation (pp)",
            "val acc % (baseline -> best)", "test acc % (baseline -> best)",
            "other values: val minus baseline (pp)", "seeds per point"]
    factors = ((summary or {}).get("selection") or {}).get("factors", {})
    studies = core.STUDIES
    out = []
    for name in [n for n in studies if n in factors] + [n for n in factors if n not in studies]:
        f = factors[name]
        base, best = _row(summary, name, f["baseline"]), _row(summary, name, f["best"])
        if base is None or best is None:
            continue
        val = {r["point"]: r["val_accuracy_mean"] for r in f["ranking"]}
        order = [p.name for p in studies[name].points] if name in studies else list(val)
        others = ", ".join(f"{p}: {100 * (val[p] - val[f['baseline']]):+.2f}"
                           for p in order if p in val and p not in (f["baseline"], f["best"]))
        out.append({"factor": f["factor"], "baseline": f["baseline"],
                    "best on validation": f["best"],
                    "gain on validation (pp)": round(f["gain_pp"], 2),
                    "val acc % (baseline -> best)":
                        f"{100 * base['val_accuracy_mean']:.2f} -> "
                        f"{100 * best['val_accuracy_mean']:.2f}",
                    "test acc % (baseline -> best)":
                        f"{100 * base['accuracy_mean']:.2f} -> {100 * best['accuracy_mean']:.2f}",
                    "other values: val minus baseline (pp)": others or "-",
                    "seeds per point": int(min(base["n_seeds"], best["n_seeds"]))})
    return pd.DataFrame(out, columns=cols)


def outcome_table(summary: Mapping[str, Any] | None) -> Any:
    """The paper's configuration against the chosen one (the ``final`` runs, same seeds) and
    the distance to :data:`~.studies.TARGET_ACCURACY`; before the final runs, the paper's row
    is the studies' shared baseline."""
    import pandas as pd

    cols = ["configuration", "data", "seeds", "val acc % (mean ± std)",
            "test acc % (mean ± std)", "test acc % per seed", "test 95 % CI (subjects)",
            "test macro F1", f"test minus target {100 * core.TARGET_ACCURACY:g} % (pp)"]
    if not summary:
        return pd.DataFrame(columns=cols)
    sel = summary.get("selection") or {}
    final, ref = summary.get("final"), summary.get("final_reference")
    first = next(iter(core.STUDIES.values()))
    base = _row(summary, first.name, first.baseline.name)
    if final is not None and ref is not None and final["point"] == ref["point"]:
        rows = [(f"chosen: {final['point']} (the paper's configuration)", final)]
    else:
        rows = ([("the paper's configuration", ref)] if ref is not None else
                [("the paper's configuration (the studies' baseline)", base)] if base else [])
        if final is not None:
            parts = (sel.get("chosen") or {}).get("parts") or {}
            label = ", ".join(f"{k}={v}" for k, v in parts.items())
            rows.append((f"chosen: {final['point']} ({label})", final))
    out = [{"configuration": name, "data": summary["data"]["source_label"],
            "seeds": ",".join(map(str, r.get("seeds") or [])) or r["n_seeds"],
            **_accuracy_cells(r),
            "test acc % per seed": ", ".join(f"{100 * a:.2f}" for a in r["accuracy_per_seed"]),
            cols[-1]: round(100 * (r["accuracy_mean"] - core.TARGET_ACCURACY), 2)}
           for name, r in rows]
    return pd.DataFrame(out, columns=cols)


def plot_study(summary: Mapping[str, Any], study: str) -> Any:
    """The figure of one factor (:func:`factor_figure`)."""
    import pandas as pd

    rows = pd.DataFrame([r for r in summary["rows"] if r["study"] == study])
    label = core.STUDIES[study].factor if study in core.STUDIES else study
    n = int(rows["n_seeds"].max()) if len(rows) else 0
    return factor_figure(rows, f"{label} (up to {n} seed{'s' * (n != 1)} per point)")


def factor_figure(rows: Any, title: str) -> Any:
    """One factor: validation accuracy per point (the selection criterion) beside test
    accuracy (reported only); ``rows`` as in ``results/ablations/summary.json``."""

    import matplotlib.pyplot as plt
    import seaborn as sns

    colors = sns.color_palette("colorblind", 2)
    x = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(max(4.5, 1.3 * len(rows) + 2), 3.8))
    for dx, col, label, c, marker in ((-0.08, "val_accuracy", "validation subjects (chooses)",
                                       colors[0], "o"),
                                      (0.08, "accuracy", "test subjects (reported only)",
                                       colors[1], "s")):
        mean = rows[f"{col}_mean"].to_numpy(float)
        std = np.nan_to_num(rows[f"{col}_std"].to_numpy(float))
        ax.errorbar(x + dx, mean, yerr=std, fmt=marker, color=c, capsize=4, ms=6, label=label)
        seeds = rows.get(f"{col}_per_seed")
        if seeds is not None:  # every seed, small and hollow, beside its mean
            for xi, vals in zip(x, seeds):
                if isinstance(vals, (list, tuple)) and len(vals) > 1:
                    ax.scatter(np.full(len(vals), xi + 2.5 * dx), vals, s=12, marker=marker,
                               facecolors="none", edgecolors=c, linewidths=0.8)
    base = rows["baseline"].to_numpy(bool)
    if base.any():
        ax.axhline(float(rows.loc[base, "val_accuracy_mean"].iloc[0]), color=colors[0], lw=0.8,
                   ls=":", label="baseline (validation)")
    ax.set_xticks(x, [f"{p}\n(n={n})" for p, n in zip(rows["point"], rows["n_seeds"])])
    for tick, b in zip(ax.get_xticklabels(), base):
        tick.set_fontweight("bold" if b else "normal")
    ax.set(ylabel="accuracy", title=title)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig
