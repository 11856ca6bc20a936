"""The base JPEG's noise (issue 21 item 5): file-level quality against total file bytes for
base JPEG qualities and chroma subsamplings, no format change.

For every dev pair (pair maker, ``--tmos``, long side ``--long-side``), the SDR is written
as a baseline JPEG at each quality of ``--qualities`` with 4:4:4 and 4:2:0 chroma
(Pillow/libjpeg-turbo, optimised Huffman tables, as ``gainmlp.io.encode_sdr_jpeg`` writes
bases), decoded again, and the Gamma-MLP payload is fitted to that decoded base (the
closed loop ``gainmlp encode`` runs) at each grid of ``--grids``; recorded per row: the
base bytes, the payload bytes, the total (base + payload + the APP11 framing), and the PQ
PSNR of the HDR rebuilt from the decoded base against the pair's HDR (the file level of
``gainmlp eval``). Rows go to ``--out`` (JSON lines, resumable); ``--summary`` prints, per
configuration, the mean total bytes and PSNR, and the PSNR each configuration reaches at
the total bytes of today's default (quality 95, 4:4:4, ``32x32x4:u8``), interpolated on
the quality ladder of the same subsampling and grid.

Example (docs/results/base_jpeg.md)::

    python benchmarks/base_jpeg.py --out docs/results/base_jpeg.jsonl
    python benchmarks/base_jpeg.py --out docs/results/base_jpeg.jsonl --summary
"""

from __future__ import annotations

import argparse
import io
import json
import time
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
APP11_FRAMING = 4 + 17  # marker + length, then the segment header (one segment)


def run(args: argparse.Namespace) -> None:
    from PIL import Image

    import gainmlp
    from gainmlp import SdrImage
    from gainmlp.evaluation.pairs import prepare_pairs, read_pair
    from gainmlp.io.sdr import decode_sdr_bytes
    from gainmlp.metrics import psnr

    out = Path(args.out)
    done = set()
    if out.exists():
        done = {(r["pair"], r["quality"], r["chroma"], r["grid"])
                for r in map(json.loads, out.read_text().splitlines())}
    pairs = prepare_pairs(SHARED / "hdr", Path(args.cache), tuple(args.tmos), args.long_side)
    for image, tmo, folder in pairs:
        sdr, hdr = read_pair(folder)
        name = f"{image}_{tmo}"
        for quality in args.qualities:
            for chroma, sub in (("444", 0), ("420", 2)):
                buf = io.BytesIO()
                Image.fromarray(sdr.pixels, "RGB").save(buf, "JPEG", quality=quality,
                                                        subsampling=sub, optimize=True)
                base = buf.getvalue()
                decoded = decode_sdr_bytes(base, name).pixels
                for grid in args.grids:
                    if (name, quality, chroma, grid) in done:
                        continue
                    t0 = time.perf_counter()
                    payload = gainmlp.encode(SdrImage(decoded, sdr.encoding), hdr, "gamma-mlp",
                                             gainmlp.EncodeOptions(grid=grid))
                    rebuilt = gainmlp.decode(payload, decoded)
                    size = len(payload.to_bytes())
                    row = {"pair": name, "quality": quality, "chroma": chroma, "grid": grid,
                           "base_bytes": len(base), "payload_bytes": size,
                           "total_bytes": len(base) + size + APP11_FRAMING,
                           "psnr": round(psnr(hdr, rebuilt), 3),
                           "sdr_psnr": round(psnr(sdr.pixels / 255.0, decoded / 255.0), 3),
                           "seconds": round(time.perf_counter() - t0, 1)}
                    print(json.dumps(row), flush=True)
                    with out.open("a") as fh:
                        fh.write(json.dumps(row) + "\n")


def summary(path: Path, default: tuple[int, str, str]) -> None:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    pairs = sorted({r["pair"] for r in rows})
    configs = sorted({(r["chroma"], r["grid"]) for r in rows})
    qualities = sorted({r["quality"] for r in rows})
    at = {(r["pair"], r["quality"], r["chroma"], r["grid"]): r for r in rows}
    complete = [p for p in pairs if all((p, q, c, g) in at for q in qualities
                                        for c, g in configs)]
    print(f"{len(complete)} pairs with every configuration measured")
    print("| base quality | chroma | grid | mean total bytes | mean base bytes | mean PSNR (dB) | "
          "mean SDR PSNR (dB) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for c, g in configs:
        for q in qualities:
            rs = [at[(p, q, c, g)] for p in complete]
            print(f"| {q} | {c} | {g} | {np.mean([r['total_bytes'] for r in rs]):,.0f} | "
                  f"{np.mean([r['base_bytes'] for r in rs]):,.0f} | "
                  f"{np.mean([r['psnr'] for r in rs]):.2f} | "
                  f"{np.mean([r['sdr_psnr'] for r in rs]):.2f} |")
    dq, dc, dg = default
    print(f"\nPSNR at the total bytes of quality {dq} {dc} {dg}, per pair, interpolated on "
          "each configuration's quality ladder (mean over the pairs; n = pairs inside the "
          "ladder's byte range):")
    for c, g in configs:
        gains = []
        for p in complete:
            budget = at[(p, dq, dc, dg)]["total_bytes"]
            xs = [at[(p, q, c, g)]["total_bytes"] for q in qualities]
            ys = [at[(p, q, c, g)]["psnr"] for q in qualities]
            order = np.argsort(xs)
            xs, ys = np.asarray(xs)[order], np.asarray(ys)[order]
            if xs[0] <= budget <= xs[-1]:
                gains.append(float(np.interp(budget, xs, ys)) - at[(p, dq, dc, dg)]["psnr"])
        if gains:
            print(f"  {c} {g}: {np.mean(gains):+.2f} dB (min {min(gains):+.2f}, "
                  f"max {max(gains):+.2f}, n={len(gains)})")
    top = qualities[-1]
    for c, g in configs:
        d = [(at[(p, top, c, g)]["psnr"] - at[(p, dq, dc, dg)]["psnr"],
              at[(p, top, c, g)]["total_bytes"] / at[(p, dq, dc, dg)]["total_bytes"],
              at[(p, top, c, g)]["sdr_psnr"] - at[(p, dq, dc, dg)]["sdr_psnr"]) for p in complete]
        print(f"  quality {top} {c} {g} minus quality {dq} {dc} {dg}: PSNR "
              f"{np.mean([x[0] for x in d]):+.2f} dB (min {min(x[0] for x in d):+.2f}), "
              f"total bytes x{np.mean([x[1] for x in d]):.2f} "
              f"({min(x[1] for x in d):.2f}-{max(x[1] for x in d):.2f}), SDR PSNR "
              f"{np.mean([x[2] for x in d]):+.2f} dB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tmos", nargs="+", default=["reinhard-devlin", "local"])
    parser.add_argument("--long-side", type=int, default=512)
    parser.add_argument("--qualities", nargs="+", type=int, default=[85, 90, 95, 98])
    parser.add_argument("--grids", nargs="+", default=["32x32x4:u8"])
    parser.add_argument("--cache", default="/tmp/gainmlp-recipe-cache")
    parser.add_argument("--out", default="base_jpeg.jsonl")
    parser.add_argument("--summary", action="store_true", help="only summarise --out")
    args = parser.parse_args()
    if not args.summary:
        run(args)
    summary(Path(args.out), (95, "444", args.grids[0]))


if __name__ == "__main__":
    main()
