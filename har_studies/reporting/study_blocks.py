"""Generated blocks of the studies, each on its page under ``docs/`` (zoo, cv, ablations,
deployment, beyond); every number is read from a results file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import constants
from har_utils.study_results import (cv_table, paper_protocol_table, subject_comparison_table,
                                    subject_comparison_verdict, zoo_table)

from .report import epoch_rule_left_out_table, epoch_rule_table, markdown_table, read_result
from .study_results import beyond_candidates_table, beyond_test_table, like_for_like_table


def zoo_block(results: Path) -> str:
    """Markdown: the zoo's table (protocol cv's rows), the comparisons by test subject and the
    paper's protocol, from results/zoo/summary.json."""
    s = read_result("zoo/summary.json", results)
    if s is None:
        return "_The zoo has not run yet: `make cv`, then `make zoo`._"
    cv_rows = [r for r in s["rows"] if r["protocol"] == "cv"]
    backends = sorted({b for r in cv_rows for b in r.get("backends", [])})
    out = [f"Data: {s['data']['source_label']}. Every row: protocol cv's final runs "
           f"(`results/cv/summary.json`), trained on {', '.join(backends) or '-'}; mean ± std "
           "over seeds, a 95 % interval from resampling test subjects:", "",
           markdown_table(zoo_table(s))]
    subj = subject_comparison_table(s)
    if len(subj):
        out += ["", "Against `cnn_lstm_paper`, test subject by test subject (protocol cv's final "
                    "runs, the same backend; per-subject accuracy, mean over seeds; computed by "
                    "protocol cv):", "", markdown_table(subj.round(4)), "",
                subject_comparison_verdict(s)]
    paper = paper_protocol_table(s)
    if len(paper):
        fixed = next(r for r in s["rows"] if r["protocol"] == "fixed_budget")
        cores = " or ".join(map(str, fixed.get("cpu_counts") or ["?"]))
        out += ["", "The paper's own protocol, the audit's reference (`make zoo`): "
                    "`cnn_lstm_paper` on all 21 training subjects for 100 epochs, the test set "
                    "scored after every epoch and never steering. The final epoch involves no "
                    "choice made on the test set; the epoch with the best test accuracy is "
                    "chosen on it, and the gap is the inflation:", "", markdown_table(paper), "",
                f"Compute: {fixed['train_seconds_total'] / 3600:.2f} h of training "
                f"({fixed['wall_seconds_total'] / 3600:.2f} h wall including evaluation) for "
                f"these {s['n_runs']} runs, on {cores} CPU cores."]
    return "\n".join(out)


def cv_block(results: Path) -> str:
    """Markdown: protocol cv's folds, choices, tests, subject comparisons and what is missing."""
    s = read_result("cv/summary.json", results)
    if s is None:
        return "_Protocol cv has not run yet: `make cv-cost`, then `make cv`._"
    folds = "; ".join(f"{i}: {', '.join(map(str, f))}" for i, f in enumerate(s["folds"]))
    out = [f"Data: {s['data']['source_label']}. Folds ({s['k_folds']}, held-out training subjects): "
           f"{folds}.", ""]
    cost = results / "cv" / "cost_table.csv"
    if cost.exists():
        import pandas as pd

        c = pd.read_csv(cost, comment="#")
        first = cost.read_text().splitlines()[0]
        measured = first.split("measured on ", 1)[-1].split("; written by")[0] \
            if "measured on " in first else "seconds per epoch as measured"
        out += [f"Cost, planned before the runs (`make cv-cost`; at most "
                f"{c['total hours (at most)'].sum():.1f} h of one worker; seconds per epoch "
                f"measured on {measured}):", "", markdown_table(c.round(2)), ""]
    t = cv_table(s)
    if len(t):
        out += [markdown_table(t), ""]
    out += epoch_rule_lines(s)
    c = subject_comparison_table(s)
    if len(c):
        out += ["Against `cnn_lstm_paper`, test subject by test subject (per-subject accuracy, "
                "mean over seeds; windows of one person are not independent, so the test pairs "
                "the test subjects, not the windows):", "", markdown_table(c.round(4)), "",
                subject_comparison_verdict(s), ""]
    out += rerun_lines(read_result("cv/rerun_check.json", results))
    if s.get("missing"):
        out += [f"Not run yet (`make cv` resumes): {'; '.join(s['missing'])}."]
    return "\n".join(out).rstrip()


