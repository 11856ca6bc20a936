"""File-level rate-distortion of gainmlp's JPEG containers against libultrahdr's encoder.

Every number is a whole file, decoded as a user would, against the pair's HDR (PSNR on
PQ BT.2020 code values). For each dev image (one SDR/HDR pair by gainmlp's pair maker,
one tone mapper, by default the pair maker's, long side ``--long-side``):

* **rd**: a ladder of base JPEG qualities (:data:`QUALITIES`) for gainmlp's three
  containers, each file as ``gainmlp encode`` writes it (:func:`gainmlp.photo.encode_jpeg`,
  default options: gamma-mlp fitted to the decoded base, closed loop; the ``gainmlp``
  file is the same base and payload without the standard map, as ``--container gainmlp``
  writes it), plus the paper's open loop at q95; and libultrahdr's own encoder
  (``imagecodecs.ultrahdr_encode`` of the HDR as 10-bit PQ BT.2100, which tone-maps its
  own SDR) at its default map scale (1) and at Android's 1/4, over levels
  :data:`LIB_LEVELS` (base and map quality together) and its default level;
* **map**: the standard map of ``ultrahdr+mlp`` at scales :data:`MAP_SCALES` x qualities
  :data:`MAP_QUALITIES` (base q95): map bytes against the PSNR of what other viewers show;
* **sub**: the base's chroma subsampling, 4:4:4 against 4:2:0 at qualities
  :data:`SUB_QUALITIES` (``ultrahdr+mlp``, refitted to each base): bytes, file PSNR, and
  the base's PSNR against the 8-bit SDR.

Decoders: ``gainmlp`` = :func:`gainmlp.photo.decode_photo` (the payload when there is one,
else gainmlp's reader of standard gain-map JPEGs); ``std`` = gainmlp's reader of the
standard map alone (the payload ignored); ``libuhdr`` = ``imagecodecs.ultrahdr_decode``
(linear, 1.0 = 203 cd/m2, taken in the HDR's gamut: BT.2100 for libultrahdr's files, the
base's primaries for gainmlp's, the reading that matches each best).

    GAINMLP_THREADS=1 python benchmarks/containers_rd.py /work/shared/data/hdr \\
        --cache /tmp/containers-rd -o docs/results/containers.md --jobs 2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

QUALITIES = (70, 80, 90, 95, 98)
LIB_LEVELS = (70, 80, 90, 95, None)  # None: libultrahdr's default
LIB_SCALES = (1, 4)  # libultrahdr's default map scale, Android's
MAP_SCALES = (4, 8, 16)
MAP_QUALITIES = (60, 80, 90)
SUB_QUALITIES = (90, 95)
SUBSAMPLING = {"4:4:4": 0, "4:2:0": 2}  # Pillow's codes


@contextmanager
def base_subsampling(code: int | None):
    """Force the base JPEG's chroma subsampling (gainmlp.io.sdr's encoder) for a while."""
    import gainmlp.io.sdr as sdr_io

    original = sdr_io.encode_jpeg
    if code is not None:
        sdr_io.encode_jpeg = lambda *a, **k: original(*a, **{**k, "subsampling": code})
    try:
        yield
    finally:
        sdr_io.encode_jpeg = original


def pack_pq10(hdr_pq: np.ndarray) -> np.ndarray:
    """PQ code values as libultrahdr's packed RGBA1010102 (alpha opaque)."""
    c = np.clip(np.round(hdr_pq * 1023.0), 0, 1023).astype(np.uint32)
    return c[..., 0] | (c[..., 1] << 10) | (c[..., 2] << 20) | np.uint32(3 << 30)


