"""The registry of kinds and tasks: every list that names them reads it, and says the same."""

import importlib
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

import hourglass
from hourglass import registry
from hourglass.cli import app
from hourglass.cli.core import Arch
from hourglass.estimators import params, persistence
from hourglass.nn import model as nn_model
from hourglass.train import tasks

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("kind", registry.KINDS, ids=lambda k: k.name)
def test_each_kind_is_public_under_its_class_name(kind):
    cls = getattr(hourglass, kind.estimator)
    assert cls is getattr(importlib.import_module(kind.module), kind.estimator)
    assert kind.estimator in hourglass.__all__ and kind.estimator in dir(hourglass)


def test_load_knows_exactly_the_registered_estimators():
    persistence._import_estimators()
    assert set(persistence.ESTIMATORS) == {kind.estimator for kind in registry.KINDS}
    for kind in registry.KINDS:
        assert persistence.ESTIMATORS[kind.estimator].__module__ == kind.module


def test_parameter_table_kinds_come_from_the_registry():
    assert params.KINDS == ("dense", "conv", "vae")
    assert params.EXTENDS == {"vq": "conv"}
    named = {kind for p in params.PARAMS for kind in p.kinds}
    assert named <= {kind.name for kind in registry.KINDS if kind.own_parameters}


def test_fit_offers_the_registered_archs_in_order():
    assert [member.value for member in Arch] == ["dense", "conv", "vq", "vae"]
    assert [member.value for member in Arch] == list(registry.FIT_ARCHS)
    result = CliRunner().invoke(app, ["fit", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "dense|conv|vq|vae" in result.stdout


def test_compare_offers_the_registered_deterministic_archs():
    from hourglass.cli.comparing import CompareArch

    assert [member.value for member in CompareArch] == ["dense", "conv"] == list(registry.COMPARE_ARCHS)
    result = CliRunner().invoke(app, ["compare", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "dense|conv" in result.stdout and "dense|conv|" not in result.stdout


def test_every_architecture_is_built_by_the_module_the_registry_names():
    for kind in registry.KINDS:
        importlib.import_module(kind.module)
    assert set(nn_model.ARCHITECTURES) == set(registry.ARCHITECTURE_MODULES)
    for name, builder in nn_model.ARCHITECTURES.items():
        assert builder.__module__ == registry.ARCHITECTURE_MODULES[name]
    declared = {name for kind in registry.KINDS for name in kind.architectures}
    assert declared == set(registry.ARCHITECTURE_MODULES)


def test_an_architecture_outside_the_registry_is_refused():
    class Odd:
        kind = "odd"

    with pytest.raises(TypeError, match="odd"):
        nn_model.register_architecture(Odd)(lambda config: torch.nn.Identity())
    assert "odd" not in nn_model.ARCHITECTURES


def test_an_estimator_outside_the_registry_is_refused():
    class Stray:
        pass

    with pytest.raises(TypeError, match="Stray"):
        persistence.register_estimator(Stray)
    assert "Stray" not in persistence.ESTIMATORS


def test_the_api_reference_documents_every_kind():
    page = (ROOT / "docs" / "estimators.md").read_text()
    for kind in registry.KINDS:
        assert f"::: {kind.module}.{kind.estimator}" in page


def test_task_names_are_declared_once():
    assert tasks.TASKS is registry.TASKS
    assert registry.TASKS == ("reconstruct", "denoise", "colorize", "super_resolve", "inpaint")
    result = CliRunner().invoke(app, ["apply", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for name in registry.TASKS:
        assert f"{name}:" in result.stdout


def test_an_unknown_kind_names_the_known_ones():
    with pytest.raises(ValueError, match="dense"):
        registry.kind("dens")
    assert registry.by_estimator("PCA") is None


def test_report_sections_are_chosen_by_registered_bottleneck_kind():
    from hourglass.estimators.bottlenecks import BOTTLENECKS
    from hourglass.report.sections import CODE_SECTIONS

    assert set(CODE_SECTIONS) <= set(BOTTLENECKS), "a report section for a kind of code nobody registered"
    # Every built-in kind of code has its sections; a new kind falls back to a plain code's.
    assert {"plain", "gaussian", "quantized"} <= set(CODE_SECTIONS)
    for kind in ("VariationalAutoEncoder", "VQAutoEncoder", "AutoEncoder", "ConvAutoEncoder"):
        assert getattr(hourglass, kind).bottleneck_kind in CODE_SECTIONS


def test_every_public_exception_and_warning_is_exported_at_the_top():
    # A user filters a warning by its class: `warnings.simplefilter("ignore",
    # hourglass.IdentifierColumnWarning)` failed with AttributeError when only hourglass.exceptions had it.
    import inspect

    from hourglass import exceptions

    public = {
        name
        for name, obj in vars(exceptions).items()
        if inspect.isclass(obj) and issubclass(obj, Warning | exceptions.HourglassError)
    }
    assert public <= set(hourglass.__all__)
    assert all(getattr(hourglass, name) is getattr(exceptions, name) for name in public)
