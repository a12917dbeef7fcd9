"""Generated blocks of the paper's path, each rendered from the results folder as markdown for
:mod:`.docs`; every number is read from a results file (the checksums from the config)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from har_utils import config
from har_utils.paper import NOT_RERUN, TABLE2_ROWS
from har_utils.study_results import fixed_budget_reading

from .. import constants

from .report import markdown_table, read_result

#: The paper's figure or table each notebook regenerates (the notebook index of the README).
PAPER_ITEMS = {"01_data": "Fig. 3", "02_eda_tsne": "Fig. 4", "03_model": "Figs. 1 and 2",
               "04_training": "Fig. 5", "05_evaluation": "Table I, Fig. 6",
               "06_comparison": "Table II, the audit", "07_ablations": "- (a study of ours)",
               "08_deployment": "- (the paper claims it, measures nothing)",
               "09_beyond": "- (a study of ours, past the paper)"}

def duration(seconds: float) -> str:
    """``37 s``, ``596 s``, ``6.8 h``: seconds below an hour, hours above."""
    return f"{seconds:.0f} s" if seconds < 3600 else f"{seconds / 3600:.1f} h"


def pd_frame(rows: list[dict[str, Any]]) -> Any:
    """A DataFrame of ``rows`` (pandas imported only when a block renders)."""
    import pandas as pd

    return pd.DataFrame(rows)


def study_targets() -> dict[str, str]:
    """The make target of each study notebook (``07_ablations`` -> ``make ablations``)."""
    return {nb: f"make {p}" for nb, p in zip(constants.STUDY_NOTEBOOKS, constants.STUDY_PROFILES)}


def set_note(manifest: dict[str, Any]) -> str:
    """A sentence on the values a published run replaced with ``har run --set`` (none: "")."""
    given = [item for item in manifest.get("set", "").split(";") if item]
    if not given:
        return ""
    values = dict(item.partition("=")[::2] for item in given)
    loaded = yaml.safe_load(values.get("04_training.TRAIN", "true")) is False
    return (f" It ran with {', '.join(f'`--set {item}`' for item in given)}"
            + (": notebook 04 loaded the published model instead of training it, so its time "
               "is not a training time." if loaded else "."))


def study_time(nb: str, notebooks: dict[str, Any], results: Path) -> str:
    """How long a study notebook took, from the manifest or its results file, else "-"."""
    if nb in notebooks:
        return duration(notebooks[nb]["wall_seconds"])
    if nb == "07_ablations" and (a := read_result("ablations/cv_summary.json", results)):
        return f"{duration(3600 * a['compute_hours'])} of runs"
    if nb == "07_ablations" and (c := read_result("ablations/cv_choice.json", results)):
        entries = [*c["points"].values(), *(e for stage in (c.get("stages") or {}).values()
                                            for e in stage.values())]
        return f"{duration(sum(e.get('train_seconds', 0.0) for e in entries))} of runs so far"
    if nb == "08_deployment" and (d := read_result("deploy/benchmark.json", results)):
        return f"{duration(d['seconds'])} (the benchmark)"
    if nb == "09_beyond" and (b := read_result("beyond/summary.json", results)):
        return f"{duration(3600 * b['compute_hours'])} of runs"
    return "-"


def commands_block(results: Path) -> str:
    """Markdown: what each command runs and how long it took (published run, fresh clone)."""
    m = read_result("manifest.json", results)
    if m is None:
        return "_No published run yet: run `make reproduce` and `make publish`._"
    nbs, smoke = m["notebooks"], m.get("smoke_wall_seconds", {})
    f = read_result("benchmarks/fresh_clone.json", results)  # commands timed in a fresh clone
    fresh = {c["command"]: c["wall_seconds"] for c in (f or {}).get("commands", [])
             if c["exit_status"] == 0}
    main = [n for n in nbs if n not in constants.STUDY_NOTEBOOKS]
    rows = [{"command": "`make reproduce`", "runs": f"notebooks {main[0][:2]}-{main[-1][:2]} "
             "(profile `paper`)",
             "published run": duration(sum(nbs[n]["wall_seconds"] for n in main))}]
    main_smoke = duration(sum(smoke[n] for n in main)) if all(n in smoke for n in main) else None
    if main_smoke:
        rows.append({"command": "`make reproduce PROFILE=smoke`",
                     "runs": "the same notebooks, fast profile (2 epochs)",
                     "published run": main_smoke})
    smoke_tiers = [f"{main_smoke} for the smoke notebooks"] if main_smoke else []
    smoke_tiers += [f"{duration(smoke[nb])} for the smoke form of {nb[:2]}"
                    for nb in study_targets() if nb in smoke]
    rows.append({"command": "`make test`", "runs": "every test tier (the command CI runs)",
                 "published run": "its notebook tiers: " + (", ".join(smoke_tiers) or "-")})
    for nb, target in study_targets().items():
        rows.append({"command": f"`{target}`", "runs": f"notebook {nb[:2]} (a study)",
                     "published run": study_time(nb, nbs, results)})
    for row in rows:
        took = fresh.get(row["command"].strip("`"))
        row["from a fresh clone"] = "-" if took is None else duration(took)
    t = read_result("benchmarks/tests.json", results)  # make test's own, newer benchmark
    if t is not None:
        rows[[r["command"] for r in rows].index("`make test`")]["from a fresh clone"] = (
            f"{duration(t['total_seconds'])} (`{t['commit']}`, `make bench-tests`)")
    text = [f"Measured on {m.get('cpu_count', '?')} CPU cores. Published run `{m['run_id']}`: "
            "notebook wall times, without the first build of `.venv`." + set_note(m)]
    if f is not None:
        text[0] += (f" From a fresh clone (commit `{f['commit'][:7]}`, "
                    f"`benchmarks/bench_fresh_clone.py`): each command's wall time, one after "
                    f"another in a new clone, `make reproduce` with the build of `.venv`. "
                    f"Packages: {f.get('packages_from', 'where pip took them is not recorded')}.")
    return "\n".join([*text, "", markdown_table(pd_frame(rows), disable_numparse=True)])


def notebook_title(name: str) -> str:
    """What a notebook shows: its first heading without the number (``# 01 · Data: ...``)."""
    nb = json.loads((config.NOTEBOOKS_DIR / f"{name}.ipynb").read_text())
    first = "".join(next(c for c in nb["cells"] if c["cell_type"] == "markdown")["source"])
    return re.sub(r"^#\s*\d+\s*·\s*", "", first.splitlines()[0]).strip()


def notebooks_block(results: Path) -> str:
    """Markdown: the notebook index, with the paper's items, runtimes and commands."""
    m = read_result("manifest.json", results) or {"notebooks": {}}
    targets = study_targets()
    rows = [{"notebook": f"[{name}](notebooks/{name}.ipynb)",
             "what it shows": notebook_title(name),
             "the paper's figure or table": PAPER_ITEMS.get(name, "-"),
             "runtime": study_time(name, m["notebooks"], results) + (
                 " (loaded the published model)" if m["notebooks"].get(name, {}).get(
                     "parameters", {}).get("TRAIN") is False else ""),
             "run by": f"`{targets.get(name, 'make reproduce')}`"}
            for name in sorted(p.stem for p in config.NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))]
    return markdown_table(pd_frame(rows), disable_numparse=True)


