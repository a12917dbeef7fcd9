"""TFLite export of a trained Keras model at a fixed batch size, float32 or quantised.

``from_keras_model`` fails on the CNN-LSTM (TensorList ops with a dynamic batch need the Flex
delegate), so the model is traced at a fixed input shape and its variables frozen (unfrozen, the
LSTM loop keeps ``READ_VARIABLE`` ops that fail at invoke time, TF 2.21). The int8 calibrator
segfaults on a ``while``-loop LSTM, so int8 unrolls recurrent layers and converts in a child
process: a crash or converter error becomes a recorded failure (``ExportResult.ok=False``).

An int8 graph quantises its input with one scale for all nine channels, which rounds the small
body-acceleration values of a still window to zero. So int8 exports a *standardised core*
(:func:`standardised_core`): the model's own ``standardize`` layer moves out of the graph, or,
for a model without one whose first layer is a valid-padded convolution (the paper's), the
per-channel mean and standard deviation of the calibration windows are folded into that
layer's weights. The mean and standard deviation travel inside the ``.tflite`` file as metadata
(:data:`~.runtime.STANDARDISATION_METADATA`), and :class:`~.runtime.TFLiteRunner` (so
``har predict``) applies them: nobody standardises by hand.
"""

from __future__ import annotations

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..backends import EXPORT, require

# Before Keras is imported: this module needs Keras on TensorFlow (the TFLite converter).
require(EXPORT, "har_studies.deploy.export")

import keras
import numpy as np
import tensorflow as tf

from har_utils import config
from har_utils.io import HarError, atomic_write

from .runtime import read_standardisation, with_standardisation

QUANTIZATIONS: tuple[str, ...] = ("float32", "dynamic", "int8", "int16x8")
#: Quantisations whose activations are integers too (calibrated on ``representative_data``;
#: "int16x8": int8 weights, 16-bit activations, TFLite's experimental 16x8 mode).
FULL_INTEGER: tuple[str, ...] = ("int8", "int16x8")
#: Windows fed to the int8 calibrator at most (random subset of ``representative_data``).
MAX_CALIBRATION_WINDOWS: int = 512
#: int8 calibrates on the calmer windows only: those whose largest absolute (standardised)
#: value is at most this quantile of all windows'. The calibrator sets each activation's range
#: from the extremes it sees; the most vigorous windows stretch those ranges, and the still
#: windows' small activations round away. Chosen on training windows
#: (``benchmarks/bench_int8_calibration.py``, ``results/deploy/int8_calibration.json``).
CALM_QUANTILE: float = 0.5
#: The recurrent layer types (unrolled for int8; counted by :mod:`.flops`).
RECURRENT = (keras.layers.LSTM, keras.layers.GRU, keras.layers.SimpleRNN)


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
    #: int8, int16x8: how the graph's input was standardised (None: the raw window).
    standardisation: str | None = None


def has_recurrent_layers(model: keras.Model) -> bool:
    """True when ``model`` (or a model nested in it) holds an LSTM, GRU or SimpleRNN layer."""
    return any(isinstance(lyr, RECURRENT) for lyr in _all_layers(model))


def recurrent_steps(model: keras.Model) -> list[int]:
    """Time steps of each recurrent layer of ``model`` (``-1`` where not fixed)."""
    steps = []
    for lyr in _all_layers(model):
        if isinstance(lyr, RECURRENT):
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
    """A copy of ``model`` (same weights) with unrolled recurrent layers: no ``while`` loop."""
    if not has_recurrent_layers(model):
        return model

    def clone(layer: keras.layers.Layer) -> keras.layers.Layer:
        cfg = layer.get_config()
        if isinstance(layer, RECURRENT):
            cfg["unroll"] = True
        return layer.__class__.from_config(cfg)

    copy = keras.models.clone_model(model, clone_function=clone, recursive=True)
    copy.set_weights(model.get_weights())
    return copy


