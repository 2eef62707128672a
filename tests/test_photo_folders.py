"""Users' untidy photo folders: transparency, files of other types, linked folders, bad files,
NaN float TIFFs, multi-page and 16-bit files, read by load_image, ImageFolder, fit and apply."""

import os
import re
import warnings

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data as skdata
from typer.testing import CliRunner

from hourglass import ConvAutoEncoder
from hourglass.cli import app
from hourglass.data import images as image_files
from hourglass.data.images import ImageFolder, check_photos, folder_notice, load_image
from hourglass.exceptions import DataFileError, InvalidInputError


def _photo(name="coffee", size=48) -> Image.Image:
    img = Image.fromarray(getattr(skdata, name)())
    img.thumbnail((size, size))
    return img


def _half_transparent(path, hidden=0):
    """An RGBA photo whose left half is fully transparent over ``hidden`` (black by default)."""
    rgba = np.array(_photo().convert("RGBA"))
    half = rgba.shape[1] // 2
    rgba[:, :half, 3] = 0
    rgba[:, :half, :3] = hidden
    Image.fromarray(rgba).save(path)
    return half


def _run(*argv):
    result = CliRunner().invoke(app, [str(a) for a in argv])
    return result.exit_code, result.stdout, result.stderr


# 1. Transparency


def test_transparent_pixels_are_composited_over_white_not_their_hidden_black(tmp_path):
    # The transparent half read as its hidden colour: mean 0.0 where a viewer shows white.
    half = _half_transparent(tmp_path / "a.png")
    image = load_image(tmp_path / "a.png")
    assert image[:, :, :half].mean() == 1.0
    np.testing.assert_allclose(
        image[:, :, half:], np.asarray(_photo(), np.float32).transpose(2, 0, 1)[:, :, half:] / 255
    )


def test_half_opaque_gray_and_palette_transparency_are_composited_too(tmp_path):
    gray = np.array(_photo("camera").convert("L"))
    la = Image.merge("LA", [Image.fromarray(np.zeros_like(gray)), Image.fromarray(np.full_like(gray, 128))])
    la.save(tmp_path / "la.png")
    # black at alpha 128 over white: 127/255
    np.testing.assert_allclose(load_image(tmp_path / "la.png", mode="L"), 127 / 255, atol=1 / 255)
    palette = _photo().convert("P")
    palette.info["transparency"] = int(np.asarray(palette)[0, 0])
    palette.save(tmp_path / "p.png")
    assert load_image(tmp_path / "p.png")[:, 0, 0].tolist() == [1.0, 1.0, 1.0]
    image, alpha = image_files.load_image_and_alpha(tmp_path / "p.png")
    assert alpha is not None and alpha[0, 0] == 0.0 and alpha.shape == image.shape[1:]
    assert image_files.load_image_and_alpha(tmp_path / "la.png")[1].max() == pytest.approx(128 / 255)


def test_folder_notice_says_transparency_was_flattened(tmp_path):
    _half_transparent(tmp_path / "a.png")
    _photo().save(tmp_path / "b.png")
    notice = folder_notice([tmp_path / "a.png", tmp_path / "b.png"], None, "RGB")
    assert notice == "flattened 1 image with transparency onto white"


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("train")
    for name in ("coffee", "chelsea"):
        _photo(name, 40).save(folder / f"{name}.png")
    out = folder.parent / "model"
    code, _, err = _run("fit", folder, "-o", out, "--arch", "conv", "--task", "denoise", "--noise", "0.1",
                        "--channels", "4", "--image-size", "16", "--epochs", "1", "--quiet")  # fmt: skip
    assert code == 0, err
    return out


def test_apply_puts_the_inputs_transparency_back_and_says_so(model, tmp_path):
    photos = tmp_path / "in"
    photos.mkdir()
    half = _half_transparent(photos / "a.png")
    _half_transparent(photos / "b.jpg.png")
    code, _, err = _run("apply", model, photos, "-o", tmp_path / "out")
    assert code == 0, err
    with Image.open(tmp_path / "out" / "a.png") as result:
        assert result.mode == "RGBA"
        alpha = np.asarray(result.getchannel("A"))
    assert (alpha[:, :half] == 0).all() and (alpha[:, half:] == 255).all()
    assert "flattened 2 image(s) with transparency onto white for the model and put it back" in err
    assert len(err.splitlines()) == 1
    # One result written as .jpg cannot hold it, and the line says so.
    code, _, err = _run("apply", model, photos / "a.png", "-o", tmp_path / "one.jpg")
    assert code == 0, err
    assert "except those written as .jpg, which cannot hold it" in err


