"""``hourglass apply`` and ``hourglass fit --arch conv`` on image folders, through the Typer runner."""

import numpy as np
import pytest
from typer.testing import CliRunner

from hourglass.cli import app
from hourglass.data.images import load_image, save_image


class _Captured:
    def __init__(self):
        self.out = self.err = ""


def _run(argv, captured=None):
    """Invoke the CLI; return the exit code and keep stdout / stderr in ``captured``."""
    result = CliRunner().invoke(app, [str(a) for a in argv])
    if captured is not None:
        captured.out, captured.err = result.stdout, result.stderr
    return result.exit_code


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    rng = np.random.default_rng(0)
    for i, size in enumerate([(40, 50), (36, 44)]):
        save_image(folder / f"p{i}.png", rng.random((3, *size)))
    return folder


@pytest.fixture
def model(tmp_path, photos):
    out = tmp_path / "model"
    argv = ["fit", str(photos), "-o", str(out), "--arch", "conv", "--task", "denoise", "--noise", "0.1",
            "--channels", "4", "--image-size", "16", "--epochs", "1", "--quiet"]  # fmt: skip
    assert _run(argv) == 0
    return out


def test_fit_conv_denoise_on_folder_then_apply_writes_images_of_the_same_size(model, photos, tmp_path):
    out_dir, captured = tmp_path / "clean", _Captured()
    assert _run(["apply", model, photos, "-o", out_dir], captured) == 0
    written = sorted(p.name for p in out_dir.iterdir())
    assert written == ["p0.png", "p1.png"]
    assert load_image(out_dir / "p1.png").shape == (3, 36, 44)
    assert "denoise: wrote 2 result(s)" in captured.out


def test_apply_names_a_bad_file_in_one_line(model, photos, tmp_path):
    (photos / "broken.png").write_bytes(b"not a png")
    captured = _Captured()
    assert _run(["apply", model, photos, "-o", tmp_path / "o"], captured) == 2
    err = captured.err.strip()
    assert "broken.png" in err and len(err.splitlines()) == 1


def test_apply_that_fails_on_a_bad_file_leaves_no_result_behind(model, photos, tmp_path):
    # The good photo before the bad one was written, and a rerun then met 'exists already'.
    (photos / "zz-broken.png").write_bytes(b"\x89PNG\r\n\x1a\n junk")
    out_dir = tmp_path / "o"
    out_dir.mkdir()
    assert _run(["apply", model, photos, "-o", out_dir]) == 2
    assert list(out_dir.iterdir()) == []  # no result, no staging folder
    (photos / "zz-broken.png").unlink()
    assert _run(["apply", model, photos, "-o", out_dir]) == 0
    assert sorted(p.name for p in out_dir.iterdir()) == ["p0.png", "p1.png"]


def test_apply_mirrors_subfolders_and_refuses_two_inputs_for_one_result(model, photos, tmp_path):
    # a/x.png and b/x.png both became OUT/x.png: refused mid-run, or with --force one was lost.
    rng = np.random.default_rng(1)
    for sub in ("a", "b"):
        save_image(photos / sub / "x.png", rng.random((3, 20, 20)))
    out_dir = tmp_path / "o"
    assert _run(["apply", model, photos, "-o", out_dir]) == 0
    written = sorted(str(p.relative_to(out_dir)) for p in out_dir.rglob("*.png"))
    assert written == ["a/x.png", "b/x.png", "p0.png", "p1.png"]
    from PIL import Image

    pixels = (rng.random((20, 20, 3)) * 255).astype(np.uint8)
    Image.fromarray(pixels).save(photos / "p0.bmp")  # p0.bmp's result is p0.png too
    captured = _Captured()
    assert _run(["apply", model, photos, "-o", tmp_path / "o2", "--force"], captured) == 2
    assert "both give" in captured.err and not (tmp_path / "o2").exists()


def test_apply_refuses_an_existing_result_before_any_work(model, photos, tmp_path):
    out_dir = tmp_path / "o"
    out_dir.mkdir()
    (out_dir / "p1.png").write_bytes(b"mine")
    captured = _Captured()
    assert _run(["apply", model, photos, "-o", out_dir], captured) == 2
    assert "p1.png" in captured.err and "exists" in captured.err
    assert sorted(p.name for p in out_dir.iterdir()) == ["p1.png"]  # p0 not written either
    assert (out_dir / "p1.png").read_bytes() == b"mine"


def test_apply_skip_bad_reports_bad_files_and_goes_on(model, photos, tmp_path):
    (photos / "broken.png").write_bytes(b"not a png")
    save_image(photos / "tiny.png", np.zeros((3, 4, 4)))
    out_dir, captured = tmp_path / "o", _Captured()
    assert _run(["apply", model, photos, "-o", out_dir, "--skip-bad"], captured) == 0
    assert "broken.png" in captured.err and "tiny.png" in captured.err
    assert "skipped 2 bad file(s)" in captured.out
    assert len(list(out_dir.iterdir())) == 2


