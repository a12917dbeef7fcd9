"""The audit of the paper against itself: for each claim (a)-(h), whether its own printed
numbers support it (``holds``), contradict it (``fails``) or lack what is needed."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..config import ACTIVITY_NAMES
from .arithmetic import (TABLE1_HALF_WIDTH, correct_needed, f1_range, macro_recall_bounds,
                         what_it_defines)
from .records import entry, reported, reported_text, shipped_literature, shipped_reported

METRICS: tuple[str, ...] = ("precision", "recall", "f1")
VERDICTS: tuple[str, ...] = ("holds", "fails", "cannot check")
#: The sklearn metric that each of the paper's definitions (III.A) should be.
DEFINITIONS: dict[str, str] = {"def_accuracy": "accuracy", "def_precision": "precision",
                               "def_recall": "recall", "def_f1": "f1"}


@dataclass
class Finding:
    """One audit result: a claim of the paper, its verdict, the numbers it rests on and why."""

    id: str
    title: str
    verdict: str
    evidence: dict[str, Any] = field(default_factory=dict)
    explanation: str = ""
    table: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict {self.verdict!r} is not one of {VERDICTS}")


def _values(df: pd.DataFrame, ids: list[str]) -> tuple[dict[str, float], list[str]]:
    """The printed values of ``ids`` and the ids the text does not print."""
    vals = {i: reported(i, df) for i in ids}
    return {i: v for i, v in vals.items() if v is not None}, [i for i, v in vals.items()
                                                              if v is None]


def _cannot(id: str, title: str, missing: list[str], **evidence: Any) -> Finding:
    return Finding(id, title, "cannot check", {"missing": missing, **evidence},
                   f"cannot check: the text does not print {', '.join(missing)}.")


def _class_by_class(id: str, title: str, rows: list[dict[str, Any]], missing: list[str], *,
                    ok: str, bad_name: str, failed: Callable[[list[dict[str, Any]]], str],
                    passed: str) -> Finding:
    """A finding checked class by class: rows whose ``ok`` is false fail it."""
    if not rows:
        return _cannot(id, title, missing)
    bad = [r for r in rows if not r[ok]]
    ev = {"n_checked": len(rows), f"n_{bad_name}": len(bad),
          bad_name: [r["class"] for r in bad], "missing": missing}
    verdict = "fails" if bad else ("holds" if not missing else "cannot check")
    return Finding(id, title, verdict, ev, failed(bad) if bad else passed, rows)


def _half_unit(x: float) -> float:
    """Half the last printed digit of ``x`` (98.8 -> 0.05, 96 -> 0.5, 0.93 -> 0.005)."""
    s = repr(float(x)).removesuffix(".0")
    return 0.5 * 10.0 ** -(len(s.split(".")[1]) if "." in s else 0)


def _same_printed(a: float, b: float) -> bool:
    """Two printed numbers that rounding lets be the same quantity."""
    return abs(a - b) <= max(_half_unit(a), _half_unit(b)) + 1e-9


def _diagonal(df: pd.DataFrame) -> tuple[dict[str, int], dict[str, int], list[str]]:
    """The Fig. 6 diagonal cells and the official test supports that are known, and what is
    missing."""
    ids = [f"cm_diag_{c}" for c in ACTIVITY_NAMES] + [f"test_support_{c}" for c in ACTIVITY_NAMES]
    vals, missing = _values(df, ids)
    diag = {c: int(vals[f"cm_diag_{c}"]) for c in ACTIVITY_NAMES if f"cm_diag_{c}" in vals}
    sup = {c: int(vals[f"test_support_{c}"]) for c in ACTIVITY_NAMES if f"test_support_{c}" in vals}
    return diag, sup, missing


def _cm_accuracy(df: pd.DataFrame) -> tuple[float | None, int, int]:
    """Accuracy of the Fig. 6 matrix (diagonal / all test windows), its two counts; None
    when a diagonal cell is missing."""
    diag, sup, missing = _diagonal(df)
    n, correct = sum(sup.values()), sum(diag.values())
    return (None if missing else correct / n), correct, n


def check_headline_is_test(df: pd.DataFrame, lit: pd.DataFrame | None = None,
                           ours: Mapping[str, Any] | None = None) -> Finding:
    """(a) The headline accuracy is a test accuracy (it matches a test-side number)."""
    title = "The headline accuracy (Conclusion, Table II) is a test accuracy"
    vals, missing = _values(df, ["headline_accuracy", "train_accuracy", "val_accuracy",
                                 "table2_proposed"])
    if "headline_accuracy" in missing or "train_accuracy" in missing:
        return _cannot("a", title, missing)
    h, tr, va = vals["headline_accuracy"], vals["train_accuracy"], vals.get("val_accuracy")
    cm_acc, correct, n = _cm_accuracy(df)
    is_train = _same_printed(h, tr)
    is_val = va is not None and _same_printed(h, va)
    is_cm = cm_acc is not None and abs(h - 100 * cm_acc) <= _half_unit(h) + 1e-9
    ev: dict[str, Any] = {
        "headline_pct": h, "table2_proposed_pct": vals.get("table2_proposed"),
        "train_accuracy_pct": tr, "val_accuracy_pct": va,
        "cm_accuracy_pct": None if cm_acc is None else round(100 * cm_acc, 4),
        "equals_training_accuracy": is_train, "equals_validation_accuracy": is_val,
        "equals_confusion_matrix_accuracy": is_cm}
    caption = reported_text("fig5_caption", df) or ""
    labelled = ", which Fig. 5 labels test," if "test" in caption.lower().split() else ""
    test_side = [f"the validation curve{labelled} ends at {va:g} %" if va is not None else "",
                 f"the Fig. 6 matrix gives {100 * cm_acc:.2f} % ({correct}/{n})"
                 if cm_acc is not None else ""]
    test_txt = " and ".join(t for t in test_side if t)
    if is_val or is_cm:
        verdict = "holds"
        expl = f"The headline {h:g} % matches a test-side number: {test_txt}."
    else:
        verdict = "fails"
        expl = (f"The headline {h:g} % (Table II: {vals.get('table2_proposed', h):.2f}) "
                + (f"equals the training accuracy printed in III.B ({tr:g} %)" if is_train
                   else f"differs from the training accuracy ({tr:g} %)")
                + f" and matches no test-side number: {test_txt}.")
    fb = (ours or {}).get("fixed_budget")
    if fb:
        ev["ours_fixed_budget"] = dict(fb)
        expl += (f" Like with like, our CNN-LSTM under the paper's own protocol ({fb['epochs']} "
                 f"epochs, the test set as the validation set, {fb['n_seeds']} seeds) ends at a "
                 f"training accuracy of {100 * fb['train_accuracy_logged']:.2f} % (as Keras "
                 f"logs it during the last epoch) and a test accuracy of "
                 f"{100 * fb['test_accuracy']:.2f} %: the training number is the one near "
                 f"{h:g} %.")
    pub = ours or {}
    if pub.get("train_accuracy") is not None and pub.get("best_epoch") is not None:
        ev.update(ours_published_best_epoch=pub["best_epoch"],
                  ours_published_train_accuracy_pct=100 * pub["train_accuracy"],
                  ours_published_test_accuracy_pct=100 * pub["test_accuracy"])
        how = (f"stopped early, keeping epoch {pub['best_epoch']}" if pub.get("early_stopped", True)
               else f"trained {pub['best_epoch']} epochs, the count chosen on training subjects")
        expl += (f" (Our published run {how}: training {100 * pub['train_accuracy']:.2f} % "
                 f"(scored after training, dropout off), test {100 * pub['test_accuracy']:.2f} %; "
                 f"with another number of epochs than the paper's 100 it is not the "
                 f"like-for-like comparison.)")
    return Finding("a", title, verdict, ev, expl)


def check_cm_accuracy(df: pd.DataFrame, lit: pd.DataFrame | None = None,
                      ours: Mapping[str, Any] | None = None) -> Finding:
    """(b) The accuracy of the Fig. 6 matrix equals the headline."""
    title = "The Fig. 6 confusion matrix gives the headline accuracy"
    h = reported("headline_accuracy", df)
    cm_acc, correct, n = _cm_accuracy(df)
    if h is None or cm_acc is None:
        return _cannot("b", title, _diagonal(df)[2] + ([] if h else ["headline_accuracy"]))
    implied = round(h / 100 * n)
    agrees = abs(100 * cm_acc - h) <= _half_unit(h) + 1e-9
    ev = {"cm_correct": correct, "test_windows": n, "cm_accuracy_pct": round(100 * cm_acc, 4),
          "headline_pct": h, "gap_pp": round(h - 100 * cm_acc, 4), "cm_errors": n - correct,
          "errors_implied_by_headline": n - implied}
    expl = (f"The six diagonal cells printed in III.B sum to {correct} of the {n} official test "
            f"windows: {100 * cm_acc:.2f} %. The headline {h:g} % "
            f"{'agrees' if agrees else 'does not'} (gap {h - 100 * cm_acc:.2f} pp: "
            f"{n - implied} errors implied against {n - correct} in the matrix).")
    if (ours or {}).get("test_accuracy") is not None:
        ev["ours_test_accuracy_pct"] = 100 * ours["test_accuracy"]  # type: ignore[index]
    return Finding("b", title, "holds" if agrees else "fails", ev, expl)


def check_recall_vs_cm(df: pd.DataFrame, lit: pd.DataFrame | None = None,
                       ours: Mapping[str, Any] | None = None) -> Finding:
    """(c) Each Table I recall agrees with its diagonal cell and the official test support."""
    title = "Table I recall agrees with the Fig. 6 diagonal, class by class"
    diag, sup, missing = _diagonal(df)
    rows, missing = [], list(missing)
    for c in ACTIVITY_NAMES:
        r = reported(f"table1_{c}_recall", df)
        if r is None:
            missing.append(f"table1_{c}_recall")
        if r is None or c not in diag or c not in sup:
            continue
        lo, hi = correct_needed(r, sup[c])
        row = {"class": c, "table1_recall": r, "support": sup[c], "diagonal": diag[c],
               "matrix_recall": round(diag[c] / sup[c], 4), "correct_needed": f"{lo}-{hi}",
               "consistent": lo <= diag[c] <= hi}
        ours_r = ((ours or {}).get("per_class") or {}).get(c, {}).get("recall")
        if ours_r is not None:
            row["ours_recall"] = round(float(ours_r), 4)
        rows.append(row)
    return _class_by_class(
        "c", title, rows, missing, ok="consistent", bad_name="inconsistent",
        failed=lambda bad: f"{len(bad)} of {len(rows)} classes disagree: " + "; ".join(
            f"{r['class']} prints {r['table1_recall']:.2f}, which needs {r['correct_needed']} "
            f"of {r['support']} correct, but the diagonal has {r['diagonal']} "
            f"({r['matrix_recall']:.3f})" for r in bad) + ".",
        passed=f"All {len(rows)} printed recalls are reachable with their diagonal cells.")


def check_f1_consistency(df: pd.DataFrame, lit: pd.DataFrame | None = None,
                         ours: Mapping[str, Any] | None = None) -> Finding:
    """(d) Each Table I F1 is reachable as the harmonic mean of its (rounded) P and R."""
    title = "Table I F1 follows from its precision and recall, class by class"
    h = TABLE1_HALF_WIDTH
    rows, missing = [], []
    for c in ACTIVITY_NAMES:
        vals, miss = _values(df, [f"table1_{c}_{m}" for m in METRICS])
        missing += miss
        if miss:
            continue
        p, r, f = (vals[f"table1_{c}_{m}"] for m in METRICS)
        lo, hi = f1_range(p, r, h)
        rows.append({"class": c, "precision": p, "recall": r, "f1": f,
                     "f1_reachable_min": round(lo, 4), "f1_reachable_max": round(hi, 4),
                     "f1_printed_interval": f"{f - h:.3f}-{f + h:.3f}",
                     "possible": hi >= f - h - 1e-12 and lo <= f + h + 1e-12})
    return _class_by_class(
        "d", title, rows, missing, ok="possible", bad_name="impossible",
        failed=lambda bad: f"{len(bad)} of {len(rows)} F1 scores are impossible: no precision "
        "and recall that print as Table I's give them: " + "; ".join(
            f"{r['class']}: F1 {r['f1']:.2f} but P {r['precision']:.2f} and R "
            f"{r['recall']:.2f} allow only {r['f1_reachable_min']:.3f}-"
            f"{r['f1_reachable_max']:.3f}" for r in bad) + ".",
        passed=f"All {len(rows)} F1 scores are reachable from their printed precision and recall.")


def check_test_held_out(df: pd.DataFrame, lit: pd.DataFrame | None = None,
                        ours: Mapping[str, Any] | None = None) -> Finding:
    """(e) The test set stayed out of training: Fig. 5's second curve is not the test set."""
    title = "The test set was held out, not used as the validation set (Fig. 5)"
    caption = reported_text("fig5_caption", df)
    if caption is None:
        return _cannot("e", title, ["fig5_caption"])
    va = reported("val_accuracy", df)
    says_test = "test" in caption.lower().replace("-", " ").split()
    ev = {"fig5_caption_paraphrase": caption, "val_accuracy_pct": va,
          "caption_names_test_set": says_test}
    if says_test:
        expl = (f"III.B calls the second curve of Fig. 5 validation ({va:g} % at the end), and "
                f"the caption calls it test ({caption}): the test set was watched during "
                f"training, so it was not an independent hold-out.")
    else:
        expl = f"The Fig. 5 caption, as paraphrased ({caption}), does not name the test set."
    return Finding("e", title, "fails" if says_test else "holds", ev, expl)


