"""Check a profile (``params/<profile>.yml``) before any notebook runs: each value against the
notebook's ``parameters`` cell (declared, of the default's type) and the rule of :data:`RULES`
for its name. A bad value raises :class:`~har_utils.io.HarError` naming the profile, notebook,
parameter, value and what is allowed, so ``har run`` stops before the first notebook starts.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from har_utils import config
from har_utils.io import HarError
from har_utils.threads import available_cores


@dataclass(frozen=True)
class Rule:
    """What a parameter allows: ``ok(value)``, and ``allowed`` in words (the message's Fix)."""

    ok: Callable[[Any], bool]
    allowed: str


def _at_least(low: float, what: str = "") -> Rule:
    return Rule(lambda v: v >= low, f">= {low:g}{what}")


def _between(low: float, high: float) -> Rule:
    return Rule(lambda v: low <= v <= high, f"from {low:g} to {high:g}")


def _models() -> list[str]:
    """Every registered model, the zoo's included (the studies' ``MODELS``)."""
    from har_utils.models import MODELS

    from . import zoo_models  # noqa: F401  (registers the zoo's models)
    return sorted({*MODELS, *_notebook_models()})


def _notebook_models() -> list[str]:
    """The models notebooks 03-06 can build: the core's and those notebook 03 registers."""
    from har_utils.models import MODELS

    cells = json.loads((config.NOTEBOOKS_DIR / "03_model.ipynb").read_text())["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    core = {n for n, spec in MODELS.items() if spec.builder.__module__.startswith("har_utils")}
    return sorted({*core, *re.findall(r"""@register\(\s*["'](\w+)["']""", code)})


def _model_list(value: str) -> bool:
    return {s.strip() for s in value.split(",") if s.strip()} <= set(_models())


def _channels(value: str) -> bool:
    from har_utils.data import parse_channels

    try:
        parse_channels(value)
    except ValueError:
        return False
    return True


SOURCES = ["auto", "uci", "hapt"]
N_TRAIN = len(config.TRAIN_SUBJECTS)

#: The rule of each parameter name, whatever notebook declares it (one meaning per name).
RULES: dict[str, Rule] = {
    "SOURCE": Rule(lambda v: v in SOURCES, f"one of {SOURCES} (auto: the official archive if "
                                           "present, else the HAPT rebuild)"),
    "SEED": _at_least(0),
    "N_VALIDATION_SUBJECTS": _between(1, N_TRAIN - 1),
    "TSNE_SAMPLES": _at_least(0, " (0: every window)"),
    "PERPLEXITY": Rule(lambda v: v > 0, "> 0"),
    "KNN_K": _at_least(1),
    "MODEL": Rule(lambda v: v in _notebook_models(),
                  "a registered model: {notebook_models} (a model of your own: register it in a "
                  "cell of notebook 03 or in har_utils/models.py, docs/adapt.md)"),
    "N_SUBSEQUENCES": Rule(lambda v: v >= 1 and config.WINDOW_LENGTH % v == 0,
                           f"a divisor of the window's {config.WINDOW_LENGTH} samples (1, 2, 4, 8, ...)"),
    "DROPOUT": Rule(lambda v: 0 <= v < 1, "from 0 up to (not including) 1"),
    "EPOCHS": _at_least(1),
    "CHANNELS": Rule(_channels, "'all' or a comma list of sensors (body_acc, body_gyro, "
                                "total_acc) and channel names"),
    "BATCH_SIZE": _at_least(1),
    "LEARNING_RATE": Rule(lambda v: v > 0, "> 0"),
    "TIMING_REPEATS": _at_least(1),
    "STAGE": Rule(lambda v: v in ("none", "screen", "select", "final", "all"),
                  "none (render what is stored), screen (notebook 07 only), select, final or all"),
    "WORKERS": _at_least(1),
    "MODELS": Rule(_model_list, "empty (the study's default) or a comma list of registered "
                                "models: {models}"),
    "REPEATS_SINGLE": _at_least(1),
    "REPEATS_BIG": _at_least(1),
    "DAY_HOURS": Rule(lambda v: v > 0, "> 0"),
    "THREADS": Rule(lambda v: 1 <= v <= available_cores(),
                    "from 1 to the cores this process may use ({cores}): the cores JAX "
                    "computes with"),
    "TF_THREADS": _at_least(0, " (0: TensorFlow's default)"),
    "TIMELINE_SUBJECT": Rule(lambda v: v in config.TEST_SUBJECTS,
                             f"a test subject: {list(config.TEST_SUBJECTS)}"),
}


def _allowed(rule: Rule) -> str:
    words = {"models": lambda: ", ".join(_models()),
             "notebook_models": lambda: ", ".join(_notebook_models()),
             "cores": lambda: str(available_cores())}
    text = rule.allowed
    for name in (n for n in words if "{" + n + "}" in text):
        text = text.replace("{" + name + "}", words[name]())
    return text


def _kind(default: Any) -> tuple[type, ...]:
    """The types a value may have where the parameters cell's default is ``default``."""
    return (int, float) if isinstance(default, float) else (type(default),)


_WORDS = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}


def check(path: Path, notebook: str, params: Mapping[str, Any],
          declared: Mapping[str, str]) -> None:
    """Check a notebook's parameters against its ``parameters`` cell and :data:`RULES`."""
    where = f"notebook {notebook}"
    for name, value in params.items():
        if name not in declared:
            raise HarError(path, f"{where} has no parameter {name}",
                           f"use one of {sorted(declared)}, or remove {name}")
        default = ast.literal_eval(declared[name])
        kinds = _kind(default)
        if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
            raise HarError(path, f"{where}: {name}: {value!r} is not {_WORDS[kinds[-1]]}",
                           f"{name} takes {_WORDS[kinds[-1]]} (the notebook's default is "
                           f"{declared[name]})")
        rule = RULES.get(name)
        if rule is not None and not rule.ok(value):
            raise HarError(path, f"{where}: {name}: {value!r} is not allowed",
                           f"{name} takes {_allowed(rule)}")


def check_sections(path: Path, profile: Mapping[str, Any], notebooks: list[str],
                   declared: Callable[[str], Mapping[str, str]]) -> None:
    """The profile's top level: known sections, declared ``common`` names, scalar values."""
    if not isinstance(profile, Mapping):
        raise HarError(path, "a profile is a mapping of sections (common:, 04_training:, ...)",
                       "see params/smoke.yml for the layout")
    unknown = sorted(set(profile) - {"common", *notebooks})
    if unknown:
        raise HarError(path, f"unknown section(s) {unknown}",
                       f"use 'common' or notebook names: {notebooks}")
    for section, values in profile.items():
        if values is None:
            continue
        if not isinstance(values, Mapping):
            raise HarError(path, f"section {section} is not a mapping of NAME: value",
                           "write one 'NAME: value' per line under it")
        bad = {k: v for k, v in values.items() if not isinstance(v, (int, float, str, bool))}
        if bad:
            raise HarError(path, f"section {section}: parameters must be scalars, not {bad}",
                           "give each parameter one number, string or true/false")
    common = set(profile.get("common") or {})
    everywhere = set().union(*(declared(n) for n in notebooks)) if notebooks else set()
    stray = sorted(common - everywhere)
    if stray:
        raise HarError(path, f"common: no notebook has parameter(s) {stray}",
                       f"use names from the notebooks' parameters cells: {sorted(everywhere)}")
