"""The ablation study under protocol cv: its factors, the screen that shares the beyond study's
runs, the selection on folds only, the final test like for like, the comparison with the retired
early-stopping study, and a study whose runs are all stored training nothing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from har_utils import config, data, models
from har_utils.data import HarDataset
from har_studies.experiments import ablations as ab
from har_studies.experiments import runner
from har_studies.experiments.ablations import converged
from har_studies.experiments.ablations import studies as core
from har_studies.experiments.runner import Run
from synthetic_uci import synthetic_dataset


@pytest.fixture
def ds() -> HarDataset:
    return synthetic_dataset()


# --- the factors --------------------------------------------------------------------------

def test_lstm_layers_one_builds_and_two_is_the_paper() -> None:
    small = dict(n_subsequences=1, filters=8, lstm_units=4, dense_units=4)
    one = models.build_model("cnn_lstm_paper", lstm_layers=1, **small)
    two = models.build_model("cnn_lstm_paper", **small)
    names = lambda m: [lyr.name for lyr in m.layers]  # noqa: E731
    assert "lstm1" in names(one) and "lstm2" not in names(one)
    assert one.get_layer("lstm1").return_sequences is False
    assert names(two) == names(models.build_model("cnn_lstm_paper", lstm_layers=2, **small))
    assert one.count_params() < two.count_params()
    assert models.describe("cnn_lstm_paper")["lstm_layers"] == 2
    with pytest.raises(ValueError, match="lstm_layers"):
        models.build_model("cnn_lstm_paper", lstm_layers=0, **small)


def test_the_factors_vary_one_thing_around_the_papers_configuration(ds: HarDataset) -> None:
    assert len(ab.STUDIES) >= 10
    checksum = runner.checksum(ds)
    base = converged.fold_run(converged.BASELINE, "", 0).key(checksum)
    for study in ab.STUDIES.values():
        assert len(study.points) >= 2
        for p in study.points:
            r = converged.parts_fold_run([(study.name, p.name)], 0, "x")
            core.model_hparams(r)  # every override is a real hyper-parameter of its model
            assert core.conv_fits(r) is None, r.name
            assert (r.key(checksum) == base) == p.baseline, (study.name, p.name)
    none = converged.configuration([("split", "none")])
    assert none["model"] == "cnn_lstm_sequential"
    seq = converged.parts_fold_run([("split", "none"), ("lstm_layers", "1")], 0, "x")
    assert core.model_hparams(seq)["lstm_layers"] == 1
    bad = converged.parts_fold_run([("kernel_size", "7"), ("split", "8x16")], 0, "x")
    assert "does not fit" in core.conv_fits(bad)
    table = ab.studies_table()
    assert list(table["factor"]) == list(ab.STUDIES) and table["points"].str.contains("\\*").all()


def test_channel_subsets(ds: HarDataset) -> None:
    sub = data.select_channels(ds, core.CHANNEL_SETS["total_acc"])
    assert sub.train.X.shape == (len(ds.train.y), 128, 3) and sub.test.X.shape[2] == 3
    np.testing.assert_array_equal(sub.train.X, ds.train.X[..., 6:9])
    assert sub.train.y is ds.train.y and data.select_channels(ds, config.CHANNELS) is ds
    assert data.select_channels(ds, core.CHANNEL_SETS["body_acc_gyro"]).test.X.shape[2] == 6
    for bad in (["nope"], [], ["body_acc_x", "body_acc_x"]):
        with pytest.raises(ValueError):
            data.select_channels(ds, bad)



def test_the_converged_screen_shares_the_beyond_screens_runs() -> None:
    """A point of the screen under protocol cv whose configuration the beyond study screened
    has the same run key (so it is reused); every other point differs from the baseline."""
    from har_studies.experiments import beyond
    from har_studies.experiments.ablations import converged

    checksum = "0" * 64
    shared = {("paper", ""): "paper", ("kernel_size", "7"): "kernel_7",
              ("lstm_layers", "1"): "one_lstm", ("batch_size", "16"): "batch_16",
              ("standardize", "on"): "standardize", ("split", "none"): "sequential"}
    cands = {c.name: c for c in beyond.CANDIDATES}
    for (factor, point), name in shared.items():
        ours = converged.fold_run(factor, point, 1)
        theirs = beyond.fold_runs(cands[name], beyond.Plan(), [1])[0]
        assert ours.key(checksum) == theirs.key(checksum), (factor, point)
    base = converged.fold_run(converged.BASELINE, "", 0).key(checksum)
    keys = {converged.fold_run(f, p, 0).key(checksum) for f, p in converged.points()}
    assert len(keys) == len(converged.points()) == 21 and base not in keys
    total = sum(len(s.points) for s in core.STUDIES.values())
    assert len(converged.points()) == total - len(core.STUDIES)
    table = converged.cost_table(checksum, {base})
    screen = table[table["stage"] == "screen"]
    assert screen.set_index("point").loc["paper", "stored"] == 1
    assert screen.set_index("point").loc[list(map(lambda fp: converged.label(*fp), shared)),
                                         "runs"].eq(3).all()


@pytest.mark.realdata
def test_the_converged_screen_scores_the_stored_beyond_runs_as_the_beyond_study_did(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Without training, the screen finds the committed beyond runs of its shared points and
    gives them the beyond study's screen scores; a point without all its runs is missing."""
    from har_studies.experiments.ablations import converged

    monkeypatch.setenv("HAR_DATA_DIR", str(config.PROJECT_ROOT / "data"))
    monkeypatch.setenv("HAR_RESULTS_DIR", str(config.COMMITTED_RESULTS_DIR))  # read only

    choice = json.loads((config.COMMITTED_RESULTS_DIR / "beyond" / "choice.json").read_text())
    doc = converged.screen(data.load_dataset("auto"))
    for ours, theirs in (("paper", "paper"), ("standardize=on", "standardize"),
                         ("kernel_size=7", "kernel_7")):
        assert doc["points"][ours]["score"] == choice["candidates"][theirs]["screen"]["score"]
    assert "paper" not in doc["missing"]  # the rest depends on what the store holds
    assert all(("score" in e) == (n not in doc["missing"]) for n, e in doc["points"].items())
    gain = 100 * (choice["candidates"]["standardize"]["screen"]["score"]
                  - choice["candidates"]["paper"]["screen"]["score"])
    assert gain > 1.5 and doc["points"]["standardize=on"]["vs_baseline_pp"] == pytest.approx(gain)


