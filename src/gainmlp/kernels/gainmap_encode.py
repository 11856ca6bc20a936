"""Standard (ISO 21496-1 / Ultra HDR) gain maps computed in row tiles, compiled.

An Ultra HDR writer (:func:`gainmlp.container.ultrahdr.standard_gain_map`) turns an 8-bit
sRGB-coded base and a PQ BT.2020 HDR into a per-channel log2 gain, then into 8-bit codes
between the per-channel extremes of that gain:

``s = sRGB_EOTF(code / 255)``, ``h = max(M PQ_EOTF(hdr) / white, 0)`` (``M`` the BT.2020
-> base primaries matrix, none when the base is BT.2020), ``g = log2((h + k_hdr) /
(s + k_sdr))`` (NaN -> 0, clipped to +-:data:`gainmlp.iso_gainmap.MAX_ABS_LOG2`), then
``code = round(255 clip((g - lo) / (hi - lo), 0, 1) ** gamma)``, ``lo`` / ``hi`` the
per-channel min / max of ``g`` over the image.

That is :func:`gainmlp.iso_gainmap.compute_gain_map` fed by the colorimetry functions,
which need ~200 bytes per pixel of float64 temporaries at full resolution. Here it runs
in two passes over row tiles (the extremes, then the codes), so nothing of full
resolution is made besides the uint8 codes:

* :func:`gain_map_codes`, the numba kernel: float64 arithmetic, the base through a
  256-entry table (the sRGB EOTF of each code, the same values), the PQ EOTF through the
  table of :mod:`gainmlp.kernels.pq` (max relative error 2.9e-6, i.e. 4e-6 in log2
  gain) instead of two ``pow`` per value (3x faster);
* :func:`reference_gain_map_codes`, the numpy reference: per tile exactly what
  ``compute_gain_map`` computes on the whole image (``colorimetry.pq_decode``, the
  matrix, its formulas), the same codes and extremes.

``tests/test_kernels_gainmap.py`` checks the reference against ``compute_gain_map``
(equal) and the kernel against the reference: extremes within 1e-5, codes equal but
where the PQ table moves ``255 r`` across a half (a code off by one, ~3e-5 of the
codes on the shared photos; docs/speed.md has the effect on the rendered HDR: none at
0.001 dB).
"""

from __future__ import annotations

import numpy as np

from gainmlp.kernels._jit import jit
from gainmlp.kernels.pq import PEAK_NITS, decode_e, decode_table, for_chunks

#: Pixels per row tile (both the kernel and the reference).
TILE_PIXELS = 1 << 16


@jit(error_model="numpy")
def _row_ratios(sdr_u8, hdr_pq, r, sdr_lut, matrix, convert, pq_table, white, k_sdr,
                k_hdr, out):  # pragma: no cover - compiled
    """The gains of row ``r`` before their log2, ``(h + k_hdr) / (s + k_sdr)``, into
    ``out`` ``(3, W)`` (module doc). One plain loop over the pixels, no scratch arrays and
    no division checks, so it vectorises (about 8x the per-pixel loop with scratch
    arrays); the sums run in the same order, so the values are the same."""
    width = sdr_u8.shape[1]
    m00, m01, m02 = matrix[0, 0], matrix[0, 1], matrix[0, 2]
    m10, m11, m12 = matrix[1, 0], matrix[1, 1], matrix[1, 2]
    m20, m21, m22 = matrix[2, 0], matrix[2, 1], matrix[2, 2]
    for x in range(width):
        n0 = np.float64(decode_e(hdr_pq[r, x, 0], pq_table)) * PEAK_NITS
        n1 = np.float64(decode_e(hdr_pq[r, x, 1], pq_table)) * PEAK_NITS
        n2 = np.float64(decode_e(hdr_pq[r, x, 2], pq_table)) * PEAK_NITS
        if convert:
            l0 = ((0.0 + n0 * m00) + n1 * m01) + n2 * m02
            l1 = ((0.0 + n0 * m10) + n1 * m11) + n2 * m12
            l2 = ((0.0 + n0 * m20) + n1 * m21) + n2 * m22
        else:
            l0, l1, l2 = n0, n1, n2
        out[0, x] = (max(l0 / white, 0.0) + k_hdr) / (max(sdr_lut[sdr_u8[r, x, 0]], 0.0) + k_sdr)
        out[1, x] = (max(l1 / white, 0.0) + k_hdr) / (max(sdr_lut[sdr_u8[r, x, 1]], 0.0) + k_sdr)
        out[2, x] = (max(l2 / white, 0.0) + k_hdr) / (max(sdr_lut[sdr_u8[r, x, 2]], 0.0) + k_sdr)


