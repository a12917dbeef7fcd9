"""Verified, resumable downloads (standard library only).

:func:`download` streams a URL into ``<dest>.part`` beside the destination, resumes an
interrupted ``.part`` with an HTTP ``Range`` request, checks size and SHA-256, and only then
renames the ``.part`` onto ``dest`` (atomic). A half-written ``dest`` never exists: either the
verified file is there, or at most a ``.part`` that the next call resumes.

:func:`reachable` is a cheap, bounded, never-raising connectivity probe; ``HAR_OFFLINE=1``
makes it answer ``False`` without touching the network.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

from har_utils import __version__
from har_utils.io import HarDataError, explain_os_error, sha256_file

#: Set to ``1`` (or ``true``/``yes``/``on``) to make :func:`reachable` return ``False`` at once.
OFFLINE_ENV: str = "HAR_OFFLINE"
USER_AGENT: str = f"har_utils/{__version__} (+python urllib)"
PART_SUFFIX: str = ".part"

_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)", re.IGNORECASE)
_UNKNOWN_TOTAL_STEP = 10 << 20  # progress step (bytes) when the total size is unknown


def offline() -> bool:
    """True when ``HAR_OFFLINE`` asks the project to stay off the network."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def part_path(dest: str | os.PathLike[str]) -> Path:
    """The partial-download file used for ``dest``: ``<dest>.part`` in the same folder."""
    dest = Path(dest)
    return dest.with_name(dest.name + PART_SUFFIX)


def download(url: str, dest: Path, sha256: str | Collection[str], size: int | None = None, *,
             timeout: float = 30.0, chunk: int = 1 << 20, progress: bool = True) -> Path:
    """Download ``url`` to ``dest``, resuming a ``.part`` file and verifying the SHA-256.

    ``sha256`` is one accepted hex digest or a collection of them; ``size`` (bytes), when
    given, is checked too. An existing ``dest`` with an accepted digest is returned without
    any network access. ``timeout`` bounds each connect/read, not the whole transfer.
    Every failure is a :class:`HarDataError` naming the file and the fix.
    """
    dest = Path(dest)
    accepted = _accepted_digests(sha256)
    if chunk <= 0:
        raise ValueError("chunk must be positive")
    if _existing_ok(dest, accepted):
        return dest

    part = part_path(dest)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise explain_os_error(part, exc) from exc

    offset = part.stat().st_size if part.is_file() else 0
    if size is not None and offset > size:  # longer than the real file: cannot be a prefix
        _remove(part)
        offset = 0
    if size is not None and offset == size > 0:  # already complete: nothing left to fetch
        return _verify_and_install(part, dest, url, accepted, size)

    _fetch(url, dest, part, offset, size, timeout=timeout, chunk=chunk, progress=progress)
    return _verify_and_install(part, dest, url, accepted, size)


def reachable(url: str, timeout: float = 5.0) -> bool:
    """True if ``url`` answers a HEAD (or a 1-byte ranged GET) within ``timeout`` seconds.

    Never raises. Returns ``False`` on any network error, on an HTTP error status, after
    ``timeout`` seconds whatever is still pending (DNS included), and at once when
    ``HAR_OFFLINE`` is set.
    """
    if offline() or timeout <= 0:
        return False
    deadline = time.monotonic() + timeout
    answer: list[bool] = []

    def probe() -> None:
        with contextlib.suppress(BaseException):
            answer.append(_probe(url, deadline))

    worker = threading.Thread(target=probe, name="har-reachable", daemon=True)
    worker.start()
    worker.join(timeout)
    return bool(answer and answer[0])


# --- internals -------------------------------------------------------------------------


def _accepted_digests(sha256: str | Collection[str]) -> frozenset[str]:
    digests = [sha256] if isinstance(sha256, str) else list(sha256)
    accepted = frozenset(d.strip().lower() for d in digests)
    if not accepted or any(not re.fullmatch(r"[0-9a-f]{64}", d) for d in accepted):
        raise ValueError(f"sha256 must be one or more 64-digit hex digests, got {sha256!r}")
    return accepted


def _existing_ok(dest: Path, accepted: frozenset[str]) -> bool:
    if not dest.is_file():
        return False
    try:
        return sha256_file(dest) in accepted
    except OSError:
        return False


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def _request(url: str, headers: dict[str, str], method: str = "GET") -> urllib.request.Request:
    base = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    return urllib.request.Request(url, headers={**base, **headers}, method=method)


def _manual_fix(url: str, dest: Path) -> str:
    return f"or download {url} manually and place it at {dest}"


def _interrupted(url: str, part: Path, have: int, total: int | None, why: object) -> HarDataError:
    of = f" of {total}" if total is not None else ""
    return HarDataError(
        part, f"download of {url} interrupted after {have}{of} bytes ({why}); "
              f"the partial file {part.name} was kept",
        f"run the step again to resume the download from {part.name}, "
        f"or delete {part} to start over")


