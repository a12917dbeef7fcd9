"""Seeded training, early stopping, the epoch log, saving and loading (tiny synthetic data)."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from har_utils import plots  # noqa: E402
from har_utils.data import Split  # noqa: E402
from har_utils.io import HarDataError  # noqa: E402
from har_utils.training import (  # noqa: E402
    EpochLog,
    TrainConfig,
    load_history,
    load_model,
    predict_classes,
    save_run,
    to_one_hot,
    train,
)

LINE = re.compile(r"^epoch +\d+/\d+  loss \d+\.\d{4}  acc \d+\.\d{4}"
                  r"(  val_loss \d+\.\d{4}  val_acc \d+\.\d{4})?  +\d+\.\d s$")


def synthetic(n: int, seed: int, *, learnable: bool = True) -> Split:
    """``n`` windows (n, 128, 9); with ``learnable`` the class shifts the mean of a channel."""
    rng = np.random.default_rng(seed)
    y = rng.integers(1, 7, n)
    X = rng.normal(size=(n, 128, 9)).astype(np.float32)
    if learnable:
        X[np.arange(n), :, (y - 1)] += 1.5
    return Split(X, y, np.full(n, 1))


def tiny(**kw) -> TrainConfig:
    base = dict(model="tiny_cnn", epochs=2, batch_size=32, seed=0, patience=5)
    return TrainConfig(**{**base, **kw})


@pytest.fixture(scope="module")
def data() -> tuple[Split, Split]:
    return synthetic(200, 1), synthetic(60, 2)


@pytest.fixture(scope="module")
def run(data):
    lines: list[str] = []
    result = train(tiny(), *data, out=lines.append)
    return result, lines


# --- labels and config ----------------------------------------------------------------------

def test_to_one_hot_maps_ids_1_to_6():
    oh = to_one_hot(np.array([1, 6, 3]))
    assert oh.dtype == np.float32 and oh.shape == (3, 6)
    np.testing.assert_array_equal(oh.argmax(1), [0, 5, 2])
    assert (oh.sum(1) == 1).all()
    assert to_one_hot(np.array([], dtype=int)).shape == (0, 6)


@pytest.mark.parametrize("bad", [[0, 1, 2], [1, 7], [-1], [1.5, 2.0]])
def test_to_one_hot_rejects_ids_outside_1_to_6(bad):
    with pytest.raises(ValueError):
        to_one_hot(np.array(bad))


def test_to_one_hot_rejects_2d():
    with pytest.raises(ValueError, match="1-D"):
        to_one_hot(np.ones((3, 6), dtype=int))


def test_train_config_is_hashable_and_keyed():
    a = TrainConfig(model_kwargs={"dropout": 0.3, "conv_dropout": 0.2})
    b = TrainConfig(model_kwargs=(("conv_dropout", 0.2), ("dropout", 0.3)))
    assert a == b and hash(a) == hash(b) and a.key() == b.key()
    assert a.model_kwargs == (("conv_dropout", 0.2), ("dropout", 0.3))
    assert a.as_dict()["model_kwargs"] == {"conv_dropout": 0.2, "dropout": 0.3}
    assert len(a.key()) == 12 and a.key() != TrainConfig(seed=1).key()
    d = TrainConfig().as_dict()
    assert (d["model"], d["epochs"], d["batch_size"], d["optimizer"], d["learning_rate"],
            d["patience"], d["seed"]) == ("cnn_lstm_paper", 100, 32, "adam", 1e-3, 10, 0)


def test_train_config_rejects_bad_values():
    with pytest.raises(ValueError, match="optimizer"):
        TrainConfig(optimizer="rmsprop")
    with pytest.raises(ValueError):
        TrainConfig(epochs=0)


# --- training -------------------------------------------------------------------------------

def test_train_result(run):
    result, _ = run
    assert result.epochs_run == 2 and len(result.history["loss"]) == 2
    assert set(result.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert result.best_epoch == int(np.argmin(result.history["val_loss"])) + 1
    assert result.seconds > 0 and result.seconds_per_epoch == pytest.approx(result.seconds / 2)
    assert "tiny_cnn" in result.summary()


def test_epoch_log_prints_one_line_per_epoch(run):
    result, lines = run
    assert len(lines) == result.epochs_run
    for i, line in enumerate(lines, 1):
        assert LINE.match(line), line
        assert line.startswith(f"epoch {i}/2")


def test_epoch_log_every_n_prints_the_last_epoch_too(data):
    log = EpochLog(epochs=5, every=2, out=(lines := []).append)
    logs = {"loss": 1.0, "accuracy": 0.5}
    for e in range(3):  # stopped after epoch 3 of 5
        log.on_epoch_begin(e)
        log.on_epoch_end(e, logs)
    log.on_train_end()
    assert [ln.split()[1] for ln in lines] == ["2/5", "3/5"]
    assert LINE.match(EpochLog(100).format(3, {**logs, "val_loss": 0.43, "val_accuracy": 0.85},
                                           6.93))


def test_same_seed_same_history_and_predictions(run, data):
    first, _ = run
    second = train(tiny(), *data, out=lambda s: None)
    assert first.history == second.history
    X = data[1].X
    np.testing.assert_array_equal(first.model.predict(X, verbose=0),
                                  second.model.predict(X, verbose=0))


def test_different_seed_different_weights(run, data):
    first, _ = run
    other = train(tiny(seed=1), *data, out=lambda s: None)
    w0, w1 = first.model.get_weights(), other.model.get_weights()
    assert any(not np.array_equal(a, b) for a, b in zip(w0, w1))


def test_early_stopping_restores_the_best_epoch():
    fit = synthetic(200, 3, learnable=False)  # random labels: nothing to learn,
    val = synthetic(60, 4, learnable=False)   # so the validation loss soon stops improving
    cfg = tiny(epochs=30, patience=1, learning_rate=0.05)
    lines: list[str] = []
    result = train(cfg, fit, val, out=lines.append)
    assert result.epochs_run < cfg.epochs
    assert len(lines) == result.epochs_run
    best = result.best_epoch
    assert best == result.epochs_run - 1  # patience 1: stopped one epoch after the best
    loss, _ = result.model.evaluate(val.X, to_one_hot(val.y), batch_size=cfg.batch_size,
                                    verbose=0)
    assert loss == pytest.approx(result.history["val_loss"][best - 1], rel=1e-5)
    assert loss != pytest.approx(result.history["val_loss"][-1], rel=1e-5)


@pytest.mark.parametrize("empty", [True, False])
def test_without_validation_all_epochs_run(data, empty):
    fit = data[0]
    val = Split(fit.X[:0], fit.y[:0], fit.subject[:0]) if empty else None
    lines: list[str] = []
    result = train(tiny(epochs=3, patience=0, optimizer="sgd", learning_rate=0.01), fit, val,
                   out=lines.append)
    assert result.epochs_run == 3 and result.best_epoch == 3
    assert "val_loss" not in result.history and len(lines) == 3


# --- saving and loading ---------------------------------------------------------------------

def test_save_and_load_round_trip(run, data, tmp_path: Path):
    result, _ = run
    paths = save_run(result, tmp_path / "models", "tiny")
    assert paths == {"model": tmp_path / "models" / "tiny.keras",
                     "history": tmp_path / "models" / "tiny.history.json"}
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == [
        "tiny.history.json", "tiny.keras"]  # no temporary files left behind
    model = load_model(paths["model"])
    X = data[1].X
    np.testing.assert_array_equal(predict_classes(model, X), predict_classes(result.model, X))
    np.testing.assert_array_equal(model.predict(X, verbose=0),
                                  result.model.predict(X, verbose=0))
    h = load_history(paths["history"])
    assert h["history"] == result.history
    assert h["epochs_run"] == 2 and h["best_epoch"] == result.best_epoch
    assert h["config"] == result.config.as_dict() and h["config_key"] == result.config.key()
    assert h["n_params"] == result.model.count_params()
    assert h["versions"]["keras"] and h["versions"]["tensorflow"]
    save_run(result, tmp_path / "models", "tiny")  # overwriting is fine
    assert len(list((tmp_path / "models").iterdir())) == 2


def test_predict_classes_gives_activity_ids(run, data):
    pred = predict_classes(run[0].model, data[1].X)
    assert pred.shape == (60,) and set(pred.tolist()) <= {1, 2, 3, 4, 5, 6}


def test_load_missing_or_broken_model_says_how_to_fix(tmp_path: Path):
    with pytest.raises(HarDataError, match="Fix:.*notebook 04") as info:
        load_model(tmp_path / "nope.keras")
    assert "nope.keras" in str(info.value)
    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"not a zip")
    with pytest.raises(HarDataError, match="unreadable.*\n.*Fix:"):
        load_model(broken)
    with pytest.raises(HarDataError, match="Fix:"):
        load_history(tmp_path / "nope.history.json")


# --- figure ---------------------------------------------------------------------------------

def test_training_curves(run):
    result, _ = run
    fig = plots.training_curves(result.history, "tiny", result.best_epoch,
                                val_label="validation (subjects 1)")
    try:
        assert len(fig.axes) == 2
        labels = fig.axes[0].get_legend_handles_labels()[1]
        assert labels == ["training", "validation (subjects 1)",
                          f"best epoch {result.best_epoch}"]
    finally:
        plt.close(fig)
    fig = plots.training_curves({"loss": [1.0, 0.5], "accuracy": [0.5, 0.7]}, "no val", None)
    assert len(fig.axes) == 2
    plt.close(fig)


def test_patience_zero_turns_early_stopping_off() -> None:
    from har_utils.data import Split
    rng = np.random.default_rng(1)
    X = rng.normal(size=(120, 128, 9)).astype(np.float32)
    y = rng.integers(1, 7, size=120)
    fit, val = Split(X[:80], y[:80], np.ones(80, int)), Split(X[80:], y[80:], np.ones(40, int))
    cfg = TrainConfig(model="tiny_cnn", epochs=4, batch_size=16, patience=0, seed=0)
    result = train(cfg, fit, val, out=lambda _l: None)
    assert result.epochs_run == 4 and result.best_epoch == 4
    assert len(result.history["val_loss"]) == 4
