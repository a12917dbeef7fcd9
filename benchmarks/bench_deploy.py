"""Benchmark: deployment readiness of the zoo models (latency, size, TFLite, energy, one day).

The command line of :mod:`har_studies.deploy.benchmark` (notebook 08 runs the same code in the
published run).

For each model (default: every zoo model; a trained one where ``<model-dir>/<name>.keras``
exists, otherwise an untrained build, good for latency, size and FLOPs but not accuracy):

- parameters, ``.keras`` file size, FLOPs per window (analytic, with TensorFlow's profiler as
  a cross-check) and an energy *estimate* from them (constants in ``har_studies.deploy.flops``);
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
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


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
    ap.add_argument("--workers", type=int, default=1,
                    help="models measured at once, each in its own process (default 1)")
    ap.add_argument("--day-hours", type=float, default=24.0)
    ap.add_argument("--day-models", default="primary", choices=["primary", "all", "none"],
                    help="which models get the one-day timing (default: cnn_lstm_paper)")
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
                    help="where the .tflite files go (default: build/deploy/tflite, or beside "
                         "--out with --smoke)")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from har_utils import config
    from har_studies.deploy import benchmark, tables
    from har_utils.io import write_json_atomic

    s = benchmark.BenchSettings(
        models=tuple(args.models.split(",")) if args.models else (), model_dir=args.model_dir,
        big_batch=args.big_batch, repeats_single=args.repeats_single,
        repeats_big=args.repeats_big, tf_threads=args.tf_threads, workers=args.workers,
        day_hours=args.day_hours, day_models=args.day_models, int8=not args.no_int8,
        watts_per_core=args.watts_per_core, synthetic=args.smoke)
    if args.smoke:
        s.big_batch, s.repeats_single, s.repeats_big = min(args.big_batch, 16), 5, 2
        s.warmup_single, s.warmup_big = 2, 1
        s.day_hours = min(args.day_hours, 0.05)
        out = args.out or config.BUILD_DIR / "smoke" / "deploy" / "benchmark.json"
    else:
        out = args.out or config.results_dir() / "deploy" / "benchmark.json"
    s.export_dir = args.export_dir or (out.parent / "tflite" if args.smoke
                                       else config.BUILD_DIR / "deploy" / "tflite")
    ds = None
    if not args.smoke:
        from har_utils import data
        ds = data.load_dataset(args.source, verbose=True)
    result, _ = benchmark.run(s, ds, log=lambda line: print(line, flush=True))
    import pandas as pd
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(tables.variants_table(result).round(3).to_string(index=False))
        print("(ms_per_window_b1: median latency of one window; windows_per_s: throughput at "
              "the big batch; TFLite on 1 thread)")
        if result["targets"]:
            print(tables.targets_table(result).to_string(index=False))
        print("where the time went (seconds per model and stage, largest first):")
        print(tables.profile_table(result).head(15).round(1).to_string(index=False))
    if result["streaming"]:
        st = result["streaming"]["pooled"]
        print("streaming agreement (scored windows): " + ", ".join(
            f"{m} {100 * v['agreement_scored']:.2f} % of {v['scored']}"
            for m, v in st.items() if v["agreement_scored"] is not None))
    write_json_atomic(out, result)
    print(f"wrote {out} ({result['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