def check_averages(df: pd.DataFrame, lit: pd.DataFrame | None = None,
                   ours: Mapping[str, Any] | None = None) -> Finding:
    """(f) The averages printed in III.B agree with Table I's columns and with Fig. 6."""
    title = "The averages in III.B agree with Table I and with the Fig. 6 matrix"
    rows, missing = [], []
    for m in METRICS:
        vals, miss = _values(df, [f"table1_avg_{m}"] + [f"table1_{c}_{m}" for c in ACTIVITY_NAMES])
        missing += miss
        if miss:
            continue
        rep = vals[f"table1_avg_{m}"] / 100
        tol = _half_unit(vals[f"table1_avg_{m}"]) / 100
        mean = float(np.mean([vals[f"table1_{c}_{m}"] for c in ACTIVITY_NAMES]))
        rows.append({"average": f"{m}: mean of Table I's column", "reported": rep,
                     "computed": round(mean, 4),
                     "agrees": abs(mean - rep) <= tol + TABLE1_HALF_WIDTH + 1e-9})
    diag, sup, miss = _diagonal(df)
    rec = reported("table1_avg_recall", df)
    if rec is not None and not miss:
        n, correct = sum(sup.values()), sum(diag.values())
        lo, _ = macro_recall_bounds(sup, correct, diag)  # every cell known: min = max
        tol = _half_unit(rec) / 100
        rows += [{"average": "recall: macro, from the Fig. 6 diagonal", "reported": rec / 100,
                  "computed": round(lo, 4), "agrees": abs(lo - rec / 100) <= tol + 1e-9},
                 {"average": "recall: support-weighted (= accuracy), from Fig. 6",
                  "reported": rec / 100, "computed": round(correct / n, 4),
                  "agrees": abs(correct / n - rec / 100) <= tol + 1e-9}]
    else:
        missing += miss + ([] if rec is not None else ["table1_avg_recall"])
    if not rows:
        return _cannot("f", title, missing)
    t1 = [r for r in rows if "Table I" in r["average"]]
    cm = [r for r in rows if "Fig. 6" in r["average"]]
    # the text does not say macro or weighted: the matrix contradicts it only if neither fits
    bad = [r for r in t1 if not r["agrees"]] + (cm if cm and not any(r["agrees"] for r in cm)
                                                else [])
    ev = {"n_checked": len(rows), "n_disagree": len(bad), "missing": missing,
          **{r["average"]: r["computed"] for r in rows}}
    parts = []
    if t1:
        means = ", ".join(f"{100 * r['computed']:.2f} %" for r in t1)
        printed = ", ".join(f"{100 * r['reported']:g} %" for r in t1)
        agree = "round to" if all(r["agrees"] for r in t1) else "do not all round to"
        parts.append(f"the means of Table I's columns ({means}) {agree} the printed {printed}")
    if cm:
        fits = " and ".join(r["average"].split(":")[1].split(",")[0].strip() for r in cm
                            if r["agrees"]) or "neither"
        parts.append(f"the Fig. 6 diagonal fixes macro recall at exactly "
                     f"{100 * cm[0]['computed']:.2f} % (support-weighted: "
                     f"{100 * cm[1]['computed']:.2f} %) against the printed "
                     f"{100 * cm[0]['reported']:g} %: {fits} fits")
    expl = "; ".join(parts) + "."
    expl = expl[0].upper() + expl[1:]
    verdict = "fails" if bad else ("holds" if not missing else "cannot check")
    return Finding("f", title, verdict, ev, expl, rows)


