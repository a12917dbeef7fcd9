"""Tests of har_utils.eda (and the t-SNE plot) on small Gaussian blobs."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from har_utils import plots  # noqa: E402
from har_utils.eda import (  # noqa: E402
    class_separability,
    pair_overlap,
    stratified_subsample,
    tsne_embedding,
)


def blobs(sizes: dict[int, int], centres: dict[int, float], d: int = 8, seed: int = 0,
          scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian blobs: class ``c`` centred at ``centres[c]`` on every axis."""
    rng = np.random.default_rng(seed)
    X = np.concatenate([rng.normal(centres[c], scale, size=(n, d)) for c, n in sizes.items()])
    y = np.concatenate([np.full(n, c) for c, n in sizes.items()])
    return X, y


SEPARATED = blobs({c: 50 for c in range(1, 7)}, {c: 12.0 * c for c in range(1, 7)})


def test_stratified_subsample_keeps_proportions_and_is_deterministic() -> None:
    y = np.repeat(np.arange(1, 7), [700, 300, 150, 91, 45, 7])
    idx = stratified_subsample(y, 120, seed=1)
    assert len(idx) == 120 and len(np.unique(idx)) == 120
    assert np.all(np.diff(idx) > 0)
    for c in range(1, 7):
        expected = 120 * np.mean(y == c)
        assert abs(np.sum(y[idx] == c) - expected) <= 1, c
    assert np.array_equal(idx, stratified_subsample(y, 120, seed=1))
    assert not np.array_equal(idx, stratified_subsample(y, 120, seed=2))
    assert np.array_equal(stratified_subsample(y, None, 0), np.arange(len(y)))
    assert np.array_equal(stratified_subsample(y, 10_000, 0), np.arange(len(y)))


def test_tsne_is_deterministic_for_a_seed_and_keeps_blobs_apart() -> None:
    X, y = blobs({1: 100, 2: 100, 3: 100}, {1: 0.0, 2: 5.0, 3: 10.0}, d=20, seed=4)
    # one thread: two OpenMP threads slow down several-fold when other jobs share the cores
    Z = tsne_embedding(X, seed=0, n_jobs=1)
    assert Z.shape == (300, 2) and np.isfinite(Z).all()
    assert np.array_equal(Z, tsne_embedding(X, seed=0, n_jobs=1))
    assert class_separability(Z, y)["knn_agreement"].min() > 0.95
    fig = plots.tsne_scatter(Z, y, "test")
    assert len(fig.axes) == 1
    texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert texts == ["WALKING (100)", "WALKING_UPSTAIRS (100)", "WALKING_DOWNSTAIRS (100)"]
    plt.close(fig)


@pytest.mark.parametrize("standardize", [False, True])
def test_class_separability_well_separated(standardize: bool) -> None:
    t = class_separability(*SEPARATED, k=10, standardize=standardize)
    assert list(t.index) == ["WALKING", "WALKING_UPSTAIRS", "WALKING_DOWNSTAIRS", "SITTING",
                             "STANDING", "LAYING"]
    assert (t["knn_agreement"] == 1.0).all()
    assert (t["silhouette"] > 0.7).all()
    assert t["most_confused_with"].isna().all() and (t["confused_share"] == 0).all()


def test_class_separability_overlapping_pair() -> None:
    # SITTING and STANDING from the same distribution, LAYING far away
    X, y = blobs({4: 150, 5: 150, 6: 150}, {4: 0.0, 5: 0.0, 6: 10.0}, seed=1)
    t = class_separability(X, y, k=10)
    for a, other in (("SITTING", "STANDING"), ("STANDING", "SITTING")):
        assert 0.3 < t.loc[a, "knn_agreement"] < 0.7
        assert abs(t.loc[a, "silhouette"]) < 0.1
        assert t.loc[a, "most_confused_with"] == other
        assert t.loc[a, "confused_share"] == pytest.approx(1 - t.loc[a, "knn_agreement"])
    assert t.loc["LAYING", "knn_agreement"] == 1.0


def test_pair_overlap_identical_and_separated() -> None:
    X, y = blobs({4: 200, 5: 200, 6: 50}, {4: 0.0, 5: 0.0, 6: 10.0}, seed=2)
    r = pair_overlap(X, y, 4, 5, k=10)
    assert (r["a"], r["b"], r["n_a"], r["n_b"]) == ("SITTING", "STANDING", 200, 200)
    assert 0.35 < r["a_neighbours_in_b"] < 0.65 and 0.35 < r["b_neighbours_in_a"] < 0.65
    assert abs(r["a_neighbours_in_b"] - r["b_neighbours_in_a"]) < 0.1
    assert abs(r["silhouette"]) < 0.05
    far = pair_overlap(X, y, 4, 6, k=10)
    assert far["a_neighbours_in_b"] == 0.0 and far["b_neighbours_in_a"] == 0.0
    assert far["silhouette"] > 0.7
