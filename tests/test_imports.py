"""The import diet (issue 19): ``gainmlp --version`` and the decode path load neither torch
nor matplotlib. colour-science imports matplotlib (``colour.plotting``) whenever ``colour``
is imported, so those paths must not import ``colour`` either (they use
:mod:`gainmlp.colourspaces`). Each check runs in a fresh interpreter and reads
``sys.modules``; how long the imports take is measured by ``benchmarks/decode_speed.py``,
never asserted here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "payloads"
HEAVY = ("torch", "matplotlib", "colour", "numba", "scipy", "skimage", "tqdm", "ray")

_PROBE = """
import json, sys
from gainmlp.cli import main
for argv in json.loads(sys.argv[1]):
    try:
        status = main(argv)
    except SystemExit as stop:
        status = stop.code
    if status:
        raise SystemExit(f"gainmlp {argv} exited with {status}")
print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & set(json.loads(sys.argv[2])))))
"""


def _loaded(*commands: list[str]) -> set[str]:
    """The heavy top-level packages a fresh interpreter holds after running ``commands``."""
    out = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(commands), json.dumps(HEAVY)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_version_imports_nothing_heavy() -> None:
    assert _loaded(["--version"]) == set()


def test_import_gainmlp_imports_nothing_heavy() -> None:
    code = ("import sys, gainmlp; print(sorted({m.split('.')[0] for m in sys.modules} & "
            f"{set(HEAVY)!r}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_decode_and_info_import_neither_torch_nor_matplotlib(tmp_path: Path) -> None:
    from gainmlp.container.app11 import embed_payload
    from gainmlp.io import encode_sdr_jpeg, read_sdr

    sdr = read_sdr(FIXTURES / "sdr.png")
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(embed_payload(encode_sdr_jpeg(np.asarray(sdr.pixels), 95),
                                    (FIXTURES / "v3-gamma-mixed.gmlp").read_bytes()))
    commands = [["decode", str(photo), "-o", str(tmp_path / f"out.{ext}")]
                for ext in ("png", "exr", "avif", "tif")]
    uhdr = tmp_path / "ultrahdr.jpg"
    commands += [["decode", str(photo), "-o", str(uhdr)],  # our payload -> Ultra HDR
                 ["decode", str(uhdr), "-o", str(tmp_path / "std.exr")],  # standard map
                 ["decode", str(uhdr), "-o", str(tmp_path / "std.png")],
                 ["decode", str(FIXTURES / "v3-gamma-mixed.gmlp"), "--sdr",
                  str(FIXTURES / "sdr.png"), "-o", str(tmp_path / "bare.png")],
                 ["info", str(photo)], ["info", str(uhdr)]]
    loaded = _loaded(*commands)
    # numba may serve the decoders' kernels (and numba imports scipy, when installed, to
    # check its version: the dev environment has it, the plain install not); the rest has no
    # place on the decode path
    assert loaded - {"numba", "scipy"} == set(), loaded


def test_the_plotting_commands_name_the_extra_they_need(tmp_path, monkeypatch, capsys) -> None:
    from gainmlp.cli import main

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if it were not installed
    for experiment in ("table4", "photos"):
        assert main(["bench", experiment, str(tmp_path), "-o", str(tmp_path / "out")]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and 'pip install "gainmlp[plot]"' in err, err
    assert not (tmp_path / "out").exists()


def test_the_reports_colour_map_is_matplotlibs_magma() -> None:
    matplotlib = pytest.importorskip("matplotlib")  # the reference (test extra)

    from gainmlp.evaluation.colourmap import MAGMA, sample

    for n in (2, 8, 256, 1000):
        ref = (np.asarray(matplotlib.colormaps["magma"](np.linspace(0, 1, n)))[:, :3] * 255)
        np.testing.assert_array_equal(sample(MAGMA, n), ref.round().astype(np.uint8))


def test_encode_imports_no_torch(tmp_path: Path) -> None:
    """The default encode fits with the CPU trainer (issue 23): no torch in the process,
    for a pair, several pairs fitted together and a gain-map JPEG re-encoded (rate
    control)."""
    import shutil

    from gainmlp.io import read_sdr, write_hdr

    sdr, sdr2 = tmp_path / "a_sdr.png", tmp_path / "b_sdr.png"
    hdr = tmp_path / "hdr.png"
    shutil.copy(FIXTURES / "sdr.png", sdr)
    shutil.copy(FIXTURES / "sdr.png", sdr2)
    pixels = np.asarray(read_sdr(sdr).pixels, np.float32) / 255.0
    write_hdr(hdr, (pixels ** 1.2 * 0.6).astype(np.float32))
    fast = ["--steps", "30", "--batch", "256"]
    loaded = _loaded(["encode", str(sdr), str(hdr), "-o", str(tmp_path / "a.jpg"), *fast],
                     ["encode", str(sdr), str(hdr), str(sdr2), str(hdr), "-o",
                      str(tmp_path / "many"), *fast],
                     ["encode", str(tmp_path / "a.jpg"), "-o", str(tmp_path / "b.jpg"),
                      "--steps", "30", "--batch", "256", "--target-psnr", "30"])
    assert "torch" not in loaded and "numba" in loaded, loaded


_NO_TORCH = """
import sys
sys.modules["torch"] = None  # as if PyTorch were not installed: importing it fails
from gainmlp.cli import main
try:
    status = main(sys.argv[1:])
