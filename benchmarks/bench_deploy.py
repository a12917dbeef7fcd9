"""Benchmark: deployment readiness of the zoo models (latency, size, TFLite, energy, one day).

For each model (default: every zoo model; a trained one where ``<model-dir>/<name>.keras``
exists, otherwise an untrained build, good for latency, size and FLOPs but not accuracy):

- parameters, ``.keras`` file size, FLOPs per window (analytic, with TensorFlow's profiler as
  a cross-check) and an energy *estimate* from them (constants in ``har_utils.deploy``);
- latency (batch 1) and throughput (batch 256) as a plain eager Keras call, Keras's compiled
  ``predict`` and a ``tf.function`` (TensorFlow limited to ``--tf-threads`` threads);
- TFLite exports with a fixed batch of 1 and of 256, each float32, dynamic-range and full int8
  (LSTMs unrolled for int8; a failed conversion is recorded with its reason), each timed on one
  thread and, for trained models, scored on the test set (accuracy lost to quantisation in
  percentage points against the Keras model);
- one day of 50 Hz recording (real HAPT test-subject recordings tiled to 24 h, or synthetic in
  ``--smoke``): filtering, windowing and one-thread TFLite inference timed end to end, with
  zero-phase and with causal filtering;
- for ``cnn_lstm_paper``: the streaming agreement over the test subjects' whole HAPT recordings
  (windows with unlabelled or transition samples excluded; zero-phase vs causal filtering)
  and the deployment targets (dynamic-range batch-1 latency <= 0.15 ms, quantisation loss
  <= 0.5 points, one day <= 15 s).

Every timing is a median (``time.perf_counter``) after warm-up: figures for reports, which
depend on the machine and its load. Writes ``deploy/benchmark.json`` in the results folder
(with provenance) and the TFLite files under ``build/deploy/tflite``; ``--smoke`` trains a tiny
model on synthetic windows and runs everything in seconds into ``build/smoke/deploy``.
Run: ``python benchmarks/bench_deploy.py`` (hours: all models) or
``python benchmarks/bench_deploy.py --models cnn_lstm_paper``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

TARGETS = {"dynamic_b1_ms_per_window": 0.15, "quantisation_loss_points": 0.5,
           "day_seconds": 15.0}
PRIMARY = "cnn_lstm_paper"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=None,
                    help="comma-separated model names (default: every zoo model)")
    ap.add_argument("--model-dir", type=Path, default=None,
                    help="folder of trained <name>.keras files (default: results/models)")
    ap.add_argument("--source", default="hapt", choices=["hapt", "uci", "auto"],
                    help="test data for accuracy (default hapt: what results/models was "
                         "trained on)")
    ap.add_argument("--big-batch", type=int, default=256)
    ap.add_argument("--repeats-single", type=int, default=200, help="timed batch-1 calls")
    ap.add_argument("--repeats-big", type=int, default=10, help="timed big-batch calls")
    ap.add_argument("--tf-threads", type=int, default=1,
                    help="TensorFlow intra-op threads for the Keras timings (0: TF default)")
    ap.add_argument("--day-hours", type=float, default=24.0)
    ap.add_argument("--no-int8", action="store_true", help="skip the full-int8 exports")
    ap.add_argument("--watts-per-core", type=float, default=None,
                    help="stated power of one core (W) for the CPU-time energy estimate; "
                         "without it that estimate is not made")
    ap.add_argument("--smoke", action="store_true",
                    help="tiny model, synthetic data, few repeats: seconds (for make test)")
    ap.add_argument("--out", type=Path, default=None,
                    help="JSON path (default: results/deploy/benchmark.json; "
                         "build/smoke/deploy/benchmark.json with --smoke)")
    ap.add_argument("--export-dir", type=Path, default=None,
                    help="where the .tflite files go (default: beside --out under build/)")
    return ap.parse_args(argv)


# --- data and models -----------------------------------------------------------------------

def synthetic_windows(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` learnable synthetic windows (the class shifts one channel's mean) and labels."""
    rng = np.random.default_rng(seed)
    y = rng.integers(1, 7, n)
    X = rng.normal(size=(n, 128, 9)).astype(np.float32)
    X[np.arange(n), :, y - 1] += 1.5
    return X, y


