"""MLP-ITM (Liu et al., "MLP Embedded Inverse Tone Mapping"): body format and numpy decoder.

This module is numpy only (it never imports torch). The fitting side lives in
:mod:`gainmlp.codecs.mlp_itm.fit`; the design choices and the gaps in the published
description of the method are documented there.

The network
-----------
Two small MLPs, both with biases and ReLU hidden activations:

* the **spatial network** ``S`` takes the pixel position (x, y) and outputs ``2 * Wc``
  values, a per-pixel scale ``gamma`` and shift ``beta`` (FiLM modulation);
* the **colour network** ``C`` takes the SDR colour (r, g, b); its first hidden layer is
  modulated by the spatial network, ``h1 = relu(z1 * (1 + gamma(x, y)) + beta(x, y))``
  with ``z1 = W1 enc(r, g, b) + b1``; its further hidden layers are plain, and its linear
  output layer gives the normalised HDR ``t`` (3 values).

The HDR PQ code value is ``clip(clip(t * scale + centre, min, max), 0, 1)`` per channel.

Inputs: x, y are pixel centres in (0, 1), ``(i + 0.5) / W``; r, g, b are the SDR's PQ
BT.2020 code values. Each is normalised to ``n = clip((v - centre) / scale, -1, 1)`` in
float32 and frequency-encoded as ``sin(2^k a)`` then ``cos(2^k a)`` with
``a = float32(pi) * n``, k = 0..F-1, input by input (sines for k ascending, then cosines);
the spatial network uses ``F_s`` frequencies, the colour network ``F_c``.

Body layout, version 1 (all integers unsigned, little-endian)::

    offset  size        field
    0       1           body version (u8) = 1
    1       1           hidden activation (u8): 1 relu
    2       1           weight precision (u8): 1 fp32, 2 fp16 (IEEE binary16)
    3       1           fusion (u8): 1 FiLM of the colour net's first hidden layer
    4       1           spatial frequency count F_s (u8), 1..24
    5       1           colour frequency count F_c (u8), 1..24
    6       1           spatial hidden layer count L_s (u8), 1..8
    7       1           colour hidden layer count L_c (u8), 1..8
    8       2           spatial hidden width W_s (u16), 1..1024
    10      2           colour hidden width W_c (u16), 1..1024
    12      40          input normalisation for x, y, r, g, b: centre (f32), scale (f32)
    52      48          output normalisation for R, G, B: centre, scale, min, max (f32)
    100     rest        parameters in the weight precision; each layer is its matrix
                        (row-major, out x in) followed by its bias (out):
                        spatial: W_s x 4F_s, (W_s x W_s) * (L_s - 1), 2W_c x W_s
                        colour:  W_c x 6F_c, (W_c x W_c) * (L_c - 1), 3 x W_c

With the defaults (F_s = F_c = 12, L_s = L_c = 2, W_s = W_c = 32) the body holds 8227
parameters: 33,008 bytes in fp32 (33,048 with the payload's 40-byte header and CRC), the
paper's "34 KB" setting; 16,554 bytes in fp16.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from gainmlp.codecs.mlp.decode import checked_sdr, encode_numpy, normalise_inputs
from gainmlp.errors import GainMLPError

METHOD = "mlp-itm"
BODY_VERSION = 1
SUPPORTED_BODY_VERSIONS = (1,)
ACTIVATION_CODES: dict[str, int] = {"relu": 1}
PRECISION_CODES: dict[str, int] = {"fp32": 1, "fp16": 2}
FUSION_CODES: dict[str, int] = {"film": 1}
_ACTIVATION_NAMES = {c: n for n, c in ACTIVATION_CODES.items()}
_PRECISION_NAMES = {c: n for n, c in PRECISION_CODES.items()}
_FUSION_NAMES = {c: n for n, c in FUSION_CODES.items()}
_DTYPES = {"fp32": np.dtype("<f4"), "fp16": np.dtype("<f2")}

N_SPATIAL_INPUTS = 2
N_COLOUR_INPUTS = 3
N_INPUTS = N_SPATIAL_INPUTS + N_COLOUR_INPUTS
N_OUTPUTS = 3
MAX_WIDTH = 1024
MAX_HIDDEN_LAYERS = 8
MAX_FREQUENCIES = 24

_FIXED = struct.Struct("<BBBBBBBBHH")
HEADER_SIZE = _FIXED.size + 8 * N_INPUTS + 16 * N_OUTPUTS  # 100
TILE_PIXELS = 65536
PI32 = np.float32(np.pi)

Layer = tuple[np.ndarray, np.ndarray]  # (weight (out, in), bias (out,)), float32


@dataclass
class ItmParams:
    """Everything an MLP-ITM body holds (weights as float32 arrays)."""

    spatial: list[Layer]
    colour: list[Layer]
    in_centre: np.ndarray
    in_scale: np.ndarray
    out_centre: np.ndarray
    out_scale: np.ndarray
    out_min: np.ndarray
    out_max: np.ndarray
    spatial_frequencies: int = 12
    colour_frequencies: int = 12
    activation: str = "relu"
    precision: str = "fp32"
    fusion: str = "film"

    @property
    def spatial_width(self) -> int:
        return int(self.spatial[0][0].shape[0])

    @property
    def colour_width(self) -> int:
        return int(self.colour[0][0].shape[0])

    @property
    def n_parameters(self) -> int:
        return sum(int(w.size + b.size) for w, b in [*self.spatial, *self.colour])


def layer_shapes(spatial_frequencies: int, colour_frequencies: int, spatial_layers: int,
                 colour_layers: int, spatial_width: int,
                 colour_width: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """(out, in) of every matrix of the spatial and of the colour network."""
    spatial = [(spatial_width, 2 * N_SPATIAL_INPUTS * spatial_frequencies)]
    spatial += [(spatial_width, spatial_width)] * (spatial_layers - 1)
    spatial.append((2 * colour_width, spatial_width))
    colour = [(colour_width, 2 * N_COLOUR_INPUTS * colour_frequencies)]
    colour += [(colour_width, colour_width)] * (colour_layers - 1)
    colour.append((N_OUTPUTS, colour_width))
    return spatial, colour


def parameter_count(spatial_frequencies: int = 12, colour_frequencies: int = 12,
                    spatial_layers: int = 2, colour_layers: int = 2, spatial_width: int = 32,
                    colour_width: int = 32) -> int:
    """Number of stored weights and biases for this shape."""
    s, c = layer_shapes(spatial_frequencies, colour_frequencies, spatial_layers,
                        colour_layers, spatial_width, colour_width)
    return sum(o * i + o for o, i in [*s, *c])


def body_size(spatial_frequencies: int = 12, colour_frequencies: int = 12,
              spatial_layers: int = 2, colour_layers: int = 2, spatial_width: int = 32,
              colour_width: int = 32, precision: str = "fp32") -> int:
    """Size in bytes of a version-1 body of this shape."""
    n = parameter_count(spatial_frequencies, colour_frequencies, spatial_layers,
                        colour_layers, spatial_width, colour_width)
    return HEADER_SIZE + n * _DTYPES[precision].itemsize


def _f32(values: np.ndarray, n: int, what: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float32).reshape(-1)
    if arr.size != n:
        raise GainMLPError(f"MLP-ITM {what} has {arr.size} values, expected {n}")
    if not np.all(np.isfinite(arr)):
        raise GainMLPError(f"MLP-ITM {what} holds non-finite values")
    return arr


def _check_shape_fields(fs: int, fc: int, ls: int, lc: int, ws: int, wc: int) -> None:
    if not (1 <= fs <= MAX_FREQUENCIES and 1 <= fc <= MAX_FREQUENCIES):
        raise GainMLPError(f"MLP-ITM declares {fs}/{fc} frequencies, outside 1..{MAX_FREQUENCIES}")
    if not (1 <= ls <= MAX_HIDDEN_LAYERS and 1 <= lc <= MAX_HIDDEN_LAYERS):
        raise GainMLPError(f"MLP-ITM declares {ls}/{lc} hidden layers, "
                           f"outside 1..{MAX_HIDDEN_LAYERS}")
    if not (1 <= ws <= MAX_WIDTH and 1 <= wc <= MAX_WIDTH):
        raise GainMLPError(f"MLP-ITM declares an absurd hidden width ({ws}/{wc}, "
                           f"limit {MAX_WIDTH})")


def _check_constants(ins: np.ndarray, outs: np.ndarray) -> None:
    """``ins``: (5, 2) centre/scale; ``outs``: (3, 4) centre/scale/min/max."""
    if not (np.all(np.isfinite(ins)) and np.all(np.isfinite(outs))):
        raise GainMLPError("MLP-ITM body holds non-finite normalisation constants")
    if np.any(ins[:, 1] <= 0) or np.any(outs[:, 1] <= 0):
        raise GainMLPError("MLP-ITM body holds a non-positive normalisation scale")
    if np.any(outs[:, 2] > outs[:, 3]):
        raise GainMLPError("MLP-ITM body holds an output minimum above its maximum")


def pack_itm_body(params: ItmParams) -> bytes:
    """Serialise ``params`` as a version-1 body (weights rounded to ``params.precision``)."""
    if params.activation not in ACTIVATION_CODES:
        raise GainMLPError(f"unknown MLP-ITM activation {params.activation!r}")
    if params.precision not in PRECISION_CODES:
        raise GainMLPError(f"unknown MLP-ITM precision {params.precision!r}")
    if params.fusion not in FUSION_CODES:
        raise GainMLPError(f"unknown MLP-ITM fusion {params.fusion!r}")
    fs, fc = params.spatial_frequencies, params.colour_frequencies
    ls, lc = len(params.spatial) - 1, len(params.colour) - 1
    ws, wc = params.spatial_width, params.colour_width
    _check_shape_fields(fs, fc, ls, lc, ws, wc)
    want_s, want_c = layer_shapes(fs, fc, ls, lc, ws, wc)
    ins = np.stack([_f32(params.in_centre, N_INPUTS, "input centre"),
                    _f32(params.in_scale, N_INPUTS, "input scale")], axis=1)
    outs = np.stack([_f32(params.out_centre, N_OUTPUTS, "output centre"),
                     _f32(params.out_scale, N_OUTPUTS, "output scale"),
                     _f32(params.out_min, N_OUTPUTS, "output min"),
                     _f32(params.out_max, N_OUTPUTS, "output max")], axis=1)
    _check_constants(ins, outs)
    parts = [_FIXED.pack(BODY_VERSION, ACTIVATION_CODES[params.activation],
                         PRECISION_CODES[params.precision], FUSION_CODES[params.fusion],
                         fs, fc, ls, lc, ws, wc),
             ins.astype("<f4").tobytes(), outs.astype("<f4").tobytes()]
    dtype = _DTYPES[params.precision]
    for (w, b), shape in zip([*params.spatial, *params.colour], [*want_s, *want_c], strict=True):
        w32 = np.asarray(w, dtype=np.float32)
        b32 = np.asarray(b, dtype=np.float32).reshape(-1)
        if w32.shape != shape or b32.shape != (shape[0],):
            raise GainMLPError(f"MLP-ITM layer has shape {w32.shape}/{b32.shape}, "
                               f"expected {shape}/({shape[0]},)")
        for arr in (w32, b32):
            if not np.all(np.isfinite(arr)):
                raise GainMLPError("MLP-ITM weights hold non-finite values")
            with np.errstate(over="ignore"):
                q = arr.astype(dtype)
            if not np.all(np.isfinite(q)):
                raise GainMLPError(f"MLP-ITM weights overflow {params.precision}")
            parts.append(np.ascontiguousarray(q).tobytes())
    return b"".join(parts)


def unpack_itm_body(body: bytes) -> ItmParams:
    """Parse and validate a body; raises :class:`GainMLPError` with a one-line message."""
    data = bytes(body)
    if len(data) < HEADER_SIZE:
        raise GainMLPError(f"MLP-ITM body is truncated ({len(data)} bytes)")
    version, act, prec, fusion, fs, fc, ls, lc, ws, wc = _FIXED.unpack_from(data)
    if version not in SUPPORTED_BODY_VERSIONS:
        raise GainMLPError(f"MLP-ITM body version {version} is not supported "
                           f"(this gainmlp reads {SUPPORTED_BODY_VERSIONS})")
    if act not in _ACTIVATION_NAMES:
        raise GainMLPError(f"MLP-ITM body has unknown activation code {act}")
    if prec not in _PRECISION_NAMES:
        raise GainMLPError(f"MLP-ITM body has unknown precision code {prec}")
    if fusion not in _FUSION_NAMES:
        raise GainMLPError(f"MLP-ITM body has unknown fusion code {fusion}")
    _check_shape_fields(fs, fc, ls, lc, ws, wc)
    precision = _PRECISION_NAMES[prec]
    expected = body_size(fs, fc, ls, lc, ws, wc, precision)
    if len(data) != expected:
        raise GainMLPError(f"MLP-ITM body has {len(data)} bytes but its declared shape "
                           f"needs {expected}")
    off = _FIXED.size
    ins = np.frombuffer(data, dtype="<f4", count=2 * N_INPUTS, offset=off).reshape(N_INPUTS, 2)
    off += 8 * N_INPUTS
    outs = np.frombuffer(data, dtype="<f4", count=4 * N_OUTPUTS,
                         offset=off).reshape(N_OUTPUTS, 4)
    off += 16 * N_OUTPUTS
    _check_constants(ins, outs)
    dtype = _DTYPES[precision]
    want_s, want_c = layer_shapes(fs, fc, ls, lc, ws, wc)
    layers: list[Layer] = []
    for o, i in [*want_s, *want_c]:
        w = np.frombuffer(data, dtype=dtype, count=o * i, offset=off)
        off += o * i * dtype.itemsize
        b = np.frombuffer(data, dtype=dtype, count=o, offset=off)
        off += o * dtype.itemsize
        w32, b32 = w.astype(np.float32).reshape(o, i), b.astype(np.float32)
        if not (np.all(np.isfinite(w32)) and np.all(np.isfinite(b32))):
            raise GainMLPError("MLP-ITM body holds non-finite weights")
        layers.append((w32, b32))
    n_s = len(want_s)
    return ItmParams(
        spatial=layers[:n_s], colour=layers[n_s:],
        in_centre=ins[:, 0].copy(), in_scale=ins[:, 1].copy(),
        out_centre=outs[:, 0].copy(), out_scale=outs[:, 1].copy(),
        out_min=outs[:, 2].copy(), out_max=outs[:, 3].copy(),
        spatial_frequencies=fs, colour_frequencies=fc,
        activation=_ACTIVATION_NAMES[act], precision=precision, fusion=_FUSION_NAMES[fusion],
    )


# -- evaluation ---------------------------------------------------------------------------


def pixel_centres(n: int) -> np.ndarray:
    """``(i + 0.5) / n`` for i = 0..n-1, as float32."""
    return ((np.arange(n, dtype=np.float64) + 0.5) / n).astype(np.float32)


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


def decode_itm(method: str, body: bytes, sdr_pq: np.ndarray, eps: float) -> np.ndarray:
    """The HDR rendition (PQ BT.2020 float32 ``(H, W, 3)`` in [0, 1]) from SDR and a body.

    ``eps`` is unused: MLP-ITM predicts the HDR directly, not a residual.
    """
    del eps
    if method != METHOD:
        raise GainMLPError(f"{method!r} is not the MLP-ITM method")
    params = unpack_itm_body(body)
    sdr, height, width = checked_sdr(sdr_pq)

    fs = params.spatial_frequencies
    per = 2 * fs
    ws, bs = params.spatial[0]
    enc_x = encode_numpy(normalise_inputs(pixel_centres(width)[:, None], params.in_centre[:1],
                                          params.in_scale[:1]), fs)
    enc_y = encode_numpy(normalise_inputs(pixel_centres(height)[:, None],
                                          params.in_centre[1:2], params.in_scale[1:2]), fs)
    col_terms = enc_x @ ws[:, :per].T  # (W, W_s)
    row_terms = enc_y @ ws[:, per:].T + bs  # (H, W_s)
    wc, bc = params.colour[0]

    out = np.empty((height, width, 3), dtype=np.float32)
    rows_per_tile = max(1, TILE_PIXELS // width)
    for r0 in range(0, height, rows_per_tile):
        r1 = min(height, r0 + rows_per_tile)
        n = (r1 - r0) * width
        z_s = (col_terms[None, :, :] + row_terms[r0:r1, None, :]).reshape(n, -1)
        gamma, beta = _spatial_tail(params, z_s)
        tile = np.nan_to_num(np.asarray(sdr[r0:r1], dtype=np.float32).reshape(n, 3),
                             nan=0.0, posinf=1.0, neginf=0.0)
        norm = normalise_inputs(tile, params.in_centre[N_SPATIAL_INPUTS:],
                                params.in_scale[N_SPATIAL_INPUTS:])
        z_c = encode_numpy(norm, params.colour_frequencies) @ wc.T + bc
        t = _colour_tail(params, z_c, gamma, beta)
        out[r0:r1] = denormalise_outputs(params, t).reshape(r1 - r0, width, 3)
    return out


__all__ = [
    "BODY_VERSION", "ItmParams", "body_size", "decode_itm", "forward_numpy", "pack_itm_body",
    "parameter_count", "unpack_itm_body",
]
