"""The training optimizer: torch's AdamW, with its compile guards bypassed only while unneeded."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from hourglass.train import optimizer


def _trained(step_with) -> list[torch.Tensor]:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 4), torch.nn.GELU(), torch.nn.Linear(4, 6))
    opt = optimizer.adamw(model.parameters(), lr=1e-2, weight_decay=1e-2)
    data = torch.randn(32, 6)
    for _ in range(5):
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.mse_loss(model(data), data).backward()
        step_with(opt)
    return [p.detach().clone() for p in model.parameters()]


def test_the_unguarded_step_updates_the_weights_exactly_as_torchs_step():
    ours = _trained(optimizer.step)
    theirs = _trained(lambda opt: opt.step())
    assert all(torch.equal(a, b) for a, b in zip(ours, theirs, strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(ours, _trained(lambda opt: None), strict=True))


def test_a_small_fit_does_not_import_dynamo():
    code = (
        "import sys, numpy as np\n"
        "from hourglass import AutoEncoder\n"
        "AutoEncoder(code_size=2, epochs=2, device='cpu').fit(np.random.default_rng(0).random((50, 6)))\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def _grads(scale: float) -> list[torch.nn.Parameter]:
    torch.manual_seed(1)
    params = [torch.nn.Parameter(torch.randn(5, 3)), torch.nn.Parameter(torch.randn(3))]
    for p in params:
        p.grad = torch.randn_like(p) * scale
    return params


@pytest.mark.parametrize("scale", [0.01, 100.0, float("inf")])
def test_clipping_gives_the_gradients_torchs_clip_gives(scale):
    ours, theirs = _grads(scale), _grads(scale)
    before = [p.grad.clone() for p in ours]
    optimizer.clip_gradients(ours, 1.0, torch.device("cpu"))
    torch.nn.utils.clip_grad_norm_(theirs, 1.0, foreach=True)
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a.grad, b.grad, rtol=0, atol=0, equal_nan=True)
    # Within the bound nothing moves; beyond it the total norm comes down to the bound.
    changed = any(not torch.equal(a.grad, b) for a, b in zip(ours, before, strict=True))
    assert changed == (scale > 1.0)
    if scale == 100.0:
        total = torch.linalg.vector_norm(torch.cat([p.grad.ravel() for p in ours]))
        assert float(total) == pytest.approx(1.0, rel=1e-5)
