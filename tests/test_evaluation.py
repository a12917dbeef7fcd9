"""Tests of har_utils.evaluation (and its two plots) on synthetic labels and predictions."""

from __future__ import annotations

import json
import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from har_utils import plots  # noqa: E402
from har_utils.config import ACTIVITY_NAMES  # noqa: E402
from har_utils.evaluation import (  # noqa: E402
    classification_table,
    inference_time,
    metrics,
    per_subject_table,
    subject_bootstrap_ci,
    top_confusions,
)

# A small example whose confusion matrix is written out by hand below.
Y_TRUE = np.array([1, 1, 1, 2, 2, 3, 3, 3, 3, 4, 5, 6])
Y_PRED = np.array([1, 1, 2, 2, 2, 3, 3, 1, 3, 5, 5, 6])
SUBJ = np.array([2, 2, 4, 4, 4, 9, 9, 9, 2, 9, 4, 2])
CONFUSION = [  # rows true, columns predicted, ids 1..6
    [2, 1, 0, 0, 0, 0],
    [0, 2, 0, 0, 0, 0],
    [1, 0, 3, 0, 0, 0],
    [0, 0, 0, 0, 1, 0],
    [0, 0, 0, 0, 1, 0],
    [0, 0, 0, 0, 0, 1],
]


def test_metrics_match_hand_counts() -> None:
    m = metrics(Y_TRUE, Y_PRED)
    assert m["confusion"] == CONFUSION
    assert m["n"] == 12
    assert m["accuracy"] == pytest.approx(9 / 12)
    assert m["labels"] == ACTIVITY_NAMES
    pc = m["per_class"]
    expected = {  # name: (precision, recall, f1, support)
        "WALKING": (2 / 3, 2 / 3, 2 / 3, 3),
        "WALKING_UPSTAIRS": (2 / 3, 1.0, 0.8, 2),
        "WALKING_DOWNSTAIRS": (1.0, 0.75, 6 / 7, 4),
        "SITTING": (0.0, 0.0, 0.0, 1),
        "STANDING": (0.5, 1.0, 2 / 3, 1),
        "LAYING": (1.0, 1.0, 1.0, 1),
    }
    for name, (p, r, f, s) in expected.items():
        assert pc[name]["precision"] == pytest.approx(p), name
        assert pc[name]["recall"] == pytest.approx(r), name
        assert pc[name]["f1"] == pytest.approx(f), name
        assert pc[name]["support"] == s, name
    assert m["macro_avg"]["recall"] == pytest.approx(np.mean([e[1] for e in expected.values()]))
    w = np.array([e[3] for e in expected.values()]) / 12
    assert m["weighted_avg"]["f1"] == pytest.approx(float(w @ [e[2] for e in expected.values()]))


def test_perfect_predictions_score_one_everywhere() -> None:
    y = np.repeat(np.arange(1, 7), [5, 4, 3, 6, 2, 7])
    m = metrics(y, y.copy())
    assert m["accuracy"] == 1.0
    for v in m["per_class"].values():
        assert v["precision"] == v["recall"] == v["f1"] == 1.0
    for avg in ("macro_avg", "weighted_avg"):
        assert set(m[avg].values()) == {1.0}
    assert np.array_equal(np.diag(m["confusion"]), [5, 4, 3, 6, 2, 7])


def test_class_never_predicted_gives_zero_precision_without_warnings() -> None:
    y_true = np.array([1, 2, 3, 4, 5, 6, 6])
    y_pred = np.array([1, 2, 3, 5, 5, 6, 6])  # SITTING (4) never predicted
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = metrics(y_true, y_pred)
    assert m["per_class"]["SITTING"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0,
                                         "support": 1}


def test_macro_and_weighted_differ_when_imbalanced() -> None:
    y_true = np.array([1] * 90 + [2] * 10)
    y_pred = np.array([1] * 90 + [1] * 5 + [2] * 5)  # the small class is half missed
    m = metrics(y_true, y_pred)
    assert m["weighted_avg"]["recall"] == pytest.approx(0.95)
    # macro over all six labels (absent ones count 0): (1 + 0.5) / 6
    assert m["macro_avg"]["recall"] == pytest.approx(1.5 / 6)
    assert m["macro_avg"]["f1"] < m["weighted_avg"]["f1"]


