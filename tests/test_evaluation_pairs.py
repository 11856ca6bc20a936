"""The experiments' pair cache: made once per image x tone mapper x size, read back exactly."""

from __future__ import annotations

import numpy as np
import pytest

from gainmlp.errors import GainMLPError
from gainmlp.evaluation.pairs import (
    downscale_linear,
    hdr_images,
    load_pq_pair,
    pair_folder,
    prepare_pairs,
    read_pair,
)
from gainmlp.scene import demo_scene


@pytest.fixture
def data_dir(tmp_path):
    import OpenEXR

    data = tmp_path / "data"
    data.mkdir()
    OpenEXR.File({}, {"RGB": demo_scene(30, 44, seed=3)}).write(str(data / "scene.exr"))
    (data / "notes.txt").write_text("not an image")
    return data


def test_downscale_resample_hits_the_long_side_exactly():
    rgb = np.random.default_rng(0).random((90, 140, 3), dtype=np.float32)
    small = downscale_linear(rgb, 64)
    assert small.shape == (41, 64, 3) and small.dtype == np.float32
    assert np.isclose(small.mean(), rgb.mean(), rtol=1e-2)
    assert downscale_linear(rgb, 200) is rgb and downscale_linear(rgb, None) is rgb


def test_downscale_blocks_averages_whole_blocks():
    rgb = np.random.default_rng(1).random((90, 140, 3), dtype=np.float32)
    small = downscale_linear(rgb, 64, "blocks")  # k = ceil(140 / 64) = 3
    assert small.shape == (30, 46, 3)
    np.testing.assert_allclose(small[1, 2], rgb[3:6, 6:9].mean(axis=(0, 1)), rtol=1e-6)
    assert downscale_linear(rgb, 0, "blocks") is rgb
    with pytest.raises(GainMLPError):
        downscale_linear(rgb, 64, "nearest")


def test_pairs_are_cached_and_read_back_exactly(data_dir, tmp_path):
    from gainmlp.pair import make_pair

    cache = tmp_path / "cache"
    pairs = prepare_pairs(data_dir, cache, ("drago", "local"), None)
    assert [(img, tmo) for img, tmo, _ in pairs] == [("scene", "drago"), ("scene", "local")]
    assert pairs[1][2] == pair_folder(cache, "scene", "local", None)
    assert pairs[1][2] == cache / "pairs" / "scene_local_full"
    stamps = [(f / "hdr.png").stat().st_mtime_ns for _, _, f in pairs]
    assert prepare_pairs(data_dir, cache, ("drago", "local"), None) == pairs
    assert [(f / "hdr.png").stat().st_mtime_ns for _, _, f in pairs] == stamps

    from gainmlp.io import read_hdr_linear

    sdr_u8, hdr_u16 = make_pair(read_hdr_linear(data_dir / "scene.exr"), "bt2020", "local")
    sdr, hdr = read_pair(pairs[1][2])
    np.testing.assert_array_equal(sdr.pixels, sdr_u8)
    np.testing.assert_array_equal(hdr, hdr_u16.astype(np.float32) / 65535)


def test_every_study_shares_one_cache(data_dir, tmp_path):
    """The grid study's pairs at full size are the bench's; smaller ones differ by resize."""
    from gainmlp.api import sdr_in_hdr_space

    cache = tmp_path / "cache"
    [(_, _, folder)] = prepare_pairs(data_dir, cache, ("ward",), None)
    sdr_pq, hdr_pq = load_pq_pair(data_dir, "scene", "ward", 0, cache, "blocks")
    assert sorted(p.name for p in (cache / "pairs").iterdir()) == ["scene_ward_full"]
    sdr, hdr = read_pair(folder)
    np.testing.assert_array_equal(hdr_pq, hdr)
    np.testing.assert_array_equal(sdr_pq, sdr_in_hdr_space(sdr.pixels, sdr.encoding))
    assert sdr_pq.dtype == hdr_pq.dtype == np.float32

    small, _ = load_pq_pair(data_dir, "scene", "ward", 16, cache, "blocks")
    assert small.shape == (10, 14, 3)  # blocks of 3 x 3 pixels
    prepare_pairs(data_dir, cache, ("ward",), 16)
    assert sorted(p.name for p in (cache / "pairs").iterdir()) == [
        "scene_ward_16", "scene_ward_blocks16", "scene_ward_full"]


def test_a_folder_without_hdr_images_is_an_error(tmp_path):
    with pytest.raises(GainMLPError, match="no .exr or .hdr"):
        hdr_images(tmp_path)
