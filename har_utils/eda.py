"""Exploratory analysis of the feature space: t-SNE and how separable the activities are.

Silhouette and k-NN label agreement per activity quantify what a t-SNE picture only suggests;
embedding distances are only locally meaningful, so report standardised features too.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.manifold import TSNE
from sklearn.metrics import silhouette_samples, silhouette_score
from sklearn.model_selection import train_test_split
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from . import config


def _name(label: Any) -> str:
    return config.ACTIVITIES.get(int(label), str(label))


def stratified_subsample(y: Any, n: int | None, seed: int = 0) -> np.ndarray:
    """Sorted indices of ``n`` items keeping the class proportions of ``y`` (scikit-learn's
    stratified split: each class within 1 of its exact share). ``n`` None or >= len: all
    indices. Deterministic for a ``seed``."""
    y = np.asarray(y).ravel()
    if n is None or n >= len(y):
        return np.arange(len(y))
    if n < 0:
        raise ValueError(f"n must be non-negative, got {n}")
    picked, _ = train_test_split(np.arange(len(y)), train_size=n, stratify=y, random_state=seed)
    return np.sort(picked).astype(np.intp)


def tsne_embedding(F: np.ndarray, seed: int = 0, perplexity: float = 30.0,
                   n_jobs: int = 2) -> np.ndarray:
    """2-D t-SNE of standardised features ``F`` (n, d), deterministic for a ``seed``.

    ``n_jobs`` also caps the OpenMP threads of the gradient, so the run does not depend on the
    machine's core count (on a busy machine OpenMP slows down several-fold: use 1 there).
    """
    F = np.asarray(F, dtype=np.float64)
    if F.ndim != 2 or len(F) < 4:
        raise ValueError(f"need a (n >= 4, d) feature matrix, got shape {F.shape}")
    Fs = StandardScaler().fit_transform(F)
    perp = min(float(perplexity), (len(F) - 1) / 3)
    tsne = TSNE(n_components=2, init="pca", learning_rate="auto", perplexity=perp,
                random_state=seed, n_jobs=n_jobs)
    with threadpool_limits(limits=n_jobs, user_api="openmp"):
        Z = tsne.fit_transform(Fs)
    return np.asarray(Z, dtype=np.float64)


def _neighbours(Z: np.ndarray, k: int) -> np.ndarray:
    """Indices of each point's ``k`` nearest neighbours, the point itself excluded."""
    if not 1 <= k < len(Z):
        raise ValueError(f"k must be between 1 and n - 1 = {len(Z) - 1}, got {k}")
    return NearestNeighbors(n_neighbors=k).fit(Z).kneighbors(return_distance=False)


def _prepare(Z: Any, y: Any, standardize: bool) -> tuple[np.ndarray, np.ndarray]:
    Z = np.asarray(Z, dtype=np.float64)
    y = np.asarray(y).ravel()
    if Z.ndim != 2 or len(Z) != len(y):
        raise ValueError(f"Z must be (n, d) with n = len(y) = {len(y)}, got {Z.shape}")
    if standardize:
        Z = StandardScaler().fit_transform(Z)
    return Z, y


def class_separability(Z: Any, y: Any, k: int = 10, standardize: bool = False) -> pd.DataFrame:
    """Per activity: ``n``, mean ``silhouette``, ``knn_agreement`` (share of the ``k``
    nearest neighbours with the same label) and the activity most frequent among the others
    (``standardize=True`` for raw features)."""
    Z, y = _prepare(Z, y, standardize)
    classes = np.unique(y)
    if len(classes) < 2:
        raise ValueError("need at least two classes")
    sil = silhouette_samples(Z, y)
    nb = y[_neighbours(Z, k)]
    same = (nb == y[:, None]).mean(axis=1)
    rows = []
    for c in classes:
        m = y == c
        others = nb[m][nb[m] != c]
        if len(others):
            vals, cnt = np.unique(others, return_counts=True)
            j = int(np.argmax(cnt))  # ties: the smallest id
            confused, share = _name(vals[j]), float(cnt[j] / (m.sum() * k))
        else:
            confused, share = None, 0.0
        rows.append({"activity": _name(c), "n": int(m.sum()),
                     "silhouette": float(sil[m].mean()), "knn_agreement": float(same[m].mean()),
                     "most_confused_with": confused, "confused_share": share})
    return pd.DataFrame(rows).set_index("activity")


def pair_overlap(Z: Any, y: Any, a: int, b: int, k: int = 10,
                 standardize: bool = False) -> dict[str, Any]:
    """Overlap of two activities on their windows only: the share of ``a``'s ``k`` nearest
    neighbours that are ``b`` (and vice versa; ~0.5 when identical) and their silhouette."""
    Z, y = _prepare(Z, y, standardize)
    m = (y == a) | (y == b)
    Zp, yp = Z[m], y[m]
    if (yp == a).sum() == 0 or (yp == b).sum() == 0:
        raise ValueError(f"both classes must be present: {a} has {(yp == a).sum()}, "
                         f"{b} has {(yp == b).sum()} windows")
    nb = yp[_neighbours(Zp, k)]
    return {"a": _name(a), "b": _name(b), "n_a": int((yp == a).sum()), "n_b": int((yp == b).sum()),
            "k": int(k), "a_neighbours_in_b": float((nb[yp == a] == b).mean()),
            "b_neighbours_in_a": float((nb[yp == b] == a).mean()),
            "silhouette": float(silhouette_score(Zp, yp))}
