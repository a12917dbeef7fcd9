"""Two models compared on the same test set by test subject (mean difference, paired subject
bootstrap, Wilcoxon signed-rank): windows of one person are not independent, so the test
subjects are the pairs. Protocol cv and beyond the paper import it."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.stats


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
