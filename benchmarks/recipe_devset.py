"""The fitting recipe on the dev set: the plain recipe against the default, pair by pair.

Every HDR image of ``--data`` is made into pairs by the pair maker (``--tmos``, long side
``--long-side``, box-filtered), then each configuration fits Gamma-MLP to each pair and
the decoded HDR's PQ PSNR and the fitting seconds are recorded (JSON lines in ``--out``,
resumable). The summary prints, per configuration, the mean PSNR difference to the first
configuration on the pairs both have, the worst and best pair, and the mean seconds.

Configurations (``--configs``):

* ``plain``: the recipe before the fused trainer: autograd, 1000 steps of 65,536 pixels,
  the default grid and schedule;
* ``default``: what ``gainmlp encode`` runs now (on a CPU: the CPU trainer, numba);
* ``torch``: the same recipe with the torch fused trainer (``--engine torch``, the
  default before issue 23);
* ``plain-paper`` / ``default-paper``: the same two for the paper's network
  (``--grid none --lr-schedule constant``).

Examples (the dev-set tables of docs/speed.md)::

    python benchmarks/recipe_devset.py --jobs 2 --out /tmp/recipe.jsonl
    python benchmarks/recipe_devset.py --configs torch default --out /tmp/engines.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

CONFIGS = {
    "plain": {"engine": "autograd", "batch": 65536},
    "default": {},
    "torch": {"engine": "torch"},
    "plain-paper": {"engine": "autograd", "batch": 65536, "grid": None,
                    "lr_schedule": "constant"},
    "default-paper": {"grid": None, "lr_schedule": "constant"},
}
DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "hdr"


def run_one(job: tuple[str, str, str]) -> dict:
    folder, pair, config = job
    os.environ["GAINMLP_THREADS"] = "1"
    import gainmlp
    from gainmlp.metrics import psnr

    sdr = gainmlp.read_sdr(Path(folder) / "sdr.png")
    hdr = gainmlp.read_hdr(Path(folder) / "hdr.png")
    t0 = time.perf_counter()
    payload = gainmlp.encode(sdr, hdr, "gamma-mlp", gainmlp.EncodeOptions(**CONFIGS[config]))
    seconds = time.perf_counter() - t0
    return {"pair": pair, "config": config, "seconds": seconds,
            "psnr": psnr(hdr, gainmlp.decode(payload, sdr.pixels)),
            "bytes": len(payload.to_bytes())}


def summarise(rows: list[dict], configs: list[str]) -> None:
    table = {c: {r["pair"]: r for r in rows if r["config"] == c} for c in configs}
    ref = table[configs[0]]
    print(f"{'config':<14} {'pairs':>5} {'PSNR':>7} {'vs ' + configs[0]:>10} {'worst':>7} "
          f"{'best':>7} {'seconds':>8}")
    for c in configs:
        got = table[c]
        common = [p for p in got if p in ref]
        diff = [got[p]["psnr"] - ref[p]["psnr"] for p in common] or [float("nan")]
        print(f"{c:<14} {len(got):>5} {np.mean([r['psnr'] for r in got.values()]):7.2f} "
              f"{np.mean(diff):+10.3f} {np.min(diff):+7.2f} {np.max(diff):+7.2f} "
              f"{np.mean([r['seconds'] for r in got.values()]):8.1f}")


def main() -> None:
    from gainmlp.evaluation import prepare_pairs

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--tmos", nargs="*", default=["reinhard-devlin", "drago", "ward", "local"])
    ap.add_argument("--images", nargs="*", default=None)
    ap.add_argument("--long-side", type=int, default=512)
    ap.add_argument("--configs", nargs="*", default=["plain", "default"], choices=list(CONFIGS))
    ap.add_argument("--cache", type=Path, default=Path("/tmp/gainmlp-recipe-cache"))
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--jobs", type=int, default=1)
    args = ap.parse_args()

    pairs = prepare_pairs(args.data, args.cache, tuple(args.tmos), args.long_side, args.images)
    done = set()
    if args.out.exists():
        done = {(r["pair"], r["config"]) for r in map(json.loads, args.out.open())}
    # pair by pair, the configurations interleaved (a change of machine load hits all alike)
    jobs = [(str(folder), f"{image}_{tmo}", c) for image, tmo, folder in pairs
            for c in args.configs if (f"{image}_{tmo}", c) not in done]
    with args.out.open("a") as fh, ProcessPoolExecutor(args.jobs) as pool:
        for row in pool.map(run_one, jobs):
            fh.write(json.dumps(row) + "\n")
            fh.flush()
            print(f"{row['pair']:<34} {row['config']:<14} {row['psnr']:6.2f} dB "
                  f"{row['seconds']:6.1f} s", flush=True)
    summarise([json.loads(line) for line in args.out.open()], args.configs)


if __name__ == "__main__":
    main()
