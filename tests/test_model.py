import pytest
import torch
from torch import nn

from hourglass.exceptions import InvalidInputError
from hourglass.nn.config import DenseConfig
from hourglass.nn.model import AutoEncoder, build_model, config_from_dict


def _linear_widths(seq: nn.Sequential) -> list[tuple[int, int]]:
    return [(m.in_features, m.out_features) for m in seq.modules() if isinstance(m, nn.Linear)]


@pytest.mark.parametrize("hidden", [(), (16,), (32, 16), (12, 10, 8)])
@pytest.mark.parametrize("code_size", [1, 3])
def test_forward_returns_named_pieces_with_right_shapes(hidden, code_size):
    model = build_model(DenseConfig(input_dim=20, code_size=code_size, hidden_layers=hidden))
    out = model(torch.rand(5, 20))
    assert {"code", "reconstruction", "logits"} <= set(out)
    assert out["code"].shape == (5, code_size)
    assert out["reconstruction"].shape == (5, 20)
    assert out["logits"].shape == (5, 20)


@pytest.mark.parametrize(
    "output_activation, check",
    [
        ("identity", lambda out: torch.equal(out["reconstruction"], out["logits"])),
        ("sigmoid", lambda out: torch.allclose(out["reconstruction"], torch.sigmoid(out["logits"]))),
    ],
)
def test_forward_reconstruction_is_the_activated_logits(output_activation, check):
    model = build_model(
        DenseConfig(input_dim=6, code_size=2, hidden_layers=(4,), output_activation=output_activation)
    )
    assert check(model(torch.randn(3, 6)))


def test_encode_and_decode_agree_with_forward():
    model = build_model(
        DenseConfig(input_dim=6, code_size=2, hidden_layers=(4,), output_activation="sigmoid")
    ).eval()
    x = torch.rand(3, 6)
    out = model(x)
    assert torch.allclose(model.encode(x), out["code"])
    assert torch.allclose(model.decode(out["code"]), out["reconstruction"])


@pytest.mark.parametrize("hidden", [(16,), (32, 16), (12, 10, 8)])
def test_decoder_mirrors_encoder_by_default(hidden):
    model = build_model(DenseConfig(input_dim=20, code_size=3, hidden_layers=hidden))
    encoder = _linear_widths(model.encoder)
    decoder = _linear_widths(model.decoder)
    assert decoder == [(o, i) for i, o in reversed(encoder)]


def test_decoder_layers_override_the_mirror():
    model = build_model(DenseConfig(input_dim=20, code_size=3, hidden_layers=(16, 8), decoder_layers=(5,)))
    assert _linear_widths(model.encoder) == [(20, 16), (16, 8), (8, 3)]
    assert _linear_widths(model.decoder) == [(3, 5), (5, 20)]


@pytest.mark.parametrize(
    "hidden, decoder, expected",
    [
        (
            (16, 8),
            None,
            {
                "encoder.layer1": 16,
                "encoder.layer2": 8,
                "encoder.code": 3,
                "code": 3,
                "decoder.layer1": 8,
                "decoder.layer2": 16,
                "decoder.output": 20,
                "reconstruction": 20,
            },
        ),
        (
            (16,),
            (7, 9),
            {
                "encoder.layer1": 16,
                "encoder.code": 3,
                "code": 3,
                "decoder.layer1": 7,
                "decoder.layer2": 9,
                "decoder.output": 20,
                "reconstruction": 20,
            },
        ),
    ],
)
def test_layer_outputs_names_every_layer_with_its_width(hidden, decoder, expected):
    model = build_model(
        DenseConfig(
            input_dim=20,
            code_size=3,
            hidden_layers=hidden,
            decoder_layers=decoder,
            output_activation="sigmoid",
        )
    ).eval()
    x = torch.rand(4, 20)
    outputs = model.layer_outputs(x)
    assert list(outputs) == list(expected)
    assert {name: tuple(t.shape) for name, t in outputs.items()} == {k: (4, w) for k, w in expected.items()}
    assert torch.allclose(outputs["code"], model.encode(x))
    assert torch.allclose(outputs["reconstruction"], model(x)["reconstruction"])


def test_layer_outputs_tracks_no_gradient():
    model = build_model(DenseConfig(input_dim=5, code_size=2, hidden_layers=(4,)))
    assert not any(t.requires_grad for t in model.layer_outputs(torch.rand(2, 5)).values())


@pytest.mark.parametrize("dropout, n_dropouts", [(0.0, 0), (0.3, 4)])
def test_dropout_follows_every_hidden_layer(dropout, n_dropouts):
    model = build_model(DenseConfig(input_dim=10, code_size=2, hidden_layers=(8, 4), dropout=dropout))
    assert sum(isinstance(m, nn.Dropout) for m in model.modules()) == n_dropouts


def test_model_rejects_unknown_output_activation():
    with pytest.raises(InvalidInputError, match="output_activation='tanh'"):
        AutoEncoder(nn.Identity(), nn.Identity(), output_activation="tanh")


def test_config_from_dict_rebuilds_an_identical_module():
    config = DenseConfig(input_dim=9, code_size=2, hidden_layers=(5,))
    torch.manual_seed(0)
    first = build_model(config)
    torch.manual_seed(0)
    second = build_model(config_from_dict(config.to_dict()))
    for (k1, v1), (k2, v2) in zip(first.state_dict().items(), second.state_dict().items(), strict=True):
        assert k1 == k2 and torch.equal(v1, v2)


def test_config_from_dict_rejects_unknown_kind():
    with pytest.raises(InvalidInputError, match="'spiral'"):
        config_from_dict({"kind": "spiral", "input_dim": 3})
