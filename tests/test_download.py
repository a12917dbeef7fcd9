"""Tests of har_utils.data.download (pooch underneath) against a real HTTP server on 127.0.0.1 (no
other traffic)."""

from __future__ import annotations

import errno
import hashlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from har_utils.data import download as dl
from har_utils.io import HarDataError, HarError

PAYLOAD = os.urandom(300_000)
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()
K = 100_000  # where the "drop" behaviour cuts the connection


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    # behaviour switches, set by the tests
    mode: str = "normal"  # normal | ignore_range | wrong | drop | stall | missing
    drop_after: int = K
    requests: list[tuple[str, dict[str, str]]]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # keep test output clean
        pass

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def do_GET(self) -> None:
        self._serve(head=False)

    def _serve(self, head: bool) -> None:
        srv = self.server
        srv.requests.append((self.command, {k.lower(): v for k, v in self.headers.items()}))
        if srv.mode == "missing":
            self.send_error(404)
            return
        body = PAYLOAD if srv.mode != "wrong" else bytes(b ^ 0xFF for b in PAYLOAD)
        start, status = 0, 200
        rng = self.headers.get("Range")
        if rng and srv.mode != "ignore_range":
            start = int(rng.removeprefix("bytes=").split("-")[0])
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status = 206
        part = body[start:]
        self.send_response(status)
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        self.send_header("Content-Length", str(len(part)))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        if head:
            return
        try:
            if srv.mode in ("drop", "stall"):
                self.wfile.write(part[: srv.drop_after])
                self.wfile.flush()
                if srv.mode == "stall":
                    time.sleep(1.5)
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
            self.wfile.write(part)
        except OSError:  # the client went away: fine for these tests
            pass


@pytest.fixture(autouse=True)
def _no_proxy_no_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
                "ALL_PROXY", dl.OFFLINE_ENV):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1")


@pytest.fixture
def server() -> Iterator[_Server]:
    srv = _Server(("127.0.0.1", 0), _Handler)
    srv.requests = []
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(2)


def _url(srv: _Server) -> str:
    return f"http://127.0.0.1:{srv.server_address[1]}/har.zip"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _assert_error(exc: pytest.ExceptionInfo[HarError], name: str) -> str:
    msg = str(exc.value)
    assert name in msg, msg
    assert "Fix:" in msg, msg
    return msg


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_fresh_download(server: _Server, tmp_path: Path) -> None:
    dest = tmp_path / "sub" / "har.zip"
    out = dl.download(_url(server), dest, PAYLOAD_SHA, size=len(PAYLOAD), progress=False)
    assert out == dest
    assert dest.read_bytes() == PAYLOAD
    assert _leftovers(dest.parent) == ["har.zip"]
    assert server.requests[-1][1]["user-agent"] == dl.USER_AGENT


def test_dropped_connection_leaves_nothing_and_the_next_call_starts_again(
        server: _Server, tmp_path: Path) -> None:
    dest = tmp_path / "har.zip"
    server.mode = "drop"
    with pytest.raises(HarDataError) as exc:
        dl.download(_url(server), dest, PAYLOAD_SHA, size=len(PAYLOAD), progress=False)
    _assert_error(exc, dest.name)
    assert _leftovers(tmp_path) == []
    server.mode = "normal"
    dl.download(_url(server), dest, PAYLOAD_SHA, size=len(PAYLOAD), progress=False)
    assert dest.read_bytes() == PAYLOAD


def test_stalled_server_times_out(server: _Server, tmp_path: Path) -> None:
    dest = tmp_path / "har.zip"
    server.mode = "stall"
    t0 = time.monotonic()
    with pytest.raises(HarDataError) as exc:
        dl.download(_url(server), dest, PAYLOAD_SHA, timeout=0.3, progress=False)
    assert time.monotonic() - t0 < 1.4
    _assert_error(exc, dest.name)
    assert _leftovers(tmp_path) == []


