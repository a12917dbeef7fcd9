"""Tables and text built from results files, including the README's generated blocks.

The README never holds a hand-typed result: each block between ``<!-- BEGIN name -->`` and
``<!-- END name -->`` is rendered here from the committed results, by ``make readme``, and a
test fails when the README and the results disagree.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import config


def write_table(df: Any, path: Path, data_label: str, producer: str, **to_csv: Any) -> Path:
    """Write a results table as CSV, atomically, headed by a comment naming its data and
    producer (read it back with ``pandas.read_csv(path, comment="#")``)."""
    from .io import atomic_write

    with atomic_write(path, "w") as f:
        f.write(f"# data: {data_label}; written by {producer}\n")
        df.to_csv(f, **to_csv)
    return path


def _load(name: str, results: Path) -> dict[str, Any] | None:
    path = results / name
    return json.loads(path.read_text()) if path.exists() else None


def data_block(results: Path) -> str:
    """Markdown: source, windows and fidelity of the published data step, and load times."""
    s = _load("data_summary.json", results)
    if s is None:
        return "_No published data step yet: run `make reproduce` and `make publish`._"
    f = s["fidelity"]["overall"]
    w = s["windows"]
    off = {k: v["official"] for k, v in s["fidelity"]["per_split"].items()}
    lines = [
        f"Published run: source **{s['source_label']}** (`{s['source']}`), "
        f"{w['train']:,} training and {w['test']:,} test windows "
        f"(official: {off['train']:,} and {off['test']:,}).",
        "",
        "| activity | official windows | rebuilt | difference | cells exact (of 30) |",
        "|---|---:|---:|---:|---:|",
    ]
    per_activity = s["fidelity"]["per_activity"]
    for name in (n for n in config.ACTIVITY_NAMES if n in per_activity):
        a = per_activity[name]
        lines.append(f"| {name} | {a['official']:,} | {a['rebuilt']:,} | "
                     f"{a['total_diff']:+d} | {a['cells_exact']} |")
    lines.append(f"| **all** | {f['official']:,} | {f['rebuilt']:,} | {f['total_diff']:+d} | "
                 f"{f['cells_exact']} of {f['cells']} |")
    b = _load("benchmarks/data_load.json", results)
    if b is not None:
        lines += ["", f"Loading ({b['source_label']}, {b['cpu_count']} cores, median of "
                      f"{b['repeats']}): {b['cold_median_s']:.1f} s cold (convert, filter, window, "
                      f"cache), {b['cached_median_s']:.2f} s from the cache."]
    return "\n".join(lines)


def results_block(results: Path, model: str = "cnn_lstm_paper") -> str:
    """Markdown: the paper model's published test result, training run and the audit."""
    ev = _load(f"evaluation_{model}.json", results)
    tr = _load(f"training_{model}.json", results)
    au = _load("paper_audit.json", results)
    if ev is None or tr is None or au is None:
        return "_No published model run yet: run `make reproduce` and `make publish`._"
    t = ev["test"]
    low, high = ev["test_ci95_subject_bootstrap"]
    acc = ev["accuracy"]
    if tr.get("validation_subjects"):
        how = (f"stopped early after {tr['epochs_run']} epochs (best validation loss at epoch "
               f"{tr['best_epoch']})")
    else:
        how = (f"trained on all 21 training subjects for {tr['epochs_run']} epochs ("
               f"{tr.get('epochs_from', 'protocol cv')})")
    parts = [(k, v) for k, v in (("fit subjects", acc.get("fit")),
                                 ("validation subjects", acc.get("validation")),
                                 ("training subjects", acc.get("train"))) if v is not None]
    lines = [
        f"Published run ({ev['data']['source_label']}): `{model}` with the paper's settings, {how}, "
        f"seed 0, {tr['seconds']:.0f} s of training.",
        "",
        "| accuracy | " + " | ".join(k for k, _ in parts) + " | test subjects |",
        "|---|" + "---:|" * (len(parts) + 1),
        "| this companion | " + " | ".join(f"{100 * v:.2f} %" for _, v in parts)
        + f" | **{100 * t['accuracy']:.2f} %** (95 % CI {100 * low:.2f}-{100 * high:.2f}, "
          "subject bootstrap) |",
        "",
        f"Test macro F1 {t['macro_avg']['f1']:.3f}, weighted F1 {t['weighted_avg']['f1']:.3f} "
        f"on {t['n']:,} windows. The paper's audit (notebook 06), computed from the numbers its "
        "text prints (evidence below):",
        "",
        "| | the paper's claim | verdict |",
        "|---|---|---|",
    ]
    lines += [f"| ({f['id']}) | {f['title']} | {f['verdict']} |" for f in au["findings"]]
    return "\n".join(lines)