def libuhdr_pq(data: bytes, primaries: str) -> np.ndarray | None:
    """libultrahdr's decode of ``data`` as PQ BT.2020 (None if it refuses the file)."""
    import imagecodecs

    from gainmlp import colorimetry

    try:
        linear = np.asarray(imagecodecs.ultrahdr_decode(data), np.float64)[..., :3]
    except Exception:  # noqa: BLE001 - any refusal is a missing number, said in the table
        return None
    return colorimetry.linear_to_pq_bt2020(linear * 203.0, primaries).astype(np.float32)


def measure(data: bytes, hdr: np.ndarray, lib_primaries: str | None = None) -> dict:
    """Bytes and PSNR of one file under each decoder that applies."""
    from gainmlp import metrics, photo
    from gainmlp.evaluation.evaluate import base_bytes, map_bytes, standard_rendition

    out = {"file_bytes": len(data), "base_bytes": base_bytes(data), "map_bytes": map_bytes(data),
           "psnr": metrics.psnr(hdr, photo.decode_photo(data))}
    out["map_icc_bytes"] = map_icc_bytes(data)
    standard = standard_rendition(data)
    if standard is not None:
        from gainmlp.container import gainmap_jpeg

        out["std_psnr"] = metrics.psnr(hdr, standard)
        primaries = lib_primaries or gainmap_jpeg.read_gainmap_jpeg(data).colour_space
        lib = libuhdr_pq(data, primaries)
        out["libuhdr_psnr"] = None if lib is None else metrics.psnr(hdr, lib)
    return out


def map_icc_bytes(data: bytes) -> int:
    """Bytes of the ICC profile segments inside the gain-map image (libultrahdr 1.4 writes
    a ~30 KB BT.2100 PQ profile there; gainmlp writes none)."""
    from gainmlp.container.mpf import mpf_image_ranges
    from gainmlp.container.segments import parse_segments
    from gainmlp.evaluation.evaluate import map_bytes

    if not map_bytes(data):
        return 0
    start = mpf_image_ranges(data)[1][0]
    return sum(s.size for s in parse_segments(data, start) if s.startswith(0xE2, b"ICC_PROFILE"))


def sdr_psnr(data: bytes, sdr_pixels: np.ndarray) -> float:
    """PSNR (8-bit) of the file's base against the pair's SDR."""
    from gainmlp.io import decode_sdr_bytes

    base = decode_sdr_bytes(data).pixels.astype(np.float64)
    mse = np.mean((base - sdr_pixels.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / mse)) if mse > 0 else float("inf")


def image_rows(name: str, folder: str) -> list[dict]:
    """Every measurement of one pair (runs in a worker process)."""
    import warnings

    import imagecodecs

    from gainmlp import photo
    from gainmlp.container.app11 import embed_payload, extract_payload
    from gainmlp.container.ultrahdr import ultrahdr_from_pair
    from gainmlp.evaluation.pairs import read_pair
    from gainmlp.io import encode_sdr_jpeg

    warnings.simplefilter("ignore")
    sdr, hdr = read_pair(Path(folder))
    rows = []

    def add(part: str, family: str, quality, data: bytes, fit_s: float = 0.0, **extra):
        lib = "bt2020" if family.startswith("libultrahdr") else None
        row = {"image": name, "part": part, "family": family, "quality": quality,
               **measure(data, hdr, lib), "fit_seconds": round(fit_s, 2), **extra}
        if not family.startswith("libultrahdr"):
            row["sdr_psnr"] = sdr_psnr(data, sdr.pixels)
        rows.append(row)

    for q in QUALITIES:
        t0 = time.perf_counter()
        data, _parts = photo.encode_jpeg(sdr, hdr, container="ultrahdr+mlp", jpeg_quality=q)
        fit = time.perf_counter() - t0
        add("rd", "ultrahdr+mlp", q, data, fit)
        payload = extract_payload(data)  # the same payload, as --container gainmlp holds it
        add("rd", "gainmlp", q, embed_payload(encode_sdr_jpeg(sdr.pixels, q, sdr.icc), payload))
        data, _parts = photo.encode_jpeg(sdr, hdr, container="ultrahdr", jpeg_quality=q)
        add("rd", "ultrahdr", q, data)
    data, _parts = photo.encode_jpeg(sdr, hdr, container="gainmlp", open_loop=True)
    add("rd", "gainmlp open loop", 95, data)
    hdr10 = pack_pq10(hdr)
    for scale in LIB_SCALES:
        for level in LIB_LEVELS:
            data = bytes(imagecodecs.ultrahdr_encode(
                hdr10, level, scale=scale, transfer=imagecodecs.ULTRAHDR.CT.PQ,
                gamut=imagecodecs.ULTRAHDR.CG.BT_2100))
            add("rd", f"libultrahdr 1/{scale}", level or "default", data)
    for scale in MAP_SCALES:
        for mq in MAP_QUALITIES:
            data, _parts = ultrahdr_from_pair(sdr, hdr, scale, mq, 95)
            add("map", f"map 1/{scale}", mq, data)
    for q in SUB_QUALITIES:
        for label, code in SUBSAMPLING.items():
            with base_subsampling(code):
                t0 = time.perf_counter()
                data, _parts = photo.encode_jpeg(sdr, hdr, container="ultrahdr+mlp",
                                                 jpeg_quality=q)
                fit = time.perf_counter() - t0
            add("sub", f"ultrahdr+mlp {label}", q, data, fit)
    return rows


