"""The paper's reported numbers, our reading of its ambiguities, and an audit of its consistency.

``resources/paper_reported.json`` holds every number the paper (Alshammari and Albalawi, ETASR
14(6), 2024, doi 10.48084/etasr.9255) reports, as transcribed by the team; numbers not yet
copied from the PDF are entries with ``value: null`` and ``status: "not transcribed"``.
``resources/paper_decisions.csv`` records each ambiguity of the paper and what we chose.

:func:`audit` checks the paper against itself (headline vs training accuracy, confusion matrix
vs headline and Table I, F1 vs precision and recall, averages vs accuracy). Every number in a
finding is computed from the JSON; a check whose inputs are not transcribed says so
("cannot check yet") instead of guessing.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

from . import config
from .io import HarDataError

REPORTED_JSON: Path = config.RESOURCES_DIR / "paper_reported.json"
DECISIONS_CSV: Path = config.RESOURCES_DIR / "paper_decisions.csv"

#: Units an entry may have. ``text`` entries (captions, formulas) keep ``value`` null and put
#: their content in ``text``.
UNITS: tuple[str, ...] = ("%", "fraction", "count", "loss", "text")
STATUSES: tuple[str, ...] = ("transcribed", "not transcribed")
#: ``paper``: reported by the paper; ``dataset``: official UCI HAR fact; ``literature``: context.
SOURCES: tuple[str, ...] = ("paper", "dataset", "literature")
REQUIRED_FIELDS: tuple[str, ...] = ("id", "source", "section", "quantity", "value", "unit",
                                    "status", "note")
OPTIONAL_FIELDS: tuple[str, ...] = ("text", "method", "reference", "protocol")
DECISION_COLUMNS: tuple[str, ...] = ("topic", "paper_says", "ambiguity", "our_choice",
                                     "how_to_run_alternative")
METRICS: tuple[str, ...] = ("precision", "recall", "f1")
VERDICTS: tuple[str, ...] = ("confirmed", "refuted", "cannot check yet")
#: Table I prints two decimals, so a printed 0.93 stands for any value in [0.925, 0.935].
TABLE1_HALF_WIDTH: float = 0.005
NOT_TRANSCRIBED: str = "cannot check yet: values not transcribed"


# --- loading and validation -------------------------------------------------------------

def _entry_problems(i: int, e: Any) -> list[str]:
    """What is wrong with entry number ``i`` (empty when nothing)."""
    if not isinstance(e, dict):
        return [f"entry {i} is not an object"]
    name = f"entry {i} ({e.get('id', '?')!r})"
    out = [f"{name} lacks field {k!r}" for k in REQUIRED_FIELDS if k not in e]
    out += [f"{name} has unknown field {k!r}" for k in e
            if k not in REQUIRED_FIELDS + OPTIONAL_FIELDS]
    if out:
        return out
    if not isinstance(e["id"], str) or not e["id"].strip():
        out.append(f"{name}: id must be a non-empty string")
    if e["source"] not in SOURCES:
        out.append(f"{name}: source {e['source']!r} is not one of {SOURCES}")
    if e["unit"] not in UNITS:
        out.append(f"{name}: unit {e['unit']!r} is not one of {UNITS}")
    if e["status"] not in STATUSES:
        out.append(f"{name}: status {e['status']!r} is not one of {STATUSES}")
        return out
    done = e["status"] == "transcribed"
    v = e["value"]
    if v is not None and (isinstance(v, bool) or not isinstance(v, int | float)
                          or not math.isfinite(v)):
        out.append(f"{name}: value {v!r} is not a finite number or null")
    elif e["unit"] == "text":
        text = e.get("text")
        if v is not None:
            out.append(f"{name}: a 'text' entry keeps value null and its content in 'text'")
        if done != (isinstance(text, str) and bool(text.strip())):
            out.append(f"{name}: status {e['status']!r} but text is "
                       f"{'empty' if done else 'filled in'}")
    elif done != (v is not None):
        out.append(f"{name}: status {e['status']!r} but value is {v!r} "
                   f"(transcribed needs a number, not transcribed needs null)")
    return out


def _validate(raw: Any, path: Path) -> list[dict[str, Any]]:
    """The entries of a parsed JSON document, or :class:`HarDataError` naming ``path``."""
    fix = ("Correct the entry (see the 'about' text and har_utils.paper for the schema); "
           "never fill in a value that was not copied from the paper's PDF.")
    if not isinstance(raw, dict) or not isinstance(raw.get("entries"), list):
        raise HarDataError(path, "expected an object with an 'entries' list", fix)
    problems = [p for i, e in enumerate(raw["entries"]) for p in _entry_problems(i, e)]
    ids = [e.get("id") for e in raw["entries"] if isinstance(e, dict)]
    dups = sorted({str(i) for i in ids if ids.count(i) > 1})
    if dups:
        problems.append(f"duplicate id(s): {', '.join(dups)}")
    if problems:
        shown = "; ".join(problems[:10]) + (f"; ... ({len(problems)} in all)"
                                            if len(problems) > 10 else "")
        raise HarDataError(path, f"invalid reported-numbers file: {shown}", fix)
    return raw["entries"]


def load_reported(path: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """The validated entries of ``paper_reported.json`` (or ``path``), one row per id.

    ``value`` is a float column (NaN where not transcribed); optional fields are columns too.
    """
    p = Path(path) if path is not None else REPORTED_JSON
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise HarDataError(p, "file not found", "Restore it from git.") from None
    except json.JSONDecodeError as err:
        raise HarDataError(p, f"not valid JSON ({err})", "Fix the JSON syntax.") from None
    entries = _validate(raw, p)
    df = pd.DataFrame(entries, columns=list(REQUIRED_FIELDS + OPTIONAL_FIELDS))
    df["value"] = pd.to_numeric(df["value"], errors="raise").astype(float)
    df.attrs["path"] = str(p)
    return df.set_index("id", drop=False).rename_axis(None)


@lru_cache(maxsize=1)
def _shipped() -> pd.DataFrame:
    return load_reported()


def _row(df: pd.DataFrame, id: str) -> pd.Series:
    if id not in df.index:
        raise KeyError(f"no entry {id!r} in {df.attrs.get('path', 'the reported numbers')}")
    return df.loc[id]


def reported(id: str, df: pd.DataFrame | None = None) -> float | None:
    """The reported value of entry ``id`` (shipped file by default); None if not transcribed."""
    v = _row(_shipped() if df is None else df, id)["value"]
    return None if pd.isna(v) else float(v)


def reported_text(id: str, df: pd.DataFrame | None = None) -> str | None:
    """The content of a ``text`` entry (caption, formula); None if not transcribed."""
    t = _row(_shipped() if df is None else df, id)["text"]
    return t if isinstance(t, str) and t.strip() else None


def load_decisions(path: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """``paper_decisions.csv``: one row per ambiguity of the paper and our choice."""
    p = Path(path) if path is not None else DECISIONS_CSV
    df = pd.read_csv(p, dtype=str, keep_default_na=False)
    missing = [c for c in DECISION_COLUMNS if c not in df.columns]
    if missing:
        raise HarDataError(p, f"missing column(s) {missing}", f"Columns: {DECISION_COLUMNS}.")
    empty = df.loc[df["our_choice"].str.strip() == "", "topic"].tolist()
    if empty:
        raise HarDataError(p, f"empty our_choice for {empty}", "Record what we chose.")
    return df


# --- the audit ----------------------------------------------------------------------------

@dataclass
class Finding:
    """One audit result: a claim, its verdict, the numbers it rests on and why."""

    id: str
    title: str
    verdict: str
    evidence: dict[str, Any] = field(default_factory=dict)
    explanation: str = ""

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict {self.verdict!r} is not one of {VERDICTS}")


def _v(df: pd.DataFrame, id: str) -> float | None:
    return reported(id, df)


def _half_unit(x: float) -> float:
    """Half the last printed digit of ``x`` (98.8 -> 0.05, 96 -> 0.5, 0.93 -> 0.005)."""
    s = repr(float(x)).removesuffix(".0")
    return 0.5 * 10.0 ** -(len(s.split(".")[1]) if "." in s else 0)


def _classes() -> list[str]:
    return list(config.ACTIVITY_NAMES)


def _not_transcribed(id: str, title: str, missing: list[str], **evidence: Any) -> Finding:
    return Finding(id, title, "cannot check yet", {"missing": missing, **evidence},
                   f"{NOT_TRANSCRIBED} ({', '.join(missing)}).")


def _ours(ours: Mapping[str, Any] | None, key: str) -> float | None:
    """A fraction from our measured metrics, or None."""
    if not ours or ours.get(key) is None:
        return None
    x = float(ours[key])
    if not 0.0 <= x <= 1.0:
        raise ValueError(f"ours[{key!r}] = {x} must be a fraction in [0, 1]")
    return x


def _ours_class(ours: Mapping[str, Any] | None, cls: str, metric: str) -> float | None:
    per = (ours or {}).get("per_class") or {}
    x = (per.get(cls) or {}).get(metric)
    return None if x is None else float(x)


def check_headline_is_training(df: pd.DataFrame, ours: Mapping[str, Any] | None = None
                               ) -> Finding:
    """(a) The headline accuracy is the training accuracy, not a test accuracy."""
    title = "Headline accuracy is the training accuracy, not a test accuracy"
    ids = ("headline_accuracy", "train_accuracy", "val_accuracy")
    h, tr, va = (_v(df, i) for i in ids)
    missing = [i for i, x in zip(ids[:2], (h, tr)) if x is None]
    if missing:
        return _not_transcribed("a", title, missing)
    tol = max(_half_unit(h), _half_unit(tr))
    same = abs(h - tr) <= tol + 1e-12
    differs_from_val = va is None or abs(h - va) > max(tol, _half_unit(va))
    ev: dict[str, Any] = {"headline_pct": h, "train_accuracy_pct": tr,
                          "val_accuracy_pct": va, "difference_pp": round(h - tr, 4),
                          "rounding_tolerance_pp": tol}
    val_txt = "" if va is None else (
        f", while the validation curve (labelled test in Fig. 5) ends at {va:g} %")
    if same and differs_from_val:
        verdict = "confirmed"
        expl = (f"The headline {h:.2f} % equals the reported training accuracy {tr:g} % "
                f"(difference {abs(h - tr):.2f} pp, within rounding of {tol:g} pp){val_txt}.")
    else:
        verdict = "refuted"
        expl = (f"The headline {h:.2f} % differs from the training accuracy {tr:g} % by "
                f"{abs(h - tr):.2f} pp (rounding allows {tol:g} pp){val_txt}.")
    te, otr = _ours(ours, "test_accuracy"), _ours(ours, "train_accuracy")
    if te is not None or otr is not None:
        ev.update(ours_test_accuracy_pct=None if te is None else 100 * te,
                  ours_train_accuracy_pct=None if otr is None else 100 * otr)
        parts = [f"{n} {100 * x:.2f} %" for n, x in (("training", otr), ("test", te))
                 if x is not None]
        expl += f" Our run: {', '.join(parts)}."
    return Finding("a", title, verdict, ev, expl)


def check_cm_accuracy(df: pd.DataFrame, ours: Mapping[str, Any] | None = None) -> Finding:
    """(b) Accuracy implied by the confusion-matrix diagonal vs the headline."""
    title = "Headline accuracy agrees with the Fig. 6 confusion matrix"
    ids = ("cm_diag_total", "test_support_total", "headline_accuracy")
    diag, n, h = (_v(df, i) for i in ids)
    missing = [i for i, x in zip(ids, (diag, n, h)) if x is None]
    if missing:
        return _not_transcribed("b", title, missing)
    acc = diag / n
    implied_correct = round(h / 100 * n)
    cells = {c: _v(df, f"cm_diag_{c}") for c in _classes()}
    ev: dict[str, Any] = {
        "cm_accuracy": acc, "headline_pct": h, "gap_pp": round(h - 100 * acc, 4),
        "cm_correct": int(diag), "test_windows": int(n), "cm_errors": int(n - diag),
        "errors_implied_by_headline": int(n - implied_correct),
    }
    cell_txt = ""
    if all(v is not None for v in cells.values()):
        s = sum(cells.values())  # type: ignore[arg-type]
        ev["diagonal_cells_sum"] = int(s)
        cell_txt = (f" The six transcribed diagonal cells sum to {int(s)}"
                    f"{'' if s == diag else f', not {int(diag)}: a transcription error'}.")
    agrees = abs(100 * acc - h) <= _half_unit(h) + 1e-12
    verdict = "confirmed" if agrees else "refuted"
    expl = (f"The diagonal holds {int(diag)} of {int(n)} test windows, an accuracy of "
            f"{100 * acc:.2f} %; the headline {h:.2f} % {'agrees' if agrees else 'does not agree'} "
            f"(gap {h - 100 * acc:.2f} pp: {int(n - implied_correct)} errors implied vs "
            f"{int(n - diag)} in the matrix).{cell_txt}")
    te = _ours(ours, "test_accuracy")
    if te is not None:
        ev["ours_test_accuracy"] = te
        expl += f" Our test accuracy: {100 * te:.2f} %."
    return Finding("b", title, verdict, ev, expl)


def check_recall_vs_cm(df: pd.DataFrame, ours: Mapping[str, Any] | None = None) -> Finding:
    """(c) Table I recall vs the confusion-matrix diagonal, per class where both are known."""
    title = "Table I recall agrees with the Fig. 6 confusion matrix"
    ev: dict[str, Any] = {}
    bad, good, missing = [], [], []
    for c in _classes():
        r, d, n = (_v(df, f"table1_{c}_recall"), _v(df, f"cm_diag_{c}"),
                   _v(df, f"test_support_{c}"))
        if r is None or d is None or n is None:
            missing += [i for i, x in ((f"table1_{c}_recall", r), (f"cm_diag_{c}", d),
                                       (f"test_support_{c}", n)) if x is None]
            continue
        cm_r = d / n
        lo, hi = math.ceil((r - TABLE1_HALF_WIDTH) * n), math.floor((r + TABLE1_HALF_WIDTH) * n)
        ev.update({f"{c}_reported_recall": r, f"{c}_cm_recall": cm_r,
                   f"{c}_cm_correct": int(d), f"{c}_support": int(n),
                   f"{c}_correct_needed": f"{lo}-{hi}"})
        (good if lo <= d <= hi else bad).append((c, r, cm_r, int(d), int(n), lo, hi))
        oc = _ours_class(ours, c, "recall")
        if oc is not None:
            ev[f"{c}_ours_recall"] = oc
    if not good and not bad:
        return _not_transcribed("c", title, missing)
    parts = [f"{c}: reported {r:.2f} but the matrix gives {d}/{n} = {cr:.3f} "
             f"({lo}-{hi} correct needed)" for c, r, cr, d, n, lo, hi in bad]
    parts += [f"{c}: reported {r:.2f}, matrix {d}/{n} = {cr:.3f}, consistent"
              for c, r, cr, d, n, lo, hi in good]
    verdict = "refuted" if bad else "confirmed"
    return Finding("c", title, verdict, ev, "; ".join(parts) + ".")


def f1_range(p: float, r: float, half_width: float = TABLE1_HALF_WIDTH) -> tuple[float, float]:
    """Min and max of 2PR/(P+R) for P, R within ``half_width`` of the printed values.

    The harmonic mean grows in both arguments, so the box's corners give the extremes.
    """
    def hm(a: float, b: float) -> float:
        a, b = min(max(a, 0.0), 1.0), min(max(b, 0.0), 1.0)
        return 0.0 if a + b == 0 else 2 * a * b / (a + b)
    return hm(p - half_width, r - half_width), hm(p + half_width, r + half_width)


def check_f1_consistency(df: pd.DataFrame, ours: Mapping[str, Any] | None = None) -> Finding:
    """(d) Each Table I F1 is reachable as the harmonic mean of its (rounded) P and R."""
    title = "Table I F1 scores are consistent with their precision and recall"
    h = TABLE1_HALF_WIDTH
    ev: dict[str, Any] = {}
    impossible, checked, missing = [], [], []
    for c in _classes():
        ids = [f"table1_{c}_{m}" for m in METRICS]
        p, r, f = (_v(df, i) for i in ids)
        if p is None or r is None or f is None:
            missing += [i for i, x in zip(ids, (p, r, f)) if x is None]
            continue
        lo, hi = f1_range(p, r, h)
        reachable = hi >= f - h - 1e-12 and lo <= f + h + 1e-12
        exact = 2 * p * r / (p + r) if p + r else 0.0
        ev[f"{c}_f1_reported"] = f
        ev[f"{c}_f1_range"] = (round(lo, 4), round(hi, 4))
        ev[f"{c}_f1_from_printed_pr_rounds_to_reported"] = round(exact, 2) == round(f, 2)
        checked.append(c)
        if not reachable:
            impossible.append(c)
    if not checked:
        return _not_transcribed("d", title, missing)
    ev = {"n_checked": len(checked), "n_impossible": len(impossible),
          "impossible": impossible, "not_checked_missing": missing, **ev}
    detail = "; ".join(f"{c}: F1 {ev[f'{c}_f1_reported']:.2f} outside "
                       f"[{ev[f'{c}_f1_range'][0]:.3f}, {ev[f'{c}_f1_range'][1]:.3f}]"
                       for c in impossible)
    expl = (f"{len(impossible)} of {len(checked)} checked classes have an F1 no precision and "
            f"recall within rounding of the printed values can produce"
            f"{': ' + detail if detail else ''}.")
    if missing:
        expl += f" {len(missing)} Table I entries not transcribed yet."
    return Finding("d", title, "refuted" if impossible else "confirmed", ev, expl)


def check_test_used_for_validation(df: pd.DataFrame, ours: Mapping[str, Any] | None = None
                                   ) -> Finding:
    """(e) Fig. 5 labels the validation curves 'test': the test set was the validation set."""
    title = "The test set served as the validation set during training (Fig. 5 caption)"
    caption = reported_text("fig5_caption", df)
    if caption is None:
        return _not_transcribed("e", title, ["fig5_caption"])
    va = _v(df, "val_accuracy")
    says_test = re.search(r"\btest\b", caption, re.IGNORECASE) is not None
    ev = {"fig5_caption": caption, "val_accuracy_pct": va}
    if says_test:
        expl = (f"Fig. 5 labels its curves '{caption}', so the "
                f"{'' if va is None else f'{va:g} % '}validation accuracy is measured on the "
                f"test set, which was watched during training and is not an independent "
                f"hold-out.")
    else:
        expl = f"Fig. 5's caption as transcribed ('{caption}') does not name the test set."
    return Finding("e", title, "confirmed" if says_test else "refuted", ev, expl)


def macro_recall_bounds(supports: Mapping[str, int], correct_total: int,
                        fixed_correct: Mapping[str, int] | None = None) -> tuple[float, float]:
    """Min and max macro recall of a confusion matrix with the given supports and diagonal sum.

    ``fixed_correct`` pins known diagonal cells. The errors left over are spread over the
    other classes: on the largest classes first for the maximum, the smallest for the minimum
    (macro recall is 1 - mean(errors_c / n_c), a linear objective under box constraints).
    """
    fixed = dict(fixed_correct or {})
    errors_left = sum(supports.values()) - correct_total - sum(supports[c] - d
                                                               for c, d in fixed.items())
    free = {c: n for c, n in supports.items() if c not in fixed}
    if errors_left < 0 or errors_left > sum(free.values()):
        raise ValueError("the diagonal total is inconsistent with the supports and fixed cells")
    base = sum((supports[c] - d) / supports[c] for c, d in fixed.items())

    def spread(order: list[str]) -> float:
        left, loss = errors_left, base
        for c in order:
            e = min(left, free[c])
            loss, left = loss + e / free[c], left - e
        return 1 - loss / len(supports)

    by_size = sorted(free, key=free.__getitem__)
    return spread(by_size), spread(by_size[::-1])


def check_average_recall(df: pd.DataFrame, ours: Mapping[str, Any] | None = None) -> Finding:
    """(f) Table I average recall vs the accuracy of the confusion matrix."""
    title = "Table I average recall is compatible with the Fig. 6 accuracy"
    supports_ids = [f"test_support_{c}" for c in _classes()]
    ids = ["table1_avg_recall", "cm_diag_total", "headline_accuracy", *supports_ids]
    vals = {i: _v(df, i) for i in ids}
    missing = [i for i, x in vals.items() if x is None]
    if missing:
        return _not_transcribed("f", title, missing)
    rep = vals["table1_avg_recall"] / 100  # type: ignore[operator]
    lo_rep = rep - _half_unit(vals["table1_avg_recall"]) / 100  # type: ignore[arg-type]
    hi_rep = rep + _half_unit(vals["table1_avg_recall"]) / 100  # type: ignore[arg-type]
    sup = {c: int(vals[f"test_support_{c}"]) for c in _classes()}  # type: ignore[arg-type]
    n, diag = sum(sup.values()), int(vals["cm_diag_total"])  # type: ignore[arg-type]
    fixed = {c: int(d) for c in _classes() if (d := _v(df, f"cm_diag_{c}")) is not None}
    # support-weighted recall = sum_c n_c * (d_c / n_c) / N = sum_c d_c / N = accuracy; the
    # untranscribed classes contribute their diagonal total whatever its split.
    weighted = (sum(sup[c] * (d / sup[c]) for c, d in fixed.items())
                + (diag - sum(fixed.values()))) / n
    acc = diag / n
    mac_lo, mac_hi = macro_recall_bounds(sup, diag, fixed)
    head_correct = round(vals["headline_accuracy"] / 100 * n)  # type: ignore[operator]
    h_lo, h_hi = macro_recall_bounds(sup, head_correct)
    ev = {"reported_avg_recall": rep, "reported_range": (lo_rep, hi_rep),
          "cm_accuracy": acc, "weighted_recall": weighted,
          "macro_recall_range": (round(mac_lo, 4), round(mac_hi, 4)),
          "fixed_diagonal_cells": fixed,
          "macro_recall_range_if_headline_were_test": (round(h_lo, 4), round(h_hi, 4))}
    weighted_ok = lo_rep <= weighted <= hi_rep
    macro_ok = mac_hi >= lo_rep and mac_lo <= hi_rep
    verdict = "confirmed" if (weighted_ok or macro_ok) else "refuted"
    head_ok = h_hi >= lo_rep and h_lo <= hi_rep
    expl = (f"A support-weighted recall equals the accuracy exactly ({100 * weighted:.2f} % = "
            f"{diag}/{n}), and with the test supports a macro recall can only lie in "
            f"[{100 * mac_lo:.2f}, {100 * mac_hi:.2f}] %; the reported "
            f"{vals['table1_avg_recall']:g} % (>= {100 * lo_rep:g} %) is "
            f"{'within reach' if verdict == 'confirmed' else 'out of reach either way'}. "
            f"Were {vals['headline_accuracy']:.2f} % the test accuracy, macro recall would lie "
            f"in [{100 * h_lo:.2f}, {100 * h_hi:.2f}] %, "
            f"{'compatible' if head_ok else 'also incompatible'} with it.")
    te = _ours(ours, "test_accuracy")
    per = (ours or {}).get("per_class") or {}
    if te is not None and all(_ours_class(ours, c, "recall") is not None for c in _classes()):
        macro = sum(_ours_class(ours, c, "recall") for c in _classes()) / 6  # type: ignore[misc]
        ev.update(ours_test_accuracy=te, ours_macro_recall=macro)
        expl += f" Ours: accuracy {100 * te:.2f} %, macro recall {100 * macro:.2f} %."
    elif te is not None or per:
        ev["ours_test_accuracy"] = te
    return Finding("f", title, verdict, ev, expl)


_STANDARD_FORMS = {
    "def_precision": {"tp/(tp+fp)", "truepositives/(truepositives+falsepositives)"},
    "def_f1": {"2pr/(p+r)", "2*p*r/(p+r)", "2(p*r)/(p+r)", "2*(p*r)/(p+r)",
               "2*precision*recall/(precision+recall)", "2(precision*recall)/(precision+recall)",
               "2*(precision*recall)/(precision+recall)", "2tp/(2tp+fp+fn)",
               "2*tp/(2*tp+fp+fn)"},
}


def _normalise_formula(s: str) -> str:
    s = s.lower().replace("×", "*").replace("·", "*").replace("−", "-")
    s = re.sub(r"^[a-z0-9 ]*=", "", s)  # drop a left-hand side such as "F1 ="
    return re.sub(r"\s+", "", s)


def check_definitions(df: pd.DataFrame, ours: Mapping[str, Any] | None = None) -> Finding:
    """(g) The paper's precision and F1 definitions (reported wrong by the team)."""
    title = "The paper's precision and F1 definitions are non-standard (team report)"
    texts = {i: reported_text(i, df) for i in _STANDARD_FORMS}
    missing = [i for i, t in texts.items() if t is None]
    if missing:
        f = _not_transcribed("g", title, missing)
        f.explanation = (f"Reported by the team; formula text not transcribed. "
                         f"{NOT_TRANSCRIBED} ({', '.join(missing)}).")
        return f
    nonstandard = [i for i, t in texts.items()
                   if _normalise_formula(t) not in _STANDARD_FORMS[i]]  # type: ignore[arg-type]
    ev = {**texts, "nonstandard": nonstandard}
    expl = ("; ".join(f"{i}: '{t}'" for i, t in texts.items())
            + (f". Not a standard form: {', '.join(nonstandard)} (string comparison; read "
               f"the formula to be sure)." if nonstandard else
               ". Both match a standard form."))
    return Finding("g", title, "confirmed" if nonstandard else "refuted", ev, expl)


