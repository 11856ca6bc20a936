"""The fast Gain-MLP decoder: per-distinct-colour tables and one fused compiled kernel.

Everything that depends only on a pixel's SDR colour is computed once per distinct colour
(:class:`gainmlp.codecs.indexed.IndexedSdr`: a photo has about 1-2 % as many colours as
pixels): the frequency encoding of the three normalised SDR inputs times their columns of
the first layer, the residual's base (``S + eps``, or ``log2(clip(S + eps))`` for the gamma
map) and the bilateral grids' luma guide. What remains per pixel (column, row and grid
terms, the hidden and output layers, denormalisation, reconstruction) runs in
:func:`gainmlp.kernels.mlp.mlp_rows`, on row tiles on threads. The arithmetic is the
numpy decoder's (:mod:`gainmlp.codecs.mlp.decode`, the reference), in float32, except for
the sine and ``2 ** x`` (polynomials) and the order of the sums in the matrix products;
the results agree within 2e-5 PQ (docs/payload-format.md).

When the distinct colours' tables would be large (more than :data:`TABLE_BYTES`, e.g.
a noise image), or when the SDR comes as a plain array, the colour tables are made per
row tile for that tile's pixels instead (bounded memory, the per-pixel cost of the colour
term comes back).
"""

from __future__ import annotations

import numpy as np

from gainmlp.codecs.features import (
    encode_numpy,
    for_row_ranges,
    normalise_inputs,
)
from gainmlp.codecs.indexed import IndexedSdr
from gainmlp.codecs.mlp.format import MlpParams
from gainmlp.codecs.mlp.grid import grid_taps, luma_guide, taps_at
from gainmlp.colorimetry import usable_cores
from gainmlp.errors import GainMLPError
from gainmlp.paper_residual import GAMMA_GUARD
from gainmlp.view import View, view_encodings

#: Largest per-colour tables (bytes) built for a whole image; beyond it, per row tile.
TABLE_BYTES = 64 << 20
#: Distinct colours per thread when the per-colour tables are built in parallel.
COLOURS_PER_THREAD = 16384
_KINDS = {"direct": 0, "gain": 1, "gamma": 2}
_ACTIVATIONS = {"relu": 1, "sine": 2}


def split_weights(params: MlpParams) -> tuple[list[np.ndarray], np.ndarray | None]:
    """(weights without the grid columns, the grid columns ``(w_e, n_grid)`` or None)."""
    if not params.grids:
        return list(params.weights), None
    e = params.grid_entry - 1
    cols = params.grid_columns()
    ws = list(params.weights)
    keep = np.ones(ws[e].shape[1], dtype=bool)
    keep[cols] = False
    grid_w = np.ascontiguousarray(ws[e][:, cols])
    ws[e] = np.ascontiguousarray(ws[e][:, keep])
    return ws, grid_w


def coordinate_terms(w0: np.ndarray, n_frequencies: int, centre: np.ndarray,
                     scale: np.ndarray, height: int, width: int, view: View | None
                     ) -> tuple[np.ndarray, np.ndarray]:
    """The first layer's coordinate part per column ``(W, w1)`` and per row ``(H, w1)``
    (the constant-one column in the row term) of a ``width x height`` base showing
    ``view`` of the original frame. With a 90° turn the columns carry y and the rows x:
    the factorisation is the same with the two weight blocks swapped."""
    per = 2 * n_frequencies
    enc_c, enc_r, swap = view_encodings(view, height, width, centre, scale, n_frequencies)
    w_x, w_y = w0[:, :per], w0[:, per:2 * per]
    col = enc_c @ (w_y if swap else w_x).T
    row = enc_r @ (w_x if swap else w_y).T + w0[:, -1]
    return col, row


