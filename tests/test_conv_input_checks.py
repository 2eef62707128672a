"""Inputs a convolutional model would misread without an error (found by a probe): 0-255 pixels
given to apply / apply_image of a model trained on [0, 1], arrays stored channels-last, a .csv
asked for images; and what a restoration model's validation attributes hold."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import skimage.data as sd
from PIL import Image

from helpers import assert_one_line_error, run
from hourglass import ConvAutoEncoder
from hourglass.data.saving import save_array
from hourglass.exceptions import InvalidInputError

BYTES = r"holds bytes \(uint8, 0-255\) but the model was trained on values in \[0, 1\]; divide .* by 255"


def _patches(image: np.ndarray, size: int = 32, step: int = 32, n: int = 48) -> np.ndarray:
    """Patches of a photo, channels first, as bytes: ``(n, c, size, size)``."""
    image = image if image.ndim == 3 else image[..., None]
    h, w = image.shape[:2]
    found = [
        image[i : i + size, j : j + size]
        for i in range(0, h - size + 1, step)
        for j in range(0, w - size + 1, step)
    ]
    return np.stack(found[:n]).transpose(0, 3, 1, 2)


def _quiet_fit(X, **params) -> ConvAutoEncoder:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the spatial code's width: not what these tests are about
        return ConvAutoEncoder(channels=(4,), epochs=1, batch_size=16, random_state=0, **params).fit(X)


@pytest.fixture(scope="module")
def camera_bytes():
    return _patches(sd.camera())


@pytest.mark.parametrize("task", ["denoise", "super_resolve", "inpaint", "colorize"])
def test_apply_and_apply_image_warn_of_bytes_for_a_model_of_unit_pixels(task, camera_bytes):
    # Every output pixel came out 1.0 (99.99 % of the camera photo) without a word; reconstruct warned.
    X = _patches(sd.coffee()) if task == "colorize" else camera_bytes
    params = {"chroma_subsampling": 1} if task == "colorize" else {}
    model = _quiet_fit(X / 255.0, task=task, **params)
    with pytest.warns(UserWarning, match="X " + BYTES):
        model.apply(X[:2])
    with pytest.warns(UserWarning, match="image " + BYTES):
        model.apply_image(X[0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.apply(X[:2] / 255.0)  # pixels as trained: no warning
        model.apply_image(X[0] / 255.0)


def test_apply_of_a_large_photo_warns_once_and_at_the_callers_line(camera_bytes):
    model = _quiet_fit(camera_bytes / 255.0, task="denoise")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.apply(sd.camera()[None, None, :64, :80])  # tiled, image by image
    assert len(caught) == 1 and caught[0].filename == __file__


def test_the_command_line_warns_of_a_npy_of_bytes_for_a_model_of_unit_pixels(camera_bytes, tmp_path):
    # The CLI reads a uint8 .npy as float32 0-255: apply and reconstruct saturated every pixel silently.
    _quiet_fit(camera_bytes / 255.0, task="denoise").save(tmp_path / "den")
    _quiet_fit(camera_bytes / 255.0).save(tmp_path / "rec")
    np.save(tmp_path / "bytes.npy", camera_bytes[:2])
    np.save(tmp_path / "unit.npy", (camera_bytes[:2] / 255.0).astype(np.float32))
    warning = "hourglass: warning: X holds whole numbers from 0 to"
    for command, model in (("apply", "den"), ("reconstruct", "rec")):
        code, _, err = run(
            command, tmp_path / model, tmp_path / "bytes.npy", "-o", tmp_path / f"{command}.npy"
        )
        assert code == 0 and warning in err and "divide X by 255" in err, err
        code, _, err = run(
            command, tmp_path / model, tmp_path / "unit.npy", "-o", tmp_path / f"{command}1.npy"
        )
        assert code == 0 and "warning" not in err, err


def _rgb_patches_channels_last(n: int = 64, size: int = 16) -> np.ndarray:
    return _patches(sd.chelsea(), size=size, step=size, n=n).transpose(0, 2, 3, 1) / 255.0


def _fit_warnings(X, **params) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ConvAutoEncoder(channels=(4,), epochs=1, batch_size=32, random_state=0, **params).fit(X)
    return [str(w.message) for w in caught if "channels-last" in str(w.message)]


def test_channels_last_rgb_patches_are_warned_of_with_the_way_to_move_the_axis():
    # (n, 16, 16, 3) trained 16-channel 16x3 images: the warning spoke only from 17 rows up.
    X = _rgb_patches_channels_last()
    (message,) = _fit_warnings(X)
    assert "X has shape (64, 16, 16, 3)" in message and "16-channel images of 16x3" in message
    assert "np.moveaxis(X, -1, 1)" in message and "3-channel images of 16x16" in message
    assert not _fit_warnings(np.ascontiguousarray(np.moveaxis(X, -1, 1)))  # (n, 3, 16, 16): read right


def test_channels_last_series_are_warned_of_with_the_way_to_pass_them():
    # Rows of an RGB photo as (n, L, c) series trained gray 97x3 images without a word.
    rows = sd.chelsea()[:64, :97].astype(np.float32) / 255  # (64, 97, 3): 3-channel series, last
    (message,) = _fit_warnings(rows)
    assert "X has shape (64, 97, 3)" in message and "gray 97x3 images" in message
    assert "reads a 3-D array as series (n, c, L)" in message and "np.moveaxis(X, -1, 1)" in message
    short = rows[:, :12]  # read as 12-channel series of 3 steps
    assert "12-channel series of 3 steps" in _fit_warnings(short)[0]
    assert not _fit_warnings(np.ascontiguousarray(np.moveaxis(rows, -1, 1)))  # (n, 3, 97) series
    assert not _fit_warnings(rows, color_mode="L")  # gray 97x3 images, as said


@pytest.mark.parametrize(
    "shape",
    [
        (64, 1, 16, 16),  # gray images
        (64, 3, 16, 16),  # colour images
        (64, 3, 3, 3),  # tiny images: either reading is plausible
        (64, 8, 8, 3),  # small, and 8 rows of 8 channels is no less likely
        (64, 4, 40),  # series (n, c, L)
        (64, 28, 28),  # gray images (n, h, w)
    ],
)
def test_ordinary_grids_are_not_taken_for_channels_last(shape):
    pixels = sd.camera().reshape(-1)[: int(np.prod(shape))]  # real values, in the shape given
    assert not _fit_warnings((pixels / 255.0).astype(np.float32).reshape(shape))


def test_reconstruct_to_a_csv_of_images_is_refused_before_the_work_with_what_to_write(camera_bytes, tmp_path):
    # 'a .csv needs 2-D data; got shape (8, 3, 64, 64)' after the reconstruction, with no way out.
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i, patch in enumerate(camera_bytes[:3]):
        Image.fromarray(patch[0]).save(folder / f"{i}.png")
    _quiet_fit(camera_bytes / 255.0).save(tmp_path / "m")
    code, out, err = run("reconstruct", tmp_path / "m", folder, "-o", tmp_path / "rec.csv")
    assert_one_line_error(
        code, out, err, "a .csv holds rows", "(n, 1, 32, 32)", ".npy or .npz", "hourglass apply"
    )
    assert not (tmp_path / "rec.csv").exists()
    assert run("reconstruct", tmp_path / "m", folder, "-o", tmp_path / "rec.npz")[0] == 0
    with pytest.raises(InvalidInputError, match=r"got shape \(2, 3, 4\).*write a .npy or .npz"):
        save_array(tmp_path / "x.csv", np.zeros((2, 3, 4)))


def test_restoration_models_document_why_their_validation_errors_are_none(camera_bytes):
    X = camera_bytes / 255.0
    assert _quiet_fit(X).validation_mse_ is not None
    denoiser = _quiet_fit(X, task="denoise")
    assert denoiser.validation_mse_ is None and denoiser.validation_pca_mse_ is None
    doc = " ".join(ConvAutoEncoder.__doc__.split())
    assert re.search(r"validation_mse_, validation_mse_scaled_, validation_pca_mse_ : float or None", doc)
    assert "None for the restoration tasks" in doc and "task_summary" in doc
