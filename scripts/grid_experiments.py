"""Measure the learned low-resolution grid beside the Gamma-MLP (docs/grid.md).

Runs :mod:`gainmlp.evaluation.grid_study`: fits each named configuration (``--configs``,
see ``grid_study.CONFIGS``) and baseline on every image x tone mapper, prints a line per
fit, appends it to the JSON-lines file ``--out`` (``--resume`` skips what is there), then
prints a table of means per tone mapper and a table per pair. ``--report`` fits nothing
and prints the tables of ``--out`` averaged over the seeds run.

The dev-set table of docs/grid.md (all 8 images, native resolution, the paper's 65,536
pixels per step) ran on one GPU with four worker processes::

    python scripts/grid_experiments.py --size 0 --batch 65536 --device cuda --jobs 4 \\
        --images Bonita CandleGlass Cannon Desk KernerEnvLatLong MtTamWest StageEnvLatLong \\
        Tree --tmos local reinhard-devlin drago ward --configs plain auto \\
        --out devset.jsonl

Example (exploration, ~512-px images)::

    GAINMLP_THREADS=1 python scripts/grid_experiments.py --size 512 --batch 16384 \\
        --images Tree Desk MtTamWest --tmos local reinhard-devlin \\
        --configs plain plain-fp16 g32 g16u8 --out /tmp/grid_explore.jsonl
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from gainmlp.errors import GainMLPError
from gainmlp.evaluation import TONE_MAPPERS
from gainmlp.evaluation import grid_study as gs

# the dev images: $GAINMLP_DATA, else shared/data/hdr beside this checkout
DATA = Path(os.environ.get("GAINMLP_DATA", Path(__file__).resolve().parents[2] / "shared"
                          / "data" / "hdr"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DATA, help=f"folder of .exr/.hdr ({DATA})")
    ap.add_argument("--images", nargs="+", default=["Tree", "Desk", "MtTamWest"])
    ap.add_argument("--tmos", nargs="+", default=["local", "reinhard-devlin"],
                    choices=TONE_MAPPERS)
    ap.add_argument("--configs", nargs="+", default=["plain", "g32"])
    ap.add_argument("--baselines", nargs="*", default=list(gs.BASELINES))
    ap.add_argument("--size", type=int, default=512, help="long side; 0 = full resolution")
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=16384)
    ap.add_argument("--out", type=Path, default=Path("/tmp/grid_experiments.jsonl"))
    ap.add_argument("--cache", type=Path, default=Path("/tmp/gainmlp_pairs"),
                    help="pair cache folder")
    ap.add_argument("--resume", action="store_true", help="skip rows already in --out")
    ap.add_argument("--device", default="cpu", help="cpu, cuda or auto (fitting only)")
    ap.add_argument("--jobs", type=int, default=1, help="worker processes, one pair each")
    ap.add_argument("--seed", type=int, default=0, help="fitting seed")
    ap.add_argument("--method", default="gamma-mlp", choices=gs.MLP_METHODS,
                    help="MLP method of the configs; rows of gain/direct are named "
                    "gain:CONFIG / direct:CONFIG")
    ap.add_argument("--report", action="store_true",
                    help="fit nothing: print the tables of --out, averaged over seeds")
    args = ap.parse_args()
    names = list(args.baselines) + list(args.configs)
    if args.report:
        print(gs.seed_report(gs.read_rows(args.out), names, args.images, args.tmos))
        return
    try:
        gs.check_configs(args.configs)
    except GainMLPError as e:
        ap.error(str(e))
    study = gs.Study(args.data, args.out, args.cache, size=args.size, steps=args.steps,
                     batch=args.batch, seed=args.seed, device=args.device, method=args.method)
    rows = gs.run_study(study, args.images, args.tmos, names, jobs=args.jobs,
                        resume=args.resume)
    print()
    print(gs.study_tables(rows, [gs.row_name(n, args.method) for n in names], args.images,
                          args.tmos))


if __name__ == "__main__":
    main()
