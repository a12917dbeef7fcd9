"""A student's laboratory: notebooks 03 and 04 run by hand, every way a person runs them.

What 03 builds is what 04 trains (an edited model cell, a variant 03 registers and ``MODEL``
selects), and no way of running them (a Jupyter kernel as JupyterLab starts it, ``jupyter
nbconvert --execute``, ``har run`` with a profile of one's own, the notebooks exported as scripts
under ``ipython`` and ``python``) changes a tracked file: runs that name no results folder write
``build/lab/``, a profile ``build/<profile>/``. Real data, one epoch, small models where the
point allows. These runs overwrite ``build/lab/``, as a student's own run would."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from har_utils import config

pytestmark = [pytest.mark.slow, pytest.mark.realdata]

LAB = config.BUILD_DIR / config.LAB_PROFILE
BIN = Path(sys.executable).parent


def git_status() -> str:
    return subprocess.run(["git", "-C", str(config.PROJECT_ROOT), "status", "--porcelain"],
                          capture_output=True, text=True, check=True).stdout


@pytest.fixture
def by_hand(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment of a student's shell: the real data, no results folder named, no
    profile; the working tree's ``git status`` must be the same after the test."""
    if subprocess.run(["git", "-C", str(config.PROJECT_ROOT), "rev-parse"]).returncode:
        pytest.skip("not a git checkout")
    monkeypatch.setenv("HAR_DATA_DIR", str(config.PROJECT_ROOT / "data"))
    for var in ("HAR_RESULTS_DIR", "HAR_FIGURES_DIR", "HAR_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    # The tests share build/lab/: under pytest-xdist (make test) one runs at a time.
    LAB.parent.mkdir(parents=True, exist_ok=True)
    with open(LAB.parent / ".lab-tests.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        before = git_status()
        yield dict(os.environ, PYTHONWARNINGS="ignore")
        assert git_status() == before, "running a notebook by hand changed a tracked file"


def notebook(name: str, replace: dict[str, str]) -> nbformat.NotebookNode:
    """``notebooks/<name>.ipynb`` with each ``old`` text of ``replace`` replaced by ``new``
    (each must occur)."""
    nb = nbformat.read(config.NOTEBOOKS_DIR / f"{name}.ipynb", as_version=4)
    for old, new in replace.items():
        hits = [c for c in nb.cells if old in c.source]
        assert hits, f"{old!r} is not in {name}"
        for c in hits:
            c.source = c.source.replace(old, new)
    return nb


def saved_model(name: str, folder: Path = LAB / "results") -> tuple[int, list[str]]:
    """Parameter count and layer names of ``<folder>/models/<name>.keras``, as 04 saved it."""
    from har_utils import training

    model = training.load_model(folder / "models" / f"{name}.keras")
    return model.count_params(), [layer.name for layer in model.layers]


def recorded(folder: Path = LAB / "results") -> dict:
    return json.loads((folder / "model_summary.json").read_text())


ADDED_LAYER = ('    x = td(layers.Flatten(), name="flatten")(x)\n',
               '    x = td(layers.Flatten(), name="flatten")(x)\n'
               '    x = layers.Dense(64, activation="relu", name="student_dense")(x)\n')


def test_a_layer_added_in_03s_cell_is_in_the_model_04_saves(by_hand: dict[str, str],
                                                             tmp_path: Path) -> None:
    """03 with a layer added to its model cell, then 04 (one epoch), with nbconvert."""
    nbformat.write(notebook("03_model", dict([ADDED_LAYER])), tmp_path / "03_model.ipynb")
    nbformat.write(notebook("04_training", {"EPOCHS = 73": "EPOCHS = 1"}), tmp_path / "04_training.ipynb")
    for name in ("03_model", "04_training"):
        subprocess.run([str(BIN / "jupyter"), "nbconvert", "--to", "notebook", "--execute",
                        "--ExecutePreprocessor.kernel_name=python3", str(tmp_path / f"{name}.ipynb"),
                        "--output", f"{name}.done.ipynb"], env=by_hand, check=True,
                       capture_output=True)
    summary = recorded()
    assert "student_dense" in summary["layer_names"]
    params, names = saved_model("cnn_lstm_paper")
    assert "student_dense" in names and params == summary["parameters"] != 457_906
    assert (LAB / "figures" / "fig2_cnn_lstm.png").is_file()


def test_a_variant_registered_in_03_trains_in_04(by_hand: dict[str, str]) -> None:
    """03's own ``cnn_lstm_k7``, selected with ``MODEL`` in a profile of one's own
    (``params/local/``, which git ignores), through ``har run``."""
    name = "test_lab_variant"
    profile = config.PARAMS_DIR / "local" / f"{name}.yml"
    profile.parent.mkdir(exist_ok=True)
    profile.write_text("common:\n  SOURCE: auto\n  MODEL: cnn_lstm_k7\n04_training:\n  EPOCHS: 1\n")
    try:
        subprocess.run([str(BIN / "har"), "run", "--profile", name, "--force", "01_data",
                        "03_model", "04_training"], env=by_hand, check=True, capture_output=True)
    finally:
        profile.unlink()
    results = config.BUILD_DIR / name / "results"
    summary = recorded(results)
    assert summary["model"] == "cnn_lstm_k7"
    params, names = saved_model("cnn_lstm_k7", results)
    assert params == summary["parameters"] and names == summary["layer_names"]
    training = json.loads((results / "training_cnn_lstm_k7.json").read_text())
    assert training["epochs_run"] == 1 and training["parameters"] == params


@pytest.mark.parametrize("way", ["jupyter kernel", "ipython", "python"])
def test_running_03_and_04_by_hand_writes_build_lab_only(by_hand: dict[str, str], tmp_path: Path,
                                                          way: str) -> None:
    """A small model (``MODEL = "tiny_cnn"`` in 03), one epoch: in a kernel as JupyterLab starts
    it, and exported as scripts run by ``ipython`` and by ``python``."""
    edits = {"03_model": {'MODEL = "cnn_lstm_paper"': 'MODEL = "tiny_cnn"'},
             "04_training": {"EPOCHS = 73": "EPOCHS = 1"}}
    for stale in ("model_summary.json", "model_architecture.json", "training_tiny_cnn.json"):
        (LAB / "results" / stale).unlink(missing_ok=True)
    for name, replace in edits.items():
        nb = notebook(name, replace)
        if way == "jupyter kernel":
            import papermill as pm

            nbformat.write(nb, tmp_path / f"{name}.ipynb")
            pm.execute_notebook(tmp_path / f"{name}.ipynb", tmp_path / f"{name}.done.ipynb",
                                kernel_name="python3", progress_bar=False,
                                cwd=str(config.NOTEBOOKS_DIR))
            continue
        script = tmp_path / f"{name}.py"
        script.write_text("\n\n".join(c.source for c in nb.cells if c.cell_type == "code"))
        command = [str(BIN / "ipython")] if way == "ipython" else [sys.executable]
        subprocess.run([*command, str(script)], env=dict(by_hand, MPLBACKEND="Agg"), check=True,
                       capture_output=True, cwd=tmp_path)
    assert recorded()["model"] == "tiny_cnn"
    params, names = saved_model("tiny_cnn")
    assert params == recorded()["parameters"] and names == recorded()["layer_names"]
    assert json.loads((LAB / "results" / "training_tiny_cnn.json").read_text())["epochs_run"] == 1
