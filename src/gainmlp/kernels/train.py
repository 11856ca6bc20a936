"""Compiled kernels of the CPU trainer (:mod:`gainmlp.codecs.mlp.cpu_trainer`).

One step of the Gain-MLP fit (the fused trainer's recipe, :mod:`gainmlp.codecs.mlp.
trainer`) in five kernels, each with a numpy reference of the same signature that the
tests compare it with (``tests/test_kernels_train.py``; ``GAINMLP_KERNELS=numpy`` runs the
references):

* :func:`coordinate_terms`: the first layer's coordinate part per column (or per row),
  ``table @ W`` (``(n, 2F) @ (2F, w)``, from the table transposed), when it is cheaper
  than per pixel (fewer columns and rows than pixels per step: the terms are then
  gathered, and their gradients summed into per-column / per-row bins and multiplied
  once by :func:`bin_gradients`);
* :func:`chunk_gradients`: forward and hand-written backward of a chunk of the step's
  pixels (indices drawn by the caller), into that chunk's own gradient buffer and bins,
  returning the chunk's sum of squared errors. Chunks of a step are independent, so the
  caller runs them on threads (``nogil``); their buffers are summed in chunk order, so the
  result does not depend on the number of threads;
* :func:`bin_gradients`: the binned coordinate gradients multiplied by the tables;
* :func:`adam`: one Adam update of the flat parameters (torch's formula);
* :func:`muon`: the orthogonalised momentum update (Muon) of one weight matrix, for the
  matrices the recipe fits with it instead of Adam (:data:`gainmlp.codecs.mlp.fit_plan.
  MUON_BLOCKS`; their Adam rate is 0).

The parameters of one network are one flat float32 array in the fused trainer's layout:
``W0ᵀ`` (the 120 encoded inputs x, y, r, g, b, each 12 sines then 12 cosines, by ``w``),
the bias (the tcnn padding columns, ``w``), ``W1ᵀ`` (``w`` by ``w``), ``Woutᵀ`` (``w`` by
3) and, with a learned grid, ``Wgᵀ`` (``C`` by ``w``) and the grid ``(rows, cols, C)``;
``offs`` holds the start of each block. The colour encodings are computed per pixel (the
SDR of a photo has about as many distinct values per channel as distinct colours, tens of
thousands, far more than a step's pixels, so per-value tables do not pay per step); sine
and cosine share one float32 Cody-Waite reduction (the decoder's :func:`~gainmlp.kernels.
mlp.sin32` polynomial and an even one of degree 12 for the cosine), so the loops over the
pixels vectorise. The hidden layers are pixel-major (a pixel's ``w`` values contiguous:
one AVX-512 register for ``w = 16``). Importing this module imports numba.
"""

from __future__ import annotations

import numpy as np

from gainmlp.kernels._jit import jit
from gainmlp.kernels.mlp import (
    _INV_PI,
    _PI_A,
    _PI_B,
    _PI_C,
    _ROUND,
    _S1,
    _S2,
    _S3,
    _S4,
    _matmul,
)
from gainmlp.kernels.mlp import BLOCK as _MLP_BLOCK
from gainmlp.kernels.pq import bits_float32, float32_bits

#: Pixels per block inside a chunk: the decoder's (its ``_matmul`` takes rows this far
#: apart); the scratch arrays stay in the L2 cache.
BLOCK = _MLP_BLOCK
#: Activation codes (as the decoder's kernel).
RELU, SINE = 1, 2
#: Indices of ``offs``: first layer, bias, hidden, output, grid columns, grid.
O_W0, O_BIAS, O_W1, O_WO, O_WG, O_GRID = range(6)
#: Encoded inputs per image: x, y, r, g, b.
N_IN = 5
# cos(r) ~ 1 + s (C1 + s (C2 + ... s C6)), s = r^2, on [-pi/2, pi/2] (Taylor; error 6e-9)
_C1 = np.float32(-0.5)
_C2 = np.float32(1.0 / 24.0)
_C3 = np.float32(-1.0 / 720.0)
_C4 = np.float32(1.0 / 40320.0)
_C5 = np.float32(-1.0 / 3628800.0)
_C6 = np.float32(1.0 / 479001600.0)
_FM = {"contract"}
_PI32 = np.float32(np.pi)


