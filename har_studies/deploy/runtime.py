"""Running and timing a model: :class:`TFLiteRunner`, the Keras ways to call a model, and
:func:`measure`. ``tf.lite.Interpreter``'s deprecation warning (for ``ai_edge_litert``, not a
dependency) is silenced: the interpreter still works in TF 2.21."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..backends import EXPORT, require

# Before Keras is imported: this module needs Keras on TensorFlow (the TFLite converter).
require(EXPORT, "har_studies.deploy.runtime")

import keras
import numpy as np
import tensorflow as tf

from har_utils.evaluation import inference_time
from har_utils.io import HarDataError

_INTERPRETER_WARNING = r"(?s).*tf\.lite\.Interpreter is deprecated"
#: Bytes 4-8 of every TFLite flatbuffer.
TFLITE_IDENTIFIER = b"TFL3"
#: The metadata entry of an int8 file whose graph takes standardised windows: JSON with the
#: per-channel ``mean`` and ``std`` to apply first, and ``how`` they got there.
STANDARDISATION_METADATA = "har_standardisation"
REEXPORT_FIX = ("export it again: `make deploy` writes the deployment study's files under "
                "build/deploy/ (or call har_studies.deploy.export.export_tflite)")


def with_standardisation(flat: bytes, mean: np.ndarray, std: np.ndarray, how: str) -> bytes:
    """The TFLite flatbuffer ``flat`` with a :data:`STANDARDISATION_METADATA` entry added."""
    import json

    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(flat))
    payload = json.dumps({"mean": [float(v) for v in mean], "std": [float(v) for v in std],
                          "how": how}).encode()
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(payload, np.uint8)
    model.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name = STANDARDISATION_METADATA.encode()
    entry.buffer = len(model.buffers) - 1
    model.metadata = [*(model.metadata or []), entry]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def read_standardisation(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The :data:`STANDARDISATION_METADATA` entry of a TFLite file (``mean`` and ``std`` as
    arrays), or None when its graph takes raw windows."""
    import json

    from tensorflow.lite.python import schema_py_generated as schema

    buf = Path(path).read_bytes()
    model = schema.Model.GetRootAs(buf, 0)
    for i in range(model.MetadataLength()):
        entry = model.Metadata(i)
        if entry.Name() == STANDARDISATION_METADATA.encode():
            doc = json.loads(model.Buffers(entry.Buffer()).DataAsNumpy().tobytes())
            return {"mean": np.asarray(doc["mean"], np.float32),
                    "std": np.asarray(doc["std"], np.float32), "how": doc.get("how", "")}
    return None


class TFLiteRunner:
    """A TFLite file on ``tf.lite.Interpreter``: ``predict(X)`` runs any number of raw float
    windows in batches of the file's fixed size and returns float32 probabilities, int8 or not
    (an int8 file's standardisation, kept in its metadata, is applied first)."""

    def __init__(self, model: str | os.PathLike[str], num_threads: int = 1):
        self.path = Path(model)
        if not self.path.is_file():
            raise HarDataError(self.path, "TFLite model not found",
                               "export it with har_studies.deploy.export.export_tflite "
                               "(benchmarks/bench_deploy.py writes them)")
        with open(self.path, "rb") as f:
            head = f.read(8)
        if head[4:8] != TFLITE_IDENTIFIER:
            raise HarDataError(self.path, "not a TFLite model (no TFLite file identifier: "
                               "another format, or damaged)", REEXPORT_FIX)
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=_INTERPRETER_WARNING)
                self.interpreter = tf.lite.Interpreter(model_path=str(self.path),
                                                       num_threads=num_threads)
            self.interpreter.allocate_tensors()
            self._in = self.interpreter.get_input_details()[0]
            self._out = self.interpreter.get_output_details()[0]
        except Exception as exc:  # noqa: BLE001 - the interpreter raises many types on bad bytes
            first = (str(exc).strip().splitlines() or [""])[0][:200]
            raise HarDataError(self.path, "a damaged TFLite model (truncated or corrupt): "
                               f"{type(exc).__name__}" + (f": {first}" if first else ""),
                               REEXPORT_FIX) from None
        self.batch_size = int(self._in["shape"][0])
        self.input_shape = tuple(int(d) for d in self._in["shape"][1:])
        self.n_classes = int(self._out["shape"][-1])
        #: The output of one window (the batch left out).
        self.output_shape = tuple(int(d) for d in self._out["shape"][1:])
        self.input_dtype = np.dtype(self._in["dtype"])
        self.output_dtype = np.dtype(self._out["dtype"])
        #: The per-channel standardisation its graph expects applied first (None: raw windows).
        self.standardisation = read_standardisation(self.path)

    def _quantize(self, x: np.ndarray) -> np.ndarray:
        if self.standardisation is not None:
            x = ((x - self.standardisation["mean"]) / self.standardisation["std"]
                 ).astype(np.float32)
        if self.input_dtype == np.float32:
            return x
        scale, zero = self._in["quantization"]
        info = np.iinfo(self.input_dtype)
        return np.clip(np.round(x / scale + zero), info.min, info.max).astype(self.input_dtype)

    def _dequantize(self, y: np.ndarray) -> np.ndarray:
        if self.output_dtype == np.float32:
            return y
        scale, zero = self._out["quantization"]
        return ((y.astype(np.float32) - zero) * scale).astype(np.float32)

    def run_batch(self, batch: np.ndarray) -> np.ndarray:
        """One invoke on exactly ``batch_size`` windows (float32); float probabilities."""
        self.interpreter.set_tensor(self._in["index"], self._quantize(batch))
        self.interpreter.invoke()
        return self._dequantize(self.interpreter.get_tensor(self._out["index"]))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Probabilities ``(n, n_classes)`` for windows ``X`` ``(n, *input_shape)``."""
        X = np.asarray(X, dtype=np.float32)
        if X.shape[1:] != self.input_shape:
            raise ValueError(f"windows must be (n, {', '.join(map(str, self.input_shape))}); "
                             f"got {X.shape}")
        n, bs = len(X), self.batch_size
        if n == bs:
            return self.run_batch(X)
        out = np.empty((n, self.n_classes), dtype=np.float32)
        for a in range(0, n, bs):
            b = X[a:a + bs]
            k = len(b)
            if k < bs:
                b = b[np.arange(bs) % k]
            out[a:a + k] = self.run_batch(b)[:k]
        return out

    __call__ = predict


def keras_predictors(model: keras.Model) -> dict[str, Callable[[np.ndarray], Any]]:
    """The Keras ways to run ``model``: eager, ``model.predict`` and a ``tf.function``, by name."""
    shape = [None, *(int(d) for d in model.input_shape[1:])]
    graph = tf.function(lambda x: model(x, training=False), autograph=False,
                        input_signature=[tf.TensorSpec(shape, tf.float32)])
    return {
        "keras_eager": lambda x: model(x, training=False),
        "keras_predict": lambda x: model.predict(x, batch_size=len(x), verbose=0),
        "tf_function": lambda x: graph(tf.constant(x)),
    }


def measure(predict: Callable[[np.ndarray], Any], X: np.ndarray, batch_size: int, *,
            warmup: int = 3, repeats: int = 20) -> dict[str, float]:
    """Median wall time of ``predict`` on one batch of ``batch_size`` windows, after warm-up."""
    X = np.asarray(X, dtype=np.float32)
    return inference_time(predict, X, batch_sizes=(int(batch_size),), repeats=repeats,
                          warmup=warmup)[str(int(batch_size))]
