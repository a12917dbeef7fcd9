"""Protocol ``cv``: the folds, the epoch and C rules and their nested leave-one-fold-out
choice, the final rows, the paired subject comparison with Holm's adjustment, the cost table,
and one smoke run end to end on synthetic data."""

from __future__ import annotations

import re

import numpy as np
import pytest

from har_utils import config, study_results
from har_utils.data import HarDataset
from har_studies.experiments import compare, cv
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


# Three folds (rows) x four candidates (columns); the folds are offset from one another as
# different people are. Column means 0.85, 0.8933, 0.90, 0.89: the best is column 3.
# one standard error at the best: std(0.80, 0.90, 1.00) / sqrt(3) = 0.0577 -> column 1 (0.85);
# paired: column 1's differences to column 3 (0.06, 0.05, 0.04: mean 0.05, SE 0.0058) are
# out, column 2's (0.03, -0.02, 0.01: mean 0.0067, SE 0.0145) within -> column 2.
TABLE = np.array([[0.74, 0.77, 0.80, 0.79],
                  [0.85, 0.92, 0.90, 0.89],
                  [0.96, 0.99, 1.00, 0.99]])


def test_the_se_rules_on_a_table() -> None:
    assert cv.first_within_se(TABLE) == 0
    assert cv.first_within_paired_se(TABLE) == 1
    assert {n: r(TABLE) for n, r in cv.C_RULES.items()} == {"best": 3, "one_se": 1, "paired_se": 2}


def test_epoch_rules_on_constructed_curves() -> None:
    """Each column of TABLE held for 5 epochs (20 epochs): the centred 5-epoch mean equals the
    column at each block's middle epoch (3, 8, 13, 18) and mixes neighbours elsewhere. argmax:
    epoch 13; one_se: epoch 1 (epochs 1-3 see block 1 only: 0.85, within 0.0577 of 0.90);
    paired_se: epoch 8 (block 2; epoch 7 mixes in block 1: differences 0.036, -0.006, 0.016,
    mean 0.0153 above their SE 0.0122); end: 20."""
    curves = np.repeat(TABLE, 5, axis=1)
    got = {n: r(curves) for n, r in cv.EPOCH_RULES.items()}
    assert list(got) == ["argmax", "one_se", "paired_se", "end"]
    assert got == {"argmax": 13, "one_se": 1, "paired_se": 8, "end": 20}
    assert all(r.description for r in cv.EPOCH_RULES.values())
    choice = cv.epoch_choice(curves, "paired_se")
    assert choice["epochs"] == 8 and choice["rule_name"] == "paired_se"
    assert choice["rule"].startswith("paired_se: ") and choice["epochs_by_rule"] == got
    assert choice["accuracy_at_chosen"] == pytest.approx(TABLE[:, 1].mean())
    assert choice["best_smoothed_epoch"] == 13 and choice["folds"] == 3  # select_epochs' fields


def test_nested_score_by_hand() -> None:
    """``best`` without fold 1: means (0.905, 0.955, 0.95, 0.94) -> column 2, fold 1 scores 0.77
    there; without fold 2: (0.85, 0.88, 0.90, 0.89) -> column 3: 0.90; without fold 3:
    (0.795, 0.845, 0.85, 0.84) -> column 3: 1.00. Score (0.77 + 0.90 + 1.00) / 3."""
    got = cv.nested_score(cv.C_RULES["best"], TABLE)
    assert got["picked"] == [2, 3, 3]
    assert got["per_fold"] == pytest.approx([0.77, 0.90, 1.00])
    assert got["score"] == pytest.approx(0.89)
    # paired_se: without fold 1, column 1 is out (differences 0.07, 0.03: SE 0.02 < 0.05);
    # without fold 2, columns 1 and 2 are out (0.06, 0.04 and 0.03, 0.01: SE 0.01); without
    # fold 3, column 2 is in (0.03, -0.02: mean 0.005, SE 0.025)
    paired = cv.nested_score(cv.C_RULES["paired_se"], TABLE, labels=[0.01, 0.1, 1.0, 10.0])
    assert paired["picked"] == [0.1, 1.0, 0.1]
    assert paired["score"] == pytest.approx((0.77 + 0.90 + 0.99) / 3)
    assert cv.nested_score(cv.C_RULES["best"], TABLE[:2]) is None  # 2 folds: undefined
    curves = np.repeat(TABLE, 5, axis=1)  # the raw curve is read, not the smoothed one
    assert cv.nested_score(cv.EPOCH_RULES["end"], curves)["per_fold"] == pytest.approx(TABLE[:, 3])