@jit(inline="always", fastmath=_FM)
def sincos32(x):  # pragma: no cover - compiled
    """(sin x, cos x) in float32 without libm: one reduction ``x = k pi + r`` shared by
    both polynomials, ``(-1)^k`` from k's parity bit (see :func:`gainmlp.kernels.mlp.
    sin32`)."""
    t = x * _INV_PI + _ROUND
    k = t - _ROUND
    r = ((x - k * _PI_A) - k * _PI_B) - k * _PI_C
    s = r * r
    sn = r + r * s * (_S1 + s * (_S2 + s * (_S3 + s * _S4)))
    cs = np.float32(1.0) + s * (_C1 + s * (_C2 + s * (_C3 + s * (_C4 + s * (_C5 + s * _C6)))))
    sign = float32_bits(t) << np.uint32(31)
    return bits_float32(float32_bits(sn) ^ sign), bits_float32(float32_bits(cs) ^ sign)


@jit
def sincos_array(x):  # pragma: no cover - compiled
    """:func:`sincos32` of a float32 array (for tests): ``(2, *x.shape)``."""
    out = np.empty((2, x.size), np.float32)
    flat = x.reshape(-1)
    for i in range(flat.size):
        out[0, i], out[1, i] = sincos32(flat[i])
    return out.reshape((2,) + x.shape)


# -- coordinate terms and their gradients ----------------------------------------------------


@jit(fastmath=_FM)
def coordinate_terms(table_t, flat, off, w, out):  # pragma: no cover - compiled
    """``out[u, :w] = table[u] @ W`` with ``table_t`` the table transposed ``(2F, n)`` and
    ``W`` the ``(2F, w)`` block of ``flat`` at ``off`` (row-major). Computed per output
    column along the table's long side (loops over ``u`` vectorise; each term is the same
    chain of multiply-adds over ``f`` as ``table @ W`` row by row)."""
    nf2, n = table_t.shape
    acc = np.empty(n, np.float32)
    for j in range(w):
        c0 = flat[off + j]
        for u in range(n):
            acc[u] = table_t[0, u] * c0
        for f in range(1, nf2):
            c = flat[off + f * w + j]
            for u in range(n):
                acc[u] += table_t[f, u] * c
        for u in range(n):
            out[u, j] = acc[u]


def coordinate_terms_numpy(table_t, flat, off, w, out):
    """Reference of :func:`coordinate_terms`."""
    nf2 = table_t.shape[0]
    out[:, :w] = table_t.T @ flat[off:off + nf2 * w].reshape(nf2, w)


@jit(fastmath=_FM)
def bin_gradients(table, bins, grad, off, w):  # pragma: no cover - compiled
    """``grad[off:] += table.T @ bins.sum(0)`` for the chunks' bins ``(chunks, n, w)``,
    summed in chunk order; the bins are zeroed for the next step."""
    n_chunks, n = bins.shape[0], bins.shape[1]
    nf2 = table.shape[1]
    acc = np.empty(w, np.float32)
    g = np.zeros((nf2, w), np.float32)
    for u in range(n):
        for j in range(w):
            acc[j] = bins[0, u, j]
            bins[0, u, j] = np.float32(0.0)
        for c in range(1, n_chunks):
            for j in range(w):
                acc[j] += bins[c, u, j]
                bins[c, u, j] = np.float32(0.0)
        for f in range(nf2):
            e = table[u, f]
            for j in range(w):
                g[f, j] += e * acc[j]
    for f in range(nf2):
        for j in range(w):
            grad[off + f * w + j] += g[f, j]


def bin_gradients_numpy(table, bins, grad, off, w):
    """Reference of :func:`bin_gradients`."""
    nf2 = table.shape[1]
    total = bins[0].copy()
    for c in range(1, bins.shape[0]):
        total += bins[c]
    grad[off:off + nf2 * w] += (table.T @ total).reshape(-1)
    bins[...] = 0.0


# -- one chunk of a step -----------------------------------------------------------------------


