"""The learned grids' option string, limits and sampling maths (codecs/mlp/grid.py).

Numpy only: the grids' round trips are in test_mlp_format.py, their decoding in
test_mlp_decode.py and their fitting in test_mlp_fit.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from gainmlp.codecs.mlp.decode import grid_features_at
from gainmlp.codecs.mlp.format import MlpParams
from gainmlp.codecs.mlp.grid import (
    GridSpec,
    dequantise_grid,
    grid_taps,
    guide_range,
    inflate,
    luma_guide,
    parse_grid_spec,
    predict_residuals,
    quant_levels,
    quantise_u8,
    restore_residuals,
)
from gainmlp.errors import GainMLPError


def test_parse_grid_spec() -> None:
    assert parse_grid_spec(None) is None
    assert parse_grid_spec("32x32x2") == GridSpec(((32, 32, 2),), "fp16")
    spec = parse_grid_spec("8x8x2+32x24x1:u8")
    assert spec == GridSpec(((8, 8, 2), (32, 24, 1)), "u8") and spec.n_features == 3
    assert str(spec) == "8x8x2+32x24x1:u8" and parse_grid_spec(str(spec)) == spec
    for bad in ("32x32", "axbxc", "1x32x2", "300x2x2", "8x8x9", "8x8x2:int4",
                "8x8x8+8x8x8+2x2x1", "2x2x1+2x2x1+2x2x1+2x2x1+2x2x1"):
        with pytest.raises(GainMLPError):
            parse_grid_spec(bad)


def test_parse_bilateral_spec() -> None:
    spec = parse_grid_spec("16x16x8x2+32x32x1:u8")
    assert spec == GridSpec(((16, 16, 8, 2), (32, 32, 1)), "u8") and spec.n_features == 3
    assert str(spec) == "16x16x8x2+32x32x1:u8"
    for bad in ("16x16x1x2", "16x16x65x2", "16x16x8x0", "2x2x2x2x2", "256x256x64x8"):
        with pytest.raises(GainMLPError):
            parse_grid_spec(bad)


def test_taps_align_with_cell_centres() -> None:
    """With as many pixels as cells, each pixel centre sits on a cell centre."""
    i0, i1, f = grid_taps(8, 8)
    assert np.array_equal(i0, np.arange(8)) and np.all(f == 0)
    i0, i1, f = grid_taps(8, 4)  # pixel centres at 1/16, 3/16, ... -> g = -0.25, 0.25, ...
    assert list(i0) == [0, 0, 0, 1, 1, 2, 2, 3] and list(i1) == [1, 1, 1, 2, 2, 3, 3, 3]
    np.testing.assert_allclose(f, [0, 0.25, 0.75, 0.25, 0.75, 0.25, 0.75, 0])


def test_luma_guide_uses_bt2020_weights() -> None:
    sdr = np.array([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0], [0.5, 0.5, 0.5]], np.float32)
    np.testing.assert_allclose(luma_guide(sdr, 0.0, 1.0), [0.2627, 0.6780, 0.0593, 0.5],
                               atol=1e-6)
    np.testing.assert_allclose(luma_guide(sdr, 0.1, 0.3), [0.8135, 1.0, 0.0, 1.0], atol=1e-5)
    assert guide_range(np.full((4, 4, 3), 0.2, np.float32))[1] > 0.2  # never empty


def test_trilinear_features_reproduce_a_linear_field() -> None:
    """Inside the grid, trilinear interpolation of a linear function is exact."""
    rows, cols, bins = 5, 7, 6
    r, c, z = np.meshgrid(np.arange(rows), np.arange(cols), np.arange(bins), indexing="ij")
    field = (0.5 * r - 0.25 * c + 2.0 * z)[..., None].astype(np.float32)
    zeros = np.zeros(3, np.float32)
    p = MlpParams(activation="relu", weights=[np.zeros((4, 122), np.float32),
                                              np.zeros((3, 4), np.float32)],
                  in_centre=np.zeros(5, np.float32), in_scale=np.ones(5, np.float32),
                  out_centre=zeros, out_scale=zeros + 1, out_min=zeros, out_max=zeros,
                  grids=[field], grid_guide=(0.0, 0.5))
    rng = np.random.default_rng(3)
    x, y = rng.uniform(0.15, 0.85, 200), rng.uniform(0.15, 0.85, 200)
    sdr = np.repeat(rng.uniform(0.1, 0.4, 200)[:, None], 3, axis=1).astype(np.float32)
    v = sdr[:, 0] / 0.5  # a grey pixel's luma is its value; guide maps [0, 0.5] to [0, 1]
    expect = 0.5 * (y * rows - 0.5) - 0.25 * (x * cols - 0.5) + 2.0 * (v * bins - 0.5)
    got = grid_features_at(p, x, y, sdr)[:, 0]
    np.testing.assert_allclose(got, expect, atol=1e-4)


@pytest.mark.parametrize("precision", ["fp32", "fp16", "u8"])
def test_dequantise_is_what_the_body_stores(precision: str) -> None:
    grid = np.random.default_rng(4).normal(size=(3, 5, 2)).astype(np.float32)
    seen = dequantise_grid(grid, precision)
    assert seen.dtype == np.float32 and seen.shape == grid.shape
    if precision == "fp32":
        np.testing.assert_array_equal(seen, grid)
    elif precision == "fp16":
        np.testing.assert_array_equal(seen, grid.astype(np.float16).astype(np.float32))
    else:
        _, low, step = quantise_u8(grid)
        assert np.all(np.abs(seen - grid) <= step / 2 + 1e-6)


# -- coded grids (u8z..u4z) ------------------------------------------------------------------


def test_coded_precisions_parse_and_quantise_with_their_levels() -> None:
    assert parse_grid_spec("96x96x8:u6z") == GridSpec(((96, 96, 8),), "u6z")
    assert [quant_levels(p) for p in ("u8", "u8z", "u7z", "u6z", "u5z", "u4z")] == [
        256, 256, 128, 64, 32, 16]
    with pytest.raises(GainMLPError, match="u4z"):
        parse_grid_spec("8x8x2:u3z")
    grid = np.random.default_rng(5).normal(size=(6, 7, 3)).astype(np.float32)
    for precision in ("u8z", "u6z", "u4z"):
        q, low, step = quantise_u8(grid, quant_levels(precision))
        assert q.max() == quant_levels(precision) - 1 and q.min() == 0
        seen = dequantise_grid(grid, precision)
        np.testing.assert_array_equal(seen, low + q.astype(np.float32) * step)
        assert np.all(np.abs(seen - grid) <= step / 2 + 1e-6)


def test_residuals_follow_the_specified_predictor() -> None:
    """Hand-computed: plane [[10, 20], [30, 5]] -> 10, 20-10, 30-10, 5-floor((30+20)/2)."""
    q = np.array([[[10], [20]], [[30], [5]]], np.uint8)
    assert predict_residuals(q) == bytes([10, 10, 20, (5 - 25) % 256])
    # channels become planes; a bilateral grid's bins run along the plane's columns
    q = np.arange(2 * 2 * 3 * 2, dtype=np.uint8).reshape(2, 2, 3, 2)
    res = np.frombuffer(predict_residuals(q), np.uint8).reshape(2, 2, 6)
    np.testing.assert_array_equal(res[1, 0], [1, 2, 2, 2, 2, 2])  # channel 1, first row
    assert res[0, 1, 0] == 12  # first column of row 1: minus the sample above
    assert res[0, 1, 1] == 14 - (12 + 2) // 2


@pytest.mark.parametrize("shape", [(2, 2, 1), (5, 7, 3), (3, 4, 6, 2), (64, 40, 8)])
def test_residuals_round_trip(shape) -> None:
    q = np.random.default_rng(len(shape)).integers(0, 256, shape).astype(np.uint8)
    np.testing.assert_array_equal(restore_residuals(predict_residuals(q), shape), q)
    smooth = np.add.outer(np.arange(shape[0]), np.arange(int(np.prod(shape[1:])))) % 256
    smooth = smooth.astype(np.uint8).reshape(shape)
    np.testing.assert_array_equal(restore_residuals(predict_residuals(smooth), shape), smooth)


def test_inflate_refuses_what_is_not_exactly_the_values() -> None:
    import zlib

    data = bytes(range(200)) * 3
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    stream = c.compress(data) + c.flush()
    assert inflate(stream, len(data)) == data
    for bad, size in [(stream, len(data) - 1), (stream, len(data) + 1), (stream[:-1], len(data)),
                      (stream + b"\0", len(data)), (b"\xff" * 20, len(data)), (b"", 1)]:
        with pytest.raises(GainMLPError, match="do not inflate to exactly"):
            inflate(bad, size)
    bomb = zlib.compress(bytes(10_000_000))[2:-4]  # raw stream of 10 MB of zeros
    with pytest.raises(GainMLPError, match="exactly 100 bytes"):
        inflate(bomb, 100)