def check_definitions(df: pd.DataFrame, lit: pd.DataFrame | None = None,
                      ours: Mapping[str, Any] | None = None) -> Finding:
    """(g) The metric definitions of III.A are the standard ones (sklearn's)."""
    title = "The metric definitions in III.A are the standard ones"
    missing = [i for i in DEFINITIONS if reported_text(i, df) is None]
    if missing:
        return _cannot("g", title, missing)
    rows = []
    for i, name in DEFINITIONS.items():
        e = entry(df, i)
        computes = what_it_defines(str(e["formula"]))
        rows.append({"metric": name, "section": e["section"], "paraphrase": e["text"],
                     "formula (team's reading)": e["formula"], "computes": computes,
                     "standard": f"sklearn {e['standard']}", "judgement": e["judgement"],
                     "reading agrees": computes == e["defines"], "standard_ok": computes == name})
    bad = [r for r in rows if not r["standard_ok"]]
    p_vals, _ = _values(df, [f"table1_{c}_{m}" for c in ACTIVITY_NAMES for m in ("precision",
                                                                             "recall")])
    differ = [c for c in ACTIVITY_NAMES if f"table1_{c}_precision" in p_vals
              and f"table1_{c}_recall" in p_vals
              and p_vals[f"table1_{c}_precision"] != p_vals[f"table1_{c}_recall"]]
    ev = {"nonstandard": [r["metric"] for r in bad],
          "computes": {r["metric"]: r["computes"] for r in rows},
          "table1_precision_differs_from_recall": differ}
    parts = [f"{r['metric']} as defined computes {r['computes']}" for r in bad]
    expl = ((f"{len(bad)} of {len(rows)} definitions are not the standard metric: "
             + "; ".join(parts) if bad else f"All {len(rows)} definitions are the standard ones")
            + " (each evaluated on one fixed confusion matrix beside sklearn's metrics).")
    if differ and "precision" in ev["nonstandard"]:
        expl += (f" Table I's precision differs from its recall in {len(differ)} of 6 "
                 f"classes, so Table I was not computed with the paper's own definition of "
                 f"precision (which equals recall).")
    return Finding("g", title, "fails" if bad else "holds", ev, expl, rows)


