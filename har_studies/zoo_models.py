"""The model zoo: the models the studies compare with the paper's CNN-LSTM, registered in
``har_utils.models.MODELS`` when this module is imported (every study that builds models
imports it: the runner and its workers, the zoo, the deployment benchmark, ``har``).

The other reading of the paper (``cnn_lstm_sequential``), the plain ``cnn`` and ``lstm``
baselines of its Table II, ``deepconvlstm`` (Ordóñez and Roggen 2016) and ``isplinception``
(Ronald et al. 2021); ``cnn_lstm_features`` runs the paper's model on the 561 official
features (not part of the zoo's table).
"""

from __future__ import annotations

from typing import Any

import keras
from keras import layers

from har_utils.models import MODELS, PAPER_TRAIN_DEFAULTS, lstm_head, register

#: Registered models that are not part of the model zoo.
NOT_IN_ZOO: tuple[str, ...] = ("tiny_cnn", "cnn_lstm_features")


def zoo_names() -> list[str]:
    """The registered models of the zoo, in registration order (all but :data:`NOT_IN_ZOO`)."""
    return [name for name in MODELS if name not in NOT_IN_ZOO]


@register("cnn_lstm_sequential",
          description="The other reading of the paper: Conv1D x2 over the whole 128-step "
                      "window, the pooled time steps straight into LSTM x2 and Dense",
          train_defaults=PAPER_TRAIN_DEFAULTS)
def cnn_lstm_sequential(input_shape: tuple[int, int], n_classes: int, *, filters: int = 128,
                        kernel_size: int = 4, pool_size: int = 2, conv_dropout: float = 0.5,
                        lstm_units: int = 100, dropout: float = 0.5,
                        dense_units: int = 100, lstm_layers: int = 2) -> keras.Model:
    """The paper's CNN-LSTM read the other way: one CNN over the whole window.

    1. Conv1D(128 filters, kernel 4, ReLU, valid) ``conv1`` -> MaxPool1D(2) ``pool1`` ->
       Dropout(``conv_dropout``) ``conv_dropout`` -> Conv1D(128, 4, ReLU) ``conv2`` ->
       MaxPool1D(2) ``pool2``. On 128 steps: 128 -> 125 -> 62 -> 59 -> 29 time steps of 128
       features.
    2. The 29 pooled time steps go to the LSTMs as a sequence (no flattening):
       LSTM(100, return_sequences=True) ``lstm1`` -> LSTM(100) ``lstm2`` ->
       Dropout(``dropout``) ``dropout`` -> Dense(100, ReLU) ``dense`` ->
       Dense(n_classes, softmax) ``output``.

    Same layers and sizes as :func:`cnn_lstm_paper`; only the time axis the LSTM sees differs
    (29 CNN steps here, 4 sub-sequences there). ``lstm_layers`` as in :func:`cnn_lstm_paper`.
    """
    inputs = keras.Input(shape=tuple(input_shape), name="window")
    x = layers.Conv1D(filters, kernel_size, activation="relu", name="conv1")(inputs)
    x = layers.MaxPooling1D(pool_size, name="pool1")(x)
    x = layers.Dropout(conv_dropout, name="conv_dropout")(x)
    x = layers.Conv1D(filters, kernel_size, activation="relu", name="conv2")(x)
    x = layers.MaxPooling1D(pool_size, name="pool2")(x)
    outputs = lstm_head(x, n_classes, lstm_units, dropout, dense_units, lstm_layers)
    return keras.Model(inputs, outputs, name="cnn_lstm_sequential")


@register("cnn", description="Plain 1-D CNN baseline (Table II [23]): Conv1D(64, 3) x2, "
                             "dropout, pooling, Dense(100)",
          train_defaults=PAPER_TRAIN_DEFAULTS)
def cnn(input_shape: tuple[int, int], n_classes: int, *, filters: int = 64,
        kernel_size: int = 3, dropout: float = 0.5, pool_size: int = 2,
        dense_units: int = 100) -> keras.Model:
    """A plain 1-D CNN, the "CNN" row of the paper's Table II (its reference [23]).

    Conv1D(64 filters, kernel 3, ReLU, valid) ``conv1`` -> Conv1D(64, 3, ReLU) ``conv2`` ->
    Dropout(``dropout``) ``dropout`` -> MaxPool1D(2) ``pool`` -> Flatten ``flatten``
    (128 -> 126 -> 124 -> 62 steps x 64 = 3,968 features) -> Dense(100, ReLU) ``dense`` ->
    Dense(n_classes, softmax) ``output``.

    The paper does not give [23]'s architecture; this is a common UCI HAR CNN baseline, not a
    reproduction of [23].
    """
    inputs = keras.Input(shape=tuple(input_shape), name="window")
    x = layers.Conv1D(filters, kernel_size, activation="relu", name="conv1")(inputs)
    x = layers.Conv1D(filters, kernel_size, activation="relu", name="conv2")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    x = layers.MaxPooling1D(pool_size, name="pool")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(dense_units, activation="relu", name="dense")(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="output")(x)
    return keras.Model(inputs, outputs, name="cnn")


