"""Pretrained encoders and decoders, freezing, shape checks, and layer-wise pretraining."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from hourglass import AnomalyDetector, AutoEncoder, ConvAutoEncoder, InvalidInputError, load
from hourglass.train.pretrained import attach, layerwise_pretrain

FAST = dict(hidden_layers=(16,), epochs=3, batch_size=32, verbose=0, random_state=0)


@pytest.fixture(scope="module")
def X():
    return np.random.default_rng(2).random((120, 12)).astype(np.float32)


@pytest.fixture(scope="module")
def source(X, tmp_path_factory):
    """A saved dense model whose encoder the tests reuse."""
    ae = AutoEncoder(code_size=5, **FAST).fit(X)
    return ae, ae.save(tmp_path_factory.mktemp("src") / "model")


def test_encoder_from_folder_takes_its_layers(X, source):
    src, path = source
    ae = AutoEncoder(code_size=5, encoder=path, **{**FAST, "hidden_layers": "auto"}).fit(X)
    assert ae.architecture_.hidden_layers == (16,) and ae.architecture_.code_size == 5
    assert ae.transform(X).shape == (len(X), 5) and ae.get_params()["code_size"] == 5
    # Other widths given with it would leave get_params() describing another network: refused.
    with pytest.raises(InvalidInputError, match=r"hidden_layers=\(7, 3\) but the encoder"):
        AutoEncoder(code_size=5, encoder=path, **{**FAST, "hidden_layers": (7, 3)}).fit(X)


def test_a_detector_takes_a_pretrained_encoder_with_its_layers_and_code(X, source):
    detector = AnomalyDetector(encoder=source[1], epochs=2, random_state=0).fit(X)
    assert detector.estimator_.architecture_.hidden_layers == (16,)
    assert detector.estimator_.architecture_.code_size == 5


@pytest.mark.parametrize("code_size", [2, 8])
def test_encoder_from_folder_refuses_another_code_size(X, source, code_size):
    with pytest.raises(
        InvalidInputError, match=rf"code_size={code_size} but the encoder .* codes of 5 units"
    ):
        AutoEncoder(code_size=code_size, encoder=source[1], **FAST).fit(X)


def test_module_encoder_refuses_another_code_size(X):
    with pytest.raises(InvalidInputError, match="encoder module gives codes of 4 units; pass code_size=4"):
        AutoEncoder(code_size=2, encoder=nn.Linear(12, 4), **FAST).fit(X)


def test_frozen_encoder_weights_do_not_change(X, source):
    src, path = source
    ae = AutoEncoder(code_size=5, encoder=path, freeze_encoder=True, **FAST).fit(X)
    for (name, before), after in zip(
        src.module_.encoder.state_dict().items(), ae.module_.encoder.state_dict().values(), strict=True
    ):
        assert torch.equal(before, after), name
    np.testing.assert_allclose(ae.transform(X), src.transform(X), atol=1e-6)


def test_unfrozen_encoder_fine_tunes(X, source):
    src, path = source
    ae = AutoEncoder(code_size=5, encoder=path, **FAST).fit(X)
    assert not torch.equal(src.module_.encoder.code.weight, ae.module_.encoder.code.weight)


def test_model_with_encoder_from_folder_saves_and_loads(X, source, tmp_path):
    ae = AutoEncoder(code_size=5, encoder=source[1], freeze_encoder=True, **FAST).fit(X)
    np.testing.assert_allclose(load(ae.save(tmp_path / "m")).transform(X), ae.transform(X), atol=1e-6)


def test_encoder_from_folder_rejects_other_width(source):
    with pytest.raises(InvalidInputError, match="takes 12 features but the data has 9"):
        AutoEncoder(encoder=source[1], **FAST).fit(np.random.default_rng(0).random((50, 9)))


def test_decoder_from_folder_must_match_code_size(X, source):
    with pytest.raises(InvalidInputError, match="maps codes of 5 units"):
        AutoEncoder(code_size=3, decoder=source[1], **FAST).fit(X)


def test_module_encoder_sets_code_width_and_freezes(X):
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(12, 6), nn.Tanh())
    ae = AutoEncoder(code_size=6, encoder=module, freeze_encoder=True, **FAST).fit(X)
    assert ae.transform(X).shape == (len(X), 6)
    torch.testing.assert_close(ae.module_.encoder[0].weight.cpu(), module[0].weight)


def test_module_encoder_with_wrong_input_width_is_refused(X):
    with pytest.raises(InvalidInputError, match=r"does not accept inputs of shape \(2, 12\)"):
        AutoEncoder(encoder=nn.Linear(10, 4), **FAST).fit(X)


def test_module_decoder_with_wrong_output_is_refused(X):
    with pytest.raises(InvalidInputError, match="expected the input's shape back"):
        AutoEncoder(code_size=4, decoder=nn.Linear(4, 11), **FAST).fit(X)


def test_model_on_a_module_refuses_to_save(X, tmp_path):
    ae = AutoEncoder(code_size=4, encoder=nn.Linear(12, 4), **FAST).fit(X)
    with pytest.raises(InvalidInputError, match="encoder is a user's torch module"):
        ae.save(tmp_path / "m")


def test_freeze_without_a_pretrained_part_is_refused(X):
    with pytest.raises(InvalidInputError, match="freeze_encoder"):
        AutoEncoder(code_size=4, freeze_encoder=True, **FAST).fit(X)


def test_attach_checks_the_decoder_accepts_the_code():
    from hourglass.nn.config import DenseConfig
    from hourglass.nn.model import build_model

    model = build_model(DenseConfig(input_dim=12, code_size=4, hidden_layers=()))
    with pytest.raises(InvalidInputError, match="decoder does not accept the encoder's codes of 3 units"):
        attach(model, torch.rand(2, 12), encoder=nn.Linear(12, 3))


def test_layerwise_pretraining_runs_then_fine_tunes(X):
    ae = AutoEncoder(
        code_size=4, pretrain="layerwise", **{**FAST, "hidden_layers": (10, 8), "epochs": 4}
    ).fit(X)
    assert len(ae.pretrain_history_) == 3  # two hidden layers and the code layer
    assert all(len(h.epoch) == 1 for h in ae.pretrain_history_)  # epochs // 4 each
    assert ae.n_epochs_ >= 1 and np.isfinite(ae.score(X))


def test_layerwise_pretraining_trains_the_outer_pair(X):
    from hourglass.nn.config import DenseConfig
    from hourglass.nn.model import build_model
    from hourglass.train.config import TrainConfig

    torch.manual_seed(0)
    config = DenseConfig(input_dim=12, code_size=4, hidden_layers=(8,))
    model = build_model(config)
    before = model.encoder.layer1[0].weight.clone()
    histories = layerwise_pretrain(
        model, config, torch.from_numpy(X), TrainConfig(verbose=0), "mse", epochs=5
    )
    # The Trainer moved the model to its device (CUDA where there is one): compare on the CPU.
    assert not torch.equal(before, model.encoder.layer1[0].weight.detach().cpu())
    assert histories[0].train_loss[-1] < histories[0].train_loss[0]


@pytest.mark.parametrize(
    "params, match", [({"pretrain": "greedy"}, "pretrain='greedy'"), ({"decoder_layers": (5,)}, "mirroring")]
)
def test_layerwise_pretraining_rejects_bad_settings(X, params, match):
    params.setdefault("pretrain", "layerwise")
    with pytest.raises(InvalidInputError, match=match):
        AutoEncoder(code_size=4, **params, **FAST).fit(X)


@pytest.fixture(scope="module")
def colour_source(tmp_path_factory):
    """A saved conv model fitted on 3x8x8 images."""
    images = np.random.default_rng(3).random((16, 3, 8, 8)).astype(np.float32)
    ae = ConvAutoEncoder(channels=(4,), epochs=1, verbose=0, random_state=0, device="cpu").fit(images)
    return ae.save(tmp_path_factory.mktemp("conv") / "model")


def test_a_conv_encoder_fitted_on_other_images_is_refused_in_words(colour_source):
    # Torch's "weight of size [32, 3, 3, 3], expected input[2, 1, 64, 64] to have 3 channels" was shown.
    gray = np.random.default_rng(4).random((8, 1, 6, 6)).astype(np.float32)
    with pytest.raises(InvalidInputError) as info:
        ConvAutoEncoder(channels=(4,), encoder=colour_source, epochs=1, verbose=0, device="cpu").fit(gray)
    message = str(info.value)
    assert "was fitted on 3x8x8 images; the data holds 1x6x6 images" in message
    assert "weight" not in message and "\n" not in message


def test_a_dense_encoder_for_a_conv_model_is_refused_in_words(source):
    # "mat1 and mat2 shapes cannot be multiplied" was shown.
    gray = np.random.default_rng(4).random((8, 1, 6, 6)).astype(np.float32)
    with pytest.raises(
        InvalidInputError, match="is a dense model fitted on rows of 12 features; the data holds 1x6x6"
    ):
        ConvAutoEncoder(channels=(4,), encoder=source[1], epochs=1, verbose=0, device="cpu").fit(gray)


def test_a_spatial_conv_encoder_takes_larger_images_as_convolutions_do(tmp_path):
    # Transfer learning: a fully convolutional encoder fitted on 16x16 images serves 32x32 ones.
    rng = np.random.default_rng(5)
    small = rng.random((16, 1, 16, 16)).astype(np.float32)
    source = ConvAutoEncoder(
        code_size=None, channels=(4, 8), epochs=1, verbose=0, device="cpu", random_state=0
    )
    folder = source.fit(small).save(tmp_path / "enc")
    large = rng.random((16, 1, 32, 32)).astype(np.float32)
    # code_size='auto' takes the saved encoder's code: its spatial map.
    model = ConvAutoEncoder(channels=(4, 8), encoder=folder, epochs=1, verbose=0, device="cpu").fit(large)
    assert model.transform(large[:2]).shape == (2, 8 * 8 * 8)
    flat = ConvAutoEncoder(channels=(4, 8), code_size=4, epochs=1, verbose=0, device="cpu", random_state=0)
    flat_folder = flat.fit(small).save(tmp_path / "flat")
    with pytest.raises(InvalidInputError, match="its flat code's layer is sized for that shape"):
        ConvAutoEncoder(channels=(4, 8), code_size=4, encoder=flat_folder, epochs=1, verbose=0).fit(large)


def test_a_conv_model_with_the_default_code_takes_a_saved_encoders_flat_code(tmp_path):
    # 'auto' would be 16 for 16x16 images; the encoder's code is 4, and the user chose that.
    X = np.random.default_rng(6).random((16, 1, 16, 16)).astype(np.float32)
    source = ConvAutoEncoder(channels=(4,), code_size=4, epochs=1, verbose=0, random_state=0).fit(X)
    model = ConvAutoEncoder(channels=(4,), encoder=source.save(tmp_path / "enc"), epochs=1, verbose=0).fit(X)
    assert model.transform(X[:2]).shape == (2, 4)


def test_a_conv_model_on_a_saved_conv_encoder_saves_the_network_it_holds(tmp_path):
    # Its config kept the defaults (channels 32-64, ReLU): saved, it did not load, or loaded with
    # ReLU where the encoder held GELU (transform 0.75 apart).
    images = np.random.default_rng(0).random((48, 1, 16, 16)).astype(np.float32)
    fast = dict(epochs=1, random_state=0, device="cpu")
    ConvAutoEncoder(code_size=8, channels=(4, 8), kernel_size=5, activation="gelu", **fast).fit(images).save(
        tmp_path / "source"
    )
    model = ConvAutoEncoder(code_size=8, encoder=str(tmp_path / "source"), **fast).fit(images)
    assert (model.architecture_.channels, model.architecture_.kernel_size) == ((4, 8), 5)
    assert model.architecture_.activation == "gelu"
    loaded = load(model.save(tmp_path / "derived"))
    np.testing.assert_allclose(loaded.transform(images[:4]), model.transform(images[:4]), atol=1e-6)
    with pytest.raises(InvalidInputError, match=r"channels=\(32, 64\), but the encoder .* channels=\(4, 8\)"):
        ConvAutoEncoder(code_size=8, channels=(32, 64), encoder=str(tmp_path / "source"), **fast).fit(images)
    with pytest.raises(InvalidInputError, match="has a flat code of 8 units; pass code_size=8"):
        ConvAutoEncoder(code_size=None, encoder=str(tmp_path / "source"), **fast).fit(images)
    # The default code ('auto') is the encoder's.
    assert ConvAutoEncoder(encoder=str(tmp_path / "source"), **fast).fit(images).transform(
        images[:2]
    ).shape == (2, 8)


def test_parts_of_two_activations_or_nothing_to_train_are_refused(tmp_path):
    X = np.random.default_rng(0).random((120, 6))
    fast = dict(code_size=2, hidden_layers=(8,), epochs=1, random_state=0, device="cpu")
    AutoEncoder(activation="tanh", **fast).fit(X).save(tmp_path / "tanh")
    AutoEncoder(**fast).fit(X).save(tmp_path / "gelu")
    with pytest.raises(InvalidInputError, match="activation='gelu' and the decoder .* activation='tanh'"):
        AutoEncoder(code_size=2, encoder=str(tmp_path / "gelu"), decoder=str(tmp_path / "tanh")).fit(X)
    both = dict(code_size=2, encoder=str(tmp_path / "gelu"), decoder=str(tmp_path / "gelu"), epochs=1)
    with pytest.raises(InvalidInputError, match="leave no weights to train"):
        AutoEncoder(**both, freeze_encoder=True, freeze_decoder=True).fit(X)


def test_a_frozen_encoder_stays_frozen_after_save_and_load(tmp_path):
    X = np.random.default_rng(0).random((120, 6))
    AutoEncoder(code_size=2, hidden_layers=(8,), epochs=1, random_state=0).fit(X).save(tmp_path / "src")
    frozen = AutoEncoder(
        code_size=2, encoder=str(tmp_path / "src"), freeze_encoder=True, epochs=1, random_state=0
    )
    loaded = load(frozen.fit(X).save(tmp_path / "frozen"))
    before = [p.detach().clone() for p in loaded.module_.encoder.parameters()]
    loaded.set_params(warm_start=True, epochs=2).fit(X)  # it trained the encoder once loaded
    for old, new in zip(before, loaded.module_.encoder.parameters(), strict=True):
        assert torch.equal(old, new.detach())


@pytest.fixture(scope="module")
def cancer_source(tmp_path_factory):
    """A model of breast_cancer's benign rows (standard scaling: areas in the hundreds), saved."""
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True)
    benign, malignant = data.data[data.target == 1], data.data[data.target == 0]
    ae = AutoEncoder(code_size=4, epochs=3, verbose=0, random_state=0, device="cpu").fit(benign)
    return ae, ae.save(tmp_path_factory.mktemp("cancer") / "model"), malignant


