"""The zoo on the experiment runner, on a small synthetic dataset: its protocols as runs,
resuming, the summary, paired tests and the tables the report draws from it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from har_utils import config, study_results
from har_utils.data import HarDataset
from har_studies.experiments import runner, zoo
from synthetic_uci import synthetic_dataset

QUIET = {"ship_data": True, "log": lambda _line: None}


@pytest.fixture
def ds() -> HarDataset:
    return synthetic_dataset()


@pytest.fixture
def short(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 3-epoch budget with patience 1 (the zoo's are 100 and 10)."""
    monkeypatch.setattr(zoo, "BUDGET", 3)
    monkeypatch.setattr(zoo, "PATIENCE", 1)


def test_protocols_are_runs_of_the_runner() -> None:
    subjects = zoo.zoo_run("cnn", "subjects", 2)
    assert subjects.val_subjects == (8, 17, 21, 25) and subjects.patience == zoo.PATIENCE
    assert set(subjects.fit_subjects) == set(config.TRAIN_SUBJECTS) - {8, 17, 21, 25}
    assert subjects.epochs == 100 and subjects.test and not subjects.watch_test
    retrain = zoo.zoo_run("cnn", "retrain_all", 2, epochs=7)
    assert retrain.fit_subjects == tuple(config.TRAIN_SUBJECTS) and retrain.epochs == 7
    assert not retrain.val_subjects and not retrain.patience
    paper = zoo.zoo_run("cnn", "paper", 2)
    assert paper.watch_test and paper.epochs == 100 and not paper.val_subjects
    logreg = zoo.zoo_run("logreg_features", "subjects")
    assert logreg.fit_subjects == tuple(config.TRAIN_SUBJECTS) and not logreg.val_subjects
    assert dict(logreg.model_kwargs) == {"C": 1.0}
    assert [zoo.identity(r) for r in (subjects, retrain, paper)] == [
        ("cnn", "subjects", 2), ("cnn", "retrain_all", 2), ("cnn", "paper", 2)]
    assert subjects.study == "zoo" and subjects.name == "zoo/cnn/subjects/seed2"
    with pytest.raises(ValueError, match="epochs of its subjects run"):
        zoo.zoo_run("cnn", "retrain_all")
    with pytest.raises(ValueError, match="subjects protocol only"):
        zoo.zoo_run("logreg_features", "paper")
    with pytest.raises(ValueError, match="not the name of a zoo run"):
        zoo.identity(runner.Run("cnn", name="cv/cnn/final/seed0"))
    keys = {r.key("c") for r in (subjects, retrain, paper, logreg)}
    assert len(keys) == 4