#: Columns of each finding's evidence table that the README shows, in order (all of them are
#: in results/paper_audit.json and notebook 06).
AUDIT_COLUMNS = {"c": ["class", "table1_recall", "support", "diagonal", "matrix_recall",
                       "correct_needed", "consistent"],
                 "d": ["class", "precision", "recall", "f1", "f1_reachable_min",
                       "f1_reachable_max", "possible"],
                 "f": ["average", "reported", "computed", "agrees"],
                 "g": ["metric", "paraphrase", "computes", "standard"],
                 "h": ["row", "paper prints %", "source prints %", "metric", "status",
                       "identification"]}


def audit_block(results: Path) -> str:
    """Markdown: every finding of the paper's audit with its explanation and evidence table
    (``results/paper_audit.json``), and the Table II comparison
    (``results/table2_comparison.csv``)."""
    import pandas as pd

    au = _load("paper_audit.json", results)
    if au is None:
        return "_No published audit yet: run `make reproduce` and `make publish`._"
    out = [f"Computed by notebook 06 from `har_utils/resources/paper_reported.json` and "
           f"`literature.json`; our numbers from the published run ({au['data']['source_label']}).",
           ""]
    for f in au["findings"]:
        out += [f"**({f['id']}) {f['title']}: {f['verdict']}.** {f['explanation']}", ""]
        if f.get("table"):
            table = pd.DataFrame(f["table"])
            table = table[AUDIT_COLUMNS.get(f["id"], list(table.columns))]
            # the evidence keeps its digits (0.974 against a printed 0.98): no 2-decimal rounding
            out += [markdown_table(table.map(lambda v: f"{v:g}" if isinstance(v, float) else v)),
                    ""]
    t2 = results / "table2_comparison.csv"
    if t2.exists():
        table = pd.read_csv(t2, comment="#")
        table = table.drop(columns=["id"]).astype(object).where(table.notna(), None)
        out += ["Table II beside what each source reports (`results/table2_comparison.csv`):", "",
                markdown_table(table.map(lambda v: f"{v:g}" if isinstance(v, float) else v))]
    return "\n".join(out).rstrip()


def fixed_budget_reading(model: str = "cnn_lstm_paper", root: Path | None = None
                         ) -> dict[str, Any] | None:
    """The committed runs of ``model`` under the paper's own protocol (a fixed budget of the
    paper's epochs, the test set as the validation set, no choice made on it) read at their
    final epoch: the training accuracy Keras logged and the test accuracy, averaged over
    seeds. ``root``: default ``results/`` of the project (the zoo is its own study; its runs
    are in the runner's store there, :func:`har_utils.zoo.committed_results`)."""
    from .zoo import committed_results, paper_readings

    got = committed_results(model, "paper", root)
    if not got:
        return None
    mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
    return {"epochs": got[0]["epochs_run"], "n_seeds": len(got),
            "seeds": [r["zoo"]["seed"] for r in got],
            "train_accuracy_logged": mean([r["history"]["accuracy"][-1] for r in got]),
            "test_accuracy": mean([paper_readings(r)["final_epoch_test_accuracy"] for r in got]),
            "data": got[0]["data"]["source_label"]}