def rerun_lines(r: dict[str, Any] | None) -> list[str]:
    """Markdown lines: committed final runs trained again from a clean commit (``make
    check-reruns``), or a note that the check has not run."""
    if r is None:
        return ["The committed runs that record a dirty working tree have not been trained again "
                "from a clean commit yet (`make check-reruns`).", ""]
    import pandas as pd

    rows = pd.DataFrame([{"run": x["name"] + (" (control)" if x.get("control") else ""),
                          "committed from a dirty tree": x["committed_dirty"],
                          "committed %": round(100 * x["accuracy_committed"], 2),
                          "re-run %": round(100 * x["accuracy_rerun"], 2),
                          "differing (test windows; epochs for a fold run)":
                              x["windows_differing"]} for x in r["runs"]])
    control = next((x for x in r["runs"] if x.get("control")), None)
    return [f"Trained again from the clean commit `{r['commit'][:7]}` on {r['cpu_model']} "
            f"(`make check-reruns`, into `build/`): {r['identical']} of {len(r['runs'])} runs "
            "are identical to the committed ones"
            + (f"; the control, a run committed from a clean tree, is "
               f"{'identical' if control['identical_predictions'] else 'not identical'}"
               if control else "") + ". "
            "A run is deterministic for a seed, thread count and machine; runs record their CPU "
            "model only since this check, so a difference in a run that does not name one can "
            "come from the machine as well as from the working tree.", "",
            markdown_table(rows), ""]


def epoch_rule_lines(s: dict[str, Any]) -> list[str]:
    """Markdown lines: protocol cv's epoch rule, chosen on the folds, and the C rule."""
    r, out = s.get("epoch_rule"), []
    if r:
        out += [f"Epoch rule, chosen on the folds by {r['chosen_by']} ({r['tie_break']}): "
                f"`{r['rule']}`, {r['description']}. Each rule's nested leave-one-fold-out score "
                "(for each fold, the rule applied to the other folds' curves, the fold's raw "
                "accuracy read at the epoch it picks; mean over folds, %), and in brackets the "
                "epoch count it picks on all the folds:", "",
                markdown_table(epoch_rule_table(s)), ""]
        left = epoch_rule_left_out_table(s)
        if len(left) > 2:
            flips = left[left["would win"] != r["rule"]]
            flip = "".join(f"; without `{row['left out']}`, `{row['would win']}` would win"
                           for _, row in flips.iterrows())
            out += [f"How much the choice rests on single models (reported, not used: the rule "
                    f"stays `{r['rule']}`, fixed before the test set was read): the comparison "
                    f"again with each model left out in turn. `{r['rule']}` still wins in "
                    f"{len(left) - len(flips)} of {len(left)} cases{flip} (mean nested score "
                    "over the other models, %):", "", markdown_table(left), ""]
    for model, e in s["models"].items():
        rc = e["choice"].get("rule_choice")
        if rc:
            scores = ", ".join(f"`{n}` " + ("-" if t["mean"] is None else f"{100 * t['mean']:.2f}")
                               for n, t in rc["scores"].items())
            how = (rc["chosen_by"] if rc["chosen_by"].startswith("default") else
                   "chosen on its own nested leave-one-fold-out scores")
            out += [f"`{model}`: C = {e['choice']['C']:g}, by the C rule `{rc['rule']}`, "
                    f"{rc['description']} ({how}, %: {scores}).", ""]
    rows = [(m, e["sensitivity"], e.get("final")) for m, e in s["models"].items()
            if e.get("sensitivity")]
    if rows:
        out += ["Sensitivity (never chosen): the earlier rule's epoch count, trained and tested "
                "with the same seeds:", ""]
        for m, sens, chosen in rows:
            f = sens["final"]
            line = (f"- `{m}`: `{sens['rule']}` takes {sens['epochs']} epochs: "
                    f"{100 * f['accuracy_mean']:.2f} ± {100 * f['accuracy_std']:.2f} % "
                    f"({f['n_seeds']} seed(s))")
            if chosen:
                line += (f", against {100 * chosen['accuracy_mean']:.2f} ± "
                         f"{100 * chosen['accuracy_std']:.2f} % at the chosen "
                         f"{chosen['epochs']} epochs")
            out.append(line + ".")
        out.append("")
    return out