def _verdicts(audit: dict[str, Any], *ids: str) -> str:
    by = {f["id"]: f["verdict"] for f in audit["findings"]}
    return ", ".join(f"({i}) {by[i]}" for i in ids if i in by) or "-"


def results_block(results: Path, model: str = "cnn_lstm_paper") -> str:
    """Markdown: the paper's claims beside this companion's numbers, with the audit's verdicts."""
    from har_utils.paper import comparison_rows, reported

    ev = read_result(f"evaluation_{model}.json", results)
    tr = read_result(f"training_{model}.json", results)
    au = read_result("paper_audit.json", results)
    if ev is None or tr is None or au is None:
        return "_No published model run yet: run `make reproduce` and `make publish`._"
    t, acc = ev["test"], ev["accuracy"]
    low, high = ev["test_ci95_subject_bootstrap"]
    if tr.get("validation_subjects"):
        how = (f"stopped early after {tr['epochs_run']} epochs (best validation loss at epoch "
               f"{tr['best_epoch']})")
    else:
        how = (f"trained on all 21 training subjects for {tr['epochs_run']} epochs ("
               f"{tr.get('epochs_from', 'protocol cv')})")
    pct = lambda v: f"{100 * v:.2f} %"  # noqa: E731
    paper = lambda rid: f"{reported(rid):g} %"  # noqa: E731
    fixed = fixed_budget_reading(model, results)
    rows = [{"the paper's claim": "accuracy of the CNN-LSTM (Conclusion, Table II)",
             "the paper": paper("headline_accuracy"),
             "this companion": f"**{pct(t['accuracy'])}** on the test subjects (95 % CI "
                               f"{100 * low:.2f}-{100 * high:.2f} %, subject bootstrap)",
             "audit": _verdicts(au, "a", "b")}]
    if beyond := _beyond_headline(results):
        rows.append(beyond)
    train = f"{pct(acc['train'])} (published run, {tr['epochs_run']} epochs)" \
        if acc.get("train") is not None else "-"
    if fixed:
        train += (f"; {pct(fixed['train_accuracy_logged'])} after the paper's "
                  f"{fixed['epochs']} epochs ({fixed['n_seeds']} seeds on {fixed['backend']}, "
                  "as Keras logs it)")
    rows.append({"the paper's claim": "training accuracy at the end (III.B)",
                 "the paper": paper("train_accuracy"), "this companion": train,
                 "audit": _verdicts(au, "a")})
    if fixed:
        rows.append({"the paper's claim": "validation accuracy at the end (III.B; Fig. 5 "
                                          "calls the curve test)",
                     "the paper": paper("val_accuracy"),
                     "this companion": f"{pct(fixed['test_accuracy'])} on the test subjects "
                                       f"after the paper's {fixed['epochs']} epochs (test set "
                                       "only watched)",
                     "audit": _verdicts(au, "e")})
    avg = "/".join(f"{reported(f'table1_avg_{k}'):g}" for k in ("precision", "recall", "f1"))
    ours = "/".join(f"{100 * t['macro_avg'][k]:.1f}" for k in ("precision", "recall", "f1"))
    rows.append({"the paper's claim": "average precision/recall/F1 (III.B, Table I)",
                 "the paper": f"{avg} %", "this companion": f"{ours} % (macro, test subjects)",
                 "audit": _verdicts(au, "f", "c", "d", "g")})
    zoo = read_result("zoo/summary.json", results) or {"rows": []}
    by_rid = {rid: m for m, (_, rid) in TABLE2_ROWS.items() if m != model}
    not_rerun = {rid: reason for rid, reason in NOT_RERUN.values()}
    for _, r in comparison_rows().iterrows():
        if not r["id"].startswith("table2_") or r["id"] == "table2_proposed":
            continue
        m = by_rid.get(r["id"])
        ran = [z for z in zoo["rows"] if z["model"] == m and z["protocol"] == "cv"]
        if ran:
            z = ran[0]
            spread = f" ± {100 * z['accuracy_std']:.2f}" if z["n_seeds"] > 1 else ""
            ours = (f"`{m}` re-run: {100 * z['accuracy_mean']:.2f}{spread} % (protocol "
                    f"cv, {z['n_seeds']} seed{'s' * (z['n_seeds'] > 1)})")
        else:
            ours = "not re-run" + (f": {not_rerun[r['id']].split(',')[0]}"
                                   if r["id"] in not_rerun else "")
        source = r["source_reports_pct"]
        rows.append({"the paper's claim": f"accuracy of {r['method']} {r['reference']} "
                                          "(Table II)",
                     "the paper": f"{r['reported_pct']:g} %", "this companion": ours,
                     "audit": f"(h) {r['source_status']}: its source prints "
                              + ("-" if source != source or source is None else f"{source:g}")
                              + f" ({r['what_the_number_is']})"})
    return "\n".join([f"Published run ({ev['data']['source_label']}): `{model}` with the "
                      f"paper's settings, {how}, seed 0, {tr['seconds']:.0f} s of training; "
                      f"test macro F1 {t['macro_avg']['f1']:.3f} on {t['n']:,} windows.", "",
                      markdown_table(pd_frame(rows), disable_numparse=True)])


