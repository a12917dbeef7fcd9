"""Tests of har_utils.data.uci on synthetic zips in the official "UCI HAR Dataset" layout.

conftest.py isolates HAR_DATA_DIR and unsets HAR_UCI_ZIP for every test.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

from har_utils import config
from har_utils.data import uci
from har_utils.io import HarDataError, sha256_file
from synthetic_uci import make_uci_zip, synthetic_arrays

# Hard-coded here (not taken from config) so the test checks the channel order independently.
CHANNEL_FILES = ["body_acc_x", "body_acc_y", "body_acc_z", "body_gyro_x", "body_gyro_y",
                 "body_gyro_z", "total_acc_x", "total_acc_y", "total_acc_z"]


def known(path: Path, kind: str = "inner") -> dict[str, str]:
    return {sha256_file(path): kind}


def load(path: Path, kind: str = "inner") -> dict[str, np.ndarray]:
    return uci.load_uci_zip(path, known=known(path, kind))


def load_error(path: Path, kind: str = "inner") -> str:
    with pytest.raises(HarDataError) as exc_info:
        load(path, kind)
    msg = str(exc_info.value)
    assert str(path) in msg and "Fix:" in msg
    return msg


@pytest.fixture(scope="module")
def inner_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_uci_zip(tmp_path_factory.mktemp("uci") / "UCI HAR Dataset.zip")


# --- round trip ----------------------------------------------------------------------------

def test_round_trip_inner(inner_zip: Path) -> None:
    out = load(inner_zip)
    expected = synthetic_arrays()
    assert set(out) == set(expected) == {
        "feature_names", *(f"{k}_{s}" for k in ("X", "y", "subject", "features")
                           for s in ("train", "test"))}
    for key, arr in expected.items():
        np.testing.assert_array_equal(out[key], arr, err_msg=key)
        assert out[key].dtype == arr.dtype, key
    assert out["X_train"].shape == (40, 128, 9) and out["X_test"].shape == (20, 128, 9)
    assert out["X_train"].dtype == np.float32 and out["features_train"].dtype == np.float32
    assert out["features_test"].shape == (20, 561)
    assert out["y_train"].dtype == np.int64 and out["subject_test"].dtype == np.int64
    assert set(out["y_train"].tolist()) == set(range(1, 7))  # ids stay 1-6, not zero-based
    assert set(out["subject_test"].tolist()) <= set(config.TEST_SUBJECTS)
    assert out["feature_names"].shape == (561,) and out["feature_names"].dtype.kind == "U"
    assert out["feature_names"][-1] == "angle(Z,gravityMean)"
    np.savez(io.BytesIO(), **out)  # no object arrays: savable without pickles
    assert all(a.dtype != object for a in out.values())


def test_channel_order_matches_member_files(inner_zip: Path) -> None:
    out = load(inner_zip)
    with zipfile.ZipFile(inner_zip) as zf:
        for split in ("train", "test"):
            for k, ch in enumerate(CHANNEL_FILES):
                text = zf.read(f"UCI HAR Dataset/{split}/Inertial Signals/{ch}_{split}.txt")
                np.testing.assert_array_equal(out[f"X_{split}"][..., k],
                                              np.loadtxt(io.BytesIO(text), dtype=np.float32))
    # physics: total_acc - body_acc is a 1 g gravity vector
    gravity = out["X_train"][..., 6:9] - out["X_train"][..., 0:3]
    np.testing.assert_allclose(np.linalg.norm(gravity, axis=-1), 1.0, atol=1e-5)


def test_official_formatting(inner_zip: Path) -> None:
    with zipfile.ZipFile(inner_zip) as zf:
        line = zf.read("UCI HAR Dataset/train/X_train.txt").splitlines()[0].decode()
        assert line.startswith(" ") and "e-00" in line and len(line.split()) == 561
        assert "__MACOSX/UCI HAR Dataset/._activity_labels.txt" in zf.namelist()


def test_outer_zip_same_as_inner(tmp_path: Path, inner_zip: Path) -> None:
    outer = make_uci_zip(tmp_path / config.UCI_OUTER_ZIP["name"], outer=True)
    with zipfile.ZipFile(outer) as zf:
        assert config.UCI_INNER_ZIP["name"] in zf.namelist()
    a, b = load(outer, "outer"), load(inner_zip)
    for key in b:
        np.testing.assert_array_equal(a[key], b[key])


def test_nothing_written(tmp_path: Path, inner_zip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    load(inner_zip)
    assert list(tmp_path.iterdir()) == []
    assert sorted(p.name for p in inner_zip.parent.iterdir()) == [inner_zip.name]


# --- checksums -----------------------------------------------------------------------------

def test_verify_zip_info(inner_zip: Path) -> None:
    sha = sha256_file(inner_zip)
    info = uci.verify_zip(inner_zip, known={sha.upper(): "inner"})
    assert info == {"path": str(inner_zip), "name": inner_zip.name,
                    "size": inner_zip.stat().st_size, "sha256": sha, "kind": "inner"}


def test_default_known_refuses_synthetic_before_opening(
        inner_zip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("the archive was opened before its checksum was verified")
    monkeypatch.setattr(zipfile, "ZipFile", boom)
    monkeypatch.setattr(uci.pd, "read_csv", boom)
    with pytest.raises(HarDataError) as exc_info:
        uci.load_uci_zip(inner_zip)
    msg = str(exc_info.value)
    assert "checksum mismatch" in msg and str(inner_zip) in msg and "Fix:" in msg
    assert config.UCI_INNER_ZIP["sha256"] in msg and config.UCI_URL in msg


@pytest.mark.parametrize("default_known", [True, False])
def test_truncated_zip(tmp_path: Path, inner_zip: Path, default_known: bool) -> None:
    data = inner_zip.read_bytes()
    cut = tmp_path / config.UCI_INNER_ZIP["name"]
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(HarDataError) as exc_info:
        uci.load_uci_zip(cut, known=None if default_known else known(inner_zip))
    msg = str(exc_info.value)
    assert "checksum mismatch" in msg and "truncated" in msg
    assert str(cut) in msg and "Fix:" in msg and "download" in msg


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.zip"
    with pytest.raises(HarDataError, match="does not exist") as exc_info:
        uci.verify_zip(missing)
    assert str(missing) in str(exc_info.value) and "Fix:" in str(exc_info.value)


# --- corrupt archives ----------------------------------------------------------------------

def test_not_a_zip_with_known_checksum(tmp_path: Path) -> None:
    bad = tmp_path / "UCI HAR Dataset.zip"
    bad.write_bytes(b"<html>503 Service Unavailable</html>" * 50)
    assert "corrupt archive" in load_error(bad)


def test_corrupt_member_with_known_checksum(tmp_path: Path, inner_zip: Path) -> None:
    member = "UCI HAR Dataset/train/X_train.txt"
    data = bytearray(inner_zip.read_bytes())
    with zipfile.ZipFile(inner_zip) as zf:
        zi = zf.getinfo(member)
    # local header: 30 bytes + name + extra, then the compressed data; damage its middle
    start = zi.header_offset + 30 + len(zi.filename.encode()) + len(zi.extra)
    for i in range(start + zi.compress_size // 2, start + zi.compress_size // 2 + 64):
        data[i] ^= 0xFF
    bad = tmp_path / "UCI HAR Dataset.zip"
    bad.write_bytes(bytes(data))
    msg = load_error(bad)
    assert "corrupt archive" in msg and member in msg


def test_corrupt_inner_of_outer(tmp_path: Path) -> None:
    inner = make_uci_zip(tmp_path / "inner.zip")
    with zipfile.ZipFile(tmp_path / "outer.zip", "w") as zf:
        zf.writestr(config.UCI_INNER_ZIP["name"], inner.read_bytes()[:500])
    msg = load_error(tmp_path / "outer.zip", "outer")
    assert "corrupt archive" in msg and config.UCI_INNER_ZIP["name"] in msg


# --- validation ----------------------------------------------------------------------------

@pytest.mark.parametrize("outer", [False, True])
@pytest.mark.parametrize("member", ["train/Inertial Signals/body_gyro_z_train.txt",
                                    "test/y_test.txt", "features.txt", "activity_labels.txt"])
def test_missing_member(tmp_path: Path, member: str, outer: bool) -> None:
    path = make_uci_zip(tmp_path / "u.zip", drop_member=member, outer=outer)
    msg = load_error(path, "outer" if outer else "inner")
    assert "missing member" in msg and f"UCI HAR Dataset/{member}" in msg
    if outer:
        assert "UCI HAR Dataset.zip/UCI HAR Dataset/" in msg


def test_outer_without_inner_zip(tmp_path: Path, inner_zip: Path) -> None:
    # an inner zip declared as "outer" lacks the member UCI HAR Dataset.zip
    msg = load_error(inner_zip, "outer")
    assert f"missing member '{config.UCI_INNER_ZIP['name']}'" in msg


@pytest.mark.parametrize("member, other_rows", [
    ("test/subject_test.txt", 19), ("test/X_test.txt", 19),
    ("train/Inertial Signals/total_acc_y_train.txt", 39)])
def test_row_count_mismatch(tmp_path: Path, member: str, other_rows: int) -> None:
    split = member.split("/")[0]
    n = 40 if split == "train" else 20
    msg = load_error(make_uci_zip(tmp_path / "u.zip", row_mismatch=member))
    assert member in msg and f"y_{split}.txt" in msg
    assert f"has {other_rows} rows" in msg and f"has {n} rows" in msg


@pytest.mark.parametrize("member, found, expected", [
    ("train/X_train.txt", 560, 561), ("test/Inertial Signals/body_acc_x_test.txt", 127, 128)])
def test_wrong_column_count(tmp_path: Path, member: str, found: int, expected: int) -> None:
    msg = load_error(make_uci_zip(tmp_path / "u.zip", wrong_columns=member))
    assert member in msg and f"has {found} columns, expected {expected}" in msg


@pytest.mark.parametrize("member", ["train/X_train.txt",
                                    "test/Inertial Signals/body_gyro_x_test.txt"])
def test_nan(tmp_path: Path, member: str) -> None:
    msg = load_error(make_uci_zip(tmp_path / "u.zip", nan_in=member))
    assert member in msg and "NaN" in msg and "row 3" in msg and "nan" in msg


def test_inf(tmp_path: Path) -> None:
    member = "train/Inertial Signals/total_acc_z_train.txt"
    msg = load_error(make_uci_zip(tmp_path / "u.zip", inf_in=member))
    assert member in msg and "inf" in msg and "row 3" in msg


def test_unknown_label(tmp_path: Path) -> None:
    msg = load_error(make_uci_zip(tmp_path / "u.zip", bad_label=7))
    assert "train/y_train.txt" in msg and "unknown activity ids [7]" in msg


def test_unknown_subject(tmp_path: Path) -> None:
    msg = load_error(make_uci_zip(tmp_path / "u.zip", bad_subject=31))
    assert "train/subject_train.txt" in msg and "unknown subject ids [31]" in msg


def test_activity_labels_must_match(tmp_path: Path) -> None:
    labels = {**config.ACTIVITIES, 6: "LYING"}
    msg = load_error(make_uci_zip(tmp_path / "u.zip", activity_labels=labels))
    assert "activity_labels.txt" in msg and "LYING" in msg


# --- locating the zip ----------------------------------------------------------------------

def test_env_var_pointing_at_missing_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "elsewhere" / "UCI HAR Dataset.zip"
    monkeypatch.setenv(config.UCI_ZIP_ENV, str(missing))
    with pytest.raises(HarDataError) as exc_info:
        uci.find_local_zip()
    msg = str(exc_info.value)
    assert str(missing) in msg and config.UCI_ZIP_ENV in msg and "Fix:" in msg


def test_env_var_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, inner_zip: Path) -> None:
    monkeypatch.setenv(config.UCI_ZIP_ENV, str(inner_zip))
    (config.raw_dir()).mkdir(parents=True)
    (config.raw_dir() / config.UCI_OUTER_ZIP["name"]).write_bytes(b"x")
    assert uci.find_local_zip() == inner_zip


def test_find_local_zip_in_raw_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAR_DATA_DIR", str(tmp_path))
    assert uci.find_local_zip() is None
    raw = tmp_path / "raw"
    inner = make_uci_zip(raw / config.UCI_INNER_ZIP["name"])
    assert uci.find_local_zip() == inner
    outer = make_uci_zip(raw / config.UCI_OUTER_ZIP["name"], outer=True)
    assert uci.find_local_zip() == outer  # the outer archive is preferred
