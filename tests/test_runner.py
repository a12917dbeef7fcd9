"""The experiment runner on small synthetic data: keys, the one store, reuse, resuming per
epoch, local worker processes and a Dask cluster of two worker processes."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from har_utils import config, training
from har_utils.data import HarDataset
from har_utils.io import HarError
from har_studies.experiments import runner
from har_studies.experiments.runner import Run
from synthetic_uci import synthetic_dataset

FOLD = (1, 3, 5)
FIT = tuple(s for s in config.TRAIN_SUBJECTS if s not in FOLD)


@pytest.fixture
def ds() -> HarDataset:
    return synthetic_dataset()


def tiny(seed: int = 0, epochs: int = 2, **kw: object) -> Run:
    return Run("tiny_cnn", seed, epochs, FIT, FOLD, name=f"tiny/seed{seed}", **kw)


@pytest.fixture(scope="module")
def stored_tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The result file of ``tiny()`` (uninterrupted, trained once for the tests of this
    module that start from it stored, or compare with it), in a store of its own."""
    store = tmp_path_factory.mktemp("tiny_store")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HAR_RESULTS_DIR", str(store))
        [r] = runner.execute([tiny()], synthetic_dataset(), ship_data=True,
                             backup_root=store / "b", log=lambda _: None)
        assert r["resumed_at_epoch"] == 0 and r["epochs_run"] == 2
        return runner.result_path(r["key"])


def store_tiny(stored_tiny: Path) -> dict:
    """``tiny()``'s stored result, copied into this test's store; the result."""
    path = runner.result_path(stored_tiny.stem)
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(stored_tiny, path)
    return json.loads(path.read_text())


def test_a_run_never_validates_on_the_test_set_or_its_own_fit_subjects() -> None:
    with pytest.raises(ValueError, match="training subjects"):
        Run("tiny_cnn", fit_subjects=(1, 3), val_subjects=(2,))  # 2 is a test subject
    with pytest.raises(ValueError, match="outside the fit subjects"):
        Run("tiny_cnn", fit_subjects=(1, 3, 5), val_subjects=(5,))
    with pytest.raises(ValueError, match="early stopping needs"):
        Run("tiny_cnn", patience=3)


def test_the_key_is_the_configuration_and_the_data_not_the_name(ds: HarDataset) -> None:
    c = runner.checksum(ds)
    assert tiny().key(c) == Run("tiny_cnn", 0, 2, FIT, FOLD, study="other", name="x").key(c)
    assert tiny().key(c) != tiny(seed=1).key(c) != tiny(epochs=3).key(c)
    assert tiny().key(c) != tiny().key("another-checksum")
    assert tiny().key(c) != Run("tiny_cnn", 0, 2, FIT, FOLD, model_kwargs={"filters": 4}).key(c)
    with pytest.raises(ValueError, match="no hyper-parameter"):
        Run("tiny_cnn", model_kwargs={"units": 3}).key(c)


