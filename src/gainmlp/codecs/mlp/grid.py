"""The learned grids beside the MLP: the option string, the limits, and the sampling maths.

A grid is a low-resolution field of free parameters fitted with the network and fed to
one of its layers (body versions 2 and 3; docs/grid.md says why and what it gains). This
module holds what both the fitter and the numpy decoder need to agree on: how a grid
option is parsed and checked, where a pixel samples a grid (cell centres, border
clamping; bilateral grids also along the SDR luma), and how grid values are rounded to
their stored precision. The rules themselves are specified in docs/payload-format.md.
Numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gainmlp.colorimetry import BT2020_LUMA_WEIGHTS
from gainmlp.errors import GainMLPError

#: ``u8``: affine u8 values stored raw; ``u8z``..``u4z``: the same affine u8 storage with
#: 256..16 levels, predicted and deflate-coded (:func:`code_values`; body grid precision 4).
CODED_PRECISIONS = ("u8z", "u7z", "u6z", "u5z", "u4z")
GRID_PRECISIONS = ("fp32", "fp16", "u8", *CODED_PRECISIONS)
MAX_GRIDS = 4
MIN_GRID_SIDE = 2
MAX_GRID_SIDE = 256
MAX_GRID_CHANNELS = 8
MAX_GRID_FEATURES = 16
MAX_GRID_DEPTH = 64
MAX_GRID_VALUES = 1 << 20
#: The luma of the bilateral grids' guide, on the SDR's PQ code values (float32).
LUMA_WEIGHTS = np.array(BT2020_LUMA_WEIGHTS, dtype=np.float32)

#: ``(rows, cols, C)`` for a spatial grid, ``(rows, cols, bins, C)`` for a bilateral one.
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
    """Parse a grid spec; ``None`` -> no grid.

    ``ROWSxCOLSxCHANNELS`` (e.g. ``"32x32x2"``) or ``ROWSxCOLSxBINSxCHANNELS`` (a
    bilateral grid with BINS cells along the SDR luma, e.g. ``"16x16x8x2"``), several
    joined by ``+`` (``"8x8x2+32x32x2"``, multi-resolution), optionally followed by
    ``:fp16`` (the default), ``:fp32``, ``:u8`` or ``:u8z``..``:u4z`` (u8 with 2^N levels,
    predicted and deflate-coded) for how the grid values are stored.
    ``EncodeOptions.grid``'s other values (``"auto"``, ``"none"``...) are resolved first by
    :func:`gainmlp.options.grid_for`.
    """
    if spec is None:
        return None
    text = str(spec).strip().lower()
    shapes_txt, _, precision = text.partition(":")
    precision = precision or "fp16"
    if precision not in GRID_PRECISIONS:
        raise GainMLPError(f"grid precision {precision!r} is not one of "
                           f"{', '.join(GRID_PRECISIONS)}")
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
    check_grid_shapes(spec_obj.shapes)
    return spec_obj


def check_grid_shapes(shapes: tuple[GridShape, ...] | list) -> None:
    """Refuse grid shapes outside the limits of the body format (one-line errors)."""
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


# -- sampling -------------------------------------------------------------------------------


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


# -- stored precision -----------------------------------------------------------------------


def is_coded(precision: str) -> bool:
    """Whether grid values at ``precision`` are predicted and deflate-coded (``u8z``..``u4z``)."""
    return precision in CODED_PRECISIONS


def is_affine(precision: str) -> bool:
    """Whether ``precision`` stores affine u8 values with per-channel (low, step)."""
    return precision == "u8" or is_coded(precision)


def quant_levels(precision: str) -> int:
    """Quantisation levels of an affine u8 precision: 256 for ``u8``/``u8z``, 2^N for uNz."""
    if not is_affine(precision):
        raise GainMLPError(f"grid precision {precision!r} is not an affine u8 storage")
    return 256 if precision == "u8" else 1 << int(precision[1])


def quantise_u8(grid: np.ndarray, levels: int = 256
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-channel affine u8 quantisation of a ``(rows, cols[, bins], C)`` grid with
    ``levels`` levels (2..256): (q in 0..levels-1, low, step)."""
    g = np.asarray(grid, dtype=np.float32)
    axes = tuple(range(g.ndim - 1))
    low = g.min(axis=axes).astype(np.float32)
    high = g.max(axis=axes).astype(np.float32)
    top = np.float32(levels - 1)
    step = np.maximum((high - low) / top, np.float32(1e-12)).astype(np.float32)
    q = np.clip(np.rint((g - low) / step), 0, levels - 1).astype(np.uint8)
    return q, low, step


