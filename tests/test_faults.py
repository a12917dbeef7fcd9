"""The fault suite: bad input and faults a user or an operator meets, each ending in a clear
message with its fix (exit status 2, no traceback) or healed. docs/reliability.md lists every
case with the test that checks it; the last test here keeps that table true.

Unit tier: synthetic data and temporary folders, seconds each (one runs a real notebook through
papermill, about 10 s)."""

from __future__ import annotations

import ast
import re
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from har_studies import cli, pipeline
from har_utils import config, threads, training
from har_studies.experiments import runner, scheduler
from har_utils.io import HarError
from synthetic_uci import synthetic_dataset


def har(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli.har, list(args), env=env)


def clean_error(r: Result, *needles: str) -> None:
    """Exit status 2, the message and its fix on standard error, no traceback."""
    assert r.exit_code == 2, (r.exit_code, r.output, r.exception)
    assert "Traceback" not in r.output and 'File "' not in r.output, r.output
    for needle in needles:
        assert needle in r.stderr, (needle, r.stderr)


# --- the data source ----------------------------------------------------------------------

@pytest.fixture
def random_zip(tmp_path: Path) -> Path:
    path = tmp_path / "random.zip"
    path.write_bytes(bytes(range(256)) * 400)
    return path


def test_a_uci_zip_of_random_bytes(random_zip: Path) -> None:
    r = har("cv", "summary", env={"HAR_UCI_ZIP": str(random_zip)})
    clean_error(r, f"error: {random_zip}: checksum mismatch", "Fix: delete it and download")


def test_a_uci_zip_that_does_not_exist(tmp_path: Path) -> None:
    r = har("zoo", "summary", env={"HAR_UCI_ZIP": str(tmp_path / "nope.zip")})
    clean_error(r, "HAR_UCI_ZIP points at a file that does not exist", "Fix: correct HAR_UCI_ZIP")


def test_debug_shows_the_traceback(random_zip: Path) -> None:
    for args, env in ((["--debug", "cv", "summary"], {}), (["cv", "summary"], {"HAR_DEBUG": "1"})):
        r = har(*args, env={"HAR_UCI_ZIP": str(random_zip), **env})
        assert isinstance(r.exception, HarError) and "checksum mismatch" in str(r.exception)


