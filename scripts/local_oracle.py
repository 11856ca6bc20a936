"""Why the local tone mapper's residual resists a 10 KB code (docs/grid.md).

Runs :mod:`gainmlp.evaluation.local_oracle`: the paper's Gamma-MLP fitted on one pair
with extra per-pixel inputs (``--arms``), one CPU thread, PQ PSNR printed per arm.

Example (~512-px images)::

    python scripts/local_oracle.py --image Tree --tmo local --size 512
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from gainmlp.evaluation import TONE_MAPPERS
from gainmlp.evaluation.local_oracle import ARMS, run_oracle

# the dev images: $GAINMLP_DATA, else shared/data/hdr beside this checkout
DATA = Path(os.environ.get("GAINMLP_DATA", Path(__file__).resolve().parents[2] / "shared"
                          / "data" / "hdr"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DATA, help=f"folder of .exr/.hdr ({DATA})")
    ap.add_argument("--image", default="Tree")
    ap.add_argument("--tmo", default="local", choices=TONE_MAPPERS)
    ap.add_argument("--size", type=int, default=512, help="long side; 0 = full resolution")
    ap.add_argument("--arms", nargs="+", default=list(ARMS), choices=ARMS)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=16384)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/gainmlp_pairs"),
                    help="pair cache folder (the grid study's)")
    args = ap.parse_args()
    run_oracle(args.data, args.image, args.tmo, args.size, args.cache, tuple(args.arms),
               args.steps, args.batch, args.seed)


if __name__ == "__main__":
    main()
