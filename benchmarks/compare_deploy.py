"""Benchmark check: does measuring models at once (``WORKERS=2``) change the deployment timings?

Compares two results of the deployment benchmark of the same commit and machine, one measured
one model after another (``WORKERS=1``) and one with models in worker processes at once, timing
by timing: the ratio of the medians (at once / one after another) of every Keras and TFLite
timing, batch 1 and the big batch, and the targets' values.

The rule, fixed before the two runs were compared: measuring at once is acceptable when the
median of the ratios lies within 0.95-1.05, at least 80 % of the ratios lie within 0.85-1.15,
and the two timed target values (dynamic-range batch-1 latency, one day of recording) each move
by at most 10 %. Prints the table and the verdict; writes
``results/benchmarks/deploy_workers.json``.

    python benchmarks/compare_deploy.py SERIAL.json PARALLEL.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from har_utils import config
from har_utils.io import write_json_atomic


def timings(result: dict) -> dict[tuple[str, str, str], float]:
    """(model, variant, batch) -> median ms per batch, for every timing of a result."""
    out = {}
    for row in result["models"]:
        for method, per_bs in row["keras"].items():
            for bs, t in per_bs.items():
                out[(row["model"], f"keras {method}", bs)] = t["median_ms_per_batch"]
        for key, e in row["tflite"].items():
            if e.get("timing"):
                out[(row["model"], f"tflite {key}", str(e["batch_size"]))] = \
                    e["timing"]["median_ms_per_batch"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("serial", type=Path)
    ap.add_argument("parallel", type=Path)
    args = ap.parse_args()
    a, b = (json.loads(p.read_text()) for p in (args.serial, args.parallel))
    ta, tb = timings(a), timings(b)
    rows = [{"model": k[0], "variant": k[1], "batch": k[2], "serial_ms": ta[k],
             "parallel_ms": tb[k], "ratio": tb[k] / ta[k]} for k in ta if k in tb]
    df = pd.DataFrame(rows)
    ratio = df["ratio"].to_numpy()
    targets = {}
    for name in ("dynamic_b1_ms_per_window", "day_seconds"):
        va, vb = a["targets"][name]["value"], b["targets"][name]["value"]
        targets[name] = {"serial": va, "parallel": vb, "ratio": vb / va}
    checks = {
        "median ratio within 0.95-1.05": bool(0.95 <= np.median(ratio) <= 1.05),
        "at least 80 % of ratios within 0.85-1.15":
            bool(np.mean((ratio >= 0.85) & (ratio <= 1.15)) >= 0.8),
        "targets move by at most 10 %": all(abs(t["ratio"] - 1) <= 0.10
                                            for t in targets.values()),
    }
    with pd.option_context("display.width", 200, "display.max_rows", 200):
        print(df.sort_values("ratio").round(3).to_string(index=False))
    print(f"timings compared: {len(df)}; median ratio {np.median(ratio):.3f}; "
          f"within 0.85-1.15: {100 * np.mean((ratio >= 0.85) & (ratio <= 1.15)):.0f} %")
    for name, t in targets.items():
        print(f"target {name}: serial {t['serial']:.4g}, parallel {t['parallel']:.4g} "
              f"(ratio {t['ratio']:.3f})")
    for check, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {check}")
    verdict = all(checks.values())
    print("verdict: " + ("measuring models at once keeps the timings" if verdict else
                         "measuring models at once changes the timings: keep WORKERS=1"))
    write_json_atomic(config.results_dir() / "benchmarks" / "deploy_workers.json", {
        "serial": {"file": config.shown(args.serial), "seconds": a["seconds"],
                   "workers": a.get("workers", 1), "commit": a["environment"]["git"]},
        "parallel": {"file": config.shown(args.parallel), "seconds": b["seconds"],
                     "workers": b.get("workers", 1), "commit": b["environment"]["git"]},
        "data": b["data"], "timings": rows, "targets": targets, "checks": checks,
        "accepted": verdict, "median_ratio": float(np.median(ratio))})


if __name__ == "__main__":
    main()
