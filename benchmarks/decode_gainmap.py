"""Conventional gain-map decoding and HDR writers: fused kernels vs the numpy path and libvips.

    python benchmarks/decode_gainmap.py [--data ../shared/data/gainmap] [--repeat 3]
        [--skip-writers] [--keep DIR]

1. Every gain-map JPEG of ``--data``: max abs difference of the compiled path
   (``gainmlp.kernels.gainmap``) from the numpy path (``GAINMLP_KERNELS=numpy``, today's
   code) in PQ code values, and the largest relative difference of linear BT.2020.
2. A 12-MP Ultra HDR JPEG built from the shared Ultra HDR photo (its HDR rendition
   bicubic-upscaled to 4240x2827 and re-encoded by libultrahdr through imagecodecs, map
   scale 1 and 4): the decode from bytes to float HDR by gainmlp (``photo.decode_photo``,
   PQ and linear) and by libvips (``uhdr2scRGB``), best of ``--repeat``, in one run.
3. The writers (``gainmlp.io.write_hdr``) on that 12-MP picture: seconds and bytes.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _best(fn, repeat: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def _numpy_path(fn):
    os.environ["GAINMLP_KERNELS"] = "numpy"
    try:
        return fn()
    finally:
        os.environ.pop("GAINMLP_KERNELS", None)


def compare_files(folder: Path) -> None:
    from gainmlp import photo

    print("file | max abs PQ | max rel linear (> 1e-3 cd/m2)")
    for path in sorted(folder.glob("*.jpg")):
        data = path.read_bytes()
        new = photo.decode_photo(data, path.name)
        old = _numpy_path(lambda d=data, n=path.name: photo.decode_photo(d, n))
        lin = photo.decode_photo(data, path.name, linear=True)
        lin_old = _numpy_path(lambda d=data, n=path.name: photo.decode_photo(d, n, linear=True))
        big = lin_old > 1e-3
        rel = np.abs(lin[big].astype(np.float64) - lin_old[big]) / lin_old[big]
        print(f"{path.name} | {np.abs(new - old).max():.2e} | {rel.max():.2e}")


def build_12mp(folder: Path, out_dir: Path) -> dict[int, Path]:
    import imagecodecs
    from PIL import Image

    from gainmlp.container import gainmap_jpeg as g

    gm = g.read_gainmap_jpeg((folder / "tokyo_ultrahdr.jpg").read_bytes())
    lin, _ = g.gainmap_jpeg_to_linear(gm)
    width, height = 4240, 2827
    up = np.stack([np.asarray(Image.fromarray(np.ascontiguousarray(lin[:, :, c])).resize(
        (width, height), Image.Resampling.BICUBIC)) for c in range(3)], -1)
    rgba = np.ones((height, width, 4), np.float16)
    rgba[..., :3] = np.maximum(up, 0).astype(np.float16)
    paths = {}
    for scale in (1, 4):
        paths[scale] = out_dir / f"tokyo_12mp_map{scale}.jpg"
        paths[scale].write_bytes(imagecodecs.ultrahdr_encode(rgba, level=95, gamut=0,
                                                             transfer=0, scale=scale))
    return paths


def time_decoders(paths: dict[int, Path], repeat: int) -> np.ndarray:
    import pyvips

    from gainmlp import photo

    pq = None
    for scale, path in paths.items():
        data = path.read_bytes()
        photo.decode_photo(data)  # compile / warm caches
        t_vips, _ = _best(lambda p=path: pyvips.Image.new_from_file(str(p)).uhdr2scRGB()
                          .numpy(), repeat)
        t_pq, pq = _best(lambda d=data: photo.decode_photo(d), repeat)
        t_lin, _ = _best(lambda d=data: photo.decode_photo(d, linear=True), repeat)
        t_old, old = _best(lambda d=data: _numpy_path(lambda: photo.decode_photo(d)), 1)
        print(f"12 MP, map scale {scale}: libvips {t_vips:.3f} s | gainmlp PQ {t_pq:.3f} s "
              f"({t_pq / t_vips:.2f}x) | linear {t_lin:.3f} s ({t_lin / t_vips:.2f}x) | "
              f"numpy path PQ {t_old:.3f} s | max abs PQ vs numpy {np.abs(pq - old).max():.2e}")
    return pq


def time_writers(pq: np.ndarray, out_dir: Path) -> None:
    from gainmlp.io import write_hdr

    for ext in (".png", ".exr", ".avif"):
        target = out_dir / f"out{ext}"
        t, _ = _best(lambda t=target: write_hdr(t, pq), 1)
        print(f"write {ext}: {t:.2f} s, {target.stat().st_size:,} bytes")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path,
                        default=Path(__file__).resolve().parents[2] / "shared/data/gainmap")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-writers", action="store_true")
    parser.add_argument("--keep", type=Path, help="keep the 12-MP files in this folder")
    args = parser.parse_args()
    if not args.data.is_dir():
        print(f"no folder {args.data}", file=sys.stderr)
        return 2
    compare_files(args.data)
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = args.keep or Path(tmp)
        out_dir.mkdir(parents=True, exist_ok=True)
        pq = time_decoders(build_12mp(args.data, out_dir), args.repeat)
        if not args.skip_writers:
            time_writers(pq, out_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
