"""Source ``uci``: the official "UCI HAR Dataset" archive, verified and parsed in memory.

Two zips are accepted: the outer archive served at ``config.UCI_URL``
(``config.UCI_OUTER_ZIP``), which wraps ``UCI HAR Dataset.zip`` (``config.UCI_INNER_ZIP``),
which holds the folder ``UCI HAR Dataset/``. The file's SHA-256 is checked *before* anything
is opened; members are then read straight from the zip(s) into memory (nothing is extracted
or written to disk) and every table is validated: column counts, row counts agreeing within a
split, finite values, activity ids 1-6, subject ids 1-30 and ``activity_labels.txt``.
``__MACOSX/`` entries are ignored.
"""

from __future__ import annotations

import io
import os
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from .. import config
from ..io import HarDataError, sha256_file

ROOT = "UCI HAR Dataset/"
SPLITS: tuple[str, ...] = ("train", "test")
N_FEATURES = 561
N_SUBJECTS = 30

#: Official checksums: sha256 -> kind ("outer" or "inner").
OFFICIAL_KNOWN: dict[str, str] = {
    config.UCI_OUTER_ZIP["sha256"]: "outer",
    config.UCI_INNER_ZIP["sha256"]: "inner",
}
_OFFICIAL_BY_KIND: dict[str, dict] = {"outer": config.UCI_OUTER_ZIP, "inner": config.UCI_INNER_ZIP}

_REDOWNLOAD_FIX = (f"delete it and download the official archive again from {config.UCI_URL}, "
                   f"or place the official zip in data/raw/ (or point {config.UCI_ZIP_ENV} at it)")


def member_names(split: str) -> dict[str, str]:
    """Member paths (inside ``UCI HAR Dataset/``) of one split, keyed by role or channel."""
    names = {
        "y": f"{split}/y_{split}.txt",
        "subject": f"{split}/subject_{split}.txt",
        "features": f"{split}/X_{split}.txt",
    }
    for ch in config.CHANNELS:
        names[ch] = f"{split}/Inertial Signals/{ch}_{split}.txt"
    return names


# --- locating and verifying -----------------------------------------------------------

def find_local_zip() -> Path | None:
    """``$HAR_UCI_ZIP`` if set (relative: from the project root), else the outer then the inner
    official zip in ``raw_dir()``."""
    path = config.path_setting(config.UCI_ZIP_ENV)
    if path:
        if not path.is_file():
            raise HarDataError(path, f"{config.UCI_ZIP_ENV} points at a file that does not exist",
                               f"correct {config.UCI_ZIP_ENV} to the path of the official UCI HAR "
                               f"zip, or unset it to use {config.raw_dir()}")
        return path
    for entry in (config.UCI_OUTER_ZIP, config.UCI_INNER_ZIP):
        path = config.raw_dir() / entry["name"]
        if path.is_file():
            return path
    return None


def _fmt_size(n: int) -> str:
    return f"{n:,} bytes"


def verify_zip(path: str | os.PathLike[str], known: dict[str, str] | None = None) -> dict:
    """Stream the file's SHA-256 and match it against ``known`` (sha256 -> "outer"/"inner").

    Nothing is opened as a zip here. Returns ``{"path", "name", "size", "sha256", "kind"}``;
    an unknown checksum raises :class:`HarDataError` comparing size and checksum with the
    official archives.
    """
    path = Path(path)
    if not path.is_file():
        raise HarDataError(path, "the UCI HAR zip does not exist (or is not a file)",
                           f"download it from {config.UCI_URL} into data/raw/, or point "
                           f"{config.UCI_ZIP_ENV} at it")
    known = OFFICIAL_KNOWN if known is None else {k.lower(): v for k, v in known.items()}
    for kind in known.values():
        if kind not in _OFFICIAL_BY_KIND:
            raise ValueError(f"known kinds must be 'outer' or 'inner', got {kind!r}")
    size = path.stat().st_size
    digest = sha256_file(path)
    info = {"path": str(path), "name": path.name, "size": size, "sha256": digest}
    if digest in known:
        return {**info, "kind": known[digest]}

    # Compare with the official archive this file most likely is.
    candidates = [e for k, e in _OFFICIAL_BY_KIND.items() if k in set(known.values())]
    candidates = candidates or list(_OFFICIAL_BY_KIND.values())
    same_name = [e for e in candidates if e["name"] == path.name]
    ref = same_name[0] if same_name else min(candidates, key=lambda e: abs(e["size"] - size))
    expected = "; ".join(f"{e['name']}: sha256 {e['sha256']}, {_fmt_size(e['size'])}"
                         for e in candidates)
    if size < ref["size"]:
        hint = (f"it is smaller than the official {ref['name']} ({_fmt_size(ref['size'])}): "
                "truncated or incomplete download, or not the official archive")
    elif size > ref["size"]:
        hint = f"it is larger than the official {ref['name']}: not the official archive"
    else:
        hint = "same size as the official archive but different content: corrupted file"
    raise HarDataError(path, f"checksum mismatch: sha256 {digest}, size {_fmt_size(size)}, "
                       f"expected [{expected}]; {hint}", _REDOWNLOAD_FIX)


