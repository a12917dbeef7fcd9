"""Test-set evaluation: the paper's metrics, per-subject accuracy and its uncertainty.

Metrics use the six activity ids as labels, so a class never predicted still gets its row.
:func:`metrics` returns JSON-ready types (numeric keys as strings, so a round trip is exact).
Windows of one volunteer are correlated, so :func:`subject_bootstrap_ci` resamples subjects.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, classification_report, confusion_matrix

from . import config

LABELS: list[int] = list(config.ACTIVITY_IDS)
NAMES: list[str] = [config.ACTIVITIES[i] for i in LABELS]


def _as_1d(*arrays: Any) -> list[np.ndarray]:
    out = [np.asarray(a).ravel() for a in arrays]
    if len({len(a) for a in out}) != 1:
        raise ValueError(f"arrays differ in length: {[len(a) for a in out]}")
    if len(out[0]) == 0:
        raise ValueError("empty arrays: nothing to evaluate")
    return out


def metrics(y_true: Any, y_pred: Any, subjects: Any | None = None) -> dict[str, Any]:
    """Accuracy, per-class and averaged precision/recall/F1, the confusion matrix (rows true,
    columns predicted, ids 1-6) and, when ``subjects`` is given, accuracy per subject."""
    y_true, y_pred = _as_1d(y_true, y_pred)
    report = classification_report(y_true, y_pred, labels=LABELS, target_names=NAMES,
                                   output_dict=True, zero_division=0)

    def scores(row: dict[str, float]) -> dict[str, float]:
        return {"precision": float(row["precision"]), "recall": float(row["recall"]),
                "f1": float(row["f1-score"])}

    out: dict[str, Any] = {
        "accuracy": float(accuracy_score(y_true, y_pred)), "n": int(len(y_true)),
        "labels": list(NAMES),
        "per_class": {name: {**scores(report[name]), "support": int(report[name]["support"])}
                      for name in NAMES},
        "confusion": confusion_matrix(y_true, y_pred, labels=LABELS).astype(int).tolist()}
    for avg in ("macro", "weighted"):
        out[f"{avg}_avg"] = scores(report[f"{avg} avg"])
    if subjects is not None:
        t = per_subject_table(y_true, y_pred, subjects)
        out["per_subject"] = {str(int(row.subject)): {"accuracy": float(row.accuracy),
                                                      "n": int(row.n)}
                              for row in t.itertuples()}
    return out


def classification_table(m: dict[str, Any]) -> pd.DataFrame:
    """Table I layout: one row per activity plus ``macro avg`` and ``weighted avg``;
    columns precision, recall, f1, support (the averages' support is the total)."""
    rows = {name: m["per_class"][name] for name in m["labels"]}
    total = sum(int(v["support"]) for v in rows.values())
    for avg in ("macro", "weighted"):
        rows[f"{avg} avg"] = {**m[f"{avg}_avg"], "support": total}
    t = pd.DataFrame.from_dict(rows, orient="index")[["precision", "recall", "f1", "support"]]
    t["support"] = t["support"].astype(int)
    return t


def per_subject_table(y_true: Any, y_pred: Any, subjects: Any) -> pd.DataFrame:
    """Per subject (sorted): windows ``n``, ``correct`` and ``accuracy``."""
    y_true, y_pred, subjects = _as_1d(y_true, y_pred, subjects)
    df = pd.DataFrame({"subject": subjects, "correct": (y_true == y_pred).astype(int)})
    t = df.groupby("subject", sort=True)["correct"].agg(n="size", correct="sum").reset_index()
    t["accuracy"] = t["correct"] / t["n"]
    return t[["subject", "n", "correct", "accuracy"]]


def subject_bootstrap_ci(y_true: Any, y_pred: Any, subjects: Any, n_boot: int = 2000,
                         seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of the pooled accuracy under a cluster bootstrap over subjects
    (each replicate redraws the subjects with replacement and pools their windows)."""
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    t = per_subject_table(y_true, y_pred, subjects)
    correct, n = t["correct"].to_numpy(float), t["n"].to_numpy(float)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(t), size=(n_boot, len(t)))
    acc = correct[idx].sum(axis=1) / n[idx].sum(axis=1)
    alpha = (1 - level) / 2
    low, high = np.quantile(acc, [alpha, 1 - alpha])
    return float(low), float(high)


def top_confusions(m: dict[str, Any], k: int = 5) -> pd.DataFrame:
    """The ``k`` largest nonzero off-diagonal cells of ``m["confusion"]``, with their share of
    the true class."""
    cm = np.asarray(m["confusion"], dtype=int)
    names = m["labels"]
    rows = [(names[i], names[j], int(cm[i, j]), cm[i, j] / cm[i].sum())
            for i in range(len(cm)) for j in range(len(cm)) if i != j and cm[i, j] > 0]
    t = pd.DataFrame(rows, columns=["true", "predicted", "count", "share"])
    t = t.sort_values("count", ascending=False, kind="stable").head(k).reset_index(drop=True)
    t["share"] = t["share"].astype(float)
    return t


def inference_time(predict: Callable[[np.ndarray], Any], X: np.ndarray,
                   batch_sizes: Sequence[int] = (1, 256), repeats: int = 5,
                   warmup: int = 1) -> dict[str, dict[str, float]]:
    """Wall-clock inference time per batch size, for reporting (nothing asserts on it).

    ``predict``'s output goes through ``numpy.asarray`` inside the timed region so that
    asynchronous (GPU) work is counted; a batch larger than ``X`` repeats windows.
    """
    X = np.asarray(X)
    out: dict[str, dict[str, float]] = {}
    for bs in batch_sizes:
        if bs < 1:
            raise ValueError(f"batch sizes must be positive, got {bs}")
        batch = X[np.arange(bs) % len(X)]
        for _ in range(warmup):
            np.asarray(predict(batch))
        times = []
        for _ in range(max(1, repeats)):
            t0 = time.perf_counter()
            np.asarray(predict(batch))
            times.append(time.perf_counter() - t0)
        med = statistics.median(times) * 1000.0
        med = max(med, 1e-6)  # a trivial callable can round to zero on a coarse clock
        out[str(bs)] = {"batch_size": int(bs), "median_ms_per_batch": med,
                        "min_ms_per_batch": min(times) * 1000.0, "ms_per_window": med / bs,
                        "windows_per_s": bs / (med / 1000.0), "repeats": int(max(1, repeats))}
    return out

