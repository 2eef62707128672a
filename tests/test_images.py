import numpy as np
import PIL.Image
import pytest
import skimage.data
import torch
from PIL import Image

from hourglass.data.images import ImageFolder, load_image, save_image
from hourglass.exceptions import DataFileError, InvalidInputError, OutputExistsError

RNG = np.random.default_rng(0)


def write_image(path, shape=(6, 8, 3), fmt=None):
    """Write a random uint8 image of ``shape`` (h, w[, c]) and return its pixels."""
    pixels = RNG.integers(0, 256, size=shape, dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, format=fmt)
    return pixels


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "images"
    write_image(root / "b.png")
    write_image(root / "a.jpg", shape=(10, 12, 3))
    write_image(root / "sub" / "c.bmp", shape=(6, 8))
    write_image(root / "sub" / "deeper" / "d.TIFF", fmt="TIFF")
    write_image(root / ".hidden" / "e.png")
    write_image(root / "._f.png")
    (root / "notes.txt").write_text("not an image")
    return root


@pytest.fixture
def corrupt(tmp_path):
    root = tmp_path / "mixed"
    write_image(root / "good.png")
    (root / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not really a png")
    return root


# --- load_image ---------------------------------------------------------------------------------


@pytest.mark.parametrize("mode, channels", [("RGB", 3), ("L", 1)])
def test_load_image_shape_dtype_range(tmp_path, mode, channels):
    write_image(tmp_path / "x.png")
    arr = load_image(tmp_path / "x.png", mode=mode)
    assert arr.shape == (channels, 6, 8) and arr.dtype == np.float32
    assert 0 <= arr.min() and arr.max() <= 1


def test_load_image_camera_matches_skimage(tmp_path):
    camera = skimage.data.camera()
    Image.fromarray(camera).save(tmp_path / "camera.png")
    arr = load_image(tmp_path / "camera.png", mode="L")
    np.testing.assert_array_equal(arr[0], camera / np.float32(255))


def test_load_image_astronaut_is_channels_first(tmp_path):
    astronaut = skimage.data.astronaut()  # (h, w, 3)
    Image.fromarray(astronaut).save(tmp_path / "astronaut.png")
    arr = load_image(tmp_path / "astronaut.png")
    np.testing.assert_array_equal(arr, astronaut.transpose(2, 0, 1) / np.float32(255))


@pytest.mark.parametrize("fit", ["resize", "crop"])
def test_load_image_size_is_height_width(tmp_path, fit):
    write_image(tmp_path / "x.png", shape=(40, 60, 3))
    assert load_image(tmp_path / "x.png", size=(20, 30), fit=fit).shape == (3, 20, 30)


def test_load_image_crop_takes_centre(tmp_path):
    pixels = write_image(tmp_path / "x.png", shape=(10, 12))
    arr = load_image(tmp_path / "x.png", size=(4, 6), mode="L", fit="crop")
    np.testing.assert_array_equal(arr[0], pixels[3:7, 3:9] / np.float32(255))


def test_load_image_grayscale_to_rgb_repeats_channel(tmp_path):
    write_image(tmp_path / "x.png", shape=(6, 8))
    arr = load_image(tmp_path / "x.png", mode="RGB")
    np.testing.assert_array_equal(arr[0], arr[2])


def test_load_image_16_bit_is_scaled_not_clipped(tmp_path):
    pixels = np.linspace(0, 65535, 48).astype(np.uint16).reshape(6, 8)
    Image.fromarray(pixels).save(tmp_path / "x.png")
    arr = load_image(tmp_path / "x.png", mode="L")
    np.testing.assert_allclose(arr[0], pixels / 65535, atol=1e-6)


def test_load_image_crop_too_small_names_file(tmp_path):
    write_image(tmp_path / "small.png", shape=(6, 8, 3))
    with pytest.raises(InvalidInputError, match=r"'.*small\.png' is 6x8, smaller than size 10x10"):
        load_image(tmp_path / "small.png", size=(10, 10), fit="crop")


@pytest.mark.parametrize(
    "content, match",
    [
        (b"", r"image '.*x\.png' is empty \(0 bytes\)"),
        (b"\x89PNG\r\n\x1a\n junk", r"could not read image '.*x\.png'"),
    ],
)
def test_load_image_corrupt_names_file(tmp_path, content, match):
    (tmp_path / "x.png").write_bytes(content)
    with pytest.raises(DataFileError, match=match):
        load_image(tmp_path / "x.png")


def test_load_image_truncated_names_file(tmp_path):
    write_image(tmp_path / "x.png", shape=(64, 64, 3))
    raw = (tmp_path / "x.png").read_bytes()
    (tmp_path / "x.png").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DataFileError, match=r"could not read image '.*x\.png'"):
        load_image(tmp_path / "x.png")


