"""precision='auto': resolved against the CPU's flags, the device and the work of a step; recorded
in the training recipe; bf16 trains; evaluation runs in fp32."""

import pytest
import torch

from hourglass.exceptions import InvalidInputError
from hourglass.nn.config import DenseConfig
from hourglass.nn.model import build_model
from hourglass.train import precision as precision_module
from hourglass.train.config import TrainConfig
from hourglass.train.precision import (
    CPU_BF16_MIN_FLOPS,
    CPU_BF16_MIN_SPEEDUP,
    cpu_flags,
    cpu_native_bf16,
    forward_flops,
    measured_bf16_speedup,
    resolve_precision,
    tf32_matmuls,
    time_bf16_speedup,
)
from hourglass.train.trainer import Trainer

ZEN4 = "processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16 avx512_vnni\n"
ZEN3 = "processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu sse2 avx2 fma\n"
SAPPHIRE = "processor\t: 0\nflags\t\t: fpu avx512f avx512_bf16 amx_bf16 amx_tile\n"
GRAVITON = "processor\t: 0\nFeatures\t: fp asimd bf16\n"


def fast_bf16() -> float:
    """bf16 products at twice fp32's speed, as a Zen 4 core measured."""
    return 2.0


@pytest.fixture
def cpuinfo(tmp_path):
    def write(text: str):
        path = tmp_path / "cpuinfo"
        path.write_text(text)
        return path

    return write


def _trainer(precision: str = "auto", device: str = "auto", width: int = 16, **settings) -> Trainer:
    torch.manual_seed(0)
    model = build_model(DenseConfig(width, 2, hidden_layers=(32,), output_activation="clip"))
    config = TrainConfig(epochs=3, batch_size=32, patience=0, device=device, precision=precision, verbose=0)
    for name, value in settings.items():
        setattr(config, name, value)
    return Trainer(model, config, "mse")


def _data(trainer: Trainer, n: int = 128) -> torch.Tensor:
    # Low-rank data the small net can learn, built on the model's device.
    param = next(trainer.model.parameters())
    generator = torch.Generator().manual_seed(0)
    width = param.shape[1]
    data = torch.rand(n, 2, generator=generator) @ torch.rand(2, width, generator=generator) / 2
    return data.to(device=param.device, dtype=param.dtype)


@pytest.mark.parametrize(
    "text, expected",
    [(ZEN4, "avx512_bf16"), (SAPPHIRE, "amx_bf16"), (ZEN3, None)],
    ids=["avx512_bf16", "amx", "none"],
)
def test_cpu_native_bf16_reads_cpuinfo_flags(cpuinfo, text, expected):
    assert cpu_native_bf16(cpuinfo(text)) == expected


@pytest.mark.parametrize("text, expected", [(ZEN4, "bf16"), (ZEN3, "fp32")], ids=["avx512_bf16", "none"])
def test_auto_on_cpu_follows_native_bf16(cpuinfo, text, expected):
    resolved, reason = resolve_precision(
        "auto", "cpu", step_flops=10 * CPU_BF16_MIN_FLOPS, cpuinfo=cpuinfo(text), bf16_speedup=fast_bf16
    )
    assert resolved == expected
    assert reason.startswith("auto:")


def test_auto_keeps_fp32_where_the_flag_is_there_but_bf16_products_are_slow(cpuinfo):
    # A virtual machine that shows avx512_bf16 but hides AMX: bf16 products at 0.55x fp32's.
    resolved, reason = resolve_precision(
        "auto", "cpu", step_flops=10 * CPU_BF16_MIN_FLOPS, cpuinfo=cpuinfo(ZEN4), bf16_speedup=lambda: 0.55
    )
    assert resolved == "fp32"
    assert "0.55x fp32's speed" in reason and f"{CPU_BF16_MIN_SPEEDUP:g}x" in reason


def test_the_speed_of_bf16_is_timed_only_where_it_could_decide(cpuinfo):
    def must_not_time():
        raise AssertionError("timed bf16 products where the flags or the step already decide")

    for text, flops in ((ZEN3, 10 * CPU_BF16_MIN_FLOPS), (ZEN4, CPU_BF16_MIN_FLOPS / 10)):
        resolve_precision("auto", "cpu", step_flops=flops, cpuinfo=cpuinfo(text), bf16_speedup=must_not_time)
    resolve_precision("fp32", "cpu", cpuinfo=cpuinfo(ZEN4), bf16_speedup=must_not_time)


def test_timing_bf16_products_leaves_the_random_stream_alone():
    torch.manual_seed(3)
    expected = torch.rand(4)
    torch.manual_seed(3)
    assert time_bf16_speedup((16, 16, 16), repeats=2) > 0
    assert torch.equal(torch.rand(4), expected)


def test_the_measured_speedup_is_timed_once_per_process(monkeypatch):
    calls = []
    monkeypatch.setattr(precision_module, "_measured_speedup", None)
    monkeypatch.setattr(precision_module, "time_bf16_speedup", lambda: calls.append(1) or 1.7)
    assert measured_bf16_speedup() == measured_bf16_speedup() == 1.7
    assert len(calls) == 1