@jit(error_model="numpy", fastmath=_FM)
def chunk_gradients(flat, offs, w, act, nf, cols, rows, pos, tab_x, tab_y, factored,
                    sdr, centre, scale, target, weight, gtx, gty, grid_rows, grid_cols, gch,
                    inv, grad, bins_x, bins_y):  # pragma: no cover - compiled
    """Forward and backward of one chunk of pixels; returns its sum of squared errors.

    ``cols``, ``rows``: the pixels' column and row; ``pos``: their rows in ``sdr``,
    ``target`` and ``weight`` (``weight.size == 0``: all 1). ``tab_x`` / ``tab_y``: per
    column / row, the encodings ``(n, 2F)`` or, with ``factored``, the first layer's terms
    ``(n, w)`` (:func:`coordinate_terms`), whose gradients are added to ``bins_x`` /
    ``bins_y`` ``(n, w)`` instead of ``grad``. ``gtx`` / ``gty``: per column / row, the
    grid taps (first, second, weight of the second) as float32; ``gch``: grid channels (0:
    no grid). ``inv``: the loss's factor ``2 / (batch * 3)``. ``grad`` ``(P,)`` is
    overwritten with this chunk's gradient.

    Feature-major blocks of :data:`BLOCK` pixels (loops over the pixels vectorise); the
    products go through the decoder's register-blocked ``_matmul``, the weight gradients
    through :func:`_outer_sum`."""
    n = cols.size
    nf2 = 2 * nf
    n_col = 3 * nf2
    n_xy = 2 * nf2
    o0, ob, o1, oo, og, ogr = offs[0], offs[1], offs[2], offs[3], offs[4], offs[5]
    g1c = max(gch, 1)
    # the weights as the products take them: row-major (out, in)
    wc = np.empty(w * n_col, np.float32)  # (w, 3 * 2F): first layer, colour inputs
    wxy = np.empty(w * n_xy, np.float32)  # (w, 2 * 2F): first layer, coordinates
    for f in range(n_xy):
        for j in range(w):
            wxy[j * n_xy + f] = flat[o0 + f * w + j]
    for f in range(n_col):
        for j in range(w):
            wc[j * n_col + f] = flat[o0 + (n_xy + f) * w + j]
    w1 = np.empty(w * w, np.float32)  # (out, in)
    w1t = np.empty(w * w, np.float32)  # (in, out): the backward's product
    for i in range(w):
        for j in range(w):
            w1[j * w + i] = flat[o1 + i * w + j]
            w1t[i * w + j] = flat[o1 + i * w + j]
    wo = np.empty(3 * w, np.float32)  # (3, w)
    wot = np.empty(3 * w, np.float32)  # (w, 3)
    for i in range(w):
        for o in range(3):
            wo[o * w + i] = flat[oo + i * 3 + o]
            wot[i * 3 + o] = flat[oo + i * 3 + o]
    wg = np.zeros(g1c * w, np.float32)  # (C, w): also the product of the grid's backward
    wgt = np.zeros(w * g1c, np.float32)  # (w, C)
    for ch in range(gch):
        for j in range(w):
            wg[ch * w + j] = flat[og + ch * w + j]
            wgt[j * gch + ch] = flat[og + ch * w + j]
    bias = np.empty(w, np.float32)
    for j in range(w):
        bias[j] = flat[ob + j]
    # gradient accumulators
    g_xy = np.zeros((n_xy, w), np.float32)
    g_c = np.zeros((n_col, w), np.float32)
    g_b = np.zeros((1, w), np.float32)
    g_1 = np.zeros((w, w), np.float32)
    g_o = np.zeros((w, 3), np.float32)
    g_g = np.zeros((g1c, w), np.float32)
    for i in range(grad.size):
        grad[i] = np.float32(0.0)
    # scratch, feature-major
    enc = np.empty((n_col, BLOCK), np.float32)
    exy = np.empty((n_xy, BLOCK), np.float32)
    a1 = np.empty((w, BLOCK), np.float32)
    d1 = np.empty((w, BLOCK), np.float32)
    a2 = np.empty((w, BLOCK), np.float32)
    d2 = np.empty((w, BLOCK), np.float32)
    t = np.empty((w, BLOCK), np.float32)
    out = np.empty((3, BLOCK), np.float32)
    feat = np.empty((g1c, BLOCK), np.float32)
    dfeat = np.empty((g1c, BLOCK), np.float32)
    ones = np.ones((1, BLOCK), np.float32)
    loss = 0.0
    for b0 in range(0, n, BLOCK):
        nb = min(BLOCK, n - b0)
        # the colour encodings (loops over the pixels vectorise)
        for c in range(3):
            cc, sc = centre[c], scale[c]
            for p in range(nb):
                v = (sdr[pos[b0 + p], c] - cc) / sc
                out[c, p] = min(max(v, np.float32(-1.0)), np.float32(1.0))
            for k in range(nf):
                fk = np.float32(2.0 ** k) * _PI32
                r_s, r_c = c * nf2 + k, c * nf2 + nf + k
                for p in range(nb):
                    sn, co = sincos32(out[c, p] * fk)
                    enc[r_s, p] = sn
                    enc[r_c, p] = co
        _matmul(wc, 0, w, n_col, enc, a1, nb)
        if factored:
            for p in range(nb):
                cx, ry = cols[b0 + p], rows[b0 + p]
                for j in range(w):
                    a1[j, p] += bias[j] + tab_x[cx, j] + tab_y[ry, j]
        else:
            for p in range(nb):
                cx, ry = cols[b0 + p], rows[b0 + p]
                for f in range(nf2):
                    exy[f, p] = tab_x[cx, f]
                    exy[nf2 + f, p] = tab_y[ry, f]
            _matmul(wxy, 0, w, n_xy, exy, t, nb)
            for j in range(w):
                bj = bias[j]
                for p in range(nb):
                    a1[j, p] += t[j, p] + bj
        if gch:
            for p in range(nb):
                cx, ry = cols[b0 + p], rows[b0 + p]
                x0, x1, fx = np.int64(gtx[cx, 0]), np.int64(gtx[cx, 1]), gtx[cx, 2]
                y0, y1, fy = np.int64(gty[ry, 0]), np.int64(gty[ry, 1]), gty[ry, 2]
                i00 = ogr + (y0 * grid_cols + x0) * gch
                i01 = ogr + (y0 * grid_cols + x1) * gch
                i10 = ogr + (y1 * grid_cols + x0) * gch
                i11 = ogr + (y1 * grid_cols + x1) * gch
                for ch in range(gch):
                    top = flat[i00 + ch] + fx * (flat[i01 + ch] - flat[i00 + ch])
                    bottom = flat[i10 + ch] + fx * (flat[i11 + ch] - flat[i10 + ch])
                    feat[ch, p] = top + fy * (bottom - top)
            _matmul(wgt, 0, w, gch, feat, t, nb)
            for j in range(w):
                for p in range(nb):
                    a1[j, p] += t[j, p]
        _activate(a1, d1, w, nb, act)
        _matmul(w1, 0, w, w, a1, a2, nb)
        _activate(a2, d2, w, nb, act)
        _matmul(wo, 0, 3, w, a2, out, nb)
        # the loss and its gradient at the output (kept in ``out``)
        for p in range(nb):
            r = pos[b0 + p]
            wt = inv if weight.size == 0 else inv * weight[r]
            for o in range(3):
                diff = out[o, p] - target[r, o]
                loss += diff * diff
                out[o, p] = diff * wt
        _outer_sum(g_o, a2, out, w, 3, nb)
        _matmul(wot, 0, w, 3, out, t, nb)  # d loss / d h2
        for j in range(w):
            for p in range(nb):
                d2[j, p] *= t[j, p]
        _outer_sum(g_1, a1, d2, w, w, nb)
        _matmul(w1t, 0, w, w, d2, t, nb)  # d loss / d h1
        for j in range(w):
            for p in range(nb):
                d1[j, p] *= t[j, p]
        # first layer's gradients (d1: d loss / d a1)
        _outer_sum(g_b, ones, d1, 1, w, nb)
        _outer_sum(g_c, enc, d1, n_col, w, nb)
        if factored:
            for p in range(nb):
                cx, ry = cols[b0 + p], rows[b0 + p]
                for j in range(w):
                    bins_x[cx, j] += d1[j, p]
                    bins_y[ry, j] += d1[j, p]
        else:
            _outer_sum(g_xy, exy, d1, n_xy, w, nb)
        if gch:
            _outer_sum(g_g, feat, d1, gch, w, nb)
            _matmul(wg, 0, gch, w, d1, dfeat, nb)
            for p in range(nb):
                cx, ry = cols[b0 + p], rows[b0 + p]
                x0, x1, fx = np.int64(gtx[cx, 0]), np.int64(gtx[cx, 1]), gtx[cx, 2]
                y0, y1, fy = np.int64(gty[ry, 0]), np.int64(gty[ry, 1]), gty[ry, 2]
                gx0, gy0 = np.float32(1.0) - fx, np.float32(1.0) - fy
                i00 = ogr + (y0 * grid_cols + x0) * gch
                i01 = ogr + (y0 * grid_cols + x1) * gch
                i10 = ogr + (y1 * grid_cols + x0) * gch
                i11 = ogr + (y1 * grid_cols + x1) * gch
                for ch in range(gch):
                    df = dfeat[ch, p]
                    grad[i00 + ch] += df * (gy0 * gx0)
                    grad[i01 + ch] += df * (gy0 * fx)
                    grad[i10 + ch] += df * (fy * gx0)
                    grad[i11 + ch] += df * (fy * fx)
    for f in range(n_xy):
        for j in range(w):
            grad[o0 + f * w + j] = g_xy[f, j]
    for f in range(n_col):
        for j in range(w):
            grad[o0 + (n_xy + f) * w + j] = g_c[f, j]
    for j in range(w):
        grad[ob + j] = g_b[0, j]
    for i in range(w):
        for j in range(w):
            grad[o1 + i * w + j] = g_1[i, j]
        for o in range(3):
            grad[oo + i * 3 + o] = g_o[i, o]
    for ch in range(gch):
        for j in range(w):
            grad[og + ch * w + j] = g_g[ch, j]
    return loss