def timings_block(results: Path) -> str:
    """Markdown: wall time of each notebook in the published paper run and the smoke run."""
    m = _load("manifest.json", results)
    if m is None:
        return "_No published run yet._"
    smoke = m.get("smoke_wall_seconds", {})
    lines = [f"Wall time per notebook on {m.get('cpu_count', '?')} CPU cores (published run "
             f"`{m['run_id']}`; smoke times from the run before publishing):", "",
             "| notebook | paper | smoke |", "|---|---:|---:|"]
    total = {"paper": 0.0, "smoke": 0.0}
    for name, nb in m["notebooks"].items():
        s = smoke.get(name)
        total["paper"] += nb["wall_seconds"]
        total["smoke"] += s or 0.0
        lines.append(f"| {name} | {nb['wall_seconds']:.0f} s | "
                     f"{'-' if s is None else f'{s:.0f} s'} |")
    lines.append(f"| **all** | {total['paper']:.0f} s | {total['smoke']:.0f} s |")
    return "\n".join(lines)


#: The paper's Table II rows that a zoo model re-runs (row id of ``paper.comparison_rows``:
#: a Table II entry of paper_reported.json or a context entry of literature.json).
TABLE2_ROWS = {"cnn_lstm_paper": ("CNN-LSTM (this paper)", "table2_proposed"),
               "cnn": ("CNN [23]", "table2_cnn_23"),
               "isplinception": ("iSPLInception [24]", "table2_isplinception_24"),
               "logreg_features": ("linear model on features (literature ~96 % on the 561)",
                                   "anchor_linear_561")}


def _comparison() -> "pd.DataFrame":
    from .paper import comparison_rows

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
    elif r["protocol"] == "fixed_budget":
        notes.append("the paper's 100 epochs on all 21 training subjects, final epoch: no "
                     "choice made on the test set (it was only watched)")
    elif r["protocol"] == "best_on_test":
        notes.append(f"the same runs at the epoch with the best test accuracy (epochs "
                     f"{', '.join(map(str, r['best_epochs']))}): chosen on the test set, "
                     f"inflated by {r['inflation_pp']:.2f} pp")
    elif r["protocol"] == "subjects" and r["model"] != "logreg_features":
        notes.append("early stopping on the loss of 4 validation subjects (it stops early: "
                     "undertrained, see protocol cv)")
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
    from .zoo import CLASSICAL, ROW_ORDER, ZOO, planned_seeds

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


def markdown_table(df: Any) -> str:
    """A DataFrame as a GitHub markdown table (no extra dependency)."""
    def cell(v: Any) -> str:
        if v is None or (isinstance(v, float) and v != v):
            return "-"
        if isinstance(v, float):
            return str(int(v)) if v.is_integer() and abs(v) >= 10 else f"{v:.2f}"
        return str(v)
    head = "| " + " | ".join(map(str, df.columns)) + " |"
    rule = "|" + "|".join("---" for _ in df.columns) + "|"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([head, rule, *body])


def zoo_block(results: Path) -> str:
    """Markdown: the cost table and the zoo's results table, from results/summary.json."""
    s = _load("summary.json", results)
    if s is None:
        return "_The zoo has not run yet: `make zoo-cost`, then `make zoo`._"
    out = []
    cost = cost_table(s)
    if len(cost):
        out += [f"Cost on {s['cost_table'].get('cpu_count', '?')} CPU cores (`make zoo-cost`):", "",
                markdown_table(cost), ""]
    table = zoo_table(s)
    out += [f"Results ({s['n_runs']} runs; `make zoo` runs whatever is missing):", "",
            markdown_table(table)]
    if "train_seconds_total" in s:
        out += ["", f"Compute: {s['train_seconds_total'] / 3600:.2f} h of training "
                    f"({s['wall_seconds_total'] / 3600:.2f} h wall including evaluation) for these "
                    f"{s['n_runs']} runs, on {s['cost_table'].get('cpu_count', '?') if s.get('cost_table') else '?'} CPU cores."]
    subj = subject_comparison_table(s)
    if len(subj):
        mc = {t["model"]: t["p_value"] for t in s.get("mcnemar_vs_cnn_lstm_paper", [])}
        subj["McNemar p (windows, seed 0)"] = subj["model"].map(mc)
        out += ["", "Against `cnn_lstm_paper` under the zoo's protocol, test subject by test subject "
                    "(per-subject accuracy, mean over seeds), beside McNemar's test on the windows of "
                    "seed 0, whose p-values treat overlapping windows of one person as independent "
                    "and so come out far too small:", "", markdown_table(subj.round(4))]
    infl = inflation_table(s)
    if len(infl):
        out += ["", "The paper's protocol read honestly (cnn_lstm_paper): its fixed budget involves no "
                    "choice made on the test set; only choosing the epoch on the test set inflates:", "",
                markdown_table(infl)]
    return "\n".join(out)


