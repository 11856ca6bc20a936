"""``gainmlp bench photos DIR [DIR ...]``: gain-map photos re-encoded with rate control.

For every gain-map JPEG of the folders (Ultra HDR, Adobe, ISO 21496-1; files gainmlp does
not read are listed as skipped), and for every OpenEXR / Radiance image there turned into an
Ultra HDR file by gainmlp's own writer (one per tone mapper, cached under
``OUT/cache/ultrahdr``), one record:

* the photo: format, size, the original gain-map image's bytes;
* ours: the re-encode of :func:`gainmlp.photo.reencode_gainmap_photo` (base kept, the map
  fitted to the photo's own HDR rendition) with rate control at ``target_psnr``: payload
  bytes, the configuration chosen, PSNR against that rendition (PQ BT.2020 code values,
  the whole image), seconds, and the same for gainmlp's fixed default configuration;
* the conventional map at matched bytes: the photo's kind of gain map (ISO 21496-1
  arithmetic, as many channels as the original) recomputed from the same base and HDR and
  stored as a JPEG whose scale and quality are searched until its bytes (the JPEG plus
  its binary ISO 21496-1 metadata segment) are within :data:`MATCH_TOLERANCE` of our
  payload (the best PSNR among those that are), its PSNR.

Highlights (``docs/highlights.md``), against the photo's own HDR rendition with SDR white at
203 cd/m2: ours gets every key of :func:`gainmlp.metrics.hdr_metrics` (``hdr_flip``,
``hl_*`` above 1,000 cd/m2, ``hl2w_*`` above 406 cd/m2); the fixed default and the
conventional map get the highlight keys (``fixed_hl_*``, ``conv_hl_*``), not HDR-FLIP
(seconds per megapixel).

Outputs in OUT: ``results.csv``, ``results.json``, ``table.md`` and ``rd.png``. Records
are cached per file and options (``OUT/cache/photos``), so an interrupted run resumes.
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from gainmlp import metrics
from gainmlp.api import decode, encode, sdr_in_hdr_space
from gainmlp.colorimetry import SdrEncoding, convert_primaries, pq_decode, sdr_eotf
from gainmlp.container import gainmap_jpeg
from gainmlp.container.gainmap_jpeg import SDR_WHITE_NITS, GainMapJpeg
from gainmlp.container.photo import gain_map_size
from gainmlp.errors import GainMLPError
from gainmlp.image import SdrImage
from gainmlp.options import DEFAULT_TARGET_PSNR, EncodeOptions
from gainmlp.photo import reencode_options

#: Tone mappers that turn each HDR image of the folders into an Ultra HDR photo.
PHOTO_TMOS = ("reinhard-devlin", "local")
#: Gain-map scale and JPEG quality of those files (the ``gainmlp decode -o X.jpg`` defaults).
ULTRAHDR_SCALE, ULTRAHDR_QUALITY = 4, 85
#: Scales of the conventional map searched for a byte match, and the match tolerance.
MATCH_SCALES = (1, 2, 4, 8, 16)
MATCH_TOLERANCE = 0.10
JPEG_SUFFIXES = (".jpg", ".jpeg")


@dataclass
class PhotoFile:
    """One input: a name for the table, its bytes, and where it came from."""

    name: str
    data: bytes
    source: str


@dataclass
class Photo:
    """A decoded gain-map photo: the file, its base as gainmlp encodes it, its HDR."""

    gm: GainMapJpeg
    sdr: SdrImage
    hdr: np.ndarray


def load_photo(data: bytes) -> Photo:
    """The base and full-weight HDR rendition of a gain-map JPEG, as
    :func:`gainmlp.photo.reencode_gainmap_photo` fits them."""
    gm = gainmap_jpeg.read_gainmap_jpeg(data)
    hdr = gainmap_jpeg.gainmap_jpeg_to_hdr_pq(gm)
    encoding = SdrEncoding(gm.colour_space, "srgb", SDR_WHITE_NITS)
    return Photo(gm, SdrImage(gm.sdr, encoding, gm.icc), hdr)


def pq_pair(photo: Photo) -> tuple[np.ndarray, np.ndarray]:
    """(SDR, HDR) as the codecs see them: PQ BT.2020 code values, float32."""
    return sdr_in_hdr_space(photo.sdr.pixels, photo.sdr.encoding), photo.hdr


def ultrahdr_from_hdr_image(path: Path, tmo: str, cache: Path, long_side: int | None) -> bytes:
    """An Ultra HDR JPEG made by gainmlp's writer from one HDR image and a tone mapper
    (pair maker, then :func:`gainmlp.container.ultrahdr.ultrahdr_from_pair` at
    :data:`ULTRAHDR_SCALE` / :data:`ULTRAHDR_QUALITY`), cached in ``cache``."""
    from gainmlp.container.ultrahdr import ultrahdr_from_pair
    from gainmlp.evaluation.pairs import prepare_pairs, read_pair
    from gainmlp.io import atomic_write

    size = long_side or "full"
    out = cache / "ultrahdr" / f"{path.stem}_{tmo}_{size}.jpg"
    if not out.exists():
        [(_, _, folder)] = prepare_pairs(path.parent, cache, (tmo,), long_side, [path.stem])
        sdr, hdr = read_pair(folder)
        data, _ = ultrahdr_from_pair(sdr, hdr, ULTRAHDR_SCALE, ULTRAHDR_QUALITY)
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(out, data)
    return out.read_bytes()


def collect(dirs: list[Path], cache: Path, tmos: tuple[str, ...] = PHOTO_TMOS,
            long_side: int | None = None) -> list[PhotoFile]:
    """Every JPEG of ``dirs`` and an Ultra HDR file per HDR image x tone mapper."""
    from gainmlp.evaluation.pairs import HDR_SUFFIXES

    files = []
    for folder in dirs:
        folder = Path(folder)
        if not folder.is_dir():
            raise GainMLPError(f"{folder}: no such folder")
        for path in sorted(folder.iterdir()):
            suffix = path.suffix.lower()
            if suffix in JPEG_SUFFIXES:
                files.append(PhotoFile(path.name, path.read_bytes(), "file"))
            elif suffix in HDR_SUFFIXES:
                for tmo in tmos:
                    data = ultrahdr_from_hdr_image(path, tmo, cache, long_side)
                    files.append(PhotoFile(f"{path.stem} ({tmo})", data,
                                           f"ultrahdr from {path.name}"))
    if not files:
        raise GainMLPError(f"no JPEG or HDR image in {', '.join(str(d) for d in dirs)}")
    return files


# -- the conventional map at matched bytes ---------------------------------------------------


def _map_overhead(meta) -> int:
    """Bytes the gain-map image's ISO 21496-1 metadata segment adds to its JPEG (the
    compact binary form; the XMP copy Ultra HDR and Adobe readers want is not counted)."""
    from gainmlp.container.iso21496 import iso21496_segment_payload
    from gainmlp.container.segments import APP2, build_segment

    return len(build_segment(APP2, iso21496_segment_payload(meta)))


def conventional_map(photo: Photo) -> tuple[np.ndarray, object]:
    """The photo's kind of gain map (same channel count) recomputed at full resolution from
    its base and HDR rendition, with its metadata."""
    from gainmlp.iso_gainmap import compute_gain_map

    primaries = photo.gm.colour_space
    base = sdr_eotf(photo.sdr.pixels.astype(np.float64) / 255.0, "srgb")
    hdr = convert_primaries(pq_decode(photo.hdr), "bt2020", primaries) / SDR_WHITE_NITS
    channels = 1 if np.asarray(photo.gm.gain_map).ndim == 2 else 3
    return compute_gain_map(base, np.maximum(hdr, 0.0), channels=channels, primaries=primaries)


def _encoded_map(gain_map: np.ndarray, scale: int, quality: int) -> bytes:
    from gainmlp.io.jpeg import encode_jpeg
    from gainmlp.resample import resize_bicubic_u8, scaled_size

    height, width = gain_map.shape[:2]
    mw, mh = scaled_size(width, height, scale)
    small = gain_map if (mw, mh) == (width, height) else resize_bicubic_u8(gain_map, mw, mh)
    return encode_jpeg(small, quality, optimize=True,
                       subsampling=0 if small.ndim == 3 else None)


def _quality_for(gain_map: np.ndarray, scale: int, target: int, overhead: int
                 ) -> tuple[int, bytes]:
    """The JPEG quality (1..100) whose map bytes come closest to ``target`` at ``scale``."""
    lo, hi = 1, 100
    best: tuple[int, int, bytes] | None = None
    while lo <= hi:
        q = (lo + hi) // 2
        data = _encoded_map(gain_map, scale, q)
        size = len(data) + overhead
        if best is None or abs(size - target) < abs(best[1] - target):
            best = (q, size, data)
        if size > target:
            hi = q - 1
        else:
            lo = q + 1
    return best[0], best[2]


def _highlights(photo: Photo, rebuilt: np.ndarray, flip: bool) -> dict:
    """The highlight keys (and ``hdr_flip`` with ``flip``) of ``rebuilt`` against the
    photo's HDR rendition, SDR white :data:`SDR_WHITE_NITS`, rounded to 4 decimals."""
    from gainmlp.highlights import highlight_metrics

    values = (metrics.hdr_metrics(photo.hdr, rebuilt, SDR_WHITE_NITS) if flip
              else highlight_metrics(photo.hdr, rebuilt, SDR_WHITE_NITS))
    return {k: None if v is None else round(v, 4) for k, v in values.items()}


