"""The base JPEG's noise (issue 21 item 5), second part: a deterministic filter of the
decoded base, applied before the residual, in the fit and in the decoder alike.

The HDR a gainmlp JPEG decodes to is the decoded base B times the network's map; the base's
compression noise reaches the HDR, amplified where the map is large. This prototype asks
whether filtering the decoded base first (a smoothing, an edge-preserving flat-area
smoothing, a deblocking across the 8x8 block edges, or a filter of the network's colour
input only) would buy file-level HDR quality. A filter leaves every byte of the file as it
is (the base and a payload of the same grid), so the comparison is at equal total bytes
by construction; the SDR a viewer shows is the unfiltered base, also unchanged.

Every filter here runs on the decoded 8-bit base as float64 (values in [0, 255]); the
filtered base enters the pipeline through ``gainmlp.api.sdr_in_hdr_space``'s float path.
The variants (``--variants``):

* ``none``: today's closed loop (the payload fitted to the decoded base, decoded on it);
* ``lossless``: the bound, the payload fitted to and decoded on the lossless SDR (no file
  can reach it; dev pairs only);
* ``gauss<s>``: separable Gaussian, sigma ``s`` px (taps to 3 sigma, edge pixels repeated);
* ``sigma<T>``: 3x3 sigma filter per RGB channel: the mean of the neighbours (and the
  pixel) within ``T`` code values of the pixel -- flat areas smoothed, edges kept;
* ``ycc<T>``: the sigma filter on the JPEG's own chroma planes (full-range BT.601 Cb, Cr)
  only, luma untouched;
* ``tv<w>``: total-variation denoising (Chambolle's projection algorithm, 5 iterations,
  per RGB channel, weight ``w`` on values in [0, 1]);
* ``deblock<T>``: an H.264-style normal filter across the 8x8 block edges: where the step
  across the edge and the gradients beside it are small (< ``T``, < ``T``/2), the two edge
  pixels move towards each other by ((q0 - p0) 4 + (p1 - q1)) / 8;
* ``<filter>r`` (e.g. ``tv0.003r``): the filter's result rounded to 8-bit code values, so
  the decoders' 8-bit paths (one network colour term per distinct colour) still hold;
* ``in-<filter>``: the network's colour input filtered, the base the map multiplies left
  as decoded (the fit's targets come from the unfiltered base).

Inputs: the dev pairs (pair maker, ``--tmos``, ``--long-side``; base written by
``gainmlp.io.encode_sdr_jpeg`` at ``--quality``, gainmlp's default 95, 4:4:4) and, with
``--photos``, the seven shared gain-map JPEGs (their stored base kept, the HDR their own
map renders: the re-encode path). The payload is Gamma-MLP at the fixed default grid (a
fixed size, so equal bytes). Recorded per row (JSON lines, resumable): PQ PSNR of the HDR
against the reference, the highlight light ratio and p99.9 ratio above 1,000 cd/m2, the
PSNR of the filtered base against the lossless SDR (dev pairs), the bytes and seconds.

Example (docs/results/base_deblock.md)::

    NUMBA_NUM_THREADS=1 GAINMLP_THREADS=1 nice -n 15 python benchmarks/base_deblock.py \\
        --out docs/results/base_deblock.jsonl
    python benchmarks/base_deblock.py --out docs/results/base_deblock.jsonl --summary
"""

from __future__ import annotations

import argparse
import json
import os
import re
import time
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
APP11_FRAMING = 4 + 17  # marker + length, then the segment header (one segment)
DEFAULT_VARIANTS = ["none", "lossless", "gauss0.5", "gauss0.8", "sigma3", "sigma6",
                    "ycc6", "deblock8", "in-gauss0.8", "in-sigma6"]


# -- the filters (float64 in, float64 out, values in [0, 255]) --------------------------------


