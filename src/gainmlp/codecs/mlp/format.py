"""The MLP payload *body*: a documented, versioned, little-endian binary format (numpy only).

The outer payload (``gainmlp.container.payload``) carries the method, image size, eps and a
CRC; this body carries one small MLP and the constants needed to evaluate it. Nothing in it
is ever unpickled or executed; :func:`unpack_mlp_body` validates every field before it
allocates anything.

Layout of body version 1 (all integers unsigned, little-endian)::

    offset       size        field
    0            1           body version (u8) = 1
    1            1           hidden activation (u8): 1 relu, 2 sine (plain sin(x), as tcnn)
    2            1           weight precision (u8): 1 fp32, 2 fp16 (IEEE binary16)
    3            1           output transform (u8): 0 linear, 1 log2 (see below)
    4            1           input count n_in (u8) = 5: x, y, r, g, b
    5            1           frequency count n_freq (u8) = 12
    6            1           hidden layer count L (u8), 1..8
    7            1           output count n_out (u8) = 3
    8            2*L         hidden widths w_1..w_L (u16 each), 1..1024
    8+2L         8*n_in      input normalisation, per input: centre (f32), scale (f32)
    ...          16*n_out    output normalisation, per output: centre, scale, min, max (f32)
    ...          rest        weight matrices, row-major (out x in), in the weight precision:
                             W_1: w_1 x (2*n_freq*n_in + 1), W_2: w_2 x w_1, ...,
                             W_out: n_out x w_L

With the defaults (5 inputs, 12 frequencies, 2 hidden layers of 16, 3 outputs) the header
and constants take 100 bytes and the weights 2240 values: 9060 bytes of body in fp32
(9100-byte payload with the 40-byte outer header and CRC), 4580 bytes in fp16 (4620).

Evaluation (see ``mlp_decode``): each raw input ``v`` (x, y are pixel centres in (0, 1),
``(i + 0.5) / W``; r, g, b are the SDR's PQ BT.2020 code values) is normalised to
``n = clip((v - centre) / scale, -1, 1)`` in float32, then encoded as
``sin(2^k * a)`` and ``cos(2^k * a)`` with ``a = float32(pi) * n`` rounded to float32,
k = 0..n_freq-1 (the power-of-two scaling of ``a`` is exact). The first layer's columns are
ordered input by input; for each input, the n_freq sines (k ascending), then the n_freq
cosines. The last column of ``W_1`` multiplies a constant 1.

That last column is how the tiny-cuda-nn layout is stored without its padding:
tiny-cuda-nn pads the 120 encoded values to 128 with constant ones (a bias in disguise)
and the 3 outputs to 16 rows. The eight padding columns always see the same input, so only
their sum matters: we store that sum as one column. The 13 padding output rows never reach
an output and are dropped. Neither changes the function the network computes; the tcnn
layout of 16*128 + 16*16 + 16*16 = 2560 weights becomes 16*121 + 16*16 + 3*16 = 2240.

Hidden layers have no biases; each hidden layer is ``act(W h)``, the output layer is linear.

Output normalisation: the network predicts ``t`` in about [-1, 1]; the decoder forms
``T = clip(t * scale + centre, min, max)`` per channel. For gain and gamma maps with output
transform log2, ``T`` is log2 of the map (so the map is ``2 ** T``, as eqs. 2/3 work in
log2); with transform linear, ``T`` is the map itself. For direct-MLP, ``T`` is the HDR PQ
code value (transform linear). ``centre`` is the mean of ``T`` over the image, ``scale``
the largest deviation from it (so the target spans [-1, 1] around its mean), ``min``/``max``
the range of ``T``.

Body version 2: a learned low-resolution field ("grid") beside the MLP
---------------------------------------------------------------------------------------
Written only when the network has one or more grids (a grid-free network is always written
as version 1, byte for byte as before). Everything of version 1 up to and including the
output normalisation is unchanged (byte 0 = 2); then comes a grid section, then the
weights, then the grid values::

    offset       size        field
    (after the output normalisation)
    +0           1           grid count G (u8), 1..4
    +1           1           entry layer e (u8), 1..L: the grids feed layer e's pre-activation
    +2           1           grid precision (u8): 1 fp32, 2 fp16, 3 u8 (affine, per channel)
    +3           1           reserved (u8) = 0
    +4           5*G         per grid: rows GH (u16), columns GW (u16), channels C (u8);
                             2 <= GH, GW <= 256, 1 <= C <= 8, sum of C <= 16
    ...          8*sum(C)    only for precision u8: per grid, per channel: low (f32), step (f32)
    ...          ...         weight matrices as in version 1, except that W_e has sum(C)
                             extra columns, the grid channels in grid order: for e = 1 they sit
                             between the encoding and the constant-one column
                             (W_1: w_1 x (2*n_freq*n_in + sum(C) + 1)); for e > 1 they follow
                             the w_(e-1) regular columns (W_e: w_e x (w_(e-1) + sum(C)))
    ...          rest        grid values, grid by grid, each GH x GW x C row-major (channels
                             interleaved, rows top to bottom), in the grid precision; u8
                             values v decode to ``low + v * step`` (float32)

Body version 3: bilateral grids (a third axis indexed by the SDR's luma)
---------------------------------------------------------------------------------------
Written only when at least one grid has a luma axis (otherwise version 2 or 1, as above).
Identical to version 2 except for the grid section, which becomes::

    +0           1           grid count G (u8), 1..4
    +1           1           entry layer e (u8), 1..L
    +2           1           grid precision (u8): 1 fp32, 2 fp16, 3 u8
    +3           1           reserved (u8) = 0
    +4           4           guide low (f32)
    +8           4           guide high (f32), > guide low
    +12          6*G         per grid: rows GH (u16), columns GW (u16), luma bins GD (u8),
                             channels C (u8); GD = 1 is a plain 2-D grid, 2 <= GD <= 64 a
                             bilateral grid; at most 2**20 values per grid
    ...          8*sum(C)    only for precision u8, as in version 2

and each grid's values are ``GH x GW x GD x C`` row-major (channels fastest, then luma bins).
The guide of a pixel is the luma of its SDR input, ``Y' = 0.2627 r + 0.6780 g + 0.0593 b``
(BT.2020 weights on the PQ code values), mapped to ``v = clip((Y' - low) / (high - low), 0,
1)`` in float32; along the luma axis the grid is sampled like along a spatial one, with
``GD`` cells over [0, 1] (``g = v * GD - 0.5`` clamped to ``[0, GD - 1]``), and a pixel's
features are the trilinear interpolation of the eight surrounding samples. A bilateral
grid follows edges of the SDR image the way a bilateral filter does, which is what a local
tone mapper's smooth adaptation layer (computed by such a filter) looks like.

Sampling: a pixel's grid features are the bilinear interpolation of each grid at the
pixel centre, with grid samples at *cell centres* (the texture convention, like
``align_corners=False`` with border clamping): for a pixel centre ``u = (i + 0.5) / W``
the continuous grid column is ``g = u * GW - 0.5`` clamped to ``[0, GW - 1]``, the taps are
``floor(g)`` and ``min(floor(g) + 1, GW - 1)`` and the weight of the second tap is
``g - floor(g)``; rows likewise with ``H`` and ``GH`` (computed in float64, weights rounded
to float32). The features enter linearly: layer e's pre-activation gains
``W_e[:, grid columns] @ features``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

from gainmlp.errors import GainMLPError

BODY_VERSION = 1
GRID_BODY_VERSION = 2
BILATERAL_BODY_VERSION = 3
SUPPORTED_BODY_VERSIONS = (1, 2, 3)

ACTIVATION_CODES: dict[str, int] = {"relu": 1, "sine": 2}
PRECISION_CODES: dict[str, int] = {"fp32": 1, "fp16": 2}
GRID_PRECISION_CODES: dict[str, int] = {"fp32": 1, "fp16": 2, "u8": 3}
OUTPUT_TRANSFORM_CODES: dict[str, int] = {"linear": 0, "log2": 1}
_ACTIVATION_NAMES = {c: n for n, c in ACTIVATION_CODES.items()}
_PRECISION_NAMES = {c: n for n, c in PRECISION_CODES.items()}
_TRANSFORM_NAMES = {c: n for n, c in OUTPUT_TRANSFORM_CODES.items()}
_GRID_PRECISION_NAMES = {c: n for n, c in GRID_PRECISION_CODES.items()}
_DTYPES = {"fp32": np.dtype("<f4"), "fp16": np.dtype("<f2")}

N_INPUTS = 5
N_FREQUENCIES = 12
N_OUTPUTS = 3
MAX_WIDTH = 1024
MAX_HIDDEN_LAYERS = 8
MAX_INPUTS = 16
MAX_FREQUENCIES = 24
MAX_OUTPUTS = 16
MAX_GRIDS = 4
MIN_GRID_SIDE = 2
MAX_GRID_SIDE = 256
MAX_GRID_CHANNELS = 8
MAX_GRID_FEATURES = 16
MAX_GRID_DEPTH = 64
MAX_GRID_VALUES = 1 << 20
LUMA_WEIGHTS = np.array([0.2627, 0.6780, 0.0593], dtype=np.float32)  # BT.2020

_FIXED = struct.Struct("<BBBBBBBB")
_GRID_HEAD = struct.Struct("<BBBB")
_GRID_DIMS = struct.Struct("<HHB")
_GUIDE = struct.Struct("<ff")
_GRID_DIMS3 = struct.Struct("<HHBB")

GridShape = tuple[int, ...]


def grid_dims(shape: GridShape) -> tuple[int, int, int, int]:
    """``(rows, cols, C)`` or ``(rows, cols, bins, C)`` -> ``(rows, cols, bins, C)``."""
    if len(shape) == 3:
        return int(shape[0]), int(shape[1]), 1, int(shape[2])
    if len(shape) == 4:
        return tuple(int(d) for d in shape)  # type: ignore[return-value]
    raise GainMLPError(f"grid shape {tuple(shape)} is neither (rows, cols, C) nor "
                       f"(rows, cols, bins, C)")


def is_bilateral(shape: GridShape) -> bool:
    """Whether a grid shape has a luma axis (body version 3)."""
    return len(shape) == 4


@dataclass(frozen=True)
class GridSpec:
    """What to fit beside the MLP: grid shapes and storage.

    A shape is ``(rows, cols, channels)`` (a spatial grid) or ``(rows, cols, bins,
    channels)`` (a bilateral grid, whose third axis is the SDR luma). Parsed from the
    option string of :func:`parse_grid_spec`.
    """

    shapes: tuple[GridShape, ...]
    precision: str = "fp16"

    @property
    def n_features(self) -> int:
        return sum(int(s[-1]) for s in self.shapes)

    def __str__(self) -> str:
        txt = "+".join("x".join(str(d) for d in s) for s in self.shapes)
        return txt if self.precision == "fp16" else f"{txt}:{self.precision}"


def parse_grid_spec(spec: str | None) -> GridSpec | None:
    """Parse ``EncodeOptions.grid``: ``None``/``"none"``/``"off"``/``""`` -> no grid.

    Otherwise ``ROWSxCOLSxCHANNELS`` (e.g. ``"32x32x2"``) or ``ROWSxCOLSxBINSxCHANNELS``
    (a bilateral grid with BINS cells along the SDR luma, e.g. ``"16x16x8x2"``), several
    joined by ``+`` (``"8x8x2+32x32x2"``, multi-resolution), optionally followed by ``:fp16`` (the
    default), ``:fp32`` or ``:u8`` for how the grid values are stored. ``"auto"`` is
    resolved by the fitter (``mlp_fit.resolve_grid``), not here.
    """
    if spec is None:
        return None
    text = str(spec).strip().lower()
    if text in ("", "none", "off", "no", "0"):
        return None
    shapes_txt, _, precision = text.partition(":")
    precision = precision or "fp16"
    if precision not in GRID_PRECISION_CODES:
        raise GainMLPError(f"grid precision {precision!r} is not one of fp32, fp16, u8")
    shapes = []
    for part in shapes_txt.split("+"):
        dims = part.strip().split("x")
        try:
            shape = tuple(int(d) for d in dims)
        except ValueError:
            shape = ()
        if len(shape) not in (3, 4):
            raise GainMLPError(f"grid {part!r} is not ROWSxCOLSxCHANNELS (e.g. 32x32x2) or "
                               f"ROWSxCOLSxBINSxCHANNELS (e.g. 16x16x8x2)")
        shapes.append(shape)
    spec_obj = GridSpec(tuple(shapes), precision)
    _check_grid_shapes(spec_obj.shapes)
    return spec_obj


def _check_grid_shapes(shapes: tuple[GridShape, ...] | list) -> None:
    if not (1 <= len(shapes) <= MAX_GRIDS):
        raise GainMLPError(f"{len(shapes)} grids, expected 1..{MAX_GRIDS}")
    for shape in shapes:
        rows, cols, bins, chans = grid_dims(shape)
        name = "x".join(str(d) for d in shape)
        if not (MIN_GRID_SIDE <= rows <= MAX_GRID_SIDE and MIN_GRID_SIDE <= cols <= MAX_GRID_SIDE
                and 1 <= chans <= MAX_GRID_CHANNELS):
            raise GainMLPError(f"grid {name} is outside the limits "
                               f"({MIN_GRID_SIDE}..{MAX_GRID_SIDE} per side, "
                               f"1..{MAX_GRID_CHANNELS} channels)")
        if is_bilateral(shape) and not (2 <= bins <= MAX_GRID_DEPTH):
            raise GainMLPError(f"grid {name} has {bins} luma bins, outside 2..{MAX_GRID_DEPTH}")
        if rows * cols * bins * chans > MAX_GRID_VALUES:
            raise GainMLPError(f"grid {name} has more than {MAX_GRID_VALUES} values")
    if sum(int(s[-1]) for s in shapes) > MAX_GRID_FEATURES:
        raise GainMLPError(f"grids have more than {MAX_GRID_FEATURES} channels in all")


def grid_taps(n_pixels: int, n_cells: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bilinear taps along one axis for pixel centres: (first tap, second tap, weight).

    ``g = clip((i + 0.5) / n_pixels * n_cells - 0.5, 0, n_cells - 1)`` in float64;
    taps ``floor(g)`` and ``min(floor(g) + 1, n_cells - 1)`` (int64), weight of the second
    tap ``g - floor(g)`` as float32.
    """
    u = (np.arange(n_pixels, dtype=np.float64) + 0.5) / n_pixels
    return taps_at(u, n_cells)


