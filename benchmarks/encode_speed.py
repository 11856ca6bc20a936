"""Whole-process encoding time (issue 23): ``gainmlp encode`` of a ~1-MP pair, per engine.

Each configuration runs ``gainmlp encode SDR HDR -o OUT.jpg`` in a fresh process (import,
reading, fitting, writing: what a user waits for), ``--repeat`` times, interleaved so that
a change of machine load hits every configuration alike; the PSNR is the payload's (the
decoded HDR against the source HDR, PQ code values, the SDR as stored in the file). Ratios
are against the torch fused trainer measured in the same run:

* ``numba``: the default (the CPU trainer, no torch imported);
* ``torch``: the torch fused trainer (``--engine torch``), the default before issue 23;
* ``autograd``: the plain recipe (``--engine autograd --batch 65536``).

The pair is made from a shared HDR image by the pair maker (``--image``, ``--tmo``, long
side ``--long-side``; the default, MtTamWest at its native 1214 x 732, is 0.89 MP, the
largest of the dev set). ``--threads`` sets ``GAINMLP_THREADS`` for every process (on a
CPU shared with other jobs one thread is often faster). Example (docs/speed.md)::

    python benchmarks/encode_speed.py --repeat 3

``--photo-megapixels MP`` times instead the re-encoding of a gain-map JPEG of that size
(``gainmlp encode uhdr.jpg -o re.jpg``, rate control on by default: several fits), made
from the same HDR image upsampled as ``benchmarks/memory.py`` makes its pictures, for the
``numba`` and ``torch`` engines, with each process's peak resident memory;
``--before CHECKOUT`` adds the default engine of an older checkout (its ``src`` on
``PYTHONPATH``; e.g. ``git worktree add /tmp/old COMMIT``) in the same run::

    python benchmarks/encode_speed.py --photo-megapixels 12.5 --repeat 1 --threads 1
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "hdr"
CONFIGS = {
    "numba": [],
    "torch": ["--engine", "torch"],
    "autograd": ["--engine", "autograd", "--batch", "65536"],
}


def run_encode(inputs: list[Path], out: Path, flags: list[str],
               threads: int | None = None, tree: Path | None = None
               ) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, peak resident MB) of one ``gainmlp encode`` process
    (``tree``: a checkout whose ``src`` is imported instead of the installed gainmlp)."""
    cmd = [sys.executable, "-m", "gainmlp", "encode", *map(str, inputs), "-o", str(out),
           "-q", *flags]
    env = dict(os.environ)
    if threads:
        env["GAINMLP_THREADS"] = str(threads)
    if tree is not None:
        env["PYTHONPATH"] = str(tree / "src")
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    err = proc.stderr.read().decode(errors="replace").strip()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"{' '.join(cmd)} failed: {err}")
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0


def encode_once(sdr: Path, hdr: Path, out: Path, flags: list[str],
                threads: int | None = None) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one ``gainmlp encode`` of a pair."""
    return run_encode([sdr, hdr], out, flags, threads)[:2]


def reencode(args: argparse.Namespace) -> None:
    """The ``--photo-megapixels`` run (module docstring)."""
    import memory  # benchmarks/memory.py: the same upsampled pictures

    folder = args.cache / f"photo_{args.photo_megapixels:g}mp"
    folder.mkdir(parents=True, exist_ok=True)
    source = str(args.data / f"{args.image}.exr")
    if not (folder / "uhdr.jpg").exists():
        memory._in_child(memory.write_inputs, folder, args.photo_megapixels, source)
        run_encode([folder / "sdr.png", folder / "hdr.png"], folder / "uhdr.jpg",
                   ["--container", "ultrahdr"])
    print(f"re-encoding a {args.photo_megapixels:g}-MP Ultra HDR JPEG made from {source}")
    rows = {c: [] for c in ("numba", "torch") if c in args.configs}
    trees = {}
    if args.before:  # the default engine of an older checkout, its kernels compiled first
        rows["before"], trees["before"] = [], args.before
        run_encode([folder / "uhdr.jpg"], folder / "warm.jpg", ["--steps", "2"],
                   args.threads, args.before)
    for r in range(args.repeat):
        for c in rows:
            rows[c].append(run_encode([folder / "uhdr.jpg"], folder / f"re_{c}.jpg",
                                      CONFIGS.get(c, []), args.threads, trees.get(c)))
            wall, used, peak = rows[c][-1]
            print(f"  run {r + 1} {c:<6} {wall:7.1f} s wall {used:7.1f} s CPU "
                  f"{peak:6.0f} MB peak", flush=True)
    for c, got in rows.items():
        wall = statistics.median(g[0] for g in got)
        used = statistics.median(g[1] for g in got)
        ratio = ""
        if "torch" in rows and c != "torch":
            ratio = (f"  vs torch: wall {wall / statistics.median(g[0] for g in rows['torch']):.2f}"
                     f", CPU {used / statistics.median(g[1] for g in rows['torch']):.2f}")
        print(f"{c:<6} {wall:7.1f} s wall {used:7.1f} s CPU "
              f"{max(g[2] for g in got):6.0f} MB peak{ratio}")


def payload_psnr(photo: Path, hdr: Path) -> float:
    """PSNR (dB, PQ) of the HDR the file's payload rebuilds against the source HDR."""
    import gainmlp
    from gainmlp.metrics import psnr

    _, rebuilt = gainmlp.load_photo(str(photo))
    return psnr(gainmlp.read_hdr(str(hdr)), rebuilt)


