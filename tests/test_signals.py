"""Signal processing on known signals: filter responses, gravity split, windows."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal as sps

from har_utils.config import CHANNELS
from har_utils.signals import (Preprocessing, butter_lowpass, label_runs, lowpass,
                               median_filter, preprocess, sliding_windows, window_starts)

FS = 50.0


def sine(freq: float, n: int = 2000, amp: float = 1.0) -> np.ndarray:
    return amp * np.sin(2 * np.pi * freq * np.arange(n) / FS)


def test_butterworth_is_3rd_order_with_minus_3db_at_cutoff() -> None:
    sos = butter_lowpass(20.0, FS, 3)
    assert sos.shape == (2, 6)  # 3rd order = one biquad + one first-order section
    w, h = sps.sosfreqz(sos, worN=[0.0, 20.0, 24.0], fs=FS)
    gain = np.abs(h)
    assert gain[0] == pytest.approx(1.0, abs=1e-9)
    assert gain[1] == pytest.approx(1 / np.sqrt(2), rel=1e-3)
    assert gain[2] < 0.3


def test_lowpass_keeps_slow_and_removes_fast_components() -> None:
    x = sine(1.0) + sine(23.0)
    y = lowpass(x, 20.0, FS)
    core = slice(200, -200)
    # zero-phase: 1 Hz passes through with gain ~1 and no delay; 23 Hz is squashed twice
    assert np.abs(y[core] - sine(1.0)[core]).max() < 0.12
    resid = y - sine(1.0)
    assert resid[core].std() < 0.15 * sine(23.0)[core].std()


def test_zero_phase_has_no_delay_but_causal_does() -> None:
    x = sine(0.2, n=5000)
    zp = lowpass(x, 0.3, FS, zero_phase=True)
    ca = lowpass(x, 0.3, FS, zero_phase=False)
    lag = lambda y: int(np.argmax(np.correlate(y[1000:4000], x[1000:4000], "full"))) - 2999
    assert lag(zp) == 0
    assert lag(ca) > 10  # a causal 0.3 Hz filter lags a 0.2 Hz wave by many samples


def test_median_filter_removes_a_single_spike() -> None:
    x = np.zeros((50, 3))
    x[20, 1] = 9.0
    y = median_filter(x, 3)
    assert np.all(y == 0)
    ramp = np.arange(10.0)[:, None]
    assert np.array_equal(median_filter(ramp, 3), ramp)  # monotone signals pass unchanged


def test_gravity_separation_of_constant_plus_sine() -> None:
    n = 3000
    gravity = np.array([0.1, 0.2, 0.97])
    body = np.stack([sine(2.0, n, 0.3), sine(1.5, n, 0.2), sine(3.0, n, 0.1)], axis=1)
    acc = gravity + body
    out = preprocess(acc, np.zeros((n, 3)), Preprocessing())
    core = slice(500, -500)
    body_acc, total_acc = out[:, 0:3], out[:, 6:9]
    est_gravity = total_acc - body_acc
    assert np.abs(est_gravity[core] - gravity).max() < 0.01
    assert np.abs(body_acc[core] - body[core]).max() < 0.03
    assert out.shape == (n, len(CHANNELS))


def test_preprocess_channel_order_puts_gyro_in_the_middle() -> None:
    n = 1000
    gyro = np.tile([0.5, -0.5, 0.25], (n, 1))
    out = preprocess(np.tile([0.0, 0.0, 1.0], (n, 1)), gyro)
    assert np.allclose(out[:, 3:6], gyro)
    assert np.allclose(out[:, 8], 1.0) and np.allclose(out[:, 0:3], 0.0, atol=1e-9)


def test_preprocess_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match="must both be"):
        preprocess(np.zeros((10, 3)), np.zeros((10, 2)))


@pytest.mark.parametrize("n,expected", [(127, 0), (128, 1), (191, 1), (192, 2), (1000, 14)])
def test_window_count(n: int, expected: int) -> None:
    assert len(window_starts(n)) == expected
    assert len(sliding_windows(np.zeros((n, 9)))) == expected


def test_windows_overlap_by_half() -> None:
    x = np.arange(1000 * 2, dtype=float).reshape(1000, 2)
    w = sliding_windows(x, 128, 64)
    assert w.shape == (14, 128, 2)
    assert np.array_equal(w[1, :64], w[0, 64:])
    assert np.array_equal(w[3], x[192:320])


def test_label_runs() -> None:
    labels = np.array([-1, -1, 5, 5, 5, 7, 4, 4])
    assert label_runs(labels) == [(0, 2, -1), (2, 5, 5), (5, 6, 7), (6, 8, 4)]
    assert label_runs(np.array([])) == []


def test_preprocessing_key_changes_with_parameters() -> None:
    assert Preprocessing().key() == Preprocessing().key()
    assert Preprocessing().key() != Preprocessing(zero_phase=False).key()
