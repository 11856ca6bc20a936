"""``gainmlp demo``: end to end on a generated scene, no files needed.

Generates an HDR scene, makes its SDR/HDR pair, encodes photo JPEGs with two conventional
methods and ``method``, decodes them, prints bytes and PSNR, and writes the files and an
HTML report comparing them (:mod:`gainmlp.evaluation.html_report`).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from gainmlp import metrics, photo
from gainmlp.colorimetry import SdrEncoding
from gainmlp.image import SdrImage
from gainmlp.io import atomic_write, encode_hdr_png, write_hdr, write_sdr_png
from gainmlp.options import EncodeOptions
from gainmlp.pair import make_pair
from gainmlp.scene import demo_scene


def run_demo(out: Path, method: str = "gamma-mlp", tmo: str = "drago",
             progress: bool = False, options: EncodeOptions | None = None) -> Path:
    """Write the demo's pair, photo JPEGs, decoded HDR and HTML report to the folder
    ``out``; returns the report's ``index.html``."""
    from gainmlp.evaluation.html_report import MethodResult, write_report

    out.mkdir(parents=True, exist_ok=True)
    print("generating a 384x256 HDR scene (sky, sun, shadows, saturated colours)...")
    sdr_u8, hdr_u16 = make_pair(demo_scene(), primaries="bt2020", tmo=tmo)
    hdr = hdr_u16.astype(np.float32) / 65535.0
    write_sdr_png(out / "sdr.png", sdr_u8)
    atomic_write(out / "hdr.png", encode_hdr_png(hdr))
    print(f"pair ({tmo}): {out / 'sdr.png'} (8-bit BT.709) + {out / 'hdr.png'} (PQ)")
    sdr = SdrImage(sdr_u8, SdrEncoding())
    print("encoding photo JPEGs (Ultra HDR, base q95, + payload), PSNR of the decoded HDR:")
    results = []
    for name_ in dict.fromkeys(("gain-jpeg", "gamma-jpeg", method)):
        start = time.perf_counter()
        data, parts = photo.encode_jpeg(sdr, hdr, name_,
                                        options or EncodeOptions(progress=progress))
        seconds = time.perf_counter() - start
        name = out / f"photo-{name_}.jpg"
        atomic_write(name, data)
        t0 = time.perf_counter()
        rebuilt = photo.decode_photo(data, str(name))
        results.append(MethodResult(name_, data, rebuilt, parts["payload"], seconds,
                                    time.perf_counter() - t0))
        print(f"  {name_:<11} payload {parts['payload']:>6} B  PSNR "
              f"{metrics.psnr(hdr, rebuilt):.2f} dB  SSIM {metrics.ssim(hdr, rebuilt):.4f}  "
              f"encode {seconds:.1f} s -> {name}")
    write_hdr(out / "photo-hdr.avif", rebuilt)
    print(f"decoded HDR of {name.name}: {out / 'photo-hdr.avif'} (10-bit PQ AVIF)")
    results.insert(0, results.pop())  # the MLP method first
    report = write_report(out / "report", sdr, hdr, results, f"gainmlp demo ({tmo})", progress)
    print(f"report: {report} (open it in a browser)")
    return report
