"""Peak memory (max RSS) of every path of the command line, against the budget's estimate.

For each ``--megapixels`` size, a picture is made from an HDR photo of the shared data
(``--source``, upsampled bicubically to that size) in a spawned child process: the EXR
itself (``scene.exr``), its SDR/HDR pair (``sdr.png`` + 16-bit PQ ``hdr.png``), then with
the command line a gainmlp photo (``photo.jpg``, Ultra HDR + payload) and a standard
Ultra HDR gain-map JPEG without payload (``uhdr.jpg``). Then each path runs as a child
process whose peak resident set is read from ``wait4``:

* ``pair``: ``gainmlp pair scene.exr``;
* ``encode``: ``gainmlp encode sdr.png hdr.png -o photo.jpg`` (pair encode);
* ``encode-tmo``: ``gainmlp encode scene.exr --tmo reinhard-devlin`` (a lone HDR image);
* ``reencode``: ``gainmlp encode uhdr.jpg -o mlp.jpg`` (re-encoding a gain-map JPEG);
* ``decode-gainmap-EXT`` / ``decode-payload-EXT``: ``gainmlp decode uhdr.jpg|photo.jpg
  -o out.EXT`` for each output format (png, avif, exr, tif, jpg).

Each is run with ``GAINMLP_MAX_MEMORY`` set to the budget's own estimate for it
(:func:`gainmlp.budget.path_estimate`, the smallest budget the command is let through
with), and the peak must stay within 1.2 x that budget; a second run at 0.9 x the estimate
must be refused (exit 2) before the work, with a small peak. ``--engine torch`` runs the
encodes with that engine, against the estimate with its extra (``memory.TORCH_EXTRA``).
Prints one row per path::

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

SOURCE = "/work/shared/data/hdr/MtTamWest.exr"
FORMATS = ("png", "avif", "exr", "tif", "jpg")
BOUND = 1.2


def peak_rss(cmd: list[str], env: dict | None = None) -> tuple[float, float, int, str]:
    """(seconds, peak RSS in MB, exit status, last stderr line) of a child process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=env)
    err = proc.stderr.read().decode(errors="replace").strip().splitlines()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return (time.perf_counter() - t0, usage.ru_maxrss / 1024.0, proc.returncode,
            err[-1] if err else "")


def write_inputs(folder: Path, megapixels: float, source: str) -> None:
    """scene.exr, sdr.png and hdr.png at ``megapixels`` from the HDR photo ``source``."""
    import numpy as np

    from gainmlp.io import atomic_write, encode_hdr_png, read_hdr_linear, write_sdr_png
    from gainmlp.io.hdr import _exr_bytes
    from gainmlp.pair import make_pair
    from gainmlp.resample import resize_bicubic_float

    linear = read_hdr_linear(source)
    aspect = linear.shape[1] / linear.shape[0]
    height = int(round((megapixels * 1e6 / aspect) ** 0.5))
    width = int(round(height * aspect))
    big = np.maximum(resize_bicubic_float(linear, width, height), 0.0).astype(np.float32)
    del linear
    atomic_write(folder / "scene.exr", _exr_bytes(big.astype(np.float16), 100.0))
    sdr, hdr = make_pair(big, primaries="bt2020", tmo="reinhard-devlin")
    del big
    write_sdr_png(folder / "sdr.png", sdr)
    atomic_write(folder / "hdr.png", encode_hdr_png(hdr.astype(np.float32) / 65535.0))


