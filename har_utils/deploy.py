"""Deployment readiness: TFLite export, a one-thread TFLite runner, latency, FLOPs and energy.

Export
    ``TFLiteConverter.from_keras_model`` fails on the paper's CNN-LSTM (TensorList ops with a
    dynamic batch need the Flex delegate, which the pip wheel lacks). :func:`export_tflite`
    instead traces ``model(x, training=False)`` as a ``tf.function`` with a *fixed* input
    signature ``(batch_size, 128, 9)``, freezes its variables into constants and converts that
    concrete function. Freezing is needed: converted unfrozen, the LSTM's ``while`` loop keeps
    ``READ_VARIABLE`` ops that fail at invoke time (TF 2.21). Quantisation is ``float32`` (none),
    ``dynamic`` (dynamic-range: int8 weights, float activations) or ``int8`` (full integer,
    int8 input and output, calibrated on ``representative_data``). The int8 calibrator crashes
    the process (a segmentation fault in ``calibrator._feed_tensors``, TF 2.21) on a
    ``while``-loop LSTM, so by default an int8 export first *unrolls* the recurrent layers (the
    same weights and the same function, no loop; a larger file for long sequences) and, for a
    model with recurrent layers, runs the conversion in a child process: a crash becomes a
    recorded failure (:class:`ExportResult` with ``ok=False`` and the reason), never a crash of
    the caller. Other converter errors are recorded the same way.

Runtime
    :class:`TFLiteRunner` runs an exported file with ``tf.lite.Interpreter(num_threads=1)``;
    ``predict(X)`` feeds batches of the fixed batch size (the last one padded) and returns
    float probabilities whatever the quantisation. ``tf.lite.Interpreter`` warns that it is
    deprecated in favour of the ``ai_edge_litert`` package (not a dependency here); the warning
    is silenced and the interpreter still works in TF 2.21.

Measurements (figures for reports, never asserted on)
    :func:`measure` (warm-up, repeats, median of ``time.perf_counter``), :func:`keras_predictors`
    (plain eager Keras call, compiled ``model.predict``, a ``tf.function``),
    :func:`flops_per_window` (analytic per-layer count, or TensorFlow's profiler on the frozen
    graph), :func:`energy_estimate` and :func:`energy_from_cpu_time` (both labelled estimates,
    constants named and cited), and :func:`day_of_recording` (24 h of 50 Hz data: filtering,
    windowing and inference timed).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal as _signal
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from . import config
from .evaluation import inference_time
from .io import HarDataError, atomic_write
from .signals import Preprocessing, preprocess

QUANTIZATIONS: tuple[str, ...] = ("float32", "dynamic", "int8")
#: Windows fed to the int8 calibrator at most (random subset of ``representative_data``).
MAX_CALIBRATION_WINDOWS: int = 512
_RECURRENT = (keras.layers.LSTM, keras.layers.GRU, keras.layers.SimpleRNN)
_INTERPRETER_WARNING = r"(?s).*tf\.lite\.Interpreter is deprecated"


# --- export ---------------------------------------------------------------------------------

@dataclass
class ExportResult:
    """What :func:`export_tflite` did: the file and its size, or why there is none."""

    path: str | None
    batch_size: int
    quantization: str
    ok: bool
    size_bytes: int | None = None
    #: Wall seconds of the export (a child process's TensorFlow start-up included if isolated).
    seconds: float | None = None
    error: str | None = None
    #: Recurrent layers were unrolled before conversion (no ``while`` loop in the file).
    unrolled: bool = False
    #: The conversion ran in a child process (a converter crash cannot take the caller down).
    isolated: bool = False

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        return asdict(self)


def has_recurrent_layers(model: keras.Model) -> bool:
    """True when ``model`` (or a model nested in it) holds an LSTM, GRU or SimpleRNN layer."""
    return any(isinstance(lyr, _RECURRENT) for lyr in _all_layers(model))


def recurrent_steps(model: keras.Model) -> list[int]:
    """The number of time steps each recurrent layer of ``model`` loops over (in layer order;
    ``-1`` where the length is not fixed)."""
    steps = []
    for lyr in _all_layers(model):
        if isinstance(lyr, _RECURRENT):
            try:
                n = lyr.input.shape[1]
            except (AttributeError, ValueError):
                n = None
            steps.append(int(n) if n is not None else -1)
    return steps


def _all_layers(model: keras.layers.Layer) -> Iterator[keras.layers.Layer]:
    for lyr in getattr(model, "layers", []):
        yield lyr
        inner = getattr(lyr, "layer", None)  # TimeDistributed, Bidirectional, ...
        if inner is not None:
            yield inner
            yield from _all_layers(inner)
        if isinstance(lyr, keras.Model):
            yield from _all_layers(lyr)


def unroll_recurrent(model: keras.Model) -> keras.Model:
    """A copy of ``model`` whose LSTM/GRU/SimpleRNN layers have ``unroll=True``.

    The same weights and the same function (the loop is written out step by step), so the
    traced graph has no ``while`` loop. Models without recurrent layers come back unchanged.
    """
    if not has_recurrent_layers(model):
        return model

    def clone(layer: keras.layers.Layer) -> keras.layers.Layer:
        cfg = layer.get_config()
        if isinstance(layer, _RECURRENT):
            cfg["unroll"] = True
        return layer.__class__.from_config(cfg)

    copy = keras.models.clone_model(model, clone_function=clone, recursive=True)
    copy.set_weights(model.get_weights())
    return copy


def frozen_function(model: keras.Model, batch_size: int) -> Any:
    """``model(x, training=False)`` as a concrete function of a fixed ``(batch_size, ...)``
    float32 input, its variables frozen into constants."""
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )
    shape = [int(batch_size), *(int(d) for d in model.input_shape[1:])]
    fn = tf.function(lambda x: model(x, training=False), autograph=False)
    concrete = fn.get_concrete_function(tf.TensorSpec(shape, tf.float32, name="window"))
    return convert_variables_to_constants_v2(concrete)


def _calibration_batches(representative_data: np.ndarray, batch_size: int,
                         max_windows: int = MAX_CALIBRATION_WINDOWS,
                         seed: int = 0) -> Callable[[], Iterator[list[np.ndarray]]]:
    """A representative-dataset generator: batches of ``batch_size`` windows (last padded by
    repeating windows), at most ``max_windows`` windows drawn (seeded) from the data."""
    X = np.asarray(representative_data, dtype=np.float32)
    if len(X) > max_windows:
        X = X[np.sort(np.random.default_rng(seed).choice(len(X), max_windows, replace=False))]

    def gen() -> Iterator[list[np.ndarray]]:
        for a in range(0, len(X), batch_size):
            b = X[a:a + batch_size]
            if len(b) < batch_size:
                b = b[np.arange(batch_size) % len(b)]
            yield [b]
    return gen


def convert_tflite(model: keras.Model, *, batch_size: int, quantization: str,
                   representative_data: np.ndarray | None = None) -> bytes:
    """The TFLite flatbuffer of ``model`` at a fixed batch size (in this process; may raise,
    and an int8 conversion of a ``while``-loop LSTM may crash it -- use :func:`export_tflite`)."""
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [frozen_function(model, batch_size)], model)
    if quantization in ("dynamic", "int8"):
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantization == "int8":
        if representative_data is None or len(representative_data) == 0:
            raise ValueError("int8 quantisation needs representative_data (windows to "
                             "calibrate the activation ranges)")
        converter.representative_dataset = _calibration_batches(representative_data, batch_size)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Statistics for quantized inputs")
        return converter.convert()


def _short_error(exc: BaseException, limit: int = 600) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    lines = [ln for ln in text.splitlines() if ln.strip()]
    text = " | ".join(lines[:3] + (["..."] + lines[-2:] if len(lines) > 5 else lines[3:]))
    return text if len(text) <= limit else text[:limit] + " ..."


def export_tflite(model: keras.Model, path: str | os.PathLike[str], *, batch_size: int,
                  quantization: str = "float32", representative_data: np.ndarray | None = None,
                  unroll: bool | None = None, isolate: bool | None = None,
                  timeout_s: float = 900.0) -> ExportResult:
    """Export ``model`` to a TFLite file at ``path`` (written atomically) with a fixed batch.

    ``quantization``: ``"float32"``, ``"dynamic"`` (dynamic-range) or ``"int8"`` (full integer,
    int8 input/output, calibrated on at most ``MAX_CALIBRATION_WINDOWS`` windows of
    ``representative_data``). ``unroll`` (default: only for int8) unrolls recurrent layers
    first; ``isolate`` (default: int8 of a model with recurrent layers, where the converter is
    known to crash) converts in a child process, so a crash of the converter is reported. A
    failure of any kind comes back as ``ok=False`` with ``error``; only bad arguments (unknown
    quantisation, batch size < 1, calibration windows of the wrong shape) raise ``ValueError``,
    and an unwritable output folder raises :class:`HarDataError`.
    """
    if quantization not in QUANTIZATIONS:
        raise ValueError(f"unknown quantization {quantization!r}; use one of {QUANTIZATIONS}")
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if representative_data is not None and len(representative_data) and (
            tuple(np.shape(representative_data)[1:]) != tuple(model.input_shape[1:])):
        raise ValueError(f"representative_data windows {np.shape(representative_data)[1:]} do "
                         f"not match the model input {tuple(model.input_shape[1:])}")
    path = Path(path)
    unroll = (quantization == "int8") if unroll is None else bool(unroll)
    unroll = unroll and has_recurrent_layers(model)
    if isolate is None:
        isolate = quantization == "int8" and has_recurrent_layers(model)
    result = ExportResult(None, int(batch_size), quantization, ok=False, unrolled=unroll,
                          isolated=isolate)
    if quantization == "int8" and (representative_data is None or len(representative_data) == 0):
        result.error = ("int8 needs representative_data: pass training windows to calibrate "
                        "the activation ranges")
        return result
    t0 = time.perf_counter()
    if isolate:
        outcome = _export_in_child(model, path, batch_size=int(batch_size),
                                   quantization=quantization,
                                   representative_data=representative_data, unroll=unroll,
                                   timeout_s=timeout_s)
        result.error = outcome.get("error")
        result.ok = bool(outcome.get("ok")) and path.is_file()
    else:
        try:
            m = unroll_recurrent(model) if unroll else model
            flat = convert_tflite(m, batch_size=int(batch_size), quantization=quantization,
                                  representative_data=representative_data)
            with atomic_write(path, "wb") as f:
                f.write(flat)
            result.ok = True
        except HarDataError:
            raise  # an unwritable output folder: the caller must fix it, not read a record
        except Exception as exc:  # the converter raises many types (ConverterError, ...)
            result.error = _short_error(exc)
    result.seconds = round(time.perf_counter() - t0, 3)
    if result.ok:
        result.path = str(path)
        result.size_bytes = path.stat().st_size
    return result


def _export_in_child(model: keras.Model, path: Path, *, batch_size: int, quantization: str,
                     representative_data: np.ndarray | None, unroll: bool,
                     timeout_s: float) -> dict[str, Any]:
    """Run the conversion in ``python -m har_utils.deploy _export`` and read back its outcome."""
    with tempfile.TemporaryDirectory(prefix="har-export-") as tmp:
        tmpd = Path(tmp)
        model_path, rep_path, out_json = tmpd / "model.keras", tmpd / "rep.npy", tmpd / "out.json"
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            model.save(model_path)
        job = {"model": str(model_path), "path": str(path), "batch_size": batch_size,
               "quantization": quantization, "unroll": unroll, "result": str(out_json),
               "representative_data": None}
        if representative_data is not None:
            np.save(rep_path, np.asarray(representative_data, dtype=np.float32))
            job["representative_data"] = str(rep_path)
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
        try:
            proc = subprocess.run([sys.executable, "-X", "faulthandler", "-m",
                                   "har_utils.deploy", "_export",
                                   json.dumps(job)], capture_output=True, text=True,
                                  timeout=timeout_s, env=env, cwd=config.PROJECT_ROOT)
        except subprocess.TimeoutExpired:
            return {"ok": False, "error": f"conversion did not finish within {timeout_s:g} s"}
        if out_json.is_file():
            return json.loads(out_json.read_text())
        return {"ok": False, "error": _crash_reason(proc.returncode, proc.stderr, quantization,
                                                    unroll and has_recurrent_layers(model))}


def _crash_reason(rc: int, stderr: str, quantization: str, unrolled: bool) -> str:
    """One line on how the converter child died: the signal, the innermost Python frame that
    ``faulthandler`` printed, and a hint for the known int8 LSTM crash."""
    why = f"killed by signal {_signal.Signals(-rc).name}" if rc < 0 else f"exit status {rc}"
    frames = re.findall(r'File "[^"]*?([\w.]+\.py)", line (\d+) in (\w+)', stderr)
    where = f" in {frames[0][0]}:{frames[0][2]}" if rc < 0 and frames else ""
    errors = [ln.strip() for ln in stderr.splitlines() if re.search(r"\w+Error\b", ln)]
    detail = f": {errors[-1][:300]}" if rc >= 0 and errors else ""
    hint = ""
    if rc < 0 and quantization == "int8" and not unrolled:
        hint = ("; int8 calibration of a while-loop LSTM crashes in TF 2.21 -- export with "
                "unroll=True")
    return f"the converter process crashed ({why}){where}{detail}{hint}"


def _export_worker(job_json: str) -> int:
    """Child side of :func:`_export_in_child`: convert, write the file, write the outcome."""
    job = json.loads(job_json)
    from .training import load_model  # registers the project's custom layers
    model = load_model(job["model"])
    rep = np.load(job["representative_data"]) if job["representative_data"] else None
    res = export_tflite(model, job["path"], batch_size=job["batch_size"],
                        quantization=job["quantization"], representative_data=rep,
                        unroll=job["unroll"], isolate=False)
    Path(job["result"]).write_text(json.dumps({"ok": res.ok, "error": res.error}))
    return 0


# --- runtime --------------------------------------------------------------------------------

class TFLiteRunner:
    """A TFLite model on ``tf.lite.Interpreter`` with ``num_threads`` (default 1) threads.

    ``predict(X)`` takes float windows ``(n, 128, 9)`` of any ``n`` and returns float32
    probabilities ``(n, n_classes)``: windows go in batches of the file's fixed batch size, the
    last batch padded (by repeating its windows) and the padding dropped; int8 models get
    their input quantised and their output dequantised with the file's scale and zero point.
    """

    def __init__(self, model: str | os.PathLike[str] | bytes, num_threads: int = 1):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_INTERPRETER_WARNING)
            if isinstance(model, (bytes, bytearray)):
                self.interpreter = tf.lite.Interpreter(model_content=bytes(model),
                                                       num_threads=num_threads)
                self.path: Path | None = None
            else:
                self.path = Path(model)
                if not self.path.is_file():
                    raise HarDataError(self.path, "TFLite model not found",
                                       "export it with har_utils.deploy.export_tflite "
                                       "(benchmarks/bench_deploy.py writes them)")
                self.interpreter = tf.lite.Interpreter(model_path=str(self.path),
                                                       num_threads=num_threads)
        self.num_threads = num_threads
        self.interpreter.allocate_tensors()
        self._in = self.interpreter.get_input_details()[0]
        self._out = self.interpreter.get_output_details()[0]
        self.batch_size = int(self._in["shape"][0])
        self.input_shape = tuple(int(d) for d in self._in["shape"][1:])
        self.n_classes = int(self._out["shape"][-1])
        self.input_dtype = np.dtype(self._in["dtype"])
        self.output_dtype = np.dtype(self._out["dtype"])

    def _quantize(self, x: np.ndarray) -> np.ndarray:
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


# --- latency and throughput -----------------------------------------------------------------

def keras_predictors(model: keras.Model) -> dict[str, Callable[[np.ndarray], Any]]:
    """The Keras ways to run ``model``, by name.

    ``keras_eager``: ``model(x, training=False)`` (eager TensorFlow, op by op);
    ``keras_predict``: ``model.predict(x, batch_size=len(x))`` (Keras's compiled predict
    function plus its data pipeline); ``tf_function``: ``model(x, training=False)`` traced once
    as a ``tf.function`` with a batch-agnostic input signature (graph execution, no pipeline).
    """
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
    """Median wall time of ``predict`` on one batch of ``batch_size`` windows from ``X``.

    ``warmup`` untimed calls, then ``repeats`` calls each timed with ``time.perf_counter``
    (the output converted with ``numpy.asarray`` inside the timed region). A figure for
    reports: it depends on the machine and its load, and nothing asserts on it. Returns
    ``{batch_size, median_ms_per_batch, min_ms_per_batch, ms_per_window, windows_per_s,
    repeats}`` (see :func:`har_utils.evaluation.inference_time`).
    """
    X = np.asarray(X, dtype=np.float32)
    return inference_time(predict, X, batch_sizes=(int(batch_size),), repeats=repeats,
                          warmup=warmup)[str(int(batch_size))]


# --- FLOPs and energy -----------------------------------------------------------------------

def _shape(t: Any) -> tuple[int, ...]:
    return tuple(int(d) if d is not None else 1 for d in t.shape)


def _layer_macs(layer: keras.layers.Layer, in_shape: tuple[int, ...],
                out_shape: tuple[int, ...]) -> tuple[int, int] | None:
    """(multiply-accumulates, bias adds) of one layer call on one window (batch dim 1), or
    ``None`` for a layer type this count does not know."""
    if isinstance(layer, keras.layers.TimeDistributed):
        steps = in_shape[1]
        inner = _layer_macs(layer.layer, (in_shape[0],) + in_shape[2:],
                            (out_shape[0],) + out_shape[2:])
        return None if inner is None else (steps * inner[0], steps * inner[1])
    if isinstance(layer, (keras.layers.Conv1D, keras.layers.Conv2D)):
        kernel = int(np.prod(layer.kernel_size))
        cin = in_shape[-1] // layer.groups
        positions = int(np.prod(out_shape[1:-1]))
        cout = out_shape[-1]
        return positions * kernel * cin * cout, positions * cout if layer.use_bias else 0
    if isinstance(layer, keras.layers.Dense):
        rows = int(np.prod(in_shape[1:-1])) if len(in_shape) > 2 else 1
        return rows * in_shape[-1] * layer.units, rows * layer.units if layer.use_bias else 0
    if isinstance(layer, _RECURRENT):
        steps, features = in_shape[1], in_shape[2]
        gates = {keras.layers.LSTM: 4, keras.layers.GRU: 3}.get(type(layer), 1)
        u = layer.units
        bias = steps * gates * u * (2 if getattr(layer.cell, "reset_after", False) else 1)
        return steps * gates * u * (features + u), bias if layer.use_bias else 0
    if layer.count_params() == 0 or isinstance(
            layer, (keras.layers.BatchNormalization, keras.layers.Normalization,
                    keras.layers.LayerNormalization)):
        return 0, 0  # element-wise or data movement: not counted (see flops_per_window)
    return None


def flops_per_window(model: keras.Model, method: str = "analytic") -> dict[str, Any]:
    """Floating-point operations to classify one window.

    ``method="analytic"`` (default): per layer, 2 FLOPs per multiply-accumulate of the
    Conv1D/Conv2D, Dense and LSTM/GRU/SimpleRNN kernels (input and recurrent), plus one per
    bias add; ``TimeDistributed`` multiplies its inner layer by the number of steps. Not
    counted: element-wise work (activations, pooling, normalisation, dropout at inference,
    the LSTM's gate non-linearities and products) -- a few per cent for these models. Layer
    types with parameters that the count does not know are listed in ``uncounted``.

    ``method="profiler"``: TensorFlow's profiler (``tf.compat.v1.profiler``, float_operation)
    on the frozen batch-1 graph of the model with its recurrent layers unrolled (the profiler
    does not look inside ``while`` loops); it counts element-wise ops as well.

    Returns ``{flops, macs, method, by_layer, uncounted}`` (``macs``/``by_layer`` analytic only).
    """
    if method == "profiler":
        frozen = frozen_function(unroll_recurrent(model), 1)
        opts = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
        opts["output"] = "none"
        with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
            info = tf.compat.v1.profiler.profile(frozen.graph, options=opts)
        return {"flops": int(info.total_float_ops), "macs": None, "method": "profiler",
                "by_layer": None, "uncounted": []}
    if method != "analytic":
        raise ValueError(f"unknown method {method!r}; use 'analytic' or 'profiler'")
    by_layer: dict[str, int] = {}
    uncounted: list[str] = []
    macs = flops = 0

    def walk(m: keras.Model, prefix: str = "") -> None:
        nonlocal macs, flops
        for lyr in m.layers:
            if isinstance(lyr, keras.layers.InputLayer):
                continue
            if isinstance(lyr, keras.Model):
                walk(lyr, f"{prefix}{lyr.name}/")
                continue
            if lyr.count_params() == 0:
                continue  # element-wise or data movement (Add, Concatenate, pooling, ...)
            try:
                ins, outs = _shape(lyr.input), _shape(lyr.output)
            except (AttributeError, ValueError):
                uncounted.append(f"{prefix}{lyr.name} (shape unknown)")
                continue
            got = _layer_macs(lyr, ins, outs)
            if got is None:
                uncounted.append(f"{prefix}{lyr.name} ({type(lyr).__name__})")
                continue
            mac, bias = got
            if mac or bias:
                by_layer[f"{prefix}{lyr.name}"] = 2 * mac + bias
            macs += mac
            flops += 2 * mac + bias

    walk(model)
    return {"flops": int(flops), "macs": int(macs), "method": "analytic",
            "by_layer": by_layer, "uncounted": uncounted}


#: Energy per arithmetic operation at 45 nm, 0.9 V, from M. Horowitz, "Computing's energy
#: problem (and what we can do about it)", ISSCC 2014 (as tabulated by Han et al., "Deep
#: Compression", ICLR 2016, Table 1): 32-bit float multiply 3.7 pJ, 32-bit float add 0.9 pJ;
#: 8-bit integer multiply 0.2 pJ, 8-bit integer add 0.03 pJ; a 32-bit DRAM read 640 pJ.
FP32_MULT_PJ: float = 3.7
FP32_ADD_PJ: float = 0.9
INT8_MULT_PJ: float = 0.2
INT8_ADD_PJ: float = 0.03
DRAM_READ_32BIT_PJ: float = 640.0
ENERGY_SOURCE: str = ("M. Horowitz, 'Computing's energy problem (and what we can do about it)', "
                      "ISSCC 2014, 45 nm 0.9 V (table as in Han et al., ICLR 2016)")


def energy_estimate(macs: int, *, precision: str = "float32",
                    n_params: int | None = None) -> dict[str, Any]:
    """An *estimate* of the energy to classify one window from its operation count.

    Arithmetic: ``macs`` multiply-accumulates at one multiply plus one add each, with the
    45 nm energies :data:`FP32_MULT_PJ`/:data:`FP32_ADD_PJ` (``precision="float32"``) or
    :data:`INT8_MULT_PJ`/:data:`INT8_ADD_PJ` (``"int8"``) from :data:`ENERGY_SOURCE`. This is
    a lower bound for the arithmetic alone on a 45 nm chip: it leaves out memory traffic,
    instruction overhead, idle and static power, which dominate on a real CPU. With
    ``n_params``, a second figure: every parameter read once from DRAM (32-bit reads at
    :data:`DRAM_READ_32BIT_PJ`), the cost when the weights do not stay in cache between windows.
    Results in microjoules per window, labelled ``"estimate"``.
    """
    if precision == "float32":
        per_mac = FP32_MULT_PJ + FP32_ADD_PJ
    elif precision == "int8":
        per_mac = INT8_MULT_PJ + INT8_ADD_PJ
    else:
        raise ValueError(f"precision must be 'float32' or 'int8', got {precision!r}")
    out: dict[str, Any] = {
        "label": "estimate",
        "precision": precision,
        "macs": int(macs),
        "pj_per_mac": per_mac,
        "arithmetic_uj_per_window": macs * per_mac * 1e-6,
        "assumptions": "arithmetic only, one multiply + one add per MAC, 45 nm; excludes "
                       "memory access, control, static and idle power (a lower bound)",
        "source": ENERGY_SOURCE,
    }
    if n_params is not None:
        out["weights_from_dram_uj_per_window"] = n_params * DRAM_READ_32BIT_PJ * 1e-6
        out["weights_from_dram_assumptions"] = ("each parameter read once from DRAM per window "
                                                "as a 32-bit word (batch 1, weights not cached)")
    return out


def energy_from_cpu_time(cpu_seconds_per_window: float, watts: float) -> dict[str, Any]:
    """An *estimate*: measured CPU time per window times a power the caller states.

    No default power: the power drawn by one core of the machine is not measured here (no RAPL
    counters in this environment); the caller names it, e.g. from the processor's datasheet,
    and it is recorded with the result.
    """
    if not watts > 0:
        raise ValueError(f"watts must be positive, got {watts}")
    return {"label": "estimate", "cpu_seconds_per_window": cpu_seconds_per_window,
            "stated_watts": watts, "uj_per_window": cpu_seconds_per_window * watts * 1e6,
            "assumptions": "CPU time of the process times the stated power; the power is the "
                           "caller's figure, not a measurement"}


# --- a day of recording ---------------------------------------------------------------------

def synthetic_recording(n: int, fs: float = config.SAMPLING_RATE_HZ, seed: int = 0
                        ) -> tuple[np.ndarray, np.ndarray]:
    """A synthetic (n, 3) accelerometer (g, gravity on z plus a 2 Hz gait-like sway and noise)
    and (n, 3) gyroscope (rad/s) recording, seeded; for timing, not for accuracy."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / fs
    acc = rng.normal(0.0, 0.05, (n, 3))
    acc[:, 2] += 1.0
    acc += 0.3 * np.sin(2 * np.pi * 2.0 * t)[:, None] * np.array([1.0, 0.5, 0.2])
    gyro = rng.normal(0.0, 0.1, (n, 3)) + 0.5 * np.sin(2 * np.pi * 1.0 * t)[:, None]
    return acc, gyro


def classify_stream(sig: np.ndarray, predict: Callable[[np.ndarray], np.ndarray], *,
                    batch_size: int = 256, window: int = config.WINDOW_LENGTH,
                    step: int = config.WINDOW_STEP) -> np.ndarray:
    """Class index (0-based) of every full window of the filtered ``(n, 9)`` signal ``sig``.

    Windows are cut ``batch_size`` at a time (a strided view copied to float32), so the
    day-long signal is never copied into one ``(windows, 128, 9)`` array.
    """
    from numpy.lib.stride_tricks import sliding_window_view
    view = sliding_window_view(np.asarray(sig, dtype=np.float32), window, axis=0)[::step]
    n = len(view)
    out = np.empty(n, dtype=np.int64)
    for a in range(0, n, batch_size):
        batch = np.ascontiguousarray(np.moveaxis(view[a:a + batch_size], -1, 1))
        out[a:a + len(batch)] = np.argmax(predict(batch), axis=1)
    return out


def day_of_recording(predict: Callable[[np.ndarray], np.ndarray], *,
                     acc: np.ndarray | None = None, gyro: np.ndarray | None = None,
                     hours: float = 24.0, zero_phase: bool = True, batch_size: int = 256,
                     data_label: str | None = None) -> dict[str, Any]:
    """Time classifying ``hours`` of 50 Hz, 6-channel data end to end, on this thread.

    The stream is ``acc``/``gyro`` (raw, (n, 3) each, 50 Hz) tiled end to end to ``hours``
    (say so in ``data_label``), or a seeded synthetic recording when none is given. Timed
    stages (``time.perf_counter``, plus process CPU time): the UCI HAR filtering of the whole
    stream (``signals.preprocess``, zero-phase or causal), then windowing (128, step 64) and
    ``predict`` in batches of ``batch_size`` (e.g. a one-thread :class:`TFLiteRunner`).
    """
    n = int(round(hours * 3600 * config.SAMPLING_RATE_HZ))
    if acc is None or gyro is None:
        acc, gyro = synthetic_recording(n)
        label = data_label or "synthetic (seeded sines and noise)"
        tiles = 1.0
    else:
        acc, gyro = np.asarray(acc, dtype=float), np.asarray(gyro, dtype=float)
        tiles = n / len(acc)
        idx = np.arange(n) % len(acc)
        acc, gyro = acc[idx], gyro[idx]
        label = data_label or "real recording tiled"
    p = Preprocessing(zero_phase=zero_phase)
    c0, t0 = time.process_time(), time.perf_counter()
    sig = preprocess(acc, gyro, p).astype(np.float32)
    t1 = time.perf_counter()
    pred = classify_stream(sig, predict, batch_size=batch_size)
    t2, c2 = time.perf_counter(), time.process_time()
    return {"hours": hours, "samples": n, "windows": int(len(pred)), "data": label,
            "tiles": round(tiles, 3), "zero_phase": zero_phase, "batch_size": batch_size,
            "preprocess_s": t1 - t0, "window_and_inference_s": t2 - t1, "total_s": t2 - t0,
            "cpu_s": c2 - c0, "ms_per_window": (t2 - t0) * 1000.0 / max(1, len(pred)),
            "class_counts": np.bincount(pred, minlength=len(config.ACTIVITIES)).tolist()}


def main(argv: list[str] | None = None) -> int:
    """Internal entry point: ``python -m har_utils.deploy _export JOB_JSON`` (a child process
    of :func:`export_tflite`)."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) == 2 and argv[0] == "_export":
        return _export_worker(argv[1])
    print("usage: python -m har_utils.deploy _export JOB_JSON (internal; see "
          "benchmarks/bench_deploy.py for the benchmark)", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
