"""Tasks as objects: one class per task, the only code that knows a task by its name."""

import ast
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from hourglass.estimators.params import PARAMS
from hourglass.exceptions import ExportError, InvalidInputError
from hourglass.registry import TASK_HELP, TASKS
from hourglass.train.tasks import TASK_CLASSES, Task, task_for, task_of
from hourglass.uses.restoration import CLASSICAL, MASKED, baselines

SRC = Path(__file__).resolve().parents[1] / "src" / "hourglass"
#: The modules allowed to know the tasks by name: their declaration and their classes.
TASK_MODULES = {SRC / "registry.py", SRC / "train" / "tasks.py"}


def _task_names_in(node: ast.AST) -> list[str]:
    """The task names a literal spells out: a string, or a tuple / list / set of them."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in TASKS:
        return [node.value]
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return [name for element in node.elts for name in _task_names_in(element)]
    return []


def _task_tests(tree: ast.AST) -> list[int]:
    """Lines that test a value against a task name: comparisons, and dicts keyed by task names."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and any(_task_names_in(n) for n in (node.left, *node.comparators)):
            lines.append(node.lineno)
        elif isinstance(node, ast.Dict) and any(_task_names_in(k) for k in node.keys if k is not None):
            lines.append(node.lineno)
        elif isinstance(node, ast.match_case) and _task_names_in(getattr(node.pattern, "value", None)):
            lines.append(node.pattern.lineno)
    return lines