def load_data(args: argparse.Namespace) -> dict[str, Any]:
    """Train windows (for int8 calibration), test windows and labels, and their stamp."""
    if args.smoke:
        Xtr, ytr = synthetic_windows(240, 1)
        Xte, yte = synthetic_windows(96, 2)
        return {"X_train": Xtr, "y_train": ytr, "X_test": Xte, "y_test": yte,
                "stamp": {"source": "synthetic", "source_label": "synthetic windows (smoke)"}}
    from har_utils import data
    ds = data.load_dataset(args.source, verbose=True)
    return {"X_train": ds.train.X, "y_train": ds.train.y, "X_test": ds.test.X,
            "y_test": ds.test.y, "stamp": data.stamp(ds)}


def get_model(name: str, args: argparse.Namespace, d: dict[str, Any]) -> tuple[Any, dict]:
    """The trained model (or, in smoke mode, a tiny one trained here; otherwise an untrained
    build) and a description of where it came from."""
    from har_utils import training
    from har_utils.models import build_model
    if args.smoke:
        from har_utils.data import Split
        cfg = training.TrainConfig(model=name, epochs=5, batch_size=32, seed=0, patience=0)
        res = training.train(cfg, Split(d["X_train"], d["y_train"], np.ones(len(d["y_train"]))),
                             None, out=lambda _line: None)
        return res.model, {"trained": True, "origin": "trained here on synthetic windows "
                                                      "(smoke, 5 epochs)"}
    from har_utils import config
    path = (args.model_dir or config.results_dir() / "models") / f"{name}.keras"
    if path.is_file():
        return training.load_model(path), {"trained": True, "origin": str(path),
                                           "keras_file_bytes": path.stat().st_size}
    return build_model(name), {"trained": False,
                               "origin": f"untrained build ({path} not found): latency, size "
                                         "and FLOPs only, no accuracy"}


def keras_file_size(model: Any) -> int:
    """Bytes of ``model`` saved as ``.keras`` (to a temporary file)."""
    import tempfile
    import warnings
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

def bench_model(name: str, args: argparse.Namespace, d: dict[str, Any],
                export_dir: Path) -> tuple[dict[str, Any], Any]:
    """Everything measured for one model (a JSON-ready dict) and the model itself."""
    from har_utils import deploy
    from har_utils.models import count_params

    t_start = time.perf_counter()
    model, origin = get_model(name, args, d)
    row: dict[str, Any] = {"model": name, **origin, "parameters": count_params(model)}
    row.setdefault("keras_file_bytes", keras_file_size(model))
    row["flops"] = deploy.flops_per_window(model)
    try:
        row["flops_profiler"] = deploy.flops_per_window(model, "profiler")["flops"]
    except Exception as exc:  # a cross-check only
        row["flops_profiler"] = f"failed: {type(exc).__name__}: {exc}"
    macs = row["flops"]["macs"]
    row["energy_estimate"] = {
        "float32": deploy.energy_estimate(macs, precision="float32",
                                          n_params=row["parameters"]),
        "int8": deploy.energy_estimate(macs, precision="int8"),
        "note": "TFLite float32 runs float arithmetic; dynamic-range (hybrid) kernels quantise "
                "activations on the fly and multiply in int8; full int8 runs int8 arithmetic"}

    X, big = d["X_test"], args.big_batch
    reps = {1: args.repeats_single, big: args.repeats_big}
    warm = {1: 20, big: 2} if not args.smoke else {1: 2, big: 1}
    row["keras"] = {}
    for method, fn in deploy.keras_predictors(model).items():
        row["keras"][method] = {str(bs): deploy.measure(fn, X, bs, warmup=warm[bs],
                                                        repeats=reps[bs]) for bs in (1, big)}
    ref_probs = np.asarray(model.predict(X, batch_size=256, verbose=0))
    if origin["trained"]:
        row["keras_accuracy"] = accuracy(ref_probs, d["y_test"])

    row["tflite"] = {}
    quants = [q for q in deploy.QUANTIZATIONS if not (args.no_int8 and q == "int8")]
    for bs in (1, big):
        for q in quants:
            key = f"{q}_b{bs}"
            res = deploy.export_tflite(model, export_dir / f"{name}_{key}.tflite", batch_size=bs,
                                       quantization=q, representative_data=d["X_train"])
            entry: dict[str, Any] = res.as_dict()
            print(f"  {name} {key}: " + (f"{res.size_bytes:,} bytes, {res.seconds:.1f} s"
                                        if res.ok else f"FAILED ({res.error})"), flush=True)
            if res.ok:
                runner = deploy.TFLiteRunner(res.path, num_threads=1)
                entry["timing"] = deploy.measure(runner.predict, X, bs, warmup=warm[bs],
                                                 repeats=reps[bs])
                probs = runner.predict(X)
                entry["max_abs_prob_diff_vs_keras"] = float(np.abs(probs - ref_probs).max())
                entry["argmax_agreement_vs_keras"] = float(
                    np.mean(probs.argmax(1) == ref_probs.argmax(1)))
                if origin["trained"]:
                    entry["accuracy"] = accuracy(probs, d["y_test"])
                    entry["accuracy_lost_points"] = row["keras_accuracy"] - entry["accuracy"]
            row["tflite"][key] = entry

    row["day"] = day_runs(name, row, args, export_dir)
    if args.watts_per_core and row["day"]:
        day = next(iter(row["day"].values()))
        if "cpu_s" in day:
            row["energy_cpu_time_estimate"] = deploy.energy_from_cpu_time(
                day["cpu_s"] / day["windows"], args.watts_per_core)
    row["seconds"] = round(time.perf_counter() - t_start, 1)
    return row, model


