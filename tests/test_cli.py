"""The ``har`` command line: every command is listed, options reach the library functions, and
bad input gives a clear error (usage errors: exit 2). Nothing here trains or runs a notebook:
the library functions are replaced where a command would."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from har_studies import cli, pipeline
from har_utils import config, data, threads
from har_studies.experiments import cv, runner, zoo

COMMANDS = {(): ["run", "publish", "study", "publish-study", "readme", "predict", "cv", "beyond",
                 "small", "zoo", "ablations"],
            ("cv",): ["cost", "run", "summary"],
            ("beyond",): ["cost", "run", "summary", "export"],
            ("small",): ["cost", "run", "summary", "export"],
            ("zoo",): ["run", "summary"],
            ("ablations",): ["cost", "run", "summary"]}


def har(*args: str) -> Result:
    return CliRunner().invoke(cli.har, list(args))


def listed(help_text: str) -> list[str]:
    """The command names under ``Commands:`` in a help text, in order."""
    lines = help_text.split("Commands:\n", 1)[1].splitlines()
    return [line.split()[0] for line in lines if line.startswith("  ") and line.strip()]


@pytest.mark.parametrize("group", list(COMMANDS), ids=lambda g: " ".join(("har", *g)))
def test_help_lists_every_command_in_order(group: tuple[str, ...]) -> None:
    r = har(*group, "--help")
    assert r.exit_code == 0, r.output
    assert listed(r.stdout) == COMMANDS[group]
    assert "-h, --help" in r.stdout


def test_group_help_is_the_module_docstring() -> None:
    assert "``best_on_test``" in har("zoo", "--help").stdout
    assert "GroupKFold" in har("cv", "--help").stdout
    assert "har ablations run --stage final" in har("ablations", "-h").stdout


def test_every_command_has_help() -> None:
    def walk(cmd: click.Command, path: tuple[str, ...]) -> None:
        r = har(*path, "--help")
        assert r.exit_code == 0 and "Usage: har" in r.stdout, (path, r.output)
        assert cmd.help, path
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, (*path, name))
    walk(cli.har, ())


def test_lazy_defaults_are_what_the_help_says() -> None:
    """Option defaults read from a study module are shown as text: the text is the value."""
    shown = {}
    for group in cli.har.commands.values():
        for cmd in getattr(group, "commands", {}).values():
            for p in cmd.params:
                if callable(p.default) and isinstance(p.show_default, str):
                    shown[(group.name, cmd.name, p.name)] = (str(p.default()), p.show_default)
    assert shown[("zoo", "run", "seeds")][0] == ",".join(map(str, zoo.SEEDS))
    assert shown[("cv", "run", "models")][0] == ",".join(cv.MODELS)
    for (g, c, p), (value, text) in shown.items():
        if not text.startswith("every"):
            assert value == text, (g, c, p)


def test_the_script_is_declared() -> None:
    doc = tomllib.loads((config.PROJECT_ROOT / "pyproject.toml").read_text())
    assert doc["project"]["scripts"]["har"] == "har_studies.cli:main"
    assert cli.main is cli.har


# --- the notebooks -------------------------------------------------------------------------

def test_run_passes_its_options(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Any] = []
    monkeypatch.setattr(pipeline, "run", lambda *a, **k: calls.append((a, k)))
    monkeypatch.setattr(pipeline, "run_study", lambda *a, **k: calls.append((a, k)))
    monkeypatch.delenv("PROFILE", raising=False)
    assert har("run").exit_code == 0
    assert har("run", "01_data", "03_model", "--profile", "smoke", "--force",
               "--timeout", "5").exit_code == 0
    monkeypatch.setenv("PROFILE", "smoke")
    assert har("run").exit_code == 0
    assert har("study", "07_ablations", "--profile", "ablations_smoke").exit_code == 0
    assert calls == [(([], "paper"), {"force": False, "timeout": 3600}),
                     ((["01_data", "03_model"], "smoke"), {"force": True, "timeout": 5}),
                     (([], "smoke"), {"force": False, "timeout": 3600}),
                     (("07_ablations", "ablations_smoke"), {"force": False, "timeout": None})]


def test_unknown_profile_and_notebook_are_clear_errors() -> None:
    r = har("run", "--profile", "nope")
    assert r.exit_code == 2 and "nope.yml: no such profile" in r.stderr and "Fix:" in r.stderr
    assert "Traceback" not in r.output
    r = har("run", "99_nope", "--profile", "smoke")
    assert r.exit_code == 2 and "unknown notebook(s) ['99_nope']" in r.stderr
    r = har("study", "01_data", "--profile", "smoke")
    assert r.exit_code == 2 and "'01_data' is not one of '07_ablations'" in r.stderr
    r = har("study", "07_ablations")
    assert r.exit_code == 2 and "Missing option '--profile'" in r.stderr
    r = har("publish-study", "07_ablations", "--profile", "smoke")
    assert r.exit_code == 2 and "'smoke' is not one of 'ablations', 'deploy'" in r.stderr
    r = har("publish-study", "07_ablations", "--profile", "deploy")
    assert r.exit_code == 2 and "not a full study run" in r.stderr


def test_readme_check_exits_1_when_a_file_is_out_of_date(monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    from har_studies.reporting import docs
    written: list[bool] = []

    def render_files(write: bool = True) -> list[Path]:
        written.append(write)
        return [config.PROJECT_ROOT / "README.md"]
    monkeypatch.setattr(docs, "render_files", render_files)
    r = har("readme", "--check")
    assert r.exit_code == 1 and "out of date: README.md" in r.stdout
    r = har("readme")
    assert r.exit_code == 0 and "updated: README.md" in r.stdout
    monkeypatch.setattr(docs, "render_files", lambda write=True: [])
    assert har("readme", "--check").exit_code == 0
    assert written == [False, True]


# --- the studies ---------------------------------------------------------------------------

@pytest.fixture
def no_data(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """``data.load_dataset`` records its source instead of loading."""
    sources: list[str] = []
    monkeypatch.setattr(data, "load_dataset", lambda source="auto", **_k: sources.append(source))
    return sources


def test_cv_run_check_exits_1_while_a_planned_run_is_missing(
        monkeypatch: pytest.MonkeyPatch, no_data: list[str]) -> None:
    calls: list[Any] = []
    missing = ["cnn_lstm_paper: 1 of 2 folds"]
    monkeypatch.setattr(cv, "run_models", lambda models, ds, **k: calls.append((models, k))
                        or {"cnn_lstm_paper": {"rule": "r", "epochs": 7},
                            "logreg_features": {"rule": "r", "C": 0.1}})
    monkeypatch.setattr(cv, "write_summary", lambda ds, models=cv.MODELS, smoke=False:
                        calls.append((list(models), smoke)) or {"missing": missing})
    from har_studies.experiments import scheduler

    dialled: list[Any] = []
    monkeypatch.setattr(scheduler, "scheduler_problem", lambda address: dialled.append(
        address) or None)  # a scheduler that answers Dask's handshake
    args = ["cv", "run", "--smoke", "--models", "cnn_lstm_paper,logreg_features",
            "--workers", "2", "--scheduler", "tcp://h:8786", "--source", "hapt"]
    r = har(*args)
    assert r.exit_code == 0, r.output
    assert "[cv] cnn_lstm_paper: r: 7 epochs" in r.stdout and "C = 0.1" in r.stdout
    assert har(*args, "--check").exit_code == 1
    missing[:] = ["cnn: 3 of 3 folds"]  # another model's gap does not count
    assert har(*args, "--check").exit_code == 0
    assert calls[0] == (["cnn_lstm_paper", "logreg_features"],
                        {"smoke": True, "stage": "all", "workers": 2, "scheduler": "tcp://h:8786"})
    assert calls[1] == (["cnn_lstm_paper", "logreg_features"], True)
    assert no_data == ["hapt"] * 3 and dialled[0] == "tcp://h:8786"
    r = har("cv", "run", "--models", "cnn_lstm_paper,resnet_nope")
    assert r.exit_code == 2 and "unknown model(s) ['resnet_nope']" in r.stderr
    assert no_data == ["hapt"] * 3  # checked before any data is loaded


def test_zoo_run_passes_its_options(monkeypatch: pytest.MonkeyPatch, no_data: list[str],
                                    tmp_path: Path) -> None:
    calls: list[Any] = []
    monkeypatch.setattr(threads, "available_cores", lambda: 4)  # --workers 2 on any machine
    monkeypatch.setattr(zoo, "run", lambda ds, seeds, **k: calls.append((seeds, k)))
    monkeypatch.setattr(zoo, "write_summary", lambda ds: tmp_path / "summary.json")
    assert har("zoo", "run").exit_code == 0
    assert har("zoo", "run", "--seeds", "3,4", "--workers", "2", "--force").exit_code == 0
    assert calls == [([0, 1, 2], {"workers": 1, "scheduler": None, "force": False}),
                     ([3, 4], {"workers": 2, "scheduler": None, "force": True})]
    for retired in ("--protocols", "--models"):
        r = har("zoo", "run", retired, "subjects")
        assert r.exit_code == 2 and f"No such option '{retired}'" in r.stderr
    r = har("zoo", "run", "--seeds", "0,x")
    assert r.exit_code == 2 and "not a comma list of integers" in r.stderr


def test_ablations_errors(no_data: list[str], monkeypatch: pytest.MonkeyPatch,
                          tmp_path: Path) -> None:
    r = har("ablations", "run", "--stage", "test")
    assert r.exit_code == 2 and "'test' is not one of" in r.stderr
    monkeypatch.setenv("HAR_RESULTS_DIR", str(tmp_path))
    r = har("ablations", "run", "--stage", "final")
    assert r.exit_code == 2 and "no choice yet" in r.stderr
    assert "Fix: run the select stage" in r.stderr
    assert no_data == []


def test_source_is_checked() -> None:
    r = har("zoo", "summary", "--source", "kaggle")
    assert r.exit_code == 2 and "'kaggle' is not one of 'auto', 'uci', 'hapt'" in r.stderr


def test_predict_names_the_missing_file(tmp_path: Path) -> None:
    r = har("predict", str(tmp_path / "nope.csv"))
    assert r.exit_code == 2 and r.stdout == ""
    assert r.stderr.startswith(f"error: {tmp_path / 'nope.csv'}: recording not found")


@pytest.mark.parametrize("module", ["har_studies", "har_studies.cli"])
def test_module_entry_points_run_the_same_commands(module: str) -> None:
    r = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True,
                       timeout=120, cwd=config.PROJECT_ROOT)
    assert r.returncode == 0, r.stderr
    assert f"Usage: python -m {module}" in r.stdout and "Commands:" in r.stdout