def conventional_at_bytes(photo: Photo, target: int) -> dict:
    """The conventional map whose bytes are within :data:`MATCH_TOLERANCE` of ``target``
    with the best PSNR (the nearest in bytes when no scale gets that close)."""
    from gainmlp.io.jpeg import decode_jpeg

    t0 = time.perf_counter()
    gain_map, meta = conventional_map(photo)
    overhead = _map_overhead(meta)
    found = []
    for scale in MATCH_SCALES:
        quality, data = _quality_for(gain_map, scale, target, overhead)
        size = len(data) + overhead
        found.append((abs(size - target) <= MATCH_TOLERANCE * target, scale, quality, size,
                      data))
    matched = [f for f in found if f[0]]
    candidates = matched or [min(found, key=lambda f: abs(f[3] - target))]
    best, best_hdr = None, None
    for _, scale, quality, size, data in candidates:
        small, _ = decode_jpeg(data, "gain-map image")
        gm = replace(photo.gm, gain_map=small, metadata=meta, apple=None, gain_map_icc=None)
        rebuilt = gainmap_jpeg.gainmap_jpeg_to_hdr_pq(gm)
        psnr = metrics.psnr(photo.hdr, rebuilt)
        if best is None or psnr > best["conv_psnr"]:
            best = {"conv_scale": scale, "conv_quality": quality, "conv_bytes": size,
                    "conv_psnr": round(psnr, 2)}
            best_hdr = rebuilt
    best["conv_matched"] = bool(matched)
    best.update({f"conv_{k}": v for k, v in _highlights(photo, best_hdr, False).items()})
    best["conv_seconds"] = round(time.perf_counter() - t0, 2)
    return best


