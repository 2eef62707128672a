"""Layers: every import inside hourglass points down the layers, and no two modules import each other.

The layers, bottom first (STYLE.md): ``data`` and the runtime (device, process and constant
modules), ``nn``, ``train``, ``estimators``, ``uses``, ``report``, ``cli``. A module may import its
own layer and those below it, never one above. Imports inside functions count as much as those at
the top of a file: a function-level import that exists to dodge a cycle is still the cycle.
"""

import ast
from pathlib import Path

import pytest

import hourglass

PACKAGE = Path(hourglass.__file__).parent
LAYERS = ("base", "nn", "train", "estimators", "uses", "report", "cli", "entry")

#: Modules outside the sub-packages, each placed by hand: a new one fails until it is placed.
TOP_LEVEL = {
    # The public facade re-exports estimators and uses (lazily) and is imported by nothing inside.
    "hourglass": "entry",
    "hourglass.__main__": "entry",
    "hourglass._version": "base",
    "hourglass.choices": "base",
    "hourglass.exceptions": "base",
    "hourglass.registry": "base",
}
SUB_PACKAGES = {"data": "base", "runtime": "base"} | {name: name for name in LAYERS[1:-1]}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str) -> str:
    if module in TOP_LEVEL:
        return TOP_LEVEL[module]
    sub = module.split(".")[1]
    if sub not in SUB_PACKAGES:
        raise AssertionError(f"{module} lies in no layer: add it to TOP_LEVEL or SUB_PACKAGES")
    return SUB_PACKAGES[sub]


def imports_of(module: str) -> list[tuple[str, int]]:
    """``(imported hourglass module, line)`` for every import in ``module``, at any depth.

    ``from a.b import c`` names the module ``a.b.c`` when that is a module, else ``a.b``;
    relative imports are resolved against the module's package.
    """
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.append((sub if sub in MODULES else base, node.lineno))
    ours = [(name, line) for name, line in found if name == "hourglass" or name.startswith("hourglass.")]
    return sorted(set(ours), key=lambda item: (item[1], item[0]))


GRAPH = {module: imports_of(module) for module in MODULES}


def _where(path: Path) -> str:
    return str(path.relative_to(PACKAGE.parent)) if path.is_relative_to(PACKAGE.parent) else str(path)


def upward_imports() -> list[str]:
    bad = []
    for module, imports in GRAPH.items():
        here = LAYERS.index(layer_of(module))
        for target, line in imports:
            if target in MODULES and LAYERS.index(layer_of(target)) > here:
                what = f"{layer_of(module)} imports {target} ({layer_of(target)})"
                bad.append(f"{_where(MODULES[module])}:{line} {what}")
    return bad


def import_cycles() -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan's algorithm)."""
    edges = {m: sorted({t for t, _ in imports if t in MODULES and t != m}) for m, imports in GRAPH.items()}
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(m: str) -> None:
        index[m] = low[m] = len(index)
        stack.append(m)
        on_stack.add(m)
        for t in edges[m]:
            if t not in index:
                visit(t)
                low[m] = min(low[m], low[t])
            elif t in on_stack:
                low[m] = min(low[m], index[t])
        if low[m] == index[m]:
            group = []
            while True:
                t = stack.pop()
                on_stack.discard(t)
                group.append(t)
                if t == m:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for m in edges:
        if m not in index:
            visit(m)
    return groups


def test_every_module_lies_in_a_layer():
    for module in MODULES:
        assert layer_of(module) in LAYERS


def test_no_import_points_up_the_layers():
    bad = upward_imports()
    assert not bad, "imports pointing up the layers:\n" + "\n".join(bad)


def test_no_import_cycles():
    cycles = import_cycles()
    assert not cycles, "modules that import each other: " + "; ".join(" <-> ".join(c) for c in cycles)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from hourglass.train import distributed\n", "hourglass.train.distributed"),
        ("def f():\n    from ..report import plots\n", "hourglass.report.plots"),
        ("from . import bottleneck\n", "hourglass.nn.bottleneck"),
        ("import hourglass.cli.app as app\n", "hourglass.cli.app"),
    ],
)
def test_the_walk_sees_every_form_of_import(tmp_path, monkeypatch, source, expected):
    # The check is only as good as its parser: each form of import must reach the graph.
    path = tmp_path / "probe.py"
    path.write_text(source)
    monkeypatch.setitem(MODULES, "hourglass.nn.probe", path)
    assert expected in [name for name, _ in imports_of("hourglass.nn.probe")]


def test_an_upward_import_is_reported_with_its_file_and_line(tmp_path, monkeypatch):
    probe = tmp_path / "probe.py"
    probe.write_text("import torch\n\n\ndef f():\n    from hourglass.estimators import base\n")
    monkeypatch.setitem(MODULES, "hourglass.nn.probe", probe)
    monkeypatch.setitem(GRAPH, "hourglass.nn.probe", imports_of("hourglass.nn.probe"))
    assert f"{probe}:5 nn imports hourglass.estimators.base (estimators)" in upward_imports()


def test_a_cycle_is_found(monkeypatch):
    monkeypatch.setitem(GRAPH, "hourglass.data.units", [("hourglass.data.table", 1)])
    monkeypatch.setitem(GRAPH, "hourglass.data.table", [("hourglass.data.units", 1)])
    assert ["hourglass.data.table", "hourglass.data.units"] in import_cycles()
