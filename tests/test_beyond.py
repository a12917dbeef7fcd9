"""The beyond-the-paper study on synthetic data: the candidates' fold scores, the rounds built
from the screen, the choice written from fold runs only, the finals and the summary."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from har_utils import config
from har_studies.experiments import beyond, cv
from har_studies.experiments.beyond import Candidate, Plan

from synthetic_uci import synthetic_dataset


def test_the_epoch_rule_is_protocol_cvs_choice() -> None:
    committed = json.loads((config.COMMITTED_RESULTS_DIR / "cv" / "choice.json").read_text())
    assert beyond.EPOCH_RULE == committed["epoch_rule"]["rule"]


def test_every_candidate_is_a_valid_run_and_names_are_unique() -> None:
    cands = beyond.screen_candidates(Plan())
    assert len({c.name for c in cands}) == len(cands)
    assert {c.family for c in cands} <= set(beyond.FAMILIES)
    for c in cands:
        for r in beyond.fold_runs(c, Plan(), [0]):
            assert not r.test and r.val_subjects  # a fold run never sees the test subjects
            if not c.classical:
                r.train_config()  # settings the model and TrainConfig accept


def _fold_results(curves: np.ndarray) -> list[dict]:
    return [{"name": f"beyond/x/fold{i}", "run": {"test": False},
             "history": {"val_accuracy": list(c)}} for i, c in enumerate(curves)]


def test_scores_are_the_nested_score_of_the_epoch_rule() -> None:
    rng = np.random.default_rng(0)
    curves = np.clip(np.linspace(0.7, 0.9, 20) + rng.normal(0, 0.01, (3, 20)), 0, 1)
    s = beyond.scores(Candidate("x", "baseline"), _fold_results(curves))
    nested = cv.nested_score(cv.EPOCH_RULES[beyond.EPOCH_RULE], curves)
    assert s["score"] == pytest.approx(nested["score"]) and s["folds"] == [0, 1, 2]
    assert s["epochs"] == cv.EPOCH_RULES[beyond.EPOCH_RULE](curves)
    flat = beyond.scores(Candidate("c", "classical", "logreg_features"), _fold_results(curves))
    assert flat["score"] == pytest.approx(curves[:, -1].mean())


def test_combinations_join_each_familys_best_that_beat_the_baseline() -> None:
    cands = [c for c in beyond.CANDIDATES]
    screen = {c.name: {"score": 0.80} for c in cands}
    screen |= {"paper": {"score": 0.85}, "rotation_45": {"score": 0.90},
               "gravity_frame": {"score": 0.88}, "cosine": {"score": 0.87},
               "window_stats": {"score": 0.84}, "kernel_7": {"score": 0.86}}
    got = {c.name: c for c in beyond.combinations(screen, cands)}
    assert set(got) == {"best_of_each", "best_two"}
    joined = got["best_of_each"]
    assert dict(joined.train) == {"augment": "rotation", "max_angle": 45.0,
                                  "lr_schedule": "cosine", "schedule_epochs": beyond.BUDGET}
    assert dict(joined.model_kwargs) == {"kernel_size": 7}
    assert dict(got["best_two"].train) == {"augment": "rotation", "max_angle": 45.0,
                                           "lr_schedule": "cosine",
                                           "schedule_epochs": beyond.BUDGET}
    screen["rotation_45"] = screen["gravity_frame"] = screen["cosine"] = {"score": 0.8}
    screen["kernel_7"] = {"score": 0.8}
    assert beyond.combinations(screen, cands) == []  # nothing beat the baseline


@pytest.mark.slow
def test_the_study_chooses_on_folds_then_tests_once(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAR_RESULTS_DIR", str(tmp_path / "results"))
    ds = synthetic_dataset(per_subject=12)
    p = Plan(budget=2, confirm=1, ensemble_seeds=2, final_seeds=2, report_seeds=1, zoo_models=(),
             model="tiny_cnn", only=("paper", "rotation_45", "window_stats", "logreg_C=0.1"))
    doc = beyond.run(ds, p, stage="select", ship_data=True, backup_root=tmp_path / "b")
    chosen = doc["chosen"]
    assert chosen is not None and not doc["missing"]
    assert set(doc["candidates"]) >= {"paper", "rotation_45", "window_stats", "logreg_C=0.1"}
    assert all("test" not in e["screen"] for e in doc["candidates"].values())
    # the choice is a function of the stored fold runs: read back, the same document
    again = beyond.select(ds, p)
    assert again["chosen"] == chosen and again["candidates"] == doc["candidates"]
    summary = beyond.run(ds, p, stage="final", ship_data=True, backup_root=tmp_path / "b")
    rows = summary["tested"][chosen["name"]]
    n = 1 if chosen["model"] in beyond.DETERMINISTIC else p.final_seeds  # one fit: same every seed
    assert rows["n"] == n and rows["ensemble_seeds"] == chosen["ensemble_seeds"]
    assert 0 <= rows["accuracy_mean"] <= 1 and not summary["missing_finals"]
    assert set(summary["family_best"]) <= set(beyond.FAMILIES)
    assert summary["compute_hours"] > 0
    # the export: a Keras choice trained again predicts what its final run predicted
    from har_utils.io import HarError
    from har_utils.training import load_model

    path = beyond.choice_path()
    ws = doc["candidates"]["window_stats"]
    keras_choice = {**ws, "name": "window_stats", "ensemble_seeds": 1,
                    "epochs": (ws.get("all") or ws["screen"])["epochs"]}
    classical = {**doc["candidates"]["logreg_C=0.1"], "name": "logreg_C=0.1",
                 "ensemble_seeds": 1, "epochs": 1}
    path.write_text(json.dumps({**doc, "chosen": classical}))
    assert "logreg_C=0.1" in summary["tested"]  # the classical family's best: tested
    info = beyond.export(ds, p, ship_data=True, log=lambda _: None)
    assert info["kind"] == "scikit-learn" and info["members"][0]["same_test_predictions"]
    import joblib

    clf = joblib.load(beyond.model_path(classical=True))  # raw windows in, labels out
    assert clf.predict(ds.test.X[:3]).shape == (3,)
    path.write_text(json.dumps({**doc, "chosen": {**keras_choice, "epochs": 7}}))
    with pytest.raises(HarError, match="not all stored"):
        beyond.export(ds, p, ship_data=True, log=lambda _: None)
    path.write_text(json.dumps({**doc, "chosen": keras_choice}))
    beyond.execute(beyond.finals_of(json.loads(path.read_text()), p)["window_stats"], ds,
                   ship_data=True, backup_root=tmp_path / "b")
    info = beyond.export(ds, p, ship_data=True, log=lambda _: None)
    stored = beyond.load(beyond.finals_of(json.loads(path.read_text()), p)["window_stats"][0], ds)
    assert info["members"][0]["same_test_predictions"] and info["members"][0]["same_losses"]
    assert info["test_accuracy"] == pytest.approx(stored["test"]["accuracy"])
    model = load_model(beyond.model_path())
    assert model.get_layer("window_stats") is not None
    assert not beyond.model_path(classical=True).exists()  # the earlier choice's file is gone
    assert json.loads(beyond.model_path().with_suffix(".json").read_text())["candidate"] == \
        "window_stats"


def test_an_exported_ensemble_averages_its_members(tmp_path: Path) -> None:
    import keras

    from har_utils.models import build_model

    paths = []
    for seed in (0, 1):
        keras.utils.set_random_seed(seed)
        m = build_model("tiny_cnn")
        paths.append(tmp_path / f"m{seed}.keras")
        m.save(paths[-1])
    joined = beyond.joined_model(paths)
    X = np.random.default_rng(0).normal(size=(5, 128, 9)).astype(np.float32)
    members = [keras.models.load_model(p) for p in paths]
    want = np.mean([m.predict(X, verbose=0) for m in members], axis=0)
    np.testing.assert_allclose(joined.predict(X, verbose=0), want, atol=1e-6)
    joined.save(tmp_path / "joined.keras")
    again = keras.models.load_model(tmp_path / "joined.keras")
    np.testing.assert_allclose(again.predict(X, verbose=0), want, atol=1e-6)


def test_the_failure_analysis_on_synthetic_windows() -> None:
    from har_studies.experiments import failures

    ds = synthetic_dataset(per_subject=24)
    g = failures.gravity_table(ds)
    assert set(g["activity"]) == {"SITTING", "STANDING", "LAYING"} and (g["exp"] == -1).all()
    unit = np.sqrt(g["gx"] ** 2 + g["gy"] ** 2 + g["gz"] ** 2)
    assert (unit <= 1 + 1e-6).all() and g["tilt_deg"].between(0, 180).all()
    within = failures.sit_stand_within_subject(ds)
    assert len(within) == 30 and within["within_subject_accuracy"].between(0, 1).all()
    pred = ds.test.y.copy()
    pred[ds.test.subject == 9] = 1  # subject 9: everything taken for walking
    m = failures.subject_confusion([pred, pred], ds, 9)
    assert m["confusion"][0][0] == 2 * np.sum((ds.test.subject == 9) & (ds.test.y == 1))
    assert failures.subject_confusion([pred], ds, 2)["accuracy"] == 1.0
    held = [1, 6, 30]
    m_held = np.isin(ds.train.subject, held)
    proba = np.eye(6)[ds.train.y[m_held] - 1]
    proba[ds.train.subject[m_held] == 6] = np.eye(6)[0]  # subject 6: all walking
    t = failures.fold_subject_accuracy([{"name": "x", "run": {"val_subjects": held},
                                         "val_proba": proba.tolist()}], ds).set_index("subject")
    assert t.loc[1, "accuracy"] == 1.0 and t.loc[6, "accuracy"] < 0.5 and t.loc[30, "runs"] == 1


def _tested_run(proba: np.ndarray, ds) -> dict:
    from har_utils import evaluation
    from har_utils.training import ACTIVITY_IDS

    pred = ACTIVITY_IDS[proba.argmax(1)]
    return {"test_proba": proba.tolist(), "y_pred": pred.tolist(),
            "test": evaluation.metrics(ds.test.y, pred, ds.test.subject)}


def test_like_for_like_pairs_singles_with_singles_and_ensembles_with_ensembles() -> None:
    """An ensemble is never set against single seeds (which flatters it), and Holm covers the
    whole family of comparisons."""
    from math import comb

    ds = synthetic_dataset()
    rng = np.random.default_rng(0)
    n = len(ds.test.y)
    runs = [_tested_run(rng.dirichlet(np.ones(6), n), ds) for _ in range(11)]
    chosen, paper = runs[:6], runs[6:]
    linear = {"per_subject_accuracy_mean": beyond.singles_per_subject(paper[:1])}
    rows = beyond.like_for_like(chosen, 3, paper, linear, ds)
    assert [(r["comparison"], r["reference"]) for r in rows] == [
        ("single seeds", "cnn_lstm_paper"), ("ensembles of 3", "cnn_lstm_paper"),
        ("single seeds", "logreg_features"), ("ensembles of 3", "logreg_features")]
    singles, ensembles = rows[0], rows[1]
    assert (singles["chosen_models"], singles["reference_models"]) == (6, 5)
    assert (ensembles["chosen_models"], ensembles["reference_models"]) == (2, comb(5, 3))

    def mean_diff(a: dict, b: dict) -> float:
        return float(np.mean([a[s] - b[s] for s in a]))

    assert singles["mean_difference"] == pytest.approx(mean_diff(
        beyond.singles_per_subject(chosen), beyond.singles_per_subject(paper)))
    assert ensembles["mean_difference"] == pytest.approx(mean_diff(
        beyond.ensembles_per_subject(chosen, 3, ds),
        beyond.ensembles_per_subject(paper, 3, ds, every=True)))
    assert ensembles["mean_difference"] != pytest.approx(mean_diff(
        beyond.ensembles_per_subject(chosen, 3, ds), beyond.singles_per_subject(paper)))
    raw = [r["wilcoxon_p"] for r in rows]
    assert [r["wilcoxon_p_holm"] for r in rows] == pytest.approx(cv.holm(raw))
    assert all(r["wilcoxon_p_holm"] >= r["wilcoxon_p"] for r in rows)
