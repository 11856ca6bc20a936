"""``gainmlp report``: a static HTML page comparing methods on one SDR/HDR pair.

For the pair and every method asked for, the page shows the SDR, the original HDR and each
method's reconstruction as 10-bit PQ BT.2020 AVIF (browsers show these as HDR on HDR
screens), per-pixel ΔE_ITP error maps, a metrics table, and the JavaScript decoder
(``web/``, bundled into the page) decoding one method's gainmlp JPEG on a canvas in the
viewer's browser. Every panel zooms and pans together (wheel, drag, preset crops). The page
is self-contained: it opens from disk (``file://``), with its images beside it.

Each method's photo is what ``gainmlp encode`` writes (SDR base JPEG + payload), and its
reconstruction what ``gainmlp decode`` gives for it. ``gainmlp demo`` writes one report.
"""

from __future__ import annotations

import base64
import html
import json
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gainmlp import __version__, colorimetry, filters, metrics, photo
from gainmlp.codecs import DEFAULT_METHOD, get_method
from gainmlp.colourspaces import colour_science
from gainmlp.errors import GainMLPError, warn
from gainmlp.image import SdrImage
from gainmlp.io import atomic_write, write_hdr, write_sdr_png
from gainmlp.options import EncodeOptions
from gainmlp.paper_residual import DEFAULT_EPS

#: Methods of a report when none are asked for: gainmlp's default and Gain-JPEG.
DEFAULT_METHODS = (DEFAULT_METHOD, "gain-jpeg")
#: ΔE_ITP at the top of the error maps' colour scale (1 is about one just-noticeable step).
ERROR_MAX = 12.0
ERROR_COLOURMAP = "magma"
#: The JavaScript decoder's sources (the repository's web/ folder; absent in an install).
WEB_DIR = Path(__file__).resolve().parents[3] / "web"
#: The decoder bundled as one script, shipped as package data (``scripts/bundle_web.py``
#: writes it from web/; a test checks it matches web/).
PACKAGED_BUNDLE = Path(__file__).resolve().parents[1] / "data" / "web_bundle.js"
#: Pixels whose Python values the page carries, to check its JavaScript decode against.
N_SAMPLES = 512


@dataclass
class MethodResult:
    """One method's photo on the pair and what the Python decoder rebuilds from it."""

    method: str
    jpeg: bytes
    rebuilt: np.ndarray
    payload_bytes: int
    encode_seconds: float
    decode_seconds: float
    #: PSNR of the payload level (the paper's protocol: fitted to and decoded with the
    #: lossless SDR, :func:`gainmlp.evaluation.evaluate.evaluate_payload`); None if not run
    payload_psnr: float | None = None


def run_methods(sdr: SdrImage, hdr: np.ndarray, methods: list[str] | tuple[str, ...],
                options: EncodeOptions | None = None, eps: float = DEFAULT_EPS,
                jpeg_quality: int = 95, log=print, payload_level: bool = True
                ) -> list[MethodResult]:
    """Encode the pair as a gainmlp JPEG with each method and decode it again; with
    ``payload_level``, also measure the payload level (lossless SDR, a second fit)."""
    for method in methods:
        get_method(method)  # an unknown name fails before any work
    if len(set(methods)) != len(methods):
        raise GainMLPError("a method is named twice")
    from dataclasses import replace

    results = []
    for method in methods:
        log(f"encoding {method}...")
        opts = options
        if opts is not None and get_method(method).family != "mlp":
            opts = replace(opts, target_psnr=None, max_bytes=None)  # rate control: MLPs only
        t0 = time.perf_counter()
        data, parts = photo.encode_photo(sdr, hdr, method, opts, eps, jpeg_quality)
        t1 = time.perf_counter()
        rebuilt = photo.decode_photo(data, f"{method}.jpg")
        t2 = time.perf_counter()
        lossless = None
        if payload_level:  # the paper's protocol beside the file's number (a second fit)
            from gainmlp.evaluation.evaluate import evaluate_payload

            lossless = evaluate_payload(sdr, hdr, method, opts or EncodeOptions(), eps)["psnr"]
        results.append(MethodResult(method, data, rebuilt, parts["payload"], t1 - t0, t2 - t1,
                                    lossless))
    return results


