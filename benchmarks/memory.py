"""Peak memory (max RSS) of ``gainmlp encode`` and ``gainmlp decode`` at large sizes.

For each ``--megapixels`` size: the demo scene made into a pair at that size (written as
sdr.png + 16-bit PQ hdr.png), then ``gainmlp encode sdr.png hdr.png -o photo.jpg`` and
``gainmlp decode photo.jpg -o out.exr`` each run as a child process whose peak resident
set is read from ``wait4``. Prints seconds and MB per command::

    python benchmarks/memory.py --megapixels 12 24
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from gainmlp.io import atomic_write, encode_hdr_png, write_sdr_png
from gainmlp.pair import make_pair
from gainmlp.resample import resize_bicubic_u8
from gainmlp.scene import demo_scene


def peak_rss(cmd: list[str]) -> tuple[float, float, int]:
    """(seconds, peak RSS in MB, exit status) of a child process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return time.perf_counter() - t0, usage.ru_maxrss / 1024.0, proc.returncode


def write_pair(folder: Path, megapixels: float) -> tuple[Path, Path]:
    width = int(round((megapixels * 1e6 * 4 / 3) ** 0.5))
    height = int(round(width * 3 / 4))
    sdr_small, hdr_small = make_pair(demo_scene(240, 320), "bt2020", "reinhard-devlin")
    sdr = resize_bicubic_u8(sdr_small, width, height)
    # the HDR: the small rendition's PQ codes upscaled per channel (a smooth stand-in)
    hdr = np.stack([resize_bicubic_u8((hdr_small[:, :, c] >> 8).astype(np.uint8), width,
                                      height) for c in range(3)], axis=-1)
    write_sdr_png(folder / "sdr.png", sdr)
    atomic_write(folder / "hdr.png", encode_hdr_png(hdr.astype(np.float32) / 255.0))
    return folder / "sdr.png", folder / "hdr.png"


def _write_pair_in_child(folder: Path, megapixels: float) -> None:
    """Write the pair in a spawned process: Linux carries a parent's peak RSS into the
    ``ru_maxrss`` of every child it forks afterwards, so this process must stay small."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    proc = ctx.Process(target=write_pair, args=(folder, megapixels))
    proc.start()
    proc.join()
    if proc.exitcode:
        raise SystemExit(f"writing the {megapixels} MP pair failed ({proc.exitcode})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--megapixels", type=float, nargs="*", default=[12.0, 24.0])
    args = ap.parse_args()
    gainmlp = [sys.executable, "-m", "gainmlp"]
    print(f"{'MP':>6} {'command':<8} {'seconds':>8} {'peak MB':>8}")
    for mp in args.megapixels:
        with tempfile.TemporaryDirectory() as tmp:
            _write_pair_in_child(Path(tmp), mp)
            sdr, hdr = Path(tmp) / "sdr.png", Path(tmp) / "hdr.png"
            photo = Path(tmp) / "photo.jpg"
            for name, cmd in (("encode", [*gainmlp, "encode", str(sdr), str(hdr), "-o",
                                          str(photo), "-q"]),
                              ("decode", [*gainmlp, "decode", str(photo), "-o",
                                          str(Path(tmp) / "out.exr")])):
                seconds, mb, status = peak_rss(cmd)
                note = "" if status == 0 else f"  (exit {status})"
                print(f"{mp:6.1f} {name:<8} {seconds:8.1f} {mb:8.0f}{note}", flush=True)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"(this launcher's own peak, a floor under every figure above: {own:.0f} MB)")


if __name__ == "__main__":
    main()
