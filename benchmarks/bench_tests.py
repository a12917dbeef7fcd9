"""Benchmark: `make test`, tier by tier, from a fresh clone, as CI runs it.

Clones the current commit into an empty temporary folder, links this checkout's ``.venv`` into it
(the environment's build is not timed; the clone's own packages come first on ``PYTHONPATH``)
and runs ``make <tier>`` for each tier that ``make test`` runs (``make test-tiers``), in order,
timing each. The clone starts with no ``data/`` and no ``build/``, as CI's does: the first tier
builds the data cache from the offline HAPT recordings. A tier that fails stops the benchmark.

Prints a table and writes ``benchmarks/tests.json`` in the results folder (``make bench-tests``
names the committed ``results/``) with the commit, the machine, the load average before each tier
(a busy machine inflates every figure), each tier's wall seconds and the total, against the
target of 600 s.

    python benchmarks/bench_tests.py [--keep] [--tiers test-python,...] [--commit REV]

``--commit`` times another commit (e.g. one before a change, for a before/after; a commit
without ``make test-tiers`` is timed as one ``make test``); send its results elsewhere with
``HAR_RESULTS_DIR``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from har_utils import config
from har_utils.io import write_json_atomic
from har_utils.provenance import environment

#: `make test` on a quiet 2-core machine, fresh clone, .venv already built (issue 34).
TARGET_SECONDS = 600


def tiers(root: Path) -> list[str]:
    """The tiers ``make test`` runs in the checkout ``root`` (``["test"]`` before there were)."""
    r = subprocess.run(["make", "--no-print-directory", "-s", "test-tiers"], cwd=root,
                       capture_output=True, text=True)
    return r.stdout.split() if r.returncode == 0 else ["test"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keep", action="store_true", help="keep the clone and the logs (printed)")
    ap.add_argument("--tiers", help="comma-separated tiers (default: all that make test runs)")
    ap.add_argument("--commit", default="HEAD", help="the commit to time (default: HEAD)")
    args = ap.parse_args()
    root = config.PROJECT_ROOT
    commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", args.commit],
                            capture_output=True, text=True, check=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True, check=True).stdout.strip()
    venv = root / ".venv"
    if not (venv / ".installed").exists():
        raise SystemExit("no built .venv: run `make venv` first (its build is not timed)")
    work = Path(tempfile.mkdtemp(prefix="har-tests-"))
    clone = work / "clone"
    subprocess.run(["git", "clone", "--quiet", str(root), str(clone)], check=True)
    subprocess.run(["git", "-C", str(clone), "checkout", "--quiet", commit], check=True)
    names = args.tiers.split(",") if args.tiers else tiers(clone)
    (clone / ".venv").symlink_to(venv)
    # The clone's files are newer than the environment's stamp: say it is built (it is, above).
    os.utime(venv / ".installed")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAR_") or k == "HAR_OFFLINE"}
    env.update(PYTHONPATH=str(clone))
    rows = []
    start = time.perf_counter()
    for tier in names:
        load = os.getloadavg()[0]
        log = work / f"{tier}.log"
        t0 = time.perf_counter()
        with open(log, "w") as f:
            r = subprocess.run(["make", "--no-print-directory", tier], cwd=clone, env=env,
                               stdout=f, stderr=subprocess.STDOUT)
        seconds = time.perf_counter() - t0
        if r.returncode:
            tail = log.read_text()[-3000:]
            raise SystemExit(f"make {tier} failed ({r.returncode}) after {seconds:.0f} s; "
                             f"log {log}:\n{tail}")
        rows.append({"tier": tier, "wall_seconds": round(seconds, 1),
                     "load_average_before": round(load, 2)})
        print(f"make {tier}: {seconds:.0f} s (load {load:.2f} before)", flush=True)
    total = time.perf_counter() - start
    print(f"all tiers: {total:.0f} s (target {TARGET_SECONDS} s)")
    if args.keep:
        print(f"kept: {work}")
    else:
        shutil.rmtree(work)
    out = write_json_atomic(config.results_dir() / "benchmarks" / "tests.json", {
        "what": "make test's tiers, each `make <tier>` in a fresh clone of the commit (no data/ "
                "or build/; .venv built beforehand and not timed), wall seconds",
        "script": "benchmarks/bench_tests.py", "commit": commit,
        "working_tree_clean": not dirty, "cpu_count": os.cpu_count(),
        "environment": environment(), "measured_utc": time.strftime("%Y-%m-%d", time.gmtime()),
        "all_tiers": not args.tiers, "tiers": rows, "total_seconds": round(total, 1),
        "target_seconds": TARGET_SECONDS})
    print(f"wrote {config.shown(out)}")


if __name__ == "__main__":
    main()