@jit(fastmath={"contract", "reassoc"})
def _outer_sum(acc, x, y, nx, ny, nb):  # pragma: no cover - compiled
    """``acc[a, b] += sum_p x[a, p] y[b, p]`` over the first ``nb`` pixels (reassociated:
    LLVM vectorises the sums; four ``b`` at a time share each load of ``x``)."""
    for a in range(nx):
        b = 0
        while b + 4 <= ny:
            s0 = s1 = s2 = s3 = np.float32(0.0)
            for p in range(nb):
                xa = x[a, p]
                s0 += xa * y[b, p]
                s1 += xa * y[b + 1, p]
                s2 += xa * y[b + 2, p]
                s3 += xa * y[b + 3, p]
            acc[a, b] += s0
            acc[a, b + 1] += s1
            acc[a, b + 2] += s2
            acc[a, b + 3] += s3
            b += 4
        while b < ny:
            s = np.float32(0.0)
            for p in range(nb):
                s += x[a, p] * y[b, p]
            acc[a, b] += s
            b += 1


@jit(inline="always", fastmath=_FM)
def _activate(a, d, w, nb, act):  # pragma: no cover - compiled
    """``a <- act(a)``, ``d <- act'(a)`` on ``[:w, :nb]`` (sine: cos; ReLU: 1 where
    positive)."""
    for j in range(w):
        if act == SINE:
            for p in range(nb):
                s, c = sincos32(a[j, p])
                a[j, p] = s
                d[j, p] = c
        else:
            for p in range(nb):
                v = a[j, p]
                pos = v > np.float32(0.0)
                d[j, p] = np.float32(1.0) if pos else np.float32(0.0)
                a[j, p] = v if pos else np.float32(0.0)


