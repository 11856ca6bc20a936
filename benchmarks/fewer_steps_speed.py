"""Whole-process ``gainmlp encode`` of a ~1-MP pair: the fitting recipe of issue 23 item 3
(Muon, 500 steps: the default) against the recipe before (Adam, 1000 steps) on both
fused engines, in one run (docs/fewer-steps.md).

Each configuration runs ``gainmlp encode SDR HDR -o OUT.jpg -q FLAGS`` in a fresh process
(import, reading, fitting, writing), ``--repeat`` times, interleaved so that a change of
machine load hits every configuration alike, after one untimed warm-up run each (numba's
on-disk cache). Ratios are against ``torch-adam-1000`` (the torch fused trainer with the
recipe before: the issue's "today's whole-process time") measured in the same run:

* ``default``: ``gainmlp encode`` as shipped (numba CPU trainer, Muon, 500 steps);
* ``numba-adam-1000``: the CPU trainer with the recipe before (the default before);
* ``torch``: the torch fused trainer with the default recipe;
* ``torch-adam-1000``: the torch fused trainer with the recipe before.

The pair: ``--image`` (default MtTamWest, native 1214 x 732 = 0.89 MP, the largest of the
dev set) tone-mapped by ``--tmo`` with the pair maker. Example::

    python benchmarks/fewer_steps_speed.py --repeat 3
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

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "hdr"
CONFIGS = {
    "default": [],
    "numba-adam-1000": ["--optimiser", "adam", "--steps", "1000"],
    "torch": ["--engine", "torch"],
    "torch-adam-1000": ["--engine", "torch", "--optimiser", "adam", "--steps", "1000"],
}
BASE = "torch-adam-1000"


def run_encode(inputs: list[Path], out: Path, flags: list[str], threads: int | None) -> float:
    """Wall seconds of one ``gainmlp encode`` process."""
    env = dict(os.environ)
    if threads:
        env["GAINMLP_THREADS"] = str(threads)
    cmd = [sys.executable, "-m", "gainmlp", "encode", *map(str, inputs), "-o", str(out),
           "-q", *flags]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env=env)
    return time.perf_counter() - t0


def main() -> None:
    from gainmlp.evaluation import prepare_pairs

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--image", default="MtTamWest")
    ap.add_argument("--tmo", default="reinhard-devlin")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--configs", nargs="*", default=list(CONFIGS), choices=list(CONFIGS))
    ap.add_argument("--cache", type=Path, default=Path("/tmp/gainmlp-recipe-cache"))
    args = ap.parse_args()

    (_, _, folder), = prepare_pairs(args.data, args.cache, (args.tmo,), None, [args.image])
    inputs = [folder / "sdr.png", folder / "hdr.png"]
    seconds: dict[str, list[float]] = {c: [] for c in args.configs}
    with tempfile.TemporaryDirectory() as tmp:
        for c in args.configs:  # warm-up: numba's and torch's first-use caches
            run_encode(inputs, Path(tmp) / f"{c}.jpg", CONFIGS[c], args.threads)
        for r in range(args.repeat):
            for c in args.configs:
                seconds[c].append(run_encode(inputs, Path(tmp) / f"{c}.jpg", CONFIGS[c],
                                             args.threads))
                print(f"run {r + 1}: {c:<16} {seconds[c][-1]:6.2f} s", flush=True)
    base = statistics.median(seconds[BASE]) if BASE in seconds else None
    print(f"{'config':<16} {'median s':>9} {'min s':>7} {'vs ' + BASE:>20}")
    for c in args.configs:
        med = statistics.median(seconds[c])
        ratio = f"{med / base:20.2f}" if base else ""
        print(f"{c:<16} {med:9.2f} {min(seconds[c]):7.2f} {ratio}")


if __name__ == "__main__":
    main()