# -- one photo -------------------------------------------------------------------------------


def _ours(photo: Photo, method: str, options: EncodeOptions, flip: bool = True) -> dict:
    """Encode (timed), decode, measure against the photo's own HDR rendition (the
    highlight keys; ``hdr_flip`` too with ``flip``)."""
    from gainmlp.codecs.mlp.format import describe_body

    t0 = time.perf_counter()
    payload = encode(photo.sdr, photo.hdr, method, options)
    seconds = time.perf_counter() - t0
    rebuilt = decode(payload, photo.sdr.pixels)
    return {"bytes": len(payload.to_bytes()), "config": describe_body(payload.body),
            "psnr": round(metrics.psnr(photo.hdr, rebuilt), 2), "seconds": round(seconds, 2),
            **_highlights(photo, rebuilt, flip)}


def bench_photo(item: PhotoFile, method: str, options: EncodeOptions) -> dict:
    """The record of one photo (see the module docstring); ``skipped`` when gainmlp does
    not read it as a gain-map JPEG."""
    record: dict = {"file": item.name, "source": item.source}
    try:
        photo = load_photo(item.data)
    except GainMLPError as exc:
        return record | {"skipped": str(exc)}
    height, width = photo.sdr.pixels.shape[:2]
    gmap = np.asarray(photo.gm.gain_map)
    record.update(format=photo.gm.flavour, width=width, height=height,
                  map=f"{gmap.shape[1]}x{gmap.shape[0]}x{1 if gmap.ndim == 2 else 3}",
                  original_map_bytes=gain_map_size(item.data))
    fixed = _ours(photo, method, replace(options, target_psnr=None, max_bytes=None), False)
    ours = _ours(photo, method, reencode_options(item.data, method, options))
    record.update({f"fixed_{k}": v for k, v in fixed.items()})
    record.update(ours)
    record["cost_ratio"] = round(ours["seconds"] / max(fixed["seconds"], 1e-9), 2)
    record.update(conventional_at_bytes(photo, ours["bytes"]))
    return record


# -- the whole folder ------------------------------------------------------------------------


