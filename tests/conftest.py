"""Shared fixtures: every test gets its own data and results folders and no network."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point data, results and figures at a temporary folder; forbid the network."""
    monkeypatch.setenv("HAR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HAR_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.setenv("HAR_FIGURES_DIR", str(tmp_path / "figures"))
    monkeypatch.setenv("HAR_OFFLINE", "1")
    monkeypatch.delenv("HAR_UCI_ZIP", raising=False)
    return tmp_path
