"""The fused per-pixel kernel of the Gain-MLP decoder (body versions 1-3).

What depends only on a pixel's colour is computed once per distinct colour by the caller
(:mod:`gainmlp.codecs.mlp.fast_decode`): the colour part of the first layer ``ct``
``(K, w1)`` and an auxiliary row ``aux`` ``(K, 4)`` (the residual's base per channel,
``S + eps`` for gain or ``log2(clip(S + eps))`` for gamma, and the bilateral grids'
luma guide). :func:`mlp_rows` then does, for each pixel of a range of rows, everything
else in one pass: colour + column + row term (+ the grid term: projected grids
interpolated per pixel), the activations, the hidden layers, the output layer, the
denormalisation (clip, ``2 ** T``) and the residual's reconstruction, clipped to [0, 1].

Pixels go through in blocks of :data:`BLOCK` of one row, with feature-major scratch
arrays whose inner loop runs over the pixels, so LLVM vectorises it (AVX2/AVX-512). The
sine is a float32 Cody-Waite reduction by pi and an odd polynomial of degree 11 (error
below 1e-7 on the reduced range, no libm call), ``2 ** x`` a polynomial of degree 6 times
a power of two built in the exponent field; both vectorise. The network's widths and
depth are read from ``dims`` and the weights from one flat array with offsets, so one
compiled kernel serves every body the format allows.

The reference of this kernel is the numpy decoder, :func:`gainmlp.codecs.mlp.decode.
decode_mlp` with ``GAINMLP_KERNELS=numpy``; the two agree within 2e-5 PQ (max abs), the
tolerance docs/payload-format.md states (tests/test_kernels_mlp.py). Importing this module
imports numba.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from gainmlp.kernels._jit import jit

#: Pixels per block (one row at a time): the scratch arrays stay in the L1/L2 cache.
BLOCK = 128
#: Activation codes of :func:`mlp_rows`.
RELU, SINE = 1, 2
#: Residual kinds of :func:`mlp_rows`.
DIRECT, GAIN, GAMMA = 0, 1, 2

# pi = PI_A + PI_B + PI_C; PI_A and PI_B have few significant bits, so k * PI_A and
# k * PI_B are exact for the |k| < 2^11 met here (Cody-Waite reduction).
_INV_PI = np.float32(1.0 / np.pi)
_PI_A = np.float32(3.140625)
_PI_B = np.float32(0.0009675025939941406)
_PI_C = np.float32(1.5099580252808664e-07)
# sin(r) ~ r + r^3 (S1 + r^2 (S2 + ...)) on [-pi/2, pi/2] (least squares, error 1.3e-11).
_S1 = np.float32(-0.16666666541216182)
_S2 = np.float32(0.008333329259396428)
_S3 = np.float32(-0.00019840702393758545)
_S4 = np.float32(2.7518836634600926e-06)
_S5 = np.float32(-2.3794433478220012e-08)
# 2^f ~ E0 + f (E1 + f (E2 + ...)) on [-0.5, 0.5] (relative error 2.6e-9).
_E0 = np.float32(0.9999999999595485)
_E1 = np.float32(0.69314720671062)
_E2 = np.float32(0.24022651213595325)
_E3 = np.float32(0.055503272142092566)
_E4 = np.float32(0.009618025602956914)
_E5 = np.float32(0.001340043216536728)
_E6 = np.float32(0.0001546973197598277)


@jit(inline="always", fastmath={"contract"})
def sin32(x):
    """float32 sine without libm (vectorisable); NaN for non-finite ``x``."""
    k = np.floor(x * _INV_PI + np.float32(0.5))
    r = ((x - k * _PI_A) - k * _PI_B) - k * _PI_C
    s = r * r
    p = r + r * s * (_S1 + s * (_S2 + s * (_S3 + s * (_S4 + s * _S5))))
    half = k * np.float32(0.5)
    if half != np.floor(half):
        p = -p
    return p


@intrinsic
def _bits_float32(typingctx, x):  # pragma: no cover - compiled
    """A uint32 read as the bits of a float32 (a register move: vectorises)."""
    sig = types.float32(types.uint32)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())

    return sig, codegen


@jit(inline="always", fastmath={"contract"})
def exp2_32(x):
    """float32 ``2 ** x`` without libm (vectorisable): ``2 ** n`` built in the exponent
    field, ``2 ** (x - n)`` a polynomial; ``x`` is clamped to [-125, 128.5] (below
    2 ** -125 the result stays about 2 ** -125, from 2 ** 128 on it is inf)."""
    x = min(max(x, np.float32(-125.0)), np.float32(128.5))
    n = np.floor(x + np.float32(0.5))
    f = x - n
    p = _E0 + f * (_E1 + f * (_E2 + f * (_E3 + f * (_E4 + f * (_E5 + f * _E6)))))
    # (2p) 2^(n-1): n - 1 + 127 stays in 1..255 (255: inf) for n in -125..129
    return (p + p) * _bits_float32(np.uint32(np.int32(n) + 126) << np.uint32(23))


@jit
def sin_array(x):
    """:func:`sin32` of a float32 array (for tests)."""
    out = np.empty_like(x)
    flat, res = x.reshape(-1), out.reshape(-1)
    for i in range(flat.size):
        res[i] = sin32(flat[i])
    return out


@jit
def exp2_array(x):
    """:func:`exp2_32` of a float32 array (for tests)."""
    out = np.empty_like(x)
    flat, res = x.reshape(-1), out.reshape(-1)
    for i in range(flat.size):
        res[i] = exp2_32(flat[i])
    return out


@jit(inline="always", fastmath={"contract"})
def _activate(h, n_rows, nb, act):
    for j in range(n_rows):
        if act == SINE:
            for p in range(nb):
                h[j, p] = sin32(h[j, p])
        else:
            for p in range(nb):
                v = h[j, p]
                if v < np.float32(0.0):  # NaN stays NaN, as numpy's maximum keeps it
                    h[j, p] = np.float32(0.0)


@jit(inline="always", fastmath={"contract"})
def _matmul(weights, off, dout, din, src, dst, nb):
    """``dst[:dout, :nb] = W @ src[:din, :nb]``, ``W`` row-major at ``weights[off:]``."""
    for j in range(dout):
        for p in range(nb):
            dst[j, p] = np.float32(0.0)
        base = off + j * din
        i = 0
        while i + 4 <= din:  # four inputs at a time: a quarter of the loads and stores
            wa, wb = weights[base + i], weights[base + i + 1]
            wc, wd = weights[base + i + 2], weights[base + i + 3]
            for p in range(nb):
                dst[j, p] += (wa * src[i, p] + wb * src[i + 1, p]) + \
                    (wc * src[i + 2, p] + wd * src[i + 3, p])
            i += 4
        while i < din:
            w = weights[base + i]
            for p in range(nb):
                dst[j, p] += w * src[i, p]
            i += 1


@jit(inline="always", fastmath={"contract"})
def _grid_rows(rows_out, y, ginfo, gproj, gy0, gy1, gfy):
    """Per spatial grid, its projected values interpolated along y at image row ``y``
    (``rows_out[g, :cols * we]``), as the numpy decoder forms them (y first, then x)."""
    we = ginfo[0, 4]
    for g in range(ginfo.shape[0]):
        if ginfo[g, 2] == 0:
            cols, off = ginfo[g, 1], ginfo[g, 3]
            ya, yb, fy = gy0[g, y], gy1[g, y], gfy[g, y]
            a, b = off + ya * cols * we, off + yb * cols * we
            for k in range(cols * we):
                rows_out[g, k] = gproj[a + k] + (gproj[b + k] - gproj[a + k]) * fy


@jit(inline="always", fastmath={"contract"})
def _grid_term(g_out, g_pix, y, x0, nb, ids, i0, aux, ginfo, gproj, grows, gx0, gx1, gfx,
               gy0, gy1, gfy):
    """The grids' term ``g_out[:we, :nb]`` of pixels ``x0..x0 + nb - 1`` of row ``y``.

    ``ginfo`` per grid: (rows, cols, bins (0 = spatial), offset into ``gproj``, width);
    ``grows``: :func:`_grid_rows` of row ``y``. Spatial grids go by runs of pixels
    between the same two grid columns (no gathers); bilateral grids pixel by pixel."""
    we = ginfo[0, 4]
    for j in range(we):
        for p in range(nb):
            g_out[j, p] = np.float32(0.0)
    for g in range(ginfo.shape[0]):
        cols, bins, off = ginfo[g, 1], ginfo[g, 2], ginfo[g, 3]
        if bins == 0:
            p = 0
            while p < nb:
                xa, xb = gx0[g, x0 + p], gx1[g, x0 + p]
                q = p + 1
                while q < nb and gx0[g, x0 + q] == xa:
                    q += 1
                for j in range(we):
                    ra, rb = grows[g, xa * we + j], grows[g, xb * we + j]
                    d = rb - ra
                    for k in range(p, q):
                        g_out[j, k] += ra + d * gfx[g, x0 + k]
                p = q
            continue
        # pixel by pixel into a pixel-major scratch (contiguous along the features, so
        # no scattered stores), then added feature-major
        ya, yb, fy = gy0[g, y], gy1[g, y], gfy[g, y]
        for p in range(nb):
            x = x0 + p
            xa, xb, fx = gx0[g, x], gx1[g, x], gfx[g, x]
            u = np.float64(aux[ids[i0 + p], 3]) * bins - 0.5
            u = min(max(u, 0.0), bins - 1.0)
            z0 = np.int64(np.floor(u))
            z1 = min(z0 + 1, bins - 1)
            fz = np.float32(u - z0)
            caa = off + ((ya * cols + xa) * bins) * we
            cab = off + ((ya * cols + xb) * bins) * we
            cba = off + ((yb * cols + xa) * bins) * we
            cbb = off + ((yb * cols + xb) * bins) * we
            for j in range(we):
                lo = gproj[caa + z0 * we + j]
                a = lo + (gproj[caa + z1 * we + j] - lo) * fz
                lo = gproj[cab + z0 * we + j]
                b = lo + (gproj[cab + z1 * we + j] - lo) * fz
                top = a + (b - a) * fx
                lo = gproj[cba + z0 * we + j]
                a = lo + (gproj[cba + z1 * we + j] - lo) * fz
                lo = gproj[cbb + z0 * we + j]
                b = lo + (gproj[cbb + z1 * we + j] - lo) * fz
                bottom = a + (b - a) * fx
                g_pix[p, j] = top + (bottom - top) * fy
        for j in range(we):
            for p in range(nb):
                g_out[j, p] += g_pix[p, j]


@jit(error_model="numpy", fastmath={"contract"})
def mlp_rows(r0, r1, width, ids, ct, aux, col_t, row_t, weights, dims, offs, act,
             grid_entry, ginfo, gproj, gx0, gx1, gfx, gy0, gy1, gfy, outp, log2_out, kind,
             eps, out):
    """Decode image rows ``r0..r1-1``; returns 1 when the network overflows, else 0.

    ``ids`` ``((r1 - r0) * width,)``: each pixel's row of ``ct``/``aux``; ``col_t``
    ``(w1, W)`` and ``row_t`` ``(H, w1)``: the first layer's column and row terms (the
    bias in the row term); ``weights``: layers 1.. (row-major, no grid columns) at
    ``offs``, widths ``dims`` (``dims[0]`` = w1, the last the outputs); ``grid_entry``:
    the layer the grid term enters (0: no grid); ``outp`` ``(4, n_out)``: out scale,
    centre, min, max; ``out`` ``((r1 - r0) * width, n_out)`` float32.
    """
    n_layers = dims.shape[0]
    n_out = dims[n_layers - 1]
    maxw = 1
    for i in range(n_layers):
        maxw = max(maxw, dims[i])
    h = np.empty((maxw, BLOCK), dtype=np.float32)
    h2 = np.empty((maxw, BLOCK), dtype=np.float32)
    gt = np.empty((maxw, BLOCK), dtype=np.float32)
    gpix = np.empty((BLOCK, maxw), dtype=np.float32)
    w1 = dims[0]
    max_cells = 1
    for g in range(ginfo.shape[0]):
        max_cells = max(max_cells, ginfo[g, 1] * ginfo[g, 4])
    grows = np.empty((ginfo.shape[0], max_cells), dtype=np.float32)
    bad = False
    for y in range(r0, r1):
        if grid_entry > 0:
            _grid_rows(grows, y, ginfo, gproj, gy0, gy1, gfy)
        for x0 in range(0, width, BLOCK):
            nb = min(BLOCK, width - x0)
            i0 = (y - r0) * width + x0
            for j in range(w1):
                rt = row_t[y, j]
                for p in range(nb):
                    h[j, p] = (ct[ids[i0 + p], j] + col_t[j, x0 + p]) + rt
            if grid_entry > 0:
                _grid_term(gt, gpix, y, x0, nb, ids, i0, aux, ginfo, gproj, grows, gx0, gx1, gfx,
                           gy0, gy1, gfy)
            if grid_entry == 1:
                for j in range(w1):
                    for p in range(nb):
                        h[j, p] += gt[j, p]
            _activate(h, w1, nb, act)
            for layer in range(1, n_layers):
                dout, din = dims[layer], dims[layer - 1]
                _matmul(weights, offs[layer], dout, din, h, h2, nb)
                if grid_entry == layer + 1:
                    for j in range(dout):
                        for p in range(nb):
                            h2[j, p] += gt[j, p]
                if layer < n_layers - 1:
                    _activate(h2, dout, nb, act)
                h, h2 = h2, h
            for ch in range(n_out):
                scale, centre, lo, hi = outp[0, ch], outp[1, ch], outp[2, ch], outp[3, ch]
                for p in range(nb):
                    t = h[ch, p]
                    finite = abs(t) <= np.float32(3.4028235e38)  # false for NaN
                    bad |= not finite
                    v = (t if finite else np.float32(0.0)) * scale + centre
                    v = max(v, lo)
                    h[ch, p] = min(v, hi)
                if log2_out:
                    for p in range(nb):
                        h[ch, p] = exp2_32(h[ch, p])
                if kind == GAIN:
                    for p in range(nb):
                        h[ch, p] = aux[ids[i0 + p], ch] * h[ch, p] - eps
                elif kind == GAMMA:
                    for p in range(nb):
                        h[ch, p] = exp2_32(h[ch, p] * aux[ids[i0 + p], ch]) - eps
            for p in range(nb):
                for ch in range(n_out):
                    v = max(h[ch, p], np.float32(0.0))
                    out[i0 + p, ch] = min(v, np.float32(1.0))
    return bad
