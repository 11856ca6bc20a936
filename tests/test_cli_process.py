"""What the ``gainmlp`` command does to its own process to start and end faster (issue 19),
and that none of it reaches a library caller's process:

* ``decode`` starts numba *lean*: without cffi, scipy and yaml, which no kernel needs
  (:data:`gainmlp.kernels.LEAN_SKIPPED`); the modules import normally again afterwards;
* ``decode``/``info`` run without the cyclic garbage collector, and every command freezes
  the heap before the interpreter's shutdown;
* ``main(argv)`` called from Python (as these tests and library callers do) leaves the
  garbage collector and ``sys.modules`` as they were.

How much time each saves is measured by ``benchmarks/decode_speed.py`` (docs/speed.md),
never asserted here.
"""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gainmlp import kernels
from gainmlp.cli import main

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "payloads"


def test_start_without_hides_modules_only_inside_the_context() -> None:
    name = "gainmlp_test_not_imported_module_xyz"
    assert name not in sys.modules
    with kernels._start_without([name, "json"]):  # json is imported already: untouched
        with pytest.raises(ImportError):
            __import__(name)
        import json  # noqa: F401
        assert sys.modules[name] is None
    assert name not in sys.modules and sys.modules["json"] is not None


def test_start_without_restores_even_on_error() -> None:
    name = "gainmlp_test_not_imported_module_abc"
    with pytest.raises(RuntimeError):
        with kernels._start_without([name]):
            raise RuntimeError("boom")
    assert name not in sys.modules


def test_in_process_main_leaves_gc_alone(tmp_path: Path, capsys) -> None:
    assert gc.isenabled()
    frozen = gc.get_freeze_count()
    assert main(["info", str(FIXTURES / "sdr.png")]) in (0, 2)
    assert gc.isenabled() and gc.get_freeze_count() == frozen


_PROBE = """
import gc, sys
sys.argv = ["gainmlp", *sys.argv[1:]]
from gainmlp.cli import main
status = main()
import numba.np.arraymath as arraymath
print(status, gc.isenabled(), gc.get_freeze_count() > 0, arraymath._HAVE_BLAS,
      "cffi" in sys.modules, sys.modules.get("scipy", "absent") is None)
try:
    import scipy.linalg  # importable again: the lean start hid it only while numba started
except ModuleNotFoundError:
    if sys.modules.get("scipy", "absent") is None:  # still hidden
        raise
    # else not installed at all (the plain install, CI's run without torch)
"""


@pytest.mark.skipif(not kernels.compiled(), reason="GAINMLP_KERNELS=numpy: no numba start")
def test_decode_process_starts_numba_lean_and_freezes(tmp_path: Path) -> None:
    from gainmlp.container.app11 import embed_payload
    from gainmlp.io import encode_sdr_jpeg, read_hdr, read_sdr

    sdr = read_sdr(FIXTURES / "sdr.png")
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(embed_payload(encode_sdr_jpeg(np.asarray(sdr.pixels), 95),
                                    (FIXTURES / "v3-gamma-mixed.gmlp").read_bytes()))
    out = tmp_path / "out.png"
    done = subprocess.run([sys.executable, "-c", _PROBE, "decode", str(photo), "-o", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    status, gc_on, frozen, blas, cffi, scipy_hidden = done.stdout.split()[-6:]
    assert (status, gc_on, frozen, blas, cffi, scipy_hidden) == (
        "0", "False", "True", "False", "False", "False")
    # the same pixels as the library's decode in this (not lean) process
    from gainmlp.photo import decode_file

    _, expected = decode_file(photo.read_bytes(), str(photo))
    written = read_hdr(out)
    assert np.abs(written - np.round(expected * 65535) / 65535).max() < 1e-6


@pytest.mark.skipif(not kernels.compiled(), reason="GAINMLP_KERNELS=numpy: no numba start")
def test_encode_process_starts_numba_lean(tmp_path: Path) -> None:
    from batch_helpers import FAST_FLAGS, write_pair

    sdr, hdr = write_pair(tmp_path, "p")
    out = tmp_path / "p.jpg"
    done = subprocess.run([sys.executable, "-c", _PROBE, "encode", str(sdr), str(hdr), "-o",
                           str(out), "-q", *FAST_FLAGS], capture_output=True, text=True,
                          timeout=300, cwd=Path(__file__).parent)
    assert done.returncode == 0, done.stderr
    status, _, _, blas, cffi, scipy_hidden = done.stdout.split()[-6:]
    # numba started without BLAS and cffi, and scipy is importable again afterwards
    assert (status, blas, cffi, scipy_hidden) == ("0", "False", "False", "False")
    assert out.stat().st_size > 0


@pytest.mark.parametrize("warm", [False, True])
def test_encode_says_when_the_trainer_compiles(tmp_path: Path, monkeypatch, capsys, warm) -> None:
    from batch_helpers import FAST_FLAGS, write_pair

    seen = []

    def fake_warm(kernels_):
        seen.append(kernels_)
        return warm

    monkeypatch.setattr(kernels, "cache_is_warm", fake_warm)
    sdr, hdr = write_pair(tmp_path, "p")
    argv = ["encode", str(sdr), str(hdr), "-o", str(tmp_path / "p.jpg"), "-q", *FAST_FLAGS]
    assert main(argv + ["--engine", "numba"]) == 0
    err = capsys.readouterr().err
    assert ("compiling the encoder's kernels" in err) is (not warm and kernels.compiled())
    assert seen in ([kernels.TRAIN_KERNELS + kernels.MAP_KERNELS], [])
    # a conventional method fits no network: never a notice
    seen.clear()
    assert main(["encode", str(sdr), str(hdr), "-o", str(tmp_path / "c.gmlp"),
                 "--method", "gain-jpeg"]) == 0
    assert seen == [] and "compiling" not in capsys.readouterr().err