def test_apply_refuses_to_overwrite_without_force(model, photos, tmp_path):
    out_dir = tmp_path / "o"
    assert _run(["apply", model, photos / "p0.png", "-o", out_dir]) == 0
    assert _run(["apply", model, photos / "p0.png", "-o", out_dir]) == 2
    assert _run(["apply", model, photos / "p0.png", "-o", out_dir, "--force"]) == 0


def test_apply_writes_arrays_for_npy_input(model, tmp_path):
    arr = tmp_path / "x.npy"
    np.save(arr, np.random.default_rng(0).random((2, 3, 16, 16)).astype(np.float32))
    assert _run(["apply", model, arr, "-o", tmp_path / "o"]) == 0
    assert np.load(tmp_path / "o" / "x.npy").shape == (2, 3, 16, 16)


def test_apply_help_explains_every_task():
    captured = _Captured()
    assert _run(["apply", "--help"], captured) == 0
    text = captured.out
    for task in ("denoise", "colorize", "super_resolve", "inpaint", "reconstruct"):
        assert task in text


def test_fit_unet_denoiser_then_apply_with_self_ensemble(photos, tmp_path):
    out = tmp_path / "unet"
    argv = ["fit", photos, "-o", out, "--arch", "conv", "--task", "denoise", "--noise", "0.1", "--channels",
            "4,8", "--convs-per-block", "2", "--skip-connections", "--image-size", "16", "--epochs", "1",
            "--quiet"]  # fmt: skip
    assert _run(argv) == 0
    assert _run(["apply", out, photos, "-o", tmp_path / "images", "--self-ensemble", "--quiet"]) == 0
    assert load_image(tmp_path / "images" / "p0.png").shape == (3, 40, 50)
    arr = tmp_path / "x.npy"
    np.save(arr, np.random.default_rng(0).random((2, 3, 20, 24)).astype(np.float32))
    plain, ensemble = tmp_path / "plain", tmp_path / "ensemble"
    assert _run(["apply", out, arr, "-o", plain, "--quiet"]) == 0
    assert _run(["apply", out, arr, "-o", ensemble, "--self-ensemble", "--quiet"]) == 0
    a, b = np.load(plain / "x.npy"), np.load(ensemble / "x.npy")
    assert a.shape == b.shape == (2, 3, 20, 24)
    assert not np.array_equal(a, b)  # the eight turned results differ and are averaged
    np.testing.assert_allclose(a, b, atol=0.1)


def test_fit_refuses_skip_connections_for_plain_reconstruction(photos, tmp_path):
    captured = _Captured()
    argv = ["fit", photos, "-o", tmp_path / "m", "--arch", "conv", "--skip-connections", "--epochs", "1"]
    assert _run(argv, captured) == 2
    assert "--skip-connections" in captured.err and len(captured.err.strip().splitlines()) == 1


def test_one_image_file_is_data_for_a_conv_model_as_a_folder_is(model, tmp_path):
    # 'apply' took one photo, but encode, reconstruct and compress said "unsupported file type '.png'".
    save_image(tmp_path / "one.png", np.random.default_rng(2).random((3, 16, 16)))
    captured = _Captured()
    assert _run(["encode", model, tmp_path / "one.png", "-o", tmp_path / "c.npy"], captured) == 0, (
        captured.err
    )
    assert np.load(tmp_path / "c.npy").shape[0] == 1


def test_apply_writes_the_file_o_names_for_one_input(model, photos, tmp_path):
    # -o afile.png made a folder afile.png holding p0.png.
    target, captured = tmp_path / "sub" / "afile.png", _Captured()
    assert _run(["apply", model, photos / "p0.png", "-o", target], captured) == 0, captured.err
    assert target.is_file() and load_image(target).shape == (3, 40, 50)
    assert _run(["apply", model, photos / "p0.png", "-o", target], captured) == 2
    assert "exists" in captured.err


def test_apply_refuses_a_file_o_for_several_inputs_in_one_line(model, photos, tmp_path):
    captured = _Captured()
    assert _run(["apply", model, photos, "-o", tmp_path / "two.png"], captured) == 2
    err = captured.err.strip()
    assert "2 inputs" in err and "folder" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "two.png").exists()


def test_apply_says_when_a_gray_model_reads_colour_photos_in_gray(photos, tmp_path):
    gray = tmp_path / "gray"
    argv = ["fit", photos, "-o", gray, "--arch", "conv", "--task", "denoise", "--noise", "0.1",
            "--color-mode", "L", "--channels", "4", "--image-size", "16", "--epochs", "1",
            "--quiet"]  # fmt: skip
    assert _run(argv) == 0
    captured = _Captured()
    assert _run(["apply", gray, photos, "-o", tmp_path / "out"], captured) == 0
    assert "converted 2 colour images to gray: the model reads one channel" in captured.err
    assert _run(["apply", gray, photos, "-o", tmp_path / "quiet", "-q"], captured) == 0
    assert "gray" not in captured.err
