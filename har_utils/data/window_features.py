"""Hand-made window features for EDA (t-SNE) and classical baselines, numpy/scipy only.

The official UCI HAR release ships 561 engineered features per window; the offline "hapt"
source rebuilds only the raw (n, 128, 9) inertial windows. This module computes a documented
feature set *in the spirit of* the official one (time and frequency statistics per signal).
It is **not** the official 561-feature set and its values are not comparable to it.

Feature set ``hapt-features-v1`` (F = 339 features per window)
---------------------------------------------------------------
Signals (20):

* the 9 raw channels: ``body_acc_{x,y,z}``, ``body_gyro_{x,y,z}``, ``total_acc_{x,y,z}``;
* jerks (``np.diff(x) * fs``, 127 samples): ``body_acc_jerk_{x,y,z}``, ``body_gyro_jerk_{x,y,z}``;
* Euclidean magnitudes: ``body_acc_mag``, ``body_gyro_mag``, ``total_acc_mag``,
  ``body_acc_jerk_mag``, ``body_gyro_jerk_mag``.

Families:

* time, per signal (20 x 9 = 180): ``mean``, ``std``, ``mad`` (median absolute deviation),
  ``min``, ``max``, ``iqr``, ``energy`` (mean of squares), ``skewness``, ``kurtosis``
  (Fisher, biased moments as ``scipy.stats`` with ``bias=True``; 0 for a constant signal);
* time, per triaxial group (5 groups: body_acc, body_gyro, total_acc, body_acc_jerk,
  body_gyro_jerk): ``sma`` (signal magnitude area, mean of |x|+|y|+|z|; 5) and Pearson
  correlations ``corr_xy``, ``corr_xz``, ``corr_yz`` (15; 0 when an axis is constant);
* frequency, per body / jerk / magnitude signal (17 signals x 8 = 136), from the one-sided
  power spectrum of the mean-removed signal, scaled so that it sums to the signal variance:
  ``dominant_freq`` (Hz), ``band_energy_<lo>_<hi>hz`` for the bands of :data:`FREQ_BANDS`
  (0-1, 1-3, 3-6, 6-12, 12-25 Hz; 5), ``spectral_entropy`` (normalised to [0, 1]) and
  ``mean_freq`` (power-weighted, Hz); all 0 for a constant signal;
* gravity angles (3): ``gravity__angle_{x,y,z}``, the angle (radians) between the window's
  mean gravity vector, mean(total_acc - body_acc), and each axis (pi/2 if gravity is zero).

Total: 180 + 5 + 15 + 136 + 3 = 339. Use :func:`describe_features` for a documentation table.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from har_utils.config import CHANNELS, SAMPLING_RATE_HZ, WINDOW_LENGTH

FEATURE_SET_VERSION: str = "hapt-features-v1"

#: Frequency bands (Hz) for band energies; the last band includes the Nyquist frequency.
FREQ_BANDS: tuple[tuple[float, float], ...] = ((0, 1), (1, 3), (3, 6), (6, 12), (12, 25))

TIME_STATS: tuple[str, ...] = (
    "mean", "std", "mad", "min", "max", "iqr", "energy", "skewness", "kurtosis",
)
FREQ_STATS: tuple[str, ...] = (
    ("dominant_freq",)
    + tuple(f"band_energy_{lo:g}_{hi:g}hz" for lo, hi in FREQ_BANDS)
    + ("spectral_entropy", "mean_freq")
)

_AXES = ("x", "y", "z")
_RAW_GROUPS = ("body_acc", "body_gyro", "total_acc")
_JERK_GROUPS = ("body_acc_jerk", "body_gyro_jerk")
_GROUPS = _RAW_GROUPS + _JERK_GROUPS
_PAIRS = ((0, 1), (0, 2), (1, 2))
#: Signals sampled on the full window (128) and on the jerk window (127), in output order.
_FULL = [f"{g}_{a}" for g in _RAW_GROUPS for a in _AXES] + [f"{g}_mag" for g in _RAW_GROUPS]
_JERK = [f"{g}_{a}" for g in _JERK_GROUPS for a in _AXES] + [f"{g}_mag" for g in _JERK_GROUPS]
_SIGNALS = _FULL + _JERK
_FREQ_SIGNALS = [s for s in _SIGNALS if not (s.startswith("total_acc_") and s != "total_acc_mag")]
# Relative tolerance under which a signal counts as constant (float64 round-off is ~1e-16).
_CONST_RTOL = 1e-9
_CHUNK = 1024
#: Largest accepted |value|: keeps every feature (e.g. jerk energy) inside float32 range.
MAX_ABS_VALUE: float = 1e6


def _feature_table() -> list[tuple[str, str, str, str]]:
    """(name, signal, family, domain) for every feature, in output column order."""
    rows: list[tuple[str, str, str, str]] = []
    for s in _SIGNALS:
        rows += [(f"{s}__{st}", s, st, "time") for st in TIME_STATS]
    rows += [(f"{g}__sma", g, "sma", "time") for g in _GROUPS]
    for g in _GROUPS:
        rows += [(f"{g}__corr_{_AXES[i]}{_AXES[j]}", g, "correlation", "time") for i, j in _PAIRS]
    for s in _FREQ_SIGNALS:
        rows += [(f"{s}__{st}", s, "band_energy" if st.startswith("band") else st, "frequency")
                 for st in FREQ_STATS]
    rows += [(f"gravity__angle_{a}", "gravity", "gravity_angle", "time") for a in _AXES]
    return rows


FEATURE_NAMES: list[str] = [r[0] for r in _feature_table()]
N_FEATURES: int = len(FEATURE_NAMES)


def describe_features() -> pd.DataFrame:
    """One row per feature: ``name``, ``signal``, ``family``, ``domain`` (output order)."""
    return pd.DataFrame(_feature_table(), columns=["name", "signal", "family", "domain"])


def _is_const(x: np.ndarray, std: np.ndarray, axis: int = 1) -> np.ndarray:
    """True where a signal (time on ``axis``) is constant up to float round-off."""
    return std <= _CONST_RTOL * np.abs(x).max(axis=axis)


def _quantile_sorted(s: np.ndarray, q: float) -> np.ndarray:
    """Linear-interpolated quantile (numpy's default) of data already sorted on the last axis."""
    pos = q * (s.shape[-1] - 1)
    lo = int(np.floor(pos))
    hi = min(lo + 1, s.shape[-1] - 1)
    return s[..., lo] + (pos - lo) * (s[..., hi] - s[..., lo])


def _time_features(x: np.ndarray) -> np.ndarray:
    """(n, L, S) signals -> (n, S, len(TIME_STATS)) time-domain statistics."""
    x = np.ascontiguousarray(np.moveaxis(x, 1, 2))  # (n, S, L): reduce over contiguous time
    mean = x.mean(axis=-1)
    d = x - mean[..., None]
    d2 = d * d
    m2 = d2.mean(axis=-1)
    std = np.sqrt(m2)
    const = _is_const(x, std, axis=-1)
    safe = np.where(const, 1.0, m2)
    skew = np.where(const, 0.0, (d2 * d).mean(axis=-1) / (safe * np.sqrt(safe)))
    kurt = np.where(const, 0.0, (d2 * d2).mean(axis=-1) / (safe * safe) - 3.0)
    s = np.sort(x, axis=-1)
    med = _quantile_sorted(s, 0.5)
    mad = _quantile_sorted(np.sort(np.abs(x - med[..., None]), axis=-1), 0.5)
    iqr = _quantile_sorted(s, 0.75) - _quantile_sorted(s, 0.25)
    energy = (x * x).mean(axis=-1)
    return np.stack([mean, np.where(const, 0.0, std), mad, s[..., 0], s[..., -1], iqr, energy,
                     skew, kurt], axis=-1)


def _freq_features(x: np.ndarray, fs: float) -> np.ndarray:
    """(n, L, S) signals -> (n, S, len(FREQ_STATS)) spectral statistics."""
    x = np.ascontiguousarray(np.moveaxis(x, 1, 2))  # (n, S, L)
    n_t = x.shape[-1]
    d = x - x.mean(axis=-1, keepdims=True)
    spec = np.fft.rfft(d, axis=-1)
    p = (spec.real**2 + spec.imag**2) * (2.0 / n_t**2)  # one-sided power, sums to variance
    p[..., 0] = 0.0  # mean removed: DC is round-off only
    if n_t % 2 == 0:
        p[..., -1] /= 2.0  # the Nyquist bin has no mirror image
    freqs = np.fft.rfftfreq(n_t, d=1.0 / fs)
    total = p.sum(axis=-1)  # == variance of the signal (Parseval)
    const = _is_const(x, np.sqrt(total), axis=-1)
    pn = p[..., 1:] / np.where(const, 1.0, total)[..., None]  # normalised, DC bin dropped
    dom = freqs[1:][np.argmax(pn, axis=-1)]
    bands = []
    for k, (lo, hi) in enumerate(FREQ_BANDS):
        upper = freqs <= hi if k == len(FREQ_BANDS) - 1 else freqs < hi
        bands.append(p[..., (freqs >= lo) & upper].sum(axis=-1))
    plogp = pn * np.log(np.where(pn > 0, pn, 1.0))  # 0 log 0 := 0
    ent = -plogp.sum(axis=-1) / np.log(max(pn.shape[-1], 2))
    mean_f = pn @ freqs[1:]
    out = np.stack([dom, *bands, np.clip(ent, 0.0, 1.0), mean_f], axis=-1)
    out[const] = 0.0
    return out


def _corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation over axis 1 of (n, L) arrays; 0 where either is constant."""
    da = a - a.mean(axis=1, keepdims=True)
    db = b - b.mean(axis=1, keepdims=True)
    sa = np.sqrt((da**2).mean(axis=1))
    sb = np.sqrt((db**2).mean(axis=1))
    const = _is_const(a, sa) | _is_const(b, sb)
    r = (da * db).mean(axis=1) / np.where(const, 1.0, sa * sb)
    return np.where(const, 0.0, np.clip(r, -1.0, 1.0))


def _chunk_features(x: np.ndarray, idx: dict[str, int], fs: float) -> np.ndarray:
    """Features of one (n, 128, C) float64 chunk, columns in :data:`FEATURE_NAMES` order."""
    tri = {g: x[:, :, [idx[f"{g}_{a}"] for a in _AXES]] for g in _RAW_GROUPS}  # (n, L, 3)
    for g in ("body_acc", "body_gyro"):
        tri[f"{g}_jerk"] = np.diff(tri[g], axis=1) * fs
    mags = {g: np.sqrt((tri[g] ** 2).sum(axis=-1)) for g in _GROUPS}
    full = np.concatenate([tri[g] for g in _RAW_GROUPS]
                          + [mags[g][:, :, None] for g in _RAW_GROUPS], axis=-1)
    jerk = np.concatenate([tri[g] for g in _JERK_GROUPS]
                          + [mags[g][:, :, None] for g in _JERK_GROUPS], axis=-1)
    n = x.shape[0]
    blocks = [_time_features(full).reshape(n, -1), _time_features(jerk).reshape(n, -1)]
    blocks.append(np.stack([np.abs(tri[g]).sum(axis=-1).mean(axis=1) for g in _GROUPS], axis=1))
    blocks.append(np.stack([_corr(tri[g][:, :, i], tri[g][:, :, j])
                            for g in _GROUPS for i, j in _PAIRS], axis=1))
    keep_full = [k for k, s in enumerate(_FULL) if s in _FREQ_SIGNALS]
    blocks.append(_freq_features(full[:, :, keep_full], fs).reshape(n, -1))
    blocks.append(_freq_features(jerk, fs).reshape(n, -1))
    grav = (tri["total_acc"] - tri["body_acc"]).mean(axis=1)  # (n, 3)
    norm = np.linalg.norm(grav, axis=1, keepdims=True)
    cos = np.where(norm > 0, grav / np.where(norm > 0, norm, 1.0), 0.0)
    blocks.append(np.arccos(np.clip(cos, -1.0, 1.0)))
    return np.concatenate(blocks, axis=1)


def compute_features(
    X: np.ndarray, fs: float = SAMPLING_RATE_HZ, channels: Sequence[str] = CHANNELS
) -> tuple[np.ndarray, list[str]]:
    """Compute the ``hapt-features-v1`` set (see module docstring) for every window.

    ``X`` has shape (n, 128, len(channels)); ``channels`` names its last axis and must contain
    the 9 UCI HAR channels of :data:`~har_utils.config.CHANNELS` (any order; extra channels
    are ignored). Returns a float32 (n, F) array and its F unique column names. Raises
    ``ValueError`` on a wrong shape, missing channels, non-finite input or values beyond
    :data:`MAX_ABS_VALUE`.
    """
    X = np.asarray(X)
    channels = list(channels)
    if X.ndim != 3 or X.shape[1] != WINDOW_LENGTH or X.shape[2] != len(channels):
        raise ValueError(
            f"compute_features: X must have shape (n, {WINDOW_LENGTH}, {len(channels)}) "
            f"(windows, samples, channels), got {X.shape}")
    missing = [c for c in CHANNELS if c not in channels]
    if missing:
        raise ValueError(f"compute_features: channels lack {missing}; got {channels}")
    if not np.issubdtype(X.dtype, np.number) or np.iscomplexobj(X):
        raise ValueError(f"compute_features: X must be real numeric, got dtype {X.dtype}")
    if not (np.isfinite(fs) and fs > 0):
        raise ValueError(f"compute_features: fs must be a positive finite number, got {fs}")
    finite = np.isfinite(X).all(axis=(1, 2))
    if not finite.all():
        bad = np.flatnonzero(~finite)
        raise ValueError(
            f"compute_features: X contains non-finite values (NaN or inf) in {bad.size} "
            f"window(s), first indices {bad[:5].tolist()}; drop or repair them first")
    if X.size and np.abs(X).max() > MAX_ABS_VALUE:
        raise ValueError(
            f"compute_features: |X| reaches {float(np.abs(X).max()):.3g} > {MAX_ABS_VALUE:g}; "
            "inertial signals are expected in g and rad/s")
    idx = {c: channels.index(c) for c in CHANNELS}
    out = np.empty((X.shape[0], N_FEATURES), dtype=np.float32)
    for start in range(0, X.shape[0], _CHUNK):  # chunks bound memory; no per-window loop
        chunk = X[start:start + _CHUNK].astype(np.float64, copy=False)
        out[start:start + _CHUNK] = _chunk_features(chunk, idx, float(fs))
    if not np.isfinite(out).all():  # would be a bug here, not bad input
        raise AssertionError("compute_features produced non-finite features for finite input")
    return out, list(FEATURE_NAMES)


def feature_matrix(X: np.ndarray) -> np.ndarray:
    """The feature columns of :func:`compute_features` alone: the first step of a saved
    window classifier (``FunctionTransformer(feature_matrix)`` + a fitted scikit-learn model),
    so it takes raw windows as a Keras model does."""
    return compute_features(X)[0]
