"""The model registry, the paper's CNN-LSTM and the architecture figure."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from keras import layers  # noqa: E402

from har_studies import zoo_models  # noqa: E402  (registers the zoo's models)
from har_utils import models, plots  # noqa: E402


@pytest.fixture(scope="module")
def paper():
    return models.build_model("cnn_lstm_paper")


def test_registry_lists_both_models():
    assert {"cnn_lstm_paper", "tiny_cnn"} <= set(models.MODELS)
    for spec in models.MODELS.values():
        assert spec.description


def test_paper_output_is_a_softmax_over_six_classes(paper):
    assert tuple(paper.output.shape) == (None, 6)
    assert tuple(paper.input.shape) == (None, 128, 9)
    x = np.random.default_rng(0).normal(size=(5, 128, 9)).astype("float32")
    p = np.asarray(paper(x, training=False))
    assert p.shape == (5, 6)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)
    assert (p >= 0).all()


def test_paper_layer_sequence(paper):
    expected = [
        ("window", layers.InputLayer, None),
        ("reshape", layers.Reshape, None),
        ("conv1", layers.TimeDistributed, layers.Conv1D),
        ("pool1", layers.TimeDistributed, layers.MaxPooling1D),
        ("conv_dropout", layers.TimeDistributed, layers.Dropout),
        ("conv2", layers.TimeDistributed, layers.Conv1D),
        ("pool2", layers.TimeDistributed, layers.MaxPooling1D),
        ("flatten", layers.TimeDistributed, layers.Flatten),
        ("lstm1", layers.LSTM, None),
        ("lstm2", layers.LSTM, None),
        ("dropout", layers.Dropout, None),
        ("dense", layers.Dense, None),
        ("output", layers.Dense, None),
    ]
    assert [lyr.name for lyr in paper.layers] == [e[0] for e in expected]
    for lyr, (_, kind, inner) in zip(paper.layers, expected):
        assert type(lyr) is kind, lyr.name
        if inner is not None:
            assert type(lyr.layer) is inner, lyr.name
    by = {lyr.name: lyr for lyr in paper.layers}
    assert tuple(by["reshape"].output.shape) == (None, 4, 32, 9)
    for name in ("conv1", "conv2"):
        conv = by[name].layer
        assert conv.filters == 128 and conv.kernel_size == (4,)
        assert conv.activation.__name__ == "relu"
    assert by["pool1"].layer.pool_size == (2,) and by["pool2"].layer.pool_size == (2,)
    assert by["conv_dropout"].layer.rate == 0.5 and by["dropout"].rate == 0.5
    assert by["lstm1"].units == 100 and by["lstm1"].return_sequences
    assert by["lstm2"].units == 100 and not by["lstm2"].return_sequences
    assert by["dense"].units == 100 and by["dense"].activation.__name__ == "relu"
    assert by["output"].activation.__name__ == "softmax"


def test_paper_parameter_count(paper):
    # Each of the 4 sub-sequences has 32 steps. Valid convs and pools:
    # 32 -conv(4)-> 29 -pool(2)-> 14 -conv(4)-> 11 -pool(2)-> 5 steps x 128 filters = 640.
    conv1 = 9 * 4 * 128 + 128                      # 4_736
    conv2 = 128 * 4 * 128 + 128                    # 65_664
    lstm1 = 4 * (100 * (640 + 100) + 100)          # 296_400
    lstm2 = 4 * (100 * (100 + 100) + 100)          # 80_400
    dense = 100 * 100 + 100                        # 10_100
    out = 100 * 6 + 6                              # 606
    expected = conv1 + conv2 + lstm1 + lstm2 + dense + out
    assert expected == 457_906
    assert paper.count_params() == expected
    table = models.layer_table(paper).set_index("layer")["params"]
    assert table["conv1"] == conv1 and table["conv2"] == conv2
    assert table["lstm1"] == lstm1 and table["lstm2"] == lstm2
    assert table["dense"] == dense and table["output"] == out


@pytest.mark.parametrize("n_sub", [3, 5, 0])
def test_subsequences_must_divide_the_window(n_sub):
    with pytest.raises(ValueError, match="n_subsequences"):
        models.build_model("cnn_lstm_paper", n_subsequences=n_sub)


def test_one_subsequence_and_other_hparams():
    m = models.build_model("cnn_lstm_paper", n_subsequences=1, filters=8, lstm_units=4,
                           dense_units=4)
    assert tuple(m.get_layer("reshape").output.shape) == (None, 1, 128, 9)
    assert tuple(m.output.shape) == (None, 6)


def test_unknown_model_lists_known_ones():
    with pytest.raises(ValueError, match="cnn_lstm_paper.*tiny_cnn"):
        models.build_model("resnet")
    with pytest.raises(ValueError, match="known models"):
        models.describe("resnet")


def test_unknown_hparam_is_named():
    with pytest.raises(TypeError, match="lstm_unit"):
        models.build_model("cnn_lstm_paper", lstm_unit=50)


def test_describe_gives_defaults():
    d = models.describe("cnn_lstm_paper")
    assert d["n_subsequences"] == 4 and d["conv_dropout"] == 0.5 and d["dropout"] == 0.5
    assert d["filters"] == 128 and d["lstm_units"] == 100 and d["dense_units"] == 100
    assert models.describe("tiny_cnn") == {"filters": 8, "kernel_size": 3}


def test_registering_again_replaces_with_a_warning(monkeypatch):
    """A notebook cell that registers a model can be run twice: the new definition wins."""
    monkeypatch.setattr(models, "MODELS", dict(models.MODELS))

    def wider(input_shape, n_classes, *, filters: int = 16, kernel_size: int = 3):
        return models.tiny_cnn(input_shape, n_classes, filters=filters, kernel_size=kernel_size)

    with pytest.warns(UserWarning, match="'tiny_cnn' was registered before; the new definition"):
        models.register("tiny_cnn", description="wider")(wider)
    assert models.describe("tiny_cnn") == {"filters": 16, "kernel_size": 3}
    assert models.MODELS["tiny_cnn"].description == "wider"


def test_models_are_uncompiled_and_tiny_is_tiny():
    m = models.build_model("tiny_cnn", n_classes=6)
    assert not m.compiled
    assert m.count_params() == (9 * 3 * 8 + 8) + (8 * 6 + 6)


def test_layer_table_has_one_row_per_layer(paper):
    t = models.layer_table(paper)
    assert list(t.columns) == ["layer", "type", "output_shape", "params"]
    assert len(t) == len(paper.layers)
    assert t["params"].sum() == paper.count_params()
    assert t.loc[t["layer"] == "conv1", "type"].item() == "TimeDistributed(Conv1D)"
    assert t.loc[t["layer"] == "output", "output_shape"].item() == "(None, 6)"


def test_architecture_diagram(paper):
    fig = plots.architecture_diagram(paper, "CNN-LSTM")
    try:
        assert len(fig.axes) == 1
        texts = [t.get_text() for t in fig.axes[0].texts]
        assert "lstm1" in texts and "TimeDistributed(Conv1D)" in texts
        assert any("457,906" in t for t in texts)
    finally:
        plt.close(fig)


# --- the model zoo ----------------------------------------------------------------------------

ZOO_NEW = ("cnn_lstm_sequential", "cnn", "lstm", "deepconvlstm", "isplinception")
ZOO = ("cnn_lstm_paper", *ZOO_NEW)


@pytest.fixture(scope="module")
def zoo():
    return {name: models.build_model(name) for name in ZOO_NEW}


def _of_type(model, kind):
    return [lyr for lyr in model.layers if type(lyr) is kind]


@pytest.mark.parametrize("name", ZOO_NEW)
def test_zoo_model_builds_and_outputs_a_softmax(zoo, name):
    m = zoo[name]
    assert not m.compiled
    assert tuple(m.input.shape) == (None, 128, 9)
    assert tuple(m.output.shape) == (None, 6)
    assert m.layers[-1].activation.__name__ == "softmax"
    x = np.random.default_rng(1).normal(size=(2, 128, 9)).astype("float32")
    p = np.asarray(m(x, training=False))
    assert p.shape == (2, 6) and (p >= 0).all()
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)


def test_zoo_parameter_counts(zoo, paper):
    counts = {name: m.count_params() for name, m in zoo.items()}
    assert all(c > 0 for c in counts.values())
    assert counts["cnn_lstm_sequential"] != paper.count_params()
    # Hand counts: conv (k*c_in + 1)*c_out, LSTM 4*(u*(c_in + u) + u), dense (c_in + 1)*c_out.
    conv128 = (4 * 9 + 1) * 128 + (4 * 128 + 1) * 128
    head = (100 + 1) * 100 + (100 + 1) * 6
    assert counts["cnn_lstm_sequential"] == conv128 + 4 * (100 * 228 + 100) + 80_400 + head
    assert counts["cnn"] == (3 * 9 + 1) * 64 + (3 * 64 + 1) * 64 + (62 * 64 + 1) * 100 + 606
    assert counts["lstm"] == 4 * (100 * 109 + 100) + 80_400 + head
    assert counts["deepconvlstm"] == ((5 * 9 + 1) * 64 + 3 * (5 * 64 + 1) * 64
                                      + 4 * (128 * 192 + 128) + 4 * (128 * 256 + 128)
                                      + 129 * 6)


def test_sequential_reading_feeds_pooled_steps_to_the_lstm(zoo):
    m = zoo["cnn_lstm_sequential"]
    assert tuple(m.get_layer("pool2").output.shape) == (None, 29, 128)
    assert not any(isinstance(lyr, (layers.Flatten, layers.TimeDistributed)) for lyr in m.layers)
    assert [lyr.name for lyr in _of_type(m, layers.LSTM)] == ["lstm1", "lstm2"]


def test_isplinception_structure(zoo):
    m = zoo["isplinception"]
    concats = _of_type(m, layers.Concatenate)
    assert len(concats) == 5
    assert all(tuple(c.output.shape) == (None, 128, 256) for c in concats)
    assert len(_of_type(m, layers.Add)) == 1
    for i in range(1, 6):
        assert {m.get_layer(f"m{i}_conv{k}").kernel_size for k in (68, 34, 17)} == {
            (68,), (34,), (17,)}
        assert m.get_layer(f"m{i}_bottleneck").filters == 32
    # The residual joins module 3's output and the projected input.
    add = m.get_layer("residual_add")
    assert [tuple(t.shape) for t in add.input] == [(None, 128, 256)] * 2
    assert tuple(m.get_layer("shortcut_conv").input.shape) == (None, 128, 9)  # from the input
    assert isinstance(m.get_layer(index=-2), layers.GlobalAveragePooling1D)
    assert m.losses  # L2 kernel regularisation
    convs = _of_type(m, layers.Conv1D)
    assert all(c.kernel_regularizer is not None for c in convs)
    assert m.get_layer("output").kernel_regularizer.l2 == pytest.approx(0.00593)


def test_deepconvlstm_structure(zoo):
    m = zoo["deepconvlstm"]
    convs, lstms = _of_type(m, layers.Conv1D), _of_type(m, layers.LSTM)
    assert len(convs) == 4 and len(lstms) == 2
    assert all(c.filters == 64 and c.kernel_size == (5,) for c in convs)
    assert not _of_type(m, layers.MaxPooling1D)
    assert [lyr.units for lyr in lstms] == [128, 128]
    assert lstms[0].return_sequences and not lstms[1].return_sequences


def test_train_defaults():
    assert models.train_defaults("isplinception") == {
        "optimizer": "adam_amsgrad", "learning_rate": 5e-4, "batch_size": 64, "max_epochs": 15}
    paper = {"batch_size": 32, "optimizer": "adam", "learning_rate": 1e-3}
    for name in ("cnn_lstm_paper", "cnn_lstm_sequential", "cnn", "lstm"):
        assert models.train_defaults(name) == paper
    assert models.train_defaults("deepconvlstm")["batch_size"] == 32
    assert models.train_defaults("tiny_cnn") == {}
    spec = models.MODELS["isplinception"]
    with pytest.raises(TypeError):
        spec.train_defaults["batch_size"] = 1  # read-only
    hash(spec)  # still hashable


def test_register_validates_train_defaults():
    with pytest.raises(ValueError, match="epochs"):
        models.register("bad_model", description="x", train_defaults={"epochs": 3})
    with pytest.raises(ValueError, match="optimizer"):
        models.register("bad_model", description="x", train_defaults={"optimizer": "rmsprop"})
    assert "bad_model" not in models.MODELS


def test_cnn_lstm_features_takes_the_561_features():
    m = models.build_model("cnn_lstm_features", input_shape=(561, 1))
    assert tuple(m.input.shape) == (None, 561, 1) and tuple(m.output.shape) == (None, 6)
    assert tuple(m.get_layer("pool2").output.shape) == (None, 138, 64)
    assert "561" in models.MODELS["cnn_lstm_features"].description
    with pytest.raises(ValueError, match="561, 1"):
        models.build_model("cnn_lstm_features")  # the (128, 9) default is not features


def test_the_zoo_is_registered_in_its_table_order():
    from har_studies.experiments.zoo import ZOO as STUDY_ZOO
    from har_utils.study_results import ZOO_MODELS

    assert zoo_models.zoo_names() == list(ZOO)
    assert STUDY_ZOO == ZOO_MODELS == (*ZOO, "logreg_features")
    assert models.build_model("cnn_lstm_paper").count_params() == 457_906
