"""The colour-index kernels (kernels/colour_index.py) against their numpy references, and
the SDR -> HDR-space conversion per distinct colour (codecs/indexed.py) against the
per-pixel one: all exact (identical arrays).

Measured: identical (max abs difference 0) on every case below.
"""

from __future__ import annotations

import numpy as np
import pytest

from gainmlp.codecs.indexed import IndexedSdr, as_array, index_sdr8
from gainmlp.colorimetry import SdrEncoding, sdr8_to_hdr_space
from gainmlp.kernels import colour_index as ci


def _images() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    smooth = (np.linspace(0, 1, 61)[None, :, None] * np.linspace(0.2, 1, 47)[:, None, None]
              * np.array([255, 180, 90])).astype(np.uint8)
    return {
        "smooth": smooth,
        "noise": rng.integers(0, 256, (53, 71, 3), dtype=np.uint8),
        "few": rng.integers(0, 3, (40, 30, 3), dtype=np.uint8) * 127,
        "one-colour": np.full((9, 7, 3), 200, np.uint8),
        "one-pixel": np.array([[[255, 0, 17]]], np.uint8),
        "extremes": np.array([[[0, 0, 0], [255, 255, 255]], [[255, 255, 255], [0, 0, 255]]],
                             np.uint8),
    }


@pytest.mark.parametrize("name", sorted(_images()))
def test_compiled_index_equals_numpy_unique(name: str) -> None:
    img = _images()[name]
    ids, palette = ci.index_colours(img)
    ref_ids, ref_palette = ci.index_colours_numpy(img)
    assert ids.dtype == np.int32 and palette.dtype == np.uint8
    np.testing.assert_array_equal(ids, ref_ids)
    np.testing.assert_array_equal(palette, ref_palette)
    np.testing.assert_array_equal(palette[ids], img)


def test_index_threads_and_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    img = _images()["noise"]
    whole = ci.index_colours(img, threads=1)
    monkeypatch.setattr(ci, "CHUNK_PIXELS", 97)
    for threads in (1, 2, 3):
        ids, palette = ci.index_colours(img, threads=threads)
        np.testing.assert_array_equal(ids, whole[0])
        np.testing.assert_array_equal(palette, whole[1])


def test_index_takes_non_contiguous_views_and_refuses_other_input() -> None:
    img = _images()["noise"]
    view = img[::2, 1::3]
    np.testing.assert_array_equal(ci.index_colours(view)[0], ci.index_colours_numpy(view)[0])
    from gainmlp.errors import GainMLPError

    with pytest.raises(GainMLPError):
        ci.index_colours(img.astype(np.float32))
    with pytest.raises(GainMLPError):
        ci.index_colours(img[..., :2])


def test_gather_rows_equals_numpy_take(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    table = rng.random((50, 4)).astype(np.float32)
    ids = rng.integers(0, 50, (13, 17)).astype(np.int32)
    monkeypatch.setattr(ci, "CHUNK_PIXELS", 10)
    np.testing.assert_array_equal(ci.gather_rows(table, ids), table[ids])


@pytest.mark.parametrize("encoding", [SdrEncoding(), SdrEncoding("p3", "srgb", 203.0),
                                      SdrEncoding("bt709", "srgb", 100.0)])
@pytest.mark.parametrize("name", ["smooth", "noise", "extremes"])
def test_sdr_to_hdr_space_per_colour_is_exact(name: str, encoding: SdrEncoding) -> None:
    img = _images()[name]
    indexed = index_sdr8(img, encoding)
    assert isinstance(indexed, IndexedSdr) and indexed.shape == img.shape
    expect = sdr8_to_hdr_space(img, encoding)
    np.testing.assert_array_equal(indexed.expand(), expect)
    np.testing.assert_array_equal(as_array(indexed), expect)


def test_api_conversion_uses_the_palette_with_the_same_values(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from gainmlp.api import sdr_in_hdr_space, sdr_in_hdr_space_indexed

    img = _images()["noise"]
    expect = sdr8_to_hdr_space(img, SdrEncoding())
    assert isinstance(sdr_in_hdr_space_indexed(img, SdrEncoding()), IndexedSdr)
    np.testing.assert_array_equal(sdr_in_hdr_space(img, SdrEncoding()), expect)
    monkeypatch.setenv("GAINMLP_KERNELS", "numpy")
    assert isinstance(sdr_in_hdr_space_indexed(img, SdrEncoding()), np.ndarray)
    np.testing.assert_array_equal(sdr_in_hdr_space(img, SdrEncoding()), expect)