# ---------------------------------------------------------------- tables


def _mean(rows: list[dict], key: str) -> float:
    vals = [r[key] for r in rows if r.get(key) is not None and np.isfinite(r[key])]
    return float(np.mean(vals)) if vals else float("nan")


def _f(value: float, fmt: str = "{:.2f}") -> str:
    return "–" if value is None or not np.isfinite(value) else fmt.format(value)


def groups(rows: list[dict], part: str) -> dict[tuple, list[dict]]:
    out: dict[tuple, list[dict]] = {}
    for r in rows:
        if r["part"] == part:
            out.setdefault((r["family"], r["quality"]), []).append(r)
    return out


def rd_table(rows: list[dict]) -> str:
    lines = ["| file | base q | file KB | base KB | map KB | PSNR gainmlp | PSNR std map | "
             "PSNR libultrahdr | base vs SDR (dB) | n |", "|" + " --- |" * 10]
    for (family, q), rs in groups(rows, "rd").items():
        lines.append(f"| {family} | {q} | {_f(_mean(rs, 'file_bytes') / 1024, '{:.1f}')} | "
                     f"{_f(_mean(rs, 'base_bytes') / 1024, '{:.1f}')} | "
                     f"{_f(_mean(rs, 'map_bytes') / 1024, '{:.1f}')} | "
                     f"{_f(_mean(rs, 'psnr'))} | {_f(_mean(rs, 'std_psnr'))} | "
                     f"{_f(_mean(rs, 'libuhdr_psnr'))} | {_f(_mean(rs, 'sdr_psnr'))} | "
                     f"{len(rs)} |")
    return "\n".join(lines) + "\n"


def _curve(rows: list[dict], image: str, family: str) -> tuple[np.ndarray, np.ndarray]:
    pts = sorted((r["file_bytes"], r["psnr"]) for r in rows
                 if r["part"] == "rd" and r["image"] == image and r["family"] == family)
    return np.log([p[0] for p in pts]), np.array([p[1] for p in pts])


