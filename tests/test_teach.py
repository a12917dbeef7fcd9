"""Notebooks 03 and 04 teach: the model's Keras code is a cell of 03 and is the library's code;
04's compile/fit cell is the real training (it gives the numbers ``training.train`` gives); the
epoch count 04 trains for is protocol cv's choice; and a notebook run by hand writes under
``build/lab/``, never into the committed results."""

from __future__ import annotations

import inspect
import json
import linecache
import subprocess
import warnings
from pathlib import Path

import nbformat
import numpy as np
import pytest
import yaml

from har_utils import config, models, training
from har_utils.data import Split


def cells(name: str) -> list[nbformat.NotebookNode]:
    return nbformat.read(config.NOTEBOOKS_DIR / f"{name}.ipynb", as_version=4).cells


def tagged(name: str, tag: str) -> str:
    [cell] = [c for c in cells(name) if tag in c.metadata.get("tags", [])]
    return cell.source


def run_as_a_cell(source: str, namespace: dict, name: str) -> None:
    """Execute ``source`` the way IPython does: its text is in ``linecache``, so ``inspect``
    finds the source of the functions it defines."""
    filename = f"<cell {name}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), namespace)


def model_cell_namespace() -> dict:
    from typing import Any

    import keras
    from keras import layers
    return {"Any": Any, "keras": keras, "layers": layers, "register": models.register,
            "PAPER_TRAIN_DEFAULTS": models.PAPER_TRAIN_DEFAULTS, "__name__": "cell"}


def test_the_model_cell_of_03_is_the_library_code() -> None:
    cell = tagged("03_model", "model-code")
    library = inspect.getsource(models.lstm_head) + "\n\n" + inspect.getsource(models.cnn_lstm_paper)
    assert cell.strip() == library.strip(), (
        "notebook 03's model cell and har_utils/models.py differ: copy the one you changed "
        "into the other")


def test_running_the_model_cell_is_silent_and_a_changed_one_replaces_with_a_warning() -> None:
    cell = tagged("03_model", "model-code")
    before = models.MODELS["cnn_lstm_paper"]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # the same code: no warning
            run_as_a_cell(cell, model_cell_namespace(), "same")
        assert models.count_params(models.build_model("cnn_lstm_paper")) == \
            models.count_params(before.builder((128, 9), 6))
        changed = cell.replace("dense_units: int = 100, lstm_layers", "dense_units: int = 50, lstm_layers")
        assert changed != cell
        with pytest.warns(UserWarning, match="registered before; the new definition replaces"):
            run_as_a_cell(changed, model_cell_namespace(), "changed")
        assert models.count_params(models.build_model("cnn_lstm_paper")) < \
            models.count_params(before.builder((128, 9), 6))
    finally:
        models.MODELS["cnn_lstm_paper"] = before


def synthetic(n: int, seed: int) -> Split:
    rng = np.random.default_rng(seed)
    y = rng.integers(1, 7, n)
    X = rng.normal(size=(n, 128, 9)).astype("float32") + y[:, None, None] * 0.1
    return Split(X, y, np.ones(n, int))


def test_the_fit_cell_of_04_trains_as_training_train_does(tmp_path: Path) -> None:
    [fit_cell] = [c.source for c in cells("04_training") if "model.fit(" in c.source]
    fit = synthetic(96, 0)
    ns = {"config": config, "models": models, "training": training, "time": __import__("time"),
          "TRAIN": True, "MODEL": "tiny_cnn", "BUILD": {"filters": 4}, "EPOCHS": 2, "BATCH_SIZE": 16,
          "OPTIMIZER": "adam", "LEARNING_RATE": 0.01, "SEED": 3,
          "X": fit.X.astype("float32"), "Y": training.to_one_hot(fit.y)}
    run_as_a_cell(fit_cell, ns, "fit")
    cfg = training.TrainConfig(model="tiny_cnn", model_kwargs={"filters": 4}, epochs=2,
                               batch_size=16, learning_rate=0.01, patience=0, seed=3)
    reference = training.train(cfg, fit, None, out=lambda s: None)
    assert ns["run"]["history"] == reference.history
    assert ns["run"]["config"] == cfg.as_dict()
    assert (config.results_dir() / "models" / "tiny_cnn.keras").is_file()


def test_04_trains_for_the_count_protocol_cv_chose() -> None:
    summary = json.loads((config.COMMITTED_RESULTS_DIR / "cv" / "summary.json").read_text())
    chosen = summary["models"]["cnn_lstm_paper"]["choice"]["epochs"]
    profile = yaml.safe_load((config.PARAMS_DIR / "paper.yml").read_text())
    default = [c.source for c in cells("04_training") if "parameters" in c.metadata.get("tags", [])]
    assert profile["04_training"]["EPOCHS"] == chosen, (
        f"params/paper.yml trains {profile['04_training']['EPOCHS']} epochs, protocol cv chose {chosen}")
    assert f"\nEPOCHS = {chosen}\n" in f"\n{default[0]}\n", "notebook 04's EPOCHS default is not cv's choice"


def git_status() -> str:
    return subprocess.run(["git", "-C", str(config.PROJECT_ROOT), "status", "--porcelain"],
                          capture_output=True, text=True, check=True).stdout


@pytest.mark.slow
@pytest.mark.realdata
def test_a_notebook_run_by_hand_writes_under_build_lab_and_leaves_git_clean(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """03 then 04 in a kernel as JupyterLab starts it (no HAR_RESULTS_DIR, no profile), with
    one epoch instead of cv's count to keep the test short."""
    import papermill as pm

    if subprocess.run(["git", "-C", str(config.PROJECT_ROOT), "rev-parse"]).returncode:
        pytest.skip("not a git checkout")
    monkeypatch.setenv("HAR_DATA_DIR", str(config.PROJECT_ROOT / "data"))  # the real data
    for var in ("HAR_RESULTS_DIR", "HAR_FIGURES_DIR", "HAR_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    lab = config.BUILD_DIR / config.LAB_PROFILE
    before = git_status()
    for name, params in (("03_model", {}), ("04_training", {"EPOCHS": 1})):
        pm.execute_notebook(config.NOTEBOOKS_DIR / f"{name}.ipynb", tmp_path / f"{name}.ipynb",
                            parameters=params, kernel_name="python3", progress_bar=False,
                            cwd=str(config.NOTEBOOKS_DIR))
    assert git_status() == before
    record = json.loads((lab / "results" / "training_cnn_lstm_paper.json").read_text())
    assert record["epochs_run"] == 1 and record["threads"] == 1  # THREADS: as protocol cv's runs
    assert (lab / "results" / "models" / "cnn_lstm_paper.keras").is_file()
    assert (lab / "figures" / "fig2_cnn_lstm.png").is_file()
