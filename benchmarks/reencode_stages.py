"""Two studies of a photo re-encode's stages (issue 23 item 4), in this process.

``map`` (default): the standard Ultra HDR map that ``gainmlp encode`` writes, computed
by :func:`gainmlp.container.ultrahdr.standard_gain_map` (row tiles, compiled) and by the
float64 path it replaced (``colorimetry`` + ``iso_gainmap.compute_gain_map`` on the whole
image), for each gain-map JPEG given: CPU seconds of each, the map codes that differ,
the largest difference of GainMapMin/Max, and the PSNR (PQ) against the file's HDR of
the HDR an Ultra HDR reader renders from the re-encoded file with either map, at map
quality 60 (the default container's) and 85::

    python benchmarks/reencode_stages.py /work/shared/data/gainmap/*.jpg

``setup``: a whole default re-encode of one file, plain and then with the per-fit
set-up of rate control (``fit_plan.choose_transform`` / ``input_constants`` /
``output_constants`` and ``highlight_fit.focus_pixels``) memoised on the pair's
identity, i.e. computed once per search instead of once per fit: CPU seconds, payload
bytes and PSNR of each (run it with ``GAINMLP_THREADS=1`` for CPU seconds comparable
with ``benchmarks/encode_speed.py --threads 1``)::

    python benchmarks/reencode_stages.py --study setup uhdr12mp.jpg
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np


def _cpu(fn, *args):
    start = time.process_time()
    out = fn(*args)
    return time.process_time() - start, out


def float64_map(sdr, hdr_pq, scale: int = 4):
    """The map as ``standard_gain_map`` computed it before item 4 (whole image, float64)."""
    from gainmlp import colorimetry
    from gainmlp.container.ultrahdr import BASE_PRIMARIES, SDR_WHITE_NITS
    from gainmlp.iso_gainmap import compute_gain_map
    from gainmlp.resample import resize_bicubic_u8, scaled_size

    primaries = BASE_PRIMARIES[sdr.encoding.primaries]
    sdr_linear = colorimetry.sdr_eotf(sdr.pixels.astype(np.float64) / 255.0, "srgb")
    hdr_linear = colorimetry.convert_primaries(colorimetry.pq_decode(hdr_pq), "bt2020",
                                               primaries) / SDR_WHITE_NITS
    codes, meta = compute_gain_map(sdr_linear, np.maximum(hdr_linear, 0.0), channels=3,
                                   primaries=primaries)
    height, width = codes.shape[:2]
    return resize_bicubic_u8(codes, *scaled_size(width, height, scale)), meta


def map_study(files: list[Path]) -> None:
    from gainmlp.colorimetry import SdrEncoding
    from gainmlp.container import gainmap_jpeg, ultrahdr
    from gainmlp.image import SdrImage
    from gainmlp.photo import _psnr, decode_photo

    print(f"{'file':<32} {'MP':>5} {'s old':>6} {'s new':>6} {'codes off':>12} "
          f"{'meta diff':>9} {'PSNR q60 old/new':>17} {'PSNR q85 old/new':>17}")
    for path in files:
        data = path.read_bytes()
        gm = gainmap_jpeg.read_gainmap_jpeg(data)
        hdr = gainmap_jpeg.gainmap_jpeg_to_hdr_pq(gm)
        sdr = SdrImage(gm.sdr, SdrEncoding(gm.colour_space, "srgb",
                                           gainmap_jpeg.SDR_WHITE_NITS), gm.icc)
        t_old, (m_old, meta_old) = _cpu(float64_map, sdr, hdr)
        t_new, (m_new, meta_new) = _cpu(ultrahdr.standard_gain_map, sdr, hdr)
        off = int(np.count_nonzero(m_old != m_new))
        meta = max(abs(a - b) for a, b in zip(meta_old.gain_map_min + meta_old.gain_map_max,
                                               meta_new.gain_map_min + meta_new.gain_map_max,
                                               strict=True))
        psnrs = []
        real = ultrahdr.standard_gain_map
        try:
            for quality in (60, 85):
                for made in ((m_old, meta_old), (m_new, meta_new)):
                    ultrahdr.standard_gain_map = lambda *_, made=made: made
                    out = ultrahdr.replace_gain_map(data, sdr, hdr, 4, quality, None, None)
                    psnrs.append(_psnr(hdr, decode_photo(out)))
        finally:
            ultrahdr.standard_gain_map = real
        mp = gm.sdr.shape[0] * gm.sdr.shape[1] / 1e6
        print(f"{path.name[:32]:<32} {mp:5.1f} {t_old:6.2f} {t_new:6.2f} "
              f"{off:>5}/{m_old.size:<6} {meta:9.1e} {psnrs[0]:8.3f}/{psnrs[1]:<8.3f} "
              f"{psnrs[2]:8.3f}/{psnrs[3]:<8.3f}", flush=True)


def setup_study(path: Path) -> None:
    import gainmlp.codecs.mlp.fit as fit
    import gainmlp.codecs.mlp.fit_plan as plan
    from gainmlp.photo import reencode_gainmap_photo

    data = path.read_bytes()
    t_plain, (_, plain) = _cpu(reencode_gainmap_photo, data)
    memo: dict = {}

    def once(name, fn, key):
        def wrapped(*args):
            k = (name, *key(*args))
            if k not in memo:
                memo[k] = fn(*args)
            return memo[k]
        return wrapped

    saved = {n: getattr(plan, n) for n in ("choose_transform", "input_constants",
                                           "output_constants")}
    saved_focus = fit.focus_pixels
    plan.choose_transform = once("t", saved["choose_transform"],
                                 lambda kind, s, h, eps: (kind, id(s), id(h), eps))
    plan.input_constants = once("i", saved["input_constants"], lambda s: (id(s),))
    plan.output_constants = once("o", saved["output_constants"],
                                 lambda kind, tr, s, h, eps: (kind, tr, id(s), id(h), eps))
    fit.focus_pixels = once("f", saved_focus, lambda spec, h, pool: (
        spec, id(h), None if pool is None else (pool.size, int(pool[:64].sum()))))
    try:
        t_memo, (_, memoised) = _cpu(reencode_gainmap_photo, data)
    finally:
        for n, fn in saved.items():
            setattr(plan, n, fn)
        fit.focus_pixels = saved_focus
    for label, seconds, report in (("per fit", t_plain, plain),
                                   ("once per search", t_memo, memoised)):
        print(f"set-up {label:<16} {seconds:6.1f} s CPU  payload {report['payload']} B  "
              f"PSNR {report['psnr_vs_original_hdr']:.2f} dB  {report.get('config', '')}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("files", nargs="+", type=Path, help="gain-map JPEGs")
    ap.add_argument("--study", choices=("map", "setup"), default="map")
    args = ap.parse_args()
    if args.study == "map":
        map_study(args.files)
    else:
        setup_study(args.files[0])


if __name__ == "__main__":
    main()
