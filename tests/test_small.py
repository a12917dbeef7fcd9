"""The watch-model study on synthetic data: the size limit keeps a candidate out of training,
the choice is written from fold runs only, the finals test it, and the recipe is the beyond
study's committed choice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from har_utils import config
from har_studies.experiments import small

from synthetic_uci import synthetic_dataset


def test_the_recipe_is_the_beyond_studys_committed_choice() -> None:
    chosen = json.loads((config.COMMITTED_RESULTS_DIR / "beyond" / "choice.json").read_text())
    assert small.RECIPE == chosen["chosen"]["train"]


def test_every_candidate_is_a_valid_fold_run_and_names_are_unique() -> None:
    cands = small.candidates(small.Plan())
    assert len({c.name for c in cands}) == len(cands)
    for c in cands:
        for r in small.fold_runs(c, small.Plan(), [0]):
            assert not r.test and r.val_subjects  # a fold run never sees the test subjects
            r.train_config()


@pytest.mark.slow
def test_a_candidate_over_the_size_limit_is_reported_not_trained(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAR_RESULTS_DIR", str(tmp_path / "results"))
    ds = synthetic_dataset(per_subject=12)
    first, second = small.SMOKE.only
    sizes = {first: 1000, second: small.SIZE_LIMIT_BYTES + 1}
    doc = small.write_choice(ds, small.SMOKE, train=True, sizes=sizes, ship_data=True,
                             backup_root=tmp_path / "b")
    over = doc["candidates"][second]
    assert not over["fits"] and "screen" not in over and "all" not in over
    assert doc["chosen"]["name"] == first and doc["confirmed"] == [first]
    assert len(doc["candidates"][first]["all"]["folds"]) == 7
    # the finals of the committed choice: tested once, summarised
    out = small.run(ds, small.SMOKE, stage="final", ship_data=True, backup_root=tmp_path / "b")
    assert out["tested"]["n"] == small.SMOKE.final_seeds and out["missing_finals"] == 0
    assert json.loads(small.summary_path().read_text())["tested"]["name"] == first


@pytest.mark.parametrize("study", ["small", "beyond"])
def test_the_final_stage_needs_a_committed_choice(study: str, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Missing or choosing nothing, the choice file is refused with the project's error, which
    names the file and the command that writes it."""
    from har_studies.experiments import beyond
    from har_utils.io import HarError

    module = {"small": small, "beyond": beyond}[study]
    monkeypatch.setenv("HAR_RESULTS_DIR", str(tmp_path / "results"))
    for content in (None, {"chosen": None, "missing": ["a fold run"]}):
        if content is not None:
            module.choice_path().parent.mkdir(parents=True, exist_ok=True)
            module.choice_path().write_text(json.dumps(content))
        with pytest.raises(HarError, match=f"choice.json: no choice yet(.|\n)*har {study} run"):
            module.run(synthetic_dataset(), module.SMOKE, stage="final")
