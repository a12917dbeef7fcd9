"""The Keras backend of this process, chosen in one place before Keras is imported.

We train on JAX (2.5-2.7x faster than TensorFlow with op determinism on the CPU, as
repeatable; ``benchmarks/bench_backends.py``) and export with TensorFlow (the TFLite converter
needs it: ``har_studies.backends``). ``import har_utils`` calls :func:`use_default` first; a
user's ``KERAS_BACKEND``, or a Keras imported before ``har_utils``, wins.
"""

from __future__ import annotations

import os
import sys
from typing import Any

#: The backend the notebooks, the experiment runner and every study train on.
TRAINING = "jax"
#: ``KERAS_BACKEND`` as the user set it before ``har_utils`` was first imported (None: unset).
USER_SETTING: str | None = os.environ.get("KERAS_BACKEND") or None


def keras_imported() -> bool:
    """Whether Keras has been imported in this process (its backend is then fixed)."""
    return "keras" in sys.modules


def current() -> str:
    """The backend Keras runs (or will run) on in this process."""
    if keras_imported():
        import keras

        return str(keras.backend.backend())
    return os.environ.get("KERAS_BACKEND") or "tensorflow"


def use_default() -> str:
    """Set ``KERAS_BACKEND`` to :data:`TRAINING` unless the user set it or Keras is already
    imported; the backend in effect."""
    if USER_SETTING is None and not keras_imported():
        os.environ["KERAS_BACKEND"] = TRAINING
    return current()


def version(backend: str | None = None) -> str:
    """The version of the package behind ``backend`` (default: :func:`current`)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version(backend or current())
    except PackageNotFoundError:
        return "not installed"


def device() -> str:
    """Where this process's Keras computes: ``CPU`` or ``GPU (<name>)`` of the first GPU."""
    name = current()
    if name == "jax":
        import jax

        dev = jax.devices()[0]
        return "CPU" if dev.platform == "cpu" else f"GPU ({dev.device_kind})"
    if name == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        return f"GPU ({gpus[0].name})" if gpus else "CPU"
    return "CPU"


def describe() -> dict[str, Any]:
    """``{"backend", "version", "device"}`` of this process (recorded by every run)."""
    name = current()
    return {"backend": name, "version": version(name), "device": device()}
