"""Decode an MLP body into the HDR rendition: numpy only (this module never imports torch).

The network is evaluated in float32 exactly as docs/payload-format.md specifies, in tiles
of whole rows (``features.row_tiles``), so memory stays bounded for a 50-MP photo. The
coordinate part of the first layer is separable: the contribution of each column's x
encoding and each row's y encoding is computed once per image, so per pixel only the three
SDR inputs are encoded (72 sines/cosines instead of 120).

Grids (body version 2) enter linearly, so each grid is first projected through its columns
of the entry layer (``(rows, cols, C) -> (rows, cols, width)``, once per image) and the
projection is interpolated bilinearly per pixel: interpolating then multiplying is the same
linear map (equal to float rounding). Bilateral grids (body version 3) likewise, with a
trilinear interpolation whose third coordinate is the pixel's SDR luma.
"""

from __future__ import annotations

import numpy as np

from gainmlp import paper_residual
from gainmlp.codecs.features import (
    checked_sdr,
    encode_numpy,
    for_row_tiles,
    normalise_inputs,
)
from gainmlp.codecs.indexed import IndexedSdr, as_array
from gainmlp.codecs.mlp.fast_decode import coordinate_terms, view_grid
from gainmlp.codecs.mlp.fast_decode import split_weights as _split_weights
from gainmlp.codecs.mlp.format import N_INPUTS, N_OUTPUTS, MlpParams, unpack_mlp_body
from gainmlp.codecs.mlp.grid import grid_dims, luma_guide, taps_at
from gainmlp.codecs.registry import get_method
from gainmlp.errors import GainMLPError, check_image_size
from gainmlp.kernels import compiled
from gainmlp.view import View


def method_kind(method: str) -> str:
    """The residual an MLP method fits (gain, gamma or direct), from the method registry."""
    entry = get_method(method)
    if entry.family != "mlp":
        raise GainMLPError(f"{method!r} is not an MLP method")
    return entry.residual


def _activate(h: np.ndarray, activation: str) -> np.ndarray:
    if activation == "relu":
        return np.maximum(h, np.float32(0.0), out=h)
    if activation == "sine":
        return np.sin(h, out=h)
    raise GainMLPError(f"unknown MLP activation {activation!r}")


def _hidden_and_output(params: MlpParams, h: np.ndarray, weights: list[np.ndarray] | None = None,
                       grid_term: np.ndarray | None = None) -> np.ndarray:
    """Everything after the first pre-activation: act, the hidden layers, the output layer.

    ``weights``: the matrices without grid columns (default ``params.weights``);
    ``grid_term``: added to the pre-activation of layer ``params.grid_entry`` (> 1).
    """
    ws = params.weights if weights is None else weights
    h = _activate(h, params.activation)
    for layer, w in enumerate(ws[1:-1], start=2):
        h = h @ w.T
        if grid_term is not None and layer == params.grid_entry:
            h += grid_term
        h = _activate(h, params.activation)
    return h @ ws[-1].T


def _interpolate(table: np.ndarray, rows: tuple, cols: tuple, bins: tuple | None) -> np.ndarray:
    """Bi- or trilinear interpolation of ``table`` ``(rows, cols[, bins], n)`` per point.

    ``rows``/``cols``/``bins``: (first tap, second tap, weight) arrays of the points; the
    weights are applied in the order bins, columns, rows (as the fitter does)."""
    (y0, y1, fy), (x0, x1, fx) = rows, cols
    fx, fy = fx[:, None], fy[:, None]
    if bins is None:
        def at(yi: np.ndarray, xi: np.ndarray) -> np.ndarray:
            return table[yi, xi]
    else:
        z0, z1, fz = bins
        fz = fz[:, None]

        def at(yi: np.ndarray, xi: np.ndarray) -> np.ndarray:
            lo = table[yi, xi, z0]
            return lo + (table[yi, xi, z1] - lo) * fz
    a, b = at(y0, x0), at(y0, x1)
    top = a + (b - a) * fx
    a, b = at(y1, x0), at(y1, x1)
    bottom = a + (b - a) * fx
    return (top + (bottom - top) * fy).astype(np.float32)


