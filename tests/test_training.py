"""Seeded training, early stopping, the epoch log, saving and loading (tiny synthetic data);
the studies' training settings (``har_studies.experiments.fitting``)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest

from har_studies.experiments.fitting import StudyConfig, build_for, train, train_run
from har_studies.input_layers import AUGMENTATIONS, Augment
from har_utils.data import Split
from har_utils.io import HarDataError
from har_utils.training import (
    TrainConfig,
    load_history,
    load_model,
    predict_classes,
    save_run,
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


def study(**kw) -> StudyConfig:
    base = dict(model="tiny_cnn", epochs=2, batch_size=32, seed=0, patience=5)
    return StudyConfig(**{**base, **kw})


@pytest.fixture(scope="module")
def data() -> tuple[Split, Split]:
    # whole batches of 32: JAX compiles a training (and a validation) step once per batch
    # shape, and compiling, not the steps, is most of a tiny run's time
    return synthetic(192, 1), synthetic(64, 2)


@pytest.fixture(scope="module")
def run(data):
    lines: list[str] = []
    result = train(tiny(), *data, out=lines.append)
    return result, lines


# --- labels and config ----------------------------------------------------------------------

def test_train_config_is_hashable_and_describes_every_field():
    a = TrainConfig(model_kwargs={"dropout": 0.3, "conv_dropout": 0.2})
    b = TrainConfig(model_kwargs=(("conv_dropout", 0.2), ("dropout", 0.3)))
    assert a == b and hash(a) == hash(b) and a.as_dict() == b.as_dict()
    assert a.model_kwargs == (("conv_dropout", 0.2), ("dropout", 0.3))
    assert a.as_dict()["model_kwargs"] == {"conv_dropout": 0.2, "dropout": 0.3}
    assert set(a.as_dict()) == {f.name for f in dataclasses.fields(TrainConfig)}
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


def test_epoch_log_prints_one_line_per_epoch(run):
    result, lines = run
    assert len(lines) == result.epochs_run
    for i, line in enumerate(lines, 1):
        assert LINE.match(line), line
        assert line.startswith(f"epoch {i}/2")


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
    fit = synthetic(192, 3, learnable=False)  # random labels: nothing to learn,
    val = synthetic(64, 4, learnable=False)   # so the validation loss soon stops improving
    cfg = tiny(epochs=30, patience=1, learning_rate=0.05)
    lines: list[str] = []
    result = train(cfg, fit, val, out=lines.append)
    assert result.epochs_run < cfg.epochs
    assert len(lines) == result.epochs_run
    best = result.best_epoch
    assert best == result.epochs_run - 1  # patience 1: stopped one epoch after the best
    loss, _ = result.model.evaluate(val.X, keras.utils.to_categorical(val.y - 1, 6), batch_size=cfg.batch_size,
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
    assert h["config"] == result.config.as_dict()
    assert h["n_params"] == result.model.count_params()
    assert h["versions"]["keras"] and h["versions"]["tensorflow"]
    save_run(result, tmp_path / "models", "tiny")  # overwriting is fine
    assert len(list((tmp_path / "models").iterdir())) == 2


def test_predict_classes_gives_activity_ids(run, data):
    pred = predict_classes(run[0].model, data[1].X)
    assert pred.shape == (len(data[1].y),) and set(pred.tolist()) <= {1, 2, 3, 4, 5, 6}


def test_load_missing_or_broken_model_says_how_to_fix(tmp_path: Path):
    with pytest.raises(HarDataError, match="Fix:.*notebook 04") as info:
        load_model(tmp_path / "nope.keras")
    assert "nope.keras" in str(info.value)
    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"not a zip")
    with pytest.raises(HarDataError, match="not a Keras model.*\n.*Fix: restore the file"):
        load_model(broken)
    with pytest.raises(HarDataError, match="Fix:"):
        load_history(tmp_path / "nope.history.json")


def test_patience_zero_turns_early_stopping_off() -> None:
    from har_utils.data import Split
    rng = np.random.default_rng(1)
    X = rng.normal(size=(128, 128, 9)).astype(np.float32)
    y = rng.integers(1, 7, size=128)
    fit, val = Split(X[:80], y[:80], np.ones(80, int)), Split(X[80:], y[80:], np.ones(48, int))
    cfg = TrainConfig(model="tiny_cnn", epochs=4, batch_size=16, patience=0, seed=0)
    result = train(cfg, fit, val, out=lambda _l: None)
    assert result.epochs_run == 4 and result.best_epoch == 4
    assert len(result.history["val_loss"]) == 4


# --- optional fields: optimizer, standardisation, augmentation ------------------------------

import keras  # noqa: E402

from har_utils.training import KERAS_OPTIMIZERS, set_seed  # noqa: E402

def offset_windows(n: int, seed: int, offset: float = 0.0) -> Split:
    """Learnable windows with a per-channel offset and scale (so standardising matters)."""
    s = synthetic(n, seed)
    X = s.X * np.linspace(0.5, 4.0, 9, dtype=np.float32) + np.arange(9, dtype=np.float32)
    return Split((X + offset).astype(np.float32), s.y, s.subject)


def test_optional_fields_defaults_and_round_trip():
    cfg = StudyConfig()
    assert (cfg.standardize, cfg.augment, cfg.noise_std, cfg.scale_std, cfg.max_shift) == (
        False, "none", 0.01, 0.1, 8)
    cfg = StudyConfig(standardize=True, augment="shift+noise", noise_std=0.05)
    d = cfg.as_dict()
    assert d["augment"] == "noise+shift"  # canonical order of AUGMENTATIONS
    assert StudyConfig(**d) == cfg and StudyConfig(**d).as_dict() == d
    assert cfg.augmentations == ("noise", "shift")
    assert StudyConfig(augment="scaling+noise") == StudyConfig(augment="noise+scaling")
    assert StudyConfig(augment="+".join(AUGMENTATIONS)).augmentations == AUGMENTATIONS
    # the core fields first, in the core's order: a run's stored description keeps its layout
    core = [f.name for f in dataclasses.fields(TrainConfig)]
    assert [f.name for f in dataclasses.fields(StudyConfig)][:len(core)] == core


@pytest.mark.parametrize("kw", [{"augment": "blur"}, {"augment": "noise+blur"},
                                {"augment": "noise+noise"}, {"augment": "none+noise"},
                                {"augment": ""}, {"noise_std": -0.1}, {"scale_std": -1.0},
                                {"max_shift": -1}, {"optimizer": "amsgrad"}])
def test_optional_fields_reject_bad_values(kw):
    with pytest.raises(ValueError):
        StudyConfig(**kw)


def test_unknown_augmentation_layer_name_raises():
    with pytest.raises(ValueError, match="augment"):
        Augment("noise+blur")


def test_adam_amsgrad_builds_and_trains(data):
    opt = tiny(optimizer="adam_amsgrad", learning_rate=0.01).keras_optimizer(100)
    assert type(opt).__name__ == "Adam" and opt.amsgrad
    assert float(opt.learning_rate) == pytest.approx(0.01)
    assert not tiny().keras_optimizer(100).amsgrad
    from har_utils import config

    assert set(KERAS_OPTIMIZERS) == set(config.OPTIMIZERS)
    fit = Split(*(a[:96] for a in data[0]))
    result = train(tiny(epochs=1, optimizer="adam_amsgrad"), fit, None, out=lambda s: None)
    assert result.epochs_run == 1 and np.isfinite(result.history["loss"]).all()


@pytest.fixture(scope="module")
def standardized():
    fit, val = offset_windows(96, 11), offset_windows(32, 12)  # whole batches of 32
    cfg = study(standardize=True, patience=0)
    quiet = {"out": lambda s: None}
    return cfg, fit, val, train_run(cfg, fit, val, **quiet), train_run(
        cfg, fit, Split(val.X + 1e4, val.y, val.subject), **quiet)


def test_standardization_uses_the_fit_windows_only(standardized):
    cfg, fit, _, result, far = standardized
    layer = result.model.get_layer("standardize")
    mean, var = np.asarray(layer.mean).ravel(), np.asarray(layer.variance).ravel()
    np.testing.assert_allclose(mean, fit.X.mean(axis=(0, 1), dtype=np.float64), rtol=1e-6)
    np.testing.assert_allclose(var, fit.X.var(axis=(0, 1), dtype=np.float64), rtol=1e-5)
    other = far.model.get_layer("standardize")  # validation 1e4 away: the same statistics
    np.testing.assert_array_equal(np.asarray(other.mean), np.asarray(layer.mean))
    np.testing.assert_array_equal(np.asarray(other.variance), np.asarray(layer.variance))
    z = np.asarray(layer(fit.X))  # standardised fit windows: mean 0, std 1 per channel
    np.testing.assert_allclose(z.mean(axis=(0, 1)), 0, atol=1e-4)
    np.testing.assert_allclose(z.std(axis=(0, 1)), 1, atol=1e-4)
    assert result.history["loss"] == far.history["loss"]  # training never saw val


def test_standardized_model_saves_and_predicts_identically(standardized, tmp_path: Path):
    _, fit, val, result, _ = standardized
    paths = save_run(result, tmp_path, "std")
    model = load_model(paths["model"])
    for X in (val.X, val.X * 3 - 7):
        np.testing.assert_array_equal(model.predict(X, verbose=0),
                                      result.model.predict(X, verbose=0))
    assert load_history(paths["history"])["config"]["standardize"] is True


def test_standardization_changes_the_input_not_the_initial_weights():
    X = offset_windows(20, 5).X
    set_seed(3)
    plain = build_for(study(), X)
    set_seed(3)
    wrapped = build_for(study(standardize=True), X)
    assert [lyr.name for lyr in wrapped.layers] == ["window", "standardize", "tiny_cnn"]
    for a, b in zip(plain.get_weights(), wrapped.get_layer("tiny_cnn").get_weights()):
        np.testing.assert_array_equal(a, b)
    z = np.asarray(wrapped.get_layer("standardize")(X))
    np.testing.assert_allclose(np.asarray(wrapped(X)), np.asarray(plain(z)), rtol=1e-5,
                               atol=1e-6)


def _augmented(augment: str, seed: int = 0, **kw) -> tuple[keras.Model, keras.Model]:
    X = synthetic(8, 6).X
    set_seed(seed)
    plain = build_for(study(), X)
    set_seed(seed)
    return plain, build_for(study(augment=augment, **kw), X)


def test_augmentation_is_inactive_at_inference_and_active_in_training():
    X = synthetic(16, 7).X
    plain, model = _augmented("noise+scaling+shift")
    assert [lyr.name for lyr in model.layers] == ["window", "augment", "tiny_cnn"]
    expected = np.asarray(plain(X, training=False))
    np.testing.assert_array_equal(np.asarray(model(X, training=False)), expected)
    np.testing.assert_array_equal(model.predict(X, verbose=0), plain.predict(X, verbose=0))
    assert not np.allclose(np.asarray(model(X, training=True)), expected)


def test_augmentation_is_deterministic_for_a_seed():
    X = synthetic(16, 7).X
    outs = []
    for seed in (0, 0, 1):
        set_seed(seed)
        layer = Augment("noise+scaling+shift")
        outs.append(np.asarray(layer(X, training=True)))
    np.testing.assert_array_equal(outs[0], outs[1])
    assert not np.array_equal(outs[0], outs[2])
    set_seed(0)
    layer = Augment("noise")
    first, second = (np.asarray(layer(X, training=True)) for _ in range(2))
    assert not np.array_equal(first, second)  # new draws per batch


@pytest.mark.parametrize("augment", ["noise", "scaling", "shift"])
def test_each_augmentation_does_what_it_says(augment):
    X = synthetic(64, 8).X
    set_seed(0)
    out = np.asarray(Augment(augment, noise_std=0.5, scale_std=0.2, max_shift=3)(
        X, training=True))
    if augment == "noise":
        assert (out - X).std() == pytest.approx(0.5, rel=0.05)
    elif augment == "scaling":
        factors = (out / X).reshape(len(X), -1)
        np.testing.assert_allclose(factors, np.broadcast_to(factors[:, :1], factors.shape),
                                   rtol=1e-4)  # one factor per window
        assert factors[:, 0].std() > 0.05 and abs(factors[:, 0].mean() - 1) < 0.15
    else:
        shifts = []
        for x, o in zip(X, out):
            ks = [k for k in range(-3, 4) if np.array_equal(o, np.roll(x, k, axis=0))]
            assert len(ks) == 1
            shifts.append(ks[0])
        assert len(set(shifts)) > 1


def test_augmented_training_is_reproducible_and_saves(standardized, tmp_path: Path):
    plain_cfg, fit, val, plain, _ = standardized  # the same run without the augmentation
    cfg = study(augment="noise+scaling+shift", standardize=True, patience=0)
    assert dataclasses.replace(cfg, augment="none") == plain_cfg
    first = train_run(cfg, fit, val, out=lambda s: None)
    second = train_run(cfg, fit, val, out=lambda s: None)
    assert first.history == second.history
    assert plain.history["loss"] != first.history["loss"]
    model = load_model(save_run(first, tmp_path, "aug")["model"])
    np.testing.assert_array_equal(model.predict(val.X, verbose=0),
                                  first.model.predict(val.X, verbose=0))


# --- the two backends: trained on JAX, exported with TensorFlow ------------------------------

_ON_TENSORFLOW = """
import json, sys, traceback
import numpy as np
from har_studies.deploy import export, runtime  # sets the TensorFlow backend
from har_studies import input_layers  # the study models' layers
from har_utils import backend, training
X = np.load(sys.argv[1])
models = {}
for name, keras_file, tflite_file in json.loads(sys.argv[2]):  # each on its own
    try:
        model = training.load_model(keras_file)
        proba = np.asarray(model.predict(X, verbose=0))
        result = export.export_tflite(model, tflite_file, batch_size=8)
        lite = runtime.TFLiteRunner(tflite_file).predict(X) if result.ok else None
        models[name] = {"keras": proba.tolist(), "ok": result.ok, "error": result.error,
                        "tflite": None if lite is None else lite.tolist()}
    except Exception:
        models[name] = {"ok": False, "error": traceback.format_exc()}
