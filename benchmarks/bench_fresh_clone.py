"""Benchmark: the README's commands timed as a new user meets them, from a fresh clone.

Clones the current commit into an empty temporary folder (with ``../shared`` beside it when
this checkout has one), then times each command there, one after another: ``make reproduce``
(the first build of ``.venv`` included), ``make deploy`` and, with ``--test``, ``make test``.
Prints a table and writes ``benchmarks/fresh_clone.json`` in the results folder with the
commit, the machine, the load average before each command (a busy machine inflates every
figure: run it on a quiet one) and each command's wall time and exit status.

    python benchmarks/bench_fresh_clone.py [--test] [--keep]
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


def timed(cmd: list[str], cwd: Path, log: Path) -> dict[str, object]:
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    with log.open("w") as out:
        rc = subprocess.run(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT).returncode
    return {"command": " ".join(cmd), "wall_seconds": round(time.perf_counter() - t0, 1),
            "exit_status": rc, "load_average_before": round(load, 2), "log": log.name}


def package_source() -> str:
    """Where ``pip`` takes the packages for ``.venv`` from on this machine: local wheel folders
    or indexes (``find-links``, ``file:`` indexes: no download) or the network, and how much its
    download cache holds. A new machine without either downloads about 1 GB first. The local
    places are counted, not named: the text goes into a committed results file and the README,
    which carry no machine's paths."""
    r = subprocess.run(["python3", "-m", "pip", "config", "list"], capture_output=True,
                       text=True)
    places = [os.environ.get("PIP_FIND_LINKS", "")]
    for line in r.stdout.splitlines():
        key, _, value = line.partition("=")
        if key.endswith(("find-links", "index-url")):
            places += value.strip("'\"").split()
    local = sorted({p for p in places if p and (p.startswith("file:") or Path(p).is_dir())})
    r = subprocess.run(["python3", "-m", "pip", "cache", "dir"], capture_output=True, text=True)
    cache = Path(r.stdout.strip()) if r.returncode == 0 and r.stdout.strip() else None
    size = sum(p.stat().st_size for p in cache.rglob("*") if p.is_file()) \
        if cache is not None and cache.is_dir() else 0
    where = (f"pip finds packages in local wheel folders ({len(local)} on this machine) before "
             "the network" if local else "packages from the network")
    return f"{where}; pip's cache {size / 1e6:.0f} MB"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--test", action="store_true", help="also time `make test`")
    ap.add_argument("--keep", action="store_true", help="keep the clone (its path is printed)")
    args = ap.parse_args()
    root = config.PROJECT_ROOT
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                            text=True, check=True).stdout.strip()
    tmp = Path(tempfile.mkdtemp(prefix="har-fresh-"))
    clone = tmp / "repo"
    subprocess.run(["git", "clone", "--quiet", str(root), str(clone)], check=True)
    if (root.parent / "shared").is_dir():
        shutil.copytree(root.parent / "shared", tmp / "shared", symlinks=True)
    packages = package_source()
    commands = [["make", "reproduce"], ["make", "deploy"]] + ([["make", "test"]] if args.test
                                                             else [])
    rows = []
    for cmd in commands:
        row = timed(cmd, clone, tmp / f"{cmd[-1]}.log")
        rows.append(row)
        print(f"{row['command']:<16} {row['wall_seconds']:>8.1f} s  exit {row['exit_status']}  "
              f"(load before {row['load_average_before']})", flush=True)
        if row["exit_status"]:
            break
    out = config.results_dir() / "benchmarks" / "fresh_clone.json"
    write_json_atomic(out, {"commit": commit, "cpu_count": os.cpu_count(), "commands": rows,
                            "packages_from": packages,
                            "note": "wall time from a fresh clone, one command after another; "
                                    "`make reproduce` includes building .venv",
                            "environment": environment()})
    print(f"wrote {config.shown(out)}" + (f"; clone kept at {clone}" if args.keep else ""))
    if not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
