"""A small synthetic "UCI HAR Dataset" zip in the exact official layout, for tests.

The signals are deterministic and physically plausible: body acceleration and angular velocity
oscillate at a step frequency for the walking activities and are near zero for the static ones,
and ``total_acc = body_acc + gravity`` with a 1 g gravity vector whose direction depends on the
posture. Numbers are written like the official files (right-aligned, ``e-001`` style three-digit
exponents) with enough digits (``%.8e``) to round-trip float32 exactly.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np

from har_utils import config

ROOT = "UCI HAR Dataset/"
_DATE = (2012, 12, 10, 12, 0, 0)  # fixed timestamps: same arguments -> same bytes and sha256

#: Gravity direction (unit vector, phone frame) per activity id.
_GRAVITY = {1: (0.98, -0.15, 0.10), 2: (0.96, -0.20, 0.15), 3: (0.97, -0.10, 0.20),
            4: (0.80, 0.10, 0.55), 5: (0.99, -0.05, 0.05), 6: (0.05, 0.30, 0.95)}


def feature_names() -> list[str]:
    """561 names shaped like the official ``features.txt`` (first and last three are real)."""
    head = ["tBodyAcc-mean()-X", "tBodyAcc-mean()-Y", "tBodyAcc-mean()-Z"]
    tail = ["angle(X,gravityMean)", "angle(Y,gravityMean)", "angle(Z,gravityMean)"]
    middle = [f"synthetic-feature-{i}()" for i in range(4, 559)]
    return head + middle + tail


def _split_arrays(n: int, subjects: tuple[int, ...], rng: np.random.Generator
                  ) -> dict[str, np.ndarray]:
    y = (np.arange(n) % 6 + 1).astype(np.int64)
    subject = np.array([subjects[i * len(subjects) // n] for i in range(n)], dtype=np.int64)
    t = np.arange(config.WINDOW_LENGTH) / config.SAMPLING_RATE_HZ
    X = np.empty((n, config.WINDOW_LENGTH, 9), dtype=np.float64)
    for i in range(n):
        a = int(y[i])
        moving = a <= 3
        f_step = 1.8 + 0.1 * a + 0.01 * (subject[i] % 5)
        phase = rng.uniform(0, 2 * np.pi, size=6)
        amp_acc = 0.25 + 0.05 * a if moving else 0.004
        amp_gyro = 0.6 if moving else 0.02
        for k in range(3):
            X[i, :, k] = amp_acc * np.sin(2 * np.pi * f_step * t + phase[k])
            X[i, :, 3 + k] = amp_gyro * np.sin(2 * np.pi * f_step * t + phase[3 + k])
        X[i, :, :6] += rng.normal(0, 0.002, size=(config.WINDOW_LENGTH, 6))
        g = np.asarray(_GRAVITY[a]) / np.linalg.norm(_GRAVITY[a])
        X[i, :, 6:9] = X[i, :, 0:3] + g
    features = rng.uniform(-1, 1, size=(n, 561))
    features[:, 0:3] = X[:, :, 0:3].mean(axis=1)
    return {"X": X.astype(np.float32), "y": y, "subject": subject,
            "features": features.astype(np.float32)}


def synthetic_arrays(n_train: int = 40, n_test: int = 20, seed: int = 0) -> dict[str, np.ndarray]:
    """The arrays :func:`make_uci_zip` writes, keyed like ``har_utils.data.uci.load_uci_zip``."""
    rng = np.random.default_rng(seed)
    out: dict[str, np.ndarray] = {"feature_names": np.array(feature_names(), dtype=np.str_)}
    for split, n, subjects in (("train", n_train, config.TRAIN_SUBJECTS),
                               ("test", n_test, config.TEST_SUBJECTS)):
        for key, arr in _split_arrays(n, subjects, rng).items():
            out[f"{key}_{split}"] = arr
    return out


def format_table(arr: np.ndarray, integer: bool = False) -> bytes:
    """Text like the official files: integers one per line, floats right-aligned ``e-001``."""
    buf = io.BytesIO()
    if integer:
        np.savetxt(buf, np.asarray(arr).reshape(len(arr), -1), fmt="%d")
        return buf.getvalue()
    np.savetxt(buf, np.asarray(arr, dtype=np.float64), fmt="%16.8e", delimiter="")
    # %e always writes at least two exponent digits; the official files have three
    return buf.getvalue().replace(b"e-", b"e-0").replace(b"e+", b"e+0")


def _zip_bytes(members: dict[str, bytes], compress: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name, date_time=_DATE), data, compress_type=compress,
                        compresslevel=1)
    return buf.getvalue()


def make_uci_zip(path: Path, n_train: int = 40, n_test: int = 20, seed: int = 0, *,
                 outer: bool = False,
                 drop_member: str | None = None,
                 nan_in: str | None = None,
                 inf_in: str | None = None,
                 bad_label: int | None = None,
                 bad_subject: int | None = None,
                 row_mismatch: str | None = None,
                 wrong_columns: str | None = None,
                 activity_labels: dict[int, str] | None = None,
                 arrays: dict[str, np.ndarray] | None = None,
                 macosx: bool = True,
                 bad_row: int = 2) -> Path:
    """Write a synthetic ``UCI HAR Dataset.zip`` (or, with ``outer``, the zip wrapping it).

    Member arguments are paths inside ``UCI HAR Dataset/`` (e.g. ``"train/y_train.txt"``).
    ``drop_member`` leaves one out; ``nan_in``/``inf_in`` put NaN/inf at row ``bad_row``
    (0-based) of a numeric table; ``bad_label``/``bad_subject`` replace row ``bad_row`` of
    ``y_train.txt``/``subject_train.txt``; ``row_mismatch`` drops the last row of a file;
    ``wrong_columns`` drops its last column. ``arrays`` overrides :func:`synthetic_arrays`.
    """
    path = Path(path)
    a = {k: v.copy() for k, v in (arrays or synthetic_arrays(n_train, n_test, seed)).items()}
    labels = config.ACTIVITIES if activity_labels is None else activity_labels

    tables: dict[str, tuple[np.ndarray, bool]] = {}  # member -> (2-D values, integer?)
    for split in ("train", "test"):
        tables[f"{split}/y_{split}.txt"] = (a[f"y_{split}"].reshape(-1, 1).astype(np.float64), True)
        tables[f"{split}/subject_{split}.txt"] = (
            a[f"subject_{split}"].reshape(-1, 1).astype(np.float64), True)
        tables[f"{split}/X_{split}.txt"] = (a[f"features_{split}"].astype(np.float64), False)
        for k, ch in enumerate(config.CHANNELS):
            tables[f"{split}/Inertial Signals/{ch}_{split}.txt"] = (
                a[f"X_{split}"][:, :, k].astype(np.float64), False)

    if bad_label is not None:
        tables["train/y_train.txt"][0][bad_row, 0] = bad_label
    if bad_subject is not None:
        tables["train/subject_train.txt"][0][bad_row, 0] = bad_subject
    for member, value in ((nan_in, np.nan), (inf_in, np.inf)):
        if member is not None:
            arr, _ = tables[member]
            tables[member] = (arr, False)  # written as floats so "nan"/"inf" appear
            arr[bad_row, min(3, arr.shape[1] - 1)] = value
    if row_mismatch is not None:
        arr, integer = tables[row_mismatch]
        tables[row_mismatch] = (arr[:-1], integer)
    if wrong_columns is not None:
        arr, integer = tables[wrong_columns]
        tables[wrong_columns] = (arr[:, :-1], integer)

    members: dict[str, bytes] = {
        ROOT + "README.txt": b"Synthetic stand-in for the UCI HAR Dataset (tests only).\n",
        ROOT + "activity_labels.txt": "".join(f"{i} {n}\n" for i, n in labels.items()).encode(),
        ROOT + "features.txt": "".join(f"{i} {n}\n" for i, n in
                                       enumerate(a["feature_names"].tolist(), 1)).encode(),
        ROOT + "features_info.txt": b"Feature Selection\n=================\n",
    }
    for member, (arr, integer) in tables.items():
        members[ROOT + member] = format_table(arr, integer=integer)
    if macosx:
        members["__MACOSX/UCI HAR Dataset/._activity_labels.txt"] = b"\x00\x05\x16\x07junk"
    if drop_member is not None:
        del members[ROOT + drop_member]

    data = _zip_bytes(members)
    if outer:
        wrapped = {config.UCI_INNER_ZIP["name"]: data}
        if macosx:
            wrapped["__MACOSX/._" + config.UCI_INNER_ZIP["name"]] = b"\x00\x05\x16\x07junk"
        data = _zip_bytes(wrapped, compress=zipfile.ZIP_STORED)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def synthetic_dataset(per_subject: int = 12, seed: int = 0) -> "HarDataset":
    """A small in-memory HarDataset with the official subject split: ``per_subject`` random
    windows per subject, labels cycling 1-6, and a learnable signal in channel 0."""
    from har_utils.data import HarDataset, Split

    rng = np.random.default_rng(seed)

    def split(subjects: tuple[int, ...]) -> Split:
        s = np.repeat(subjects, per_subject)
        y = np.tile(np.arange(1, 7), len(s) // 6 + 1)[: len(s)]
        X = rng.normal(size=(len(s), 128, 9)).astype(np.float32)
        X[..., 0] += y[:, None] * 0.5  # learnable signal
        return Split(X, y, s)

    return HarDataset(split(config.TRAIN_SUBJECTS), split(config.TEST_SUBJECTS), "hapt",
                      {"resource_sha256": "synthetic", "cache": "synthetic.npz"})