def test_wrong_bytes_leave_nothing(server: _Server, tmp_path: Path) -> None:
    dest = tmp_path / "har.zip"
    server.mode = "wrong"
    with pytest.raises(HarDataError) as exc:
        dl.download(_url(server), dest, PAYLOAD_SHA, size=len(PAYLOAD), progress=False)
    msg = _assert_error(exc, dest.name)
    assert PAYLOAD_SHA in msg and "mismatch" in msg
    assert _leftovers(tmp_path) == []


def test_wrong_size_leaves_nothing(server: _Server, tmp_path: Path) -> None:
    dest = tmp_path / "har.zip"
    with pytest.raises(HarDataError) as exc:
        dl.download(_url(server), dest, PAYLOAD_SHA, size=len(PAYLOAD) + 1, progress=False)
    assert str(len(PAYLOAD) + 1) in _assert_error(exc, dest.name)
    assert _leftovers(tmp_path) == []


def test_a_bad_digest_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="64-digit"):
        dl.download("http://127.0.0.1:9/x", tmp_path / "x", "abc", progress=False)


def test_http_error_names_file(server: _Server, tmp_path: Path) -> None:
    dest = tmp_path / "har.zip"
    server.mode = "missing"
    with pytest.raises(HarDataError) as exc:
        dl.download(_url(server), dest, PAYLOAD_SHA, progress=False)
    assert "404" in _assert_error(exc, dest.name)
    assert not dest.exists()


def test_unreachable_server_names_file(tmp_path: Path) -> None:
    dest = tmp_path / "har.zip"
    url = f"http://127.0.0.1:{_closed_port()}/har.zip"
    with pytest.raises(HarDataError) as exc:
        dl.download(url, dest, PAYLOAD_SHA, timeout=1.0, progress=False)
    assert url in _assert_error(exc, dest.name)
    assert not dest.exists()


def test_existing_valid_dest_makes_no_request(server: _Server, tmp_path: Path) -> None:
    dest = tmp_path / "har.zip"
    dest.write_bytes(PAYLOAD)
    assert dl.download(_url(server), dest, PAYLOAD_SHA, size=len(PAYLOAD)) == dest
    assert server.requests == []


def test_existing_bad_dest_is_replaced(server: _Server, tmp_path: Path) -> None:
    dest = tmp_path / "har.zip"
    dest.write_bytes(b"stale")
    dl.download(_url(server), dest, PAYLOAD_SHA, progress=False)
    assert dest.read_bytes() == PAYLOAD


def test_reachable(server: _Server, monkeypatch: pytest.MonkeyPatch) -> None:
    assert dl.reachable(_url(server), timeout=2.0)
    assert server.requests[-1][0] == "HEAD"

    t0 = time.monotonic()
    assert not dl.reachable(f"http://127.0.0.1:{_closed_port()}/x", timeout=1.0)
    assert time.monotonic() - t0 < 1.5

    assert not dl.reachable("not a url", timeout=1.0)

    n = len(server.requests)
    monkeypatch.setenv(dl.OFFLINE_ENV, "1")
    assert not dl.reachable(_url(server), timeout=1.0)
    assert len(server.requests) == n  # never touched the network


def test_reachable_is_bounded_by_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    def hang(*args: object, **kwargs: object) -> None:  # a DNS lookup or connect that hangs
        time.sleep(2.0)

    monkeypatch.setattr(dl.urllib.request, "urlopen", hang)
    t0 = time.monotonic()
    assert not dl.reachable("http://127.0.0.1:9/", timeout=0.3)
    assert time.monotonic() - t0 < 0.8


@pytest.mark.parametrize("err, words", [(errno.ENOSPC, "space"), (errno.EROFS, "cannot write")])
def test_a_full_or_read_only_disk_names_the_folder(server: _Server, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   err: int, words: str) -> None:
    import pooch

    dest = tmp_path / "har.zip"

    def fail(*args: object, **kwargs: object) -> None:
        raise OSError(err, os.strerror(err))

    monkeypatch.setattr(pooch.HTTPDownloader, "__call__", fail)
    with pytest.raises(HarError) as exc:
        dl.download(_url(server), dest, PAYLOAD_SHA, progress=False)
    msg = _assert_error(exc, dest.name)
    assert words in msg and str(tmp_path) in msg
    assert not dest.exists()
