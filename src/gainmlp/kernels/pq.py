"""SMPTE ST 2084 (PQ) per pixel, fast: tables indexed by the bits of a float32.

The bits of a positive float32 are a piecewise-linear logarithm of it (8 exponent bits,
then the mantissa), so ``bits >> s`` cuts the line into segments of equal *relative*
width, ``2 ** (23 - s)`` of them per octave; the curve is tabulated at the segment ends
(float64 arithmetic, stored as float32) and linearly interpolated in between. That is a
table in a log domain with interpolation: one shift, two loads and a multiply-add per
value instead of two ``pow`` calls and a division.

* encode (``Y = cd/m2 / 10,000`` in [0, 1] -> PQ code): 256 segments per octave over the
  whole float32 range below 1 (32,514 entries, 127 KiB); max abs error **2.6e-7** in
  code values, measured against the float64 formula on 3 M values spread uniformly and
  log-uniformly over [1e-30, 1] (``tests/test_kernels_gainmap.py`` checks < 5e-7);
  ``Y <= 0`` gives PQ(0) = 7.3e-7 and ``Y >= 1`` gives 1, as the clipped formula does.
* decode (PQ code in [0, 1] -> ``Y``): 1,024 segments per octave from 2^-24 (below it
  the curve is 0) to 1 (24,578 entries, 96 KiB); max relative error **2.9e-6** (max abs
  2.9e-6 of 10,000 cd/m2), 170 times finer than a half-float's step (OpenEXR output).

The numba helpers :func:`encode_y` and :func:`decode_e` are meant to be inlined into
other kernels (``kernels/gainmap.py``); :func:`pq_encode_nits` and :func:`pq_decode_nits`
run them over whole arrays in threaded row tiles. The numpy references
(:func:`reference_encode`, :func:`reference_decode`) are the float64 formula, the same
values as :func:`gainmlp.colorimetry.pq_encode` / ``pq_decode``.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from gainmlp.kernels._jit import jit

M1 = 2610.0 / 16384.0
M2 = 2523.0 / 4096.0 * 128.0
C1 = 3424.0 / 4096.0
C2 = 2413.0 / 4096.0 * 32.0
C3 = 2392.0 / 4096.0 * 32.0
PEAK_NITS = 10000.0

ENCODE_SHIFT = 15  # 23 - 8: 256 segments per octave
DECODE_SHIFT = 13  # 23 - 10: 1024 segments per octave
_ONE_BITS = 0x3F800000  # float32 1.0
_DECODE_LOW_BITS = 0x33800000  # float32 2^-24


def reference_encode(y: np.ndarray) -> np.ndarray:
    """PQ inverse EOTF of ``Y`` = luminance / 10,000 cd/m2 (float64, clipped to [0, 1])."""
    p = np.power(np.clip(np.asarray(y, dtype=np.float64), 0.0, 1.0), M1)
    return np.power((C1 + C2 * p) / (1.0 + C3 * p), M2)


def reference_decode(e: np.ndarray) -> np.ndarray:
    """PQ EOTF: code value in [0, 1] -> ``Y`` = luminance / 10,000 cd/m2 (float64)."""
    q = np.power(np.clip(np.asarray(e, dtype=np.float64), 0.0, 1.0), 1.0 / M2)
    return np.power(np.maximum(q - C1, 0.0) / (C2 - C3 * q), 1.0 / M1)


def _segment_ends(first_bits: int, shift: int) -> np.ndarray:
    n = ((_ONE_BITS - first_bits) >> shift) + 2
    bits = (first_bits + (np.arange(n, dtype=np.int64) << shift)).astype(np.uint32)
    return bits.view(np.float32).astype(np.float64)


@cache
def encode_table() -> np.ndarray:
    """PQ code of the float32 values ``i << ENCODE_SHIFT`` (bits), i = 0 .. 1.0's + 1."""
    return reference_encode(_segment_ends(0, ENCODE_SHIFT)).astype(np.float32)


@cache
def decode_table() -> np.ndarray:
    """``Y`` of the PQ codes ``2^-24 + (i << DECODE_SHIFT)`` (bits), up to 1.0's + 1."""
    return reference_decode(_segment_ends(_DECODE_LOW_BITS, DECODE_SHIFT)).astype(np.float32)


@intrinsic
def float32_bits(typingctx, x):  # pragma: no cover - compiled
    """The bits of a float32 as a uint32 (a register move, no memory)."""
    sig = types.uint32(types.float32)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(32))

    return sig, codegen


@intrinsic
def bits_float32(typingctx, x):  # pragma: no cover - compiled
    """A uint32 read as the bits of a float32 (a register move, no memory)."""
    sig = types.float32(types.uint32)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())

    return sig, codegen


@jit(inline="always")
def exp2f(x):  # pragma: no cover - compiled
    """``2 ** x`` in float32 without a libm call (so loops over it vectorise): ``x``
    rounded to an integer ``n`` (a float32 exponent field) and ``2 ** (x - n)`` by its
    degree-7 Taylor polynomial on [-1/2, 1/2]; relative error below 2e-7 for
    ``x`` in [-126, 127.5); above it ``inf``, below it ``2 ** -126``."""
    x = min(max(np.float32(x), np.float32(-126.0)), np.float32(128.0))
    ni = np.uint32(x + np.float32(127.5))  # floor(x + 1/2) + 127, in 1..255
    f = x - (np.float32(ni) - np.float32(127.0))
    p = np.float32(1.5252733804059841e-05)
    p = p * f + np.float32(1.5403530393381606e-04)
    p = p * f + np.float32(1.3333558146428441e-03)
    p = p * f + np.float32(9.6181291076284772e-03)
    p = p * f + np.float32(5.5504108664821580e-02)
    p = p * f + np.float32(2.4022650695910071e-01)
    p = p * f + np.float32(6.9314718055994531e-01)
    p = p * f + np.float32(1.0)
    return p * bits_float32(ni << np.uint32(23))