def taps_at(u: np.ndarray, n_cells: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`grid_taps` for arbitrary coordinates ``u`` in [0, 1] (float64)."""
    g = np.clip(np.asarray(u, dtype=np.float64) * n_cells - 0.5, 0.0, n_cells - 1.0)
    i0 = np.floor(g).astype(np.int64)
    i1 = np.minimum(i0 + 1, n_cells - 1)
    return i0, i1, (g - i0).astype(np.float32)


def luma_guide(sdr: np.ndarray, low: float, high: float) -> np.ndarray:
    """The bilateral grids' third coordinate: ``clip((Y' - low) / (high - low), 0, 1)``.

    ``sdr``: ``(..., 3)`` SDR PQ code values; ``Y'`` uses the BT.2020 luma weights on the
    code values (float32). Returns float32 ``(...)``.
    """
    s = np.asarray(sdr, dtype=np.float32)
    y = s[..., 0] * LUMA_WEIGHTS[0] + s[..., 1] * LUMA_WEIGHTS[1] + s[..., 2] * LUMA_WEIGHTS[2]
    span = np.float32(high) - np.float32(low)
    return np.clip((y - np.float32(low)) / span, np.float32(0.0), np.float32(1.0))


def guide_range(sdr: np.ndarray) -> tuple[float, float]:
    """``(low, high)`` for :func:`luma_guide`: the luma range of the image (never empty)."""
    s = np.asarray(sdr, dtype=np.float32).reshape(-1, 3)
    y = s @ LUMA_WEIGHTS
    low, high = float(np.float32(y.min())), float(np.float32(y.max()))
    if not high > low + 1e-4:
        high = low + 1e-4
    return low, high


@dataclass
class MlpParams:
    """Everything a body holds: the network's weights and its normalisation constants.

    ``weights`` are float32 arrays, row-major ``(out, in)``: the first has
    ``2 * n_frequencies * n_inputs + 1`` columns (the last multiplies a constant 1).
    ``grids`` (body version 2) are float32 arrays ``(rows, cols, channels)``, or
    ``(rows, cols, bins, channels)`` for bilateral grids (body version 3, sampled at the
    SDR luma mapped through ``grid_guide`` = (low, high), see :func:`luma_guide`); the
    matrix of layer ``grid_entry`` then has ``n_grid_features`` extra columns (see the
    module docstring for where).
    """

    activation: str
    weights: list[np.ndarray]
    in_centre: np.ndarray
    in_scale: np.ndarray
    out_centre: np.ndarray
    out_scale: np.ndarray
    out_min: np.ndarray
    out_max: np.ndarray
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


def _f32(values: np.ndarray | list[float], n: int, what: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float32).reshape(-1)
    if arr.size != n:
        raise GainMLPError(f"MLP {what} has {arr.size} values, expected {n}")
    if not np.all(np.isfinite(arr)):
        raise GainMLPError(f"MLP {what} holds non-finite values")
    return arr


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
        _check_grid_shapes(params.grid_shapes)
        if not (1 <= params.grid_entry <= len(params.weights) - 1):
            raise GainMLPError(f"MLP grid entry layer {params.grid_entry} is outside "
                               f"1..{len(params.weights) - 1}")
        if params.grid_precision not in GRID_PRECISION_CODES:
            raise GainMLPError(f"unknown MLP grid precision {params.grid_precision!r}")
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


def pack_mlp_body(params: MlpParams) -> bytes:
    """Serialise ``params`` as a version-1 body (weights rounded to ``params.precision``)."""
    if params.activation not in ACTIVATION_CODES:
        raise GainMLPError(f"unknown MLP activation {params.activation!r}")
    if params.precision not in PRECISION_CODES:
        raise GainMLPError(f"unknown MLP precision {params.precision!r}")
    if params.output_transform not in OUTPUT_TRANSFORM_CODES:
        raise GainMLPError(f"unknown MLP output transform {params.output_transform!r}")
    _check_shapes(params)
    n_in, n_out = params.n_inputs, params.n_outputs
    hidden = params.hidden_widths
    version = (BILATERAL_BODY_VERSION if params.has_bilateral
               else GRID_BODY_VERSION if params.grids else BODY_VERSION)
    parts = [
        _FIXED.pack(version, ACTIVATION_CODES[params.activation],
                    PRECISION_CODES[params.precision],
                    OUTPUT_TRANSFORM_CODES[params.output_transform],
                    n_in, params.n_frequencies, len(hidden), n_out),
        struct.pack(f"<{len(hidden)}H", *hidden),
    ]
    ic = _f32(params.in_centre, n_in, "input centre")
    isc = _f32(params.in_scale, n_in, "input scale")
    parts.append(np.stack([ic, isc], axis=1).astype("<f4").tobytes())
    out = np.stack([_f32(params.out_centre, n_out, "output centre"),
                    _f32(params.out_scale, n_out, "output scale"),
                    _f32(params.out_min, n_out, "output min"),
                    _f32(params.out_max, n_out, "output max")], axis=1)
    parts.append(out.astype("<f4").tobytes())
    grid_values = b""
    if params.grids:
        grid_head, grid_values = _pack_grids(params)
        parts.append(grid_head)
    dtype = _DTYPES[params.precision]
    for w in params.weights:
        w32 = np.asarray(w, dtype=np.float32)
        if not np.all(np.isfinite(w32)):
            raise GainMLPError("MLP weights hold non-finite values")
        wq = w32.astype(dtype)
        if not np.all(np.isfinite(wq)):
            raise GainMLPError(f"MLP weights overflow {params.precision}")
        parts.append(np.ascontiguousarray(wq).tobytes())
    parts.append(grid_values)
    return b"".join(parts)


def quantise_u8(grid: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-channel affine u8 quantisation of a ``(rows, cols[, bins], C)`` grid:
    (q, low, step)."""
    g = np.asarray(grid, dtype=np.float32)
    axes = tuple(range(g.ndim - 1))
    low = g.min(axis=axes).astype(np.float32)
    high = g.max(axis=axes).astype(np.float32)
    step = np.maximum((high - low) / np.float32(255.0), np.float32(1e-12)).astype(np.float32)
    q = np.clip(np.rint((g - low) / step), 0, 255).astype(np.uint8)
    return q, low, step


