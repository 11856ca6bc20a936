"""Decode an MLP-ITM body into the HDR rendition: numpy only (never imports torch).

The colour network's first hidden layer is modulated per pixel by the spatial network
(FiLM): ``h1 = relu(z1 * (1 + gamma(x, y)) + beta(x, y))`` with ``z1 = W1 enc(r, g, b) + b1``;
the colour network's linear output is the normalised HDR, and the HDR PQ code value is
``clip(clip(t * scale + centre, min, max), 0, 1)``. docs/payload-format.md specifies the
evaluation; :mod:`gainmlp.codecs.mlp_itm.model` is the torch twin used for fitting.

As in the Gain-MLP decoder, the spatial network's first layer is separable (its
contribution per column and per row is computed once per image) and the image is walked
in tiles of whole rows, so memory stays bounded.
"""

from __future__ import annotations

import numpy as np

from gainmlp.codecs.features import (
    checked_sdr,
    encode_numpy,
    for_row_ranges,
    for_row_tiles,
    normalise_inputs,
)
from gainmlp.codecs.indexed import IndexedSdr
from gainmlp.codecs.mlp_itm.format import METHOD, N_SPATIAL_INPUTS, ItmParams, unpack_itm_body
from gainmlp.errors import GainMLPError, check_image_size
from gainmlp.kernels import compiled
from gainmlp.view import View, view_encodings


def _relu(h: np.ndarray) -> np.ndarray:
    return np.maximum(h, np.float32(0.0), out=h)