def _fetch(url: str, dest: Path, part: Path, offset: int, size: int | None, *,
           timeout: float, chunk: int, progress: bool) -> None:
    """Stream the (rest of the) body into ``part``; on return the transfer is complete."""
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    try:
        resp = urllib.request.urlopen(_request(url, headers), timeout=timeout)
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 416 and offset:  # nothing past our .part: it is complete, or it is bad
            return
        resume = f"; {part.name} is kept and will be resumed" if offset else ""
        raise HarDataError(dest, f"the server answered HTTP {exc.code} ({exc.reason}) for "
                                 f"{url}{resume}",
                           f"check the URL and run the step again later, "
                           f"{_manual_fix(url, dest)}") from exc
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
        why = getattr(exc, "reason", exc)
        if offset:
            raise _interrupted(url, part, offset, size, f"cannot connect: {why}") from exc
        raise HarDataError(dest, f"cannot download {url} ({why})",
                           f"check the internet connection (or proxy settings) and run the "
                           f"step again, {_manual_fix(url, dest)}") from exc

    with resp:
        length = _int_or_none(resp.headers.get("Content-Length"))
        mode, start, total = "wb", 0, length
        if resp.status == 206:
            first, total = _content_range(resp.headers.get("Content-Range"))
            if first == offset:
                mode, start = "ab", offset
                if total is None and length is not None:
                    total = offset + length
            elif first != 0:
                _remove(part)
                raise HarDataError(dest, f"the server sent bytes from {first} of {url} when "
                                         f"bytes from {offset} were asked for; {part.name} "
                                         f"was deleted",
                                   f"run the step again to start over, "
                                   f"{_manual_fix(url, dest)}")
        # a 200 answer (the server ignored Range) restarts from zero: mode "wb" truncates
        if size is not None and total is not None and total != size:
            _remove(part)
            raise HarDataError(dest, f"{url} is {total} bytes, expected {size}; nothing kept",
                               f"check that the URL still serves the expected file, "
                               f"{_manual_fix(url, dest)}")
        if progress:
            how = f" (resuming at {start} bytes)" if start else ""
            _say(f"download: {url} -> {dest}{how}")

        meter = _Progress(start, total, enabled=progress)
        state = _ReadState()
        try:
            with open(part, mode) as f:
                for block in _blocks(resp, chunk, state):
                    f.write(block)
                    meter.update(len(block))
                f.flush()
                os.fsync(f.fileno())
        except OSError as exc:
            raise explain_os_error(part, exc) from exc

    have = start + state.received
    if state.error is not None:
        raise _interrupted(url, part, have, total, state.error) from state.error
    if length is not None and state.received < length:
        raise _interrupted(url, part, have, total, "connection closed early")


@dataclass
class _ReadState:
    received: int = 0
    error: BaseException | None = None


def _blocks(resp: http.client.HTTPResponse, chunk: int, state: _ReadState) -> Iterator[bytes]:
    """Yield body blocks; a network error ends the stream and is stored in ``state``."""
    while True:
        try:
            block = resp.read1(chunk)  # what has arrived: a timeout loses no received bytes
        except (OSError, http.client.HTTPException) as exc:  # timeouts, resets, short reads
            state.error = exc
            return
        if not block:
            return
        state.received += len(block)
        yield block


class _Progress:
    """At most one stderr line per 10 % (or per 10 MiB when the size is unknown)."""

    def __init__(self, done: int, total: int | None, *, enabled: bool):
        self.done, self.total, self.enabled = done, total, enabled
        self.next_mark = self._mark_after(done)

    def _mark_after(self, done: int) -> int:
        if self.total:  # the next of the marks ceil(k * total / 10), k = 1..10
            k = done * 10 // self.total + 1
            return -(-k * self.total // 10)
        return (done // _UNKNOWN_TOTAL_STEP + 1) * _UNKNOWN_TOTAL_STEP

    def update(self, n: int) -> None:
        self.done += n
        if not self.enabled or self.done < self.next_mark:
            return
        mb = self.done / 1e6
        if self.total:
            _say(f"download: {min(100, self.done * 100 // self.total):3d} % "
                 f"({mb:.1f} of {self.total / 1e6:.1f} MB)")
        else:
            _say(f"download: {mb:.1f} MB")
        self.next_mark = self._mark_after(self.done)


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _int_or_none(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def _content_range(text: str | None) -> tuple[int | None, int | None]:
    match = _CONTENT_RANGE.match(text or "")
    if not match:
        return None, None
    total = match.group(3)
    return int(match.group(1)), (None if total == "*" else int(total))


def _verify_and_install(part: Path, dest: Path, url: str, accepted: frozenset[str],
                        size: int | None) -> Path:
    """Check ``part`` against ``size`` and the digests; rename it onto ``dest`` or delete it."""
    fix = f"run the step again to re-download, {_manual_fix(url, dest)}"
    try:
        got_size = part.stat().st_size
        if size is not None and got_size != size:
            _remove(part)
            raise HarDataError(dest, f"downloaded {got_size} bytes from {url}, expected {size}; "
                                     f"the partial file {part.name} was deleted", fix)
        got = sha256_file(part)
    except FileNotFoundError as exc:
        raise HarDataError(dest, f"the download of {url} produced no data", fix) from exc
    except OSError as exc:
        raise explain_os_error(part, exc) from exc
    if got not in accepted:
        _remove(part)
        want = " or ".join(sorted(accepted))
        raise HarDataError(dest, f"SHA-256 mismatch for the download from {url}: expected "
                                 f"{want}, got {got}; the partial file {part.name} was deleted",
                           fix)
    try:
        os.replace(part, dest)
    except OSError as exc:
        raise explain_os_error(dest, exc) from exc
    return dest


def _probe(url: str, deadline: float) -> bool:
    """HEAD, then a 1-byte ranged GET if HEAD is refused with an HTTP error status."""
    for method, headers in (("HEAD", {}), ("GET", {"Range": "bytes=0-0"})):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        try:
            with urllib.request.urlopen(_request(url, headers, method), timeout=remaining) as r:
                return r.status < 400
        except urllib.error.HTTPError as exc:
            exc.close()
            continue  # e.g. 405 for HEAD: try the GET
        except Exception:  # network errors, timeouts, bad URLs: unreachable
            return False
    return False