def chunk_gradients_numpy(flat, offs, w, act, nf, cols, rows, pos, tab_x, tab_y, factored,
                          sdr, centre, scale, target, weight, gtx, gty, grid_rows, grid_cols,
                          gch, inv, grad, bins_x, bins_y):
    """Reference of :func:`chunk_gradients` (numpy's sine and cosine; same layout)."""
    nf2 = 2 * nf
    o0, ob, o1, oo, og, ogr = (int(o) for o in offs)
    w0 = flat[o0:ob].reshape(N_IN * nf2, w)
    bias, w1 = flat[ob:o1], flat[o1:oo].reshape(w, w)
    wo = flat[oo:oo + 3 * w].reshape(w, 3)
    norm = np.clip((sdr[pos] - centre) / scale, np.float32(-1.0), np.float32(1.0))
    args = (norm * _PI32)[:, :, None] * np.exp2(np.arange(nf, dtype=np.float32))
    enc = np.concatenate([np.sin(args), np.cos(args)], axis=2).reshape(len(pos), 3 * nf2)
    a1 = bias + enc @ w0[2 * nf2:]
    if factored:
        a1 = a1 + tab_x[cols] + tab_y[rows]
    else:
        a1 = a1 + tab_x[cols] @ w0[:nf2] + tab_y[rows] @ w0[nf2:2 * nf2]
    if gch:
        wg = flat[og:ogr].reshape(gch, w)
        grid = flat[ogr:ogr + grid_rows * grid_cols * gch].reshape(-1, gch)
        x0, x1, fx = gtx[cols, 0].astype(np.int64), gtx[cols, 1].astype(np.int64), gtx[cols, 2]
        y0, y1, fy = gty[rows, 0].astype(np.int64), gty[rows, 1].astype(np.int64), gty[rows, 2]
        corners = (y0 * grid_cols + x0, y0 * grid_cols + x1, y1 * grid_cols + x0,
                   y1 * grid_cols + x1)
        g00, g01, g10, g11 = (grid[c] for c in corners)
        top = g00 + fx[:, None] * (g01 - g00)
        bottom = g10 + fx[:, None] * (g11 - g10)
        feat = top + fy[:, None] * (bottom - top)
        a1 = a1 + feat @ wg

    def activate(a):
        if act == SINE:
            return np.sin(a), np.cos(a)
        return np.maximum(a, 0), (a > 0).astype(np.float32)

    h1, d1 = activate(a1)
    h2, d2 = activate(h1 @ w1)
    out = h2 @ wo
    diff = out - target[pos]
    wt = np.full(len(pos), inv, np.float32) if weight.size == 0 else inv * weight[pos]
    dd = diff * wt[:, None]
    grad[:] = 0.0
    grad[oo:oo + 3 * w] = (h2.T @ dd).reshape(-1)
    g2 = (dd @ wo.T) * d2
    grad[o1:oo] = (h1.T @ g2).reshape(-1)
    g1 = (g2 @ w1.T) * d1
    grad[ob:o1] = g1.sum(axis=0)
    gw0 = np.zeros_like(w0)
    gw0[2 * nf2:] = enc.T @ g1
    if factored:
        np.add.at(bins_x, cols, g1)
        np.add.at(bins_y, rows, g1)
    else:
        gw0[:nf2] = tab_x[cols].T @ g1
        gw0[nf2:2 * nf2] = tab_y[rows].T @ g1
    grad[o0:ob] = gw0.reshape(-1)
    if gch:
        grad[og:ogr] = (feat.T @ g1).reshape(-1)
        dfeat = g1 @ wg.T
        ggrid = np.zeros_like(grid)
        weights = ((1 - fy) * (1 - fx), (1 - fy) * fx, fy * (1 - fx), fy * fx)
        for c, wc in zip(corners, weights, strict=True):
            np.add.at(ggrid, c, dfeat * wc[:, None])
        grad[ogr:ogr + ggrid.size] = ggrid.reshape(-1)
    return float(np.sum(diff.astype(np.float64) ** 2))


