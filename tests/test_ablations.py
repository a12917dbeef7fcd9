"""The ablation study on the one experiment runner, on a small synthetic dataset: its runs and
keys, running and reuse through the runner's store, channel subsets, selection on validation
only, the summary the notebook reads, and the conversion of the former store."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from har_utils import config, data, models
from har_utils.data import HarDataset
from har_studies.experiments import ablations as ab
from har_studies.experiments import runner
from har_studies.experiments.ablations import estimates, selection, summary
from har_studies.experiments.ablations import studies as core
from har_studies.reporting import study_blocks
from har_studies.experiments.runner import Run
from synthetic_uci import synthetic_dataset


@pytest.fixture
def ds() -> HarDataset:
    return synthetic_dataset()


#: Tiny stand-ins for the real studies (tiny_cnn trains in a second).
TINY = {s.name: s for s in (
    core.Study("filters", "filters", (core.model_point("4", filters=4),
                                    core.model_point("8", True, filters=8))),
    core.Study("kernel_size", "kernel", (core.model_point("3", True, kernel_size=3),
                                       core.model_point("5", kernel_size=5))),
    core.Study("channels", "channels", (core.Point("all", channels="all", baseline=True),
                                      core.Point("total_acc", channels="total_acc"))),
)}


@pytest.fixture
def tiny(monkeypatch: pytest.MonkeyPatch) -> dict[str, core.Study]:
    monkeypatch.setattr(core, "BASE_MODEL", "tiny_cnn")
    monkeypatch.setattr(core, "STUDIES", TINY)
    return TINY


def quiet(_line: str) -> None:
    pass


def job(point: str = "p", seed: int = 0, **kw) -> Run:
    return core.ablation_run("s", point, seed=seed, max_epochs=1, model="tiny_cnn", **kw)


def key(run: Run, ds: HarDataset) -> str:
    return run.key(runner.checksum(ds))


# --- the model knob and the studies -------------------------------------------------------

def test_lstm_layers_one_builds_and_two_is_the_paper() -> None:
    small = dict(n_subsequences=1, filters=8, lstm_units=4, dense_units=4)
    one = models.build_model("cnn_lstm_paper", lstm_layers=1, **small)
    two = models.build_model("cnn_lstm_paper", **small)
    names = lambda m: [lyr.name for lyr in m.layers]  # noqa: E731
    assert "lstm1" in names(one) and "lstm2" not in names(one)
    assert one.get_layer("lstm1").return_sequences is False
    assert names(two) == names(models.build_model("cnn_lstm_paper", lstm_layers=2, **small))
    assert one.count_params() < two.count_params()
    assert models.describe("cnn_lstm_paper")["lstm_layers"] == 2
    with pytest.raises(ValueError, match="lstm_layers"):
        models.build_model("cnn_lstm_paper", lstm_layers=0, **small)


def test_the_studies_vary_one_factor_around_one_baseline(ds: HarDataset) -> None:
    assert len(ab.STUDIES) >= 10
    base_keys = set()
    for study in ab.STUDIES.values():
        assert len(study.points) >= 2
        for p in study.points:
            r = core.make_run(study.name, p.name, [p])
            core.model_hparams(r)  # every override is a real hyper-parameter of its model
            assert core.conv_fits(r) is None, r.name
        base_keys.add(key(core.make_run(study.name, "b", [study.baseline]), ds))
    assert len(base_keys) == 1, "every baseline is the paper's configuration"
    assert base_keys == {key(core.ablation_run("x", "y"), ds)}
    none = core.make_run("split", "none", [ab.STUDIES["split"].point("none")])
    assert none.model == "cnn_lstm_sequential"
    seq = core.make_run("c", "c", [ab.STUDIES["split"].point("none"),
                                 ab.STUDIES["lstm_layers"].point("1")])
    assert core.model_hparams(seq)["lstm_layers"] == 1
    bad = core.make_run("c", "c", [ab.STUDIES["kernel_size"].point("7"),
                                 ab.STUDIES["split"].point("8x16")])
    assert "does not fit" in core.conv_fits(bad)
    runs = ab.plan("all", seeds=[0, 1, 2])
    assert len(runs) == 3 * sum(len(s.points) for s in ab.STUDIES.values())
    assert all(r.study == core.STUDY for r in runs)


def test_an_ablation_run_is_the_subjects_protocol_on_the_runner(ds: HarDataset) -> None:
    r = core.ablation_run("filters", "32", seed=2, model_kwargs={"filters": 32})
    assert r.name == "filters__32__seed2" and core.parse_name(r.name) == ("filters", "32", 2)
    assert r.val_subjects == (8, 17, 21, 25) == data.validation_subjects()
    assert set(r.fit_subjects) | set(r.val_subjects) == set(config.TRAIN_SUBJECTS)
    assert len(r.fit_subjects) == 17 and r.patience == 10 and r.epochs == 100 and r.test
    assert core.overrides(r) == {"model": "cnn_lstm_paper", "model_kwargs": {"filters": 32},
                               "train": {}, "channels": "all"}
    assert core.channel_set(job(channels="total_acc")) == "total_acc"
    with pytest.raises(ValueError, match="ablation run name"):
        core.parse_name("a__b__c")


def test_keys_are_stable_and_follow_every_override(ds: HarDataset) -> None:
    a = job(model_kwargs={"filters": 4, "kernel_size": 3})
    assert key(a, ds) == key(job(model_kwargs={"kernel_size": 3, "filters": 4}), ds)
    assert key(a, ds) == key(core.ablation_run("other", "name", max_epochs=1, model="tiny_cnn",
                                             model_kwargs={"filters": 4}), ds), "names not keyed"
    assert key(job(), ds) == key(job(model_kwargs={"filters": 8}), ds), "defaults resolved"
    assert key(job(), ds) == key(job(channels="all"), ds)
    variants = [job(seed=1), core.ablation_run("s", "p", max_epochs=2, model="tiny_cnn"),
                job(model_kwargs={"filters": 16}), job(train={"batch_size": 16}),
                job(train={"optimizer": "sgd"}), job(train={"standardize": True}),
                job(train={"augment": "noise"}), job(channels="total_acc"),
                job(channels="body_acc_gyro")]
    keys = [key(v, ds) for v in variants] + [key(job(), ds)]
    assert len(set(keys)) == len(keys)
    assert job().key("another-checksum") != key(job(), ds)
    with pytest.raises(ValueError, match="channel"):
        job(channels="gyro")
    with pytest.raises(ValueError, match="training setting"):
        job(train={"epochs": 3})


def test_channel_subsets(ds: HarDataset) -> None:
    sub = data.select_channels(ds, core.CHANNEL_SETS["total_acc"])
    assert sub.train.X.shape == (len(ds.train.y), 128, 3) and sub.test.X.shape[2] == 3
    np.testing.assert_array_equal(sub.train.X, ds.train.X[..., 6:9])
    assert sub.train.y is ds.train.y and data.select_channels(ds, config.CHANNELS) is ds
    assert data.select_channels(ds, core.CHANNEL_SETS["body_acc_gyro"]).test.X.shape[2] == 6
    for bad in (["nope"], [], ["body_acc_x", "body_acc_x"]):
        with pytest.raises(ValueError):
            data.select_channels(ds, bad)


# --- running through the runner -----------------------------------------------------------

def test_runs_go_to_the_runner_store_once_per_configuration(
        ds: HarDataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    j = job(channels="total_acc")
    twin = core.ablation_run("other", "twin", max_epochs=1, model="tiny_cnn", channels="total_acc")
    lines: list[str] = []
    r, copy = ab.execute([j, twin], ds, backup_root=tmp_path, log=lines.append)
    assert "2 run(s): 1 stored, 1 to train" in lines[0]
    assert runner.result_path(key(j, ds)).exists() and r["key"] == key(j, ds)
    assert r["input_shape"] == [128, 3] and r["config"]["channels"] == list(
        core.CHANNEL_SETS["total_acc"])
    for k in ("accuracy", "macro_avg", "per_class", "confusion", "per_subject"):
        assert k in r["test"], k
    assert set(r["test"]["per_subject"]) == {str(s) for s in config.TEST_SUBJECTS}
    assert r["config"]["val_subjects"] == [8, 17, 21, 25] and r["epochs_run"] == 1
    v = core.validation_scores(r)
    assert v["validation_accuracy"] == r["history"]["val_accuracy"][r["best_epoch"] - 1]
    assert 0 <= v["validation_accuracy"] <= 1 and v["validation_loss"] > 0
    assert r["parameters"] == models.build_model("tiny_cnn", (128, 3)).count_params()
    assert r["worker"]["threads"]["intra_op"] >= 0 and r["environment"]["git"]
    assert len(r["y_pred"]) == len(ds.test.y) and r["data"]["source"] == "hapt"
    # the same configuration under another name: one result, trained as the first name
    assert copy == r and core.trained_here(j, r) and not core.trained_here(twin, copy)
    assert set(core.load_index()) == {j.name, twin.name}
    monkeypatch.setattr(runner, "run_one", lambda *a, **k: pytest.fail("trained again"))
    assert ab.execute([twin], ds, log=quiet) == [r]


@pytest.mark.slow  # two worker processes that import TensorFlow
def test_two_workers_give_the_same_runs(ds: HarDataset, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    runs = [job("a", seed=0), job("b", seed=1), job("c", seed=0)]  # c has a's configuration
    pooled = ab.execute(runs, ds, workers=2, ship_data=True, backup_root=tmp_path, log=quiet)
    assert [r["key"] for r in pooled] == [key(j, ds) for j in runs]
    assert pooled[2] == pooled[0] and pooled[0]["name"] == "s__a__seed0"
    assert all(r["worker"]["threads"]["intra_op"] == 1 for r in pooled)  # Run.threads
    monkeypatch.setenv("HAR_RESULTS_DIR", str(tmp_path / "serial"))
    serial = ab.execute(runs[:2], ds, backup_root=tmp_path, log=quiet)
    for p, s in zip(pooled, serial):
        assert p["y_pred"] == s["y_pred"]
        assert p["history"]["loss"] == pytest.approx(s["history"]["loss"], rel=1e-4)


def test_a_failing_run_does_not_stop_the_others(ds: HarDataset, tmp_path: Path) -> None:
    bad = core.ablation_run("s", "bad", max_epochs=1, model="tiny_cnn",
                          model_kwargs={"kernel_size": 500})
    with pytest.raises(RuntimeError, match="1 run"):
        ab.execute([bad, job("ok")], ds, backup_root=tmp_path, log=quiet)
    assert runner.load(job("ok"), ds) is not None and runner.load(bad, ds) is None
    assert set(core.load_index()) == {"s__ok__seed0"}


# --- selection on validation only ---------------------------------------------------------

def _fake(run: Run, ds: HarDataset, val: float, test: float) -> None:
    """A stored result with the given validation and test accuracy (no training)."""
    k = key(run, ds)
    path = runner.result_path(k)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"name": run.name, "study": run.study, "key": k,
                                "validation_accuracy": val, "validation_loss": 1 - val,
                                "test": {"accuracy": test}, "accuracy": test, "y_pred": [1]}))


def test_selection_reads_validation_only(ds: HarDataset, tiny: dict) -> None:
    seeds = [0, 1]
    # validation prefers filters=4 (+5 pp) and kernel 5 (+1 pp); the test set says the opposite
    val = {("filters", "4"): 0.90, ("filters", "8"): 0.85, ("kernel_size", "3"): 0.85,
           ("kernel_size", "5"): 0.86, ("channels", "all"): 0.85, ("channels", "total_acc"): 0.80}
    for r in ab.plan("all", seeds, max_epochs=1):
        study, point, seed = core.parse_name(r.name)
        _fake(r, ds, val[(study, point)] + 0.001 * seed, 1 - val[(study, point)])
    sel = selection.select(ds, seeds=seeds, max_epochs=1)
    assert {n: f["best"] for n, f in sel["factors"].items()} == {
        "filters": "4", "kernel_size": "5", "channels": "all"}
    assert sel["improving"] == ["filters", "kernel_size"]
    assert [c["name"] for c in sel["candidates"]] == ["baseline", "top1", "top2"]
    assert sel["candidates"][2]["parts"] == {"filters": "4", "kernel_size": "5"}

    # corrupting or deleting every test number changes nothing
    for p in runner.runs_dir().glob("*.json"):
        r = json.loads(p.read_text())
        r["test"] = {"accuracy": float(np.random.default_rng(len(p.name)).random())}
        r.pop("accuracy")
        p.write_text(json.dumps(r))
    assert selection.select(ds, seeds=seeds, max_epochs=1) == sel
    for p in runner.runs_dir().glob("*.json"):
        r = json.loads(p.read_text())
        p.write_text(json.dumps({k: v for k, v in r.items() if k not in ("test", "y_pred")}))
    assert selection.select(ds, seeds=seeds, max_epochs=1) == sel
    assert "test" not in core.validation_view({"test": 1, "validation_accuracy": 0.5,
                                             "validation_loss": 0.1})

    # the combined candidates, then the choice, again on validation only
    with pytest.raises(RuntimeError, match="not done"):
        selection.choose(sel, ds)
    cval = {"baseline": 0.85, "top1": 0.91, "top2": 0.89}
    for r in selection.combined_runs(sel):
        _fake(r, ds, cval[core.parse_name(r.name)[1]], 0.5)
    chosen = selection.choose(sel, ds)
    assert chosen["chosen"]["name"] == "top1" and chosen["chosen"]["parts"] == {"filters": "4"}
    # the chosen configuration, and the paper's over the same seeds to compare it with
    assert [r.name for r in ab.final_runs(chosen, range(2))] == [
        "final__top1__seed0", "final__top1__seed1", "final__baseline__seed0",
        "final__baseline__seed1"]
    assert [r.name for r in ab.final_runs(chosen, [3], reference=False)] == [
        "final__top1__seed3"]
    as_base = {**chosen, "chosen": {"name": "baseline", "parts": {}}}
    assert [r.name for r in ab.final_runs(as_base, [3])] == ["final__baseline__seed3"]
    assert key(ab.final_runs(chosen)[0], ds) == key(selection.combined_runs(sel)[2], ds)


def test_an_incomplete_study_is_not_used(ds: HarDataset, tiny: dict) -> None:
    for r in ab.plan("filters", [0], max_epochs=1):
        _fake(r, ds, 0.9 if r.name.startswith("filters__4") else 0.8, 0.5)
    _fake(ab.plan("kernel_size", [0], max_epochs=1)[0], ds, 0.8, 0.5)
    sel = selection.select(ds, seeds=[0], max_epochs=1)
    assert list(sel["factors"]) == ["filters"]
    assert sel["incomplete_studies"] == ["kernel_size", "channels"]


# --- end to end (tiny), summary, table, plot, CLI -----------------------------------------

def test_end_to_end_summary(ds: HarDataset, tiny: dict, tmp_path: Path,
                            monkeypatch: pytest.MonkeyPatch,
                            capsys: pytest.CaptureFixture) -> None:
    seeds = [0, 1]
    ab.execute(ab.plan("filters,channels", seeds, max_epochs=1), ds, backup_root=tmp_path,
                log=quiet)
    sel = ab.run_selection(ds, seeds=seeds, max_epochs=1, backup_root=tmp_path, log=quiet)
    assert sel["incomplete_studies"] == ["kernel_size"]
    assert ab.load_selection()["chosen"] == sel["chosen"]
    ab.execute(ab.final_runs(sel, seeds), ds, backup_root=tmp_path, log=quiet)
    doc = json.loads(ab.write_summary(ds).read_text())
    rows = {(r["study"], r["point"]): r for r in doc["rows"]}
    for s in (TINY["filters"], TINY["channels"]):
        for p in s.points:
            r = rows[(s.name, p.name)]
            assert r["n_seeds"] == 2 and r["baseline"] == p.baseline and r["seeds"] == seeds
            assert {"accuracy_mean", "accuracy_std", "val_accuracy_mean", "val_accuracy_std",
                    "ci95_subject_bootstrap", "wall_seconds_total"} <= set(r)
    assert doc["final"]["study"] == "final" and doc["final"]["n_seeds"] == 2
    assert doc["final"]["point"] == sel["chosen"]["name"]
    # the baseline trains once per seed although two studies and the candidates use it
    assert rows[("channels", "all")]["n_reused"] == 2 and rows[("filters", "8")]["n_reused"] == 0
    assert doc["n_trained_runs"] < doc["n_runs"] and doc["wall_seconds_total"] > 0
    assert doc["n_runs"] == sum(r["n_seeds"] for r in doc["rows"])
    assert doc["stale_runs_left_out"] == [] and doc["cpu_counts"]
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
    ft = summary.factor_table(doc)
    factors = doc["selection"]["factors"]
    in_order = [n for n in TINY if n in factors]  # the studies' order, not the JSON's
    assert list(ft["factor"]) == [TINY[n].factor for n in in_order]
    assert list(ft["best on validation"]) == [factors[n]["best"] for n in in_order]
    for n, others in zip(in_order, ft["other values: val minus baseline (pp)"]):
        val = {r["point"]: r["val_accuracy_mean"] for r in factors[n]["ranking"]}
        rest = [p.name for p in TINY[n].points
                if p.name not in (factors[n]["baseline"], factors[n]["best"])]
        assert others == (", ".join(f"{p}: {100 * (val[p] - val[factors[n]['baseline']]):+.2f}"
                                    for p in rest) or "-")
    o = ab.outcome_table(doc)
    assert (o["data"] == doc["data"]["source_label"]).all()
    assert o.iloc[-1, -1] == round(100 * (doc["final"]["accuracy_mean"] - core.TARGET_ACCURACY), 2)
    assert doc["final_reference"]["point"] == "baseline"
    assert doc["final_reference"]["seeds"] == seeds
    assert o.iloc[-1]["configuration"].startswith(f"chosen: {sel['chosen']['name']}")
    block = study_blocks.ablations_block(config.results_dir())
    assert f"chosen: {sel['chosen']['name']}" in block and "h of training" in block
    assert f"{doc['n_runs']} run results" in block
    assert f"Its {doc['n_trained_runs']} trained runs" in block
    nowhere = config.results_dir() / "nowhere"
    assert study_blocks.ablations_block(nowhere).startswith("_The ablation")
    # a stale index entry (its result gone) is named, not summarised
    runner.result_path(key(ab.plan("filters", [0], max_epochs=1)[0], ds)).unlink()
    doc2 = json.loads(ab.write_summary(ds).read_text())
    assert doc2["stale_runs_left_out"] == ["filters__4__seed0"]
    # the command line on the same data: list, summary
    from click.testing import CliRunner

    from har_studies.cli import har
    monkeypatch.setattr(data, "load_dataset", lambda *_a, **_k: ds)
    r = CliRunner().invoke(har, ["ablations", "list", "--seeds", "0,1", "--max-epochs", "1"])
    assert r.exit_code == 0, r.output
    assert "filters" in r.stdout and "cost_table" in r.stdout
    r = CliRunner().invoke(har, ["ablations", "summary"])
    assert r.exit_code == 0 and "summary.json" in r.stdout, r.output


def test_an_index_older_than_a_run_field_is_brought_to_its_runs(
        ds: HarDataset, tiny: dict, tmp_path: Path) -> None:
    """An index written before :class:`Run` had a ``backend`` (its runs trained on TensorFlow)
    rebuilds its entries on today's default: the summary finds none of its runs, so it keeps
    the summary already there and says why; the store's migration fills the missing field in
    from the stored runs, and the summary is the same again."""
    from har_studies.experiments import rekey
    from har_utils.io import HarError

    ab.execute(ab.plan("filters", [0], max_epochs=1), ds, backup_root=tmp_path, log=quiet)
    before = json.loads(summary.write_summary(ds).read_text())
    index = core.load_index()
    for entry in index.values():  # as the TensorFlow runs and their index were stored
        path = runner.result_path(entry["key"])
        r = json.loads(path.read_text())
        described = {**r["run"], "backend": "tensorflow"}
        run = Run(**described)
        r.update(key=run.key(runner.checksum(ds)), config=run.config(), run=described)
        runner.result_path(r["key"]).write_text(json.dumps(r))
        path.unlink()
        entry["key"] = r["key"]
        del entry["run"]["backend"]
    core.index_path().write_text(json.dumps(index))
    text = summary.summary_path().read_text()
    with pytest.raises(HarError, match="none of the 2 runs .* left as it was"):
        summary.write_summary(ds)
    assert summary.summary_path().read_text() == text
    assert rekey.main() == 0
    assert {e["run"]["backend"] for e in core.load_index().values()} == {"tensorflow"}
    after = json.loads(summary.write_summary(ds).read_text())
    assert after["rows"] == before["rows"] and after["stale_runs_left_out"] == []
    assert rekey.sync_index(runner.runs_dir(), {}) == 0  # nothing left to bring


def test_cost_estimate_from_the_cost_table(ds: HarDataset) -> None:
    assert estimates.estimate_seconds([core.ablation_run("a", "b")]) is None
    zoo_dir = config.results_dir() / "zoo"
    zoo_dir.mkdir(parents=True)
    (zoo_dir / "cost_table.json").write_text(json.dumps({"cpu_count": 2, "models": [
        {"model": "cnn_lstm_paper", "first_epoch_s": 10.0, "s_per_epoch": 5.0},
        {"model": "cnn_lstm_sequential", "first_epoch_s": 20.0, "s_per_epoch": 10.0}]}))
    runs = [core.ablation_run("a", "b", max_epochs=3),
            core.make_run("split", "none", [ab.STUDIES["split"].point("none")], max_epochs=3)]
    est = estimates.estimate_seconds(runs, max_epochs=3)
    assert est["seconds_upper_bound"] == (10 + 2 * 5) + (20 + 2 * 10)
    assert estimates.typical_epochs(ds) is None  # no stored baseline runs
    _fake(core.ablation_run("x", "y", seed=1), ds, 0.9, 0.9)
    path = runner.result_path(key(core.ablation_run("x", "y", seed=1), ds))
    path.write_text(json.dumps({**json.loads(path.read_text()), "epochs_run": 7,
                                "wall_seconds": 12.0, "train_seconds": 10.0}))
    assert estimates.typical_epochs(ds) == 7 and estimates.typical_overhead(ds) == 2.0


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


def test_the_converged_screen_shares_the_beyond_screens_runs() -> None:
    """A point of the screen under protocol cv whose configuration the beyond study screened
    has the same run key (so it is reused); every other point differs from the baseline."""
    from har_studies.experiments import beyond
    from har_studies.experiments.ablations import converged

    checksum = "0" * 64
    shared = {("paper", ""): "paper", ("kernel_size", "7"): "kernel_7",
              ("lstm_layers", "1"): "one_lstm", ("batch_size", "16"): "batch_16",
              ("standardize", "on"): "standardize", ("split", "none"): "sequential"}
    cands = {c.name: c for c in beyond.CANDIDATES}
    for (factor, point), name in shared.items():
        ours = converged.fold_run(factor, point, 1)
        theirs = beyond.fold_runs(cands[name], beyond.Plan(), [1])[0]
        assert ours.key(checksum) == theirs.key(checksum), (factor, point)
    base = converged.fold_run(converged.BASELINE, "", 0).key(checksum)
    keys = {converged.fold_run(f, p, 0).key(checksum) for f, p in converged.points()}
    assert len(keys) == len(converged.points()) == 21 and base not in keys
    total = sum(len(s.points) for s in core.STUDIES.values())
    assert len(converged.points()) == total - len(core.STUDIES)
    table = converged.cost_table(checksum, {base})
    screen = table[table["stage"] == "screen"]
    assert screen.set_index("point").loc["paper", "stored"] == 1
    assert screen.set_index("point").loc[list(map(lambda fp: converged.label(*fp), shared)),
                                         "runs"].eq(3).all()


@pytest.mark.realdata
def test_the_converged_screen_scores_the_stored_beyond_runs_as_the_beyond_study_did(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Without training, the screen finds the committed beyond runs of its shared points and
    gives them the beyond study's screen scores; a point without all its runs is missing."""
    from har_studies.experiments.ablations import converged

    monkeypatch.setenv("HAR_DATA_DIR", str(config.PROJECT_ROOT / "data"))
    monkeypatch.setenv("HAR_RESULTS_DIR", str(config.COMMITTED_RESULTS_DIR))  # read only

    choice = json.loads((config.COMMITTED_RESULTS_DIR / "beyond" / "choice.json").read_text())
    doc = converged.screen(data.load_dataset("auto"))
    for ours, theirs in (("paper", "paper"), ("standardize=on", "standardize"),
                         ("kernel_size=7", "kernel_7")):
        assert doc["points"][ours]["score"] == choice["candidates"][theirs]["screen"]["score"]
    assert "paper" not in doc["missing"]  # the rest depends on what the store holds
    assert all(("score" in e) == (n not in doc["missing"]) for n, e in doc["points"].items())
    gain = 100 * (choice["candidates"]["standardize"]["screen"]["score"]
                  - choice["candidates"]["paper"]["screen"]["score"])
    assert gain > 1.5 and doc["points"]["standardize=on"]["vs_baseline_pp"] == pytest.approx(gain)


