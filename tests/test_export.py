"""Taking models elsewhere: ``to_torch`` and ``export_onnx`` give what the estimator gives, on raw input.

Every estimator kind is exported and run in onnxruntime on raw data in the user's units, then
compared with ``transform`` / ``inverse_transform`` / ``reconstruct`` (``apply`` for restoration
tasks). The criterion is a difference of at most 1e-4 relative to ``max(1, |value|)``: float32,
which both sides compute in, spaces values near 1000 by 6e-5, so an absolute 1e-4 would test the
rounding of large data rather than the export.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import skimage.data
import torch
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.exceptions import NotFittedError
from torch import nn

from helpers import assert_one_line_error, run
from hourglass import AnomalyDetector, AutoEncoder, ConvAutoEncoder, VariationalAutoEncoder, VQAutoEncoder
from hourglass.estimators.export import example_input
from hourglass.estimators.task_part import task_input
from hourglass.exceptions import ExportError, InvalidInputError, MissingDependencyError, OutputExistsError

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

TOLERANCE = 1e-4
FAST = {"epochs": 1, "verbose": 0, "random_state": 0, "device": "cpu"}


def relative_difference(got: np.ndarray, want: np.ndarray) -> float:
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape
    return float(np.max(np.abs(got - want) / np.maximum(1.0, np.abs(want))))


def onnx_run(path, feed: np.ndarray) -> dict[str, np.ndarray]:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    feed_name = session.get_inputs()[0].name
    return dict(zip(names, session.run(names, {feed_name: feed.astype(np.float32)}), strict=True))


# -- real data, small --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cancer() -> np.ndarray:
    """The breast-cancer table: 30 features from 0.001 to 4254, where the scaling matters."""
    return load_breast_cancer().data[:300]


@pytest.fixture(scope="module")
def digit_images() -> np.ndarray:
    return (load_digits().data[:300] / 16.0).reshape(-1, 1, 8, 8)


@pytest.fixture(scope="module")
def photo_patches() -> np.ndarray:
    """(96, 3, 16, 16) patches of the astronaut photo, pixels in [0, 1]."""
    photo = skimage.data.astronaut()[::4, ::4].astype(np.float32) / 255.0  # (128, 128, 3)
    tiles = [photo[i : i + 16, j : j + 16] for i in range(0, 112, 12) for j in range(0, 112, 12)]
    return np.stack(tiles[:96]).transpose(0, 3, 1, 2).copy()


# -- the estimators, one per kind ----------------------------------------------------------------
def _dense(scaling: str, **extra):
    def build(cancer, digit_images, photo_patches):
        params = {"code_size": 4, "hidden_layers": (16,), "scaling": scaling, **FAST, **extra}
        return AutoEncoder(**params).fit(cancer)

    return build


def _digits_bce(cancer, digit_images, photo_patches):
    data = digit_images.reshape(len(digit_images), -1)
    return AutoEncoder(code_size=4, hidden_layers=(16,), loss="bce", **FAST).fit(data)


def _conv_image(cancer, digit_images, photo_patches):
    return ConvAutoEncoder(channels=(4, 8), **FAST).fit(digit_images)


def _conv_series(cancer, digit_images, photo_patches):
    series = np.cumsum(cancer[:, None, :] - cancer.mean(axis=0), axis=2)  # (n, 1, 30), far from [0, 1]
    return ConvAutoEncoder(channels=(4,), code_size=6, scaling="standard", **FAST).fit(series)


def _conv_topk(cancer, digit_images, photo_patches):
    return ConvAutoEncoder(channels=(4, 8), topk=5, **FAST).fit(digit_images)


def _task(task: str, **extra):
    def build(cancer, digit_images, photo_patches):
        return ConvAutoEncoder(channels=(4,), task=task, **FAST, **extra).fit(photo_patches)

    return build


def _detector(cancer, digit_images, photo_patches):
    inner = AutoEncoder(code_size=4, hidden_layers=(16,), **FAST)
    return AnomalyDetector(inner, random_state=0).fit(cancer)


def _vq(cancer, digit_images, photo_patches):
    return VQAutoEncoder(channels=(8, 16), codebook_size=16, embedding_dim=4, **FAST).fit(digit_images)


def _vae(arch: str):
    def build(cancer, digit_images, photo_patches):
        X = cancer if arch == "dense" else digit_images
        return VariationalAutoEncoder(arch=arch, code_size=4, channels=(8,), hidden_layers=(16,), **FAST).fit(
            X
        )

    return build


KINDS = {
    "dense-standard": _dense("standard"),
    "dense-minmax-clip": _dense("minmax"),
    "dense-none": _dense("none"),
    "dense-bce-sigmoid": _digits_bce,
    "dense-topk": _dense("standard", topk=2, code_size=8),
    "conv-image": _conv_image,
    "conv-series": _conv_series,
    "conv-topk": _conv_topk,
    "denoise-unet": _task("denoise"),
    "colorize": _task("colorize"),
    "super-resolve": _task("super_resolve", skip_connections=False),
    "inpaint": _task("inpaint"),
    "anomaly": _detector,
    "vq": _vq,
    "vae-dense": _vae("dense"),
    "vae-conv": _vae("conv"),
}
#: Each checked on every part in the fast suite; the others on the autoencoder part (all parts: slow).
FAST_KINDS = ("dense-standard", "conv-image", "dense-topk", "vq", "vae-conv")
#: Variations of a kind checked in the fast suite (scaling, clip, TopK, a restoration task): slow only.
SLOW_KINDS = ("dense-none", "dense-minmax-clip", "conv-topk", "inpaint")


@pytest.fixture(scope="module")
def fitted(cancer, digit_images, photo_patches):
    cache: dict[str, object] = {}

    def get(kind: str):
        if kind not in cache:
            cache[kind] = KINDS[kind](cancer, digit_images, photo_patches)
        return cache[kind]

    return get


def _raw_input(kind: str, cancer, digit_images, photo_patches) -> np.ndarray:
    if kind == "dense-bce-sigmoid":
        return digit_images.reshape(len(digit_images), -1)[:40]
    if kind in ("conv-image", "conv-topk", "vq", "vae-conv"):
        return digit_images[:40]
    if kind == "conv-series":
        return np.cumsum(cancer[:40, None, :] - cancer.mean(axis=0), axis=2)
    if kind in ("denoise-unet", "colorize", "super-resolve", "inpaint"):
        return photo_patches[:12]
    return cancer[:40]


def _has_decoder(estimator) -> bool:
    return getattr(estimator, "task", "reconstruct") == "reconstruct"


def check_parity(estimator, kind: str, part: str, X: np.ndarray, tmp_path) -> float:
    """Export ``part``, run it in onnxruntime on raw ``X``, and return the largest relative difference."""
    path = tmp_path / f"{kind}-{part}.onnx"
    result = estimator.export_onnx(path, part=part)
    assert path.stat().st_size == result.n_bytes
    task = getattr(estimator, "task", "reconstruct")
    if part == "decoder":
        codes = estimator.transform(X).astype(np.float32)
        decoder = getattr(estimator, "estimator_", estimator)  # a detector decodes with its autoencoder
        return relative_difference(onnx_run(path, codes)["reconstruction"], decoder.inverse_transform(codes))
    if part == "encoder":
        return relative_difference(onnx_run(path, X)["code"], estimator.transform(X))
    if task == "super_resolve":
        factor = estimator.scale_factor
        X = torch.nn.functional.avg_pool2d(torch.from_numpy(X), factor).numpy()  # low-resolution input
    out = onnx_run(path, X)
    want = estimator.apply(X) if task != "reconstruct" else estimator.reconstruct(X)
    differences = [relative_difference(out["reconstruction"], want)]
    if task != "super_resolve":  # transform takes images of the training size
        # The code is that of the network's input: a colorizer encodes the luminance.
        inputs = task_input(estimator, X) if task != "reconstruct" else X
        differences.append(relative_difference(out["code"], estimator.transform(inputs)))
    if isinstance(estimator, AnomalyDetector):
        differences.append(relative_difference(out["score"], estimator.anomaly_score(X)))
    return max(differences)


def _parts(kind: str, estimator) -> list[str]:
    return ["autoencoder", "encoder", "decoder"] if _has_decoder(estimator) else ["autoencoder", "encoder"]


@pytest.mark.parametrize("kind", FAST_KINDS)
def test_export_parity_every_part(kind, fitted, cancer, digit_images, photo_patches, tmp_path):
    estimator = fitted(kind)
    X = _raw_input(kind, cancer, digit_images, photo_patches)
    for part in _parts(kind, estimator):
        assert check_parity(estimator, kind, part, X, tmp_path) <= TOLERANCE, part


@pytest.mark.parametrize(
    "kind",
    [pytest.param(k, marks=pytest.mark.slow) if k in SLOW_KINDS else k for k in KINDS if k not in FAST_KINDS],
)
def test_export_parity_autoencoder(kind, fitted, cancer, digit_images, photo_patches, tmp_path):
    estimator = fitted(kind)
    X = _raw_input(kind, cancer, digit_images, photo_patches)
    assert check_parity(estimator, kind, "autoencoder", X, tmp_path) <= TOLERANCE


@pytest.mark.slow
@pytest.mark.parametrize("kind", [k for k in KINDS if k not in FAST_KINDS])
def test_export_parity_every_part_slow(kind, fitted, cancer, digit_images, photo_patches, tmp_path):
    estimator = fitted(kind)
    X = _raw_input(kind, cancer, digit_images, photo_patches)
    for part in _parts(kind, estimator)[1:]:
        assert check_parity(estimator, kind, part, X, tmp_path) <= TOLERANCE, part


def test_export_onnx_names_axes_and_metadata(fitted, tmp_path):
    estimator = fitted("conv-image")
    result = estimator.export_onnx(tmp_path / "m.onnx")
    model = onnx.load(str(tmp_path / "m.onnx"))
    assert [i.name for i in model.graph.input] == ["input"]
    assert [o.name for o in model.graph.output] == ["code", "reconstruction"]
    assert result.inputs == {"input": ["batch", 1, 8, 8]}  # spatial axes kept, batch dynamic
    assert result.outputs["reconstruction"] == ["batch", 1, 8, 8]
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["estimator"] == "ConvAutoEncoder" and meta["part"] == "autoencoder"
    assert meta["code_size"] == str(estimator.transform(np.zeros((1, 1, 8, 8))).shape[1])
    assert meta["input_shape"] == "[1, 8, 8]"
    assert "hourglass_version" in meta


def test_detector_metadata_holds_its_threshold(fitted, tmp_path):
    detector = fitted("anomaly")
    detector.export_onnx(tmp_path / "d.onnx")
    meta = {p.key: p.value for p in onnx.load(str(tmp_path / "d.onnx")).metadata_props}
    assert float(meta["threshold"]) == pytest.approx(detector.threshold_)


# -- the plain module ------------------------------------------------------------------------------
def test_to_torch_folds_the_scaling_in(fitted, cancer):
    ae = fitted("dense-standard")
    raw = torch.from_numpy(cancer[:20].astype(np.float32))
    # The network alone expects scaled input: on raw numbers it is far off.
    assert np.abs(ae.module_.encode(raw).detach().numpy() - ae.transform(cancer[:20])).max() > 1.0
    code = ae.to_torch("encoder")(raw).numpy()
    assert relative_difference(code, ae.transform(cancer[:20])) <= 1e-5
    code, recon = ae.to_torch()(raw)
    assert relative_difference(recon.numpy(), ae.reconstruct(cancer[:20])) <= 1e-5


# TorchScript is deprecated in PyTorch 2.13 (torch.export replaces it) but still what many deploy;
# the tracer warns that the static shapes it records (TopK's k, the conv padding) are constants.
@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::torch.jit.TracerWarning")
@pytest.mark.parametrize("kind", ["dense-topk", "conv-image"])
def test_to_torch_is_taken_by_torch_export_and_jit_trace(kind, fitted, tmp_path):
    estimator = fitted(kind)
    module = estimator.to_torch()
    x = example_input(estimator, "autoencoder", rows=4)
    want = [t.numpy() for t in module(x)]
    batch = torch.export.Dim("batch")
    program = torch.export.export(module, (x,), dynamic_shapes={"x": {0: batch}})
    x3 = example_input(estimator, "autoencoder", rows=3, seed=1)
    for got, ref in zip(program.module()(x3), module(x3), strict=True):
        assert relative_difference(got.numpy(), ref.numpy()) <= 1e-6
    traced = torch.jit.trace(module, (x,))
    traced.save(str(tmp_path / "m.pt"))
    loaded = torch.jit.load(str(tmp_path / "m.pt"))
    for got, ref in zip(loaded(x), want, strict=True):
        assert relative_difference(got.numpy(), ref) <= 1e-6


def test_to_torch_leaves_the_estimator_untouched(fitted, cancer):
    ae = fitted("dense-topk")
    before = ae.transform(cancer[:10])
    ae.module_.train()  # whatever mode the estimator's module is in, it stays in it
    module = ae.to_torch()
    assert ae.module_.training and not module.training
    for parameter in module.parameters():
        parameter.data.add_(1.0)  # the copy's weights are its own
    np.testing.assert_array_equal(ae.transform(cancer[:10]), before)


# -- refusals ----------------------------------------------------------------------------------------
class DataDependent(nn.Module):
    """A user's encoder with Python control flow on tensor values, which torch.export cannot trace."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(30, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.linear(x)
        return h if h.sum() > 0 else -h


