"""The tables notebook 06 and the README blocks show from the studies' committed results
(``results/cv/summary.json``, ``results/zoo/summary.json``); this module only reads and
reshapes them, so the notebooks need no study code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from . import config
from .paper import NOT_RERUN, comparison_rows, paper_row

#: The zoo's models in the order of its table (``har_studies.experiments.zoo.ZOO``).
ZOO_MODELS = ("cnn_lstm_paper", "cnn_lstm_sequential", "cnn", "lstm", "deepconvlstm",
              "isplinception", "logreg_features")


def backend_label(row: dict[str, Any]) -> str:
    """The backend(s) a summary row trained on, e.g. ``jax 0.10.2``."""
    return ", ".join(row.get("backends") or []) or "-"


def fixed_budget_reading(model: str = "cnn_lstm_paper", root: Path | None = None
                         ) -> dict[str, Any] | None:
    """The zoo's runs of ``model`` under the paper's own protocol (fixed budget, test only
    watched) at their final epoch: logged training and test accuracy, averaged over seeds,
    from the zoo summary's ``fixed_budget`` row. ``root``: default the committed
    ``results/``, whatever the profile; None if there is no such row."""
    root = config.COMMITTED_RESULTS_DIR if root is None else Path(root)
    summary = root / "zoo" / "summary.json"
    rows = json.loads(summary.read_text())["rows"] if summary.exists() else []
    r = next((r for r in rows if r["model"] == model and r["protocol"] == "fixed_budget"), None)
    if r is None:
        return None
    return {"epochs": max(r["epochs"]), "n_seeds": r["n_seeds"], "seeds": r["seeds"],
            "train_accuracy_logged": r["train_accuracy_logged_mean"],
            "test_accuracy": r["accuracy_mean"], "backend": backend_label(r),
            "data": r["data_source"]}


def _row_note(r: dict[str, Any]) -> str:
    """The note beside one protocol-cv row: the choice, reductions and seeds still missing."""
    chosen = (f"C = {r['chosen']:g}" if r["model"] == "logreg_features"
              else f"{r['epochs']} epochs")
    ens = r.get("ensemble_accuracy")
    notes = [f"{chosen} chosen on {r['folds']} folds of training subjects, then all 21"
             + ("" if ens is None else f"; ensemble of the seeds {100 * ens:.2f} %")
             + (f"; {', '.join(r['devices'])}" if r.get("devices") != ["CPU"] else "")]
    if r["model"] == "logreg_features":
        notes.append("deterministic, one fit; " + ("the official 561 features" if "official" in
                                                    r["data_source"] else
                                                    "our 339 window features, not the official 561"))
    elif r.get("planned_seeds", 3) < 3:
        notes.append(f"{r['planned_seeds']} final seed, {r['folds']} folds and a budget of "
                     f"{r.get('budget', '?')} epochs for cost (results/cv/cost_table.csv)")
    if r["n_seeds"] < r.get("planned_seeds", r["n_seeds"]):
        notes.append(f"{r['n_seeds']} of {r['planned_seeds']} planned seeds so far "
                     "(`make cv` resumes)")
    return "; ".join(notes)


def zoo_table(summary: dict[str, Any] | None) -> pd.DataFrame:
    """Table II as re-run by the zoo: one row per model from protocol cv beside the paper's
    number (a model not run yet says so), then the rows not re-run."""
    cols = ["model", "protocol", "backend", "paper row", "paper reports %", "n_seeds",
            "accuracy % (mean ± std)", "95 % CI (subjects)", "macro F1", "data", "note"]
    if not summary:
        return pd.DataFrame(columns=cols)
    by = {r["model"]: r for r in summary["rows"] if r["protocol"] == "cv"}
    rank = {m: i for i, m in enumerate(ZOO_MODELS)}
    rows = []
    comparison = comparison_rows().set_index("id")
    for model in sorted({*ZOO_MODELS, *by}, key=lambda m: (rank.get(m, len(rank)), m)):
        label, value = paper_row(model, table=comparison)
        row = {"model": model, "protocol": "cv", "paper row": label, "paper reports %": value}
        r = by.get(model)
        if r is None:
            rows.append(row | {"backend": "-", "n_seeds": 0, "accuracy % (mean ± std)": "-",
                               "95 % CI (subjects)": "-", "macro F1": None, "data": "-",
                               "note": "not run yet (protocol cv's cost table; `make cv` runs it)"})
            continue
        low, high = r["ci95_subject_bootstrap"]
        spread = f" ± {100 * r['accuracy_std']:.2f}" if r["n_seeds"] > 1 else " (one seed)"
        rows.append(row | {
            "backend": backend_label(r), "n_seeds": r["n_seeds"],
            "accuracy % (mean ± std)": f"{100 * r['accuracy_mean']:.2f}{spread}",
            "95 % CI (subjects)": f"{100 * low:.2f}-{100 * high:.2f}",
            "macro F1": round(r["macro_f1_mean"], 4), "data": r["data_source"],
            "note": _row_note(r)})
    for label, (rid, reason) in NOT_RERUN.items():
        rows.append({"model": "-", "protocol": "not re-run", "backend": "-", "paper row": label,
                     "paper reports %": paper_row(None, rid, comparison)[1], "n_seeds": 0,
                     "accuracy % (mean ± std)": "-", "95 % CI (subjects)": "-", "macro F1": None,
                     "data": "-", "note": f"not re-run: {reason}; reported number only"})
    return pd.DataFrame(rows, columns=cols)


def paper_protocol_table(summary: dict[str, Any] | None) -> pd.DataFrame:
    """The paper's protocol read two ways: the fixed budget at the final epoch (no choice made
    on the test set) and the epoch chosen on the test set (the inflation)."""
    by = {(r["model"], r["protocol"]): r for r in (summary or {}).get("rows", [])}
    rows = []
    for (model, protocol), r in by.items():
        if protocol != "fixed_budget":
            continue
        best = by.get((model, "best_on_test"))
        spread = lambda x: (f"{100 * x['accuracy_mean']:.2f}"  # noqa: E731
                            + (f" ± {100 * x['accuracy_std']:.2f}" if x["n_seeds"] > 1 else ""))
        rows.append({
            "model": model, "backend": backend_label(r),
            "seeds": f"{r['n_seeds']} of {r['planned_seeds']}",
            "epochs": ", ".join(map(str, r["epochs"])),
            "fixed budget, final epoch % (mean ± std)": spread(r),
            "95 % CI (subjects)": "{:.2f}-{:.2f}".format(
                *(100 * v for v in r["ci95_subject_bootstrap"])),
            "training accuracy at the final epoch % (as logged)":
                round(100 * r["train_accuracy_logged_mean"], 2),
            "best epoch on the test set % (mean ± std)": "-" if best is None else spread(best),
            "best epochs": "-" if best is None else ", ".join(map(str, best["best_epochs"])),
            "inflation (pp)": None if best is None else round(best["inflation_pp"], 2),
            "data": r["data_source"]})
    return pd.DataFrame(rows)


def cv_table(summary: dict[str, Any] | None) -> pd.DataFrame:
    """One row per model of protocol cv: the choice made on the folds and its test result."""
    rows = []
    for model, e in (summary or {}).get("models", {}).items():
        c, f, es = e["choice"], e.get("final"), e.get("early_stopping")
        chosen = f"C = {c['C']:g}" if "C" in c else f"{c['epochs']} of {c['budget']} epochs"
        at = (c["mean_fold_accuracy"][str(float(c["C"]))] if "C" in c
              else c["accuracy_at_chosen"])
        row = {"model": model, "folds": e["plan"]["folds"], "chosen on the folds": chosen,
               "fold accuracy %": 100 * at}
        if f:
            spread = f" ± {100 * f['accuracy_std']:.2f}" if f["n_seeds"] > 1 else " (one seed)"
            low, high = f["ci95_subject_bootstrap"]
            ens = f.get("ensemble")
            el, eh = ens["ci95_subject_bootstrap"] if ens else (None, None)
            row.update({"final seeds": f["n_seeds"],
                        "test accuracy % (mean ± std)": f"{100 * f['accuracy_mean']:.2f}{spread}",
                        "95 % CI (subjects)": f"{100 * low:.2f}-{100 * high:.2f}",
                        "ensemble of the seeds %": "-" if not ens else
                        f"{100 * ens['accuracy']:.2f} ({100 * el:.2f}-{100 * eh:.2f})"
                        + (f" (seeds {', '.join(map(str, ens['seeds']))})" if "seeds" in ens
                           else ""),
                        "macro F1": round(f["macro_f1_mean"], 4),
                        "device": ", ".join(f["devices"]), "data": f["data_source"]})
        else:
            row["final seeds"] = "not run yet"
        if es:  # smoothed readings at both epochs since cv_summary's epoch rules (``..._raw``)
            head = ("early stopping on each fold's own loss instead (smoothed fold accuracy %, "
                    "as at the chosen count)" if "cost_pp_raw" in es else
                    "early stopping on each fold's own loss instead (fold accuracy %, optimistic)")
            row[head] = (f"{100 * es['fold_accuracy_early_stopping']:.2f} at epochs "
                         f"{min(es['epochs_kept'])}-{max(es['epochs_kept'])} "
                         f"({-es['cost_pp']:+.2f} pp)")
        rows.append(row)
    return pd.DataFrame(rows)


def subject_comparison_table(summary: dict[str, Any] | None) -> pd.DataFrame:
    """Each model against cnn_lstm_paper by test subject: mean difference, paired
    subject-bootstrap interval, Wilcoxon (Holm-adjusted where the summary has it)."""
    rows = [{"model": m, "vs": "cnn_lstm_paper", "subjects": c["subjects"],
             "mean difference (pp)": 100 * c["mean_difference"],
             "95 % CI, paired subject bootstrap (pp)":
                 f"{100 * c['ci95_paired_subject_bootstrap'][0]:+.2f} to "
                 f"{100 * c['ci95_paired_subject_bootstrap'][1]:+.2f}",
             "Wilcoxon p": c["wilcoxon_p"]}
            | ({"Wilcoxon p, Holm": c["wilcoxon_p_holm"]} if "wilcoxon_p_holm" in c else {})
            | {"subjects better / worse": f"{c['wins']} / {c['losses']}"}
            for m, c in (summary or {}).get("subject_comparisons_vs_cnn_lstm_paper", {}).items()]
    return pd.DataFrame(rows)


#: The level the Holm-adjusted Wilcoxon p-values are read at.
ALPHA = 0.05


def subject_comparison_verdict(summary: dict[str, Any] | None) -> str:
    """One sentence: which models differ from cnn_lstm_paper by test subject at :data:`ALPHA`
    after Holm's adjustment over the family of comparisons ("" without comparisons)."""
    comps = (summary or {}).get("subject_comparisons_vs_cnn_lstm_paper", {})
    if not comps:
        return ""
    p = {m: c.get("wilcoxon_p_holm", c["wilcoxon_p"]) for m, c in comps.items()}
    how = ("Holm-adjusted over these " if all("wilcoxon_p_holm" in c for c in comps.values())
           else "unadjusted, over ")
    n = max(c["subjects"] for c in comps.values())
    differ = sorted(m for m, v in p.items() if v < ALPHA)
    head = f"Wilcoxon p {how}{len(comps)} comparisons, read at {ALPHA:g}: "
    if not differ:
        return (head + "no model differs from `cnn_lstm_paper`; not significant over "
                f"{n} test subjects.")
    return (head + f"{', '.join(f'`{m}`' for m in differ)} differ{'s' * (len(differ) == 1)} from "
            f"`cnn_lstm_paper`; the others are not significant over {n} test subjects.")