def view_grid(table: np.ndarray, height: int, width: int, view: View | None) -> tuple:
    """``(table', col_taps, row_taps)``: a grid table ``(GH, GW, ...)`` and its taps per
    base column and per base row (:func:`~gainmlp.codecs.mlp.grid.taps_at` triples). With
    a 90° turn the table is transposed, so its first axis always follows the base's rows."""
    if view is None:
        return table, grid_taps(width, table.shape[1]), grid_taps(height, table.shape[0])
    if view.swapped:
        table = np.ascontiguousarray(np.swapaxes(table, 0, 1))
    along_cols, along_rows = view.axes(width, height)
    return table, taps_at(along_cols, table.shape[1]), taps_at(along_rows, table.shape[0])


class ColourTables:
    """Per-colour tables of one network: :meth:`of` gives ``(ct, aux)`` for SDR PQ colours.

    ``ct`` ``(K, w1)``: the colour part of the first layer's pre-activation (the numpy
    decoder's ``encode_numpy(norm) @ w_sdr``); ``aux`` ``(K, 4)``: the residual's base per
    channel and the luma guide of the bilateral grids.
    """

    def __init__(self, params: MlpParams, w0: np.ndarray, kind: str, eps: float) -> None:
        per_input = 2 * params.n_frequencies
        self.params, self.kind, self.eps = params, kind, eps
        self.w_sdr = np.ascontiguousarray(w0[:, 2 * per_input:-1].T)

    def of(self, colours: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`of_block` over slices of the colours on the usable cores (numpy releases
        the GIL in the sines, cosines and products; the same values as one block)."""
        n = colours.shape[0]
        workers = min(usable_cores(), max(1, n // COLOURS_PER_THREAD))
        if workers <= 1:
            return self.of_block(colours)
        from concurrent.futures import ThreadPoolExecutor

        bounds = np.linspace(0, n, workers + 1).astype(int)
        with ThreadPoolExecutor(workers) as pool:
            parts = list(pool.map(lambda ab: self.of_block(colours[ab[0]:ab[1]]),
                                  zip(bounds[:-1], bounds[1:], strict=True)))
        return (np.concatenate([c for c, _ in parts]), np.concatenate([a for _, a in parts]))

    def of_block(self, colours: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = self.params
        norm = normalise_inputs(colours, p.in_centre[2:], p.in_scale[2:])
        ct = np.ascontiguousarray(encode_numpy(norm, p.n_frequencies) @ self.w_sdr,
                                  dtype=np.float32)
        aux = np.zeros((colours.shape[0], 4), dtype=np.float32)
        s = np.asarray(colours, dtype=np.float64)
        if self.kind == "gain":
            aux[:, :3] = np.maximum(s, 0.0) + self.eps
        elif self.kind == "gamma":
            aux[:, :3] = np.log2(np.clip(s + self.eps, self.eps, 1.0 - GAMMA_GUARD))
        if p.has_bilateral:
            aux[:, 3] = luma_guide(colours, *p.grid_guide)
        return ct, aux


def _grid_tables(params: MlpParams, grid_w: np.ndarray | None, height: int,
                 width: int, view: View | None = None) -> tuple:
    """(ginfo, gproj, gx0, gx1, gfx, gy0, gy1, gfy) for :func:`mlp_rows` (dummies
    without grids): the grids projected through their columns of the entry layer."""
    if grid_w is None:
        z_i, z_f = np.zeros((1, 1), np.int64), np.zeros((1, 1), np.float32)
        return (np.zeros((1, 5), np.int64), np.zeros(1, np.float32), z_i, z_i, z_f, z_i,
                z_i, z_f)
    info, projs, taps_x, taps_y = [], [], [], []
    c0 = off = 0
    we = grid_w.shape[0]
    for g in params.grids:
        chans = g.shape[-1]
        proj = (g.reshape(-1, chans) @ grid_w[:, c0:c0 + chans].T).astype(np.float32)
        c0 += chans
        proj, tx, ty = view_grid(proj.reshape(*g.shape[:-1], we), height, width, view)
        bins = g.shape[2] if g.ndim == 4 else 0
        info.append((proj.shape[0], proj.shape[1], bins, off, we))
        projs.append(proj.reshape(-1))
        off += proj.size
        taps_x.append(tx)
        taps_y.append(ty)

    def stack(taps: list, k: int, dtype) -> np.ndarray:
        return np.ascontiguousarray(np.stack([t[k] for t in taps]), dtype=dtype)

    return (np.asarray(info, np.int64), np.concatenate(projs),
            stack(taps_x, 0, np.int64), stack(taps_x, 1, np.int64), stack(taps_x, 2, np.float32),
            stack(taps_y, 0, np.int64), stack(taps_y, 1, np.int64), stack(taps_y, 2, np.float32))


def decode_fast(kind: str, params: MlpParams, sdr: np.ndarray | IndexedSdr,
                eps: float, view: View | None = None) -> np.ndarray:
    """The HDR rendition (PQ BT.2020 float32 ``(H, W, 3)`` in [0, 1]) of a checked body's
    ``params`` over ``sdr`` (an :class:`IndexedSdr`, or PQ code values ``(H, W, 3)``)
    showing ``view`` of the original frame (None: the whole frame)."""
    from gainmlp.kernels.mlp import mlp_rows

    if params.activation not in _ACTIVATIONS:
        raise GainMLPError(f"unknown MLP activation {params.activation!r}")
    height, width = sdr.shape[:2]
    ws, grid_w = split_weights(params)
    w0 = ws[0]
    col, row = coordinate_terms(w0, params.n_frequencies, params.in_centre, params.in_scale,
                                height, width, view)
    col_t = np.ascontiguousarray(col.T, dtype=np.float32)
    row_t = np.ascontiguousarray(row, dtype=np.float32)
    dims = np.array([w.shape[0] for w in ws], dtype=np.int64)
    offs = np.zeros(len(ws), dtype=np.int64)
    offs[2:] = np.cumsum([w.size for w in ws[1:-1]])
    flat_w = np.concatenate([np.asarray(w, np.float32).reshape(-1) for w in ws[1:]])
    grids = _grid_tables(params, grid_w, height, width, view)
    grid_entry = params.grid_entry if grid_w is not None else 0
    outp = np.ascontiguousarray(np.stack([params.out_scale, params.out_centre,
                                          params.out_min, params.out_max]), dtype=np.float32)
    log2_out = params.output_transform == "log2"
    tables = ColourTables(params, w0, kind, eps)

    out = np.empty((height, width, 3), dtype=np.float32)
    out_flat = out.reshape(-1, 3)
    whole = isinstance(sdr, IndexedSdr) and \
        sdr.n_colours * (w0.shape[0] + 4) * 4 <= TABLE_BYTES
    if whole:
        ids_flat = np.ascontiguousarray(sdr.ids, dtype=np.int32).reshape(-1)
        ct, aux = tables.of(sdr.palette_pq)
    bad = []

    def work(r0: int, r1: int) -> None:
        a, b = r0 * width, r1 * width
        if whole:
            ids, ct_t, aux_t = ids_flat[a:b], ct, aux
        else:
            if isinstance(sdr, IndexedSdr):
                colours = sdr.palette_pq[sdr.ids[r0:r1].reshape(-1)]
            else:
                colours = np.nan_to_num(np.asarray(sdr[r0:r1], dtype=np.float32).reshape(-1, 3),
                                        nan=0.0, posinf=1.0, neginf=0.0)
            ct_t, aux_t = tables.of_block(colours)  # already on a tile's thread
            ids = np.arange(b - a, dtype=np.int32)
        if mlp_rows(r0, r1, width, ids, ct_t, aux_t, col_t, row_t, flat_w, dims, offs,
                    _ACTIVATIONS[params.activation], grid_entry, *grids, outp, log2_out,
                    _KINDS[kind], np.float32(eps), out_flat[a:b]):
            bad.append((r0, r1))

    for_row_ranges(height, width, work)
    if bad:
        raise GainMLPError("MLP body's network overflows float32 (corrupt weights)")
    return out