def benchmarks_block(results: Path) -> str:
    """Markdown: the figures the benchmarks in ``benchmarks/`` wrote (``make bench``)."""
    rows = []
    d = _load("benchmarks/data_load.json", results)
    if d is not None:
        rows.append(f"| data load ({d['source_label']}, {d['windows']:,} windows) | cold "
                    f"{d['cold_median_s']:.2f} s, cached {d['cached_median_s']:.3f} s "
                    f"({d['speedup']:.0f}x) | median of {d['repeats']} |")
    t = _load("benchmarks/training_loop.json", results)
    if t is not None:
        rows.append(f"| project training loop vs bare `model.fit` ({t['model']}, "
                    f"{t['fit_windows'] + t['val_windows']:,} windows, {t['epochs']} epochs) | "
                    f"{t['loop_median_s']:.1f} s vs {t['bare_median_s']:.1f} s, ratio "
                    f"{t['ratio_loop_over_bare']:.3f} (target <= {t['target_ratio']}) | "
                    f"median of {t['repeats']}, interleaved |")
    if not rows:
        return "_No benchmark has run yet: `make bench`._"
    cpus = (d or t)["cpu_count"]
    return "\n".join([f"On {cpus} CPU cores (`make bench`):", "", "| benchmark | figure | how |",
                      "|---|---|---|", *rows])


def deploy_block(results: Path) -> str:
    """Markdown: the deployment benchmark of notebook 08 (``results/deploy/benchmark.json``):
    the paper model's variants, the targets, one day of recording and the streaming agreement."""
    b = _load("deploy/benchmark.json", results)
    if b is None:
        return "_The deployment benchmark has not run yet: notebook 08 (`make reproduce`)._"
    from .deploy_bench import day_table, targets_table, variants_table
    big = b["big_batch"]
    v = variants_table(b)
    tf_threads = b["tf_threads"].get("intra_op") if isinstance(b["tf_threads"], dict) \
        else b["tf_threads"]
    out = [f"Measured by notebook 08 on a {b['cpu_count']}-core CPU with {tf_threads} TensorFlow "
           f"thread and 1 TFLite thread; test data: {b['data']['source_label']}. "
           "Latency is the median of one-window calls, throughput that of batches of "
           f"{big}:", ""]
    cols = {"model": "model", "variant": "variant", "bytes": "bytes",
            "ms_per_window_b1": "ms per window (batch 1)",
            f"windows_per_s_b{big}": f"windows/s (batch {big})",
            "accuracy_%": "test accuracy %", "lost_points": "points lost"}
    prim = v[v["model"] == (b.get("targets") or {}).get("model", "cnn_lstm_paper")]
    out += [markdown_table(prim[list(cols)].rename(columns=cols).round(3)), ""]
    others = v[(v["model"] != prim["model"].iloc[0] if len(prim) else True)
               & v["variant"].str.startswith(("tf_function", "tflite dynamic"))]
    if len(others):
        out += ["Other zoo models (untrained builds: latency and size only):", "",
                markdown_table(others[["model", "parameters", "variant", "bytes",
                                       "ms_per_window_b1", f"windows_per_s_b{big}"]].round(3)),
                ""]
    t = targets_table(b)
    if len(t):
        out += ["Targets:", "", markdown_table(t.round(3)), ""]
    d = day_table(b)
    if len(d):
        first = next(iter(next(r["day"] for r in b["models"] if r.get("day")).values()))
        out += [f"{first['hours']:g} h of 50 Hz recording ({first['data']}), filtered, windowed "
                "and classified on one thread:", "", markdown_table(d.round(2)), ""]
    st = b.get("streaming")
    if st:
        agree = ", ".join(f"{m.replace('_', '-')} filtering {100 * a['agreement_scored']:.2f} % "
                          f"of {a['scored']:,} scored windows" for m, a in st["pooled"].items()
                          if a["agreement_scored"] is not None)
        out += [f"Streaming agreement ({st['data']}; {st['rule']}): {agree}."]
    return "\n".join(out).rstrip()