def error_map(reference: np.ndarray, test: np.ndarray) -> np.ndarray:
    """Per-pixel ΔE_ITP (ITU-R BT.2124) of two PQ BT.2020 images, float32 (H, W)."""
    colour = colour_science()

    def ictcp(pq: np.ndarray) -> np.ndarray:
        return colour.RGB_to_ICtCp(colorimetry.pq_decode(pq), method="ITU-R BT.2100-2 PQ")

    return np.asarray(colour.difference.delta_E_ITP(ictcp(reference), ictcp(test)), np.float32)


def _colourmap(n: int = 256) -> np.ndarray:
    """``n`` colours of :data:`ERROR_COLOURMAP` (a table: no matplotlib needed)."""
    from gainmlp.evaluation.colourmap import MAGMA, sample

    return sample(MAGMA, n)


def heat_map(errors: np.ndarray) -> np.ndarray:
    """8-bit RGB picture of an error map on the fixed scale 0..ERROR_MAX."""
    lut = _colourmap()
    index = np.clip(np.nan_to_num(errors, nan=ERROR_MAX) / ERROR_MAX * 255, 0, 255).astype(np.uint8)
    return lut[index]


def bundle_web(web_dir: Path = WEB_DIR) -> str:
    """The ES modules of the JavaScript decoder as one classic script defining
    ``window.gainmlp`` (the exports of ``gainmlp.mjs``), for pages opened from disk, where
    browsers refuse module imports; started as ``gainmlpBundle(true)`` from a Blob URL it is
    the decoder's Web Worker. Empty when ``web_dir`` has no decoder."""
    entry = web_dir / "gainmlp.mjs"
    if not entry.is_file():
        return ""
    order: list[str] = []

    def visit(name: str) -> None:
        if name in order:
            return
        for dep in re.findall(r"^import .* from '\./([\w.]+\.mjs)';$",
                              (web_dir / name).read_text(), flags=re.M):
            visit(dep)
        order.append(name)

    visit("gainmlp.mjs")
    parts = []
    for name in order:
        text = (web_dir / name).read_text()
        text = re.sub(r"^import .*;$", "", text, flags=re.M)
        text = re.sub(r"^export \{[^}]*\};$", "", text, flags=re.M)
        text = re.sub(r"^export (async function|function|const|class|let) ", r"\1 ", text,
                      flags=re.M)
        parts.append(f"// ---- {name}\n{text}")
    entry_text = entry.read_text()
    names = re.findall(r"^export (?:async function|function|const|class|let) (\w+)", entry_text,
                       flags=re.M)
    for group in re.findall(r"^export \{([^}]*)\};$", entry_text, flags=re.M):
        names += [n.strip() for n in group.split(",") if n.strip()]
    # a classic script has no import.meta; the bundle starts its decoder worker from its own
    # source instead (gainmlp.mjs, createWorker: ``gainmlpBundle(true)`` serves decodes)
    body = "\n".join(parts).replace("import.meta.url", "undefined")
    api = ", ".join(sorted(set(names)))
    script = ("(function () {\n'use strict';\n"
              "const gainmlpBundle = function gainmlpBundle(asWorker) {\n"
              f"{body}\nif (asWorker) {{ serveDecodes(self); return; }}\n"
              f"window.gainmlp = {{ {api} }};\n}};\ngainmlpBundle(false);\n}})();\n")
    return script.replace("</script", "<\\/script")


def packaged_bundle() -> str:
    """The JavaScript decoder shipped with the package (what an installed gainmlp's report
    page runs); a warning and an empty panel when it is missing."""
    if not PACKAGED_BUNDLE.is_file():
        warn(f"the JavaScript decoder bundle is missing ({PACKAGED_BUNDLE}); the report's "
             "decoder panel will stay empty")
        return ""
    return PACKAGED_BUNDLE.read_text()


