"""The quantizing bottlenecks: straight-through gradients, EMA codebook, dead-code restarts, FSQ."""

import math

import pytest
import torch

from hourglass.nn.quantizers import FiniteScalarQuantizer, VectorQuantizer, fsq_levels, usage_of


@pytest.mark.parametrize("quantizer", [VectorQuantizer(8, 3), FiniteScalarQuantizer((4, 3, 5))])
def test_straight_through_gradient_is_the_identity(quantizer):
    quantizer.train()
    z = torch.randn(2, 3, 4, 4, requires_grad=True)
    code, _ = quantizer(z)
    weights = torch.randn_like(code)
    (code * weights).sum().backward()
    if isinstance(quantizer, VectorQuantizer):
        assert torch.equal(z.grad, weights)
    else:  # FSQ's gradient passes through its bounding tanh: same sign, nonzero
        assert torch.all(torch.sign(z.grad) == torch.sign(weights))


def test_commitment_loss_pulls_the_encoder_toward_its_codes():
    vq = VectorQuantizer(4, 2, commitment_cost=0.5).eval()
    z = torch.randn(3, 2, 2, 2, requires_grad=True)
    _, aux = vq(z)
    aux["vq_commitment_loss"].backward()
    q = vq.lookup(vq.indices(z))
    assert torch.allclose(z.grad, 0.5 * 2 * (z - q).detach() / z.numel(), atol=1e-6)


def test_ema_update_moves_codes_toward_their_vectors():
    vq = VectorQuantizer(2, 2, decay=0.5)
    vq.initialized.fill_(True)
    vq.codebook.copy_(torch.tensor([[0.0, 0.0], [10.0, 10.0]]))
    vq.embed_sum.copy_(vq.codebook * vq.cluster_size[:, None])
    z = torch.full((4, 2, 1, 1), 1.0)  # every vector at (1, 1): nearest code 0
    before = vq.codebook.clone()
    vq.train()(z)
    assert 0.0 < vq.codebook[0, 0] < 1.0  # moved part of the way toward (1, 1)
    assert torch.equal(vq.codebook[1], before[1]) or vq.codebook[1].norm() < before[1].norm()
    vq.eval()(z)  # eval mode never moves the codebook
    after = vq.codebook.clone()
    vq(z)
    assert torch.equal(after, vq.codebook)


def test_dead_codes_are_restarted_from_encoder_outputs():
    vq = VectorQuantizer(4, 2)
    vq.initialized.fill_(True)
    vq.codebook.copy_(torch.tensor([[0.0, 0.0], [1e3, 1e3], [-1e3, 1e3], [1e3, -1e3]]))
    vq.cluster_size.copy_(torch.tensor([50.0, 0.0, 0.0, 0.0]))  # codes 1-3 never used
    vq.embed_sum.copy_(vq.codebook * vq.cluster_size[:, None])
    z = torch.randn(8, 2, 4, 4) * 0.1
    vq.train()(z)
    assert torch.all(vq.codebook[1:].abs() < 1.0)  # re-seeded near the data
    assert torch.all(vq.cluster_size[1:] > 1.0)  # with the count of a live code


def test_usage_leaves_out_re_seeded_codes_that_win_nothing():
    # Every vector is exactly code 0: codes 1-3 die, are re-seeded near it with a live code's
    # count (which their moving averages keep for a long while), and never win a vector.
    vq = VectorQuantizer(4, 2)
    vq.initialized.fill_(True)
    vq.codebook.copy_(torch.tensor([[0.0, 0.0], [1e3, 1e3], [-1e3, 1e3], [1e3, -1e3]]))
    vq.cluster_size.copy_(torch.tensor([50.0, 0.0, 0.0, 0.0]))
    vq.embed_sum.copy_(vq.codebook * vq.cluster_size[:, None])
    vq.train()
    for _ in range(20):
        vq(torch.zeros(16, 2, 2, 2))
    assert torch.all(vq.cluster_size[1:] > 1.0)
    assert vq.usage() == {"codebook_used": 0.25, "perplexity": 1.0}
    vq.reset_usage()
    assert math.isnan(vq.usage()["codebook_used"])  # nothing counted since


def test_codebook_seeded_from_the_first_batch():
    vq = VectorQuantizer(16, 2)
    z = 100 + torch.randn(4, 2, 4, 4)
    vq.train()(z)
    assert bool(vq.initialized) and torch.all(vq.codebook > 90)


@pytest.mark.parametrize("quantizer", [VectorQuantizer(16, 4), FiniteScalarQuantizer(fsq_levels(64))])
def test_lookup_of_indices_is_the_eval_code_exactly(quantizer):
    z = torch.randn(3, quantizer.dim, 5, 5)
    quantizer.eval()
    indices = quantizer.indices(z)
    assert indices.shape == (3, 5, 5) and int(indices.max()) < quantizer.codebook_size
    assert torch.equal(quantizer.lookup(indices), quantizer(z)[0])


def test_fsq_indices_cover_the_grid():
    fsq = FiniteScalarQuantizer((3, 2))
    z = torch.tensor([[a, b] for a in (-9.0, 0.0, 9.0) for b in (-9.0, 9.0)]).reshape(6, 2, 1, 1)
    assert sorted(fsq.indices(z).ravel().tolist()) == list(range(6))


def test_usage_counts_live_codes_and_perplexity():
    assert usage_of(torch.tensor([5.0, 5.0, 5.0, 5.0])) == {"codebook_used": 1.0, "perplexity": 4.0}
