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
arrays whose inner loop runs over the pixels, so LLVM vectorises it (AVX2/AVX-512). What
keeps it fast (issue 19; measured on Zen 4, where vector gathers and scatters are slow):
each pixel's colour row is read whole and 16 rows are transposed in registers
(:func:`_rows16_transposed`, for the common first-layer width 16) instead of one gather per
feature; indices in vectorised loops are unsigned (numba wraps negative indices around,
which makes LLVM gather and scatter); the matrix products are register-blocked (four
outputs by four inputs); the grid term is added straight into the layer. The sine is a
float32 Cody-Waite reduction by pi and an odd polynomial of degree 9 (error 4.6e-9 on the
reduced range; the sign from k's parity bit, no libm call), ``2 ** x`` a polynomial of
degree 6 times a power of two built in the exponent field; both vectorise. The network's
widths and depth are read from ``dims`` and the weights from one flat array with offsets,
so one compiled kernel serves every body the format allows.

The reference of this kernel is the numpy decoder, :func:`gainmlp.codecs.mlp.decode.
decode_mlp` with ``GAINMLP_KERNELS=numpy``; the two agree within 2e-5 PQ (max abs), the
tolerance docs/payload-format.md states (tests/test_kernels_mlp.py). Importing this module
imports numba.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from gainmlp.kernels._jit import jit
from gainmlp.kernels.pq import bits_float32, float32_bits

#: Pixels per block (one row at a time): the scratch arrays stay in the L1/L2 cache.
BLOCK = 256
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
# sin(r) ~ r + r^3 (S1 + r^2 (S2 + r^2 (S3 + r^2 S4))) on [-pi/2, pi/2] (weighted least
# squares towards minimax; error 4.6e-9, below float32's rounding of the result).
_S1 = np.float32(-0.16666657096221318)
_S2 = np.float32(0.008333017286025805)
_S3 = np.float32(-0.00019806614866144087)
_S4 = np.float32(2.6000541261807303e-06)
# 1.5 * 2^23: t = x / pi + _ROUND has k = round(x / pi) in its low mantissa bits.
_ROUND = np.float32(12582912.0)
# 2^f ~ E0 + f (E1 + f (E2 + ...)) on [-0.5, 0.5] (relative error 2.6e-9).
_E0 = np.float32(0.9999999999595485)
_E1 = np.float32(0.69314720671062)
_E2 = np.float32(0.24022651213595325)
_E3 = np.float32(0.055503272142092566)
_E4 = np.float32(0.009618025602956914)
_E5 = np.float32(0.001340043216536728)
_E6 = np.float32(0.0001546973197598277)


def _transpose_masks(b):
    """shufflevector masks of one step of a 16 x 16 transpose: rows ``r`` and ``r + b``
    (bit ``b`` of ``r`` clear) swap bit ``b`` of the row with bit ``b`` of the column."""
    lo = [c + 16 - b if c & b else c for c in range(16)]
    hi = [c + 16 if c & b else c + b for c in range(16)]
    i32x16 = ir.VectorType(ir.IntType(32), 16)
    return ir.Constant(i32x16, lo), ir.Constant(i32x16, hi)


@intrinsic
def _rows16_transposed(typingctx, table, ids, i0, h, p0):  # pragma: no cover - compiled
    """``h[:16, p0:p0 + 16] = table[ids[i0:i0 + 16], :16].T`` for C-contiguous float32
    ``table`` (K, 16) and ``h``: 16 row loads of 64 bytes, a 16 x 16 transpose in
    registers (4 steps of 16 two-source shuffles), 16 stores; instead of 256 scalar
    moves or 16 vector gathers (slow on Zen 4)."""
    c_f32_2d = (isinstance(table, types.Array) and isinstance(h, types.Array)
                and table.ndim == h.ndim == 2 and table.layout == h.layout == "C"
                and table.dtype == h.dtype == types.float32)
    if not c_f32_2d:
        return None
    sig = types.void(table, ids, i0, h, p0)

    def codegen(context, builder, signature, args):
        tty, ity, i0ty, hty, p0ty = signature.args
        tab = context.make_array(tty)(context, builder, args[0])
        idx = context.make_array(ity)(context, builder, args[1])
        out = context.make_array(hty)(context, builder, args[3])
        start = context.cast(builder, args[2], i0ty, types.intp)
        col = context.cast(builder, args[4], p0ty, types.intp)
        intp = context.get_value_type(types.intp)
        vec = ir.VectorType(ir.FloatType(), 16)
        rows = []
        for q in range(16):
            ip = cgutils.get_item_pointer(context, builder, ity, idx,
                                          [builder.add(start, intp(q))], wraparound=False)
            k = context.cast(builder, builder.load(ip), ity.dtype, types.intp)
            rp = cgutils.get_item_pointer(context, builder, tty, tab, [k, intp(0)],
                                          wraparound=False)
            rows.append(builder.load(builder.bitcast(rp, vec.as_pointer()), align=4))
        for b in (8, 4, 2, 1):
            lo, hi = _transpose_masks(b)
            new = list(rows)
            for r in range(16):
                if not r & b:
                    new[r] = builder.shuffle_vector(rows[r], rows[r + b], lo)
                    new[r + b] = builder.shuffle_vector(rows[r], rows[r + b], hi)
            rows = new
        for j in range(16):
            hp = cgutils.get_item_pointer(context, builder, hty, out, [intp(j), col],
                                          wraparound=False)
            builder.store(rows[j], builder.bitcast(hp, vec.as_pointer()), align=4)
        return context.get_dummy_value()

    return sig, codegen


@jit(inline="always", fastmath={"contract"})
def sin32(x):
    """float32 sine without libm (vectorisable); NaN for non-finite ``x``.

    ``k = round(x / pi)`` by the 1.5 * 2^23 rounding trick (valid for |x| < 2^21 pi: the
    range where a float32 sine means anything), ``r = x - k pi`` by Cody-Waite in three
    parts, and ``sin(x) = (-1)^k sin(r)``: k's parity is the low bit of ``t``'s
    mantissa, moved to the sign bit (no floor, compare or select)."""
    t = x * _INV_PI + _ROUND
    k = t - _ROUND
    r = ((x - k * _PI_A) - k * _PI_B) - k * _PI_C
    s = r * r
    p = r + r * s * (_S1 + s * (_S2 + s * (_S3 + s * _S4)))
    return bits_float32(float32_bits(p) ^ (float32_bits(t) << np.uint32(31)))


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
    return (p + p) * bits_float32(np.uint32(np.int32(n) + 126) << np.uint32(23))


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
    """``dst[:dout, :nb] = W @ src[:din, :nb]``, ``W`` row-major at ``weights[off:]``.

    Register-blocked: four outputs times four inputs per pass over the block (16 weights
    in registers; each loaded ``src`` row serves four outputs), so the loop does 12
    vector loads and stores per 16 multiply-adds instead of 6 per 4."""
    # flat views, rows BLOCK apart (a constant) and unsigned indices: LLVM then sees the
    # rows of each array as one range (one run-time overlap check, not one per pair of
    # rows: beyond 8 it would not vectorise at all) and contiguous (no wrap-around)
    sf, df = src.reshape(-1), dst.reshape(-1)
    blk = np.uint64(BLOCK)
    j = 0
    while j + 4 <= dout:
        r0, r1, r2, r3 = off + j * din, off + (j + 1) * din, off + (j + 2) * din, \
            off + (j + 3) * din
        d0 = np.uint64(j) * blk
        d1, d2, d3 = d0 + blk, d0 + blk + blk, d0 + blk + blk + blk
        i = 0
        while i + 4 <= din:
            a0, a1, a2, a3 = weights[r0 + i], weights[r0 + i + 1], weights[r0 + i + 2], \
                weights[r0 + i + 3]
            b0, b1, b2, b3 = weights[r1 + i], weights[r1 + i + 1], weights[r1 + i + 2], \
                weights[r1 + i + 3]
            c0, c1, c2, c3 = weights[r2 + i], weights[r2 + i + 1], weights[r2 + i + 2], \
                weights[r2 + i + 3]
            e0, e1, e2, e3 = weights[r3 + i], weights[r3 + i + 1], weights[r3 + i + 2], \
                weights[r3 + i + 3]
            i0 = np.uint64(i) * blk
            i1, i2, i3 = i0 + blk, i0 + blk + blk, i0 + blk + blk + blk
            first = i == 0
            for p in range(nb):
                u = np.uint64(p)
                s0, s1, s2, s3 = sf[i0 + u], sf[i1 + u], sf[i2 + u], sf[i3 + u]
                if first:
                    t0, t1, t2, t3 = a0 * s0, b0 * s0, c0 * s0, e0 * s0
                else:  # chains of multiply-adds (4 per output, not 2 products + 4 adds)
                    t0, t1 = df[d0 + u] + a0 * s0, df[d1 + u] + b0 * s0
                    t2, t3 = df[d2 + u] + c0 * s0, df[d3 + u] + e0 * s0
                df[d0 + u] = ((t0 + a1 * s1) + a2 * s2) + a3 * s3
                df[d1 + u] = ((t1 + b1 * s1) + b2 * s2) + b3 * s3
                df[d2 + u] = ((t2 + c1 * s1) + c2 * s2) + c3 * s3
                df[d3 + u] = ((t3 + e1 * s1) + e2 * s2) + e3 * s3
            i += 4
        if din < 4:
            for p in range(nb):
                u = np.uint64(p)
                df[d0 + u] = df[d1 + u] = df[d2 + u] = df[d3 + u] = np.float32(0.0)
        while i < din:
            a0, b0, c0, e0 = weights[r0 + i], weights[r1 + i], weights[r2 + i], weights[r3 + i]
            i0 = np.uint64(i) * blk
            for p in range(nb):
                u = np.uint64(p)
                s0 = sf[i0 + u]
                df[d0 + u] += a0 * s0
                df[d1 + u] += b0 * s0
                df[d2 + u] += c0 * s0
                df[d3 + u] += e0 * s0
            i += 1
        j += 4
    while j < dout:
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
        j += 1


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
def _grid_term(h, g_pix, y, x0, nb, ab, ginfo, gproj, grows, gx0, gx1, gfx, gy0, gy1, gfy):
    """Add the grids' term to ``h[:we, :nb]`` (pixels ``x0..x0 + nb - 1`` of row ``y``).

    ``ginfo`` per grid: (rows, cols, bins (0 = spatial), offset into ``gproj``, width);
    ``grows``: :func:`_grid_rows` of row ``y``; ``ab[3]``: the pixels' luma guide.
    Spatial grids go by runs of pixels between the same two grid columns (no gathers);
    bilateral grids pixel by pixel. Indices are unsigned where LLVM vectorises: with
    numba's negative-index wrap-around it would gather and scatter (slow on Zen 4)."""
    we = ginfo[0, 4]
    xu = np.uint64(x0)
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
                    for k in range(np.uint64(p), np.uint64(q)):
                        h[j, k] += ra + d * gfx[g, xu + k]
                p = q
            continue
        # pixel by pixel into a pixel-major scratch (contiguous along the features, so
        # no scattered stores), then added feature-major
        ya, yb, fy = gy0[g, y], gy1[g, y], gfy[g, y]
        for p in range(nb):
            x = x0 + p
            xa, xb, fx = gx0[g, x], gx1[g, x], gfx[g, x]
            u = np.float64(ab[3, p]) * bins - 0.5
            u = min(max(u, 0.0), bins - 1.0)
            z0 = np.int64(np.floor(u))
            z1 = min(z0 + 1, bins - 1)
            fz = np.float32(u - z0)
            caa = np.uint64(off + ((ya * cols + xa) * bins) * we)
            cab = np.uint64(off + ((ya * cols + xb) * bins) * we)
            cba = np.uint64(off + ((yb * cols + xa) * bins) * we)
            cbb = np.uint64(off + ((yb * cols + xb) * bins) * we)
            o0, o1 = np.uint64(z0 * we), np.uint64(z1 * we)
            for j in range(np.uint64(we)):
                lo = gproj[caa + o0 + j]
                a = lo + (gproj[caa + o1 + j] - lo) * fz
                lo = gproj[cab + o0 + j]
                b = lo + (gproj[cab + o1 + j] - lo) * fz
                top = a + (b - a) * fx
                lo = gproj[cba + o0 + j]
                a = lo + (gproj[cba + o1 + j] - lo) * fz
                lo = gproj[cbb + o0 + j]
                b = lo + (gproj[cbb + o1 + j] - lo) * fz
                bottom = a + (b - a) * fx
                g_pix[p, j] = top + (bottom - top) * fy
        for j in range(we):
            for p in range(nb):
                h[j, p] += g_pix[p, j]


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
    centre, min, max; ``out`` ``((r1 - r0) * width, n_out)`` float32. ``ct`` must be
    C-contiguous float32 (:func:`_rows16_transposed` reads its rows as vectors), as
    :mod:`gainmlp.codecs.mlp.fast_decode` makes it.
    """
    n_layers = dims.shape[0]
    n_out = dims[n_layers - 1]
    maxw = 1
    for i in range(n_layers):
        maxw = max(maxw, dims[i])
    h = np.empty((maxw, BLOCK), dtype=np.float32)
    h2 = np.empty((maxw, BLOCK), dtype=np.float32)
    gpix = np.empty((BLOCK, maxw), dtype=np.float32)
    ab = np.empty((4, BLOCK), dtype=np.float32)
    # the aux channels read: the residual's base (gain, gamma), the luma guide (bilateral)
    n_aux = 0 if kind == DIRECT else min(n_out, 4)
    for g in range(ginfo.shape[0]):
        if grid_entry > 0 and ginfo[g, 2] > 0:
            n_aux = 4
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
            # each pixel's colour row is read once, contiguously (64 bytes for w1 = 16), and
            # stored transposed: vector gathers of it are slow (Zen 4: several times slower)
            done = 0
            if w1 == 16:  # 16 pixels at a time: rows read whole, transposed in registers
                while done + 16 <= nb:
                    _rows16_transposed(ct, ids, i0 + done, h, done)
                    done += 16
            for p in range(done, nb):
                c = ids[i0 + p]
                for j in range(w1):
                    h[j, p] = ct[c, j]
            if n_aux == 3:
                for p in range(nb):
                    c = ids[i0 + p]
                    ab[0, p], ab[1, p], ab[2, p] = aux[c, 0], aux[c, 1], aux[c, 2]
            elif n_aux > 0:
                for p in range(nb):
                    c = ids[i0 + p]
                    for ch in range(n_aux):
                        ab[ch, p] = aux[c, ch]
            # (unsigned indices here and below: no negative-index wrap-around, which would
            # make LLVM gather and scatter)
            xu, iu = np.uint64(x0), np.uint64(i0)
            for j in range(w1):
                rt = row_t[y, j]
                for p in range(nb):
                    h[j, p] = (h[j, p] + col_t[j, xu + np.uint64(p)]) + rt
            if grid_entry == 1:
                _grid_term(h, gpix, y, x0, nb, ab, ginfo, gproj, grows, gx0, gx1, gfx, gy0,
                           gy1, gfy)
            _activate(h, w1, nb, act)
            for layer in range(1, n_layers):
                dout, din = dims[layer], dims[layer - 1]
                _matmul(weights, offs[layer], dout, din, h, h2, nb)
                if grid_entry == layer + 1:
                    _grid_term(h2, gpix, y, x0, nb, ab, ginfo, gproj, grows, gx0, gx1, gfx, gy0,
                               gy1, gfy)
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
                        h[ch, p] = ab[ch, p] * h[ch, p] - eps
                elif kind == GAMMA:
                    for p in range(nb):
                        h[ch, p] = exp2_32(h[ch, p] * ab[ch, p]) - eps
                for p in range(nb):
                    v = max(h[ch, p], np.float32(0.0))
                    h[ch, p] = min(v, np.float32(1.0))
            if n_out == 3:  # constant channels: straight-line stores, no inner loop
                for p in range(nb):
                    u = iu + np.uint64(p)
                    out[u, 0], out[u, 1], out[u, 2] = h[0, p], h[1, p], h[2, p]
            else:
                for p in range(nb):
                    for ch in range(n_out):
                        out[iu + np.uint64(p), ch] = h[ch, p]
    return bad
