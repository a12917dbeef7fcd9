"""Protocol ``cv``: the folds, the epoch and C choices, the final rows, the paired subject
comparison, the cost table, and one smoke run end to end on synthetic data."""

from __future__ import annotations

import re

import numpy as np
import pytest

from har_utils import config
from har_utils.data import HarDataset
from har_utils.experiments import cv
from synthetic_uci import synthetic_dataset


def test_folds_partition_the_training_subjects_and_are_fixed() -> None:
    f = cv.folds()
    assert len(f) == 7 and all(len(g) == 3 for g in f)
    assert sorted(s for g in f for s in g) == sorted(config.TRAIN_SUBJECTS)
    assert not set(s for g in f for s in g) & set(config.TEST_SUBJECTS)
    assert cv.folds() == f
    p = cv.plan_for("lstm")
    runs = cv.fold_runs("lstm", p)
    assert [r.val_subjects for r in runs] == f[:3]
    assert all(not set(r.val_subjects) & set(r.fit_subjects) and not r.test for r in runs)


def test_select_epochs_takes_the_smallest_count_within_one_standard_error() -> None:
    ramp = np.minimum(np.arange(1, 41), 10) / 10  # 0.1, 0.2, ... 1.0 at epoch 10, then flat
    # smoothed (centred 5): epoch 10 -> 0.94, 11 -> 0.98, 12 on -> 1.0
    tight = cv.select_epochs(np.stack([ramp - 0.01, ramp, ramp + 0.01]))
    assert tight["best_smoothed_epoch"] == 12
    assert tight["best_smoothed_accuracy"] == pytest.approx(1.0)
    assert tight["standard_error"] == pytest.approx(0.01 / np.sqrt(3))
    assert tight["epochs"] == 12  # 0.98 at epoch 11 is more than one SE (0.006) below
    loose = cv.select_epochs(np.stack([ramp - 0.1, ramp, ramp + 0.1]))
    assert loose["standard_error"] == pytest.approx(0.1 / np.sqrt(3))
    assert loose["epochs"] == 11  # 0.98 is within 0.058 of 1.0; 0.94 at epoch 10 is not


def test_select_c_prefers_regularisation_within_one_standard_error() -> None:
    # best C=1 (mean 0.92, SE 0.01/sqrt(3) = 0.0058); C=0.1 (0.915) lies within it
    got = cv.select_c({0.1: [0.91, 0.92, 0.915], 1.0: [0.91, 0.93, 0.92], 10.0: [0.8, 0.8, 0.8]})
    assert got["best_C"] == 1.0 and got["C"] == 0.1
    assert cv.select_c({0.1: [0.5, 0.5], 1.0: [0.9, 0.9]})["C"] == 1.0


def test_early_stopping_cost_reads_the_fold_curves() -> None:
    loss = [1.0, 0.5, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7]
    acc = [0.5, 0.7, 0.8, 0.82, 0.85, 0.86, 0.87, 0.88]
    r = {"history": {"val_loss": loss, "val_accuracy": acc}}
    got = cv.early_stopping_cost([r, r], chosen=8, patience=3)
    assert got["epochs_kept"] == [3, 3]
    assert got["cost_pp"] == pytest.approx(8.0)


def test_subject_comparison_is_paired_by_subject() -> None:
    a = {str(s): 0.9 + 0.01 * i for i, s in enumerate(config.TEST_SUBJECTS)}
    b = {s: v - 0.02 for s, v in a.items()}
    got = cv.subject_comparison(a, b)
    assert got["mean_difference"] == pytest.approx(0.02)
    assert got["wins"] == 9 and got["losses"] == 0
    low, high = got["ci95_paired_subject_bootstrap"]
    assert low == pytest.approx(0.02) and high == pytest.approx(0.02)
    assert got["wilcoxon_p"] < 0.01