def test_load_image_missing_file(tmp_path):
    with pytest.raises(DataFileError, match=r"no such image file: '.*nope\.png'"):
        load_image(tmp_path / "nope.png")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"mode": "CMYK"}, r"mode='CMYK' is not supported"),
        ({"fit": "pad"}, r"fit='pad' is not supported"),
        ({"size": (0, 4)}, r"size=\(0, 4\) is not valid; expected \(height, width\)"),
        ({"size": 64}, r"size=64 is not valid"),
        ({"size": (4.5, 4)}, r"size=\(4\.5, 4\) is not valid"),
    ],
)
def test_load_image_rejects_bad_options(tmp_path, kwargs, match):
    write_image(tmp_path / "x.png")
    with pytest.raises(InvalidInputError, match=match):
        load_image(tmp_path / "x.png", **kwargs)


# --- ImageFolder --------------------------------------------------------------------------------


def test_image_folder_lists_images_recursively_sorted(folder):
    images = ImageFolder(folder)
    names = [p.relative_to(folder).as_posix() for p in images.paths]
    assert names == ["a.jpg", "b.png", "sub/c.bmp", "sub/deeper/d.TIFF"]
    assert len(images) == 4 and images.skipped == []


@pytest.mark.parametrize("mode, channels", [("RGB", 3), ("L", 1)])
def test_image_folder_item_is_tensor(folder, mode, channels):
    item = ImageFolder(folder, size=(16, 20), mode=mode)[2]
    assert isinstance(item, torch.Tensor) and item.dtype == torch.float32
    assert item.shape == (channels, 16, 20)


def test_image_folder_is_lazy(folder, monkeypatch):
    calls = []
    real_open = PIL.Image.open

    def counting_open(*args, **kwargs):
        calls.append(args[0])
        return real_open(*args, **kwargs)

    monkeypatch.setattr(PIL.Image, "open", counting_open)
    images = ImageFolder(folder)
    assert calls == []
    images[1]
    assert calls == [images.paths[1]]


def test_image_folder_works_with_data_loader(folder):
    loader = torch.utils.data.DataLoader(ImageFolder(folder, size=(8, 8)), batch_size=3)
    assert [tuple(batch.shape) for batch in loader] == [(3, 3, 8, 8), (1, 3, 8, 8)]


@pytest.mark.parametrize("max_items, n", [(None, 4), (2, 2), (10, 4)])
def test_image_folder_to_array(folder, max_items, n):
    arr = ImageFolder(folder, size=(8, 8), mode="L").to_array(max_items)
    assert arr.shape == (n, 1, 8, 8) and arr.dtype == np.float32


def test_image_folder_to_array_matches_items(folder):
    images = ImageFolder(folder, size=(8, 8))
    np.testing.assert_array_equal(images.to_array()[3], images[3].numpy())


def test_image_folder_to_array_mixed_sizes_needs_size(folder):
    with pytest.raises(
        InvalidInputError, match=r"'.*b\.png' is \(3, 6, 8\), unlike '.*a\.jpg' \(3, 10, 12\)"
    ):
        ImageFolder(folder, size=None).to_array()


@pytest.mark.parametrize("max_items", [0, -1, 2.5])
def test_image_folder_to_array_rejects_bad_max_items(folder, max_items):
    with pytest.raises(InvalidInputError, match=rf"max_items={max_items!r} is not valid"):
        ImageFolder(folder).to_array(max_items)


def test_image_folder_skip_bad_records_corrupt_file(corrupt):
    images = ImageFolder(corrupt, skip_bad=True)
    assert [p.name for p in images.paths] == ["good.png"]
    assert [(p.name, reason.startswith("not a readable image")) for p, reason in images.skipped] == [
        ("bad.png", True)
    ]
    assert images[0].shape == (3, 64, 64)


def test_image_folder_skip_bad_records_too_small_for_crop(folder):
    images = ImageFolder(folder, size=(8, 10), fit="crop", skip_bad=True)
    assert [p.name for p in images.paths] == ["a.jpg"]
    assert len(images.skipped) == 3 and "smaller than size 8x10" in images.skipped[0][1]


def test_image_folder_without_skip_bad_raises_naming_file(corrupt):
    images = ImageFolder(corrupt)
    assert len(images) == 2 and images.skipped == []
    with pytest.raises(DataFileError, match=r"could not read image '.*bad\.png'"):
        images[0]
    with pytest.raises(DataFileError, match=r"bad\.png"):
        images.to_array()