def _name_lists(tree: ast.AST) -> list[int]:
    """Lines of literals that list two task names or more (a declaration of the names)."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)) and len(_task_names_in(node)) >= 2:
            lines.append(node.lineno)
        elif isinstance(node, ast.Dict):
            if sum(bool(_task_names_in(k)) for k in node.keys if k is not None) >= 2:
                lines.append(node.lineno)
    return lines


def _modules():
    return [(path, ast.parse(path.read_text(), str(path))) for path in sorted(SRC.rglob("*.py"))]


# -- the names, declared once and compared nowhere else ------------------------------------------
def test_no_module_outside_the_task_classes_compares_a_task_name():
    found = [
        f"{path.relative_to(SRC)}:{line}"
        for path, tree in _modules()
        if path not in TASK_MODULES
        for line in _task_tests(tree)
    ]
    assert not found, f"task names compared outside hourglass.train.tasks: {found}"


def test_the_checks_catch_a_task_comparison():
    code = 'a = task == "denoise"\nb = t in ("colorize", "inpaint")\nc = {"super_resolve": 1}[t]\n'
    assert _task_tests(ast.parse(code)) == [1, 2, 3]
    assert _name_lists(ast.parse(code)) == [2]


def test_task_names_are_declared_once():
    lists = [f"{path.relative_to(SRC)}:{line}" for path, tree in _modules() for line in _name_lists(tree)]
    assert len(lists) == 1 and lists[0].startswith("registry.py"), lists


def test_everything_that_lists_tasks_reads_the_one_declaration():
    (param,) = [p for p in PARAMS if p.name == "task"]
    assert param.choices is TASKS and param.default == TASKS[0]
    assert tuple(TASK_HELP) == TASKS == tuple(TASK_CLASSES)
    assert all(cls.name == name and issubclass(cls, Task) for name, cls in TASK_CLASSES.items())


# -- the lookup ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["deblur", "", None, ["denoise"]])
def test_task_for_rejects_an_unknown_name_with_the_choices(name):
    with pytest.raises(InvalidInputError, match=r"task=.*; expected one of \('reconstruct'"):
        task_for(name)


@pytest.mark.parametrize("factor", [1, 5, 8])
def test_super_resolve_rejects_an_unknown_factor(factor):
    with pytest.raises(InvalidInputError, match=f"scale_factor={factor}"):
        task_for("super_resolve", scale_factor=factor)


def test_task_of_reads_the_estimator_parameters_its_task_takes():
    est = SimpleNamespace(task="denoise", noise="masking", noise_level=0.3, scale_factor=8)
    assert task_of(est) == task_for("denoise", noise="masking", noise_level=0.3)
    assert task_of(SimpleNamespace(task="super_resolve", scale_factor=4)).scale_factor == 4


def test_an_estimator_without_a_task_reconstructs():
    task = task_of(object())
    assert task.name == TASKS[0] and not task.restoration and task.describe() is None


# -- what each task does --------------------------------------------------------------------------
def _scaler(kind="none", channels=3):
    return SimpleNamespace(
        kind=kind,
        offset=np.full((channels, 1, 1), 0.5, np.float32),
        scale=np.full((channels, 1, 1), 2.0, np.float32),
    )


RESTORATIONS = [name for name in TASKS if task_for(name).restoration]


@pytest.mark.parametrize("name", TASKS)
def test_every_task_has_its_help_line_and_baselines_the_restoration_module_knows(name):
    task = task_for(name)
    assert task.help == TASK_HELP[name]
    assert task.baselines and set(task.baselines) <= set(CLASSICAL) | set(MASKED)
    assert task.convs_per_block == (2 if task.restoration else 1)


@pytest.mark.parametrize(
    "name, expected",
    [
        ("reconstruct", ["input"]),
        ("denoise", ["non-local means", "total variation"]),
        ("colorize", ["grayscale input"]),
        ("super_resolve", ["bicubic"]),
        ("inpaint", ["input", "biharmonic inpainting"]),
    ],
)
def test_baselines_of_each_task(name, expected):
    corrupted = np.random.default_rng(0).random((3, 12, 12)).astype(np.float32)
    holes = np.zeros((12, 12), bool)
    holes[4:8, 3:9] = True
    out = baselines(name, corrupted, sigma=0.1, mask=holes)
    assert list(out) == expected and all(v.shape == corrupted.shape for v in out.values())


@pytest.mark.parametrize("name", TASKS)
@pytest.mark.parametrize("kind", ["none", "standard"])
def test_training_pairs_keep_the_shape_and_the_target(name, kind):
    clean = torch.rand(4, 3, 16, 16)
    corruption = task_for(name).training_corruption(None, _scaler(kind))
    if name == "reconstruct":
        assert corruption is None  # the input is the target
        return
    noisy = corruption(clean.clone(), torch.Generator().manual_seed(0))
    assert noisy.shape == clean.shape and noisy.dtype == clean.dtype
    assert not torch.equal(noisy, clean)  # the input differs from the target


def test_colorize_input_is_gray_and_inpaint_blanks_boxes_in_pixel_units():
    clean = torch.rand(2, 3, 16, 16)
    gray = task_for("colorize").training_corruption(None, _scaler())(clean, None)
    assert torch.allclose(gray[:, 0], gray[:, 1]) and torch.allclose(gray[:, 1], gray[:, 2])
    # Scaled data: the hole is 0 in pixels, so (0 - 0.5) / 2 in the network's units.
    holes = task_for("inpaint").training_corruption(None, _scaler("standard"))(clean, torch.Generator())
    changed = (holes - clean).abs() > 1e-5  # the rest only went through pixel units and back
    assert changed.any() and torch.allclose(holes[changed], torch.tensor(-0.25))


def test_denoise_adds_gaussian_noise_of_its_level_unless_given_a_noise():
    clean = torch.zeros(8, 1, 32, 32)
    task = task_for("denoise", noise_level=0.2)
    noisy = task.training_corruption(None, _scaler())(clean, torch.Generator().manual_seed(0))
    assert abs(float(noisy.std()) - 0.2) < 0.02
    given = lambda batch, generator: batch + 1  # noqa: E731
    assert task.training_corruption(given, _scaler())(clean, None).eq(1).all()
    assert task_for("reconstruct").training_corruption(given, _scaler()) is given


@pytest.mark.parametrize(
    "name, settings, shape, expected",
    [
        ("reconstruct", {}, (2, 1, 8, 8), (2, 1, 8, 8)),
        ("denoise", {}, (2, 3, 8, 8), (2, 3, 8, 8)),
        ("colorize", {}, (2, 1, 8, 8), (2, 3, 8, 8)),  # gray photos give their luminance on RGB
        ("super_resolve", {"scale_factor": 3}, (2, 1, 8, 8), (2, 1, 24, 24)),
        ("inpaint", {}, (2, 3, 8, 8), (2, 3, 8, 8)),
    ],
)
def test_network_input_of_what_apply_is_given(name, settings, shape, expected):
    assert task_for(name, **settings).network_input(torch.rand(*shape)).shape == expected


@pytest.mark.parametrize("name", TASKS)
def test_export_input_does_what_network_input_does(name):
    task = task_for(name, scale_factor=2)
    shape = (3, 16, 16)
    low = torch.rand(2, *task.export_input_shape(shape))
    module = task.export_input(shape)
    out = low if module is None else module(low)
    torch.testing.assert_close(out, task.network_input(low))
    assert out.shape[1:] == shape


def test_super_resolve_refuses_to_export_a_size_the_factor_does_not_divide():
    with pytest.raises(ExportError, match="1/4"):
        task_for("super_resolve", scale_factor=4).export_input((1, 18, 16))


def test_colorize_checks_samples_and_sets_its_config():
    task = task_for("colorize", chroma_subsampling=2)
    with pytest.raises(InvalidInputError, match="task='colorize' needs RGB images"):
        task.check_samples((1, 8, 8))
    task.check_samples((3, 8, 8))
    fields = task.config_fields(_scaler())
    assert fields["chroma"] and fields["chroma_subsampling"] == 2 == task.patch_scale
    assert fields["pixel_offset"] == (0.5, 0.5, 0.5) and task.channels == (16, 32, 64, 128)
    assert task_for("denoise").config_fields(_scaler()) == {} and task_for("denoise").channels is None


@pytest.mark.parametrize(
    "name, settings, wording",
    [
        ("denoise", {}, "task denoise (gaussian noise, sigma 0.1)"),
        ("denoise", {"noise": "masking", "noise_level": 0.25}, "task denoise (masking noise, rate 0.25)"),
        ("colorize", {}, "task colorize (chroma from luminance)"),
        ("super_resolve", {"scale_factor": 4}, "task super_resolve (x4)"),
        ("inpaint", {}, "task inpaint (2 boxes of 25% of each side)"),
    ],
)
def test_report_wording(name, settings, wording):
    assert task_for(name, **settings).describe() == wording


@pytest.mark.parametrize(
    "settings, scaling, sigma",
    [({}, "none", 0.1), ({}, "standard", None), ({"noise": "masking"}, "none", None)],
)
def test_denoisers_get_the_true_sigma_only_in_pixel_units(settings, scaling, sigma):
    assert task_for("denoise", **settings).baseline_sigma(scaling) == sigma
    assert all(task_for(name).baseline_sigma("none") is None for name in TASKS if name != "denoise")