def _beyond_headline(results: Path) -> dict[str, str] | None:
    """The results table's row for the beyond study's chosen configuration, once tested."""
    from har_utils.paper import reported

    s = read_result("beyond/summary.json", results)
    ch = (s or {}).get("chosen")
    r = (s or {}).get("tested", {}).get(ch["name"]) if ch else None
    if r is None:
        return None
    fold = ch.get("score_all_folds")
    runs = f"{r['n']} {'ensembles of ' + str(r['ensemble_seeds']) + ' seeds' if r['ensemble_seeds'] > 1 else 'seeds'}"
    what = f"`{ch['name']}`" + (f": {ch['note']}" if ch.get("note") else "")
    return {"the paper's claim": "accuracy of the CNN-LSTM (Conclusion), configured on folds of "
                                 "the training subjects (notebook 09)",
            "the paper": f"{reported('headline_accuracy'):g} %",
            "this companion": f"**{100 * r['accuracy_mean']:.2f} ± {100 * r['accuracy_std']:.2f} %** "
                              f"on the test subjects ({what}; {runs}; the folds predicted "
                              + ("-" if fold is None else f"{100 * fold:.2f} % for one seed")
                              + ")" + _beyond_significance(s.get("like_for_like") or []),
            "audit": "[docs/beyond.md](docs/beyond.md)"}