def check_table2_sources(df: pd.DataFrame, lit: pd.DataFrame | None = None,
                         ours: Mapping[str, Any] | None = None) -> Finding:
    """(h) Table II's other rows are the accuracies their sources print on UCI HAR."""
    title = "Table II's other rows are the UCI HAR accuracies their sources report"
    lit = shipped_literature() if lit is None else lit
    cited = lit[lit["cites"].notna()]
    rows = []
    for _, e in cited.iterrows():
        printed = reported(e["cites"], df)
        rows.append({"row": e["cited_as"], "paper prints %": printed,
                     "identified as": e["work"], "identification": e["identification"],
                     "source prints %": e["source_value"], "metric": e["metric"],
                     "status": e["status"], "protocol": e["protocol"], "seen in": e["where"]})
    if not rows:
        return _cannot("h", title, ["the reference list (literature.json has no Table II row)"])
    status = [r["status"] for r in rows]
    ev = {"n_rows": len(rows), **{s: [r["row"] for r in rows if r["status"] == s]
                                  for s in ("confirmed", "differs", "unverified")},
          "probable_identifications": [r["row"] for r in rows
                                       if r["identification"] != "identified"]}
    parts = []
    for r in rows:
        s = f"{r['row']} {r['paper prints %']:g}: "
        if r["status"] == "differs":
            s += f"its {r['identification']} source prints {r['source prints %']:g} %"
        elif r["status"] == "confirmed":
            s += f"printed by its {r['identification']} source"
        else:
            s += "not seen in its source"
        if r["metric"] != "accuracy":
            s += f", as {r['metric']}"
        if r["status"] == "confirmed" and "of the 9" in str(r["protocol"]):
            s += f", on {str(r['protocol']).split(';')[0]}"
        parts.append(s)
    expl = ("; ".join(parts) + ". The reference list is not in the text, so citations were "
            "identified by search (see literature.json).")
    verdict = ("fails" if "differs" in status else
               "holds" if all(s == "confirmed" for s in status) else "cannot check")
    return Finding("h", title, verdict, ev, expl, rows)


