"""HDR after edits: thumbnails, crops and rotations of gainmlp photos (docs/edits.md).

Sources: the dev set (every HDR image of ``--data`` made into a pair with ``--tmo`` at
``--long-side``, ``gainmlp.evaluation.pairs``; its HDR is the reference) and the gain-map
photos of ``--photos`` (re-encoded with ``photo.reencode_gainmap_photo``; the reference is
the photo's own full-weight HDR). Each source becomes

* the default container (``ultrahdr+mlp``: the payload, with rate control's defaults, plus
  the small standard map), and
* a standard gain-map JPEG alone (``ultrahdr``) whose map (scale 2 or 1, JPEG quality
  50-95) is the closest in bytes to that payload: a conventional map at the same bytes.

Each edit (thumbnails 1/2, 1/4, 1/8; a centre crop on the block grid, the same crop off it;
a 90° rotation; a 270° rotation with an odd crop) is applied with ``gainmlp.edits`` and the
edited file's HDR is compared (PSNR on PQ code values) with the same edit applied to the
reference HDR (``edits.edit_hdr``: turned, cropped, resampled in linear light):

* ``mlp``: the payload of the edited file (header version 2, the view);
* ``full-then-edit``: the full-size payload decode, then the edit (what decoding first and
  resizing the HDR gives: the cost of averaging colours before the network is the gap);
* ``map``: the edited default file's own small standard map;
* ``conv``: the edited same-bytes conventional file's map (resampled with the base);
* ``conv-full-then-edit``: that file's full-size HDR, then the edit;
* ``mlp-unsnapped``: the payload evaluated at the base's own pixel centres instead of the
  original pixel centres they fall in (docs/payload-format.md, header version 2).

``mlp-edges`` / ``full-edges`` restrict the first two to the 10 % of pixels with the largest
luma gradient of the reference (edges); ``mlp-flat`` the other 90 %. Prints a markdown
table (means over the sources) and writes per-source JSON with ``--json``::

    python benchmarks/edits.py --long-side 512
    python benchmarks/edits.py --images Desk,Tree --no-photos --json out.json
    python benchmarks/edits.py --long-side 512 --reencode-quality 98
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def _edits(width: int, height: int):
    """(name, Edit) for a ``width x height`` base."""
    from gainmlp.edits import Edit

    cw, ch = width // 2, height // 2
    x, y = (width // 4) // 16 * 16, (height // 4) // 16 * 16
    out = [(f"thumbnail 1/{k}", Edit(size=(max(1, round(width / k)), max(1, round(height / k))),
                                      thumbnail=True)) for k in (2, 4, 8)]
    out += [("crop 1/2 (on grid)", Edit(box=(x, y, cw, ch))),
            ("crop 1/2 (off grid)", Edit(box=(x + 3, y + 5, cw, ch))),
            ("rotate 90", Edit(orientation=6)),
            ("rotate 270 + crop", Edit(orientation=8, box=(5, 7, height // 2, width // 2)))]
    return out


def _psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    d = (a - b) if mask is None else (a - b)[mask]
    mse = float(np.mean(np.square(d, dtype=np.float64)))
    return 99.0 if mse <= 1e-10 else 10.0 * np.log10(1.0 / mse)


def _edge_mask(hdr: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    luma = hdr @ np.array([0.2627, 0.6780, 0.0593], dtype=np.float32)
    grad = np.hypot(ndimage.sobel(luma, 0), ndimage.sobel(luma, 1))
    return grad >= np.percentile(grad, 90)


def _map_hdr(data: bytes) -> np.ndarray:
    from gainmlp.container import gainmap_jpeg

    return gainmap_jpeg.gainmap_jpeg_to_hdr_pq(gainmap_jpeg.read_gainmap_jpeg(data))


def _unsnapped(data: bytes) -> np.ndarray:
    """The payload's HDR evaluated at the base's own pixel centres mapped into the
    original frame, not moved to the original pixel centres (a view without its frame
    size): what the decoders would give without that rule."""
    from gainmlp import photo
    from gainmlp.api import sdr_in_hdr_space_indexed
    from gainmlp.codecs import decode_residual

    base, payload = photo.read_photo(data)
    sdr = sdr_in_hdr_space_indexed(base.pixels, payload.sdr)
    return decode_residual(payload.method, payload.body, sdr, payload.eps, payload.view)


def _same_bytes_conventional(sdr, hdr: np.ndarray, target: int) -> tuple[bytes, int]:
    """A standard gain-map JPEG whose map is the closest in bytes to ``target``."""
    from gainmlp.container.ultrahdr import standard_gain_map, ultrahdr_from_pair
    from gainmlp.io.jpeg import encode_jpeg

    best = None
    for scale in (8, 4, 2, 1):
        gain_map, _ = standard_gain_map(sdr, hdr, scale)
        for q in (50, 60, 70, 80, 90, 95):
            size = len(encode_jpeg(gain_map, q, optimize=True, subsampling=0))
            if best is None or abs(size - target) < abs(best[0] - target):
                best = (size, scale, q)
    _, scale, q = best
    data, parts = ultrahdr_from_pair(sdr, hdr, scale, q)
    return data, parts["gain_map"]


def measure(name: str, data: bytes, conv: bytes, reference: np.ndarray, conv_bytes: int,
            payload_bytes: int, quality: int | None = None) -> list[dict]:
    """Every edit of one source: a record per edit (``quality``: of re-encoded bases)."""
    from dataclasses import replace

    from gainmlp import edits, photo

    full = photo.decode_photo(data)
    conv_full = _map_hdr(conv)
    height, width = reference.shape[:2]
    rows = []
    for label, edit in _edits(width, height):
        edit = replace(edit, quality=quality)
        out, report = edits.edit_jpeg(data, edit, name)
        ref = edits.edit_hdr(reference, edit)
        mlp = photo.decode_photo(out)
        unsnapped = _unsnapped(out)
        full_then = edits.edit_hdr(full, edit)
        edge = _edge_mask(ref)
        conv_out, _ = edits.edit_jpeg(conv, edit, name)
        conv_hdr = _map_hdr(conv_out)
        ref_pq = edits.edit_hdr(reference, edit, linear=False)
        full_pq = edits.edit_hdr(full, edit, linear=False)
        rows.append({
            "source": name, "edit": label, "size": f"{mlp.shape[1]}x{mlp.shape[0]}",
            "mlp": _psnr(ref, mlp), "full-then-edit": _psnr(ref, full_then),
            "map": _psnr(ref, _map_hdr(out)), "conv": _psnr(ref, conv_hdr),
            "conv-full-then-edit": _psnr(ref, edits.edit_hdr(conv_full, edit)),
            "mlp-edges": _psnr(ref, mlp, edge), "full-edges": _psnr(ref, full_then, edge),
            "mlp-flat": _psnr(ref, mlp, ~edge), "full-flat": _psnr(ref, full_then, ~edge),
            "mlp-unsnapped": _psnr(ref, unsnapped),
            "mlp-pqref": _psnr(ref_pq, mlp), "full-pqref": _psnr(ref_pq, full_pq),
            "conv-pqref": _psnr(ref_pq, conv_hdr), "conv-full-pqref": _psnr(
                ref_pq, edits.edit_hdr(conv_full, edit, linear=False)),
            "base_reencoded": report.base_reencoded, "payload_bytes": payload_bytes,
            "conv_map_bytes": conv_bytes, "file_bytes": len(out),
        })
    return rows


def sources(args: argparse.Namespace):
    """(name, default-container bytes, same-bytes conventional bytes, reference HDR,
    conventional map bytes, payload bytes) per source."""
    from gainmlp import photo
    from gainmlp.colorimetry import SdrEncoding
    from gainmlp.container import gainmap_jpeg
    from gainmlp.container.app11 import extract_payload
    from gainmlp.evaluation.pairs import prepare_pairs, read_pair
    from gainmlp.image import SdrImage

    if args.data:
        images = args.images.split(",") if args.images else None
        for stem, _tmo, folder in prepare_pairs(Path(args.data), Path(args.cache), (args.tmo,),
                                                args.long_side, images):
            sdr, hdr = read_pair(folder)
            data, parts = photo.encode_jpeg(sdr, hdr)
            conv, conv_bytes = _same_bytes_conventional(sdr, hdr, parts["payload"])
            yield stem, data, conv, hdr, conv_bytes, parts["payload"]
    if args.photos:
        for path in sorted(Path(args.photos).glob("*.jpg")):
            raw = path.read_bytes()
            gm = gainmap_jpeg.read_gainmap_jpeg(raw)
            reference = gainmap_jpeg.gainmap_jpeg_to_hdr_pq(gm)
            data, _report = photo.reencode_gainmap_photo(raw, name=path.name)
            payload = len(extract_payload(data))
            sdr = SdrImage(gm.sdr, SdrEncoding(gm.colour_space, "srgb",
                                               gainmap_jpeg.SDR_WHITE_NITS), gm.icc)
            conv, conv_bytes = _same_bytes_conventional(sdr, reference, payload)
            yield path.stem, data, conv, reference, conv_bytes, payload


#: The tables printed: (title, columns).
TABLES = (("PSNR (dB) against the same edit of the reference HDR (resampled in linear light)",
           ("mlp", "full-then-edit", "map", "conv", "conv-full-then-edit", "mlp-unsnapped")),
          ("Edges (the 10 % of pixels with the largest luma gradient) and the rest",
           ("mlp-edges", "full-edges", "mlp-flat", "full-flat")),
          ("Against the reference resampled on PQ code values (as the base on its "
           "gamma-encoded values)", ("mlp-pqref", "full-pqref", "conv-pqref",
                                     "conv-full-pqref")))


def table(rows: list[dict], columns: tuple[str, ...]) -> str:
    """Markdown: per edit, the mean of each column over the sources."""
    edits_seen = list(dict.fromkeys(r["edit"] for r in rows))
    lines = ["| edit | n | " + " | ".join(columns) + " | base re-encoded |",
             "| --- | --- | " + " | ".join("---" for _ in columns) + " | --- |"]
    for e in edits_seen:
        sel = [r for r in rows if r["edit"] == e]
        means = [float(np.mean([r[c] for r in sel])) for c in columns]
        reenc = sum(r["base_reencoded"] for r in sel)
        lines.append(f"| {e} | {len(sel)} | " + " | ".join(f"{m:.2f}" for m in means)
                     + f" | {reenc}/{len(sel)} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from gainmlp.tonemap import DEFAULT_TONE_MAPPER

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default="/work/shared/data/hdr", help="folder of .exr/.hdr")
    p.add_argument("--photos", default="/work/shared/data/gainmap",
                   help="folder of gain-map JPEGs")
    p.add_argument("--no-photos", action="store_true")
    p.add_argument("--no-data", action="store_true")
    p.add_argument("--images", default=None, help="comma-separated image stems (default all)")
    p.add_argument("--tmo", default=DEFAULT_TONE_MAPPER)
    p.add_argument("--long-side", type=int, default=512)
    p.add_argument("--cache", default=str(REPO / "build" / "edits-cache"))
    p.add_argument("--json", default=None, help="write every record here")
    p.add_argument("--reencode-quality", type=int, default=None, metavar="Q",
                   help="JPEG quality of re-encoded bases (default: the source's tables)")
    args = p.parse_args(argv)
    if args.no_photos:
        args.photos = None
    if args.no_data:
        args.data = None
    from tqdm import tqdm

    rows: list[dict] = []
    t0 = time.time()
    with tqdm(desc="edits", unit="source", file=sys.stderr) as bar:
        for name, data, conv, reference, conv_bytes, payload in sources(args):
            rows += measure(name, data, conv, reference, conv_bytes, payload,
                            args.reencode_quality)
            bar.update(1)
    print(f"{len({r['source'] for r in rows})} sources, payload "
          f"{np.mean([r['payload_bytes'] for r in rows]):.0f} B and conventional map "
          f"{np.mean([r['conv_map_bytes'] for r in rows]):.0f} B on average, "
          f"{time.time() - t0:.0f} s\n")
    for title, columns in TABLES:
        print(f"{title}:\n\n{table(rows, columns)}\n")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
