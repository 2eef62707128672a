"""The convolutional builder (1-D, 2-D, 3-D) and the ConvAutoEncoder estimator."""

import warnings

import numpy as np
import pytest
import torch

import hourglass
from hourglass import ConvAutoEncoder, InvalidInputError, VQAutoEncoder
from hourglass.estimators import task_part
from hourglass.estimators.fitting import training_sample
from hourglass.nn.config import ConvConfig
from hourglass.nn.model import build_model, config_from_dict

SHAPES = [(2, 37), (3, 30, 29), (1, 5, 9, 10)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("downsampling", ["pool", "stride"])
@pytest.mark.parametrize("code_size", [None, 6])
def test_conv_model_reconstruction_keeps_any_input_shape(shape, downsampling, code_size):
    config = ConvConfig(input_shape=shape, channels=(3, 4), code_size=code_size, downsampling=downsampling)
    out = build_model(config)(torch.rand(2, *shape))
    assert out["reconstruction"].shape == (2, *shape)
    assert out["code"].shape[1:] == ((6,) if code_size else (4, *[-(-s // 4) for s in shape[1:]]))


def test_conv_model_layer_outputs_name_every_block():
    model = build_model(ConvConfig(input_shape=(1, 12, 12), channels=(2, 3), code_size=4))
    names = list(model.layer_outputs(torch.rand(1, 1, 12, 12)))
    assert names[:3] == ["encoder.pad", "encoder.block1", "encoder.block2"]
    assert "code" in names and names[-1] == "reconstruction"


@pytest.mark.parametrize(
    "field, value",
    [
        ("kernel_size", 4),
        ("downsampling", "unpool"),
        ("channels", ()),
        ("code_size", 0),
        ("input_shape", (3,)),
        ("convs_per_block", 0),
    ],
)
def test_conv_config_rejects_bad_values_by_name(field, value):
    kwargs = {"input_shape": (1, 8, 8), field: value}
    with pytest.raises(InvalidInputError, match=field):
        ConvConfig(**kwargs)


@pytest.mark.parametrize("downsampling", ["pool", "stride"])
def test_convs_per_block_adds_same_resolution_convolutions(downsampling):
    def convs(block):
        return [m for m in block if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]

    config = ConvConfig(
        input_shape=(1, 12, 12), channels=(2, 3), convs_per_block=3, downsampling=downsampling
    )
    model = build_model(config)
    assert [len(convs(getattr(model.encoder, f"block{i}"))) for i in (1, 2)] == [3, 3]
    assert [len(convs(getattr(model.decoder, f"block{i}"))) for i in (1, 2)] == [3, 3]
    outputs = model.layer_outputs(torch.rand(2, 1, 12, 12))
    assert outputs["encoder.block1"].shape == (2, 2, 6, 6)
    assert outputs["reconstruction"].shape == (2, 1, 12, 12)


@pytest.mark.parametrize("shape", [(1, 30, 29), (2, 37), (1, 5, 9, 10)])
def test_skip_connections_carry_detail_past_the_code(shape):
    from hourglass.nn.conv_model import UNetAutoEncoder

    config = ConvConfig(input_shape=shape, channels=(3, 4), convs_per_block=2, skip_connections=True)
    model = build_model(config)
    assert isinstance(model, UNetAutoEncoder)
    x = torch.rand(2, *shape, requires_grad=True)
    out = model(x)
    assert out["reconstruction"].shape == (2, *shape)
    torch.testing.assert_close(model.layer_outputs(x)["reconstruction"], out["reconstruction"])
    # With the code zeroed, the output still depends on the input: the skips bypass the code.
    model.bottleneck.forward = lambda z: (torch.zeros_like(z), {})
    model(x)["reconstruction"].sum().backward()
    assert x.grad.abs().sum() > 0
    with pytest.raises(InvalidInputError, match="skip_connections"):
        model.decode(out["code"])


@pytest.mark.parametrize("fields", [{"code_size": 4}, {"downsampling": "stride"}])
def test_conv_config_skip_connections_need_pooling_and_a_spatial_code(fields):
    with pytest.raises(InvalidInputError, match="skip_connections"):
        ConvConfig(input_shape=(1, 8, 8), skip_connections=True, **fields)


def test_conv_config_round_trips_through_json():
    config = ConvConfig(input_shape=(3, 16, 16), code_size=None, channels=(4, 8), residual=True)
    assert config_from_dict(config.to_dict()) == config


def _images(n=24, c=1, size=12, seed=0):
    return np.random.default_rng(seed).random((n, c, size, size)).astype(np.float32)


def _fit(X, **kwargs):
    params = {
        "channels": (4,),
        "epochs": 1,
        "batch_size": 8,
        "random_state": 0,
        "verbose": 0,
        "device": "cpu",
    }
    return ConvAutoEncoder(**{**params, **kwargs}).fit(X)


@pytest.mark.parametrize("code_size", [None, 5])
def test_conv_estimator_transform_and_inverse_round_trip_shapes(code_size):
    X = _images()
    ae = _fit(X, code_size=code_size)
    codes = ae.transform(X)
    assert codes.shape == (len(X), ae._n_features_out)
    assert ae.inverse_transform(codes).shape == X.shape
    assert ae.score_samples(X).shape == (len(X),)


def test_conv_estimator_reads_gray_images_without_channel_axis():
    X = _images(size=20)[:, 0]  # (n, h, w): the middle axis is longer than a series' channels
    ae = _fit(X)
    assert ae.input_shape_ == (1, 20, 20)
    assert ae.reconstruct(X).shape == (len(X), 1, 20, 20)


def test_conv_estimator_fits_series():
    X = np.random.default_rng(0).normal(size=(16, 2, 30)).astype(np.float32)
    ae = _fit(X, code_size=3)
    assert ae.transform(X).shape == (16, 3) and ae.scaler_.kind == "standard"
    assert ae.scaler_.offset.shape == (2, 1)  # one statistic per channel


def test_conv_estimator_same_seed_same_weights():
    X = _images()
    a, b = _fit(X), _fit(X)
    assert np.array_equal(a.reconstruct(X), b.reconstruct(X))


def test_conv_estimator_rejects_wrong_shape_naming_it():
    ae = _fit(_images())
    with pytest.raises(InvalidInputError, match=r"\(1, 12, 12\)"):
        ae.transform(_images(size=10))


def test_conv_estimator_refuses_identity_code_for_plain_reconstruction():
    with pytest.raises(InvalidInputError, match="code_size=200"):
        _fit(_images(), code_size=200)


@pytest.mark.parametrize("task", ["denoise", "super_resolve", "inpaint", "colorize"])
def test_conv_estimator_save_load_gives_same_task_output(task, tmp_path):
    X = _images(c=3 if task == "colorize" else 1, size=16)
    ae = _fit(X, task=task)
    ae.save(tmp_path / "m")
    back = hourglass.load(tmp_path / "m")
    assert back.task == task and back.input_shape_ == ae.input_shape_
    np.testing.assert_allclose(back.apply(X[:3]), ae.apply(X[:3]), atol=1e-6)


def test_conv_estimator_unet_denoiser_saves_loads_and_applies(tmp_path):
    X = _images(size=16)
    ae = _fit(X, task="denoise", channels=(4, 8), convs_per_block=2, skip_connections=True)
    ae.save(tmp_path / "m")
    back = hourglass.load(tmp_path / "m")
    assert back.skip_connections and back.convs_per_block == 2
    np.testing.assert_allclose(back.apply(X[:3]), ae.apply(X[:3]), atol=1e-6)
    assert back.apply_image(np.random.default_rng(1).random((1, 23, 31))).shape == (1, 23, 31)


def test_conv_estimator_super_resolve_apply_scales_up():
    ae = _fit(_images(size=16), task="super_resolve", scale_factor=2)
    assert ae.apply(_images(n=2, size=8)).shape == (2, 1, 16, 16)
    assert ae.apply_image(np.random.default_rng(0).random((1, 21, 30))).shape == (1, 42, 60)


def test_conv_estimator_colorize_takes_gray_and_returns_colour():
    ae = _fit(_images(c=3, size=16), task="colorize")
    gray = _images(n=2, size=16)
    assert ae.apply(gray).shape == (2, 3, 16, 16)
    assert ae.apply_image(gray[0, 0]).shape == (3, 16, 16)


@pytest.mark.parametrize("task", ["denoise", "reconstruct"])
def test_conv_estimator_apply_image_handles_any_size(task):
    ae = _fit(_images(size=16), task=task)
    assert ae.apply_image(np.random.default_rng(0).random((1, 7, 45))).shape == (1, 7, 45)


def test_conv_estimator_denoise_defaults_to_gaussian_noise_afresh_each_batch():
    ae = _fit(_images(), task="denoise", noise_level=0.2)
    corruption = ae._corruption()
    batch = torch.zeros(2, 1, 12, 12)
    generator = torch.Generator().manual_seed(0)
    first, second = corruption(batch, generator), corruption(batch, generator)
    assert 0.15 < float(first.std()) < 0.25 and not torch.equal(first, second)


def test_conv_estimator_task_composes_with_noise():
    ae = _fit(_images(size=16), task="super_resolve", noise="gaussian", noise_level=0.1)
    clean = torch.rand(2, 1, 16, 16)
    out = ae._corruption()(clean, torch.Generator().manual_seed(0))
    assert type(ae._corruption()).__name__ == "Compose" and out.shape == clean.shape


def test_conv_estimator_trains_on_image_folder_lazily(tmp_path):
    from hourglass.data.images import save_image

    rng = np.random.default_rng(0)
    for i in range(3):
        save_image(tmp_path / f"p{i}.png", rng.random((3, 40, 50)))
    ae = _fit(str(tmp_path), task="denoise", image_size=(16, 16))
    assert ae.input_shape_ == (3, 16, 16) and training_sample(ae).shape[1:] == (3, 16, 16)
    assert ae.transform(str(tmp_path)).shape[0] == 3


def test_conv_estimator_reads_idx_folder(tmp_path):
    import gzip

    images = (np.random.default_rng(0).random((20, 10, 10)) * 255).astype(np.uint8)
    header = bytes([0, 0, 8, 3]) + np.array([20, 10, 10], ">u4").tobytes()
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(header + images.tobytes()))
    ae = _fit(str(tmp_path), code_size=4)
    assert ae.input_shape_ == (1, 10, 10) and ae.loss_ == "mse"


@pytest.mark.parametrize(
    "params, name",
    [
        ({"task": "sharpen"}, "task"),
        ({"task": "super_resolve", "scale_factor": 5}, "scale_factor"),
        ({"color_mode": "CMYK"}, "color_mode"),
        ({"image_size": (0, 4)}, "image_size"),
        ({"downsampling": "unpool"}, "downsampling"),
        ({"convs_per_block": 0}, "convs_per_block"),
        ({"skip_connections": True}, "skip_connections=True with task='reconstruct'"),
        ({"skip_connections": True, "task": "denoise", "downsampling": "stride"}, "downsampling='pool'"),
    ],
)
def test_conv_estimator_rejects_bad_parameters_by_name(params, name):
    with pytest.raises(InvalidInputError, match=name):
        _fit(_images(), **params)


def test_conv_estimator_report_shows_task_against_baselines():
    from hourglass.report.html import Report
    from hourglass.report.sections import add_model_sections

    ae = _fit(_images(size=16), task="super_resolve")
    report = Report("t")
    add_model_sections(report, ae, _images(n=3, size=16))
    html = report.to_html()
    assert "bicubic" in html and "PSNR" in html and "autoencoder" in html


# -- sparsity guards on convolutional codes ---------------------------------------------------
@pytest.mark.parametrize("code_size", [6, None])
def test_conv_estimator_topk_keeps_exactly_k_entries_per_sample(code_size):
    # code_size=None: the code is a (4, 6, 6) map, ranked as one flat vector per sample.
    ae = _fit(_images(), code_size=code_size, topk=3)
    assert ae.architecture_.topk == 3 and ae.architecture_.topk_aux_k == 72
    codes = ae.transform(_images(n=5, seed=1))
    assert codes.shape == (5, 6 if code_size else 4 * 6 * 6)
    np.testing.assert_array_equal((codes != 0).sum(axis=1), 3)


def test_conv_topk_aux_loss_decodes_a_spatial_code():
    from hourglass.train.regularizers import AuxKLoss

    config = ConvConfig(input_shape=(1, 8, 8), channels=(2,), topk=2, topk_aux_k=3, topk_dead_after=1)
    model = build_model(config)
    x = torch.rand(4, 1, 8, 8)
    model(x)  # every unit not fired in this batch is now dead
    out = model(x)
    assert out["aux"]["topk_aux_code"].shape == out["code"].shape == (4, 2, 4, 4)
    loss = AuxKLoss(1.0)(model, x, out)
    loss.backward()
    assert loss.item() > 0
    # The bottleneck sees signed pre-activations: the last block ends without its ReLU.
    assert not any(isinstance(m, torch.nn.ReLU) for m in model.encoder.block1)


def test_conv_config_checks_topk_against_the_code_width():
    assert ConvConfig(input_shape=(1, 8, 8), channels=(2,), topk=32).code_width == 32
    with pytest.raises(InvalidInputError, match="topk"):
        ConvConfig(input_shape=(1, 8, 8), channels=(2,), topk=33)


def test_conv_estimator_kl_penalty_lowers_mean_code_activation():
    X = _images(n=32)
    kw = {"code_size": None, "epochs": 3, "learning_rate": 1e-2, "loss": "bce"}
    # kl_penalty=0 would give an identity code; a negligible weight keeps the same sigmoid code.
    base = _fit(X, **kw, kl_penalty=1e-12)
    sparse = _fit(X, **kw, kl_penalty=1.0, sparsity_target=0.05)
    assert sparse.architecture_.code_activation == base.architecture_.code_activation == "sigmoid"
    assert sparse.transform(X).mean() < base.transform(X).mean() - 0.05


def test_conv_estimator_topk_save_load_keeps_bottleneck(tmp_path):
    from hourglass.nn.bottleneck import TopKBottleneck

    X = _images()
    ae = _fit(X, topk=4)
    ae.save(tmp_path / "m")
    back = hourglass.load(tmp_path / "m")
    assert isinstance(back.module_.bottleneck, TopKBottleneck) and back.module_.bottleneck.k == 4
    assert back.architecture_ == ae.architecture_
    np.testing.assert_array_equal(back.transform(X[:5]), ae.transform(X[:5]))


def test_conv_config_without_sparsity_fields_loads_with_defaults():
    old = {"kind": "conv", "input_shape": [1, 8, 8], "code_size": None, "channels": [2], "dropout": 0.0}
    config = config_from_dict(old)
    assert (config.code_activation, config.topk, config.topk_aux_k, config.topk_dead_after) == (
        "identity",
        None,
        0,
        10_000,
    )
    assert type(build_model(config).bottleneck).__name__ == "IdentityBottleneck"


@pytest.mark.parametrize("guard", [{"topk": 2}, {"kl_penalty": 0.1}])
def test_conv_estimator_records_sparse_metrics(guard):
    ae = _fit(_images(), code_size=5, **guard)
    assert {"l0", "dead_fraction"} <= set(ae.history_.metrics)


def test_self_ensemble_averages_the_eight_turned_results_back_into_place(monkeypatch):
    ae = _fit(_images(size=16), task="denoise", noise_level=0.1)
    image = np.random.default_rng(2).random((1, 24, 37)).astype(np.float32)
    plain = ae.apply_image(image)
    ensemble = ae.apply_image(image, self_ensemble=True)
    assert ensemble.shape == plain.shape == (1, 24, 37)
    assert not np.allclose(ensemble, plain)  # a trained network is not exactly equivariant
    # For a network that is (the identity), the ensemble gives back exactly its result.
    monkeypatch.setattr(task_part, "network_output", lambda est, x: x)
    np.testing.assert_allclose(ae.apply_image(image, self_ensemble=True), image, atol=1e-6)


@pytest.mark.parametrize(
    "params, unet, convs",
    [
        ({"task": "denoise"}, True, 2),
        ({"task": "super_resolve", "convs_per_block": 1}, True, 1),
        ({"task": "denoise", "downsampling": "stride"}, False, 2),
        ({"task": "denoise", "code_size": 6}, False, 2),
        ({}, False, 1),
    ],
)
def test_conv_estimator_auto_architecture_is_a_unet_for_restoration_only(params, unet, convs):
    from hourglass.nn.conv_model import UNetAutoEncoder

    ae = _fit(_images(size=16), channels=(4, 8), **params)
    assert isinstance(ae.module_, UNetAutoEncoder) == unet
    assert ae.module_.encoder.block1[0].__class__ is torch.nn.Conv2d
    n_convs = sum(isinstance(m, torch.nn.Conv2d) for m in ae.module_.encoder.block1)
    assert n_convs == convs


def _luma(images: np.ndarray) -> np.ndarray:
    return np.einsum("nc...,c->n...", images, np.array([0.299, 0.587, 0.114], np.float32))


@pytest.mark.parametrize(
    "params",
    [{}, {"scaling": "standard"}, {"code_size": 6, "skip_connections": False}],
    ids=["unet", "standardized", "flat-code"],
)
def test_conv_estimator_colorize_keeps_the_luminance_exactly(params):
    X = _images(c=3, size=16) * 0.6 + 0.2  # away from 0 and 1, so clipping keeps the luminance
    ae = _fit(X, task="colorize", **params)
    out = ae.apply(X[:4])
    assert ae.module_.decoder.output.out_channels == 2  # the network predicts chroma only
    np.testing.assert_allclose(_luma(out), _luma(X[:4]), atol=1e-5)


def test_conv_estimator_colorize_starts_from_the_gray_image():
    ae = _fit(_images(c=3, size=16), task="colorize", epochs=1, learning_rate=1e-12)
    X = _images(n=2, c=3, size=16, seed=1)
    gray = np.repeat(_luma(X)[:, None], 3, axis=1)
    np.testing.assert_allclose(ae.apply(X), gray, atol=1e-4)


def test_conv_estimator_colorize_learns_a_constant_colour():
    # Every image is the same orange at varying brightness: chroma is predictable from nothing.
    rng = np.random.default_rng(0)
    X = np.array([0.9, 0.5, 0.2], np.float32)[None, :, None, None] * rng.uniform(0.6, 1, (64, 1, 12, 12))
    ae = _fit(X.astype(np.float32), task="colorize", epochs=20, learning_rate=3e-3)
    gray = np.repeat(_luma(X[:4])[:, None], 3, axis=1)
    assert np.mean((ae.apply(X[:4]) - X[:4]) ** 2) < 0.25 * np.mean((gray - X[:4]) ** 2)


@pytest.mark.parametrize("shape", [(8, 2, 37), (4, 1, 5, 8, 8)])
def test_conv_estimator_super_resolve_refuses_series_and_video_before_training(shape):
    # They trained, and apply then refused every input: it takes the low-resolution sample.
    X = np.random.default_rng(0).random(shape).astype(np.float32)
    with pytest.raises(InvalidInputError, match=r"task='super_resolve' needs images \(n, c, h, w\)"):
        ConvAutoEncoder(task="super_resolve", channels=(4,), epochs=1, verbose=0).fit(X)


def test_conv_estimator_colorize_refuses_gray_images_before_training():
    with pytest.raises(InvalidInputError, match=r"task='colorize' needs RGB images .* \(1, 12, 12\)"):
        _fit(_images(c=1), task="colorize")


def test_conv_warns_of_channels_last_images_and_of_bytes_for_a_model_of_unit_values():
    # Both trained or ran without a word: 32-channel 32x3 "images", and every pixel saturated.
    X = np.random.default_rng(0).random((12, 3, 20, 20)).astype(np.float32)
    with pytest.warns(UserWarning, match=r"last axis looks like colour channels.*transpose\(0, 3, 1, 2\)"):
        ConvAutoEncoder(channels=(4,), epochs=1, verbose=0).fit(X.transpose(0, 2, 3, 1))
    model = ConvAutoEncoder(channels=(4,), epochs=1, verbose=0).fit(X)
    with pytest.warns(UserWarning, match=r"X holds bytes \(uint8, 0-255\).*divide X by 255"):
        model.reconstruct((X * 255).astype(np.uint8))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.reconstruct(X)  # values as trained: no warning


@pytest.mark.parametrize(
    ("shape", "code"),
    [
        ((1, 28, 28), "64x7x7 = 3,136 values"),
        ((3, 32, 32), "64x8x8 = 4,096 values"),
        ((1, 64), "64x16 = 1,024"),
    ],
)
def test_a_spatial_code_as_wide_as_the_input_is_warned_of(shape, code):
    # An explicit code_size that wide is refused; the default channels' map must say so too.
    X = np.random.default_rng(0).random((8, *shape)).astype(np.float32)
    with pytest.warns(UserWarning, match=f"the spatial code \\({code}.*can learn the identity"):
        ConvAutoEncoder(code_size=None, epochs=1, batch_size=8, random_state=0).fit(X)


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"code_size": None, "channels": (8, 4)},
        {"code_size": 16},
        {"task": "denoise"},
        {"noise": "gaussian"},
    ],
)
def test_a_narrow_or_guarded_conv_code_warns_nothing(params):
    X = np.random.default_rng(0).random((8, 1, 16, 16)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        ConvAutoEncoder(epochs=1, batch_size=8, random_state=0, **params).fit(X)


@pytest.mark.parametrize(
    ("shape", "params", "width"),
    [
        ((1, 8, 8), {}, 16),  # a quarter of 64 pixels
        ((1, 28, 28), {}, 16),  # at most 16
        ((1, 12), {}, 3),  # a series of 12 values
        ((1, 16, 16), {"task": "denoise", "channels": (4,)}, 4 * 8 * 8),  # a task keeps the map
        ((1, 16, 16), {"noise": "gaussian", "channels": (4,)}, 4 * 8 * 8),  # so does input noise
    ],
)
def test_the_default_code_is_flat_and_narrow_where_the_model_reconstructs(shape, params, width):
    # The default was the last feature map, 4x a gray image's pixels: every default fit warned
    # that it could learn the identity, and compare found no PCA to set beside it.
    X = np.random.default_rng(0).random((8, *shape)).astype(np.float32)
    ae = ConvAutoEncoder(epochs=1, batch_size=8, random_state=0, **params).fit(X)
    assert ae.transform(X).shape == (8, width)
    assert ae.get_params()["code_size"] == "auto"  # the parameter stays as given (scikit-learn)


def test_conv_default_epochs_are_planned_as_learning_goes(digits):
    # A fixed 100 epochs ran on where learning had stopped (712 s on 3,000 camera patches for
    # 3 % over the last 26 epochs); the default now plans as the dense one does. VQ keeps 100.
    assert ConvAutoEncoder().epochs == "auto" and VQAutoEncoder().epochs == 100
    images = digits[0][:120].reshape(-1, 1, 8, 8)
    ae = ConvAutoEncoder(channels=(4,), code_size=4, random_state=0, device="cpu").fit(images)
    assert ae.history_.recipe["schedule"] == "progressive cosine"
    # The cap of 'auto' (300 epochs for small data), not a fixed count run to its end.
    assert ae.epochs_ == 300 and "ran all" not in ae.history_.stop_reason
