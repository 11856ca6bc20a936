"""The fused per-pixel kernel of the MLP-ITM decoder.

The caller (:func:`gainmlp.codecs.mlp_itm.decode.decode_itm`) computes the colour net's
first pre-activation once per distinct colour (``ct`` ``(K, wc)``, bias included) and the
spatial net's first layer per column and per row; :func:`itm_rows` does the rest per pixel
in blocks of :data:`gainmlp.kernels.mlp.BLOCK`: the spatial net (relu, hidden layers with
biases, the FiLM output ``(gamma, beta)``), the modulated colour layer
``relu(z * (1 + gamma) + beta)``, the colour net's hidden layers and output layer, and
``clip(clip(t * scale + centre, min, max), 0, 1)``. The numpy decoder is its reference
(same float32 operations, sums in another order; tests/test_kernels_mlp.py). Importing
this module imports numba.
"""

from __future__ import annotations

import numpy as np

from gainmlp.kernels._jit import jit
from gainmlp.kernels.mlp import BLOCK, RELU, _activate, _matmul


@jit(inline="always", fastmath={"contract"})
def _layers(weights, biases, dims, woffs, boffs, first, h, h2, nb, act_last):
    """Layers ``first..`` of a net (matrix, then bias, then relu except after the last
    unless ``act_last``); the input in ``h``. Returns 0 when the output is in ``h``, 1
    when it is in ``h2``."""
    n = dims.shape[0]
    for layer in range(first, n):
        dout, din = dims[layer], dims[layer - 1]
        _matmul(weights, woffs[layer], dout, din, h, h2, nb)
        for j in range(dout):
            b = biases[boffs[layer] + j]
            for p in range(nb):
                h2[j, p] += b
        if layer < n - 1 or act_last:
            _activate(h2, dout, nb, RELU)
        h, h2 = h2, h
    return (n - first) % 2


@jit(error_model="numpy", fastmath={"contract"})
def itm_rows(r0, r1, width, ids, ct, col_t, row_t, s_w, s_b, s_dims, s_woffs, s_boffs,
             c_w, c_b, c_dims, c_woffs, c_boffs, outp, out):
    """Decode image rows ``r0..r1-1`` of an MLP-ITM body; returns True on overflow.

    ``ids`` ``((r1 - r0) * width,)``: each pixel's row of ``ct``; ``col_t`` ``(ws, W)``
    and ``row_t`` ``(H, ws)``: the spatial net's first layer per column and per row (bias
    in the row term); ``s_*``/``c_*``: the spatial and colour nets' layers 1.. (flat
    row-major weights and biases at offsets, widths ``dims`` with ``dims[0]`` the first
    layer's); ``outp`` ``(4, 3)``: out scale, centre, min, max; ``out`` ``((r1 - r0) *
    width, 3)``.
    """
    maxw = 1
    for i in range(s_dims.shape[0]):
        maxw = max(maxw, s_dims[i])
    for i in range(c_dims.shape[0]):
        maxw = max(maxw, c_dims[i])
    a = np.empty((maxw, BLOCK), dtype=np.float32)
    b = np.empty((maxw, BLOCK), dtype=np.float32)
    ws, wc = s_dims[0], c_dims[0]
    n_out = c_dims[c_dims.shape[0] - 1]
    bad = False
    for y in range(r0, r1):
        for x0 in range(0, width, BLOCK):
            nb = min(BLOCK, width - x0)
            i0 = (y - r0) * width + x0
            for j in range(ws):
                rt = row_t[y, j]
                for p in range(nb):
                    a[j, p] = col_t[j, x0 + p] + rt
            _activate(a, ws, nb, RELU)
            film, other = a, b
            if _layers(s_w, s_b, s_dims, s_woffs, s_boffs, 1, a, b, nb, False):
                film, other = b, a
            for j in range(wc):
                for p in range(nb):
                    other[j, p] = ct[ids[i0 + p], j] * (np.float32(1.0) + film[j, p]) \
                        + film[wc + j, p]
            _activate(other, wc, nb, RELU)
            h = other
            if _layers(c_w, c_b, c_dims, c_woffs, c_boffs, 1, other, film, nb, False):
                h = film
            for ch in range(n_out):
                scale, centre, lo, hi = outp[0, ch], outp[1, ch], outp[2, ch], outp[3, ch]
                for p in range(nb):
                    t = h[ch, p]
                    finite = abs(t) <= np.float32(3.4028235e38)  # false for NaN
                    bad |= not finite
                    v = (t if finite else np.float32(0.0)) * scale + centre
                    v = min(max(v, lo), hi)
                    h[ch, p] = min(max(v, np.float32(0.0)), np.float32(1.0))
            for p in range(nb):
                for ch in range(n_out):
                    out[i0 + p, ch] = h[ch, p]
    return bad


def pack_layers(layers: list) -> tuple[np.ndarray, ...]:
    """``[(w, b), ...]`` -> (flat weights and biases of layers 1.., dims, weight offsets,
    bias offsets) for :func:`itm_rows`."""
    dims = np.array([w.shape[0] for w, _ in layers], dtype=np.int64)
    woffs = np.zeros(len(layers), dtype=np.int64)
    boffs = np.zeros(len(layers), dtype=np.int64)
    woffs[2:] = np.cumsum([w.size for w, _ in layers[1:-1]])
    boffs[2:] = np.cumsum([b.size for _, b in layers[1:-1]])
    flat_w = np.concatenate([np.asarray(w, np.float32).reshape(-1) for w, _ in layers[1:]])
    flat_b = np.concatenate([np.asarray(b, np.float32).reshape(-1) for _, b in layers[1:]])
    return flat_w, flat_b, dims, woffs, boffs
