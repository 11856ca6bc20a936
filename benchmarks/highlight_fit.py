"""Fitting that sees the highlights (issue 21 item 2): highlight emphasis variants of the
Gamma-MLP fit, pair by pair, against today's fit.

Every dev HDR image of ``--data`` is made into pairs by the pair maker (``--tmos``, long
side ``--long-side``); every gain-map JPEG of ``--photos`` is re-encoded
(:func:`gainmlp.photo.reencode_gainmap_photo`, ``--photo-target off``: the default
configuration, no rate control) and compared with the file's own HDR rendition
(:func:`gainmlp.container.gainmap_jpeg.gainmap_jpeg_to_hdr_pq`). Each variant
(``--variants``, names of :data:`VARIANTS`, the ``highlights`` option they set) is fitted
to each item; recorded: PQ PSNR, the highlight statistics of
:func:`gainmlp.highlights.highlight_metrics` (above 1,000 cd/m2, ``hl_*``, and above twice
SDR white, ``hl2w_*``), payload bytes and seconds (fit, or the whole re-encode for
photos). Rows go to ``--out`` (JSON lines, resumable); ``--table`` writes the Markdown
tables of docs/results/highlights/.

Example (docs/results/highlights/README.md)::

    python benchmarks/highlight_fit.py --jobs 2 --out /tmp/hl.jsonl \\
        --table docs/results/highlights/README.md
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
#: Variant name -> the ``highlights`` option (gainmlp.codecs.mlp.highlight_fit), or
#: (``highlights``, ``grid``) for a variant that also sets the grid.
VARIANTS: dict[str, str | tuple[str, str]] = {
    "auto": "auto",  # the default (AUTO_HIGHLIGHTS)
    "off": "off",
    "focus1/16@406": "focus:0.0625:406",
    "focus1/8@406": "focus:0.125:406",
    "focus1/4@406": "focus:0.25:406",
    "focus1/8@1000": "focus:0.125:1000",
    "focus1/8@406x4": "focus:0.125:406:4",
    "focus1/8@406x1": "focus:0.125:406:1",
    "focus1/8@406x16": "focus:0.125:406:16",
    "focus1/8@406x64": "focus:0.125:406:64",
    "focus1/16@406x16": "focus:0.0625:406:16",
    "weight4@406": "weight:4:406",
    "lum1": "lum:1",
    "lum2": "lum:2",
    "gn": "gn",
    "gn+focus1/8@406": "gn+focus:0.125:406",
    # the bytes the coded grids free (issue 21 item 4), spent on a larger grid
    "off@40u6z": ("off", "40x40x4:u6z"),
    "off@48u6z": ("off", "48x48x4:u6z"),
    "focus1/16@406@40u6z": ("focus:0.0625:406", "40x40x4:u6z"),
    "focus1/16@406@48u6z": ("focus:0.0625:406", "48x48x4:u6z"),
    "focus1/32@406": "focus:0.03125:406",
    "focus1/32@406@40u6z": ("focus:0.03125:406", "40x40x4:u6z"),
    "focus1/16@1000": "focus:0.0625:1000",
    "focus1/32@1000": "focus:0.03125:1000",
    "focus1/16@406t8": "focus:0.0625:406+tier:1000:8",
    "focus1/32@406t8": "focus:0.03125:406+tier:1000:8",
    "focus1/32@406t32": "focus:0.03125:406+tier:1000:32",
    "focus1/16@406t16": "focus:0.0625:406+tier:1000:16",
    "focus1/16@406t8+4000": "focus:0.0625:406+tier:4000:8",
    "focus3/64@406t8": "focus:0.046875:406+tier:1000:8",
}
#: The rate-control ladder before the coded grids (``--ladder raw``: raw u8 grids, no jump
#: limit), to measure "before" and "after" in one run.
RAW_LADDER = ("16x16x2:u8", "16x16x4:u8", "24x24x4:u8", "32x32x4:u8", "48x48x4:u8",
              "64x64x4:u8", "64x64x8:u8", "96x96x8:u8")
HIGHLIGHT_IMAGES = ["CandleGlass", "Desk", "StageEnvLatLong", "Tree", "MtTamWest"]
KEYS = ("hl_light_ratio", "hl_p999_ratio", "hl2w_light_ratio", "hl2w_p999_ratio")


def run_one(job: tuple[str, str, str, str, str, str, str]) -> dict:
    kind, path, name, variant, target, ladder, light_check = job
    os.environ["GAINMLP_THREADS"] = "1"
    import gainmlp
    from gainmlp.codecs.mlp import rate
    from gainmlp.highlights import highlight_metrics
    from gainmlp.metrics import psnr

    if light_check == "held-out":  # rate control's light criterion before the sample
        rate.HIGHLIGHT_SAMPLE = 0
    if ladder == "raw":
        rate.LADDER = (rate.Rung(None), *(rate.Rung(g) for g in RAW_LADDER))
        rate.MAX_JUMP = None
    spec, grid = (VARIANTS[variant], "auto") if isinstance(VARIANTS[variant], str) \
        else VARIANTS[variant]
    if kind == "pair":
        sdr = gainmlp.read_sdr(Path(path) / "sdr.png")
        ref = gainmlp.read_hdr(Path(path) / "hdr.png")
        t0, c0 = time.perf_counter(), time.process_time()
        payload = gainmlp.encode(sdr, ref, "gamma-mlp",
                                 gainmlp.EncodeOptions(highlights=spec, grid=grid))
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        rec, size = gainmlp.decode(payload, sdr.pixels), len(payload.to_bytes())
    else:
        from gainmlp.container.gainmap_jpeg import gainmap_jpeg_to_hdr_pq, read_gainmap_jpeg
        from gainmlp.photo import decode_photo, reencode_gainmap_photo

        data = Path(path).read_bytes()
        ref = gainmap_jpeg_to_hdr_pq(read_gainmap_jpeg(data))
        options = gainmlp.EncodeOptions(highlights=spec, grid=grid,
                                        target_psnr=None if target == "off" else float(target))
        t0, c0 = time.perf_counter(), time.process_time()
        out, report = reencode_gainmap_photo(data, options=options)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        rec, size = decode_photo(out), report["payload"]
    row = {"item": name, "kind": kind, "variant": variant, "spec": spec, "target": target,
           "ladder": ladder, "light_check": light_check, "psnr": psnr(ref, rec),
           "bytes": size, "seconds": seconds, "cpu_seconds": cpu}
    row.update(highlight_metrics(ref, rec))
    return row


def peak_pairs(data: Path, cache: Path, tmos: tuple[str, ...], long_side: int,
               images: list[str], peak: float) -> list[tuple[str, str, Path]]:
    """:func:`gainmlp.evaluation.prepare_pairs` with the pair maker's HDR peak at ``peak``
    cd/m2 (so that dev pairs have pixels above 1,000 cd/m2); cached beside its pairs."""
    from gainmlp.evaluation.pairs import downscale_linear, hdr_images
    from gainmlp.io import atomic_write, encode_hdr_png, read_hdr_linear, write_sdr_png
    from gainmlp.pair import make_pair

    out = []
    for path in hdr_images(data, images):
        linear = None
        for tmo in tmos:
            folder = cache / f"peak{peak:g}" / f"{path.stem}_{tmo}_{long_side}"
            if not (folder / "hdr.png").exists():
                if linear is None:
                    linear = downscale_linear(read_hdr_linear(path), long_side, "resample")
                sdr, hdr = make_pair(linear, "bt2020", tmo, peak_nits=peak)
                folder.mkdir(parents=True, exist_ok=True)
                write_sdr_png(folder / "sdr.png", sdr)
                atomic_write(folder / "hdr.png", encode_hdr_png(hdr.astype(np.float32) / 65535))
            out.append((path.stem, f"{tmo}@{peak:g}", folder))
    return out


def _fmt(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def table(rows: list[dict], variants: list[str]) -> str:
    """Markdown: one summary line per variant, then every item's numbers per variant."""
    base = {r["item"]: r for r in rows if r["variant"] == variants[0]}
    lines = ["| variant | items | mean PSNR | Δ PSNR | hl light (>1000) worst | "
             "hl p99.9 worst | hl2w light (>2x white) mean / worst | hl2w p99.9 mean | "
             "in [0.97, 1.03] (hl / hl2w) | p99.9 within 5 % (hl / hl2w items) | mean bytes | "
             "seconds / first |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for v in variants:
        got = [r for r in rows if r["variant"] == v and r["item"] in base]
        if not got:
            continue

        def vals(key: str, got: list[dict] = got) -> list[float]:
            return [r[key] for r in got if r.get(key) is not None]

        def worst(key: str) -> float | None:
            xs = vals(key)
            return max(xs, key=lambda x: abs(1 - x)) if xs else None

        def within(key: str) -> str:
            xs = vals(key)
            return f"{sum(0.97 <= x <= 1.03 for x in xs)}/{len(xs)}"

        def peak_within(prefix: str, got: list[dict] = got) -> str:
            """p99.9 within 5 % on the items that have pixels above the threshold."""
            xs = [r["hl_p999_ratio"] for r in got if r.get(f"{prefix}_light_ratio") is not None]
            return f"{sum(abs(x - 1) <= 0.05 for x in xs)}/{len(xs)}"

        dp = np.mean([r["psnr"] - base[r["item"]]["psnr"] for r in got])
        sec = np.sum([r["seconds"] for r in got]) / np.sum([base[r["item"]]["seconds"]
                                                           for r in got])
        lines.append(
            f"| {v} (`{got[0]['spec']}`) | {len(got)} | {np.mean(vals('psnr')):.2f} | "
            f"{dp:+.3f} | {_fmt(worst('hl_light_ratio'))} | {_fmt(worst('hl_p999_ratio'))} | "
            f"{np.mean(vals('hl2w_light_ratio')):.3f} / {_fmt(worst('hl2w_light_ratio'))} | "
            f"{np.mean(vals('hl2w_p999_ratio')):.3f} | {within('hl_light_ratio')} / "
            f"{within('hl2w_light_ratio')} | {peak_within('hl')} / {peak_within('hl2w')} | "
            f"{np.mean(vals('bytes')):.0f} | {sec:.3f} |")
    lines += ["", "Per item (PSNR dB / hl light / hl p99.9 / hl2w light / hl2w p99.9 / "
              "bytes / seconds):", "",
              "| item | " + " | ".join(variants) + " |",
              "| --- |" + " --- |" * len(variants)]
    for item in base:
        cells = []
        for v in variants:
            r = next((r for r in rows if r["variant"] == v and r["item"] == item), None)
            cells.append("" if r is None else
                         f"{r['psnr']:.2f} / " + " / ".join(_fmt(r.get(k)) for k in KEYS)
                         + f" / {r['bytes']} / {r['seconds']:.1f}")
        lines.append(f"| {item} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def cpu_line(rows: list[dict], variants: list[str]) -> str:
    """CPU seconds per variant over the items every variant has, and their ratio to the
    first variant's (rows written before ``cpu_seconds`` was recorded are left out)."""
    have = [{r["item"]: r["cpu_seconds"] for r in rows
             if r["variant"] == v and "cpu_seconds" in r} for v in variants]
    common = set.intersection(*(set(h) for h in have)) if have else set()
    if not common:
        return ""
    sums = [sum(h[i] for i in common) for h in have]
    return "\n\nCPU seconds (" + f"{len(common)} items): " + ", ".join(
        f"{v} {t:.1f} ({t / sums[0]:.3f}x)" for v, t in zip(variants, sums, strict=True))


def main() -> None:
    from gainmlp.evaluation import prepare_pairs

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=SHARED / "hdr")
    ap.add_argument("--images", nargs="*", default=HIGHLIGHT_IMAGES)
    ap.add_argument("--tmos", nargs="*", default=["drago", "reinhard-devlin"])
    ap.add_argument("--long-side", type=int, default=512)
    ap.add_argument("--peak", type=float, default=None,
                    help="make the pairs with this HDR peak (cd/m2) instead of the pair "
                         "maker's 1,000, so that they have pixels above 1,000 cd/m2")
    ap.add_argument("--photos", nargs="*", type=Path,
                    default=sorted((SHARED / "gainmap").glob("*.jpg")))
    ap.add_argument("--photo-target", default="off",
                    help="re-encode with rate control at this PSNR, or off (default config)")
    ap.add_argument("--variants", nargs="*", default=["off", "focus1/8@406"],
                    choices=list(VARIANTS))
    ap.add_argument("--cache", type=Path, default=Path("/tmp/gainmlp-recipe-cache"))
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--table", type=Path, default=None, help="write the Markdown tables here")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--ladder", choices=["coded", "raw"], default="coded",
                    help="rate control's ladder: today's (coded grids) or the one before "
                         "(raw u8 grids, no jump limit)")
    ap.add_argument("--light-check", choices=["sample", "held-out"], default="sample",
                    help="rate control's highlight light criterion: on the held-out "
                         "highlights plus a sample of all (today's), or on the held-out "
                         "ones only (before)")
    args = ap.parse_args()

    if not args.images:
        pairs = []
    elif args.peak is not None:
        pairs = peak_pairs(args.data, args.cache, tuple(args.tmos), args.long_side, args.images,
                           args.peak)
    else:
        pairs = prepare_pairs(args.data, args.cache, tuple(args.tmos), args.long_side,
                              args.images)
    items = [("pair", str(folder), f"{image}_{tmo}") for image, tmo, folder in pairs]
    items += [("photo", str(p), p.stem) for p in args.photos]
    done = set()
    if args.out.exists():
        done = {(r["item"], r["variant"], r["target"], r.get("ladder", "raw"),
                 r.get("light_check", "held-out")) for r in map(json.loads, args.out.open())}
    jobs = [(kind, path, name, v, args.photo_target, args.ladder, args.light_check)
            for v in args.variants for kind, path, name in items
            if (name, v, args.photo_target, args.ladder, args.light_check) not in done]
    with args.out.open("a") as fh, ProcessPoolExecutor(args.jobs) as pool:
        for row in pool.map(run_one, jobs):
            fh.write(json.dumps(row) + "\n")
            fh.flush()
            print(f"{row['item']:<40} {row['variant']:<18} {row['psnr']:6.2f} dB "
                  f"hl {_fmt(row['hl_light_ratio'])} hl2w {_fmt(row['hl2w_light_ratio'])} "
                  f"{row['bytes']:6d} B {row['seconds']:6.1f} s", flush=True)
    names = {name for _, _, name in items}
    rows = [r for r in map(json.loads, args.out.open())
            if r["item"] in names and r["target"] == args.photo_target
            and r.get("ladder", "raw") == args.ladder
            and r.get("light_check", "held-out") == args.light_check]
    text = table(rows, args.variants) + cpu_line(rows, args.variants)
    print(text)
    if args.table is not None:
        args.table.parent.mkdir(parents=True, exist_ok=True)
        header = (f"Command: `python {' '.join(sys.argv)}`\n\nMachine: {platform.machine()}, "
                  f"{os.cpu_count()} CPUs, {platform.python_version()}, one thread per fit, "
                  f"{args.jobs} jobs\n\n")
        args.table.write_text(header + text + "\n")


if __name__ == "__main__":
    main()
