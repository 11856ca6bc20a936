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
  (``--grid none --lr-schedule constant``);
* ``adam-1000``: the default before issue 23 item 3 (Adam, 1000 steps); ``adam-N`` /
  ``muon-N``: the optimiser at N steps (the default is ``muon-500``); ``torch-adam-1000``:
  the old default on the torch fused trainer;
* ``proto:NAME``: a prototype variant of the fewer-steps study (``fit_variants.py``:
  learning-rate schedules, variable projection, numpy Muon on chosen layers, held-out
  early stop), e.g. ``proto:s400-lr0.02-w50``.

Examples (the dev-set tables of docs/speed.md and docs/fewer-steps.md)::

    python benchmarks/recipe_devset.py --jobs 2 --out /tmp/recipe.jsonl
    python benchmarks/recipe_devset.py --configs torch default --out /tmp/engines.jsonl
    python benchmarks/recipe_devset.py --configs adam-1000 default torch adam-500 \
        --out /tmp/steps.jsonl
"""

from __future__ import annotations

import argparse
import contextlib
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
    "torch-adam-1000": {"engine": "torch", "optimiser": "adam", "steps": 1000},
}
for _n in (250, 300, 400, 500, 600, 1000):
    CONFIGS[f"adam-{_n}"] = {"optimiser": "adam", "steps": _n}
    CONFIGS[f"muon-{_n}"] = {"optimiser": "muon", "steps": _n}
DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "hdr"


def run_one(job: tuple[str, str, str]) -> dict:
    folder, pair, config = job
    os.environ["GAINMLP_THREADS"] = "1"
    import gainmlp
    from gainmlp.metrics import psnr

    sdr = gainmlp.read_sdr(Path(folder) / "sdr.png")
    hdr = gainmlp.read_hdr(Path(folder) / "hdr.png")
    if config.startswith("proto:"):
        from fit_variants import variant

        options, patch = variant(config[len("proto:"):])
    else:
        options, patch = gainmlp.EncodeOptions(**CONFIGS[config]), contextlib.nullcontext
    with patch():
        t0 = time.perf_counter()
        payload = gainmlp.encode(sdr, hdr, "gamma-mlp", options)
        seconds = time.perf_counter() - t0
    return {"pair": pair, "config": config, "seconds": seconds,
            "psnr": psnr(hdr, gainmlp.decode(payload, sdr.pixels)),
            "bytes": len(payload.to_bytes())}


def summarise(rows: list[dict], configs: list[str]) -> None:
    table = {c: {r["pair"]: r for r in rows if r["config"] == c} for c in configs}
    ref = table[configs[0]]
    print(f"{'config':<28} {'pairs':>5} {'PSNR':>7} {'vs ' + configs[0]:>14} {'worst':>7} "
          f"{'best':>7} {'seconds':>8} {'ratio':>6}")
    for c in configs:
        got = table[c]
        common = [p for p in got if p in ref]
        diff = [got[p]["psnr"] - ref[p]["psnr"] for p in common] or [float("nan")]
        ratio = (np.mean([got[p]["seconds"] for p in common])
                 / np.mean([ref[p]["seconds"] for p in common])) if common else float("nan")
        print(f"{c:<28} {len(got):>5} {np.mean([r['psnr'] for r in got.values()]):7.2f} "
              f"{np.mean(diff):+14.3f} {np.min(diff):+7.2f} {np.max(diff):+7.2f} "
              f"{np.mean([r['seconds'] for r in got.values()]):8.2f} {ratio:6.2f}")


def main() -> None:
    from gainmlp.evaluation import prepare_pairs

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--tmos", nargs="*", default=["reinhard-devlin", "drago", "ward", "local"])
    ap.add_argument("--images", nargs="*", default=None)
    ap.add_argument("--long-side", type=int, default=512)
    ap.add_argument("--configs", nargs="*", default=["plain", "default"],
                    help=f"{', '.join(CONFIGS)} or proto:NAME (fit_variants.py)")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/gainmlp-recipe-cache"))
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--jobs", type=int, default=1)
    args = ap.parse_args()
    bad = [c for c in args.configs if c not in CONFIGS and not c.startswith("proto:")]
    if bad:
        ap.error(f"unknown configurations {bad}")

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