def ablations_block(results: Path) -> str:
    """Markdown: the ablation study (``results/ablations/summary.json``): compute, the best
    point of each factor on validation, the combined candidates and the chosen configuration
    against the paper's, tested once."""
    s = _load("ablations/summary.json", results)
    if s is None:
        return "_The ablation study has not run yet: `make ablations`._"
    from .experiments.ablations_report import (factor_table, outcome_table, selection_table,
                                               trained_best_epochs)

    trained = s["n_trained_runs"]
    out = [f"Data: {s['data']['source_label']}. {s['n_runs']} run results "
           f"({trained} trained, {s['n_runs'] - trained} reused: same configuration), "
           f"{s['train_seconds_total'] / 3600:.2f} h of training "
           f"({s['wall_seconds_total'] / 3600:.2f} h including evaluation), summed over runs"
           + (f" that ran {' or '.join(map(str, s['parallel_workers']))} at a time on "
              f"{' or '.join(map(str, s.get('cpu_counts') or ['?']))} cores" if s.get("parallel_workers") else "")
           + ".", ""]
    kept = trained_best_epochs(results)
    if kept:
        share = sum(3 <= e <= 9 for e in kept) / len(kept)
        out += [f"Protocol of this study: the zoo's early stopping on the loss of 4 validation "
                f"subjects (8, 17, 21, 25; patience 10, best weights kept). Its {len(kept)} "
                f"trained runs kept epochs {min(kept)}-{max(kept)} (median "
                f"{sorted(kept)[len(kept) // 2]}; {100 * share:.0f} % between 3 and 9), so each "
                "factor was measured on an undertrained model; protocol cv replaces this "
                "protocol.", ""]
    f = factor_table(s)
    if len(f):
        out += ["Each factor's best value on the validation subjects (test reported, never used "
                "to choose):", "", markdown_table(f), ""]
    _, cand = selection_table(s.get("selection"))
    if len(cand):
        out += ["Combined candidates, ranked on validation:", "", markdown_table(cand), ""]
    o = outcome_table(s)
    if len(o):
        out += ["The chosen configuration, tested once:", "", markdown_table(o)]
    return "\n".join(out).rstrip()


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
        if es:
            row["early stopping on each fold's own loss instead (fold accuracy %, optimistic)"] = (
                f"{100 * es['fold_accuracy_early_stopping']:.2f} at epochs "
                f"{min(es['epochs_kept'])}-{max(es['epochs_kept'])} ({-es['cost_pp']:+.2f} pp)")
        rows.append(row)
    return pd.DataFrame(rows)


def subject_comparison_table(summary: dict[str, Any] | None) -> "pd.DataFrame":
    """Each model against cnn_lstm_paper by test subject (protocol cv, per-subject accuracy
    averaged over seeds): mean difference, paired subject-bootstrap interval, Wilcoxon."""
    import pandas as pd

    rows = [{"model": m, "vs": "cnn_lstm_paper", "subjects": c["subjects"],
             "mean difference (pp)": 100 * c["mean_difference"],
             "95 % CI, paired subject bootstrap (pp)":
                 f"{100 * c['ci95_paired_subject_bootstrap'][0]:+.2f} to "
                 f"{100 * c['ci95_paired_subject_bootstrap'][1]:+.2f}",
             "Wilcoxon p": c["wilcoxon_p"], "subjects better / worse": f"{c['wins']} / {c['losses']}"}
            for m, c in (summary or {}).get("subject_comparisons_vs_cnn_lstm_paper", {}).items()]
    return pd.DataFrame(rows)