def test_untraceable_user_module_is_refused_in_one_line(cancer, tmp_path):
    ae = AutoEncoder(code_size=4, hidden_layers=(16,), encoder=DataDependent(), **FAST).fit(cancer)
    with pytest.raises(ExportError, match="could not trace") as info:
        ae.export_onnx(tmp_path / "m.onnx")
    assert "\n" not in str(info.value)
    assert not list(tmp_path.iterdir())


def test_traceable_user_module_exports(cancer, tmp_path):
    encoder = nn.Sequential(nn.Linear(30, 8), nn.Tanh(), nn.Linear(8, 4))
    ae = AutoEncoder(code_size=4, hidden_layers=(16,), encoder=encoder, **FAST).fit(cancer)
    assert check_parity(ae, "user", "encoder", cancer[:40], tmp_path) <= TOLERANCE


def test_unfitted_model_is_refused(tmp_path):
    with pytest.raises(NotFittedError):
        AutoEncoder().export_onnx(tmp_path / "m.onnx")
    with pytest.raises(NotFittedError):
        AnomalyDetector().to_torch()
    assert not list(tmp_path.iterdir())


def test_unknown_part_is_refused(fitted, tmp_path):
    with pytest.raises(InvalidInputError, match="part='middle'"):
        fitted("dense-standard").export_onnx(tmp_path / "m.onnx", part="middle")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("kind", ["denoise-unet", "colorize"])
