"""VQAutoEncoder and its compressed files: exact round trips, fingerprints, damaged files, the CLI."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from helpers import assert_one_line_error, run
from hourglass import ConvAutoEncoder, DataFileError, InvalidInputError, VQAutoEncoder, load
from hourglass.nn.quantizers import usage_of
from hourglass.uses import compression

CODERS = [c for c in compression.CODERS if c != "range" or compression.has_range_coder()]


def tiny_vq(**overrides):
    settings = dict(channels=(8,), codebook_size=16, embedding_dim=4, epochs=2, batch_size=64,
                    random_state=0, device="cpu", verbose=0)  # fmt: skip
    return VQAutoEncoder(**{**settings, **overrides})


@pytest.fixture(scope="module")
def digits():
    return (load_digits().data / 16).reshape(-1, 1, 8, 8).astype(np.float32)


@pytest.fixture(scope="module")
def model(digits):
    return tiny_vq().fit(digits[:600])


def test_fit_logs_commitment_and_codebook_usage(model):
    assert len(model.history_.terms["vq_commitment_loss"]) == model.n_epochs_
    assert 0 < model.history_.metrics["perplexity"][-1] <= 16
    assert model.grid_shape_ == (4, 4) and model.bits_per_index_ == 4.0
    assert model.index_counts_.shape == (16,) and model.index_counts_.sum() == 540 * 16


def test_codebook_usage_counts_the_codes_actually_picked(digits, tmp_path):
    # 64 codes for 8x8 digits: most die, and re-seeding starts each again at a live code's
    # moving-average count, which read as usage made every code look alive (1.0, against
    # about 0.33 of the codes picked on the training data).
    vq = tiny_vq(codebook_size=64).fit(digits[:600])
    on_data = vq.codebook_usage(digits[:600])["codebook_used"]
    reported = vq.codebook_usage()
    assert on_data < 0.6
    assert reported == pytest.approx(usage_of(torch.from_numpy(vq.index_counts_)))
    assert reported["codebook_used"] == pytest.approx(on_data, abs=0.1)
    assert vq.history_.metrics["codebook_used"][-1] == pytest.approx(on_data, abs=0.1)
    vq.save(tmp_path / "m")
    assert load(tmp_path / "m").codebook_usage() == pytest.approx(reported)
    code, out, err = run("info", tmp_path / "m", "--json")
    assert code == 0, err
    assert json.loads(out)["codebook"]["codebook_used"] == pytest.approx(reported["codebook_used"])
    streamed = tiny_vq(codebook_size=64)
    for _ in range(3):
        streamed.partial_fit(digits[:600])
    assert streamed.codebook_usage() == pytest.approx(streamed.codebook_usage(digits[:600]))


def test_a_partial_fit_models_prior_counts_the_codes_picked_on_its_weights(digits, tmp_path):
    # Its prior was the codebook's training averages, where re-seeded codes count as used.
    streamed = tiny_vq(codebook_size=64)
    for start in (0, 200, 400):
        streamed.partial_fit(digits[start : start + 200])
    picked = np.bincount(streamed.encode_indices(digits[:200]).ravel(), minlength=64)
    np.testing.assert_array_equal(streamed.index_prior(), picked)  # the first chunk, on today's weights
    before = streamed.index_prior().copy()
    streamed.partial_fit(digits[:200])
    after = np.bincount(streamed.encode_indices(digits[:200]).ravel(), minlength=64)
    assert not np.array_equal(after, before)  # the weights moved: counted again
    np.testing.assert_array_equal(streamed.index_prior(), after)
    blob = compression.compress(streamed, digits[600:640])
    streamed.save(tmp_path / "m")
    loaded = load(tmp_path / "m")
    np.testing.assert_array_equal(loaded.index_prior(), after)  # files written before the save decode
    decoded = compression.decompress(streamed, blob)
    np.testing.assert_array_equal(compression.decompress(loaded, blob), decoded)


@pytest.mark.parametrize("as_given", [bytes, bytearray, memoryview, lambda b: np.frombuffer(b, np.uint8)])
def test_decompress_takes_any_bytes_like_object(model, digits, as_given):
    # A memoryview raised a bare TypeError, a uint8 array numpy's "truth value is ambiguous".
    blob = compression.compress(model, digits[:20])
    assert np.array_equal(compression.decompress(model, as_given(blob)), compression.decompress(model, blob))


@pytest.mark.parametrize(
    "given, named",
    [("images.hgvq", "the path 'images.hgvq' (a str)"), (Path("images.hgvq"), "the path 'images.hgvq'"),
     (list(b"HGVQ"), "a list"), (np.zeros(8), "a 1-D float64 array"), (None, "None")],
)  # fmt: skip
def test_decompress_refuses_what_is_not_the_files_bytes(model, given, named):
    # A path string was read as bytes and refused as "not an hourglass compressed file".
    with pytest.raises(InvalidInputError, match="expected the file's bytes") as info:
        compression.decompress(model, given)
    assert f"data is {named}" in str(info.value) and "\n" not in str(info.value)


def test_indices_decode_to_the_reconstruction(model, digits):
    idx = model.encode_indices(digits[:50])
    assert idx.shape == (50, 4, 4) and idx.dtype == np.int32
    assert np.array_equal(model.decode_indices(idx), model.reconstruct(digits[:50]))


@pytest.mark.parametrize("coder", CODERS)
def test_compress_decompress_reproduces_reconstruct_exactly(model, digits, coder):
    blob = compression.compress(model, digits[600:700], coder)
    assert compression.read_header(blob).coder == coder
    assert np.array_equal(compression.decompress(model, blob), model.reconstruct(digits[600:700]))
    report = compression.compression_report(model, digits[600:700], blob)
    assert report.bytes_in == 100 * 64 and report.bytes_out == len(blob)
    assert report.bits_per_pixel == pytest.approx(8 * len(blob) / 6400)


def test_entropy_coding_beats_the_packed_indices(model, digits):
    sizes = {c: len(compression.compress(model, digits[600:], c)) for c in CODERS}
    assert sizes["lzma"] < sizes["raw"] and sizes["zlib"] < sizes["raw"]


def test_saved_model_gives_the_same_indices_and_bytes(model, digits, tmp_path):
    model.save(tmp_path / "vq")
    same = load(tmp_path / "vq")
    assert isinstance(same, VQAutoEncoder)
    assert np.array_equal(same.encode_indices(digits[:100]), model.encode_indices(digits[:100]))
    assert compression.compress(same, digits[:100], "zlib") == compression.compress(
        model, digits[:100], "zlib"
    )
    assert np.array_equal(same.index_counts_, model.index_counts_)


def test_another_model_is_refused(model, digits):
    blob = compression.compress(model, digits[:20], "zlib")
    other = tiny_vq(random_state=1).fit(digits[:200])
    with pytest.raises(DataFileError, match="another model"):
        compression.decompress(other, blob)


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda b: b[:-3], "truncated"),
        (lambda b: b[:10], "truncated"),
        (lambda b: b[:-1] + bytes([b[-1] ^ 0xFF]), "CRC"),
        (lambda b: b"XXXX" + b[4:], "magic"),
    ],
)
def test_damaged_files_are_refused(model, digits, damage, message):
    blob = compression.compress(model, digits[:20], "zlib")
    with pytest.raises(DataFileError, match=message):
        compression.decompress(model, damage(blob))


def test_plain_autoencoder_and_bad_parameters_are_refused(digits):
    conv = ConvAutoEncoder(channels=(4,), epochs=1, verbose=0, random_state=0).fit(digits[:64])
    with pytest.raises(InvalidInputError, match="only a VQAutoEncoder"):
        compression.compress(conv, digits[:4])
    with pytest.raises(InvalidInputError, match="code_size"):
        tiny_vq(code_size=8).fit(digits[:64])
    with pytest.raises(InvalidInputError, match="quantizer"):
        tiny_vq(quantizer="kmeans").fit(digits[:64])


def test_fsq_model_round_trips(digits):
    fsq = tiny_vq(quantizer="fsq", epochs=1).fit(digits[:200])
    assert fsq.n_codes_ == 16  # levels (4, 4)
    blob = compression.compress(fsq, digits[:30], "lzma")
    assert np.array_equal(compression.decompress(fsq, blob), fsq.reconstruct(digits[:30]))


# -- the command line ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def saved(model, digits, tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    model.save(folder / "vq")
    np.save(folder / "x.npy", digits[600:650])
    return folder


def test_cli_compress_prints_sizes_and_psnr_and_decompress_matches(saved, model, digits, tmp_path):
    code, out, err = run(
        "compress", saved / "vq", saved / "x.npy", "-o", tmp_path / "x.hgvq", "--coder", "lzma"
    )
    assert code == 0, err
    for fragment in ("bytes in: 3200", "bytes out:", "bits per pixel:", "PSNR:"):
        assert fragment in out
    code, out, err = run("decompress", saved / "vq", tmp_path / "x.hgvq", "-o", tmp_path / "x.npy")
    assert code == 0, err
    assert np.array_equal(np.load(tmp_path / "x.npy"), model.reconstruct(digits[600:650]))
    code, out, err = run("decompress", saved / "vq", tmp_path / "x.hgvq", "-o", tmp_path / "pngs")
    assert code == 0, err
    assert len(list((tmp_path / "pngs").glob("*.png"))) == 50


def test_cli_bad_inputs_exit_2_and_write_nothing(saved, digits, tmp_path):
    blob = tmp_path / "x.hgvq"
    assert run("compress", saved / "vq", saved / "x.npy", "-o", blob)[0] == 0
    # output exists, no --force
    assert_one_line_error(*run("compress", saved / "vq", saved / "x.npy", "-o", blob), "--force")
    # a truncated file
    (tmp_path / "cut.hgvq").write_bytes(blob.read_bytes()[:-5])
    assert_one_line_error(*run("decompress", saved / "vq", tmp_path / "cut.hgvq", "-o", tmp_path / "a.npy"),
                          "truncated")  # fmt: skip
    # another model's file
    other = tiny_vq(random_state=3).fit(digits[:100])
    other.save(tmp_path / "other")
    assert_one_line_error(
        *run("decompress", tmp_path / "other", blob, "-o", tmp_path / "b.npy"), "another model"
    )
    # data of the wrong shape
    np.save(tmp_path / "wide.npy", np.zeros((3, 1, 9, 9), np.float32))
    assert_one_line_error(*run("compress", saved / "vq", tmp_path / "wide.npy", "-o", tmp_path / "w.hgvq"),
                          "shape")  # fmt: skip
    # a model that does not quantize
    ConvAutoEncoder(channels=(4,), epochs=1, verbose=0, random_state=0).fit(digits[:64]).save(
        tmp_path / "conv"
    )
    assert_one_line_error(*run("compress", tmp_path / "conv", saved / "x.npy", "-o", tmp_path / "c.hgvq"),
                          "VQAutoEncoder")  # fmt: skip
    assert not any((tmp_path / name).exists() for name in ("a.npy", "b.npy", "w.hgvq", "c.hgvq"))


def test_cli_fit_arch_vq_and_info(digits, tmp_path):
    np.save(tmp_path / "d.npy", digits[:200])
    code, out, err = run("fit", tmp_path / "d.npy", "--arch", "vq", "--channels", "8", "--codebook-size", "8",
                         "--epochs", "1", "-o", tmp_path / "m", "--quiet")  # fmt: skip
    assert code == 0, err
    assert load(tmp_path / "m").n_codes_ == 8
    code, out, err = run("info", tmp_path / "m")
    assert code == 0 and "bits_per_index=3" in out and "perplexity" in out
    assert_one_line_error(*run("fit", tmp_path / "d.npy", "--codebook-size", "8", "-o", tmp_path / "n"),
                          "--codebook-size")  # fmt: skip


def test_cli_encode_reports_bytes_and_writes_float16(saved, tmp_path):
    conv_model = tmp_path / "conv"
    ConvAutoEncoder(channels=(4,), code_size=6, epochs=1, verbose=0, random_state=0).fit(
        np.load(saved / "x.npy")
    ).save(conv_model)
    code, out, err = run("encode", conv_model, saved / "x.npy", "-o", tmp_path / "c16.npy", "--float16")
    assert code == 0, err
    codes = np.load(tmp_path / "c16.npy")
    assert codes.dtype == np.float16 and codes.shape == (50, 6)
    assert "input 12800 bytes" in out and "codes 600 bytes" in out and "ratio 21.3:1" in out
    code, out, err = run("encode", conv_model, saved / "x.npy", "-o", tmp_path / "c32.npy")
    assert code == 0 and "codes 1200 bytes" in out and np.load(tmp_path / "c32.npy").dtype == np.float32


def test_report_shows_the_codebook_and_the_rate(model, digits):
    from hourglass.report.build import model_report

    html = model_report(model, digits[:64], "digits", (8, 8)).to_html()
    assert "Codebook and rate" in html and "perplexity" in html and "bits per pixel" in html


# -- bounded decoding ----------------------------------------------------------------------------------
PRIOR = np.ones(16)


@pytest.mark.parametrize("coder", CODERS)
@pytest.mark.parametrize("count", [compression.MAX_INDICES + 1, 2**40])
def test_a_count_above_the_hard_cap_is_refused_before_decoding(coder, count):
    with pytest.raises(DataFileError, match="at most 33554432"):
        compression.decode_payload(b"\0" * 8, count, 16, PRIOR, coder)


@pytest.mark.parametrize("coder", CODERS)
def test_a_count_the_payload_cannot_hold_is_refused_before_decoding(coder):
    payload = compression.encode_payload(np.zeros(60, np.int32), 16, PRIOR, coder)
    most = compression.max_indices(len(payload), coder, 16, PRIOR)
    assert 60 <= most < compression.MAX_INDICES
    with pytest.raises(DataFileError, match=f"holds at most {most}"):
        compression.decode_payload(payload, most + 1, 16, PRIOR, coder)


@pytest.mark.parametrize("coder", ["zlib", "lzma"])
def test_an_inflating_payload_stops_one_byte_past_the_announced_count(coder):
    payload = compression.encode_payload(np.zeros(10**6, np.int32), 16, PRIOR, coder)  # 1 MB of zeros
    with pytest.raises(DataFileError, match="inflates to more than the 1000 bytes"):
        compression.decode_payload(payload, 1000, 16, PRIOR, coder)


def test_a_skewed_prior_allows_the_many_symbols_a_word_can_hold():
    prior = np.r_[1e6, np.full(15, 0.5)]  # code 0 nearly certain: thousands of them per 32-bit word
    if not compression.has_range_coder():
        pytest.skip("needs constriction")
    payload = compression.encode_payload(np.zeros(100_000, np.int32), 16, prior, "range")
    assert len(payload) < 100
    decoded = compression.decode_payload(payload, 100_000, 16, prior, "range")
    assert not decoded.any()


def test_a_series_models_rate_is_per_step_with_the_rate_per_value_beside(digits, tmp_path):
    # (n, 8, 8) reads as 8 channels of 8 steps; its rate read "bits per pixel", 8x the rate per
    # value a user computed from the "8x8 values" printed beside it.
    series = digits[:300, 0]
    np.save(tmp_path / "series.npy", series)
    tiny_vq().fit(series).save(tmp_path / "m")
    code, out, err = run("compress", tmp_path / "m", tmp_path / "series.npy", "-o", tmp_path / "s.hgvq")
    assert code == 0, err
    assert "bits per step: " in out and "per value" in out and "bits per pixel" not in out