def _crops(hdr: np.ndarray, errors: np.ndarray | None) -> list[tuple[str, float, float, float]]:
    """Preset crops (label, centre x, centre y, zoom): the largest error, the highlights."""
    height, width = hdr.shape[:2]
    size = max(3, min(height, width) // 16)
    out = []

    def peak(values: np.ndarray) -> tuple[float, float]:
        smooth = filters.uniform_filter(np.asarray(values, np.float32), size, mode="nearest")
        y, x = np.unravel_index(int(np.argmax(smooth)), smooth.shape)
        return (x + 0.5) / width, (y + 0.5) / height

    if errors is not None:
        out.append(("largest error", *peak(errors), 4.0))
    out.append(("brightest highlights", *peak(hdr.max(axis=2)), 4.0))
    out.append(("centre", 0.5, 0.5, 4.0))
    return out


def _fmt(value, digits: int) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "–"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _table(rows: list[dict]) -> str:
    cols = [("method", "method", None), ("payload (B)", "payload_bytes", None),
            ("bpp", "bpp", 4), ("file (B)", "file_bytes", None), ("base (B)", "base_bytes", None),
            ("PSNR file (dB)", "psnr", 2), ("PSNR lossless SDR (dB)", "payload_psnr", 2),
            ("SSIM", "ssim", 4),
            ("ΔE<sub>ITP</sub>", "delta_e_itp", 3), ("ΔE<sub>00</sub>", "delta_e00", 3),
            ("PU21-PSNR (dB)", "pu21_psnr", 2), ("HDR-FLIP", "hdr_flip", 4),
            ("light &gt;1,000 cd/m<sup>2</sup>", "hl_light_ratio", 3),
            ("light &gt;2× SDR white", "hl2w_light_ratio", 3),
            ("p99.9 ratio", "hl_p999_ratio", 3), ("encode (s)", "encode_seconds", 1),
            ("decode (s)", "decode_seconds", 2)]
    head = "".join(f"<th>{c[0]}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(r.get(k), d))}</td>"
                                    for _, k, d in cols) + "</tr>" for r in rows)
    note = ('<p class="sub">Metrics of the reconstruction gainmlp decodes from each JPEG '
            "(the base JPEG's error included; file: its bytes, base: its SDR codestream "
            "without metadata). PSNR lossless SDR: the payload fitted to and decoded with "
            "the lossless SDR, the paper's protocol. HDR-FLIP: mean error, 0 = identical; "
            "light &gt;1,000 cd/m<sup>2</sup> / &gt;2× SDR white: total light of those "
            "pixels, reconstruction over original (– without such pixels); p99.9 ratio: "
            "the 99.9th-percentile luminance, reconstruction over original.</p>")
    return f"<table><tr>{head}</tr>{body}</table>{note}"


def _panel(title: str, src: str, note: str = "") -> str:
    return (f'  <div class="panel"><h2>{html.escape(title)}</h2><div class="view"><div '
            f'class="layer"><img src="{src}" alt="{html.escape(title)}" draggable="false">'
            f'</div></div><div class="note">{html.escape(note)}</div></div>')


def _js_method(results: list[MethodResult]) -> MethodResult:
    """The photo the page's JavaScript decoder decodes: gainmlp's default method if there,
    else the first MLP method, else the first method (JPEG maps decode in JS too)."""
    by_name = {r.method: r for r in results}
    if DEFAULT_METHOD in by_name:
        return by_name[DEFAULT_METHOD]
    for r in results:
        if get_method(r.method).family == "mlp":
            return r
    return results[0]


