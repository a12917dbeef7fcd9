"""A student's path, end to end: a new profile with another registered model runs through
notebooks 03-06 with papermill, resumes without rerunning, and reruns only what changed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from har_studies import pipeline
from har_utils import config, models

pytestmark = [pytest.mark.slow, pytest.mark.realdata]
NOTEBOOKS = ["03_model", "04_training", "05_evaluation", "06_comparison"]


def write_profile(folder: Path, epochs: int) -> None:
    folder.mkdir(exist_ok=True)
    (folder / "adapt.yml").write_text(yaml.safe_dump({
        "common": {"SOURCE": "hapt", "SEED": 0, "MODEL": "tiny_cnn"},
        "04_training": {"EPOCHS": epochs, "TRAIN": True}}))


def test_supported_hparams_filters_by_model() -> None:
    assert models.supported_hparams("cnn_lstm_paper", n_subsequences=2, dropout=0.1) == \
        {"n_subsequences": 2, "dropout": 0.1}
    assert models.supported_hparams("tiny_cnn", n_subsequences=2, dropout=0.1) == {}


def test_another_model_through_the_pipeline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(config, "PARAMS_DIR", tmp_path / "params")
    monkeypatch.setattr(config, "BUILD_DIR", tmp_path / "build")
    write_profile(config.PARAMS_DIR, epochs=1)
    assert pipeline.run(NOTEBOOKS, "adapt") > 0
    results = config.BUILD_DIR / "adapt" / "results"
    ev = json.loads((results / "evaluation_tiny_cnn.json").read_text())
    assert ev["model"] == "tiny_cnn" and 0 < ev["test"]["accuracy"] <= 1
    assert ev["data"]["source"] == "hapt"
    assert (results / "models" / "tiny_cnn.keras").exists()
    assert not (config.PROJECT_ROOT / "results" / "evaluation_tiny_cnn.json").exists()

    capsys.readouterr()
    assert pipeline.run(NOTEBOOKS, "adapt") == 0.0  # everything current: nothing reruns
    assert capsys.readouterr().out.count("up to date, skipped") == 4

    write_profile(config.PARAMS_DIR, epochs=2)  # a parameter of 04 changed
    pipeline.run(NOTEBOOKS, "adapt")
    out = capsys.readouterr().out
    assert "03_model: up to date, skipped" in out
    for name in NOTEBOOKS[1:]:
        assert f"{name}: done in" in out, f"{name} depends on 04 and must rerun"
    manifest = json.loads((config.BUILD_DIR / "adapt" / "manifest.json").read_text())
    assert manifest["notebooks"]["04_training"]["parameters"]["EPOCHS"] == 2
    assert manifest["data"] is None or manifest["data"]["source"] == "hapt"