def _beyond_significance(rows: list[dict[str, Any]]) -> str:
    """Whether the chosen configuration's gain over the paper's model is significant, like for
    like (single seeds against single seeds, ensembles against ensembles; Holm)."""
    paper = [r for r in rows if r["reference"] == "cnn_lstm_paper"]
    if not paper:
        return ""
    worst = max(r["wilcoxon_p_holm"] for r in paper)
    best = min(r["wilcoxon_p_holm"] for r in paper)
    verdict = ("significant" if worst < 0.05 else "not significant over 9 test subjects"
               if best >= 0.05 else "significant one way only")
    return (f"; its gain over the paper's model is {verdict} like for like (Wilcoxon, Holm p "
            + ", ".join(f"{r['wilcoxon_p_holm']:.2f}" for r in paper) + ")")


def finding_numbers(f: dict[str, Any]) -> str:
    """The key numbers of one audit finding in a phrase (else its explanation's first sentence)."""
    e = f["evidence"]
    try:
        if f["id"] == "a":
            return (f"{e['headline_pct']:g} % equals the training accuracy of III.B "
                    f"({e['train_accuracy_pct']:g} %); the test-side numbers are "
                    f"{e['val_accuracy_pct']:g} % (the curve Fig. 5 calls test) and "
                    f"{e['cm_accuracy_pct']:.2f} % (Fig. 6)")
        if f["id"] == "b":
            return (f"Fig. 6's diagonal holds {e['cm_correct']:,} of {e['test_windows']:,} "
                    f"windows, {e['cm_accuracy_pct']:.2f} %: {e['gap_pp']:.2f} pp below "
                    f"{e['headline_pct']:g} %")
        if f["id"] == "c":
            return (f"{e['n_inconsistent']} of {e['n_checked']} classes disagree "
                    f"({', '.join(e['inconsistent'])})")
        if f["id"] == "d":
            return (f"{e['n_impossible']} of {e['n_checked']} F1 scores are impossible "
                    f"({', '.join(e['impossible'])})")
        if f["id"] == "e":
            return (f"the curve III.B calls validation ({e['val_accuracy_pct']:g} % at the end) "
                    f"is the test set in the caption of Fig. 5")
        if f["id"] == "f":
            macro = e["recall: macro, from the Fig. 6 diagonal"]
            return (f"{e['n_disagree']} of {e['n_checked']} averages disagree; the Fig. 6 "
                    f"diagonal gives a macro recall of {100 * macro:.2f} %")
        if f["id"] == "g":
            return "; ".join(f"{m} as defined computes {e['computes'][m]}"
                             for m in e["nonstandard"])
    except (KeyError, TypeError):
        pass
    return re.split(r"\.\s+(?=[A-Z])", f["explanation"])[0].rstrip(".")