def test_run_executes_through_the_runner_and_resumes(ds: HarDataset, short: None,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    [retrain] = zoo.run(["tiny_cnn"], ["retrain_all"], ds, [0], **QUIET)  # subjects run first
    [subjects] = zoo.load_runs(ds, ["tiny_cnn"], ["subjects"])
    assert subjects["config"]["val_subjects"] == [8, 17, 21, 25]
    assert 1 <= subjects["best_epoch"] <= subjects["epochs_run"] <= 3
    assert retrain["epochs_run"] == subjects["best_epoch"] and retrain["zoo"]["seed"] == 0
    assert len(retrain["y_pred"]) == len(ds.test.y) and "test_proba" in retrain
    assert set(retrain["test"]["per_subject"]) == {str(s) for s in config.TEST_SUBJECTS}

    [paper] = zoo.run(["tiny_cnn"], ["paper"], ds, [0], **QUIET)
    assert paper["epochs_run"] == 3  # no early stopping in the paper's protocol
    curve = paper["history"]["val_accuracy"]  # the test set is watched every epoch
    read = zoo.paper_readings(paper)
    assert len(curve) == 3 and read["best_epoch_test_accuracy"] == max(curve)
    assert curve[read["best_epoch_by_test"] - 1] == max(curve)
    assert read["final_epoch_test_accuracy"] == pytest.approx(paper["test"]["accuracy"], abs=1e-6)

    monkeypatch.setattr(runner, "run_one", lambda *a, **k: pytest.fail("trained again"))
    lines: list[str] = []
    again = zoo.run(["tiny_cnn"], ["subjects", "retrain_all", "paper"], ds, [0],
                    ship_data=True, log=lines.append)
    assert [r["key"] for r in again] == [subjects["key"], paper["key"], retrain["key"]]
    assert "2 run(s): 2 stored, 0 to train" in lines[0]  # subjects + paper, then retrain
    assert "1 run(s): 1 stored, 0 to train" in lines[2]


def test_plan_orders_protocols_and_seeds() -> None:
    runs = zoo.plan(["cnn_lstm_paper", "cnn", "logreg_features"], ["retrain_all", "subjects"],
                    best_epochs={("cnn_lstm_paper", 0): 4, ("cnn", 1): 2})
    names = [r.name for r in runs]
    assert names.index("zoo/cnn_lstm_paper/subjects/seed0") < \
        names.index("zoo/cnn_lstm_paper/retrain_all/seed0")
    assert sum(zoo.identity(r)[:2] == ("cnn_lstm_paper", "subjects") for r in runs) == 5
    assert sum(zoo.identity(r)[:2] == ("cnn", "subjects") for r in runs) == 3
    assert [zoo.identity(r)[1] for r in runs if r.model == "logreg_features"] == ["subjects"]
    retrain = [r for r in runs if zoo.identity(r)[1] == "retrain_all"]  # where epochs are known
    assert [(r.model, r.seed, r.epochs) for r in retrain] == [("cnn_lstm_paper", 0, 4),
                                                              ("cnn", 1, 2)]
    assert zoo.first_protocols(["retrain_all"]) == ["subjects"]
    assert zoo.first_protocols(["paper", "subjects"]) == ["subjects", "paper"]


def test_the_costliest_models_retrain_once() -> None:
    best = {(m, s): 5 for m in ("isplinception", "cnn") for s in range(3)}
    runs = zoo.plan(["isplinception", "cnn"], ["subjects", "retrain_all"], best_epochs=best)
    count: dict[tuple[str, str], int] = {}
    for r in runs:
        model, protocol, _ = zoo.identity(r)
        count[(model, protocol)] = count.get((model, protocol), 0) + 1
    assert count == {("isplinception", "subjects"): 3, ("cnn", "subjects"): 3,
                     ("isplinception", "retrain_all"): 1, ("cnn", "retrain_all"): 3}


def test_summary_and_paired_tests(ds: HarDataset, short: None) -> None:
    zoo.run(["tiny_cnn", "logreg_features"], ["subjects"], ds, [0, 1], **QUIET)
    runs = zoo.load_runs(ds, ["tiny_cnn", "logreg_features"])
    assert [zoo.identity_of(r) for r in runs] == [("logreg_features", "subjects", 0),
                                                  ("tiny_cnn", "subjects", 0),
                                                  ("tiny_cnn", "subjects", 1)]
    rows = {(r["model"], r["protocol"]): r for r in zoo.summarize(runs, ds.test.y, ds.test.subject)}
    row = rows[("tiny_cnn", "subjects")]
    assert row["n_seeds"] == 2 and row["seeds"] == [0, 1]
    accs = [r["test"]["accuracy"] for r in runs if r["run"]["model"] == "tiny_cnn"]
    assert row["accuracy_mean"] == pytest.approx(np.mean(accs))
    low, high = row["ci95_subject_bootstrap"]
    assert low <= row["accuracy_mean"] <= high
    assert rows[("logreg_features", "subjects")]["n_seeds"] == 1
    tests = zoo.paired_tests(runs, ds.test.y, reference="tiny_cnn")
    assert [t["model"] for t in tests] == ["logreg_features"] and 0 <= tests[0]["p_value"] <= 1
    doc = json.loads(zoo.write_summary(ds, ["tiny_cnn", "logreg_features"]).read_text())
    assert doc["n_runs"] == 3 and doc["data"]["source"] == "hapt"


def test_results_without_a_zoo_label_group_by_what_they_ran() -> None:
    run = zoo.zoo_run("cnn", "subjects", 1)
    assert zoo.identity_of({"run": run.as_dict()}) == ("cnn", "subjects", 1)
    assert zoo.identity_of({"run": zoo.zoo_run("cnn", "paper", 0).as_dict()})[1] == "paper"
    assert zoo.identity_of({"run": zoo.zoo_run("cnn", "retrain_all", 0, 3).as_dict()})[1] == \
        "retrain_all"


def test_report_tables_from_a_summary(ds: HarDataset, short: None) -> None:
    from har_studies.reporting import report

    zoo.run(["tiny_cnn"], ["subjects", "paper"], ds, [0], **QUIET)
    summary = json.loads(zoo.write_summary(ds, ["tiny_cnn"]).read_text())
    table = report.zoo_table(summary)
    runs = table[table["n_seeds"] > 0]
    assert set(runs["protocol"]) == {"subjects", "fixed_budget", "best_on_test"}
    assert (runs["n_seeds"] == 1).all()
    skipped = table[table["model"] == "-"]
    assert set(skipped["paper row"]) == {"AM-DLFC [25]"}  # no "CNN-LSTM on the 561 features"
    assert (skipped["protocol"] == "not re-run").all()
    assert skipped["note"].str.startswith("not re-run: ").all()
    # every zoo model appears, the ones that have not run yet saying so
    todo = table[(table["n_seeds"] == 0) & (table["model"] != "-")]
    assert set(todo["model"]) == set(zoo.ZOO)
    assert todo["note"].str.startswith("not run yet: 0 of ").all()
    assert (runs["note"].str.contains("1 of 3 planned seeds")).all()  # tiny_cnn: 1 seed of 3
    assert runs["accuracy % (mean ± std)"].str.endswith("(one seed)").all()
    assert report.zoo_table(None).empty and study_results.cost_table(None).empty
    infl = study_results.inflation_table(summary)
    assert len(infl) == 1 and infl.iloc[0]["model"] == "tiny_cnn"
    fixed = next(r for r in summary["rows"] if r["protocol"] == "fixed_budget")
    best = next(r for r in summary["rows"] if r["protocol"] == "best_on_test")
    assert fixed["accuracy_mean"] == pytest.approx(fixed["final_epoch_test_accuracy_mean"])
    assert best["accuracy_mean"] == fixed["best_epoch_test_accuracy_mean"]
    assert best["inflation_pp"] == pytest.approx(100 * (best["accuracy_mean"] - fixed["accuracy_mean"]))
    assert infl.iloc[0]["epoch chosen on the test set %"] == pytest.approx(100 * best["accuracy_mean"])
    assert infl.iloc[0]["fixed budget (100 epochs), final epoch %"] == \
        pytest.approx(100 * fixed["accuracy_mean"])
    assert "inflated" not in runs.set_index("protocol").loc["fixed_budget", "note"]
    from har_utils import plots
    rows = [r for r in summary["rows"] if r["protocol"] == "subjects"]
    assert rows[0]["accuracy_per_seed"] == [rows[0]["accuracy_mean"]]
    fig = plots.zoo_accuracy(rows, {"tiny_cnn": (99.0, "99 % (training accuracy)")}, "t")
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["tiny_cnn (n=1)"]
    assert "99 % (training accuracy)" in [t.get_text() for t in fig.axes[0].texts]
    md = report.markdown_table(table)
    head = [c.strip() for c in md.splitlines()[0].strip("|").split("|")]
    assert head[:2] == ["model", "protocol"] and md.count("\n") == len(table) + 1
    # the paper protocol read from the committed store, with no dataset at hand
    got = study_results.fixed_budget_reading("tiny_cnn", config.results_dir())
    assert got["seeds"] == [0] and got["epochs"] == 3
    assert got["test_accuracy"] == pytest.approx(fixed["final_epoch_test_accuracy_mean"])
    [subjects] = zoo.committed_results("tiny_cnn", "subjects", config.results_dir())
    assert subjects["zoo"]["name"] == "zoo/tiny_cnn/subjects/seed0"
    assert study_results.fixed_budget_reading("cnn", config.results_dir()) is None


def test_paper_row_is_matched_to_its_reported_number() -> None:
    from har_studies.reporting import report

    summary = {"rows": [{"model": "cnn_lstm_paper", "protocol": "subjects", "n_seeds": 5,
                         "accuracy_mean": 0.91, "accuracy_std": 0.01, "macro_f1_mean": 0.9,
                         "ci95_subject_bootstrap": [0.85, 0.95], "data_source": "HAPT rebuild"}]}
    table = report.zoo_table(summary)
    row = table[table["protocol"] == "subjects"].iloc[0]
    assert table.iloc[0]["protocol"] == "cv" and table.iloc[0]["note"].startswith("not run yet")
    assert row["paper reports %"] == "98.80 (training accuracy, audit a)"
    assert row["paper row"] == "CNN-LSTM (this paper)"
    assert row["accuracy % (mean ± std)"] == "91.00 ± 1.00"


def test_summary_counts_only_runs_of_the_current_data(ds: HarDataset, short: None) -> None:
    zoo.run(["tiny_cnn"], ["subjects"], ds, [0], **QUIET)
    other = HarDataset(ds.train, ds.test, "uci", {"archive_sha256": "x", "cache": "x.npz"})
    doc = json.loads(zoo.write_summary(other, ["tiny_cnn"]).read_text())
    assert doc["n_runs"] == 0 and doc["rows"] == []
    assert doc["stale_runs_left_out"] == ["zoo/tiny_cnn/subjects/seed0"]
    path = zoo.write_summary(ds, ["tiny_cnn"])
    doc = json.loads(path.read_text())
    assert doc["n_runs"] == 1 and doc["stale_runs_left_out"] == []
    assert doc["train_seconds_total"] > 0 and doc["wall_seconds_total"] >= doc["train_seconds_total"]
    # `har zoo summary` keeps the rows whose runs it cannot find (other data, another backend)
    from har_utils.io import HarError
    with pytest.raises(HarError, match="1 of its zoo rows .*: tiny_cnn/subjects"):
        zoo.write_summary(other, ["tiny_cnn"], keep_rows=True)
    assert json.loads(path.read_text()) == doc
    assert zoo.write_summary(ds, ["tiny_cnn"], keep_rows=True) == path


def test_subject_comparisons_pair_the_test_subjects() -> None:
    subjects = [str(s) for s in config.TEST_SUBJECTS]
    ref = {s: 0.90 for s in subjects}
    other = {s: 0.90 + (0.05 if i < 6 else -0.01) for i, s in enumerate(subjects)}
    rows = [{"model": "cnn_lstm_paper", "protocol": "subjects", "per_subject_accuracy_mean": ref},
            {"model": "cnn", "protocol": "subjects", "per_subject_accuracy_mean": other},
            {"model": "cnn", "protocol": "retrain_all", "per_subject_accuracy_mean": ref}]
    got = zoo.subject_comparisons(rows)
    assert list(got) == ["cnn"]
    assert got["cnn"]["wins"] == 6 and got["cnn"]["losses"] == 3
    assert got["cnn"]["mean_difference"] == pytest.approx((6 * 0.05 - 3 * 0.01) / 9)
    assert zoo.subject_comparisons(rows[1:]) == {}


def test_cv_rows_come_from_the_cv_study(tmp_path) -> None:
    assert zoo.cv_rows(tmp_path / "none.json") == []
    final = {"n_seeds": 2, "seeds": [0, 1], "epochs": 40, "accuracy_per_seed": [0.9, 0.92],
             "accuracy_mean": 0.91, "accuracy_std": 0.014, "macro_f1_mean": 0.9,
             "ci95_subject_bootstrap": [0.85, 0.95], "per_subject_accuracy_mean": {"2": 0.9},
             "ensemble": {"accuracy": 0.93}, "devices": ["CPU"], "train_seconds_total": 10.0,
             "data_source": "HAPT rebuild"}
    doc = {"models": {"cnn_lstm_paper": {"plan": {"final_seeds": 5, "folds": 7},
                                         "choice": {"epochs": 40}, "final": final},
                      "cnn": {"plan": {"final_seeds": 3, "folds": 7}, "choice": {"epochs": 30}}}}
    path = tmp_path / "summary.json"
    path.write_text(json.dumps(doc))
    [row] = zoo.cv_rows(path)
    assert row["protocol"] == "cv" and row["model"] == "cnn_lstm_paper"
    assert row["n_seeds"] == 2 and row["planned_seeds"] == 5 and row["ensemble_accuracy"] == 0.93
    from har_studies.reporting import report

    table = report.zoo_table({"rows": [row]})
    note = table[(table["model"] == "cnn_lstm_paper") & (table["protocol"] == "cv")].iloc[0]["note"]
    assert "40 epochs chosen on 7 folds" in note and "ensemble of the seeds 93.00 %" in note
    assert "2 of 5 planned seeds" in note
    # final runs without softmax outputs (converted from before the runner): no ensemble
    path.write_text(json.dumps({"models": {"cnn_lstm_paper": {
        **doc["models"]["cnn_lstm_paper"], "final": {**final, "ensemble": None}}}}))
    [row] = zoo.cv_rows(path)
    assert row["ensemble_accuracy"] is None
    note = report.zoo_table({"rows": [row]}).iloc[0]["note"]
    assert "40 epochs chosen on 7 folds" in note and "ensemble" not in note


def test_the_zoo_summary_takes_protocol_cvs_rows_from_its_summary(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAR_RESULTS_DIR", str(tmp_path))
    assert zoo.refresh_cv_rows() is None  # no zoo summary: nothing to do
    old = {"model": "cnn", "protocol": "cv", "accuracy_mean": 0.5}
    mine = {"model": "cnn", "protocol": "subjects", "accuracy_mean": 0.9}
    (tmp_path / "zoo").mkdir()
    (tmp_path / "zoo" / "summary.json").write_text(json.dumps({"rows": [old, mine], "n_runs": 3}))
    final = {"n_seeds": 1, "seeds": [0], "epochs": 7, "accuracy_per_seed": [0.93],
             "accuracy_mean": 0.93, "accuracy_std": 0.0, "macro_f1_mean": 0.92,
             "ci95_subject_bootstrap": [0.9, 0.95], "per_subject_accuracy_mean": {"2": 0.93},
             "devices": ["CPU"], "train_seconds_total": 1.0, "data_source": "HAPT rebuild"}
    (tmp_path / "cv").mkdir()
    (tmp_path / "cv" / "summary.json").write_text(json.dumps({"models": {"cnn": {
        "final": final, "plan": {"final_seeds": 1, "folds": 7, "budget": 100},
        "choice": {"epochs": 7}}}}))
    zoo.refresh_cv_rows()
    doc = json.loads((tmp_path / "zoo" / "summary.json").read_text())
    assert [(r["protocol"], r["accuracy_mean"]) for r in doc["rows"]] == [("cv", 0.93), ("subjects", 0.9)]
    assert doc["n_runs"] == 3
