"""The import graph keeps the layers of docs/architecture.md: no circles, nothing imports upward."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import stcorr

PACKAGE = Path(stcorr.__file__).parent

# The layers, lowest first; a module may import its own layer and those below.
LAYERS = {
    "errors": 0, "console": 0, "files": 0, "progress": 0, "settings": 0,
    "data": 1, "metrics": 1, "alignment": 1,
    "pose": 2, "pose.skeleton": 1,  # the joints' names (no imports): data sets label with them
    "models": 3, "predictor": 3,
    "learners": 4,
    "config_schema": 5, "config": 5, "configs": 5, "training": 5,
    "evaluation": 6, "baselines": 6, "compare": 6,
    "viz": 7, "report": 7, "cli": 7,
}


def module_name(path: Path) -> str:
    parts = ("stcorr",) + path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> the stcorr modules it imports (at any depth of the file)."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            else:
                continue
            graph[name].update(t for t in targets if t in modules and t != name)
    return graph


def layer(module: str) -> int | None:
    """The layer of the longest key of LAYERS that ``module`` (``stcorr.X.Y``) starts with."""
    parts = module.split(".")[1:]
    for depth in range(len(parts), 0, -1):
        if ".".join(parts[:depth]) in LAYERS:
            return LAYERS[".".join(parts[:depth])]
    return None


def test_every_top_level_module_has_a_layer():
    names = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()
             if (p.suffix == ".py" and p.stem != "__init__") or (p.is_dir() and (p / "__init__.py").exists())}
    assert names - {key.split(".")[0] for key in LAYERS} == set()


def test_no_import_goes_up_a_layer():
    upward = sorted(f"{a} -> {b}" for a, targets in import_graph().items() for b in targets
                    if layer(a) is not None and layer(b) is not None and layer(b) > layer(a))
    assert upward == []


def test_no_import_circles():
    graph = import_graph()
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        order[node] = low[node] = len(order)
        stack.append(node)
        for nxt in graph.get(node, ()):
            if nxt not in order:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], order[nxt])
        if low[node] == order[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for module in list(graph):
        if module not in order:
            visit(module)
    assert circles == []


def unexplained_function_imports() -> list[str]:
    """Functions that import inside themselves with no reason given: a comment on the line before
    the function's first import, or at the end of it (an optional extra, start-up time, ...)."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        lines = path.read_text().splitlines()
        for function in ast.walk(ast.parse("\n".join(lines))):
            if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            imports = [node.lineno for node in ast.walk(function) if isinstance(node, (ast.Import, ast.ImportFrom))]
            if imports:
                first = min(imports)
                if not (lines[first - 2].strip().startswith("#") or "#" in lines[first - 1]):
                    found.append(f"{path.relative_to(PACKAGE)}:{first}")
    return found


def test_every_import_inside_a_function_says_why():
    assert unexplained_function_imports() == []
