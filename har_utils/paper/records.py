"""The transcribed numbers (``paper_reported.json``, ``literature.json``,
``paper_decisions.csv``), loaded and validated: a ``HarDataError`` names the file and entry."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

from .. import config
from ..io import HarDataError

REPORTED_JSON: Path = config.RESOURCES_DIR / "paper_reported.json"
LITERATURE_JSON: Path = config.RESOURCES_DIR / "literature.json"
DECISIONS_CSV: Path = config.RESOURCES_DIR / "paper_decisions.csv"

#: Units an entry may have. ``text`` entries (captions, definitions, settings) keep ``value``
#: null and put a one-line paraphrase in ``text``.
UNITS: tuple[str, ...] = ("%", "fraction", "count", "loss", "text")
#: ``not in the text``: only a figure holds it (value null); ``not transcribed``: still to copy.
STATUSES: tuple[str, ...] = ("transcribed", "not in the text", "not transcribed")
#: ``paper``: printed by the paper; ``dataset``: an official UCI HAR fact the audit needs.
SOURCES: tuple[str, ...] = ("paper", "dataset")
REQUIRED_FIELDS: tuple[str, ...] = ("id", "source", "section", "quantity", "value", "unit",
                                    "status", "note")
#: ``formula``, ``standard``, ``judgement``, ``defines``: the metric definitions (finding g).
OPTIONAL_FIELDS: tuple[str, ...] = ("text", "method", "reference", "protocol", "formula",
                                    "standard", "judgement", "defines")
LITERATURE_FIELDS: tuple[str, ...] = ("id", "cites", "cited_as", "value", "work", "doi",
                                      "identification", "source_value", "where", "metric",
                                      "protocol", "status", "note")
LITERATURE_STATUSES: tuple[str, ...] = ("confirmed", "differs", "unverified")
IDENTIFICATIONS: tuple[str, ...] = ("identified", "probable", "not identifiable")
DECISION_COLUMNS: tuple[str, ...] = ("topic", "paper_says", "ambiguity", "our_choice",
                                     "how_to_run_alternative")

def _field_problems(i: int, e: Any, required: tuple[str, ...], allowed: tuple[str, ...]
                    ) -> tuple[str, list[str]]:
    """The name of entry number ``i``, and its missing or unknown fields."""
    if not isinstance(e, dict):
        return f"entry {i}", [f"entry {i} is not an object"]
    name = f"entry {i} ({e.get('id', '?')!r})"
    out = [f"{name} lacks field {k!r}" for k in required if k not in e]
    return name, out + [f"{name} has unknown field {k!r}" for k in e if k not in allowed]


def _entry_problems(i: int, e: Any) -> list[str]:
    """What is wrong with entry number ``i`` (empty when nothing)."""
    name, out = _field_problems(i, e, REQUIRED_FIELDS, REQUIRED_FIELDS + OPTIONAL_FIELDS)
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
                   f"(transcribed needs a number, any other status needs null)")
    return out


def _literature_problems(i: int, e: Any) -> list[str]:
    name, out = _field_problems(i, e, LITERATURE_FIELDS, LITERATURE_FIELDS)
    if out:
        return out
    if e["status"] not in LITERATURE_STATUSES:
        out.append(f"{name}: status {e['status']!r} is not one of {LITERATURE_STATUSES}")
    if e["identification"] not in IDENTIFICATIONS:
        out.append(f"{name}: identification {e['identification']!r} is not one of "
                   f"{IDENTIFICATIONS}")
    sv = e["source_value"]
    if e["status"] == "confirmed" and sv != e["value"]:
        out.append(f"{name}: 'confirmed' needs source_value equal to value ({e['value']!r}), "
                   f"not {sv!r}")
    if e["status"] == "differs" and (sv is None or sv == e["value"]):
        out.append(f"{name}: 'differs' needs the other number the source prints in "
                   f"source_value, not {sv!r}")
    if e["status"] != "unverified" and not str(e["where"]).strip():
        out.append(f"{name}: a {e['status']!r} number needs 'where' it was seen")
    return out


def _validate(raw: Any, path: Path, problems_of: Callable[[int, Any], list[str]]
              ) -> list[dict[str, Any]]:
    """The entries of a parsed JSON document, or :class:`HarDataError` naming ``path``."""
    fix = ("Correct the entry (see the file's 'about' text and har_utils.paper for the schema); "
           "never fill in a number that the paper's text, or the cited source, does not print.")
    if not isinstance(raw, dict) or not isinstance(raw.get("entries"), list):
        raise HarDataError(path, "expected an object with an 'entries' list", fix)
    problems = [p for i, e in enumerate(raw["entries"]) for p in problems_of(i, e)]
    ids = [e.get("id") for e in raw["entries"] if isinstance(e, dict)]
    dups = sorted({str(i) for i in ids if ids.count(i) > 1})
    if dups:
        problems.append(f"duplicate id(s): {', '.join(dups)}")
    if problems:
        shown = "; ".join(problems[:10]) + (f"; ... ({len(problems)} in all)"
                                            if len(problems) > 10 else "")
        raise HarDataError(path, f"invalid file: {shown}", fix)
    return raw["entries"]


def _read_json(p: Path) -> Any:
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise HarDataError(p, "file not found", "Restore it from git.") from None
    except json.JSONDecodeError as err:
        raise HarDataError(p, f"not valid JSON ({err})", "Fix the JSON syntax.") from None


def load_reported(path: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """The validated entries of ``paper_reported.json`` (or ``path``), one row per id;
    ``value`` is a float column (NaN where the text does not print it)."""
    p = Path(path) if path is not None else REPORTED_JSON
    entries = _validate(_read_json(p), p, _entry_problems)
    df = pd.DataFrame(entries, columns=list(REQUIRED_FIELDS + OPTIONAL_FIELDS))
    df["value"] = pd.to_numeric(df["value"], errors="raise").astype(float)
    df.attrs["path"] = str(p)
    return df.set_index("id", drop=False).rename_axis(None)


def load_literature(path: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """The validated entries of ``literature.json`` (or ``path``), one row per id."""
    p = Path(path) if path is not None else LITERATURE_JSON
    entries = _validate(_read_json(p), p, _literature_problems)
    df = pd.DataFrame(entries, columns=list(LITERATURE_FIELDS))
    df.attrs["path"] = str(p)
    return df.set_index("id", drop=False).rename_axis(None)


#: :func:`load_reported` and :func:`load_literature` of the shipped files, each read once.
shipped_reported = lru_cache(maxsize=1)(load_reported)
shipped_literature = lru_cache(maxsize=1)(load_literature)


def entry(df: pd.DataFrame, id: str) -> pd.Series:
    """The row of entry ``id`` in ``df``; a ``KeyError`` naming the file when there is none."""
    if id not in df.index:
        raise KeyError(f"no entry {id!r} in {df.attrs.get('path', 'the reported numbers')}")
    return df.loc[id]


def reported(id: str, df: pd.DataFrame | None = None) -> float | None:
    """The printed value of entry ``id`` (shipped file by default); None if not printed."""
    v = entry(shipped_reported() if df is None else df, id)["value"]
    return None if pd.isna(v) else float(v)


def reported_text(id: str, df: pd.DataFrame | None = None) -> str | None:
    """The paraphrase of a ``text`` entry (caption, definition); None if not transcribed."""
    t = entry(shipped_reported() if df is None else df, id)["text"]
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