def gauss(x: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian of ``sigma`` px, taps to 3 sigma, edge pixels repeated."""
    r = max(1, int(np.ceil(3 * sigma)))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k /= k.sum()
    for axis in (0, 1):
        pad = [(0, 0)] * x.ndim
        pad[axis] = (r, r)
        p = np.pad(x, pad, mode="edge")
        n = x.shape[axis]
        x = sum(w * np.take(p, np.arange(i, i + n), axis=axis) for i, w in enumerate(k))
    return x


def sigma_filter(x: np.ndarray, t: float) -> np.ndarray:
    """3x3 sigma filter per channel: mean of the pixels within ``t`` of the centre."""
    h, w = x.shape[:2]
    p = np.pad(x, [(1, 1), (1, 1)] + [(0, 0)] * (x.ndim - 2), mode="edge")
    total = np.zeros_like(x)
    count = np.zeros_like(x)
    for dy in range(3):
        for dx in range(3):
            n = p[dy:dy + h, dx:dx + w]
            keep = np.abs(n - x) <= t
            total += np.where(keep, n, 0.0)
            count += keep
    return total / count


def _to_ycc(rgb: np.ndarray) -> np.ndarray:
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    return np.stack([y, 128 + (b - y) / 1.772, 128 + (r - y) / 1.402], axis=-1)


def _to_rgb(ycc: np.ndarray) -> np.ndarray:
    y, cb, cr = ycc[..., 0], ycc[..., 1] - 128, ycc[..., 2] - 128
    r = y + 1.402 * cr
    b = y + 1.772 * cb
    g = (y - 0.299 * r - 0.114 * b) / 0.587
    return np.clip(np.stack([r, g, b], axis=-1), 0.0, 255.0)


def ycc_chroma(x: np.ndarray, t: float) -> np.ndarray:
    """The sigma filter on the chroma planes only."""
    ycc = _to_ycc(x)
    ycc[..., 1:] = sigma_filter(ycc[..., 1:], t)
    return _to_rgb(ycc)


def deblock(x: np.ndarray, t: float, block: int = 8) -> np.ndarray:
    """H.264-style normal filter across the ``block`` edges (both directions)."""
    x = x.copy()
    for axis in (1, 0):
        n = x.shape[axis]
        for c in range(block, n - 1, block):
            if c < 2:
                continue
            p1, p0, q0, q1 = (np.take(x, i, axis=axis) for i in (c - 2, c - 1, c, c + 1))
            ok = (np.abs(p0 - q0) < t) & (np.abs(p1 - p0) < t / 2) & (np.abs(q1 - q0) < t / 2)
            delta = np.where(ok, ((q0 - p0) * 4 + (p1 - q1)) / 8, 0.0)
            idx0 = [slice(None)] * x.ndim
            idx1 = [slice(None)] * x.ndim
            idx0[axis], idx1[axis] = c - 1, c
            x[tuple(idx0)] = p0 + delta
            x[tuple(idx1)] = q0 - delta
    return x


def tv_chambolle(x: np.ndarray, weight: float, iterations: int = 5) -> np.ndarray:
    """Total-variation denoising, Chambolle's projection algorithm (2004), per channel,
    a fixed number of iterations, on x / 255 with ``weight`` (skimage's
    ``denoise_tv_chambolle(x / 255, weight, channel_axis=-1, max_num_iter=iterations,
    eps=0)`` times 255: the same arithmetic, written out so that a decoder could follow
    it)."""
    u = x / 255.0
    tau = 0.25
    px = np.zeros_like(u)  # dual field along x (columns) and y (rows)
    py = np.zeros_like(u)
    out = u
    for i in range(iterations):
        if i > 0:
            d = -(px + py)  # the divergence of p, negated
            d[:, 1:] += px[:, :-1]
            d[1:, :] += py[:-1, :]
            out = u + d
        gx = np.zeros_like(u)
        gy = np.zeros_like(u)
        gx[:, :-1] = np.diff(out, axis=1)
        gy[:-1, :] = np.diff(out, axis=0)
        norm = np.sqrt(gy * gy + gx * gx) * (tau / weight) + 1.0
        px = (px - tau * gx) / norm
        py = (py - tau * gy) / norm
    return out * 255.0


def apply_filter(name: str, pixels: np.ndarray) -> np.ndarray:
    """The filter ``name`` of the module doc; a name ending in ``r`` (``tv0.003r``) rounds
    the result to 8-bit code values (uint8), so that the decoder's 8-bit paths still hold."""
    x = pixels.astype(np.float64)
    m = re.fullmatch(r"(gauss|sigma|ycc|deblock|tv)([0-9.]+)(r?)", name)
    if m is None:
        raise ValueError(f"unknown filter {name!r}")
    kind, value = m.group(1), float(m.group(2))
    out = {"gauss": gauss, "sigma": sigma_filter, "ycc": ycc_chroma,
           "deblock": deblock, "tv": tv_chambolle}[kind](x, value)
    if m.group(3):
        return np.clip(np.rint(out), 0, 255).astype(np.uint8)
    return out


# -- the pipeline with a filtered base ---------------------------------------------------------


def fit_and_decode(variant: str, decoded: np.ndarray, lossless: np.ndarray | None,
                   encoding, hdr: np.ndarray, options) -> tuple[np.ndarray, int]:
    """(the HDR the file would decode to with ``variant``, payload bytes)."""
    from gainmlp.api import sdr_in_hdr_space
    from gainmlp.codecs import decode_residual, encode_residual
    from gainmlp.colorimetry import HdrEncoding
    from gainmlp.container.payload import Payload
    from gainmlp.paper_residual import DEFAULT_EPS

    eps = DEFAULT_EPS
    hdr = np.asarray(hdr, dtype=np.float32)
    if variant.startswith("in-"):
        return _input_only(variant[3:], decoded, encoding, hdr, options)
    if variant == "none":
        base = decoded
    elif variant == "lossless":
        base = lossless
    else:
        base = apply_filter(variant, decoded)
    s = sdr_in_hdr_space(base, encoding)
    body = encode_residual("gamma-mlp", s, hdr, eps, options)
    size = len(Payload("gamma-mlp", s.shape[1], s.shape[0], eps, body, encoding,
                       HdrEncoding()).to_bytes())
    return decode_residual("gamma-mlp", body, s, eps), size


def _input_only(name: str, decoded: np.ndarray, encoding, hdr: np.ndarray, options):
    """The network's colour input filtered, the residual's base not: the fit's targets
    from the unfiltered base (``Plan.target`` patched), the decoder's map evaluated on the
    filtered input (numpy reference decoder, its residual step patched out) and applied to
    the unfiltered base."""
    from gainmlp import paper_residual
    from gainmlp.api import sdr_in_hdr_space
    from gainmlp.codecs import decode_residual, encode_residual
    from gainmlp.codecs.mlp import decode as mlp_decode
    from gainmlp.codecs.mlp import fit_plan
    from gainmlp.colorimetry import HdrEncoding
    from gainmlp.container.payload import Payload
    from gainmlp.paper_residual import DEFAULT_EPS

    eps = DEFAULT_EPS
    s_in = sdr_in_hdr_space(apply_filter(name, decoded), encoding)
    s_base = sdr_in_hdr_space(decoded, encoding)
    plan_target = fit_plan.Plan.target

    def target(self, rows=None):
        sdr = self.sdr
        object.__setattr__(self, "sdr", s_base)
        try:
            return plan_target(self, rows)
        finally:
            object.__setattr__(self, "sdr", sdr)

    fit_plan.Plan.target = target
    try:
        body = encode_residual("gamma-mlp", s_in, hdr, eps, options)
    finally:
        fit_plan.Plan.target = plan_target

    class MapOnly:  # the decoder's residual step returns the map itself
        @staticmethod
        def reconstruct(kind, sdr, f, eps):
            return f

    kernels = os.environ.get("GAINMLP_KERNELS")
    os.environ["GAINMLP_KERNELS"] = "numpy"
    mlp_decode.paper_residual = MapOnly
    try:
        f = decode_residual("gamma-mlp", body, s_in, eps)
    finally:
        mlp_decode.paper_residual = paper_residual
        if kernels is None:
            del os.environ["GAINMLP_KERNELS"]
        else:
            os.environ["GAINMLP_KERNELS"] = kernels
    out = paper_residual.reconstruct("gamma", s_base.astype(np.float64), f.astype(np.float64),
                                     eps).astype(np.float32)
    size = len(Payload("gamma-mlp", s_in.shape[1], s_in.shape[0], eps, body, encoding,
                       HdrEncoding()).to_bytes())
    return out, size


# -- the inputs ----------------------------------------------------------------------------


def dev_items(args):
    from gainmlp.evaluation.pairs import prepare_pairs, read_pair
    from gainmlp.io import decode_sdr_bytes, encode_sdr_jpeg

    if args.peak is None:
        pairs = prepare_pairs(SHARED / "hdr", Path(args.cache), tuple(args.tmos),
                              args.long_side)
    else:  # the pair maker's HDR peak raised, as benchmarks/highlight_fit.py makes them
        from highlight_fit import peak_pairs

        pairs = peak_pairs(SHARED / "hdr", Path(args.cache), tuple(args.tmos), args.long_side,
                           None, args.peak)
    for image, tmo, folder in pairs:
        sdr, hdr = read_pair(folder)
        base = encode_sdr_jpeg(sdr.pixels, args.quality, sdr.icc)
        decoded = decode_sdr_bytes(base, image).pixels
        yield f"{image}_{tmo}", decoded, sdr.pixels, sdr.encoding, hdr, len(base)


def photo_items(args):
    from gainmlp.colorimetry import SdrEncoding
    from gainmlp.container import gainmap_jpeg
    from gainmlp.container.photo import gain_map_size, strip_gain_map

    for path in sorted((SHARED / "gainmap").glob("*.jpg")):
        data = path.read_bytes()
        gm = gainmap_jpeg.read_gainmap_jpeg(data)
        hdr = gainmap_jpeg.gainmap_jpeg_to_hdr_pq(gm)
        encoding = SdrEncoding(gm.colour_space, "srgb", gainmap_jpeg.SDR_WHITE_NITS)
        base_bytes = len(strip_gain_map(data))
        assert gain_map_size(data) > 0
        yield path.stem, gm.sdr, None, encoding, hdr, base_bytes


def run(args: argparse.Namespace) -> None:
    import gainmlp
    from gainmlp.highlights import highlight_stats
    from gainmlp.metrics import psnr

    out = Path(args.out)
    done = set()
    if out.exists():
        done = {(r["pair"], r["variant"]) for r in map(json.loads, out.read_text().splitlines())}
    options = gainmlp.EncodeOptions(progress=False)
    items = photo_items(args) if args.photos else dev_items(args)
    which = "photos" if args.photos else "dev" if args.peak is None else f"dev@{args.peak:g}"
    for name, decoded, lossless, encoding, hdr, base_bytes in items:
        for variant in args.variants:
            if (name, variant) in done or (variant == "lossless" and lossless is None):
                continue
            t0 = time.perf_counter()
            rebuilt, size = fit_and_decode(variant, decoded, lossless, encoding, hdr, options)
            hl = highlight_stats(hdr, rebuilt)
            hl2 = highlight_stats(hdr, rebuilt, 2.0 * encoding.white_nits)
            row = {"pair": name, "set": which, "variant": variant,
                   "base_bytes": base_bytes, "payload_bytes": size,
                   "total_bytes": base_bytes + size + APP11_FRAMING,
                   "psnr": round(psnr(hdr, rebuilt), 3),
                   "hl_fraction": hl["fraction"], "hl_light_ratio": hl.get("light_ratio"),
                   "hl_p999_ratio": hl.get("p999_ratio"),
                   "hl2w_fraction": hl2["fraction"], "hl2w_light_ratio": hl2.get("light_ratio"),
                   "hl2w_p999_ratio": hl2.get("p999_ratio"),
                   "seconds": round(time.perf_counter() - t0, 1)}
            if lossless is not None and variant not in ("none", "lossless") \
                    and not variant.startswith("in-"):
                row["base_psnr"] = round(psnr(lossless / 255.0,
                                              apply_filter(variant, decoded) / 255.0), 3)
            elif lossless is not None:
                row["base_psnr"] = round(psnr(lossless / 255.0, (
                    lossless if variant == "lossless" else decoded) / 255.0), 3)
            print(json.dumps(row), flush=True)
            with out.open("a") as fh:
                fh.write(json.dumps(row) + "\n")


def summary(path: Path) -> None:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    for which in dict.fromkeys(r["set"] for r in rows):
        sel = [r for r in rows if r["set"] == which]
        if not sel:
            continue
        at = {(r["pair"], r["variant"]): r for r in sel}
        variants = list(dict.fromkeys(r["variant"] for r in sel))
        pairs = sorted({r["pair"] for r in sel if (r["pair"], "none") in at})
        print(f"\n{which}: {len(pairs)} inputs; differences against 'none' on the same input")
        print("light ratio and p99.9 ratio: above 1,000 cd/m2 where the references have such "
              "pixels (key hl), else above twice SDR white (hl2w); n = inputs with such pixels")
        print("| variant | n | mean total bytes | mean PSNR (dB) | vs none (dB) | worst | best | "
              "mean light ratio (worst) | mean p99.9 ratio | base PSNR vs lossless (dB) |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for v in variants:
            ps = [p for p in pairs if (p, v) in at]
            if not ps:
                continue
            rs = [at[(p, v)] for p in ps]
            d = [at[(p, v)]["psnr"] - at[(p, "none")]["psnr"] for p in ps]
            key = "hl" if any(r["hl_light_ratio"] is not None for r in rs) else "hl2w"
            lr = [r[f"{key}_light_ratio"] for r in rs if r[f"{key}_light_ratio"] is not None]
            pr = [r[f"{key}_p999_ratio"] for r in rs if r[f"{key}_p999_ratio"] is not None]
            lr_dev = [abs(x - 1) for x in lr]
            bp = [r["base_psnr"] for r in rs if "base_psnr" in r]
            print(f"| {v} | {len(ps)} | {np.mean([r['total_bytes'] for r in rs]):,.0f} | "
                  f"{np.mean([r['psnr'] for r in rs]):.2f} | {np.mean(d):+.2f} | "
                  f"{min(d):+.2f} | {max(d):+.2f} | "
                  f"{key}: {np.mean(lr) if lr else float('nan'):.3f} "
                  f"({lr[int(np.argmax(lr_dev))] if lr else float('nan'):.3f}, n={len(lr)}) | "
                  f"{np.mean(pr) if pr else float('nan'):.3f} | "
                  f"{np.mean(bp) if bp else float('nan'):.2f} |")


def ladder_equivalent(path: Path, ladder: Path) -> None:
    """What each variant's PSNR is worth in base bytes: per pair of ``ladder`` (rows of
    benchmarks/base_jpeg.py, 4:4:4 bases), the total bytes the quality ladder needs for
    the variant's PSNR (interpolated), over the bytes of the default base (quality 95)."""
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    at = {(r["pair"], r["variant"]): r for r in rows}
    lad = [json.loads(line) for line in ladder.read_text().splitlines()]
    print(f"\nthe variants' PSNR on the 4:4:4 quality ladder of {ladder.name} (total bytes "
          "needed / total bytes at quality 95; pairs inside the ladder's PSNR range):")
    for v in dict.fromkeys(r["variant"] for r in rows if r.get("set", "dev") == "dev"):
        ratios = []
        for p in sorted({r["pair"] for r in lad}):
            pts = sorted((r["psnr"], r["total_bytes"]) for r in lad
                         if r["pair"] == p and r["chroma"] == "444")
            q95 = [r["total_bytes"] for r in lad
                   if r["pair"] == p and r["chroma"] == "444" and r["quality"] == 95]
            if (p, v) not in at or not q95 or v == "lossless":
                continue
            ys, xs = zip(*pts, strict=True)
            if ys[0] <= at[(p, v)]["psnr"] <= ys[-1]:
                ratios.append(float(np.interp(at[(p, v)]["psnr"], ys, xs)) / q95[0])
        if ratios:
            print(f"  {v}: x{np.mean(ratios):.3f} (min x{min(ratios):.3f}, max "
                  f"x{max(ratios):.3f}, n={len(ratios)})")


def cost(megapixels: float, variants: list[str], repeats: int = 3) -> None:
    """What a filter would add to a decode, against today's decode (``gainmlp.decode``: the
    compiled path, colour terms per distinct 8-bit colour) of a Gamma-MLP payload at the
    default grid, on one image of ``megapixels`` (a dev pair tiled), best of ``repeats``,
    all in the same run: the filter itself (numpy, float64), the decode of the filtered
    base as floats (every pixel its own colour: ``sdr_in_hdr_space``'s float path and the
    compiled decoder on a plain array) and, for 8-bit-rounded variants, the decode of the
    rounded base (more distinct colours than the JPEG's)."""
    import gainmlp
    from gainmlp.api import sdr_in_hdr_space
    from gainmlp.codecs import decode_residual
    from gainmlp.evaluation.pairs import prepare_pairs, read_pair

    (_, _, folder), = prepare_pairs(SHARED / "hdr", Path("/tmp/gainmlp-recipe-cache"),
                                    ("reinhard-devlin",), 512, ["Desk"])
    sdr, hdr = read_pair(folder)
    payload = gainmlp.encode(sdr, hdr, "gamma-mlp", gainmlp.EncodeOptions(progress=False))
    side = int(np.sqrt(megapixels * 1e6 / 1.5))
    reps = (side // sdr.pixels.shape[0] + 1, int(side * 1.5) // sdr.pixels.shape[1] + 1, 1)
    big = np.ascontiguousarray(np.tile(sdr.pixels, reps)[:side, :int(side * 1.5)])
    payload.width, payload.height = big.shape[1], big.shape[0]

    def best(fn):
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return min(times)

    gainmlp.decode(payload, big)  # compiles the kernels outside the timings
    base = best(lambda: gainmlp.decode(payload, big))
    print(f"{big.shape[1]}x{big.shape[0]} ({big.shape[0] * big.shape[1] / 1e6:.1f} MP): "
          f"gainmlp.decode {base:.2f} s (best of {repeats}; the unit below)")
    for v in variants:
        filtered = apply_filter(v, big)
        t = best(lambda v=v: apply_filter(v, big))
        line = f"  {v}: the filter (numpy, float64) x{t / base:.2f}"
        if filtered.dtype == np.uint8:
            t = best(lambda f=filtered: gainmlp.decode(payload, f))
            line += f", the decode of the rounded base x{t / base:.2f}"
        else:
            def as_floats(f=filtered):
                s = sdr_in_hdr_space(f, sdr.encoding)
                decode_residual("gamma-mlp", payload.body, s, payload.eps)
            t = best(as_floats)
            line += f", the decode of the float base x{t / base:.2f}"
        print(line)


def js_check(args: argparse.Namespace, weight: float = 0.003) -> None:
    """Whether ``base_deblock_tv.mjs`` (the TV filter in JavaScript, run by ``node``)
    reproduces :func:`tv_chambolle` bit for bit on every dev base and shared photo base:
    the largest difference of the float results and the count of 8-bit codes that differ
    after rounding."""
    import subprocess
    import tempfile

    script = Path(__file__).with_name("base_deblock_tv.mjs")
    worst, differing, total = 0.0, 0, 0
    items = list(dev_items(args)) + list(photo_items(args))
    with tempfile.TemporaryDirectory() as tmp:
        raw, res = Path(tmp) / "in.rgb", Path(tmp) / "out.f64"
        for name, decoded, *_ in items:
            h, w = decoded.shape[:2]
            raw.write_bytes(np.ascontiguousarray(decoded).tobytes())
            subprocess.run(["node", str(script), str(raw), str(w), str(h), str(weight), "5",
                            str(res)], check=True)
            js = np.frombuffer(res.read_bytes(), dtype=np.float64).reshape(h, w, 3)
            py = tv_chambolle(decoded.astype(np.float64), weight)
            diff = float(np.abs(js - py).max())
            codes = int(np.count_nonzero(np.rint(js) != np.rint(py)))
            worst, differing, total = max(worst, diff), differing + codes, total + py.size
            print(f"{name}: max |JS - numpy| {diff:.3g}, differing 8-bit codes {codes}")
    print(f"{len(items)} bases, {total:,} values: max |JS - numpy| {worst:.3g}, "
          f"differing 8-bit codes {differing}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tmos", nargs="+", default=["reinhard-devlin", "drago", "ward",
                                                      "local"])
    parser.add_argument("--long-side", type=int, default=512)
    parser.add_argument("--quality", type=int, default=95)
    parser.add_argument("--variants", nargs="+", default=DEFAULT_VARIANTS)
    parser.add_argument("--peak", type=float, default=None,
                        help="dev pairs graded for this HDR peak (cd/m2) instead of 1,000")
    parser.add_argument("--photos", action="store_true",
                        help="the shared gain-map JPEGs instead of the dev pairs")
    parser.add_argument("--cache", default="/tmp/gainmlp-recipe-cache")
    parser.add_argument("--out", default="base_deblock.jsonl")
    parser.add_argument("--summary", action="store_true", help="only summarise --out")
    parser.add_argument("--ladder", default=None,
                        help="rows of benchmarks/base_jpeg.py: the variants' PSNR in bytes")
    parser.add_argument("--cost", type=float, default=None, metavar="MP",
                        help="only time the filters against a decode at this many MP")
    parser.add_argument("--js-check", action="store_true",
                        help="only compare the TV filter in JavaScript (node) with numpy's")
    args = parser.parse_args()
    if args.js_check:
        js_check(args)
        return
    if args.cost:
        cost(args.cost, [v for v in args.variants if v not in ("none", "lossless")
                         and not v.startswith("in-")])
        return
    if not args.summary:
        run(args)
    summary(Path(args.out))
    if args.ladder:
        ladder_equivalent(Path(args.out), Path(args.ladder))


if __name__ == "__main__":
    main()
