"""Signals during a write (issue 22, cause 5): SIGTERM and SIGHUP clean up exactly as
Ctrl-C does (no ``.part`` file, no temporary folder, the old output intact, status 128 +
the signal), and a ``.part`` left by SIGKILL is removed by the next run into the folder.

The write is made slow deterministically, without a timing guess: the command runs in a
child process whose ``os.fsync`` (called once the temporary file holds every byte) first
creates a READY file and then sleeps; the test sends the signal once READY exists. The
EXR case does the same inside OpenEXR's writer (after it has written the whole image), where
the old code held a temporary folder with the EXR in it. Every wait has a timeout.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.filterwarnings("ignore")

TIMEOUT = 120

HOOK = """
import os, signal, sys, time
# as an interactive shell starts it: a pytest started in the background (SIGINT ignored,
# which its children inherit and Python then keeps) must not make Ctrl-C a no-op here
signal.signal(signal.SIGINT, signal.default_int_handler)
ready = sys.argv[1]
def slow(*args, **kwargs):
    open(ready, "w").close()
    time.sleep(60)
    raise SystemExit("the signal did not arrive")
if sys.argv[2] == "fsync":
    os.fsync = slow
else:
    import OpenEXR
    write = OpenEXR.File.write
    def slow_exr(self, target):
        write(self, target)
        slow()
    OpenEXR.File.write = slow_exr
from gainmlp.cli import main
sys.exit(main(sys.argv[3:]))
"""


@pytest.fixture(scope="module")
def photo(tmp_path_factory) -> Path:
    """A 400x300 gain-map JPEG (conventional method: no fit)."""
    from conftest import synthetic_pair

    import gainmlp.io as imageio
    from gainmlp.cli import main

    folder = tmp_path_factory.mktemp("signals")
    sdr, hdr = synthetic_pair(300, 400)
    imageio.write_sdr_png(folder / "sdr.png", sdr)
    imageio.write_hdr(folder / "hdr.png", hdr)
    assert main(["encode", str(folder / "sdr.png"), str(folder / "hdr.png"), "-o",
                 str(folder / "photo.jpg"), "--method", "gain-jpeg",
                 "--container", "ultrahdr"]) == 0
    return folder / "photo.jpg"


def _start(tmp: Path, hook: str, argv: list[str]) -> tuple[subprocess.Popen, Path]:
    ready = tmp / "READY"
    env = {**os.environ, "TMPDIR": str(tmp / "scratch"), "GAINMLP_THREADS": "1"}
    (tmp / "scratch").mkdir(exist_ok=True)
    proc = subprocess.Popen([sys.executable, "-c", HOOK, str(ready), hook, *map(str, argv)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    deadline = time.monotonic() + TIMEOUT
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            out, err = proc.communicate()
            pytest.fail(f"the write never started: {out} {err}")
        time.sleep(0.05)
    return proc, ready


def _finish(proc: subprocess.Popen) -> tuple[int, str]:
    try:
        _, err = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("the command did not stop after the signal")
    return proc.returncode, err


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()
                  if p.name.endswith(".part") or p.name.startswith("tmp"))


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_during_the_write_leaves_no_part_file(tmp_path, photo, signum) -> None:
    out = tmp_path / "out.png"
    out.write_bytes(b"the previous output")
    proc, _ = _start(tmp_path, "fsync", ["decode", photo, "-o", out])
    assert any(p.name.endswith(".part") for p in tmp_path.iterdir())  # mid-write
    proc.send_signal(signum)
    code, err = _finish(proc)
    assert code == 128 + signum if signum != signal.SIGINT else code == 130, (code, err)
    assert "gainmlp: interrupted" in err and "Traceback" not in err, err
    assert out.read_bytes() == b"the previous output"
    assert _leftovers(tmp_path) == [], _leftovers(tmp_path)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_inside_the_exr_writer_leaves_no_temporary_folder(tmp_path, photo,
                                                                   signum) -> None:
    out = tmp_path / "out.exr"
    proc, _ = _start(tmp_path, "exr", ["decode", photo, "-o", out])
    proc.send_signal(signum)
    code, err = _finish(proc)
    assert code == 128 + signum, (code, err)
    assert not out.exists()
    assert list((tmp_path / "scratch").iterdir()) == []
    assert _leftovers(tmp_path) == []


def test_a_part_left_by_sigkill_is_removed_by_the_next_run(tmp_path, photo) -> None:
    out = tmp_path / "out.png"
    proc, _ = _start(tmp_path, "fsync", ["decode", photo, "-o", out])
    proc.kill()
    proc.communicate(timeout=TIMEOUT)
    parts = [p for p in tmp_path.iterdir() if p.name.endswith(".part")]
    assert len(parts) == 1 and parts[0].stat().st_size > 0
    from gainmlp.cli import main

    assert main(["decode", str(photo), "-o", str(tmp_path / "again.png")]) == 0
    assert not parts[0].exists() and not out.exists()
    assert (tmp_path / "again.png").read_bytes()[:4] == b"\x89PNG"
