"""FLOPs per window (an analytic per-layer count, or TensorFlow's profiler on the frozen graph)
and the energy *estimates* made from them or from measured CPU time (constants named and
cited)."""

from __future__ import annotations

import contextlib
import os
from typing import Any

from ..backends import EXPORT, require

# Before Keras is imported: this module needs Keras on TensorFlow (the TFLite converter).
require(EXPORT, "har_studies.deploy.flops")

import keras
import numpy as np
import tensorflow as tf

from .export import RECURRENT, frozen_function, unroll_recurrent


def _shape(t: Any) -> tuple[int, ...]:
    return tuple(int(d) if d is not None else 1 for d in t.shape)


def _layer_macs(layer: keras.layers.Layer, in_shape: tuple[int, ...],
                out_shape: tuple[int, ...]) -> tuple[int, int] | None:
    """(multiply-accumulates, bias adds) of one layer on one window; None if unknown."""
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
    if isinstance(layer, RECURRENT):
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

    ``analytic``: 2 per multiply-accumulate of conv, dense and recurrent kernels plus one per
    bias add (element-wise work, a few per cent, not counted). ``profiler``: TensorFlow's
    profiler on the frozen, unrolled batch-1 graph, element-wise ops included.
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
            if isinstance(lyr, keras.Model):
                walk(lyr, f"{prefix}{lyr.name}/")
                continue
            if lyr.count_params() == 0:
                continue  # inputs, element-wise or data movement (Add, Concatenate, pooling, ...)
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


#: Energy per operation at 45 nm, 0.9 V (:data:`ENERGY_SOURCE`; Han et al., "Deep Compression",
#: ICLR 2016, Table 1).
FP32_MULT_PJ: float = 3.7
FP32_ADD_PJ: float = 0.9
INT8_MULT_PJ: float = 0.2
INT8_ADD_PJ: float = 0.03
DRAM_READ_32BIT_PJ: float = 640.0
ENERGY_SOURCE: str = ("M. Horowitz, 'Computing's energy problem (and what we can do about it)', "
                      "ISSCC 2014, 45 nm 0.9 V (table as in Han et al., ICLR 2016)")


def energy_estimate(macs: int, *, precision: str = "float32",
                    n_params: int | None = None) -> dict[str, Any]:
    """An *estimate* (µJ per window) of the arithmetic energy of ``macs`` at 45 nm, a lower
    bound; with ``n_params``, also every weight read once from DRAM."""
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
    """An *estimate*: CPU time per window times a power the caller states (none measured here)."""
    if not watts > 0:
        raise ValueError(f"watts must be positive, got {watts}")
    return {"label": "estimate", "cpu_seconds_per_window": cpu_seconds_per_window,
            "stated_watts": watts, "uj_per_window": cpu_seconds_per_window * watts * 1e6,
            "assumptions": "CPU time of the process times the stated power; the power is the "
                           "caller's figure, not a measurement"}
