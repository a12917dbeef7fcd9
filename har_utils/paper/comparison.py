"""Table II beside what its sources report, and which of our models re-runs which row."""

from __future__ import annotations

import pandas as pd

from .findings import check_headline_is_test
from .records import shipped_literature, shipped_reported


def comparison_rows(reported_df: pd.DataFrame | None = None,
                    literature_df: pd.DataFrame | None = None) -> pd.DataFrame:
    """Table II (what the paper prints) beside what each source reports, plus the context
    rows of the literature record; the proposed row says what finding (a) shows it is."""
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


#: The Table II rows that a zoo model re-runs: model -> (label, id in :func:`comparison_rows`).
TABLE2_ROWS = {"cnn_lstm_paper": ("CNN-LSTM (this paper)", "table2_proposed"),
               "cnn": ("CNN [23]", "table2_cnn_23"),
               "isplinception": ("iSPLInception [24]", "table2_isplinception_24"),
               "logreg_features": ("linear model on features (literature ~96 % on the 561)",
                                   "anchor_linear_561")}
#: Zoo models that are not rows of Table II, and what they stand for.
EXTRA_ROWS = {"cnn_lstm_sequential": "(not in Table II) the paper's model, other reading of Fig. 2",
              "lstm": "(not in Table II) 2-layer LSTM baseline",
              "deepconvlstm": "(not in Table II) DeepConvLSTM, Ordonez and Roggen 2016"}
#: Table II rows that no model here re-runs, and why.
NOT_RERUN = {
    "AM-DLFC [25]": ("table2_amdlfc_25", "it classifies spectrograms of 3 s windows, which the "
                     "2.56 s (128-sample) windows of this protocol do not provide"),
}


def reported_number(rid: str, table: pd.DataFrame | None = None) -> tuple[float, str] | None:
    """The number row ``rid`` reports, in percent, and what it is; None if there is none.
    ``table``: :func:`comparison_rows` indexed by id (default: of the shipped records)."""
    t = comparison_rows().set_index("id") if table is None else table
    if rid not in t.index:
        return None
    v = t.loc[rid, "reported_pct"]
    if v is None or v != v:
        return None
    return float(v), str(t.loc[rid, "what_the_number_is"])


def reported_by_model() -> dict[str, tuple[float, str]]:
    """For each model of :data:`TABLE2_ROWS`: the number printed for its row (%) and a short
    label saying what it is."""
    t = comparison_rows().set_index("id")
    out = {}
    for m, (_, rid) in TABLE2_ROWS.items():
        got = reported_number(rid, t)
        if got is not None:
            value, kind = got
            out[m] = (value, f"{value:g} % ({kind.split(':')[0]})")
    return out


def paper_row(model: str | None, rid: str | None = None, table: pd.DataFrame | None = None
              ) -> tuple[str, float | str | None]:
    """The label and the paper's number of the row ``model`` re-runs (or of ``rid``), with
    what it is when not a plain accuracy, e.g. ``"98.80 (training accuracy, audit a)"``."""
    label, rid = TABLE2_ROWS.get(model, (EXTRA_ROWS.get(model, ""), rid))
    got = None if rid is None else reported_number(rid, table)
    if got is None:
        return label, None
    value, kind = got
    return label, value if kind == "accuracy" else f"{value:.2f} ({kind.split(':')[0]})"
