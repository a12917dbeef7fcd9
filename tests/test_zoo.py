"""The zoo runner on a small synthetic dataset: protocols, resumable runs, summary, paired tests."""

from __future__ import annotations

import json

import numpy as np
import pytest

from har_utils import config, zoo
from har_utils.data import HarDataset
from synthetic_uci import synthetic_dataset


@pytest.fixture
def ds() -> HarDataset:
    return synthetic_dataset()


def spec(protocol: str, seed: int = 0) -> zoo.RunSpec:
    return zoo.RunSpec("tiny_cnn", protocol, seed, max_epochs=3, patience=1)


def test_protocols_write_resumable_results(ds: HarDataset, monkeypatch: pytest.MonkeyPatch) -> None:
    r = zoo.run(spec("subjects"), ds, log=lambda _l: None)
    assert r["validation_subjects"] == [8, 17, 21, 25]
    assert 1 <= r["best_epoch"] <= r["epochs_run"] <= 3
    assert len(r["y_pred"]) == len(ds.test.y) and r["data"]["source"] == "hapt"
    assert set(r["test"]["per_subject"]) == {str(s) for s in config.TEST_SUBJECTS}
    assert zoo.is_done(spec("subjects"), ds)

    calls = []
    with monkeypatch.context() as m:
        m.setattr(zoo, "_run_keras", lambda *a, **k: calls.append(1))
        assert zoo.run(spec("subjects"), ds)["key"] == r["key"] and calls == []  # skipped

    again = zoo.run(spec("retrain_all"), ds, log=lambda _l: None)
    assert again["epochs_run"] == r["best_epoch"] and again["epochs_from"] == r["name"]

    paper = zoo.run(spec("paper"), ds, log=lambda _l: None)
    assert paper["epochs_run"] == 3  # no early stopping in the paper's protocol
    test_curve = paper["history"]["val_accuracy"]  # the test set is the validation set here
    assert len(test_curve) == 3 and paper["best_epoch_test_accuracy"] == max(test_curve)
    assert test_curve[paper["best_epoch_by_test"] - 1] == max(test_curve)
    assert paper["final_epoch_test_accuracy"] == test_curve[-1]
    assert paper["final_epoch_test_accuracy"] == pytest.approx(paper["test"]["accuracy"], abs=1e-6)


def test_retrain_needs_the_subjects_run(ds: HarDataset) -> None:
    with pytest.raises(RuntimeError, match="subjects"):
        zoo.run(spec("retrain_all", seed=5), ds, log=lambda _l: None)


def test_key_depends_on_data_and_settings(ds: HarDataset) -> None:
    k = spec("subjects").key(ds)
    assert zoo.RunSpec("tiny_cnn", "subjects", 0, max_epochs=4, patience=1).key(ds) != k
    other = HarDataset(ds.train, ds.test, "uci", {"archive_sha256": "x"})
    assert spec("subjects").key(other) != k


def test_summary_and_paired_tests(ds: HarDataset) -> None:
    for seed in (0, 1):
        zoo.run(spec("subjects", seed), ds, log=lambda _l: None)
    zoo.run(zoo.RunSpec("logreg_features", "subjects", 0), ds)
    runs = zoo.load_runs()
    rows = {(r["model"], r["protocol"]): r for r in zoo.summarize(runs, ds.test.y, ds.test.subject)}
    row = rows[("tiny_cnn", "subjects")]
    assert row["n_seeds"] == 2 and row["seeds"] == [0, 1]
    accs = [r["test"]["accuracy"] for r in runs if r["spec"]["model"] == "tiny_cnn"]
    assert row["accuracy_mean"] == pytest.approx(np.mean(accs))
    low, high = row["ci95_subject_bootstrap"]
    assert low <= row["accuracy_mean"] <= high
    assert rows[("logreg_features", "subjects")]["n_seeds"] == 1
    tests = zoo.paired_tests(runs, ds.test.y, reference="tiny_cnn")
    assert [t["model"] for t in tests] == ["logreg_features"] and 0 <= tests[0]["p_value"] <= 1
    path = zoo.write_summary(ds)
    doc = json.loads(path.read_text())
    assert doc["n_runs"] == 3 and doc["data"]["source"] == "hapt"


