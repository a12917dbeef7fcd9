"""A day of recording: 24 h of 50 Hz data filtered, windowed and classified end to end, timed
(:func:`day_of_recording`), with a seeded synthetic recording when no real one is given."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from har_utils import config
from har_utils.signals import Preprocessing, preprocess


def synthetic_recording(n: int, fs: float = config.SAMPLING_RATE_HZ, seed: int = 0
                        ) -> tuple[np.ndarray, np.ndarray]:
    """A seeded synthetic accelerometer (g) and gyroscope (rad/s) recording, for timing only."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / fs
    acc = rng.normal(0.0, 0.05, (n, 3))
    acc[:, 2] += 1.0
    acc += 0.3 * np.sin(2 * np.pi * 2.0 * t)[:, None] * np.array([1.0, 0.5, 0.2])
    gyro = rng.normal(0.0, 0.1, (n, 3)) + 0.5 * np.sin(2 * np.pi * 1.0 * t)[:, None]
    return acc, gyro


def classify_stream(sig: np.ndarray, predict: Callable[[np.ndarray], np.ndarray], *,
                    batch_size: int = 256, window: int = config.WINDOW_LENGTH,
                    step: int = config.WINDOW_STEP) -> np.ndarray:
    """Activity id (1-6) of every full window of ``sig``, cut ``batch_size`` windows at a time."""
    from numpy.lib.stride_tricks import sliding_window_view
    view = sliding_window_view(np.asarray(sig, dtype=np.float32), window, axis=0)[::step]
    n = len(view)
    out = np.empty(n, dtype=np.int64)
    for a in range(0, n, batch_size):
        batch = np.ascontiguousarray(np.moveaxis(view[a:a + batch_size], -1, 1))
        out[a:a + len(batch)] = np.argmax(predict(batch), axis=1)
    return np.asarray(config.ACTIVITY_IDS, dtype=np.int64)[out]


def day_of_recording(predict: Callable[[np.ndarray], np.ndarray], *,
                     acc: np.ndarray | None = None, gyro: np.ndarray | None = None,
                     hours: float = 24.0, zero_phase: bool = True, batch_size: int = 256,
                     data_label: str | None = None) -> dict[str, Any]:
    """Time filtering, windowing and classifying ``hours`` of 50 Hz data end to end."""
    n = int(round(hours * 3600 * config.SAMPLING_RATE_HZ))
    if acc is None or gyro is None:
        acc, gyro = synthetic_recording(n)
        label = data_label or "synthetic (seeded sines and noise)"
        tiles = 1.0
    else:
        acc, gyro = np.asarray(acc, dtype=float), np.asarray(gyro, dtype=float)
        tiles = n / len(acc)
        idx = np.arange(n) % len(acc)
        acc, gyro = acc[idx], gyro[idx]
        label = data_label or "real recording tiled"
    p = Preprocessing(zero_phase=zero_phase)
    c0, t0 = time.process_time(), time.perf_counter()
    sig = preprocess(acc, gyro, p).astype(np.float32)
    t1 = time.perf_counter()
    pred = classify_stream(sig, predict, batch_size=batch_size)
    t2, c2 = time.perf_counter(), time.process_time()
    return {"hours": hours, "samples": n, "windows": int(len(pred)), "data": label,
            "tiles": round(tiles, 3), "zero_phase": zero_phase, "batch_size": batch_size,
            "preprocess_s": t1 - t0, "window_and_inference_s": t2 - t1, "total_s": t2 - t0,
            "cpu_s": c2 - c0, "ms_per_window": (t2 - t0) * 1000.0 / max(1, len(pred)),
            "class_counts": [int((pred == i).sum()) for i in config.ACTIVITY_IDS]}
