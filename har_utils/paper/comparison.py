"""Table II beside its sources: what the paper prints for each row, what the cited work itself
reports (``literature.json``), and the context rows of the literature record."""

from __future__ import annotations

import pandas as pd

from .findings import check_headline_is_test
from .records import shipped_literature, shipped_reported


def comparison_rows(reported_df: pd.DataFrame | None = None,
                    literature_df: pd.DataFrame | None = None) -> pd.DataFrame:
    """Table II (what the paper prints) beside what each source reports, plus context rows
    from the literature record.

    Columns: id, method, reference, reported_pct (what Table II prints; for a context row the
    number usually cited), what_the_number_is, source_reports_pct (what the source itself was
    seen to print), source_status, protocol, source. The proposed row says what finding (a)
    shows it is.
    """
    df = shipped_reported() if reported_df is None else reported_df
    lit = shipped_literature() if literature_df is None else literature_df
    by_cite = lit[lit["cites"].notna()].set_index("cites")
    headline = check_headline_is_test(df, lit)
    rows = []
    for _, e in df[df["id"].str.startswith("table2_")].iterrows():
        row = {"id": e["id"], "method": e["method"], "reference": e["reference"],
               "reported_pct": e["value"], "source": "paper Table II"}
        if e["id"] == "table2_proposed":
            training = headline.verdict == "fails" and headline.evidence.get(
                "equals_training_accuracy")
            row.update(what_the_number_is="training accuracy, audit a: not a test accuracy, "
                       "not comparable with the other rows" if training else "accuracy",
                       source_reports_pct=None, source_status="this paper",
                       protocol=e["protocol"])
        elif e["id"] in by_cite.index:
            s = by_cite.loc[e["id"]]
            row.update(what_the_number_is=s["metric"], source_reports_pct=s["source_value"],
                       source_status=f"{s['status']} ({s['identification']} source)",
                       protocol=s["protocol"])
        else:
            row.update(what_the_number_is="accuracy", source_reports_pct=None,
                       source_status="no literature record", protocol=e["protocol"])
        rows.append(row)
    for _, s in lit[lit["cites"].isna()].iterrows():
        rows.append({"id": s["id"], "method": s["cited_as"].removeprefix("context: "),
                     "reference": s["work"].split(",")[0], "reported_pct": s["value"],
                     "what_the_number_is": s["metric"],
                     "source_reports_pct": s["source_value"], "source_status": s["status"],
                     "protocol": s["protocol"], "source": "literature (not in the paper)"})
    cols = ["id", "method", "reference", "reported_pct", "what_the_number_is",
            "source_reports_pct", "source_status", "protocol", "source"]
    return pd.DataFrame(rows, columns=cols)