# -- the update ------------------------------------------------------------------------------


@jit(fastmath=_FM, error_model="numpy")
def adam(flat, grads, m, v, lr_scale, step_size, bias2, b1, b2, eps):  # pragma: no cover
    """Sum the chunks' gradients ``grads`` ``(chunks, P)`` in order, then one Adam update:
    ``m = b1 m + (1 - b1) g``, ``v = b2 v + (1 - b2) g^2``, ``flat -= step_size * lr_scale
    * m / (sqrt(v / bias2) + eps)`` (``step_size = lr / (1 - b1^t)``, ``bias2 = 1 -
    b2^t``: torch's Adam as the fused trainer writes it); the summed gradient is left in
    ``grads[0]``. Plain loops without division checks vectorise (same bits, docs/speed.md)."""
    n_chunks, n = grads.shape
    total = grads[0]
    for c in range(1, n_chunks):
        total += grads[c]
    for i in range(n):
        gr = total[i]
        mi = b1 * m[i] + (np.float32(1.0) - b1) * gr
        vi = b2 * v[i] + (np.float32(1.0) - b2) * gr * gr
        m[i], v[i] = mi, vi
        flat[i] -= step_size * (mi * lr_scale[i]) / (np.sqrt(vi / bias2) + eps)


def adam_numpy(flat, grads, m, v, lr_scale, step_size, bias2, b1, b2, eps):
    """Reference of :func:`adam`."""
    total = grads[0].copy()
    for c in range(1, grads.shape[0]):
        total += grads[c]
    grads[0] = total
    m *= b1
    m += (np.float32(1.0) - b1) * total
    v *= b2
    v += (np.float32(1.0) - b2) * total * total
    flat -= step_size * (m * lr_scale) / (np.sqrt(v / bias2) + eps)


