"""The Keras backend a study needs, set before it imports Keras: the deployment study exports
on TensorFlow (the TFLite converter needs it); the experiment runner runs each run on its own."""

from __future__ import annotations

import os

from har_utils.backend import current, keras_imported

#: The backend of the deployment study (TFLite export, the Keras timings it compares).
EXPORT = "tensorflow"


class BackendError(RuntimeError):
    """Keras runs on another backend than the code needs, and it is too late to switch."""


def require(backend: str, why: str) -> None:
    """Make this process run Keras on ``backend``, over any other setting; a
    :class:`BackendError` with the fix when Keras already runs on another."""
    if not keras_imported():
        os.environ["KERAS_BACKEND"] = backend
        return
    actual = current()
    if actual != backend:
        raise BackendError(
            f"{why} needs Keras on the {backend} backend, but this process already imported "
            f"Keras on {actual}. Fix: run it in a fresh Python process (or kernel) that imports "
            f"it before anything that imports Keras, or set KERAS_BACKEND={backend}")