def grid_features_at(params: MlpParams, x: np.ndarray, y: np.ndarray,
                     sdr: np.ndarray | None = None) -> np.ndarray:
    """Grid features ``(N, n_grid)`` at coordinates ``x``, ``y`` in [0, 1]; bilateral
    grids also need the points' SDR code values ``sdr`` ``(N, 3)``."""
    feats = []
    guide = None
    for g in params.grids:
        rows, cols, bins, _ = grid_dims(g.shape)
        z = None
        if g.ndim == 4:
            if sdr is None:
                raise GainMLPError("bilateral grids need the SDR values")
            if guide is None:
                guide = luma_guide(sdr, *params.grid_guide).astype(np.float64)
            z = taps_at(guide, bins)
        feats.append(_interpolate(g, taps_at(y, rows), taps_at(x, cols), z))
    return np.concatenate(feats, axis=1)


def forward_numpy(params: MlpParams, inputs: np.ndarray,
                  encoded: np.ndarray | None = None) -> np.ndarray:
    """Raw inputs ``(N, n_in)`` (x, y in (0, 1), r, g, b) -> network outputs ``(N, n_out)``.

    The outputs are in the network's normalised space; see :func:`denormalise_outputs`.
    This is the plain, unfactorised evaluation; :func:`decode_mlp` computes the same thing
    with a separable first layer. ``encoded``: :func:`encoded_inputs` of ``inputs`` for
    ``params``, when the caller keeps them (rate control judges many networks with the
    same input normalisation on the same pixels).
    """
    enc = encoded_inputs(params, inputs) if encoded is None else encoded
    ws, grid_w = _split_weights(params)
    w0 = ws[0]
    h = enc @ w0[:, :-1].T + w0[:, -1]
    term = None
    if grid_w is not None:
        raw = np.asarray(inputs, dtype=np.float64)
        term = grid_features_at(params, raw[:, 0], raw[:, 1], raw[:, 2:5]) @ grid_w.T
        if params.grid_entry == 1:
            h += term
            term = None
    return _hidden_and_output(params, h, ws, term)


def encoded_inputs(params: MlpParams, inputs: np.ndarray) -> np.ndarray:
    """The frequency encodings of the normalised ``inputs`` (what :func:`forward_numpy`'s
    first layer takes): they depend on ``params`` only through its input centre, scale
    and number of frequencies."""
    return encode_numpy(normalise_inputs(inputs, params.in_centre, params.in_scale),
                        params.n_frequencies)


class _GridProjection:
    """Per-image tables for the grid term: projected grids and per-row/column taps."""

    def __init__(self, params: MlpParams, grid_w: np.ndarray, height: int, width: int,
                 view: View | None = None) -> None:
        self.parts = []
        self.guide = params.grid_guide
        c0 = 0
        for g in params.grids:
            chans = g.shape[-1]
            proj = (g.reshape(-1, chans) @ grid_w[:, c0:c0 + chans].T).reshape(
                *g.shape[:-1], -1)
            c0 += chans
            self.parts.append(view_grid(proj.astype(np.float32), height, width, view))

    def term(self, r0: int, r1: int, tile: np.ndarray) -> np.ndarray:
        """The grid term ``(r1 - r0, W, width)`` of image rows r0..r1-1 (``tile``: their
        SDR values ``(N, 3)``, for bilateral grids)."""
        total = None
        guide = None
        for proj, (x0, x1, fx), (y0, y1, fy) in self.parts:
            if proj.ndim == 3:
                wy = fy[r0:r1, None, None]
                rows = proj[y0[r0:r1]] + (proj[y1[r0:r1]] - proj[y0[r0:r1]]) * wy  # (R, cols, w)
                wx = fx[None, :, None]
                t = rows[:, x0] + (rows[:, x1] - rows[:, x0]) * wx
            else:
                if guide is None:
                    guide = luma_guide(tile, *self.guide).astype(np.float64)
                n_rows, width = r1 - r0, x0.size
                ry = np.repeat(np.arange(r0, r1), width)
                cx = np.tile(np.arange(width), n_rows)
                t = _interpolate(proj, (y0[ry], y1[ry], fy[ry]), (x0[cx], x1[cx], fx[cx]),
                                 taps_at(guide, proj.shape[2])).reshape(n_rows, width, -1)
            total = t if total is None else total + t
        return total