except SystemExit as stop:
    status = stop.code
raise SystemExit(status)
"""


def test_without_torch_encode_works_and_torch_paths_name_the_extra(tmp_path: Path) -> None:
    import shutil

    sdr = tmp_path / "p_sdr.png"
    shutil.copy(FIXTURES / "sdr.png", sdr)
    from gainmlp.io import read_sdr, write_hdr

    pixels = np.asarray(read_sdr(sdr).pixels, np.float32) / 255.0
    write_hdr(tmp_path / "p_hdr.png", (pixels ** 1.2 * 0.6).astype(np.float32))

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-c", _NO_TORCH, *args], cwd=tmp_path,
                              capture_output=True, text=True, timeout=300)

    fast = ["--steps", "20", "--batch", "256"]
    ok = run("encode", "p_sdr.png", "p_hdr.png", "-o", "a.jpg", *fast)
    assert ok.returncode == 0, ok.stderr
    for flags in (["--engine", "autograd"], ["--engine", "torch"], ["--loss", "hdr"],
                  ["--method", "mlp-itm"], ["--device", "cuda"]):
        bad = run("encode", "p_sdr.png", "p_hdr.png", "-o", "b.jpg", *fast, *flags)
        assert bad.returncode == 2, (flags, bad.stderr)
        lines = bad.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("gainmlp: error:"), (flags, lines)
        assert "gainmlp[gpu]" in lines[0], lines
        assert not (tmp_path / "b.jpg").exists()


_NO_SCIPY = """
import importlib.abc, json, sys


class Absent(importlib.abc.MetaPathFinder):  # as if scipy, scikit-image, torch were not installed
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("scipy", "skimage", "torch"):
            raise ModuleNotFoundError(f"No module named {name!r}")
        return None


sys.meta_path.insert(0, Absent())
from gainmlp.cli import main
for argv in json.loads(sys.argv[1]):
    try:
        status = main(argv)
    except SystemExit as stop:
        status = stop.code
    if status:
        raise SystemExit(f"gainmlp {argv} exited with {status}")
import numba  # fails if colour-science's stand-in for scipy were still in sys.modules
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("scipy", "skimage"))))
"""


def test_the_plain_users_commands_need_neither_scipy_nor_scikit_image(tmp_path: Path) -> None:
    """Issue 23: the plain install has no scipy and no scikit-image (nor torch). The commands
    that used them (SSIM in eval/report/demo, the local tone mapper of pair and encode
    --tmo, the report's crops, the demo scene) run with their imports failing; and
    colour-science's MagicMock stand-in for the missing scipy (see
    ``gainmlp.colourspaces.colour_science``) does not stay behind to break numba. CI's
    no-torch run does this for real in an environment without them."""
    from batch_helpers import FAST_FLAGS, write_exr, write_pair

    sdr, hdr = write_pair(tmp_path, "p")
    exr = write_exr(tmp_path / "s.exr")
    commands = [["pair", str(exr), "--tmo", "local", "-o", str(tmp_path / "pair")],
                ["encode", str(exr), "--tmo", "local", "-o", str(tmp_path / "t.jpg"),
                 *FAST_FLAGS],
                ["eval", str(sdr), str(hdr), "--method", "gamma-jpeg", "--json"],
                ["report", str(sdr), str(hdr), "-o", str(tmp_path / "rep"), "--method",
                 "gain-jpeg", "-q"]]
    out = subprocess.run([sys.executable, "-c", _NO_SCIPY, json.dumps(commands)],
                         capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
    assert "scipy" not in out.stderr.lower(), out.stderr
    assert (tmp_path / "t.jpg").stat().st_size > 0
    assert (tmp_path / "rep" / "index.html").stat().st_size > 0