def findings_block(results: Path) -> str:
    """Markdown: one line per audit finding, its verdict and key numbers."""
    au = read_result("paper_audit.json", results)
    if au is None:
        return "_No published audit yet: run `make reproduce` and `make publish`._"
    return "\n".join(f"- **({f['id']}) {f['verdict']}**: {f['title']}: {finding_numbers(f)}."
                     for f in au["findings"])


#: Columns of each finding's evidence table that docs/audit.md shows, in order.
AUDIT_COLUMNS = {"c": ["class", "table1_recall", "support", "diagonal", "matrix_recall",
                       "correct_needed", "consistent"],
                 "d": ["class", "precision", "recall", "f1", "f1_reachable_min",
                       "f1_reachable_max", "possible"],
                 "f": ["average", "reported", "computed", "agrees"],
                 "g": ["metric", "paraphrase", "computes", "standard"],
                 "h": ["row", "paper prints %", "source prints %", "metric", "status",
                       "identification"]}


def audit_block(results: Path) -> str:
    """Markdown: every audit finding with its evidence, and Table II's comparison."""
    import pandas as pd

    au = read_result("paper_audit.json", results)
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
            out += [markdown_table(table, floatfmt="g"), ""]
    t2 = results / "table2_comparison.csv"
    if t2.exists():
        table = pd.read_csv(t2, comment="#").drop(columns=["id"])
        out += ["Table II beside what each source reports (`results/table2_comparison.csv`):", "",
                markdown_table(table, floatfmt="g")]
    return "\n".join(out).rstrip()


def data_block(results: Path) -> str:
    """Markdown: source, windows and fidelity of the published data step, and load times."""
    s = read_result("data_summary.json", results)
    if s is None:
        return "_No published data step yet: run `make reproduce` and `make publish`._"
    f, w = s["fidelity"]["overall"], s["windows"]
    off = {k: v["official"] for k, v in s["fidelity"]["per_split"].items()}
    per_activity = s["fidelity"]["per_activity"]
    rows = [{"activity": name, "official windows": f"{a['official']:,}",
             "rebuilt": f"{a['rebuilt']:,}", "difference": f"{a['total_diff']:+d}",
             "cells exact (of 30)": str(a["cells_exact"])}
            for name, a in ((n, per_activity[n]) for n in config.ACTIVITY_NAMES
                            if n in per_activity)]
    rows.append({"activity": "**all**", "official windows": f"{f['official']:,}",
                 "rebuilt": f"{f['rebuilt']:,}", "difference": f"{f['total_diff']:+d}",
                 "cells exact (of 30)": f"{f['cells_exact']} of {f['cells']}"})
    lines = [f"Published run: source **{s['source_label']}** (`{s['source']}`), "
             f"{w['train']:,} training and {w['test']:,} test windows "
             f"(official: {off['train']:,} and {off['test']:,}).", "",
             markdown_table(pd_frame(rows), disable_numparse=True,
                            colalign=("left", "right", "right", "right", "right"))]
    b = read_result("benchmarks/data_load.json", results)
    if b is not None:
        lines += ["", f"Loading ({b['source_label']}, {b['cpu_count']} cores, median of "
                      f"{b['repeats']}): {b['cold_median_s']:.1f} s cold (convert, filter, window, "
                      f"cache), {b['cached_median_s']:.2f} s from the cache."]
    return "\n".join(lines)


