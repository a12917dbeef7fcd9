"""The one cache path (:func:`har_utils.io.cached_arrays`): every cache kind the project reads
back is verified on read, and a damaged one is rebuilt with a warning naming it.

Each kind (the official windows ``uci-*``, the raw HAPT recordings ``hapt_raw-*``, the HAPT
windows ``hapt-*`` and the computed features ``features-*``) is built from synthetic data in
a temporary data folder, damaged four ways (cut in half, 16 bytes flipped in the middle,
emptied, a directory in its place), loaded again and compared with the undamaged load: the
same arrays, the same bytes on disk, one warning naming the file and no file left open.
"""

from __future__ import annotations

import gc
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from har_utils import config, data
from har_utils.data import HarDataset, hapt
from har_utils.io import cached_arrays, checksum_path, sha256_file
from synthetic_uci import make_uci_zip

Arrays = dict[str, np.ndarray]
Loader = Callable[[], Arrays]


# --- damage -------------------------------------------------------------------------------

def truncate(path: Path) -> None:
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])


def flip(path: Path) -> None:
    raw = bytearray(path.read_bytes())
    mid = len(raw) // 2
    raw[mid:mid + 16] = bytes(b ^ 0xFF for b in raw[mid:mid + 16])
    path.write_bytes(bytes(raw))


def empty(path: Path) -> None:
    path.write_bytes(b"")


def directory(path: Path) -> None:
    path.unlink()
    path.mkdir()
    (path / "inside.txt").write_text("a folder where the cache file was")


DAMAGES = {"truncate": truncate, "flip": flip, "empty": empty, "directory": directory}


# --- the cache kinds, on synthetic data ---------------------------------------------------

def _synthetic_raw() -> Arrays:
    """Raw recordings in ``hapt.convert``'s layout: one per subject 1 (train) and 2 (test),
    a STANDING run then a WALKING run."""
    rng = np.random.default_rng(0)
    n, labels = 700, np.repeat(np.array([-1, 5, 8, 1, -1], dtype=np.int8), [50, 300, 50, 250, 50])
    acc = rng.normal(scale=0.1, size=(2 * n, 3)) + [1.0, 0.0, 0.0]
    return {"acc": acc, "gyro": rng.normal(scale=0.1, size=(2 * n, 3)),
            "label": np.concatenate([labels, labels]),
            "exp_subject": np.array([1, 2]), "exp_number": np.array([1, 1]),
            "exp_offset": np.array([0, n, 2 * n])}


@pytest.fixture
def synthetic_hapt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """``hapt.load_raw`` on :func:`_synthetic_raw` (no real data); counts the conversions."""
    resource = tmp_path / "HAPT.pkl.gz"
    resource.write_bytes(b"stands in for the resource")
    monkeypatch.setenv(config.HAPT_PKL_ENV, str(resource))
    conversions: list[int] = []

    def convert(_path: Path, expected: str = config.HAPT_SHA256) -> Arrays:
        conversions.append(1)
        return _synthetic_raw()

    monkeypatch.setattr(hapt, "convert", convert)
    return conversions


def _windows(ds: HarDataset) -> Arrays:
    out = {f"{a}_{name}": v for name, s in (("train", ds.train), ("test", ds.test))
           for a, v in zip(("X", "y", "subject"), s)}
    if ds.features_train is not None:
        out |= {"features_train": ds.features_train, "features_test": ds.features_test}
    return out


def kind_uci(tmp_path: Path) -> tuple[Loader, Path]:
    zip_path = make_uci_zip(tmp_path / "UCI HAR Dataset.zip", n_train=12, n_test=6)
    known = {sha256_file(zip_path): "inner"}

    def load() -> Arrays:
        return _windows(data.load_dataset(zip_path=zip_path, known=known, verbose=False))
    load()
    return load, _only("uci-*.npz")


def kind_hapt_raw(_tmp_path: Path) -> tuple[Loader, Path]:
    def load() -> Arrays:
        return hapt.load_raw()[0]
    load()
    return load, hapt.raw_cache_path()


def kind_hapt_windows(_tmp_path: Path) -> tuple[Loader, Path]:
    def load() -> Arrays:
        return _windows(data.load_dataset("hapt", verbose=False))
    load()
    return load, _only("hapt-*.npz")


def kind_features(_tmp_path: Path) -> tuple[Loader, Path]:
    ds = data.load_dataset("hapt", verbose=False)

    def load() -> Arrays:
        train, test, names, _ = data.features(ds)
        return {"train": train, "test": test, "names": np.array(names)}
    load()
    return load, _only("features-*.npz")


KINDS = {"uci": kind_uci, "hapt_raw": kind_hapt_raw, "hapt_windows": kind_hapt_windows,
         "features": kind_features}


def _only(pattern: str) -> Path:
    found = sorted(config.cache_dir().glob(pattern))
    assert len(found) == 1, f"expected one {pattern} in {config.cache_dir()}, found {found}"
    return found[0]


