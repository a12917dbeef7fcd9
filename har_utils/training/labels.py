"""Activity ids and the model's outputs: ids 1-6 (``activity_labels.txt``) to one-hot columns
and back."""

from __future__ import annotations

import keras
import numpy as np

from .. import config

#: Activity ids in label order: column ``k`` of a one-hot row is ``ACTIVITY_IDS[k]``.
ACTIVITY_IDS: np.ndarray = np.array(config.ACTIVITY_IDS, dtype=np.int64)


def to_one_hot(y: np.ndarray) -> np.ndarray:
    """Activity ids 1..6 -> one-hot float32 of shape (n, 6); other ids raise ``ValueError``."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"labels must be a 1-D array of activity ids, got shape {y.shape}")
    if y.size and not np.issubdtype(y.dtype, np.integer):
        if not (np.issubdtype(y.dtype, np.floating) and np.all(np.mod(y, 1) == 0)):
            raise ValueError(f"labels must be integer activity ids, got dtype {y.dtype}")
    bad = sorted(set(np.unique(y).tolist()) - set(ACTIVITY_IDS.tolist()))
    if bad:
        raise ValueError(f"activity ids must be in {ACTIVITY_IDS.min()}..{ACTIVITY_IDS.max()} "
                         f"(activity_labels.txt, not zero-based); got {bad[:10]}")
    idx = np.searchsorted(ACTIVITY_IDS, y.astype(np.int64))
    out = np.zeros((y.size, ACTIVITY_IDS.size), dtype=np.float32)
    out[np.arange(y.size), idx] = 1.0
    return out


def predict_classes(model: keras.Model, X: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Predicted activity ids (1..6) for windows ``X``."""
    p = model.predict(np.asarray(X, dtype=np.float32), batch_size=batch_size, verbose=0)
    return ACTIVITY_IDS[np.argmax(p, axis=1)]