def day_runs(name: str, row: dict[str, Any], args: argparse.Namespace,
             export_dir: Path) -> dict[str, Any]:
    """One day of recording through the dynamic-range export (float32 if that failed) at the
    batch size (1 or big) with the lower measured time per window."""
    from har_utils import deploy
    big = args.big_batch
    chosen = None
    for q in ("dynamic", "float32"):
        timed = [(e["timing"]["ms_per_window"], key, e) for key, e in row["tflite"].items()
                 if e.get("ok") and e["quantization"] == q and e["batch_size"] in (1, big)]
        if timed:
            chosen = min(timed, key=lambda t: t[0])
            break
    if chosen is None:
        return {}
    _, key, entry = chosen
    runner = deploy.TFLiteRunner(entry["path"], num_threads=1)
    acc = gyro = None
    label = None
    if not args.smoke:
        acc, gyro, label = _test_recordings()
    out = {}
    for zp in (True, False):
        r = deploy.day_of_recording(runner.predict, acc=acc, gyro=gyro, hours=args.day_hours,
                                    zero_phase=zp, batch_size=max(big, entry["batch_size"]),
                                    data_label=label)
        r["model_variant"] = key
        r["variant_choice"] = ("the dynamic-range (else float32) export with the lower "
                               "measured ms per window")
        out["zero_phase" if zp else "causal"] = r
        print(f"  {name} day ({'zero-phase' if zp else 'causal'}, {key}): "
              f"{r['windows']:,} windows in {r['total_s']:.1f} s (filter {r['preprocess_s']:.1f} s,"
              f" CPU {r['cpu_s']:.1f} s)", flush=True)
    return out


_RECORDINGS: tuple[np.ndarray, np.ndarray, str] | None = None


def _test_recordings() -> tuple[np.ndarray, np.ndarray, str]:
    """The raw HAPT recordings of the test subjects, end to end (cached for the run)."""
    global _RECORDINGS
    if _RECORDINGS is None:
        from har_utils import config, hapt
        raw, _ = hapt.load_raw()
        exps = [e for e in hapt.experiments(raw) if e["subject"] in config.TEST_SUBJECTS]
        acc = np.concatenate([e["acc"] for e in exps])
        gyro = np.concatenate([e["gyro"] for e in exps])
        hours = len(acc) / 50.0 / 3600.0
        _RECORDINGS = (acc, gyro, f"real HAPT recordings of the {len(exps)} test-subject "
                                  f"experiments ({hours:.2f} h) tiled end to end")
    return _RECORDINGS


# --- streaming agreement -------------------------------------------------------------------

