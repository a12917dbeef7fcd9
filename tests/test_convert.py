"""Converting the zoo's old run files into the runner's store, on synthetic old files (no
training): the keys the zoo's runs have, the checks that refuse what a Run cannot express,
and a stored result of another study that is never overwritten."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from har_utils import data, evaluation
from har_utils.data import HarDataset
from har_utils.experiments import convert, runner, zoo
from synthetic_uci import synthetic_dataset

SPEC = {"max_epochs": 100, "patience": 10, "n_validation_subjects": 4}


@pytest.fixture
def ds() -> HarDataset:
    return synthetic_dataset()


def old_file(ds: HarDataset, protocol: str, model: str = "tiny_cnn", seed: int = 0,
             **over: Any) -> dict[str, Any]:
    """An old zoo run file, as ``zoo.run`` wrote it before the runner."""
    rng = np.random.default_rng(seed)
    y_pred = rng.choice(np.arange(1, 7), len(ds.test.y))
    low, high = evaluation.subject_bootstrap_ci(ds.test.y, y_pred, ds.test.subject)
    scored = {"test": evaluation.metrics(ds.test.y, y_pred, ds.test.subject),
              "test_ci95_subject_bootstrap": [low, high], "y_pred": y_pred.tolist()}
    name = f"{model}__{protocol}__seed{seed}"
    out: dict[str, Any] = {"name": name, "key": "0123456789ab",
                           "spec": {"model": model, "protocol": protocol, "seed": seed, **SPEC},
                           "data": data.stamp(ds), "wall_seconds": 5.0, "cpu_count": 2,
                           "train_seconds": 4.0, "train_accuracy": 0.9, **scored}
    if model in zoo.CLASSICAL:
        return {**out, "features": "computed", "n_features": 339, **over}
    epochs = {"subjects": 100, "retrain_all": 2, "paper": 100}[protocol]
    run = {"subjects": 5, "retrain_all": 2, "paper": 4}[protocol]
    history = {"accuracy": [0.5] * run, "loss": [1.0] * run}
    if protocol != "retrain_all":
        history.update(val_loss=[1.0, 0.5, 0.7, 0.8, 0.9][:run],
                       val_accuracy=[0.4, 0.6, 0.5, 0.55, 0.5][:run])
    out.update(train_config={"model": model, "model_kwargs": {}, "epochs": epochs,
                             "batch_size": 32, "optimizer": "adam", "learning_rate": 0.001,
                             "patience": 0 if protocol == "paper" else 10, "seed": seed},
               history=history, epochs_run=run, best_epoch=2 if protocol != "paper" else run,
               seconds_per_epoch=0.8, parameters=1234, thread_env={"OMP_NUM_THREADS": "1"})
    if protocol == "subjects":
        out.update(validation_subjects=[8, 17, 21, 25], validation_accuracy=0.6)
    if protocol == "retrain_all":
        out["epochs_from"] = f"{model}__subjects__seed{seed}"
    if protocol == "paper":
        out.update(final_epoch_test_accuracy=0.55, best_epoch_by_test=2,
                   best_epoch_test_accuracy=0.6)
    return {**out, **over}


def write_olds(folder: Path, olds: list[dict[str, Any]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for o in olds:
        (folder / f"{o['name']}.json").write_text(json.dumps(o))
    return folder


def test_old_files_become_the_zoo_runs_stored_results(ds: HarDataset, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    olds = [old_file(ds, p) for p in ("subjects", "retrain_all", "paper")]
    olds.append(old_file(ds, "subjects", "logreg_features"))
    got = convert.convert_folder(write_olds(tmp_path / "old", olds), ds, log=lambda _l: None)
    assert [what for _, what in got] == ["written"] * 4
    runs = [r for r, _ in got]
    assert {r.name for r in runs} == {"zoo/tiny_cnn/subjects/seed0", "zoo/tiny_cnn/paper/seed0",
                                      "zoo/tiny_cnn/retrain_all/seed0",
                                      "zoo/logreg_features/subjects/seed0"}
    # the zoo finds them under its own runs' keys, and the runner has nothing to train
    monkeypatch.setattr(runner, "run_one", lambda *a, **k: pytest.fail("trained"))
    lines: list[str] = []
    runner.execute(runs, ds, log=lines.append)
    assert "4 run(s): 4 stored, 0 to train" in lines[0]
    stored = zoo.load_runs(ds, ["tiny_cnn", "logreg_features"])
    assert len(stored) == 4
    by = {zoo.identity_of(r)[:2]: r for r in stored}
    retrain = by[("tiny_cnn", "retrain_all")]
    assert retrain["run"]["epochs"] == 2 and retrain["config"]["train_config"]["patience"] == 0
    assert retrain["converted_from"].endswith("tiny_cnn__retrain_all__seed0.json")
    assert retrain["converted_fields"]["train_config"]["patience"] == 10  # as written, inert
    assert "test_proba" not in retrain and retrain["y_pred"] == olds[1]["y_pred"]
    paper = by[("tiny_cnn", "paper")]
    assert "final_epoch_test_accuracy" not in paper  # read off the curve instead
    assert zoo.paper_readings(paper) == {k: olds[2][k] for k in convert.READINGS}
    logreg = by[("logreg_features", "subjects")]
    assert logreg["history"] == {"accuracy": [0.9]} and logreg["epochs_run"] == 1
    assert logreg["config"]["model_kwargs"] == {"C": 1.0}
    subjects = by[("tiny_cnn", "subjects")]
    assert subjects["converted_fields"]["validation_accuracy"] == 0.6
    assert subjects["converted_fields"]["thread_env"] == {"OMP_NUM_THREADS": "1"}
    rows = zoo.summarize(stored, ds.test.y, ds.test.subject)
    assert [r["protocol"] for r in rows] == ["subjects", "fixed_budget", "best_on_test",
                                             "retrain_all", "subjects"]
    # converting again rewrites the same files
    again = convert.convert_folder(tmp_path / "old", ds, log=lambda _l: None)
    assert [what for _, what in again] == ["written"] * 4


def test_what_a_run_cannot_express_is_refused(ds: HarDataset) -> None:
    c = runner.checksum(ds)
    ok = old_file(ds, "subjects")
    convert.convert(ok, c, "x")
    with pytest.raises(ValueError, match="made on data"):
        convert.convert(ok, "another", "x")
    with pytest.raises(ValueError, match="batch_size 64"):
        convert.convert({**ok, "train_config": {**ok["train_config"], "batch_size": 64}}, c, "x")
    with pytest.raises(ValueError, match="model_kwargs filters=4"):
        convert.convert({**ok, "train_config": {**ok["train_config"],
                                                "model_kwargs": {"filters": 4}}}, c, "x")
    with pytest.raises(ValueError, match="budget/patience"):
        convert.convert({**ok, "spec": {**ok["spec"], "patience": 5}}, c, "x")
    with pytest.raises(ValueError, match="validation subjects"):
        convert.convert({**ok, "validation_subjects": [1, 3, 5, 6]}, c, "x")
    with pytest.raises(ValueError, match="never set"):
        convert.convert({**ok, "train_config": {**ok["train_config"], "augment": "noise"}},
                        c, "x")
    with pytest.raises(ValueError, match="read off the curve"):
        convert.convert(old_file(ds, "paper", best_epoch_by_test=3), c, "x")


def test_a_retrain_must_take_its_subjects_runs_best_epoch(ds: HarDataset, tmp_path: Path) -> None:
    olds = [old_file(ds, "subjects", best_epoch=3), old_file(ds, "retrain_all")]
    with pytest.raises(ValueError, match="not the best epoch"):
        convert.convert_folder(write_olds(tmp_path, olds), ds, log=lambda _l: None)


def test_another_studys_result_under_the_same_key_is_kept(ds: HarDataset, tmp_path: Path) -> None:
    old = old_file(ds, "retrain_all")
    run, result = convert.convert(old, runner.checksum(ds), "x")
    theirs = {**result, "study": "cv", "name": "cv/tiny_cnn/final/seed0",
              "y_pred": list(reversed(result["y_pred"])), "test": {"accuracy": 0.5}}
    theirs.pop("converted_from")
    path = runner.result_path(run.key(runner.checksum(ds)))
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(theirs))
    lines: list[str] = []
    subjects = old_file(ds, "subjects")
    [(_, a), (_, b)] = convert.convert_folder(write_olds(tmp_path / "old", [old, subjects]), ds,
                                              log=lines.append)
    assert a.startswith("kept the stored result of cv/tiny_cnn/final/seed0") and b == "written"
    assert json.loads(path.read_text()) == json.loads(json.dumps(theirs))