json.dump({"backend": backend.current(), "models": models}, open(sys.argv[3], "w"))
"""

ON_TENSORFLOW_CASES = [
    ("tiny_cnn", {}), ("cnn_lstm_paper", {}),
    # the beyond study's input layers together (the gravity frame's constant statistics once
    # made TensorFlow's rounding noise, scaled by 1e7, change the predictions by 0.15)
    ("cnn_lstm_paper", {"augment": "rotation", "max_angle": 45.0, "frame": "gravity",
                        "window_stats": True, "standardize": True, "ema": 0.99})]


def _on_tensorflow(data: tuple[Split, Split], folder: Path) -> dict:
    """Each case trained on JAX and saved, its JAX predictions, and what one TensorFlow
    process (starting TensorFlow is most of the time) made of every saved file: loaded,
    predicted, converted to TFLite and run, each case on its own."""
    import json
    import os
    import subprocess
    import sys

    from har_utils import backend

    fit = Split(*(a[:128] for a in data[0]))  # whole batches of 32: one compiled step each
    val = Split(*(a[:32] for a in data[1]))
    X = np.asarray(data[1].X[:20], np.float32)
    np.save(folder / "X.npy", X)
    jax_backend, on_jax, files = backend.current(), [], []
    for i, (model, inputs) in enumerate(ON_TENSORFLOW_CASES):
        result = train_run(study(model=model, epochs=1, patience=0, **inputs), fit, val,
                           out=lambda _: None)
        paths = save_run(result, folder, f"m{i}")
        on_jax.append(np.asarray(result.model.predict(X, verbose=0)).tolist())
        files.append((str(i), str(paths["model"]), str(folder / f"m{i}.tflite")))
    # as tests/conftest.py's isolated_dirs does for a test (a module fixture runs outside it)
    env = {**{k: v for k, v in os.environ.items() if k != "HAR_UCI_ZIP"},
           "KERAS_BACKEND": "tensorflow", "HAR_OFFLINE": "1",
           **{f"HAR_{kind.upper()}_DIR": str(folder / kind)
              for kind in ("data", "results", "figures")}}
    out = folder / "out.json"
    r = subprocess.run([sys.executable, "-c", _ON_TENSORFLOW, str(folder / "X.npy"),
                        json.dumps(files), str(out)],
                       env=env, capture_output=True, text=True, timeout=600)
    got = json.loads(out.read_text()) if r.returncode == 0 and out.exists() else None
    return {"jax_backend": jax_backend, "on_jax": on_jax, "returncode": r.returncode,
            "stderr": r.stderr[-3000:], "got": got}


@pytest.fixture(scope="module")
def on_tensorflow(data, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """:func:`_on_tensorflow` once per test session: under pytest-xdist the worker that comes
    first computes it and a worker given one of the cases later reads its record."""
    import json
    import os

    run_id = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    try:
        import fcntl
    except ImportError:  # no POSIX file locks: each worker on its own
        run_id = None
    if run_id is None:
        return _on_tensorflow(data, tmp_path_factory.mktemp("on_tensorflow"))
    shared = tmp_path_factory.getbasetemp().parent / f"on_tensorflow-{run_id}"  # all workers'
    shared.mkdir(exist_ok=True)
    record = shared / "record.json"
    with open(shared / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not record.exists():
            folder = tmp_path_factory.mktemp("on_tensorflow")
            record.write_text(json.dumps(_on_tensorflow(data, folder)))
        return json.loads(record.read_text())


@pytest.mark.slow
@pytest.mark.parametrize("model,inputs", ON_TENSORFLOW_CASES)
def test_a_model_trained_on_jax_loads_predicts_and_exports_on_tensorflow(
        on_tensorflow: dict, model: str, inputs: dict) -> None:
    """The deployment study loads the saved ``.keras`` file under TensorFlow (in its own
    process) and converts it to TFLite: the same predictions to 1e-5, before and after."""
    assert on_tensorflow["jax_backend"] == "jax"
    assert on_tensorflow["returncode"] == 0, on_tensorflow["stderr"]
    got = on_tensorflow["got"]
    assert got is not None and got["backend"] == "tensorflow"
    i = ON_TENSORFLOW_CASES.index((model, inputs))
    entry, on_jax = got["models"][str(i)], np.asarray(on_tensorflow["on_jax"][i])
    assert entry["ok"], entry["error"]
    np.testing.assert_allclose(np.asarray(entry["keras"]), on_jax, atol=1e-5)
    np.testing.assert_allclose(np.asarray(entry["tflite"]), on_jax, atol=1e-5)


def test_same_seed_and_threads_give_the_same_metrics_on_jax(data) -> None:
    """JAX on the CPU, one core (tests/conftest.py), the same seed: the same losses, accuracy
    and predictions, whatever ran before in the process."""
    from har_utils import backend
    from har_utils.threads import current_threads

    assert backend.current() == "jax" and current_threads()["intra_op"] == 1
    # two whole batches of 64 an epoch: shuffled, with dropout; one compiled step shape (the
    # compiling of a new model's steps, not the steps, is most of the time)
    fit, val = Split(*(a[:128] for a in data[0])), data[1]
    cfg = tiny(model="cnn_lstm_paper", epochs=2, patience=0, batch_size=64)
    a = train(cfg, fit, val, out=lambda _: None)
    b = train(cfg, fit, val, out=lambda _: None)
    assert a.history == b.history and len(a.history["val_loss"]) == 2
    np.testing.assert_array_equal(a.model.predict(val.X, verbose=0),
                                  b.model.predict(val.X, verbose=0))
