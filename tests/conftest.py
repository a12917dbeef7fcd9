"""Shared fixtures: every test gets its own data and results folders and no network.

The project trains on JAX and exports with TensorFlow, and one process runs Keras on one
backend: ``pytest tests`` runs everything but the deployment tests on JAX (the backend
``import har_utils`` sets), and ``KERAS_BACKEND=tensorflow pytest <TENSORFLOW_TESTS>`` runs
those (``make test`` runs both; the summary says when they were left out)."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

# Every experiment run says how many TensorFlow threads it trains with (``Run.threads``, 1 by
# default) and refuses a process whose TensorFlow already runs with another count. Tests run
# some of them in this process: set the count before any test starts TensorFlow.
from har_utils import backend  # noqa: E402
from har_utils.threads import configure_threads  # noqa: E402


def pytest_configure(config: pytest.Config) -> None:
    """One compute thread per test process. Under pytest-xdist (``make test``) the controller,
    which runs no test, keeps every core: its workers start from its CPU affinity and each
    claims a core of its own (har_utils.threads), instead of all sharing the controller's."""
    controller = bool(getattr(config.option, "numprocesses", None)) and \
        "PYTEST_XDIST_WORKER" not in os.environ
    if not controller:
        configure_threads(1)

#: The test modules of the deployment study, which runs Keras on TensorFlow.
TENSORFLOW_TESTS: tuple[str, ...] = ("test_deploy.py", "test_predict.py")
collect_ignore = [] if backend.current() == "tensorflow" else list(TENSORFLOW_TESTS)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if collect_ignore:
        terminalreporter.write_line(
            f"not collected on the {backend.current()} backend: {', '.join(collect_ignore)} "
            "(the deployment study runs on TensorFlow: KERAS_BACKEND=tensorflow pytest "
            + " ".join(f"tests/{t}" for t in collect_ignore) + "; make test runs both)")


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point data, results and figures at a temporary folder; forbid the network."""
    monkeypatch.setenv("HAR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HAR_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.setenv("HAR_FIGURES_DIR", str(tmp_path / "figures"))
    monkeypatch.setenv("HAR_OFFLINE", "1")
    monkeypatch.delenv("HAR_UCI_ZIP", raising=False)
    return tmp_path


@pytest.fixture(scope="session")
def committed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The committed results/, figures/, README.md and docs/ (git HEAD) in a temporary folder,
    for the tests that check they agree with one another. `make reproduce` rewrites results/
    and figures/ in the working tree before `make publish`; `make test` after it must still
    pass. Outside a git checkout (an unpacked archive): the project itself."""
    from har_utils import config

    out = tmp_path_factory.mktemp("committed")
    r = subprocess.run(["git", "-C", str(config.PROJECT_ROOT), "archive", "HEAD", "results",
                        "figures", "README.md", "docs"], capture_output=True)
    if r.returncode != 0:
        return config.PROJECT_ROOT
    with tarfile.open(fileobj=io.BytesIO(r.stdout)) as tar:
        tar.extractall(out, filter="data")
    return out


@pytest.fixture(scope="session", autouse=True)
def jax_compile_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """JAX's persistent compilation cache (``make test``: ``build/jax_cache``, shared by its test
    processes and notebook kernels; else a folder of this session), for this process and
    the processes it starts (local and Dask workers, runner subprocesses: through the
    environment). Every run builds a new Keras model, and JAX compiled each one's train,
    test and predict steps again (most of a small run's seconds); a model compiled once is
    now read back. Only compiling is cached: the executable of the same program, so results
    are the same bits; a cache that cannot be read is compiled again, as before."""
    import jax
    from jax.experimental.compilation_cache import compilation_cache

    if os.environ.get("JAX_COMPILATION_CACHE_DIR"):  # set by make test for every tier
        yield Path(os.environ["JAX_COMPILATION_CACHE_DIR"])
        return
    path = tmp_path_factory.mktemp("jax_compile_cache")
    settings = {"jax_compilation_cache_dir": str(path),
                "jax_persistent_cache_min_compile_time_secs": 0.0,
                "jax_persistent_cache_min_entry_size_bytes": 0}
    before = {name: getattr(jax.config, name) for name in settings}
    with pytest.MonkeyPatch.context() as mp:
        for name, value in settings.items():
            mp.setenv(name.upper(), str(value))
            jax.config.update(name, value)
        compilation_cache.reset_cache()  # a process that compiled already checks it again
        yield path
        for name, value in before.items():
            jax.config.update(name, value)
        compilation_cache.reset_cache()
