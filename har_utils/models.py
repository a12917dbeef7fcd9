"""The models, by name: a small registry of Keras builders.

``build_model("cnn_lstm_paper")`` returns the paper's CNN-LSTM, ``"tiny_cnn"`` a very small
network for tests; the studies register the zoo here. Models come back **uncompiled**.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import keras
import pandas as pd
from keras import layers

from . import config

Builder = Callable[..., keras.Model]


#: The keys a model's ``train_defaults`` may set.
TRAIN_DEFAULT_KEYS: tuple[str, ...] = ("batch_size", "optimizer", "learning_rate", "max_epochs")


def _checked_train_defaults(name: str, train_defaults: Mapping[str, Any] | None
                            ) -> dict[str, Any]:
    """``train_defaults`` as a new dict, or ``ValueError`` on an unknown key or a bad value."""
    td = dict(train_defaults or {})
    unknown = sorted(set(td) - set(TRAIN_DEFAULT_KEYS))
    if unknown:
        raise ValueError(f"model {name!r}: unknown train_defaults key(s) "
                         f"{', '.join(unknown)}; use {', '.join(TRAIN_DEFAULT_KEYS)}")
    if "optimizer" in td and td["optimizer"] not in config.OPTIMIZERS:
        raise ValueError(f"model {name!r}: unknown optimizer {td['optimizer']!r}; "
                         f"use one of {config.OPTIMIZERS}")
    for key in ("batch_size", "max_epochs"):
        if key in td and not (isinstance(td[key], int) and td[key] >= 1):
            raise ValueError(f"model {name!r}: {key} must be an int >= 1, got {td[key]!r}")
    if "learning_rate" in td and not td["learning_rate"] > 0:
        raise ValueError(f"model {name!r}: learning_rate must be positive, "
                         f"got {td['learning_rate']!r}")
    return td


@dataclass(frozen=True)
class ModelSpec:
    """A registered model: name, description, builder and the training settings its own
    paper prescribes (``train_defaults``, read-only), which the zoo runner applies."""

    name: str
    description: str
    builder: Builder
    train_defaults: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        td = _checked_train_defaults(self.name, self.train_defaults)
        object.__setattr__(self, "train_defaults", MappingProxyType(td))

    @property
    def defaults(self) -> dict[str, Any]:
        """The builder's keyword-only hyper-parameters and their defaults."""
        sig = inspect.signature(self.builder)
        return {p.name: p.default for p in sig.parameters.values()
                if p.kind is inspect.Parameter.KEYWORD_ONLY}


#: Every model the project knows, by name (filled by :func:`register`).
MODELS: dict[str, ModelSpec] = {}


def register(name: str, *, description: str, train_defaults: Mapping[str, Any] | None = None
             ) -> Callable[[Builder], Builder]:
    """Decorator adding a builder ``f(input_shape, n_classes, *, **hparams)`` to ``MODELS``;
    registering a name again replaces it, with a warning when its code differs."""
    checked = _checked_train_defaults(name, train_defaults)  # fail at the call, not later

    def deco(builder: Builder) -> Builder:
        spec = ModelSpec(name, description, builder, checked)
        if name in MODELS and not _same_definition(MODELS[name], spec):
            # a notebook cell changed and run again: the new definition wins
            warnings.warn(f"model {name!r} was registered before; the new definition replaces "
                          "it (results the experiment runner stored under this name were "
                          "trained with the old one)", stacklevel=2)
        MODELS[name] = spec
        return builder
    return deco


def _same_definition(a: ModelSpec, b: ModelSpec) -> bool:
    """Whether two specs hold the same code: notebook 03 runs the library's builder code as
    its own cell, which changes nothing."""
    def source(f: Builder) -> str | None:
        try:
            return inspect.getsource(f).rstrip()
        except (OSError, TypeError):
            return None
    return (a.description == b.description and dict(a.train_defaults) == dict(b.train_defaults)
            and source(a.builder) is not None and source(a.builder) == source(b.builder))


def _spec(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; known models: "
                         f"{', '.join(sorted(MODELS))}") from None


def build_model(name: str, input_shape: tuple[int, int] = (config.WINDOW_LENGTH,
                                                            len(config.CHANNELS)),
                n_classes: int = len(config.ACTIVITIES), **hparams: Any) -> keras.Model:
    """Build the registered model ``name`` (uncompiled); unknown hyper-parameters raise
    ``TypeError``."""
    spec = _spec(name)
    unknown = sorted(set(hparams) - set(spec.defaults))
    if unknown:
        raise TypeError(f"model {name!r} has no hyper-parameter(s) {', '.join(unknown)}; "
                        f"it takes {', '.join(spec.defaults) or 'none'}")
    return spec.builder(tuple(input_shape), int(n_classes), **hparams)


def describe(name: str) -> dict[str, Any]:
    """The default hyper-parameters of model ``name``."""
    return dict(_spec(name).defaults)


def train_defaults(name: str) -> dict[str, Any]:
    """The training settings model ``name``'s own paper prescribes (may be empty)."""
    return dict(_spec(name).train_defaults)


def lstm_head(x: Any, n_classes: int, lstm_units: int, dropout: float, dense_units: int,
               lstm_layers: int = 2) -> Any:
    """The paper's recurrent head: LSTM(return_sequences) ``lstm1`` -> LSTM ``lstm2`` ->
    Dropout ``dropout`` -> Dense(ReLU) ``dense`` -> Dense(n_classes, softmax) ``output``.

    ``lstm_layers`` stacked LSTMs ``lstm1``..``lstm<n>`` (2, the paper's, by default); every
    one but the last returns its sequence. ``lstm_layers=1`` keeps only ``lstm1``, which then
    returns its last step."""
    if int(lstm_layers) < 1:
        raise ValueError(f"lstm_layers must be >= 1, got {lstm_layers}")
    for i in range(1, int(lstm_layers) + 1):
        x = layers.LSTM(lstm_units, return_sequences=i < lstm_layers, name=f"lstm{i}")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    x = layers.Dense(dense_units, activation="relu", name="dense")(x)
    return layers.Dense(n_classes, activation="softmax", name="output")(x)


