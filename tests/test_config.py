import json

import pytest

from hourglass.exceptions import InvalidInputError
from hourglass.nn.config import DenseConfig
from hourglass.train.config import TrainConfig


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"input_dim": 0, "code_size": 2}, r"input_dim=0"),
        ({"input_dim": 8, "code_size": 0}, r"code_size=0"),
        ({"input_dim": 8, "code_size": 2, "hidden_layers": (4, 0)}, r"hidden_layers=\(4, 0\)"),
        ({"input_dim": 8, "code_size": 2, "decoder_layers": (-1,)}, r"decoder_layers=\(-1,\)"),
        ({"input_dim": 8, "code_size": 2, "activation": "swish"}, r"activation='swish'"),
        ({"input_dim": 8, "code_size": 2, "output_activation": "tanh"}, r"output_activation='tanh'"),
        ({"input_dim": 8, "code_size": 2, "dropout": 1.0}, r"dropout=1.0"),
        ({"input_dim": 8, "code_size": 2, "topk": 3}, r"topk=3"),
    ],
)
def test_dense_config_rejects_bad_values_naming_them(kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        DenseConfig(**kwargs)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"epochs": 0}, r"epochs=0"),
        ({"batch_size": 0}, r"batch_size=0"),
        ({"learning_rate": 0.0}, r"learning_rate=0.0"),
        ({"weight_decay": -1.0}, r"weight_decay=-1.0"),
        ({"patience": -1}, r"patience=-1"),
        ({"precision": "fp16"}, r"precision='fp16'"),
    ],
)
def test_train_config_rejects_bad_values_naming_them(kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        TrainConfig(**kwargs)


@pytest.mark.parametrize(
    "hidden, decoder, expected",
    [((32, 16), None, (16, 32)), ((8,), None, (8,)), ((), None, ()), ((32, 16), (4, 8, 12), (4, 8, 12))],
)
def test_dense_config_decoder_mirrors_encoder_unless_given(hidden, decoder, expected):
    config = DenseConfig(input_dim=40, code_size=2, hidden_layers=hidden, decoder_layers=decoder)
    assert config.resolved_decoder_layers == expected


@pytest.mark.parametrize(
    "config",
    [
        DenseConfig(input_dim=10, code_size=3),
        DenseConfig(input_dim=10, code_size=3, hidden_layers=(7,), decoder_layers=(5, 6), dropout=0.1),
        TrainConfig(),
        TrainConfig(epochs=3, learning_rate=1e-2, device="cpu", extra={"a": 1}),
    ],
)
def test_config_round_trips_through_json(config):
    data = json.loads(json.dumps(config.to_dict()))
    assert data["kind"] == config.kind
    assert type(config).from_dict(data) == config


def test_config_to_dict_stores_tuples_as_lists():
    data = DenseConfig(input_dim=10, code_size=3, hidden_layers=(7, 5)).to_dict()
    assert data["hidden_layers"] == [7, 5]


def test_config_from_dict_rejects_unknown_fields():
    data = DenseConfig(input_dim=10, code_size=3).to_dict() | {"bogus": 1}
    with pytest.raises(InvalidInputError, match="bogus"):
        DenseConfig.from_dict(data)


def test_dense_config_casts_layer_sizes_to_int():
    config = DenseConfig(input_dim=10, code_size=3, hidden_layers=[8.0, 4.0])
    assert config.hidden_layers == (8, 4) and all(isinstance(h, int) for h in config.hidden_layers)


def test_a_single_size_over_its_limit_reads_as_a_number_not_a_tuple():
    from hourglass.nn.config import MAX_INPUT_VALUES, ConvConfig

    with pytest.raises(InvalidInputError, match=r"^chroma_subsampling=1000 exceeds"):
        ConvConfig(input_shape=(3, 8, 8), chroma=True, chroma_subsampling=1000)
    with pytest.raises(InvalidInputError, match=rf"^input_dim={MAX_INPUT_VALUES + 1} exceeds"):
        DenseConfig(input_dim=MAX_INPUT_VALUES + 1, code_size=2)
