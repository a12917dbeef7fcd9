"""One-off conversion of the zoo's own run files into the experiment runner's store.

Before the runner existed, the zoo kept its runs as
``results/zoo/runs/<model>__<protocol>__seed<k>.json`` under keys of its own.
:func:`convert` turns one such file into the result the runner writes for the zoo's
:class:`~har_utils.experiments.runner.Run` (:func:`.zoo.zoo_run`), under the runner's
key, without retraining: the runner's fields where the old file has the information,
``converted_from`` naming the file, and ``converted_fields`` keeping verbatim what the runner
has no field for (the old spec, key and training settings as written, the training accuracy of
the kept weights, the validation accuracy, thread settings). Old runs kept no test softmax
(``test_proba``), no device and no worker: those fields stay absent. The ``paper`` runs'
readings (final epoch, best epoch on test) are not copied: :func:`.zoo.paper_readings`
computes them from the curve, and :func:`check` makes sure they agree with the old file.

:func:`check` refuses (``ValueError``) a file that a Run cannot express: other data, another
budget, patience or validation split, other training settings. :func:`convert_folder` never
overwrites a result another study stored under the same key (one configuration, one result):
it keeps it and says so. The conversion has run (the old folder is gone); to run it again on
restored files: ``convert_folder(folder, data.load_dataset(), write=False)`` checks them.
``converted_from`` names an old file by its place in the project (:func:`source_of`), wherever
the copy converted lay: a results file carries no machine's absolute path.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import config
from ..data import HarDataset
from ..io import write_json_atomic
from . import zoo
from .runner import CLASSICAL, Run, checksum, result_path

#: Fields the runner writes that an old zoo file holds under the same name and meaning.
SAME_FIELDS = ("history", "test", "test_ci95_subject_bootstrap", "y_pred", "epochs_run",
               "best_epoch", "train_seconds", "seconds_per_epoch", "parameters", "features",
               "n_features", "wall_seconds", "cpu_count", "environment")
#: Old fields computed from the history now (``zoo.paper_readings``): checked, not copied.
READINGS = ("final_epoch_test_accuracy", "best_epoch_by_test", "best_epoch_test_accuracy")
#: Training settings an old zoo file records, all of which the Run must reproduce.
TRAIN_KEYS = ("model", "epochs", "batch_size", "optimizer", "learning_rate", "seed")
#: Where the zoo kept its run files (project-relative): ``converted_from`` of a copy elsewhere.
LEGACY_DIR = "results/zoo/runs"

Result = dict[str, Any]


def zoo_run_of(old: Result) -> Run:
    """The zoo's Run of an old run file (``retrain_all``: the epochs it trained for)."""
    s = old["spec"]
    epochs = old["train_config"]["epochs"] if s["protocol"] == "retrain_all" else None
    return zoo.zoo_run(s["model"], s["protocol"], int(s["seed"]), epochs)


def check(old: Result, run: Run, expected: str) -> None:
    """Raise ``ValueError`` unless ``run`` on data ``expected`` (a checksum) is what the old
    file ran."""
    s, name = old["spec"], old.get("name", "?")
    problems = []
    if old["data"]["checksum_sha256"] != expected:
        problems.append(f"made on data {old['data']['checksum_sha256']}, not {expected}")
    if (s["max_epochs"], s["patience"], s["n_validation_subjects"]) != (
            zoo.BUDGET, zoo.PATIENCE, config.DEFAULT_N_VALIDATION_SUBJECTS):
        problems.append(f"budget/patience/validation subjects {s['max_epochs']}/{s['patience']}/"
                        f"{s['n_validation_subjects']}, the zoo's are {zoo.BUDGET}/"
                        f"{zoo.PATIENCE}/{config.DEFAULT_N_VALIDATION_SUBJECTS}")
    if run.model in CLASSICAL:
        # the old zoo fitted StandardScaler + LogisticRegression(C=1, max_iter=3000) on every
        # training window: the runner's classical body with C = 1 on all 21 subjects
        if "train_accuracy" not in old or "history" in old:
            problems.append("not a classical zoo run")
    else:
        tc, want = old["train_config"], run.train_config().as_dict()
        extra = sorted(set(tc) - {*TRAIN_KEYS, "model_kwargs", "patience"})
        if extra:
            problems.append(f"training settings the zoo never set: {extra}")
        problems += [f"{k} {tc[k]!r} != {want[k]!r}" for k in TRAIN_KEYS if tc[k] != want[k]]
        defaults = want["model_kwargs"]  # old {}: the builder's defaults, all of them
        problems += [f"model_kwargs {k}={v!r}" for k, v in tc["model_kwargs"].items()
                     if defaults.get(k) != v]
        # retrain_all had no validation data: its patience of 10 stopped nothing (0 here)
        if s["protocol"] != "retrain_all" and tc["patience"] != want["patience"]:
            problems.append(f"patience {tc['patience']} != {want['patience']}")
        if old["epochs_run"] > want["epochs"]:
            problems.append(f"{old['epochs_run']} epochs run, budget {want['epochs']}")
    if s["protocol"] == "subjects" and run.model not in CLASSICAL and \
            old.get("validation_subjects") != list(run.val_subjects):
        problems.append(f"validation subjects {old.get('validation_subjects')}")
    if s["protocol"] == "paper":
        got = zoo.paper_readings(old)
        problems += [f"{k} {old[k]} != {got[k]} read off the curve" for k in READINGS
                     if old[k] != got[k]]
    if problems:
        raise ValueError(f"{name} cannot be expressed as {run.label}: " + "; ".join(problems))