# --- reading members ------------------------------------------------------------------

class _Archive:
    """The ``UCI HAR Dataset/`` folder inside a (possibly nested) zip, read in memory."""

    def __init__(self, path: Path, kind: str):
        self.path = path
        self.prefix = ""  # how members are named in messages
        try:
            outer = zipfile.ZipFile(path)
            if kind == "outer":
                inner_name = config.UCI_INNER_ZIP["name"]
                with outer:
                    data = self._read(outer, inner_name)
                self.prefix = f"{inner_name}/"
                try:
                    self.zf = zipfile.ZipFile(io.BytesIO(data))
                except zipfile.BadZipFile as exc:
                    raise self._corrupt(inner_name, exc) from exc
            else:
                self.zf = outer
        except zipfile.BadZipFile as exc:
            raise HarDataError(path, f"corrupt archive: not a readable zip ({exc})",
                               _REDOWNLOAD_FIX) from exc
        self.names = {n for n in self.zf.namelist() if not n.startswith("__MACOSX/")}

    def close(self) -> None:
        self.zf.close()

    def label(self, member: str) -> str:
        """How a member is named in messages (inner zip name included for the outer kind)."""
        return f"{self.prefix}{member}"

    def _corrupt(self, member: str, exc: BaseException) -> HarDataError:
        return HarDataError(self.path, f"corrupt archive: member '{self.label(member)}' cannot "
                            f"be read ({exc})", _REDOWNLOAD_FIX)

    def _read(self, zf: zipfile.ZipFile, member: str) -> bytes:
        try:
            return zf.read(member)
        except KeyError as exc:
            raise HarDataError(self.path, f"missing member '{self.label(member)}'",
                               _REDOWNLOAD_FIX) from exc
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
            raise self._corrupt(member, exc) from exc

    def read(self, member: str) -> bytes:
        """Bytes of ``UCI HAR Dataset/<member>`` (CRC checked by :mod:`zipfile`)."""
        full = ROOT + member
        if full not in self.names:
            raise HarDataError(self.path, f"missing member '{self.label(full)}'", _REDOWNLOAD_FIX)
        return self._read(self.zf, full)

    def error(self, member: str, problem: str) -> HarDataError:
        """A :class:`HarDataError` about ``member`` naming the zip and the member."""
        return HarDataError(self.path, f"member '{self.label(ROOT + member)}': {problem}",
                            _REDOWNLOAD_FIX)


def _parse_table(arc: _Archive, member: str, ncols: int | None) -> np.ndarray:
    """Whitespace-separated numbers of one member as a float64 (rows, cols) array."""
    data = arc.read(member)
    try:
        df = pd.read_csv(io.BytesIO(data), sep=r"\s+", header=None, engine="c",
                         dtype=np.float64)
    except pd.errors.EmptyDataError as exc:
        raise arc.error(member, "the file is empty") from exc
    except pd.errors.ParserError as exc:
        raise arc.error(member, "rows have different numbers of columns"
                        + (f" (expected {ncols})" if ncols else "")
                        + f": {str(exc).strip()}") from exc
    except ValueError as exc:
        raise arc.error(member, f"non-numeric value ({exc})") from exc
    arr = df.to_numpy(dtype=np.float64)
    if ncols is not None and arr.shape[1] != ncols:
        raise arc.error(member, f"has {arr.shape[1]} columns, expected {ncols}")
    finite = np.isfinite(arr)
    if not finite.all():
        row = int(np.flatnonzero(~finite.all(axis=1))[0])
        col = int(np.flatnonzero(~finite[row])[0])
        raise arc.error(member, f"NaN, inf or missing value at row {row + 1}, column {col + 1} "
                        f"(first bad row; value {arr[row, col]!r})")
    return arr


