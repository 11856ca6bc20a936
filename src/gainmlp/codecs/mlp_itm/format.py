"""The MLP-ITM payload body: a versioned, little-endian binary format (numpy only).

The body holds the two networks of the MLP-ITM baseline (a spatial network that modulates
a colour network, see :mod:`gainmlp.codecs.mlp_itm.model`), each layer a matrix and a
bias, with the normalisation constants of their inputs and outputs. docs/payload-format.md
specifies it field by field; :func:`unpack_itm_body` validates every field before it
allocates anything.

The default shape (``DEFAULT_*``: 12 frequencies, 2 hidden layers of 32 in both networks)
is the closest round shape to the Gain-MLP paper's "34 KB" MLP-ITM setting: 8,227
parameters, a 33,008-byte fp32 body.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from gainmlp.codecs import body_fields
from gainmlp.errors import GainMLPError
from gainmlp.memory import check_network

METHOD = "mlp-itm"
BODY_VERSION = 1
SUPPORTED_BODY_VERSIONS = (1,)
ACTIVATION_CODES: dict[str, int] = {"relu": 1}
PRECISION_CODES: dict[str, int] = {"fp32": 1, "fp16": 2}
FUSION_CODES: dict[str, int] = {"film": 1}

N_SPATIAL_INPUTS = 2
N_COLOUR_INPUTS = 3
N_INPUTS = N_SPATIAL_INPUTS + N_COLOUR_INPUTS
N_OUTPUTS = 3
MAX_WIDTH = 1024
MAX_HIDDEN_LAYERS = 8
MAX_FREQUENCIES = 24

DEFAULT_FREQUENCIES = 12
DEFAULT_HIDDEN_LAYERS = 2
DEFAULT_WIDTH = 32

_FIXED = struct.Struct("<BBBBBBBBHH")
HEADER_SIZE = _FIXED.size + body_fields.normalisation_bytes(N_INPUTS, N_OUTPUTS)  # 100

Layer = tuple[np.ndarray, np.ndarray]  # (weight (out, in), bias (out,)), float32


@dataclass
class ItmParams(body_fields.Normalisation):
    """Everything an MLP-ITM body holds (weights as float32 arrays)."""

    spatial: list[Layer]
    colour: list[Layer]
    spatial_frequencies: int = DEFAULT_FREQUENCIES
    colour_frequencies: int = DEFAULT_FREQUENCIES
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


def parameter_count(spatial_frequencies: int = DEFAULT_FREQUENCIES,
                    colour_frequencies: int = DEFAULT_FREQUENCIES,
                    spatial_layers: int = DEFAULT_HIDDEN_LAYERS,
                    colour_layers: int = DEFAULT_HIDDEN_LAYERS,
                    spatial_width: int = DEFAULT_WIDTH,
                    colour_width: int = DEFAULT_WIDTH) -> int:
    """Number of stored weights and biases for this shape."""
    s, c = layer_shapes(spatial_frequencies, colour_frequencies, spatial_layers,
                        colour_layers, spatial_width, colour_width)
    return sum(o * i + o for o, i in [*s, *c])


def body_size(spatial_frequencies: int = DEFAULT_FREQUENCIES,
              colour_frequencies: int = DEFAULT_FREQUENCIES,
              spatial_layers: int = DEFAULT_HIDDEN_LAYERS,
              colour_layers: int = DEFAULT_HIDDEN_LAYERS,
              spatial_width: int = DEFAULT_WIDTH, colour_width: int = DEFAULT_WIDTH,
              precision: str = "fp32") -> int:
    """Size in bytes of a version-1 body of this shape."""
    n = parameter_count(spatial_frequencies, colour_frequencies, spatial_layers,
                        colour_layers, spatial_width, colour_width)
    return HEADER_SIZE + n * body_fields.STORED_DTYPES[precision].itemsize


def check_shape(fs: int, fc: int, ls: int, lc: int, ws: int, wc: int) -> None:
    """Refuse frequency counts, layer counts and widths outside the format's limits."""
    if not (1 <= fs <= MAX_FREQUENCIES and 1 <= fc <= MAX_FREQUENCIES):
        raise GainMLPError(f"MLP-ITM declares {fs}/{fc} frequencies, outside 1..{MAX_FREQUENCIES}")
    if not (1 <= ls <= MAX_HIDDEN_LAYERS and 1 <= lc <= MAX_HIDDEN_LAYERS):
        raise GainMLPError(f"MLP-ITM declares {ls}/{lc} hidden layers, "
                           f"outside 1..{MAX_HIDDEN_LAYERS}")
    if not (1 <= ws <= MAX_WIDTH and 1 <= wc <= MAX_WIDTH):
        raise GainMLPError(f"MLP-ITM declares an absurd hidden width ({ws}/{wc}, "
                           f"limit {MAX_WIDTH})")


