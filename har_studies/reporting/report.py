"""Tables built from results files that the generated blocks of the README and of the pages under
``docs/`` build on. The tables notebooks 05 and 06 show are :mod:`har_utils.study_results`
(read without study code); here the zoo's table adds the runs it plans but has not run.

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

from har_utils import config, study_results


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


def zoo_table(summary: dict[str, Any] | None) -> "pd.DataFrame":
    """:func:`har_utils.study_results.zoo_table` with a row for each model and protocol the
    zoo plans but has not run yet (notebook 06 shows the committed rows only)."""
    from ..experiments.zoo import CLASSICAL, ZOO, planned_seeds

    ran = {(r["model"], r["protocol"]) for r in (summary or {}).get("rows", [])}
    missing = [{"model": m, "protocol": p, "planned_seeds": planned_seeds(m, p)}
               for m in ZOO for p in ("subjects", "retrain_all")
               if (m, p) not in ran and not (m in CLASSICAL and p != "subjects")]
    missing += [{"model": m, "protocol": "cv", "planned_seeds": "the"}
                for m in ZOO if (m, "cv") not in ran]
    return study_results.zoo_table(summary, missing)


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
