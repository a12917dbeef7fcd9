"""Why some subjects fail: the evidence notebook 09 shows, from data and stored predictions.

Which classes are confused per test subject (:func:`subject_confusion`), how the phone sat
(:func:`gravity_table`), and whether sitting and standing separate within one subject
(:func:`sit_stand_within_subject`): if they do within each subject but not across, what fails
is the transfer between people, not the sensors.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from har_utils import config, data, evaluation
from har_utils.data import HarDataset

from . import cv
from .runner import checksum

SITTING, STANDING = 4, 5
#: The static activities, where the mean total acceleration is gravity.
STATIC: tuple[int, ...] = (4, 5, 6)


def final_predictions(model: str, ds: HarDataset) -> list[np.ndarray]:
    """Test predictions of protocol cv's final runs of ``model`` (stored ones, per seed), at
    the count (or C) of its committed choice (``results/cv/choice.json``)."""
    path = config.COMMITTED_RESULTS_DIR / "cv" / "choice.json"
    choice = json.loads(path.read_text())["models"].get(model) if path.exists() else None
    if choice is None:
        return []
    p = cv.plan_for(model)
    runs = (cv.final_runs(model, p, 1, choice["C"]) if "C" in choice
            else cv.final_runs(model, p, choice["epochs"]))
    store = config.COMMITTED_RESULTS_DIR / "runs"  # the committed study, whatever the profile
    paths = [store / f"{r.key(checksum(ds))}.json" for r in runs]
    return [np.asarray(json.loads(f.read_text())["y_pred"]) for f in paths if f.exists()]


def subject_confusion(preds: list[np.ndarray], ds: HarDataset, subject: int) -> dict[str, Any]:
    """:func:`har_utils.evaluation.metrics` of one test subject, the seeds' predictions pooled."""
    m = ds.test.subject == subject
    y = np.tile(ds.test.y[m], len(preds))
    return evaluation.metrics(y, np.concatenate([p[m] for p in preds]))


def _splits(ds: HarDataset) -> list[tuple[str, Any, np.ndarray | None]]:
    return [(name, split, ds.extra.get(f"exp_{name}")) for name, split in
            (("train", ds.train), ("test", ds.test))]


def gravity_table(ds: HarDataset) -> pd.DataFrame:
    """Per subject, recording ("exp"; -1 where the source does not say) and static activity:
    the windows' mean gravity direction (unit vector gx, gy, gz), the tilt from the phone's
    x axis in degrees, and the number of windows."""
    idx = [config.CHANNELS.index(f"total_acc_{a}") for a in "xyz"]
    rows = []
    for name, split, exp in _splits(ds):
        g = split.X[:, :, idx].mean(axis=1)
        g = g / np.linalg.norm(g, axis=1, keepdims=True)
        e = exp if exp is not None else np.full(len(split.y), -1)
        frame = pd.DataFrame({"split": name, "subject": split.subject, "exp": e,
                              "activity": split.y, "gx": g[:, 0], "gy": g[:, 1], "gz": g[:, 2]})
        frame = frame[frame["activity"].isin(STATIC)]
        agg = frame.groupby(["split", "subject", "exp", "activity"]).agg(
            gx=("gx", "mean"), gy=("gy", "mean"), gz=("gz", "mean"), n=("gx", "size"))
        rows.append(agg.reset_index())
    out = pd.concat(rows, ignore_index=True)
    out["tilt_deg"] = np.degrees(np.arccos(np.clip(out["gx"], -1, 1)))
    out["activity"] = out["activity"].map(config.ACTIVITIES)
    return out


def sit_stand_within_subject(ds: HarDataset, seed: int = 0) -> pd.DataFrame:
    """Per subject: accuracy of a logistic regression (standardised window features, C=1)
    telling its own sitting from its own standing windows, 5-fold stratified cross-validation
    inside the subject (fewer folds when a posture has fewer than 5 windows; NaN under 2);
    and the number of windows of each."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    ftr, fte, _, _ = data.features(ds)
    rows = []
    for name, split, feats in (("train", ds.train, ftr), ("test", ds.test, fte)):
        for s in sorted(set(split.subject.tolist())):
            m = (split.subject == s) & np.isin(split.y, (SITTING, STANDING))
            y = split.y[m]
            k = min(5, int((y == SITTING).sum()), int((y == STANDING).sum()))
            acc = np.nan  # too few windows of one posture to cross-validate
            if k >= 2:
                folds = StratifiedKFold(k, shuffle=True, random_state=seed)
                clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000))
                acc = cross_val_score(clf, feats[m], y, cv=folds).mean()
            rows.append({"split": name, "subject": int(s), "within_subject_accuracy": float(acc),
                         "sitting": int((y == SITTING).sum()),
                         "standing": int((y == STANDING).sum())})
    return pd.DataFrame(rows)


def fold_subject_accuracy(results: list[dict[str, Any]], ds: HarDataset) -> pd.DataFrame:
    """Per held-out training subject: accuracy of fold runs at their end (``val_proba``),
    averaged over the runs that held it out."""
    from har_utils.training import ACTIVITY_IDS

    rows = []
    for r in results:
        if "val_proba" not in r:
            continue
        held = r["run"]["val_subjects"]
        m = np.isin(ds.train.subject, held)
        pred = ACTIVITY_IDS[np.asarray(r["val_proba"]).argmax(1)]
        for s in held:
            k = ds.train.subject[m] == s
            rows.append({"subject": int(s), "accuracy": float(np.mean(pred[k] == ds.train.y[m][k])),
                         "run": r["name"]})
    if not rows:
        return pd.DataFrame(columns=["subject", "accuracy", "runs"])
    t = pd.DataFrame(rows)
    return t.groupby("subject").agg(accuracy=("accuracy", "mean"),
                                    runs=("run", "size")).reset_index()
