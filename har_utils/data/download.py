"""Verified downloads (pooch) and a bounded connectivity probe.

A download lands beside its destination and is moved onto it only when its SHA-256 matches,
so a half-written or wrong file never has the destination's name (pooch does not resume).
``HAR_OFFLINE=1`` makes :func:`reachable` answer ``False`` without touching the network.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from har_utils import __version__
from har_utils.io import HarDataError, explain_os_error, sha256_file

#: Set to ``1`` (or ``true``/``yes``/``on``) to make :func:`reachable` return ``False`` at once.
OFFLINE_ENV: str = "HAR_OFFLINE"
USER_AGENT: str = f"har_utils/{__version__} (+pooch)"


def offline() -> bool:
    """True when ``HAR_OFFLINE`` asks the project to stay off the network."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def download(url: str, dest: Path, sha256: str, size: int | None = None, *,
             timeout: float = 30.0, progress: bool = True) -> Path:
    """Download ``url`` to ``dest`` and verify its SHA-256 (and ``size``, if given);
    ``timeout`` bounds each connect/read, not the whole transfer."""
    import pooch
    import requests

    dest = Path(dest)
    digest = sha256.strip().lower()
    if not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise ValueError(f"sha256 must be a 64-digit hex digest, got {sha256!r}")
    fix = f"check the connection and run the step again, or download {url} manually to {dest}"
    with contextlib.suppress(OSError):  # an unreadable file is downloaded again
        if dest.is_file() and sha256_file(dest) == digest:
            return dest
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        got = Path(pooch.retrieve(
            url, known_hash=f"sha256:{digest}", fname=dest.name, path=dest.parent,
            downloader=pooch.HTTPDownloader(progressbar=progress, timeout=timeout,
                                            headers={"User-Agent": USER_AGENT})))
    except requests.HTTPError as exc:
        status = exc.response.status_code if exc.response is not None else "?"
        raise HarDataError(dest, f"the server answered HTTP {status} for {url}; nothing kept",
                           fix) from exc
    except requests.RequestException as exc:
        raise HarDataError(dest, f"cannot download {url} ({type(exc).__name__}); nothing kept",
                           fix) from exc
    except ValueError as exc:  # pooch: the bytes do not have the known hash
        raise HarDataError(dest, f"SHA-256 mismatch for the download from {url}: expected "
                                 f"{digest}; nothing kept", fix) from exc
    except OSError as exc:
        raise explain_os_error(dest, exc) from exc
    if size is not None and got.stat().st_size != size:
        have = got.stat().st_size
        got.unlink()
        raise HarDataError(dest, f"downloaded {have} bytes from {url}, expected {size}; "
                                 "nothing kept", fix)
    return got


def reachable(url: str, timeout: float = 5.0) -> bool:
    """True if ``url`` answers a HEAD (or a 1-byte ranged GET) within ``timeout`` seconds,
    DNS included; never raises."""
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


def _probe(url: str, deadline: float) -> bool:
    """HEAD, then a 1-byte ranged GET if HEAD is refused with an HTTP error status."""
    for method, headers in (("HEAD", {}), ("GET", {"Range": "bytes=0-0"})):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, **headers},
                                         method=method)
        try:
            with urllib.request.urlopen(request, timeout=remaining) as r:
                return r.status < 400
        except urllib.error.HTTPError as exc:
            exc.close()
            continue  # e.g. 405 for HEAD: try the GET
        except Exception:  # network errors, timeouts, bad URLs: unreachable
            return False
    return False
