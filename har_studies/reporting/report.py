"""Tables from results files that the generated blocks build on (those notebooks 05 and 06
show are :mod:`har_utils.study_results`), the markdown table format, and the console
summaries the pipeline prints."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from har_utils import config


def read_result(name: str, results: Path) -> dict[str, Any] | None:
    """The JSON results file ``results/name``, or None when it has not been written."""
    path = results / name
    return json.loads(path.read_text()) if path.exists() else None


def markdown_table(df: Any, floatfmt: str = ".2f", **to_markdown: Any) -> str:
    """``df`` as a markdown table: missing as "-", whole-number float columns as integers."""
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


def epoch_rule_table(summary: dict[str, Any] | None) -> "pd.DataFrame":
    """Protocol cv's epoch rules: each rule's nested score (%) per model and the epochs it picks."""
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


def epoch_rule_left_out_table(summary: dict[str, Any] | None) -> "pd.DataFrame":
    """The epoch rules' comparison with each model left out in turn: every rule's mean nested
    score (%) over the other models, and the rule that would have won (ties: the earlier rule).
    A sensitivity check only: the rule chosen on all the models stays."""
    import pandas as pd

    r = (summary or {}).get("epoch_rule")
    if not r:
        return pd.DataFrame()
    from ..experiments.cv import EPOCH_RULES

    names = [n for n in EPOCH_RULES if n in r["scores"]]
    models = list(r["epochs_by_rule"])
    if len(models) < 3:  # one model left with the rest: nothing to compare
        return pd.DataFrame()
    rows = []
    for left in models:
        means = {n: sum(r["scores"][n]["per_model"][m]["score"] for m in models if m != left)
                 / (len(models) - 1) for n in names}
        best = max(names, key=lambda n: (means[n], -names.index(n)))
        rows.append({"left out": left} | {n: f"{100 * v:.2f}" for n, v in means.items()}
                    | {"would win": best})
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
    lines += [f"  {name:20} {a['official']:8d} {a['rebuilt']:8d} {a['total_diff']:+6d} "
              f"{a['cells_exact']:>5d} of {a['cells']:<3d}" for name, a in rows]
    return "\n".join(lines)


#: What the pipeline prints after a notebook ran (notebook name -> summary of its results).
CONSOLE: dict[str, Callable[[Path], str]] = {"01_data": data_console}
