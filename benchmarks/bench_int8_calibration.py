"""Which windows calibrate an int8 export: every one, or the calmer part? Chosen on training
windows only.

For each trained model (the paper's, the beyond study's chosen ensemble, the watch model when
saved), the int8 file (batch 1, standardised core, recurrent layers unrolled) is converted with
calibration windows drawn from all training windows (quantile 1.0) or from the windows whose
largest absolute standardised value is at most a quantile of all windows' (0.75, 0.5), three
random draws of :data:`~har_studies.deploy.export.MAX_CALIBRATION_WINDOWS` each. Scored on
2,000 other random training windows: accuracy points lost against the Keras model and the
arg-max agreement. The test set is never read. Writes ``results/deploy/int8_calibration.json``
(``make bench-int8``), else ``build/``.

    python benchmarks/bench_int8_calibration.py [--models cnn_lstm_paper,beyond] [--out FILE]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")  # the TFLite converter

import numpy as np

from har_studies import input_layers  # noqa: F401  (layers inside the study models)
from har_studies.deploy import export
from har_studies.deploy.runtime import TFLiteRunner
from har_utils import config, data
from har_utils.io import write_json_atomic
from har_utils.provenance import environment
from har_utils.training import ACTIVITY_IDS, load_model

QUANTILES = (1.0, 0.75, 0.5)
DRAWS = (0, 1, 2)
SCORED = 2000


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="cnn_lstm_paper,beyond,small")
    ap.add_argument("--source", default="auto")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    out = args.out or (config.results_dir() / "deploy" / "int8_calibration.json"
                       if os.environ.get("HAR_RESULTS_DIR") else
                       config.BUILD_DIR / "deploy" / "int8_calibration.json")
    ds = data.load_dataset(args.source)
    X, y = np.asarray(ds.train.X, np.float32), np.asarray(ds.train.y)
    scored = np.random.default_rng(1).choice(len(X), SCORED, replace=False)
    pool = np.setdiff1d(np.arange(len(X)), scored)  # calibration never sees a scored window
    folder = config.results_dir() / "models"
    rows = []
    for name in args.models.split(","):
        path = folder / f"{name}.keras"
        if not path.is_file():
            print(f"{name}: {config.shown(path)} not found, skipped")
            continue
        model = load_model(path)
        ref = model.predict(X[scored], batch_size=256, verbose=0).argmax(1)
        acc_float = float(np.mean(ACTIVITY_IDS[ref] == y[scored]))
        unrolled = export.unroll_recurrent(model)
        for q in QUANTILES:
            for draw in DRAWS:
                t0 = time.perf_counter()
                rep = X[np.random.default_rng(draw).permutation(pool)]
                flat = export.convert_tflite(unrolled, batch_size=1, quantization="int8",
                                             representative_data=rep, calm_quantile=q)
                with tempfile.TemporaryDirectory() as tmp:
                    f = Path(tmp) / "m.tflite"
                    f.write_bytes(flat)
                    pred = TFLiteRunner(f).predict(X[scored]).argmax(1)
                acc = float(np.mean(ACTIVITY_IDS[pred] == y[scored]))
                rows.append({"model": name, "calm_quantile": q, "draw": draw,
                             "float_accuracy": acc_float, "int8_accuracy": acc,
                             "lost_points": 100 * (acc_float - acc),
                             "agreement": float(np.mean(pred == ref)),
                             "seconds": round(time.perf_counter() - t0, 1)})
                print(f"{name} quantile {q} draw {draw}: lost {rows[-1]['lost_points']:.2f} "
                      f"points, agreement {100 * rows[-1]['agreement']:.2f} %", flush=True)
    summary = {}
    for name in sorted({r["model"] for r in rows}):
        summary[name] = {str(q): float(np.mean([r["lost_points"] for r in rows
                                                if r["model"] == name and r["calm_quantile"] == q]))
                         for q in QUANTILES}
    write_json_atomic(out, {
        "benchmark": "int8 calibration windows", "data": data.stamp(ds),
        "scored": f"{SCORED} random training windows (seed 1), never used for calibration; "
                  "the test set is not read",
        "calibration": f"{export.MAX_CALIBRATION_WINDOWS} windows per draw from the rest",
        "backend": "tensorflow (TFLite converter and interpreter)", "rows": rows,
        "mean_lost_points": summary, "chosen_quantile": export.CALM_QUANTILE,
        "environment": environment()})
    print(f"wrote {config.shown(out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
