"""The committed notebooks, figures and results come from one and the same published run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from har_studies import pipeline
from har_utils import config

MANIFEST = config.PROJECT_ROOT / "results" / "manifest.json"


@pytest.fixture(scope="module")
def manifest(committed: Path) -> dict:
    path = committed / MANIFEST.relative_to(config.PROJECT_ROOT)
    assert path.exists(), "no published run: run `make reproduce` then `make publish`"
    return json.loads(path.read_text())


def test_every_notebook_is_from_the_published_run(manifest: dict) -> None:
    assert set(manifest["notebooks"]) == set(pipeline.notebook_names())
    for name in pipeline.notebook_names():
        nb = json.loads((config.NOTEBOOKS_DIR / f"{name}.ipynb").read_text())
        assert nb["metadata"].get("har", {}).get("run_id") == manifest["run_id"], name
        assert manifest["notebooks"][name]["input_hash"], name


def test_every_committed_result_and_figure_is_in_the_manifest(manifest: dict,
                                                              committed: Path) -> None:
    # the committed files (git HEAD): a `make reproduce` here, not yet published, may differ
    assert pipeline.output_checksums(committed) == manifest["outputs"], (
        "the committed results/ or figures/ differ from the published run: run `make "
        "reproduce` and `make publish`, then commit")


#: Results that describe no data: the model definition (03's summary and its Keras architecture)
#: and the saved model's own history file (the training results file beside it carries the data
#: stamp).
NO_DATA = ("results/model_summary.json", "results/model_architecture.json", "results/models/")


def test_published_results_name_their_data(manifest: dict, committed: Path) -> None:
    assert manifest["data"]["source"] in ("uci", "hapt")
    for rel in manifest["outputs"]:
        if rel.endswith(".json") and not rel.startswith(NO_DATA):
            doc = json.loads((committed / rel).read_text())
            stamp = doc.get("data") or {"source": doc.get("source")}
            assert stamp.get("source") == manifest["data"]["source"], rel
        if rel.endswith(".csv"):
            assert rel in ("results/table1_classification_report.csv",
                           "results/table2_comparison.csv"), f"{rel}: say where its data is stamped"


def test_the_paper_model_weights_are_committed(manifest: dict) -> None:
    model = Path("results/models/cnn_lstm_paper.keras")
    assert str(model) in manifest["outputs"]
    assert (config.PROJECT_ROOT / model).stat().st_size < 10 * 2**20


def test_published_notebooks_are_diffable() -> None:
    for name in pipeline.notebook_names():
        nb = json.loads((config.NOTEBOOKS_DIR / f"{name}.ipynb").read_text())
        assert "papermill" not in nb["metadata"]
        for c in nb["cells"]:
            assert "injected-parameters" not in c.get("metadata", {}).get("tags", [])
            assert "papermill" not in c.get("metadata", {}) and "execution" not in c.get("metadata", {})
            if c["cell_type"] == "code":
                assert c["execution_count"] is None


def test_the_published_model_is_protocol_cvs_seed_0_final_run(manifest: dict,
                                                              committed: Path) -> None:
    """Notebook 04 trains what protocol cv's seed-0 final run trained (same configuration,
    one core): the published history is that run's, number for number."""
    from har_studies.experiments import cv

    summary = json.loads((committed / "results" / "cv" / "summary.json").read_text())
    epochs = summary["models"]["cnn_lstm_paper"]["choice"]["epochs"]
    [run] = cv.final_runs("cnn_lstm_paper", cv.plan_for("cnn_lstm_paper"), epochs)[:1]
    stored = committed / "results" / "runs" / f"{run.key(summary['data']['checksum_sha256'])}.json"
    published = json.loads((committed / "results" / "models" / "cnn_lstm_paper.history.json").read_text())
    assert published["config"]["epochs"] == epochs and published["config"]["seed"] == 0
    assert published["history"]["loss"] == json.loads(stored.read_text())["history"]["loss"]
