"""The tables notebook 06 and the README blocks show from the studies' committed results
(``results/cv/``, ``results/zoo/``, ``results/runs/``); this module only reads and reshapes
them, so the notebooks need no study code.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from . import config
from .paper import NOT_RERUN, comparison_rows, paper_row

#: The order of the zoo's protocols in its table (``fixed_budget`` and ``best_on_test``: the
#: two readings of its runs under the paper's own protocol).
ZOO_ROW_ORDER = ("cv", "subjects", "retrain_all", "fixed_budget", "best_on_test")
#: The zoo's models in the order of its table (``har_studies.experiments.zoo.ZOO``).
ZOO_MODELS = ("cnn_lstm_paper", "cnn_lstm_sequential", "cnn", "lstm", "deepconvlstm",
              "isplinception", "logreg_features")


def fixed_budget_reading(model: str = "cnn_lstm_paper", root: Path | None = None
                         ) -> dict[str, Any] | None:
    """The zoo's runs of ``model`` under the paper's own protocol (fixed budget, test only
    watched) at their final epoch: logged training and test accuracy, averaged over seeds.
    ``root``: default the committed ``results/``, whatever the profile; None if no runs."""
    root = config.COMMITTED_RESULTS_DIR if root is None else Path(root)
    summary = root / "zoo" / "summary.json"
    if not summary.exists():
        return None
    checksum = json.loads(summary.read_text())["data"]["checksum_sha256"]
    runs = [json.loads(p.read_text()) for p in sorted((root / "runs").glob("*.json"))]
    got = sorted((r for r in runs if r.get("run", {}).get("watch_test")
                  and r["run"].get("model") == model
                  and r.get("data", {}).get("checksum_sha256") == checksum),
                 key=lambda r: int(r["run"]["seed"]))
    if not got:
        return None
    mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
    return {"epochs": got[0]["epochs_run"], "n_seeds": len(got),
            "seeds": [int(r["run"]["seed"]) for r in got],
            "train_accuracy_logged": mean([r["history"]["accuracy"][-1] for r in got]),
            "test_accuracy": mean([float(r["history"]["val_accuracy"][-1]) for r in got]),
            "data": got[0]["data"]["source_label"]}


def _row_note(r: dict[str, Any]) -> str:
    """The note beside one zoo row: protocol caveats, caps and seeds still missing."""
    notes = []
    if r["protocol"] == "cv":
        chosen = (f"C = {r['chosen']:g}" if r["model"] == "logreg_features"
                  else f"{r['epochs']} epochs")
        ens = r.get("ensemble_accuracy")
        notes.append(f"{chosen} chosen on {r['folds']} folds of training subjects, then all 21"
                     + ("" if ens is None else f"; ensemble of the seeds {100 * ens:.2f} %")
                     + (f"; {', '.join(r['devices'])}" if r.get("devices") != ["CPU"] else ""))
        if r["model"] != "logreg_features" and r.get("planned_seeds", 3) < 3:
            notes.append(f"{r['planned_seeds']} final seed, {r['folds']} folds and a budget of "
                         f"{r.get('budget', '?')} epochs for cost (results/cv/cost_table.csv)")
    elif r["protocol"] == "fixed_budget":
        notes.append("the paper's 100 epochs on all 21 training subjects, final epoch: no "
                     "choice made on the test set (it was only watched)")
    elif r["protocol"] == "best_on_test":
        notes.append(f"the same runs at the epoch with the best test accuracy (epochs "
                     f"{', '.join(map(str, r['best_epochs']))}): chosen on the test set, "
                     f"inflated by {r['inflation_pp']:.2f} pp")
    elif r["protocol"] == "subjects" and r["model"] != "logreg_features":
        notes.append("early stopping on the loss of 4 validation subjects (it stops early: "
                     "undertrained; protocol cv chooses the epochs on the folds instead)")
    elif r["protocol"] == "retrain_all":
        notes.append("retrained on all 21 training subjects for the best epoch of the subjects run")
    if r["model"] == "logreg_features":
        notes.append("deterministic, one fit; " + ("the official 561 features" if "official" in
                                                    r["data_source"] else
                                                    "our 339 window features, not the official 561"))
    if r["model"] == "isplinception":
        notes.append("epochs capped at 15 for cost")
    planned = r.get("planned_seeds", r["n_seeds"])
    if r["n_seeds"] < planned:
        minutes = r.get("wall_seconds_total", 0.0) / 60 / max(r["n_seeds"], 1)
        notes.append(f"{r['n_seeds']} of {planned} planned seeds so far (~{minutes:.0f} min per "
                     f"seed on 2 cores; `make zoo` resumes)")
    return "; ".join(notes)


def zoo_table(summary: dict[str, Any] | None, missing: Sequence[dict[str, Any]] = ()
              ) -> pd.DataFrame:
    """Table II as re-run by the zoo: one row per model and protocol beside the paper's number,
    then the rows not re-run. ``missing``: planned rows not run yet, listed as such."""
    cols = ["model", "protocol", "paper row", "paper reports %", "n_seeds", "accuracy % (mean ± std)",
            "95 % CI (subjects)", "macro F1", "data", "note"]
    if not summary:
        return pd.DataFrame(columns=cols)
    rank = {m: i for i, m in enumerate(ZOO_MODELS)}
    order = lambda r: (rank.get(r["model"], len(rank)), r["model"],  # noqa: E731
                       ZOO_ROW_ORDER.index(r["protocol"]) if r["protocol"] in ZOO_ROW_ORDER
                       else len(ZOO_ROW_ORDER))
    rows = []
    comparison = comparison_rows().set_index("id")
    for r in sorted([*summary["rows"], *({**m, "missing": True} for m in missing)], key=order):
        label, value = paper_row(r["model"], table=comparison)
        row = {"model": r["model"], "protocol": r["protocol"], "paper row": label,
               "paper reports %": value}
        if r.get("missing"):
            rows.append(row | {"n_seeds": 0, "accuracy % (mean ± std)": "-",
                               "95 % CI (subjects)": "-", "macro F1": None, "data": "-",
                               "note": f"not run yet: 0 of {r['planned_seeds']} planned seeds "
                                       + ("(protocol cv's cost table; `make cv` runs it)"
                                          if r["protocol"] == "cv" else
                                          "(cost table above; `make zoo` runs it)")})
            continue
        low, high = r.get("ci95_subject_bootstrap") or (None, None)
        spread = f" ± {100 * r['accuracy_std']:.2f}" if r["n_seeds"] > 1 else " (one seed)"
        rows.append(row | {
            "n_seeds": r["n_seeds"],
            "accuracy % (mean ± std)": f"{100 * r['accuracy_mean']:.2f}{spread}",
            "95 % CI (subjects)": "-" if low is None else f"{100 * low:.2f}-{100 * high:.2f}",
            "macro F1": round(r["macro_f1_mean"], 4) if "macro_f1_mean" in r else None,
            "data": r["data_source"], "note": _row_note(r)})
    for label, (rid, reason) in NOT_RERUN.items():
        rows.append({"model": "-", "protocol": "not re-run", "paper row": label,
                     "paper reports %": paper_row(None, rid, comparison)[1], "n_seeds": 0,
                     "accuracy % (mean ± std)": "-", "95 % CI (subjects)": "-", "macro F1": None,
                     "data": "-", "note": f"not re-run: {reason}; reported number only"})
    return pd.DataFrame(rows, columns=cols)


def cost_table(summary: dict[str, Any] | None) -> pd.DataFrame:
    """Seconds per epoch of every zoo model on this machine (the zoo summary's cost table)."""
    cols = ["model", "parameters", "batch_size", "optimizer", "max_epochs", "first_epoch_s",
            "s_per_epoch"]
    cost = (summary or {}).get("cost_table")
    return pd.DataFrame(cost["models"])[cols] if cost else pd.DataFrame(columns=cols)


def inflation_table(summary: dict[str, Any] | None) -> pd.DataFrame:
    """The paper's protocol read honestly: fixed budget at the final epoch, the epoch chosen
    on the test set (the real inflation), and early stopping on 4 validation subjects."""
    by = {(r["model"], r["protocol"]): r for r in (summary or {}).get("rows", [])}
    rows = []
    for (model, protocol), r in by.items():
        if protocol != "fixed_budget":
            continue
        best, stopped = by.get((model, "best_on_test")), by.get((model, "subjects"))
        rows.append({
            "model": model, "n_seeds": r["n_seeds"],
            "fixed budget (100 epochs), final epoch %": 100 * r["accuracy_mean"],
            "epoch chosen on the test set %": None if best is None else 100 * best["accuracy_mean"],
            "inflation of choosing on test (pp)": None if best is None else best["inflation_pp"],
            "early stopping, 4 validation subjects %": None if stopped is None
            else 100 * stopped["accuracy_mean"]})
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