@jit(inline="always")
def _log_gain(ratio, max_abs):  # pragma: no cover - compiled
    """A gain's clipped log2 (NaN: 0)."""
    v = np.log2(ratio)
    return 0.0 if v != v else min(max(v, -max_abs), max_abs)


@jit(error_model="numpy")
def _extremes_rows(sdr_u8, hdr_pq, sdr_lut, matrix, convert, pq_table, white, k_sdr,
                   k_hdr, max_abs, lo, hi, r0, r1):  # pragma: no cover - compiled
    """The rows' extremes of the clipped log2 gains: log2 and the clip are monotonic, so
    they are those of the smallest and largest ratio (one log2 per channel, not per
    pixel; a NaN ratio counts as a log2 gain of 0)."""
    width = sdr_u8.shape[1]
    ratios = np.empty((3, width))
    small = np.full(3, np.inf)
    large = np.full(3, -np.inf)
    nan = np.zeros(3, np.bool_)
    for r in range(r0, r1):
        _row_ratios(sdr_u8, hdr_pq, r, sdr_lut, matrix, convert, pq_table, white, k_sdr,
                    k_hdr, ratios)
        for c in range(3):
            a, b = small[c], large[c]
            for x in range(width):
                v = ratios[c, x]
                if v != v:
                    nan[c] = True
                else:
                    a = min(a, v)
                    b = max(b, v)
            small[c], large[c] = a, b
    for c in range(3):
        lo[c] = np.inf
        hi[c] = -np.inf
        if small[c] <= large[c]:
            lo[c] = _log_gain(small[c], max_abs)
            hi[c] = _log_gain(large[c], max_abs)
        if nan[c]:
            lo[c] = min(lo[c], 0.0)
            hi[c] = max(hi[c], 0.0)


@jit(error_model="numpy")
def _code_rows(sdr_u8, hdr_pq, sdr_lut, matrix, convert, pq_table, white, k_sdr,
               k_hdr, max_abs, lo, span, gamma, out, r0, r1):  # pragma: no cover - compiled
    width = sdr_u8.shape[1]
    ratios = np.empty((3, width))
    for r in range(r0, r1):
        _row_ratios(sdr_u8, hdr_pq, r, sdr_lut, matrix, convert, pq_table, white, k_sdr,
                    k_hdr, ratios)
        for c in range(3):
            if span[c] > 0.0:
                for x in range(width):
                    rec = min(max((_log_gain(ratios[c, x], max_abs) - lo[c]) / span[c], 0.0),
                              1.0)
                    if gamma[c] != 1.0:
                        rec = rec ** gamma[c]
                    out[r, x, c] = np.uint8(np.rint(rec * 255.0))
            else:
                for x in range(width):
                    out[r, x, c] = 0


