"""The input layers of the "beyond the paper" candidates: random rotations, the gravity
frame, window statistics; and the training settings that go with them (a cosine schedule,
the weight average). Synthetic windows only."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from har_utils import training
from har_utils.data import Split
from har_studies.experiments.fitting import EpochScores, StudyConfig, train_run
from har_studies.input_layers import WINDOW_STATS, GravityFrame, RandomRotation, WindowStats


def windows(n: int = 16, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = rng.normal(scale=0.3, size=(n, 128, 9)).astype("float32")
    X[:, :, 6:9] += rng.normal(size=(n, 1, 3)) * 0.3 + np.array([1.0, 0.0, 0.0])  # gravity
    return X


def triples(X: np.ndarray) -> np.ndarray:
    return np.asarray(X).reshape(*X.shape[:-1], 3, 3)


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def test_random_rotation_turns_every_sensor_of_a_window_alike_within_its_angle() -> None:
    X = windows()
    layer = RandomRotation(max_angle=20.0, seed=1)
    out = keras.ops.convert_to_numpy(layer(X, training=True))
    np.testing.assert_allclose(np.linalg.norm(triples(out), axis=-1),
                               np.linalg.norm(triples(X), axis=-1), rtol=1e-4, atol=1e-5)
    # one rotation per window: solve it from the total acceleration, apply to the others
    for i in range(3):
        a, b = triples(X)[i, :, 2], triples(out)[i, :, 2]
        r, *_ = np.linalg.lstsq(a, b, rcond=None)
        np.testing.assert_allclose(triples(X)[i, :, 0] @ r, triples(out)[i, :, 0], atol=1e-4)
        angle = np.degrees(np.arccos(np.clip((np.trace(r) - 1) / 2, -1, 1)))
        assert 0 < angle <= 20.0 + 1e-3
    assert not np.allclose(out[0], X[0])
    assert np.array_equal(keras.ops.convert_to_numpy(layer(X, training=False)), X)
    with pytest.raises(ValueError, match="nine channels"):
        RandomRotation()(np.zeros((2, 128, 6), "float32"), training=True)
    with pytest.raises(ValueError, match="max_angle"):
        RandomRotation(max_angle=200)


def test_the_gravity_frame_forgets_how_the_phone_was_tilted() -> None:
    X = windows(8)
    frame = GravityFrame()
    out = keras.ops.convert_to_numpy(frame(X))
    assert out.shape == (8, 128, 12)
    g = out[:, :, 6:9].mean(axis=1)
    np.testing.assert_allclose(g[:, 1:], 0, atol=1e-4)  # gravity along +x
    assert (g[:, 0] > 0).all()
    np.testing.assert_allclose(out[:, :, 9:], np.linalg.norm(triples(X), axis=-1), rtol=1e-5)
    # the same windows held otherwise (one rotation each): the same along gravity, same norms
    rng = np.random.default_rng(3)
    turned = np.stack([(triples(x) @ random_rotation(rng).T).reshape(128, 9) for x in X])
    again = keras.ops.convert_to_numpy(frame(turned.astype("float32")))
    np.testing.assert_allclose(again[:, :, [0, 3, 6, 9, 10, 11]], out[:, :, [0, 3, 6, 9, 10, 11]],
                               atol=2e-4)
    # a phone upside down (gravity along -x) is turned too
    flipped = X.copy()
    flipped[:, :, [0, 3, 6]] *= -1
    flipped[:, :, [1, 4, 7]] *= -1
    g = keras.ops.convert_to_numpy(frame(flipped))[:, :, 6:9].mean(axis=1)
    np.testing.assert_allclose(g[:, 1:], 0, atol=1e-4)
    assert (g[:, 0] > 0).all()


def test_window_statistics_are_the_numpy_ones() -> None:
    X = windows(4)
    got = keras.ops.convert_to_numpy(WindowStats()(X))
    want = np.concatenate([X.mean(1), X.std(1), X.min(1), X.max(1),
                           np.abs(np.diff(X, axis=1)).mean(1)], -1)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    assert got.shape == (4, len(WINDOW_STATS) * 9)


def test_bad_settings_are_refused() -> None:
    for bad, match in (({"frame": "earth"}, "frame"), ({"lr_schedule": "steps"}, "lr_schedule"),
                       ({"ema": 1.0}, "ema"), ({"max_angle": -1}, "max_angle"),
                       ({"augment": "rotation+twist"}, "augment")):
        with pytest.raises(ValueError, match=match):
            StudyConfig(model="tiny_cnn", **bad)


def test_every_setting_builds_trains_saves_and_loads(tmp_path) -> None:
    rng = np.random.default_rng(0)
    X = windows(64)
    y = rng.integers(1, 7, 64)
    fit = Split(X, y, np.ones(64, int))
    cfg = StudyConfig(model="tiny_cnn", epochs=2, batch_size=16, patience=0, augment="rotation+noise",
                      max_angle=45.0, frame="gravity", standardize=True, window_stats=True,
                      lr_schedule="cosine", ema=0.9)
    res = train_run(cfg, fit, None, out=lambda s: None)
    names = [layer.name for layer in res.model.layers]
    assert names[:4] == ["window", "rotation", "gravity_frame", "standardize"]
    assert {"augment", "window_stats", "stats_standardize", "joined", "output"} <= set(names)
    opt = res.model.optimizer
    assert opt.use_ema and float(keras.ops.convert_to_numpy(opt.learning_rate)) < 1e-6  # cosine: 0 at the end
    # the final weights are the average (Keras assigns it when fit ends)
    for var, avg in zip(opt._trainable_variables, opt._model_variables_moving_average):
        np.testing.assert_allclose(var.numpy(), avg.numpy())
    training.save_model_atomic(res.model, tmp_path / "m.keras")
    back = training.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(back.predict(X, verbose=0), res.model.predict(X, verbose=0), atol=1e-6)


def test_with_the_weight_average_every_epoch_is_scored_on_the_average() -> None:
    """The fold curves of a run with ``ema`` score the averaged weights (Keras' validation and
    the macro-F1 of ``EpochScores`` alike): the last epoch's scores are the final model's."""
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(1)
    X, y = windows(96, seed=1), rng.integers(1, 7, 96)
    fit, val = Split(X[:64], y[:64], np.ones(64, int)), Split(X[64:], y[64:], np.full(32, 2))
    scores = EpochScores(val)
    cfg = StudyConfig(model="tiny_cnn", epochs=3, batch_size=16, patience=0, ema=0.5,
                      learning_rate=0.05)
    res = train_run(cfg, fit, val, out=lambda s: None, callbacks=[scores])
    pred = training.predict_classes(res.model, val.X)
    assert scores.rows[-1]["val_accuracy"] == pytest.approx(np.mean(pred == val.y), abs=1e-6)
    assert scores.rows[-1]["val_macro_f1"] == pytest.approx(
        f1_score(val.y, pred, average="macro", labels=np.unique(val.y)), abs=1e-9)
