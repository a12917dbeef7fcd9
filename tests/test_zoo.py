"""The zoo on a small synthetic dataset: the paper's protocol as runs of the runner, a zoo
whose runs are all stored training nothing, the summary (protocol cv's rows and comparisons
beside the paper's protocol read two ways) and the tables the docs and notebook 06 show."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from har_utils import config, study_results
from har_utils.data import HarDataset
from har_utils.io import HarError
from har_studies.experiments import runner, zoo
from synthetic_uci import synthetic_dataset

QUIET = {"ship_data": True, "log": lambda _line: None}


@pytest.fixture
def ds() -> HarDataset:
    return synthetic_dataset()


@pytest.fixture
def short(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tiny model, 3 epochs and one seed (the zoo's: cnn_lstm_paper, 100 and 0, 1, 2)."""
    monkeypatch.setattr(zoo, "MODEL", "tiny_cnn")
    monkeypatch.setattr(zoo, "BUDGET", 3)
    monkeypatch.setattr(zoo, "SEEDS", (0,))


@pytest.fixture(scope="module")
def zoo_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The runs folder of a store holding the ``short`` zoo's one run, trained once for the
    tests of this module that read it (test_run_trains_the_paper_protocol_... trains its own)."""
    store = tmp_path_factory.mktemp("zoo_store")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HAR_RESULTS_DIR", str(store))
        for name, value in (("MODEL", "tiny_cnn"), ("BUDGET", 3), ("SEEDS", (0,))):
            mp.setattr(zoo, name, value)
        [paper] = zoo.run(synthetic_dataset(), **QUIET)
        assert paper["epochs_run"] == 3 and paper["resumed_at_epoch"] == 0
        return runner.runs_dir()


@pytest.fixture
def stored(short: None, zoo_store: Path) -> None:
    """The ``short`` zoo's run stored in this test's results folder, as ``zoo.run`` left it."""
    runs = runner.runs_dir()
    runs.mkdir(parents=True, exist_ok=True)
    for path in zoo_store.glob("*.json"):
        shutil.copyfile(path, runs / path.name)


def cv_summary(models: tuple[str, ...] = ("cnn_lstm_paper", "cnn")) -> dict:
    """A protocol-cv summary with final rows for ``models`` and its comparisons."""
    final = {"n_seeds": 2, "seeds": [0, 1], "epochs": 40, "accuracy_per_seed": [0.9, 0.92],
             "accuracy_mean": 0.91, "accuracy_std": 0.014, "macro_f1_mean": 0.9,
             "ci95_subject_bootstrap": [0.85, 0.95], "per_subject_accuracy_mean": {"2": 0.9},
             "ensemble": {"accuracy": 0.93}, "devices": ["CPU"], "backends": ["jax 0.10.2"],
             "train_seconds_total": 10.0, "data_source": "HAPT rebuild"}
    comps = {m: {"subjects": 9, "mean_difference": 0.01, "ci95_paired_subject_bootstrap": [-0.01, 0.03],
                 "wilcoxon_p": 0.02, "wilcoxon_p_holm": 0.04, "wins": 6, "losses": 3}
             for m in models if m != "cnn_lstm_paper"}
    return {"models": {m: {"plan": {"final_seeds": 5 if m == "cnn_lstm_paper" else 3, "folds": 7,
                                    "budget": 100},
                           "choice": {"epochs": 40}, "final": final} for m in models},
            "subject_comparisons_vs_cnn_lstm_paper": comps}


def write_cv_summary(doc: dict) -> None:
    path = config.results_dir() / "cv" / "summary.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))


def test_the_paper_protocol_is_runs_of_the_runner() -> None:
    run = zoo.paper_run(2)
    assert run.model == "cnn_lstm_paper" and run.seed == 2 and run.epochs == 100
    assert run.fit_subjects == tuple(config.TRAIN_SUBJECTS) and not run.val_subjects
    assert run.watch_test and run.test and not run.patience
    assert (run.backend, run.threads) == ("jax", 1)  # the runner's defaults
    assert run.study == "zoo" and run.name == "zoo/cnn_lstm_paper/paper/seed2"
    runs = zoo.plan()
    assert [r.seed for r in runs] == [0, 1, 2] and len({r.key("c") for r in runs}) == 3


def test_run_trains_the_paper_protocol_and_reads_it_two_ways(ds: HarDataset, short: None) -> None:
    [paper] = zoo.run(ds, **QUIET)
    assert paper["epochs_run"] == 3 and paper["zoo"] == {
        "name": "zoo/tiny_cnn/paper/seed0", "model": "tiny_cnn", "protocol": "paper", "seed": 0}
    curve = paper["history"]["val_accuracy"]  # the test set is watched every epoch
    read = zoo.paper_readings(paper)
    assert len(curve) == 3 and read["best_epoch_test_accuracy"] == max(curve)
    assert curve[read["best_epoch_by_test"] - 1] == max(curve)
    assert read["final_epoch_test_accuracy"] == pytest.approx(paper["test"]["accuracy"], abs=1e-6)
    fixed, best = zoo.summarize([paper], ds.test.y, ds.test.subject)
    assert (fixed["protocol"], best["protocol"]) == ("fixed_budget", "best_on_test")
    assert fixed["backends"] == best["backends"] and fixed["backends"][0].startswith("jax ")
    assert fixed["accuracy_mean"] == pytest.approx(paper["test"]["accuracy"])
    assert fixed["epochs"] == [3] and fixed["n_seeds"] == 1 and fixed["planned_seeds"] == 1
    assert fixed["train_accuracy_logged_mean"] == paper["history"]["accuracy"][-1]
    assert best["accuracy_mean"] == max(curve) and best["best_epochs"] == [read["best_epoch_by_test"]]
    assert best["inflation_pp"] == pytest.approx(100 * (max(curve) - fixed["accuracy_mean"]))
    assert zoo.summarize([], ds.test.y, ds.test.subject) == []


def test_a_zoo_whose_runs_are_all_stored_starts_no_training(
        ds: HarDataset, stored: None, monkeypatch: pytest.MonkeyPatch) -> None:
    [first] = zoo.run(ds, **QUIET)
    monkeypatch.setattr(runner, "run_one", lambda *a, **k: pytest.fail("trained again"))
    monkeypatch.setattr(runner, "_train", lambda *a, **k: pytest.fail("started training"))
    lines: list[str] = []
    [again] = zoo.run(ds, ship_data=True, log=lines.append)
    assert again == first
    assert "1 run(s): 1 stored, 0 to train" in lines[0]
    # `har zoo run` (`make zoo`) on a store holding every run: trains nothing, writes the summary
    from har_studies import cli
    monkeypatch.setattr(cli, "load", lambda source: ds)
    r = CliRunner().invoke(cli.har, ["zoo", "run"])
    assert r.exit_code == 0, r.output
    assert "1 stored, 0 to train" in r.output and "wrote" in r.output
    doc = json.loads(zoo.summary_path().read_text())
    assert doc["run_keys"] == [first["key"]]


def test_the_summary_takes_protocol_cv_from_its_summary(ds: HarDataset, stored: None) -> None:
    write_cv_summary(cv_summary())
    [paper] = zoo.run(ds, **QUIET)
    doc = json.loads(zoo.write_summary(ds).read_text())
    assert [(r["model"], r["protocol"]) for r in doc["rows"]] == [
        ("cnn_lstm_paper", "cv"), ("cnn", "cv"), ("tiny_cnn", "fixed_budget"),
        ("tiny_cnn", "best_on_test")]
    # one definition of the comparisons: protocol cv's, Holm-adjusted there, as it wrote them
    assert doc["subject_comparisons_vs_cnn_lstm_paper"] == \
        cv_summary()["subject_comparisons_vs_cnn_lstm_paper"]
    assert doc["n_runs"] == 1 and doc["run_keys"] == [paper["key"]]
    assert doc["data"]["source"] == "hapt" and set(doc["protocols"]) == {
        "cv", "fixed_budget", "best_on_test"}
    assert all(r["backends"] for r in doc["rows"])


def test_summary_counts_only_runs_of_the_current_data(ds: HarDataset, stored: None) -> None:
    zoo.run(ds, **QUIET)
    other = HarDataset(ds.train, ds.test, "uci", {"archive_sha256": "x", "cache": "x.npz"})
    doc = json.loads(zoo.write_summary(other).read_text())
    assert doc["n_runs"] == 0 and doc["rows"] == []
    assert doc["stale_runs_left_out"] == ["zoo/tiny_cnn/paper/seed0"]
    path = zoo.write_summary(ds)
    doc = json.loads(path.read_text())
    assert doc["n_runs"] == 1 and doc["stale_runs_left_out"] == []
    # `har zoo summary` keeps the rows whose runs it cannot find (other data, other code)
    with pytest.raises(HarError, match="2 of its rows .*: tiny_cnn/best_on_test, tiny_cnn/fixed_budget"):
        zoo.write_summary(other, keep_rows=True)
    assert json.loads(path.read_text()) == doc
    assert zoo.write_summary(ds, keep_rows=True) == path


def test_tables_from_a_summary(ds: HarDataset, stored: None) -> None:
    write_cv_summary(cv_summary())
    zoo.run(ds, **QUIET)
    summary = json.loads(zoo.write_summary(ds).read_text())
    table = study_results.zoo_table(summary)
    # one comparison table, one protocol and backend: protocol cv's rows, nothing else
    ran = table[table["n_seeds"] > 0]
    assert list(ran["model"]) == ["cnn_lstm_paper", "cnn"] and set(ran["protocol"]) == {"cv"}
    assert set(ran["backend"]) == {"jax 0.10.2"} and set(ran["data"]) == {"HAPT rebuild"}
    assert ran.iloc[0]["paper reports %"] == "98.80 (training accuracy, audit a)"
    assert ran.iloc[0]["accuracy % (mean ± std)"] == "91.00 ± 1.40"
    note = ran.iloc[0]["note"]
    assert "40 epochs chosen on 7 folds" in note and "ensemble of the seeds 93.00 %" in note
    assert "2 of 5 planned seeds" in note
    todo = table[(table["n_seeds"] == 0) & (table["model"] != "-")]
    assert set(todo["model"]) == set(zoo.ZOO) - {"cnn_lstm_paper", "cnn"}
    assert todo["note"].str.startswith("not run yet").all()
    skipped = table[table["model"] == "-"]
    assert list(skipped["paper row"]) == ["AM-DLFC [25]"]
    assert study_results.zoo_table(None).empty
    # the paper's protocol, in its own table, naming its backend
    [paper] = study_results.paper_protocol_table(summary).to_dict("records")
    fixed, best = summary["rows"][2:]
    assert paper["model"] == "tiny_cnn" and paper["backend"].startswith("jax ")
    assert paper["seeds"] == "1 of 1" and paper["epochs"] == "3"
    assert paper["inflation (pp)"] == round(best["inflation_pp"], 2)
    assert paper["fixed budget, final epoch % (mean ± std)"] == f"{100 * fixed['accuracy_mean']:.2f}"
    # the audit's reading of it, from the summary alone
    got = study_results.fixed_budget_reading("tiny_cnn", config.results_dir())
    assert got == {"epochs": 3, "n_seeds": 1, "seeds": [0],
                   "train_accuracy_logged": fixed["train_accuracy_logged_mean"],
                   "test_accuracy": fixed["accuracy_mean"], "backend": paper["backend"],
                   "data": "HAPT rebuild"}
    assert study_results.fixed_budget_reading("cnn", config.results_dir()) is None
    # the comparisons by test subject: cv's Holm-adjusted p beside the raw one, and the verdict
    subj = study_results.subject_comparison_table(summary)
    assert list(subj["Wilcoxon p, Holm"]) == [0.04]
    assert "`cnn` differs from `cnn_lstm_paper`" in study_results.subject_comparison_verdict(summary)
    from har_utils import plots
    rows = [r for r in summary["rows"] if r["protocol"] == "cv"]
    fig = plots.zoo_accuracy(rows, {"cnn": (91.98, "91.98 % (balanced accuracy)")}, "t")
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == [
        "cnn_lstm_paper (n=2)", "cnn (n=2)"]


def test_the_verdict_says_not_significant_where_the_data_says_so() -> None:
    comp = {"subjects": 9, "mean_difference": 0.0, "ci95_paired_subject_bootstrap": [-0.01, 0.01],
            "wilcoxon_p": 0.03, "wilcoxon_p_holm": 0.09, "wins": 5, "losses": 4}
    text = study_results.subject_comparison_verdict(
        {"subject_comparisons_vs_cnn_lstm_paper": {"cnn": comp, "lstm": comp}})
    assert text.endswith("no model differs from `cnn_lstm_paper`; not significant over 9 test "
                         "subjects.")
    assert "Holm-adjusted over these 2 comparisons" in text  # the raw 0.03 is not read
    assert study_results.subject_comparison_verdict({}) == ""


def test_cv_rows_come_from_the_cv_study(tmp_path: Path) -> None:
    assert zoo.cv_rows(tmp_path / "none.json") == [] and zoo.cv_comparisons(tmp_path / "x") == {}
    doc = cv_summary(("cnn_lstm_paper",))
    doc["models"]["cnn"] = {"plan": {"final_seeds": 3, "folds": 7}, "choice": {"epochs": 30}}
    path = tmp_path / "summary.json"
    path.write_text(json.dumps(doc))
    [row] = zoo.cv_rows(path)
    assert row["protocol"] == "cv" and row["model"] == "cnn_lstm_paper"
    assert row["n_seeds"] == 2 and row["planned_seeds"] == 5 and row["ensemble_accuracy"] == 0.93
    assert row["backends"] == ["jax 0.10.2"]
    # final runs without softmax outputs (converted from before the runner): no ensemble
    final = {**doc["models"]["cnn_lstm_paper"]["final"], "ensemble": None}
    path.write_text(json.dumps({"models": {"cnn_lstm_paper": {
        **doc["models"]["cnn_lstm_paper"], "final": final}}}))
    [row] = zoo.cv_rows(path)
    assert row["ensemble_accuracy"] is None
    note = study_results.zoo_table({"rows": [row]}).iloc[0]["note"]
    assert "40 epochs chosen on 7 folds" in note and "ensemble" not in note


def test_the_zoo_summary_follows_protocol_cvs_summary(tmp_path: Path) -> None:
    assert zoo.refresh_cv_rows() is None  # no zoo summary: nothing to do
    old = {"model": "cnn", "protocol": "cv", "accuracy_mean": 0.5}
    mine = {"model": "cnn_lstm_paper", "protocol": "fixed_budget", "accuracy_mean": 0.9}
    zoo.summary_path().parent.mkdir(parents=True)
    zoo.summary_path().write_text(json.dumps({"rows": [old, mine], "n_runs": 3,
                                              "subject_comparisons_vs_cnn_lstm_paper": {}}))
    write_cv_summary(cv_summary())
    zoo.refresh_cv_rows()
    doc = json.loads(zoo.summary_path().read_text())
    assert [(r["model"], r["protocol"], r["accuracy_mean"]) for r in doc["rows"]] == [
        ("cnn_lstm_paper", "cv", 0.91), ("cnn", "cv", 0.91),
        ("cnn_lstm_paper", "fixed_budget", 0.9)]
    assert list(doc["subject_comparisons_vs_cnn_lstm_paper"]) == ["cnn"] and doc["n_runs"] == 3
    assert np.isclose(doc["rows"][0]["ci95_subject_bootstrap"][0], 0.85)
