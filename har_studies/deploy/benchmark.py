"""The deployment benchmark of notebook 08 and ``benchmarks/bench_deploy.py``: size, FLOPs,
Keras and TFLite latency and throughput, a day of recording, and for the paper's model the
streaming agreement and targets. Timings are medians after warm-up: figures, not assertions."""

from __future__ import annotations

import functools
import json
import os
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..backends import EXPORT, require

# Before Keras is imported: this module needs Keras on TensorFlow (the TFLite converter).
require(EXPORT, "har_studies.deploy.benchmark")

import numpy as np
import pandas as pd

from har_utils import config

from .. import constants

#: The issue's deployment targets for the paper's model.
TARGETS: dict[str, float] = {"dynamic_b1_ms_per_window": 0.15, "quantisation_loss_points": 0.5,
                             "day_seconds": 15.0}
PRIMARY: str = "cnn_lstm_paper"


@dataclass
class BenchSettings:
    """What to measure and how often (the notebook's parameters and the script's flags)."""

    models: tuple[str, ...] = ()               # empty: every zoo model
    model_dir: Path | None = None              # trained <name>.keras files (default results/models)
    big_batch: int = 256
    repeats_single: int = 200                  # timed batch-1 calls
    repeats_big: int = 10                      # timed big-batch calls
    warmup_single: int = 20
    warmup_big: int = 2
    tf_threads: int = 1                        # TensorFlow intra-op threads for Keras timings
    workers: int = 1                           # models measured at once, each in its own process
    day_hours: float = 24.0
    day_models: str = "primary"                # "primary" (and the watch model), "all", "none"
    int8: bool = True
    watts_per_core: float | None = None        # stated power for the CPU-time energy estimate
    synthetic: bool = False                    # synthetic data and a tiny model (smoke test)
    export_dir: Path = field(default_factory=lambda: config.BUILD_DIR / "deploy" / "tflite")

    def model_names(self) -> list[str]:
        """``models``, else every zoo model, and the beyond study's and the watch model if
        saved."""
        from ..zoo_models import zoo_names
        if self.models:
            return list(self.models)
        if self.synthetic:
            return ["tiny_cnn"]
        folder = self.model_dir or config.results_dir() / "models"
        saved = [m for m in (constants.BEYOND_MODEL, constants.SMALL_MODEL)
                 if any((folder / f"{m}{x}").is_file() for x in (".keras", ".joblib"))]
        return zoo_names() + saved


# --- data and models -----------------------------------------------------------------------