def _warm_up(method: str, options: EncodeOptions) -> None:
    """One tiny encode first, so that the first photo's seconds do not include importing
    and initialising torch."""
    pixels = np.full((16, 16, 3), 128, np.uint8)
    encode(SdrImage(pixels, SdrEncoding()), np.full((16, 16, 3), 0.6, np.float32), method,
           replace(options, steps=2, target_psnr=None, max_bytes=None))


def run_photos(dirs: list[Path], out_dir: Path, method: str = "gamma-mlp",
               options: EncodeOptions | None = None, tmos: tuple[str, ...] = PHOTO_TMOS,
               long_side: int | None = None, cache: Path | None = None) -> list[dict]:
    """Bench every photo of ``dirs`` (see the module docstring); returns the records."""
    from tqdm import tqdm

    options = options or EncodeOptions(target_psnr=DEFAULT_TARGET_PSNR)
    out_dir = Path(out_dir)
    cache = Path(cache) if cache else out_dir / "cache"
    (cache / "photos").mkdir(parents=True, exist_ok=True)
    files = collect([Path(d) for d in dirs], cache, tmos, long_side)
    key_opts = json.dumps({"method": method, **{k: v for k, v in vars(options).items()
                                                 if k != "progress"}}, sort_keys=True)
    rows = []
    _warm_up(method, options)
    bar = tqdm(files, desc="bench photos", unit="photo", disable=not sys.stderr.isatty())
    for item in bar:
        bar.set_postfix_str(item.name)
        digest = hashlib.sha1(item.data + key_opts.encode()).hexdigest()[:16]
        path = cache / "photos" / f"{digest}.json"
        if path.exists():
            record = json.loads(path.read_text())
        else:
            record = bench_photo(item, method, options)
            path.write_text(json.dumps(record))
        rows.append(record)
    write_outputs(rows, out_dir, method, options)
    return rows


TABLE_COLUMNS = (
    ("file", "photo", "{}"), ("format", "format", "{}"), ("map", "map", "{}"),
    ("original_map_bytes", "map KB", "kb"), ("fixed_bytes", "default KB", "kb"),
    ("fixed_psnr", "default dB", "{:.2f}"), ("config", "chosen", "{}"),
    ("bytes", "ours KB", "kb"), ("psnr", "ours dB", "{:.2f}"),
    ("conv_bytes", "conv. KB", "kb"), ("conv_psnr", "conv. dB", "{:.2f}"),
    ("conv_setting", "conv. scale/q", "{}"), ("seconds", "ours s", "{:.1f}"),
    ("cost_ratio", "× default", "{:.2f}"), ("hl_light_ratio", "HL light", "{:.3f}"),
    ("hl_p999_ratio", "p99.9", "{:.3f}"), ("conv_hl_light_ratio", "conv. HL light", "{:.3f}"),
    ("hdr_flip", "FLIP", "{:.4f}"),
)


def _cell(value, fmt: str) -> str:
    """One cell: KB of 1024 bytes for ``kb``; "–" for a value a record does not have (no
    pixel above the threshold, or a record cached before the key existed)."""
    if value is None:
        return "–"
    return f"{value / 1024:.1f}" if fmt == "kb" else fmt.format(value)