def ablations_block(results: Path) -> str:
    """Markdown: the ablation study under protocol cv (every point, the confirmation, the
    combinations, the choice, its test) and what the retired early-stopping study hid."""
    from ..experiments.ablations import tables

    choice = read_result("ablations/cv_choice.json", results)
    if choice is None:
        return "_The ablation study has not run yet: `make ablations`._"
    ch = choice.get("chosen")
    out = [f"Data: {choice['data']['source_label']}; JAX; every point on the first "
           f"{choice['folds']} of protocol cv's folds for {choice['budget']} epochs, scored by "
           f"the nested {choice['epoch_rule']} rule on the held-out subjects' accuracy curves "
           "(no test subject read); the points ahead of the paper's configuration went on to "
           "all 7 folds (`results/ablations/cv_choice.json`).", "",
           markdown_table(tables.screen_table(choice)), ""]
    combos = tables.combination_table(choice)
    if len(combos):
        out += ["The confirmed factors joined, on all 7 folds:", "", markdown_table(combos), ""]
    if ch is None:
        out.append("No choice yet; missing: " + ", ".join(choice.get("missing", [])) + ".")
        return "\n".join(out)
    out += [f"Chosen on the folds: **{ch['name']}** ({100 * ch['score']:.2f} % on all 7 folds "
            f"against {100 * ch['baseline_score']:.2f} % for the paper's configuration; "
            f"{ch['epochs']} epochs).", ""]
    s = read_result("ablations/cv_summary.json", results)
    if s and s.get("finals") and not s.get("missing_finals"):
        out += ["Tested once, after the choice was committed, beside the paper's configuration "
                "over the same seeds:", "", markdown_table(tables.finals_table(s)), ""]
        rows = s.get("like_for_like") or []
        if rows:
            out += ["Paired by test subject, single seeds against single seeds (Wilcoxon over "
                    "the 9 test subjects):", "",
                    markdown_table(like_for_like_table(rows), disable_numparse=True), "",
                    "The difference is " + ("significant" if rows[0]["wilcoxon_p_holm"] < 0.05
                                            else "not significant over 9 test subjects") + ".",
                    ""]
    else:
        out += ["No test number yet: `make ablations-final` runs the committed choice and the "
                "paper's configuration over the same seeds.", ""]
    if s and s.get("undertraining"):
        kept = sorted(r["early_stopping_epochs"] for r in s["undertraining"]
                      if r.get("early_stopping_epochs") is not None)
        median = f"; the median point kept epoch {kept[len(kept) // 2]:.0f}" if kept else ""
        out += ["What early stopping hid: each point's effect in the retired early-stopping "
                "study (TensorFlow; 4 validation subjects, patience 10, 3 seeds"
                f"{median}) beside its effect trained to convergence here, in points against "
                "each protocol's own paper configuration:", "",
                markdown_table(tables.undertraining_table(s)), ""]
    if s:
        out.append(f"Compute: {s['compute_hours']:.1f} h of one worker for the runs this study "
                   "trained (the paper configuration's screen runs are the beyond study's).")
    return "\n".join(out).rstrip()