def test_execute_stores_curves_and_test_outputs_and_reuses_them(
        ds: HarDataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lines: list[str] = []
    [r] = runner.execute([tiny(test=True)], ds, ship_data=True, backup_root=tmp_path / "b",
                         log=lines.append)
    path = runner.result_path(r["key"])
    assert path.parent == config.results_dir() / "runs" and path.exists()
    h = r["history"]
    assert len(h["val_accuracy"]) == len(h["val_macro_f1"]) == len(h["loss"]) == 2
    assert all(0 <= v <= 1 for v in h["val_macro_f1"])
    proba = np.asarray(r["test_proba"])
    assert proba.shape == (len(ds.test.y), 6)
    assert np.allclose(proba.sum(axis=1), 1, atol=1e-3)
    assert r["y_pred"] == training.ACTIVITY_IDS[proba.argmax(axis=1)].tolist()
    assert r["test"]["accuracy"] == pytest.approx(np.mean(np.asarray(r["y_pred"]) == ds.test.y))
    assert r["worker"]["pid"] == os.getpid() and r["worker"]["address"] == "local"
    assert r["device"] == "CPU" and r["data"]["checksum_sha256"] == "synthetic"
    assert not (tmp_path / "b" / r["key"]).exists() or r["resumed_at_epoch"] == 0
    monkeypatch.setattr(runner, "run_one", lambda *a, **k: pytest.fail("retrained"))
    again = runner.execute([tiny(test=True)], ds, ship_data=True, log=lines.append)
    assert again == [r] and "1 stored, 0 to train" in lines[-2]


def test_a_failing_run_does_not_stop_the_others(ds: HarDataset, tmp_path: Path) -> None:
    bad = tiny(epochs=1, model_kwargs={"kernel_size": 500})  # longer than a window
    good = tiny(seed=1, epochs=1)
    with pytest.raises(HarError, match="1 run"):
        runner.execute([bad, good], ds, ship_data=True, backup_root=tmp_path, log=lambda _: None)
    assert runner.load(good, ds) is not None and runner.load(bad, ds) is None


def test_fold_runs_never_score_the_test_set(ds: HarDataset, tmp_path: Path) -> None:
    [r] = runner.execute([tiny(test=False)], ds, ship_data=True, backup_root=tmp_path)
    assert "test" not in r and "test_proba" not in r and "y_pred" not in r
    assert r["config"]["val_subjects"] == list(FOLD)


def test_the_thread_count_is_part_of_a_run(ds: HarDataset) -> None:
    c = runner.checksum(ds)
    assert tiny().config()["threads"] == 1  # every field is in the key, defaults too
    assert tiny(threads=0).config()["threads"] == 0 and tiny(threads=2).key(c) != tiny().key(c)
    assert tiny(threads=0).key(c) != tiny().key(c)
    with pytest.raises(ValueError, match="threads"):
        tiny(threads=-1)


def test_watch_test_scores_the_test_subjects_each_epoch_and_steers_nothing(
        ds: HarDataset, tmp_path: Path) -> None:
    c = runner.checksum(ds)
    paper = Run("tiny_cnn", 0, 2, watch_test=True)
    assert Run("tiny_cnn", 0, 2).config()["watch_test"] is False
    assert paper.key(c) != Run("tiny_cnn", 0, 2).key(c)
    with pytest.raises(ValueError, match="watch_test"):
        Run("tiny_cnn", 0, 2, FIT, FOLD, watch_test=True)
    with pytest.raises(ValueError, match="watch_test"):
        Run("tiny_cnn", 0, 2, watch_test=True, test=False)
    [r] = runner.execute([paper], ds, ship_data=True, backup_root=tmp_path)
    assert len(r["history"]["val_accuracy"]) == r["epochs_run"] == 2
    assert r["history"]["val_accuracy"][-1] == pytest.approx(r["test"]["accuracy"], abs=1e-6)


def test_a_damaged_result_is_trained_again(ds: HarDataset, tmp_path: Path,
                                          stored_tiny: Path) -> None:
    r = store_tiny(stored_tiny)
    path = runner.result_path(r["key"])
    assert path == runner.result_path(tiny().key(runner.checksum(ds)))
    path.write_text(path.read_text()[:50])
    [again] = runner.execute([tiny()], ds, ship_data=True, backup_root=tmp_path)
    assert json.loads(path.read_text())["key"] == again["key"] == r["key"]
    assert again["history"] == r["history"]  # trained again, as before


def _interrupt_after(monkeypatch: pytest.MonkeyPatch, n: int) -> None:
    """Make the next training raise after its ``n``-th epoch, as if the machine went away."""
    from har_studies.experiments.fitting import EpochScores

    calls = {"n": 0}
    original = EpochScores.on_epoch_end

    def crash_once(self: EpochScores, epoch: int, logs: dict | None = None) -> None:
        original(self, epoch, logs)  # its scores written, the backup not yet
        calls["n"] += 1
        if calls["n"] == n:
            raise RuntimeError("killed")

    monkeypatch.setattr(EpochScores, "on_epoch_end", crash_once)


def _whole_then_cut(run: Run, ds: HarDataset, tmp_path: Path,
                    monkeypatch: pytest.MonkeyPatch, n: int) -> dict:
    """``run`` uninterrupted (its result, stored under tmp_path/whole, backups in b1), then
    the same run killed at its ``n``-th epoch end (stored under tmp_path/cut, backups in b2;
    HAR_RESULTS_DIR stays there)."""
    monkeypatch.setenv("HAR_RESULTS_DIR", str(tmp_path / "whole"))
    [whole] = runner.execute([run], ds, ship_data=True, backup_root=tmp_path / "b1")
    monkeypatch.setenv("HAR_RESULTS_DIR", str(tmp_path / "cut"))
    with monkeypatch.context() as m:
        _interrupt_after(m, n)
        with pytest.raises(RuntimeError, match="1 run\\(s\\) failed"):
            runner.execute([run], ds, ship_data=True, backup_root=tmp_path / "b2")
    return whole


# Batches of 72: the 216 fit windows in 3 whole batches, one train step to compile, not two
# (early stopping keeps tiny_cnn's 32: the steps the other tests compiled for it).
@pytest.mark.parametrize("settings", [
    {},  # early stopping (patience 2) on the fold: its wait, best and best weights resume
    # dropout: the zoo's plain CNN, narrow (its dropout layer draws as the paper model's do;
    # the paper model's LSTMs took most of a minute to compile)
    {"model": "cnn", "model_kwargs": {"filters": 4, "dense_units": 8},
     "train": {"batch_size": 72}, "patience": 0},
    {"train": {"augment": "noise+scaling+shift", "batch_size": 72},
     "patience": 0},  # augmentation draws
    # rotations, the gravity frame, window statistics, a cosine schedule, the weight average
    {"train": {"augment": "rotation", "frame": "gravity", "window_stats": True,
               "lr_schedule": "cosine", "ema": 0.9, "batch_size": 72}, "patience": 0},
], ids=["early-stopping", "dropout", "augmentation", "orientation-schedule-average"])
def test_an_interrupted_and_resumed_run_equals_the_uninterrupted_one(
        ds: HarDataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        settings: dict) -> None:
    settings = {"patience": 2, **settings}
    model = settings.pop("model", "tiny_cnn")
    run = Run(model, 0, 4, FIT, FOLD, name="resumed", test=True, **settings)
    whole = _whole_then_cut(run, ds, tmp_path, monkeypatch, 2)
    assert (tmp_path / "b2" / whole["key"] / "state").is_dir()  # the backup it resumes from
    [cut] = runner.execute([run], ds, ship_data=True, backup_root=tmp_path / "b2")
    # killed inside epoch 2's end (before its backup): epoch 2 runs again
    assert whole["resumed_at_epoch"] == 0 and cut["resumed_at_epoch"] == 1
    assert cut["epochs_run"] == whole["epochs_run"] and cut["best_epoch"] == whole["best_epoch"]
    assert cut["history"] == whole["history"]
    assert cut["test_proba"] == whole["test_proba"] and cut["test"] == whole["test"]
    assert not (tmp_path / "b2" / whole["key"]).exists()  # finished: the backup is gone


def test_a_backup_whose_scored_epochs_lag_its_state_is_not_trusted(
        ds: HarDataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cut between the two writes of an epoch's end (or a damaged file) leaves a state
    further on than the scored epochs: resuming would lose epochs from the history, so the
    run starts from scratch and equals the uninterrupted one."""
    run = Run("tiny_cnn", 0, 4, FIT, FOLD, name="lagging", test=True, patience=0)
    whole = _whole_then_cut(run, ds, tmp_path, monkeypatch, 3)
    backup = tmp_path / "b2" / whole["key"]
    rows = json.loads((backup / "epochs.json").read_text())
    assert len(rows) >= 2
    (backup / "epochs.json").write_text(json.dumps(rows[:1]))  # one scored epoch, state at 2
    lines: list[str] = []
    [again] = runner.execute([run], ds, ship_data=True, backup_root=tmp_path / "b2",
                             log=lines.append)
    assert again["resumed_at_epoch"] == 0 and again["history"] == whole["history"]
    assert again["test_proba"] == whole["test_proba"]
    (backup / "state").mkdir(parents=True)
    (backup / "state" / "training_metadata.json").write_text("{not json")
    assert runner.resume_point(backup, log=lines.append) == 0 and not backup.exists()
    assert any("training from scratch" in line for line in lines)


def test_a_kill_between_the_weights_and_the_epoch_count_resumes_consistently(
        ds: HarDataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        stored_tiny: Path) -> None:
    """Keras wrote an epoch's weights, then its epoch count: a kill between the two left
    epoch 2's weights under epoch 1's count, and the run resumed them an epoch behind (its
    result differed). The count is now committed last, naming its weights by checksum: the
    run resumes at epoch 1 with epoch 1's weights and equals the uninterrupted one."""
    import keras

    run = Run("tiny_cnn", 0, 2, FIT, FOLD, name="torn", test=True, patience=0)
    whole = json.loads(stored_tiny.read_text())  # the same run uninterrupted (another store)
    assert whole["key"] == run.key(runner.checksum(ds)) and whole["resumed_at_epoch"] == 0
    monkeypatch.setenv("HAR_RESULTS_DIR", str(tmp_path / "cut"))
    saved = {"n": 0}
    original = keras.Model.save_weights

    def killed_after_the_second(self: keras.Model, *args: object, **kwargs: object) -> None:
        original(self, *args, **kwargs)  # epoch 2's weights on disk, its count not yet
        saved["n"] += 1
        if saved["n"] == 2:
            raise RuntimeError("killed")

    with monkeypatch.context() as m:
        m.setattr(keras.Model, "save_weights", killed_after_the_second)
        with pytest.raises(RuntimeError, match="1 run\\(s\\) failed"):
            runner.execute([run], ds, ship_data=True, backup_root=tmp_path / "b2")
    assert saved["n"] == 2
    lines: list[str] = []
    [cut] = runner.execute([run], ds, ship_data=True, backup_root=tmp_path / "b2",
                           log=lines.append)
    assert cut["resumed_at_epoch"] == 1 and cut["epochs_run"] == whole["epochs_run"] == 2
    assert cut["history"] == whole["history"]
    assert cut["test_proba"] == whole["test_proba"] and cut["test"] == whole["test"]
    # a backup written before (weights and count side by side, no checksum) is not trusted
    backup = tmp_path / "legacy"
    _backup_at_epoch_one(backup, b"", legacy=True)
    assert runner.resume_point(backup, log=lines.append) == 0 and not backup.exists()
    assert "training from scratch" in lines[-1] and "checksum" in lines[-1]


def test_a_worker_whose_runner_died_stops_training() -> None:
    """The watch a local worker's run gets: silent while the runner is its parent; once the
    parent is another process (the runner died), the worker exits before the next backup."""
    import subprocess
    import sys

    runner.parent_watch(os.getppid()).on_train_batch_end(0)  # our parent: nothing happens
    code = ("import os\nfrom har_studies.experiments import runner\n"
            "runner.parent_watch(os.getppid() + 100000).on_train_batch_end(0)\n"
            "print('still training')")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=300, cwd=config.PROJECT_ROOT)
    assert r.returncode == 3 and "still training" not in r.stdout


def test_each_epoch_draws_its_own_randomness(ds: HarDataset, tmp_path: Path) -> None:
    """EpochSeeds must not make every epoch shuffle alike: the loss keeps changing, and two
    seeds give two runs."""
    a, b = runner.execute([tiny(seed=0, epochs=3, test=True), tiny(seed=1, epochs=3, test=True)],
                          ds, ship_data=True, backup_root=tmp_path)
    assert a["history"]["loss"] != b["history"]["loss"]
    assert len(set(a["history"]["loss"])) == 3


def test_a_claimed_run_is_trained_once_by_its_runner(
        ds: HarDataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two runners on one store: the second waits for the run the first claimed (here: a
    live process holds the claim and the result appears), then takes over a claim whose
    runner died."""
    import subprocess
    import threading

    run = tiny(test=True)
    key = run.key(runner.checksum(ds))
    other = subprocess.Popen(["sleep", "30"])
    try:
        path = runner.lock_path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"host": os.uname().nodename, "pid": other.pid}))
        assert runner.claim_alive(key) and not runner.claim(key)
        stored = {"key": key, "history": {}, "by": "the other runner"}

        def finish() -> None:  # the other runner stores its result and drops its claim
            runner.result_path(key).write_text(json.dumps(stored))
            runner.release(key)

        threading.Timer(0.5, finish).start()
        lines: list[str] = []
        [got] = runner.execute([run], ds, ship_data=True, backup_root=tmp_path,
                               poll_seconds=0.05, log=lines.append)
        assert got == stored  # read, not trained again
        assert any("claimed by another runner" in line for line in lines)
    finally:
        other.kill()
        other.wait()
    # a claim whose process is gone is stale: taken over and trained here
    runner.result_path(key).unlink()
    runner.lock_path(key).write_text(json.dumps({"host": os.uname().nodename, "pid": other.pid}))
    assert not runner.claim_alive(key)
    [trained] = runner.execute([run], ds, ship_data=True, backup_root=tmp_path)
    assert trained["epochs_run"] == 2 and not runner.lock_path(key).exists()


def test_a_failed_write_keeps_the_other_runs(ds: HarDataset, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    real = runner.write_json_atomic
    bad = tiny(seed=1).key(runner.checksum(ds))

    def flaky(path: Path, doc: object) -> Path:
        if Path(path).stem == bad:
            raise OSError("disk full")
        return real(path, doc)

    monkeypatch.setattr(runner, "write_json_atomic", flaky)
    with pytest.raises(RuntimeError, match="(?s)1 run\\(s\\) failed.*disk full"):
        runner.execute([tiny(seed=0), tiny(seed=1)], ds, ship_data=True, backup_root=tmp_path)
    assert runner.result_path(tiny(seed=0).key(runner.checksum(ds))).exists()
    assert not runner.lock_path(bad).exists()


def test_runs_record_their_backend_and_key_it(ds: HarDataset, stored_tiny: Path) -> None:
    from har_utils import backend

    r = json.loads(stored_tiny.read_text())  # tiny() as the runner stored it
    assert r["backend"] == backend.TRAINING == "jax"
    assert r["version"] == backend.version("jax") and r["device"].startswith(("CPU", "GPU"))
    assert r["config"]["engine"] == "jax"
    checksum = runner.checksum(ds)
    assert tiny(backend="tensorflow").key(checksum) != tiny().key(checksum)
    assert tiny(backend="tensorflow").config()["engine"] == "tensorflow"
    with pytest.raises(ValueError, match="backend"):
        tiny(backend="torch")


def test_classical_runs_choose_nothing_on_the_test_set(ds: HarDataset, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from har_utils import data

    feats = np.random.default_rng(0).normal(size=(len(ds.train.y), 5)) + ds.train.y[:, None]
    ftest = np.random.default_rng(1).normal(size=(len(ds.test.y), 5)) + ds.test.y[:, None]
    monkeypatch.setattr(data, "features", lambda _ds: (feats, ftest, list("abcde"), "toy"))
    fold, final = runner.execute(
        [Run("logreg_features", 0, 1, FIT, FOLD, test=False, model_kwargs={"C": 0.1}),
         Run("logreg_features", 0, 1, model_kwargs={"C": 0.1})], ds, ship_data=True)
    assert "test" not in fold and 0 <= fold["history"]["val_accuracy"][0] <= 1
    assert final["test"]["accuracy"] > 0.5 and np.asarray(final["test_proba"]).shape[1] == 6
    assert final["blas_threads"] == 1


def test_classical_runs_fit_with_the_runs_blas_threads(ds: HarDataset,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker's own BLAS default (2 here in a sequential runner, 1 in a loky worker) must
    not decide the fit: ``Run.threads`` does, and a count other than 1 is in the key."""
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_info

    from har_utils import data

    seen: list[set[int]] = []
    real_fit = LogisticRegression.fit

    def spy(self: LogisticRegression, *a: object, **k: object) -> LogisticRegression:
        seen.append({p["num_threads"] for p in threadpool_info()})
        return real_fit(self, *a, **k)

    feats = np.random.default_rng(0).normal(size=(len(ds.train.y), 5)) + ds.train.y[:, None]
    ftest = np.random.default_rng(1).normal(size=(len(ds.test.y), 5)) + ds.test.y[:, None]
    monkeypatch.setattr(data, "features", lambda _ds: (feats, ftest, list("abcde"), "toy"))
    monkeypatch.setattr(LogisticRegression, "fit", spy)
    one = Run("logreg_features", 0, 1, FIT, FOLD, test=False, model_kwargs={"C": 0.1})
    two = Run("logreg_features", 0, 1, FIT, FOLD, test=False, model_kwargs={"C": 0.1}, threads=2)
    runner.execute([one, two], ds, ship_data=True)
    assert seen[0] == {1} and max(seen[1]) <= 2
    assert one.key("x") != two.key("x") and one.config()["engine"] == "scikit-learn"
    # a classical run needs no Keras backend: its key does not depend on one
    assert one.key("x") == Run("logreg_features", 0, 1, FIT, FOLD, test=False,
                               model_kwargs={"C": 0.1}, backend="tensorflow").key("x")


@pytest.mark.slow
def test_local_processes_and_a_dask_cluster_give_the_same_results(
        ds: HarDataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        stored_tiny: Path) -> None:
    from distributed import LocalCluster

    # stored_tiny compiled this model here: each worker process reads it from the cache
    runs = [tiny(seed=0, test=True), tiny(seed=1, test=True)]
    monkeypatch.setenv("HAR_RESULTS_DIR", str(tmp_path / "local"))
    local = runner.execute(runs, ds, workers=2, ship_data=True, backup_root=tmp_path / "bl")
    monkeypatch.setenv("HAR_RESULTS_DIR", str(tmp_path / "dask"))
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        addresses = set(cluster.workers_address if hasattr(cluster, "workers_address") else
                        [w.worker_address for w in cluster.workers.values()])
        remote = runner.execute(runs, ds, scheduler=cluster.scheduler_address,
                                ship_data=True, backup_root=tmp_path / "bd")
    assert (tmp_path / "dask" / "runs" / f"{remote[0]['key']}.json").exists()
    for lo, re_ in zip(local, remote):
        assert re_["worker"]["address"] in addresses and re_["worker"]["pid"] != os.getpid()
        assert lo["worker"]["pid"] != os.getpid()  # loky worker processes, not this one
        assert re_["worker"]["threads"]["intra_op"] == lo["worker"]["threads"]["intra_op"] == 1
        assert re_["key"] == lo["key"]
        assert re_["history"] == lo["history"]
        assert re_["test"]["accuracy"] == lo["test"]["accuracy"]
        assert re_["y_pred"] == lo["y_pred"]


_RUNNER = """
import json, sys
sys.path.insert(0, sys.argv[1])
from synthetic_uci import synthetic_dataset
from har_studies.experiments import runner
from har_studies.experiments.runner import Run
from har_utils import config
fold = (1, 3, 5)
fit = tuple(s for s in config.TRAIN_SUBJECTS if s not in fold)
runs = [Run("tiny_cnn", s, 3, fit, fold, name=f"tiny/seed{s}") for s in range(4)]
results = runner.execute(runs, synthetic_dataset(), ship_data=True, backup_root=sys.argv[2],
                         poll_seconds=0.2)
print(json.dumps([r["history"]["val_accuracy"] for r in results]))
"""


@pytest.mark.slow
def test_two_runners_on_one_store_train_each_run_once(tmp_path: Path,
                                                     stored_tiny: Path) -> None:
    """Two runner processes started together on one results folder: every run is trained
    by exactly one of them, the other reads it; both return the same results."""
    import subprocess
    import sys

    # stored_tiny compiled the runs' model here: both runners read it from the cache
    tests = str(Path(__file__).parent)
    procs = [subprocess.Popen([sys.executable, "-c", _RUNNER, tests, str(tmp_path / f"b{i}")],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONHASHSEED": "0"})
             for i in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert all(p.returncode == 0 for p in procs), [e[-2000:] for _, e in outs]
    trained = [line for out, _ in outs for line in out.splitlines()
               if line.startswith("[runner ") and "epoch(s)" in line]
    assert len(trained) == 4, trained  # each of the 4 runs once, in one process or the other
    assert outs[0][0].splitlines()[-1] == outs[1][0].splitlines()[-1]
    assert not list((tmp_path / "results" / "runs").glob("*.lock"))


def test_classical_runs_share_the_keras_workers_of_their_thread_count() -> None:
    keras_run, other = tiny(), tiny(threads=2)
    logreg = Run("logreg_features", 0, 1, FIT, FOLD, test=False, model_kwargs={"C": 0.1})
    alone = Run("logreg_features", 0, 1, FIT, FOLD, test=False, model_kwargs={"C": 0.1}, threads=3)
    runs = [keras_run, other, logreg, alone]
    assert runner.process_group(logreg, runs) == runner.process_group(keras_run, runs) == ("jax", 1)
    assert runner.process_group(other, runs) == ("jax", 2)
    assert runner.process_group(alone, runs) == ("", 3)


def test_rekey_brings_an_old_key_run_to_the_one_key(ds: HarDataset, tmp_path: Path,
                                                    stored_tiny: Path) -> None:
    import hashlib

    from har_studies.experiments import rekey

    new = store_tiny(stored_tiny)  # tiny(threads=1), as the runner stored it
    assert new["key"] == tiny(threads=1).key(runner.checksum(ds))
    path = runner.result_path(new["key"])
    # the same run as the code before the one key stored it: defaults left out of its config
    old = json.loads(path.read_text())
    old["config"] = {k: v for k, v in old["config"].items()
                     if k not in ("engine", "watch_test", "threads")} | {"backend": "jax"}
    tc = old["config"]["train_config"]
    for k in ("standardize", "augment", "noise_std", "scale_std", "max_shift"):
        tc.pop(k)
    blob = json.dumps({**old["config"], "data_sha256": runner.checksum(ds)}, sort_keys=True)
    old["key"] = hashlib.sha256(blob.encode()).hexdigest()[:16]
    old_path = path.with_name(f"{old['key']}.json")
    old_path.write_text(json.dumps(old))
    path.unlink()
    assert rekey.main() == 0
    assert not old_path.exists() and json.loads(path.read_text())["key"] == new["key"]
    assert json.loads(path.read_text())["config"] == new["config"]
    old_path.write_text(json.dumps(old))  # brought in a second time: the copy goes
    assert rekey.main() == 0 and not old_path.exists() and path.exists()
    old_path.write_text(json.dumps(old | {"history": {}}))  # another result under that key
    with pytest.raises(HarError, match="other content"):
        rekey.main()


def test_the_other_estimators_fit_through_the_runner(ds: HarDataset, tmp_path: Path) -> None:
    """RBF SVM and gradient boosting on the window features, as the logistic regression:
    fold and test scores, probabilities for ensembles, the estimator in the key."""
    runs = [Run("svm_rbf_features", 0, 1, FIT, FOLD, model_kwargs={"C": 10.0}),
            Run("hgb_features", 0, 1, FIT, FOLD, model_kwargs={"max_iter": 20})]
    assert runs[0].key("x") != Run("svm_rbf_features", 0, 1, FIT, FOLD).key("x")
    for r in runner.execute(runs, ds, ship_data=True, backup_root=tmp_path):
        assert 0 <= r["history"]["val_accuracy"][0] <= 1
        assert np.allclose(np.sum(r["test_proba"], axis=1), 1, atol=1e-3)
        assert r["config"]["estimator"].startswith("StandardScaler + ")
    again = runner.run_one(runs[1], ds, runner.checksum(ds))
    assert again["test_proba"] == json.loads(runner.result_path(again["key"]).read_text())["test_proba"]
    with pytest.raises(ValueError, match="no hyper-parameter"):
        runner.estimator(Run("hgb_features", model_kwargs={"C": 1.0}))


def test_a_resumed_runs_seconds_count_the_epochs_before_its_restart() -> None:
    whole = {"train_seconds": 100.0, "seconds_per_epoch": 2.0, "resumed_at_epoch": 0}
    resumed = {"train_seconds": 40.0, "seconds_per_epoch": 4.0, "resumed_at_epoch": 30}
    assert runner.run_seconds(whole) == 100.0
    assert runner.run_seconds(resumed) == 40.0 + 30 * 4.0
    assert runner.run_seconds({"train_seconds": 5.0}) == 5.0  # classical: no epochs


def test_runs_for_the_committed_store_need_a_clean_commit(
        ds: HarDataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Uncommitted code refuses to store a run in the committed results/runs, before any
    training; ``--allow-dirty`` (``HAR_ALLOW_DIRTY=1``) stores it with the files recorded.
    Changed outputs (results, docs, ...) are not code; another store is not checked."""
    from har_utils import config

    store = Path(os.environ["HAR_RESULTS_DIR"])
    monkeypatch.setattr(runner, "uncommitted_code", lambda: ["har_utils/models.py"])
    assert runner.execute([tiny()], ds, ship_data=True, backup_root=tmp_path / "b0")
    monkeypatch.setattr(config, "COMMITTED_RESULTS_DIR", store)
    with pytest.raises(HarError, match="must be trained from a clean commit") as err:
        runner.execute([tiny(seed=1)], ds, ship_data=True, backup_root=tmp_path / "b1")
    assert "--allow-dirty" in err.value.fix and not runner.stored(tiny(seed=1).key(
        runner.checksum(ds)))
    monkeypatch.setenv("HAR_ALLOW_DIRTY", "1")
    [r] = runner.execute([tiny(seed=1)], ds, ship_data=True, backup_root=tmp_path / "b2")
    assert r["uncommitted_code"] == ["har_utils/models.py"]
    monkeypatch.delenv("HAR_ALLOW_DIRTY")
    assert runner.execute([tiny(seed=1)], ds, ship_data=True)  # stored: nothing to train
    monkeypatch.setattr(runner, "uncommitted_code", lambda: [])
    [clean] = runner.execute([tiny(seed=2)], ds, ship_data=True, backup_root=tmp_path / "b3")
    assert "uncommitted_code" not in clean


def test_uncommitted_code_ignores_changed_outputs(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess

    from har_utils import config

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    git("init", "-q")
    for rel in ("results/cv/summary.json", "docs/cv.md", "har_studies/x.py"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("1\n")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x")
    monkeypatch.setattr(config, "PROJECT_ROOT", tmp_path)
    (tmp_path / "results/cv/summary.json").write_text("2\n")
    (tmp_path / "docs/cv.md").write_text("2\n")
    (tmp_path / "untracked.py").write_text("2\n")
    assert runner.uncommitted_code() == []
    (tmp_path / "har_studies/x.py").write_text("2\n")
    assert runner.uncommitted_code() == ["har_studies/x.py"]


# --- one run, one backup; claims; workers that end with their runner ---------------------

def fake_result(key: str) -> dict:
    """What a worker returns for a run, without training it."""
    return {"key": key, "history": {}, "epochs_run": 1, "wall_seconds": 0.0,
            "worker": {"address": "local", "pid": os.getpid()}}


def test_each_store_keeps_its_own_backups(ds: HarDataset, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Two runners on two stores never share a resume backup (they collided in one folder
    under build/): a run's backup lives in its store, ``<store>/runs/.backup/<key>``."""
    roots: list[Path] = []

    def spy(key: str, run: Run, payload: object, expected: str, backup_root: str,
            *rest: object) -> tuple:
        roots.append(Path(backup_root))
        return key, fake_result(key), None

    monkeypatch.setattr(runner, "guarded_run", spy)
    for store in ("one", "two"):
        monkeypatch.setenv("HAR_RESULTS_DIR", str(tmp_path / store))
        runner.execute([tiny()], ds, ship_data=True, log=lambda _: None)
    assert roots == [tmp_path / "one" / "runs" / ".backup", tmp_path / "two" / "runs" / ".backup"]
    assert runner.backup_dir() == tmp_path / "two" / "runs" / ".backup"
    assert not (config.BUILD_DIR / "runs_backup").exists() or all(
        not r.is_relative_to(config.BUILD_DIR) for r in roots)


def _backup_at_epoch_one(backup: Path, weights: bytes, legacy: bool = False) -> Path:
    """A backup at epoch 1 holding ``weights``, committed as the runner does (its count
    naming the weights and their checksum), or with ``legacy`` as Keras wrote it (none)."""
    import hashlib

    (backup / "state").mkdir(parents=True)
    (backup / "epochs.json").write_text('[{"loss": 1.0}]')
    path = backup / "state" / ("latest.weights.h5" if legacy else "epoch-00001.weights.h5")
    path.write_bytes(weights)
    meta = {"epoch": 1, "batch": 0} if legacy else {
        "epoch": 1, "batch": 0, "weights": path.name,
        "weights_sha256": hashlib.sha256(weights).hexdigest()}
    (backup / "state" / "training_metadata.json").write_text(json.dumps(meta))
    return path


def test_a_damaged_backup_is_discarded_with_a_warning(
        ds: HarDataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Weights cut short or not HDF5 at all: every retry failed with an HDF5 traceback; the
    backup is removed with a warning naming the file and the run starts from scratch."""
    import h5py

    good = tmp_path / "good.h5"
    with h5py.File(good, "w") as f:
        f.create_dataset("w", data=np.arange(50_000, dtype=np.float32))
    whole = good.read_bytes()
    for i, damaged in enumerate([whole[:len(whole) // 2], b"\x00garbage" * 100, b""]):
        backup = tmp_path / f"b{i}"
        weights = _backup_at_epoch_one(backup, damaged)
        lines: list[str] = []
        assert runner.resume_point(backup, log=lines.append) == 0 and not backup.exists()
        assert len(lines) == 1 and lines[0].startswith("warning: backup ")
        assert config.shown(weights) in lines[0] and "training from scratch" in lines[0]
    intact = _backup_at_epoch_one(tmp_path / "ok", whole).parent.parent
    assert runner.resume_point(intact, log=pytest.fail) == 1  # an intact one resumes
    # through the runner: a real run cut after its first epoch, its weights then damaged
    run = tiny(epochs=2)
    with monkeypatch.context() as m:
        _interrupt_after(m, 2)
        with pytest.raises(RuntimeError, match="1 run\\(s\\) failed"):
            runner.execute([run], ds, ship_data=True, log=lambda _: None)
    backup = runner.backup_dir() / run.key(runner.checksum(ds))
    from har_studies.experiments.fitting import committed_backup

    epoch, weights, why = committed_backup(backup / "state")
    assert epoch == 1 and why is None and weights is not None
    weights.write_bytes(weights.read_bytes()[:300])
    capsys.readouterr()
    [r] = runner.execute([run], ds, ship_data=True, log=lambda _: None)
    assert r["resumed_at_epoch"] == 0 and r["epochs_run"] == 2 and not backup.exists()
    said = capsys.readouterr().out  # the run's own log (its worker's output)
    assert f"warning: backup {config.shown(backup)}" in said and config.shown(weights) in said
    assert "training from scratch" in said


@pytest.mark.parametrize("content", ["", "{not json", "[]", '{"host": "x"}'],
                         ids=["empty", "not-json", "not-an-object", "no-pid"])
def test_an_unreadable_claim_is_stale_after_a_bounded_wait(
        ds: HarDataset, content: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A claim file left empty or unreadable (its runner died while writing it) made the
    runner wait forever: after CLAIM_UNREADABLE_SECONDS it is stale, said, and taken over."""
    import time

    monkeypatch.setattr(runner, "CLAIM_UNREADABLE_SECONDS", 0.5)
    monkeypatch.setattr(runner, "guarded_run",
                        lambda key, *a: (key, fake_result(key), None))
    run = tiny()
    lock = runner.lock_path(run.key(runner.checksum(ds)))
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_text(content)
    lines: list[str] = []
    t0 = time.monotonic()
    [r] = runner.execute([run], ds, ship_data=True, log=lines.append, poll_seconds=0.05)
    assert r["key"] == run.key(runner.checksum(ds)) and time.monotonic() - t0 < 30
    assert any("claimed by another runner" in line for line in lines)
    stale = [line for line in lines if "treated as stale" in line]
    assert len(stale) == 1 and config.shown(lock) in stale[0], lines
    assert not lock.exists()


def test_a_store_outside_a_read_only_checkout_needs_nothing_written_in_it(
        ds: HarDataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With HAR_RESULTS_DIR elsewhere, a checkout whose build/ cannot be written (read-only)
    was refused for build/runs_backup; the backups live with the store now, so it runs."""
    (tmp_path / "checkout").write_text("")  # nothing can be made under a file, root or not
    monkeypatch.setattr(config, "BUILD_DIR", tmp_path / "checkout" / "build")
    monkeypatch.setenv("HAR_RESULTS_DIR", str(tmp_path / "elsewhere"))
    roots: list[str] = []
    monkeypatch.setattr(runner, "guarded_run",
                        lambda key, run, payload, expected, root, *a:
                        (roots.append(root), (key, fake_result(key), None))[1])
    [r] = runner.execute([tiny()], ds, ship_data=True, log=lambda _: None)
    assert r["key"] and Path(roots[0]).is_relative_to(tmp_path / "elsewhere")
    if os.geteuid() != 0:  # the same with permissions (root ignores them)
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        try:
            monkeypatch.setattr(config, "BUILD_DIR", ro / "build")
            [again] = runner.execute([tiny(seed=1)], ds, ship_data=True, log=lambda _: None)
            assert again["key"]
        finally:
            ro.chmod(0o755)


_ORPHANS = """
import os, sys, time
sys.path.insert(0, sys.argv[1])
from synthetic_uci import synthetic_dataset
from har_studies.experiments import runner
from har_studies.experiments.runner import Run

def busy(key, *args):  # a run that takes long (sent by value: defined in __main__)
    # one write(2) of a short line is atomic on a pipe; print() may write the text and its
    # newline apart, and the two workers' lines then interleave ("29029worker 29030")
    os.write(1, f"worker {os.getpid()}\\n".encode())
    time.sleep(300)

runner.guarded_run = busy
runs = [Run("tiny_cnn", s, 1, name=f"tiny/seed{s}") for s in range(2)]
runner.execute(runs, synthetic_dataset(), workers=2)
"""


def test_local_workers_end_with_their_runner(tmp_path: Path) -> None:
    """A runner killed (SIGKILL: no cleanup at all) leaves no worker running on: each local
    worker ends within a second or so, busy or idle."""
    import queue
    import signal
    import subprocess
    import sys
    import threading
    import time

    def alive(pid: int) -> bool:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return False
        return state not in ("Z", "X")  # a zombie has ended (its new parent reaps it)

    err = (tmp_path / "stderr.txt").open("w")
    proc = subprocess.Popen([sys.executable, "-c", _ORPHANS, str(Path(__file__).parent)],
                            stdout=subprocess.PIPE, stderr=err, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout], daemon=True).start()
    pids: set[int] = set()
    try:
        deadline = time.monotonic() + 120
        while len(pids) < 2 and time.monotonic() < deadline and proc.poll() is None:
            try:
                line = lines.get(timeout=0.5)
            except queue.Empty:
                continue
            if line.startswith("worker "):
                pids.add(int(line.split()[1]))
        assert len(pids) == 2, (tmp_path / "stderr.txt").read_text()[-3000:]
        assert all(alive(p) for p in pids)
    finally:
        proc.send_signal(signal.SIGKILL)  # a no-op once the runner has ended by itself
        proc.wait()
        err.close()
    t0 = time.monotonic()
    while any(alive(p) for p in pids) and time.monotonic() - t0 < 10:
        time.sleep(0.1)
    left = [p for p in pids if alive(p)]
    for p in left:  # not to leave them behind when the test fails
        os.kill(p, signal.SIGKILL)
    assert not left, f"workers {left} outlived their runner"