#: Layer types between the input and a first convolution that keep the channel axis last and
#: the per-channel affine map exact (so it folds into the convolution's weights).
_CHANNEL_PRESERVING = (keras.layers.InputLayer, keras.layers.Reshape)


def _standardize_layers(model: keras.Model) -> list[keras.layers.Normalization]:
    return [lyr for lyr in _all_layers(model)
            if isinstance(lyr, keras.layers.Normalization) and lyr.name == "standardize"]


def _first_conv(model: keras.Model) -> tuple[keras.layers.Layer, keras.layers.Layer] | None:
    """The first layer of ``model`` if, after only input and reshape layers, it is a
    valid-padded Conv1D (or TimeDistributed Conv1D) with a bias: (the layer, its Conv1D)."""
    for lyr in model.layers:
        if isinstance(lyr, _CHANNEL_PRESERVING) and (
                not isinstance(lyr, keras.layers.Reshape) or lyr.target_shape[-1] ==
                model.input_shape[-1]):
            continue
        conv = getattr(lyr, "layer", lyr)
        if (isinstance(conv, keras.layers.Conv1D) and conv.padding == "valid"
                and conv.use_bias):
            return lyr, conv
        return None
    return None


def standardised_core(model: keras.Model, calibration: np.ndarray
                      ) -> tuple[keras.Model, np.ndarray | None, np.ndarray | None, str]:
    """The graph int8 quantises, taking standardised windows: ``(core, mean, std, how)``.

    - the model's ``standardize`` layers (one per ensemble member, all equal) become
      identities, their mean and standard deviation the file's;
    - else a first valid-padded convolution takes the calibration windows' per-channel mean
      and standard deviation into its weights (exact: no padding sees a shifted zero);
    - else the model as it is (``mean``/``std`` None: raw windows, one input scale).
    """
    norms = _standardize_layers(model)
    if norms:
        stats = [(np.asarray(n.mean, np.float64).ravel(),
                  np.asarray(n.variance, np.float64).ravel()) for n in norms]
        if all(np.allclose(m, stats[0][0]) and np.allclose(v, stats[0][1]) for m, v in stats):
            mean, std = stats[0][0], np.sqrt(np.maximum(stats[0][1], keras.config.epsilon()))

            def clone(layer: keras.layers.Layer) -> keras.layers.Layer:
                if isinstance(layer, keras.layers.Normalization) and layer.name == "standardize":
                    return keras.layers.Identity(name=layer.name)
                return layer.__class__.from_config(layer.get_config())

            core = keras.models.clone_model(model, clone_function=clone, recursive=True)
            core.set_weights(model.get_weights())
            return (core, mean, std, f"the model's standardize layer ({len(norms)}) moved "
                    "out of the int8 graph")
        return model, None, None, "raw windows (the standardize layers differ)"
    first = _first_conv(model)
    if first is None:
        return model, None, None, "raw windows (no standardize layer, no foldable first layer)"
    X = np.asarray(calibration, np.float64)
    mean, std = X.mean(axis=(0, 1)), X.std(axis=(0, 1))
    std = np.where(std > 0, std, 1.0)
    core = keras.models.clone_model(model)
    core.set_weights(model.get_weights())
    target = core.get_layer(first[0].name)
    kernel, bias = (np.asarray(w, np.float64) for w in target.get_weights())
    # conv(x) = sum_kc w[k, c] x[t+k, c] + b with x = std z + mean
    folded = kernel * std[None, :, None]
    bias = bias + np.einsum("kco,c->o", kernel, mean)
    target.set_weights([folded.astype(np.float32), bias.astype(np.float32)])
    return (core, mean, std, f"folded into {first[0].name} (mean and standard deviation of the "
            "calibration windows)")


def frozen_function(model: keras.Model, batch_size: int) -> Any:
    """``model`` as a concrete function of a fixed batch, its variables frozen into constants."""
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )
    shape = [int(batch_size), *(int(d) for d in model.input_shape[1:])]
    fn = tf.function(lambda x: model(x, training=False), autograph=False)
    concrete = fn.get_concrete_function(tf.TensorSpec(shape, tf.float32, name="window"))
    return convert_variables_to_constants_v2(concrete)


