"""Benchmark: how long the data layer takes, cold (nothing cached) and cached.

Prints a table and writes ``benchmarks/data_load.json`` in the results folder, with provenance.
Run with ``make bench`` (or ``python benchmarks/bench_data.py --repeats 3``). The source is
the offline HAPT rebuild unless ``--source uci`` is given and the official archive is present.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from har_utils import config, data
from har_utils.io import write_json_atomic
from har_utils.provenance import environment


def timed_load(source: str) -> tuple[float, int]:
    t0 = time.perf_counter()
    ds = data.load_dataset(source, verbose=False)
    return time.perf_counter() - t0, len(ds.train.y) + len(ds.test.y)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--source", default="hapt", choices=["hapt", "uci"])
    ap.add_argument("--out", type=Path, default=None, help="JSON path (default: results folder)")
    args = ap.parse_args()
    cold, cached = [], []
    results_dir = config.results_dir()  # resolve before HAR_DATA_DIR changes
    outer = os.environ.get("HAR_DATA_DIR")
    if args.source == "uci":  # keep using the archive where it is while the cache moves
        from har_utils.data.uci import find_local_zip
        archive = find_local_zip()
        if archive is None:
            raise SystemExit(f"no official archive in {config.raw_dir()} or ${config.UCI_ZIP_ENV}")
        os.environ[config.UCI_ZIP_ENV] = str(archive)
    try:
        for _ in range(args.repeats):
            with tempfile.TemporaryDirectory(prefix="har-bench-") as tmp:
                os.environ["HAR_DATA_DIR"] = tmp  # an empty cache: the cold path
                t, n = timed_load(args.source)
                cold.append(t)
                cached.append(timed_load(args.source)[0])
    finally:
        if outer is None:
            os.environ.pop("HAR_DATA_DIR", None)
        else:
            os.environ["HAR_DATA_DIR"] = outer
    row = {"cold_s": cold, "cached_s": cached, "cold_median_s": statistics.median(cold),
           "cached_median_s": statistics.median(cached),
           "speedup": statistics.median(cold) / statistics.median(cached), "windows": n}
    print(f"{'source':8} {'windows':>8} {'cold s':>8} {'cached s':>9} {'speed-up':>9}")
    print(f"{args.source:8} {n:8d} {row['cold_median_s']:8.2f} {row['cached_median_s']:9.3f} "
          f"{row['speedup']:8.1f}x   (median of {args.repeats})")
    out = args.out or results_dir / "benchmarks" / "data_load.json"
    write_json_atomic(out, {"benchmark": "data_load", "source": args.source,
                            "source_label": data.SOURCE_LABELS[args.source],
                            "repeats": args.repeats, "cpu_count": os.cpu_count(), **row,
                            "environment": environment()})
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
