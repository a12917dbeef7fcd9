"""Run the notebooks with papermill, one profile at a time, skipping what is up to date.

``python -m har_utils.pipeline run [--profile NAME] [--force] NOTEBOOK...`` executes each
``notebooks/NAME.ipynb`` into ``build/<profile>/NAME.ipynb`` (the source notebooks are never
overwritten), with the parameters of ``params/<profile>.yml``: its ``common`` section plus the
notebook's own section. Staleness is decided by a hash of the notebook's code cells, its
parameters, the ``har_utils`` sources and the lock file, never by file times (a fresh clone's
times are arbitrary). Each run's wall time and provenance go to ``build/<profile>/manifest.json``.
The ``paper`` profile writes its results and figures to the committed ``results/`` and
``figures/``; every other profile to ``build/<profile>/results`` and ``build/<profile>/figures``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from . import config
from .io import atomic_write, write_json_atomic
from .provenance import environment


def load_profile(profile: str) -> dict[str, Any]:
    """The parsed ``params/<profile>.yml``."""
    path = config.PARAMS_DIR / f"{profile}.yml"
    if not path.is_file():
        known = sorted(p.stem for p in config.PARAMS_DIR.glob("*.yml"))
        raise SystemExit(f"{path}: no such profile. Fix: use one of {known}")
    return yaml.safe_load(path.read_text()) or {}


def notebook_params(profile: str, notebook: str) -> dict[str, Any]:
    """Parameters for one notebook: the profile's ``common`` section, then the notebook's."""
    prof = load_profile(profile)
    params = {**(prof.get("common") or {}), **(prof.get(notebook) or {})}
    bad = {k: v for k, v in params.items() if not isinstance(v, (int, float, str, bool))}
    if bad:
        raise SystemExit(f"params/{profile}.yml: parameters must be scalars, not {bad}")
    return params


def output_dirs(profile: str) -> dict[str, Path]:
    """Where a profile's executed notebooks, results and figures go."""
    build = config.BUILD_DIR / profile
    if profile == config.PUBLISHED_PROFILE:
        return {"build": build, "results": config.PROJECT_ROOT / "results",
                "figures": config.PROJECT_ROOT / "figures"}
    return {"build": build, "results": build / "results", "figures": build / "figures"}


def _code_of(notebook: Path) -> str:
    nb = json.loads(notebook.read_text())
    return json.dumps([(c["cell_type"], "".join(c["source"])) for c in nb["cells"]])


def input_hash(notebook: Path, params: dict[str, Any]) -> str:
    """Hash of everything that decides a notebook's outputs (besides the data)."""
    h = hashlib.sha256()
    h.update(_code_of(notebook).encode())
    h.update(json.dumps(params, sort_keys=True).encode())
    for f in sorted(config.PACKAGE_DIR.rglob("*")):
        if f.is_file() and f.suffix in (".py", ".csv", ".json"):
            h.update(str(f.relative_to(config.PACKAGE_DIR)).encode())
            h.update(f.read_bytes())
    lock = config.PROJECT_ROOT / "requirements.lock"
    if lock.exists():
        h.update(lock.read_bytes())
    return h.hexdigest()


def run_notebook(name: str, profile: str, *, force: bool = False, timeout: int = 3600) -> float:
    """Execute one notebook unless its outputs are current; return the wall time in seconds."""
    import papermill as pm

    src = config.NOTEBOOKS_DIR / f"{name}.ipynb"
    if not src.is_file():
        raise SystemExit(f"{src}: no such notebook")
    dirs = output_dirs(profile)
    params = notebook_params(profile, name)
    out = dirs["build"] / f"{name}.ipynb"
    stamp = dirs["build"] / f".{name}.hash"
    digest = input_hash(src, params)
    if not force and out.exists() and stamp.exists() and stamp.read_text().strip() == digest:
        print(f"[{profile}] {name}: up to date, skipped", flush=True)
        print_summary(name, profile)
        return 0.0
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    env = {"HAR_RESULTS_DIR": str(dirs["results"]), "HAR_FIGURES_DIR": str(dirs["figures"]),
           "HAR_PROFILE": profile, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONHASHSEED": "0"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # inherited by the kernel papermill starts
    running = dirs["build"] / f"{name}.running.ipynb"
    print(f"[{profile}] {name}: running -> {out.relative_to(config.PROJECT_ROOT)}", flush=True)
    t0 = time.perf_counter()
    try:
        pm.execute_notebook(src, running, parameters=params, kernel_name="python3",
                            cwd=str(config.NOTEBOOKS_DIR), execution_timeout=timeout,
                            progress_bar=False, log_output=False, report_mode=False)
    except BaseException:
        failed = dirs["build"] / f"{name}.failed.ipynb"
        if running.exists():
            os.replace(running, failed)
            print(f"[{profile}] {name}: FAILED; executed copy kept at {failed}", file=sys.stderr)
        raise
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    wall = time.perf_counter() - t0
    os.replace(running, out)
    with atomic_write(stamp, "w") as f:
        f.write(digest + "\n")
    _record(profile, name, digest, params, wall)
    print(f"[{profile}] {name}: done in {wall:.1f} s", flush=True)
    print_summary(name, profile)
    return wall


def print_summary(name: str, profile: str) -> None:
    """Print the headline results a notebook wrote, if it has a console summary."""
    from .report import CONSOLE

    if name in CONSOLE:
        text = CONSOLE[name](output_dirs(profile)["results"])
        print("\n".join(f"[{profile}] {name}: {line}" for line in text.splitlines()), flush=True)


def _record(profile: str, name: str, digest: str, params: dict[str, Any], wall: float) -> None:
    path = output_dirs(profile)["build"] / "manifest.json"
    manifest = json.loads(path.read_text()) if path.exists() else {"profile": profile, "notebooks": {}}
    manifest["notebooks"][name] = {"input_hash": digest, "parameters": params,
                                   "wall_seconds": round(wall, 2), "environment": environment()}
    write_json_atomic(path, manifest)


def main(argv: list[str] | None = None) -> int:
    """Command line: ``run [--profile P] [--force] [--timeout S] NOTEBOOK...``."""
    ap = argparse.ArgumentParser(prog="python -m har_utils.pipeline", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="execute notebooks with papermill")
    r.add_argument("notebooks", nargs="+")
    r.add_argument("--profile", default=os.environ.get("PROFILE", "paper"))
    r.add_argument("--force", action="store_true", help="run even if up to date")
    r.add_argument("--timeout", type=int, default=3600, help="seconds per cell")
    args = ap.parse_args(argv)
    total = 0.0
    for name in args.notebooks:
        total += run_notebook(name, args.profile, force=args.force, timeout=args.timeout)
    print(f"[{args.profile}] all done: {len(args.notebooks)} notebook(s), {total:.1f} s of execution")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