@register("lstm", description="Two-layer LSTM baseline: LSTM(100) x2, dropout, Dense(100)",
          train_defaults=PAPER_TRAIN_DEFAULTS)
def lstm(input_shape: tuple[int, int], n_classes: int, *, lstm_units: int = 100,
         dropout: float = 0.5, dense_units: int = 100) -> keras.Model:
    """A two-layer LSTM over the raw 128-step window.

    LSTM(100, return_sequences=True) ``lstm1`` -> LSTM(100) ``lstm2`` ->
    Dropout(``dropout``) ``dropout`` -> Dense(100, ReLU) ``dense`` ->
    Dense(n_classes, softmax) ``output``.
    """
    inputs = keras.Input(shape=tuple(input_shape), name="window")
    outputs = lstm_head(inputs, n_classes, lstm_units, dropout, dense_units)
    return keras.Model(inputs, outputs, name="lstm")


@register("deepconvlstm", description="DeepConvLSTM (Ordóñez and Roggen 2016): Conv1D(64, 5) "
                                      "x4 over time, then LSTM(128) x2 and softmax",
          train_defaults={"batch_size": 32, "optimizer": "adam", "learning_rate": 1e-3})
def deepconvlstm(input_shape: tuple[int, int], n_classes: int, *, filters: int = 64,
                 kernel_size: int = 5, n_conv: int = 4, lstm_units: int = 128,
                 dropout: float = 0.5) -> keras.Model:
    """DeepConvLSTM: F. J. Ordóñez and D. Roggen, "Deep Convolutional and LSTM Recurrent
    Neural Networks for Multimodal Wearable Activity Recognition", Sensors 16(1):115, 2016.

    1. ``n_conv`` = 4 x Conv1D(64 filters, kernel 5, ReLU, valid) ``conv1``..``conv4`` over
       the time axis, no pooling: 128 -> 124 -> 120 -> 116 -> 112 time steps of 64 features.
    2. Dropout(``dropout``) ``dropout1`` -> LSTM(128, return_sequences=True) ``lstm1`` ->
       Dropout(``dropout``) ``dropout2`` -> LSTM(128) ``lstm2`` (last step only) ->
       Dense(n_classes, softmax) ``output``.

    The original convolves each sensor channel separately (2-D kernels of 5 x 1) and was
    trained with RMSprop (learning rate 1e-3) on batches of 100; here the convolutions mix the
    9 channels (Conv1D) and ``train_defaults`` use the zoo's Adam 1e-3 with batches of 32.
    """
    inputs = keras.Input(shape=tuple(input_shape), name="window")
    x = inputs
    for i in range(1, n_conv + 1):
        x = layers.Conv1D(filters, kernel_size, activation="relu", name=f"conv{i}")(x)
    x = layers.Dropout(dropout, name="dropout1")(x)
    x = layers.LSTM(lstm_units, return_sequences=True, name="lstm1")(x)
    x = layers.Dropout(dropout, name="dropout2")(x)
    x = layers.LSTM(lstm_units, name="lstm2")(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="output")(x)
    return keras.Model(inputs, outputs, name="deepconvlstm")


def _inception_module(x: Any, index: int, *, bottleneck: int, filters: int,
                      kernel_sizes: tuple[int, ...], regularizer: Any) -> Any:
    """One iSPLInception module (see :func:`isplinception`); layers are named ``m{index}_*``."""
    p = f"m{index}_"
    conv = dict(padding="same", use_bias=False, kernel_regularizer=regularizer)
    neck = layers.Conv1D(bottleneck, 1, name=f"{p}bottleneck", **conv)(x)
    branches = [layers.Conv1D(filters, k, name=f"{p}conv{k}", **conv)(neck)
                for k in kernel_sizes]
    pooled = layers.MaxPooling1D(3, strides=1, padding="same", name=f"{p}pool")(x)
    branches.append(layers.Conv1D(filters, 1, name=f"{p}pool_conv", **conv)(pooled))
    x = layers.Concatenate(axis=-1, name=f"{p}concat")(branches)
    x = layers.BatchNormalization(name=f"{p}bn")(x)
    return layers.Activation("relu", name=f"{p}relu")(x)


@register("isplinception", description="iSPLInception (Ronald et al. 2021): 5 inception "
                                       "modules (kernels 68/34/17), one residual shortcut, "
                                       "global average pooling",
          train_defaults={"batch_size": 64, "optimizer": "adam_amsgrad",
                          "learning_rate": 5e-4, "max_epochs": 15})
