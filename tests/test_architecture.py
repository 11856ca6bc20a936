"""The package's layout rules (docs/architecture.md): no import cycle between modules,
no module over 600 lines, evaluation and the CLI are leaves, containers sit below the API,
and the decoders never import torch."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"
PKG = SRC / "gainmlp"
MAX_LINES = 600


def _modules() -> dict[str, Path]:
    out = {}
    for path in PKG.rglob("*.py"):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """gainmlp modules ``name`` imports, anywhere in the file (lazy imports included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            targets = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in MODULES
                       else node.module for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in MODULES:
                t = t.rpartition(".")[0]
            # a module's own ancestors are imported by Python itself, not by the module
            if t and t != name and not name.startswith(t + "."):
                found.add(t)
    return found


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _cycles() -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in GRAPH:
        if v not in index:
            visit(v)
    return out


def test_the_graph_is_read() -> None:
    assert "gainmlp.api" in MODULES and "gainmlp.codecs.registry" in GRAPH["gainmlp.codecs"]


def test_no_import_cycle() -> None:
    assert _cycles() == []


def test_no_module_over_600_lines() -> None:
    long = {n: len(p.read_text().splitlines()) for n, p in MODULES.items()}
    assert {n: c for n, c in long.items() if c > MAX_LINES} == {}


@pytest.mark.parametrize("leaf", ["gainmlp.cli", "gainmlp.evaluation", "gainmlp.batch"])
def test_tools_are_leaves(leaf: str) -> None:
    users = sorted(n for n, deps in GRAPH.items()
                   if any(d == leaf or d.startswith(leaf + ".") for d in deps)
                   and not (n == leaf or n.startswith(leaf + "."))
                   and not (n == "gainmlp.cli" or n.startswith("gainmlp.cli."))
                   and n != "gainmlp.__main__")
    assert users == []


def test_containers_sit_below_the_api() -> None:
    above = ("gainmlp.api", "gainmlp.photo", "gainmlp.metrics", "gainmlp.evaluation")
    bad = {n: sorted(d for d in deps if d.startswith(above))
           for n, deps in GRAPH.items() if n.startswith("gainmlp.container")}
    assert {n: d for n, d in bad.items() if d} == {}


def _reaches(start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        v = todo.pop()
        if v not in seen:
            seen.add(v)
            todo.extend(GRAPH.get(v, ()))
    return seen


def test_decoders_never_import_torch() -> None:
    decoders = ["gainmlp.codecs.mlp.decode", "gainmlp.codecs.mlp_itm.decode",
                "gainmlp.codecs.conventional"]
    for dec in decoders:
        for mod in _reaches(dec):
            tree = ast.parse(MODULES[mod].read_text())
            names = {a.name.split(".")[0] for n in ast.walk(tree)
                     if isinstance(n, ast.Import) for a in n.names}
            names |= {n.module.split(".")[0] for n in ast.walk(tree)
                      if isinstance(n, ast.ImportFrom) and n.module}
            assert "torch" not in names, (dec, mod)
