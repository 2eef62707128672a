"""Quantizing bottlenecks: a code map becomes a grid of integer indices into a finite codebook.

Both share the bottleneck contract ``forward(z) -> (code, aux)``: ``code`` is the quantized map
(the straight-through estimator passes the gradient of the decoder's loss on to the encoder as
if quantization were the identity), and ``aux`` holds ready-weighted losses under names ending
in ``_loss`` that :func:`hourglass.train.losses.total_loss` adds to the training loss. Both also
offer ``indices(z)`` and ``lookup(indices)``, deterministic, which a codec stores and reads.

* :class:`VectorQuantizer`: a learned codebook of ``codebook_size`` vectors, each input vector
  replaced by its nearest (van den Oord et al. 2017, VQ-VAE). The codebook is not trained by
  the optimizer but follows exponential moving averages of the encoder outputs assigned to
  each code (Razavi et al. 2019), and codes that fall out of use are re-seeded from recent
  encoder outputs (Dhariwal et al. 2020, Jukebox), so the whole codebook keeps carrying bits.
* :class:`FiniteScalarQuantizer`: each of a few channels rounded to a handful of levels; the
  codebook is their product grid (Mentzer et al. 2023, FSQ). Nothing to learn, nothing to die.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from hourglass.exceptions import InvalidInputError
from hourglass.runtime import distributed

#: A code assigned fewer vectors than this per batch (moving average) is dead and restarted.
DEAD_CODE_THRESHOLD = 1.0
#: Laplace smoothing of the moving-average counts, so an unused code never divides by zero.
EMA_EPSILON = 1e-5

#: FSQ levels per channel for a codebook of about 2**bits codes (Mentzer et al. 2023, table 1,
#: and the same rule below and above it).
FSQ_LEVELS = {
    2: (4,),
    3: (8,),
    4: (4, 4),
    5: (8, 4),
    6: (8, 8),
    7: (8, 4, 4),
    8: (8, 6, 5),
    9: (8, 8, 8),
    10: (8, 5, 5, 5),
    11: (8, 8, 6, 5),
    12: (7, 5, 5, 5, 5),
    13: (8, 8, 8, 4, 4),
    14: (8, 8, 8, 6, 5),
    15: (8, 8, 8, 8, 8),
    16: (8, 8, 8, 5, 5, 5),
}


def _channels_last(z: torch.Tensor) -> torch.Tensor:
    """(b, d, *grid) -> (b * prod(grid), d)."""
    return z.movedim(1, -1).reshape(-1, z.shape[1])


def _channels_first(flat: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`_channels_last` for a map shaped like ``like``."""
    b, d, *grid = like.shape
    return flat.reshape(b, *grid, d).movedim(-1, 1)


