"""Benchmark: the project's training loop (``har_studies.experiments.fitting.train``) against a bare ``model.fit``.

Both train the same model on the same arrays (real windows, ``data.load_dataset("hapt")`` and
``data.split_validation``, subsampled to ``--max-windows``) for the same epochs and batch size,
with validation data. The loop runs with ``patience=0`` (no early stopping), so both always
run every epoch. The bare run is ``build_model`` + ``compile`` (same optimizer, loss and
accuracy metric) + ``model.fit(verbose=0)`` without callbacks, on arrays converted beforehand;
the loop's time includes its own conversion, seeding, building and epoch log. After one
warm-up of each, runs alternate (loop, bare, loop, bare, ...) in one process; the medians and
their ratio loop/bare (target at most 1.05) are printed and written, with provenance, to
``benchmarks/training_loop.json`` in the results folder.
Run: ``python benchmarks/bench_training_loop.py --max-windows 3000 --epochs 3 --repeats 3``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np

from har_studies.experiments import fitting
from har_utils import config, data, training
from har_utils.data import Split
from har_utils.io import write_json_atomic
from har_utils.models import build_model
from har_utils.provenance import environment

import keras  # noqa: E402  (after har_utils, which sets the Keras backend)

TARGET_RATIO = 1.05


def subsample(fit: Split, val: Split, max_windows: int, seed: int = 0) -> tuple[Split, Split]:
    """At most ``max_windows`` windows in all, drawn (seeded) keeping the fit:val proportion."""
    total = len(fit.y) + len(val.y)
    if total <= max_windows:
        return fit, val
    rng = np.random.default_rng(seed)

    def pick(s: Split, n: int) -> Split:
        idx = np.sort(rng.choice(len(s.y), max(1, n), replace=False))
        return Split(*(a[idx] for a in s))
    n_fit = round(max_windows * len(fit.y) / total)
    return pick(fit, n_fit), pick(val, max_windows - n_fit)


def run_loop(cfg: training.TrainConfig, fit: Split, val: Split) -> float:
    """Wall seconds of ``fitting.train`` (seed, convert, build, compile, fit, log)."""
    t0 = time.perf_counter()
    result = fitting.train(cfg, fit, val, out=lambda _line: None)
    seconds = time.perf_counter() - t0
    assert result.epochs_run == cfg.epochs, "the loop stopped early"
    return seconds


def run_bare(cfg: training.TrainConfig, X: np.ndarray, Y: np.ndarray,
             val_xy: tuple[np.ndarray, np.ndarray]) -> float:
    """Wall seconds of build + compile + ``model.fit`` with nothing else."""
    training.set_seed(cfg.seed)  # the same initial weights and shuffling as the loop
    t0 = time.perf_counter()
    model = build_model(cfg.model, input_shape=X.shape[1:], n_classes=Y.shape[1], **cfg.kwargs)
    model.compile(optimizer=cfg.keras_optimizer(len(X)), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(X, Y, validation_data=val_xy, epochs=cfg.epochs, batch_size=cfg.batch_size,
              verbose=0)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--max-windows", type=int, default=3000)
    ap.add_argument("--model", default="cnn_lstm_paper")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=None, help="JSON path (default: results folder)")
    args = ap.parse_args()

    ds = data.load_dataset("hapt", verbose=False)
    fit, val = subsample(*data.split_validation(ds), args.max_windows)
    cfg = training.TrainConfig(model=args.model, epochs=args.epochs, batch_size=args.batch_size,
                               patience=0, seed=0)
    def one_hot(y: np.ndarray) -> np.ndarray:
        return keras.utils.to_categorical(np.searchsorted(training.ACTIVITY_IDS, y), 6)

    X, Y = np.asarray(fit.X, dtype=np.float32), one_hot(fit.y)
    val_xy = (np.asarray(val.X, dtype=np.float32), one_hot(val.y))

    print(f"{args.model}: {len(fit.y)} fit + {len(val.y)} validation windows, "
          f"{args.epochs} epochs, batch {args.batch_size}, {os.cpu_count()} CPUs")
    warm = {"loop": run_loop(cfg, fit, val), "bare": run_bare(cfg, X, Y, val_xy)}
    loop, bare = [], []
    for _ in range(args.repeats):
        loop.append(run_loop(cfg, fit, val))
        bare.append(run_bare(cfg, X, Y, val_xy))
    med_loop, med_bare = statistics.median(loop), statistics.median(bare)
    ratio = med_loop / med_bare

    print(f"{'run':6} {'median s':>9} {'min s':>7} {'max s':>7}  all")
    for name, ts in (("loop", loop), ("bare", bare)):
        print(f"{name:6} {statistics.median(ts):9.2f} {min(ts):7.2f} {max(ts):7.2f}  "
              + " ".join(f"{t:.2f}" for t in ts))
    verdict = "ok" if ratio <= TARGET_RATIO else "above target"
    print(f"ratio loop/bare {ratio:.3f} (target <= {TARGET_RATIO}: {verdict}; "
          f"median of {args.repeats}; warm-up loop {warm['loop']:.2f} s, "
          f"bare {warm['bare']:.2f} s)")

    out = args.out or config.results_dir() / "benchmarks" / "training_loop.json"
    write_json_atomic(out, {
        "benchmark": "training_loop", "model": args.model, "epochs": args.epochs,
        "batch_size": args.batch_size, "repeats": args.repeats,
        "max_windows": args.max_windows, "fit_windows": len(fit.y),
        "val_windows": len(val.y), "config": cfg.as_dict(),
        "bare": "build_model + compile(same optimizer, categorical_crossentropy, accuracy) + "
                "fit(verbose=0, no callbacks)",
        "warmup_s": warm, "loop_s": loop, "bare_s": bare, "loop_median_s": med_loop,
        "bare_median_s": med_bare, "ratio_loop_over_bare": ratio,
        "target_ratio": TARGET_RATIO, "within_target": ratio <= TARGET_RATIO,
        "cpu_count": os.cpu_count(), "data": data.stamp(ds), "environment": environment()})
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