CHECKS: tuple[Callable[..., Finding], ...] = (
    check_headline_is_test, check_cm_accuracy, check_recall_vs_cm, check_f1_consistency,
    check_test_held_out, check_averages, check_definitions, check_table2_sources)


def audit(reported_df: pd.DataFrame | None = None, ours: Mapping[str, Any] | None = None,
          literature_df: pd.DataFrame | None = None) -> list[Finding]:
    """Decide every finding (a)-(h) on the given (default: shipped) records. ``ours``: our
    metrics as fractions (``test_accuracy``, ``per_class``, ``fixed_budget``, ...), added as
    evidence; verdicts stay about the paper."""
    df = shipped_reported() if reported_df is None else reported_df
    lit = shipped_literature() if literature_df is None else literature_df
    return [check(df, lit, ours) for check in CHECKS]


def _short(evidence: Mapping[str, Any], limit: int = 4) -> str:
    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.4g}"
        if isinstance(v, list | dict):
            return ", ".join(map(str, v)) if len(v) <= 3 else f"{len(v)} items"
        return str(v)
    items = [(k, v) for k, v in evidence.items()
             if v is not None and not isinstance(v, bool) and v != []]
    return "; ".join(f"{k}={fmt(v)}" for k, v in items[:limit])


def findings_table(findings: list[Finding]) -> pd.DataFrame:
    """One row per finding: id, claim, verdict and its key numbers as a short string."""
    return pd.DataFrame([{"id": f.id, "claim": f.title, "verdict": f.verdict,
                          "key_numbers": _short(f.evidence)} for f in findings])