@jit(fastmath={"contract", "reassoc"})
def muon(flat, grad, buf, off, rows, cols, lr, beta, scale, ns_a, ns_b, ns_c, ns_steps
         ):  # pragma: no cover - compiled
    """Muon update of the ``(rows, cols)`` row-major matrix at ``flat[off:]`` from its
    summed gradient ``grad[off:]`` and momentum ``buf[off:]``: ``buf = beta buf + g``,
    ``u = g + beta buf`` (Nesterov), ``X = u / |u|_F`` (transposed to the wide side),
    ``ns_steps`` Newton-Schulz iterations ``S = X Xᵀ; X = ns_a X + (ns_b S + ns_c S S) X``
    (an approximate orthogonalisation: every singular value near 1), then ``flat -= lr *
    scale * sqrt(max(rows, cols)) * X``. float32 throughout (sums reassociated: LLVM
    vectorises them)."""
    n = rows * cols
    u = np.empty(n, np.float32)
    ss = np.float32(0.0)
    for i in range(n):
        g = grad[off + i]
        b = beta * buf[off + i] + g
        buf[off + i] = b
        v = g + beta * b
        u[i] = v
        ss += v * v
    inv = np.float32(1.0) / (np.sqrt(ss) + np.float32(1e-7))
    tall = rows > cols
    m, k = (cols, rows) if tall else (rows, cols)
    x = np.empty((m, k), np.float32)
    for r in range(rows):
        for c in range(cols):
            if tall:
                x[c, r] = u[r * cols + c] * inv
            else:
                x[r, c] = u[r * cols + c] * inv
    s = np.empty((m, m), np.float32)
    bm = np.empty((m, m), np.float32)
    y = np.empty((m, k), np.float32)
    for _ in range(ns_steps):
        for i in range(m):
            for j in range(m):
                acc = np.float32(0.0)
                for t in range(k):
                    acc += x[i, t] * x[j, t]
                s[i, j] = acc
        for i in range(m):
            for j in range(m):
                acc = np.float32(0.0)
                for t in range(m):
                    acc += s[i, t] * s[t, j]
                bm[i, j] = ns_b * s[i, j] + ns_c * acc
        for i in range(m):
            for t in range(k):
                y[i, t] = ns_a * x[i, t]
            for j in range(m):
                f = bm[i, j]
                for t in range(k):
                    y[i, t] += f * x[j, t]
        for i in range(m):
            for t in range(k):
                x[i, t] = y[i, t]
    step = np.float32(lr * scale * np.sqrt(np.float32(max(rows, cols))))
    for r in range(rows):
        for c in range(cols):
            flat[off + r * cols + c] -= step * (x[c, r] if tall else x[r, c])


def muon_numpy(flat, grad, buf, off, rows, cols, lr, beta, scale, ns_a, ns_b, ns_c,
               ns_steps):
    """Reference of :func:`muon`."""
    f32 = np.float32
    sl = slice(off, off + rows * cols)
    g = grad[sl]
    buf[sl] = f32(beta) * buf[sl] + g
    u = (g + f32(beta) * buf[sl]).reshape(rows, cols)
    x = u / (np.sqrt(np.sum(u * u, dtype=np.float32)) + f32(1e-7))
    if rows > cols:
        x = x.T
    for _ in range(ns_steps):
        s = x @ x.T
        x = f32(ns_a) * x + (f32(ns_b) * s + f32(ns_c) * (s @ s)) @ x
    if rows > cols:
        x = x.T
    step = f32(lr * scale * np.sqrt(f32(max(rows, cols))))
    flat[sl] -= step * x.reshape(-1)


#: The kernels' names, for :func:`kernels` (compiled or reference).
NAMES = ("coordinate_terms", "bin_gradients", "chunk_gradients", "adam", "muon")


def kernels(compiled: bool) -> dict:
    """``{name: function}`` for :data:`NAMES`: the compiled kernels or the references."""
    g = globals()
    return {name: g[name] if compiled else g[name + "_numpy"] for name in NAMES}
