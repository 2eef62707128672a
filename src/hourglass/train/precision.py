"""The arithmetic a run trains in: ``precision='auto'`` resolved against the hardware at run time.

``'bf16'`` runs the forward pass under bf16 autocast (weights, optimizer state and the loss stay
fp32); ``'tf32'`` keeps everything fp32 but lets CUDA's matrix products use TF32 tensor cores;
``'fp32'`` is plain fp32. ``'auto'`` picks, by measurement:

* **CPU with native bf16** (AVX-512 BF16 or AMX): bf16 when a step has enough matrix work,
  fp32 otherwise. On a Zen 4 EPYC core (AVX-512 BF16), bf16 autocast against fp32, training
  throughput by forward FLOPs per step (batch x forward FLOPs of one sample):

  ====================================  ===========  ==========
  network, batch                        MFLOP/step   bf16/fp32
  ====================================  ===========  ==========
  64-256-128-8 (digits default), 64     13           0.85x
  64-256-128-8, 256                     52           0.89x
  784-256-128-16, 64                    60           1.03x
  784-256-128-16, 128                   121          1.30x
  784-1000-500-250-30, 256              1450         1.75x
  conv 32-64 on 28x28, 64               3295         1.98x
  ====================================  ===========  ==========

  Below about 60 MFLOP the casts autocast adds cost more than the faster products save; the
  threshold, :data:`CPU_BF16_MIN_FLOPS`, leaves a margin above the crossover.

  The flag alone does not make bf16 fast: a virtual machine on an Emerald Rapids Xeon showed
  ``avx512_bf16`` but hid AMX, and there a bf16 product ran at 0.55x fp32's speed (75 against
  136 GFLOP/s for 256x784 @ 784x512) and the Fashion-MNIST default trained 1.6x slower under
  autocast (14 epochs in 15 s against 23). So the CPU's bf16 products are timed against fp32's
  once per process (:func:`measured_bf16_speedup`, about 20 ms), and bf16 is picked only where
  they ran at least :data:`CPU_BF16_MIN_SPEEDUP` times as fast (a Zen 4 core: about 2x).
* **CUDA**: ``'tf32'``. On an H200 (issue 11) bf16 autocast trained the 784-1000-500-250-30 net
  *slower* than fp32 at batch 256 and at 4096: both ran near 400 steps/s, bound by kernel
  launches, and autocast adds a cast kernel per weight and step. TF32 adds no kernel (cuBLAS
  picks a tensor-core kernel for the same call), so it cannot lose to fp32 where launches bound
  the step and runs on tensor cores (about 7x fp32's peak on Hopper) where the products do;
  its 10-bit mantissa is finer than bf16's 7, which the digits check shows costs no accuracy.
  ``precision='bf16'`` stays available for large models and batches.
* **anything else** (CPUs without native bf16, MPS, ...): ``'fp32'``; bf16 without matrix
  units is emulated and slower.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from hourglass.exceptions import InvalidInputError
from hourglass.train.config import PRECISIONS

#: cpuinfo flags of native bf16 matrix arithmetic: AVX-512 BF16 (Cooper Lake, Zen 4 and later)
#: and AMX (Sapphire Rapids and later).
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
#: Forward FLOPs of one training step (on one process) from which 'auto' picks bf16 on a CPU
#: with native bf16; see the table in the module's docstring.
CPU_BF16_MIN_FLOPS = 100e6
#: How many times fp32's speed the CPU's bf16 matrix products must reach for 'auto' to pick bf16:
#: autocast's casts and the fp32 parts of a step eat part of the products' gain (a Zen 4 core's
#: products run about 2x fp32's, its training steps 1.3-2x).
CPU_BF16_MIN_SPEEDUP = 1.3
#: The product timed: a batch of 256 through a 512-unit layer, a step's typical matrix work.
SPEEDUP_PROBE = (256, 512, 512)
CPUINFO = "/proc/cpuinfo"

_measured_speedup: float | None = None


def cpu_flags(path: str | os.PathLike = CPUINFO) -> frozenset[str] | None:
    """The feature flags of the first CPU in ``path`` (Linux's cpuinfo), or None where unknown.

    None when the file is absent or unreadable (macOS, Windows, a sandbox without /proc) or
    has no x86 ``flags`` line (ARM lists ``Features``).

    Examples
    --------
    >>> cpu_flags("/no/such/file") is None
    True
    """
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return frozenset(value.split())
    return None


def cpu_native_bf16(path: str | os.PathLike = CPUINFO) -> str | None:
    """The CPU's native bf16 feature (``'avx512_bf16'`` or ``'amx_bf16'``), or None without one.

    Read from ``path`` (cpuinfo); where that says nothing, from PyTorch's own CPU checks.

    Examples
    --------
    >>> cpu_native_bf16("/no/such/file") in (None, "avx512_bf16", "amx_bf16")
    True
    """
    flags = cpu_flags(path)
    if flags is not None:
        return next((flag for flag in reversed(BF16_CPU_FLAGS) if flag in flags), None)
    # PyTorch's checks are private (torch.cpu._is_*), so each is looked up, not assumed.
    checks = {"amx_bf16": "_is_amx_tile_supported", "avx512_bf16": "_is_avx512_bf16_supported"}
    for flag, name in checks.items():
        check = getattr(torch.cpu, name, None)
        with contextlib.suppress(Exception):
            if check is not None and check():
                return flag
    return None


def time_bf16_speedup(shape: tuple[int, int, int] = SPEEDUP_PROBE, repeats: int = 5) -> float:
    """How many times as fast as in fp32 this CPU multiplies matrices of ``shape`` in bf16.

    ``shape`` is ``(m, k, n)`` of an ``(m, k) @ (k, n)`` product; each precision's best of
    ``repeats`` timings after one warm-up, taken in turns so that a change of clock speed
    touches both. The operands come from a generator of their own: the global random stream,
    and with it a seeded fit's weights, does not move.

    Examples
    --------
    >>> time_bf16_speedup((8, 8, 8), repeats=1) > 0
    True
    """
    m, k, n = shape
    generator = torch.Generator().manual_seed(0)
    a, b = torch.rand(m, k, generator=generator), torch.rand(k, n, generator=generator)
    operands = {"fp32": (a, b), "bf16": (a.bfloat16(), b.bfloat16())}
    best = dict.fromkeys(operands, math.inf)
    for repeat in range(repeats + 1):
        for name, (x, y) in operands.items():
            tic = time.perf_counter()
            torch.mm(x, y)
            if repeat:  # the first round warms the kernels up
                best[name] = min(best[name], time.perf_counter() - tic)
    return best["fp32"] / max(best["bf16"], 1e-9)


def measured_bf16_speedup() -> float:
    """:func:`time_bf16_speedup` on :data:`SPEEDUP_PROBE`, timed once per process.

    Once, so that every fit of a process decides alike (a seeded fit gives the same weights
    each time) and pays the ~20 ms once.
    """
    global _measured_speedup
    if _measured_speedup is None:
        _measured_speedup = time_bf16_speedup()
    return _measured_speedup


def forward_flops(model: nn.Module, sample: torch.Tensor) -> float | None:
    """FLOPs of the matrix products of ``model``'s forward pass on one ``sample`` (batch of 1).

    Read from the layers' shapes: a forward pass in eval mode without gradients, with hooks
    that note each linear and convolutional layer's output shape (``2 x`` multiply-adds per
    output value). PyTorch's own ``FlopCounterMode`` gives the same figures but imports
    ``torch._dynamo`` on first use, about 2 s once per process: more than a small ``fit``
    costs in all. Nothing the model keeps (TopK statistics, dropout's random stream) moves;
    None if the count fails.

    Examples
    --------
    >>> forward_flops(nn.Linear(4, 3), torch.zeros(1, 4))
    24.0
    """
    total = 0.0

    def count(layer: nn.Module, inputs, output) -> None:
        nonlocal total
        if isinstance(layer, nn.Linear):
            total += 2.0 * output.numel() * layer.in_features
        else:  # a convolution: each output value is a product over its kernel and input group
            kernel = layer.weight.shape[2:].numel()
            per_output = (layer.in_channels // layer.groups) * kernel
            if isinstance(layer, nn.modules.conv._ConvTransposeNd):
                # A transposed convolution scatters each input value over a kernel's outputs.
                total += 2.0 * inputs[0].numel() * (layer.out_channels // layer.groups) * kernel
                return
            total += 2.0 * output.numel() * per_output

    was_training = model.training
    layers = (nn.Linear, nn.modules.conv._ConvNd)
    hooks = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, layers)]
    try:
        model.eval()
        with torch.no_grad():
            model(sample[:1])
        return total
    except Exception:  # noqa: BLE001 - a model the count cannot follow is decided without it
        return None
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)


def resolve_precision(
    precision: str,
    device: torch.device | str,
    step_flops: float | None = None,
    cpuinfo: str | os.PathLike = CPUINFO,
    bf16_speedup: Callable[[], float] = measured_bf16_speedup,
) -> tuple[str, str]:
    """Resolve ``precision`` for training on ``device``; return ``(precision, reason)``.

    Parameters
    ----------
    precision : {'auto', 'fp32', 'tf32', 'bf16'}
        What was asked for; anything but ``'auto'`` is kept (``'tf32'`` becomes ``'fp32'`` off
        CUDA, where it has no meaning).
    device : torch.device or str
        Where the model trains.
    step_flops : float, optional
        Forward FLOPs of one training step on one process (batch x :func:`forward_flops`); on a
        CPU with native bf16, ``'auto'`` picks bf16 only from :data:`CPU_BF16_MIN_FLOPS` on.
        None: unknown, decided by the hardware alone.
    cpuinfo : path, default='/proc/cpuinfo'
        Where the CPU's feature flags are read.
    bf16_speedup : callable, default=measured_bf16_speedup
        Called (only on a CPU whose flags claim native bf16, for a step large enough) for how
        many times fp32's speed its bf16 products run; 'auto' keeps fp32 below
        :data:`CPU_BF16_MIN_SPEEDUP`.

    Returns
    -------
    precision : {'fp32', 'tf32', 'bf16'}
    reason : str
        Why, for the training recipe.

    Examples
    --------
    >>> resolve_precision("auto", "cpu", cpuinfo="/dev/null")[0] in ("fp32", "bf16")
    True
    >>> resolve_precision("fp32", "cpu")
    ('fp32', 'set by the user')
    """
    if precision not in PRECISIONS:
        raise InvalidInputError(f"precision={precision!r}; expected one of {PRECISIONS}")
    device = torch.device(device)
    if precision == "tf32" and device.type != "cuda":
        return "fp32", "tf32 asked for, but TF32 matmuls exist on CUDA only: fp32"
    if precision != "auto":
        return precision, "set by the user"
    if device.type == "cuda":
        return "tf32", (
            "auto: fp32 with TF32 matmuls on CUDA (bf16 autocast measured slower than fp32 on an "
            "H200 for a 784-1000-500-250-30 net at batch 256 and 4096)"
        )
    if device.type != "cpu":
        return "fp32", f"auto: fp32 on {device.type}"
    feature = cpu_native_bf16(cpuinfo)
    if feature is None:
        return "fp32", "auto: this CPU has no native bf16 (no avx512_bf16 or amx_bf16), where bf16 is slower"
    work = "" if step_flops is None else f"a step does {step_flops / 1e6:,.0f} MFLOP of forward matrix work"
    if step_flops is not None and step_flops < CPU_BF16_MIN_FLOPS:
        return "fp32", (
            f"auto: the CPU has {feature}, but {work}, below the {CPU_BF16_MIN_FLOPS / 1e6:,.0f} "
            "from which bf16 autocast measured faster"
        )
    speedup = bf16_speedup()
    m, k, n = SPEEDUP_PROBE
    products = f"its bf16 products ran at {speedup:.2f}x fp32's speed ({m}x{k} @ {k}x{n})"
    if speedup < CPU_BF16_MIN_SPEEDUP:
        return "fp32", (
            f"auto: the CPU has {feature}, but {products}, below the {CPU_BF16_MIN_SPEEDUP:g}x "
            "from which bf16 autocast pays"
        )
    if step_flops is None:
        return "bf16", f"auto: bf16 autocast on a CPU with native bf16 ({feature}; {products})"
    return "bf16", f"auto: the CPU has {feature}, {products}, and {work}, where bf16 autocast measured faster"


@contextlib.contextmanager
def tf32_matmuls():
    """Let float32 CUDA matrix products use TF32 tensor cores inside the block, then restore.

    PyTorch refuses to mix its two switches (``torch.set_float32_matmul_precision`` and the
    per-backend ``fp32_precision``), so the one the caller's process already uses is the one
    set and restored.
    """
    try:
        previous = torch.get_float32_matmul_precision()
    except RuntimeError:  # the process uses the per-backend switch
        backend = torch.backends.cuda.matmul
        previous = backend.fp32_precision
        backend.fp32_precision = "tf32"
        try:
            yield
        finally:
            backend.fp32_precision = previous
        return
    torch.set_float32_matmul_precision("high")
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(previous)


def autocast(device: torch.device, precision: str):
    """The context a forward pass runs in: bf16 autocast for ``'bf16'``, nothing otherwise."""
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def matmul_scope(device: torch.device, precision: str):
    """The context a whole step (forward and backward) runs in: TF32 matmuls for ``'tf32'`` on CUDA."""
    if precision == "tf32" and device.type == "cuda":
        return tf32_matmuls()
    return contextlib.nullcontext()