def convert(old: Result, expected: str, source: str) -> tuple[Run, Result]:
    """The Run of an old zoo file and the runner-format result for it (``expected``: the data
    checksum; ``source``: the file, for ``converted_from``)."""
    run = zoo_run_of(old)
    check(old, run, expected)
    body = {k: old[k] for k in SAME_FIELDS if k in old}
    mapped = set(SAME_FIELDS) | set(READINGS) | {"data"}
    if run.model in CLASSICAL:  # the runner's classical body: one "epoch", fit accuracy
        body.update(history={"accuracy": [old["train_accuracy"]]}, epochs_run=1)
        mapped.add("train_accuracy")
    result = {"key": run.key(expected), "study": run.study, "name": run.name,
              "run": run.as_dict(), "config": run.config(), "data": old["data"], **body,
              "converted_from": source,
              "converted_fields": {k: v for k, v in old.items() if k not in mapped}}
    return run, result


def source_of(path: Path) -> str:
    """``converted_from`` of the old file ``path``: its path relative to the project when it
    lies inside it, else its place in the zoo's former folder (``results/zoo/runs/<name>``),
    never an absolute path (a restored copy in a temporary folder, say)."""
    shown = config.shown(path)
    if Path(shown).is_absolute() or shown.startswith("<"):
        return f"{LEGACY_DIR}/{Path(path).name}"
    return Path(shown).as_posix()


def convert_folder(folder: Path, ds: HarDataset, *, write: bool = True,
                   log: Callable[[str], Any] = print) -> list[tuple[Run, str]]:
    """Convert every old zoo file in ``folder`` for ``ds``; returns (Run, what happened) per
    file. A key already holding another result (not converted from the same file) is kept."""
    expected = checksum(ds)
    olds = {p: json.loads(p.read_text()) for p in sorted(Path(folder).glob("*.json"))}
    by_name = {o["name"]: o for o in olds.values()}
    out = []
    for path, old in olds.items():
        source = source_of(path)
        run, result = convert(old, expected, source)
        if old["spec"]["protocol"] == "retrain_all":  # its epochs: the subjects run's best
            base = by_name.get(old["epochs_from"])
            if base is None or base["best_epoch"] != run.epochs:
                raise ValueError(f"{old['name']}: {run.epochs} epochs, not the best epoch of "
                                 f"{old['epochs_from']}")
        target = result_path(result["key"])
        there = json.loads(target.read_text()) if target.exists() else None
        if there is not None and there.get("converted_from") != source:
            same = there.get("y_pred") == result["y_pred"]
            what = (f"kept the stored result of {there.get('name')} (same configuration, "
                    + ("same predictions)" if same else
                       f"test accuracy {there['test']['accuracy']:.4f}; this file's "
                       f"{result['test']['accuracy']:.4f} is not stored)"))
        else:
            what = "written" if write else "would be written"
            if write:
                write_json_atomic(target, result)
        log(f"[convert] {path.name} -> {run.name} {result['key']}: {what}")
        out.append((run, what))
    return out