def denormalise_outputs(params: MlpParams, t: np.ndarray) -> np.ndarray:
    """``T = clip(t * scale + centre, min, max)``, then ``2 ** T`` for the log2 transform."""
    out = np.clip(t * params.out_scale + params.out_centre, params.out_min, params.out_max)
    if params.output_transform == "log2":
        out = np.exp2(out)
    return out


def decode_mlp(method: str, body: bytes, sdr_pq: np.ndarray | IndexedSdr,
               eps: float, view: View | None = None) -> np.ndarray:
    """The HDR rendition (PQ BT.2020 float32 ``(H, W, 3)`` in [0, 1]) from SDR and a body.

    ``sdr_pq``: the SDR's PQ code values ``(H, W, 3)``, or an :class:`IndexedSdr`. The
    compiled decoder (:mod:`gainmlp.codecs.mlp.fast_decode`) runs unless
    ``gainmlp.kernels.compiled()`` is false; this module's numpy evaluation is its
    reference. ``view``: the part of the original frame the SDR shows (a crop, resize or
    rotation, :mod:`gainmlp.view`); None: the SDR is the original frame.
    """
    kind = method_kind(method)
    params = unpack_mlp_body(body)
    if params.n_inputs != N_INPUTS or params.n_outputs != N_OUTPUTS:
        raise GainMLPError(f"MLP body has {params.n_inputs} inputs / {params.n_outputs} "
                           f"outputs; this decoder evaluates {N_INPUTS} / {N_OUTPUTS}")
    if isinstance(sdr_pq, IndexedSdr):
        check_image_size(sdr_pq.shape[1], sdr_pq.shape[0], "SDR image")
    else:
        checked_sdr(sdr_pq)
    if compiled():
        from gainmlp.codecs.mlp.fast_decode import decode_fast

        return decode_fast(kind, params, sdr_pq, eps, view)
    sdr, height, width = checked_sdr(as_array(sdr_pq))

    n_freq = params.n_frequencies
    per_input = 2 * n_freq
    ws, grid_w = _split_weights(params)
    w0 = ws[0]
    grid = _GridProjection(params, grid_w, height, width, view) if grid_w is not None else None
    # Separable coordinate terms: (W, h) per column and (H, h) per row (+ the 1-column);
    # with a 90° view the columns carry y and the rows x.
    col_terms, row_terms = coordinate_terms(w0, n_freq, params.in_centre, params.in_scale,
                                            height, width, view)
    w_sdr = np.ascontiguousarray(w0[:, 2 * per_input:-1].T)

    out = np.empty((height, width, 3), dtype=np.float32)

    def work(r0: int, r1: int, tile: np.ndarray) -> None:
        norm = normalise_inputs(tile, params.in_centre[2:], params.in_scale[2:])
        h = encode_numpy(norm, n_freq) @ w_sdr
        h = h.reshape(r1 - r0, width, -1)
        h += col_terms[None, :, :]
        h += row_terms[r0:r1, None, :]
        term = None
        if grid is not None:
            term = grid.term(r0, r1, tile)
            if params.grid_entry == 1:
                h += term
                term = None
            else:
                term = term.reshape(tile.shape[0], -1)
        t = _hidden_and_output(params, h.reshape(tile.shape[0], -1), ws, term)
        if not np.all(np.isfinite(t)):
            raise GainMLPError("MLP body's network overflows float32 (corrupt weights)")
        mapped = denormalise_outputs(params, t)
        if kind == "direct":
            hdr = np.clip(mapped, 0.0, 1.0)
        else:
            hdr = paper_residual.reconstruct(kind, tile, mapped, eps)
        out[r0:r1] = hdr.reshape(r1 - r0, width, 3)

    for_row_tiles(sdr, work)
    return out