def _rows_per_tile(width: int) -> int:
    return max(1, TILE_PIXELS // max(width, 1))


def _span(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``compute_gain_map``'s ``hi = max(hi, lo)`` and ``span = hi - lo``."""
    hi = np.maximum(hi, lo)
    return hi, hi - lo


def gain_map_codes(sdr_u8: np.ndarray, hdr_pq: np.ndarray, sdr_lut: np.ndarray,
                   matrix: np.ndarray | None, white: float, k_sdr: float = 1 / 64,
                   k_hdr: float = 1 / 64, gamma: float = 1.0, max_abs: float = 16.0,
                   threads: int | None = None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Full-resolution 3-channel gain-map codes and their log2 extremes (module doc).

    Parameters
    ----------
    sdr_u8 : ndarray
        (H, W, 3) uint8 base codes.
    hdr_pq : ndarray
        (H, W, 3) PQ BT.2020 code values (float32; values outside [0, 1] are clipped).
    sdr_lut : ndarray
        256 float64 linear values of the base codes, relative to SDR white.
    matrix : ndarray or None
        3x3 float64 BT.2020 -> base primaries matrix (``rgb @ matrix.T``), None when the
        base is BT.2020.
    white : float
        cd/m2 of SDR white (the HDR is divided by it).
    k_sdr, k_hdr, gamma, max_abs
        The map's offsets, gamma and the clip of the log2 gain.
    threads : int, optional
        Threads for the row tiles (default: the usable cores).

    Returns
    -------
    tuple
        ``(codes, lo, hi)``: (H, W, 3) uint8 codes, and float64 (3,) log2 min and max
        (``hi >= lo``).
    """
    sdr_u8 = np.ascontiguousarray(sdr_u8, dtype=np.uint8)
    hdr_pq = np.ascontiguousarray(hdr_pq, dtype=np.float32)
    height, width = sdr_u8.shape[:2]
    # one thread: each pass one call (no GIL taken between tiles: a thread of the idle
    # class that held it could stall the others, gainmlp.threads.in_gaps)
    rows = max(height, 1) if threads == 1 else _rows_per_tile(width)
    n_tiles = -(-height // rows)
    convert = matrix is not None
    mat = np.ascontiguousarray(np.eye(3) if matrix is None else matrix, dtype=np.float64)
    common = (sdr_u8, hdr_pq, np.ascontiguousarray(sdr_lut, dtype=np.float64), mat, convert,
              decode_table(), float(white), float(k_sdr), float(k_hdr), float(max_abs))
    lows = np.full((max(n_tiles, 1), 3), np.inf)
    highs = np.full((max(n_tiles, 1), 3), -np.inf)

    def extremes(r0: int, r1: int) -> None:
        t = r0 // rows
        _extremes_rows(*common, lows[t], highs[t], r0, r1)

    for_chunks(height, rows, extremes, threads)
    lo = lows.min(axis=0)
    hi, span = _span(lo, highs.max(axis=0))
    out = np.empty((height, width, 3), np.uint8)
    gam = np.full(3, float(gamma))
    for_chunks(height, rows,
               lambda r0, r1: _code_rows(*common, lo, span, gam, out, r0, r1), threads)
    return out, lo, hi


def reference_gain_map_codes(sdr_u8: np.ndarray, hdr_pq: np.ndarray, sdr_lut: np.ndarray,
                             matrix: np.ndarray | None, white: float, k_sdr: float = 1 / 64,
                             k_hdr: float = 1 / 64, gamma: float = 1.0,
                             max_abs: float = 16.0) -> tuple[np.ndarray, np.ndarray,
                                                             np.ndarray]:
    """:func:`gain_map_codes` in numpy on the same row tiles: per tile the colorimetry
    functions (``pq_decode``, the matrix) and ``compute_gain_map``'s formulas, float64."""
    from gainmlp.colorimetry import pq_decode

    sdr_u8 = np.asarray(sdr_u8)
    height, width = sdr_u8.shape[:2]
    rows = _rows_per_tile(width)
    lut = np.asarray(sdr_lut, dtype=np.float64)

    def log_gain(r0: int) -> np.ndarray:
        s = np.maximum(lut[sdr_u8[r0:r0 + rows]], 0.0)
        h = pq_decode(hdr_pq[r0:r0 + rows])
        if matrix is not None:
            h = h @ np.asarray(matrix, dtype=np.float64).T
        h = np.maximum(np.maximum(h / white, 0.0), 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            g = np.log2((h + k_hdr) / (s + k_sdr))
        g = np.nan_to_num(g, nan=0.0, posinf=max_abs, neginf=-max_abs)
        return np.clip(g, -max_abs, max_abs)

    lo, hi = np.full(3, np.inf), np.full(3, -np.inf)
    for r0 in range(0, height, rows):
        g = log_gain(r0).reshape(-1, 3)
        lo, hi = np.minimum(lo, g.min(axis=0)), np.maximum(hi, g.max(axis=0))
    hi, span = _span(lo, hi)
    safe = np.where(span > 0, span, 1.0)
    out = np.empty((height, width, 3), np.uint8)
    for r0 in range(0, height, rows):
        rec = np.where(span > 0, np.clip((log_gain(r0) - lo) / safe, 0.0, 1.0), 0.0)
        if gamma != 1.0:
            rec = rec ** gamma
        out[r0:r0 + rows] = np.round(rec * 255.0).astype(np.uint8)
    return out, lo, hi


__all__ = ["TILE_PIXELS", "gain_map_codes", "reference_gain_map_codes"]