def test_the_converged_selection_confirms_combines_and_chooses_on_folds_only(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Points ahead of the baseline on the screen go to all 7 folds; those still ahead are
    joined; the best 7-fold score is chosen, with its epoch count; the final runs are the
    choice and the paper's configuration over the same seeds, each for its own epochs."""
    from har_studies.experiments.ablations import converged

    level = {"paper": 0.90, "standardize=on": 0.93, "kernel_size=7": 0.92, "filters=32": 0.89,
             "split=8x16": 0.91, "standardize=on+kernel_size=7": 0.95}
    peak = {"paper": 30, "standardize=on+kernel_size=7": 44}

    def curve(name: str) -> list[float]:
        top, at = level.get(name, 0.85), peak.get(name, 50)
        return [top - 0.001 * abs(e - at) for e in range(1, 51)]

    def fake_load(run: Run, ds: object) -> dict:
        label = run.name.split("/")[1]
        return {"name": run.name, "history": {"val_accuracy": curve(label)}, "run": {}}

    screen = {"missing": [], "points": {n: {"score": level.get(n, 0.85)}
                                        for n in ["paper", *map(lambda fp: converged.label(*fp),
                                                                converged.points())]}}
    # three factors confirmed; kernel 7 does not fit 8x16 sub-sequences, so the join of all
    # three leaves split out and equals the join of the two best: one combination
    monkeypatch.setattr(converged, "screen", lambda ds, **kw: json.loads(json.dumps(screen)))
    monkeypatch.setattr(converged, "load", fake_load)
    doc = converged.select(object())
    confirm = doc["stages"]["confirm"]
    assert set(confirm) == {"paper", "standardize=on", "kernel_size=7", "split=8x16"}
    assert "filters=32" not in confirm and all(len(e["runs"]) == 7 for e in confirm.values())
    combos = doc["stages"]["combination"]
    assert set(combos) == {"standardize=on+kernel_size=7"}
    chosen = doc["chosen"]
    assert chosen["name"] == "standardize=on+kernel_size=7" and chosen["epochs"] == 44
    assert chosen["baseline_epochs"] == 30 and not doc["missing"]
    runs = converged.final_runs(doc)
    assert [r.epochs for r in runs] == [44] * 5 + [30] * 5
    assert all(r.test and not r.val_subjects for r in runs)
    assert [r.seed for r in runs[:5]] == [r.seed for r in runs[5:]] == list(range(5))
    assert dict(runs[0].train) == {"standardize": True} and dict(runs[0].model_kwargs) == {
        "kernel_size": 7}
    # a missing fold run stops before the choice
    monkeypatch.setattr(converged, "load",
                        lambda run, ds: None if run.name.endswith("fold6") else fake_load(run, ds))
    doc = converged.select(object())
    assert doc["chosen"] is None and "paper" in doc["missing"]