def matched_table(rows: list[dict], points: tuple[str, ...], curves: tuple[str, ...],
                  ours_first: bool) -> str:
    """Each point of the ``points`` families against each curve of ``curves`` at the same
    file bytes, image by image: the curve's PSNR interpolated (linear in log bytes)
    between its ladder points; a point outside the curve's byte range on that image is
    left out (n counts the images compared; rows with none are dropped). Δ is always
    ours − libultrahdr's, wins counts the images where ours is higher."""
    name = ("ours (base q)", "libultrahdr (level)")[not ours_first]
    other = ("libultrahdr curve", "our curve")[not ours_first]
    lines = [f"| {name} | KB | PSNR | {other} | its PSNR at these bytes | Δ dB (ours − theirs) "
             "| ours wins | n |", "|" + " --- |" * 8]
    for (family, q), rs in groups(rows, "rd").items():
        if family not in points or q == "default":  # libultrahdr's default level is 95
            continue
        for curve in curves:
            diffs, mine, kb, them = [], [], [], []
            for r in rs:
                x, y = _curve(rows, r["image"], curve)
                b = np.log(r["file_bytes"])
                if len(x) < 2 or not x[0] <= b <= x[-1]:
                    continue
                t = float(np.interp(b, x, y))
                diffs.append(r["psnr"] - t if ours_first else t - r["psnr"])
                mine.append(r["psnr"])
                them.append(t)
                kb.append(r["file_bytes"] / 1024)
            if not diffs:
                continue
            wins = sum(d > 0 for d in diffs)
            lines.append(f"| {family} ({q}) | {np.mean(kb):.1f} | {np.mean(mine):.2f} | {curve} | "
                         f"{np.mean(them):.2f} | {np.mean(diffs):+.2f} | {wins}/{len(diffs)} "
                         f"| {len(diffs)} |")
    return "\n".join(lines) + "\n"


def without_map_icc(rows: list[dict]) -> list[dict]:
    """libultrahdr's rows once more with the gain-map image's ICC profile not counted
    (family ``... -ICC``): what its files would weigh without that fixed overhead."""
    extra = [{**r, "family": r["family"] + " -ICC",
              "file_bytes": r["file_bytes"] - r.get("map_icc_bytes", 0),
              "map_bytes": r["map_bytes"] - r.get("map_icc_bytes", 0)}
             for r in rows if r["family"].startswith("libultrahdr")]
    return rows + extra


def map_table(rows: list[dict]) -> str:
    lines = ["| map scale | map q | map KB | file KB (no payload) | PSNR std map (gainmlp reader) "
             "| PSNR libultrahdr | n |", "|" + " --- |" * 7]
    for (family, q), rs in groups(rows, "map").items():
        lines.append(f"| {family.split()[1]} | {q} | {_mean(rs, 'map_bytes') / 1024:.2f} | "
                     f"{_mean(rs, 'file_bytes') / 1024:.1f} | {_f(_mean(rs, 'std_psnr'))} | "
                     f"{_f(_mean(rs, 'libuhdr_psnr'))} | {len(rs)} |")
    return "\n".join(lines) + "\n"


def sub_table(rows: list[dict]) -> str:
    lines = ["| base q | subsampling | file KB | base KB | file PSNR (gainmlp) | PSNR std map | "
             "base vs SDR (dB) | n |", "|" + " --- |" * 8]
    for (family, q), rs in sorted(groups(rows, "sub").items(), key=lambda kv: kv[0][1]):
        lines.append(f"| {q} | {family.split()[1]} | {_mean(rs, 'file_bytes') / 1024:.1f} | "
                     f"{_mean(rs, 'base_bytes') / 1024:.1f} | {_f(_mean(rs, 'psnr'))} | "
                     f"{_f(_mean(rs, 'std_psnr'))} | {_f(_mean(rs, 'sdr_psnr'))} | {len(rs)} |")
    return "\n".join(lines) + "\n"