def _in_child(target, *args) -> None:
    """Run ``target`` in a spawned process: Linux carries a parent's peak RSS into the
    ``ru_maxrss`` of every child it forks afterwards, so this process must stay small."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    proc = ctx.Process(target=target, args=args)
    proc.start()
    proc.join()
    if proc.exitcode:
        raise SystemExit(f"{target.__name__}{args} failed ({proc.exitcode})")


def commands(tmp: Path, engine: str | None = None) -> dict[str, list[str]]:
    """Each path's arguments to ``gainmlp`` (inputs in ``tmp``; ``engine``: the encodes'
    ``--engine``, None for the default)."""
    t = str(tmp)
    fit = ["--engine", engine] if engine else []
    out = {
        "pair": ["pair", f"{t}/scene.exr", "-o", f"{t}/pair"],
        "encode": ["encode", f"{t}/sdr.png", f"{t}/hdr.png", "-o", f"{t}/enc.jpg", "-q",
                   *fit],
        "encode-tmo": ["encode", f"{t}/scene.exr", "--tmo", "reinhard-devlin", "-o",
                       f"{t}/tmo.jpg", "-q", *fit],
        "reencode": ["encode", f"{t}/uhdr.jpg", "-o", f"{t}/re.jpg", "-q", *fit],
    }
    for kind, src in (("gainmap", "uhdr.jpg"), ("payload", "photo.jpg")):
        for ext in FORMATS:
            out[f"decode-{kind}-{ext}"] = ["decode", f"{t}/{src}", "-o", f"{t}/out.{ext}"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--megapixels", type=float, nargs="*", default=[12.0, 24.0])
    ap.add_argument("--bound", type=float, default=BOUND,
                    help=f"largest peak / budget allowed (default {BOUND})")
    ap.add_argument("--source", default=SOURCE, help="HDR photo (EXR) to upsample")
    ap.add_argument("--paths", default=None,
                    help="comma-separated paths to run (default all; prefixes allowed)")
    ap.add_argument("--no-refusal", action="store_true",
                    help="skip the run at 0.9 x the estimate")
    ap.add_argument("--inputs", default=None, metavar="DIR",
                    help="measure on the inputs a previous run left in DIR (scene.exr, "
                    "sdr.png, hdr.png, photo.jpg, uhdr.jpg) instead of making them")
    ap.add_argument("--engine", default=None, choices=["numba", "torch", "autograd"],
                    help="the encodes' --engine (default: gainmlp's default); the budget "
                    "is that engine's estimate")
    ap.add_argument("--raw", action="store_true",
                    help="measure only: no budget set, no refusal run (to fit estimates)")
    args = ap.parse_args()
    if args.inputs:
        args.megapixels = [0.0]  # the size is read from the inputs
    if args.raw:
        args.no_refusal = True
        path_estimate = None
    else:
        from gainmlp.budget import path_estimate

    gainmlp = [sys.executable, "-m", "gainmlp"]
    env = {k: v for k, v in os.environ.items() if k != "GAINMLP_MAX_MEMORY"}
    print(f"{'MP':>5} {'path':<20} {'s':>6} {'peak MB':>8} {'est. MB':>8} {'peak/est':>8} "
          f"{'refused at 0.9x':>16}")
    failures = 0
    for mp in args.megapixels:
        with tempfile.TemporaryDirectory() as tmp_name:
            if args.inputs:
                from gainmlp.io.reading import declared_size

                tmp_name = args.inputs
                size = declared_size(Path(tmp_name) / "sdr.png")
                mp = round(size[0] * size[1] / 1e6, 1)
            tmp = Path(tmp_name)
            if not args.inputs:
                _in_child(write_inputs, tmp, mp, args.source)
            for name, extra in (("photo.jpg", []),
                                ("uhdr.jpg", ["--container", "ultrahdr", "--method",
                                              "gain-jpeg"])):
                if args.inputs:
                    break
                subprocess.run([*gainmlp, "encode", str(tmp / "sdr.png"), str(tmp / "hdr.png"),
                                "-o", str(tmp / name), "-q", *extra], check=True,
                               stdout=subprocess.DEVNULL, env=env)
            if mp == args.megapixels[0]:  # the kernels compiled and cached, not measured
                for name in ("photo.jpg", "uhdr.jpg"):
                    subprocess.run([*gainmlp, "decode", str(tmp / name), "-o",
                                    str(tmp / "warm.png")], check=True,
                                   stdout=subprocess.DEVNULL, env=env)
            for path, cmd in commands(tmp, args.engine).items():
                if args.paths and not any(path.startswith(p) for p in args.paths.split(",")):
                    continue
                inputs = [a for a in cmd if a.startswith(tmp_name) and Path(a).is_file()]
                need = (path_estimate(path, inputs, args.engine) if path_estimate
                        else 1 << 40)
                seconds, mb, status, err = peak_rss(
                    [*gainmlp, *cmd], {**env, "GAINMLP_MAX_MEMORY": str(need)})
                ratio = mb * 2**20 / need
                bad = status != 0 or ratio > args.bound
                refused = ""
                if not args.no_refusal:
                    s2, mb2, status2, _ = peak_rss(
                        [*gainmlp, *cmd], {**env, "GAINMLP_MAX_MEMORY": str(int(0.9 * need))})
                    refused = f"exit {status2}, {mb2:.0f} MB, {s2:.1f} s"
                    bad |= status2 != 2
                note = f"  (exit {status}: {err})" if status else ""
                note += "  FAIL" if bad else ""
                failures += bad
                print(f"{mp:5.1f} {path:<20} {seconds:6.1f} {mb:8.0f} {need / 2**20:8.0f} "
                      f"{ratio:8.2f} {refused:>16}{note}", flush=True)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"(this launcher's own peak, a floor under every figure above: {own:.0f} MB)")
    if failures:
        raise SystemExit(f"{failures} paths over {args.bound} x their budget or not refused")


if __name__ == "__main__":
    main()