def test_the_rule_chooser_takes_the_best_mean_and_breaks_ties_by_order() -> None:
    rising = (np.array([[0.6, 0.7, 0.8, 0.85, 0.9, 0.92, 0.94, 0.95]])
              + np.array([[0.0], [0.02], [0.04]]))  # three folds, the same shape
    got = cv.choose_epoch_rule({"a": rising, "b": rising - 0.1})
    # every rule but one_se picks the last epoch on any two folds: a tie, argmax comes first
    assert got["scores"]["argmax"]["mean"] == got["scores"]["end"]["mean"]
    assert got["scores"]["one_se"]["mean"] < got["scores"]["argmax"]["mean"]
    assert got["rule"] == "argmax" and got["tie_break"] == cv.TIE_BREAK
    assert got["scores"]["argmax"]["mean"] == pytest.approx(np.mean([rising[:, -1].mean(),
                                                                     rising[:, -1].mean() - 0.1]))
    assert set(got["epochs_by_rule"]) == {"a", "b"} and got["epochs_by_rule"]["a"]["end"] == 8
    order = {"end": cv.EPOCH_RULES["end"], "argmax": cv.EPOCH_RULES["argmax"]}
    assert cv.choose_rule(order, {"a": rising}, "argmax")["rule"] == "end"
    # each model weighs the same; a model with 2 folds has no score and is left out of the mean
    c = cv.choose_epoch_rule({"a": np.repeat(TABLE, 5, axis=1), "two": rising[:2]})
    assert c["scores"]["end"]["per_model"]["two"] is None
    assert c["scores"]["end"]["mean"] == c["scores"]["end"]["per_model"]["a"]["score"]
    assert "two" in c["epochs_by_rule"]
    smoke = cv.choose_epoch_rule({"two": rising[:2]})
    assert smoke["rule"] == cv.DEFAULT_EPOCH_RULE == "argmax"
    assert smoke["chosen_by"].startswith("default")


def test_the_c_rule_is_chosen_on_its_own_nested_score() -> None:
    """Nested scores on TABLE: best 0.89, one_se (0.77 + 0.85 + 0.99) / 3 = 0.87, paired_se
    0.8867: best wins, C = 1."""
    scores = {c: TABLE[:, j].tolist() for j, c in enumerate([0.01, 0.1, 1.0, 10.0])}
    got = cv.c_choice(scores)
    assert got["C_by_rule"] == {"best": 1.0, "one_se": 0.01, "paired_se": 0.1}
    rc = got["rule_choice"]
    assert {n: t["mean"] for n, t in rc["scores"].items()} == pytest.approx(
        {"best": 0.89, "one_se": 0.87, "paired_se": (0.77 + 0.90 + 0.99) / 3})
    assert got["rule_name"] == "best" and got["C"] == 1.0 and got["best_C"] == 1.0
    assert cv.select_c(scores)["C"] == 0.01  # the one_se rule, still the sensitivity row
    assert cv.C_GRID[0] == 0.001 and len(cv.plan_for("logreg_features", smoke=True).c_grid) == 2


def test_holm() -> None:
    assert cv.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert cv.holm([0.5, 0.6]) == [1.0, 1.0]
    assert cv.holm([]) == []


def test_fold_curves_refuse_a_run_that_saw_the_test_set() -> None:
    ok = {"run": {"test": False}, "history": {"val_accuracy": [0.5, 0.6]}}
    assert cv.fold_curves([ok]).tolist() == [[0.5, 0.6]]
    with pytest.raises(ValueError):
        cv.fold_curves([ok, {"run": {"test": True}, "history": {"val_accuracy": [0.5, 0.6]}}])


def test_early_stopping_cost_reads_the_smoothed_fold_curves() -> None:
    loss = [1.0, 0.5, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7]
    acc = [0.5, 0.7, 0.8, 0.82, 0.85, 0.86, 0.87, 0.88]
    r = {"history": {"val_loss": loss, "val_accuracy": acc}}
    got = cv.early_stopping_cost([r, r], chosen=8, patience=3)
    assert got["epochs_kept"] == [3, 3]
    # smoothed: epoch 3 = mean(epochs 1-5) = 0.734, epoch 8 = mean(epochs 6-8) = 0.87
    assert got["per_fold_early_stopping"] == pytest.approx([0.734, 0.734])
    assert got["fold_accuracy_chosen_epochs"] == pytest.approx(0.87)
    assert got["cost_pp"] == pytest.approx(13.6)
    assert got["fold_accuracy_early_stopping_raw"] == pytest.approx(0.8)  # raw: 0.88 - 0.80
    assert got["cost_pp_raw"] == pytest.approx(8.0)


