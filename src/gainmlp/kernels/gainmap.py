"""Conventional gain maps applied in one fused pass: upsample the map and apply it per pixel.

Two kernels, each with a plain numpy reference that is today's arithmetic
(``tests/test_kernels_gainmap.py`` compares them):

* :func:`render_gain_map` — Adobe Gain Map 1.0 / ISO 21496-1 / Ultra HDR maps
  (``hdr = (base + k_base) * 2 ** (w * (lo (1 - r) + hi r)) - k_alt``, ``r = g ** (1/gamma)``)
  and Apple maps (``hdr = base * (1 + boost * g)``). The base is 8-bit codes read through
  a 256-entry table (the SDR transfer function) or float32 linear values; the map's codes
  go through a 256-entry table too (``code / 255``, or Apple's inverse BT.709) and are
  upsampled bilinearly exactly as :func:`gainmlp.resample.upsample_bilinear` does it
  (pixel centres, clamped edges, the vertical pass first, float32 in the same order of
  operations, so the same values). Output: the rendition relative to SDR white in the
  base's primaries (float32, what ``iso_gainmap.apply_gain_map`` returns), linear BT.2020
  in cd/m2 (``max(M v * white, 0)``, float64 matrix) or PQ BT.2020 code values (the
  table of :mod:`gainmlp.kernels.pq`, max error 2.6e-7).
* :func:`render_conventional` — our conventional map bodies (paper §3.1,
  ``docs/payload-format.md``): Pillow's BICUBIC resize of float32 values (the horizontal
  pass first, float64 sums rounded to float32 per pass, Pillow's tap bounds and
  normalised weights), clip to [0, 1], eq. 3 and eq. 4 or 6 in float64 per pixel.

Both run over row tiles on the usable cores (:func:`gainmlp.kernels.pq.for_chunks`); a
tile keeps only its map rows, so memory beyond the output is a few MB. Nothing of full
resolution is made besides the output.
"""

from __future__ import annotations

import math

import numpy as np

from gainmlp.kernels._jit import jit
from gainmlp.kernels.pq import encode_table, encode_y, exp2f, for_chunks
from gainmlp.paper_residual import GAMMA_GUARD

OUT_RELATIVE, OUT_LINEAR_NITS, OUT_PQ = 0, 1, 2
_F32_MAX = float(np.finfo(np.float32).max)
TILE_PIXELS = 1 << 16