def streaming(args: argparse.Namespace, model: Any) -> dict[str, Any]:
    """Agreement of ``model`` over whole recordings, zero-phase vs causal filtering."""
    from har_utils import config, predict
    classifier = lambda X: np.asarray(model.predict(X, batch_size=256, verbose=0))  # noqa: E731
    if args.smoke:
        from har_utils.deploy import synthetic_recording
        acc, gyro = synthetic_recording(6000)
        labels = np.repeat(np.array([1, -1, 4, 8, 5, 6]), 1000)
        exps = [{"subject": 0, "number": 1, "acc": acc, "gyro": gyro, "label": labels}]
        data_label = "synthetic recording (smoke)"
    else:
        from har_utils import hapt
        raw, _ = hapt.load_raw()
        exps = [e for e in hapt.experiments(raw) if e["subject"] in config.TEST_SUBJECTS]
        data_label = f"HAPT: all {len(exps)} experiments of test subjects {config.TEST_SUBJECTS}"
    per_exp, pooled = [], {"zero_phase": [], "causal": []}
    for e in exps:
        s = predict.stream_experiment(e, classifier)
        per_exp.append({"subject": e["subject"], "number": e["number"], **s["agreement"]})
        for mode in pooled:
            pooled[mode].append(s[mode])
    import pandas as pd
    total = {mode: predict.agreement(pd.concat(tls, ignore_index=True))
             for mode, tls in pooled.items()}
    zp, ca = total["zero_phase"]["agreement_scored"], total["causal"]["agreement_scored"]
    return {"data": data_label, "pooled": total, "per_experiment": per_exp,
            "causal_cost_points": None if zp is None or ca is None else 100 * (zp - ca),
            "rule": "window truth = majority label; windows with any unlabelled (-1) or "
                    "transition (7-12) sample are excluded from the agreement; 'pure' = all "
                    "128 samples one activity 1-6",
            "filtering": "zero_phase: sosfiltfilt over the whole recording (offline, as in "
                         "training); causal: sosfilt from the first sample (streaming; the "
                         "3-sample median filter looks one sample ahead)"}


# --- report --------------------------------------------------------------------------------

def targets(row: dict[str, Any], big: int) -> dict[str, Any]:
    """The deployment targets for the paper's model, measured against this run."""
    t = row["tflite"]
    dyn1 = t.get("dynamic_b1", {}).get("timing", {}).get("ms_per_window")
    losses = {k: v["accuracy_lost_points"] for k, v in t.items()
              if k.startswith(("dynamic", "int8")) and "accuracy_lost_points" in v}
    day = row.get("day", {}).get("zero_phase", {}).get("total_s")
    worst = max(losses.values()) if losses else None
    return {
        "dynamic_b1_ms_per_window": {"target": TARGETS["dynamic_b1_ms_per_window"], "value": dyn1,
                                     "met": None if dyn1 is None
                                     else dyn1 <= TARGETS["dynamic_b1_ms_per_window"]},
        "quantisation_loss_points": {"target": TARGETS["quantisation_loss_points"],
                                     "value": worst, "per_variant": losses,
                                     "met": None if worst is None
                                     else worst <= TARGETS["quantisation_loss_points"]},
        "day_seconds": {"target": TARGETS["day_seconds"], "value": day,
                        "met": None if day is None else day <= TARGETS["day_seconds"],
                        "variant": row.get("day", {}).get("zero_phase", {}).get("model_variant"),
                        "filtering": "zero-phase"},
    }


