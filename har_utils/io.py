"""Checksums, atomic writes and the project's one error type for bad input.

:func:`atomic_write` renames a complete temporary file into place, so a crash never leaves a
half-written file; :func:`cached_arrays` verifies a cache on each read and rebuilds it.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator
from io import BytesIO
from pathlib import Path
from typing import IO, Any

import numpy as np

from . import config


class HarError(RuntimeError):
    """The project's error: what went wrong, where and the fix (``har`` prints no traceback)."""

    def __init__(self, path: str | os.PathLike[str] | None, problem: str, fix: str):
        self.path = None if path is None else Path(path)
        self.problem = problem
        self.fix = fix
        where = f"{config.shown(self.path)}: " if self.path is not None else ""
        super().__init__(f"{where}{problem}\n  Fix: {fix}")


class HarDataError(HarError):
    """Bad or missing input: the dataset, a recording, a trained model or a results file."""


def sha256_file(path: str | os.PathLike[str]) -> str:
    """SHA-256 hex digest of a file."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def explain_os_error(path: Path, exc: OSError) -> HarError:
    """An ``OSError`` raised while writing ``path`` as a :class:`HarError` saying the fix."""
    folder = path.parent
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return HarError(folder, f"no space left while writing {path.name}",
                        "free disk space, or point HAR_DATA_DIR / HAR_RESULTS_DIR at a "
                        "folder with room, then run the step again")
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return HarError(folder, f"cannot write {path.name} ({os.strerror(exc.errno)})",
                        "make the folder writable, or point HAR_DATA_DIR / HAR_RESULTS_DIR "
                        "at a writable folder, then run the step again")
    return HarError(folder, f"cannot write {path.name}: {exc}",
                    "check the folder and run the step again")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], suffix: str = ".tmp") -> Iterator[Path]:
    """A temporary path beside ``path``, renamed onto ``path`` only if the block succeeds
    (for writers that need a file name, e.g. ``model.save``)."""
    path = Path(path)
    tmp: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
        os.close(fd)
        tmp = Path(tmp_name)
        yield tmp
        if tmp.exists():  # mkstemp makes it 0600: give it the mode a plain open() would
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise explain_os_error(path, exc) from exc
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                tmp.unlink()


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path`` (see :func:`atomic_path`), flushed to disk and
    renamed onto ``path`` only if the block succeeds."""
    with atomic_path(path) as tmp, open(tmp, mode) as f:
        yield f
        f.flush()
        os.fsync(f.fileno())


def write_json_atomic(path: str | os.PathLike[str], obj: Any) -> Path:
    """Write ``obj`` as indented, key-sorted JSON (numpy scalars and arrays allowed)."""
    text = json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n"
    with atomic_write(path, "w") as f:
        f.write(text)
    return Path(path)


def write_table(df: Any, path: str | os.PathLike[str], data_label: str, producer: str,
                **to_csv: Any) -> Path:
    """Write a results table (a DataFrame) as CSV, atomically, headed by a comment naming its
    data and producer (read it back with ``pandas.read_csv(path, comment="#")``)."""
    with atomic_write(path, "w") as f:
        f.write(f"# data: {data_label}; written by {producer}\n")
        df.to_csv(f, **to_csv)
    return Path(path)


def _json_default(o: Any) -> Any:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def save_npz_atomic(path: str | os.PathLike[str], **arrays: np.ndarray) -> Path:
    """Save arrays to an uncompressed ``.npz`` atomically (no pickled objects allowed)."""
    for name, a in arrays.items():
        if np.asarray(a).dtype == object:
            raise TypeError(f"array {name!r} has dtype object; caches never hold pickles")
    with atomic_write(path, "wb") as f:
        np.savez(f, **arrays)
    return Path(path)


def checksum_path(path: str | os.PathLike[str]) -> Path:
    """The checksum file beside the cache ``path``: ``<name>.sha256`` (``sha256sum`` format)."""
    path = Path(path)
    return path.with_name(path.name + ".sha256")


def cached_arrays(path: str | os.PathLike[str],
                  build: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The arrays cached at ``path`` (an ``.npz``), verified; or ``build()``'s, saved there
    with its SHA-256 beside it (``sha256sum -c`` format).

    Any damage warns, removes the file and rebuilds it. A cache without a checksum file (older
    code, or interrupted between the two writes) is trusted when it parses completely (the
    zip's CRCs hold), and gets one.
    """
    path = Path(path)
    if os.path.lexists(path):
        try:
            return _read_verified(path)
        except _DamagedCache as why:
            warnings.warn(f"{config.shown(path)}: damaged cache ({why}); removed, rebuilding it",
                          stacklevel=2)
            _remove(path)
    arrays = build()
    _remove(checksum_path(path))  # never a stale checksum beside a new file
    save_npz_atomic(path, **arrays)
    _write_checksum(path, sha256_file(path))
    return arrays


class _DamagedCache(Exception):
    """A cache file that cannot be trusted; the message says why."""


def _read_verified(path: Path) -> dict[str, np.ndarray]:
    """The arrays of ``path`` if its bytes match its checksum file; :class:`_DamagedCache`
    otherwise."""
    expected = _recorded_checksum(path)
    if path.is_dir():
        raise _DamagedCache("a directory in place of the file")
    try:  # every byte, the file closed before anything is judged
        data = path.read_bytes()
    except OSError as exc:
        raise _DamagedCache(f"unreadable: {exc.strerror or exc}") from None
    if not data:
        raise _DamagedCache("empty file")
    if expected is not None and hashlib.sha256(data).hexdigest() != expected:
        raise _DamagedCache(f"its SHA-256 differs from {checksum_path(path).name}: "
                            "cut short or overwritten")
    arrays = _parse_npz(data)
    if expected is None:
        with contextlib.suppress(HarError):  # a read-only cache still serves its arrays
            _write_checksum(path, hashlib.sha256(data).hexdigest())
    return arrays


def _recorded_checksum(path: Path) -> str | None:
    """The SHA-256 recorded beside ``path``, or None when there is no checksum file."""
    side = checksum_path(path)
    if not os.path.lexists(side):
        return None
    try:
        digest = side.read_text(encoding="ascii").split(maxsplit=1)[0].lower()
    except (OSError, UnicodeDecodeError, IndexError) as exc:
        raise _DamagedCache(f"{side.name} is unreadable ({type(exc).__name__})") from None
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise _DamagedCache(f"{side.name} holds no SHA-256")
    return digest


def _parse_npz(data: bytes) -> dict[str, np.ndarray]:
    """Every array of the ``.npz`` in ``data`` (pickles refused)."""
    try:
        with np.load(BytesIO(data), allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except Exception as exc:  # damaged zips and headers raise many types (BadZipFile, ...)
        raise _DamagedCache(f"not a readable .npz: {type(exc).__name__}: {exc}") from None


def _write_checksum(path: Path, digest: str) -> None:
    """Record ``digest`` as the SHA-256 of ``path`` (atomically, ``sha256sum`` format)."""
    with atomic_write(checksum_path(path), "w") as f:
        f.write(f"{digest}  {path.name}\n")


def _remove(path: Path) -> None:
    """Remove a file, link or directory at ``path`` if there is one."""
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif os.path.lexists(path):
            path.unlink()
    except OSError as exc:
        raise explain_os_error(path, exc) from exc