def checksums_block(results: Path) -> str:
    """Markdown: the data's source files, sizes and SHA-256 (from :mod:`har_utils.config`)."""
    rows = [{"file": f"`{z['name']}` ({what})", "bytes": f"{z['size']:,}",
             "SHA-256": f"`{z['sha256']}`"}
            for z, what in ((config.UCI_OUTER_ZIP, "the official archive"),
                            (config.UCI_INNER_ZIP, "inside it"))]
    rows += [{"file": f"`{config.HAPT_RESOURCE}` of `{config.HAPT_PACKAGE}=="
                      f"{config.HAPT_PACKAGE_VERSION}` (the offline rebuild)",
              "bytes": "-", "SHA-256": f"`{config.HAPT_SHA256}`"}]
    return markdown_table(pd_frame(rows), disable_numparse=True,
                          colalign=("left", "right", "left"))


def timings_block(results: Path) -> str:
    """Markdown: each notebook's wall time (published and smoke run) and each command's total."""
    m = read_result("manifest.json", results)
    if m is None:
        return "_No published run yet._"
    smoke = m.get("smoke_wall_seconds", {})
    targets = study_targets()
    rows, totals = [], {}
    for name, nb in m["notebooks"].items():
        target = targets.get(name, "make reproduce")
        s = smoke.get(name)
        rows.append({"notebook": name, "command": f"`{target}`",
                     "paper": f"{nb['wall_seconds']:.0f} s",
                     "smoke": "-" if s is None else f"{s:.0f} s"})
        t = totals.setdefault(target, [0.0, 0.0])
        t[0] += nb["wall_seconds"]
        t[1] += s or 0.0
    rows += [{"notebook": "**all**", "command": f"`{target}`", "paper": f"{paper:.0f} s",
              "smoke": f"{s:.0f} s"} for target, (paper, s) in totals.items()]
    return "\n".join([f"Wall time per notebook on {m.get('cpu_count', '?')} CPU cores "
                      f"(published run `{m['run_id']}`; smoke times from the run before "
                      f"publishing).{set_note(m)}", "",
                      markdown_table(pd_frame(rows), disable_numparse=True,
                                     colalign=("left", "left", "right", "right"))])


def benchmarks_block(results: Path) -> str:
    """Markdown: the figures the benchmarks in ``benchmarks/`` wrote (``make bench``)."""
    rows = []
    d = read_result("benchmarks/data_load.json", results)
    if d is not None:
        rows.append({"benchmark": f"data load ({d['source_label']}, {d['windows']:,} windows)",
                     "figure": f"cold {d['cold_median_s']:.2f} s, cached "
                               f"{d['cached_median_s']:.3f} s ({d['speedup']:.0f}x)",
                     "how": f"median of {d['repeats']}"})
    t = read_result("benchmarks/training_loop.json", results)
    if t is not None:
        rows.append({"benchmark": f"project training loop vs bare `model.fit` ({t['model']}, "
                                  f"{t['fit_windows'] + t['val_windows']:,} windows, "
                                  f"{t['epochs']} epochs)",
                     "figure": f"{t['loop_median_s']:.1f} s vs {t['bare_median_s']:.1f} s, ratio "
                               f"{t['ratio_loop_over_bare']:.3f} (target <= {t['target_ratio']})",
                     "how": f"median of {t['repeats']}, interleaved"})
    if not rows:
        return "_No benchmark has run yet: `make bench`._"
    cpus = (d or t)["cpu_count"]
    return "\n".join([f"On {cpus} CPU cores (`make bench`):", "",
                      markdown_table(pd_frame(rows), disable_numparse=True)])


def make_target_help(target: str) -> str:
    """The ``## ...`` description of ``target`` in the Makefile (empty when it has none)."""
    m = re.search(rf"^{re.escape(target)}:[^\n]*?## (.*)$",
                  (config.PROJECT_ROOT / "Makefile").read_text(), re.M)
    return m.group(1).strip() if m else ""