def _spatial_tail(params: ItmParams, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """From the spatial net's first pre-activation to its (gamma, beta) outputs."""
    h = _relu(z)
    for w, b in params.spatial[1:-1]:
        h = _relu(h @ w.T + b)
    w, b = params.spatial[-1]
    out = h @ w.T + b
    wc = params.colour_width
    return out[:, :wc], out[:, wc:]


def _colour_tail(params: ItmParams, z: np.ndarray, gamma: np.ndarray,
                 beta: np.ndarray) -> np.ndarray:
    """From the colour net's first pre-activation (and the modulation) to its outputs."""
    h = _relu(z * (np.float32(1.0) + gamma) + beta)
    for w, b in params.colour[1:-1]:
        h = _relu(h @ w.T + b)
    w, b = params.colour[-1]
    return h @ w.T + b


def denormalise_outputs(params: ItmParams, t: np.ndarray) -> np.ndarray:
    """HDR PQ code values: ``clip(clip(t * scale + centre, min, max), 0, 1)``."""
    out = np.clip(t * params.out_scale + params.out_centre, params.out_min, params.out_max)
    return np.clip(out, np.float32(0.0), np.float32(1.0)).astype(np.float32, copy=False)


def forward_numpy(params: ItmParams, inputs: np.ndarray) -> np.ndarray:
    """Raw inputs ``(N, 5)`` (x, y in (0, 1), r, g, b) -> normalised outputs ``(N, 3)``.

    The plain, unfactorised evaluation; :func:`decode_itm` computes the same function with
    a separable spatial first layer.
    """
    norm = normalise_inputs(inputs, params.in_centre, params.in_scale)
    enc_s = encode_numpy(norm[:, :N_SPATIAL_INPUTS], params.spatial_frequencies)
    enc_c = encode_numpy(norm[:, N_SPATIAL_INPUTS:], params.colour_frequencies)
    ws, bs = params.spatial[0]
    gamma, beta = _spatial_tail(params, enc_s @ ws.T + bs)
    wc, bc = params.colour[0]
    return _colour_tail(params, enc_c @ wc.T + bc, gamma, beta)


def decode_itm(method: str, body: bytes, sdr_pq: np.ndarray | IndexedSdr,
               eps: float, view: View | None = None) -> np.ndarray:
    """The HDR rendition (PQ BT.2020 float32 ``(H, W, 3)`` in [0, 1]) from SDR and a body.

    ``sdr_pq``: the SDR's PQ code values ``(H, W, 3)``, or an :class:`IndexedSdr`, whose
    colour-net first layer is then evaluated once per distinct colour (same function).

    ``eps`` is unused: MLP-ITM predicts the HDR directly, not a residual. ``view``: the
    part of the original frame the SDR shows (:mod:`gainmlp.view`; None: all of it).
    """
    del eps
    if method != METHOD:
        raise GainMLPError(f"{method!r} is not the MLP-ITM method")
    params = unpack_itm_body(body)
    if isinstance(sdr_pq, IndexedSdr):
        height, width = sdr_pq.shape[:2]
        check_image_size(width, height, "SDR image")
    else:
        sdr, height, width = checked_sdr(sdr_pq)

    per = 2 * params.spatial_frequencies
    ws, bs = params.spatial[0]
    enc_c, enc_r, swap = view_encodings(view, height, width, params.in_centre,
                                        params.in_scale, params.spatial_frequencies)
    w_x, w_y = ws[:, :per], ws[:, per:]  # with a 90° view the columns carry y, the rows x
    col_terms = enc_c @ (w_y if swap else w_x).T  # (W, W_s)
    row_terms = enc_r @ (w_x if swap else w_y).T + bs  # (H, W_s)
    wc, bc = params.colour[0]

    def colour_term(colours: np.ndarray) -> np.ndarray:
        norm = normalise_inputs(colours, params.in_centre[N_SPATIAL_INPUTS:],
                                params.in_scale[N_SPATIAL_INPUTS:])
        return encode_numpy(norm, params.colour_frequencies) @ wc.T + bc

    out = np.empty((height, width, 3), dtype=np.float32)

    def work(r0: int, r1: int, z_c: np.ndarray) -> None:
        n = (r1 - r0) * width
        z_s = (col_terms[None, :, :] + row_terms[r0:r1, None, :]).reshape(n, -1)
        gamma, beta = _spatial_tail(params, z_s)
        t = _colour_tail(params, z_c, gamma, beta)
        if not np.all(np.isfinite(t)):
            raise GainMLPError("MLP-ITM body's network overflows float32 (corrupt weights)")
        out[r0:r1] = denormalise_outputs(params, t).reshape(r1 - r0, width, 3)

    if isinstance(sdr_pq, IndexedSdr) and compiled() and params.activation == "relu" \
            and params.fusion == "film":
        return _decode_fused(params, sdr_pq, colour_term(sdr_pq.palette_pq), col_terms,
                             row_terms)
    if isinstance(sdr_pq, IndexedSdr):
        # The colour net's first pre-activation once per distinct colour, gathered per tile.
        table = colour_term(sdr_pq.palette_pq)
        ids = sdr_pq.ids
        for_row_ranges(height, width, lambda r0, r1: work(r0, r1, table[ids[r0:r1].reshape(-1)]))
    else:
        for_row_tiles(sdr, lambda r0, r1, tile: work(r0, r1, colour_term(tile)))
    return out


def _decode_fused(params: ItmParams, sdr: IndexedSdr, table: np.ndarray, col_terms: np.ndarray,
                  row_terms: np.ndarray) -> np.ndarray:
    """:func:`decode_itm` with the compiled kernel (:mod:`gainmlp.kernels.mlp_itm`):
    ``table`` is the colour net's first pre-activation per distinct colour."""
    from gainmlp.kernels.mlp_itm import itm_rows, pack_layers

    height, width = sdr.shape[:2]
    ct = np.ascontiguousarray(table, dtype=np.float32)
    col_t = np.ascontiguousarray(col_terms.T, dtype=np.float32)
    row_t = np.ascontiguousarray(row_terms, dtype=np.float32)
    spatial, colour = pack_layers(params.spatial), pack_layers(params.colour)
    outp = np.ascontiguousarray(np.stack([params.out_scale, params.out_centre,
                                          params.out_min, params.out_max]), dtype=np.float32)
    ids = np.ascontiguousarray(sdr.ids, dtype=np.int32).reshape(-1)
    out = np.empty((height, width, 3), dtype=np.float32)
    flat = out.reshape(-1, 3)
    bad = []

    def work(r0: int, r1: int) -> None:
        a, b = r0 * width, r1 * width
        if itm_rows(r0, r1, width, ids[a:b], ct, col_t, row_t, *spatial, *colour, outp,
                    flat[a:b]):
            bad.append(r0)

    for_row_ranges(height, width, work)
    if bad:
        raise GainMLPError("MLP-ITM body's network overflows float32 (corrupt weights)")
    return out


__all__ = ["decode_itm", "denormalise_outputs", "forward_numpy"]
