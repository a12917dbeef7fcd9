"""The dataset API on synthetic official-layout archives: sources, cache, splits, fidelity."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from har_utils import config, data
from har_utils.data import uci
from har_utils.data import HarDataset, Split
from har_utils.io import sha256_file
from synthetic_uci import make_uci_zip


@pytest.fixture
def synthetic_zip(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    path = make_uci_zip(tmp_path / "UCI HAR Dataset.zip", n_train=60, n_test=30)
    return path, {sha256_file(path): "inner"}


def test_load_synthetic_uci_and_cache(synthetic_zip: tuple[Path, dict[str, str]],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    path, known = synthetic_zip
    ds = data.load_dataset(zip_path=path, known=known, verbose=False)
    assert ds.source == "uci" and ds.label == "official UCI HAR"
    assert ds.train.X.shape == (60, 128, 9) and ds.test.X.shape == (30, 128, 9)
    assert ds.features_train is not None and ds.features_train.shape == (60, 561)
    assert ds.provenance["archive_sha256"] == next(iter(known))
    cache = config.cache_dir() / ds.provenance["cache"]
    assert cache.exists()

    def must_not_parse(*_a: object, **_k: object) -> None:
        raise AssertionError("a cached load parsed the archive again")

    monkeypatch.setattr(uci, "load_uci_zip", must_not_parse)
    again = data.load_dataset(zip_path=path, known=known, verbose=False)
    assert np.array_equal(again.train.X, ds.train.X) and np.array_equal(again.test.y, ds.test.y)


def test_auto_prefers_a_local_archive_and_says_why(synthetic_zip: tuple[Path, dict[str, str]],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    path, _ = synthetic_zip
    monkeypatch.setenv(config.UCI_ZIP_ENV, str(path))
    source, reason = data.choose_source("auto")
    assert source == "uci" and str(path) in reason


def test_auto_falls_back_to_hapt_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAR_OFFLINE", "1")  # the reason says why no download was tried
    source, reason = data.choose_source("auto", timeout=0.5)
    assert source == "hapt" and "HAR_OFFLINE is set, so no download was tried" in reason
    assert "reachable" not in reason
    monkeypatch.delenv("HAR_OFFLINE")
    from har_utils.data import download
    monkeypatch.setattr(download, "reachable", lambda url, timeout: False)
    source, reason = data.choose_source("auto", timeout=0.5)
    assert source == "hapt" and "not reachable within 0.5 s" in reason


def test_unknown_source_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown source"):
        data.choose_source("kaggle")  # type: ignore[arg-type]


def test_default_validation_subjects_are_documented_training_subjects() -> None:
    subjects = data.validation_subjects()
    assert subjects == (8, 17, 21, 25)  # documented in config and the README
    assert set(subjects) <= set(config.TRAIN_SUBJECTS)
    assert not set(subjects) & set(config.TEST_SUBJECTS)
    assert data.validation_subjects(6, seed=1) != subjects


def _dataset_from_counts(counts: pd.DataFrame) -> HarDataset:
    splits = {}
    for name, t in counts.groupby("split"):
        y = np.repeat(t["activity_id"].to_numpy(), t["n_windows"].to_numpy())
        s = np.repeat(t["subject"].to_numpy(), t["n_windows"].to_numpy())
        splits[name] = Split(np.zeros((len(y), 128, 9), np.float32), y, s)
    return HarDataset(splits["train"], splits["test"], "hapt", {})


def test_split_validation_is_by_subject_and_leaves_test_alone() -> None:
    ds = _dataset_from_counts(data.official_counts())
    fit, val = data.split_validation(ds)
    assert set(val.subject.tolist()) == {8, 17, 21, 25}
    assert not set(fit.subject.tolist()) & set(val.subject.tolist())
    assert len(fit.y) + len(val.y) == len(ds.train.y) == 7352
    with pytest.raises(ValueError, match="must be training subjects"):
        data.split_validation(ds, (1, 2))


def test_fidelity_exact_when_counts_match_and_localises_a_difference() -> None:
    official = data.official_counts()
    table = data.fidelity_table(_dataset_from_counts(official))
    summary = data.fidelity_summary(table)
    assert summary["overall"]["cells"] == summary["overall"]["cells_exact"] == 180
    assert summary["overall"]["official"] == 10299 and summary["overall"]["total_diff"] == 0

    changed = official.copy()
    row = (changed.split == "test") & (changed.subject == 9) & (changed.activity_id == 4)
    changed.loc[row, "n_windows"] += 3
    table = data.fidelity_table(_dataset_from_counts(changed))
    diff = table[table["diff"] != 0]
    assert diff[["split", "subject", "activity_id", "diff"]].values.tolist() == [["test", 9, 4, 3]]
    s = data.fidelity_summary(table)
    assert s["overall"]["cells_exact"] == 179 and s["per_activity"]["SITTING"]["total_diff"] == 3


def test_official_counts_resource_matches_the_published_totals() -> None:
    c = data.official_counts()
    assert c.groupby("split")["n_windows"].sum().to_dict() == {"test": 2947, "train": 7352}
    runs = pd.read_csv(config.OFFICIAL_RUNS_CSV)
    per_cell = runs.groupby(["split", "subject", "activity"])["n_windows"].sum()
    assert per_cell.sum() == 10299 and len(per_cell) == 180


def test_data_summary_is_written_atomically(synthetic_zip: tuple[Path, dict[str, str]]) -> None:
    path, known = synthetic_zip
    ds = data.load_dataset(zip_path=path, known=known, verbose=False)
    out = data.write_data_summary(ds)
    assert out == config.results_dir() / "data_summary.json"
    s = json.loads(out.read_text())
    assert s["source"] == "uci" and s["windows"]["train"] == 60
    assert sum(s["windows"]["per_class"]["train"].values()) == 60
    assert s["fidelity"]["overall"]["cells"] == 180
    assert [p.name for p in out.parent.iterdir()] == ["data_summary.json"]


def test_features_official_for_uci(synthetic_zip: tuple[Path, dict[str, str]]) -> None:
    path, known = synthetic_zip
    ds = data.load_dataset(zip_path=path, known=known, verbose=False)
    ftr, fte, names, what = data.features(ds)
    assert ftr.shape == (60, 561) and len(names) == 561 and what == "official 561 features"


def test_a_bad_archive_leaves_no_cache_behind(tmp_path: Path) -> None:
    from har_utils.io import HarDataError

    bad = make_uci_zip(tmp_path / "UCI HAR Dataset.zip", nan_in="train/y_train.txt")
    with pytest.raises(HarDataError, match="y_train.txt"):
        data.load_dataset(zip_path=bad, known={sha256_file(bad): "inner"}, verbose=False)
    cache = config.cache_dir()
    assert not cache.exists() or list(cache.iterdir()) == []


def test_cache_names_change_with_the_code_that_builds_them(monkeypatch: pytest.MonkeyPatch) -> None:
    before = data.code_key("data/hapt", "signals")
    real = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes",
                        lambda self: real(self) + (b"#" if self.name == "signals.py" else b""))
    assert data.code_key("data/hapt", "signals") != before


def test_a_cold_load_hashes_the_archive_once(synthetic_zip: tuple[Path, dict[str, str]],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    path, known = synthetic_zip
    calls: list[Path] = []
    real = uci.sha256_file

    def counting(p: Path) -> str:
        calls.append(Path(p))
        return real(p)

    monkeypatch.setattr(uci, "sha256_file", counting)
    data.load_dataset(zip_path=path, known=known, verbose=False)
    assert calls.count(path) == 1