def dequantise_grid(grid: np.ndarray, precision: str) -> np.ndarray:
    """The float32 values a decoder sees after storing ``grid`` at ``precision``."""
    g = np.asarray(grid, dtype=np.float32)
    if precision == "fp32":
        return g.copy()
    if precision == "fp16":
        return g.astype(np.float16).astype(np.float32)
    q, low, step = quantise_u8(g, quant_levels(precision))
    return (low + q.astype(np.float32) * step).astype(np.float32)


# -- grid coding (precision u8z..u4z) -------------------------------------------------------


def _planes(q: np.ndarray) -> np.ndarray:
    """``(rows, cols[, bins], C)`` u8 values -> ``(C, rows, cols * bins)`` planes."""
    q = np.asarray(q)
    return np.ascontiguousarray(np.moveaxis(q, -1, 0).reshape(q.shape[-1], q.shape[0], -1))


def _prediction(v: np.ndarray) -> np.ndarray:
    """The predictor of every sample of ``(C, R, K)`` planes (int32): the mean of the left
    and upper neighbours rounded down; the left one on the first row, the upper one in the
    first column, 0 at the origin."""
    v = v.astype(np.int32)
    pred = np.zeros_like(v)
    pred[:, 0, 1:] = v[:, 0, :-1]
    pred[:, 1:, 0] = v[:, :-1, 0]
    pred[:, 1:, 1:] = (v[:, 1:, :-1] + v[:, :-1, 1:]) >> 1
    return pred


def predict_residuals(q: np.ndarray) -> bytes:
    """One grid's u8 values as coded bytes before deflate: per channel plane (rows x
    cols * bins, row-major), ``(v - prediction) mod 256`` (:func:`_prediction`)."""
    v = _planes(q)
    return ((v.astype(np.int32) - _prediction(v)) & 0xFF).astype(np.uint8).tobytes()


def restore_residuals(data: bytes, shape: GridShape) -> np.ndarray:
    """Inverse of :func:`predict_residuals`: u8 values ``shape`` from its coded bytes.

    The prediction of a sample needs its left and upper neighbours, so the planes are
    rebuilt one anti-diagonal at a time (every sample of a diagonal at once)."""
    chans = int(shape[-1])
    rows = int(shape[0])
    k_len = int(np.prod(shape[1:-1]))
    res = np.frombuffer(data, dtype=np.uint8).reshape(chans, rows, k_len).astype(np.int32)
    v = np.zeros_like(res)
    for d in range(rows + k_len - 1):
        r = np.arange(max(0, d - k_len + 1), min(rows, d + 1))
        k = d - r
        if d == 0:
            pred = np.zeros((chans, 1), np.int32)
        else:
            left = v[:, r, np.maximum(k - 1, 0)]
            up = v[:, np.maximum(r - 1, 0), k]
            pred = np.where(r == 0, left, np.where(k == 0, up, (left + up) >> 1))
        v[:, r, k] = (res[:, r, k] + pred) & 0xFF
    planes = v.astype(np.uint8).reshape((chans, *[int(d) for d in shape[:-1]]))
    return np.ascontiguousarray(np.moveaxis(planes, 0, -1))


def deflate(data: bytes, fast: bool = False) -> bytes:
    """Raw deflate (RFC 1951, no zlib or gzip wrapper) of ``data``, by zopfli
    (``imagecodecs``): any inflater reads it; zopfli's output is 5-10 % smaller than
    zlib's level 9 on grid residuals (docs/grid.md). ``fast``: zlib's level 1 instead, for
    a body only unpacked again (the same values, ~100x faster)."""
    if fast:
        import zlib

        packer = zlib.compressobj(1, zlib.DEFLATED, -15)
        return packer.compress(data) + packer.flush()
    import imagecodecs

    return bytes(imagecodecs.zopfli_encode(data, format=2))


def inflate(data: bytes, size: int) -> bytes:
    """Inflate a raw deflate stream that must hold exactly ``size`` bytes and nothing after
    them; never allocates more than ``size + 1`` bytes (one-line :class:`GainMLPError`)."""
    import zlib

    d = zlib.decompressobj(-15)
    try:
        out = d.decompress(data, size + 1)
    except zlib.error:
        out = b""
    if len(out) != size or not d.eof or d.unused_data or d.unconsumed_tail:
        raise GainMLPError(f"MLP body's coded grid values do not inflate to exactly {size} "
                           f"bytes")
    return out
