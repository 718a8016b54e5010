"""Layers only look down: every import in engine/ goes to the same layer or a lower one, and
no modules import each other in a cycle.

The stages, lowest first: core < plan < data < sim < jobs < report < app. Every import
statement counts, at top level or inside a function; only imports under
``if TYPE_CHECKING:`` (type names for annotations) are exempt.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ENGINE = Path(__file__).resolve().parents[1] / "engine"

LAYERS = ("core", "plan", "data", "sim", "jobs", "report", "app")

# Module prefix -> layer: the longest matching prefix decides. A new module must be placed here.
LAYER_OF = {
    "engine.core": "core",
    "engine.plan": "plan",
    "engine.data": "data",
    "engine.sim": "sim",
    "engine.jobs": "jobs",
    "engine.report": "report",
    "engine.app": "app",
}
ROOT_LAYER = "app"  # the package root `engine` itself: the public API, made of every layer


def module_name(path: Path, root: Path = ENGINE) -> str:
    """``engine/plan/lint.py`` -> ``engine.plan.lint``; ``engine/plan/__init__.py`` -> ``engine.plan``."""
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> str | None:
    """The layer of a module, by the longest prefix of :data:`LAYER_OF` it starts with (None for
    a module no prefix covers, such as a new top-level module nobody placed yet)."""
    if module == "engine":
        return ROOT_LAYER
    best = None
    for prefix in LAYER_OF:
        if (module == prefix or module.startswith(prefix + ".")) and (best is None or len(prefix) > len(best)):
            best = prefix
    return None if best is None else LAYER_OF[best]


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _resolve(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    """The absolute module a ``from`` import names (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(tree: ast.Module, module: str, is_package: bool, known: set[str]) -> list[tuple[str, int]]:
    """Every engine module imported anywhere in the tree, with its line, less the imports
    under ``if TYPE_CHECKING:``. ``from engine.x import y`` counts as importing
    ``engine.x.y`` when that is a module, else ``engine.x``."""
    found: list[tuple[str, int]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, node, is_package)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.append((sub if sub in known else base, node.lineno))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return [(name, line) for name, line in found if name == "engine" or name.startswith("engine.")]


def import_graph(root: Path = ENGINE) -> dict[str, list[tuple[str, int]]]:
    """Module -> the engine modules it imports (with line numbers), for every module under root."""
    paths = {module_name(p, root): p for p in sorted(root.rglob("*.py"))}
    graph = {}
    for name, path in paths.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        graph[name] = imports_of(tree, name, path.name == "__init__.py", set(paths))
    return graph


def upward_imports(graph: dict[str, list[tuple[str, int]]]) -> list[str]:
    """One line per import of a higher layer: ``module:line imports target (low -> high)``."""
    bad = []
    for module, targets in graph.items():
        mine = layer_of(module)
        for target, line in targets:
            theirs = layer_of(target)
            if mine is None or theirs is None:
                continue
            message = f"{module}:{line} imports {target} ({mine} layer -> {theirs} layer)"
            if LAYERS.index(theirs) > LAYERS.index(mine) and message not in bad:
                bad.append(message)
    return bad


def cycles(graph: dict[str, list[tuple[str, int]]]) -> list[list[str]]:
    """The import cycles: each strongly connected group of two or more modules (or a module
    importing itself), as one cycle through it (Tarjan's algorithm, iterative)."""
    edges = {m: sorted({t for t, _ in ts if t in graph}) for m, ts in graph.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    counter = 0
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(edges[start]))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, it = work[-1]
            nxt = next(it, None)
            if nxt is not None:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(edges[nxt])))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    m = stack.pop()
                    on_stack.discard(m)
                    group.append(m)
                    if m == node:
                        break
                if len(group) > 1 or node in edges[node]:
                    groups.append(_cycle_through(sorted(group), edges))
    return groups


def _cycle_through(group: list[str], edges: dict[str, list[str]]) -> list[str]:
    """A closed path inside a strongly connected group, from its first module back to it."""
    members = set(group)
    start = group[0]
    prev: dict[str, str] = {}
    frontier = [start]
    while frontier:  # breadth-first, so the named cycle is a shortest one through start
        nxt = []
        for m in frontier:
            for t in edges[m]:
                if t == start:
                    path = [m]
                    while path[-1] != start:
                        path.append(prev[path[-1]])
                    return [start] + path[::-1][1:] + [start]
                if t in members and t not in prev:
                    prev[t] = m
                    nxt.append(t)
        frontier = nxt
    return group  # pragma: no cover - a strongly connected group always has a cycle


def test_every_module_has_a_layer():
    """Every module of engine/ is placed in the layer table (a new folder must be placed)."""
    unplaced = [m for m in import_graph() if layer_of(m) is None]
    assert not unplaced, f"modules with no layer in tests/test_layers.py LAYER_OF: {unplaced}"
    assert set(LAYER_OF.values()) <= set(LAYERS)


def test_stage_folders():
    """Each stage of plan -> data -> sim -> jobs -> report -> app has its folder."""
    for stage in LAYERS:
        assert (ENGINE / stage / "__init__.py").is_file(), stage


def test_no_upward_import():
    """No module imports a higher layer, at top level or inside a function."""
    bad = upward_imports(import_graph())
    assert not bad, "upward imports (layers only look down):\n" + "\n".join(bad)


def test_no_import_cycle():
    """No modules import each other in a cycle, counting imports inside functions."""
    found = cycles(import_graph())
    assert not found, "import cycles:\n" + "\n".join(" -> ".join(c) for c in found)


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / "engine" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root / "engine"


def test_checker_catches_a_deliberately_bad_package(tmp_path):
    """The checks themselves work: an upward import inside a function and a cycle are found,
    and an import under TYPE_CHECKING is not counted."""
    root = _write(tmp_path, {
        "__init__.py": "",
        "plan/__init__.py": "",
        "plan/validate.py": "def f():\n    from engine.report.html import plan_html\n",
        "plan/lint.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from engine.sim.run import R\n"
                        "from . import parse\n",
        "plan/parse.py": "import engine.plan.lint\n",
        "report/__init__.py": "",
        "report/html.py": "from engine.sim import run\n",
        "sim/__init__.py": "",
        "sim/run.py": "",
    })
    graph = import_graph(root)
    assert upward_imports(graph) == ["engine.plan.validate:2 imports engine.report.html (plan layer -> report layer)"]
    assert cycles(graph) == [["engine.plan.lint", "engine.plan.parse", "engine.plan.lint"]]


@pytest.mark.parametrize("module, layer", [("engine", "app"), ("engine.core.errors", "core"),
                                           ("engine.core.inputs", "core"), ("engine.data.summary", "data"),
                                           ("engine.report.charts", "report"), ("engine.app.cli", "app")])
def test_layer_table(module, layer):
    """The longest prefix decides: the root is the app layer, engine.core.errors is core."""
    assert layer_of(module) == layer