def test_cost_table_shows_every_model_and_every_reduction() -> None:
    cost = {"models": [{"model": m, "s_per_epoch": 10.0} for m in cv.MODELS]}
    t = cv.cost_table(cost=cost).set_index("model")
    assert list(t.index) == list(cv.MODELS)
    assert t.loc["cnn_lstm_paper", "folds"] == 7 and t.loc["cnn_lstm_paper", "final seeds"] == 5
    assert t.loc["cnn_lstm_paper", "fold hours"] == pytest.approx(7 * 100 * 10 * 18 / 21 / 3600)
    assert "3 of 7 folds" in t.loc["lstm", "reductions"]
    assert "budget 30 epochs" in t.loc["deepconvlstm", "reductions"]
    assert "budget 15 epochs" in t.loc["isplinception", "reductions"]  # its own paper's cap
    assert t.loc["cnn", "reductions"] == "-"


def test_the_ensemble_takes_only_runs_that_kept_their_softmax() -> None:
    """Runs converted from before the runner kept no test softmax: the ensemble leaves them
    out and names the seeds it used; with none, there is no ensemble."""
    from har_utils import training
    from har_utils.reporting import report

    ds = synthetic_dataset()
    onehot = np.eye(6)[np.searchsorted(training.ACTIVITY_IDS, ds.test.y)]
    right = {"run": {"seed": 0}, "test_proba": onehot.tolist()}
    assert cv.ensemble([right, {"run": {"seed": 1}}], ds)["seeds"] == [0]
    assert cv.ensemble([right, {"run": {"seed": 1}}], ds)["accuracy"] == 1.0
    assert "seeds" not in cv.ensemble([right], ds)
    assert cv.ensemble([{"run": {"seed": 1}}], ds) is None
    final = {"n_seeds": 1, "accuracy_std": 0.0, "accuracy_mean": 0.9, "macro_f1_mean": 0.9,
             "ci95_subject_bootstrap": [0.8, 0.95], "ensemble": None, "devices": ["CPU"],
             "data_source": "x"}
    summary = {"models": {"m": {"plan": {"folds": 7}, "choice": {"epochs": 3, "budget": 9,
                                                                  "accuracy_at_chosen": 0.9},
                                "final": final}}}
    assert report.cv_table(summary).iloc[0]["ensemble of the seeds %"] == "-"


@pytest.mark.slow
def test_smoke_protocol_end_to_end(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    ds: HarDataset = synthetic_dataset()
    choice = cv.run_model("tiny_cnn", ds, smoke=True, ship_data=True, backup_root=tmp_path)
    assert 1 <= choice["epochs"] <= 2 and choice["folds"] == 2
    s = cv.summary(ds, ["tiny_cnn"], smoke=True)
    e = s["models"]["tiny_cnn"]
    assert s["missing"] == [] and len(s["folds"]) == 7
    assert len(e["fold_curves"]["val_accuracy"]["mean"]) == 2
    f = e["final"]
    assert f["n_seeds"] == 1 and f["epochs"] == choice["epochs"]
    assert set(f["per_subject_accuracy_mean"]) == {str(x) for x in config.TEST_SUBJECTS}
    assert 0 <= f["ensemble"]["accuracy"] <= 1
    assert f["ensemble"]["accuracy"] == pytest.approx(f["accuracy_mean"])  # one seed
    from har_utils.reporting import report

    t = report.cv_table(s).set_index("model")
    assert t.loc["tiny_cnn", "chosen on the folds"] == f"{choice['epochs']} of 2 epochs"
    assert t.loc["tiny_cnn", "final seeds"] == 1
    assert report.subject_comparison_table(s).empty  # no cnn_lstm_paper to compare with
    path = tmp_path / "results" / "cv" / "summary.json"
    path.parent.mkdir(parents=True)
    path.write_text(__import__("json").dumps(s))
    from har_utils.reporting.study_blocks import cv_block

    block = cv_block(tmp_path / "results")
    assert re.search(r"^\| tiny_cnn +\| +2 \|", block, re.M) and "1, 6, 30" in block