@jit(inline="always")
def encode_y(y, table):  # pragma: no cover - compiled
    """PQ code (float32) of ``Y`` (luminance / 10,000) through :func:`encode_table`;
    ``Y`` is clamped to [0, 1] and must not be NaN (callers check)."""
    y32 = min(max(np.float32(y), np.float32(0.0)), np.float32(1.0))
    bits = float32_bits(y32)
    i = bits >> np.uint32(ENCODE_SHIFT)
    frac = np.float32(bits & np.uint32((1 << ENCODE_SHIFT) - 1)) * np.float32(
        1.0 / (1 << ENCODE_SHIFT))
    a = table[i]
    return a + (table[i + 1] - a) * frac


@jit(inline="always")
def decode_e(e, table):  # pragma: no cover - compiled
    """``Y`` (float32, luminance / 10,000) of PQ code ``e`` through :func:`decode_table`."""
    e32 = np.float32(e)
    if not e32 >= np.float32(2.0 ** -24):  # also NaN
        return np.float32(0.0)
    if e32 >= np.float32(1.0):
        return np.float32(1.0)
    bits = float32_bits(e32) - np.uint32(_DECODE_LOW_BITS)
    i = bits >> np.uint32(DECODE_SHIFT)
    frac = np.float32(bits & np.uint32((1 << DECODE_SHIFT) - 1)) * np.float32(
        1.0 / (1 << DECODE_SHIFT))
    a = table[i]
    return a + (table[i + 1] - a) * frac


@jit
def _encode_flat(nits, scale, table, out):  # pragma: no cover - compiled
    for i in range(nits.shape[0]):
        y = nits[i] * scale
        out[i] = encode_y(y if y == y else np.float32(0.0), table)


@jit
def _decode_flat(code, scale, table, out):  # pragma: no cover - compiled
    for i in range(code.shape[0]):
        out[i] = decode_e(code[i], table) * scale


def for_chunks(total: int, chunk: int, work, threads: int | None = None) -> None:
    """``work(start, stop)`` for consecutive ranges of ``chunk`` covering ``range(total)``,
    on ``threads`` threads (default :func:`gainmlp.colorimetry.usable_cores`); the kernels
    release the GIL, so the ranges run in parallel."""
    from gainmlp.colorimetry import usable_cores

    starts = range(0, total, max(1, chunk))
    workers = min(threads or usable_cores(), len(starts))
    if workers <= 1:
        for s in starts:
            work(s, min(s + chunk, total))
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(workers) as pool:
        for future in [pool.submit(work, s, min(s + chunk, total)) for s in starts]:
            future.result()


_CHUNK_ROWS_PIXELS = 1 << 17


def _map_rows(fn, image: np.ndarray, dtype, threads: int | None) -> np.ndarray:
    """``fn(flat_float32_in, flat_float32_out)`` over row tiles of ``image`` (any shape
    whose first axis is rows); results cast to ``dtype`` tile by tile."""
    image = np.asarray(image)
    out = np.empty(image.shape, dtype=dtype)
    if image.size == 0:
        return out
    rows = image.shape[0]
    per_row = max(1, image.size // rows)
    chunk = max(1, _CHUNK_ROWS_PIXELS // per_row)

    def work(r0: int, r1: int) -> None:
        src = np.ascontiguousarray(image[r0:r1], dtype=np.float32).reshape(-1)
        if out.dtype == np.float32:
            fn(src, out[r0:r1].reshape(-1))
        else:
            tmp = np.empty(src.shape, np.float32)
            fn(src, tmp)
            out[r0:r1] = tmp.reshape(out[r0:r1].shape)

    for_chunks(rows, chunk, work, threads)
    return out


def pq_encode_nits(nits: np.ndarray, threads: int | None = None) -> np.ndarray:
    """PQ code values (float32) of luminance in cd/m2 (any shape; clipped to [0, 10,000]
    as :func:`gainmlp.colorimetry.pq_encode`; max abs error 2.6e-7, module doc)."""
    table = encode_table()
    scale = np.float32(1.0 / PEAK_NITS)
    return _map_rows(lambda a, o: _encode_flat(a, scale, table, o), nits, np.float32, threads)


def pq_decode_nits(code: np.ndarray, scale_nits: float = PEAK_NITS, dtype=np.float32,
                   threads: int | None = None) -> np.ndarray:
    """Luminance of PQ code values times ``scale_nits / 10,000`` (default: cd/m2), as
    ``dtype`` (float32, or float16 for OpenEXR, cast tile by tile; max relative error
    2.9e-6 before the cast, module doc)."""
    table = decode_table()
    scale = np.float32(scale_nits)
    return _map_rows(lambda a, o: _decode_flat(a, scale, table, o), code, dtype, threads)