def deploy_block(results: Path) -> str:
    """Markdown: notebook 08's deployment benchmark."""
    b = read_result("deploy/benchmark.json", results)
    if b is None:
        return "_The deployment benchmark has not run yet: notebook 08 (`make deploy`)._"
    from ..deploy.tables import day_table, quantisation_table, targets_table, variants_table
    big = b["big_batch"]
    v = variants_table(b)
    out = [f"Measured by notebook 08 (`make deploy`) on a {b['cpu_count']}-core CPU with "
           f"{b['tf_threads']['intra_op']} TensorFlow "
           f"thread and 1 TFLite thread; test data: {b['data']['source_label']}. "
           "Latency is the median of one-window calls, throughput that of batches of "
           f"{big}:", ""]
    cols = {"model": "model", "variant": "variant", "bytes": "bytes",
            "ms_per_window_b1": "ms per window (batch 1)",
            f"windows_per_s_b{big}": f"windows/s (batch {big})",
            "accuracy_%": "test accuracy %", "lost_points": "points lost"}
    # the paper's model, and beside it the beyond study's choice and the watch model if measured
    trained = [(b.get("targets") or {}).get("model", "cnn_lstm_paper"), constants.BEYOND_MODEL,
               constants.SMALL_MODEL]
    prim = v[v["model"].isin(trained)]
    out += [markdown_table(prim[list(cols)].rename(columns=cols).round(3)), ""]
    out += [f"`{r['model']}` ({r['kind']}): TFLite {r['tflite_note']}; its "
            "latency includes computing the window features." for r in b["models"]
            if r["model"] in trained and r.get("tflite_note")]
    others = v[~v["model"].isin(trained)
               & v["variant"].str.startswith(("tf_function", "tflite dynamic"))]
    if len(others):
        out += ["Other zoo models (untrained builds: latency and size only):", "",
                markdown_table(others[["model", "parameters", "variant", "bytes",
                                       "ms_per_window_b1", f"windows_per_s_b{big}"]].round(3)),
                ""]
    t = targets_table(b)
    if len(t):
        out += ["Targets:", "", markdown_table(t.round(3)), ""]
    q = quantisation_table(b)
    if len(q):
        out += ["Integer exports against the 0.5-point target (batch 1; the int8 and int16x8 "
                "graphs take standardised windows, the file carries the mean and standard "
                "deviation, and the runner applies them):", "", markdown_table(q.round(3)), ""]
    cal = read_result("deploy/int8_calibration.json", results)
    if cal:
        lost = "; ".join(f"{m}: " + ", ".join(f"{v:.2f} ({'every window' if k == '1.0' else f'calmer {float(k):.0%}'})"
                                              for k, v in per.items())
                         for m, per in cal["mean_lost_points"].items())
        out += [f"int8 calibrates on the calmer {100 * cal['chosen_quantile']:.0f} % of the training "
                "windows (those whose largest standardised value is at most that quantile), "
                f"chosen on training windows only (`make bench-int8`; {cal['scored']}): mean "
                f"points lost over three calibration draws, {lost}.", ""]
    d = day_table(b)
    if len(d):
        first = next(iter(next(r["day"] for r in b["models"] if r.get("day")).values()))
        out += [f"{first['hours']:g} h of 50 Hz recording ({first['data']}), filtered, windowed "
                "and classified on one thread:", "", markdown_table(d.round(2)), ""]
    out += [deploy_cost_text(b, read_result("benchmarks/deploy_workers.json", results)), ""]
    st = b.get("streaming")
    if st:
        agree = ", ".join(f"{m.replace('_', '-')} filtering {100 * a['agreement_scored']:.2f} % "
                          f"of {a['scored']:,} scored windows" for m, a in st["pooled"].items()
                          if a["agreement_scored"] is not None)
        out += [f"Streaming agreement ({st['data']}; {st['rule']}): {agree}."]
    return "\n".join(out).rstrip()


