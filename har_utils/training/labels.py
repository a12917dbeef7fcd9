"""Activity ids and the model's outputs: output column ``k`` is activity ``ACTIVITY_IDS[k]``
(``activity_labels.txt``); one-hot labels come from ``keras.utils.to_categorical(y - 1, 6)``."""

from __future__ import annotations

import keras
import numpy as np

from .. import config

#: Activity ids in label order: column ``k`` of a one-hot row is ``ACTIVITY_IDS[k]``.
ACTIVITY_IDS: np.ndarray = np.array(config.ACTIVITY_IDS, dtype=np.int64)


def predict_classes(model: keras.Model, X: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Predicted activity ids (1..6) for windows ``X``."""
    p = model.predict(np.asarray(X, dtype=np.float32), batch_size=batch_size, verbose=0)
    return ACTIVITY_IDS[np.argmax(p, axis=1)]