def test_relative_path_settings_are_taken_from_the_project_root_wherever_it_runs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A relative HAR_DATA_DIR once landed in notebooks/ (the kernel's working folder): every
    reader goes through config.path_setting, and the kernel gets absolute paths."""
    from har_utils.data import hapt, uci

    monkeypatch.chdir(tmp_path)  # neither the project root nor notebooks/
    settings = {"HAR_DATA_DIR": "mydata", "HAR_RESULTS_DIR": "myresults",
                "HAR_FIGURES_DIR": "myfigures", "HAR_UCI_ZIP": "mydata/uci.zip",
                "HAR_HAPT_PKL": "mydata/HAPT.pkl.gz"}
    assert set(settings) == set(config.PATH_SETTINGS)
    for variable, value in settings.items():
        monkeypatch.setenv(variable, value)
    root = config.PROJECT_ROOT
    assert config.data_dir() == root / "mydata" and config.cache_dir() == root / "mydata" / "cache"
    assert config.raw_dir() == root / "mydata" / "raw"
    assert config.results_dir() == config.reported_results_dir() == root / "myresults"
    assert config.figures_dir() == root / "myfigures"
    for read in (uci.find_local_zip, hapt.locate_resource):  # the files do not exist
        with pytest.raises(HarError) as err:
            read()
        assert err.value.path in (root / "mydata" / "uci.zip", root / "mydata" / "HAPT.pkl.gz")
    env = pipeline.kernel_env("smoke")
    assert all(Path(env[v]).is_absolute() for v in config.PATH_SETTINGS)
    assert env["HAR_DATA_DIR"] == str(root / "mydata")
    assert env["HAR_UCI_ZIP"] == str(root / "mydata" / "uci.zip")
    assert env["HAR_RESULTS_DIR"] == str(pipeline.output_dirs("smoke")["results"])
    assert list(tmp_path.iterdir()) == []


# --- arguments, checked before anything starts --------------------------------------------

@pytest.mark.parametrize("args", [["cv", "run"], ["zoo", "run"], ["ablations", "run"],
                                  ["beyond", "run"]])
def test_workers_below_one(args: list[str]) -> None:
    clean_error(har(*args, "--workers", "0"), "Invalid value for '--workers'", "x>=1")


@pytest.mark.parametrize("args", [["cv", "run"], ["zoo", "run"], ["ablations", "run"],
                                  ["beyond", "run"]])
def test_workers_above_the_cores(args: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """More local workers than cores: a usage error saying how many there are, before the
    data loads; a Dask cluster's workers (--scheduler) are not counted here."""
    n = threads.available_cores()
    monkeypatch.setattr(cli, "load", lambda source: pytest.fail("started"))
    clean_error(har(*args, "--workers", str(n + 1)), "Invalid value for '--workers'",
                f"{n + 1} local workers, but this machine has {n} CPU core(s)",
                f"give at most --workers {n}")
    cli.check_workers(n, None)  # as many as the cores: fine
    cli.check_workers(n + 1, "tcp://127.0.0.1:8786")  # remote workers: the cluster's cores


def test_a_scheduler_address_that_does_not_parse() -> None:
    clean_error(har("cv", "run", "--scheduler", "foo"), "'foo' is not a scheduler address",
                "tcp://127.0.0.1:8786")


def test_an_unreachable_scheduler_fails_within_seconds() -> None:
    t0 = time.perf_counter()
    r = har("zoo", "run", "--scheduler", "tcp://127.0.0.1:1")
    clean_error(r, "no Dask scheduler answers at tcp://127.0.0.1:1", "dask scheduler --port 8786",
                "leave out --scheduler")
    assert time.perf_counter() - t0 < scheduler.SCHEDULER_CONNECT_SECONDS + 5


@pytest.fixture
def web_server() -> Iterator[str]:
    """An HTTP server on a free port (what listens on a Dask dashboard's port)."""
    class Quiet(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"<html>dashboard</html>")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield f"tcp://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A server that accepts connections and never writes a byte."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    yield f"tcp://127.0.0.1:{listener.getsockname()[1]}"
    listener.close()
    for conn in accepted:
        conn.close()


def test_a_web_server_as_scheduler_is_named_within_seconds(
        web_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Dask's own client reads an HTTP reply as a 3 EiB message length; the check names it."""
    monkeypatch.setattr(scheduler, "SCHEDULER_CONNECT_SECONDS", 0.5)  # the test's wait
    t0 = time.perf_counter()
    r = har("cv", "run", "--smoke", "--scheduler", web_server)
    clean_error(r, f"{web_server} is a web server", "'HTTP/1.0 200 OK'", "not a Dask scheduler",
                "usually listens on 8786", "dask scheduler --port 8786")
    assert time.perf_counter() - t0 < scheduler.SCHEDULER_CONNECT_SECONDS + 5
    assert "8787 is the Dask dashboard's port; the scheduler is usually 8786" in \
        scheduler.ports_hint(8787)


def test_a_silent_server_as_scheduler_fails_within_seconds(
        silent_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Dask's own client waits for ever on a peer that accepts and never answers."""
    monkeypatch.setattr(scheduler, "SCHEDULER_CONNECT_SECONDS", 0.3)  # the test's waits
    monkeypatch.setattr(scheduler, "WEB_PROBE_SECONDS", 0.1)
    t0 = time.perf_counter()
    r = har("cv", "run", "--smoke", "--scheduler", silent_server)
    clean_error(r, f"{silent_server} accepts connections but gave no Dask handshake within 0.3 s",
                "not a Dask scheduler", "dask scheduler --port 8786")
    assert time.perf_counter() - t0 < scheduler.SCHEDULER_CONNECT_SECONDS + 5


@pytest.mark.parametrize("greeting, found", [
    (b"SSH-2.0-OpenSSH_9.6\r\n", "answers, but not as a Dask scheduler (its reply begins "
                                  "'SSH-2.0-OpenSSH_9.6')"),
    (b"", "closed the connection during Dask's handshake"),  # an end of file or a reset
])
def test_another_protocol_or_a_closed_door_at_the_scheduler_address(greeting: bytes,
                                                                    found: str) -> None:
    """A peer that sends its own greeting (read as a length of petabytes: refused unread) or
    closes at once is named at once, with the usual ports."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn = listener.accept()[0]
        conn.sendall(greeting)
        conn.close()

    threading.Thread(target=serve, daemon=True).start()
    address = f"tcp://127.0.0.1:{listener.getsockname()[1]}"
    t0 = time.perf_counter()
    problem = scheduler.scheduler_problem(address)
    listener.close()
    assert problem and problem.startswith(f"{address} {found}"), problem
    assert "a Dask scheduler usually listens on 8786" in problem
    assert time.perf_counter() - t0 < 1


def test_a_dask_scheduler_passes_the_check_its_worker_and_dashboard_do_not() -> None:
    from urllib.parse import urlsplit

    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp",
                      dashboard_address="127.0.0.1:0") as cluster:
        assert scheduler.scheduler_problem(cluster.scheduler_address) is None
        worker = next(iter(cluster.scheduler_info["workers"]))
        as_worker = scheduler.scheduler_problem(worker)
        dashboard = f"tcp://127.0.0.1:{urlsplit(cluster.dashboard_link).port}"
        as_dashboard = scheduler.scheduler_problem(dashboard, seconds=0.5)
    assert as_worker and f"{worker} is a Dask Worker, not a scheduler" in as_worker
    assert as_dashboard and f"{dashboard} is a web server" in as_dashboard, as_dashboard


# --- profiles, checked before any notebook runs --------------------------------------------

@pytest.mark.parametrize("section, name, value, allowed", [
    ("04_training", "EPOCHS", "abc", "EPOCHS takes an integer"),
    ("04_training", "EPOCHS", 0, "EPOCHS takes >= 1"),
    ("03_model", "MODEL", "no_such_model", "MODEL takes a registered model"),
    ("04_training", "EPOCS", 3, "use one of"),
])
def test_a_bad_profile_stops_before_the_first_notebook(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, section: str, name: str, value: object,
        allowed: str) -> None:
    monkeypatch.setattr(config, "PARAMS_DIR", tmp_path)
    (tmp_path / "bad.yml").write_text(yaml.safe_dump({section: {name: value}}))
    started: list[str] = []
    monkeypatch.setattr(pipeline, "run_notebook", lambda *a, **k: started.append(a[0]))
    r = har("run", "--profile", "bad")
    clean_error(r, f"{tmp_path / 'bad.yml'}: notebook {section}", name, allowed)
    assert started == []


# --- the results store ---------------------------------------------------------------------

def test_an_unwritable_store_stops_before_training(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "afile").write_text("")
    monkeypatch.setenv("HAR_RESULTS_DIR", str(tmp_path / "afile" / "results"))
    trained: list[str] = []
    monkeypatch.setattr(runner, "guarded_run", lambda key, *a: trained.append(key))
    ds = synthetic_dataset()
    run = runner.Run("tiny_cnn", 0, 1, (1, 3), (5,), name="tiny")
    with pytest.raises(HarError, match="cannot write in this folder") as err:
        runner.execute([run], ds, ship_data=True, backup_root=tmp_path / "backup")
    assert "Fix: make it a writable folder" in str(err.value) and trained == []


def test_a_smoke_run_never_writes_the_committed_results(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`har cv run --smoke` without HAR_RESULTS_DIR overwrote results/cv/choice.json and the
    summaries: a smoke run writes build/<study>_smoke/results unless HAR_RESULTS_DIR names a
    folder (the Makefile's published targets name results/)."""
    from har_studies.experiments import cv

    monkeypatch.delenv("HAR_RESULTS_DIR")
    monkeypatch.setattr(config, "BUILD_DIR", tmp_path / "build")
    committed = config.COMMITTED_RESULTS_DIR
    files = [p for d in (committed, committed / "cv", committed / "zoo")
             for p in d.glob("*.json")]
    before = {p: p.stat().st_mtime_ns for p in files}
    seen: list[Path] = []

    def planned(models: list[str], ds: object, **kw: object) -> dict:
        seen.append(config.results_dir())
        if seen[-1].resolve().is_relative_to(committed.resolve()):  # stop before any write
            raise AssertionError(f"a smoke run would write {seen[-1]}")
        return {}

    monkeypatch.setattr(cv, "run_models", planned)
    monkeypatch.setattr(cli, "load", lambda source: synthetic_dataset())
    r = har("cv", "run", "--smoke", "--models", "tiny_cnn")
    assert r.exit_code == 0, (r.output, r.exception)
    assert seen == [tmp_path / "build" / "cv_smoke" / "results"]
    assert (seen[0] / "cv" / "summary.json").exists() and "smoke run: results go to" in r.stderr
    assert {p: p.stat().st_mtime_ns for p in files} == before
    monkeypatch.setenv("HAR_RESULTS_DIR", str(tmp_path / "named"))  # named: written there
    assert har("cv", "run", "--smoke", "--models", "tiny_cnn").exit_code == 0
    assert seen[-1] == tmp_path / "named" and (tmp_path / "named" / "cv" / "summary.json").exists()


# --- notebooks -----------------------------------------------------------------------------

def test_a_failed_notebook_shows_its_own_error(tmp_path: Path, random_zip: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A real papermill run of notebook 01 on a bad archive: the kernel's HarDataError comes
    back as the message, with the executed copy named for the traceback."""
    monkeypatch.setattr(config, "BUILD_DIR", tmp_path / "build")
    r = har("run", "01_data", "--profile", "smoke", "--force",
            env={"HAR_UCI_ZIP": str(random_zip)})
    clean_error(r, "error: notebook 01_data stopped in cell", "with HarDataError:",
                f"{random_zip}: checksum mismatch", "Fix: delete it and download",
                "the executed copy, traceback included: ")
    assert (tmp_path / "build" / "smoke" / "01_data.failed.ipynb").exists()


# --- models and recordings -----------------------------------------------------------------

def test_a_garbage_keras_file_is_not_called_missing(tmp_path: Path) -> None:
    path = tmp_path / "model.keras"
    path.write_bytes(b"\x00garbage" * 100)
    with pytest.raises(HarError) as err:
        training.load_model(path)
    text = str(err.value)
    assert "not a Keras model" in text and "not found" not in text.lower()
    assert "restore the file" in text


def test_a_non_numeric_cell_gets_a_fix_about_that_cell(tmp_path: Path) -> None:
    from har_studies.deploy import predict

    path = tmp_path / "rec.csv"
    rows = ["acc_x,acc_y,acc_z,gyro_x,gyro_y,gyro_z"] + ["0.1,0.2,0.9,0.01,0,0"] * 300
    rows[4] = "0.1,abc,0.9,0.01,0,0"
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(HarError) as err:
        predict.read_recording(path, 50.0)
    text = str(err.value)
    assert "non-numeric value 'abc' in column acc_y at line 5" in text
    assert "correct or delete that line" in text and "gap" not in text


# --- the table in docs/reliability.md ------------------------------------------------------

def test_the_reliability_table_names_real_tests() -> None:
    """Every row of docs/reliability.md names tests that exist; every test of this file has a
    row (a case added here without its row, or a row whose test was renamed, fails)."""
    doc = (config.PROJECT_ROOT / "docs" / "reliability.md").read_text()
    cited = set(re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", doc))
    assert len(cited) >= 20, "the table cites its tests as `tests/file.py::test_name`"
    for file, name in sorted(cited):
        source = (config.PROJECT_ROOT / file).read_text()
        defined = {n.name for n in ast.walk(ast.parse(source)) if isinstance(n, ast.FunctionDef)}
        assert name in defined, f"docs/reliability.md cites {file}::{name}, which does not exist"
    here = {n.name for n in ast.parse(Path(__file__).read_text()).body
            if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")
            and n.name != "test_the_reliability_table_names_real_tests"}
    missing = here - {name for file, name in cited if file == "tests/test_faults.py"}
    assert not missing, f"docs/reliability.md has no row for {sorted(missing)}"
