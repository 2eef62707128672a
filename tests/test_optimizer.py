"""The training optimizer: torch's AdamW, with its compile guards bypassed only while unneeded."""

from __future__ import annotations

import subprocess
import sys

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