def test_the_converged_selection_confirms_combines_and_chooses_on_folds_only(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Points ahead of the baseline on the screen go to all 7 folds; those still ahead are
    joined; the best 7-fold score is chosen, with its epoch count; the final runs are the
    choice and the paper's configuration over the same seeds, each for its own epochs."""
    from har_studies.experiments.ablations import converged

    level = {"paper": 0.90, "standardize=on": 0.93, "kernel_size=7": 0.92, "filters=32": 0.89,
             "split=8x16": 0.91, "standardize=on+kernel_size=7": 0.95}
    peak = {"paper": 30, "standardize=on+kernel_size=7": 44}

    def curve(name: str) -> list[float]:
        top, at = level.get(name, 0.85), peak.get(name, 50)
        return [top - 0.001 * abs(e - at) for e in range(1, 51)]

    def fake_load(run: Run, ds: object) -> dict:
        label = run.name.split("/")[1]
        return {"name": run.name, "history": {"val_accuracy": curve(label)}, "run": {}}

    screen = {"missing": [], "points": {n: {"score": level.get(n, 0.85)}
                                        for n in ["paper", *map(lambda fp: converged.label(*fp),
                                                                converged.points())]}}
    # three factors confirmed; kernel 7 does not fit 8x16 sub-sequences, so the join of all
    # three leaves split out and equals the join of the two best: one combination
    monkeypatch.setattr(converged, "screen", lambda ds, p, **kw: json.loads(json.dumps(screen)))
    monkeypatch.setattr(runner, "load", fake_load)
    doc = converged.select(object())
    confirm = doc["stages"]["confirm"]
    assert set(confirm) == {"paper", "standardize=on", "kernel_size=7", "split=8x16"}
    assert "filters=32" not in confirm and all(len(e["runs"]) == 7 for e in confirm.values())
    combos = doc["stages"]["combination"]
    assert set(combos) == {"standardize=on+kernel_size=7"}
    chosen = doc["chosen"]
    assert chosen["name"] == "standardize=on+kernel_size=7" and chosen["epochs"] == 44
    assert chosen["baseline_epochs"] == 30 and not doc["missing"]
    finals = converged.final_runs(doc)
    assert list(finals) == ["standardize=on+kernel_size=7", "paper"]
    runs = [r for rs in finals.values() for r in rs]
    assert [r.epochs for r in runs] == [44] * 5 + [30] * 5
    assert all(r.test and not r.val_subjects for r in runs)
    assert [r.seed for r in runs[:5]] == [r.seed for r in runs[5:]] == list(range(5))
    assert dict(runs[0].train) == {"standardize": True} and dict(runs[0].model_kwargs) == {
        "kernel_size": 7}
    # a missing fold run stops before the choice
    monkeypatch.setattr(runner, "load",
                        lambda run, ds: None if run.name.endswith("fold6") else fake_load(run, ds))
    doc = converged.select(object())
    assert doc["chosen"] is None and "paper" in doc["missing"]


def test_the_smoke_plan_keeps_only_training_settings_on_the_tiny_model() -> None:
    p = converged.SMOKE
    assert sorted(converged.label(*x) for x in converged.points(p)) == sorted(p.only)
    for name, runs in converged.screen_plan(p).items():
        assert len(runs) == p.screen_folds and all(r.model == "tiny_cnn" and r.epochs == 2
                                                   for r in runs)
        assert all(not r.test and r.val_subjects for r in runs), name
    full = converged.screen_plan()
    assert len(full) == 22 and all(r.model in ("cnn_lstm_paper", "cnn_lstm_sequential")
                                   and r.epochs == 50 for rs in full.values() for r in rs)


def _tested(per_subject: dict[str, float], seed: int, model: str = "tiny_cnn") -> dict:
    subjects = {s: {"accuracy": a} for s, a in per_subject.items()}
    return {"run": {"seed": seed, "model": model}, "seed": seed, "epochs_run": 3,
            "test": {"accuracy": float(np.mean(list(per_subject.values()))),
                     "macro_avg": {"f1": 0.5}, "per_subject": subjects},
            "y_pred": [1], "data": {"source_label": "HAPT rebuild"}}


def test_the_final_comparison_pairs_the_same_seeds_single_against_single() -> None:
    subjects = [str(s) for s in config.TEST_SUBJECTS]
    a = {"per_subject_accuracy_mean": {s: 0.9 + 0.01 * i for i, s in enumerate(subjects)},
         "seeds": [0, 1, 2]}
    b = {"per_subject_accuracy_mean": {s: 0.9 for s in subjects}, "seeds": [0, 1, 2]}
    rows = converged.like_for_like({"x": a, "paper": b}, "x")
    assert len(rows) == 1 and rows[0]["comparison"] == "single seeds"
    assert rows[0]["chosen_models"] == rows[0]["reference_models"] == 3
    assert rows[0]["mean_difference"] == pytest.approx(0.01 * np.mean(range(9)))
    assert rows[0]["wins"] == 8 and rows[0]["wilcoxon_p_holm"] == rows[0]["wilcoxon_p"]
    assert converged.like_for_like({"paper": b}, "paper") == []  # the paper's chosen: nothing


def test_undertraining_sets_each_protocols_effect_against_its_own_baseline() -> None:
    choice = {"points": {"paper": {"factor": "paper", "point": "", "score": 0.9},
                         "standardize=on": {"factor": "standardize", "point": "on",
                                            "score": 0.93, "vs_baseline_pp": 3.0, "epochs": 40},
                         "filters=32": {"factor": "filters", "point": "32", "score": 0.89,
                                        "vs_baseline_pp": -1.0, "epochs": 45}},
              "stages": {"confirm": {"paper": {"score": 0.91},
                                     "standardize=on": {"score": 0.925}}}}
    early = {"rows": [
        {"study": "standardize", "point": "off", "baseline": True, "val_accuracy_mean": 0.95,
         "accuracy_mean": 0.90, "best_epoch_mean": 7},
        {"study": "standardize", "point": "on", "baseline": False, "val_accuracy_mean": 0.94,
         "accuracy_mean": 0.89, "best_epoch_mean": 5}]}
    rows = {r["point"]: r for r in converged.undertraining(choice, early)}
    s = rows["standardize=on"]
    assert s["early_stopping_validation_pp"] == pytest.approx(-1.0)
    assert s["early_stopping_test_pp"] == pytest.approx(-1.0)
    assert s["converged_screen_pp"] == 3.0 and s["converged_7_folds_pp"] == pytest.approx(1.5)
    assert "early_stopping_test_pp" not in rows["filters=32"]  # not in the early study
    assert rows["filters=32"]["converged_7_folds_pp"] is None  # did not go on
    assert len(ab.undertraining_table({"undertraining": list(rows.values())})) == 2


def _store_fake(run: Run, ds: HarDataset, level: float) -> None:
    """A stored result for ``run``: a fold curve peaking at epoch 1 at ``level``, and for a
    tested run the test subjects' metrics of predictions right in ``level`` of the windows."""
    from har_utils import evaluation

    key = run.key(runner.checksum(ds))
    doc = {"key": key, "name": run.name, "study": run.study, "run": run.as_dict(),
           "data": data.stamp(ds), "epochs_run": run.epochs, "train_seconds": 1.0,
           "history": {"val_accuracy": [level - 0.01 * e for e in range(run.epochs)]}}
    if run.test:
        pred = ds.test.y.copy()
        wrong = np.arange(len(pred)) % 100 >= 100 * level
        pred[wrong] = np.where(pred[wrong] == 1, 2, 1)
        doc |= {"test": evaluation.metrics(ds.test.y, pred, ds.test.subject),
                "y_pred": pred.tolist()}
    path = runner.result_path(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))


