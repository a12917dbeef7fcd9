"""Tables built from results files: the ones the notebooks show and the generated blocks of the
README and of the pages under ``docs/`` build on.

The blocks themselves are rendered by :mod:`.blocks` (the paper's path: data, the headline
result, the audit, timings) and :mod:`.study_blocks` (the zoo, protocol cv, the ablation
study, the deployment benchmark); :mod:`.docs` writes them into the files
(``make readme``). Markdown tables are ``DataFrame.to_markdown`` (:func:`markdown_table`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import config


def read_result(name: str, results: Path) -> dict[str, Any] | None:
    """The JSON results file ``results/name``, or None when it has not been written."""
    path = results / name
    return json.loads(path.read_text()) if path.exists() else None


def markdown_table(df: Any, floatfmt: str = ".2f", **to_markdown: Any) -> str:
    """``df`` as a GitHub markdown table (``DataFrame.to_markdown``, tabulate's pipe format,
    no index): missing values as "-", floats with ``floatfmt``, a float column that holds only
    whole numbers (a count with gaps, say) as integers. ``to_markdown``: passed on (e.g.
    ``disable_numparse=True`` for columns of preformatted text such as "+0", ``colalign``)."""
    import pandas as pd

    whole = lambda v: int(v) if isinstance(v, float) and v.is_integer() else v  # noqa: E731
    out = pd.DataFrame(df).copy()
    for c in out.columns:
        col = out[c]
        if col.dtype.kind == "f" and col.notna().any() and (col.dropna() % 1 == 0).all():
            out[c] = col.astype("Int64")
        elif col.dtype == object:  # 96.0 beside "98.80 (training accuracy)" reads as 96
            out[c] = col.map(whole)
    out = out.astype(object).where(out.notna(), None)
    return out.to_markdown(index=False, floatfmt=floatfmt, missingval="-", **to_markdown)


def fixed_budget_reading(model: str = "cnn_lstm_paper", root: Path | None = None
                         ) -> dict[str, Any] | None:
    """The committed runs of ``model`` under the paper's own protocol (a fixed budget of the
    paper's epochs, the test set as the validation set, no choice made on it) read at their
    final epoch: the training accuracy Keras logged and the test accuracy, averaged over
    seeds. ``root``: default ``results/`` of the project (the zoo is its own study; its runs
    are in the runner's store there, :func:`har_utils.experiments.zoo.committed_results`)."""
    from ..experiments.zoo import committed_results, paper_readings

    got = committed_results(model, "paper", root)
    if not got:
        return None
    mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
    return {"epochs": got[0]["epochs_run"], "n_seeds": len(got),
            "seeds": [r["zoo"]["seed"] for r in got],
            "train_accuracy_logged": mean([r["history"]["accuracy"][-1] for r in got]),
            "test_accuracy": mean([paper_readings(r)["final_epoch_test_accuracy"] for r in got]),
            "data": got[0]["data"]["source_label"]}


#: The paper's Table II rows that a zoo model re-runs (row id of ``paper.comparison_rows``:
#: a Table II entry of paper_reported.json or a context entry of literature.json).
TABLE2_ROWS = {"cnn_lstm_paper": ("CNN-LSTM (this paper)", "table2_proposed"),
               "cnn": ("CNN [23]", "table2_cnn_23"),
               "isplinception": ("iSPLInception [24]", "table2_isplinception_24"),
               "logreg_features": ("linear model on features (literature ~96 % on the 561)",
                                   "anchor_linear_561")}


def _comparison() -> "pd.DataFrame":
    from ..paper import comparison_rows

    return comparison_rows().set_index("id")


def reported_number(rid: str, table: "pd.DataFrame | None" = None) -> tuple[float, str] | None:
    """The number a Table II row (or a literature context row) reports, in percent, and what
    it is, e.g. ``(98.8, "training accuracy, audit a: ...")``; None if there is none."""
    t = _comparison() if table is None else table
    if rid not in t.index:
        return None
    r = t.loc[rid]
    v = r["reported_pct"]
    if v is None or v != v:
        return None
    return float(v), str(r["what_the_number_is"])


def reported_by_model() -> dict[str, tuple[float, str]]:
    """For each zoo model that re-runs a Table II row: the number printed for it (%) and a
    short label saying what that number is (the figure writes it beside the cross)."""
    t = _comparison()
    out = {}
    for m, (_, rid) in TABLE2_ROWS.items():
        got = reported_number(rid, t)
        if got is not None:
            value, kind = got
            out[m] = (value, f"{value:g} % ({kind.split(':')[0]})")
    return out


#: Zoo models that are not rows of the paper's Table II, and what they stand for.
EXTRA_ROWS = {"cnn_lstm_sequential": "(not in Table II) the paper's model, other reading of Fig. 2",
              "lstm": "(not in Table II) 2-layer LSTM baseline",
              "deepconvlstm": "(not in Table II) DeepConvLSTM, Ordonez and Roggen 2016"}


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


#: Table II rows the zoo does not re-run, and why. (The paper's own row is re-run: it is
#: ``cnn_lstm_paper``; its printed 98.80 is a training accuracy, audit finding a.)
NOT_RERUN = {
    "AM-DLFC [25]": ("table2_amdlfc_25", "it classifies spectrograms of 3 s windows, which the "
                     "2.56 s (128-sample) windows of this protocol do not provide"),
}


def _paper_value(rid: str | None, table: "pd.DataFrame | None" = None) -> float | str | None:
    """The paper's number for a Table II row id, with what it is when it is not a plain
    accuracy, e.g. ``"98.80 (training accuracy, audit a)"`` (``None`` for rows that are not in
    Table II)."""
    if rid is None:
        return None
    got = reported_number(rid, table)
    if got is None:
        return None
    value, kind = got
    if kind == "accuracy":
        return value
    return f"{value:.2f} ({kind.split(':')[0]})"


def zoo_table(summary: dict[str, Any] | None) -> "pd.DataFrame":
    """Table II as re-run by the zoo: one row per model and protocol, with the paper's number
    for the rows it reports (``None`` summary -> an empty table)."""
    import pandas as pd

    cols = ["model", "protocol", "paper row", "paper reports %", "n_seeds", "accuracy % (mean ± std)",
            "95 % CI (subjects)", "macro F1", "data", "note"]
    if not summary:
        return pd.DataFrame(columns=cols)
    from ..experiments.zoo import CLASSICAL, ROW_ORDER, ZOO, planned_seeds

    order = [*ZOO, *CLASSICAL]
    rank = {m: i for i, m in enumerate(order)}
    ran = {(r["model"], r["protocol"]) for r in summary["rows"]}
    missing = [{"model": m, "protocol": p, "planned_seeds": planned_seeds(m, p), "missing": True}
               for m in order for p in ("subjects", "retrain_all")
               if (m, p) not in ran and not (m in CLASSICAL and p != "subjects")]
    missing += [{"model": m, "protocol": "cv", "planned_seeds": "the", "missing": True}
                for m in order if (m, "cv") not in ran]
    rows = []
    comparison = _comparison()
    for r in sorted([*summary["rows"], *missing],
                    key=lambda r: (rank.get(r["model"], len(order)), ROW_ORDER.index(r["protocol"]))):
        label, rid = TABLE2_ROWS.get(r["model"], (EXTRA_ROWS.get(r["model"], ""), None))
        paper_value = _paper_value(rid, comparison)
        if r.get("missing"):
            rows.append({"model": r["model"], "protocol": r["protocol"], "paper row": label,
                         "paper reports %": paper_value, "n_seeds": 0,
                         "accuracy % (mean ± std)": "-", "95 % CI (subjects)": "-",
                         "macro F1": None, "data": "-",
                         "note": f"not run yet: 0 of {r['planned_seeds']} planned seeds "
                                 + ("(protocol cv's cost table; `make cv` runs it)"
                                    if r["protocol"] == "cv" else
                                    "(cost table above; `make zoo` runs it)")})
            continue
        low, high = r.get("ci95_subject_bootstrap") or (None, None)
        spread = f" ± {100 * r['accuracy_std']:.2f}" if r["n_seeds"] > 1 else " (one seed)"
        rows.append({"model": r["model"], "protocol": r["protocol"], "paper row": label,
                     "paper reports %": paper_value, "n_seeds": r["n_seeds"],
                     "accuracy % (mean ± std)": f"{100 * r['accuracy_mean']:.2f}{spread}",
                     "95 % CI (subjects)": "-" if low is None else f"{100 * low:.2f}-{100 * high:.2f}",
                     "macro F1": round(r["macro_f1_mean"], 4) if "macro_f1_mean" in r else None,
                     "data": r["data_source"], "note": _row_note(r)})
    for label, (rid, reason) in NOT_RERUN.items():
        rows.append({"model": "-", "protocol": "not re-run", "paper row": label,
                     "paper reports %": _paper_value(rid, comparison), "n_seeds": 0,
                     "accuracy % (mean ± std)": "-", "95 % CI (subjects)": "-", "macro F1": None,
                     "data": "-", "note": f"not re-run: {reason}; reported number only"})
    return pd.DataFrame(rows, columns=cols)


def cost_table(summary: dict[str, Any] | None) -> "pd.DataFrame":
    """Seconds per epoch of every zoo model on this machine (from the cost benchmark)."""
    import pandas as pd

    cols = ["model", "parameters", "batch_size", "optimizer", "max_epochs", "first_epoch_s",
            "s_per_epoch"]
    cost = (summary or {}).get("cost_table")
    if not cost:
        return pd.DataFrame(columns=cols)
    return pd.DataFrame(cost["models"])[cols]


def load_zoo_summary(path: Path | None = None) -> dict[str, Any] | None:
    """The committed zoo study (``results/summary.json`` of the project, whatever the
    profile: the zoo is its own study, run by ``make zoo``), or None if it has not run."""
    path = config.PROJECT_ROOT / "results" / "summary.json" if path is None else path
    return json.loads(path.read_text()) if path.exists() else None


def inflation_table(summary: dict[str, Any] | None) -> "pd.DataFrame":
    """What the paper's protocol gives, read honestly: its fixed budget at the final epoch (no
    choice made on the test set), the epoch chosen on the test set (the real inflation), and
    early stopping on 4 validation subjects (which stops too early: the gap to the fixed
    budget is the number of epochs, not leakage)."""
    import pandas as pd

    rows = []
    by = {(r["model"], r["protocol"]): r for r in (summary or {}).get("rows", [])}
    for (model, protocol), r in by.items():
        if protocol != "fixed_budget":
            continue
        best = by.get((model, "best_on_test"))
        stopped = by.get((model, "subjects"))
        rows.append({
            "model": model, "n_seeds": r["n_seeds"],
            "fixed budget (100 epochs), final epoch %": 100 * r["accuracy_mean"],
            "epoch chosen on the test set %": None if best is None else 100 * best["accuracy_mean"],
            "inflation of choosing on test (pp)": None if best is None else best["inflation_pp"],
            "early stopping, 4 validation subjects %": None if stopped is None
            else 100 * stopped["accuracy_mean"]})
    return pd.DataFrame(rows)


def per_subject_zoo(summary: dict[str, Any] | None, protocol: str = "subjects") -> "pd.DataFrame":
    """Test accuracy per subject (mean over seeds), one row per model: the spread that
    subjects cause, beside the spread over seeds."""
    import pandas as pd

    rows = {r["model"]: r["per_subject_accuracy_mean"] for r in (summary or {}).get("rows", [])
            if r["protocol"] == protocol and "per_subject_accuracy_mean" in r}
    table = pd.DataFrame(rows).T
    if len(table):
        table = table[sorted(table.columns, key=int)]
        table.columns = [f"subject {c}" for c in table.columns]
    return table


def mcnemar_table(summary: dict[str, Any] | None) -> "pd.DataFrame":
    """McNemar's test of each model against cnn_lstm_paper (seed 0, same test windows)."""
    import pandas as pd

    return pd.DataFrame((summary or {}).get("mcnemar_vs_cnn_lstm_paper", []))


def load_cv_summary(path: Path | None = None) -> dict[str, Any] | None:
    """The committed protocol-cv study (``results/cv/summary.json`` of the project, whatever
    the profile: it is its own study, run by ``make cv``), or None."""
    path = config.PROJECT_ROOT / "results" / "cv" / "summary.json" if path is None else path
    return json.loads(path.read_text()) if path.exists() else None


def cv_table(summary: dict[str, Any] | None) -> "pd.DataFrame":
    """One row per model of protocol cv: folds, the choice made on them, the final seeds
    tested once (mean ± std, subject-bootstrap interval), the seed ensemble, and what early
    stopping on the folds would have given instead."""
    import pandas as pd

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


def subject_comparison_table(summary: dict[str, Any] | None) -> "pd.DataFrame":
    """Each model against cnn_lstm_paper by test subject (protocol cv, per-subject accuracy
    averaged over seeds): mean difference, paired subject-bootstrap interval, Wilcoxon (and,
    where the summary has it, Holm-adjusted over the comparisons)."""
    import pandas as pd

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


def epoch_rule_table(summary: dict[str, Any] | None) -> "pd.DataFrame":
    """Protocol cv's epoch rules (``summary["epoch_rule"]``), one row per Keras model and a
    row of the mean over them: per rule the nested leave-one-fold-out score (mean left-out
    fold accuracy, %) and, in brackets, the epoch count the rule picks on all the folds."""
    import pandas as pd

    r = (summary or {}).get("epoch_rule")
    if not r:
        return pd.DataFrame()

    def pct(v: dict[str, Any] | None) -> str:
        return "-" if v is None else f"{100 * v['score']:.2f}"

    from ..experiments.cv import EPOCH_RULES  # the rules' own order (the JSON sorts keys)

    names = [n for n in EPOCH_RULES if n in r["scores"]] + sorted(set(r["scores"]) - set(EPOCH_RULES))
    rows = [{"model": m} | {n: f"{pct(r['scores'][n]['per_model'][m])} ({picks[n]})"
                            for n in names}
            for m, picks in r["epochs_by_rule"].items()]
    rows.append({"model": "mean"} | {n: "-" if r["scores"][n]["mean"] is None
                                     else f"{100 * r['scores'][n]['mean']:.2f}" for n in names})
    return pd.DataFrame(rows)


def data_console(results: Path) -> str:
    """Plain-text summary of the data step for the terminal: source, reason, fidelity."""
    s = read_result("data_summary.json", results)
    if s is None:
        return "no data_summary.json written"
    lines = [f"source: {s['source_label']} ({s['source']}) - {s['provenance'].get('reason', '')}",
             f"windows: {s['windows']['train']} train / {s['windows']['test']} test",
             "fidelity against the official window counts (rebuilt - official):",
             f"  {'activity':20} {'official':>8} {'rebuilt':>8} {'diff':>6} {'exact cells':>12}"]
    per = s["fidelity"]["per_activity"]
    rows = [(n, per[n]) for n in config.ACTIVITY_NAMES if n in per]
    rows.append(("all", s["fidelity"]["overall"]))
    for name, a in rows:
        lines.append(f"  {name:20} {a['official']:8d} {a['rebuilt']:8d} {a['total_diff']:+6d} "
                     f"{a['cells_exact']:>5d} of {a['cells']:<3d}")
    return "\n".join(lines)


#: What the pipeline prints after a notebook ran (notebook name -> summary of its results).
CONSOLE: dict[str, Callable[[Path], str]] = {"01_data": data_console}
