"""Size on disk of an installed environment: the total of its site-packages and each
distribution's share (issue 23: the plain ``pip install`` stays under 600 MB).

Run it with the environment's own interpreter, e.g. after
``python3 -m venv /tmp/v && /tmp/v/bin/pip install -c constraints.txt .``::

    /tmp/v/bin/python scripts/install_size.py            # table, largest first
    /tmp/v/bin/python scripts/install_size.py --json     # for tests/test_installed.py

Sizes are the sums of the regular files' sizes (``os.stat().st_size``, bytes; MB = 10**6
bytes), not the disk blocks they take; symbolic links are not followed. The total is the
whole of every site-packages directory of the interpreter (``site.getsitepackages()``),
pip, setuptools and the ``__pycache__`` directories that exist at the time included; the
table attributes each file a distribution's RECORD lists to that distribution, and what no
RECORD lists (byte code written later, ...) to "(unlisted)". ``gainmlp_bytes`` is the share
of gainmlp and of what it requires, recursively, without extras: what ``pip install
gainmlp`` brings, less pip and setuptools (in the total), whatever else was installed
beside it (pytest, say).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import site
import sys
from importlib import metadata
from pathlib import Path


def tree_bytes(root: Path) -> dict[Path, int]:
    """Every regular file under ``root`` (links not followed) with its size in bytes."""
    sizes: dict[Path, int] = {}
    for folder, _dirs, files in os.walk(root):
        for name in files:
            path = Path(folder, name)
            if not path.is_symlink() and path.is_file():
                sizes[path.resolve()] = path.stat().st_size
    return sizes


def _closure(root: str) -> set[str]:
    """Normalised names of ``root`` and of the installed distributions it requires,
    recursively; requirements of extras (``; extra == ...``) are left out."""
    def norm(name: str) -> str:
        return re.sub(r"[-_.]+", "-", name).lower()

    installed = {norm(d.metadata["Name"]): d for d in metadata.distributions()}
    seen: set[str] = set()
    todo = [norm(root)]
    while todo:
        name = todo.pop()
        if name in seen or name not in installed:
            continue
        seen.add(name)
        for req in installed[name].requires or ():
            if "extra" not in req.partition(";")[2]:
                todo.append(norm(re.match(r"[A-Za-z0-9._-]+", req.strip()).group(0)))
    return seen


def measure() -> dict:
    """Total bytes of the interpreter's site-packages and the bytes of each distribution."""
    roots = [Path(p) for p in site.getsitepackages() if Path(p).is_dir()]
    sizes: dict[Path, int] = {}
    for root in roots:
        sizes.update(tree_bytes(root))
    owned: dict[str, int] = {}
    seen: set[Path] = set()
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        for file in dist.files or ():
            path = Path(file.locate()).resolve()
            if path in sizes and path not in seen:
                seen.add(path)
                owned[name] = owned.get(name, 0) + sizes[path]
    unlisted = sum(size for path, size in sizes.items() if path not in seen)
    closure = _closure("gainmlp")
    gainmlp_bytes = sum(size for name, size in owned.items()
                        if re.sub(r"[-_.]+", "-", name).lower() in closure)
    if unlisted:
        owned["(unlisted)"] = unlisted
    return {"site_packages": [str(r) for r in roots], "total_bytes": sum(sizes.values()),
            "gainmlp_bytes": gainmlp_bytes,
            "distributions": dict(sorted(owned.items(), key=lambda kv: -kv[1]))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the measurement as JSON")
    args = parser.parse_args(argv)
    result = measure()
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{sys.executable}: {', '.join(result['site_packages'])}")
    for name, size in result["distributions"].items():
        print(f"{size / 1e6:9.1f} MB  {name}")
    print(f"{result['total_bytes'] / 1e6:9.1f} MB  total")
    print(f"{result['gainmlp_bytes'] / 1e6:9.1f} MB  gainmlp and what it requires")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