def _parse_ids(arc: _Archive, member: str, valid: range, what: str) -> np.ndarray:
    """A one-column file of integer ids in ``valid`` as int64."""
    arr = _parse_table(arc, member, 1)[:, 0]
    if not np.array_equal(arr, np.round(arr)):
        raise arc.error(member, f"{what} ids must be integers")
    ids = arr.astype(np.int64)
    bad = sorted({int(i) for i in ids if int(i) not in valid})
    if bad:
        raise arc.error(member, f"unknown {what} ids {bad} (valid: {valid.start}-{valid.stop - 1})")
    return ids


def _check_activity_labels(arc: _Archive) -> None:
    member = "activity_labels.txt"
    text = arc.read(member).decode("utf-8", errors="replace")
    found: dict[int, str] = {}
    for line in text.splitlines():
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2 or not parts[0].isdigit():
            raise arc.error(member, f"malformed line {line!r} (expected 'id NAME')")
        found[int(parts[0])] = parts[1]
    if found != config.ACTIVITIES:
        raise arc.error(member, f"activity labels {found} differ from the official "
                        f"{config.ACTIVITIES}")


def _parse_feature_names(arc: _Archive) -> np.ndarray:
    member = "features.txt"
    text = arc.read(member).decode("utf-8", errors="replace")
    names: list[str] = []
    for line in text.splitlines():
        parts = line.split(maxsplit=1)
        if not parts:
            continue
        if len(parts) != 2 or parts[0] != str(len(names) + 1):
            raise arc.error(member, f"line {len(names) + 1} is {line!r}, expected "
                            f"'{len(names) + 1} <name>'")
        names.append(parts[1].strip())
    if len(names) != N_FEATURES:
        raise arc.error(member, f"has {len(names)} feature names, expected {N_FEATURES}")
    return np.array(names, dtype=np.str_)


def _parse_split(arc: _Archive, split: str) -> dict[str, np.ndarray]:
    names = member_names(split)
    y = _parse_ids(arc, names["y"], range(1, len(config.ACTIVITIES) + 1), "activity")
    subject = _parse_ids(arc, names["subject"], range(1, N_SUBJECTS + 1), "subject")
    n = len(y)

    def check_rows(member: str, rows: int) -> None:
        if rows != n:
            raise arc.error(member, f"has {rows} rows but '{arc.label(ROOT + names['y'])}' has "
                            f"{n} rows; the files of the {split} split disagree")

    check_rows(names["subject"], len(subject))
    features = _parse_table(arc, names["features"], N_FEATURES)
    check_rows(names["features"], len(features))
    X = np.empty((n, config.WINDOW_LENGTH, len(config.CHANNELS)), dtype=np.float32)
    for k, ch in enumerate(config.CHANNELS):
        sig = _parse_table(arc, names[ch], config.WINDOW_LENGTH)
        check_rows(names[ch], len(sig))
        X[:, :, k] = sig
    return {f"X_{split}": X, f"y_{split}": y, f"subject_{split}": subject,
            f"features_{split}": features.astype(np.float32)}


def load_uci_zip(path: str | os.PathLike[str], known: dict[str, str] | None = None, *,
                 verified: dict | None = None) -> dict[str, np.ndarray]:
    """Verify, then parse the official archive in memory into a flat dict of arrays.

    Keys: ``X_{split}`` float32 (n, 128, 9) in ``config.CHANNELS`` order, ``y_{split}`` int64
    activity ids 1-6, ``subject_{split}`` int64, ``features_{split}`` float32 (n, 561) for
    ``split`` in train/test, and ``feature_names`` (unicode, 561). Nothing is written to disk.
    ``verified``: the result of :func:`verify_zip` for this path, when the caller has just
    checked it (the archive is then not hashed a second time).
    """
    path = Path(path)
    info = verified if verified is not None else verify_zip(path, known)
    arc = _Archive(path, info["kind"])
    try:
        _check_activity_labels(arc)
        out: dict[str, np.ndarray] = {"feature_names": _parse_feature_names(arc)}
        for split in SPLITS:
            out.update(_parse_split(arc, split))
    finally:
        arc.close()
    return out
