"""The arithmetic the audit rests on, free of the paper's numbers: what a rounded printed value
allows, and the metric definitions evaluated on one fixed confusion matrix beside sklearn's."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

#: Table I prints two decimals, so a printed 0.93 stands for any value in [0.925, 0.935].
TABLE1_HALF_WIDTH: float = 0.005


def correct_needed(recall: float, support: int,
                   half_width: float = TABLE1_HALF_WIDTH) -> tuple[int, int]:
    """The numbers of correct windows out of ``support`` whose recall prints as ``recall``,
    within 0..``support`` (a printed 1.00 allows 0.995-1.0, never more than every window)."""
    low = math.ceil((recall - half_width) * support - 1e-9)
    high = math.floor((recall + half_width) * support + 1e-9)
    return max(0, min(low, support)), max(0, min(high, support))


def f1_range(p: float, r: float, half_width: float = TABLE1_HALF_WIDTH) -> tuple[float, float]:
    """Min and max of 2PR/(P+R) for P, R within ``half_width`` of the printed values (the
    harmonic mean grows in both, so the box's corners give the extremes)."""
    def hm(a: float, b: float) -> float:
        a, b = min(max(a, 0.0), 1.0), min(max(b, 0.0), 1.0)
        return 0.0 if a + b == 0 else 2 * a * b / (a + b)
    return hm(p - half_width, r - half_width), hm(p + half_width, r + half_width)


def macro_recall_bounds(supports: Mapping[str, int], correct_total: int,
                        fixed_correct: Mapping[str, int] | None = None) -> tuple[float, float]:
    """Min and max macro recall given the supports, the diagonal sum and the known cells
    ``fixed_correct``: the errors left go to the largest classes first for the maximum, the
    smallest for the minimum (macro recall is linear in errors_c / n_c)."""
    fixed = dict(fixed_correct or {})
    errors_left = sum(supports.values()) - correct_total - sum(supports[c] - d
                                                               for c, d in fixed.items())
    free = {c: n for c, n in supports.items() if c not in fixed}
    if errors_left < 0 or errors_left > sum(free.values()):
        raise ValueError("the diagonal total is inconsistent with the supports and fixed cells")
    base = sum((supports[c] - d) / supports[c] for c, d in fixed.items())

    def spread(order: list[str]) -> float:
        left, loss = errors_left, base
        for c in order:
            e = min(left, free[c])
            loss, left = loss + e / free[c], left - e
        return 1 - loss / len(supports)

    by_size = sorted(free, key=free.__getitem__)
    return spread(by_size), spread(by_size[::-1])


def example_confusion(n_classes: int = 6, seed: int = 0) -> np.ndarray:
    """A fixed, asymmetric confusion matrix (rows true, columns predicted) on which precision,
    recall, F1 and accuracy all differ: the test bench for the paper's definitions."""
    rng = np.random.default_rng(seed)
    cm = rng.integers(0, 30, size=(n_classes, n_classes))
    return cm + np.diag(rng.integers(300, 500, size=n_classes))


def standard_metrics(cm: np.ndarray) -> dict[str, np.ndarray]:
    """sklearn's per-class precision, recall, F1 and the accuracy of confusion matrix ``cm``."""
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support

    k = len(cm)
    y_true = np.repeat(np.arange(k), cm.sum(axis=1))
    y_pred = np.concatenate([np.repeat(np.arange(k), row) for row in cm])
    p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, labels=range(k),
                                                 zero_division=0)
    return {"accuracy": np.full(k, accuracy_score(y_true, y_pred)), "precision": p,
            "recall": r, "f1": f}


def evaluate_definition(formula: str, cm: np.ndarray) -> np.ndarray:
    """Per-class values of a definition written over TP, FP, FN, TN (per class), CORRECT (the
    diagonal's sum) and N (all windows), evaluated on ``cm`` with :func:`pandas.eval`."""
    tp = np.diag(cm).astype(float)
    names = {"TP": tp, "FP": cm.sum(axis=0) - tp, "FN": cm.sum(axis=1) - tp,
             "TN": cm.sum() - cm.sum(axis=0) - cm.sum(axis=1) + tp,
             "CORRECT": np.full(len(cm), tp.sum()), "N": np.full(len(cm), float(cm.sum()))}
    out = pd.eval(formula, local_dict=names, engine="python")
    return np.broadcast_to(np.asarray(out, dtype=float), tp.shape)


def what_it_defines(formula: str, cm: np.ndarray | None = None) -> str:
    """The standard metric a definition computes on ``cm`` (default :func:`example_confusion`),
    or ``"none"``."""
    cm = example_confusion() if cm is None else cm
    got = evaluate_definition(formula, cm)
    same = [m for m, v in standard_metrics(cm).items() if np.allclose(got, v, atol=1e-12)]
    return same[0] if same else "none"
