"""Profiles are checked before any notebook runs: each bad value names the profile file, the
notebook, the parameter, the value and what is allowed (unit tier: no notebook runs)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from har_studies import pipeline
from har_studies import constants
from har_utils import config
from har_utils.io import HarError


def write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, profile: object) -> Path:
    monkeypatch.setattr(config, "PARAMS_DIR", tmp_path)
    path = tmp_path / "bad.yml"
    path.write_text(profile if isinstance(profile, str) else yaml.safe_dump(profile))
    return path


@pytest.mark.parametrize("section, name, value, allowed", [
    ("04_training", "EPOCHS", "abc", "an integer"),
    ("04_training", "EPOCHS", 0, ">= 1"),
    ("04_training", "EPOCHS", 2.5, "an integer"),
    ("04_training", "TRAIN", 1, "true or false"),
    ("03_model", "DROPOUT", 1.5, "up to (not including) 1"),
    ("03_model", "CHANNELS", "body_magnetometer", "'all' or a comma list of sensors"),
    ("04_training", "LEARNING_RATE", 0, "> 0"),
    ("03_model", "MODEL", "no_such_model", "a registered model: cnn"),
    ("03_model", "N_SUBSEQUENCES", 3, "a divisor of the window's 128 samples"),
    ("01_data", "N_VALIDATION_SUBJECTS", 0, "from 1 to 20"),
    ("common", "SOURCE", "official", "one of ['auto', 'uci', 'hapt']"),
    ("02_eda_tsne", "PERPLEXITY", "thirty", "a number"),
])
def test_a_bad_value_names_file_notebook_parameter_value_and_what_is_allowed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, section: str, name: str,
        value: object, allowed: str) -> None:
    path = write(tmp_path, monkeypatch, {section: {name: value}})
    notebook = section if section != "common" else "01_data"
    with pytest.raises(HarError) as err:
        pipeline.notebook_params("bad", notebook)
    text = str(err.value)
    assert err.value.path == path and str(path) in text
    assert f"notebook {notebook}" in text and name in text and repr(value) in text
    assert allowed in text, text


@pytest.mark.parametrize("value", [0, -1])
def test_threads_takes_1_to_the_cores_available(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                value: int) -> None:
    """THREADS: 0 used to fail after notebook 03 (OSError 22, an empty CPU set); -1 ran and
    the notebook blamed the backend. Both stop before the first notebook; so does one core too
    many, and every count from 1 to the cores available passes."""
    from har_utils.threads import available_cores, configure_threads

    cores = available_cores()
    for bad in (value, cores + 1):
        path = write(tmp_path, monkeypatch, {"04_training": {"THREADS": bad}})
        with pytest.raises(HarError) as err:
            pipeline.notebook_params("bad", "04_training")
        text = str(err.value)
        assert err.value.path == path and f"notebook 04_training: THREADS: {bad!r}" in text
        assert f"THREADS takes from 1 to the cores this process may use ({cores})" in text, text
    for good in (1, cores):
        write(tmp_path, monkeypatch, {"04_training": {"THREADS": good}})
        assert pipeline.notebook_params("bad", "04_training") == {"THREADS": good}
    with pytest.raises(ValueError, match=f"threads must be at least 1 .* not {value}"):
        configure_threads(value)  # a notebook run by hand: refused before the CPU set is touched


def test_a_good_value_passes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, monkeypatch, {"common": {"SEED": 3}, "03_model": {"DROPOUT": 0.25, "MODEL": "cnn_lstm_k7"},
                                  "04_training": {"EPOCHS": 5, "LEARNING_RATE": 1}})
    assert pipeline.notebook_params("bad", "04_training") == {"SEED": 3, "EPOCHS": 5, "LEARNING_RATE": 1}
    assert pipeline.notebook_params("bad", "03_model") == {"DROPOUT": 0.25, "MODEL": "cnn_lstm_k7"}


@pytest.mark.parametrize("profile, problem", [
    ({"04_trianing": {"EPOCHS": 2}}, "unknown section(s) ['04_trianing']"),
    ({"common": {"EPOCS": 2}}, "common: no notebook has parameter(s) ['EPOCS']"),
    ({"04_training": {"EPOCS": 2}}, "notebook 04_training has no parameter EPOCS"),
    ({"04_training": {"EPOCHS": [1, 2]}}, "parameters must be scalars"),
    ({"04_training": ["EPOCHS"]}, "section 04_training is not a mapping"),
    ("- a\n- b\n", "a profile is a mapping of sections"),
    ("common: {SEED: 0\n", "not valid YAML"),
])
def test_an_unknown_or_malformed_entry_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              profile: object, problem: str) -> None:
    path = write(tmp_path, monkeypatch, profile)
    with pytest.raises(HarError) as err:
        pipeline.notebook_params("bad", "04_training")
    assert str(path) in str(err.value) and problem in str(err.value), str(err.value)
    assert "Fix: " in str(err.value)


def test_every_parameter_of_every_notebook_has_a_rule_or_a_type_only() -> None:
    """Every committed profile passes; each rule names a parameter some notebook declares
    (a renamed parameter would leave its rule behind)."""
    from har_studies import profiles

    notebooks = pipeline.notebook_names() + list(constants.STUDY_NOTEBOOKS)
    declared = set().union(*(pipeline.declared_parameters(n) for n in notebooks))
    assert set(profiles.RULES) <= declared, set(profiles.RULES) - declared
    for path in sorted(config.PARAMS_DIR.glob("*.yml")):
        prof = pipeline.load_profile(path.stem)
        for nb in notebooks:
            if nb in prof or nb in pipeline.notebook_names():
                pipeline.notebook_params(path.stem, nb)


def test_a_value_set_for_one_run_replaces_the_profiles_and_is_checked(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``har run --set 04_training.TRAIN=false`` (``HAR_SET``): the run's value, checked."""
    write(tmp_path, monkeypatch, {"04_training": {"EPOCHS": 5}})
    monkeypatch.setenv("HAR_SET", "04_training.TRAIN=false;04_training.EPOCHS=7")
    assert pipeline.notebook_params("bad", "04_training") == {"EPOCHS": 7, "TRAIN": False}
    monkeypatch.setenv("HAR_SET", "04_training.EPOCHS=0")
    with pytest.raises(HarError, match="EPOCHS: 0 is not allowed"):
        pipeline.notebook_params("bad", "04_training")
    monkeypatch.setenv("HAR_SET", "EPOCHS=3")
    with pytest.raises(HarError, match="is not NOTEBOOK.NAME=VALUE"):
        pipeline.notebook_params("bad", "04_training")