def print_table(rows: list[dict[str, Any]], big: int) -> None:
    print()
    print(f"{'model':20} {'params':>9} {'MFLOPs':>7} {'variant':16} {'bytes':>10} "
          f"{'ms/win b1':>9} {'win/s b' + str(big):>11} {'acc %':>6} {'lost pp':>7}")
    for r in rows:
        lead = f"{r['model']:20} {r['parameters']:9,d} {r['flops']['flops'] / 1e6:7.2f}"
        lines = []
        for method, t in r["keras"].items():
            lines.append(f"{method:16} {r['keras_file_bytes']:10,d} "
                         f"{t['1']['ms_per_window']:9.3f} {t[str(big)]['windows_per_s']:11,.0f} "
                         f"{r.get('keras_accuracy', float('nan')):6.2f}")
        for key, e in r["tflite"].items():
            if not e["ok"]:
                lines.append(f"{key:16} FAILED: {(e['error'] or '')[:90]}")
                continue
            t = e["timing"]
            col = (f"{t['ms_per_window']:9.3f} {'':>11}" if e["batch_size"] == 1
                   else f"{'':>9} {t['windows_per_s']:11,.0f}")
            lines.append(f"{key:16} {e['size_bytes']:10,d} {col} "
                         f"{e.get('accuracy', float('nan')):6.2f} "
                         f"{e.get('accuracy_lost_points', float('nan')):7.2f}")
        for i, line in enumerate(lines):
            print(f"{lead if i == 0 else ' ' * len(lead)} {line}")
    print("(ms/win b1: median latency of one window; win/s: throughput at the big batch; "
          "TFLite on 1 thread)")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import tensorflow as tf
    if args.tf_threads > 0:  # before TensorFlow runs any op
        tf.config.threading.set_intra_op_parallelism_threads(args.tf_threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    from har_utils import config
    from har_utils.io import write_json_atomic
    from har_utils.models import zoo_names
    from har_utils.provenance import environment

    if args.smoke:
        args.big_batch = min(args.big_batch, 16)
        args.repeats_single, args.repeats_big = min(args.repeats_single, 5), 2
        args.day_hours = min(args.day_hours, 0.05)
        names = args.models.split(",") if args.models else ["tiny_cnn"]
        out = args.out or config.BUILD_DIR / "smoke" / "deploy" / "benchmark.json"
    else:
        names = args.models.split(",") if args.models else zoo_names()
        out = args.out or config.results_dir() / "deploy" / "benchmark.json"
    export_dir = args.export_dir or (out.parent / "tflite" if args.smoke
                                     else config.BUILD_DIR / "deploy" / "tflite")
    t0 = time.perf_counter()
    d = load_data(args)
    print(f"deploy benchmark: {', '.join(names)}; data {d['stamp']['source_label']}; "
          f"{len(d['y_test'])} test windows; TFLite on 1 thread, TensorFlow on "
          f"{args.tf_threads or 'default'} thread(s); exports in {export_dir}", flush=True)
    rows, models = [], {}
    for name in names:
        print(f"{name}:", flush=True)
        row, model = bench_model(name, args, d, export_dir)
        rows.append(row)
        if name == PRIMARY or (args.smoke and not models):
            models[name] = model
        else:
            del model
    result: dict[str, Any] = {
        "benchmark": "deploy", "smoke": args.smoke, "models": rows, "big_batch": args.big_batch,
        "repeats": {"batch_1": args.repeats_single, f"batch_{args.big_batch}": args.repeats_big},
        "tf_threads": args.tf_threads or "default", "tflite_threads": 1,
        "cpu_count": os.cpu_count(), "data": d["stamp"], "targets": None, "streaming": None,
        "timing_method": "median of time.perf_counter over repeats after warm-up calls",
    }
    primary = next((r for r in rows if r["model"] == PRIMARY), rows[0] if args.smoke else None)
    if primary is not None and primary.get("trained"):
        result["targets"] = {"model": primary["model"], **targets(primary, args.big_batch)}
        result["streaming"] = {"model": primary["model"], "variant": "keras float32",
                               **streaming(args, models[primary["model"]])}
    result["seconds"] = round(time.perf_counter() - t0, 1)
    result["environment"] = environment()
    print_table(rows, args.big_batch)
    if result["targets"]:
        for k, v in result["targets"].items():
            if isinstance(v, dict):
                val = "n/a" if v["value"] is None else f"{v['value']:.3g}"
                print(f"target {k}: {val} (<= {v['target']}): "
                      f"{'met' if v['met'] else 'not met' if v['met'] is False else 'n/a'}")
    if result["streaming"]:
        s = result["streaming"]["pooled"]
        print("streaming agreement (scored windows): " + ", ".join(
            f"{m} {100 * v['agreement_scored']:.2f} % of {v['scored']}"
            for m, v in s.items() if v["agreement_scored"] is not None))
    write_json_atomic(out, result)
    print(f"wrote {out} ({result['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
