"""Check: protocol cv's committed final runs trained again from a clean commit.

74 protocol cv runs record a dirty working tree in their provenance. A run's result should not
depend on uncommitted edits that do not touch what it computes, and a run is deterministic for a
given seed, thread count and machine, so this trains again, from the commit this script is run
at (it refuses a dirty tree), the paper model's 5 final seeds and seed 0 of every other model
of protocol cv but ``isplinception`` (its cost), each into a scratch store under ``build/``
(never the committed one; an interrupted check resumes there), and compares each with its committed result: the test predictions
window by window, the test accuracy, the softmax outputs and the training loss curve.

Writes ``cv/rerun_check.json`` in the results folder (``HAR_RESULTS_DIR``; the Makefile's
``check-reruns`` names the committed ``results/``); docs/cv.md renders it.

    python benchmarks/check_reruns.py [--workers 2] [--models cnn_lstm_paper,cnn]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import numpy as np

from har_utils import config, data, threads
from har_utils.io import write_json_atomic
from har_utils.provenance import cpu_model
from har_studies.experiments import cv, runner

#: Models left out (their cost).
SKIP = ("isplinception",)
#: A control: a committed run that recorded a clean tree, trained again the same way. If it
#: moves too, the machine, not the working tree, explains a difference.
CONTROL = "ablations_cv/filters=32/fold0"


def planned(summary: dict[str, Any], models: list[str]) -> list[runner.Run]:
    """The final runs to train again, as protocol cv built them from its committed choice."""
    out = []
    for model in models:
        e = summary["models"][model]
        c = e["choice"].get("C")
        epochs = 1 if model in runner.CLASSICAL else int(e["choice"]["epochs"])
        runs = cv.final_runs(model, cv.plan_for(model), epochs, c)
        out += runs if model == "cnn_lstm_paper" else runs[:1]
    return out


def compare(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """The committed result ``a`` against the re-run ``b``."""
    if "y_pred" not in a:  # a fold run: its held-out curve stands for its predictions
        ya, yb = (np.asarray(x["history"]["val_accuracy"]) for x in (a, b))
        a = {**a, "test": {"accuracy": float(ya[-1])}}
        b = {**b, "test": {"accuracy": float(yb[-1])}}
    else:
        ya, yb = np.asarray(a["y_pred"]), np.asarray(b["y_pred"])
    out = {"name": a["name"], "key": a["key"],
           "committed_commit": a["environment"]["git"]["commit"][:10],
           "committed_dirty": bool(a["environment"]["git"].get("dirty")),
           "committed_cpu": a["environment"].get("cpu"), "control": a["name"] == CONTROL,
           "committed_uncommitted_code": a.get("uncommitted_code"),
           "windows": int(len(ya)), "windows_differing": int((ya != yb).sum()),
           "compared": "test predictions" if "y_pred" in a else "held-out accuracy per epoch",
           "accuracy_committed": float(a["test"]["accuracy"]),
           "accuracy_rerun": float(b["test"]["accuracy"]),
           "identical_predictions": bool((ya == yb).all())}
    if "test_proba" in a and "test_proba" in b:
        out["max_abs_proba_difference"] = float(np.max(np.abs(
            np.asarray(a["test_proba"]) - np.asarray(b["test_proba"]))))
    la, lb = (a.get("history") or {}).get("loss"), (b.get("history") or {}).get("loss")
    if la and lb and len(la) == len(lb):
        out["identical_loss_curve"] = la == lb
        out["first_epoch_loss_difference"] = float(abs(la[0] - lb[0]))
        out["last_epoch_loss_difference"] = float(abs(la[-1] - lb[-1]))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--models", default="")
    args = ap.parse_args()
    cores = threads.available_cores()
    if not 1 <= args.workers <= cores:
        ap.error(f"--workers {args.workers}: give 1 to {cores} (the CPU cores this process may "
                 "use)")
    committed = config.COMMITTED_RESULTS_DIR
    out_dir = config.results_dir()
    dirty = runner.uncommitted_code()
    if dirty:
        raise SystemExit(f"refused: tracked code differs from the commit ({', '.join(dirty[:5])}); "
                         "run this from a clean checkout of a commit")
    summary = json.loads((committed / "cv" / "summary.json").read_text())
    models = ([m.strip() for m in args.models.split(",") if m.strip()] or
              [m for m in summary["models"] if m not in SKIP and "final" in summary["models"][m]])
    ds = data.load_dataset("auto")
    runs = planned(summary, models)
    from har_studies.experiments.ablations import converged

    runs.append(converged.fold_run("filters", "32", 0))
    os.environ["HAR_RESULTS_DIR"] = str(committed)
    before = [runner.load(r, ds) for r in runs]
    missing = [r.name for r, b in zip(runs, before) if b is None]
    if missing:
        raise SystemExit(f"not in the committed store: {missing}")
    scratch = config.BUILD_DIR / "reruns" / "results"
    os.environ["HAR_RESULTS_DIR"] = str(scratch)
    after = runner.execute(runs, ds, workers=args.workers,  # resumable: the scratch store
                           backup_root=config.BUILD_DIR / "reruns" / "backup")
    os.environ["HAR_RESULTS_DIR"] = str(out_dir)
    rows = [compare(a, b) for a, b in zip(before, after)]
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                            cwd=config.PROJECT_ROOT).stdout.strip()
    doc = {"data": data.stamp(ds), "commit": commit, "cpu_model": cpu_model(),
           "cpu_count": os.cpu_count(), "workers": args.workers, "control": CONTROL,
           "note": "runs record their CPU model only since this check was added",
           "runs": rows,
           "identical": sum(r["identical_predictions"] for r in rows),
           "train_seconds_total": float(sum(runner.run_seconds(r) for r in after))}
    path = write_json_atomic(out_dir / "cv" / "rerun_check.json", doc)
    for r in rows:
        print(f"{r['name']:42s} committed {100 * r['accuracy_committed']:.2f} % "
              f"(dirty: {r['committed_dirty']}) rerun {100 * r['accuracy_rerun']:.2f} % "
              f"windows differing {r['windows_differing']}")
    print(f"{doc['identical']} of {len(rows)} identical; wrote {config.shown(path)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