def test_metrics_are_json_serialisable_and_round_trip() -> None:
    m = metrics(Y_TRUE, Y_PRED, SUBJ)
    assert json.loads(json.dumps(m)) == m
    assert set(m["per_subject"]) == {"2", "4", "9"}


def test_classification_table_layout() -> None:
    t = classification_table(metrics(Y_TRUE, Y_PRED))
    assert list(t.index) == ACTIVITY_NAMES + ["macro avg", "weighted avg"]
    assert list(t.columns) == ["precision", "recall", "f1", "support"]
    assert t.loc["macro avg", "support"] == 12
    assert t.loc["WALKING_DOWNSTAIRS", "recall"] == pytest.approx(0.75)


def test_per_subject_sums_back_to_overall() -> None:
    t = per_subject_table(Y_TRUE, Y_PRED, SUBJ)
    assert list(t["subject"]) == [2, 4, 9]
    assert t["n"].sum() == 12 and t["correct"].sum() == 9
    assert float((t["accuracy"] * t["n"]).sum() / t["n"].sum()) == pytest.approx(0.75)
    m = metrics(Y_TRUE, Y_PRED, SUBJ)
    ps = m["per_subject"]
    assert sum(v["accuracy"] * v["n"] for v in ps.values()) / m["n"] == pytest.approx(
        m["accuracy"])


def _subjects_with_accuracies(accs: list[float], n: int = 100
                              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y_true, y_pred, subj = [], [], []
    for s, a in zip(range(1, len(accs) + 1), accs):
        yt = np.ones(n, dtype=int)
        yp = yt.copy()
        yp[: n - round(a * n)] = 2
        y_true.append(yt), y_pred.append(yp), subj.append(np.full(n, s))
    return np.concatenate(y_true), np.concatenate(y_pred), np.concatenate(subj)


def test_bootstrap_deterministic_contains_estimate_and_widens() -> None:
    same = _subjects_with_accuracies([0.9] * 9)
    spread = _subjects_with_accuracies(list(np.linspace(0.6, 1.0, 9)))
    ci = subject_bootstrap_ci(*spread, n_boot=500, seed=3)
    assert ci == subject_bootstrap_ci(*spread, n_boot=500, seed=3)
    point = metrics(spread[0], spread[1])["accuracy"]
    assert ci[0] <= point <= ci[1]
    lo, hi = subject_bootstrap_ci(*same, n_boot=500, seed=3)
    assert lo <= 0.9 <= hi
    assert (ci[1] - ci[0]) > (hi - lo) + 0.05


def test_top_confusions_picks_largest_off_diagonal() -> None:
    cm = np.diag([100, 90, 80, 70, 60, 50])
    cm[3, 4], cm[4, 3], cm[1, 0], cm[2, 0] = 30, 10, 5, 12
    m = {"confusion": cm.tolist(), "labels": ACTIVITY_NAMES}
    t = top_confusions(m, k=3)
    assert list(t.columns) == ["true", "predicted", "count", "share"]
    assert t.iloc[0][["true", "predicted", "count"]].tolist() == ["SITTING", "STANDING", 30]
    assert t.iloc[0]["share"] == pytest.approx(30 / 100)
    assert t["count"].tolist() == [30, 12, 10]
    assert len(top_confusions(m, k=10)) == 4  # zero cells left out


def test_inference_time_positive_numbers() -> None:
    X = np.random.default_rng(0).normal(size=(10, 128, 9)).astype(np.float32)
    r = inference_time(lambda x: x.mean(axis=(1, 2)), X, batch_sizes=(1, 16), repeats=3)
    assert set(r) == {"1", "16"}
    for bs, v in r.items():
        assert v["batch_size"] == int(bs)
        for key in ("median_ms_per_batch", "ms_per_window", "windows_per_s"):
            assert v[key] > 0, key
    json.dumps(r)


def test_confusion_and_per_subject_plots() -> None:
    fig = plots.confusion_matrices(CONFUSION, "test")
    assert len(fig.axes) == 4  # two heatmaps and their colour bars
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ACTIVITY_NAMES
    plt.close(fig)
    fig = plots.per_subject_accuracy(per_subject_table(Y_TRUE, Y_PRED, SUBJ), "test", 0.75)
    assert len(fig.axes) == 1
    assert len(fig.axes[0].patches) == 3
    plt.close(fig)
