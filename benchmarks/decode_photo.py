"""Decoding a large gainmlp JPEG end to end, stage by stage, against the plain version.

Builds a ``--megapixels`` gainmlp JPEG (the demo scene, a payload fitted on a small copy:
an MLP payload does not depend on the image size), then times, in this process:

* reading the JPEG (base image and payload);
* SDR -> HDR space: the plain per-pixel colour-science conversion against the 8-bit
  lookup path the decoder uses (same values);
* the MLP decoder on one thread (the plain loop) against all cores;
* writing the HDR (``--out`` extensions: .exr, .avif, .png);
* and the whole ``gainmlp decode`` command as a subprocess (interpreter start included).

Run::

    python benchmarks/decode_photo.py --megapixels 12 --out exr avif
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import gainmlp
from gainmlp.codecs import decode_residual
from gainmlp.colorimetry import SdrEncoding, sdr8_to_hdr_space, sdr_to_hdr_space, usable_cores
from gainmlp.container.app11 import embed_payload
from gainmlp.io import encode_sdr_jpeg, write_hdr
from gainmlp.pair import make_pair
from gainmlp.photo import read_photo
from gainmlp.resample import resize_bicubic_u8
from gainmlp.scene import demo_scene


def build_photo(megapixels: float) -> bytes:
    width = int(round((megapixels * 1e6 * 4 / 3) ** 0.5))
    height = int(round(width * 3 / 4))
    sdr_small, hdr_small = make_pair(demo_scene(192, 256), "bt2020", "local")
    payload = gainmlp.encode(gainmlp.SdrImage(sdr_small, SdrEncoding()),
                             hdr_small.astype(np.float32) / 65535.0, "gamma-mlp",
                             gainmlp.EncodeOptions(steps=200))
    payload.width, payload.height = width, height
    sdr = resize_bicubic_u8(sdr_small, width, height)
    return embed_payload(encode_sdr_jpeg(sdr, 95), payload.to_bytes())


def timed(label: str, fn, ref: float | None = None):
    t0 = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - t0
    ratio = f"   {ref / seconds:5.1f}x faster than plain" if ref else ""
    print(f"  {label:<44} {seconds:7.2f} s{ratio}")
    return out, seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--megapixels", type=float, default=12.0)
    ap.add_argument("--out", nargs="*", default=["exr"], help="output formats to time")
    ap.add_argument("--skip-plain", action="store_true")
    args = ap.parse_args()

    data = build_photo(args.megapixels)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "photo.jpg"
        src.write_bytes(data)
        (sdr, payload), _ = timed("read JPEG (base + payload)", lambda: read_photo(data))
        h, w = sdr.pixels.shape[:2]
        print(f"{w}x{h} ({w * h / 1e6:.1f} MP) gainmlp JPEG, {len(data)} bytes")
        plain_s = None
        if not args.skip_plain:
            _, plain_s = timed("SDR -> HDR space, plain (colour-science)", lambda: sdr_to_hdr_space(
                np.asarray(sdr.pixels, np.float32) / 255.0, payload.sdr))
        sdr_pq, _ = timed("SDR -> HDR space, 8-bit lookup + threads",
                          lambda: sdr8_to_hdr_space(sdr.pixels, payload.sdr), plain_s)

        def decode_on(threads: int):
            os.environ["GAINMLP_THREADS"] = str(threads)
            try:
                return decode_residual(payload.method, payload.body, sdr_pq, payload.eps)
            finally:
                del os.environ["GAINMLP_THREADS"]

        one_s = None
        if not args.skip_plain:
            _, one_s = timed("MLP decode, one thread", lambda: decode_on(1))
        cores = usable_cores()
        hdr, _ = timed(f"MLP decode, {cores} threads", lambda: decode_on(cores), one_s)
        for ext in args.out:
            timed(f"write .{ext}", lambda ext=ext: write_hdr(Path(tmp) / f"out.{ext}", hdr))
        for ext in args.out:
            cmd = [sys.executable, "-m", "gainmlp", "decode", str(src), "-o",
                   str(Path(tmp) / f"cli.{ext}")]
            timed(f"whole `gainmlp decode` to .{ext} (subprocess)",
                  lambda cmd=cmd: subprocess.run(cmd, check=True, capture_output=True))
        timed("python -c 'import gainmlp' (subprocess)", lambda: subprocess.run(
            [sys.executable, "-c", "import gainmlp"], check=True))


if __name__ == "__main__":
    main()
