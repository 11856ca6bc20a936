"""The Gain-MLP payload *body*: a versioned, little-endian binary format (numpy only).

The outer payload (``gainmlp.container.payload``) carries the method, image size, eps and a
CRC; the body carries one small MLP, the constants needed to evaluate it and, from body
version 2 on, its learned grids. Nothing in it is ever unpickled or executed;
:func:`unpack_mlp_body` validates every field before it allocates anything.

docs/payload-format.md is the specification of body versions 1, 2 and 3, field by field,
and of how a decoder evaluates them. A writer picks the lowest version that holds the
network: 1 without grids, 2 with spatial grids, 3 when a grid has a luma axis. This module
holds the wire format only: the grid option and sampling rules are in
:mod:`gainmlp.codecs.mlp.grid`, the evaluation in :mod:`gainmlp.codecs.mlp.decode`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

from gainmlp.codecs import body_fields
from gainmlp.codecs.mlp.grid import (
    MAX_GRIDS,
    GridShape,
    check_grid_shapes,
    deflate,
    grid_dims,
    inflate,
    is_affine,
    is_bilateral,
    is_coded,
    predict_residuals,
    quant_levels,
    quantise_u8,
    restore_residuals,
)
from gainmlp.errors import GainMLPError
from gainmlp.memory import check_network

BODY_VERSION = 1
GRID_BODY_VERSION = 2
BILATERAL_BODY_VERSION = 3
SUPPORTED_BODY_VERSIONS = (1, 2, 3)

ACTIVATION_CODES: dict[str, int] = {"relu": 1, "sine": 2}
PRECISION_CODES: dict[str, int] = {"fp32": 1, "fp16": 2}
#: Code 4 (``u8z``): the u8 storage of code 3, its values predicted and deflate-coded;
#: the writer's ``u7z``..``u4z`` are code 4 too (fewer levels, same storage).
GRID_PRECISION_CODES: dict[str, int] = {"fp32": 1, "fp16": 2, "u8": 3, "u8z": 4}
OUTPUT_TRANSFORM_CODES: dict[str, int] = {"linear": 0, "log2": 1}
_GRID_ITEM_BYTES = {"fp32": 4, "fp16": 2, "u8": 1, "u8z": 1}

N_INPUTS = 5
N_FREQUENCIES = 12
N_OUTPUTS = 3
MAX_WIDTH = 1024
MAX_HIDDEN_LAYERS = 8
MAX_INPUTS = 16
MAX_FREQUENCIES = 24
MAX_OUTPUTS = 16

_FIXED = struct.Struct("<BBBBBBBB")
_GRID_HEAD = struct.Struct("<BBBB")
_GRID_DIMS = struct.Struct("<HHB")
_GUIDE = struct.Struct("<ff")
_GRID_DIMS3 = struct.Struct("<HHBB")


@dataclass
class MlpParams(body_fields.Normalisation):
    """Everything a body holds: the network's weights and its normalisation constants.

    ``weights`` are float32 arrays, row-major ``(out, in)``: the first has
    ``2 * n_frequencies * n_inputs + 1`` columns (the last multiplies a constant 1).
    ``grids`` (body version 2) are float32 arrays ``(rows, cols, channels)``, or
    ``(rows, cols, bins, channels)`` for bilateral grids (body version 3, sampled at the
    SDR luma mapped through ``grid_guide`` = (low, high), see
    :func:`gainmlp.codecs.mlp.grid.luma_guide`); the matrix of layer ``grid_entry`` then
    has ``n_grid_features`` extra columns (docs/payload-format.md says where).
    """

    activation: str
    weights: list[np.ndarray]
    output_transform: str = "linear"
    precision: str = "fp32"
    n_frequencies: int = N_FREQUENCIES
    extra: dict = field(default_factory=dict)
    grids: list[np.ndarray] = field(default_factory=list)
    grid_entry: int = 1
    grid_precision: str = "fp16"
    grid_guide: tuple[float, float] = (0.0, 1.0)

    @property
    def n_inputs(self) -> int:
        return int(np.asarray(self.in_centre).size)

    @property
    def n_outputs(self) -> int:
        return int(np.asarray(self.out_centre).size)

    @property
    def hidden_widths(self) -> list[int]:
        return [int(w.shape[0]) for w in self.weights[:-1]]

    @property
    def encoded_width(self) -> int:
        """Columns of the first matrix: the encoding, the grid features if they enter
        there, and the constant-one column."""
        extra = self.n_grid_features if self.grid_entry == 1 else 0
        return 2 * self.n_frequencies * self.n_inputs + extra + 1

    @property
    def n_grid_features(self) -> int:
        return sum(int(g.shape[-1]) for g in self.grids)

    @property
    def has_bilateral(self) -> bool:
        return any(np.asarray(g).ndim == 4 for g in self.grids)

    @property
    def grid_shapes(self) -> list[GridShape]:
        return [tuple(int(d) for d in g.shape) for g in self.grids]

    def grid_columns(self) -> slice:
        """The columns of ``weights[grid_entry - 1]`` that multiply the grid features."""
        n_g = self.n_grid_features
        if self.grid_entry == 1:
            start = 2 * self.n_frequencies * self.n_inputs
        else:
            start = int(self.weights[self.grid_entry - 1].shape[1]) - n_g
        return slice(start, start + n_g)


def _check_shapes(params: MlpParams) -> None:
    n_in, n_out = params.n_inputs, params.n_outputs
    if not (1 <= n_in <= MAX_INPUTS) or not (1 <= n_out <= MAX_OUTPUTS):
        raise GainMLPError(f"MLP has {n_in} inputs / {n_out} outputs, outside the limits")
    if not (1 <= params.n_frequencies <= MAX_FREQUENCIES):
        raise GainMLPError(f"MLP has {params.n_frequencies} frequencies, outside 1..24")
    if not (2 <= len(params.weights) <= MAX_HIDDEN_LAYERS + 1):
        raise GainMLPError(f"MLP has {len(params.weights)} weight matrices, expected 2..9")
    if params.grids:
        for g in params.grids:
            if np.asarray(g).ndim not in (3, 4):
                raise GainMLPError("MLP grids must be (rows, cols[, bins], channels) arrays")
        check_grid_shapes(params.grid_shapes)
        if not (1 <= params.grid_entry <= len(params.weights) - 1):
            raise GainMLPError(f"MLP grid entry layer {params.grid_entry} is outside "
                               f"1..{len(params.weights) - 1}")
        body_fields.field_code(GRID_PRECISION_CODES, stored_precision(params.grid_precision),
                               "MLP", "grid precision")
        if params.has_bilateral:
            low, high = (float(v) for v in params.grid_guide)
            if not (np.isfinite(low) and np.isfinite(high) and high > low):
                raise GainMLPError(f"MLP grid guide range {params.grid_guide} is not a "
                                   f"finite interval")
    fan_in = params.encoded_width
    for i, w in enumerate(params.weights):
        if params.grids and i == params.grid_entry - 1 and i > 0:
            fan_in += params.n_grid_features
        if w.ndim != 2 or w.shape[1] != fan_in:
            raise GainMLPError(f"MLP weight matrix {i} has shape {w.shape}, expected (*, {fan_in})")
        if i < len(params.weights) - 1 and not (1 <= w.shape[0] <= MAX_WIDTH):
            raise GainMLPError(f"MLP hidden width {w.shape[0]} is outside 1..{MAX_WIDTH}")
        fan_in = w.shape[0]
    if params.weights[-1].shape[0] != n_out:
        raise GainMLPError(f"MLP output matrix has {params.weights[-1].shape[0]} rows, "
                           f"expected {n_out}")


def pack_mlp_body(params: MlpParams, fast: bool = False) -> bytes:
    """Serialise ``params`` as a version-1 body (weights rounded to ``params.precision``).
    ``fast``: coded grids deflated by zlib's fastest level, not zopfli (a valid body with the
    same values, larger: for judging the stored network before its bytes are final)."""
    codes = (body_fields.field_code(ACTIVATION_CODES, params.activation, "MLP", "activation"),
             body_fields.field_code(PRECISION_CODES, params.precision, "MLP", "precision"),
             body_fields.field_code(OUTPUT_TRANSFORM_CODES, params.output_transform, "MLP",
                        "output transform"))
    _check_shapes(params)
    n_in, n_out = params.n_inputs, params.n_outputs
    hidden = params.hidden_widths
    version = (BILATERAL_BODY_VERSION if params.has_bilateral
               else GRID_BODY_VERSION if params.grids else BODY_VERSION)
    parts = [
        _FIXED.pack(version, *codes, n_in, params.n_frequencies, len(hidden), n_out),
        struct.pack(f"<{len(hidden)}H", *hidden),
        body_fields.pack_normalisation(params, n_in, n_out, "MLP"),
    ]
    grid_values = b""
    if params.grids:
        grid_head, grid_values = _pack_grids(params, fast)
        parts.append(grid_head)
    parts += [body_fields.stored_bytes(w, params.precision, "MLP weights") for w in params.weights]
    parts.append(grid_values)
    return b"".join(parts)


def _pack_grids(params: MlpParams, fast: bool = False) -> tuple[bytes, bytes]:
    """(grid section, grid values) of a version-2 or version-3 body."""
    prec = params.grid_precision
    code = GRID_PRECISION_CODES[stored_precision(prec)]
    head = [_GRID_HEAD.pack(len(params.grids), params.grid_entry, code, 0)]
    if params.has_bilateral:
        head.append(_GUIDE.pack(*(float(v) for v in params.grid_guide)))
        head += [_GRID_DIMS3.pack(*grid_dims(shape)) for shape in params.grid_shapes]
    else:
        head += [_GRID_DIMS.pack(*shape) for shape in params.grid_shapes]
    values = []
    for g in params.grids:
        g32 = np.asarray(g, dtype=np.float32)
        if is_affine(prec):
            if not np.all(np.isfinite(g32)):
                raise GainMLPError("MLP grid: non-finite values")
            q, low, step = quantise_u8(g32, quant_levels(prec))
            head.append(np.stack([low, step], axis=1).astype("<f4").tobytes())
            values.append(predict_residuals(q) if is_coded(prec)
                          else np.ascontiguousarray(q).tobytes())
        else:
            values.append(body_fields.stored_bytes(g32, prec, "MLP grid"))
    if is_coded(prec):
        return b"".join(head), deflate(b"".join(values), fast)
    return b"".join(head), b"".join(values)


def stored_precision(precision: str) -> str:
    """The body's name for a grid precision: ``u8z`` for every coded one (``u7z``..``u4z``
    only quantise with fewer levels), else the precision itself."""
    return "u8z" if is_coded(precision) else precision


def _n_values(shapes: list[GridShape]) -> int:
    return sum(int(np.prod(s)) for s in shapes)


def _grid_head_size(shapes: list[GridShape], precision: str) -> int:
    """Bytes of a version-2/3 grid section before the weights (no values)."""
    n_chan = sum(int(s[-1]) for s in shapes)
    if any(is_bilateral(s) for s in shapes):
        dims = _GUIDE.size + _GRID_DIMS3.size * len(shapes)
    else:
        dims = _GRID_DIMS.size * len(shapes)
    return _GRID_HEAD.size + dims + (8 * n_chan if is_affine(precision) else 0)


def grid_section_size(shapes: list[GridShape], precision: str) -> int:
    """Bytes a version-2/3 body spends on its grids (section, values; not the columns).

    For a coded precision (``u8z``..``u4z``) the values' bytes depend on the values: this
    is the size with them stored raw (one byte each), what the coding saves from."""
    item = _GRID_ITEM_BYTES[stored_precision(precision)]
    return _grid_head_size(shapes, precision) + _n_values(shapes) * item


def body_size(n_inputs: int, n_frequencies: int, hidden: list[int], n_outputs: int,
              precision: str, grids: list[GridShape] | None = None,
              grid_entry: int = 1, grid_precision: str = "fp16") -> int:
    """Size in bytes of a body with this shape (version 2 or 3 when ``grids`` is non-empty);
    with coded grids, the size before coding (:func:`grid_section_size`)."""
    header = _FIXED.size + 2 * len(hidden) + body_fields.normalisation_bytes(n_inputs, n_outputs)
    n_g = sum(int(s[-1]) for s in grids) if grids else 0
    count = 0
    for layer, fan_in in enumerate(_fan_ins(n_inputs, n_frequencies, hidden, n_g, grid_entry)):
        count += [*hidden, n_outputs][layer] * fan_in
    size = header + count * body_fields.STORED_DTYPES[precision].itemsize
    if grids:
        size += grid_section_size(list(grids), grid_precision)
    return size


def _fan_ins(n_inputs: int, n_frequencies: int, hidden: list[int], n_grid: int,
             grid_entry: int) -> list[int]:
    """Columns of each stored weight matrix."""
    fans = [2 * n_frequencies * n_inputs + 1, *hidden]
    if n_grid:
        fans[grid_entry - 1] += n_grid
    return fans


def unpack_mlp_body(body: bytes) -> MlpParams:
    """Parse and validate a body; raises :class:`GainMLPError` with a one-line message."""
    data = bytes(body)
    if len(data) < _FIXED.size:
        raise GainMLPError(f"MLP body is truncated ({len(data)} bytes)")
    version, act, prec, transform, n_in, n_freq, n_hidden, n_out = _FIXED.unpack_from(data)
    body_fields.check_body_version(version, SUPPORTED_BODY_VERSIONS, "MLP")
    activation = body_fields.field_name(ACTIVATION_CODES, act, "MLP", "activation")
    precision = body_fields.field_name(PRECISION_CODES, prec, "MLP", "precision")
    output_transform = body_fields.field_name(OUTPUT_TRANSFORM_CODES, transform, "MLP",
                                         "output transform")
    if not (1 <= n_in <= MAX_INPUTS and 1 <= n_freq <= MAX_FREQUENCIES
            and 1 <= n_hidden <= MAX_HIDDEN_LAYERS and 1 <= n_out <= MAX_OUTPUTS):
        raise GainMLPError(f"MLP body declares an absurd shape ({n_in} inputs, {n_freq} "
                           f"frequencies, {n_hidden} hidden layers, {n_out} outputs)")
    off = _FIXED.size
    if len(data) < off + 2 * n_hidden:
        raise GainMLPError("MLP body is truncated inside its hidden widths")
    hidden = list(struct.unpack_from(f"<{n_hidden}H", data, off))
    off += 2 * n_hidden
    for w in hidden:
        if not (1 <= w <= MAX_WIDTH):
            raise GainMLPError(f"MLP body declares an absurd hidden width {w} (limit {MAX_WIDTH})")
    head_end = off + body_fields.normalisation_bytes(n_in, n_out)
    shapes: list[GridShape] = []
    grid_entry, grid_prec, grid_consts = 1, "fp16", np.zeros((0, 2), np.float32)
    guide = (0.0, 1.0)
    if version in (GRID_BODY_VERSION, BILATERAL_BODY_VERSION):
        shapes, grid_entry, grid_prec, grid_consts, guide = _unpack_grid_section(
            data, head_end, n_hidden, version == BILATERAL_BODY_VERSION)
    expected = body_size(n_in, n_freq, hidden, n_out, precision, shapes, grid_entry, grid_prec)
    if is_coded(grid_prec):  # the values are a deflate stream: everything before them fixed
        values = _n_values(shapes)
        if len(data) <= expected - values:
            raise GainMLPError(f"MLP body has {len(data)} bytes but its declared shape needs "
                               f"{expected - values} and coded grid values")
        coded = inflate(data[expected - values:], values)
        data = data[:expected - values]
    elif len(data) != expected:
        raise GainMLPError(f"MLP body has {len(data)} bytes but its declared shape needs "
                           f"{expected}")
    norm = body_fields.unpack_normalisation(data, off, n_in, n_out, "MLP")
    off = head_end
    if shapes:
        off += _grid_head_size(shapes, grid_prec)
    dtype = body_fields.STORED_DTYPES[precision]
    weights = []
    n_g = sum(int(s[-1]) for s in shapes)
    fans = _fan_ins(n_in, n_freq, hidden, n_g, grid_entry)
    check_network(sum(w * f for w, f in zip([*hidden, n_out], fans, strict=True)), "MLP body")
    for w, fan_in in zip([*hidden, n_out], fans, strict=True):
        mat = np.frombuffer(data, dtype=dtype, count=w * fan_in, offset=off)
        off += w * fan_in * dtype.itemsize
        mat = mat.astype(np.float32).reshape(w, fan_in)
        if not np.all(np.isfinite(mat)):
            raise GainMLPError("MLP body holds non-finite weights")
        weights.append(mat)
    grids = []
    ch0 = 0
    top_code = 0  # the largest u8 code of coded grids: how many levels the writer used
    for shape in shapes:
        chans = int(shape[-1])
        count = int(np.prod(shape))
        if is_affine(grid_prec):
            if is_coded(grid_prec):
                q = restore_residuals(coded[:count], shape)
                coded = coded[count:]
                top_code = max(top_code, int(q.max()))
            else:
                q = np.frombuffer(data, dtype=np.uint8, count=count, offset=off)
                off += count
            low, step = grid_consts[ch0:ch0 + chans, 0], grid_consts[ch0:ch0 + chans, 1]
            g = (low + q.reshape(shape).astype(np.float32) * step)
        else:
            gd = body_fields.STORED_DTYPES[grid_prec]
            g = np.frombuffer(data, dtype=gd, count=count, offset=off).astype(np.float32)
            off += count * gd.itemsize
        g = np.asarray(g, dtype=np.float32).reshape(shape)
        if not np.all(np.isfinite(g)):
            raise GainMLPError("MLP body holds non-finite grid values")
        grids.append(g)
        ch0 += chans
    if is_coded(grid_prec):  # u4z..u8z, as the writer's levels (2^N) reach: repacks alike
        grid_prec = f"u{min(8, max(4, top_code.bit_length()))}z"
    return MlpParams(
        activation=activation,
        weights=weights,
        **norm,
        output_transform=output_transform,
        precision=precision,
        n_frequencies=n_freq,
        grids=grids,
        grid_entry=grid_entry,
        grid_precision=grid_prec,
        grid_guide=guide,
    )


def _unpack_grid_section(data: bytes, off: int, n_hidden: int, bilateral: bool
                         ) -> tuple[list[GridShape], int, str, np.ndarray, tuple[float, float]]:
    """Shapes, entry layer, precision, u8 constants and guide range of a grid section
    (version 2, or version 3 when ``bilateral``)."""
    if len(data) < off + _GRID_HEAD.size:
        raise GainMLPError("MLP body is truncated inside its grid section")
    count, entry, prec, reserved = _GRID_HEAD.unpack_from(data, off)
    off += _GRID_HEAD.size
    if not (1 <= count <= MAX_GRIDS) or reserved != 0:
        raise GainMLPError(f"MLP body declares {count} grids (limit {MAX_GRIDS}) or a "
                           f"non-zero reserved byte")
    if not (1 <= entry <= n_hidden):
        raise GainMLPError(f"MLP body's grids enter layer {entry}, outside 1..{n_hidden}")
    precision = body_fields.field_name(GRID_PRECISION_CODES, prec, "MLP", "grid precision")
    guide = (0.0, 1.0)
    if bilateral:
        if len(data) < off + _GUIDE.size:
            raise GainMLPError("MLP body is truncated inside its grid guide range")
        low, high = _GUIDE.unpack_from(data, off)
        off += _GUIDE.size
        if not (np.isfinite(low) and np.isfinite(high) and high > low):
            raise GainMLPError("MLP body holds a bad grid guide range")
        guide = (float(low), float(high))
    dims = _GRID_DIMS3 if bilateral else _GRID_DIMS
    if len(data) < off + dims.size * count:
        raise GainMLPError("MLP body is truncated inside its grid shapes")
    raw = [dims.unpack_from(data, off + dims.size * i) for i in range(count)]
    off += dims.size * count
    shapes = [tuple(int(v) for v in r) for r in raw]
    if bilateral:  # (rows, cols, bins, C); one bin is a plain grid
        shapes = [s if s[2] != 1 else (s[0], s[1], s[3]) for s in shapes]
    check_grid_shapes(shapes)
    consts = np.zeros((0, 2), np.float32)
    if is_affine(precision):
        n_chan = sum(int(s[-1]) for s in shapes)
        if len(data) < off + 8 * n_chan:
            raise GainMLPError("MLP body is truncated inside its grid constants")
        consts = np.frombuffer(data, dtype="<f4", count=2 * n_chan, offset=off).reshape(-1, 2)
        if not np.all(np.isfinite(consts)) or np.any(consts[:, 1] <= 0):
            raise GainMLPError("MLP body holds bad grid quantisation constants")
        consts = consts.astype(np.float32)
    return shapes, entry, precision, consts, guide


def describe_body(body: bytes) -> str:
    """The configuration a body holds, as the options spell it: grid spec with its storage
    (or ``none``), hidden width, weight precision, e.g. ``"32x32x4:u8 w16 fp16"``."""
    params = unpack_mlp_body(body)
    grids = "+".join("x".join(str(d) for d in g.shape) for g in params.grids)
    grid = f"{grids}:{params.grid_precision}" if grids else "none"
    return f"{grid} w{params.hidden_widths[0]} {params.precision}"
