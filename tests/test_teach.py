"""Notebooks 03 and 04 teach: the model's Keras code is a cell of 03 and is the library's code;
04 rebuilds the model 03 saved and its compile/fit cell is the real training (it gives the numbers
the studies' ``fitting.train`` gives); the epoch count 04 trains for is protocol cv's choice. How a notebook
run by hand behaves (what trains, where it writes): ``tests/test_lab.py``."""

from __future__ import annotations

import inspect
import json
import linecache
import warnings
from pathlib import Path

import nbformat
import numpy as np
import pytest
import yaml

from har_studies.experiments import fitting
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
        "notebook 03's model cell and har_utils/models.py differ. Trying a variant? Your edited "
        "cell is what notebook 04 trains, in your kernel and in any run of 03 then 04: keep it "
        "out of the committed notebook. To keep the variant, copy the cell into "
        "har_utils/models.py under a new name (@register(\"my_variant\", description=...), a new "
        "function name), select it with MODEL in 03 or a profile, and restore the cell "
        "(git checkout notebooks/03_model.ipynb). Changing the paper's model on purpose? Make "
        "the same change in both places.")


def test_running_the_model_cell_is_silent_and_a_changed_one_replaces_with_a_warning() -> None:
    cell = tagged("03_model", "model-code")
    before = models.MODELS["cnn_lstm_paper"]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # the same code: no warning
            run_as_a_cell(cell, model_cell_namespace(), "same")
        assert models.build_model("cnn_lstm_paper").count_params() == \
            before.builder((128, 9), 6).count_params()
        changed = cell.replace("dense_units: int = 100, lstm_layers", "dense_units: int = 50, lstm_layers")
        assert changed != cell
        with pytest.warns(UserWarning, match="registered before; the new definition replaces"):
            run_as_a_cell(changed, model_cell_namespace(), "changed")
        assert models.build_model("cnn_lstm_paper").count_params() < \
            before.builder((128, 9), 6).count_params()
    finally:
        models.MODELS["cnn_lstm_paper"] = before


def synthetic(n: int, seed: int) -> Split:
    rng = np.random.default_rng(seed)
    y = rng.integers(1, 7, n)
    X = rng.normal(size=(n, 128, 9)).astype("float32") + y[:, None, None] * 0.1
    return Split(X, y, np.ones(n, int))


def test_04_rebuilds_03s_model_and_its_fit_cell_trains_as_the_studies_loop_does() -> None:
    """04's cells from the rebuild to the fit, run on 03's record of a small model, give
    the history the studies' training loop (``fitting.train``) gives for the same configuration."""
    import keras

    source = cells("04_training")
    [rebuild] = [c.source for c in source if "model_from_json(architecture)" in c.source]
    [fit_cell] = [c.source for c in source if "model.fit(" in c.source]
    built = models.build_model("tiny_cnn", filters=4)
    record = {"parameters": built.count_params(), "layer_names": [la.name for la in built.layers]}
    fit = synthetic(96, 0)
    ns = {"config": config, "training": training, "keras": keras, "time": __import__("time"),
          "built": record, "architecture": built.to_json(), "TRAIN": True, "EPOCHS": 2,
          "BATCH_SIZE": 16, "LEARNING_RATE": 0.01, "SEED": 3, "MODEL": "tiny_cnn",
          "X": fit.X.astype("float32"),
          "Y": keras.utils.to_categorical(fit.y - 1, num_classes=6)}
    run_as_a_cell(rebuild, ns, "rebuild")
    run_as_a_cell(fit_cell, ns, "fit")
    cfg = training.TrainConfig(model="tiny_cnn", model_kwargs={"filters": 4}, epochs=2,
                               batch_size=16, learning_rate=0.01, patience=0, seed=3)
    reference = fitting.train(cfg, fit, None, out=lambda s: None)
    assert ns["history"].history == reference.history
    # a model that is not 03's (another parameter count) is refused
    ns["built"] = {**record, "parameters": record["parameters"] + 1}
    with pytest.raises(AssertionError, match="not the one notebook 03 recorded"):
        run_as_a_cell(rebuild, ns, "rebuild again")


def test_04_trains_for_the_count_protocol_cv_chose() -> None:
    summary = json.loads((config.COMMITTED_RESULTS_DIR / "cv" / "summary.json").read_text())
    chosen = summary["models"]["cnn_lstm_paper"]["choice"]["epochs"]
    profile = yaml.safe_load((config.PARAMS_DIR / "paper.yml").read_text())
    default = [c.source for c in cells("04_training") if "parameters" in c.metadata.get("tags", [])]
    assert profile["04_training"]["EPOCHS"] == chosen, (
        f"params/paper.yml trains {profile['04_training']['EPOCHS']} epochs, protocol cv chose {chosen}")
    assert f"\nEPOCHS = {chosen}\n" in f"\n{default[0]}\n", "notebook 04's EPOCHS default is not cv's choice"
