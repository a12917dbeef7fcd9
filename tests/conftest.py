"""Shared fixtures: every test gets its own data and results folders and no network."""

from __future__ import annotations

from pathlib import Path

import pytest

# Every experiment run says how many TensorFlow threads it trains with (``Run.threads``, 1 by
# default) and refuses a process whose TensorFlow already runs with another count. Tests run
# some of them in this process: set the count before any test starts TensorFlow.
from har_utils.threads import configure_threads  # noqa: E402

configure_threads(1)


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point data, results and figures at a temporary folder; forbid the network."""
    monkeypatch.setenv("HAR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HAR_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.setenv("HAR_FIGURES_DIR", str(tmp_path / "figures"))
    monkeypatch.setenv("HAR_OFFLINE", "1")
    monkeypatch.delenv("HAR_UCI_ZIP", raising=False)
    return tmp_path