def per_image_table(rows: list[dict]) -> str:
    """The default file (ultrahdr+mlp, q95) and libultrahdr's two defaults per image."""
    picks = [("ultrahdr+mlp", 95), ("gainmlp", 95), ("ultrahdr", 95),
             ("libultrahdr 1/1", "default"), ("libultrahdr 1/4", "default")]
    head = "| image | " + " | ".join(f"{f} ({q}) KB / dB" for f, q in picks) + " |"
    lines = [head, "|" + " --- |" * (len(picks) + 1)]
    for image in dict.fromkeys(r["image"] for r in rows):
        cells = []
        for f, q in picks:
            r = next((r for r in rows if r["image"] == image and r["part"] == "rd"
                      and r["family"] == f and r["quality"] == q), None)
            cells.append("–" if r is None else f"{r['file_bytes'] / 1024:.1f} / {r['psnr']:.2f}")
        lines.append(f"| {image} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data_dir")
    ap.add_argument("--images", default=None, help="comma-separated stems (default all)")
    ap.add_argument("--tmo", default=None, help="tone mapper (default: the pair maker's)")
    ap.add_argument("--long-side", type=int, default=512)
    ap.add_argument("--cache", default="/tmp/containers-rd", help="pairs and results.json")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("-o", "--output", default=None, help="markdown tables (default stdout)")
    ap.add_argument("--tables-from", default=None, metavar="RESULTS_JSON",
                    help="only remake the tables from an earlier run's results.json")
    args = ap.parse_args()
    if args.tables_from:
        rows = json.loads(Path(args.tables_from).read_text())
        write_tables(rows, args.output, "Tables remade from " + args.tables_from + ".")
        return
    os.environ.setdefault("GAINMLP_THREADS", "1")
    from gainmlp.evaluation.pairs import prepare_pairs
    from gainmlp.tonemap import DEFAULT_TONE_MAPPER

    args.tmo = args.tmo or DEFAULT_TONE_MAPPER

    cache = Path(args.cache)
    images = args.images.split(",") if args.images else None
    pairs = prepare_pairs(Path(args.data_dir), cache, (args.tmo,), args.long_side, images)
    start = time.perf_counter()
    rows: list[dict] = []
    if args.jobs > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(args.jobs) as pool:
            for out in pool.map(image_rows, [p[0] for p in pairs], [str(p[2]) for p in pairs]):
                rows += out
                print(f"{out[0]['image']} done", file=sys.stderr, flush=True)
    else:
        for name, _tmo, folder in pairs:
            rows += image_rows(name, str(folder))
            print(f"{name} done", file=sys.stderr, flush=True)
    minutes = (time.perf_counter() - start) / 60
    (cache / "results.json").write_text(json.dumps(rows, indent=1))
    write_tables(rows, args.output,
                 f"Run {time.strftime('%Y-%m-%d')}: {len(pairs)} pairs ({args.tmo}, long side "
                 f"{args.long_side}), {platform.machine()}, {os.cpu_count()} cores shared, no "
                 f"GPU, --jobs {args.jobs}, {minutes:.1f} min; imagecodecs "
                 f"{__import__('imagecodecs').__version__} "
                 f"({__import__('imagecodecs').ultrahdr_version()}).")


def write_tables(rows: list[dict], output: str | None, header: str) -> None:
    rows = without_map_icc(rows)
    ours = ("ultrahdr+mlp", "gainmlp", "ultrahdr")
    theirs = tuple(f"libultrahdr 1/{s}{x}" for s in LIB_SCALES for x in ("", " -ICC"))
    text = (header + "\n\n### Files and decoders (means over the pairs)\n\n" + rd_table(rows)
            + "\n### libultrahdr's files against our curves at their bytes\n\n"
            + matched_table(rows, theirs, ours, ours_first=False)
            + "\n### Our files against libultrahdr's curves at our bytes\n\n"
            + matched_table(rows, ours, theirs[::2], ours_first=True)
            + "\n### Per image: the defaults\n\n" + per_image_table(rows)
            + "\n### The standard map of ultrahdr+mlp\n\n" + map_table(rows)
            + "\n### Base chroma subsampling (ultrahdr+mlp)\n\n" + sub_table(rows))
    if output:
        Path(output).write_text(text)
    else:
        print(text)


if __name__ == "__main__":
    main()