def markdown_table(rows: list[dict]) -> str:
    """The records as a markdown table (KB of 1024 bytes), skipped files listed below."""
    done = [r for r in rows if "skipped" not in r]
    head = [c[1] for c in TABLE_COLUMNS]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for r in done:
        r = r | {"conv_setting": f"1/{r['conv_scale']} q{r['conv_quality']}"
                 + ("" if r["conv_matched"] else " (unmatched)")}
        cells = [_cell(r.get(k), fmt) for k, _, fmt in TABLE_COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    if done:
        lines.append(_summary(done))
    for r in rows:
        if "skipped" in r:
            lines.append(f"\nSkipped {r['file']}: {r['skipped']}")
    return "\n".join(lines) + "\n"


def _summary(done: list[dict]) -> str:
    def mean(key: str) -> float:
        return float(np.mean([r[key] for r in done]))

    def mean_of_some(key: str, fmt: str) -> str:  # over the photos that have the key
        values = [r[key] for r in done if r.get(key) is not None]
        return _cell(float(np.mean(values)) if values else None, fmt)

    ratio = sum(r["seconds"] for r in done) / sum(r["fixed_seconds"] for r in done)
    cells = ["**mean**", "", "", f"{mean('original_map_bytes') / 1024:.1f}",
             f"{mean('fixed_bytes') / 1024:.1f}", f"{mean('fixed_psnr'):.2f}", "",
             f"{mean('bytes') / 1024:.1f}", f"{mean('psnr'):.2f}",
             f"{mean('conv_bytes') / 1024:.1f}", f"{mean('conv_psnr'):.2f}", "",
             f"{mean('seconds'):.1f}", f"{ratio:.2f} (total)",
             *(mean_of_some(k, fmt) for k, _, fmt in TABLE_COLUMNS[-4:])]
    return "| " + " | ".join(cells) + " |"


def write_outputs(rows: list[dict], out_dir: Path, method: str, options: EncodeOptions) -> None:
    """``results.csv``, ``results.json``, ``table.md`` and ``rd.png`` in ``out_dir``."""
    from gainmlp.evaluation.report import write_records
    from gainmlp.io import atomic_write

    write_records(rows, out_dir)
    done = [r for r in rows if "skipped" not in r]
    reached = sum(r["psnr"] >= options.target_psnr for r in done) if options.target_psnr else 0
    header = (f"# bench photos\n\nCommand: `{' '.join(['gainmlp'] + sys.argv[1:])}`  \n"
              f"Machine: {platform.machine()} {platform.processor() or ''}, "
              f"{platform.python_version()}; date {time.strftime('%Y-%m-%d')}  \n"
              f"{method}, target {options.target_psnr} dB"
              + (f", max {options.max_bytes} bytes" if options.max_bytes else "")
              + f": {reached} of {len(done)} photos reach it (PSNR of the whole image, "
              "PQ BT.2020 code values, against the photo's own HDR rendition). "
              "default: gainmlp's fixed configuration; conv.: the photo's kind of gain map "
              f"as a JPEG within ±{MATCH_TOLERANCE:.0%} of our bytes; × default: encode "
              "seconds over the default's. HL light: total light of the pixels above "
              "1,000 cd/m2, reconstruction over the photo's HDR (– without such pixels); "
              "p99.9: ratio of the 99.9th-percentile luminance; FLIP: mean HDR-FLIP error "
              "(docs/highlights.md).\n\n")
    atomic_write(out_dir / "table.md", (header + markdown_table(rows)).encode())
    if done:
        rd_plot(done, out_dir / "rd.png", options.target_psnr)


def rd_plot(rows: list[dict], path: Path, target: float | None) -> None:
    """Payload bytes against PSNR per photo: ours (rate control and default) and the
    conventional map at matched bytes (object-oriented matplotlib: no global state)."""
    from gainmlp.evaluation.report import require_matplotlib

    require_matplotlib("gainmlp bench photos")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    fig = Figure(figsize=(8, 5.5))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for r in rows:
        ax.plot([r["bytes"] / 1024, r["conv_bytes"] / 1024], [r["psnr"], r["conv_psnr"]],
                "-", color="0.8", linewidth=0.8, zorder=1)
    series = (("fixed_bytes", "fixed_psnr", "gainmlp default (fixed)", "^", "tab:grey"),
              ("bytes", "psnr", "gainmlp, rate control", "o", "tab:blue"),
              ("conv_bytes", "conv_psnr", "conventional map, matched bytes", "s", "tab:red"))
    for kb, db, label, marker, colour in series:
        for made, face, suffix in ((False, colour, ""), (True, "none", " (made from HDR)")):
            pts = [r for r in rows if r["source"].startswith("ultrahdr from") == made]
            if pts:
                ax.scatter([r[kb] / 1024 for r in pts], [r[db] for r in pts], marker=marker,
                           edgecolors=colour, facecolors=face, label=label + suffix, zorder=2,
                           s=28)
    if target is not None:
        ax.axhline(target, color="tab:blue", linestyle=":", linewidth=1,
                   label=f"target {target:g} dB")
    ax.set_xscale("log")
    plain = FuncFormatter(lambda v, _: f"{v:g}")
    ax.xaxis.set_major_formatter(plain)
    ax.xaxis.set_minor_formatter(plain)
    ax.set_xlabel("gain-map bytes (KB)")
    ax.set_ylabel("PSNR vs the photo's HDR (dB, PQ)")
    ax.set_title("Gain-map photos re-encoded: gainmlp vs the conventional map")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


__all__ = ["MATCH_TOLERANCE", "PHOTO_TMOS", "Photo", "PhotoFile", "bench_photo", "collect",
           "conventional_at_bytes", "load_photo", "markdown_table", "pq_pair", "run_photos"]