def _load_recording(load: Loader) -> tuple[Arrays, list[str]]:
    """``load()``'s arrays and the messages of the warnings it raised; fails on any
    ``ResourceWarning`` (a file left open), including one raised when garbage is collected."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        arrays = load()
        gc.collect()
    leaks = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert not leaks, f"files left open: {leaks}"
    return arrays, [str(w.message) for w in caught if issubclass(w.category, UserWarning)]


def _assert_same(got: Arrays, want: Arrays) -> None:
    assert sorted(got) == sorted(want)
    for k in want:
        assert got[k].dtype == want[k].dtype and np.array_equal(got[k], want[k]), k


def _assert_verified(path: Path) -> None:
    assert path.is_file()
    assert checksum_path(path).read_text().split() == [sha256_file(path), path.name]


# --- every kind, every damage -------------------------------------------------------------

@pytest.mark.parametrize("damage", DAMAGES)
@pytest.mark.parametrize("kind", KINDS)
def test_every_cache_kind_heals_every_damage(kind: str, damage: str, tmp_path: Path,
                                             synthetic_hapt: list[int]) -> None:
    load, path = KINDS[kind](tmp_path)
    _assert_verified(path)
    want, quiet = _load_recording(load)
    assert quiet == []
    before = path.read_bytes()
    DAMAGES[damage](path)
    conversions = len(synthetic_hapt)

    got, said = _load_recording(load)
    assert len(said) == 1 and said[0].startswith(f"{config.shown(path)}: damaged cache (")
    assert said[0].endswith("; removed, rebuilding it")
    _assert_same(got, want)
    _assert_verified(path)
    assert path.read_bytes() == before  # numpy writes reproducible zips: the very same file
    assert len(synthetic_hapt) == conversions + (kind == "hapt_raw")  # only what was damaged

    again, quiet = _load_recording(load)
    assert quiet == [] and len(synthetic_hapt) == conversions + (kind == "hapt_raw")
    _assert_same(again, want)


# --- cached_arrays itself -----------------------------------------------------------------

class Builds:
    """A build that counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> Arrays:
        self.calls += 1
        return {"X": np.arange(40000, dtype=np.float32).reshape(100, 400), "y": np.arange(100)}


def test_a_build_is_saved_once_with_its_checksum(tmp_path: Path) -> None:
    path, build = tmp_path / "cache" / "windows.npz", Builds()
    first = cached_arrays(path, build)
    _assert_verified(path)
    again, said = _load_recording(lambda: cached_arrays(path, build))
    assert said == [] and build.calls == 1
    _assert_same(again, first)


def test_bytes_numpy_still_parses_are_caught_by_the_checksum(tmp_path: Path) -> None:
    path, build = tmp_path / "windows.npz", Builds()
    first = cached_arrays(path, build)
    raw = bytearray(path.read_bytes())
    raw[10] ^= 0xFF  # the first member's modification time: no CRC covers it
    path.write_bytes(bytes(raw))
    with np.load(path) as z:  # numpy reads it without complaint ...
        assert np.array_equal(z["X"], first["X"])
    got, said = _load_recording(lambda: cached_arrays(path, build))
    assert build.calls == 2 and len(said) == 1 and "SHA-256 differs" in said[0]  # ... we do not
    _assert_same(got, first)
    _assert_verified(path)


@pytest.mark.parametrize("damage", ["garbage", "empty", "directory"])
def test_a_damaged_checksum_file_rebuilds_the_cache(tmp_path: Path, damage: str) -> None:
    path, build = tmp_path / "windows.npz", Builds()
    first = cached_arrays(path, build)
    side = checksum_path(path)
    if damage == "directory":
        side.unlink()
        side.mkdir()
    else:
        side.write_text("not a checksum\n" if damage == "garbage" else "")
    got, said = _load_recording(lambda: cached_arrays(path, build))
    assert build.calls == 2 and len(said) == 1
    assert said[0].startswith(f"{config.shown(path)}: damaged cache ({side.name}")
    _assert_same(got, first)
    _assert_verified(path)


def test_a_cache_from_older_code_is_kept_and_gets_its_checksum(tmp_path: Path) -> None:
    path, build = tmp_path / "windows.npz", Builds()
    first = cached_arrays(path, build)
    checksum_path(path).unlink()  # as the code before checksums left it
    before = path.read_bytes()
    got, said = _load_recording(lambda: cached_arrays(path, build))
    assert said == [] and build.calls == 1 and path.read_bytes() == before
    _assert_same(got, first)
    _assert_verified(path)


def test_a_cache_from_older_code_is_still_checked(tmp_path: Path) -> None:
    path, build = tmp_path / "windows.npz", Builds()
    first = cached_arrays(path, build)
    checksum_path(path).unlink()
    flip(path)  # inside the array data: the zip's CRC catches it
    got, said = _load_recording(lambda: cached_arrays(path, build))
    assert build.calls == 2 and len(said) == 1 and "not a readable .npz" in said[0]
    _assert_same(got, first)
    _assert_verified(path)


def test_a_failed_build_leaves_no_cache_behind(tmp_path: Path) -> None:
    path = tmp_path / "windows.npz"

    def fails() -> Arrays:
        raise RuntimeError("source unreadable")

    with pytest.raises(RuntimeError, match="source unreadable"):
        cached_arrays(path, fails)
    assert list(tmp_path.iterdir()) == []
