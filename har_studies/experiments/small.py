"""A model for a watch: one network whose int8 TFLite file fits in 32 KB, chosen on protocol
cv's folds, tested once.

The candidates are small CNNs (``small_cnn`` of the zoo module: no recurrent layer, so the int8
file holds one operator per layer) trained with the beyond study's chosen recipe (rotations up
to 45 degrees, channels standardised inside the model), plus two recipe variants. Stages:

1. **size**: each candidate's int8 file, exported from an untrained build in a TensorFlow child
   process; a candidate over :data:`SIZE_LIMIT_BYTES` is reported and not trained;
2. **screen**: the others on the first 3 folds, scored by protocol cv's nested score of the
   argmax epoch rule (as in the beyond study);
3. **confirm**: the :data:`CONFIRM` best on all 7 folds; the best 7-fold score is chosen.

The choice (``results/small/choice.json``, fold runs only) is committed before the final runs
(:data:`FINAL_SEEDS` seeds on all 21 training subjects) test it; seed 0 is the shipped model
(``results/models/small.keras``, ``har small export``). ``har small cost|run|summary|export``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from har_utils import config, data
from har_utils.data import HarDataset
from har_utils.io import HarError, write_json_atomic

from . import beyond, cv
from .. import constants
from .beyond import Candidate
from .runner import Run, checksum, execute, load, results_of, study_hours

STUDY = "small"
#: The name ``har predict --model`` and the deployment benchmark know it by.
MODEL_NAME = constants.SMALL_MODEL
#: The int8 TFLite file of the chosen network must fit in this many bytes (a watch's budget).
SIZE_LIMIT_BYTES = 32 * 1024
#: Epochs per fold run: small networks rise more slowly than the paper's (the beyond study: 50).
BUDGET = 100
SCREEN_FOLDS = 3
#: Candidates taken from the screen to all 7 folds.
CONFIRM = 3
#: Final seeds of the chosen candidate; seed 0 is the shipped model.
FINAL_SEEDS = 5
SHIPPED_SEED = 0
#: The beyond study's chosen recipe (``results/beyond/choice.json``: best_of_each).
RECIPE: dict[str, Any] = {"augment": "rotation", "max_angle": 45.0, "standardize": True}


def _c(name: str, note: str, recipe: dict[str, Any] | None = None, **kw: Any) -> Candidate:
    return Candidate(name, "watch", "small_cnn", tuple((recipe or RECIPE).items()),
                     tuple(kw.items()), note)


#: Every candidate, in the order the report lists them (sizes: the int8 file is measured).
CANDIDATES: tuple[Candidate, ...] = (
    _c("w16_b3_k5", "16/32/32 filters, kernel 5", filters=16, blocks=3, kernel_size=5),
    _c("w24_b3_k5", "24/48/48 filters, kernel 5", filters=24, blocks=3, kernel_size=5),
    _c("w16_b4_k5", "16/32/32/32 filters, kernel 5", filters=16, blocks=4, kernel_size=5),
    _c("w20_b3_k7", "20/40/40 filters, kernel 7", filters=20, blocks=3, kernel_size=7),
    _c("w12_b4_k7", "12/24/24/24 filters, kernel 7", filters=12, blocks=4, kernel_size=7),
    _c("sep_w32_b4_k5", "32 then 64 x3 filters, depthwise-separable after the first, kernel 5",
       filters=32, blocks=4, kernel_size=5, separable=True),
    _c("w24_b3_k5_rot15", "w24_b3_k5 with rotations up to 15 degrees",
       {**RECIPE, "max_angle": 15.0}, filters=24, blocks=3, kernel_size=5),
    _c("w24_b3_k5_norot", "w24_b3_k5 without rotations (standardised only)",
       {"standardize": True}, filters=24, blocks=3, kernel_size=5),
    _c("w24_b4_k5", "24/48/48/48 filters, kernel 5 (likely over the size limit)",
       filters=24, blocks=4, kernel_size=5),
)


@dataclass(frozen=True)
class Plan:
    """How much of the study runs (the smoke profile shrinks it)."""

    screen_folds: int = SCREEN_FOLDS
    budget: int = BUDGET
    confirm: int = CONFIRM
    final_seeds: int = FINAL_SEEDS
    #: Replace every candidate's model by this one (the smoke plan: "tiny_cnn").
    model: str | None = None
    #: Only these candidates (names; empty: all).
    only: tuple[str, ...] = ()


SMOKE = Plan(budget=2, confirm=1, final_seeds=1, model="tiny_cnn",
             only=("w16_b3_k5", "w24_b3_k5_norot"))


def candidates(p: Plan) -> list[Candidate]:
    out = [c for c in CANDIDATES if not p.only or c.name in p.only]
    return [replace(c, model=p.model, model_kwargs=()) if p.model else c for c in out]


def fold_runs(c: Candidate, p: Plan, fold_ids: Sequence[int]) -> list[Run]:
    """One run per fold of ``fold_ids`` (protocol cv's folds), no test."""
    out = []
    for i in fold_ids:
        held = cv.folds()[i]
        fit = tuple(s for s in config.TRAIN_SUBJECTS if s not in held)
        out.append(Run(c.model, 0, p.budget, fit, held, test=False, model_kwargs=c.model_kwargs,
                       train=c.train, study=STUDY, name=f"{STUDY}/{c.name}/fold{i}"))
    return out


def final_runs(c: Candidate, epochs: int, seeds: Sequence[int]) -> list[Run]:
    """The candidate on all 21 training subjects, tested once, one run per seed."""
    return [Run(c.model, s, epochs, tuple(config.TRAIN_SUBJECTS), (), test=True,
                model_kwargs=c.model_kwargs, train=c.train, study=STUDY,
                name=f"{STUDY}/{c.name}/final/seed{s}") for s in seeds]


# --- size: the int8 file of an untrained build ----------------------------------------------

def int8_sizes(cands: Sequence[Candidate]) -> dict[str, int]:
    """Bytes of each candidate's int8 TFLite file (batch 1), exported from an untrained build
    in a TensorFlow child process (the weights' values do not change the size; the
    standardisation stays outside the int8 graph, as the deployment export does)."""
    job = [{"name": c.name, "model": c.model, "model_kwargs": dict(c.model_kwargs)}
           for c in cands]
    proc = subprocess.run([sys.executable, "-m", "har_studies.deploy", "_sizes", json.dumps(job)],
                          capture_output=True, text=True, cwd=config.PROJECT_ROOT)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
        raise HarError(None, f"the int8 size export failed (exit status {proc.returncode}): "
                       f"{tail}", "check that TensorFlow imports (make venv)")
    return {k: int(v) for k, v in json.loads(lines[-1]).items()}


# --- the study, stage by stage --------------------------------------------------------------

def select(ds: HarDataset, p: Plan = Plan(), *, train: bool = False,
           sizes: dict[str, int] | None = None, **execute_kw: Any) -> dict[str, Any]:
    """Every stage up to the choice, training what is missing when ``train``; the choice
    document (``chosen`` None while runs are missing). Reads only fold runs."""
    cands = candidates(p)
    sizes = int8_sizes(cands) if sizes is None else sizes
    screen_ids, all_ids = list(range(p.screen_folds)), list(range(cv.K_FOLDS))
    doc: dict[str, Any] = {
        "data": data.stamp(ds), "reads": "history.val_accuracy of fold runs (test=False)",
        "epoch_rule": beyond.EPOCH_RULE, "plan": p.__dict__, "size_limit_bytes": SIZE_LIMIT_BYTES,
        "sizes_from": "int8 TFLite (batch 1) of an untrained build, standardisation outside",
        "folds": [list(f) for f in cv.folds()], "candidates": {}, "missing": [], "chosen": None}
    for c in cands:
        doc["candidates"][c.name] = c.describe() | {"int8_bytes": sizes[c.name],
                                                    "fits": sizes[c.name] <= SIZE_LIMIT_BYTES}
    fitting = [c for c in cands if sizes[c.name] <= SIZE_LIMIT_BYTES]

    def get(group: Sequence[Candidate], ids: list[int]) -> dict[str, list[dict[str, Any]]]:
        return results_of({c.name: fold_runs(c, p, ids) for c in group}, ds, train=train,
                          **execute_kw)

    def record(group: Sequence[Candidate], res: dict[str, list[dict[str, Any]]], key: str
               ) -> None:
        for c in group:
            if c.name in res:
                doc["candidates"][c.name][key] = beyond.scores(c, res[c.name])
            else:
                doc["missing"].append(f"{c.name}: {key}")

    record(fitting, get(fitting, screen_ids), "screen")
    if doc["missing"]:
        return doc
    ranked = sorted(fitting, key=lambda c: -doc["candidates"][c.name]["screen"]["score"])
    top = ranked[: p.confirm]
    doc["confirmed"] = [c.name for c in top]
    record(top, get(top, all_ids), "all")
    if doc["missing"]:
        return doc
    best = max(top, key=lambda c: doc["candidates"][c.name]["all"]["score"])
    entry = doc["candidates"][best.name]
    doc["chosen_by"] = (f"the best nested score of the {beyond.EPOCH_RULE} rule on all 7 folds "
                        f"among the {len(top)} best of the 3-fold screen, of the candidates "
                        f"whose int8 file fits in {SIZE_LIMIT_BYTES:,} bytes")
    doc["chosen"] = {"name": best.name, "epochs": int(entry["all"]["epochs"]),
                     "score_all_folds": entry["all"]["score"], "shipped_seed": SHIPPED_SEED,
                     "int8_bytes_untrained": entry["int8_bytes"], **best.describe()}
    return doc


def choice_path() -> Path:
    return config.results_dir() / STUDY / "choice.json"


def summary_path() -> Path:
    return config.results_dir() / STUDY / "summary.json"


def write_choice(ds: HarDataset, p: Plan = Plan(), *, train: bool = False,
                 **execute_kw: Any) -> dict[str, Any]:
    doc = select(ds, p, train=train, **execute_kw)
    write_json_atomic(choice_path(), doc)
    return doc


def committed_choice() -> dict[str, Any]:
    return cv.committed_choice(choice_path(),
                               "run the selection stage first (har small run --stage select)")


def chosen_finals(doc: dict[str, Any], p: Plan) -> list[Run]:
    ch = doc["chosen"]
    return final_runs(beyond.candidate_of(doc, ch["name"]), int(ch["epochs"]),
                      range(p.final_seeds))


def run(ds: HarDataset, p: Plan = Plan(), *, stage: str = "select", **execute_kw: Any
        ) -> dict[str, Any]:
    """Train up to the choice and write it; with ``stage`` "final" or "all", the final runs
    of the committed choice and the summary."""
    if stage in ("select", "all"):
        doc = write_choice(ds, p, train=True, **execute_kw)
        if stage == "select" or doc["chosen"] is None:
            return doc
    execute(chosen_finals(committed_choice(), p), ds, **execute_kw)
    return write_summary(ds, p)


def summary(ds: HarDataset, p: Plan = Plan()) -> dict[str, Any]:
    """The committed choice with its test rows (per seed: accuracy, subject-bootstrap
    interval, per subject) and the compute spent."""
    doc = committed_choice()
    got = [load(r, ds) for r in chosen_finals(doc, p)]
    out = {**doc, "missing_finals": sum(g is None for g in got), "tested": None}
    if all(g is not None for g in got):
        out["tested"] = beyond.test_rows(doc["chosen"]["name"], got, 1, ds)
    out["compute_hours"] = study_hours(STUDY)
    return out


def write_summary(ds: HarDataset, p: Plan = Plan()) -> dict[str, Any]:
    doc = summary(ds, p)
    write_json_atomic(summary_path(), doc)
    return doc


# --- the shipped network, for the deployment benchmark and `har predict --model small` ----

def model_path() -> Path:
    return config.results_dir() / "models" / f"{MODEL_NAME}.keras"


def export(ds: HarDataset, p: Plan = Plan(), *, log: Any = print) -> dict[str, Any]:
    """Train the shipped seed's final run again in a fresh process, check it predicts its
    stored test labels, and save it to ``results/models/small.keras`` with ``small.json``."""
    import tempfile

    from har_utils.provenance import environment
    from har_utils.training import save_model_atomic

    doc = committed_choice()
    ch = doc["chosen"]
    r = chosen_finals(doc, p)[int(ch["shipped_seed"])]
    stored = load(r, ds)
    if stored is None:
        raise HarError(choice_path(), f"the final run {r.label} is not stored",
                       "run the final stage first (make small-final)")
    with tempfile.TemporaryDirectory() as tmp:
        member = Path(tmp) / "small.keras"
        log(f"[small export] training {r.label} again ({r.epochs} epochs)")
        again = beyond.train_again(r, ds.source, checksum(ds), member)
        if again["y_pred"] != stored["y_pred"]:
            raise HarError(None, f"{r.label} trained again predicts other test labels than its "
                           "stored final run", "train on the machine and thread count the "
                           "final runs recorded, or run the final stage again (--force)")
        model = beyond.joined_model([member])
        save_model_atomic(model, model_path())
    info = {"model": MODEL_NAME, "file": config.shown(model_path()), "candidate": ch["name"],
            "kind": "keras", "configuration": doc["candidates"][ch["name"]],
            "epochs": ch["epochs"], "seed": r.seed, "key": stored["key"],
            "test_accuracy": stored["test"]["accuracy"], "same_test_predictions": True,
            "choice": config.shown(choice_path()), "data": data.stamp(ds),
            "environment": environment()}
    write_json_atomic(model_path().with_name(f"{MODEL_NAME}.json"), info)
    log(f"[small export] {config.shown(model_path())}: {ch['name']} seed {r.seed}, test "
        f"accuracy {100 * info['test_accuracy']:.2f} %")
    return info


def cost_table(p: Plan = Plan(), s_per_epoch: float = 0.6) -> pd.DataFrame:
    """Stage x runs x epochs x seconds per epoch (measured on one core for a 24-filter
    candidate with rotations; the separable one is about 4 times slower), before anything
    runs."""
    fold = 18 / 21
    n = len(candidates(p))
    rows = [("screen", f"{n} candidates (those under the size limit)", n * p.screen_folds, fold),
            ("confirm", f"the {p.confirm} best", p.confirm * (cv.K_FOLDS - p.screen_folds), fold),
            ("final", f"the chosen one, {p.final_seeds} seeds", p.final_seeds, 1.0)]
    return pd.DataFrame([{"stage": st, "candidates": what, "runs": runs, "epochs": p.budget,
                          "s per epoch": s_per_epoch,
                          "hours": runs * p.budget * s_per_epoch * share / 3600}
                         for st, what, runs, share in rows])


def write_cost_table(p: Plan = Plan()) -> tuple[pd.DataFrame, Path]:
    table = cost_table(p)
    return table, cv.save_cost_table(table, STUDY, "timed by hand on one core of this 2-core "
                                     "machine (fit of 6,000 windows): 0.3-0.6 s per epoch for "
                                     "the plain candidates, 2.7 s for the separable one")