def deploy_cost_text(b: dict[str, Any], check: dict[str, Any] | None) -> str:
    """What the benchmark cost, and what measuring models at once did to the timings."""
    from ..deploy.tables import profile_table
    workers = b.get("workers", 1)
    text = (f"The benchmark took {b['seconds']:.0f} s, "
            + ("one model after another" if workers == 1 else f"{workers} models at a time")
            + " (the target for `make deploy`: 5 minutes, with every zoo model and the same "
              "repeats).")
    top = profile_table(b).head(3)
    if len(top):
        text += " Its largest stages: " + "; ".join(
            f"{r.model} {r.stage} {r.seconds:.0f} s" for r in top.itertuples()) + "."
    if check and workers > 1:
        ratios = sorted((t["ratio"], t["model"], t["variant"], t["batch"])
                        for t in check["timings"])
        within = sum(0.85 <= r[0] <= 1.15 for r in ratios)
        big = sum(r[3] != "1" for r in ratios if not 0.85 <= r[0] <= 1.15)
        worst = ratios[-1]
        text += (f" Measuring models at once was checked before it was published, in two "
                 f"runs of commit `{check['parallel']['commit']['commit'][:7]}`"
                 f"{' with uncommitted changes' if check['parallel']['commit'].get('dirty') else ''}"
                 f": one model "
                 f"after another {check['serial']['seconds']:.0f} s, {check['parallel']['workers']}"
                 f" at a time {check['parallel']['seconds']:.0f} s "
                 f"(`benchmarks/compare_deploy.py`, rule fixed beforehand: "
                 f"{'passed' if check['accepted'] else 'failed'}). The median timing ratio is "
                 f"{check['median_ratio']:.3f} and {within} of {len(ratios)} timings lie within "
                 f"15 %; the others are up to {worst[0]:.2f} times slower ({worst[1]} "
                 f"{worst[2]}, batch {worst[3]}); {big} of those {len(ratios) - within} are "
                 f"batch-{b['big_batch']} throughputs.")
    return text


def _pct(score: float | None) -> float | None:
    return None if score is None else 100 * score


def small_block(results: Path) -> str:
    """Markdown: the watch-model study's candidates (int8 size, fold scores), its choice and,
    once tested, the chosen network's test accuracy over its final seeds."""
    choice = read_result("small/choice.json", results)
    if choice is None:
        return ("_The watch-model study has not run yet: `make small` (the choice), then "
                "`make small-final`._")
    limit = choice["size_limit_bytes"]
    rows = []
    for name, c in choice["candidates"].items():
        screen, every = c.get("screen") or {}, c.get("all") or {}
        rows.append({"candidate": name, "what": c["note"], "int8 bytes": c["int8_bytes"],
                     f"fits {limit:,} B": c["fits"],
                     "3-fold score %": _pct(screen.get("score")),
                     "7-fold score %": _pct(every.get("score")),
                     "epochs": every.get("epochs", screen.get("epochs"))})
    import pandas as pd
    out = [f"Data: {choice['data']['source_label']}. Int8 sizes: {choice['sizes_from']}. Scores: "
           f"the nested leave-one-fold-out score of the {choice['epoch_rule']} epoch rule on "
           "protocol cv's folds of the training subjects (fold runs only, no test):", "",
           markdown_table(pd.DataFrame(rows).round(2)), ""]
    ch = choice.get("chosen")
    if ch is None:
        missing = ", ".join(choice.get("missing", [])) or "-"
        return "\n".join(out + [f"**Status:** no choice yet; missing: {missing}."]).rstrip()
    out += [f"**Chosen** ({choice['chosen_by']}): `{ch['name']}` ({ch['note']}), "
            f"{ch['epochs']} epochs, 7-fold score {100 * ch['score_all_folds']:.2f} %; seed "
            f"{ch['shipped_seed']} ships as `results/models/small.keras`.", ""]
    s = read_result("small/summary.json", results)
    t = (s or {}).get("tested")
    if not t:
        return "\n".join(out + ["_Not tested yet: `make small-final`._"]).rstrip()
    worst = min(t["per_subject_accuracy_mean"].items(), key=lambda kv: kv[1])
    acc = ", ".join(f"{100 * a:.2f}" for a in t["accuracy"])
    out += [f"Test accuracy over {t['n']} seeds ({', '.join(t['backends'])}): "
            f"{100 * t['accuracy_mean']:.2f} ± {100 * t['accuracy_std']:.2f} % "
            f"(seeds: {acc}); 95 % subject-bootstrap interval "
            f"{100 * t['ci95_subject_bootstrap'][0]:.2f}-{100 * t['ci95_subject_bootstrap'][1]:.2f} %; "
            f"worst test subject {worst[0]} ({100 * worst[1]:.2f} %, mean over seeds). "
            f"Target: at least 97.5 % (moonshot 98.0 %): "
            f"{'met' if t['accuracy_mean'] >= 0.975 else 'not met'}.",
            f"Compute: {s['compute_hours']:.2f} h of one worker for every run of this study."]
    return "\n".join(out).rstrip()


