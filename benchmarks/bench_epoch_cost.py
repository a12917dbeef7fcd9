"""Benchmark: seconds per training epoch of each model of the zoo, on the real training windows.

For each model: build it with its default hyper-parameters, compile it as its
``train_defaults`` say (categorical cross-entropy; Adam, Adam with AMSGrad or SGD at the
model's learning rate; its batch size), and fit it for ``--epochs`` epochs on the fit windows
(the training subjects minus the validation subjects) with validation on the rest, timing
each epoch. The first epoch includes graph building, so it is reported separately; the cost
per epoch is the median of the later epochs.

Prints a table and writes ``zoo/cost_table.json`` in the results folder (with the windows
used, the data stamp, the CPU count and the environment). Run with ``make zoo-cost`` or e.g.
``python benchmarks/bench_epoch_cost.py --models cnn,lstm --epochs 3``; ``--max-windows 600``
gives a quick check (it subsamples the fit windows, and the validation windows in the same
proportion).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np

from har_utils import config, data, models, training
from har_utils.io import write_json_atomic
from har_utils.provenance import environment
from har_utils.training import set_seed

from har_studies import zoo_models  # noqa: F401  (registers the zoo's models)

DEFAULT_MODELS: tuple[str, ...] = ("cnn_lstm_paper", "cnn_lstm_sequential", "cnn", "lstm",
                                   "deepconvlstm", "isplinception")


class EpochTimer(keras.callbacks.Callback):
    """Wall-clock seconds of every epoch (training and validation), in ``self.seconds``."""

    def __init__(self) -> None:
        super().__init__()
        self.seconds: list[float] = []
        self._t0 = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._t0 = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.seconds.append(time.perf_counter() - self._t0)


def subsample(X: np.ndarray, y: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` windows drawn without replacement (seeded, kept in order); all if ``n >= len``."""
    if n >= len(y):
        return X, y
    idx = np.sort(np.random.default_rng(seed).choice(len(y), n, replace=False))
    return X[idx], y[idx]


def time_model(name: str, X: np.ndarray, Y: np.ndarray, Xv: np.ndarray, Yv: np.ndarray,
               epochs: int, seed: int) -> dict[str, Any]:
    """Build, compile and fit ``name`` for ``epochs`` epochs; the per-epoch wall times."""
    td = {**models.PAPER_TRAIN_DEFAULTS, **models.train_defaults(name)}
    keras.backend.clear_session()
    set_seed(seed)
    model = models.build_model(name, input_shape=X.shape[1:], n_classes=Y.shape[1])
    kind, settings = training.KERAS_OPTIMIZERS[td["optimizer"]]
    model.compile(optimizer=kind(learning_rate=td["learning_rate"], **settings),
                  loss="categorical_crossentropy", metrics=["accuracy"])
    timer = EpochTimer()
    model.fit(X, Y, validation_data=(Xv, Yv), epochs=epochs, batch_size=td["batch_size"],
              shuffle=True, verbose=0, callbacks=[timer])
    later = timer.seconds[1:]
    return {"model": name, "parameters": model.count_params(),
            "batch_size": td["batch_size"], "optimizer": td["optimizer"],
            "learning_rate": td["learning_rate"], "max_epochs": td.get("max_epochs"),
            "epoch_seconds": [round(s, 3) for s in timer.seconds],
            "first_epoch_s": round(timer.seconds[0], 3),
            "s_per_epoch": round(statistics.median(later), 3) if later else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=",".join(DEFAULT_MODELS),
                    help="comma-separated model names (default: the whole zoo)")
    ap.add_argument("--epochs", type=int, default=2,
                    help="epochs per model (>= 2 for a cost per epoch after the first)")
    ap.add_argument("--max-windows", type=int, default=None,
                    help="subsample the fit windows to at most N (default: all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None,
                    help="JSON path (default: <results>/zoo/cost_table.json)")
    args = ap.parse_args()
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    for n in names:
        models.describe(n)  # unknown names fail here, before the data loads
    if args.epochs < 1:
        raise SystemExit("--epochs must be >= 1")
    out = args.out or config.results_dir() / "zoo" / "cost_table.json"

    ds = data.load_dataset("hapt")
    fit, val = data.split_validation(ds)
    X, y = np.asarray(fit.X, dtype=np.float32), fit.y
    Xv, yv = np.asarray(val.X, dtype=np.float32), val.y
    n_fit_all, n_val_all = len(y), len(yv)
    if args.max_windows is not None:
        if args.max_windows < 1:
            raise SystemExit("--max-windows must be >= 1")
        X, y = subsample(X, y, args.max_windows, args.seed)
        n_val = max(1, round(n_val_all * len(y) / n_fit_all))
        Xv, yv = subsample(Xv, yv, n_val, args.seed + 1)
    Y, Yv = (keras.utils.to_categorical(np.searchsorted(training.ACTIVITY_IDS, v), 6)
             for v in (y, yv))
    print(f"{len(y)} fit windows (of {n_fit_all}), {len(yv)} validation windows "
          f"(of {n_val_all}), {args.epochs} epochs, {os.cpu_count()} CPUs")

    rows = []
    for name in names:
        row = time_model(name, X, Y, Xv, Yv, args.epochs, args.seed)
        rows.append(row)
        print(f"  {name}: epochs {row['epoch_seconds']} s", flush=True)

    print(f"\n{'model':22} {'parameters':>11} {'first epoch s':>14} {'s/epoch':>8} "
          f"{'batch':>6}")
    for r in rows:
        per = "-" if r["s_per_epoch"] is None else f"{r['s_per_epoch']:.2f}"
        print(f"{r['model']:22} {r['parameters']:11,d} {r['first_epoch_s']:14.2f} {per:>8} "
              f"{r['batch_size']:6d}")
    write_json_atomic(out, {
        "benchmark": "epoch_cost", "epochs": args.epochs, "seed": args.seed,
        "s_per_epoch_is": "median wall time of the epochs after the first (training and "
                          "validation); first_epoch_s includes graph building",
        "cpu_count": os.cpu_count(),
        "windows": {"fit": len(y), "validation": len(yv), "fit_available": n_fit_all,
                    "validation_available": n_val_all, "max_windows": args.max_windows},
        "data": data.stamp(ds), "models": rows, "environment": environment()})
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