def calm_windows(X: np.ndarray, quantile: float = CALM_QUANTILE) -> np.ndarray:
    """The windows of ``X`` whose largest absolute value is at most the ``quantile`` of all
    windows' (``quantile`` 1: every window)."""
    X = np.asarray(X, np.float32)
    if quantile >= 1.0:
        return X
    peak = np.abs(X).max(axis=(1, 2))
    return X[peak <= np.quantile(peak, quantile)]


def _calibration_batches(representative_data: np.ndarray, batch_size: int,
                         max_windows: int = MAX_CALIBRATION_WINDOWS,
                         seed: int = 0) -> Callable[[], Iterator[list[np.ndarray]]]:
    """Calibration batches of ``batch_size`` (last padded), at most ``max_windows`` windows."""
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
                   representative_data: np.ndarray | None = None,
                   calm_quantile: float = CALM_QUANTILE) -> bytes:
    """The TFLite flatbuffer of ``model`` in this process (use :func:`export_tflite`)."""
    mean = std = None
    if quantization in FULL_INTEGER:  # export_tflite has checked representative_data
        model, mean, std, _how = standardised_core(model, representative_data)
        if mean is not None:
            representative_data = ((np.asarray(representative_data, np.float64) - mean) / std
                                   ).astype(np.float32)
        if quantization == "int8":  # 16-bit activations have the resolution to spare
            representative_data = calm_windows(representative_data, calm_quantile)
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [frozen_function(model, batch_size)], model)
    if quantization in ("dynamic", *FULL_INTEGER):
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantization in FULL_INTEGER:
        converter.representative_dataset = _calibration_batches(representative_data, batch_size)
        sixteen = quantization == "int16x8"
        converter.target_spec.supported_ops = [
            tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8 if sixteen
            else tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int16 if sixteen else tf.int8
        converter.inference_output_type = tf.int16 if sixteen else tf.int8
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Statistics for quantized inputs")
        flat = converter.convert()
    return flat if mean is None else with_standardisation(flat, mean, std, _how)


def _short_error(exc: BaseException, limit: int = 600) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    lines = [ln for ln in text.splitlines() if ln.strip()]
    text = " | ".join(lines[:3] + (["..."] + lines[-2:] if len(lines) > 5 else lines[3:]))
    return text if len(text) <= limit else text[:limit] + " ..."


def export_tflite(model: keras.Model, path: str | os.PathLike[str], *, batch_size: int,
                  quantization: str = "float32", representative_data: np.ndarray | None = None,
                  unroll: bool | None = None, isolate: bool | None = None,
                  timeout_s: float = 900.0) -> ExportResult:
    """Export ``model`` to a TFLite file at ``path`` (atomically) with a fixed batch.

    ``unroll`` defaults to int8 only, ``isolate`` (a child process) to int8 with recurrent
    layers. Failures come back as ``ok=False``; bad arguments raise ``ValueError``.
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
    recurrent = has_recurrent_layers(model)
    full = quantization in FULL_INTEGER
    unroll = (full if unroll is None else bool(unroll)) and recurrent
    isolate = (full and recurrent) if isolate is None else isolate
    result = ExportResult(None, int(batch_size), quantization, ok=False, unrolled=unroll,
                          isolated=isolate)
    if full and (representative_data is None or len(representative_data) == 0):
        result.error = (f"{quantization} needs representative_data: pass training windows to calibrate "
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
        except HarError:
            raise  # an unwritable output folder: the caller must fix it, not read a record
        except Exception as exc:  # the converter raises many types (ConverterError, ...)
            result.error = _short_error(exc)
    result.seconds = round(time.perf_counter() - t0, 3)
    if result.ok:
        result.path = str(path)
        result.size_bytes = path.stat().st_size
        if full:
            st = read_standardisation(path)
            result.standardisation = None if st is None else st["how"]
    return result


def _export_in_child(model: keras.Model, path: Path, *, batch_size: int, quantization: str,
                     representative_data: np.ndarray | None, unroll: bool,
                     timeout_s: float) -> dict[str, Any]:
    """Run the conversion in ``python -m har_studies.deploy _export`` and read back its outcome."""
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
                                   "har_studies.deploy", "_export",
                                   json.dumps(job)], capture_output=True, text=True,
                                  timeout=timeout_s, env=env, cwd=config.PROJECT_ROOT)
        except subprocess.TimeoutExpired:
            return {"ok": False, "error": f"conversion did not finish within {timeout_s:g} s"}
        if out_json.is_file():
            return json.loads(out_json.read_text())
        return {"ok": False, "error": _crash_reason(proc.returncode, proc.stderr, quantization,
                                                    unroll and has_recurrent_layers(model))}


def _crash_reason(rc: int, stderr: str, quantization: str, unrolled: bool) -> str:
    """One line on how the converter child died, with a hint for the int8 LSTM crash."""
    why = f"killed by signal {_signal.Signals(-rc).name}" if rc < 0 else f"exit status {rc}"
    frames = re.findall(r'File "[^"]*?([\w.]+\.py)", line (\d+) in (\w+)', stderr)
    where = f" in {frames[0][0]}:{frames[0][2]}" if rc < 0 and frames else ""
    errors = [ln.strip() for ln in stderr.splitlines() if re.search(r"\w+Error\b", ln)]
    detail = f": {errors[-1][:300]}" if rc >= 0 and errors else ""
    hint = ("; int8 calibration of a while-loop LSTM crashes in TF 2.21 -- export with "
            "unroll=True" if rc < 0 and quantization == "int8" and not unrolled else "")
    return f"the converter process crashed ({why}){where}{detail}{hint}"


def _export_worker(job_json: str) -> int:
    """Child side of :func:`_export_in_child`: convert, write the file, write the outcome."""
    job = json.loads(job_json)
    from har_utils.training import load_model

    from .. import input_layers  # noqa: F401  (layers a saved study model may hold)
    model = load_model(job["model"])
    rep = np.load(job["representative_data"]) if job["representative_data"] else None
    res = export_tflite(model, job["path"], batch_size=job["batch_size"],
                        quantization=job["quantization"], representative_data=rep,
                        unroll=job["unroll"], isolate=False)
    Path(job["result"]).write_text(json.dumps({"ok": res.ok, "error": res.error}))
    return 0


def _sizes_worker(job_json: str) -> int:
    """Bytes of the int8 file (batch 1) of each untrained build in ``job_json`` (a list of
    ``{"name", "model", "model_kwargs"}``), printed as one JSON line (the watch-model study's
    size stage; weights' values do not change a file's size)."""
    from har_utils.models import build_model

    from .. import zoo_models  # noqa: F401  (registers the small models)
    calibration = np.random.default_rng(0).normal(size=(64, config.WINDOW_LENGTH,
                                                        len(config.CHANNELS))).astype(np.float32)
    sizes = {}
    with tempfile.TemporaryDirectory(prefix="har-sizes-") as tmp:
        for job in json.loads(job_json):
            model = build_model(job["model"], **job["model_kwargs"])
            res = export_tflite(model, Path(tmp) / "model.tflite", batch_size=1,
                                quantization="int8", representative_data=calibration)
            if not res.ok:
                print(f"{job['name']}: {res.error}", file=sys.stderr)
                return 1
            sizes[job["name"]] = res.size_bytes
    print(json.dumps(sizes))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Internal entry points of the converter child: ``python -m har_studies.deploy _export
    JOB`` (one conversion) and ``_sizes JOBS`` (int8 sizes of untrained builds)."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) == 2 and argv[0] == "_export":
        return _export_worker(argv[1])
    if len(argv) == 2 and argv[0] == "_sizes":
        return _sizes_worker(argv[1])
    print("usage: python -m har_studies.deploy _export|_sizes JOB_JSON (internal; see "
          "benchmarks/bench_deploy.py for the benchmark)", file=sys.stderr)
    return 2