def test_a_run_with_set_values_is_published_with_them(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """``har run --set`` records its values in the run's manifest (``set``), and ``har publish``
    checks the run against them: without them, 04 and what reads it would be out of date."""
    monkeypatch.setattr(config, "BUILD_DIR", tmp_path / "build")
    monkeypatch.delenv("HAR_SET", raising=False)
    given = "04_training.TRAIN=false"
    plain, with_set = pipeline.chain_hashes("paper", ""), pipeline.chain_hashes("paper", given)
    assert {n for n in plain if plain[n] != with_set[n]} == {
        "04_training", "05_evaluation", "06_comparison"}
    build = tmp_path / "build" / "paper"
    build.mkdir(parents=True)
    for name in pipeline.notebook_names():
        (build / f"{name}.ipynb").write_text("{}")
    manifest = {"run_id": "r1", "set": given,
                "notebooks": {n: {"input_hash": h} for n, h in with_set.items()}}
    (build / "manifest.json").write_text(json.dumps(manifest))
    written: dict[str, object] = {}
    monkeypatch.setattr(pipeline, "_write_published",
                        lambda src, dest, *args: written.setdefault(dest.name, src))
    monkeypatch.setattr(pipeline, "write_json_atomic",
                        lambda path, obj: written.setdefault(Path(path).name, obj))
    pipeline.publish("paper")
    assert len(written) == len(pipeline.notebook_names()) + 1
    assert written["manifest.json"]["set"] == given  # type: ignore[index]
    manifest["set"] = ""  # the same run, its values forgotten
    (build / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(HarError, match=r"out of date for \['04_training', '05_evaluation', "
                                       r"'06_comparison'\]"):
        pipeline.publish("paper")
