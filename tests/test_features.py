"""The numpy inputs, normalisation and tiling both MLP codecs share (codecs/features.py)."""

from __future__ import annotations

import numpy as np
import pytest

from gainmlp.codecs import features
from gainmlp.codecs.features import (
    channel_stats,
    checked_sdr,
    chunks,
    coordinate_encodings,
    encode_numpy,
    normalise_inputs,
    pixel_centres,
    row_tiles,
)
from gainmlp.errors import GainMLPError


def test_encoding_layout() -> None:
    """Per input: the F sines for k ascending, then the F cosines, of 2^k * pi32 * n."""
    norm = np.array([[0.25, -0.5]], np.float32)
    enc = encode_numpy(norm, 3)
    a = np.float32(np.pi) * norm[0]
    expect = [np.sin(a[0] * 2.0**k) for k in range(3)] + [np.cos(a[0] * 2.0**k) for k in range(3)]
    expect += [np.sin(a[1] * 2.0**k) for k in range(3)] + [np.cos(a[1] * 2.0**k) for k in range(3)]
    assert enc.shape == (1, 12) and enc.dtype == np.float32
    np.testing.assert_allclose(enc[0], expect, atol=1e-6)


def test_normalisation_clips_to_unit_range() -> None:
    out = normalise_inputs(np.array([[0.0, 2.0, 0.5]]), np.array([0.5, 0.5, 0.5]),
                           np.array([0.25, 0.5, 1.0]))
    np.testing.assert_array_equal(out, [[-1.0, 1.0, 0.0]])
    assert out.dtype == np.float32


def test_coordinate_tables_are_the_per_pixel_encoding() -> None:
    centre = np.array([0.5, 0.4, 0.0, 0.0, 0.0], np.float32)
    scale = np.array([0.5, 0.6, 1.0, 1.0, 1.0], np.float32)
    enc_x, enc_y = coordinate_encodings(3, 5, centre, scale, 4)
    assert enc_x.shape == (5, 8) and enc_y.shape == (3, 8)
    xs = pixel_centres(5)
    np.testing.assert_array_equal(xs, ((np.arange(5) + 0.5) / 5).astype(np.float32))
    np.testing.assert_array_equal(
        enc_x, encode_numpy(normalise_inputs(xs[:, None], centre[:1], scale[:1]), 4))


def test_row_tiles_cover_the_image(monkeypatch: pytest.MonkeyPatch) -> None:
    sdr = np.random.default_rng(0).random((7, 5, 3)).astype(np.float32)
    sdr[0, 0] = [np.nan, np.inf, -np.inf]
    monkeypatch.setattr(features, "TILE_PIXELS", 11)  # two rows of 5 per tile
    tiles = list(row_tiles(sdr))
    assert [(r0, r1) for r0, r1, _ in tiles] == [(0, 2), (2, 4), (4, 6), (6, 7)]
    np.testing.assert_array_equal(tiles[0][2][0], [0.0, 1.0, 0.0])
    np.testing.assert_array_equal(np.concatenate([t for *_, t in tiles])[1:],
                                  sdr.reshape(-1, 3)[1:])


def test_chunked_stats_equal_whole_image_stats() -> None:
    values = np.random.default_rng(1).normal(size=(1000, 3))
    mean, dev, lo, hi = channel_stats(values[rows] for rows in chunks(1000, 64))
    np.testing.assert_allclose(mean, values.mean(axis=0))
    np.testing.assert_array_equal(lo, values.min(axis=0))
    np.testing.assert_array_equal(hi, values.max(axis=0))
    np.testing.assert_allclose(dev, np.maximum(hi - mean, mean - lo))
    flat = channel_stats([np.full((4, 2), 3.0)])
    np.testing.assert_array_equal(flat[1], [1e-6, 1e-6])  # never a zero scale
    with pytest.raises(GainMLPError):
        channel_stats([])


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_threaded_chunk_stats_are_the_serial_fold_bit_for_bit(threads: int) -> None:
    values = np.random.default_rng(2).lognormal(size=(1001, 3))  # sums that round
    serial = channel_stats(values[rows] for rows in chunks(1001, 64))
    threaded = features.chunk_stats(lambda rows: values[rows], 1001, 64, threads)
    for a, b in zip(serial, threaded, strict=True):
        np.testing.assert_array_equal(a, b)
    order = features.map_chunks(lambda rows: rows.start, 1001, 64, threads)
    assert order == list(range(0, 1001, 64))


def test_checked_sdr() -> None:
    sdr, height, width = checked_sdr(np.zeros((4, 6, 3), np.float32))
    assert (height, width) == (4, 6)
    for bad in (np.zeros((4, 6)), np.zeros((4, 6, 4))):
        with pytest.raises(GainMLPError):
            checked_sdr(bad)
