"""The model zoo: the models the studies compare with the paper's CNN-LSTM, registered in
``har_utils.models.MODELS`` when this module is imported (every study that builds models
imports it). ``cnn_lstm_features`` is registered here but not part of the zoo's table.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import layers

from har_utils.models import MODELS, PAPER_TRAIN_DEFAULTS, lstm_head, register

#: Registered models that are not part of the model zoo.
NOT_IN_ZOO: tuple[str, ...] = ("tiny_cnn", "cnn_lstm_features", "small_cnn")


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
    """The paper's CNN-LSTM read the other way: one CNN over the whole window, its 29 pooled
    time steps the LSTMs' sequence (4 sub-sequences in :func:`cnn_lstm_paper`)."""
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
    """A plain 1-D CNN for the "CNN" row of the paper's Table II: a common UCI HAR baseline,
    not a reproduction of its reference [23], whose architecture the paper does not give."""
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
    """A two-layer LSTM over the raw 128-step window."""
    inputs = keras.Input(shape=tuple(input_shape), name="window")
    outputs = lstm_head(inputs, n_classes, lstm_units, dropout, dense_units)
    return keras.Model(inputs, outputs, name="lstm")


@register("deepconvlstm", description="DeepConvLSTM (Ordóñez and Roggen 2016): Conv1D(64, 5) "
                                      "x4 over time, then LSTM(128) x2 and softmax",
          train_defaults={"batch_size": 32, "optimizer": "adam", "learning_rate": 1e-3})
def deepconvlstm(input_shape: tuple[int, int], n_classes: int, *, filters: int = 64,
                 kernel_size: int = 5, n_conv: int = 4, lstm_units: int = 128,
                 dropout: float = 0.5) -> keras.Model:
    """DeepConvLSTM (Ordóñez and Roggen, Sensors 16(1):115, 2016). The original convolves each
    channel separately and trains with RMSprop on batches of 100; here Conv1D mixes the 9
    channels and training uses the zoo's Adam 1e-3 on batches of 32."""
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
    """iSPLInception (Ronald, Poulose and Han, IEEE Access 9, 2021), re-implemented from the
    paper's description: inception modules, one residual shortcut, global average pooling.
    The convolutions feed batch normalisation, so they carry no bias; the 15-epoch cap is
    ours (an epoch costs about 70 s on 2 CPU cores)."""
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
    """The paper's CNN-LSTM on the 561 official features (source ``uci`` only) as a (561, 1)
    sequence; pass ``input_shape=(561, 1)`` explicitly."""

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


@register("small_cnn", description="A CNN small enough for a watch: Conv1D blocks (batch norm, "
                                   "ReLU, pooling), global average pooling, softmax",
          train_defaults=PAPER_TRAIN_DEFAULTS)
def small_cnn(input_shape: tuple[int, int], n_classes: int, *, filters: int = 16,
              blocks: int = 3, kernel_size: int = 5, separable: bool = False,
              dropout: float = 0.2) -> keras.Model:
    """``blocks`` blocks of Conv1D(``filters`` in the first, twice that after; ``kernel_size``,
    same padding, no bias) -> BatchNormalization -> ReLU -> MaxPool1D(2), then global average
    pooling, Dropout(``dropout``) and Dense(n_classes, softmax). ``separable`` makes every
    block after the first a depthwise-separable convolution. The watch-model study's family:
    no recurrent layer, so its int8 TFLite file holds one operator per layer."""
    if int(blocks) < 1:
        raise ValueError(f"blocks must be >= 1, got {blocks}")
    inputs = keras.Input(shape=tuple(input_shape), name="window")
    x = inputs
    for i in range(int(blocks)):
        width = int(filters) * (1 if i == 0 else 2)
        conv = layers.SeparableConv1D if separable and i > 0 else layers.Conv1D
        x = conv(width, kernel_size, padding="same", use_bias=False, name=f"conv{i + 1}")(x)
        x = layers.BatchNormalization(name=f"bn{i + 1}")(x)
        x = layers.ReLU(name=f"relu{i + 1}")(x)
        x = layers.MaxPooling1D(2, name=f"pool{i + 1}")(x)
    x = layers.GlobalAveragePooling1D(name="gap")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="output")(x)
    return keras.Model(inputs, outputs, name="small_cnn")
