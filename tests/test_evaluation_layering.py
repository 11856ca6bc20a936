"""The evaluation subpackage sits on top of the library: the library never imports it, and
the scripts that launch it use public names only."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "gainmlp"
SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
# the launchers of gainmlp.evaluation
LAUNCHERS = ("grid_experiments.py", "local_oracle.py", "summarise_results.py")


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, imported names) of every import statement of a file."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:  # relative: resolve against the file's package
                package = path.parent.relative_to(SRC.parent).parts
                package = package[:len(package) - node.level + 1]
                module = ".".join((*package, module) if module else package)
            out.append((module, [alias.name for alias in node.names]))
    return out


def _library_modules() -> list[Path]:
    evaluation = SRC / "evaluation"
    return sorted(p for p in SRC.rglob("*.py")
                  if evaluation not in p.parents and SRC / "cli" not in p.parents)


def test_the_scan_sees_the_library():
    names = {p.relative_to(SRC).as_posix() for p in _library_modules()}
    assert {"api.py", "tonemap.py", "codecs/__init__.py"} <= names
    assert not any(n.startswith(("evaluation/", "cli/")) for n in names)


@pytest.mark.parametrize("path", _library_modules(), ids=lambda p: p.relative_to(SRC).as_posix())
def test_library_never_imports_evaluation(path):
    for module, names in _imports(path):
        assert not (module == "gainmlp.evaluation" or module.startswith("gainmlp.evaluation.")
                    or (module == "gainmlp" and "evaluation" in names)), (
            f"{path.relative_to(SRC)} imports {module} {names}: only the CLI may")


@pytest.mark.parametrize("name", LAUNCHERS)
def test_launchers_use_public_names_only(name):
    path = SCRIPTS / name
    text = path.read_text()
    assert "sys.path" not in text, f"{name} edits sys.path"
    for module, names in _imports(path):
        if module.split(".")[0] != "gainmlp":
            assert module in ("argparse", "os", "pathlib", "__future__"), (
                f"{name} imports {module}: a launcher parses arguments and calls gainmlp")
            continue
        private = [part for part in module.split(".") + names if part.startswith("_")]
        assert not private, f"{name} imports private {module} {names}"