def test_image_folder_empty_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("no images here")
    with pytest.raises(DataFileError, match=r"no images in '.*'; expected files ending in \.png"):
        ImageFolder(tmp_path)


def test_image_folder_only_bad_files(tmp_path):
    (tmp_path / "bad.jpg").write_bytes(b"junk")
    with pytest.raises(DataFileError, match=r"no images in '.*' \(1 bad file\(s\) skipped\)"):
        ImageFolder(tmp_path, skip_bad=True)


@pytest.mark.parametrize("make_file", [False, True])
def test_image_folder_root_must_be_a_folder(tmp_path, make_file):
    root = tmp_path / "x.png"
    if make_file:
        write_image(root)
    with pytest.raises(
        DataFileError, match=rf"{'not a folder' if make_file else 'no such folder'}: '.*x\.png'"
    ):
        ImageFolder(root)


def test_image_folder_checks_options_first(folder):
    with pytest.raises(InvalidInputError, match=r"mode='RGBA' is not supported"):
        ImageFolder(folder, mode="RGBA")


# --- save_image ---------------------------------------------------------------------------------


@pytest.mark.parametrize("shape, mode", [((3, 5, 7), "RGB"), ((1, 5, 7), "L"), ((5, 7), "L")])
def test_save_image_png_round_trip(tmp_path, shape, mode):
    array = RNG.integers(0, 256, size=shape).astype(np.float32) / 255
    path = save_image(tmp_path / "x.png", array)
    loaded = load_image(path, mode=mode)
    np.testing.assert_allclose(loaded, array.reshape(loaded.shape), atol=1e-6)
    assert [p.name for p in tmp_path.iterdir()] == ["x.png"]


@pytest.mark.parametrize("name", ["x.jpg", "x.jpeg", "x.JPG"])
def test_save_image_jpeg(tmp_path, name):
    array = np.full((3, 16, 16), 0.5, dtype=np.float32)
    save_image(tmp_path / name, array)
    with Image.open(tmp_path / name) as img:
        assert img.format == "JPEG"
    np.testing.assert_allclose(load_image(tmp_path / name), array, atol=0.02)


def test_save_image_camera_round_trip(tmp_path):
    camera = skimage.data.camera() / np.float32(255)
    save_image(tmp_path / "camera.png", camera)
    np.testing.assert_allclose(load_image(tmp_path / "camera.png", mode="L")[0], camera, atol=1e-6)


def test_save_image_clips_out_of_range(tmp_path):
    save_image(tmp_path / "x.png", np.array([[-0.2, 0.5, 1.3]]))
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "x.png")), [[0, 128, 255]])


def test_save_image_refuses_overwrite_without_force(tmp_path):
    path = save_image(tmp_path / "x.png", np.zeros((4, 4)))
    with pytest.raises(OutputExistsError, match=r"'.*x\.png' exists already"):
        save_image(path, np.ones((4, 4)))
    save_image(path, np.ones((4, 4)), force=True)
    assert load_image(path, mode="L").min() == 1


@pytest.mark.parametrize(
    "name, array, match",
    [
        ("x.gif", np.zeros((4, 4)), r"cannot save image '.*x\.gif': expected a suffix in"),
        (
            "x.png",
            np.zeros((4, 4, 3)),
            r"has shape \(4, 4, 3\); expected \(h, w\), \(1, h, w\) or \(3, h, w\)",
        ),
        ("x.png", np.zeros(4), r"has shape \(4,\)"),
        ("x.png", np.full((4, 4), np.nan), r"'.*x\.png' holds NaN or infinite values"),
    ],
)
def test_save_image_rejects_bad_input(tmp_path, name, array, match):
    with pytest.raises(InvalidInputError, match=match):
        save_image(tmp_path / name, array)
    assert not (tmp_path / name).exists()


def test_a_float_tiff_in_0_1_loads_as_it_is_and_one_out_of_range_is_one_line(tmp_path):
    # Pillow's convert() rounded floating-point pixels to integers: values in [0, 1] went black.
    pixels = np.linspace(0, 1, 12 * 16, dtype=np.float32).reshape(12, 16)
    Image.fromarray(pixels).save(tmp_path / "f.tif")
    np.testing.assert_allclose(load_image(tmp_path / "f.tif", mode="L")[0], pixels, atol=1e-7)
    assert load_image(tmp_path / "f.tif").shape == (3, 12, 16)
    Image.fromarray(pixels * 255).save(tmp_path / "f255.tif")
    with pytest.raises(
        InvalidInputError, match=r"floating-point pixels in \[0, 255\]; expected values in \[0, 1\]"
    ):
        load_image(tmp_path / "f255.tif")
