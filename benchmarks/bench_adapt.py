"""Benchmark: docs/adapt.md's three adaptations, each timed in a fresh clone.

For each adaptation: clone the current commit into an empty temporary folder, then do what the
page says there and time it, with the data already built (``HAR_DATA_DIR``: this checkout's
``data/``, built on first use) and this checkout's ``.venv`` (linked into the clone, the clone's
own packages first on ``PYTHONPATH``). The commands of adaptations 2 and 3 are read from the
page's ``bash`` blocks and run as written; adaptation 1 is an edit in JupyterLab, so its cell (the
page's ``python`` block) is added to notebook 03 with nbformat, the parameters the page names are
set, and 03, 04 and 05 run with ``jupyter nbconvert --execute --inplace`` (a kernel as JupyterLab
starts it, saving the outputs as JupyterLab would). Afterwards ``git status`` in the clone must
list nothing but those notebooks: no result or figure of the clone changed.

Prints a table and writes ``benchmarks/adapt.json`` in the results folder (``make bench-adapt``
names the committed ``results/``) with the commit, the machine, the load average before each
adaptation (a busy machine inflates every figure) and each one's wall seconds.

    python benchmarks/bench_adapt.py [--keep]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import nbformat

from har_utils import config
from har_utils.io import write_json_atomic
from har_utils.provenance import environment

PAGE = config.PROJECT_ROOT / "docs" / "adapt.md"
#: The page's sections, in order: heading prefix and the name the results file gives each.
ADAPTATIONS = {
    "## 1.": "1. another model, defined in a cell of notebook 03 (03, 04 for 4 epochs, 05)",
    "## 2.": "2. another epoch count (a profile: 03, 04 for 10 epochs, 05)",
    "## 3.": "3. one sensor only (a profile: 03 on total_acc, 04 for 4 epochs, 05)",
}
#: Adaptation 1's parameter edits, as the page gives them.
EDITS = {"03_model": {'MODEL = "cnn_lstm_paper"': 'MODEL = "my_gru"'},
         "04_training": {"EPOCHS = 73": "EPOCHS = 4"},
         "05_evaluation": {'MODEL = "cnn_lstm_paper"': 'MODEL = "my_gru"'}}


def section(text: str, heading: str) -> str:
    start = text.index(heading)
    end = text.find("\n## ", start + len(heading))
    return text[start:] if end < 0 else text[start:end]


def code_block(text: str, language: str) -> str:
    [block] = re.findall(rf"```{language}\n(.*?)```", text, re.S)
    return block


def model_cell_edit(clone: Path, cell: str) -> list[str]:
    """Adaptation 1's JupyterLab edit in the clone: the new cell after the ``cnn_lstm_k7``
    example, and the parameters the page names. Returns the commands that run the notebooks."""
    for name, replace in EDITS.items():
        path = clone / "notebooks" / f"{name}.ipynb"
        nb = nbformat.read(path, as_version=4)
        for old, new in replace.items():
            [c] = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
            assert old in c.source, f"{old!r} is not in {name}'s parameters"
            c.source = c.source.replace(old, new)
        if name == "03_model":
            [k7] = [i for i, c in enumerate(nb.cells) if '@register("cnn_lstm_k7"' in c.source]
            nb.cells.insert(k7 + 1, nbformat.v4.new_code_cell(cell.strip()))
        nbformat.write(nb, path)
    return [f".venv/bin/jupyter nbconvert --to notebook --execute --inplace "
            f"--ExecutePreprocessor.kernel_name=python3 --ExecutePreprocessor.timeout=1800 "
            f"notebooks/{name}.ipynb" for name in EDITS]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keep", action="store_true", help="keep the clones (printed)")
    args = ap.parse_args()
    root = config.PROJECT_ROOT
    commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True, check=True).stdout.strip()
    page = PAGE.read_text()
    venv = root / ".venv"
    if not (venv / "bin" / "har").exists():
        raise SystemExit("no .venv with the har command: run `make venv` first")
    from har_utils import data

    ds = data.load_dataset("auto", verbose=False)  # built once, before any clock starts
    rows = []
    for heading, label in ADAPTATIONS.items():
        text = section(page, heading)
        work = Path(tempfile.mkdtemp(prefix="har-adapt-"))
        clone = work / "clone"
        subprocess.run(["git", "clone", "--quiet", str(root), str(clone)], check=True)
        (clone / ".venv").symlink_to(venv)
        env = {k: v for k, v in os.environ.items()
               if k not in ("HAR_RESULTS_DIR", "HAR_FIGURES_DIR", "HAR_PROFILE")}
        env.update(PYTHONPATH=str(clone), HAR_DATA_DIR=str(config.data_dir()), HAR_OFFLINE="1")
        if heading == "## 1.":
            commands = model_cell_edit(clone, code_block(text, "python"))
            expected = {f"notebooks/{name}.ipynb" for name in EDITS}
        else:
            commands = [code_block(text, "bash")]
            expected = set()
        load = os.getloadavg()[0]
        t0 = time.perf_counter()
        for command in commands:
            r = subprocess.run(["bash", "-euo", "pipefail", "-c", command], cwd=clone, env=env,
                               capture_output=True, text=True)
            if r.returncode:
                raise SystemExit(f"{label}: `{command}` failed ({r.returncode}):\n{r.stderr[-3000:]}")
        seconds = time.perf_counter() - t0
        status = subprocess.run(["git", "-C", str(clone), "status", "--porcelain"],
                                capture_output=True, text=True, check=True).stdout
        changed = {line[3:] for line in status.splitlines()}
        if changed != expected:
            raise SystemExit(f"{label}: tracked files changed beyond the notebooks edited: "
                             f"{sorted(changed - expected)}")
        rows.append({"adaptation": label, "wall_seconds": round(seconds, 1),
                     "load_average_before": round(load, 2), "commands": commands,
                     "tracked_files_changed": sorted(changed)})
        print(f"{label}: {seconds:.0f} s (load {load:.2f} before)")
        if args.keep:
            print(f"  kept: {clone}")
        else:
            shutil.rmtree(work)
    out = write_json_atomic(config.results_dir() / "benchmarks" / "adapt.json", {
        "what": "docs/adapt.md's adaptations, each in a fresh clone of the commit, data already "
                "built, wall seconds",
        "script": "benchmarks/bench_adapt.py", "commit": commit, "data": ds.label,
        "machine": f"{os.cpu_count()} CPU cores", "environment": environment(),
        "measured_utc": time.strftime("%Y-%m-%d", time.gmtime()), "adaptations": rows})
    print(f"wrote {config.shown(out)}")


if __name__ == "__main__":
    main()
