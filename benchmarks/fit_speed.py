"""Fitting speed: the fused trainer against the plain autograd fit, one image and many.

Runs in this process, on the same pairs, and prints seconds, images/s, PSNR and the
ratios against the plain version measured in the same run:

* ``plain``: the autograd fit (``--engine autograd``) with the recipe of the paper and of
  gainmlp before the fused trainer: 1000 steps of 65,536 pixels;
* ``default``: what ``gainmlp encode`` runs now (the defaults of
  :class:`gainmlp.EncodeOptions`: on a CPU the CPU trainer, numba; ``--engine`` picks
  another: ``torch`` is the torch fused trainer, the default before issue 23);
* ``batched``: the default recipe for ``--images`` pairs fitted together
  (:func:`gainmlp.encode_many`), against fitting them one by one, with each image's PSNR
  next to its single-image fit (they must agree: same seed, same pixel draws).

Pairs: ``--exr`` images made into pairs by the pair maker (``--tmo``), resized to
``--long-side``; without ``--exr``, the demo scene at that size. Examples::

    python benchmarks/fit_speed.py --long-side 1200            # ~1 MP demo scene, CPU
    python benchmarks/fit_speed.py --exr ../shared/data/hdr/Tree.exr --long-side 1024
    python benchmarks/fit_speed.py --device cuda --images 64 --skip-plain
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import gainmlp
from gainmlp.colorimetry import SdrEncoding
from gainmlp.evaluation import downscale_linear
from gainmlp.io import read_hdr_linear
from gainmlp.metrics import psnr
from gainmlp.pair import make_pair
from gainmlp.scene import demo_scene


def make_pairs(args: argparse.Namespace) -> list[tuple[str, gainmlp.SdrImage, np.ndarray]]:
    out = []
    sources = args.exr or [None]
    for i in range(args.images):
        src = sources[i % len(sources)]
        if src is None:
            h = args.long_side * 2 // 3
            linear, name = demo_scene(h, args.long_side, seed=i), f"scene{i}"
        else:
            linear = downscale_linear(read_hdr_linear(src), args.long_side)
            name = f"{Path(src).stem}{i}"
        sdr, hdr = make_pair(linear, "bt2020", args.tmo)
        out.append((name, gainmlp.SdrImage(sdr, SdrEncoding()),
                    hdr.astype(np.float32) / 65535.0))
    return out


def timed_encode(pairs, options: gainmlp.EncodeOptions, method: str) -> tuple[float, list]:
    t0 = time.perf_counter()
    payloads = [gainmlp.encode(sdr, hdr, method, options) for _, sdr, hdr in pairs]
    return time.perf_counter() - t0, payloads


def report(label: str, seconds: float, pairs, payloads, ref: float | None = None) -> list:
    scores = [psnr(hdr, gainmlp.decode(p, sdr.pixels)) for (_, sdr, hdr), p in
              zip(pairs, payloads, strict=True)]
    ratio = f"  {ref / seconds:6.1f}x faster than plain" if ref else ""
    print(f"{label:<28} {seconds:8.2f} s  {len(pairs) / seconds:7.2f} images/s  "
          f"PSNR {np.mean(scores):6.2f} dB{ratio}")
    return scores


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--exr", nargs="*", default=None, help="HDR images (default: demo scene)")
    ap.add_argument("--tmo", default="reinhard-devlin")
    ap.add_argument("--long-side", type=int, default=1200)
    ap.add_argument("--images", type=int, default=1, help="pairs fitted together (batched)")
    ap.add_argument("--method", default="gamma-mlp")
    ap.add_argument("--grid", default="auto", help="grid option (none: the paper's network)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--engine", default="auto", help="auto, numba or torch")
    ap.add_argument("--skip-plain", action="store_true", help="no autograd 65,536-px run")
    args = ap.parse_args()

    pairs = make_pairs(args)
    h, w = pairs[0][2].shape[:2]
    print(f"{len(pairs)} pair(s) of {w}x{h} ({w * h / 1e6:.2f} MP), {args.method}, grid "
          f"{args.grid}, device {args.device}, engine {args.engine}")
    grid = None if args.grid == "none" else args.grid
    default = gainmlp.EncodeOptions(grid=grid, device=args.device, engine=args.engine)
    plain_s = None
    if not args.skip_plain:
        plain = gainmlp.EncodeOptions(grid=grid, device=args.device, batch=65536,
                                      engine="autograd")
        plain_s, payloads = timed_encode(pairs[:1], plain, args.method)
        report("plain (autograd, 65,536 px)", plain_s, pairs[:1], payloads)
    seconds, payloads = timed_encode(pairs[:1], default, args.method)
    report("default, one image", seconds, pairs[:1], payloads, plain_s)
    if len(pairs) > 1:
        one_s, singles = timed_encode(pairs, default, args.method)
        alone = report("default, one by one", one_s, pairs, singles)
        t0 = time.perf_counter()
        batched = gainmlp.encode_many([(sdr, hdr) for _, sdr, hdr in pairs], args.method,
                                      default)
        many_s = time.perf_counter() - t0
        together = report("default, all together", many_s, pairs, batched,
                          plain_s * len(pairs) if plain_s else None)
        gap = np.abs(np.asarray(alone) - np.asarray(together))
        print(f"together vs one by one: {one_s / many_s:.2f}x faster; largest per-image PSNR "
              f"difference {gap.max():.4f} dB; identical payloads: "
              f"{sum(a.body == b.body for a, b in zip(singles, batched, strict=True))}/"
              f"{len(pairs)}")


if __name__ == "__main__":
    main()
