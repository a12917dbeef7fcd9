"""The tables notebook 09 and the beyond block show from the beyond study's committed results
(``results/beyond/``: ``choice.json``, ``summary.json``); read and reshaped, never computed."""

from __future__ import annotations

from typing import Any

import pandas as pd


def beyond_candidates_table(choice: dict[str, Any] | None) -> pd.DataFrame:
    """Every candidate of the beyond study (``choice.json``), losers included, with its
    screen and all-fold scores; the chosen one marked, best first within each family."""
    chosen = ((choice or {}).get("chosen") or {}).get("name")
    rows = [{"family": e["family"], "candidate": name + (" (chosen)" if name == chosen else ""),
             "round": e.get("round", "screen"), "note": e["note"],
             "screen (3 folds)": (e.get("screen") or {}).get("score"),
             "all 7 folds": (e.get("all") or {}).get("score"),
             "epochs": (e.get("all") or e.get("screen") or {}).get("epochs")}
            for name, e in (choice or {}).get("candidates", {}).items()]
    if not rows:
        return pd.DataFrame(columns=["family", "candidate", "round", "note", "screen (3 folds)",
                                     "all 7 folds", "epochs"])
    return pd.DataFrame(rows).sort_values(["family", "screen (3 folds)"],
                                          ascending=[True, False], ignore_index=True)


def beyond_test_table(summary: dict[str, Any] | None) -> pd.DataFrame:
    """The beyond study's test rows: the chosen configuration and each family's best, then
    protocol cv's references; mean ± std, subject-bootstrap interval, subjects 9 and 10."""
    def row(configuration: str, runs: str, r: dict[str, Any], ci: str) -> dict[str, Any]:
        return {"configuration": configuration, "runs": runs,
                "test accuracy % (mean ± std)":
                    f"{100 * r['accuracy_mean']:.2f} ± {100 * r['accuracy_std']:.2f}",
                "95 % CI (subjects)": ci,
                "subject 9 %": 100 * r["per_subject_accuracy_mean"]["9"],
                "subject 10 %": 100 * r["per_subject_accuracy_mean"]["10"]}
    s = summary or {}
    chosen = (s.get("chosen") or {}).get("name")
    rows = []
    for name, r in s.get("tested", {}).items():
        low, high = r["ci95_subject_bootstrap"]
        rows.append(row(name + (" (chosen)" if name == chosen else ""),
                        f"{r['n']} x {r['ensemble_seeds']} seed(s)", r,
                        f"{100 * low:.2f}-{100 * high:.2f}"))
    rows += [row(f"{m} (protocol cv, reference)", "protocol cv's final seeds", r, "-")
             for m, r in (s.get("references") or {}).items() if r]
    return pd.DataFrame(rows)


def like_for_like_table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The like-for-like comparisons of the beyond summary as a table."""
    return pd.DataFrame([{
        "chosen": f"{r['comparison']} ({r['chosen_models']})", "vs": r["reference"],
        "reference models": f"{r['reference_models']}: {r['reference_how']}",
        "mean difference (pp)": f"{100 * r['mean_difference']:+.2f}",
        "95 % CI (pp)": "{:+.2f} to {:+.2f}".format(*(100 * x for x in
                                                      r["ci95_paired_subject_bootstrap"])),
        "subjects better / worse": f"{r['wins']} / {r['losses']}",
        "Wilcoxon p": f"{r['wilcoxon_p']:.3f}", "Wilcoxon p, Holm": f"{r['wilcoxon_p_holm']:.3f}"}
        for r in rows])