def test_apply_keeps_the_inputs_colour_profile(model, tmp_path):
    # The values stay in the input's colour space: without its profile a viewer reads a Display P3
    # phone photo as sRGB. apply dropped it (and the gray result of a colour photo must not get it).
    from PIL import ImageCms

    from hourglass.data.images import save_image

    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    photos = tmp_path / "in"
    photos.mkdir()
    _photo().save(photos / "p.jpg", icc_profile=profile)
    _photo().save(photos / "q.png", icc_profile=profile)
    code, _, err = _run("apply", model, photos, "-o", tmp_path / "out")
    assert code == 0, err
    for name in ("p.jpg", "q.png"):
        with Image.open(tmp_path / "out" / name) as result:
            assert result.info.get("icc_profile") == profile, name
    gray = save_image(tmp_path / "gray.png", np.zeros((1, 8, 8)), icc_profile=profile)
    with Image.open(gray) as result:
        assert "icc_profile" not in result.info  # an RGB profile on a gray image would be wrong


# 2. Files of other types


def _untidy(folder):
    (folder / "sub").mkdir(parents=True)
    _photo().save(folder / "a.png")
    _photo().save(folder / "sub" / "anim.gif")
    (folder / "photo.HEIC").write_bytes(b"\x00\x00\x00\x18ftypheic" + b"\x00" * 100)
    (folder / "IMG_2.HEIC").write_bytes(b"\x00\x00\x00\x18ftypheic" + b"\x00" * 100)
    (folder / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0" + b"\x00" * 50)
    (folder / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")  # hidden: neither read nor counted


def test_files_of_other_types_are_counted_in_the_notices(tmp_path):
    _untidy(tmp_path / "f")
    images, others = image_files.list_files(tmp_path / "f")
    assert [p.name for p in images] == ["a.png"]
    assert sorted(p.name for p in others) == ["IMG_2.HEIC", "Thumbs.db", "anim.gif", "photo.HEIC"]
    folder = ImageFolder(tmp_path / "f", size=(16, 16))
    notice = folder_notice(folder.paths, (16, 16), "RGB", folder.left_out)
    assert notice.endswith("left out 4 files of other types (.HEIC, .db, .gif)")


def test_a_folder_without_images_says_what_it_holds(tmp_path):
    _untidy(tmp_path / "f")
    (tmp_path / "f" / "a.png").unlink()
    with pytest.raises(DataFileError, match=r"expected files ending in .*; it holds 4 files of other types"):
        ImageFolder(tmp_path / "f")


@pytest.mark.filterwarnings("ignore:1 sample")
def test_fit_and_apply_say_what_they_left_out(model, tmp_path, capsys):
    _untidy(tmp_path / "f")
    code, _, err = _run("apply", model, tmp_path / "f", "-o", tmp_path / "out")
    assert code == 0, err
    assert "left out 4 files of other types (.HEIC, .db, .gif)" in err
    capsys.readouterr()
    ConvAutoEncoder(channels=(4,), image_size=(16, 16), epochs=1, verbose=1).fit(str(tmp_path / "f"))
    assert "left out 4 files of other types (.HEIC, .db, .gif)" in capsys.readouterr().err
    # encode, score and cluster read a folder as apply does: they said nothing of the files left out.
    code, _, err = _run("encode", model, tmp_path / "f", "-o", tmp_path / "codes.csv")
    assert code == 0, err
    assert "left out 4 files of other types (.HEIC, .db, .gif)" in err


# 3. Linked folders


def test_symlinked_folders_are_followed_once_even_in_a_cycle(tmp_path):
    outside = tmp_path / "library"
    outside.mkdir()
    _photo().save(outside / "b.png")
    root = tmp_path / "photos"
    root.mkdir()
    _photo().save(root / "a.png")
    os.symlink(outside, root / "linked")
    os.symlink(root, outside / "back")  # photos/linked/back -> photos: a cycle
    folder = ImageFolder(root, size=(8, 8))
    assert [p.relative_to(root).as_posix() for p in folder.paths] == ["a.png", "linked/b.png"]


# 4. Bad files


def _truncated_jpeg(path):
    _photo("astronaut", 256).save(path.with_suffix(".tmp"), format="JPEG")
    whole = path.with_suffix(".tmp").read_bytes()
    path.with_suffix(".tmp").unlink()
    path.write_bytes(whole[: len(whole) // 3])


def test_skip_bad_catches_a_truncated_jpeg(tmp_path):
    # verify() reads no JPEG data: the file was kept, then to_array failed on it.
    _photo().save(tmp_path / "good.jpg")
    _truncated_jpeg(tmp_path / "cut.jpg")
    folder = ImageFolder(tmp_path, size=(16, 16), skip_bad=True)
    assert [p.name for p in folder.paths] == ["good.jpg"]
    assert [p.name for p, _ in folder.skipped] == ["cut.jpg"]
    assert folder.to_array().shape == (1, 3, 16, 16)


def test_a_jpeg_with_data_after_its_end_marker_is_not_bad(tmp_path):
    _photo().save(tmp_path / "motion.jpg")
    with open(tmp_path / "motion.jpg", "ab") as file:
        file.write(b"\x00" * 64)  # phones append videos and thumbnails after the image
    assert ImageFolder(tmp_path, size=(16, 16), skip_bad=True).skipped == []


def test_fit_names_every_bad_file_in_one_line(tmp_path):
    _photo().save(tmp_path / "good.png")
    _truncated_jpeg(tmp_path / "a.jpg")
    (tmp_path / "b.png").write_bytes(b"")
    (tmp_path / "c.png").write_text("notes")
    os.symlink(tmp_path / "nowhere.png", tmp_path / "d.png")
    (tmp_path / "e.png").write_bytes(b"\x89PNG\r\n\x1a\n junk")
    message = (
        r"^5 bad files: '.*a\.jpg' \(not a readable image: .*truncated.*\), "
        r"'.*b\.png' \(empty \(0 bytes\)\), '.*c\.png' \(not a readable image: .*\) and 2 more; "
        r"expected photos Pillow can read$"
    )
    with pytest.raises(DataFileError, match=message):
        check_photos(sorted(tmp_path.glob("*.*")), None)
    for task in ("reconstruct", "denoise"):
        with pytest.raises(DataFileError, match=message):
            ConvAutoEncoder(task=task, image_size=(16, 16), epochs=1, verbose=0).fit(str(tmp_path))


# 5 and 6. Float TIFFs


def test_a_nan_float_tiff_is_refused_by_name(tmp_path):
    pixels = np.full((16, 16), 0.5, np.float32)
    pixels[3, 4] = np.nan
    Image.fromarray(pixels).save(tmp_path / "f.tif")
    with pytest.raises(InvalidInputError, match=r"image '.*f\.tif' holds 1 NaN or infinite pixel"):
        load_image(tmp_path / "f.tif", size=(8, 8))


def test_a_float_tiff_read_in_gray_is_writable_and_warns_nothing(tmp_path):
    Image.fromarray(np.asarray(_photo("camera").convert("L"), np.float32) / 255).save(tmp_path / "f.tif")
    assert load_image(tmp_path / "f.tif", mode="L").flags.writeable
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ImageFolder(tmp_path, size=None, mode="L")[0].dtype == torch.float32


# 7. apply's messages


@pytest.mark.parametrize(
    "name, content, expected",
    [
        ("anim.gif", None, r"'.*anim\.gif': \.gif images are not read; expected an image \(\.png"),
        ("photo.HEIC", b"\x00\x00\x00\x18ftypheic", r"\.HEIC images are not read"),
        ("empty.png", b"", r"image '.*empty\.png' is empty \(0 bytes\)"),
        ("link.png", "link", r"'.*link\.png' is a broken symbolic link to '.*nowhere\.png'"),
    ],
)
def test_apply_says_why_an_input_is_not_read(model, tmp_path, name, content, expected):
    path = tmp_path / name
    if content is None:
        _photo().save(path)
    elif content == "link":
        os.symlink(tmp_path / "nowhere.png", path)
    else:
        path.write_bytes(content)
    code, _, err = _run("apply", model, path, "-o", tmp_path / "out")
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert re.search(expected, err), err


# 8 and 9. Multi-page and 16-bit files


def test_multi_page_files_and_16_bit_inputs_are_said(model, tmp_path):
    photos = tmp_path / "in"
    photos.mkdir()
    _photo().save(photos / "pages.tif", save_all=True, append_images=[_photo("chelsea")])
    Image.fromarray(np.asarray(_photo("camera").convert("L"), np.uint16) * 257).save(photos / "deep.png")
    assert (
        folder_notice(sorted(photos.iterdir()), None, "RGB")
        == "read only the first page of 1 multi-page file"
    )
    code, _, err = _run("apply", model, photos, "-o", tmp_path / "out")
    assert code == 0, err
    assert "read only the first page of 1 multi-page file(s)" in err
    assert "1 16-bit input(s) written at 8 bits per channel" in err


def test_32_bit_integer_pixels_beyond_16_bits_are_refused_not_clipped(tmp_path):
    # Mode "I" is read at 16 bits (Pillow opens 16-bit PNGs so): 70,000 became white without a word.
    Image.fromarray(np.array([[0, 70_000], [5, 6]], dtype=np.int32), mode="I").save(tmp_path / "big.tif")
    with pytest.raises(InvalidInputError, match=r"from 0 to 70,000, outside the 16-bit range \[0, 65535\]"):
        load_image(tmp_path / "big.tif", mode="L")
    Image.fromarray(np.array([[0, 65_535], [0, 0]], dtype=np.int32), mode="I").save(tmp_path / "ok.tif")
    assert load_image(tmp_path / "ok.tif", mode="L").max() == 1.0