def dequantise_grid(grid: np.ndarray, precision: str) -> np.ndarray:
    """The float32 values a decoder sees after storing ``grid`` at ``precision``."""
    g = np.asarray(grid, dtype=np.float32)
    if precision == "fp32":
        return g.copy()
    if precision == "fp16":
        return g.astype(np.float16).astype(np.float32)
    q, low, step = quantise_u8(g)
    return (low + q.astype(np.float32) * step).astype(np.float32)


def _pack_grids(params: MlpParams) -> tuple[bytes, bytes]:
    """(grid section, grid values) of a version-2 or version-3 body."""
    prec = params.grid_precision
    head = [_GRID_HEAD.pack(len(params.grids), params.grid_entry, GRID_PRECISION_CODES[prec], 0)]
    if params.has_bilateral:
        head.append(_GUIDE.pack(*(float(v) for v in params.grid_guide)))
        head += [_GRID_DIMS3.pack(*grid_dims(shape)) for shape in params.grid_shapes]
    else:
        head += [_GRID_DIMS.pack(*shape) for shape in params.grid_shapes]
    values = []
    for g in params.grids:
        g32 = np.asarray(g, dtype=np.float32)
        if not np.all(np.isfinite(g32)):
            raise GainMLPError("MLP grid holds non-finite values")
        if prec == "u8":
            q, low, step = quantise_u8(g32)
            head.append(np.stack([low, step], axis=1).astype("<f4").tobytes())
            values.append(np.ascontiguousarray(q).tobytes())
        else:
            gq = g32.astype(_DTYPES[prec])
            if not np.all(np.isfinite(gq)):
                raise GainMLPError(f"MLP grid overflows {prec}")
            values.append(np.ascontiguousarray(gq).tobytes())
    return b"".join(head), b"".join(values)


