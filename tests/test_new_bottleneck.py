"""A new kind of code in one file: a Wasserstein autoencoder's MMD bottleneck (Tolstikhin et al. 2018).

The code is deterministic (the plain network); training adds ``weight * MMD(codes, prior draws)``
with the inverse multiquadratic kernel, which pulls the aggregate code distribution toward
``N(0, I)`` so that prior draws decode to plausible items. Everything the kind needs is here: the
penalty, the part (:class:`hourglass.estimators.bottlenecks.BottleneckPart`), its registry entry
and a preset estimator. The tests show it trains, logs its term, saves, loads, predicts the same,
through the estimator's one ``fit``, ``save`` and ``load``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import torch

import hourglass
from hourglass import AutoEncoder, ConvAutoEncoder, VariationalAutoEncoder, VQAutoEncoder
from hourglass.estimators.bottlenecks import BOTTLENECKS, BottleneckPart, bottleneck_part, register_bottleneck
from hourglass.estimators.persistence import ESTIMATORS
from hourglass.estimators.predicting import run_batches
from hourglass.exceptions import InvalidInputError, ModelFileError

FAST = dict(epochs=20, batch_size=64, random_state=0)


def imq_mmd(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The (biased) squared MMD between samples ``x`` and ``y`` (b, d) with the inverse
    multiquadratic kernel ``C / (C + |a - b|^2)``, ``C = 2 d`` (the WAE paper's choice for N(0, I))."""
    c = 2.0 * x.shape[1]

    def kernel(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return (c / (c + torch.cdist(a, b).pow(2))).mean()

    return kernel(x, x) + kernel(y, y) - 2 * kernel(x, y)


@dataclass
class MMDPenalty:
    """``weight * MMD(code, z)`` with ``z ~ N(0, I)`` drawn per batch (the trainer seeds the draws)."""

    weight: float
    name: str = "mmd"

    def __call__(self, model: Any, inputs: torch.Tensor, outputs: dict[str, Any]) -> torch.Tensor:
        code = outputs["code"].reshape(len(outputs["code"]), -1).float()  # (b, d)
        return self.weight * imq_mmd(code, torch.randn_like(code))


class MMDPart(BottleneckPart):
    """A deterministic code held near the prior by an MMD penalty; remembers how near after fit."""

    kind = "mmd"
    weight = 1.0

    def regularizers(self, est: Any) -> list:
        return [MMDPenalty(self.weight)]

    def after_fit(self, est: Any) -> None:
        probe = est._metrics_probe[:256]
        codes = torch.from_numpy(run_batches(est, est.module_.encode, probe.cpu().numpy()))
        prior = torch.randn(codes.shape, generator=torch.Generator().manual_seed(0))
        est.prior_mmd_ = float(imq_mmd(codes.reshape(len(codes), -1), prior.reshape(len(codes), -1)))

    def saved_attributes(self, est: Any) -> dict[str, Any]:
        return {"prior_mmd_": est.prior_mmd_}

    def restore(self, est: Any, fitted: dict[str, Any], tensors: dict[str, np.ndarray]) -> None:
        value = fitted.get("prior_mmd_")
        if not isinstance(value, float) or not math.isfinite(value):
            raise InvalidInputError(f"prior_mmd_={value!r}; expected a finite number")


class WassersteinAutoEncoder(AutoEncoder):
    """An :class:`~hourglass.AutoEncoder` whose code is pulled toward ``N(0, I)`` by MMD."""

    bottleneck_kind = "mmd"


@pytest.fixture(scope="module")
def registered():
    """The kind and its preset in the registries for this module's tests only."""
    register_bottleneck(MMDPart)
    # A library preset would be a kind of hourglass.registry (which register_estimator insists
    # on, so that a fresh process can load it); this test's preset lives in this process only.
    ESTIMATORS[WassersteinAutoEncoder.__name__] = WassersteinAutoEncoder
    try:
        yield WassersteinAutoEncoder
    finally:
        BOTTLENECKS.pop(MMDPart.kind)
        ESTIMATORS.pop(WassersteinAutoEncoder.__name__)


@pytest.fixture(scope="module")
def rows():
    rng = np.random.default_rng(0)
    basis = rng.normal(size=(3, 12))
    return (rng.normal(size=(240, 3)) @ basis + 0.05 * rng.normal(size=(240, 12))).astype(np.float32)


@pytest.fixture(scope="module")
def wae(registered, rows):
    return registered(code_size=3, **FAST).fit(rows)


@pytest.mark.parametrize(
    ("estimator", "kind"),
    [(AutoEncoder, "plain"), (ConvAutoEncoder, "plain"), (VariationalAutoEncoder, "gaussian"),
     (VQAutoEncoder, "quantized")],
)  # fmt: skip
def test_bottleneck_presets_name_a_registered_part(estimator, kind):
    assert estimator.bottleneck_kind == kind
    assert type(bottleneck_part(kind)) is BOTTLENECKS[kind]


def test_bottleneck_part_refuses_an_unknown_kind():
    with pytest.raises(InvalidInputError, match="bottleneck_kind='nope'"):
        bottleneck_part("nope")


def test_imq_mmd_is_zero_for_one_sample_and_grows_with_a_shift():
    z = torch.randn(200, 3, generator=torch.Generator().manual_seed(1))
    other = torch.randn(200, 3, generator=torch.Generator().manual_seed(2))
    assert float(imq_mmd(z, z)) == pytest.approx(0.0, abs=1e-6)
    assert float(imq_mmd(z, other + 2.0)) > 10 * float(imq_mmd(z, other))


def test_new_bottleneck_trains_and_logs_its_term(wae):
    assert "mmd" in wae.history_.terms
    assert all(math.isfinite(v) for v in wae.history_.terms["mmd"])
    assert wae.history_.terms["mmd"][-1] < wae.history_.terms["mmd"][0]


def test_new_bottleneck_pulls_codes_toward_the_prior(wae, rows):
    plain = AutoEncoder(code_size=3, **FAST).fit(rows)
    codes = torch.from_numpy(plain.transform(rows[:256]).astype(np.float32))
    prior = torch.randn(codes.shape, generator=torch.Generator().manual_seed(0))
    assert wae.prior_mmd_ < float(imq_mmd(codes, prior))


def test_new_bottleneck_saves_loads_and_predicts_the_same(wae, rows, tmp_path):
    wae.save(tmp_path / "wae")
    fitted = json.loads((tmp_path / "wae" / "config.json").read_text())["fitted"]
    assert fitted["prior_mmd_"] == wae.prior_mmd_
    loaded = hourglass.load(tmp_path / "wae")
    assert type(loaded) is type(wae)
    assert loaded.prior_mmd_ == wae.prior_mmd_
    np.testing.assert_array_equal(loaded.transform(rows), wae.transform(rows))
    np.testing.assert_array_equal(loaded.reconstruct(rows), wae.reconstruct(rows))


def test_new_bottleneck_restore_checks_what_it_reads(wae, tmp_path):
    wae.save(tmp_path / "wae")
    config_file = tmp_path / "wae" / "config.json"
    config = json.loads(config_file.read_text())
    config["fitted"]["prior_mmd_"] = "near"
    config_file.write_text(json.dumps(config))
    with pytest.raises(ModelFileError, match="prior_mmd_='near'"):
        hourglass.load(tmp_path / "wae")
