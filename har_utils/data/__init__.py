"""The dataset API: one call returns UCI HAR windows from the best available source.

``load_dataset("auto")`` takes the official archive when present (``$HAR_UCI_ZIP`` or
``data/raw/``) or quickly downloadable, and otherwise rebuilds the windows from the raw HAPT
recordings, saying which and why. Both give ``X`` (n, 128, 9) float32 in ``config.CHANNELS``
order, ``y`` activity ids 1-6, ``subject`` ids 1-30, split by the official test subjects;
parsed arrays are cached in ``data/cache`` (verified on read, no pickles).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd

from .. import config
from ..io import cached_arrays, write_json_atomic
from ..provenance import package_versions
from ..signals import Preprocessing
from . import hapt, uci

Source = Literal["auto", "uci", "hapt"]
SOURCE_LABELS = {"uci": "official UCI HAR", "hapt": "HAPT rebuild"}


def code_key(*modules: str) -> str:
    """Short hash of the named modules' source (e.g. ``data/hapt``), so a cache built by
    other code is never reused."""
    h = hashlib.sha256()
    for m in modules:
        h.update((config.PACKAGE_DIR / f"{m}.py").read_bytes())
    return h.hexdigest()[:8]


class Split(NamedTuple):
    """Windows of one split: ``X`` (n,128,9), ``y`` ids 1-6, ``subject`` ids."""

    X: np.ndarray
    y: np.ndarray
    subject: np.ndarray


@dataclass
class HarDataset:
    """Train and test windows of one source, with provenance."""

    train: Split
    test: Split
    source: str
    provenance: dict[str, Any]
    features_train: np.ndarray | None = None
    features_test: np.ndarray | None = None
    feature_names: list[str] | None = None
    extra: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """Human-readable source label for stamping figures and tables."""
        return SOURCE_LABELS[self.source]

    def counts(self) -> pd.DataFrame:
        """Windows per (split, subject, activity)."""
        per = [pd.DataFrame({"split": name, "subject": s.subject, "activity_id": s.y}).value_counts()
               for name, s in (("train", self.train), ("test", self.test))]
        out = pd.concat(per).rename("n_windows").reset_index()
        out["activity"] = out["activity_id"].map(config.ACTIVITIES)
        return out.sort_values(["split", "subject", "activity_id"], ignore_index=True)[
            ["split", "subject", "activity_id", "activity", "n_windows"]]


def stamp(ds: HarDataset) -> dict[str, Any]:
    """The short provenance every results file carries: which data, which checksum."""
    p = ds.provenance
    return {"source": ds.source, "source_label": ds.label,
            "checksum_sha256": p.get("archive_sha256") or p.get("resource_sha256"),
            "preprocessing": p.get("preprocessing"), "cache": p.get("cache")}


def validation_subjects(n: int = config.DEFAULT_N_VALIDATION_SUBJECTS,
                        seed: int = config.DEFAULT_VALIDATION_SEED) -> tuple[int, ...]:
    """``n`` subjects drawn (seeded) from the 21 training subjects only, sorted."""
    if not 0 < n < len(config.TRAIN_SUBJECTS):
        raise ValueError(f"n must be between 1 and {len(config.TRAIN_SUBJECTS) - 1}, got {n}")
    rng = np.random.default_rng(seed)
    return tuple(sorted(int(s) for s in rng.choice(config.TRAIN_SUBJECTS, n, replace=False)))


def split_validation(ds: HarDataset, subjects: tuple[int, ...] | None = None
                     ) -> tuple[Split, Split]:
    """Split the training windows by subject into (fit, validation) (default subjects:
    :func:`validation_subjects`); the test set is untouched."""
    subjects = validation_subjects() if subjects is None else tuple(subjects)
    bad = sorted(set(subjects) - set(config.TRAIN_SUBJECTS))
    if bad:
        raise ValueError(f"validation subjects must be training subjects; {bad} are not")
    m = np.isin(ds.train.subject, subjects)
    fit = Split(*(a[~m] for a in ds.train))
    val = Split(*(a[m] for a in ds.train))
    return fit, val


def parse_channels(spec: str) -> list[str]:
    """The channels of a spec: ``"all"``, or a comma list of channel and sensor names (e.g.
    ``"total_acc"``: its x, y, z)."""
    if spec.strip() == "all":
        return list(config.CHANNELS)
    out: list[str] = []
    for part in (p.strip() for p in spec.split(",")):
        names = [c for c in config.CHANNELS if c == part or c.rsplit("_", 1)[0] == part]
        if not names:
            sensors = sorted({c.rsplit("_", 1)[0] for c in config.CHANNELS})
            raise ValueError(f"unknown channel or sensor {part!r}: use 'all' or a comma list of "
                             f"{', '.join(sensors)} or channel names ({', '.join(config.CHANNELS)})")
        out += [n for n in names if n not in out]
    return out


def select_channels(ds: HarDataset, channels: Sequence[str]) -> HarDataset:
    """The same windows with only ``channels``, in the order given (all nine: ``ds`` itself);
    labels, subjects, provenance and features are shared with ``ds``."""
    channels = list(channels)
    bad = [c for c in channels if c not in config.CHANNELS]
    if bad or not channels or len(set(channels)) != len(channels):
        raise ValueError(f"bad channel selection {channels}: use distinct names from "
                         f"{config.CHANNELS}")
    if channels == list(config.CHANNELS):
        return ds
    idx = [config.CHANNELS.index(c) for c in channels]

    def pick(s: Split) -> Split:
        return Split(np.ascontiguousarray(s.X[..., idx]), s.y, s.subject)
    return replace(ds, train=pick(ds.train), test=pick(ds.test))


def choose_source(source: Source = "auto", *, timeout: float = 5.0) -> tuple[str, str]:
    """Resolve ``auto`` to ``uci`` or ``hapt``; return (source, reason)."""
    if source in ("uci", "hapt"):
        return source, "requested explicitly"
    if source != "auto":
        raise ValueError(f"unknown source {source!r}; use 'auto', 'uci' or 'hapt'")
    local = uci.find_local_zip()
    if local is not None:
        return "uci", f"official archive found at {config.shown(local)}"
    from .download import OFFLINE_ENV, offline, reachable
    if reachable(config.UCI_URL, timeout=timeout):
        return "uci", f"official archive downloadable from {config.UCI_URL}"
    why = (f"{OFFLINE_ENV} is set, so no download was tried" if offline()
           else f"{config.UCI_URL} not reachable within {timeout:g} s")
    return "hapt", (f"no official archive in ${config.UCI_ZIP_ENV} or "
                    f"{config.shown(config.raw_dir())} and {why}; rebuilding from HAPT")


def _uci_arrays(zip_path: Path | None, known: dict[str, str] | None
                ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    if zip_path is None:
        zip_path = uci.find_local_zip()
    if zip_path is None:
        from .download import download
        zip_path = download(config.UCI_URL, config.raw_dir() / config.UCI_OUTER_ZIP["name"],
                            config.UCI_OUTER_ZIP["sha256"], config.UCI_OUTER_ZIP["size"])
    info = uci.verify_zip(zip_path, known)
    cache = config.cache_dir() / f"uci-{info['sha256'][:12]}-{code_key('data/uci')}.npz"
    prov = {"archive": config.shown(zip_path), "archive_sha256": info["sha256"], "archive_kind": info["kind"],
            "preprocessing": "official (as published by UCI)"}
    return (cached_arrays(cache, lambda: uci.load_uci_zip(zip_path, known, verified=info)),
            {**prov, "cache": cache.name})


def _hapt_arrays(p: Preprocessing) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    raw, prov = hapt.load_raw()
    cache = config.cache_dir() / (f"hapt-{config.HAPT_SHA256[:12]}-{p.key()}-"
                                  f"{code_key('data/hapt', 'signals')}.npz")
    arrays = cached_arrays(cache, lambda: hapt.build_windows(raw, p))
    return arrays, {**prov, "preprocessing": p.as_dict(), "cache": cache.name}


def load_dataset(source: Source = "auto", *, zip_path: Path | None = None,
                 known: dict[str, str] | None = None,
                 preprocessing: Preprocessing = Preprocessing(),
                 verbose: bool = True) -> HarDataset:
    """Load UCI HAR windows from ``source``; ``zip_path``/``known`` name an official archive
    and its accepted checksums (tests: synthetic ones); ``preprocessing`` is for ``hapt``."""
    t0 = time.perf_counter()
    if zip_path is not None and source == "auto":
        source, reason = "uci", f"archive given: {zip_path}"
    else:
        source, reason = choose_source(source)
    if verbose:
        print(f"Data source: {SOURCE_LABELS[source]} ({source}) - {reason}")
    if source == "uci":
        arrays, prov = _uci_arrays(zip_path, known)
    else:
        arrays, prov = _hapt_arrays(preprocessing)
    ds = _from_arrays(arrays, source)
    ds.provenance = {"source": source, "source_label": SOURCE_LABELS[source], "reason": reason,
                     **prov, "packages": package_versions(("numpy", "scipy", "pandas")),
                     "load_seconds": round(time.perf_counter() - t0, 3)}
    return ds


def _from_arrays(a: dict[str, np.ndarray], source: str) -> HarDataset:
    def split(name: str) -> Split:
        return Split(a[f"X_{name}"], a[f"y_{name}"], a[f"subject_{name}"])
    extra = {k: v for k, v in a.items()
             if not k.startswith(("X_", "y_", "subject_", "features_")) and k != "feature_names"}
    ds = HarDataset(split("train"), split("test"), source, {}, extra=extra)
    if "features_train" in a:
        ds.features_train, ds.features_test = a["features_train"], a["features_test"]
        ds.feature_names = [str(n) for n in a["feature_names"]]
    return ds


def features(ds: HarDataset) -> tuple[np.ndarray, np.ndarray, list[str], str]:
    """(train, test, names, description): the official 561 (``uci``) or our computed set."""
    if ds.features_train is not None and ds.feature_names is not None:
        assert ds.features_test is not None
        return ds.features_train, ds.features_test, ds.feature_names, "official 561 features"
    from .window_features import FEATURE_SET_VERSION, compute_features
    source_cache = ds.provenance.get("cache")
    if source_cache is None:
        raise ValueError("features need a dataset from load_dataset (its cache names the windows)")
    cache = config.cache_dir() / f"features-{code_key('data/window_features')}-{source_cache}"
    def build() -> dict[str, np.ndarray]:
        ftr, names = compute_features(ds.train.X)
        fte, _ = compute_features(ds.test.X)
        return {"train": ftr, "test": fte, "names": np.array(names)}
    f = cached_arrays(cache, build)
    return f["train"], f["test"], [str(n) for n in f["names"]], f"computed ({FEATURE_SET_VERSION})"


def official_counts() -> pd.DataFrame:
    """Official windows per (split, subject, activity), counted from the official label files."""
    return pd.read_csv(config.OFFICIAL_COUNTS_CSV)


def fidelity_table(ds: HarDataset) -> pd.DataFrame:
    """Per (split, subject, activity): official and rebuilt window counts and their difference."""
    off = official_counts().rename(columns={"n_windows": "official"})
    got = ds.counts().rename(columns={"n_windows": "rebuilt"})
    keys = ["split", "subject", "activity_id"]
    m = off.merge(got.drop(columns="activity"), on=keys, how="outer")
    m["activity"] = m["activity_id"].map(config.ACTIVITIES)
    m[["official", "rebuilt"]] = m[["official", "rebuilt"]].fillna(0).astype(int)
    m["diff"] = m["rebuilt"] - m["official"]
    return m.sort_values(keys, ignore_index=True)[keys + ["activity", "official", "rebuilt", "diff"]]


def fidelity_summary(table: pd.DataFrame) -> dict[str, Any]:
    """Cells matching exactly, totals and differences, overall and per activity and split."""
    def summ(t: pd.DataFrame) -> dict[str, Any]:
        return {"cells": int(len(t)), "cells_exact": int((t["diff"] == 0).sum()),
                "official": int(t["official"].sum()), "rebuilt": int(t["rebuilt"].sum()),
                "total_diff": int(t["diff"].sum()), "abs_diff": int(t["diff"].abs().sum()),
                "max_abs_cell_diff": int(t["diff"].abs().max()) if len(t) else 0}
    return {"overall": summ(table),
            "per_activity": {config.ACTIVITIES[int(a)]: summ(t) for a, t in table.groupby("activity_id")},
            "per_split": {str(s): summ(t) for s, t in table.groupby("split")}}


def data_summary(ds: HarDataset) -> dict[str, Any]:
    """Source, provenance, shapes, windows per split and class, and fidelity figures."""
    per_class = {name: {config.ACTIVITIES[int(k)]: int(v) for k, v in
                        zip(*np.unique(s.y, return_counts=True))}
                 for name, s in (("train", ds.train), ("test", ds.test))}
    return {"source": ds.source, "source_label": ds.label, "provenance": ds.provenance,
            "channels": config.CHANNELS, "activities": config.ACTIVITIES,
            "shapes": {"X_train": list(ds.train.X.shape), "X_test": list(ds.test.X.shape)},
            "windows": {"train": int(len(ds.train.y)), "test": int(len(ds.test.y)),
                        "per_class": per_class},
            "subjects": {"train": sorted(set(ds.train.subject.tolist())),
                         "test": sorted(set(ds.test.subject.tolist())),
                         "validation_default": list(validation_subjects())},
            "fidelity": fidelity_summary(fidelity_table(ds))}


def write_data_summary(ds: HarDataset, path: Path | None = None) -> Path:
    """Write :func:`data_summary` to ``results/data_summary.json`` (atomically)."""
    path = config.results_dir() / "data_summary.json" if path is None else Path(path)
    return write_json_atomic(path, data_summary(ds))
