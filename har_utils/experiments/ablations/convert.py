"""Convert the former ablation store (``results/ablations/runs/<study>__<point>__seed<k>.json``,
one file per run name, copies of a shared configuration marked ``reused_from``) into the
runner's store (``results/runs/<key>.json``, one file per configuration) and the study's index.

Nothing is trained. Each old file's ``spec`` becomes the :class:`~.runner.Run` that
:func:`~.studies.ablation_run` builds for it; the conversion checks that the run resolves to
the old file's training configuration, channels, validation subjects and data checksum, and
that every old file of one new key holds the same result (copies of one trained run). The
trained file (not a copy) of each key is written in the runner's form, with the ablation's own
fields (validation numbers, threads of the old process pool) and ``converted_from``; every old
name goes to the index. The conversion has run (the old folder is gone); to run it again on
restored files: ``convert(data.load_dataset(), folder, write=False)`` checks them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ... import config
from ...data import HarDataset
from ...io import write_json_atomic
from .. import runner
from ..runner import Run
from . import studies as core

#: Fields of an old file that name it rather than describe its result.
NAMING_FIELDS: tuple[str, ...] = ("name", "spec", "study", "point", "reused_from")
#: Old fields kept as they are (the runner's names where it has the field).
KEPT_FIELDS: tuple[str, ...] = (
    "data", "train_config", "input_shape", "history", "test", "test_ci95_subject_bootstrap",
    "y_pred", "epochs_run", "best_epoch", "train_seconds", "seconds_per_epoch", "parameters",
    "wall_seconds", "cpu_count", "environment", "threads", "train_accuracy",
    "validation_subjects", "validation_accuracy", "validation_loss", "validation")


def legacy_dir() -> Path:
    """``results/ablations/runs``: the former store."""
    return core.ablations_dir() / "runs"


def _shown(path: Path) -> str:
    """``results/...`` for a file under the results folder, else :func:`config.shown`."""
    root = config.results_dir()
    return (f"results/{path.relative_to(root).as_posix()}" if path.is_relative_to(root)
            else config.shown(path))


def source_of(path: Path) -> str:
    """``converted_from`` of the old file ``path``: :func:`_shown`, or its place in the former
    store (``results/ablations/runs/<name>``) for a copy outside the project: a results file
    carries no machine's absolute path."""
    shown = _shown(path)
    if Path(shown).is_absolute() or shown.startswith("<"):
        return f"results/ablations/runs/{Path(path).name}"
    return Path(shown).as_posix()


def legacy_run(old: Mapping[str, Any]) -> Run:
    """The runner's :class:`Run` of an old result (from its ``spec``)."""
    spec = old["spec"]
    if spec.get("protocol", "subjects") != "subjects":
        raise ValueError(f"{old['name']}: protocol {spec['protocol']!r} is not 'subjects'")
    run = core.ablation_run(spec["study"], spec["point"], seed=int(spec["seed"]),
                            max_epochs=int(spec["max_epochs"]), model=spec["model"],
                            model_kwargs=spec.get("model_kwargs") or {},
                            train=spec.get("train") or {}, channels=spec["channels"],
                            patience=int(spec["patience"]),
                            n_validation_subjects=int(spec["n_validation_subjects"]))
    if run.name != old["name"]:
        raise ValueError(f"{old['name']}: its spec names {run.name}")
    return run


def check_legacy(old: Mapping[str, Any], run: Run, checksum: str) -> None:
    """Raise ``ValueError`` unless ``run`` is what the old result trained: the same resolved
    training configuration, input channels, validation subjects and data checksum."""
    name = old["name"]
    if old["data"]["checksum_sha256"] != checksum:
        raise ValueError(f"{name}: trained on data {old['data']['checksum_sha256']}, "
                         f"not {checksum}")
    cfg = run.config()
    if old["train_config"] != cfg["train_config"]:
        raise ValueError(f"{name}: the old training configuration {old['train_config']} is "
                         f"not the run's {cfg['train_config']}")
    if old.get("channels", cfg["channels"]) != cfg["channels"]:
        raise ValueError(f"{name}: channels {old['channels']} are not {cfg['channels']}")
    if list(old["validation_subjects"]) != cfg["val_subjects"]:
        raise ValueError(f"{name}: validation subjects {old['validation_subjects']} are not "
                         f"{cfg['val_subjects']}")