def test_subject_comparison_is_paired_by_subject() -> None:
    a = {str(s): 0.9 + 0.01 * i for i, s in enumerate(config.TEST_SUBJECTS)}
    b = {s: v - 0.02 for s, v in a.items()}
    got = compare.subject_comparison(a, b)
    assert got["mean_difference"] == pytest.approx(0.02)
    assert got["wins"] == 9 and got["losses"] == 0
    low, high = got["ci95_paired_subject_bootstrap"]
    assert low == pytest.approx(0.02) and high == pytest.approx(0.02)
    assert got["wilcoxon_p"] < 0.01


def test_subject_comparisons_carry_holm_over_the_family() -> None:
    base = {str(s): 0.9 for s in config.TEST_SUBJECTS}
    worse = {s: v - 0.01 * (1 + i) for i, (s, v) in enumerate(base.items())}
    entries = {"cnn_lstm_paper": {"final": {"per_subject_accuracy_mean": base}},
               "a": {"final": {"per_subject_accuracy_mean": worse}},
               "b": {"final": {"per_subject_accuracy_mean": base}}, "c": {}}
    got = cv.subject_comparisons(entries)
    assert set(got) == {"a", "b"}
    raw = [got[m]["wilcoxon_p"] for m in "ab"]
    assert [got[m]["wilcoxon_p_holm"] for m in "ab"] == cv.holm(raw)
    assert got["a"]["wilcoxon_p_holm"] == pytest.approx(2 * got["a"]["wilcoxon_p"])
    assert cv.subject_comparisons({"a": entries["a"]}) == {}


def test_cost_table_shows_every_model_and_every_reduction() -> None:
    t = cv.cost_table(spe={m: 10.0 for m in cv.MODELS}).set_index("model")
    assert list(t.index) == list(cv.MODELS)
    assert t.loc["cnn_lstm_paper", "folds"] == 7 and t.loc["cnn_lstm_paper", "final seeds"] == 5
    assert t.loc["cnn_lstm_paper", "fold hours"] == pytest.approx(7 * 100 * 10 * 18 / 21 / 3600)
    assert "3 of 7 folds" in t.loc["lstm", "reductions"]
    for model, budget in cv.EPOCH_CAPS.items():
        assert f"budget {budget} epochs (cost cap)" in t.loc[model, "reductions"]
        assert budget >= 50  # long enough for the curve to show its end
        assert t.loc[model, "epoch budget"] == budget
    assert t.loc["cnn", "reductions"] == "-"


def test_the_ensemble_takes_only_runs_that_kept_their_softmax() -> None:
    """Runs converted from before the runner kept no test softmax: the ensemble leaves them
    out and names the seeds it used; with none, there is no ensemble."""
    from har_utils import training
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
    assert study_results.cv_table(summary).iloc[0]["ensemble of the seeds %"] == "-"