def isplinception(input_shape: tuple[int, int], n_classes: int, *, n_modules: int = 5,
                  bottleneck: int = 32, filters: int = 64,
                  kernel_sizes: tuple[int, ...] = (68, 34, 17), residual_after: int = 3,
                  l2: float = 0.00593) -> keras.Model:
    """iSPLInception: M. Ronald, A. Poulose and D. S. Han, "iSPLInception: An Inception-ResNet
    Deep Learning Architecture for Human Activity Recognition", IEEE Access 9, 2021.
    Re-implemented here from the paper's description (not from its code).

    1. ``n_modules`` = 5 inception modules ``m1``..``m5``; each, on its input ``x``:
       - a 1x1 bottleneck Conv1D(32) ``m{i}_bottleneck`` feeding three parallel
         Conv1D(64) branches with kernels 68, 34 and 17, "same" padding
         (``m{i}_conv68``, ``m{i}_conv34``, ``m{i}_conv17``);
       - in parallel, MaxPool1D(3, stride 1, same) ``m{i}_pool`` on ``x`` -> 1x1 Conv1D(64)
         ``m{i}_pool_conv``;
       - Concatenate (4 x 64 = 256 channels) ``m{i}_concat`` -> BatchNormalization ``m{i}_bn``
         -> ReLU ``m{i}_relu``. The time axis keeps its 128 steps throughout.
    2. One residual shortcut, after module ``residual_after`` = 3: the network input projected
       by a 1x1 Conv1D(256) ``shortcut_conv`` + BatchNormalization ``shortcut_bn`` is added
       to module 3's output (``residual_add``) -> ReLU ``residual_relu``.
    3. GlobalAveragePooling1D ``gap`` -> Dense(n_classes, softmax) ``output``.

    L2 regularisation (``l2`` = 0.00593) on every conv and dense kernel. The convolutions feed
    batch normalisation (directly or through a branch), so they carry no bias.
    ``train_defaults``: Adam with AMSGrad, learning rate 5e-4, batches of 64, and at most 15
    epochs -- our cap, since an epoch costs about 70 s on 2 CPU cores.
    """
    if not 1 <= residual_after <= n_modules:
        raise ValueError(f"residual_after={residual_after} must be between 1 and "
                         f"n_modules={n_modules}")
    reg = keras.regularizers.L2(l2)
    inputs = keras.Input(shape=tuple(input_shape), name="window")
    x = inputs
    for i in range(1, n_modules + 1):
        x = _inception_module(x, i, bottleneck=bottleneck, filters=filters,
                              kernel_sizes=tuple(kernel_sizes), regularizer=reg)
        if i == residual_after:
            width = filters * (len(kernel_sizes) + 1)
            s = layers.Conv1D(width, 1, padding="same", use_bias=False,
                              kernel_regularizer=reg, name="shortcut_conv")(inputs)
            s = layers.BatchNormalization(name="shortcut_bn")(s)
            x = layers.Add(name="residual_add")([x, s])
            x = layers.Activation("relu", name="residual_relu")(x)
    x = layers.GlobalAveragePooling1D(name="gap")(x)
    outputs = layers.Dense(n_classes, activation="softmax", kernel_regularizer=reg,
                           name="output")(x)
    return keras.Model(inputs, outputs, name="isplinception")


@register("cnn_lstm_features",
          description="The paper's CNN-LSTM on the 561 official features as a (561, 1) "
                      "sequence; input: the 561 official features (source uci only)",
          train_defaults=PAPER_TRAIN_DEFAULTS)
def cnn_lstm_features(input_shape: tuple[int, int], n_classes: int, *, filters: int = 64,
                      kernel_size: int = 4, pool_size: int = 2, lstm_units: int = 100,
                      dropout: float = 0.5, dense_units: int = 100) -> keras.Model:
    """The paper's CNN-LSTM on the 561 official features, read as a 561-step sequence.

    Input: the 561 features of the official archive (source ``uci`` only), shape (561, 1);
    ``input_shape`` must be passed explicitly, e.g.
    ``build_model("cnn_lstm_features", input_shape=(561, 1))``.

    Conv1D(64 filters, kernel 4, ReLU, valid) ``conv1`` -> MaxPool1D(2) ``pool1`` ->
    Conv1D(64, 4, ReLU) ``conv2`` -> MaxPool1D(2) ``pool2`` (561 -> 558 -> 279 -> 276 -> 138
    steps of 64) -> LSTM(100, return_sequences=True) ``lstm1`` -> LSTM(100) ``lstm2`` ->
    Dropout(``dropout``) ``dropout`` -> Dense(100, ReLU) ``dense`` ->
    Dense(n_classes, softmax) ``output``.
    """
    length, channels = input_shape
    if channels != 1:
        raise ValueError(f"cnn_lstm_features takes the features as a (n_features, 1) "
                         f"sequence, e.g. input_shape=(561, 1); got {tuple(input_shape)}")
    inputs = keras.Input(shape=(length, channels), name="features")
    x = layers.Conv1D(filters, kernel_size, activation="relu", name="conv1")(inputs)
    x = layers.MaxPooling1D(pool_size, name="pool1")(x)
    x = layers.Conv1D(filters, kernel_size, activation="relu", name="conv2")(x)
    x = layers.MaxPooling1D(pool_size, name="pool2")(x)
    outputs = lstm_head(x, n_classes, lstm_units, dropout, dense_units)
    return keras.Model(inputs, outputs, name="cnn_lstm_features")
