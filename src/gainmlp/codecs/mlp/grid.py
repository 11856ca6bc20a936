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

GRID_PRECISIONS = ("fp32", "fp16", "u8")
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
    ``:fp16`` (the default), ``:fp32`` or ``:u8`` for how the grid values are stored.
    ``EncodeOptions.grid``'s other values (``"auto"``, ``"none"``...) are resolved first by
    :func:`gainmlp.options.grid_for`.
    """
    if spec is None:
        return None
    text = str(spec).strip().lower()
    shapes_txt, _, precision = text.partition(":")
    precision = precision or "fp16"
    if precision not in GRID_PRECISIONS:
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