@pytest.mark.slow
def test_smoke_protocol_end_to_end(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    ds: HarDataset = synthetic_dataset()
    choice = cv.run_model("tiny_cnn", ds, smoke=True, ship_data=True, backup_root=tmp_path)
    assert 1 <= choice["epochs"] <= 2 and choice["folds"] == 2
    # 2 folds: no nested score, the default rule; its choice is on disk before the final run
    assert choice["rule_name"] == cv.DEFAULT_EPOCH_RULE
    written = __import__("json").loads(cv.choice_path().read_text())
    assert written["models"]["tiny_cnn"]["epochs"] == choice["epochs"]
    assert written["epoch_rule"]["chosen_by"].startswith("default")
    s = cv.summary(ds, ["tiny_cnn"], smoke=True)
    assert s["epoch_rule"]["rule"] == "argmax"
    assert s["epoch_rule"]["scores"]["argmax"]["per_model"] == {"tiny_cnn": None}
    e = s["models"]["tiny_cnn"]
    assert e["choice"] == choice
    assert s["missing"] == [] and len(s["folds"]) == 7
    assert len(e["fold_curves"]["val_accuracy"]["mean"]) == 2
    f = e["final"]
    assert f["n_seeds"] == 1 and f["epochs"] == choice["epochs"]
    assert set(f["per_subject_accuracy_mean"]) == {str(x) for x in config.TEST_SUBJECTS}
    assert 0 <= f["ensemble"]["accuracy"] <= 1
    assert f["ensemble"]["accuracy"] == pytest.approx(f["accuracy_mean"])  # one seed
    t = study_results.cv_table(s).set_index("model")
    assert t.loc["tiny_cnn", "chosen on the folds"] == f"{choice['epochs']} of 2 epochs"
    assert t.loc["tiny_cnn", "final seeds"] == 1
    assert study_results.subject_comparison_table(s).empty  # no cnn_lstm_paper to compare with
    path = tmp_path / "results" / "cv" / "summary.json"
    path.parent.mkdir(parents=True, exist_ok=True)  # choice.json is there already
    path.write_text(__import__("json").dumps(s))
    from har_studies.reporting.study_blocks import cv_block

    block = cv_block(tmp_path / "results")
    assert re.search(r"^\| tiny_cnn +\| +2 \|", block, re.M) and "1, 6, 30" in block
    assert "Epoch rule, chosen on the folds by default" in block
    assert re.search(r"^\| mean +\| +- +\|", block, re.M)  # no nested score on 2 folds


def test_a_cost_cap_above_the_models_own_cap_is_trained() -> None:
    """isplinception's paper trains 15 epochs (its ``max_epochs``); protocol cv's budget
    replaces that cap in its runs, and other models' runs carry no such setting."""
    from har_utils.models import train_defaults

    p = cv.plan_for("isplinception")
    assert train_defaults("isplinception")["max_epochs"] < p.budget
    fold, final = cv.fold_runs("isplinception", p)[0], cv.final_runs("isplinception", p, 7)[0]
    assert fold.train_config().epochs == p.budget and final.train_config().epochs == 7
    assert cv.fold_runs("cnn", cv.plan_for("cnn"))[0].train == ()


def test_a_final_row_never_mixes_backends_or_devices() -> None:
    def r(name: str, backend: str, device: str = "CPU") -> dict:
        return {"name": name, "run": {"model": "cnn"}, "backend": backend, "version": "1",
                "device": device}

    runs = [r("a", "jax"), r("b", "jax"), r("c", "tensorflow"), r("d", "jax", "GPU (H100)")]
    kept, left = cv.one_device(runs)
    assert [x["name"] for x in kept] == ["a", "b"] and left == ["c", "d"]
    assert cv.one_device(runs[:2]) == (runs[:2], [])
    old = {"name": "e", "run": {"model": "cnn"}, "environment": {"packages": {"tensorflow": "2.21.0"}}}
    assert cv.backend_of(old) == "tensorflow 2.21.0"


def test_the_earlier_rule_is_a_sensitivity_row_never_the_choice() -> None:
    p = cv.plan_for("cnn")
    choice = {"epochs": 40, "epochs_by_rule": {"argmax": 40, "one_se": 3, "end": 100}}
    runs = cv.sensitivity_runs("cnn", p, choice)
    assert [r.epochs for r in runs] == [3] * p.final_seeds and all(r.test for r in runs)
    assert {r.seed for r in runs} == {r.seed for r in cv.final_runs("cnn", p, 40)}
    assert cv.sensitivity_runs("cnn", p, {**choice, "epochs": 3}) == []  # the same count


def test_the_epoch_rules_are_compared_again_with_each_model_left_out() -> None:
    """docs/cv.md's sensitivity table: each rule's mean nested score over the other models,
    and which rule would win; the chosen rule itself is not touched."""
    from har_studies.reporting.report import epoch_rule_left_out_table

    def per(**scores: float) -> dict:
        return {"per_model": {m: {"score": v} for m, v in scores.items()}}

    summary = {"epoch_rule": {"rule": "argmax",
                              "epochs_by_rule": {"a": {}, "b": {}, "c": {}},
                              "scores": {"argmax": per(a=0.90, b=0.90, c=0.60),
                                         "end": per(a=0.91, b=0.92, c=0.30)}}}
    t = epoch_rule_left_out_table(summary).set_index("left out")
    assert t.loc["c", "would win"] == "end" and t.loc["c", "end"] == "91.50"
    assert t.loc["a", "would win"] == t.loc["b", "would win"] == "argmax"
    assert t.loc["a", "argmax"] == "75.00"
    summary["epoch_rule"]["scores"]["end"] = per(a=0.90, b=0.90, c=0.60)  # ties: earlier rule
    assert set(epoch_rule_left_out_table(summary)["would win"]) == {"argmax"}
    summary["epoch_rule"]["epochs_by_rule"] = {"a": {}, "b": {}}  # the smoke run's few models
    assert epoch_rule_left_out_table(summary).empty