def main() -> None:
    from gainmlp.evaluation import prepare_pairs

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--image", default="MtTamWest")
    ap.add_argument("--tmo", default="reinhard-devlin")
    ap.add_argument("--long-side", type=int, default=1214)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--configs", nargs="*", default=list(CONFIGS), choices=list(CONFIGS))
    ap.add_argument("--cache", type=Path, default=Path("/tmp/gainmlp-encode-speed"))
    ap.add_argument("--photo-megapixels", type=float, default=None,
                    help="time re-encoding a gain-map JPEG of this size instead")
    ap.add_argument("--before", type=Path, default=None, metavar="CHECKOUT",
                    help="with --photo-megapixels: also time the default engine of an "
                    "older checkout (e.g. a git worktree), as 'before'")
    args = ap.parse_args()
    if args.photo_megapixels:
        reencode(args)
        return

    [(_, _, folder)] = prepare_pairs(args.data, args.cache, (args.tmo,), args.long_side,
                                     [args.image])
    sdr, hdr = folder / "sdr.png", folder / "hdr.png"
    import gainmlp

    h, w = gainmlp.read_sdr(str(sdr)).pixels.shape[:2]
    print(f"pair: {args.image} {args.tmo}, {w} x {h} ({w * h / 1e6:.2f} MP)")
    seconds: dict[str, list[float]] = {c: [] for c in args.configs}
    cpu: dict[str, list[float]] = {c: [] for c in args.configs}
    psnrs: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        encode_once(sdr, hdr, Path(tmp) / "warm.jpg", ["--steps", "2"])  # numba's cache
        for r in range(args.repeat):
            for c in args.configs:
                out = Path(tmp) / f"{c}.jpg"
                wall, used = encode_once(sdr, hdr, out, CONFIGS[c], args.threads)
                seconds[c].append(wall)
                cpu[c].append(used)
                if r == 0:
                    psnrs[c] = payload_psnr(out, hdr)
                print(f"  run {r + 1} {c:<9} {wall:7.2f} s wall {used:7.2f} s CPU", flush=True)
    base = statistics.median(seconds["torch"]) if "torch" in seconds else None
    base_cpu = statistics.median(cpu["torch"]) if "torch" in cpu else None
    print(f"{'engine':<9} {'wall s':>8} {'min':>7} {'vs torch':>9} {'CPU s':>7} "
          f"{'vs torch':>9} {'PSNR dB':>8}")
    for c in args.configs:
        med, med_cpu = statistics.median(seconds[c]), statistics.median(cpu[c])
        ratio = f"{med / base:9.2f}" if base else f"{'':>9}"
        ratio_cpu = f"{med_cpu / base_cpu:9.2f}" if base_cpu else f"{'':>9}"
        print(f"{c:<9} {med:8.2f} {np.min(seconds[c]):7.2f} {ratio} {med_cpu:7.2f} "
              f"{ratio_cpu} {psnrs[c]:8.2f}")


if __name__ == "__main__":
    main()