def same_result(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """True when two old files hold the same result (naming fields aside)."""
    strip = set(NAMING_FIELDS)
    return ({k: v for k, v in a.items() if k not in strip}
            == {k: v for k, v in b.items() if k not in strip})


def convert_result(old: Mapping[str, Any], run: Run, checksum: str, source: str
                   ) -> dict[str, Any]:
    """The runner-form result of an old (trained) result: ``key``, ``study``, ``name``,
    ``run``, ``config`` and the old fields it has (:data:`KEPT_FIELDS`), ``worker`` (the old
    pool's threads; host and process are not known) and ``converted_from`` (``source``).
    There is no ``test_proba`` (the old runs kept only the predicted classes) and no
    ``device``."""
    out: dict[str, Any] = {"key": run.key(checksum), "study": run.study, "name": run.name,
                           "run": run.as_dict(), "config": run.config(),
                           **{k: old[k] for k in KEPT_FIELDS if k in old},
                           "converted_from": source}
    threads = old.get("threads") or {}
    if threads:
        out["worker"] = {"address": "local", "threads": {
            k: threads[k] for k in ("intra_op", "inter_op") if k in threads}}
    return out


def convert(ds: HarDataset, folder: Path | None = None, *, write: bool = True,
            replace_conflicts: bool = False) -> dict[str, Any]:
    """Convert every old result under ``folder`` (default :func:`legacy_dir`) for ``ds``.

    Groups the old files by their new key, checks each (:func:`check_legacy`) and that the
    files of one key hold one result (:func:`same_result`), then (``write``) stores the
    trained file of each key as ``results/runs/<key>.json`` and every old name in the index.
    A store file of another origin at one of the keys (another study's run of the same
    configuration, trained separately) is reported under ``conflicts`` and left as it is,
    unless ``replace_conflicts``: one key holds one result, so which one stays is a decision.
    Returns what was done: ``files``, ``keys``, ``duplicates`` (key -> old names, where
    several), ``conflicts`` (key -> what holds it), ``written`` (keys).
    """
    folder = legacy_dir() if folder is None else Path(folder)
    checksum = runner.checksum(ds)
    groups: dict[str, list[tuple[Path, dict[str, Any], Run]]] = {}
    for path in sorted(folder.glob("*.json")):
        old = json.loads(path.read_text())
        run = legacy_run(old)
        check_legacy(old, run, checksum)
        groups.setdefault(run.key(checksum), []).append((path, old, run))
    runs: list[Run] = []
    duplicates: dict[str, list[str]] = {}
    conflicts: dict[str, str] = {}
    written = []
    for key, group in groups.items():
        trained = [g for g in group if not g[1].get("reused_from")] or group[:1]
        if len(trained) > 1:
            raise ValueError(f"key {key}: several trained files {[p.name for p, _, _ in trained]}")
        path, old, run = trained[0]
        for other_path, other, _ in group:
            if not same_result(old, other):
                raise ValueError(f"key {key}: {other_path.name} and {path.name} hold "
                                 "different results for one configuration")
        if len(group) > 1:
            duplicates[key] = [g[2].name for g in group]
        runs += [g[2] for g in group]
        source = source_of(path)
        result = convert_result(old, run, checksum, source)
        target = runner.result_path(key)
        if target.exists():
            there = json.loads(target.read_text())
            if there.get("converted_from") != source:
                conflicts[key] = (f"{_shown(target)} holds {there.get('study')}: "
                                  f"{there.get('name')} (from {there.get('converted_from')}), "
                                  f"not {run.name}; "
                                  + ("replaced" if replace_conflicts else "left as it is"))
                if not replace_conflicts:
                    continue
        if write:
            write_json_atomic(target, result)
            written.append(key)
    if write:
        core.record(runs, ds)
    return {"files": sum(map(len, groups.values())), "keys": len(groups),
            "duplicates": duplicates, "conflicts": conflicts, "written": written}