def tests_block(results: Path) -> str:
    """Markdown: the wall time of each tier of ``make test`` from a fresh clone (``make
    bench-tests``)."""
    b = read_result("benchmarks/tests.json", results)
    if b is None:
        return "_Not measured yet: `make bench-tests`._"
    rows = [{"tier": f"`make {r['tier']}`", "what it runs": make_target_help(r["tier"]),
             "wall time": f"{r['wall_seconds']:.0f} s",
             "load before": f"{r['load_average_before']:.2f}"} for r in b["tiers"]]
    rows.append({"tier": "**all**", "what it runs": "`make test`",
                 "wall time": f"**{b['total_seconds']:.0f} s**", "load before": ""})
    met = "met" if b["total_seconds"] <= b["target_seconds"] else "missed"
    cpu = b.get("environment", {}).get("cpu") or "?"
    return "\n".join([
        f"`make test` from a fresh clone of `{b['commit']}` on {b['cpu_count']} CPU cores ({cpu}), "
        f"measured {b['measured_utc']}, the environment built beforehand: "
        f"{b['total_seconds']:.0f} s against a target of {b['target_seconds']} s ({met}).", "",
        markdown_table(pd_frame(rows), disable_numparse=True,
                       colalign=("left", "left", "right", "right"))])


def adapt_block(results: Path) -> str:
    """Markdown: the wall time of each adaptation of docs/adapt.md (``make bench-adapt``)."""
    a = read_result("benchmarks/adapt.json", results)
    if a is None or "adaptations" not in a:
        return "_Not measured yet: `make bench-adapt`._"
    rows = [{"adaptation": r["adaptation"], "wall time": f"{r['wall_seconds']:.0f} s",
             "load before": f"{r['load_average_before']:.2f}"} for r in a["adaptations"]]
    return "\n".join([f"Commit `{a['commit']}`, {a['machine']}, {a['data']}, measured "
                      f"{a['measured_utc']} by `{a['script']}` (data already built; the load "
                      "average says how busy the machine was):", "",
                      markdown_table(pd_frame(rows), disable_numparse=True,
                                     colalign=("left", "right", "right"))])


def backends_block(results: Path) -> str:
    """Markdown: seconds per epoch of every zoo model on JAX and TensorFlow (``make bench-backends``)."""
    b = read_result("benchmarks/backends.json", results)
    if b is None:
        return "_The backends benchmark has not run yet: `make bench-backends`._"
    rows = []
    for r in b["table"]:
        j, t = r.get("jax s/epoch"), r.get("tensorflow s/epoch")
        rows.append({"model": r["model"],
                     "JAX s/epoch": "failed" if j is None else f"{j:.2f}",
                     "TensorFlow s/epoch": "failed" if t is None else f"{t:.2f}",
                     "speed-up": "-" if r.get("speed-up") is None else f"{r['speed-up']:.2f}x",
                     "first epoch, JAX / TF (s)": f"{r.get('jax first epoch s') or 0:.1f} / "
                                                  f"{r.get('tensorflow first epoch s') or 0:.1f}"})
    slower = [r["model"] for r in b["table"] if r.get("speed-up") and r["speed-up"] < 1]
    source = (b.get("data") or {}).get("source_label", "?")
    env = b.get("environment", {}).get("packages", {})
    lines = [f"Seconds per training epoch on all 7,352 training windows ({source}), one core per "
             f"process, {b['parallel_processes']} processes at once on {b['cpu_count']} cores; "
             + ("epoch 2" if b["epochs"] == 2 else f"the median of epochs 2-{b['epochs']}")
             + f" (the first epoch, which compiles, apart); JAX "
             f"{env.get('jax', '?')}, TensorFlow {env.get('tensorflow', '?')} with op determinism, "
             f"Keras {env.get('keras', '?')} (`make bench-backends`, one run each):", "",
             markdown_table(pd_frame(rows), disable_numparse=True)]
    if slower:
        lines += ["", f"Slower on JAX: {', '.join(slower)}."]
    return "\n".join(lines)