CHECKS: tuple[Callable[[pd.DataFrame, Mapping[str, Any] | None], Finding], ...] = (
    check_headline_is_training, check_cm_accuracy, check_recall_vs_cm, check_f1_consistency,
    check_test_used_for_validation, check_average_recall, check_definitions,
)


def audit(reported_df: pd.DataFrame | None = None, ours: Mapping[str, Any] | None = None
          ) -> list[Finding]:
    """Run every check (a)-(g) on ``reported_df`` (shipped file by default).

    ``ours``: our measured metrics as fractions, e.g. ``{"test_accuracy": 0.93,
    "train_accuracy": 0.99, "per_class": {"SITTING": {"precision": .., "recall": ..,
    "f1": ..}}}``; when given, findings add our numbers as evidence (verdicts stay about
    the paper).
    """
    df = _shipped() if reported_df is None else reported_df
    return [check(df, ours) for check in CHECKS]


def _short(evidence: Mapping[str, Any], limit: int = 4) -> str:
    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.4g}"
        if isinstance(v, tuple):
            return "[" + ", ".join(fmt(x) for x in v) + "]"
        if isinstance(v, list | dict):
            return ", ".join(map(str, v)) if len(v) <= 3 else f"{len(v)} items"
        return str(v)
    items = [(k, v) for k, v in evidence.items() if v is not None and not isinstance(v, bool)]
    return "; ".join(f"{k}={fmt(v)}" for k, v in items[:limit])


def findings_table(findings: list[Finding]) -> pd.DataFrame:
    """One row per finding: id, title, verdict and its key numbers as a short string."""
    return pd.DataFrame([{"id": f.id, "title": f.title, "verdict": f.verdict,
                          "key_numbers": _short(f.evidence)} for f in findings])


def comparison_rows(reported_df: pd.DataFrame | None = None) -> pd.DataFrame:
    """Table II (the paper's comparison with other work) plus literature anchors for context.

    Columns: method, reference, reported_accuracy_pct (NaN where not transcribed), status,
    protocol, source ("paper Table II" or "literature anchor (not in the paper)").
    """
    df = _shipped() if reported_df is None else reported_df
    rows = df[df["id"].str.startswith("table2_") | (df["source"] == "literature")]
    out = pd.DataFrame({
        "method": rows["method"], "reference": rows["reference"],
        "reported_accuracy_pct": rows["value"], "status": rows["status"],
        "protocol": rows["protocol"].fillna("not recorded"),
        "source": rows["source"].map({"paper": "paper Table II",
                                      "literature": "literature anchor (not in the paper)"}),
    })
    return out.reset_index(drop=True)
