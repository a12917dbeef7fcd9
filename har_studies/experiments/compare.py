"""Two models compared on the same test set, for the zoo and protocol cv: McNemar's test on the
windows, and a paired comparison by test subject (mean difference, paired subject bootstrap,
Wilcoxon signed-rank). Both studies import it; neither imports the other for it."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.stats


def mcnemar(y_true: Any, pred_a: Any, pred_b: Any) -> dict[str, Any]:
    """McNemar's test of two classifiers on the same windows.

    ``b``: A right and B wrong; ``c``: A wrong and B right. Exact two-sided binomial test
    when ``b + c < 25`` (statistic = ``min(b, c)``), else chi-square with continuity
    correction, ``(|b - c| - 1)^2 / (b + c)`` on 1 degree of freedom.
    """
    y_true, pred_a, pred_b = (np.asarray(a).ravel() for a in (y_true, pred_a, pred_b))
    if not len(y_true) == len(pred_a) == len(pred_b) > 0:
        raise ValueError(f"arrays differ in length or are empty: "
                         f"{[len(a) for a in (y_true, pred_a, pred_b)]}")
    ok_a, ok_b = pred_a == y_true, pred_b == y_true
    b, c = int(np.sum(ok_a & ~ok_b)), int(np.sum(~ok_a & ok_b))
    if b + c == 0:
        stat, p, method = 0.0, 1.0, "exact binomial"
    elif b + c < 25:
        stat = float(min(b, c))
        p = float(scipy.stats.binomtest(b, b + c, 0.5, alternative="two-sided").pvalue)
        method = "exact binomial"
    else:
        stat = (abs(b - c) - 1) ** 2 / (b + c)
        p = float(scipy.stats.chi2.sf(stat, df=1))
        method = "chi-square with continuity correction"
    return {"b": b, "c": c, "statistic": float(stat), "p_value": min(1.0, p), "method": method,
            "n": int(len(y_true))}


def subject_comparison(a: dict[str, float], b: dict[str, float], n_boot: int = 10000,
                       seed: int = 0) -> dict[str, Any]:
    """Paired comparison of two models by test subject (per-subject accuracy, mean over
    seeds): the mean difference a - b, a paired subject bootstrap interval of it (percentile,
    ``scipy.stats.bootstrap`` over the per-subject differences), and the Wilcoxon signed-rank
    test."""
    subjects = sorted(set(a) & set(b), key=int)
    d = np.array([a[s] - b[s] for s in subjects])
    low, high = scipy.stats.bootstrap((d,), np.mean, n_resamples=n_boot, method="percentile",
                                      confidence_level=0.95,
                                      rng=np.random.default_rng(seed)).confidence_interval
    p = float(scipy.stats.wilcoxon(d).pvalue) if np.any(d != 0) else 1.0
    return {"subjects": len(d), "mean_difference": float(d.mean()),
            "ci95_paired_subject_bootstrap": [float(low), float(high)],
            "wilcoxon_p": p, "wins": int((d > 0).sum()), "losses": int((d < 0).sum())}