def beyond_block(results: Path) -> str:
    """Markdown: the beyond study's status, candidates, choice and, once tested, its tests."""
    choice = read_result("beyond/choice.json", results)
    if choice is None:
        return ("**Status:** the candidates and the selection code are committed; the selection "
                "(`make beyond`) has not finished, so there is no choice and no test number yet.")
    summary = read_result("beyond/summary.json", results)
    ch, ens = choice.get("chosen"), choice.get("ensemble_check")
    out = [f"**Status:** {'chosen' if ch else 'selection not finished'} on the folds "
           f"({choice['data']['source_label']}; `results/beyond/choice.json`, "
           f"{len(choice['candidates'])} candidates). Chosen by {choice['chosen_by']}: "
           + (f"**{ch['name']}** ({ch['epochs']} epochs"
              + (f", ensembles of {ch['ensemble_seeds']} seeds" if ch["ensemble_seeds"] > 1
                 else "") + ")." if ch else f"nothing yet; missing: {', '.join(choice['missing'])}.")
           + (f" The ensemble check on the screen folds: one seed {100 * ens['single_mean']:.2f} %, "
              f"the averaged softmax of {ens['seeds']} seeds {100 * ens['ensemble']:.2f} %."
              if ens else ""),
           "", markdown_table(_percent(beyond_candidates_table(choice).drop(columns="note"),
                                       ["screen (3 folds)", "all 7 folds"])), ""]
    tested = (summary or {}).get("tested")
    if not tested:
        out.append("No test number yet: `make beyond-final` runs the final runs of the committed "
                   "choice.")
        return "\n".join(out)
    out += ["Tested once, after the choice was committed (each family's best for the report "
            "only); the orientation candidates were suggested by test-subject errors:", "",
            markdown_table(beyond_test_table(summary).round(2)), ""]
    rows = summary.get("like_for_like") or []
    if rows:
        out += ["The chosen configuration against protocol cv's models, like for like and paired "
                "by test subject (Wilcoxon signed-rank over the 9 test subjects, Holm over the "
                f"{len(rows)} comparisons):", "",
                markdown_table(like_for_like_table(rows), disable_numparse=True), "",
                "Against the paper's model the gain is " + (
                    "significant" if any(r["reference"] == "cnn_lstm_paper"
                                         and r["wilcoxon_p_holm"] < 0.05 for r in rows)
                    else "not significant over 9 test subjects")
                + "; against the linear baseline it is " + (
                    "significant" if all(r["wilcoxon_p_holm"] < 0.05 for r in rows
                                         if r["reference"] == "logreg_features")
                    else "not significant over 9 test subjects") + " (Holm-adjusted p < 0.05).",
                ""]
    out.append(f"Compute: {summary['compute_hours']:.1f} h of one worker over every run of the "
               "study.")
    return "\n".join(out)


def _percent(table: Any, columns: list[str]) -> Any:
    """``table`` with the fraction ``columns`` as percentages (2 decimals, `%` in the name)."""
    t = table.copy()
    for c in columns:
        t[c] = (100 * t[c].astype(float)).round(2)
    return t.rename(columns={c: f"{c} %" for c in columns})