def test_auto_keeps_fp32_for_a_step_too_small_for_bf16_to_pay(cpuinfo):
    resolved, reason = resolve_precision(
        "auto", "cpu", step_flops=CPU_BF16_MIN_FLOPS / 10, cpuinfo=cpuinfo(ZEN4)
    )
    assert resolved == "fp32"
    assert "avx512_bf16" in reason and "below" in reason


@pytest.mark.parametrize("supported, expected", [(True, "bf16"), (False, "fp32")])
def test_without_cpuinfo_auto_asks_pytorch(tmp_path, monkeypatch, supported, expected):
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: supported, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    assert cpu_flags(tmp_path / "absent") is None
    resolved = resolve_precision("auto", "cpu", cpuinfo=tmp_path / "absent", bf16_speedup=fast_bf16)[0]
    assert resolved == expected


def test_arm_cpuinfo_counts_as_unknown_flags(cpuinfo):
    assert cpu_flags(cpuinfo(GRAVITON)) is None


def test_auto_on_cuda_is_tf32():
    resolved, reason = resolve_precision("auto", torch.device("cuda"))
    assert resolved == "tf32" and "TF32" in reason


@pytest.mark.parametrize("asked", ["fp32", "bf16"])
def test_an_explicit_precision_is_kept(cpuinfo, asked):
    assert resolve_precision(asked, "cpu", cpuinfo=cpuinfo(ZEN3)) == (asked, "set by the user")


def test_tf32_off_cuda_is_fp32():
    assert resolve_precision("tf32", "cpu")[0] == "fp32"


def test_tf32_matmuls_restores_the_setting():
    before = torch.get_float32_matmul_precision()
    with tf32_matmuls():
        assert torch.get_float32_matmul_precision() == "high"
    assert torch.get_float32_matmul_precision() == before


@pytest.mark.parametrize("bad", ["fp16", "BF16", ""])
def test_train_config_rejects_a_bad_precision_in_one_line_naming_it(bad):
    with pytest.raises(InvalidInputError) as error:
        TrainConfig(precision=bad)
    message = str(error.value)
    assert f"precision={bad!r}" in message and "'auto'" in message and "\n" not in message


def test_train_config_defaults_to_auto():
    assert TrainConfig().precision == "auto"


def test_forward_flops_counts_the_products_and_leaves_the_mode():
    model = build_model(DenseConfig(16, 2, hidden_layers=(32,)))
    model.train()
    # Four linear layers, 2 FLOPs per multiply-add: 16*32 + 32*2 + 2*32 + 32*16.
    assert forward_flops(model, torch.zeros(1, 16)) == 2 * (16 * 32 + 32 * 2 + 2 * 32 + 32 * 16)
    assert model.training


def test_auto_is_recorded_in_the_recipe_and_its_summary():
    trainer = _trainer("auto")
    history = trainer.fit(_data(trainer))
    assert history.recipe["precision"] == trainer.precision
    assert history.recipe["precision_rule"].startswith("auto:")
    assert f"precision {trainer.precision} (auto:" in history.recipe_summary()


def test_auto_resolves_with_the_work_of_a_step(monkeypatch):
    seen = {}

    def spy(precision, device, step_flops=None, cpuinfo=None):
        seen["step_flops"] = step_flops
        return "fp32", "auto: spied"

    monkeypatch.setattr("hourglass.train.trainer.resolve_precision", spy)
    trainer = _trainer("auto")
    trainer.fit(_data(trainer))
    # Forward FLOPs of one sample times the batch of 32.
    assert seen["step_flops"] == 32 * 2 * (16 * 32 + 32 * 2 + 2 * 32 + 32 * 16)
    # A table of 20 rows makes every step those 20 rows, not a batch of 32.
    small = _trainer("auto")
    small.fit(_data(small, n=20))
    assert seen["step_flops"] == 20 * 2 * (16 * 32 + 32 * 2 + 2 * 32 + 32 * 16)


def test_bf16_training_runs_and_learns():
    trainer = _trainer("bf16", epochs=20)
    data = _data(trainer)
    before = trainer.evaluate(data)
    history = trainer.fit(data)
    assert history.recipe["precision"] == "bf16"
    assert all(torch.isfinite(torch.tensor(history.train_loss)))
    assert history.train_loss[-1] < 0.5 * before


def test_evaluation_runs_in_fp32_whatever_the_training_precision():
    bf16, fp32 = _trainer("bf16"), _trainer("fp32")
    data = _data(fp32)
    assert bf16.evaluate(data) == fp32.evaluate(data)


def test_precision_module_names_every_choice_in_its_config():
    assert set(precision_module.PRECISIONS) == {"auto", "fp32", "tf32", "bf16"}


@pytest.mark.slow
def test_compiled_training_matches_the_eager_loss():
    pytest.importorskip("torch._inductor")
    eager = _trainer("fp32", device="cpu")
    data = _data(eager)
    try:
        history = _trainer("fp32", device="cpu", compile=True).fit(data)
    except Exception as exc:  # noqa: BLE001 - no C++ compiler or an unsupported platform
        pytest.skip(f"torch.compile is unavailable here: {type(exc).__name__}: {exc}"[:200])
    reference = eager.fit(data)
    assert history.train_loss[-1] == pytest.approx(reference.train_loss[-1], rel=1e-3)