def bilinear_coords(n_out: int, n_in: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source rows/columns ``i0``, ``i1`` and float32 weight of ``i1`` for each output
    index: :func:`gainmlp.resample.upsample_bilinear`'s pixel-centre mapping."""
    x = (np.arange(n_out, dtype=np.float64) + 0.5) * (n_in / n_out) - 0.5
    x = np.clip(x, 0.0, n_in - 1)
    i0 = np.floor(x).astype(np.intp)
    i1 = np.minimum(i0 + 1, n_in - 1)
    return i0, i1, (x - i0).astype(np.float32)


# --------------------------------------------------------------------------- ISO / Apple


@jit
def _render_rows(base_u8, base_f32, use_u8, base_lut, gmap, map_lut, y0, y1, fy,
                 x0, x1, fx, fx0, apple, boost, k_base, k_alt, lo, hi, inv_gamma, use_gamma,
                 one_factor, weight, matrix, white, mode, pq_table, out,
                 r0, r1):  # pragma: no cover - compiled
    width = out.shape[1]
    mw, mc = gmap.shape[1], gmap.shape[2]
    vrow = np.empty((mc, mw), np.float32)
    gx = np.empty((mc, width), np.float32)
    fac = np.empty((3, width), np.float32)
    one = np.float32(1.0)
    zero = np.float32(0.0)
    fmax = np.float32(_F32_MAX)
    n_fac = 1 if one_factor else 3
    for r in range(r0, r1):
        a0, a1 = y0[r], y1[r]
        wy = fy[r]
        wy0 = one - wy
        for c in range(mc):  # vertical pass at the map's width (upsample_bilinear's order)
            for j in range(mw):
                vrow[c, j] = map_lut[gmap[a0, j, c]] * wy0 + map_lut[gmap[a1, j, c]] * wy
        for c in range(mc):  # horizontal pass
            for x in range(width):
                gx[c, x] = vrow[c, x0[x]] * fx0[x] + vrow[c, x1[x]] * fx[x]
        for c in range(n_fac):  # per-channel factor of the base (and offset)
            src = c if mc == 3 else 0
            if apple:
                for x in range(width):
                    fac[c, x] = one + boost * gx[src, x]
            elif use_gamma:
                for x in range(width):
                    gc = min(max(gx[src, x], zero), one) ** inv_gamma[c]
                    fac[c, x] = exp2f((lo[c] * (one - gc) + hi[c] * gc) * weight)
            else:
                for x in range(width):
                    gc = min(max(gx[src, x], zero), one)
                    fac[c, x] = exp2f((lo[c] * (one - gc) + hi[c] * gc) * weight)
        for x in range(width):
            v0 = zero
            v1 = zero
            v2 = zero
            for c in range(3):
                if use_u8:
                    b = base_lut[base_u8[r, x, c]]
                else:
                    b = base_f32[r, x, c]
                f = fac[c if n_fac == 3 else 0, x]
                if apple:
                    val = b * f
                else:
                    val = (b + k_base[c]) * f - k_alt[c]
                # saturate as the references do: NaN -> 0, +inf -> max, -inf -> 0
                val = val if val == val else zero
                val = min(val, fmax)
                val = val if val >= -fmax else zero
                if c == 0:
                    v0 = val
                elif c == 1:
                    v1 = val
                else:
                    v2 = val
            if mode == 0:
                out[r, x, 0] = v0
                out[r, x, 1] = v1
                out[r, x, 2] = v2
            else:
                d0, d1, d2 = np.float64(v0), np.float64(v1), np.float64(v2)
                for c in range(3):
                    lin = (d0 * matrix[c, 0] + d1 * matrix[c, 1] + d2 * matrix[c, 2]) * white
                    lin = max(lin, 0.0)
                    if mode == 1:
                        out[r, x, c] = lin
                    else:
                        out[r, x, c] = encode_y(lin * 1e-4, pq_table)


def _as_map3(gain_map: np.ndarray) -> np.ndarray:
    g = np.asarray(gain_map)
    if g.ndim == 2:
        g = g[:, :, None]
    return np.ascontiguousarray(g, dtype=np.uint8)


def render_gain_map(base: np.ndarray, gain_map: np.ndarray, map_lut: np.ndarray, *,
                    base_lut: np.ndarray | None = None, apple_boost: float | None = None,
                    lo=(0.0,) * 3, hi=(1.0,) * 3, gamma=(1.0,) * 3, k_base=(0.0,) * 3,
                    k_alt=(0.0,) * 3, weight: float = 1.0, mode: int = OUT_RELATIVE,
                    matrix: np.ndarray | None = None, white: float = 1.0,
                    threads: int | None = None) -> np.ndarray:
    """A gain map applied to a base image in one compiled pass (module doc).

    Parameters
    ----------
    base : ndarray
        (H, W, 3) uint8 codes (read through ``base_lut``, 256 float32 linear values) or
        float32 linear light relative to SDR white.
    gain_map : ndarray
        (h, w) or (h, w, 3) uint8 map codes at any size, read through ``map_lut``.
    map_lut : ndarray
        256 float32 values of the map codes (``code / 255``, or Apple's linear values).
    apple_boost : float, optional
        Apple's ``H ** weight - 1``; when given the Apple formula is used and ``lo`` ..
        ``weight`` are ignored.
    lo, hi, gamma, k_base, k_alt, weight
        ISO 21496-1 per-channel fields (log2 min/max, gamma, base and alternate
        offsets) and the map weight.
    mode : int
        :data:`OUT_RELATIVE` (float32, relative to SDR white, base primaries),
        :data:`OUT_LINEAR_NITS` (``max(matrix @ v * white, 0)``) or :data:`OUT_PQ`
        (PQ code of that, luminance / 10,000 cd/m2).
    matrix : ndarray, optional
        3x3 float64 primaries conversion for the last two modes (identity if None).
    white : float
        cd/m2 of SDR white for the last two modes.
    threads : int, optional
        Threads (default: the usable cores).

    Returns
    -------
    ndarray
        (H, W, 3) float32.
    """
    use_u8 = np.asarray(base).dtype == np.uint8
    if use_u8:
        base_u8 = np.ascontiguousarray(base)
        base_f32 = np.zeros((1, 1, 3), np.float32)
        lut = np.ascontiguousarray(base_lut, dtype=np.float32)
    else:
        base_f32 = np.ascontiguousarray(base, dtype=np.float32)
        base_u8 = np.zeros((1, 1, 3), np.uint8)
        lut = np.zeros(256, np.float32)
    height, width = base.shape[:2]
    gmap = _as_map3(gain_map)
    y0, y1, fy = bilinear_coords(height, gmap.shape[0])
    x0, x1, fx = bilinear_coords(width, gmap.shape[1])
    f32 = lambda t: np.asarray(t, dtype=np.float32).reshape(3)  # noqa: E731
    gamma32 = f32(gamma)
    inv_gamma = (np.float32(1.0) / gamma32).astype(np.float32)
    use_gamma = bool(np.any(gamma32 != 1.0))
    gmap_channels = gmap.shape[2]
    one_factor = gmap_channels == 1 and (apple_boost is not None or all(
        len(set(np.asarray(t, np.float32).reshape(3).tolist())) == 1
        for t in (lo, hi, gamma)))
    mat = np.eye(3) if matrix is None else np.asarray(matrix, dtype=np.float64)
    out = np.empty((height, width, 3), np.float32)
    apple = apple_boost is not None
    args = (base_u8, base_f32, use_u8, lut, gmap, np.ascontiguousarray(map_lut, np.float32),
            y0, y1, fy, x0, x1, fx, (np.float32(1.0) - fx).astype(np.float32), apple,
            np.float32(apple_boost if apple else 0.0),
            f32(k_base), f32(k_alt), f32(lo), f32(hi), inv_gamma, use_gamma,
            one_factor, np.float32(weight), np.ascontiguousarray(mat), float(white), int(mode),
            encode_table(), out)
    rows = max(1, TILE_PIXELS // max(width, 1))
    for_chunks(height, rows, lambda r0, r1: _render_rows(*args, r0, r1), threads)
    return out


def reference_render_gain_map(base, gain_map, map_lut, *, base_lut=None, apple_boost=None,
                              lo=(0.0,) * 3, hi=(1.0,) * 3, gamma=(1.0,) * 3,
                              k_base=(0.0,) * 3, k_alt=(0.0,) * 3, weight=1.0,
                              mode=OUT_RELATIVE, matrix=None, white=1.0) -> np.ndarray:
    """:func:`render_gain_map` in numpy, as ``iso_gainmap.apply_gain_map`` /
    ``apple.apply_apple_gain_map`` and the colorimetry conversions compute it (float64
    matrix, float64 PQ)."""
    base = np.asarray(base)
    base = (np.asarray(base_lut, np.float32)[base] if base.dtype == np.uint8
            else base.astype(np.float32))
    height, width = base.shape[:2]
    gmap = np.asarray(map_lut, np.float32)[_as_map3(gain_map)]
    y0, y1, fy = bilinear_coords(height, gmap.shape[0])
    x0, x1, fx = bilinear_coords(width, gmap.shape[1])
    rows = gmap[y0] * (1 - fy)[:, None, None] + gmap[y1] * fy[:, None, None]
    g = rows[:, x0] * (1 - fx)[None, :, None] + rows[:, x1] * fx[None, :, None]
    with np.errstate(over="ignore", invalid="ignore"):
        if apple_boost is not None:
            out = base * (np.float32(1.0) + np.float32(apple_boost) * g)
            out = np.nan_to_num(out, nan=0.0, posinf=_F32_MAX)
        else:
            g = np.clip(g, 0.0, 1.0)
            gamma = np.asarray(gamma, np.float32)
            if np.any(gamma != 1.0):
                g = np.power(g, (np.float32(1.0) / gamma).astype(np.float32))
            log_boost = (np.asarray(lo, np.float32) * (1.0 - g)
                         + np.asarray(hi, np.float32) * g)
            out = ((base + np.asarray(k_base, np.float32))
                   * np.exp2(log_boost * np.float32(weight)) - np.asarray(k_alt, np.float32))
            out = np.nan_to_num(out.astype(np.float32), nan=0.0, posinf=_F32_MAX,
                                neginf=0.0)
    if mode == OUT_RELATIVE:
        return out.astype(np.float32)
    mat = np.eye(3) if matrix is None else np.asarray(matrix, np.float64)
    lin = np.maximum(out.astype(np.float64) @ mat.T * white, 0.0)
    if mode == OUT_LINEAR_NITS:
        return lin.astype(np.float32)
    from gainmlp.kernels.pq import reference_encode

    return reference_encode(lin / 1e4).astype(np.float32)


# --------------------------------------------------------------------------- conventional



def _bicubic(x: float) -> float:
    a = -0.5
    x = abs(x)
    if x < 1.0:
        return ((a + 2.0) * x - (a + 3.0)) * x * x + 1
    if x < 2.0:
        return (((x - 5) * x + 8) * x - 4) * a
    return 0.0


def pillow_bicubic_coeffs(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray,
                                                                np.ndarray]:
    """Pillow's BICUBIC taps for a resize ``in_size -> out_size`` (its
    ``precompute_coeffs``): first tap, tap count and normalised float64 weights
    ``(out_size, ksize)`` of each output pixel."""
    scale = in_size / out_size
    filterscale = max(scale, 1.0)
    support = 2.0 * filterscale
    ksize = int(math.ceil(support)) * 2 + 1
    first = np.zeros(out_size, np.intp)
    count = np.zeros(out_size, np.intp)
    weights = np.zeros((out_size, ksize), np.float64)
    ss = 1.0 / filterscale
    for xx in range(out_size):
        center = (xx + 0.5) * scale
        xmin = max(int(center - support + 0.5), 0)
        xmax = min(int(center + support + 0.5), in_size) - xmin
        k = [_bicubic((x + xmin - center + 0.5) * ss) for x in range(xmax)]
        ww = sum(k)  # Pillow sums in this order too
        first[xx], count[xx] = xmin, xmax
        weights[xx, :xmax] = [w / ww if ww != 0.0 else w for w in k]
    return first, count, weights


@jit
def _conventional_rows(sdr_pq, small, code_lut, hx0, hn, hk, vy0, vn, vk, lo, span, eps, gamma_kind,
                       out, r0, r1):  # pragma: no cover - compiled
    width = out.shape[1]
    m_first = vy0[r0]
    m_last = m_first
    for r in range(r0, r1):
        m_last = max(m_last, vy0[r] + vn[r])
        m_first = min(m_first, vy0[r])
    hbuf = np.empty((m_last - m_first, width, 3), np.float32)
    for m in range(m_first, m_last):
        for x in range(width):
            j0 = hx0[x]
            for c in range(3):
                ss = 0.0
                for t in range(hn[x]):
                    ss += np.float64(code_lut[small[m, j0 + t, c]]) * hk[x, t]
                hbuf[m - m_first, x, c] = np.float32(ss)
    top = 1.0 - GAMMA_GUARD
    for r in range(r0, r1):
        i0 = vy0[r] - m_first
        for x in range(width):
            for c in range(3):
                ss = 0.0
                for t in range(vn[r]):
                    ss += np.float64(hbuf[i0 + t, x, c]) * vk[r, t]
                v = min(max(np.float32(ss), np.float32(0.0)), np.float32(1.0))
                f = np.exp2(np.float64(v) * span[c] + lo[c])
                s = np.float64(sdr_pq[r, x, c])
                if gamma_kind:
                    h = min(max(s + eps, eps), top) ** f - eps
                else:
                    h = (max(s, 0.0) + eps) * f - eps
                out[r, x, c] = min(max(h, 0.0), 1.0)


def render_conventional(sdr_pq: np.ndarray, small_u8: np.ndarray, log2_min, log2_max,
                        eps: float, kind: str, threads: int | None = None) -> np.ndarray:
    """A conventional map body's HDR (PQ float32, (H, W, 3)) in one pass: the stored
    (h, w, 3) uint8 map, divided by 255, Pillow-bicubic upscaled to the image, clipped,
    eq. 3 with the log2 bounds, then eq. 4 (``kind`` gain) or eq. 6 (gamma) on
    ``sdr_pq`` with offset ``eps`` (``docs/payload-format.md``)."""
    sdr_pq = np.ascontiguousarray(sdr_pq, dtype=np.float32)
    small = np.ascontiguousarray(small_u8, dtype=np.uint8)
    height, width = sdr_pq.shape[:2]
    hx0, hn, hk = pillow_bicubic_coeffs(small.shape[1], width)
    vy0, vn, vk = pillow_bicubic_coeffs(small.shape[0], height)
    lo = np.asarray(log2_min, np.float64).reshape(3)
    span = np.asarray(log2_max, np.float64).reshape(3) - lo
    out = np.empty((height, width, 3), np.float32)
    code_lut = np.arange(256, dtype=np.float32) / np.float32(255.0)
    args = (sdr_pq, small, code_lut, hx0, hn, hk, vy0, vn, vk, lo, span, float(eps),
            kind == "gamma", out)
    rows = max(1, TILE_PIXELS // max(width, 1))
    for_chunks(height, rows, lambda r0, r1: _conventional_rows(*args, r0, r1), threads)
    return out


def reference_conventional(sdr_pq, small_u8, log2_min, log2_max, eps, kind) -> np.ndarray:
    """:func:`render_conventional` as ``codecs.conventional.decode_map`` computes it
    (Pillow's resize, then the paper's float64 arithmetic)."""
    from gainmlp.paper_residual import denormalise, reconstruct
    from gainmlp.resample import resize_bicubic_float

    height, width = sdr_pq.shape[:2]
    f_norm = np.asarray(small_u8).astype(np.float32) / 255.0
    if f_norm.shape[:2] != (height, width):
        f_norm = np.clip(resize_bicubic_float(f_norm, width, height), 0.0, 1.0)
    f = denormalise(f_norm, np.asarray(log2_min), np.asarray(log2_max))
    return reconstruct(kind, sdr_pq, f, eps).astype(np.float32)