def test_decoder_of_a_restoration_model_is_refused(kind, fitted, tmp_path):
    with pytest.raises(ExportError, match="no decoder to export"):
        fitted(kind).export_onnx(tmp_path / "m.onnx", part="decoder")
    assert not list(tmp_path.iterdir())


def test_missing_onnx_names_the_extra(fitted, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxscript", None)  # import onnxscript now fails
    with pytest.raises(MissingDependencyError, match=r'onnxscript.*pip install "hourglass-ae\[onnx\]"'):
        fitted("dense-standard").export_onnx(tmp_path / "m.onnx")
    assert not list(tmp_path.iterdir())


def test_existing_output_needs_force(fitted, tmp_path):
    path = tmp_path / "m.onnx"
    path.write_bytes(b"mine")
    with pytest.raises(OutputExistsError):
        fitted("dense-standard").export_onnx(path)
    assert path.read_bytes() == b"mine"
    fitted("dense-standard").export_onnx(path, force=True)
    assert onnx.load(str(path)).graph.output[0].name == "code"


# -- the command ----------------------------------------------------------------------------------
def test_cli_export_writes_and_describes(fitted, cancer, tmp_path):
    ae = fitted("dense-standard")
    ae.save(tmp_path / "model")
    out = tmp_path / "model.onnx"
    code, stdout, stderr = run("export", tmp_path / "model", "-o", out, "--part", "encoder")
    assert code == 0, stderr
    assert str(out) in stdout and "encoder" in stdout and "input" in stdout and "[batch, 30]" in stdout
    assert f"{out.stat().st_size:,} bytes" in stdout
    assert relative_difference(onnx_run(out, cancer[:20])["code"], ae.transform(cancer[:20])) <= TOLERANCE
    before = out.read_bytes()
    assert_one_line_error(*run("export", tmp_path / "model", "-o", out), "exists", "--force")
    assert out.read_bytes() == before
    assert_one_line_error(
        *run("export", tmp_path / "model", "-o", tmp_path / "b.onnx", "--part", "x"), "--part"
    )
    assert not (tmp_path / "b.onnx").exists()


def test_cli_export_refuses_a_decoder_without_one(fitted, tmp_path):
    fitted("denoise-unet").save(tmp_path / "model")
    out = tmp_path / "d.onnx"
    assert_one_line_error(*run("export", tmp_path / "model", "-o", out, "--part", "decoder"), "no decoder")
    assert not out.exists()


def test_a_model_fitted_on_a_table_file_exports_its_column_names(tmp_path):
    from sklearn.datasets import load_wine

    frame = load_wine(as_frame=True).data
    frame.insert(0, "id", range(len(frame)))
    frame.to_csv(tmp_path / "wine.csv", index=False)
    fit = ["--drop", "id", "--epochs", "2", "--hidden-layers", "8", "-q"]
    assert run("fit", tmp_path / "wine.csv", *fit, "-o", tmp_path / "ae")[0] == 0
    assert run("export", tmp_path / "ae", "-o", tmp_path / "e.onnx", "--part", "encoder", "-q")[0] == 0
    meta = {p.key: p.value for p in onnx.load(str(tmp_path / "e.onnx")).metadata_props}
    assert json.loads(meta["feature_names"]) == list(frame.columns[1:])
