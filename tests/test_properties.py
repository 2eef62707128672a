"""Property-based tests: crafted model configs and bad CLI option values give one line, never a traceback.

Every field of a saved ``config.json`` (and of ``history.json``) is replaced by values of the
wrong type, size and sign, or removed; every option of the commands gets junk. Whatever happens,
the CLI exits 0, or 2 with one ``hourglass: error:`` line that is not the last-resort "internal
error" (that would mean a check is missing).

The default run draws a fixed set of examples (``derandomize``), so the suite is repeatable; set
``HOURGLASS_FUZZ=500`` for a longer, random search.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import run
from hourglass import AutoEncoder, ConvAutoEncoder

FUZZ = int(os.environ.get("HOURGLASS_FUZZ", "0"))
SETTINGS = settings(
    max_examples=FUZZ or 60,
    derandomize=not FUZZ,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

#: Values of the wrong type, size or sign for any JSON field.
BAD_JSON = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 1, 2**31, 2**63, 10**9, 10**30, -(10**9), 1e308, -0.0, 0.5]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["abc", "", "auto", "cuda", "meta", "../../etc", "dense", "conv", "bce", "nan"]),
    st.lists(st.one_of(st.integers(-3, 10**7), st.text(max_size=3), st.none()), max_size=4),
    st.dictionaries(st.text(max_size=5), st.integers(-2, 2), max_size=3),
    st.sampled_from([[[[[]]]], [10**9, 128], [1000000, 128], ["abc", 128], [1, 2], {"kind": "dense"}]),
)
DELETE = object()


def assert_exit_0_or_one_line(code, out, err, what):
    assert code in (0, 2), (what, code, out, err)
    if code == 2:
        assert err.startswith("hourglass: error: ") and len(err.strip().splitlines()) == 1, (what, err)
        assert "internal error" not in err and "Traceback" not in err, (what, err)


def _paths(value, prefix=()):
    """Every path to a value inside a JSON document (dict keys and list indices)."""
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*prefix, index))


def _mutated(document, path, value):
    document = json.loads(json.dumps(document))
    if not path:
        return value
    *parents, last = path
    target = document
    for key in parents:
        target = target[key]
    if value is DELETE:
        del target[last]
    else:
        target[last] = value
    return document


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A dense and a conv model folder, their data, and their pristine config and history."""
    folder = tmp_path_factory.mktemp("props")
    rng = np.random.default_rng(0)
    X = rng.random((40, 6)).astype(np.float32)
    images = rng.random((20, 1, 8, 8)).astype(np.float32)
    np.save(folder / "rows.npy", X)
    np.save(folder / "images.npy", images)
    settings_ = {"epochs": 1, "verbose": 0, "random_state": 0, "device": "cpu"}
    AutoEncoder(code_size=2, hidden_layers=(4,), **settings_).fit(X).save(folder / "dense")
    ConvAutoEncoder(channels=(2,), code_size=3, **settings_).fit(images).save(folder / "conv")
    out = {}
    for name, data in (("dense", "rows.npy"), ("conv", "images.npy")):
        config = json.loads((folder / name / "config.json").read_text())
        history = json.loads((folder / name / "history.json").read_text())
        out[name] = (folder / name, folder / data, config, history)
    return folder, out


@SETTINGS
@given(st.data())
def test_mutated_config_gives_one_line_or_works(models, data):
    folder, saved = models
    name = data.draw(st.sampled_from(sorted(saved)), label="model")
    model, rows, config, history = saved[name]
    which = data.draw(st.sampled_from(["config.json", "history.json"]), label="file")
    document = config if which == "config.json" else history
    path = data.draw(st.sampled_from(list(_paths(document))), label="path")
    value = data.draw(BAD_JSON if not path else st.one_of(BAD_JSON, st.just(DELETE)), label="value")
    try:
        (model / which).write_text(json.dumps(_mutated(document, path, value)))
        for args in (["info", model], ["encode", model, rows, "-o", folder / "codes.npy", "--force"]):
            assert_exit_0_or_one_line(*run(*args), (name, which, path, value, args[0]))
    finally:
        (model / "config.json").write_text(json.dumps(config))
        (model / "history.json").write_text(json.dumps(history))