def _n_values(shapes: list[GridShape]) -> int:
    return sum(int(np.prod(s)) for s in shapes)


_GRID_ITEM_BYTES = {"fp32": 4, "fp16": 2, "u8": 1}


def _grid_head_size(shapes: list[GridShape], precision: str) -> int:
    """Bytes of a version-2/3 grid section before the weights (no values)."""
    n_chan = sum(int(s[-1]) for s in shapes)
    if any(is_bilateral(s) for s in shapes):
        dims = _GUIDE.size + _GRID_DIMS3.size * len(shapes)
    else:
        dims = _GRID_DIMS.size * len(shapes)
    return _GRID_HEAD.size + dims + (8 * n_chan if precision == "u8" else 0)


def grid_section_size(shapes: list[GridShape], precision: str) -> int:
    """Bytes a version-2/3 body spends on its grids (section, values; not the columns)."""
    return _grid_head_size(shapes, precision) + _n_values(shapes) * _GRID_ITEM_BYTES[precision]


def body_size(n_inputs: int, n_frequencies: int, hidden: list[int], n_outputs: int,
              precision: str, grids: list[GridShape] | None = None,
              grid_entry: int = 1, grid_precision: str = "fp16") -> int:
    """Size in bytes of a body with this shape (version 2 or 3 when ``grids`` is non-empty)."""
    header = _FIXED.size + 2 * len(hidden) + 8 * n_inputs + 16 * n_outputs
    n_g = sum(int(s[-1]) for s in grids) if grids else 0
    count = 0
    for layer, fan_in in enumerate(_fan_ins(n_inputs, n_frequencies, hidden, n_g, grid_entry)):
        count += [*hidden, n_outputs][layer] * fan_in
    size = header + count * _DTYPES[precision].itemsize
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
    if version not in SUPPORTED_BODY_VERSIONS:
        raise GainMLPError(f"MLP body version {version} is not supported "
                           f"(this gainmlp reads {SUPPORTED_BODY_VERSIONS})")
    if act not in _ACTIVATION_NAMES:
        raise GainMLPError(f"MLP body has unknown activation code {act}")
    if prec not in _PRECISION_NAMES:
        raise GainMLPError(f"MLP body has unknown precision code {prec}")
    if transform not in _TRANSFORM_NAMES:
        raise GainMLPError(f"MLP body has unknown output transform code {transform}")
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
    precision = _PRECISION_NAMES[prec]
    head_end = off + 8 * n_in + 16 * n_out
    shapes: list[GridShape] = []
    grid_entry, grid_prec, grid_consts = 1, "fp16", np.zeros((0, 2), np.float32)
    guide = (0.0, 1.0)
    if version in (GRID_BODY_VERSION, BILATERAL_BODY_VERSION):
        shapes, grid_entry, grid_prec, grid_consts, guide = _unpack_grid_section(
            data, head_end, n_hidden, version == BILATERAL_BODY_VERSION)
    expected = body_size(n_in, n_freq, hidden, n_out, precision, shapes, grid_entry, grid_prec)
    if len(data) != expected:
        raise GainMLPError(f"MLP body has {len(data)} bytes but its declared shape needs "
                           f"{expected}")
    ins = np.frombuffer(data, dtype="<f4", count=2 * n_in, offset=off).reshape(n_in, 2)
    off += 8 * n_in
    outs = np.frombuffer(data, dtype="<f4", count=4 * n_out, offset=off).reshape(n_out, 4)
    off += 16 * n_out
    if not (np.all(np.isfinite(ins)) and np.all(np.isfinite(outs))):
        raise GainMLPError("MLP body holds non-finite normalisation constants")
    if np.any(ins[:, 1] <= 0) or np.any(outs[:, 1] <= 0):
        raise GainMLPError("MLP body holds a non-positive normalisation scale")
    if np.any(outs[:, 2] > outs[:, 3]):
        raise GainMLPError("MLP body holds an output minimum above its maximum")
    if shapes:
        off += _grid_head_size(shapes, grid_prec)
    dtype = _DTYPES[precision]
    weights = []
    n_g = sum(int(s[-1]) for s in shapes)
    fans = _fan_ins(n_in, n_freq, hidden, n_g, grid_entry)
    for w, fan_in in zip([*hidden, n_out], fans, strict=True):
        mat = np.frombuffer(data, dtype=dtype, count=w * fan_in, offset=off)
        off += w * fan_in * dtype.itemsize
        mat = mat.astype(np.float32).reshape(w, fan_in)
        if not np.all(np.isfinite(mat)):
            raise GainMLPError("MLP body holds non-finite weights")
        weights.append(mat)
    grids = []
    ch0 = 0
    for shape in shapes:
        chans = int(shape[-1])
        count = int(np.prod(shape))
        if grid_prec == "u8":
            q = np.frombuffer(data, dtype=np.uint8, count=count, offset=off)
            off += count
            low, step = grid_consts[ch0:ch0 + chans, 0], grid_consts[ch0:ch0 + chans, 1]
            g = (low + q.reshape(shape).astype(np.float32) * step)
        else:
            gd = _DTYPES[grid_prec]
            g = np.frombuffer(data, dtype=gd, count=count, offset=off).astype(np.float32)
            off += count * gd.itemsize
        g = np.asarray(g, dtype=np.float32).reshape(shape)
        if not np.all(np.isfinite(g)):
            raise GainMLPError("MLP body holds non-finite grid values")
        grids.append(g)
        ch0 += chans
    return MlpParams(
        activation=_ACTIVATION_NAMES[act],
        weights=weights,
        in_centre=ins[:, 0].copy(),
        in_scale=ins[:, 1].copy(),
        out_centre=outs[:, 0].copy(),
        out_scale=outs[:, 1].copy(),
        out_min=outs[:, 2].copy(),
        out_max=outs[:, 3].copy(),
        output_transform=_TRANSFORM_NAMES[transform],
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
    if prec not in _GRID_PRECISION_NAMES:
        raise GainMLPError(f"MLP body has unknown grid precision code {prec}")
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
    _check_grid_shapes(shapes)
    precision = _GRID_PRECISION_NAMES[prec]
    consts = np.zeros((0, 2), np.float32)
    if precision == "u8":
        n_chan = sum(int(s[-1]) for s in shapes)
        if len(data) < off + 8 * n_chan:
            raise GainMLPError("MLP body is truncated inside its grid constants")
        consts = np.frombuffer(data, dtype="<f4", count=2 * n_chan, offset=off).reshape(-1, 2)
        if not np.all(np.isfinite(consts)) or np.any(consts[:, 1] <= 0):
            raise GainMLPError("MLP body holds bad grid quantisation constants")
        consts = consts.astype(np.float32)
    return shapes, entry, precision, consts, guide
