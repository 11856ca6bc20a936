"""How bright each tone mapper's SDR is on the dev images: clipped pixels and mean RGB.

For every HDR image of ``--data`` (box-downscaled to ``--long-side`` pixels, as the
evaluation's pairs are) and every tone mapper, the SDR of ``gainmlp.pair.make_pair`` is
made and summarised: the percentage of pixels with some channel at 255 ("clip"), with all
three at 255 ("white"), with some channel at 0 ("zero"), and the mean 8-bit R/G/B.

A diagnostic row, ``reinhard-devlin /100``, runs Reinhard & Devlin on the same decoded
HDR rendition expressed in units of 100 cd/m2 instead of cd/m2 (the operator is not
scale invariant; see ``gainmlp.tonemap.reinhard_devlin``). It is not a mode of the pair
maker. Also printed per image: Reinhard & Devlin's contrast ``m`` (from the image key).

    .venv/bin/python benchmarks/tonemappers.py --data ../shared/data/hdr --long-side 512

prints a markdown table (docs/results/tonemappers.md). About a minute on one core.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np

from gainmlp import colorimetry, tonemap
from gainmlp.errors import GainMLPWarning
from gainmlp.evaluation.pairs import downscale_linear, hdr_images
from gainmlp.io import read_hdr_linear
from gainmlp.pair import PQ_CODE_MAX, SDR_CODE_MAX, make_pair

DIAGNOSTIC = "reinhard-devlin /100"


def sdr_stats(sdr: np.ndarray) -> tuple[float, float, float, np.ndarray]:
    """(clip %, white %, zero %, mean RGB) of an 8-bit (H, W, 3) SDR."""
    top = sdr == SDR_CODE_MAX
    return (100.0 * float(top.any(axis=2).mean()), 100.0 * float(top.all(axis=2).mean()),
            100.0 * float((sdr == 0).any(axis=2).mean()),
            sdr.reshape(-1, 3).astype(np.float64).mean(axis=0))


def reinhard_devlin_m(nits: np.ndarray) -> float:
    """The contrast m that ``reinhard_devlin`` derives from the image key (its default)."""
    lum = colorimetry.luminance(nits, "bt2020")
    l_av = float(np.exp(np.mean(np.log(lum + 1e-6))))
    hi = np.log2(float(np.quantile(lum, 0.99)) + 1e-9)
    lo = np.log2(float(np.quantile(lum, 0.01)) + 1e-9)
    k = float(np.clip((hi - np.log2(l_av + 1e-9)) / (hi - lo), 0.0, 1.0)) if hi > lo else 0.0
    return 0.3 + 0.7 * k**1.4


def diagnostic_sdr(hdr_u16: np.ndarray) -> np.ndarray:
    """Reinhard & Devlin of the pair's HDR in units of 100 cd/m2, encoded as the pair's SDR."""
    nits = colorimetry.pq_decode(hdr_u16.astype(np.float64) / PQ_CODE_MAX)
    linear = tonemap.reinhard_devlin(nits / 100.0)
    code = colorimetry.sdr_inverse_eotf(linear, "gamma2.4")
    return np.rint(np.clip(code, 0.0, 1.0) * SDR_CODE_MAX).astype(np.uint8)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data/hdr"))
    ap.add_argument("--long-side", type=int, default=512)
    ap.add_argument("--tmos", nargs="+", default=list(tonemap.TONE_MAPPERS))
    ap.add_argument("--no-diagnostic", action="store_true")
    args = ap.parse_args()

    rows = []
    for path in hdr_images(args.data):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", GainMLPWarning)  # negative pixels set to 0
            linear = downscale_linear(read_hdr_linear(path), args.long_side)
        hdr_u16 = None
        for tmo in args.tmos:
            sdr, hdr_u16 = make_pair(linear, "bt2020", tmo)
            rows.append((path.stem, tmo, *sdr_stats(sdr)))
        if not args.no_diagnostic and hdr_u16 is not None:
            rows.append((path.stem, DIAGNOSTIC, *sdr_stats(diagnostic_sdr(hdr_u16))))
            nits = colorimetry.pq_decode(hdr_u16.astype(np.float64) / PQ_CODE_MAX)
            print(f"<!-- {path.stem}: {linear.shape[1]}x{linear.shape[0]}, "
                  f"Reinhard-Devlin m = {reinhard_devlin_m(nits):.3f} -->")

    print("| image | tone mapper | clip % | white % | zero % | mean R/G/B |")
    print("| --- | --- | ---: | ---: | ---: | --- |")
    for image, tmo, clip, white, zero, mean in rows:
        rgb = "/".join(f"{v:.0f}" for v in mean)
        print(f"| {image} | {tmo} | {clip:.1f} | {white:.1f} | {zero:.1f} | {rgb} |")
    print()
    print("Mean over the images:")
    print()
    print("| tone mapper | clip % | white % | zero % | mean R/G/B | mean of R, G, B |")
    print("| --- | ---: | ---: | ---: | --- | ---: |")
    for tmo in [*args.tmos, *([] if args.no_diagnostic else [DIAGNOSTIC])]:
        sel = [r for r in rows if r[1] == tmo]
        clip, white, zero = (float(np.mean([r[i] for r in sel])) for i in (2, 3, 4))
        mean = np.mean([r[5] for r in sel], axis=0)
        rgb = "/".join(f"{v:.0f}" for v in mean)
        print(f"| {tmo} | {clip:.1f} | {white:.1f} | {zero:.1f} | {rgb} | {mean.mean():.0f} |")


if __name__ == "__main__":
    main()
