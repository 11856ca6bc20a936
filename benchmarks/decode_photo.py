"""Decoding a large gainmlp JPEG end to end, stage by stage, against the plain version.

Builds a ``--megapixels`` gainmlp JPEG (the demo scene, a payload fitted on a small copy:
an MLP payload does not depend on the image size), then times, in this process:

* reading the JPEG (base image and payload);
* SDR -> HDR space: the plain per-pixel colour-science conversion against the 8-bit
  lookup path the decoder uses (same values);
* SDR -> HDR space per distinct colour (colour index + palette, issue 19) and its gather;
* the MLP decoder: numpy (one thread, all cores; the reference) against the compiled one
  (per-colour tables + fused kernel: first call, one thread, all cores), their max
  difference, and the API decode; ``--cold``: the first decode in a new process with an
  empty numba cache (compile) and with the cache it left;
* writing the HDR (``--out`` extensions: .exr, .avif, .png);
* and the whole ``gainmlp decode`` command as a subprocess (interpreter start included).

Run::

    python benchmarks/decode_photo.py --megapixels 12 --out exr avif
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import gainmlp
from gainmlp.codecs import decode_residual
from gainmlp.codecs.indexed import index_sdr8
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
    """Run ``fn``; print its wall-clock seconds and this process's CPU seconds (all threads;
    on a shared machine the CPU time is the steadier figure)."""
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    ratio = f"   {ref / seconds:5.1f}x faster than plain" if ref else ""
    print(f"  {label:<62} {seconds:7.2f} s (cpu {cpu:6.2f} s){ratio}", flush=True)
    return out, seconds


def cold_first_call(payload, pixels: np.ndarray) -> None:
    """Time the first decode in fresh interpreters with an empty numba cache (cold: the
    kernels are compiled) and then with the cache that run left (warm: loaded)."""
    small = json.dumps({"w": int(min(pixels.shape[1], 256)), "h": int(min(pixels.shape[0], 256))})
    script = (
        "import json, sys, time, numpy as np, gainmlp\n"
        "t0 = time.perf_counter()\n"
        "payload = gainmlp.Payload.from_bytes(open(sys.argv[1], 'rb').read())\n"
        "s = json.loads(sys.argv[2])\n"
        "payload.width, payload.height = s['w'], s['h']\n"
        "px = np.full((s['h'], s['w'], 3), 128, np.uint8)\n"
        "t0 = time.perf_counter(); gainmlp.decode(payload, px)\n"
        "print(f'{time.perf_counter() - t0:.2f}')\n")
    with tempfile.TemporaryDirectory() as cache:
        path = Path(cache) / "payload.gmlp"
        path.write_bytes(payload.to_bytes())
        env = {**os.environ, "NUMBA_CACHE_DIR": str(Path(cache) / "numba")}
        for label in ("cold (empty numba cache: compile)", "warm (numba cache on disk)"):
            out = subprocess.run([sys.executable, "-c", script, str(path), small], env=env,
                                 check=True, capture_output=True, text=True).stdout
            print(f"  first decode in a new process, {label:<34} {float(out):7.2f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--megapixels", type=float, default=12.0)
    ap.add_argument("--out", nargs="*", default=["exr"], help="output formats to time")
    ap.add_argument("--skip-plain", action="store_true")
    ap.add_argument("--compare", action="store_true",
                    help="with --skip-plain: still time the numpy MLP decoder on all cores")
    ap.add_argument("--cold", action="store_true",
                    help="time the first decode with an empty numba cache (compile)")
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
        sdr_pq, lut_s = timed("SDR -> HDR space, 8-bit lookup + threads (numpy path)",
                              lambda: sdr8_to_hdr_space(sdr.pixels, payload.sdr), plain_s)
        indexed, _ = timed("SDR -> HDR space per colour: colour index + palette",
                           lambda: index_sdr8(sdr.pixels, payload.sdr), lut_s)
        print(f"  ({indexed.n_colours} distinct colours, "
              f"{100 * indexed.n_colours / (w * h):.2f} % of the pixels)")
        expanded, _ = timed("  ... + gather to (H, W, 3) float32 (encoder's form)",
                            indexed.expand)
        assert np.array_equal(expanded, sdr_pq), "per-colour conversion differs"
        del expanded

        def decode_on(threads: int, sdr_in, kernels: str = ""):
            os.environ["GAINMLP_THREADS"] = str(threads)
            os.environ["GAINMLP_KERNELS"] = kernels
            try:
                return decode_residual(payload.method, payload.body, sdr_in, payload.eps)
            finally:
                del os.environ["GAINMLP_THREADS"], os.environ["GAINMLP_KERNELS"]

        cores = usable_cores()
        one_s = all_s = ref = None
        if not args.skip_plain:
            _, one_s = timed("MLP decode, numpy, 1 thread", lambda: decode_on(1, sdr_pq, "numpy"))
        if not args.skip_plain or args.compare:
            ref, all_s = timed(f"MLP decode, numpy, {cores} threads",
                               lambda: decode_on(cores, sdr_pq, "numpy"))
        timed("MLP decode, compiled, first call in this process",
              lambda: decode_on(cores, indexed))
        timed("MLP decode, compiled (per colour + fused kernel), 1 thread",
              lambda: decode_on(1, indexed), one_s)
        hdr, _ = timed(f"MLP decode, compiled (per colour + fused kernel), {cores} threads",
                       lambda: decode_on(cores, indexed), all_s)
        if ref is not None:
            print(f"  compiled vs numpy: max abs difference {np.abs(hdr - ref).max():.2e} PQ")
            del ref
        timed(f"gainmlp.decode (API: index + MLP), {cores} threads",
              lambda: gainmlp.decode(payload, sdr.pixels))
        if args.cold:
            cold_first_call(payload, sdr.pixels)
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