def test_plan_orders_protocols_and_seeds() -> None:
    specs = zoo.plan(["cnn_lstm_paper", "cnn", "logreg_features"], ["retrain_all", "subjects"])
    names = [s.name for s in specs]
    assert names.index("cnn_lstm_paper__subjects__seed0") < names.index("cnn_lstm_paper__retrain_all__seed0")
    assert sum(s.model == "cnn_lstm_paper" and s.protocol == "subjects" for s in specs) == 5
    assert sum(s.model == "cnn" and s.protocol == "subjects" for s in specs) == 3
    assert [s.protocol for s in specs if s.model == "logreg_features"] == ["subjects"]


def test_report_tables_from_a_summary(ds: HarDataset) -> None:
    from har_utils import report

    zoo.run(spec("subjects"), ds, log=lambda _l: None)
    zoo.run(spec("paper"), ds, log=lambda _l: None)
    summary = json.loads(zoo.write_summary(ds).read_text())
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
    assert report.zoo_table(None).empty and report.cost_table(None).empty
    infl = report.inflation_table(summary)
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
    assert md.splitlines()[0].startswith("| model | protocol |") and md.count("\n") == len(table) + 1


def test_paper_row_is_matched_to_its_reported_number() -> None:
    from har_utils import report

    summary = {"rows": [{"model": "cnn_lstm_paper", "protocol": "subjects", "n_seeds": 5,
                         "accuracy_mean": 0.91, "accuracy_std": 0.01, "macro_f1_mean": 0.9,
                         "ci95_subject_bootstrap": [0.85, 0.95], "data_source": "HAPT rebuild"}]}
    table = report.zoo_table(summary)
    row = table[table["protocol"] == "subjects"].iloc[0]
    assert table.iloc[0]["protocol"] == "cv" and table.iloc[0]["note"].startswith("not run yet")
    assert row["paper reports %"] == "98.80 (training accuracy, audit a)"
    assert row["paper row"] == "CNN-LSTM (this paper)"
    assert row["accuracy % (mean ± std)"] == "91.00 ± 1.00"


def test_summary_counts_only_runs_of_the_current_data(ds: HarDataset) -> None:
    zoo.run(spec("subjects"), ds, log=lambda _l: None)
    other = HarDataset(ds.train, ds.test, "uci", {"archive_sha256": "x", "cache": "x.npz"})
    doc = json.loads(zoo.write_summary(other).read_text())
    assert doc["n_runs"] == 0 and doc["rows"] == []
    assert doc["stale_runs_left_out"] == ["tiny_cnn__subjects__seed0"]
    doc = json.loads(zoo.write_summary(ds).read_text())
    assert doc["n_runs"] == 1 and doc["stale_runs_left_out"] == []
    assert doc["train_seconds_total"] > 0 and doc["wall_seconds_total"] >= doc["train_seconds_total"]


def test_the_costliest_models_retrain_once() -> None:
    specs = zoo.plan(["isplinception", "cnn"], ["subjects", "retrain_all"])
    count = {(s.model, s.protocol): 0 for s in specs}
    for s in specs:
        count[(s.model, s.protocol)] += 1
    assert count == {("isplinception", "subjects"): 3, ("cnn", "subjects"): 3,
                     ("isplinception", "retrain_all"): 1, ("cnn", "retrain_all"): 3}


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
    from har_utils import report

    table = report.zoo_table({"rows": [row]})
    note = table[(table["model"] == "cnn_lstm_paper") & (table["protocol"] == "cv")].iloc[0]["note"]
    assert "40 epochs chosen on 7 folds" in note and "ensemble of the seeds 93.00 %" in note
    assert "2 of 5 planned seeds" in note
