"""The JavaScript decoder (web/) on a large gainmlp JPEG, against the Python decoder.

Builds a ``--megapixels`` gainmlp JPEG (default 12 MP, 4000x3000): an SDR/HDR pair made
from an OpenEXR image of ``--data`` (or the demo scene), its gamma-mlp payload (gainmlp's
default: 2x16 sine MLP + 32x32x4 u8 grid, fp16, body version 2) fitted on the pair at its
own size (an MLP payload does not depend on the image size), the SDR upscaled to the target
size with a little grain so that the base is photo-like (q95, 4:4:4), the payload's size
fields set to match. Then, in one run:

* the Python decoder (``gainmlp.photo.decode_photo``, all cores): the reference;
* ``benchmarks/web_decode.mjs``: the CPU path in Node (per-colour tables, WebAssembly
  SIMD kernel; ``--node-kernels`` adds the generated-JavaScript one), and ``decodeGainmlp``
  in a headless Chromium, in its Web Worker, with WebGL2 on software GL (SwiftShader, or the
  GPU with ``--gpu``) and on the CPU;

printing each one's time, its ratio to the Python decoder's and its largest difference from
the Python decoder's output, and the size of the JavaScript module.

Run::

    python benchmarks/web_decode.py --megapixels 12
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import gainmlp
from gainmlp import photo
from gainmlp.colorimetry import SdrEncoding, usable_cores
from gainmlp.container.app11 import embed_payload
from gainmlp.evaluation.html_report import WEB_DIR, bundle_web
from gainmlp.io import encode_sdr_jpeg
from gainmlp.pair import make_pair
from gainmlp.resample import resize_bicubic_u8

HERE = Path(__file__).resolve().parent


def build_photo(megapixels: float, data_dir: Path | None) -> tuple[bytes, str]:
    """A gainmlp JPEG of about ``megapixels`` (4:3) and a line describing it."""
    width = int(round((megapixels * 1e6 * 4 / 3) ** 0.5))
    height = int(round(width * 3 / 4))
    exr = data_dir / "MtTamWest.exr" if data_dir else None
    if exr is not None and exr.is_file():
        from gainmlp.io import read_hdr_linear

        linear, source = read_hdr_linear(exr), exr.name
    else:
        from gainmlp.scene import demo_scene

        linear, source = demo_scene(480, 640), "the demo scene"
    sdr_small, hdr_u16 = make_pair(linear, "bt2020", "reinhard-devlin")
    payload = gainmlp.encode(gainmlp.SdrImage(sdr_small, SdrEncoding()),
                             hdr_u16.astype(np.float32) / 65535.0, "gamma-mlp")
    payload.width, payload.height = width, height
    sdr = resize_bicubic_u8(sdr_small, width, height).astype(np.int16)
    grain = np.random.default_rng(0).normal(0, 2.0, sdr.shape).round().astype(np.int16)
    sdr = np.clip(sdr + grain, 0, 255).astype(np.uint8)
    data = embed_payload(encode_sdr_jpeg(sdr, 95), payload.to_bytes())
    colours = len(np.unique(sdr.reshape(-1, 3) @ np.array([65536, 256, 1])))
    return data, (f"{width}x{height} ({width * height / 1e6:.1f} MP) gainmlp JPEG from {source}: "
                  f"{len(data) / 1e6:.1f} MB, payload {len(payload.to_bytes())} B "
                  f"(gamma-mlp, body v{payload.body[0]}), {colours} distinct colours")


def module_size() -> str:
    files = [p for p in sorted(WEB_DIR.glob("*.mjs")) if p.name not in ("cli.mjs", "png.mjs")]
    raw = sum(p.stat().st_size for p in files)
    bundle = bundle_web().encode()
    return (f"{len(files)} files, {raw / 1000:.0f} kB of source; as one script "
            f"{len(bundle) / 1000:.0f} kB, {len(gzip.compress(bundle, 9)) / 1000:.0f} kB gzipped")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--megapixels", type=float, default=12.0)
    ap.add_argument("--data", type=Path, default=Path("/work/shared/data/hdr"),
                    help="folder with MtTamWest.exr (else the demo scene)")
    ap.add_argument("--gpu", action="store_true", help="Chromium on the GPU, not SwiftShader")
    ap.add_argument("--skip-browser", action="store_true")
    ap.add_argument("--node-kernels", action="store_true",
                    help="also time Node's generated-JavaScript kernel (no WebAssembly)")
    ap.add_argument("--weight-modes", action="store_true",
                    help="also time the shader reading the weights from uniforms and a texture")
    ap.add_argument("--keep", type=Path, default=None,
                    help="keep the built photo in this folder and reuse it (the fit takes minutes)")
    args = ap.parse_args()

    print(f"machine: {platform.machine()}, {usable_cores()} usable cores, {platform.system()}")
    cached = args.keep / f"photo-{args.megapixels:g}mp.jpg" if args.keep else None
    if cached is not None and cached.is_file():
        data = cached.read_bytes()
        note = cached.with_suffix(".txt")
        description = note.read_text().strip() if note.is_file() else str(cached)
    else:
        data, description = build_photo(args.megapixels, args.data)
        if cached is not None:
            cached.parent.mkdir(parents=True, exist_ok=True)
            cached.write_bytes(data)
            cached.with_suffix(".txt").write_text(description + "\n")
    print(description)
    print(f"JavaScript module: {module_size()}")
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "photo.jpg"
        src.write_bytes(data)
        t0 = time.perf_counter()
        reference = photo.decode_photo(data, str(src))
        python_s = time.perf_counter() - t0
        (Path(tmp) / "python.f32").write_bytes(reference.astype("<f4").tobytes())
        print(f"  {'Python decoder (gainmlp decode_photo)':<60} {python_s:7.2f} s")
        cmd = ["node", str(HERE / "web_decode.mjs"), str(src), str(Path(tmp) / "python.f32")]
        if args.gpu:
            cmd.append("--gpu")
        if args.skip_browser:
            cmd.append("--skip-browser")
        if args.weight_modes:
            cmd.append("--weight-modes")
        if args.node_kernels:
            cmd.append("--node-kernels")
        out = subprocess.run(cmd, capture_output=True, text=True, cwd=WEB_DIR,
                             env={**os.environ}, check=False)
        if out.returncode != 0:
            sys.exit(f"web_decode.mjs failed:\n{out.stdout}\n{out.stderr}")
        for line in out.stdout.splitlines():
            if not line.startswith("{"):
                print(f"  {line}")
                continue
            r = json.loads(line)
            t = r["timings"]
            stages = ", ".join(f"{k} {t[k] / 1000:.2f}" for k in ("jpeg", "colour", "network"))
            if "cpu" in t:
                cpu = t["cpu"]
                stages += (f" = tables {cpu['tables'] / 1000:.2f} + pixels "
                           f"{cpu['pixels'] / 1000:.2f}")
            if "cpu_s" in r:
                stages += f"; CPU time {r['cpu_s']:.2f}"
            seconds = t["total"] / 1000
            print(f"  {r['label']:<60} {seconds:7.2f} s   {seconds / python_s:5.1f}x the Python "
                  f"time   max |JS - Python| {r['max_diff']:.1e} PQ   ({stages} s)")


if __name__ == "__main__":
    main()
