"""The paper's printed numbers, the literature record, the decisions table and the audit.

Three kinds of test: the shipped transcription (complete, sectioned, and, where the paper's text
is beside the repository, equal to what it prints); every finding decided on those numbers; and
synthetic counter-cases: a paper built to be self-consistent passes every check, and one broken
cell fails exactly the checks that read it.
"""

from __future__ import annotations

import copy
import json
import math
import re
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import precision_recall_fscore_support

from har_utils import config, paper
from har_utils.io import HarDataError

matplotlib.use("Agg")

CLASSES = list(config.ACTIVITY_NAMES)
#: The paper's text (a reference beside the repository, not part of it); tests that compare
#: the transcription with it are skipped where it is absent.
PAPER_TEXT = config.PROJECT_ROOT.parent / "shared" / "paper" / "cnn_lstm_har_paper.txt"


@pytest.fixture(scope="module")
def shipped() -> pd.DataFrame:
    return paper.load_reported()


@pytest.fixture(scope="module")
def findings(shipped: pd.DataFrame) -> dict[str, paper.Finding]:
    return {f.id: f for f in paper.audit(shipped)}


def raw(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def write(tmp_path: Path, doc: dict[str, Any], name: str) -> Path:
    p = tmp_path / name
    p.write_text(json.dumps(doc), encoding="utf-8")
    return p


# --- the transcription --------------------------------------------------------------------

def test_shipped_json_validates(shipped: pd.DataFrame) -> None:
    assert shipped["id"].is_unique
    assert set(shipped["unit"]) <= set(paper.UNITS)
    numeric = shipped[shipped["unit"] != "text"]
    assert (numeric["value"].notna() == (numeric["status"] == "transcribed")).all()


def test_everything_the_text_prints_is_transcribed(shipped: pd.DataFrame) -> None:
    assert "not transcribed" not in set(shipped["status"])
    done = shipped[shipped["status"] == "transcribed"].index
    table1 = [f"table1_{c}_{m}" for c in CLASSES for m in paper.METRICS]
    diagonal = [f"cm_diag_{c}" for c in CLASSES]
    table2 = ["table2_cnn_23", "table2_isplinception_24", "table2_amdlfc_25", "table2_proposed"]
    sentences = ["train_accuracy", "val_accuracy", "train_loss", "val_loss_start",
                 "val_loss_end", "table1_avg_precision", "table1_avg_recall", "table1_avg_f1",
                 "headline_accuracy", "fig5_caption"]
    settings = ["hp_epochs", "hp_batch_size", "hp_optimizer", "hp_loss", "hp_dropout"]
    for ids in (table1, diagonal, table2, sentences, settings, list(paper.DEFINITIONS)):
        assert set(ids) <= set(done), sorted(set(ids) - set(done))
    assert len(table1) == 18 and len(diagonal) == 6
    off = shipped[shipped["id"].str.match(r"cm_[A-Z_]+_as_[A-Z_]+$")]
    assert len(off) == 30 and (off["status"] == "not in the text").all()
    assert off["value"].isna().all()


def test_sections_are_the_ones_that_print_each_number(shipped: pd.DataFrame) -> None:
    sec = shipped["section"]
    assert not sec.str.contains("not recorded|Abstract").any()
    assert sec["headline_accuracy"] == "IV (Conclusion)"
    assert sec["table2_proposed"] == "Table II"
    for i in ("train_accuracy", "val_accuracy", "train_loss", "val_loss_start", "val_loss_end",
              "table1_avg_precision", "table1_avg_recall", "table1_avg_f1"):
        assert sec[i] == "III.B", i
    for i in ("hp_epochs", "hp_batch_size", "hp_optimizer", "hp_loss", "hp_dropout"):
        assert sec[i] == "II.B", i
    assert (sec[list(paper.DEFINITIONS)] == "III.A").all()
    assert sec[[f"cm_diag_{c}" for c in CLASSES]].str.startswith("III.B").all()
    assert sec[[f"table1_{c}_f1" for c in CLASSES]].eq("Table I").all()


def test_definitions_are_paraphrased_with_a_judgement(shipped: pd.DataFrame) -> None:
    for i in paper.DEFINITIONS:
        e = shipped.loc[i]
        assert e["text"] and e["formula"] and e["judgement"] and e["defines"]
        assert e["standard"].endswith("_score")


@pytest.mark.skipif(not PAPER_TEXT.exists(), reason="the paper's text is not beside the repo")
def test_transcription_equals_what_the_text_prints(shipped: pd.DataFrame) -> None:
    text = PAPER_TEXT.read_text(encoding="utf-8")
    for c in CLASSES:  # Table I rows: "WALKING 1.00 0.98 0.99"
        m = re.search(rf"^{c} ([\d.]+) ([\d.]+) ([\d.]+)\s*$", text, re.M)
        assert m, c
        assert [float(x) for x in m.groups()] == [paper.reported(f"table1_{c}_{k}", shipped)
                                                  for k in paper.METRICS]
    m = re.search(r"identifies ([\d,\s]+and \d+)\s+instances as true positives", text)
    diag = [int(x) for x in re.findall(r"\d+", m.group(1))]
    assert diag == [paper.reported(f"cm_diag_{c}", shipped) for c in CLASSES]
    for rid, method in (("table2_cnn_23", "CNN"), ("table2_isplinception_24", "iSPLInception"),
                        ("table2_amdlfc_25", "AM-DLFC"), ("table2_proposed", r"\s*CNN-LSTM")):
        m = re.search(rf"^(?:\[\d+\]|Proposed) {method} UCI HAR ([\d.]+)\s*$", text, re.M)
        assert m and float(m.group(1)) == paper.reported(rid, shipped), rid
    flat = " ".join(text.split())
    for rid in ("train_accuracy", "val_accuracy", "train_loss", "val_loss_start", "val_loss_end",
                "table1_avg_precision", "table1_avg_recall", "table1_avg_f1", "hp_epochs",
                "hp_batch_size", "arch_conv_filters", "arch_lstm_units", "data_train",
                "data_test", "data_total"):
        v = paper.reported(rid, shipped)
        printed = {f"{v:g}", f"{v:,.0f}" if v >= 1000 else f"{v:g}"}
        assert any(re.search(rf"(?<![\d.]){re.escape(p)}(?![\d])", flat) for p in printed), rid
    assert "98.8%" in flat.replace(" %", "%")  # the Conclusion's headline


def test_test_supports_are_the_official_counts(shipped: pd.DataFrame) -> None:
    counts = pd.read_csv(config.OFFICIAL_COUNTS_CSV)
    official = counts[counts["split"] == "test"].groupby("activity")["n_windows"].sum()
    for c in CLASSES:
        assert paper.reported(f"test_support_{c}", shipped) == official[c]
    assert paper.reported("test_support_total", shipped) == official.sum() == 2947


@pytest.mark.parametrize("change, words", [
    (lambda es: es.append(dict(es[0])), "duplicate id"),
    (lambda es: es[-1].update(value=42.0), "not in the text"),
    (lambda es: es[0].update(value=None), "transcribed"),
    (lambda es: es[0].update(unit="percent"), "unit"),
    (lambda es: es[0].update(extra=1), "unknown field"),
    (lambda es: es[0].update(status="guessed"), "status"),
], ids=["duplicate", "value-not-in-text", "null-transcribed", "unit", "unknown-field", "status"])
def test_malformed_json_raises_naming_the_file(tmp_path: Path, change: Any, words: str
                                               ) -> None:
    doc = raw(paper.REPORTED_JSON)
    absent = [e for e in doc["entries"] if e["status"] == "not in the text"]
    doc["entries"] = [doc["entries"][0], *doc["entries"][1:3], absent[0]]
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


# --- the literature record ----------------------------------------------------------------

def test_literature_is_apart_and_sourced() -> None:
    lit = paper.load_literature()
    reported_ids = set(paper.load_reported().index)
    assert not set(lit.index) & reported_ids  # other works' numbers never sit in the paper's file
    cited = lit[lit["cites"].notna()]
    assert sorted(cited["cites"]) == ["table2_amdlfc_25", "table2_cnn_23",
                                      "table2_isplinception_24"]
    for _, e in cited.iterrows():
        assert e["value"] == paper.reported(e["cites"])  # what the paper attributes to it
    confirmed = lit[lit["status"] == "confirmed"]
    assert (confirmed["source_value"] == confirmed["value"]).all()
    assert confirmed["where"].str.len().gt(0).all()
    isp = lit.loc["lit_isplinception_24"]
    assert "6 of the 9" in isp["protocol"] and isp["status"] == "confirmed"
    assert lit.loc["lit_amdlfc_25", "source_value"] == 93.48
    assert set(lit.loc[lit["cites"].isna(), "status"]) == {"unverified"}


@pytest.mark.parametrize("change, words", [
    ({"status": "confirmed", "source_value": 90.0}, "confirmed"),
    ({"status": "differs", "source_value": None}, "differs"),
    ({"identification": "sure"}, "identification"),
    ({"status": "maybe"}, "status"),
], ids=["confirmed-other-number", "differs-without-number", "identification", "status"])
def test_malformed_literature_raises_naming_the_file(tmp_path: Path, change: dict[str, Any],
                                                     words: str) -> None:
    doc = raw(paper.LITERATURE_JSON)
    doc["entries"][0].update(change)
    with pytest.raises(HarDataError, match=words) as err:
        paper.load_literature(write(tmp_path, doc, "broken_literature.json"))
    assert "broken_literature.json" in str(err.value)


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


def test_decisions_name_no_implemented_option_as_planned() -> None:
    d = paper.load_decisions().set_index("topic")
    for topic, param in (("normalisation", "standardize"), ("augmentation", "augment")):
        alt = d.loc[topic, "how_to_run_alternative"].lower()
        assert "planned" not in alt and "not implemented" not in alt
        assert param in alt
    assert "section not recorded" not in " ".join(d["paper_says"])


def test_empty_choice_raises(tmp_path: Path) -> None:
    d = paper.load_decisions()
    d.loc[0, "our_choice"] = " "
    p = tmp_path / "decisions.csv"
    d.to_csv(p, index=False)
    with pytest.raises(HarDataError, match="decisions.csv"):
        paper.load_decisions(p)


# --- the findings, on the transcribed numbers ----------------------------------------------

def test_every_finding_is_decided(findings: dict[str, paper.Finding]) -> None:
    assert list(findings) == list("abcdefgh")
    assert all(f.verdict in ("holds", "fails") for f in findings.values())


def test_a_headline_is_the_training_accuracy(findings: dict[str, paper.Finding]) -> None:
    f = findings["a"]
    assert f.verdict == "fails"
    assert f.evidence["equals_training_accuracy"]
    assert not f.evidence["equals_validation_accuracy"]
    assert not f.evidence["equals_confusion_matrix_accuracy"]
    assert f.evidence["cm_accuracy_pct"] == pytest.approx(100 * 2740 / 2947, abs=1e-4)


def test_a_compares_like_with_like() -> None:
    ours = {"test_accuracy": 0.91, "train_accuracy": 0.956, "best_epoch": 6,
            "fixed_budget": {"epochs": 100, "n_seeds": 2, "train_accuracy_logged": 0.995,
                             "test_accuracy": 0.929}}
    f = paper.check_headline_is_test(paper.load_reported(), None, ours)
    assert "100 epochs" in f.explanation and "99.50 %" in f.explanation
    assert "epoch 6" in f.explanation and "not the like-for-like" in f.explanation
    assert f.evidence["ours_fixed_budget"]["epochs"] == 100


def test_b_confusion_matrix_accuracy(findings: dict[str, paper.Finding]) -> None:
    f = findings["b"]
    assert f.verdict == "fails"
    assert f.evidence["cm_correct"] == 2740 and f.evidence["test_windows"] == 2947
    assert "92.98 %" in f.explanation and "207" in f.explanation and "35" in f.explanation


def test_c_recall_against_the_diagonal_for_every_class(findings: dict[str, paper.Finding]
                                                       ) -> None:
    f = findings["c"]
    rows = {r["class"]: r for r in f.table}
    assert list(rows) == CLASSES
    assert f.verdict == "fails" and f.evidence["inconsistent"] == ["WALKING", "SITTING"]
    assert rows["WALKING"]["correct_needed"] == "484-488" and rows["WALKING"]["diagonal"] == 483
    assert rows["SITTING"]["correct_needed"] == "455-459" and rows["SITTING"]["diagonal"] == 386
    assert rows["WALKING_DOWNSTAIRS"]["consistent"] and rows["WALKING_DOWNSTAIRS"]["diagonal"] == 420


def test_correct_needed_brute_force() -> None:
    for recall, n in ((0.98, 496), (0.93, 491), (1.0, 420), (0.94, 532)):
        ok = [d for d in range(n + 1) if round(d / n + 1e-12, 2) == recall]
        assert paper.correct_needed(recall, n) == (min(ok), max(ok))  # capped at the support
    assert paper.correct_needed(1.0, 420) == (418, 420)


def test_d_f1_ranges_and_impossible_classes(findings: dict[str, paper.Finding]) -> None:
    f = findings["d"]
    rows = {r["class"]: r for r in f.table}
    assert f.verdict == "fails" and f.evidence["n_impossible"] == 4
    assert f.evidence["impossible"] == ["WALKING_UPSTAIRS", "WALKING_DOWNSTAIRS", "SITTING",
                                        "LAYING"]
    lo, hi = paper.f1_range(0.96, 0.94)
    assert rows["WALKING_UPSTAIRS"]["f1_reachable_min"] == round(lo, 4)
    assert rows["WALKING_UPSTAIRS"]["f1_reachable_max"] == round(hi, 4)
    assert lo > 0.93 + paper.TABLE1_HALF_WIDTH  # the printed 0.93 is out of reach
    assert rows["WALKING"]["possible"] and rows["STANDING"]["possible"]
    assert "4 of 6" in f.explanation


def test_f1_range_corners() -> None:
    lo, hi = paper.f1_range(0.95, 0.93)
    assert lo == pytest.approx(2 * 0.945 * 0.925 / (0.945 + 0.925))
    assert hi == pytest.approx(2 * 0.955 * 0.935 / (0.955 + 0.935))
    assert lo < 2 * 0.95 * 0.93 / 1.88 < hi


def test_e_test_set_used_for_validation(findings: dict[str, paper.Finding]) -> None:
    f = findings["e"]
    assert f.verdict == "fails" and f.evidence["caption_names_test_set"]


def test_f_macro_recall_is_one_number(findings: dict[str, paper.Finding]) -> None:
    f = findings["f"]
    rows = {r["average"].split(":")[0] + ("/cm" if "Fig. 6" in r["average"] else ""): r
            for r in f.table}
    diag = {"WALKING": 483, "WALKING_UPSTAIRS": 442, "WALKING_DOWNSTAIRS": 420,
            "SITTING": 386, "STANDING": 499, "LAYING": 510}
    sup = {c: paper.reported(f"test_support_{c}") for c in CLASSES}
    macro = float(np.mean([diag[c] / sup[c] for c in CLASSES]))
    macro_row = next(r for r in f.table if r["average"].startswith("recall: macro"))
    assert macro_row["computed"] == round(macro, 4) == 0.931
    assert not macro_row["agrees"] and f.verdict == "fails"
    for m in paper.METRICS:  # the printed averages are the means of Table I's columns
        assert rows[m]["agrees"]
    assert "93.10 %" in f.explanation and "neither fits" in f.explanation


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
    lo, hi = paper.macro_recall_bounds(sup, 8, {"A": 2, "B": 3, "C": 3})
    assert lo == hi == pytest.approx((2 / 3 + 3 / 5 + 3 / 4) / 3)


def test_g_definitions_computed_beside_sklearn(findings: dict[str, paper.Finding]) -> None:
    f = findings["g"]
    rows = {r["metric"]: r for r in f.table}
    assert f.verdict == "fails" and f.evidence["nonstandard"] == ["precision", "f1"]
    assert rows["precision"]["computes"] == "recall" and rows["f1"]["computes"] == "none"
    assert rows["accuracy"]["computes"] == "accuracy" and rows["recall"]["computes"] == "recall"
    assert all(r["reading agrees"] for r in f.table)  # the recorded judgement matches the code
    assert len(f.evidence["table1_precision_differs_from_recall"]) == 6


def test_definition_evaluation_against_sklearn() -> None:
    cm = paper.example_confusion()
    std = paper.standard_metrics(cm)
    assert not np.allclose(std["precision"], std["recall"])
    assert paper.what_it_defines("TP / (TP + FP)", cm) == "precision"
    assert paper.what_it_defines("TP / (TP + FN)", cm) == "recall"
    assert paper.what_it_defines("2 * TP / (2 * TP + FP + FN)", cm) == "f1"
    assert paper.what_it_defines("CORRECT / N", cm) == "accuracy"
    assert paper.what_it_defines("TP / N", cm) == "none"


def test_h_table2_rows_against_their_sources(findings: dict[str, paper.Finding]) -> None:
    f = findings["h"]
    assert f.verdict == "fails" and f.evidence["differs"] == ["[25] AM-DLFC"]
    assert "93.48" in f.explanation and "6 of the 9" in f.explanation
    assert "balanced accuracy" in f.explanation and "reference list" in f.explanation


def test_ours_adds_evidence_but_never_changes_a_verdict(shipped: pd.DataFrame) -> None:
    ours = {"test_accuracy": 0.91, "train_accuracy": 0.99, "best_epoch": 6,
            "per_class": {c: {"precision": 0.9, "recall": 0.9, "f1": 0.9} for c in CLASSES}}
    fs = {f.id: f for f in paper.audit(shipped, ours)}
    assert fs["a"].evidence["ours_published_test_accuracy_pct"] == pytest.approx(91.0)
    assert fs["b"].evidence["ours_test_accuracy_pct"] == pytest.approx(91.0)
    assert {r["class"]: r["ours_recall"] for r in fs["c"].table}["SITTING"] == 0.9
    assert [f.verdict for f in fs.values()] == [f.verdict for f in paper.audit(shipped)]


# --- synthetic counter-cases ------------------------------------------------------------

def _consistent_paper() -> tuple[dict[str, Any], dict[str, Any]]:
    """A paper and literature record made self-consistent from a synthetic confusion matrix
    with the official test supports: sklearn's metrics rounded as a paper prints them."""
    doc, lit = raw(paper.REPORTED_JSON), raw(paper.LITERATURE_JSON)
    by = {e["id"]: e for e in doc["entries"]}
    sup = np.array([by[f"test_support_{c}"]["value"] for c in CLASSES])
    rng = np.random.default_rng(1)
    cm = np.zeros((6, 6), int)
    for i, n in enumerate(sup):
        errors = int(rng.integers(5, 40))
        cm[i] = np.insert(rng.multinomial(errors, np.ones(5) / 5), i, n - errors)
    y_true = np.repeat(np.arange(6), cm.sum(axis=1))
    y_pred = np.concatenate([np.repeat(np.arange(6), row) for row in cm])
    p, r, f1, _ = precision_recall_fscore_support(y_true, y_pred)
    acc = np.trace(cm) / cm.sum()
    for i, c in enumerate(CLASSES):
        for m, v in zip(paper.METRICS, (p, r, f1)):
            by[f"table1_{c}_{m}"]["value"] = round(float(v[i]), 2)
        by[f"cm_diag_{c}"]["value"] = int(cm[i, i])
    for m, v in zip(paper.METRICS, (p, r, f1)):
        by[f"table1_avg_{m}"]["value"] = round(100 * float(v.mean()))
    by["headline_accuracy"]["value"] = by["val_accuracy"]["value"] = round(100 * acc, 1)
    by["table2_proposed"]["value"] = round(100 * acc, 2)
    by["train_accuracy"]["value"] = 99.9
    by["fig5_caption"]["text"] = "accuracy and loss curves on the training and validation sets"
    by["def_precision"].update(formula="TP / (TP + FP)", defines="precision")
    by["def_f1"].update(formula="2 * TP / (2 * TP + FP + FN)", defines="f1")
    for e in lit["entries"]:
        if e["cites"]:
            e.update(status="confirmed", source_value=e["value"], metric="accuracy")
    return doc, lit


def _failing(tmp_path: Path, doc: dict[str, Any], lit: dict[str, Any]) -> list[str]:
    fs = paper.audit(paper.load_reported(write(tmp_path, doc, "reported.json")), None,
                     paper.load_literature(write(tmp_path, lit, "literature.json")))
    assert all(f.verdict != "cannot check" for f in fs)
    return [f.id for f in fs if f.verdict == "fails"]


def test_a_self_consistent_paper_passes_every_check(tmp_path: Path) -> None:
    doc, lit = _consistent_paper()
    assert _failing(tmp_path, doc, lit) == []


def _set(doc: dict[str, Any], id: str, **kv: Any) -> None:
    next(e for e in doc["entries"] if e["id"] == id).update(kv)


def _value(doc: dict[str, Any], id: str) -> Any:
    return next(e for e in doc["entries"] if e["id"] == id)["value"]


@pytest.mark.parametrize("case, breaks", [
    ("table1 F1 cell", ["d"]),
    ("table1 recall cell", ["c"]),
    ("printed average", ["f"]),
    ("caption names the test set", ["e"]),
    ("non-standard precision", ["g"]),
    ("a source prints another number", ["h"]),
    # a diagonal cell feeds the matrix accuracy (b), its class's recall (c) and macro recall (f)
    ("diagonal cell", ["b", "c", "f"]),
    # the headline is checked against the test-side numbers (a) and the matrix (b)
    ("headline set to the training accuracy", ["a", "b"]),
])
def test_one_broken_cell_fails_exactly_the_checks_that_read_it(tmp_path: Path, case: str,
                                                               breaks: list[str]) -> None:
    doc, lit = _consistent_paper()
    if case == "table1 F1 cell":
        _set(doc, "table1_SITTING_f1", value=round(_value(doc, "table1_SITTING_f1") - 0.03, 2))
    elif case == "table1 recall cell":
        _set(doc, "table1_SITTING_recall",
             value=round(_value(doc, "table1_SITTING_recall") - 0.01, 2))
    elif case == "printed average":
        _set(doc, "table1_avg_precision", value=_value(doc, "table1_avg_precision") + 2)
    elif case == "caption names the test set":
        _set(doc, "fig5_caption", text="accuracy and loss curves on the training and test sets")
    elif case == "non-standard precision":
        _set(doc, "def_precision", formula="TP / (TP + FN)", defines="recall")
    elif case == "a source prints another number":
        lit = copy.deepcopy(lit)
        lit["entries"][2].update(status="differs", source_value=93.48)
    elif case == "diagonal cell":
        _set(doc, "cm_diag_SITTING", value=_value(doc, "cm_diag_SITTING") - 5)
    else:
        _set(doc, "headline_accuracy", value=_value(doc, "train_accuracy"))
    assert _failing(tmp_path, doc, lit) == breaks


def test_missing_text_is_said_not_guessed(tmp_path: Path) -> None:
    doc = raw(paper.REPORTED_JSON)
    _set(doc, "cm_diag_LAYING", value=None, status="not in the text")
    fs = {f.id: f for f in paper.audit(paper.load_reported(write(tmp_path, doc, "r.json")))}
    assert fs["b"].verdict == "cannot check" and "cm_diag_LAYING" in fs["b"].explanation
    assert fs["c"].verdict == "fails"  # WALKING and SITTING are still decided
    assert [r["class"] for r in fs["c"].table] == CLASSES[:-1]


# --- presentation ---------------------------------------------------------------------

def test_findings_table_and_comparison(findings: dict[str, paper.Finding],
                                       shipped: pd.DataFrame) -> None:
    t = paper.findings_table(list(findings.values()))
    assert list(t.columns) == ["id", "claim", "verdict", "key_numbers"]
    rows = paper.comparison_rows(shipped)
    tab2 = rows[rows["source"] == "paper Table II"].set_index("method")
    assert len(tab2) == 4
    assert tab2.loc["CNN", "reported_pct"] == 91.98
    assert tab2.loc["CNN", "what_the_number_is"] == "balanced accuracy"
    assert tab2.loc["AM-DLFC", "source_reports_pct"] == 93.48
    own = tab2.loc["CNN-LSTM (this paper)"]
    assert own["reported_pct"] == 98.8 and own["what_the_number_is"].startswith("training accuracy")
    assert not rows.astype(str).apply(lambda c: c.str.contains("561")).loc[
        rows["reported_pct"] == 98.8].any().any()  # no "CNN-LSTM on the 561 features, 98.80"
    context = rows[rows["source"] == "literature (not in the paper)"]
    assert set(context["source_status"]) == {"unverified"}


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