def cv_block(results: Path) -> str:
    """Markdown: protocol cv (``results/cv/summary.json``): the folds, each model's choice and
    final test, the subject-level comparisons, and what is still missing."""
    s = _load("cv/summary.json", results)
    if s is None:
        return "_Protocol cv has not run yet: `make cv-cost`, then `make cv`._"
    folds = "; ".join(f"{i}: {', '.join(map(str, f))}" for i, f in enumerate(s["folds"]))
    out = [f"Data: {s['data']['source_label']}. Folds ({s['k_folds']}, held-out training subjects): "
           f"{folds}.", ""]
    cost = results / "cv" / "cost_table.csv"
    if cost.exists():
        import pandas as pd

        c = pd.read_csv(cost, comment="#")
        out += [f"Cost, planned before the runs (`make cv-cost`; at most "
                f"{c['total hours (at most)'].sum():.1f} h of one worker, seconds per epoch "
                "measured with 2 threads on 2 cores):", "", markdown_table(c.round(2)), ""]
    t = cv_table(s)
    if len(t):
        out += [markdown_table(t), ""]
    for model, e in s["models"].items():
        c = e["choice"]
        if "epochs" not in c:
            continue
        spread = c["standard_error"] * c["folds"] ** 0.5
        gain = 100 * (c["best_smoothed_accuracy"] - c["accuracy_at_chosen"])
        if c["epochs"] == c["best_smoothed_epoch"]:
            out += [f"`{model}`: the rule takes the best smoothed epoch itself, {c['epochs']} "
                    f"({100 * c['accuracy_at_chosen']:.2f} % mean fold accuracy).", ""]
            continue
        out += [f"`{model}`: the smoothed mean fold accuracy is {100 * c['accuracy_at_chosen']:.2f} % "
                f"at {c['epochs']} epochs and at most {100 * c['best_smoothed_accuracy']:.2f} % (epoch "
                f"{c['best_smoothed_epoch']}): {gain:.2f} pp more for "
                f"{c['best_smoothed_epoch'] - c['epochs']} more epochs, less than one standard error "
                f"({100 * c['standard_error']:.2f} pp; the folds' accuracies there spread with a "
                f"std of {100 * spread:.2f} pp, since the folds are different people), so the rule "
                f"takes {c['epochs']}.", ""]
    c = subject_comparison_table(s)
    if len(c):
        out += ["Against `cnn_lstm_paper`, test subject by test subject (McNemar's window-level "
                "p-values in the zoo table treat overlapping windows of one person as independent; "
                "these pair the 9 test subjects instead):", "", markdown_table(c.round(4)), ""]
    if s.get("missing"):
        out += [f"Not run yet (`make cv` resumes): {'; '.join(s['missing'])}."]
    return "\n".join(out).rstrip()


BLOCKS: dict[str, Callable[[Path], str]] = {"data": data_block, "results": results_block,
                                             "audit": audit_block, "cv": cv_block,
                                             "timings": timings_block, "zoo": zoo_block,
                                             "benchmarks": benchmarks_block,
                                             "deploy": deploy_block,
                                             "ablations": ablations_block}


def data_console(results: Path) -> str:
    """Plain-text summary of the data step for the terminal: source, reason, fidelity."""
    s = _load("data_summary.json", results)
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


def render_readme(text: str, results: Path | None = None) -> str:
    """``text`` with every generated block it contains re-rendered from ``results``."""
    results = config.results_dir() if results is None else results
    for name, render in BLOCKS.items():
        pattern = re.compile(rf"(<!-- BEGIN {name} -->\n).*?(<!-- END {name} -->)", re.S)
        if not pattern.search(text):
            continue
        text = pattern.sub(lambda m: m.group(1) + render(results) + "\n" + m.group(2), text)
    return text


def main() -> None:
    """``python -m har_utils.report readme``: rewrite README.md's generated blocks."""
    from .io import atomic_write

    readme = config.PROJECT_ROOT / "README.md"
    new = render_readme(readme.read_text())
    with atomic_write(readme, "w") as f:
        f.write(new)
    print(f"updated {readme}")


if __name__ == "__main__":
    main()