#: Junk for an option's value: wrong types, signs, sizes beyond every limit, odd text.
BAD_VALUES = st.one_of(
    st.sampled_from(
        ["", "abc", "-1", "0", "-0.5", "0.5", "1e308", "nan", "inf", "-inf", "99999999999", "10" * 20,
         "1,2,x", "1,,2", "0,0", "-3,4", "2x2x2", "x", "None", "true", "１２", "3.0", "1e3"]
    ),
    st.text(max_size=10),
)  # fmt: skip
#: Values for options that take paths: odd places, existing things, files where folders go.
BAD_PATHS = ["", ".", "..", "{tmp}/file.csv/x", "{tmp}/file.csv", "{tmp}/new/deep/x.npy", "{rows}", "{model}"]

FIT_OPTIONS = [
    "--code-size", "--hidden", "--decoder-hidden", "--activation", "--loss", "--scaling", "--batch-size",
    "--lr", "--weight-decay", "--validation-fraction", "--patience", "--seed", "--device", "--precision",
    "--noise-type", "--noise", "--dropout", "--l1", "--kl", "--sparsity-target", "--topk", "--contractive",
    "--topk-aux", "--pretrain", "--key", "--arch", "--task", "--channels", "--kernel-size", "--downsampling",
    "--convs-per-block", "--scale-factor", "--image-size", "--color-mode",
]  # fmt: skip
FIT_BASE = ["{rows}", "--out", "{tmp}/fitted", "--epochs", "1", "--hidden", "4", "--code-size", "2", "-q"]
CONV_BASE = ["{images}", "--arch", "conv", "--out", "{tmp}/fitted", "--epochs", "1", "--channels", "2", "-q"]
# label: (command, base arguments, options that take values, options that take paths)
COMMANDS = {
    "fit": ("fit", FIT_BASE + ["--device", "cpu"], FIT_OPTIONS, ["--out", "--report", "--encoder-from"]),
    "fit-conv": ("fit", CONV_BASE + ["--device", "cpu"], FIT_OPTIONS, ["--out", "--decoder-from"]),
    "encode": ("encode", ["{model}", "{rows}", "-o", "{tmp}/codes.npy"], ["--key"], ["-o"]),
    "decode": ("decode", ["{model}", "{codes}", "-o", "{tmp}/decoded.npy"], ["--key"], ["-o"]),
    "reconstruct": ("reconstruct", ["{conv}", "{images}", "-o", "{tmp}/r.npy"], ["--key"], ["-o"]),
    "compare": ("compare", ["{rows}", "--epochs", "1", "-q"], ["--code-sizes", "--test-size", "--seed"],
                ["-o"]),
    "cluster": ("cluster", ["{model}", "{rows}", "-q"], ["--n-clusters", "--method", "--manifold", "--seed"],
                ["--labels", "--report"]),
    "score": ("score", ["{model}", "{rows}", "-o", "{tmp}/s.csv"], ["--threshold", "--quantile", "--n-maps"],
              ["--normal", "-o"]),
    "score-maps": ("score", ["{conv}", "{images}", "-o", "{tmp}/s.csv", "--threshold", "0.1"], ["--n-maps"],
                   ["--maps"]),
    "calibrate": ("calibrate", ["{model}", "{rows}", "-o", "{tmp}/detector"], ["--quantile"], ["-o"]),
    "apply": ("apply", ["{conv}", "{images}", "-o", "{tmp}/applied"], [], ["-o"]),
}  # fmt: skip


@SETTINGS
@given(st.data())
def test_bad_option_values_give_one_line_or_work(models, tmp_path_factory, data):
    folder, saved = models
    tmp = tmp_path_factory.mktemp("opts")
    (tmp / "file.csv").write_text("1,2\n")
    np.save(tmp / "codes.npy", np.zeros((3, 2), np.float32))
    names = {"tmp": tmp, "rows": saved["dense"][1], "model": saved["dense"][0], "codes": tmp / "codes.npy",
             "images": saved["conv"][1], "conv": saved["conv"][0]}  # fmt: skip
    label = data.draw(st.sampled_from(sorted(COMMANDS)), label="command")
    command, base, options, path_options = COMMANDS[label]
    option = data.draw(st.sampled_from(options + path_options), label="option")
    if option in path_options:
        value = data.draw(st.sampled_from(BAD_PATHS), label="value").format(**names)
    else:
        value = data.draw(BAD_VALUES, label="value")
    args = [a.format(**names) for a in base] + [option, value]
    here = os.getcwd()
    os.chdir(tmp)  # an empty or relative path names a place in here, not in the repository
    try:
        assert_exit_0_or_one_line(*run(command, *args), (command, option, value))
    finally:
        os.chdir(here)