class VectorQuantizer(nn.Module):
    """Nearest-codeword quantization with an EMA-updated codebook and dead-code restarts.

    Parameters
    ----------
    codebook_size : int
        Number of codes K; an index carries ``log2(K)`` bits before entropy coding.
    dim : int
        Length of each code vector (channels of the code map).
    commitment_cost : float, default=0.25
        Weight beta of the commitment loss ``beta * |z - sg(q)|^2`` that keeps the encoder's
        outputs near their codes (van den Oord et al.).
    decay : float, default=0.99
        Decay of the moving averages of each code's count and sum of assigned vectors.

    Attributes (buffers, saved with the weights and in checkpoints)
    ----------------------------------------------------------------
    codebook : (K, dim) tensor
    cluster_size : (K,) tensor
        Moving average of how many vectors each code gets per batch: its usage.
    embed_sum : (K, dim) tensor
        Moving average of the sum of the vectors each code gets.
    initialized : () tensor
        Whether the codebook was seeded from a first batch of encoder outputs.
    assigned : (K,) tensor
        How many vectors each code was actually assigned in the training steps since
        :meth:`reset_usage` (or since the module was built or loaded; not saved): what
        :meth:`usage` reads. ``cluster_size`` cannot tell it, as re-seeding starts a dead code
        at a live code's count.

    Examples
    --------
    >>> vq = VectorQuantizer(16, 4)
    >>> code, aux = vq(torch.randn(2, 4, 3, 3))
    >>> code.shape, vq.indices(torch.randn(2, 4, 3, 3)).shape, sorted(aux)
    (torch.Size([2, 4, 3, 3]), torch.Size([2, 3, 3]), ['vq_commitment_loss'])
    """

    def __init__(self, codebook_size: int, dim: int, commitment_cost: float = 0.25, decay: float = 0.99):
        super().__init__()
        if int(codebook_size) < 2:
            raise InvalidInputError(f"codebook_size={codebook_size} must be at least 2")
        if not 0.0 <= decay < 1.0:
            raise InvalidInputError(f"codebook_decay={decay} must lie in [0, 1)")
        if not commitment_cost >= 0:
            raise InvalidInputError(f"commitment_cost={commitment_cost} must be non-negative")
        self.codebook_size, self.dim = int(codebook_size), int(dim)
        self.commitment_cost, self.decay = float(commitment_cost), float(decay)
        codebook = torch.randn(self.codebook_size, self.dim)
        self.register_buffer("codebook", codebook)
        self.register_buffer("cluster_size", torch.ones(self.codebook_size))
        self.register_buffer("embed_sum", codebook.clone())
        self.register_buffer("initialized", torch.zeros((), dtype=torch.bool))
        # Not persistent: weights saved before it existed still load.
        self.register_buffer("assigned", torch.zeros(self.codebook_size), persistent=False)

    @property
    def bits(self) -> float:
        """Bits of one index before entropy coding."""
        return math.log2(self.codebook_size)

    def _nearest(self, flat: torch.Tensor) -> torch.Tensor:
        """Index of the nearest code of every row of ``flat`` (n, dim), in float32."""
        flat, codebook = flat.float(), self.codebook.float()
        # |x - c|^2 = |x|^2 - 2 x.c + |c|^2; |x|^2 is the same for every code of a row.
        distances = codebook.square().sum(1) - 2 * flat @ codebook.T  # (n, K)
        return distances.argmin(dim=1)

    def indices(self, z: torch.Tensor) -> torch.Tensor:
        """The code indices of the map ``z`` (b, dim, *grid), as (b, *grid) int64."""
        return self._nearest(_channels_last(z)).reshape(z.shape[0], *z.shape[2:])

    def lookup(self, indices: torch.Tensor) -> torch.Tensor:
        """The quantized map (b, dim, *grid) of ``indices`` (b, *grid)."""
        vectors = F.embedding(indices.long(), self.codebook)  # (b, *grid, dim)
        return vectors.movedim(-1, 1)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        flat = _channels_last(z).float()  # (n, dim)
        if self.training:
            self._update(flat.detach())
        index = self._nearest(flat)
        quantized = F.embedding(index, self.codebook)  # (n, dim)
        commitment = self.commitment_cost * F.mse_loss(flat, quantized.detach())
        if self.training:
            # Straight-through: the forward value is the code, the gradient that of the identity.
            quantized = flat + (quantized - flat).detach()
        # In eval mode the code is the codeword exactly, as lookup() gives it to a decoder.
        return _channels_first(quantized, z).to(z.dtype), {"vq_commitment_loss": commitment}

    @torch.no_grad()
    def _update(self, flat: torch.Tensor) -> None:
        """One EMA step of the codebook toward the means of the vectors assigned to each code."""
        if not bool(self.initialized):
            self._seed_codes(torch.ones(self.codebook_size, dtype=torch.bool, device=flat.device), flat)
            self.initialized.fill_(True)
        index = self._nearest(flat)
        onehot = F.one_hot(index, self.codebook_size).type(flat.dtype)  # (n, K)
        counts = distributed.all_reduce_sum(onehot.sum(0))
        sums = distributed.all_reduce_sum(onehot.T @ flat)  # (K, dim)
        self.assigned += counts
        self.cluster_size.mul_(self.decay).add_(counts, alpha=1 - self.decay)
        self.embed_sum.mul_(self.decay).add_(sums, alpha=1 - self.decay)
        total = self.cluster_size.sum()
        smoothed = (self.cluster_size + EMA_EPSILON) / (total + self.codebook_size * EMA_EPSILON) * total
        self.codebook.copy_(self.embed_sum / smoothed[:, None])
        dead = self.cluster_size < DEAD_CODE_THRESHOLD
        if bool(dead.any()):
            self._seed_codes(dead, flat)

    @torch.no_grad()
    def _seed_codes(self, which: torch.Tensor, flat: torch.Tensor) -> None:
        """Re-seed the codes ``which`` (a (K,) mask) with encoder outputs drawn from ``flat``.

        Each restarted code starts as a vector the encoder produces now, with the count of a
        live code, so it wins nearby vectors at once instead of dying again.
        """
        n_new = int(which.sum())
        picks = torch.randint(0, flat.shape[0], (n_new,), device=flat.device)
        fresh = flat[picks] + 1e-3 * torch.randn(n_new, self.dim, device=flat.device, dtype=flat.dtype)
        if distributed.active():
            torch.distributed.broadcast(fresh, src=0)  # every process restarts to the same codes
        live = self.cluster_size[~which]
        weight = float(live.mean()) if live.numel() else 1.0
        self.codebook[which] = fresh
        self.cluster_size[which] = weight
        self.embed_sum[which] = fresh * weight

    def usage(self) -> dict[str, float]:
        """Codebook usage in the training steps since :meth:`reset_usage`: the share of codes in
        use and the perplexity.

        From the vectors actually assigned to each code (``assigned``), not from
        ``cluster_size``, in which a dead code re-seeded again and again looks alive. The
        perplexity ``2 ** H`` (H the entropy of the code frequencies, in bits) is the number of
        equally used codes that would carry as much information; at most ``codebook_size``.
        Both are NaN when no training step was counted.
        """
        if not bool(self.assigned.sum() > 0):
            return {"codebook_used": math.nan, "perplexity": math.nan}
        return usage_of(self.assigned)

    def reset_usage(self) -> None:
        """Start counting the assignments that :meth:`usage` reads afresh (at an epoch's start, say)."""
        self.assigned.zero_()

    def extra_repr(self) -> str:
        return f"codebook_size={self.codebook_size}, dim={self.dim}, decay={self.decay}"


