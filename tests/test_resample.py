"""The one resampling module (gainmlp.resample)."""

from __future__ import annotations

import numpy as np

from gainmlp.resample import (
    block_mean,
    resize_bicubic_float,
    resize_bicubic_u8,
    resize_box_float,
    scaled_size,
    upsample_bilinear,
)


def test_upsample_bilinear() -> None:
    img = np.arange(12, dtype=np.float32).reshape(3, 4)
    assert np.array_equal(upsample_bilinear(img, 3, 4), img)
    up = upsample_bilinear(np.full((2, 3, 3), 0.25, np.float32), 7, 11)
    assert up.shape == (7, 11, 3) and np.allclose(up, 0.25)
    ramp = upsample_bilinear(np.array([[0.0, 1.0]], np.float32), 1, 4)
    assert np.allclose(ramp, [[0.0, 0.25, 0.75, 1.0]])


def test_scaled_size() -> None:
    assert scaled_size(1001, 7, 4) == (250, 2)
    assert scaled_size(3, 1, 8) == (1, 1)


def test_block_mean_and_box_agree_on_whole_blocks() -> None:
    rng = np.random.default_rng(0)
    img = rng.random((12, 18, 3)).astype(np.float32)
    blocks = block_mean(img, 3)
    assert blocks.shape == (4, 6, 3)
    np.testing.assert_allclose(blocks[1, 2], img[3:6, 6:9].mean(axis=(0, 1)), rtol=1e-6)
    np.testing.assert_allclose(resize_box_float(img, 6, 4), blocks, rtol=1e-5, atol=1e-6)
    assert block_mean(img[:13], 3).shape == (4, 6, 3)  # a partial block row is dropped


def test_bicubic_keeps_constants_and_sizes() -> None:
    flat = np.full((8, 10, 3), 0.4, np.float32)
    np.testing.assert_allclose(resize_bicubic_float(flat, 25, 19), 0.4, atol=1e-6)
    u8 = np.full((8, 10, 3), 77, np.uint8)
    out = resize_bicubic_u8(u8, 3, 2)
    assert out.shape == (2, 3, 3) and out.dtype == np.uint8 and np.all(out == 77)
    assert resize_bicubic_u8(u8[:, :, 0], 5, 4).shape == (4, 5)
