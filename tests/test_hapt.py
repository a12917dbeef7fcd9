"""The HAPT source, unit tier: safe unpickling, checks, atomic cache (no real data needed)."""

from __future__ import annotations

import errno
import gzip
import os
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from har_utils import config
from har_utils.data import hapt
from har_utils.io import HarDataError, HarError, sha256_file


class _Boom:
    """Unpickling this writes a marker file: proof that a pickle was (not) executed."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):  # noqa: D105
        return (Path.touch, (Path(self.marker),))


def write_pickle(path: Path, obj: object) -> Path:
    with gzip.open(path, "wb") as f:
        pickle.dump(obj, f)
    return path


def recording(n: int = 600, labels: list[int] | None = None, **overrides: object) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.normal(size=(n, 6)) * 0.1, columns=hapt.RAW_COLUMNS)
    df["acc-x"] += 1.0
    df["sequence"] = np.arange(n)
    df["label"] = np.resize(labels or [5] * 300 + [7] * 20 + [1] * 280, n)
    for k, v in overrides.items():
        df[k] = v
    return df


def test_checksum_mismatch_refuses_before_unpickling(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    marker = tmp_path / "pwned"
    evil = write_pickle(tmp_path / "HAPT.pkl.gz", {1: [_Boom(str(marker))]})
    monkeypatch.setenv(config.HAPT_PKL_ENV, str(evil))
    with pytest.raises(HarDataError, match="refusing to unpickle") as e:
        hapt.load_raw()
    assert str(evil) in str(e.value) and "Fix:" in str(e.value)
    assert not marker.exists(), "the pickle ran although its checksum was wrong"
    assert not config.cache_dir().exists() or not any(config.cache_dir().iterdir())


def test_allow_list_refuses_unexpected_globals_even_with_matching_checksum(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    evil = write_pickle(tmp_path / "HAPT.pkl.gz", {1: [_Boom(str(marker))]})
    with pytest.raises(HarDataError, match="not allowed"):
        hapt.convert(evil, expected=sha256_file(evil))
    assert not marker.exists()


def test_missing_env_file_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(config.HAPT_PKL_ENV, str(tmp_path / "nope.pkl.gz"))
    with pytest.raises(HarDataError, match="does not exist") as e:
        hapt.locate_resource()
    assert "nope.pkl.gz" in str(e.value) and "Fix:" in str(e.value)


def test_recordings_to_arrays_layout() -> None:
    users = {1: [recording(600), recording(400)], 2: [recording(500)]}
    a = hapt.recordings_to_arrays(users, Path("x"))
    assert a["acc"].shape == (1500, 3) and a["gyro"].shape == (1500, 3)
    assert a["exp_subject"].tolist() == [1, 1, 2]
    assert a["exp_number"].tolist() == [1, 2, 1]
    assert a["exp_offset"].tolist() == [0, 600, 1000, 1500]
    exps = hapt.experiments(a)
    assert len(exps[1]["label"]) == 400 and exps[2]["subject"] == 2


@pytest.mark.parametrize("bad,match", [
    ({"acc-x": np.nan}, "NaN/inf"),
    ({"gyro-z": np.inf}, "NaN/inf"),
    ({"label": 13}, "unknown labels"),
    ({"sequence": 0}, "not consecutive"),
])
def test_recordings_are_checked(bad: dict, match: str) -> None:
    with pytest.raises(HarDataError, match=match) as e:
        hapt.recordings_to_arrays({3: [recording(**bad)]}, Path("HAPT.pkl.gz"))
    assert "HAPT.pkl.gz" in str(e.value) and "user 3" in str(e.value)


def test_missing_column_is_named() -> None:
    with pytest.raises(HarDataError, match=r"lacks columns \['gyro-y'\]"):
        hapt.recordings_to_arrays({1: [recording().drop(columns="gyro-y")]}, Path("x"))


def test_windows_only_inside_runs_of_activities_1_to_6() -> None:
    labels = [-1] * 100 + [5] * 300 + [8] * 50 + [1] * 200 + [-1] * 50
    users = {2: [recording(700, labels)], 1: [recording(700, labels)]}
    w = hapt.build_windows(hapt.recordings_to_arrays(users, Path("x")))
    # STANDING run of 300 -> 3 windows, WALKING run of 200 -> 2 windows; transitions dropped
    for split, subj in (("train", 1), ("test", 2)):
        assert w[f"y_{split}"].tolist() == [5, 5, 5, 1, 1]
        assert set(w[f"subject_{split}"].tolist()) == {subj}
        assert w[f"start_{split}"].tolist() == [100, 164, 228, 450, 514]
        assert w[f"X_{split}"].shape == (5, 128, 9) and w[f"X_{split}"].dtype == np.float32


def test_full_disk_leaves_no_partial_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from har_utils import io

    def full(*_a: object, **_k: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(io.os, "replace", full)
    target = config.cache_dir() / "x.npz"
    with pytest.raises(HarError, match="no space") as e:
        io.save_npz_atomic(target, a=np.zeros(1000))
    assert "Fix:" in str(e.value)
    assert list(config.cache_dir().iterdir()) == []


def test_read_only_folder_is_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    from har_utils import io

    def ro(*_a: object, **_k: object) -> None:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(io.tempfile, "mkstemp", ro)
    with pytest.raises(HarError, match="cannot write") as e:
        io.write_json_atomic(config.results_dir() / "data_summary.json", {"a": 1})
    assert "writable" in str(e.value)
    assert not (config.results_dir() / "data_summary.json").exists()