def test_a_frozen_encoder_keeps_the_scaling_it_was_trained_in(cancer_source, tmp_path):
    # Refitted on the malignant rows, the scaler moved 'mean area' from 464 to 979: the frozen
    # encoder gave the same rows codes 15 apart (code std 3.4) from its source's.
    src, path, malignant = cancer_source
    frozen = AutoEncoder(code_size=4, encoder=path, freeze_encoder=True, epochs=2, verbose=0, random_state=0)
    frozen.fit(malignant)
    assert np.array_equal(frozen.scaler_.offset, src.scaler_.offset)
    assert np.array_equal(frozen.scaler_.scale, src.scaler_.scale)
    np.testing.assert_allclose(frozen.transform(malignant), src.transform(malignant), atol=1e-5)
    loaded = load(frozen.save(tmp_path / "frozen"))
    np.testing.assert_allclose(loaded.transform(malignant), src.transform(malignant), atol=1e-5)
    tuned = AutoEncoder(code_size=4, encoder=path, epochs=1, verbose=0, random_state=0).fit(malignant)
    assert not np.allclose(tuned.scaler_.offset, src.scaler_.offset)  # fine-tuning: the new data's


def test_a_frozen_encoder_refuses_other_columns_or_scaling(cancer_source):
    _, path, malignant = cancer_source
    params = dict(code_size=4, encoder=path, freeze_encoder=True, epochs=1, verbose=0)
    swapped = malignant[[malignant.columns[1], malignant.columns[0], *malignant.columns[2:]]]
    with pytest.raises(InvalidInputError, match="column 0 is 'mean texture' in the data and was 'mean rad"):
        AutoEncoder(**params).fit(swapped)
    with pytest.raises(InvalidInputError, match="scaling='minmax', but the frozen encoder .* 'standard'"):
        AutoEncoder(**params, scaling="minmax").fit(malignant)


def test_a_frozen_conv_encoder_keeps_its_per_channel_scaler(tmp_path):
    from sklearn.datasets import load_digits

    digits = load_digits().data.reshape(-1, 1, 8, 8).astype(np.float32)  # 0 to 16: standardized
    fast = dict(channels=(4,), code_size=6, verbose=0, random_state=0, device="cpu")
    src = ConvAutoEncoder(epochs=2, **fast).fit(digits[:600])
    brighter = digits[600:900] * 0.5 + 3
    frozen = ConvAutoEncoder(encoder=src.save(tmp_path / "src"), freeze_encoder=True, epochs=1, **fast)
    frozen.fit(brighter)
    assert np.array_equal(frozen.scaler_.offset, src.scaler_.offset)
    np.testing.assert_allclose(frozen.transform(brighter), src.transform(brighter), atol=1e-5)