def write_report(out_dir: Path, sdr: SdrImage, hdr: np.ndarray, results: list[MethodResult],
                 title: str | None = None, progress: bool = False) -> Path:
    """Write ``out_dir/index.html`` and its images for the pair and ``results``."""
    from tqdm import tqdm

    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise GainMLPError(f"{out_dir}: is a file; the report is written to a folder")
    if not results:
        raise GainMLPError("a report needs at least one method")
    out_dir.mkdir(parents=True, exist_ok=True)
    height, width = hdr.shape[:2]
    jobs = [("sdr.png", lambda: write_sdr_png(out_dir / "sdr.png", sdr.pixels)),
            ("hdr.avif", lambda: write_hdr(out_dir / "hdr.avif", hdr))]
    rows, panels, errors = [], [
        _panel("SDR (8-bit)", "sdr.png", f"{sdr.encoding.primaries}, {sdr.encoding.transfer}, "
               f"white {sdr.encoding.white_nits:g} cd/m2"),
        _panel("original HDR", "hdr.avif", "10-bit PQ BT.2020 AVIF")], {}
    for r in results:
        from gainmlp.evaluation.evaluate import base_bytes

        # metrics of the file's reconstruction; payload_psnr: lossless SDR (paper)
        record = {"method": r.method, "payload_bytes": r.payload_bytes,
                  "bpp": metrics.bits_per_pixel(r.payload_bytes, width, height),
                  "file_bytes": len(r.jpeg), "base_bytes": base_bytes(r.jpeg),
                  "payload_psnr": r.payload_psnr,
                  **metrics.all_metrics(hdr, r.rebuilt, sdr.encoding.white_nits),
                  "encode_seconds": r.encode_seconds, "decode_seconds": r.decode_seconds}
        rows.append(record)
        errors[r.method] = error_map(hdr, r.rebuilt)
        stem = out_dir / r.method
        jobs += [(f"{r.method}.avif", lambda r=r, s=stem: write_hdr(f"{s}.avif", r.rebuilt)),
                 (f"{r.method}.jpg", lambda r=r, s=stem: atomic_write(f"{s}.jpg", r.jpeg)),
                 (f"{r.method}-error.png", lambda r=r, s=stem: write_sdr_png(
                     f"{s}-error.png", heat_map(errors[r.method])))]
        panels.append(_panel(f"{r.method}: reconstruction", f"{r.method}.avif",
                             f"PSNR {record['psnr']:.2f} dB, payload {r.payload_bytes} B "
                             f"(gainmlp decode of {r.method}.jpg)"))
        panels.append(_panel(f"{r.method}: error (ΔE_ITP)", f"{r.method}-error.png",
                             f"mean ΔE_ITP {record['delta_e_itp']:.3f}"))
    for _name, job in tqdm(jobs, desc="report images", unit="file", disable=not progress):
        job()
    shown = _js_method(results)
    rng = np.random.default_rng(0)
    index = np.sort(rng.choice(width * height, size=min(N_SAMPLES, width * height), replace=False))
    samples = {"index": index.tolist(),
               "values": shown.rebuilt.reshape(-1, 3)[index].reshape(-1).astype(float).tolist()}
    crops = " ".join(f'<button data-crop="{cx:.4f},{cy:.4f},{s:g}">{html.escape(label)}</button>'
                     for label, cx, cy, s in _crops(hdr, errors[shown.method]))
    lut = _colourmap(8)
    legend = ", ".join(f"rgb({r},{g},{b})" for r, g, b in lut)
    title = title or "gainmlp report"
    methods = ", ".join(r.method for r in results)
    fields = {
        "TITLE": html.escape(title),
        "SUBTITLE": html.escape(f"{width}x{height} pixels; methods {methods}; each photo is an SDR "
                                f"JPEG with its payload, as gainmlp encode writes it; "
                                f"gainmlp {__version__}"),
        "TABLE": _table(rows), "PANELS": "\n".join(panels), "CROPS": "crops: " + crops,
        "WIDTH": str(width), "HEIGHT": str(height), "LEGEND": legend, "ERROR_MAX": f"{ERROR_MAX:g}",
        "JPEG_NAME": f"{shown.method}.jpg", "JPEG_B64": base64.b64encode(shown.jpeg).decode(),
        "SAMPLES": json.dumps(samples), "JS_BUNDLE": packaged_bundle(),
    }
    page = (Path(__file__).resolve().parents[1] / "data" / "report.html").read_text()
    # one pass, so that no inserted text is scanned for placeholders again
    page = re.sub(r"\{\{([A-Z_0-9]+)\}\}", lambda m: fields[m.group(1)], page)
    target = out_dir / "index.html"
    atomic_write(target, page.encode())
    return target


def make_report(sdr: SdrImage, hdr: np.ndarray, out_dir: Path,
                methods: list[str] | tuple[str, ...] = DEFAULT_METHODS,
                options: EncodeOptions | None = None, eps: float = DEFAULT_EPS,
                jpeg_quality: int = 95, title: str | None = None,
                progress: bool | None = None) -> Path:
    """Run ``methods`` on the pair and write the report; returns ``out_dir/index.html``."""
    if progress is None:
        progress = sys.stderr.isatty()
    results = run_methods(sdr, hdr, list(methods), options, eps, jpeg_quality)
    return write_report(out_dir, sdr, hdr, results, title, progress)
