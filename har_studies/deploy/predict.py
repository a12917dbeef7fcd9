"""Classify whole recordings window by window: a user's CSV (``har predict``) and HAPT timelines.

The CSV has one row per sample: ``acc_x, acc_y, acc_z`` (g, gravity included), ``gyro_x, gyro_y,
gyro_z`` (rad/s) and an optional ``time`` column (s), else ``--rate HZ``; comma-, semicolon- or
tab-separated, lines starting with ``#`` skipped. It is resampled to 50 Hz, preprocessed as in
training (zero-phase, or causal with ``--causal``) and cut into windows of 128 samples every 64.
Bad input raises :class:`HarDataError` naming the file and the fix: among the checks, the median
acceleration magnitude must be near 1 g (gravity included, in g) and the gyroscope must read
rad/s, not deg/s; the model must take raw windows and give the six activities.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from har_utils import config
from har_utils.io import HarDataError, HarError, atomic_write
from har_utils.signals import Preprocessing, preprocess, sliding_windows, window_starts

ACC_COLUMNS: tuple[str, ...] = ("acc_x", "acc_y", "acc_z")
GYRO_COLUMNS: tuple[str, ...] = ("gyro_x", "gyro_y", "gyro_z")
TIME_COLUMN: str = "time"
#: Sample rates accepted at all; below ``LOW_RATE_WARNING_HZ`` a warning (the training data
#: carried content up to the 20 Hz filter cut-off, which needs at least 40 Hz).
MIN_RATE_HZ: float = 10.0
MAX_RATE_HZ: float = 2000.0
LOW_RATE_WARNING_HZ: float = 40.0
#: Largest relative difference between ``--rate`` and the rate the time column gives.
RATE_TOLERANCE: float = 0.02
#: Largest relative deviation of one sampling interval from their median.
JITTER_TOLERANCE: float = 0.10
#: A phone at rest reads about 1 g; a median magnitude above this suggests m/s^2.
MAX_MEDIAN_ACC_G: float = 4.0
#: The median magnitude of the total acceleration must lie in this band (g): it includes gravity.
#: Every raw HAPT recording (61, all 30 subjects) lies within 1.003-1.031 g, every window of
#: them within 0.75-1.23 g; linear acceleration (gravity removed) or zeros lie far below.
ACC_MEDIAN_BAND_G: tuple[float, float] = (0.5, 1.5)
#: Above this 95th percentile of the gyroscope magnitude (rad/s) the unit is deg/s: the raw HAPT
#: recordings reach 1.2-2.3 rad/s (a single 2.56 s window at most 15.5 rad/s).
MAX_GYRO_P95_RAD_S: float = 20.0
DEG_PER_RAD: float = 57.2958
#: Separators tried on the header line, and the comment mark of a skipped line.
SEPARATORS: tuple[str, ...] = (",", ";", "\t")
COMMENT: str = "#"
FORMAT_FIX = ("give a header row with acc_x, acc_y, acc_z (g) and gyro_x, gyro_y, gyro_z "
              "(rad/s), plus a time column in seconds or --rate HZ")
Classifier = Callable[[np.ndarray], np.ndarray]


def model_path(model: str | os.PathLike[str] | None) -> Path:
    """The model file ``--model`` names: a ``.keras`` or ``.tflite`` path, or a model's name
    under results/models/ (``beyond``: the beyond study's; ``small``: the watch model); none:
    the paper model."""
    if model is None:
        return config.reported_results_dir() / "models" / "cnn_lstm_paper.keras"
    path = Path(model)
    if not path.is_file() and path.suffix == "":
        for suffix in (".keras", ".joblib"):
            named = config.reported_results_dir() / "models" / f"{model}{suffix}"
            if named.is_file():
                return named
    return path


# --- reading a recording ---------------------------------------------------------------------

@dataclass
class Recording:
    """A recording at 50 Hz: raw ``acc`` (g) and ``gyro`` (rad/s), each (n, 3)."""

    acc: np.ndarray
    gyro: np.ndarray
    #: Rate of the file (Hz) before resampling.
    source_rate_hz: float
    #: Time of the first sample (s): the file's ``time`` column, else 0.
    t0: float = 0.0
    #: ``(up, down)`` of the polyphase resampling, or ``None`` if the file was at 50 Hz.
    resampled: tuple[int, int] | None = None
    path: Path | None = None
    #: What reading the file did that a user should know (another separator, skipped comments).
    notes: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        """Samples at 50 Hz."""
        return len(self.acc)


@dataclass
class _Layout:
    """What a first pass over the lines of a CSV found (indices 0-based)."""

    comments: list[int] = field(default_factory=list)
    blank: list[int] = field(default_factory=list)
    header: bytes = b""
    first_row: bytes = b""
    first_comment: bytes = b""


def _layout(path: Path) -> _Layout:
    """Comment (``#``) and blank lines, the header and the first data line of ``path``."""
    out = _Layout()
    mark = COMMENT.encode()
    with open(path, "rb") as f:
        for i, line in enumerate(f):
            text = line.strip()
            if not text:
                out.blank.append(i)
            elif text.startswith(mark):
                out.comments.append(i)
                out.first_comment = out.first_comment or text
            elif not out.header:
                out.header = text
            elif not out.first_row:
                out.first_row = text
    return out


def _separator(header: bytes) -> str:
    """The separator the header line uses most among :data:`SEPARATORS` (a comma if none)."""
    counts = {sep: header.count(sep.encode()) for sep in SEPARATORS}
    best = max(counts, key=lambda k: counts[k])
    return best if counts[best] else ","


def _shown_lines(lines: list[int], most: int = 5) -> str:
    shown = ", ".join(str(i + 1) for i in lines[:most])
    return shown + (f", ... ({len(lines)} in all)" if len(lines) > most else "")


def _read_csv(path: Path) -> tuple[pd.DataFrame, np.ndarray, list[str], _Layout]:
    """The table, the 1-based file line of each row, notes on what was skipped or guessed, and
    the layout of the lines."""
    if not path.is_file():
        raise HarDataError(path, "recording not found" if not path.exists() else
                           "not a file", "check the path of the CSV")
    notes: list[str] = []
    try:
        lay = _layout(path)
        sep = _separator(lay.header)
        # a decimal comma (0,98;0,01;...) only with another separator
        decimal = "," if sep != "," and b"," in lay.first_row else "."
        skipped = sorted(lay.comments + lay.blank)
        df = pd.read_csv(path, sep=sep, decimal=decimal, skiprows=skipped,
                         skip_blank_lines=False)
    except pd.errors.EmptyDataError:
        raise HarDataError(path, "the file is empty" if not skipped else "the file holds no "
                           "header and no samples, only comment or blank lines",
                           FORMAT_FIX) from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise HarDataError(path, f"not a readable CSV ({first})",
                           f"save it as comma-separated text: {FORMAT_FIX}") from None
    if sep != ",":
        name = "tabs" if sep == "\t" else f"'{sep}'"
        notes.append(f"the file is separated by {name}, not commas: read it that way"
                     + (", with decimal commas" if decimal == "," else ""))
    if lay.comments:
        k = len(lay.comments)
        notes.append(f"skipped {k} comment line{'s' if k > 1 else ''} starting with {COMMENT} "
                     f"(line{'s' if k > 1 else ''} {_shown_lines(lay.comments)})")
    kept = np.setdiff1d(np.arange(len(df) + 1 + len(skipped)), skipped)
    lines = kept[1:len(df) + 1] + 1  # the rows after the header; 1-based
    df.columns = [str(c).strip().lower().replace("-", "_").replace(" ", "_") for c in df.columns]
    return df, lines, notes, lay


def _numeric(df: pd.DataFrame, columns: tuple[str, ...], path: Path,
             lines: np.ndarray | None = None) -> np.ndarray:
    """The named columns as float, with a clear error at the first NaN or non-numeric cell
    (``lines``: the file line of each row, else the row after one header line)."""
    raw = df[list(columns)]
    values = raw.apply(pd.to_numeric, errors="coerce")
    bad = values.isna().to_numpy() | ~np.isfinite(values.to_numpy(dtype=float, na_value=np.nan))
    if bad.any():
        row, col = (int(v[0]) for v in np.nonzero(bad))
        cell = raw.iat[row, col]
        line = int(lines[row]) if lines is not None else row + 2  # 1-based
        name = columns[col]
        n_bad = int(bad.sum())
        if pd.isna(cell) or (isinstance(cell, float) and not np.isfinite(cell)):
            what = f"a missing value (NaN/inf) in column {name} at line {line}"
            fix = ("fill or cut out the gap (e.g. interpolate short gaps, split the recording "
                   "at long ones); every row needs all six channels")
        else:
            what = f"a non-numeric value {str(cell)!r} in column {name} at line {line}"
            fix = ("correct or delete that line: every cell below the header is a plain number "
                   "(a dot for decimals, no units; a second header does not belong in the data, "
                   f"and a comment line starts with {COMMENT})")
        raise HarDataError(path, f"{what} ({n_bad} bad cell{'s' if n_bad > 1 else ''} in all)",
                           fix)
    return values.to_numpy(dtype=float)


def sample_rate(times: np.ndarray | None, rate: float | None, path: Path | None) -> float:
    """The sample rate from the time column and/or ``rate``, or a clear error."""
    if times is None and rate is None:
        raise HarDataError(path, "no sample rate: the CSV has no time column and no --rate was "
                           "given", "add a time column in seconds, or pass --rate HZ")
    inferred = None
    if times is not None:
        if len(times) < 2:
            raise HarDataError(path, "one sample cannot give a sample rate",
                               "record at least 2.56 s")
        dt = np.diff(times)
        if not (dt > 0).all():
            line = int(np.flatnonzero(dt <= 0)[0]) + 3
            raise HarDataError(path, f"the time column does not increase at line {line}",
                               "sort the rows by time and drop duplicate timestamps")
        med = float(np.median(dt))
        jitter = float(np.max(np.abs(dt - med)) / med)
        if jitter > JITTER_TOLERANCE:
            raise HarDataError(path, f"irregular sampling: intervals from {dt.min():.4g} s to "
                               f"{dt.max():.4g} s (median {med:.4g} s)",
                               "resample to a constant rate first (or cut out the gaps), or "
                               "drop the time column and give --rate HZ")
        inferred = 1.0 / med
    if rate is not None:
        if not (np.isfinite(rate) and rate > 0):
            raise HarDataError(path, f"--rate {rate} is not a positive number of Hz",
                               "pass the sample rate in Hz, e.g. --rate 50")
        if inferred is not None and abs(inferred - rate) > RATE_TOLERANCE * rate:
            raise HarDataError(path, f"inconsistent sample rate: --rate {rate:g} Hz but the time "
                               f"column gives {inferred:.4g} Hz",
                               "fix --rate, or leave it out to use the time column (in seconds)")
    fs = float(rate) if rate is not None else float(inferred)  # type: ignore[arg-type]
    if not MIN_RATE_HZ <= fs <= MAX_RATE_HZ:
        unit_hint = (" (is the time column in milliseconds? it must be in seconds)"
                     if rate is None else "")
        raise HarDataError(path, f"implausible sample rate {fs:.4g} Hz{unit_hint}",
                           f"give a rate between {MIN_RATE_HZ:g} and {MAX_RATE_HZ:g} Hz; "
                           "phones record at 50-200 Hz")
    return fs


def resample_to_50hz(x: np.ndarray, fs: float) -> tuple[np.ndarray, tuple[int, int] | None]:
    """``x`` (n, c) at ``fs`` Hz resampled to 50 Hz with ``resample_poly`` (anti-aliasing FIR,
    edges padded by a fitted line so gravity does not ring); returns it and ``(up, down)``."""
    ratio = Fraction(config.SAMPLING_RATE_HZ / fs).limit_denominator(1000)
    if ratio == 1:  # 50 Hz, up to timestamp rounding
        return np.asarray(x, dtype=float), None
    from scipy.signal import resample_poly
    up, down = ratio.numerator, ratio.denominator
    return resample_poly(np.asarray(x, dtype=float), up, down, axis=0, padtype="line"), (up, down)


def read_recording(path: str | os.PathLike[str], rate: float | None = None) -> Recording:
    """Read and check a CSV recording (format: module docstring) and bring it to 50 Hz."""
    path = Path(path)
    df, lines, notes, lay = _read_csv(path)
    needed = ACC_COLUMNS + GYRO_COLUMNS
    missing = [c for c in needed if c not in df.columns]
    if missing:
        found = ", ".join(map(str, df.columns)) or "none"
        commented = lay.first_comment.lower()
        if all(c.encode() in commented for c in needed):
            raise HarDataError(path, f"missing column(s) {', '.join(missing)}: the header line "
                               f"{lay.comments[0] + 1} starts with {COMMENT}, which marks a "
                               "comment line (skipped)", f"remove the {COMMENT} before the "
                               "column names")
        raise HarDataError(path, f"missing column(s) {', '.join(missing)} (found: {found})",
                           FORMAT_FIX)
    if len(df) == 0:
        raise HarDataError(path, "the file has a header but no samples", FORMAT_FIX)
    values = _numeric(df, needed, path, lines)
    times = (_numeric(df, (TIME_COLUMN,), path, lines)[:, 0] if TIME_COLUMN in df.columns
             else None)
    fs = sample_rate(times, rate, path)
    check_units(values[:, :3], values[:, 3:], path)
    both, ud = resample_to_50hz(values, fs)
    n50 = len(both)
    if n50 < config.WINDOW_LENGTH:
        raise HarDataError(path, f"the recording is too short: {len(values) / fs:.2f} s "
                           f"({n50} samples at 50 Hz); one window needs "
                           f"{config.WINDOW_LENGTH / config.SAMPLING_RATE_HZ:.2f} s "
                           f"({config.WINDOW_LENGTH} samples at 50 Hz)",
                           "record for longer (at least a few seconds)")
    return Recording(both[:, :3], both[:, 3:], fs, float(times[0]) if times is not None else 0.0,
                     ud, path, notes)


def check_units(acc: np.ndarray, gyro: np.ndarray, path: Path | None) -> None:
    """Refuse acceleration that is not total acceleration in g, and a gyroscope in deg/s."""
    g = float(np.median(np.linalg.norm(acc, axis=1)))
    low, high = ACC_MEDIAN_BAND_G
    if g > MAX_MEDIAN_ACC_G:
        raise HarDataError(path, f"acceleration looks like m/s^2, not g (median magnitude "
                           f"{g:.3g}; a phone at rest reads about 1 g)",
                           "divide acc_x, acc_y, acc_z by 9.80665")
    if not low <= g <= high:
        zeros = not np.any(acc)
        what = ("acc_x, acc_y, acc_z are all zero" if zeros else
                f"the median acceleration magnitude is {g:.3g} g, outside {low:g}-{high:g} g")
        hint = ("; gravity seems removed (linear acceleration)" if g < low and not zeros else "")
        raise HarDataError(path, f"{what}{hint}: the total acceleration of a worn phone reads "
                           "about 1 g, gravity included",
                           "the acc columns must include gravity: use the accelerometer's raw "
                           "(total) reading, not linear acceleration or user acceleration, in g "
                           "(divide m/s^2 by 9.80665)")
    p95 = float(np.percentile(np.linalg.norm(gyro, axis=1), 95))
    if p95 > MAX_GYRO_P95_RAD_S:
        raise HarDataError(path, f"the gyroscope looks like deg/s, not rad/s (95th percentile "
                           f"of its magnitude {p95:.4g}; a body stays below "
                           f"{MAX_GYRO_P95_RAD_S:g} rad/s)",
                           f"divide gyro_x, gyro_y, gyro_z by {DEG_PER_RAD} (deg/s to rad/s)")


# --- classifying ---------------------------------------------------------------------------

def load_classifier(path: str | os.PathLike[str]) -> Classifier:
    """Windows -> probabilities (n, 6) from a ``.keras``, ``.tflite`` or ``.joblib`` file."""
    path = Path(path)
    if not path.is_file():
        raise HarDataError(path, "model not found",
                           "pass --model with a .keras or .tflite file or the name of one in "
                           "results/models/ (cnn_lstm_paper; beyond after `har beyond "
                           "export`; small after `har small export`), or restore results/models/cnn_lstm_paper.keras with git "
                           "checkout")
    expected = (config.WINDOW_LENGTH, len(config.CHANNELS))
    if path.suffix == ".joblib":
        import joblib

        try:
            clf = joblib.load(path)
            classes = getattr(clf, "classes_", None)
            if not callable(getattr(clf, "predict_proba", None)):
                raise TypeError(f"a {type(clf).__name__} without predict_proba")
        except Exception as exc:  # noqa: BLE001 - a damaged or foreign file
            raise HarDataError(path, f"not a saved window classifier ({type(exc).__name__})",
                               "export it again with `har beyond export`") from None
        if classes is not None:
            check_outputs((len(classes),), path)
        return lambda X: np.asarray(clf.predict_proba(np.asarray(X, np.float32)))
    if path.suffix == ".tflite":
        from .runtime import TFLiteRunner
        runner = TFLiteRunner(path, num_threads=1)
        shape = runner.input_shape
        out_shape: tuple[Any, ...] = runner.output_shape
        predict: Classifier = runner.predict
    else:
        from har_utils.training import load_model

        from .. import input_layers  # noqa: F401  (layers a saved study model may hold)
        model = load_model(path)
        shape = tuple(model.input_shape[1:])
        out_shape = tuple(model.output_shape[1:]) if isinstance(model.output_shape, tuple) \
            else tuple(model.output_shape)
        predict = lambda X: np.asarray(model.predict(X, batch_size=256, verbose=0))  # noqa: E731
    if tuple(shape) != expected:
        raise HarDataError(path, f"the model takes inputs of shape {tuple(shape)}, not raw-signal "
                           f"windows {expected}", "pass a model trained on the 9 signal "
                           "channels (e.g. cnn_lstm_paper)")
    check_outputs(out_shape, path)
    return predict


def check_outputs(shape: tuple[Any, ...], path: Path) -> None:
    """Refuse a model whose output per window (``shape``, batch left out) is not one
    probability for each of the six activities."""
    n = len(config.ACTIVITIES)
    if tuple(shape) != (n,):
        shown = "(batch, " + ", ".join(map(str, shape)) + ")" if shape else "(batch,)"
        raise HarDataError(path, f"the model's output has shape {shown}, not one probability for "
                           f"each of the {n} activities (batch, {n}): "
                           f"{', '.join(config.ACTIVITY_NAMES)}",
                           f"pass a model trained on the {n} UCI HAR activities in this order "
                           "(e.g. cnn_lstm_paper, or beyond after `har beyond export`)")


def windows_of(acc: np.ndarray, gyro: np.ndarray, zero_phase: bool = True
               ) -> tuple[np.ndarray, np.ndarray]:
    """The training preprocessing of a 50 Hz recording cut into windows, and their starts."""
    p = Preprocessing(zero_phase=zero_phase)
    sig = preprocess(acc, gyro, p).astype(np.float32)
    return sliding_windows(sig, p.window, p.step), window_starts(len(sig), p.window, p.step)


def classify_windows(X: np.ndarray, classifier: Classifier) -> tuple[np.ndarray, np.ndarray]:
    """Predicted activity ids (1..6) and the probability of each, for windows ``X``."""
    if len(X) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    prob = np.asarray(classifier(X))
    k = np.argmax(prob, axis=1)
    ids = np.array(config.ACTIVITY_IDS, dtype=np.int64)
    return ids[k], prob[np.arange(len(k)), k]


def classify_recording(rec: Recording, classifier: Classifier, *, causal: bool = False
                       ) -> pd.DataFrame:
    """One row per window: start and end time (s), activity and confidence."""
    X, starts = windows_of(rec.acc, rec.gyro, zero_phase=not causal)
    ids, conf = classify_windows(X, classifier)
    fs = config.SAMPLING_RATE_HZ
    return pd.DataFrame({"start_s": rec.t0 + starts / fs,
                         "end_s": rec.t0 + (starts + config.WINDOW_LENGTH) / fs,
                         "activity_id": ids, "activity": [config.ACTIVITIES[i] for i in ids],
                         "confidence": conf})


def table_text(table: pd.DataFrame) -> str:
    """The lines ``har predict`` prints: a header and one line per window."""
    lines = [f"{'start_s':>9}  {'end_s':>9}  {'activity':<18}  confidence"]
    lines += [f"{r.start_s:9.2f}  {r.end_s:9.2f}  {r.activity:<18}  {r.confidence:.3f}"
              for r in table.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def output_error(path: Path | None, exc: OSError, *, stdout: bool = False) -> HarError:
    """An ``OSError`` while writing the predictions to ``path`` (``stdout``: standard output,
    redirected to ``path`` if known) as an error naming where and the fix."""
    # a file is named before the message; standard output in it
    where = (" to standard output" + (f" ({path})" if path is not None else "")) if stdout \
        else ""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        problem = f"no space left on the disk while writing the predictions{where}"
        fix = "free disk space, or write elsewhere (--output FILE on a disk with room)"
    elif exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        problem = f"cannot write the predictions{where} ({os.strerror(exc.errno)})"
        fix = "write elsewhere (--output FILE in a writable folder)"
    else:
        problem = f"cannot write the predictions{where} ({exc.strerror or exc})"
        fix = "check the disk and the path, or write elsewhere (--output FILE)"
    problem += ("; the output is incomplete" if stdout else
                "; nothing was written (an existing file is left as it was)")
    return HarError(None if stdout else path, problem, fix)


def write_predictions(table: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """The table as CSV at ``path``, complete or not at all (a temporary file renamed)."""
    path = Path(path)
    try:
        with atomic_write(path, "w") as f:
            table.to_csv(f, index=False, lineterminator="\n")
    except HarError as exc:  # atomic_write's account of an OSError: here it is the output
        if isinstance(exc.__cause__, OSError):
            raise output_error(path, exc.__cause__) from exc.__cause__
        raise
    return path


# --- timelines on labelled recordings ------------------------------------------------------

#: ``truth`` of a window whose majority is not an activity 1-6 (plotted on its own row).
OTHER: int = 0


def window_truth(labels: np.ndarray, window: int = config.WINDOW_LENGTH,
                 step: int = config.WINDOW_STEP) -> pd.DataFrame:
    """Per full window: ``truth`` (the majority label, ties to the smaller id, with -1 and
    transitions 7-12 mapped to :data:`OTHER`), ``excluded`` (any such sample: the model only
    knows activities 1-6) and ``pure`` (all samples one activity 1-6)."""
    labels = np.asarray(labels).astype(np.int64)
    starts = window_starts(len(labels), window, step)
    mapped = np.where((labels >= 1) & (labels <= 6), labels, OTHER)
    w = sliding_windows(mapped[:, None], window, step)[:, :, 0]  # (k, window)
    counts = np.stack([(w == c).sum(axis=1) for c in range(7)], axis=1)  # ids 0..6
    truth = np.argmax(counts, axis=1)  # ties: the smaller id
    excluded = counts[:, OTHER] > 0
    pure = (counts.max(axis=1) == window) & ~excluded
    return pd.DataFrame({"start": starts, "truth": truth, "excluded": excluded, "pure": pure})


def timeline(acc: np.ndarray, gyro: np.ndarray, labels: np.ndarray, classifier: Classifier, *,
             zero_phase: bool = True) -> pd.DataFrame:
    """Classify a whole 50 Hz recording window by window, lined up with :func:`window_truth`."""
    if len(labels) != len(acc):
        raise ValueError(f"{len(labels)} labels for a recording of {len(acc)} samples")
    X, starts = windows_of(acc, gyro, zero_phase=zero_phase)
    pred, conf = classify_windows(X, classifier)
    t = window_truth(labels)
    t.insert(0, "time_s", starts / config.SAMPLING_RATE_HZ)
    t["predicted"] = pred
    t["confidence"] = conf
    return t


def agreement(tl: pd.DataFrame) -> dict[str, Any]:
    """Agreement of ``predicted`` with ``truth`` on the scored and the pure windows."""
    scored = tl[~tl["excluded"]]
    pure = tl[tl["pure"]]
    acc = lambda d: float((d["predicted"] == d["truth"]).mean()) if len(d) else None  # noqa: E731
    return {"windows": int(len(tl)), "excluded": int(tl["excluded"].sum()),
            "scored": int(len(scored)), "pure": int(len(pure)),
            "agreement_scored": acc(scored), "agreement_pure": acc(pure)}


def hapt_experiment(subject: int, number: int = 1) -> dict[str, Any]:
    """One raw HAPT recording of a *test* subject (``acc``, ``gyro``, per-sample ``label``)."""
    if subject not in config.TEST_SUBJECTS:
        raise ValueError(f"subject {subject} is a training subject; the timeline needs a "
                         f"held-out one: {config.TEST_SUBJECTS}")
    for e in test_subject_experiments():
        if e["subject"] == subject and e["number"] == number:
            return e
    raise ValueError(f"subject {subject} has no experiment {number}")


def test_subject_experiments() -> list[dict[str, Any]]:
    """Every raw HAPT experiment of the official test subjects (acc, gyro, sample labels)."""
    from har_utils.data import hapt
    raw, _ = hapt.load_raw()
    return [e for e in hapt.experiments(raw) if e["subject"] in config.TEST_SUBJECTS]


def stream_experiment(exp: dict[str, Any], classifier: Classifier) -> dict[str, Any]:
    """:func:`timeline` of one recording, zero-phase and causal, and their agreement."""
    out: dict[str, Any] = {
        mode: timeline(exp["acc"], exp["gyro"], exp["label"], classifier, zero_phase=zp)
        for mode, zp in (("zero_phase", True), ("causal", False))}
    out["agreement"] = {m: agreement(out[m]) for m in ("zero_phase", "causal")}
    return out


def plot_timeline(timelines: dict[str, pd.DataFrame], title: str) -> Any:
    """Predicted against true activity over time, one panel per timeline; a key names its
    panel ("zero_phase" and "causal" read as that filtering)."""
    import matplotlib.pyplot as plt

    names = ["transition /\nunlabelled"] + config.ACTIVITY_NAMES
    fig, axes = plt.subplots(len(timelines), 1, figsize=(12, 2.6 * len(timelines) + 0.6),
                             sharex=True, squeeze=False)
    for ax, (mode, tl) in zip(axes[:, 0], timelines.items()):
        minutes = tl["time_s"].to_numpy() / 60.0
        half = config.WINDOW_STEP / config.SAMPLING_RATE_HZ / 60.0
        for t, ex in zip(minutes, tl["excluded"].to_numpy()):
            if ex:
                ax.axvspan(t, t + 2 * half, color="0.9", lw=0)
        ax.step(minutes + half, tl["truth"], where="mid", color="0.2", lw=1.5, label="true")
        wrong = (tl["predicted"] != tl["truth"]) & ~tl["excluded"]
        ax.scatter(minutes[~wrong] + half, tl["predicted"][~wrong], s=6, color="tab:blue",
                   label="predicted", zorder=3)
        ax.scatter(minutes[wrong] + half, tl["predicted"][wrong], s=8, color="tab:red",
                   label="predicted (wrong)", zorder=3)
        a = agreement(tl)
        score = "-" if a["agreement_scored"] is None else f"{100 * a['agreement_scored']:.1f} %"
        label = f"{mode.replace('_', '-')} filtering" if mode in ("zero_phase", "causal") else mode
        ax.set_title(f"{label}: agreement {score} on "
                     f"{a['scored']} scored windows ({a['excluded']} excluded, shaded)",
                     fontsize=9, loc="left")
        ax.set_yticks(range(7), names, fontsize=7)
        ax.set_ylim(-0.5, 6.5)
        ax.grid(axis="y", color="0.92")
    axes[0, 0].legend(loc="upper right", fontsize=7, ncol=3)
    axes[-1, 0].set_xlabel("time (min)")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig

