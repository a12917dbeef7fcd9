"""Tests of har_utils.data.window_features on small synthetic windows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from har_utils.config import CHANNELS, SAMPLING_RATE_HZ, WINDOW_LENGTH
from har_utils.data.window_features import (
    FEATURE_NAMES,
    FEATURE_SET_VERSION,
    N_FEATURES,
    compute_features,
    describe_features,
)

FS = SAMPLING_RATE_HZ
T = np.arange(WINDOW_LENGTH) / FS
BIN_HZ = FS / WINDOW_LENGTH
CH = {c: i for i, c in enumerate(CHANNELS)}


def _random(n: int = 6, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = rng.normal(scale=0.3, size=(n, WINDOW_LENGTH, len(CHANNELS)))
    X[:, :, 6:9] += X[:, :, 0:3] + np.array([0.0, 0.0, 1.0])  # total = body + gravity
    return X.astype(np.float32)


def _features(X: np.ndarray) -> dict[str, np.ndarray]:
    F, names = compute_features(X)
    return {n: F[:, i] for i, n in enumerate(names)}


def _window(**signals: np.ndarray | float) -> np.ndarray:
    X = np.zeros((1, WINDOW_LENGTH, len(CHANNELS)))
    for name, value in signals.items():
        X[0, :, CH[name]] = value
    return X


def test_shapes_names_dtype_finite() -> None:
    X = np.concatenate([_random(5), np.zeros((1, WINDOW_LENGTH, 9)),
                        np.full((1, WINDOW_LENGTH, 9), 0.7)])
    F, names = compute_features(X)
    assert F.shape == (7, N_FEATURES) and F.dtype == np.float32
    assert names == FEATURE_NAMES and len(names) == len(set(names)) == N_FEATURES == 339
    assert all("__" in n for n in names)
    assert np.isfinite(F).all()
    # all-zero window: every feature 0 except the undefined gravity angles (pi/2)
    zero = dict(zip(names, F[5]))
    assert all(v == 0 for n, v in zero.items() if not n.startswith("gravity__"))
    assert compute_features(np.zeros((0, WINDOW_LENGTH, 9)))[0].shape == (0, N_FEATURES)


def test_describe_features_matches_names() -> None:
    df = describe_features()
    assert isinstance(df, pd.DataFrame)
    assert list(df.columns) == ["name", "signal", "family", "domain"]
    assert df["name"].tolist() == FEATURE_NAMES
    assert set(df["domain"]) == {"time", "frequency"}
    assert (df["family"] == "gravity_angle").sum() == 3
    assert (df["family"] == "correlation").sum() == 15
    assert FEATURE_SET_VERSION == "hapt-features-v1"


def test_sine_dominant_frequency_band_and_energy() -> None:
    A = 2.0
    f = _features(_window(body_acc_x=A * np.sin(2 * np.pi * 5.0 * T)))
    assert abs(f["body_acc_x__dominant_freq"][0] - 5.0) <= BIN_HZ
    bands = [n for n in FEATURE_NAMES if n.startswith("body_acc_x__band_energy_")]
    energies = np.array([f[n][0] for n in bands])
    assert bands[int(np.argmax(energies))] == "body_acc_x__band_energy_3_6hz"
    assert f["body_acc_x__band_energy_3_6hz"][0] > 0.8 * energies.sum()
    assert f["body_acc_x__energy"][0] == pytest.approx(A**2 / 2, rel=0.05)
    assert 4.0 < f["body_acc_x__mean_freq"][0] < 6.0
    assert 0.0 < f["body_acc_x__spectral_entropy"][0] < 0.5
    # the magnitude of a signed sine peaks at twice the frequency
    assert abs(f["body_acc_mag__dominant_freq"][0] - 10.0) <= BIN_HZ


def test_constant_signal() -> None:
    c = 0.37
    f = _features(_window(body_acc_y=c, total_acc_y=c))
    assert f["body_acc_y__mean"][0] == pytest.approx(c)
    for stat in ("std", "mad", "iqr", "skewness", "kurtosis", "spectral_entropy",
                 "dominant_freq", "mean_freq"):
        assert f[f"body_acc_y__{stat}"][0] == 0.0, stat
    assert f["body_acc_y__min"][0] == f["body_acc_y__max"][0] == pytest.approx(c)
    assert f["body_acc_y__energy"][0] == pytest.approx(c**2)
    assert f["body_acc_jerk_y__mean"][0] == 0.0
    assert f["body_acc__corr_xy"][0] == 0.0  # zero-variance axes


def test_time_stats_match_scipy() -> None:
    X = _random(8, seed=3)
    f = _features(X)
    x = X[:, :, CH["body_gyro_z"]].astype(np.float64)
    np.testing.assert_allclose(f["body_gyro_z__skewness"], scipy.stats.skew(x, axis=1), atol=1e-5)
    np.testing.assert_allclose(f["body_gyro_z__kurtosis"], scipy.stats.kurtosis(x, axis=1),
                               atol=1e-5)
    np.testing.assert_allclose(f["body_gyro_z__mad"],
                               scipy.stats.median_abs_deviation(x, axis=1), atol=1e-6)
    np.testing.assert_allclose(f["body_gyro_z__iqr"], scipy.stats.iqr(x, axis=1), atol=1e-6)
    jerk = np.diff(x, axis=1) * FS
    np.testing.assert_allclose(f["body_gyro_jerk_z__std"], jerk.std(axis=1), rtol=1e-5)
    sma = np.abs(X[:, :, 0:3].astype(np.float64)).sum(axis=2).mean(axis=1)
    np.testing.assert_allclose(f["body_acc__sma"], sma, rtol=1e-5)
    # band energies of the mean-removed signal add up to its variance (Parseval)
    bands = [n for n in FEATURE_NAMES if n.startswith("body_gyro_z__band_energy_")]
    np.testing.assert_allclose(sum(f[n] for n in bands), x.var(axis=1), rtol=1e-4)


def test_correlation_signs() -> None:
    s = np.sin(2 * np.pi * 1.3 * T) + 0.1 * T
    f = _features(_window(body_gyro_x=s, body_gyro_y=s, body_gyro_z=-s))
    assert f["body_gyro__corr_xy"][0] == pytest.approx(1.0, abs=1e-6)
    assert f["body_gyro__corr_xz"][0] == pytest.approx(-1.0, abs=1e-6)
    assert f["body_gyro__corr_yz"][0] == pytest.approx(-1.0, abs=1e-6)


def test_gravity_angles() -> None:
    rng = np.random.default_rng(7)
    body = rng.normal(scale=0.2, size=(WINDOW_LENGTH, 3))
    X = np.zeros((1, WINDOW_LENGTH, 9))
    X[0, :, 0:3] = body
    X[0, :, 6:9] = body + np.array([0.0, 0.0, 1.0])
    f = _features(X)
    assert f["gravity__angle_z"][0] == pytest.approx(0.0, abs=1e-3)
    assert f["gravity__angle_x"][0] == pytest.approx(np.pi / 2, abs=1e-6)
    assert f["gravity__angle_y"][0] == pytest.approx(np.pi / 2, abs=1e-6)
    X[0, :, 6:9] = body + np.array([-1.0, 0.0, 0.0])
    assert _features(X)["gravity__angle_x"][0] == pytest.approx(np.pi, abs=1e-3)


def test_windows_are_independent() -> None:
    X = _random(12, seed=5)
    F, _ = compute_features(X)
    perm = np.random.default_rng(0).permutation(len(X))
    F_perm, _ = compute_features(X[perm])
    np.testing.assert_array_equal(F_perm, F[perm])
    np.testing.assert_array_equal(compute_features(X[3:4])[0][0], F[3])


def test_channel_order_follows_names() -> None:
    X = _random(4, seed=9)
    order = np.arange(9)[::-1]
    F_rev, _ = compute_features(X[:, :, order], channels=[CHANNELS[i] for i in order])
    np.testing.assert_array_equal(F_rev, compute_features(X)[0])


def test_non_finite_input_rejected() -> None:
    X = _random(3)
    X[1, 10, 4] = np.nan
    with pytest.raises(ValueError, match=r"non-finite.*\[1\]"):
        compute_features(X)
    X[1, 10, 4] = np.inf
    with pytest.raises(ValueError, match="non-finite"):
        compute_features(X)


@pytest.mark.parametrize("shape", [(128, 9), (2, 127, 9), (2, 128, 8), (2, 128, 9, 1)])
def test_wrong_shape_rejected(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="shape"):
        compute_features(np.zeros(shape))


def test_missing_channel_and_huge_values_rejected() -> None:
    with pytest.raises(ValueError, match="channels"):
        compute_features(np.zeros((1, 128, 9)), channels=[*CHANNELS[:8], "other"])
    with pytest.raises(ValueError, match="expected"):
        compute_features(np.full((1, 128, 9), 1e9))
