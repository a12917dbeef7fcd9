"""The model cards (``docs/model_cards/``) render from results files: the committed ones, one
without the watch model's results, and one with them (fast: nothing trains)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from har_studies.reporting import docs, model_cards
from har_utils import config

CARDS = config.PROJECT_ROOT / "docs" / "model_cards"
#: The results files the paper's and the beyond study's cards read.
READ = ("evaluation_cnn_lstm_paper.json", "training_cnn_lstm_paper.json", "model_summary.json",
        "data_summary.json", "deploy/benchmark.json", "models/cnn_lstm_paper.history.json",
        "models/beyond.json", "beyond/summary.json")


def card(name: str) -> str:
    return (CARDS / f"{name}.md").read_text()


@pytest.fixture
def results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A results folder with the committed files the cards read, and none of the watch model's
    (``HAR_RESULTS_DIR``: what the docs render from)."""
    for name in READ:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(config.COMMITTED_RESULTS_DIR / name, tmp_path / name)
    bench = tmp_path / "deploy" / "benchmark.json"
    if bench.exists():  # the watch model's rows out, as before `make small-final`
        b = json.loads(bench.read_text())
        b["models"] = [r for r in b["models"] if r["model"] != "small"]
        b["quantisation_targets"] = [r for r in b.get("quantisation_targets", [])
                                     if r["model"] != "small"]
        bench.write_text(json.dumps(b))
    monkeypatch.setenv("HAR_RESULTS_DIR", str(tmp_path))
    return tmp_path


def test_every_model_has_a_card_linked_from_the_deployment_page() -> None:
    assert {p.stem for p in CARDS.glob("*.md")} == set(model_cards.MODELS)
    page = (config.PROJECT_ROOT / "docs" / "deployment.md").read_text()
    for name in model_cards.MODELS:
        assert f"(model_cards/{name}.md)" in page


def test_the_paper_card_shows_the_evaluation_files_test_accuracy() -> None:
    ev = json.loads((config.COMMITTED_RESULTS_DIR / "evaluation_cnn_lstm_paper.json").read_text())
    text = docs.render(card("cnn_lstm_paper"), config.COMMITTED_RESULTS_DIR)
    shown = re.search(r"Test accuracy of the shipped model: \*\*(.+?)\*\*", text).group(1)
    assert shown == f"{100 * ev['test']['accuracy']:.2f} %"
    assert "subjects 9 (" in text and "Not yet produced" not in text


def test_a_card_without_its_results_says_how_to_produce_them(results: Path) -> None:
    text = docs.render(card("small"))
    assert "Not yet produced: run `make small`, then `make small-final`" in text
    assert "`results/small/summary.json`" in text
    assert "Test accuracy of the shipped model: **" in docs.render(card("cnn_lstm_paper"))
    index = model_cards.index_block(results)
    assert "not yet produced: run `make small`" in index


def test_the_watch_models_card_renders_from_a_summary_shaped_as_the_study_writes_it(
        results: Path) -> None:
    beyond = json.loads((results / "beyond" / "summary.json").read_text())
    row = beyond["tested"][beyond["chosen"]["name"]] | {"name": "w24_b3_k5", "ensemble_seeds": 1}
    chosen = {"name": "w24_b3_k5", "epochs": 80, "score_all_folds": 0.95, "shipped_seed": 0,
              "int8_bytes_untrained": 30000, "family": "watch", "model": "small_cnn",
              "train": {"augment": "rotation", "max_angle": 45.0, "standardize": True},
              "model_kwargs": {"filters": 24, "blocks": 3, "kernel_size": 5},
              "note": "24/48/48 filters, kernel 5", "round": "screen"}
    (results / "small").mkdir()
    (results / "small" / "summary.json").write_text(json.dumps(
        {"data": beyond["data"], "epoch_rule": "argmax", "size_limit_bytes": 32768,
         "chosen": chosen, "tested": row, "missing_finals": 0}))
    (results / "models" / "small.json").write_text(json.dumps(
        {"model": "small", "seed": 0, "epochs": 80, "test_accuracy": 0.9512,
         "data": beyond["data"]}))
    text = docs.render(card("small"))
    assert "Test accuracy of the shipped model (seed 0): **95.12 %**" in text
    assert "30,000 bytes (the limit: 32,768)" in text
    assert "File sizes and quantised accuracy: not measured yet (run `make deploy`)" in text
    assert "95.12 %" in model_cards.index_block(results)
