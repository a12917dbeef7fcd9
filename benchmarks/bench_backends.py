"""Benchmark: seconds per training epoch of every zoo model on Keras's JAX and TensorFlow backends.

Each (model, backend) runs in a fresh Python process with ``KERAS_BACKEND`` set and one core
(``har_utils.threads.configure_threads(1)``: JAX's CPU affinity, TensorFlow's intra-op pool
with op determinism on, as the project trained before JAX), through the project's own
``har_studies.experiments.fitting.train`` on all 7,352 training windows of the HAPT rebuild (no validation), for
``--epochs`` epochs. The first epoch includes compilation (JAX: tracing and XLA compilation),
so it is reported apart; the cost per epoch is the median of the later ones. Two processes run
at once (``--parallel``), one per core of the 2-core machine, as the experiment runner's
workers do.

Prints a table and writes ``results/benchmarks/backends.json`` (the data stamp, the
environment, and per model and backend the epoch seconds). ``make bench-backends``; or
``python benchmarks/bench_backends.py --models cnn,lstm --epochs 2``. Run it on a quiet
machine: a training run beside it changes the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

BACKENDS = ("jax", "tensorflow")


def one(model: str, epochs: int) -> dict[str, Any]:
    """Train ``model`` here (backend from ``KERAS_BACKEND``) and return its epoch seconds."""
    from har_utils import backend, data, training
    from har_utils.models import train_defaults
    from har_utils.threads import configure_threads

    from har_studies import zoo_models  # noqa: F401  (registers the zoo's models)
    from har_studies.experiments.fitting import train

    threads = configure_threads(1)
    ds = data.load_dataset("hapt")
    td = train_defaults(model)
    cfg = training.TrainConfig(model=model, epochs=epochs, patience=0, seed=0,
                               batch_size=td.get("batch_size", 32),
                               optimizer=td.get("optimizer", "adam"),
                               learning_rate=td.get("learning_rate", 1e-3))
    res = train(cfg, ds.train, None, out=lambda _: None)
    return {"model": model, **backend.describe(), "threads": threads,
            "windows": len(ds.train.y), "batch_size": cfg.batch_size,
            "epoch_seconds": [round(s, 3) for s in res.epoch_seconds],
            "data": data.stamp(ds)}


def spawn(model: str, name: str, epochs: int) -> dict[str, Any]:
    """:func:`one` in a fresh process on backend ``name``."""
    env = {**os.environ, "KERAS_BACKEND": name, "TF_CPP_MIN_LOG_LEVEL": "3"}
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, __file__, "--one", model, "--epochs", str(epochs)],
                       env=env, capture_output=True, text=True)
    if r.returncode != 0:
        return {"model": model, "backend": name, "error": r.stderr[-2000:]}
    out = json.loads(r.stdout.strip().splitlines()[-1])
    out["process_seconds"] = round(time.perf_counter() - t0, 1)
    return out


def main() -> None:
    from har_utils import config
    from har_studies.experiments.zoo import ZOO
    from har_studies.experiments.runner import CLASSICAL
    from har_utils.io import write_json_atomic
    from har_utils.provenance import environment

    keras_models = [m for m in ZOO if m not in CLASSICAL]
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default=",".join(keras_models))
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--parallel", type=int, default=2)
    p.add_argument("--one", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.epochs)))
        return
    jobs = [(m, b) for m in args.models.split(",") for b in BACKENDS]
    # the slowest first, so the two lanes finish together
    order = {m: i for i, m in enumerate(("isplinception", "deepconvlstm", "cnn_lstm_sequential",
                                         "lstm", "cnn_lstm_paper", "cnn"))}
    jobs.sort(key=lambda j: (order.get(j[0], 99), j[1]))
    t0 = time.perf_counter()
    with ThreadPoolExecutor(args.parallel) as pool:
        rows = list(pool.map(lambda j: spawn(j[0], j[1], args.epochs), jobs))
    table = []
    for m in args.models.split(","):
        by = {r["backend"]: r for r in rows if r["model"] == m}
        line: dict[str, Any] = {"model": m}
        for b in BACKENDS:
            r = by.get(b, {})
            s = r.get("epoch_seconds") or []
            line[f"{b} s/epoch"] = statistics.median(s[1:]) if len(s) > 1 else None
            line[f"{b} first epoch s"] = s[0] if s else None
            line[f"{b} error"] = r.get("error")
        j, t = line["jax s/epoch"], line["tensorflow s/epoch"]
        line["speed-up"] = round(t / j, 2) if j and t else None
        line["faster"] = None if line["speed-up"] is None else (
            "jax" if line["speed-up"] > 1 else "tensorflow")
        table.append(line)
    for line in table:
        print(f"{line['model']:<22} jax {line['jax s/epoch']!s:>8} s  (first "
              f"{line['jax first epoch s']!s:>7} s)   tensorflow {line['tensorflow s/epoch']!s:>8} "
              f"s  (first {line['tensorflow first epoch s']!s:>7} s)   speed-up "
              f"{line['speed-up']}x")
    data_stamp = next((r["data"] for r in rows if "data" in r), None)
    doc = {"benchmark": "backends", "data": data_stamp, "epochs": args.epochs,
           "parallel_processes": args.parallel, "cpu_count": os.cpu_count(),
           "wall_seconds": round(time.perf_counter() - t0, 1), "table": table,
           "runs": [{k: v for k, v in r.items() if k != "data"} for r in rows],
           "environment": environment()}
    path = write_json_atomic(config.PROJECT_ROOT / "results" / "benchmarks" / "backends.json", doc)
    print(f"wrote {config.shown(path)}")


if __name__ == "__main__":
    main()
