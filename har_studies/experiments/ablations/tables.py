"""The ablation study's tables and figure for notebook 07 and docs/ablations.md, read from its
results (``results/ablations/cv_choice.json``, ``cv_summary.json``); never computed here."""

from __future__ import annotations

from typing import Any

import pandas as pd

from .converged import BASELINE, label, points


def _order(name: str) -> int:
    """A point's place in the study's order (the paper's configuration first)."""
    order = [BASELINE, *(label(*x) for x in points())]
    return order.index(name) if name in order else len(order)


def _pp(x: float | None) -> float | None:
    return None if x is None else round(float(x), 2)


def screen_table(choice: dict[str, Any]) -> pd.DataFrame:
    """Every point (losers included): its nested score on the screen's folds and, where it
    went on, on all 7 folds, each against the paper's configuration, and its epoch count."""
    stages = choice.get("stages") or {}
    confirm = stages.get("confirm") or {}
    base3 = choice["points"][BASELINE].get("score")
    base7 = (confirm.get(BASELINE) or {}).get("score")
    chosen = (choice.get("chosen") or {}).get("name")
    rows = []
    for name, e in sorted(choice["points"].items(), key=lambda x: _order(x[0])):
        c = confirm.get(name) or {}
        rows.append({
            "point": name + (" (chosen)" if name == chosen else ""),
            "factor": e["factor"],
            f"screen ({choice['folds']} folds) %": _pp(None if e.get("score") is None
                                                      else 100 * e["score"]),
            "vs paper (pp)": _pp(None if name == BASELINE or e.get("score") is None
                                 or base3 is None else 100 * (e["score"] - base3)),
            "all 7 folds %": _pp(None if c.get("score") is None else 100 * c["score"]),
            "vs paper, 7 folds (pp)": _pp(None if name == BASELINE or c.get("score") is None
                                          or base7 is None else 100 * (c["score"] - base7)),
            "epochs": c.get("epochs", e.get("epochs"))})
    return pd.DataFrame(rows)


def combination_table(choice: dict[str, Any]) -> pd.DataFrame:
    """The combinations of the confirmed factors, on all 7 folds."""
    stages = choice.get("stages") or {}
    base7 = ((stages.get("confirm") or {}).get(BASELINE) or {}).get("score")
    chosen = (choice.get("chosen") or {}).get("name")
    return pd.DataFrame([{
        "combination": name + (" (chosen)" if name == chosen else ""),
        "all 7 folds %": _pp(None if e.get("score") is None else 100 * e["score"]),
        "vs paper, 7 folds (pp)": _pp(None if e.get("score") is None or base7 is None
                                      else 100 * (e["score"] - base7)),
        "epochs": e.get("epochs")} for name, e in (stages.get("combination") or {}).items()])


def finals_table(summary: dict[str, Any]) -> pd.DataFrame:
    """The chosen configuration and the paper's over the same seeds, tested once."""
    rows = []
    for name, r in (summary.get("finals") or {}).items():
        low, high = r["ci95_subject_bootstrap"]
        rows.append({"configuration": name, "seeds": len(r["seeds"]), "epochs": r["epochs"],
                     "test accuracy % (mean ± std)": f"{100 * r['accuracy_mean']:.2f} ± "
                                                     f"{100 * r['accuracy_std']:.2f}",
                     "95 % CI (subjects)": f"{100 * low:.2f}-{100 * high:.2f}",
                     "subject 9 %": round(100 * r["per_subject_accuracy_mean"]["9"], 2),
                     "subject 10 %": round(100 * r["per_subject_accuracy_mean"]["10"], 2),
                     "backend": ", ".join(r["backends"]), "data": r["data_source"]})
    return pd.DataFrame(rows)


def undertraining_table(summary: dict[str, Any]) -> pd.DataFrame:
    """What early stopping hid: each point's effect in the retired early-stopping study
    (TensorFlow, validation subjects, stopped after a few epochs) beside its effect trained to
    convergence (JAX, folds), in points against each protocol's own baseline."""
    return pd.DataFrame([{
        "point": r["point"],
        "early stopping: validation (pp)": _pp(r.get("early_stopping_validation_pp")),
        "early stopping: test (pp)": _pp(r.get("early_stopping_test_pp")),
        "early stopping: epoch kept": _pp(r.get("early_stopping_epochs")),
        "converged: screen (pp)": _pp(r.get("converged_screen_pp")),
        "converged: 7 folds (pp)": _pp(r.get("converged_7_folds_pp")),
        "converged: epochs": r.get("converged_epochs")}
        for r in sorted(summary.get("undertraining", []), key=lambda r: _order(r["point"]))])


def screen_figure(choice: dict[str, Any]) -> Any:
    """Each point's screen score against the paper's configuration (bars), the points that
    went on to all 7 folds marked."""
    import matplotlib.pyplot as plt

    t = screen_table(choice)
    t = t[t["factor"] != BASELINE].dropna(subset=["vs paper (pp)"]).sort_values("vs paper (pp)")
    went_on = t["all 7 folds %"].notna()
    fig, ax = plt.subplots(figsize=(8, 0.3 * len(t) + 1.5))
    ax.barh(t["point"], t["vs paper (pp)"], color=["tab:green" if w else "tab:gray"
                                                     for w in went_on])
    ax.axvline(0, color="k", lw=1)
    ax.set(xlabel=f"screen score against the paper's configuration (points; nested, "
                  f"{choice['folds']} folds of training subjects, {choice['budget']} epochs)",
           title=f"Ablations trained to convergence ({choice['data']['source_label']}); "
                 "green: confirmed on 7 folds")
    fig.tight_layout()
    return fig