#: The training the CNN-LSTM paper prescribes (and the zoo's default): Adam 1e-3, batch 32.
PAPER_TRAIN_DEFAULTS: dict[str, Any] = {"batch_size": config.PAPER_BATCH_SIZE,
                                        "optimizer": config.PAPER_OPTIMIZER,
                                        "learning_rate": config.PAPER_LEARNING_RATE}


@register("cnn_lstm_paper", description="CNN-LSTM of the paper's Fig. 2 (TimeDistributed "
                                        "Conv1D x2 on sub-sequences, then LSTM x2 and Dense)",
          train_defaults=PAPER_TRAIN_DEFAULTS)
def cnn_lstm_paper(input_shape: tuple[int, int], n_classes: int, *, n_subsequences: int = 4,
                   filters: int = 128, kernel_size: int = 4, pool_size: int = 2,
                   conv_dropout: float = 0.5, lstm_units: int = 100, dropout: float = 0.5,
                   dense_units: int = 100, lstm_layers: int = 2) -> keras.Model:
    """The paper's CNN-LSTM, as we read its Fig. 2.

    1. The (128, 9) window is reshaped into ``n_subsequences`` = 4 sub-sequences of 32 steps
       (``reshape``: (4, 32, 9)); the CNN sees each sub-sequence, the LSTM the sequence of 4.
    2. Per sub-sequence (``TimeDistributed``): Conv1D(128 filters, kernel 4, ReLU, valid)
       ``conv1`` -> MaxPool1D(2) ``pool1`` -> Dropout(``conv_dropout``) ``conv_dropout`` ->
       Conv1D(128, 4, ReLU) ``conv2`` -> MaxPool1D(2) ``pool2`` -> Flatten ``flatten``.
       On 32 steps: 32 -> 29 -> 14 -> 11 -> 5, i.e. 5 x 128 = 640 features per sub-sequence.
    3. LSTM(100, return_sequences=True) ``lstm1`` -> LSTM(100) ``lstm2`` ->
       Dropout(``dropout``) ``dropout`` -> Dense(100, ReLU) ``dense`` ->
       Dense(n_classes, softmax) ``output``.

    The paper gives no dropout rates; 0.5 for both is our choice. ``n_subsequences`` must
    divide the window length (1 gives a single 128-step sub-sequence). ``lstm_layers`` (2, as
    in the paper) stacks that many LSTMs; 1 keeps ``lstm1`` only (the ablation study's knob).
    """
    length, channels = input_shape
    if n_subsequences < 1 or length % n_subsequences:
        raise ValueError(f"n_subsequences={n_subsequences} must be a positive divisor of the "
                         f"window length {length}")
    steps = length // n_subsequences
    inputs = keras.Input(shape=(length, channels), name="window")
    x = layers.Reshape((n_subsequences, steps, channels), name="reshape")(inputs)
    td = layers.TimeDistributed
    x = td(layers.Conv1D(filters, kernel_size, activation="relu"), name="conv1")(x)
    x = td(layers.MaxPooling1D(pool_size), name="pool1")(x)
    x = td(layers.Dropout(conv_dropout), name="conv_dropout")(x)
    x = td(layers.Conv1D(filters, kernel_size, activation="relu"), name="conv2")(x)
    x = td(layers.MaxPooling1D(pool_size), name="pool2")(x)
    x = td(layers.Flatten(), name="flatten")(x)
    outputs = lstm_head(x, n_classes, lstm_units, dropout, dense_units, lstm_layers)
    return keras.Model(inputs, outputs, name="cnn_lstm_paper")


@register("tiny_cnn", description="Conv1D(8, 3) + global average pooling + softmax "
                                  "(for tests and smoke runs)")
def tiny_cnn(input_shape: tuple[int, int], n_classes: int, *, filters: int = 8,
             kernel_size: int = 3) -> keras.Model:
    """Conv1D -> global average pooling -> softmax: trains in a second, not accurate."""
    inputs = keras.Input(shape=tuple(input_shape), name="window")
    x = layers.Conv1D(filters, kernel_size, activation="relu", name="conv1")(inputs)
    x = layers.GlobalAveragePooling1D(name="gap")(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="output")(x)
    return keras.Model(inputs, outputs, name="tiny_cnn")


def _layer_type(layer: keras.layers.Layer) -> str:
    kind = type(layer).__name__
    inner = getattr(layer, "layer", None)
    return f"{kind}({type(inner).__name__})" if inner is not None else kind


def _output_shape(layer: keras.layers.Layer) -> str:
    try:
        return str(tuple(layer.output.shape))
    except (AttributeError, ValueError):  # layer not called, or called more than once
        return "?"


def layer_table(model: keras.Model) -> pd.DataFrame:
    """One row per layer of ``model``: name, type, output shape, parameters."""
    rows = [{"layer": lyr.name, "type": _layer_type(lyr), "output_shape": _output_shape(lyr),
             "params": int(lyr.count_params()) if lyr.built else 0}
            for lyr in model.layers]
    return pd.DataFrame(rows, columns=["layer", "type", "output_shape", "params"])


def supported_hparams(name: str, **candidates: Any) -> dict[str, Any]:
    """The subset of ``candidates`` that model ``name`` accepts (notebooks pass the paper
    model's knobs for any ``MODEL``)."""
    accepted = _spec(name).defaults
    return {k: v for k, v in candidates.items() if k in accepted}