def test_a_study_whose_runs_are_all_stored_trains_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every run of each stage stored (as after a fresh clone): selection, final runs and
    summary through the runner, and nothing trains."""
    monkeypatch.setenv("HAR_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.setattr(runner, "run_one", lambda *a, **k: pytest.fail("trained a stored run"))
    ds = synthetic_dataset(per_subject=4)
    p = converged.SMOKE
    level = {"paper": 0.80, "standardize=on": 0.90, "batch_size=64": 0.70}
    for name, runs in converged.screen_plan(p).items():
        for r in runs:
            _store_fake(r, ds, level[name])
    for name in ("paper", "standardize=on"):  # ahead of the paper's on the screen: 7 folds
        for fold in range(3, 7):
            _store_fake(converged.parts_fold_run(converged._parts(name), fold, name, p), ds,
                        level[name])
    doc = converged.run(ds, p, stage="select")
    assert not doc["missing"] and doc["chosen"]["name"] == "standardize=on"
    assert set(doc["stages"]["confirm"]) == {"paper", "standardize=on"}
    for name, runs in converged.final_runs(doc, p).items():
        for r in runs:
            _store_fake(r, ds, level[name])
    summary = converged.run(ds, p, stage="final")
    assert not summary["missing_finals"] and set(summary["finals"]) == {"paper", "standardize=on"}
    gain = summary["like_for_like"][0]["mean_difference"]
    assert gain == pytest.approx(summary["finals"]["standardize=on"]["accuracy_mean"]
                                 - summary["finals"]["paper"]["accuracy_mean"], abs=0.02)
    assert converged.run(ds, p, stage="all")["finals"] == summary["finals"]


def test_the_final_stage_needs_a_committed_choice(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from har_utils.io import HarError

    monkeypatch.setenv("HAR_RESULTS_DIR", str(tmp_path / "results"))
    with pytest.raises(HarError, match="no choice yet"):
        converged.run(synthetic_dataset(), converged.SMOKE, stage="final")
