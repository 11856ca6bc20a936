"""Measure the learned low-resolution grid beside the Gamma-MLP (issue 6; docs/grid.md).

For every (image, tone mapper) pair made by the project's pair maker, fits each named
configuration, decodes the payload with the numpy decoder and prints PQ PSNR, payload
size (body + 40-byte outer header/CRC) and fitting time, then a table of means per tone
mapper. Conventional baselines: Gamma-JPEG at scale 2 and scale 1 (q80). Results are also
appended to a JSON-lines file so an interrupted run can be resumed (``--resume``).

The dev-set table of docs/grid.md (all 8 images, native resolution, the paper's 65,536
pixels per step) ran on one GPU with four worker processes::

    python scripts/grid_experiments.py --size 0 --batch 65536 --device cuda --jobs 4 \
        --images Bonita CandleGlass Cannon Desk KernerEnvLatLong MtTamWest StageEnvLatLong \
        Tree --tmos local reinhard-devlin drago ward --configs plain auto \
        --out devset.jsonl

Example (exploration, ~512-px images)::

    GAINMLP_THREADS=1 python scripts/grid_experiments.py --size 512 --batch 16384 \\
        --images Tree Desk MtTamWest --tmos local reinhard-devlin \\
        --configs plain plain-fp16 g32 g16u8 --out /tmp/grid_explore.jsonl
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from gainmlp.api import sdr_in_hdr_space
from gainmlp.codecs import EncodeOptions, decode_residual, encode_residual
from gainmlp.codecs.mlp import fit as mlp_fit
from gainmlp.codecs.mlp.format import pack_mlp_body
from gainmlp.colorimetry import SdrEncoding
from gainmlp.io.images import read_hdr_linear
from gainmlp.metrics import psnr
from gainmlp.pair import make_pair
from gainmlp.paper_residual import DEFAULT_EPS

DATA = Path(os.environ.get("GAINMLP_DATA", Path(__file__).resolve().parents[2] / "shared"
                          / "data" / "hdr"))
OUTER = 40

# name -> (grid option, weight precision, entry layer, grid lr scale); None = the codec default
CONFIGS: dict[str, tuple[str | None, str, int | None, float | None]] = {
    "plain": (None, "fp32", 1, 1.0),
    "plain-fp16": (None, "fp16", 1, 1.0),
    "g32": ("32x32x2", "fp16", 1, 1.0),
    "g32-w32": ("32x32x2", "fp32", 1, 1.0),
    "g32u8": ("32x32x2:u8", "fp16", 1, 1.0),
    "g16u8-w32": ("16x16x2:u8", "fp32", 1, 1.0),
    "g20u8-w32": ("20x20x2:u8", "fp32", 1, 1.0),
    "g32x4u8": ("32x32x4:u8", "fp16", 1, 1.0),
    "g48u8": ("48x48x2:u8", "fp16", 1, 1.0),
    "g64x1u8": ("64x64x1:u8", "fp16", 1, 1.0),
    "g16x4": ("16x16x4", "fp16", 1, 1.0),
    "g8+32": ("8x8x2+32x32x2", "fp16", 1, 1.0),
    "g32-hidden": ("32x32x2", "fp16", 2, 1.0),
    "g32-lr3": ("32x32x2", "fp16", 1, 3.0),
    "g32-lr0.3": ("32x32x2", "fp16", 1, 0.3),
    "g32x4u8-lr0.1": ("32x32x4:u8", "fp16", 1, 0.1),
    "g16u8-w32-lr0.1": ("16x16x2:u8", "fp32", 1, 0.1),
    # bilateral grids (body version 3): rows x cols x luma bins x channels
    "b16x8x2": ("16x16x8x2:u8", "fp16", 1, 0.1),
    "b16x8x2-lr1": ("16x16x8x2:u8", "fp16", 1, 1.0),
    "b16x8x2-lr0.3": ("16x16x8x2:u8", "fp16", 1, 0.3),
    "b12x8x4": ("12x12x8x4:u8", "fp16", 1, 0.1),
    "b16x16x1": ("16x16x16x1:u8", "fp16", 1, 0.1),
    "b8x8x8": ("8x8x8x8:u8", "fp16", 1, 0.1),
    "b24x8x1": ("24x24x8x1:u8", "fp16", 1, 0.1),
    "b32x4x1": ("32x32x4x1:u8", "fp16", 1, 0.1),
    "b32x4x1-lr1": ("32x32x4x1:u8", "fp16", 1, 1.0),
    "b32x2x2": ("32x32x2x2:u8", "fp16", 1, 0.1),
    "g64x2u8-lr0.1": ("64x64x2:u8", "fp16", 1, 0.1),  # over 10 KB: how fast grids pay off
    "g64x4u8-lr0.1": ("64x64x4:u8", "fp16", 1, 0.1),
    "g36x4u8": ("36x36x4:u8", "fp16", 1, 1.0),   # the largest 4-channel grid under 10 KB
    "g32x5u8": ("32x32x5:u8", "fp16", 1, 1.0),
    "b16x8x2+g32x2": ("16x16x8x2+32x32x2:u8", "fp16", 1, 0.1),
    "auto": ("auto", "auto", None, None),  # whatever EncodeOptions(grid="auto") does
}
# name -> (method, scale); q80 like the paper's conventional maps
BASELINES = {"gain-jpeg-s4": ("gain-jpeg", 4), "gamma-jpeg-s2": ("gamma-jpeg", 2),
             "gamma-jpeg-s1": ("gamma-jpeg", 1)}


def downscale(img: np.ndarray, long_side: int) -> np.ndarray:
    """Box-filter downscale of linear HDR by an integer factor (long side ~``long_side``)."""
    factor = max(1, math.ceil(max(img.shape[:2]) / long_side)) if long_side else 1
    if factor == 1:
        return img
    h, w = (img.shape[0] // factor) * factor, (img.shape[1] // factor) * factor
    return img[:h, :w].reshape(h // factor, factor, w // factor, factor, 3).mean(axis=(1, 3))


def load_pair(name: str, tmo: str, size: int, cache: Path) -> tuple[np.ndarray, np.ndarray]:
    """(sdr_pq, hdr_pq) float32 for one image and tone mapper (cached as .npz)."""
    path = cache / f"{name}_{tmo}_{size}.npz"
    if path.is_file():
        z = np.load(path)
        return z["sdr"], z["hdr"]
    linear = downscale(read_hdr_linear(DATA / f"{name}.exr"), size).astype(np.float32)
    sdr_u8, hdr_u16 = make_pair(linear, "bt2020", tmo)
    hdr_pq = (hdr_u16.astype(np.float32) / 65535.0).astype(np.float32)
    sdr_pq = np.asarray(sdr_in_hdr_space(sdr_u8, SdrEncoding()), dtype=np.float32)
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(path, sdr=sdr_pq, hdr=hdr_pq)
    return sdr_pq, hdr_pq


def run_config(name: str, sdr: np.ndarray, hdr: np.ndarray, steps: int,
               batch: int, device: str = "cpu", seed: int = 0,
               method: str = "gamma-mlp") -> tuple[float, int, float]:
    """(PSNR dB, payload bytes, seconds) of one configuration or baseline."""
    t0 = time.perf_counter()
    if name in BASELINES:
        method, scale = BASELINES[name]
        opts = EncodeOptions(scale=scale, quality=80)
        body = encode_residual(method, sdr, hdr, DEFAULT_EPS, opts)
        out = decode_residual(method, body, sdr, DEFAULT_EPS)
    else:
        # a "+cos" suffix: the same configuration with the cosine-tail learning rate
        base = name.removesuffix("+cos")
        schedule = "cosine-tail" if base != name else "constant"
        grid, precision, entry, lr_scale = CONFIGS[base]
        opts = EncodeOptions(steps=steps, batch=batch, precision=precision, grid=grid,
                             device=device, lr_schedule=schedule, seed=seed)
        res = mlp_fit.fit_mlp(method, sdr, hdr, DEFAULT_EPS, opts, grid_entry=entry,
                              grid_lr_scale=lr_scale)
        body = pack_mlp_body(res.params)
        out = decode_residual(method, body, sdr, DEFAULT_EPS)
    return psnr(hdr, out), len(body) + OUTER, time.perf_counter() - t0


def summarise(rows: list[dict], names: list[str], tmos: list[str]) -> str:
    """A markdown table: mean PSNR per tone mapper, mean payload KB, mean seconds."""
    head = "| config | " + " | ".join(tmos) + " | all | KB | s/fit |"
    lines = [head, "|" + " --- |" * (len(tmos) + 4)]
    for name in names:
        mine = [r for r in rows if r["config"] == name]
        if not mine:
            continue
        cells = []
        for tmo in tmos:
            vals = [r["psnr"] for r in mine if r["tmo"] == tmo]
            cells.append(f"{np.mean(vals):.2f}" if vals else "-")
        kb = np.mean([r["bytes"] for r in mine]) / 1024
        lines.append(f"| {name} | " + " | ".join(cells)
                     + f" | {np.mean([r['psnr'] for r in mine]):.2f} | {kb:.2f} | "
                     + f"{np.mean([r['seconds'] for r in mine]):.1f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", nargs="+", default=["Tree", "Desk", "MtTamWest"])
    ap.add_argument("--tmos", nargs="+", default=["local", "reinhard-devlin"])
    ap.add_argument("--configs", nargs="+", default=["plain", "g32"])
    ap.add_argument("--baselines", nargs="*", default=list(BASELINES))
    ap.add_argument("--size", type=int, default=512, help="long side; 0 = full resolution")
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=16384)
    ap.add_argument("--out", type=Path, default=Path("/tmp/grid_experiments.jsonl"))
    ap.add_argument("--cache", type=Path, default=Path("/tmp/gainmlp_pairs"))
    ap.add_argument("--resume", action="store_true", help="skip rows already in --out")
    ap.add_argument("--device", default="cpu", help="cpu, cuda or auto (fitting only)")
    ap.add_argument("--jobs", type=int, default=1, help="worker processes, one pair each")
    ap.add_argument("--seed", type=int, default=0, help="fitting seed")
    ap.add_argument("--method", default="gamma-mlp", choices=("gamma-mlp", "gain-mlp",
                                                             "direct-mlp"),
                    help="MLP method of the configs; rows of gain/direct are named "
                    "gain:CONFIG / direct:CONFIG")
    ap.add_argument("--report", action="store_true",
                    help="fit nothing: print the tables of --out, averaged over seeds")
    args = ap.parse_args()
    if args.report:
        print(report([json.loads(line) for line in args.out.read_text().splitlines() if line],
                     list(args.baselines) + list(args.configs), args.images, args.tmos))
        return
    for c in args.configs:
        if c.removesuffix("+cos") not in CONFIGS:
            ap.error(f"unknown config {c!r}; choose from {', '.join(CONFIGS)} "
                     f"(each also with a +cos suffix: cosine-tail learning rate)")

    tag = {"size": args.size, "steps": args.steps, "batch": args.batch, "seed": args.seed}
    rows: list[dict] = []
    if args.resume and args.out.is_file():
        rows = [json.loads(line) for line in args.out.read_text().splitlines() if line]
        rows = [r for r in rows if all(r.get(k) == v for k, v in tag.items())]
    done = {(r["config"], r["image"], r["tmo"]) for r in rows}
    names = list(args.baselines) + list(args.configs)
    jobs = [(image, tmo, [n for n in names
                          if (row_name(n, args.method), image, tmo) not in done])
            for image in args.images for tmo in args.tmos]
    jobs = [j for j in jobs if j[2]]
    settings = {**tag, "out": str(args.out), "cache": str(args.cache), "device": args.device,
                "method": args.method}
    if args.jobs > 1:
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")  # CUDA cannot be forked
        with ProcessPoolExecutor(args.jobs, mp_context=ctx) as pool:
            for new in pool.map(run_pair, *zip(*jobs, strict=True), [settings] * len(jobs)):
                rows += new
    else:
        for image, tmo, todo in jobs:
            rows += run_pair(image, tmo, todo, settings)
    rows = [r for r in rows if r["image"] in args.images and r["tmo"] in args.tmos]
    names = [row_name(n, args.method) for n in names]
    print()
    print(summarise(rows, names, list(args.tmos)))
    print()
    print(per_pair_table(rows, names, args.images, list(args.tmos)))


def row_name(name: str, method: str) -> str:
    """Rows of gain-/direct-mlp fits are named ``gain:CONFIG`` / ``direct:CONFIG``."""
    if method == "gamma-mlp" or name in BASELINES:
        return name
    return f"{method.split('-')[0]}:{name}"


def run_pair(image: str, tmo: str, names: list[str], settings: dict) -> list[dict]:
    """Every configuration of one (image, tone mapper) pair; rows appended to the JSONL."""
    if settings["device"] == "cpu":
        os.environ.setdefault("GAINMLP_THREADS", "1")
    sdr, hdr = load_pair(image, tmo, settings["size"], Path(settings["cache"]))
    tag = {k: settings[k] for k in ("size", "steps", "batch", "seed")}
    rows = []
    for name in names:
        value, size, secs = run_config(name, sdr, hdr, settings["steps"], settings["batch"],
                                       settings["device"], settings["seed"],
                                       settings["method"])
        name = row_name(name, settings["method"])
        row = {"config": name, "image": image, "tmo": tmo, "psnr": value, "bytes": size,
               "seconds": secs, "device": settings["device"], **tag}
        rows.append(row)
        with open(settings["out"], "a") as f:
            f.write(json.dumps(row) + "\n")
        print(f"{image:18s} {tmo:16s} {name:14s} {value:6.2f} dB {size / 1024:6.2f} KB "
              f"{secs:6.1f} s ({sdr.shape[1]}x{sdr.shape[0]})", flush=True)
    return rows


def report(rows: list[dict], names: list[str], images: list[str], tmos: list[str]) -> str:
    """Means per tone mapper and the per-pair table, PSNR averaged over the seeds run,
    plus how far two seeds of the same configuration land apart."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["config"], r["image"], r["tmo"]), []).append(r)
    mean_rows = [{**g[0], "psnr": float(np.mean([r["psnr"] for r in g])),
                  "seeds": len(g)} for g in groups.values()]
    lines = [summarise(mean_rows, names, tmos), "",
             per_pair_table(mean_rows, names, images, tmos), "",
             "| config | seeds | mean abs seed difference dB | largest |",
             "| --- | --- | --- | --- |"]
    for name in names:
        diffs = [abs(g[0]["psnr"] - g[1]["psnr"]) for k, g in groups.items()
                 if k[0] == name and len(g) >= 2]
        seeds = max((len(g) for k, g in groups.items() if k[0] == name), default=0)
        if diffs:
            lines.append(f"| {name} | {seeds} | {np.mean(diffs):.2f} | {max(diffs):.2f} |")
    return "\n".join(lines)


def per_pair_table(rows: list[dict], names: list[str], images: list[str],
                   tmos: list[str]) -> str:
    """Markdown: one row per (image, tone mapper), PSNR dB / payload KB per config."""
    lines = ["| image | tone mapper | " + " | ".join(names) + " |",
             "|" + " --- |" * (len(names) + 2)]
    for tmo in tmos:
        for image in images:
            cells = []
            for name in names:
                hit = [r for r in rows if (r["config"], r["image"], r["tmo"]) == (name, image, tmo)]
                cells.append(f"{hit[-1]['psnr']:.2f} / {hit[-1]['bytes'] / 1024:.1f}" if hit
                             else "-")
            lines.append(f"| {image} | {tmo} | " + " | ".join(cells) + " |")
    return "\n".join(lines)

if __name__ == "__main__":
    main()
