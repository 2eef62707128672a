"""What each torchrun process draws and decides alone, checked in one process with the process
group's answers stood in: its rows of the global batch's draws, rank 0's precision, differences in
words."""

from __future__ import annotations

import pytest
import torch

from hourglass.nn.config import DenseConfig
from hourglass.nn.dropout import RowDropout, RowDropout1d, RowDropout2d
from hourglass.nn.model import build_model
from hourglass.nn.variational import GaussianBottleneck
from hourglass.runtime import distributed
from hourglass.train import checkpoint
from hourglass.train import trainer as trainer_module
from hourglass.train.config import TrainConfig
from hourglass.train.trainer import Trainer


def _trainer() -> Trainer:
    config = TrainConfig(epochs=2, batch_size=16, device="cpu", verbose=0, seed=3)
    return Trainer(build_model(DenseConfig(input_dim=6, code_size=2, hidden_layers=(8,))), config, "mse")


def _draw_after_seeding(trainer: Trainer, monkeypatch, rank: int | None) -> torch.Tensor:
    monkeypatch.setattr(distributed, "active", lambda: rank is not None)
    monkeypatch.setattr(distributed, "rank", lambda: rank or 0)
    trainer._seed_epoch(4)
    return torch.rand(5)


def test_every_process_seeds_as_one_process_where_draws_follow_the_rows(monkeypatch):
    # The model's dropout and VAE noise are drawn for the whole batch and cut to a process's
    # rows, so every process draws from one process's stream.
    trainer = _trainer()
    alone = _draw_after_seeding(trainer, monkeypatch, None)
    assert torch.equal(_draw_after_seeding(trainer, monkeypatch, 0), alone)
    assert torch.equal(_draw_after_seeding(trainer, monkeypatch, 1), alone)


def test_each_process_seeds_its_own_draws_for_torchs_own_dropout(monkeypatch):
    # nn.Dropout draws for the rows it is given: one seed everywhere gave rank 1's rows rank 0's
    # masks again.
    trainer = _trainer()
    trainer.model.encoder.append(torch.nn.Dropout(0.5))
    alone = _draw_after_seeding(trainer, monkeypatch, None)
    assert torch.equal(_draw_after_seeding(trainer, monkeypatch, 0), alone)
    assert not torch.equal(_draw_after_seeding(trainer, monkeypatch, 1), alone)


@pytest.mark.parametrize(
    "module, torch_own, shape",
    [
        (RowDropout(0.3), torch.nn.Dropout(0.3), (7, 50)),
        (RowDropout1d(0.2), torch.nn.Dropout1d(0.2), (7, 3, 9)),
        (RowDropout2d(0.3), torch.nn.Dropout2d(0.3), (7, 4, 5, 5)),
        (GaussianBottleneck(), GaussianBottleneck(), (7, 40)),
    ],
    ids=["dropout", "dropout1d", "dropout2d", "vae-noise"],
)
@pytest.mark.parametrize("rows", [slice(0, 4), slice(4, 7), slice(1, None, 2)], ids=str)
def test_a_share_draws_its_rows_of_one_process_draws(module, torch_own, shape, rows):
    # A process computing rows 4:7 of a batch of 7 (or every other row, as a lazily read share)
    # gets exactly those rows of what one process draws for the whole batch.
    x = torch.randn(shape)
    if x.ndim == 4:
        x = x.contiguous(memory_format=torch.channels_last)  # the layout conv models train in
    torch.manual_seed(5)
    alone = torch_own(x)
    torch.manual_seed(5)
    with distributed.batch_rows(7, rows):
        share = module(x[rows])
    torch.manual_seed(5)
    whole = module(x)  # outside a share: torch's own draws, to the bit
    if isinstance(alone, tuple):  # the bottleneck's (code, aux)
        alone, share, whole = alone[0], share[0], whole[0]
    assert torch.equal(share, alone[rows])
    assert torch.equal(whole, alone)


def test_every_process_takes_rank_0s_precision(monkeypatch):
    # 'auto' timed bf16 on each process: a busier core chose fp32 beside rank 0's bf16, silently.
    trainer = _trainer()
    monkeypatch.setattr(trainer_module, "resolve_precision", lambda *a: ("fp32", "this process's timing"))
    monkeypatch.setattr(distributed, "active", lambda: True)
    monkeypatch.setattr(distributed, "world_size", lambda: 2)
    monkeypatch.setattr(distributed, "gather", lambda value: [("bf16", "rank 0's timing"), value])
    trainer._resolve_precision(torch.zeros(32, 6))
    assert (trainer.precision, trainer.precision_reason) == ("bf16", "rank 0's timing")


def test_processes_with_other_seeds_or_budgets_are_told_which():
    # Resuming forgives both, so processes given --seed 1 and 2 read "other settings".
    data = {"shape": [10, 2], "dtype": "float32", "hash": "x"}
    a = checkpoint.run_fingerprint(data, {"random_state": 1, "max_time": 5.0, "epochs": "auto"}, 1)
    b = checkpoint.run_fingerprint(data, {"random_state": 2, "max_time": 9.0, "epochs": "auto"}, 1)
    words = "; ".join(checkpoint._differences(a, b, strict=True))
    assert "random_state 1 -> 2" in words and "max_time 5.0 -> 9.0" in words
    assert checkpoint._differences(a, b) == []  # a resume may take another budget
