"""Bytes and quality of each JPEG container, and closed- vs open-loop fitting.

For each dev image (pair made by the project's pair maker) writes, in memory:

* ``gainmlp``        SDR JPEG (q95) + MLP payload, fitted to the decoded JPEG (closed loop);
* ``gainmlp-open``   the same, fitted to the original SDR (the paper's open loop);
* ``ultrahdr``       standard Ultra HDR JPEG, RGB gain map at 1/4, q85;
* ``ultrahdr+mlp``   a 1/8 Ultra HDR map for other viewers + the MLP payload;

and prints file bytes, the parts, and PSNR of the HDR each file decodes to (ours, and for
Ultra HDR files libultrahdr's through imagecodecs) against the pair's HDR.

    python scripts/container_report.py ../shared/data/hdr --images Tree,Desk,MtTamWest
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from gainmlp import colorimetry, metrics, photo
from gainmlp.api import encode
from gainmlp.codecs import EncodeOptions
from gainmlp.colorimetry import SdrEncoding
from gainmlp.container import gainmap_jpeg
from gainmlp.container.ultrahdr import ultrahdr_from_pair
from gainmlp.evaluation import downscale_linear
from gainmlp.image import SdrImage
from gainmlp.io import decode_sdr_bytes, encode_sdr_jpeg, read_hdr_linear
from gainmlp.pair import make_pair


def libultrahdr_pq(data: bytes) -> np.ndarray | None:
    try:
        import imagecodecs

        linear = np.asarray(imagecodecs.ultrahdr_decode(data), dtype=np.float64)[..., :3]
    except Exception:
        return None
    return colorimetry.linear_to_pq_bt2020(linear * gainmap_jpeg.SDR_WHITE_NITS, "srgb")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data_dir")
    ap.add_argument("--images", default="Tree,Desk,MtTamWest")
    ap.add_argument("--tmo", default="reinhard-devlin,local")
    ap.add_argument("--long-side", type=int, default=512)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=65536)
    args = ap.parse_args()
    opts = EncodeOptions(steps=args.steps, batch=args.batch)
    print("| image | tmo | container | file B | parts | PSNR ours | PSNR libultrahdr |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name in args.images.split(","):
        linear = downscale_linear(read_hdr_linear(Path(args.data_dir) / f"{name}.exr"),
                                   args.long_side)
        for tmo in args.tmo.split(","):
            sdr_u8, hdr_u16 = make_pair(linear, "bt2020", tmo)
            hdr = hdr_u16.astype(np.float32) / 65535
            sdr = SdrImage(sdr_u8, SdrEncoding())
            rows = []
            for label, open_loop in (("gainmlp", False), ("gainmlp-open", True)):
                data, parts = photo.encode_photo(sdr, hdr, "gamma-mlp", opts,
                                                 open_loop=open_loop)
                rows.append((label, data, parts, photo.decode_photo(data), None))
            data, parts = ultrahdr_from_pair(sdr, hdr, scale=4)
            rows.append(("ultrahdr", data, parts, photo.decode_photo(data),
                         libultrahdr_pq(data)))
            base = decode_sdr_bytes(encode_sdr_jpeg(sdr_u8, 95)).pixels
            payload = encode(sdr, hdr, "gamma-mlp", opts, fit_sdr_pixels=base).to_bytes()
            data, parts = ultrahdr_from_pair(sdr, hdr, scale=8, extra_payload=payload)
            rows.append(("ultrahdr+mlp", data, parts, photo.decode_photo(data),
                         libultrahdr_pq(data)))
            for label, data, parts, ours, theirs in rows:
                p_theirs = "–" if theirs is None else f"{metrics.psnr(hdr, theirs):.2f}"
                detail = ", ".join(f"{k} {v}" for k, v in parts.items())
                print(f"| {name} | {tmo} | {label} | {len(data)} | {detail} | "
                      f"{metrics.psnr(hdr, ours):.2f} | {p_theirs} |", flush=True)


if __name__ == "__main__":
    main()
