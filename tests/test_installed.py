"""What a user of a non-editable install gets (CI installs the project into a second
environment with ``pip install .`` and points ``GAINMLP_INSTALLED_PYTHON`` at it).

Skipped without that variable: in a development checkout the package is the source tree.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from batch_helpers import write_pair

PYTHON = os.environ.get("GAINMLP_INSTALLED_PYTHON")
pytestmark = pytest.mark.skipif(not PYTHON, reason="GAINMLP_INSTALLED_PYTHON is not set")
SRC = Path(__file__).resolve().parents[1] / "src"


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, *args], cwd=cwd, capture_output=True, text=True,
                          check=True, timeout=600)


def test_the_installed_package_is_not_the_source_tree(tmp_path):
    where = run("-c", "import gainmlp; print(gainmlp.__file__)", cwd=tmp_path).stdout.strip()
    assert "site-packages" in where and not where.startswith(str(SRC))
    typed = Path(where).parent / "py.typed"
    assert typed.is_file()


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_installed_report_panel_decodes(tmp_path):
    from gainmlp.photo import decode_photo

    write_pair(tmp_path, "p", 0)
    run("-m", "gainmlp", "report", "p_sdr.png", "p_hdr.png", "-o", "rep", "--method",
        "gamma-jpeg", "-q", cwd=tmp_path)
    page = (tmp_path / "rep" / "index.html").read_text()
    start = page.index("(function () {\n'use strict';\nconst gainmlpBundle")
    end = page.index("</script>", start)
    (tmp_path / "bundle.js").write_text(page[start:end])
    code = ("const vm = require('vm'), fs = require('fs'); const ctx = { window: {}, performance };"
            "vm.createContext(ctx); vm.runInContext(fs.readFileSync(process.argv[1], 'utf8'), ctx);"
            "const r = ctx.window.gainmlp.decodeGainmlpSync(new Uint8Array(fs.readFileSync("
            "process.argv[2]))); process.stdout.write(Buffer.from(r.hdr.buffer));")
    photo = tmp_path / "rep" / "gamma-jpeg.jpg"
    out = subprocess.run(["node", "-e", code, str(tmp_path / "bundle.js"), str(photo)],
                         capture_output=True, check=True)
    js = np.frombuffer(out.stdout, dtype="<f4")
    python = decode_photo(photo.read_bytes()).reshape(-1)
    assert js.size == python.size and float(np.abs(js - python).max()) <= 1e-4


def test_the_plain_install_encodes_and_decodes_without_torch(tmp_path):
    """``pip install .`` brings no torch (issue 23): the default encode (the CPU trainer)
    and the decode run there, and what needs torch says which extra brings it."""
    has_torch = run("-c", "import importlib.util as u; print(u.find_spec('torch') is not None)",
                    cwd=tmp_path).stdout.strip()
    assert has_torch == "False"
    write_pair(tmp_path, "p", 0)
    run("-m", "gainmlp", "encode", "p_sdr.png", "p_hdr.png", "-o", "p.jpg", "--steps", "100",
        cwd=tmp_path)
    run("-m", "gainmlp", "decode", "p.jpg", "-o", "p.exr", cwd=tmp_path)
    from gainmlp.io import read_hdr
    from gainmlp.metrics import psnr
    from gainmlp.photo import decode_photo

    rebuilt = decode_photo((tmp_path / "p.jpg").read_bytes())
    assert psnr(read_hdr(tmp_path / "p_hdr.png"), rebuilt) > 30
    assert (tmp_path / "p.exr").stat().st_size > 0
    failed = subprocess.run([PYTHON, "-m", "gainmlp", "encode", "p_sdr.png", "p_hdr.png", "-o",
                             "q.jpg", "--engine", "autograd"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=600)
    assert failed.returncode == 2 and not (tmp_path / "q.jpg").exists()
    assert failed.stderr.strip().startswith("gainmlp: error:")
    assert "gainmlp[gpu]" in failed.stderr and len(failed.stderr.strip().splitlines()) == 1
