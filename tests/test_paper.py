"""The paper's reported numbers, the decisions table and the consistency audit."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import matplotlib
import pandas as pd
import pytest

from har_utils import config, paper
from har_utils.io import HarDataError

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def shipped() -> pd.DataFrame:
    return paper.load_reported()


@pytest.fixture(scope="module")
def findings(shipped: pd.DataFrame) -> dict[str, paper.Finding]:
    return {f.id: f for f in paper.audit(shipped)}


def raw_json() -> dict[str, Any]:
    return json.loads(paper.REPORTED_JSON.read_text(encoding="utf-8"))


def write(tmp_path: Path, doc: dict[str, Any], name: str = "reported.json") -> Path:
    p = tmp_path / name
    p.write_text(json.dumps(doc), encoding="utf-8")
    return p


def fill(doc: dict[str, Any], values: dict[str, float]) -> dict[str, Any]:
    """A copy of ``doc`` with invented test values filled in (never shipped)."""
    for e in doc["entries"]:
        if e["id"] in values:
            e["value"], e["status"] = values[e["id"]], "transcribed"
    return doc


# --- the JSON ---------------------------------------------------------------------------

def test_shipped_json_validates(shipped: pd.DataFrame) -> None:
    assert shipped["id"].is_unique
    assert set(shipped["unit"]) <= set(paper.UNITS)
    numeric = shipped[shipped["unit"] != "text"]
    assert (numeric["value"].notna() == (numeric["status"] == "transcribed")).all()


def test_every_table1_cell_and_diagonal_cell_has_an_entry(shipped: pd.DataFrame) -> None:
    for c in config.ACTIVITY_NAMES:
        for m in paper.METRICS:
            assert f"table1_{c}_{m}" in shipped.index
        assert f"cm_diag_{c}" in shipped.index
        assert f"test_support_{c}" in shipped.index
    assert {f"table1_avg_{m}" for m in paper.METRICS} <= set(shipped.index)


def test_only_the_team_transcribed_values_are_filled(shipped: pd.DataFrame) -> None:
    t1 = shipped[shipped["id"].str.match(r"table1_[A-Z]")]
    assert t1.loc[t1["value"].notna(), "id"].tolist() == ["table1_SITTING_recall"]
    diag = shipped[shipped["id"].str.match(r"cm_diag_[A-Z]")]
    assert diag.loc[diag["value"].notna(), "id"].tolist() == ["cm_diag_SITTING"]
    assert paper.reported("cm_diag_total") == 2740
    assert paper.reported("table1_SITTING_recall") == 0.93
    assert paper.reported("table2_cnn_23") is None
    assert paper.reported_text("def_f1") is None


def test_test_supports_are_the_official_counts(shipped: pd.DataFrame) -> None:
    counts = pd.read_csv(config.OFFICIAL_COUNTS_CSV)
    official = counts[counts["split"] == "test"].groupby("activity")["n_windows"].sum()
    for c in config.ACTIVITY_NAMES:
        assert paper.reported(f"test_support_{c}", shipped) == official[c]
    assert paper.reported("test_support_total", shipped) == official.sum() == 2947


@pytest.mark.parametrize("change, words", [
    (lambda es: es.append(dict(es[0])), "duplicate id"),
    (lambda es: es[-1].update(value=42.0), "not transcribed"),
    (lambda es: es[0].update(value=None), "transcribed"),
    (lambda es: es[0].update(unit="percent"), "unit"),
    (lambda es: es[0].update(extra=1), "unknown field"),
], ids=["duplicate", "value-not-transcribed", "null-transcribed", "unit", "unknown-field"])
def test_malformed_json_raises_naming_the_file(tmp_path: Path, change: Any, words: str
                                               ) -> None:
    doc = raw_json()
    nt = [e for e in doc["entries"] if e["status"] == "not transcribed" and e["unit"] != "text"]
    doc["entries"] = [doc["entries"][0], *doc["entries"][1:3], nt[0]]
    change(doc["entries"])
    p = write(tmp_path, doc, "broken_reported.json")
    with pytest.raises(HarDataError, match=words) as err:
        paper.load_reported(p)
    assert "broken_reported.json" in str(err.value)


def test_invalid_json_syntax_names_the_file(tmp_path: Path) -> None:
    p = tmp_path / "bad.json"
    p.write_text("{not json", encoding="utf-8")
    with pytest.raises(HarDataError, match="bad.json"):
        paper.load_reported(p)


# --- the decisions table ----------------------------------------------------------------

def test_decisions_have_the_columns_and_a_choice_each() -> None:
    d = paper.load_decisions()
    assert list(d.columns[:5]) == list(paper.DECISION_COLUMNS)
    assert (d["our_choice"].str.strip() != "").all()
    topics = " ".join(d["topic"]).lower()
    for t in ("optimizer", "early stopping", "normalisation", "dropout", "validation set",
              "sub-sequences", "augmentation", "learning rate", "batch size", "loss"):
        assert t in topics
    val = d.set_index("topic").loc["validation set", "our_choice"]
    assert all(str(s) in val for s in (8, 17, 21, 25))


def test_empty_choice_raises(tmp_path: Path) -> None:
    d = paper.load_decisions()
    d.loc[0, "our_choice"] = " "
    p = tmp_path / "decisions.csv"
    d.to_csv(p, index=False)
    with pytest.raises(HarDataError, match="decisions.csv"):
        paper.load_decisions(p)


# --- the audit ----------------------------------------------------------------------------

def test_audit_ids_and_verdicts(findings: dict[str, paper.Finding]) -> None:
    assert list(findings) == list("abcdefg")
    assert all(f.verdict in paper.VERDICTS for f in findings.values())


def test_a_headline_is_training_accuracy(findings: dict[str, paper.Finding]) -> None:
    f = findings["a"]
    assert f.verdict == "confirmed"
    assert f.evidence["headline_pct"] == f.evidence["train_accuracy_pct"]


def test_b_confusion_matrix_accuracy(findings: dict[str, paper.Finding]) -> None:
    f = findings["b"]
    assert f.evidence["cm_accuracy"] == pytest.approx(0.9297, abs=1e-4)
    assert f.evidence["cm_accuracy"] == 2740 / 2947
    assert f.verdict == "refuted" and "does not agree" in f.explanation
    assert "92.98 %" in f.explanation and "207" in f.explanation


def test_c_sitting_recall(findings: dict[str, paper.Finding]) -> None:
    f = findings["c"]
    assert f.evidence["SITTING_cm_recall"] == pytest.approx(0.786, abs=1e-3)
    assert f.verdict == "refuted" and "386/491" in f.explanation


def test_d_cannot_check_while_table1_is_not_transcribed(
        findings: dict[str, paper.Finding]) -> None:
    f = findings["d"]
    assert f.verdict == "cannot check yet"
    assert f.explanation.startswith(paper.NOT_TRANSCRIBED)
    assert "table1_SITTING_precision" in f.evidence["missing"]
    assert "table1_SITTING_recall" not in f.evidence["missing"]


def test_d_flags_exactly_the_impossible_f1(tmp_path: Path) -> None:
    doc = fill(raw_json(), {  # invented test values, not the paper's
        "table1_WALKING_precision": 0.95, "table1_WALKING_recall": 0.93,
        "table1_WALKING_f1": 0.99,  # impossible
        "table1_SITTING_precision": 0.95, "table1_SITTING_f1": 0.94,  # R 0.93: possible
        "table1_LAYING_precision": 0.95, "table1_LAYING_recall": 0.93,
        "table1_LAYING_f1": 0.93,  # 0.945, 0.925 -> 0.9349: reachable within rounding
    })
    f = {x.id: x for x in paper.audit(paper.load_reported(write(tmp_path, doc)))}["d"]
    assert f.verdict == "refuted"
    assert f.evidence["impossible"] == ["WALKING"]
    assert f.evidence["n_checked"] == 3 and f.evidence["n_impossible"] == 1
    assert "1 of 3" in f.explanation


def test_d_confirmed_when_all_checked_f1_are_possible(tmp_path: Path) -> None:
    doc = fill(raw_json(), {"table1_SITTING_precision": 0.95, "table1_SITTING_f1": 0.94})
    f = paper.check_f1_consistency(paper.load_reported(write(tmp_path, doc)))
    assert f.verdict == "confirmed" and f.evidence["impossible"] == []


def test_f1_range_corners() -> None:
    lo, hi = paper.f1_range(0.95, 0.93)
    assert lo == pytest.approx(2 * 0.945 * 0.925 / (0.945 + 0.925))
    assert hi == pytest.approx(2 * 0.955 * 0.935 / (0.955 + 0.935))
    assert lo < 2 * 0.95 * 0.93 / 1.88 < hi


def test_e_test_set_used_for_validation(findings: dict[str, paper.Finding]) -> None:
    assert findings["e"].verdict == "confirmed"


def test_f_weighted_recall_equals_accuracy(findings: dict[str, paper.Finding]) -> None:
    f = findings["f"]
    assert f.evidence["weighted_recall"] == pytest.approx(f.evidence["cm_accuracy"], abs=1e-12)
    lo, hi = f.evidence["macro_recall_range"]
    assert hi < f.evidence["reported_range"][0]  # 0.96 out of reach even as a macro average
    assert f.verdict == "refuted"


def test_macro_recall_bounds_brute_force() -> None:
    sup = {"A": 3, "B": 5, "C": 4}
    best = (math.inf, -math.inf)
    for a in range(4):
        for b in range(6):
            c = 8 - a - b
            if 0 <= c <= 4:
                m = (a / 3 + b / 5 + c / 4) / 3
                best = (min(best[0], m), max(best[1], m))
    assert paper.macro_recall_bounds(sup, 8) == pytest.approx(best)


def test_g_definitions_not_transcribed(findings: dict[str, paper.Finding],
                                       tmp_path: Path) -> None:
    f = findings["g"]
    assert f.verdict == "cannot check yet" and "formula text not transcribed" in f.explanation
    doc = raw_json()
    for e in doc["entries"]:  # invented test formulas
        if e["id"] in ("def_precision", "def_f1"):
            e["status"] = "transcribed"
            e["text"] = "TP / (TP + FP)" if e["id"] == "def_precision" else "F1 = P*R / (P+R)"
    g = paper.check_definitions(paper.load_reported(write(tmp_path, doc)))
    assert g.verdict == "confirmed" and g.evidence["nonstandard"] == ["def_f1"]


def test_ours_adds_evidence(shipped: pd.DataFrame) -> None:
    ours = {"test_accuracy": 0.91, "train_accuracy": 0.99,
            "per_class": {c: {"precision": 0.9, "recall": 0.9, "f1": 0.9}
                          for c in config.ACTIVITY_NAMES}}
    fs = {f.id: f for f in paper.audit(shipped, ours)}
    assert fs["a"].evidence["ours_test_accuracy_pct"] == pytest.approx(91.0)
    assert fs["b"].evidence["ours_test_accuracy"] == 0.91
    assert fs["c"].evidence["SITTING_ours_recall"] == 0.9
    assert fs["f"].evidence["ours_macro_recall"] == pytest.approx(0.9)
    assert [f.verdict for f in fs.values()] == [f.verdict for f in paper.audit(shipped)]


def test_findings_table_and_comparison(findings: dict[str, paper.Finding],
                                       shipped: pd.DataFrame) -> None:
    t = paper.findings_table(list(findings.values()))
    assert list(t.columns) == ["id", "title", "verdict", "key_numbers"]
    assert "0.9298" in t.set_index("id").loc["b", "key_numbers"]
    rows = paper.comparison_rows(shipped)
    tab2 = rows[rows["source"] == "paper Table II"].set_index("method")
    assert len(tab2) == 4
    assert math.isnan(tab2.loc["CNN", "reported_accuracy_pct"])
    assert tab2.loc["CNN", "status"] == "not transcribed"
    assert tab2.loc["iSPLInception", "reported_accuracy_pct"] == 95.09


def test_framework_diagram_returns_a_figure() -> None:
    import matplotlib.pyplot as plt

    from har_utils import plots

    fig = plots.framework_diagram("Framework (paper Fig. 1)")
    try:
        assert isinstance(fig, plt.Figure)
        texts = " ".join(t.get_text() for t in fig.axes[0].texts)
        assert "LSTM" in texts and "softmax" in texts
    finally:
        plt.close(fig)
