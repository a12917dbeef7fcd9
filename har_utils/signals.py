"""Signal processing of the published UCI HAR pipeline: noise filters, gravity split, windows.

Anguita et al. (ESANN 2013) describe the preprocessing: each raw signal passes a median filter
and a 3rd-order low-pass Butterworth filter at 20 Hz (noise); the total acceleration is split
into gravity (3rd-order low-pass Butterworth at 0.3 Hz) and body acceleration (total minus
gravity); signals are cut into windows of 2.56 s (128 samples at 50 Hz) with 50 % overlap.
The kernel of the median filter is not published; we take 3 samples. Zero-phase filtering
(``sosfiltfilt``, offline) is the default; ``zero_phase=False`` gives causal filtering as a
streaming device would run it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import ndimage, signal

from .config import SAMPLING_RATE_HZ, WINDOW_LENGTH, WINDOW_STEP


@dataclass(frozen=True)
class Preprocessing:
    """Parameters of the UCI HAR preprocessing (defaults: the published ones)."""

    fs: float = SAMPLING_RATE_HZ
    median_kernel: int = 3
    noise_cutoff_hz: float = 20.0
    gravity_cutoff_hz: float = 0.3
    filter_order: int = 3
    zero_phase: bool = True
    window: int = WINDOW_LENGTH
    step: int = WINDOW_STEP

    def as_dict(self) -> dict[str, float | int | bool]:
        """Plain dict for provenance records."""
        return dataclasses.asdict(self)

    def key(self) -> str:
        """Short stable hash of the parameters (part of cache file names)."""
        blob = json.dumps(self.as_dict(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:10]


def median_filter(x: np.ndarray, kernel: int = 3) -> np.ndarray:
    """Running median over time (axis 0) of each column; edges repeat the end samples."""
    if kernel <= 1:
        return np.asarray(x, dtype=float).copy()
    size = (kernel,) + (1,) * (np.ndim(x) - 1)
    return ndimage.median_filter(np.asarray(x, dtype=float), size=size, mode="nearest")


def butter_lowpass(cutoff_hz: float, fs: float, order: int = 3) -> np.ndarray:
    """Second-order sections of a low-pass Butterworth filter."""
    if not 0 < cutoff_hz < fs / 2:
        raise ValueError(f"cutoff {cutoff_hz} Hz must lie between 0 and Nyquist ({fs / 2} Hz)")
    return signal.butter(order, cutoff_hz, btype="low", fs=fs, output="sos")


def lowpass(x: np.ndarray, cutoff_hz: float, fs: float, order: int = 3,
            zero_phase: bool = True) -> np.ndarray:
    """Low-pass filter along axis 0, zero-phase (offline) or causal (streaming)."""
    sos = butter_lowpass(cutoff_hz, fs, order)
    x = np.asarray(x, dtype=float)
    if zero_phase:
        return signal.sosfiltfilt(sos, x, axis=0)
    # causal: start the filter in its steady state for the first sample (no start-up step)
    zi = signal.sosfilt_zi(sos)
    zi = zi.reshape(zi.shape + (1,) * (x.ndim - 1)) * x[:1]
    return signal.sosfilt(sos, x, axis=0, zi=zi)[0]


def preprocess(acc: np.ndarray, gyro: np.ndarray,
               p: Preprocessing = Preprocessing()) -> np.ndarray:
    """Raw (n,3) accelerometer (g) and gyroscope (rad/s) -> (n,9) filtered signals.

    Columns in ``config.CHANNELS`` order: body_acc xyz, body_gyro xyz, total_acc xyz.
    """
    acc = np.asarray(acc, dtype=float)
    gyro = np.asarray(gyro, dtype=float)
    if acc.ndim != 2 or acc.shape[1] != 3 or gyro.shape != acc.shape:
        raise ValueError(f"acc and gyro must both be (n, 3); got {acc.shape} and {gyro.shape}")

    def denoise(x: np.ndarray) -> np.ndarray:
        return lowpass(median_filter(x, p.median_kernel), p.noise_cutoff_hz, p.fs,
                       p.filter_order, p.zero_phase)

    total_acc = denoise(acc)
    gravity = lowpass(total_acc, p.gravity_cutoff_hz, p.fs, p.filter_order, p.zero_phase)
    body_acc = total_acc - gravity
    body_gyro = denoise(gyro)
    return np.concatenate([body_acc, body_gyro, total_acc], axis=1)


def label_runs(labels: np.ndarray) -> list[tuple[int, int, int]]:
    """Maximal runs of equal labels as ``(start, stop, label)`` with ``stop`` exclusive."""
    labels = np.asarray(labels)
    if labels.size == 0:
        return []
    edges = np.flatnonzero(np.diff(labels)) + 1
    starts = np.r_[0, edges]
    stops = np.r_[edges, labels.size]
    return [(int(a), int(b), int(labels[a])) for a, b in zip(starts, stops)]


def window_starts(n: int, window: int = WINDOW_LENGTH, step: int = WINDOW_STEP) -> np.ndarray:
    """Start indices of the full windows that fit in ``n`` samples (no padding)."""
    if n < window:
        return np.zeros(0, dtype=np.int64)
    return np.arange(0, n - window + 1, step, dtype=np.int64)


def sliding_windows(x: np.ndarray, window: int = WINDOW_LENGTH,
                    step: int = WINDOW_STEP) -> np.ndarray:
    """(n, c) signal -> (k, window, c) copy of its full windows, ``step`` samples apart."""
    x = np.asarray(x)
    if x.shape[0] < window:
        return np.zeros((0, window) + x.shape[1:], dtype=x.dtype)
    view = sliding_window_view(x, window, axis=0)[::step]  # (k, c, window)
    return np.ascontiguousarray(np.moveaxis(view, -1, 1))