def synthetic_windows(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` learnable synthetic windows (the class shifts one channel's mean) and labels."""
    rng = np.random.default_rng(seed)
    y = rng.integers(1, 7, n)
    X = rng.normal(size=(n, 128, 9)).astype(np.float32)
    X[np.arange(n), :, y - 1] += 1.5
    return X, y


def bench_data(s: BenchSettings, ds: Any = None) -> dict[str, Any]:
    """Train windows (int8 calibration), test windows and labels, and their stamp."""
    if s.synthetic:
        Xtr, ytr = synthetic_windows(240, 1)
        Xte, yte = synthetic_windows(96, 2)
        return {"X_train": Xtr, "y_train": ytr, "X_test": Xte, "y_test": yte,
                "stamp": {"source": "synthetic", "source_label": "synthetic windows (smoke)"}}
    from har_utils import data
    if ds is None:
        raise ValueError("bench_data needs a dataset unless settings.synthetic is set")
    return {"X_train": ds.train.X, "y_train": ds.train.y, "X_test": ds.test.X,
            "y_test": ds.test.y, "stamp": data.stamp(ds)}


def get_model(name: str, s: BenchSettings, d: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The trained model (else an untrained build) and where it came from."""
    from har_utils import training
    from har_utils.models import build_model

    from .. import input_layers, zoo_models  # noqa: F401  (the studies' models and layers)
    if s.synthetic:
        training.set_seed(0)
        model = training.TrainConfig(model=name).build(d["X_train"])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        model.fit(d["X_train"], d["y_train"] - 1, epochs=5, batch_size=32, verbose=0)
        return model, {"trained": True, "origin": "trained here on synthetic windows "
                                                      "(smoke, 5 epochs)"}
    path = (s.model_dir or config.results_dir() / "models") / f"{name}.keras"
    if path.is_file():
        return training.load_model(path), {"trained": True, "origin": config.shown(path),
                                           "keras_file_bytes": path.stat().st_size}
    return build_model(name), {"trained": False,
                               "origin": f"untrained build ({path.name} not found): latency, "
                                         "size and FLOPs only, no accuracy"}


def keras_file_size(model: Any) -> int:
    """Bytes of ``model`` saved as ``.keras`` (to a temporary file)."""
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "m.keras"
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            model.save(p)
        return p.stat().st_size


def accuracy(probs: np.ndarray, y: np.ndarray) -> float:
    """Percentage of windows whose arg-max id (1..6) equals ``y``."""
    return 100.0 * float(np.mean(np.argmax(probs, axis=1) + 1 == np.asarray(y)))


# --- one model -----------------------------------------------------------------------------

#: Recurrent loops up to this many steps also get an unrolled dynamic-range export.
MAX_UNROLL_STEPS: int = 32


def _loops_short(model: Any) -> bool:
    """Every recurrent loop of ``model`` (if any) is at most :data:`MAX_UNROLL_STEPS` steps."""
    from . import export
    return all(0 < n <= MAX_UNROLL_STEPS for n in export.recurrent_steps(model))


def export_variants(model: Any, int8: bool = True) -> list[tuple[str, bool | None]]:
    """(quantisation, unroll) pairs to export; short recurrent loops (:data:`MAX_UNROLL_STEPS`)
    also get a dynamic-range unrolled export and, with ``int8``, full int8 (needs unrolling)."""
    from . import export
    out: list[tuple[str, bool | None]] = [("float32", None), ("dynamic", None)]
    short = _loops_short(model)
    if short and export.has_recurrent_layers(model):
        out.append(("dynamic", True))
    if int8 and short:
        out += [("int8", None), ("int16x8", None)]
    return out


def skipped_variants(model: Any, int8: bool = True) -> dict[str, str]:
    """Exports :func:`export_variants` leaves out, with the reason (quantisation -> reason)."""
    from . import export
    if int8 and not _loops_short(model):
        return {q: f"not attempted: full int8 needs the recurrent loops unrolled, and "
                        f"this model's loop over {max(export.recurrent_steps(model))} steps is longer than "
                        f"MAX_UNROLL_STEPS={MAX_UNROLL_STEPS} (a very large graph and a slow, "
                        "crash-prone conversion)" for q in ("int8", "int16x8")}
    return {}


def bench_model(name: str, s: BenchSettings, d: dict[str, Any], *,
                log: Callable[[str], Any] = print) -> tuple[dict[str, Any], Any]:
    """Everything measured for one model (a JSON-ready dict) and the model itself."""
    from . import export, flops, runtime

    t_start = time.perf_counter()
    clock = Stopwatch()
    sklearn_file = (s.model_dir or config.results_dir() / "models") / f"{name}.joblib"
    if not s.synthetic and sklearn_file.is_file():
        return bench_sklearn(name, sklearn_file, s, d, clock, t_start), None
    model, origin = get_model(name, s, d)
    clock.lap("load or build the model")
    row: dict[str, Any] = {"model": name, **origin, "parameters": model.count_params()}
    row.setdefault("keras_file_bytes", keras_file_size(model))
    row["flops"] = flops.flops_per_window(model)
    try:
        row["flops_profiler"] = flops.flops_per_window(model, "profiler")["flops"]
    except Exception as exc:  # a cross-check only
        row["flops_profiler"] = f"failed: {type(exc).__name__}: {exc}"
    macs = row["flops"]["macs"]
    row["energy_estimate"] = {
        "float32": flops.energy_estimate(macs, precision="float32", n_params=row["parameters"]),
        "int8": flops.energy_estimate(macs, precision="int8"),
        "note": "TFLite float32 runs float arithmetic; dynamic-range (hybrid) kernels quantise "
                "activations on the fly and multiply in int8; full int8 runs int8 arithmetic"}
    clock.lap("size, FLOPs and energy estimate")

    X, big = d["X_test"], s.big_batch
    row["keras"] = {}
    for method, fn in runtime.keras_predictors(model).items():
        for bs in (1, big):
            row["keras"].setdefault(method, {})[str(bs)] = _measure(fn, X, bs, s)
            clock.lap(f"keras {method} b{bs}: timing")
    ref_probs = np.asarray(model.predict(X, batch_size=256, verbose=0))
    if origin["trained"]:
        row["keras_accuracy"] = accuracy(ref_probs, d["y_test"])
    clock.lap("keras reference outputs (test set)")

    row["tflite"] = {}
    for bs in (1, big):
        for q, unroll in export_variants(model, s.int8):
            if q == "int16x8" and (bs != 1 or not origin["trained"]):
                # TFLite's 16x8 kernels are reference code (slow): batch 1 says enough, and an
                # untrained build has no accuracy to keep
                continue
            key = f"{q}{'_unrolled' if unroll else ''}_b{bs}"
            res = export.export_tflite(model, s.export_dir / f"{name}_{key}.tflite",
                                       batch_size=bs, quantization=q, unroll=unroll,
                                       representative_data=d["X_train"])
            entry: dict[str, Any] = asdict(res)
            log(f"  {name} {key}: " + (f"{res.size_bytes:,} bytes, {res.seconds:.1f} s"
                                      if res.ok else f"FAILED ({res.error})"))
            clock.lap(f"tflite {key}: export")
            if res.ok:
                runner = runtime.TFLiteRunner(res.path, num_threads=1)
                entry["timing"] = _measure(runner.predict, X, bs, s)
                clock.lap(f"tflite {key}: timing")
                probs = runner.predict(X)
                entry["max_abs_prob_diff_vs_keras"] = float(np.abs(probs - ref_probs).max())
                entry["argmax_agreement_vs_keras"] = float(
                    np.mean(probs.argmax(1) == ref_probs.argmax(1)))
                if origin["trained"]:
                    entry["accuracy"] = accuracy(probs, d["y_test"])
                    entry["accuracy_lost_points"] = row["keras_accuracy"] - entry["accuracy"]
                clock.lap(f"tflite {key}: outputs on the test set")
            row["tflite"][key] = entry
        for q, reason in skipped_variants(model, s.int8).items():
            if q == "int16x8" and bs != 1:
                continue
            row["tflite"][f"{q}_b{bs}"] = {"path": None, "batch_size": bs, "quantization": q,
                                           "ok": False, "skipped": True, "error": reason}
            log(f"  {name} {q}_b{bs}: skipped ({reason})")

    wants_day = s.day_models == "all" or (s.day_models == "primary" and (
        name in (PRIMARY, constants.SMALL_MODEL) or s.synthetic))
    row["day"] = day_runs(name, row, s, log=log) if wants_day else {}
    clock.lap("one day of recording")
    if s.watts_per_core and row["day"]:
        day = next(iter(row["day"].values()))
        row["energy_cpu_time_estimate"] = flops.energy_from_cpu_time(
            day["cpu_s"] / day["windows"], s.watts_per_core)
    row["seconds"] = round(time.perf_counter() - t_start, 1)
    row["profile_s"] = clock.laps
    return row, model


def bench_sklearn(name: str, path: Path, s: BenchSettings, d: dict[str, Any],
                  clock: "Stopwatch", t_start: float) -> dict[str, Any]:
    """A saved scikit-learn classifier: file size, ``predict_proba`` timings, test accuracy."""
    import joblib

    clf = joblib.load(path)
    clock.lap("load or build the model")
    X = d["X_test"]
    timing = {str(bs): _measure(clf.predict_proba, X, bs, s) for bs in (1, s.big_batch)}
    clock.lap("predict_proba timing")
    row = {"model": name, "trained": True, "origin": config.shown(path),
           "kind": "scikit-learn: window features, then the fitted model",
           "keras_file_bytes": path.stat().st_size, "parameters": None,
           "flops": {"flops": None, "macs": None,
                     "note": "not counted for a scikit-learn model"},
           "keras": {"sklearn_predict_proba": timing},
           "keras_accuracy": accuracy(np.asarray(clf.predict_proba(X)), d["y_test"]),
           "tflite": {},
           "tflite_note": "not applicable (a scikit-learn model: no export, no quantisation)",
           "day": {}}
    clock.lap("test-set outputs")
    row["seconds"] = round(time.perf_counter() - t_start, 1)
    row["profile_s"] = clock.laps
    return row


#: Seconds of warm-up calls, and of timed calls, one timing spends at most (beyond its
#: first two warm-up calls and :data:`MIN_REPEATS` timed ones): a slow way to call a model
#: (eager Keras: about half a second a call) gets fewer repeats, a fast one all of them.
TIME_BOX_S: float = 1.5
MIN_REPEATS: int = 5


def _measure(fn: Callable[[np.ndarray], Any], X: np.ndarray, bs: int, s: BenchSettings
             ) -> dict[str, float]:
    """:func:`runtime.measure` for batch size ``bs``: the settings' warm-up calls and repeats,
    each capped by :data:`TIME_BOX_S` (the repeats done are in the result)."""
    from . import runtime
    big = bs == s.big_batch
    batch = np.asarray(X, np.float32)[np.arange(bs) % len(X)]
    spent, last = 0.0, 0.0
    for i in range(max(2, s.warmup_big if big else s.warmup_single)):
        t0 = time.perf_counter()
        np.asarray(fn(batch))
        last = time.perf_counter() - t0
        spent += last
        if i >= 1 and spent > TIME_BOX_S:
            break  # the first call may compile; the last one says what a call costs
    wanted = s.repeats_big if big else s.repeats_single
    repeats = min(wanted, max(MIN_REPEATS, int(TIME_BOX_S / max(last, 1e-6))))
    return runtime.measure(fn, X, bs, warmup=0, repeats=repeats)


class Stopwatch:
    """``lap(what)`` adds the seconds since the previous lap to ``laps[what]``."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self.last = time.perf_counter()

    def lap(self, what: str) -> None:
        now = time.perf_counter()
        self.laps[what] = round(self.laps.get(what, 0.0) + now - self.last, 3)
        self.last = now


def day_runs(name: str, row: dict[str, Any], s: BenchSettings, *,
             log: Callable[[str], Any] = print) -> dict[str, Any]:
    """One day of recording through the fastest dynamic-range (else float32) export; the
    watch model through its int8 batch-1 file, as it ships."""
    from . import runtime, streaming
    shipped = row["tflite"].get("int8_b1", {})
    if name == constants.SMALL_MODEL and shipped.get("ok"):
        key, entry, choice = "int8_b1", shipped, "the int8 file the watch model ships as"
    else:
        timed = [(e["quantization"] != "dynamic", e["timing"]["ms_per_window"], key, e)
                 for key, e in row["tflite"].items()
                 if e.get("ok") and e["quantization"] in ("dynamic", "float32")]
        if not timed:
            return {}
        *_, key, entry = min(timed, key=lambda t: t[:2])
        choice = "the dynamic-range (else float32) export with the lower measured ms per window"
    runner = runtime.TFLiteRunner(entry["path"], num_threads=1)
    acc, gyro, label = (None, None, None) if s.synthetic else test_recordings()
    out = {}
    for zp in (True, False):
        r = streaming.day_of_recording(runner.predict, acc=acc, gyro=gyro, hours=s.day_hours,
                                    zero_phase=zp, batch_size=max(s.big_batch,
                                                                  entry["batch_size"]),
                                    data_label=label)
        r["model_variant"] = key
        r["variant_choice"] = choice
        out["zero_phase" if zp else "causal"] = r
        log(f"  {name} day ({'zero-phase' if zp else 'causal'}, {key}): {r['windows']:,} "
            f"windows in {r['total_s']:.1f} s (filter {r['preprocess_s']:.1f} s, "
            f"CPU {r['cpu_s']:.1f} s)")
    return out


@functools.cache
def test_recordings() -> tuple[np.ndarray, np.ndarray, str]:
    """The raw HAPT recordings of the test subjects, end to end (cached for the process)."""
    from .predict import test_subject_experiments
    exps = test_subject_experiments()
    acc = np.concatenate([e["acc"] for e in exps])
    gyro = np.concatenate([e["gyro"] for e in exps])
    hours = len(acc) / config.SAMPLING_RATE_HZ / 3600.0
    return acc, gyro, (f"real HAPT recordings of the {len(exps)} test-subject experiments "
                       f"({hours:.2f} h) tiled end to end")


# --- streaming agreement -------------------------------------------------------------------

def streaming(model: Any, s: BenchSettings) -> dict[str, Any]:
    """Agreement of ``model`` (Keras, float32) over whole recordings, zero-phase vs causal."""
    from . import predict
    classifier = lambda X: np.asarray(model.predict(X, batch_size=256, verbose=0))  # noqa: E731
    if s.synthetic:
        from .streaming import synthetic_recording
        acc, gyro = synthetic_recording(6000)
        labels = np.repeat(np.array([1, -1, 4, 8, 5, 6]), 1000)
        exps = [{"subject": 0, "number": 1, "acc": acc, "gyro": gyro, "label": labels}]
        data_label = "synthetic recording (smoke)"
    else:
        exps = predict.test_subject_experiments()
        data_label = f"HAPT: all {len(exps)} experiments of test subjects {config.TEST_SUBJECTS}"
    streams = [predict.stream_experiment(e, classifier) for e in exps]
    per_exp = [{"subject": e["subject"], "number": e["number"], **st["agreement"]}
               for e, st in zip(exps, streams)]
    total = {mode: predict.agreement(pd.concat([st[mode] for st in streams], ignore_index=True))
             for mode in ("zero_phase", "causal")}
    zp, ca = total["zero_phase"]["agreement_scored"], total["causal"]["agreement_scored"]
    return {"data": data_label, "pooled": total, "per_experiment": per_exp,
            "causal_cost_points": None if zp is None or ca is None else 100 * (zp - ca),
            "rule": "window truth = majority label; windows with any unlabelled (-1) or "
                    "transition (7-12) sample are excluded from the agreement; 'pure' = all "
                    "128 samples one activity 1-6",
            "filtering": "zero_phase: sosfiltfilt over the whole recording (offline, as in "
                         "training); causal: sosfilt from the first sample (streaming; the "
                         "3-sample median filter looks one sample ahead)"}


# --- targets, the whole run, tables --------------------------------------------------------

def targets(row: dict[str, Any]) -> dict[str, Any]:
    """The deployment targets for the paper's model, measured against this run."""
    t = row["tflite"]
    dyn = {k: e["timing"]["ms_per_window"] for k, e in t.items()
           if e.get("ok") and e["quantization"] == "dynamic" and e["batch_size"] == 1}
    dyn_key = min(dyn, key=dyn.get) if dyn else None
    losses = {k: v["accuracy_lost_points"] for k, v in t.items()
              if k.startswith(("dynamic", "int8")) and "accuracy_lost_points" in v}
    day = row.get("day", {}).get("zero_phase", {})
    values = {"dynamic_b1_ms_per_window": dyn.get(dyn_key) if dyn_key else None,
              "quantisation_loss_points": max(losses.values()) if losses else None,
              "day_seconds": day.get("total_s")}
    out = {k: {"target": TARGETS[k], "value": v,
               "met": None if v is None else bool(v <= TARGETS[k])} for k, v in values.items()}
    out["dynamic_b1_ms_per_window"].update(variant=dyn_key, per_variant=dyn)
    out["quantisation_loss_points"]["per_variant"] = losses
    out["day_seconds"].update(variant=day.get("model_variant"), filtering="zero-phase")
    return out


def quantisation_targets(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per trained model and integer quantisation at batch 1: test accuracy points lost
    against the Keras model, against :data:`TARGETS`' ``quantisation_loss_points``."""
    out = []
    for r in rows:
        for key, e in sorted(r.get("tflite", {}).items()):
            if (e.get("batch_size") == 1 and e.get("quantization") in ("int8", "int16x8")
                    and "accuracy_lost_points" in e):
                lost = e["accuracy_lost_points"]
                out.append({"model": r["model"], "variant": key, "bytes": e["size_bytes"],
                            "accuracy": e["accuracy"], "lost_points": lost,
                            "target": TARGETS["quantisation_loss_points"],
                            "met": bool(lost <= TARGETS["quantisation_loss_points"]),
                            "standardisation": e.get("standardisation")})
    return out


def set_threads(tf_threads: int) -> dict[str, int]:
    """Limit TensorFlow's intra-op threads when ``tf_threads > 0``; the settings in force."""
    from har_utils.threads import configure_threads, current_threads
    return configure_threads(tf_threads) if tf_threads > 0 else current_threads()


def run(s: BenchSettings, ds: Any = None, *, log: Callable[[str], Any] = print
        ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Measure every model of ``s``: the JSON-ready result and the primary model by name."""
    from har_utils.provenance import environment
    threads = set_threads(s.tf_threads)
    t0 = time.perf_counter()
    d = bench_data(s, ds)
    names = s.model_names()
    log(f"deploy benchmark: {', '.join(names)}; data {d['stamp']['source_label']}; "
        f"{len(d['y_test'])} test windows; TFLite on 1 thread, TensorFlow threads {threads}")
    rows, kept = [], {}
    parallel = s.workers > 1 and len(names) > 1
    if parallel:
        rows = bench_in_workers(names, s, d, log=log)
        # the streaming agreement and the notebook's timeline use the primary model
        first = PRIMARY if PRIMARY in names else names[0] if s.synthetic else None
        if first is not None:
            kept[first] = get_model(first, s, d)[0]
    else:
        for name in names:
            log(f"{name}:")
            row, model = bench_model(name, s, d, log=log)
            rows.append(row)
            if name == PRIMARY or (s.synthetic and not kept):
                kept[name] = model
            del model
    result: dict[str, Any] = {
        "benchmark": "deploy", "smoke": s.synthetic, "models": rows, "big_batch": s.big_batch,
        "repeats": {"batch_1": s.repeats_single, f"batch_{s.big_batch}": s.repeats_big},
        "settings": {k: (config.shown(v) if isinstance(v, Path) else v)
                     for k, v in asdict(s).items()},
        "tf_threads": threads, "tflite_threads": 1, "cpu_count": os.cpu_count(),
        "workers": s.workers if parallel else 1,
        "data": d["stamp"], "targets": None, "streaming": None,
        "timing_method": "median of time.perf_counter over repeats after warm-up calls",
    }
    primary = next((r for r in rows if r["model"] in kept), None)
    if primary is not None and primary.get("trained"):
        result["targets"] = {"model": primary["model"], **targets(primary)}
        result["streaming"] = {"model": primary["model"], "variant": "keras float32",
                               **streaming(kept[primary["model"]], s)}
    result["quantisation_targets"] = quantisation_targets(rows)
    result["seconds"] = round(time.perf_counter() - t0, 1)
    result["environment"] = environment()
    for row in result["models"]:  # the exported files, as the project shows them
        for entry in row.get("tflite", {}).values():
            if entry.get("path"):
                entry["path"] = config.shown(Path(entry["path"]))
    return result, kept


def bench_in_workers(names: list[str], s: BenchSettings, d: dict[str, Any], *,
                     log: Callable[[str], Any] = print) -> list[dict[str, Any]]:
    """:func:`bench_model` of every model in ``s.workers`` spawned processes, rows in order."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    last = config.results_dir() / "deploy" / "benchmark.json"
    previous: dict[str, float] = {}
    if last.is_file():
        try:
            previous = {r["model"]: float(r["seconds"])
                        for r in json.loads(last.read_text()).get("models", [])}
        except (ValueError, KeyError, TypeError):
            previous = {}  # only an ordering hint
    order = sorted(names, key=lambda n: -previous.get(n, 0.0))
    log(f"{len(names)} models in {s.workers} worker processes at once, in the order "
        f"{', '.join(order)}")
    rows: dict[str, dict[str, Any]] = {}
    with ProcessPoolExecutor(max_workers=s.workers,
                             mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(_bench_worker, n, s, d) for n in order]
        for future in as_completed(futures):
            name, row, lines = future.result()
            for line in lines:
                log(line)
            log(f"{name}: {row['seconds']:.1f} s in worker process {row['worker_pid']}")
            rows[name] = row
    return [rows[n] for n in names]


def _bench_worker(name: str, s: BenchSettings, d: dict[str, Any]
                  ) -> tuple[str, dict[str, Any], list[str]]:
    """One model's benchmark in a worker process: its row and its log lines."""
    set_threads(s.tf_threads)
    lines = [f"{name}:"]
    row, _ = bench_model(name, s, d, log=lines.append)
    row["worker_pid"] = os.getpid()
    return name, row, lines
