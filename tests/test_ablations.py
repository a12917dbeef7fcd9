"""The ablation runner on a small synthetic dataset: keys, skipping and reuse, channel subsets,
selection on validation only, the worker pool, and the summary the notebook reads."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from har_utils import ablations as ab
from har_utils import config, data, models, report
from har_utils.data import HarDataset
from synthetic_uci import synthetic_dataset


@pytest.fixture
def ds() -> HarDataset:
    return synthetic_dataset()


#: Tiny stand-ins for the real studies (tiny_cnn trains in a second).
TINY = {s.name: s for s in (
    ab.Study("filters", "filters", (ab._kw("4", filters=4), ab._kw("8", True, filters=8))),
    ab.Study("kernel_size", "kernel", (ab._kw("3", True, kernel_size=3),
                                       ab._kw("5", kernel_size=5))),
    ab.Study("channels", "channels", (ab.Point("all", channels="all", baseline=True),
                                      ab.Point("total_acc", channels="total_acc"))),
)}


@pytest.fixture
def tiny(monkeypatch: pytest.MonkeyPatch) -> dict[str, ab.Study]:
    monkeypatch.setattr(ab, "BASE_MODEL", "tiny_cnn")
    monkeypatch.setattr(ab, "STUDIES", TINY)
    return TINY


def quiet(_line: str) -> None:
    pass


def job(point: str = "p", seed: int = 0, **kw) -> ab.Job:
    return ab.Job("s", point, seed=seed, max_epochs=1, model="tiny_cnn", **kw)


# --- the model knob and the studies -------------------------------------------------------

def test_lstm_layers_one_builds_and_two_is_the_paper() -> None:
    small = dict(n_subsequences=1, filters=8, lstm_units=4, dense_units=4)
    one = models.build_model("cnn_lstm_paper", lstm_layers=1, **small)
    two = models.build_model("cnn_lstm_paper", **small)
    names = lambda m: [lyr.name for lyr in m.layers]  # noqa: E731
    assert "lstm1" in names(one) and "lstm2" not in names(one)
    assert one.get_layer("lstm1").return_sequences is False
    assert names(two) == names(models.build_model("cnn_lstm_paper", lstm_layers=2, **small))
    assert models.count_params(one) < models.count_params(two)
    assert models.describe("cnn_lstm_paper")["lstm_layers"] == 2
    with pytest.raises(ValueError, match="lstm_layers"):
        models.build_model("cnn_lstm_paper", lstm_layers=0, **small)


def test_the_studies_vary_one_factor_around_one_baseline(ds: HarDataset) -> None:
    assert len(ab.STUDIES) >= 10
    base_keys = set()
    for study in ab.STUDIES.values():
        assert len(study.points) >= 2
        for p in study.points:
            j = ab.make_job(study.name, p.name, [p])
            j.model_hparams()  # every override is a real hyper-parameter of its model
            assert ab.conv_fits(j) is None, j.name
        base_keys.add(ab.make_job(study.name, "b", [study.baseline]).key(ds))
    assert len(base_keys) == 1, "every baseline is the paper's configuration"
    assert base_keys == {ab.Job("x", "y").key(ds)}
    none = ab.make_job("split", "none", [ab.STUDIES["split"].point("none")])
    assert none.model == "cnn_lstm_sequential"
    seq = ab.make_job("c", "c", [ab.STUDIES["split"].point("none"),
                                 ab.STUDIES["lstm_layers"].point("1")])
    assert seq.model_hparams()["lstm_layers"] == 1
    bad = ab.make_job("c", "c", [ab.STUDIES["kernel_size"].point("7"),
                                 ab.STUDIES["split"].point("8x16")])
    assert "does not fit" in ab.conv_fits(bad)
    assert len(ab.plan("all", seeds=[0, 1, 2])) == 3 * sum(len(s.points) for s in ab.STUDIES.values())


def test_keys_are_stable_and_follow_every_override(ds: HarDataset) -> None:
    a = job(model_kwargs={"filters": 4, "kernel_size": 3})
    assert a.key(ds) == job(model_kwargs={"kernel_size": 3, "filters": 4}).key(ds)
    assert a.key(ds) == ab.Job("other", "name", seed=0, max_epochs=1, model="tiny_cnn",
                               model_kwargs={"filters": 4}).key(ds), "names are not keyed"
    assert job().key(ds) == job(model_kwargs={"filters": 8}).key(ds), "defaults resolved"
    variants = [job(seed=1), ab.Job("s", "p", max_epochs=2, model="tiny_cnn"),
                job(model_kwargs={"filters": 16}), job(train={"batch_size": 16}),
                job(train={"optimizer": "sgd"}), job(train={"standardize": True}),
                job(train={"augment": "noise"}), job(channels="total_acc"),
                job(channels="body_acc_gyro")]
    keys = [v.key(ds) for v in variants] + [job().key(ds)]
    assert len(set(keys)) == len(keys)
    other = HarDataset(ds.train, ds.test, "uci", {"archive_sha256": "x", "cache": "x.npz"})
    assert job().key(other) != job().key(ds)
    # the stored spec round-trips to the same key
    assert ab.Job.from_dict({**a.as_dict(), "protocol": "subjects"}).key(ds) == a.key(ds)
    with pytest.raises(ValueError, match="channel"):
        job(channels="gyro")
    with pytest.raises(ValueError, match="training setting"):
        job(train={"epochs": 3})


def test_channel_subsets(ds: HarDataset) -> None:
    sub = data.select_channels(ds, ab.CHANNEL_SETS["total_acc"])
    assert sub.train.X.shape == (len(ds.train.y), 128, 3) and sub.test.X.shape[2] == 3
    np.testing.assert_array_equal(sub.train.X, ds.train.X[..., 6:9])
    assert sub.train.y is ds.train.y and data.select_channels(ds, config.CHANNELS) is ds
    assert data.select_channels(ds, ab.CHANNEL_SETS["body_acc_gyro"]).test.X.shape[2] == 6
    for bad in (["nope"], [], ["body_acc_x", "body_acc_x"]):
        with pytest.raises(ValueError):
            data.select_channels(ds, bad)


# --- running jobs -------------------------------------------------------------------------

def test_a_job_writes_the_zoo_form_and_is_skipped_when_done(
        ds: HarDataset, monkeypatch: pytest.MonkeyPatch) -> None:
    j = job(channels="total_acc")
    r = ab.run_job(j, ds, log=quiet)
    path = config.results_dir() / "ablations" / "runs" / "s__p__seed0.json"
    assert path.exists() and r["key"] == j.key(ds) and ab.is_done(j, ds)
    assert r["input_shape"] == [128, 3] and r["channels"] == list(ab.CHANNEL_SETS["total_acc"])
    for k in ("accuracy", "macro_avg", "per_class", "confusion", "per_subject"):
        assert k in r["test"], k
    assert set(r["test"]["per_subject"]) == {str(s) for s in config.TEST_SUBJECTS}
    assert r["validation_subjects"] == [8, 17, 21, 25] and r["epochs_run"] == 1
    assert 0 <= r["validation_accuracy"] <= 1 and r["validation_loss"] > 0
    assert r["parameters"] == models.count_params(models.build_model("tiny_cnn", (128, 3)))
    assert r["threads"]["intra_op"] >= 0 and r["environment"]["git"]
    assert len(r["y_pred"]) == len(ds.test.y) and r["data"]["source"] == "hapt"

    def boom(*_a, **_k):
        raise AssertionError("trained again")
    monkeypatch.setattr(ab, "_train_and_evaluate", boom)
    assert ab.run_job(j, ds)["key"] == r["key"]  # skipped
    twin = ab.Job("other", "twin", seed=0, max_epochs=1, model="tiny_cnn", channels="total_acc")
    copy = ab.run_job(twin, ds)  # same configuration under another name: reused, not trained
    assert copy["reused_from"] == "s__p__seed0" and copy["name"] == "other__twin__seed0"
    assert copy["test"] == r["test"] and ab.is_done(twin, ds)
    with pytest.raises(AssertionError, match="trained again"):
        ab.run_job(j, ds, force=True)


@pytest.mark.slow  # spawns two processes that import TensorFlow
def test_the_pool_gives_complete_keyed_results(ds: HarDataset, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    jobs = [job("a", seed=0), job("b", seed=1), job("c", seed=0)]  # c has a's configuration
    pooled = ab.run_jobs(jobs, ds, workers=2, log=quiet)
    assert [r["name"] for r in pooled] == [j.name for j in jobs]
    assert all(r["key"] == j.key(ds) for r, j in zip(pooled, jobs))
    assert pooled[2]["reused_from"] == "s__a__seed0"
    trained = [r for r in pooled if not r.get("reused_from")]
    assert len(trained) == 2
    assert all(r["threads"] == {"intra_op": ab.threads_per_worker(2), "inter_op": 1, "workers": 2}
               for r in trained)
    # the same jobs in this process (another results folder): the same metrics
    monkeypatch.setenv("HAR_RESULTS_DIR", str(tmp_path / "serial"))
    serial = ab.run_jobs(jobs[:2], ds, workers=1, log=quiet)
    for p, s in zip(pooled, serial):
        assert p["key"] == s["key"]
        assert p["y_pred"] == s["y_pred"]
        assert p["validation_accuracy"] == pytest.approx(s["validation_accuracy"])
        assert p["history"]["loss"] == pytest.approx(s["history"]["loss"], rel=1e-4)


def test_a_failing_job_does_not_stop_the_others(ds: HarDataset) -> None:
    bad = ab.Job("s", "bad", max_epochs=1, model="tiny_cnn", model_kwargs={"kernel_size": 500})
    with pytest.raises(RuntimeError, match="1 ablation job"):
        ab.run_jobs([bad, job("ok")], ds, log=quiet)
    assert ab.is_done(job("ok"), ds) and not ab.is_done(bad, ds)


# --- selection on validation only ---------------------------------------------------------

def _fake(j: ab.Job, ds: HarDataset, val: float, test: float) -> None:
    """A stored result with the given validation and test accuracy (no training)."""
    path = ab.result_path(j)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"name": j.name, "key": j.key(ds), "spec": ab._spec(j),
                                "validation_accuracy": val, "validation_loss": 1 - val,
                                "test": {"accuracy": test}, "accuracy": test, "y_pred": [1]}))


def test_selection_reads_validation_only(ds: HarDataset, tiny: dict) -> None:
    seeds = [0, 1]
    # validation prefers filters=4 (+5 pp) and kernel 5 (+1 pp); the test set says the opposite
    val = {("filters", "4"): 0.90, ("filters", "8"): 0.85, ("kernel_size", "3"): 0.85,
           ("kernel_size", "5"): 0.86, ("channels", "all"): 0.85, ("channels", "total_acc"): 0.80}
    for j in ab.plan("all", seeds, max_epochs=1):
        _fake(j, ds, val[(j.study, j.point)] + 0.001 * j.seed, 1 - val[(j.study, j.point)])
    sel = ab.select(ds, seeds=seeds, max_epochs=1)
    assert {n: f["best"] for n, f in sel["factors"].items()} == {
        "filters": "4", "kernel_size": "5", "channels": "all"}
    assert sel["improving"] == ["filters", "kernel_size"]
    assert [c["name"] for c in sel["candidates"]] == ["baseline", "top1", "top2"]
    assert sel["candidates"][2]["parts"] == {"filters": "4", "kernel_size": "5"}

    # corrupting or deleting every test number changes nothing
    for p in ab.runs_dir().glob("*.json"):
        r = json.loads(p.read_text())
        r["test"] = {"accuracy": float(np.random.default_rng(len(p.name)).random())}
        r.pop("accuracy")
        p.write_text(json.dumps(r))
    assert ab.select(ds, seeds=seeds, max_epochs=1) == sel
    for p in ab.runs_dir().glob("*.json"):
        r = json.loads(p.read_text())
        p.write_text(json.dumps({k: v for k, v in r.items() if k not in ("test", "y_pred")}))
    assert ab.select(ds, seeds=seeds, max_epochs=1) == sel
    assert "test" not in ab.validation_view({"test": 1, "validation_accuracy": 0.5})

    # the combined candidates, then the choice, again on validation only
    with pytest.raises(RuntimeError, match="not done"):
        ab.choose(sel, ds)
    cval = {"baseline": 0.85, "top1": 0.91, "top2": 0.89}
    for j in ab.combined_jobs(sel):
        _fake(j, ds, cval[j.point], 1 - cval[j.point])
    chosen = ab.choose(sel, ds)
    assert chosen["chosen"]["name"] == "top1" and chosen["chosen"]["parts"] == {"filters": "4"}
    # the chosen configuration, and the paper's over the same seeds to compare it with
    assert [j.name for j in ab.final_jobs(chosen, range(2))] == [
        "final__top1__seed0", "final__top1__seed1", "final__baseline__seed0",
        "final__baseline__seed1"]
    assert [j.name for j in ab.final_jobs(chosen, [3], reference=False)] == ["final__top1__seed3"]
    as_base = {**chosen, "chosen": {"name": "baseline", "parts": {}}}
    assert [j.name for j in ab.final_jobs(as_base, [3])] == ["final__baseline__seed3"]
    assert ab.final_jobs(chosen)[0].key(ds) == ab.combined_jobs(sel)[2].key(ds)


def test_an_incomplete_study_is_not_used(ds: HarDataset, tiny: dict) -> None:
    for j in ab.plan("filters", [0], max_epochs=1):
        _fake(j, ds, 0.9 if j.point == "4" else 0.8, 0.5)
    _fake(ab.plan("kernel_size", [0], max_epochs=1)[0], ds, 0.8, 0.5)
    sel = ab.select(ds, seeds=[0], max_epochs=1)
    assert list(sel["factors"]) == ["filters"]
    assert sel["incomplete_studies"] == ["kernel_size", "channels"]


# --- end to end (tiny), summary, table, plot, CLI -----------------------------------------

def test_end_to_end_summary(ds: HarDataset, tiny: dict, monkeypatch: pytest.MonkeyPatch,
                            capsys: pytest.CaptureFixture) -> None:
    seeds = [0, 1]
    ab.run_jobs(ab.plan("filters,channels", seeds, max_epochs=1), ds, log=quiet)
    sel = ab.run_selection(ds, seeds=seeds, max_epochs=1, log=quiet)
    assert sel["incomplete_studies"] == ["kernel_size"]
    assert ab.load_selection()["chosen"] == sel["chosen"]
    ab.run_jobs(ab.final_jobs(sel, seeds), ds, log=quiet)
    doc = json.loads(ab.write_summary(ds).read_text())
    rows = {(r["study"], r["point"]): r for r in doc["rows"]}
    for s in (TINY["filters"], TINY["channels"]):
        for p in s.points:
            r = rows[(s.name, p.name)]
            assert r["n_seeds"] == 2 and r["baseline"] == p.baseline
            assert {"accuracy_mean", "accuracy_std", "val_accuracy_mean", "val_accuracy_std",
                    "ci95_subject_bootstrap", "wall_seconds_total"} <= set(r)
    assert doc["final"]["study"] == "final" and doc["final"]["n_seeds"] == 2
    assert doc["final"]["point"] == sel["chosen"]["name"]
    # the baseline trains once per seed although three studies and the candidates use it
    assert doc["n_trained_runs"] < doc["n_runs"] and doc["wall_seconds_total"] > 0
    t = ab.table(doc)
    assert len(t) == len(doc["rows"]) and t["test acc % (mean ± std)"].str.contains("±").all()
    f, c = ab.selection_table(doc["selection"])
    assert len(f) == 2 and c["chosen"].sum() == 1
    assert all(len(r["val_accuracy_per_seed"]) == r["n_seeds"] for r in doc["rows"])
    fig = ab.plot_study(doc, "filters")
    assert len(fig.axes) == 1
    # every seed is drawn beside its mean: validation and test, for each point of the study
    from matplotlib.collections import PathCollection
    assert sum(len(c.get_offsets()) for c in fig.axes[0].collections
               if isinstance(c, PathCollection)) == 2 * 2 * len(TINY["filters"].points)
    # the README block's tables: each factor's choice, and the paper's configuration against
    # the chosen one with its distance to the target
    ft = ab.factor_table(doc)
    factors = doc["selection"]["factors"]
    in_order = [n for n in TINY if n in factors]  # the studies' order, not the JSON's
    assert list(ft["factor"]) == [TINY[n].factor for n in in_order]
    assert list(ft["best on validation"]) == [factors[n]["best"] for n in in_order]
    # every value that is neither the baseline nor the best, with its difference on validation
    for n, others in zip(in_order, ft["other values: val minus baseline (pp)"]):
        val = {r["point"]: r["val_accuracy_mean"] for r in factors[n]["ranking"]}
        rest = [p.name for p in TINY[n].points if p.name not in (factors[n]["baseline"], factors[n]["best"])]
        assert others == (", ".join(f"{p}: {100 * (val[p] - val[factors[n]['baseline']]):+.2f}"
                                    for p in rest) or "-")
    o = ab.outcome_table(doc)
    assert len(o) == 2 and (o["data"] == doc["data"]["source_label"]).all()
    assert o.iloc[1, -1] == round(100 * (doc["final"]["accuracy_mean"] - ab.TARGET_ACCURACY), 2)
    assert doc["final_reference"]["point"] == "baseline" and doc["final_reference"]["seeds"] == seeds
    assert list(o["seeds"]) == ["0,1", "0,1"] and o.iloc[1]["configuration"].startswith(
        f"chosen: {sel['chosen']['name']}")
    assert o.iloc[0]["configuration"] == "the paper's configuration"
    assert o.iloc[0]["test acc % per seed"] == ", ".join(
        f"{100 * a:.2f}" for a in doc["final_reference"]["accuracy_per_seed"])
    block = report.ablations_block(config.results_dir())
    assert f"chosen: {sel['chosen']['name']}" in block and "h of training" in block
    assert doc["parallel_workers"] == [1] and f"{doc['n_runs']} run results" in block
    assert report.ablations_block(config.results_dir() / "nowhere").startswith("_The ablation")
    # the CLI on the same data: list, summary
    monkeypatch.setattr(ab.data, "load_dataset", lambda *_a, **_k: ds)
    assert ab.main(["list", "--seeds", "0,1", "--max-epochs", "1"]) == 0
    out = capsys.readouterr().out
    assert "filters" in out and "cost_table" in out
    assert ab.main(["summary"]) == 0


def test_cost_estimate_from_the_cost_table(ds: HarDataset) -> None:
    assert ab.estimate_seconds([ab.Job("a", "b")]) is None
    zoo_dir = config.results_dir() / "zoo"
    zoo_dir.mkdir(parents=True)
    (zoo_dir / "cost_table.json").write_text(json.dumps({"cpu_count": 2, "models": [
        {"model": "cnn_lstm_paper", "first_epoch_s": 10.0, "s_per_epoch": 5.0},
        {"model": "cnn_lstm_sequential", "first_epoch_s": 20.0, "s_per_epoch": 10.0}]}))
    est = ab.estimate_seconds([ab.Job("a", "b", max_epochs=3),
                               ab.make_job("split", "none", [ab.STUDIES["split"].point("none")],
                                           max_epochs=3)], max_epochs=3)
    assert est["seconds_upper_bound"] == (10 + 2 * 5) + (20 + 2 * 10)


def test_results_can_be_committed_as_they_finish(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git = lambda *a: subprocess.run(["git", *a], cwd=repo, capture_output=True, text=True)  # noqa: E731
    if git("init", "-q").returncode != 0:
        pytest.skip("git not available")
    git("config", "user.email", "t@example.org")
    git("config", "user.name", "t")
    (repo / "other.txt").write_text("staged, not to be committed")
    git("add", "other.txt")
    f = repo / "r.json"
    f.write_text("{}")
    assert ab.git_commit_result(f, "Ablations: r")
    assert git("log", "--format=%s").stdout.strip() == "Ablations: r"
    assert git("show", "--name-only", "--format=").stdout.split() == ["r.json"]
    assert not ab.git_commit_result(tmp_path / "outside.json", "x")


def _summary_row(study: str, point: str, acc: list[float]) -> dict:
    return {"study": study, "point": point, "n_seeds": len(acc), "seeds": list(range(len(acc))),
            "accuracy_per_seed": acc, "accuracy_mean": float(np.mean(acc)),
            "accuracy_std": float(np.std(acc, ddof=1)), "val_accuracy_mean": 0.95,
            "val_accuracy_std": 0.01, "ci95_subject_bootstrap": [0.8, 0.97], "macro_f1_mean": 0.9}


def test_outcome_table_compares_the_paper_and_the_choice_on_the_same_seeds() -> None:
    first = next(iter(ab.STUDIES.values()))
    study_base = _summary_row(first.name, first.baseline.name, [0.90, 0.91, 0.92])
    summary = {"data": {"source_label": "HAPT rebuild"}, "rows": [study_base],
               "selection": {"chosen": {"name": "top1", "parts": {"lstm_layers": "1"}}},
               "final": None, "final_reference": None}
    # before the final runs: the studies' shared baseline, 3 seeds
    o = ab.outcome_table(summary)
    assert list(o["configuration"]) == ["the paper's configuration (the studies' baseline)"]
    assert o.iloc[0]["seeds"] == "0,1,2" and o.iloc[0]["test acc % per seed"] == "90.00, 91.00, 92.00"
    assert o.iloc[0, -1] == -6.0  # 91.00 - 97
    # after: the paper's configuration over the same 5 seeds as the chosen one
    summary["final"] = _summary_row("final", "top1", [0.90, 0.91, 0.90, 0.89, 0.91])
    summary["final_reference"] = _summary_row("final", "baseline", [0.90, 0.91, 0.92, 0.90, 0.89])
    o = ab.outcome_table(summary)
    assert list(o["configuration"]) == ["the paper's configuration", "chosen: top1 (lstm_layers=1)"]
    assert list(o["seeds"]) == ["0,1,2,3,4"] * 2 and (o["data"] == "HAPT rebuild").all()
    # the paper's configuration chosen: one row
    summary["selection"]["chosen"] = {"name": "baseline", "parts": {}}
    summary["final"] = summary["final_reference"]
    o = ab.outcome_table(summary)
    assert list(o["configuration"]) == ["chosen: baseline (the paper's configuration)"]
    assert len(ab.outcome_table(None)) == 0
