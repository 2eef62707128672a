"""What each torchrun process draws and decides alone, checked in one process with the process
group's answers stood in: its own global draws, rank 0's precision, differences in words."""

from __future__ import annotations

import torch

from hourglass.nn.config import DenseConfig
from hourglass.nn.model import build_model
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


def test_each_process_draws_its_own_dropout_and_vae_noise(monkeypatch):
    # One seed everywhere gave rank 1's rows rank 0's code noise and dropout masks again.
    trainer = _trainer()
    alone = _draw_after_seeding(trainer, monkeypatch, None)
    first = _draw_after_seeding(trainer, monkeypatch, 0)
    second = _draw_after_seeding(trainer, monkeypatch, 1)
    assert torch.equal(first, alone)  # rank 0 draws what one process draws
    assert not torch.equal(second, first)


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
