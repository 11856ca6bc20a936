"""Coded grid storage (grid precision u8z..u4z): bytes saved and PSNR cost, per fitted grid.

For each photo of ``--photos`` (names or parts of names of the dev photos: the gain-map
JPEGs of ``../shared/data/gainmap`` and the Ultra HDR files made from the dev EXRs, as
``benchmarks/rate_ladder.py`` builds them) and each grid spec of ``--grids``, one rate
control fit (:func:`gainmlp.codecs.mlp.rate.fit_rung`: Gamma-MLP, width 16, fp16 weights,
the default recipe, the same held-out pixels as rate control) is run in full and recorded
(JSON lines in ``--out``, resumable): held-out PSNR of the stored network, payload bytes
as written, the payload with the grid values stored raw (one byte each), the coded values'
bytes per value, held-out highlight light ratio and seconds. ``--summary`` prints the
table docs/grid.md quotes.

Example (docs/grid.md, "Coded grid storage")::

    python benchmarks/grid_coding.py --out docs/results/grid/coding.jsonl \\
        --photos seine_sdr_different --grids 48x48x4:u8 48x48x4:u8z 48x48x4:u6z 48x48x4:u5z
    python benchmarks/grid_coding.py --out docs/results/grid/coding.jsonl --summary
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def run(args: argparse.Namespace) -> None:
    from gainmlp.codecs.mlp.grid import parse_grid_spec
    from gainmlp.codecs.mlp.rate import HeldOut, Rung, config_bytes, fit_rung, holdout_split
    from gainmlp.evaluation.photos import collect, load_photo, pq_pair
    from gainmlp.options import EncodeOptions

    out = Path(args.out)
    done = set()
    if out.exists():
        done = {(r["photo"], r["grid"]) for r in map(json.loads, out.read_text().splitlines())}
    files = collect([Path(d) for d in args.dirs], Path(args.cache), tuple(args.tmos))
    options = EncodeOptions()
    for item in files:
        if not any(w in item.name for w in args.photos):
            continue
        photo = load_photo(item.data)
        sdr, hdr = pq_pair(photo)
        keep, hold = holdout_split(sdr.shape[0] * sdr.shape[1], options.seed)
        held = HeldOut.of("gamma", sdr, hdr, 1 / 64, hold)
        for grid in args.grids:
            if (item.name, grid) in done:
                continue
            rung = Rung(None if grid == "none" else grid)
            t0 = time.perf_counter()
            trial = fit_rung("gamma-mlp", rung, sdr, hdr, 1 / 64, options, keep, held)
            raw = config_bytes(rung.grid, 16, "fp16", "raw")
            spec = parse_grid_spec(rung.grid)
            values = sum(int(np.prod(s)) for s in spec.shapes) if spec else 0
            coded = trial.payload_bytes - (raw - values)
            row = {"photo": item.name, "grid": grid, "held": round(trial.psnr, 3),
                   "payload": trial.payload_bytes, "raw_payload": raw,
                   "bytes_per_value": round(coded / values, 4) if values else None,
                   "light": None if trial.light is None else round(trial.light, 4),
                   "seconds": round(time.perf_counter() - t0, 1)}
            print(json.dumps(row), flush=True)
            with out.open("a") as fh:
                fh.write(json.dumps(row) + "\n")


def summary(path: Path) -> None:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    print("| photo | grid | held-out PSNR (dB) | payload (B) | raw u8 payload (B) | "
          "bytes per value |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        bpv = "" if r["bytes_per_value"] is None else f"{r['bytes_per_value']:.3f}"
        print(f"| {r['photo']} | {r['grid']} | {r['held']:.2f} | {r['payload']:,} | "
              f"{r['raw_payload']:,} | {bpv} |")
    by: dict[str, list[float]] = {}
    for r in rows:
        prec = r["grid"].partition(":")[2] or "fp16"
        if r["bytes_per_value"] is not None:
            by.setdefault(prec, []).append(r["bytes_per_value"])
    for prec, v in sorted(by.items()):
        print(f"{prec}: bytes per value mean {np.mean(v):.3f}, max {max(v):.3f} (n={len(v)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dirs", nargs="+",
                        default=[str(SHARED / "gainmap"), str(SHARED / "hdr")])
    parser.add_argument("--tmos", nargs="+", default=["reinhard-devlin", "local"])
    parser.add_argument("--photos", nargs="+", default=["seine_sdr_different"])
    parser.add_argument("--grids", nargs="+",
                        default=["48x48x4:u8", "48x48x4:u8z", "48x48x4:u6z", "48x48x4:u5z"])
    parser.add_argument("--cache", default="/tmp/gainmlp-photos-cache")
    parser.add_argument("--out", default="grid_coding.jsonl")
    parser.add_argument("--summary", action="store_true", help="only summarise --out")
    args = parser.parse_args()
    if args.summary:
        summary(Path(args.out))
    else:
        run(args)


if __name__ == "__main__":
    main()