def pack_itm_body(params: ItmParams) -> bytes:
    """Serialise ``params`` as a version-1 body (weights rounded to ``params.precision``)."""
    codes = (body_fields.field_code(ACTIVATION_CODES, params.activation, "MLP-ITM", "activation"),
             body_fields.field_code(PRECISION_CODES, params.precision, "MLP-ITM", "precision"),
             body_fields.field_code(FUSION_CODES, params.fusion, "MLP-ITM", "fusion"))
    fs, fc = params.spatial_frequencies, params.colour_frequencies
    ls, lc = len(params.spatial) - 1, len(params.colour) - 1
    ws, wc = params.spatial_width, params.colour_width
    check_shape(fs, fc, ls, lc, ws, wc)
    want_s, want_c = layer_shapes(fs, fc, ls, lc, ws, wc)
    parts = [_FIXED.pack(BODY_VERSION, *codes, fs, fc, ls, lc, ws, wc),
             body_fields.pack_normalisation(params, N_INPUTS, N_OUTPUTS, "MLP-ITM")]
    for (w, b), shape in zip([*params.spatial, *params.colour], [*want_s, *want_c], strict=True):
        w32 = np.asarray(w, dtype=np.float32)
        b32 = np.asarray(b, dtype=np.float32).reshape(-1)
        if w32.shape != shape or b32.shape != (shape[0],):
            raise GainMLPError(f"MLP-ITM layer has shape {w32.shape}/{b32.shape}, "
                               f"expected {shape}/({shape[0]},)")
        parts += [body_fields.stored_bytes(arr, params.precision, "MLP-ITM weights")
                  for arr in (w32, b32)]
    return b"".join(parts)


def unpack_itm_body(body: bytes) -> ItmParams:
    """Parse and validate a body; raises :class:`GainMLPError` with a one-line message."""
    data = bytes(body)
    if len(data) < HEADER_SIZE:
        raise GainMLPError(f"MLP-ITM body is truncated ({len(data)} bytes)")
    version, act, prec, fusion, fs, fc, ls, lc, ws, wc = _FIXED.unpack_from(data)
    body_fields.check_body_version(version, SUPPORTED_BODY_VERSIONS, "MLP-ITM")
    activation = body_fields.field_name(ACTIVATION_CODES, act, "MLP-ITM", "activation")
    precision = body_fields.field_name(PRECISION_CODES, prec, "MLP-ITM", "precision")
    fusion_name = body_fields.field_name(FUSION_CODES, fusion, "MLP-ITM", "fusion")
    check_shape(fs, fc, ls, lc, ws, wc)
    check_network(parameter_count(fs, fc, ls, lc, ws, wc), "MLP-ITM body")
    expected = body_size(fs, fc, ls, lc, ws, wc, precision)
    if len(data) != expected:
        raise GainMLPError(f"MLP-ITM body has {len(data)} bytes but its declared shape "
                           f"needs {expected}")
    norm = body_fields.unpack_normalisation(data, _FIXED.size, N_INPUTS, N_OUTPUTS, "MLP-ITM")
    off = HEADER_SIZE
    dtype = body_fields.STORED_DTYPES[precision]
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
        **norm,
        spatial_frequencies=fs, colour_frequencies=fc,
        activation=activation, precision=precision, fusion=fusion_name,
    )


__all__ = ["BODY_VERSION", "METHOD", "ItmParams", "body_size", "layer_shapes",
           "pack_itm_body", "parameter_count", "unpack_itm_body"]