def usage_of(counts: torch.Tensor) -> dict[str, float]:
    """``{'codebook_used', 'perplexity'}`` of per-code counts (a histogram of indices).

    Examples
    --------
    >>> usage_of(torch.tensor([1.0, 1.0, 0.0, 0.0]))
    {'codebook_used': 0.5, 'perplexity': 2.0}
    """
    counts = counts.detach().double().cpu()
    total = float(counts.sum())
    if total <= 0:
        return {"codebook_used": 0.0, "perplexity": 0.0}
    p = counts / total
    entropy = float(-(p[p > 0] * p[p > 0].log2()).sum())
    # In use: at least 1 % of the share a code would get if all were used equally.
    used = float((counts >= 0.01 * total / max(1, counts.numel())).double().mean())
    return {"codebook_used": used, "perplexity": float(2**entropy)}


class FiniteScalarQuantizer(nn.Module):
    """Finite scalar quantization: each channel bounded and rounded to a few levels (FSQ).

    Parameters
    ----------
    levels : tuple of int
        Levels per channel; the codebook is their product (``(8, 6, 5)``: 240 codes). The map
        quantized must have ``len(levels)`` channels.

    Examples
    --------
    >>> fsq = FiniteScalarQuantizer((8, 6, 5))
    >>> z = torch.randn(2, 3, 4, 4)
    >>> idx = fsq.indices(z)
    >>> bool(torch.equal(fsq.lookup(idx), fsq(z)[0])), int(idx.max()) < 240
    (True, True)
    """

    def __init__(self, levels: tuple[int, ...]) -> None:
        super().__init__()
        if not levels or any(int(level) < 2 for level in levels):
            raise InvalidInputError(f"FSQ levels={levels}; expected integers of at least 2")
        self.levels = tuple(int(level) for level in levels)
        self.dim = len(self.levels)
        self.codebook_size = math.prod(self.levels)
        basis = [math.prod(self.levels[:i]) for i in range(self.dim)]
        self.register_buffer("_levels", torch.tensor(self.levels, dtype=torch.float32), persistent=False)
        self.register_buffer("_basis", torch.tensor(basis, dtype=torch.long), persistent=False)
        # Usage of each code, as a moving average over training batches (for perplexity only).
        self.register_buffer("cluster_size", torch.zeros(self.codebook_size))

    @property
    def bits(self) -> float:
        return math.log2(self.codebook_size)

    def _bounded(self, flat: torch.Tensor) -> torch.Tensor:
        """Squash every channel into (-(L-1)/2, (L-1)/2), shifted by half a step for even L."""
        # Slightly wider than (L - 1) / 2 so that rounding reaches both extreme levels (and the
        # shift stays finite for L = 2), as in the paper's reference code.
        half = (self._levels - 1) * (1 + 1e-3) / 2
        offset = torch.where(self._levels % 2 == 0, 0.5, 0.0)
        shift = torch.atanh(offset / half)
        return torch.tanh(flat + shift) * half - offset

    def _levels_of(self, flat: torch.Tensor) -> torch.Tensor:
        """Integer level of each channel, in [0, L): (n, dim) int64."""
        rounded = torch.round(self._bounded(flat.float()))
        return (rounded + self._levels // 2).long()

    def indices(self, z: torch.Tensor) -> torch.Tensor:
        level = self._levels_of(_channels_last(z))
        return (level * self._basis).sum(1).reshape(z.shape[0], *z.shape[2:])

    def _values(self, level: torch.Tensor) -> torch.Tensor:
        """The code values of integer levels, scaled into [-1, 1]."""
        return (level.float() - self._levels // 2) / (self._levels // 2)

    def lookup(self, indices: torch.Tensor) -> torch.Tensor:
        flat = indices.reshape(-1, 1).long()
        level = (flat // self._basis) % self._levels.long()  # (n, dim)
        b, *grid = indices.shape
        return self._values(level).reshape(b, *grid, self.dim).movedim(-1, 1)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        flat = _channels_last(z).float()
        bounded = self._bounded(flat)
        rounded = torch.round(bounded)
        if self.training:
            rounded = bounded + (rounded - bounded).detach()  # straight-through
        values = rounded / (self._levels // 2)
        if self.training:
            with torch.no_grad():
                index = ((torch.round(bounded) + self._levels // 2).long() * self._basis).sum(1)
                counts = torch.bincount(index, minlength=self.codebook_size).float()
                counts = distributed.all_reduce_sum(counts)
                self.cluster_size.mul_(0.99).add_(counts, alpha=0.01)
        return _channels_first(values, z).to(z.dtype), {}

    def usage(self) -> dict[str, float]:
        return usage_of(self.cluster_size)

    def extra_repr(self) -> str:
        return f"levels={self.levels}"


def fsq_levels(codebook_size: int) -> tuple[int, ...]:
    """The FSQ levels whose product is closest to, and at most, ``codebook_size`` codes.

    Examples
    --------
    >>> fsq_levels(256), math.prod(fsq_levels(256))
    ((8, 6, 5), 240)
    """
    bits = int(math.floor(math.log2(codebook_size)))
    if bits not in FSQ_LEVELS:
        raise InvalidInputError(
            f"codebook_size={codebook_size} with quantizer='fsq'; expected 4 to 65536 codes"
        )
    return FSQ_LEVELS[bits]


__all__ = ["FiniteScalarQuantizer", "VectorQuantizer", "fsq_levels", "usage_of"]
