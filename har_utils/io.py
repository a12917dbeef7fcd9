"""Checksums, atomic writes and the project's one error type for bad input.

Every file the project writes goes through :func:`atomic_write`: it is written to a temporary
file in the same folder and renamed into place only when complete, so an interruption, a full
disk or a crash never leaves a half-written cache or result behind.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np


class HarDataError(RuntimeError):
    """Bad or missing input. The message names the file and says what to do about it."""

    def __init__(self, path: str | os.PathLike[str] | None, problem: str, fix: str):
        self.path = None if path is None else Path(path)
        self.problem = problem
        self.fix = fix
        where = f"{self.path}: " if self.path is not None else ""
        super().__init__(f"{where}{problem}\n  Fix: {fix}")


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """SHA-256 hex digest of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def sha256_bytes(data: bytes) -> str:
    """SHA-256 hex digest of bytes."""
    return hashlib.sha256(data).hexdigest()


def explain_os_error(path: Path, exc: OSError) -> HarDataError:
    """Turn an ``OSError`` raised while writing ``path`` into a :class:`HarDataError`.

    The error names the folder and the file, and says how to fix a full disk, a read-only or
    unwritable folder, or anything else.
    """
    folder = path.parent
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return HarDataError(folder, f"no space left while writing {path.name}",
                            "free disk space, or point HAR_DATA_DIR / HAR_RESULTS_DIR at a "
                            "folder with room, then run the step again")
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return HarDataError(folder, f"cannot write {path.name} ({os.strerror(exc.errno)})",
                            "make the folder writable, or point HAR_DATA_DIR / HAR_RESULTS_DIR "
                            "at a writable folder, then run the step again")
    return HarDataError(folder, f"cannot write {path.name}: {exc}",
                        "check the folder and run the step again")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], suffix: str = ".tmp") -> Iterator[Path]:
    """A temporary path beside ``path``, renamed onto ``path`` only if the block succeeds.

    For writers that need a file name (``model.save``, ``np.savez``). On any failure the
    temporary file is removed and ``path`` is untouched; ``OSError`` from a read-only or full
    folder becomes a :class:`HarDataError` naming the folder and the fix.
    """
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


def load_npz(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Load every array of an ``.npz`` written by :func:`save_npz_atomic` (pickles refused)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise HarDataError(path, f"unreadable cache file ({exc})",
                           "delete it; the next load rebuilds it") from exc
