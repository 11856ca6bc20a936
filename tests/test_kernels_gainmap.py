"""The fused gain-map kernels and the PQ tables against their numpy references."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gainmlp import colorimetry
from gainmlp.kernels import gainmap as fused
from gainmlp.kernels import pq

GAINMAP_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "gainmap"
M709_TO_2020 = np.ascontiguousarray(
    colorimetry.convert_primaries(np.eye(3), "srgb", "bt2020").T)


def test_pq_encode_table_error_is_as_stated() -> None:
    rng = np.random.default_rng(0)
    nits = np.concatenate([rng.uniform(0, 10_000, 500_000),
                           np.exp(rng.uniform(np.log(1e-26), np.log(2e4), 500_000)),
                           [0.0, -1.0, 1e30, 10_000.0, 1e-45, np.nan, 1.0, 5e3]]).astype(np.float32)
    got = pq.pq_encode_nits(nits.reshape(-1, 2, 3))
    ref = colorimetry.pq_encode(np.nan_to_num(nits.astype(np.float64)))
    assert got.dtype == np.float32
    assert np.abs(got.reshape(-1) - ref).max() < 5e-7


def test_pq_decode_table_error_is_as_stated() -> None:
    rng = np.random.default_rng(1)
    code = np.concatenate([rng.uniform(0, 1, 500_000), [0.0, 1.0, 2e-7, 1e-3]]).astype(
        np.float32)
    got = pq.pq_decode_nits(code)
    ref = colorimetry.pq_decode(code)
    assert np.all(np.abs(got - ref) <= 3e-6 * ref + 1e-9)
    half = pq.pq_decode_nits(code[:1000].reshape(10, 100), 0.5, np.float16)
    assert half.dtype == np.float16 and half.shape == (10, 100)


def test_exp2f_matches_numpy() -> None:
    from gainmlp.kernels._jit import jit

    @jit(cache=False)
    def run(x, out):
        for i in range(x.shape[0]):
            out[i] = pq.exp2f(x[i])

    x = np.random.default_rng(2).uniform(-120, 120, 200_000).astype(np.float32)
    out = np.empty_like(x)
    run(x, out)
    ref = np.exp2(x.astype(np.float64))
    assert np.max(np.abs(out - ref) / ref) < 3e-7


CASES = [
    {"lo": (-1.0, 0.0, 0.5), "hi": (3.0, 4.0, 5.6), "k_base": (1 / 64,) * 3,
     "k_alt": (1 / 64,) * 3},
    {"lo": (0.0,) * 3, "hi": (2.0,) * 3, "gamma": (0.954, 1.2, 1.0), "weight": 0.7},
    {"lo": (0.0,) * 3, "hi": (3.7,) * 3},
    {"apple_boost": 3.5},
]


@pytest.mark.parametrize("map_shape", [(61, 93), (17, 23, 3), (61, 93, 3), (7, 9)])
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("mode", [fused.OUT_RELATIVE, fused.OUT_LINEAR_NITS, fused.OUT_PQ])
def test_render_gain_map_matches_reference(map_shape, case, mode) -> None:
    rng = np.random.default_rng(3)
    base = rng.integers(0, 256, (61, 93, 3), dtype=np.uint8)
    base_lut = (np.arange(256, dtype=np.float32) / np.float32(255)) ** np.float32(2.2)
    gmap = rng.integers(0, 256, map_shape, dtype=np.uint8)
    map_lut = np.arange(256, dtype=np.float32) / np.float32(255)
    kw = {"base_lut": base_lut, "mode": mode, "matrix": M709_TO_2020, "white": 203.0, **case}
    got = fused.render_gain_map(base, gmap, map_lut, threads=2, **kw)
    ref = fused.reference_render_gain_map(base, gmap, map_lut, **kw)
    if mode == fused.OUT_PQ:
        assert np.abs(got - ref).max() < 5e-7
    else:  # float32 exp2 within an ulp or two; the upsampling is the same arithmetic
        np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-5 * (1 if mode == 0 else 203))
    if "apple_boost" in case and mode != fused.OUT_PQ:
        assert np.array_equal(got, ref)  # no transcendental: bit-identical
    # a float32 base gives what its 8-bit codes give
    as_float = fused.render_gain_map(base_lut[base], gmap, map_lut, **kw)
    assert np.array_equal(as_float, got)


def test_render_gain_map_saturates_like_the_reference() -> None:
    base = np.full((4, 5, 3), 255, np.uint8)
    gmap = np.full((2, 2), 255, np.uint8)
    lut = np.ones(256, np.float32)
    kw = {"base_lut": lut, "lo": (0.0,) * 3, "hi": (2.0e9,) * 3}
    got = fused.render_gain_map(base, gmap, np.arange(256, dtype=np.float32) / 255, **kw)
    assert np.all(got == np.finfo(np.float32).max)


def test_bilinear_is_upsample_bilinear() -> None:
    from gainmlp.resample import upsample_bilinear

    rng = np.random.default_rng(4)
    small = rng.integers(0, 256, (13, 17, 3), dtype=np.uint8)
    lut = np.arange(256, dtype=np.float32) / np.float32(255)
    # the map through Apple's formula on a base of 1: 1 * (1 + 1 * upsampled map)
    got = fused.render_gain_map(np.ones((50, 71, 3), np.float32), small, lut,
                                apple_boost=1.0)
    ref = np.float32(1.0) * (np.float32(1.0) + np.float32(1.0)
                             * upsample_bilinear(lut[small], 50, 71))
    assert np.array_equal(got, ref)


@pytest.mark.parametrize("small_shape", [(16, 24), (61, 93), (31, 93), (8, 12)])
@pytest.mark.parametrize("kind", ["gain", "gamma"])
def test_render_conventional_is_bit_identical(small_shape, kind) -> None:
    rng = np.random.default_rng(5)
    sdr = rng.uniform(0, 1, (61, 93, 3)).astype(np.float32)
    small = rng.integers(0, 256, (*small_shape, 3), dtype=np.uint8)
    lo, hi = np.array([-1.0, -0.5, 0.0]), np.array([1.0, 0.5, 2.0])
    got = fused.render_conventional(sdr, small, lo, hi, 1 / 64, kind, threads=2)
    ref = fused.reference_conventional(sdr, small, lo, hi, 1 / 64, kind)
    assert np.array_equal(got, ref)


def test_pillow_coefficients_match_pillow() -> None:
    from gainmlp.resample import resize_bicubic_float

    small = np.random.default_rng(6).uniform(0, 1, (9, 14, 1)).astype(np.float32)
    ref = resize_bicubic_float(small, 40, 27)[:, :, 0]
    hx0, hn, hk = fused.pillow_bicubic_coeffs(14, 40)
    vy0, vn, vk = fused.pillow_bicubic_coeffs(9, 27)
    horiz = np.zeros((9, 40))
    for x in range(40):
        for t in range(hn[x]):
            horiz[:, x] += small[:, hx0[x] + t, 0].astype(np.float64) * hk[x, t]
    horiz = horiz.astype(np.float32)
    out = np.zeros((27, 40))
    for y in range(27):
        for t in range(vn[y]):
            out[y] += horiz[vy0[y] + t].astype(np.float64) * vk[y, t]
    assert np.array_equal(out.astype(np.float32), ref)


@pytest.mark.skipif(not GAINMAP_DIR.is_dir(), reason="shared gain-map folder absent")
def test_shared_gain_map_files_agree_with_the_numpy_path(monkeypatch) -> None:
    from gainmlp import photo

    for path in sorted(GAINMAP_DIR.glob("*.jpg")):
        data = path.read_bytes()
        new = photo.decode_photo(data, path.name)
        new_linear = photo.decode_photo(data, path.name, linear=True)
        with monkeypatch.context() as m:
            m.setenv("GAINMLP_KERNELS", "numpy")
            old = photo.decode_photo(data, path.name)
            old_linear = photo.decode_photo(data, path.name, linear=True)
        assert np.abs(new - old).max() < 1e-6, path.name
        np.testing.assert_allclose(new_linear, old_linear, rtol=2e-5, atol=1e-4,
                                   err_msg=path.name)


# --------------------------------------------------------------------------- map encode


def _encode_inputs(seed: int, height: int = 181, width: int = 403):
    """A base and an HDR with some pixels at PQ 0 and 1, dark bases and equal gains."""
    rng = np.random.default_rng(seed)
    sdr = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    hdr = rng.uniform(0.0, 1.0, (height, width, 3)).astype(np.float32) ** 2
    hdr[:3], sdr[:2] = 0.0, 0  # no light: the smallest gains
    hdr[-2:] = 1.0  # 10,000 cd/m2: the largest
    return sdr, hdr


def _srgb_lut() -> np.ndarray:
    return colorimetry.sdr_eotf(np.arange(256, dtype=np.float64) / 255.0, "srgb")


@pytest.mark.parametrize("primaries", ["bt2020", "srgb", "p3"])
def test_gain_map_reference_is_compute_gain_map(primaries, monkeypatch) -> None:
    from gainmlp.iso_gainmap import compute_gain_map
    from gainmlp.kernels import gainmap_encode as enc

    monkeypatch.setattr(enc, "TILE_PIXELS", 4096)  # 10 rows a tile: 19 tiles
    sdr, hdr = _encode_inputs(7)
    matrix = (None if primaries == "bt2020"
              else colorimetry.colourspaces.matrix_RGB_to_RGB("bt2020", primaries))
    codes, lo, hi = enc.reference_gain_map_codes(sdr, hdr, _srgb_lut(), matrix, 203.0)
    s = colorimetry.sdr_eotf(sdr.astype(np.float64) / 255.0, "srgb")
    h = colorimetry.convert_primaries(colorimetry.pq_decode(hdr), "bt2020", primaries) / 203.0
    want, meta = compute_gain_map(s, np.maximum(h, 0.0), channels=3, primaries=primaries)
    assert sdr.shape[0] * sdr.shape[1] > 2 * enc.TILE_PIXELS  # several tiles
    assert np.array_equal(codes, want)
    assert np.array_equal(lo, meta.gain_map_min) and np.array_equal(hi, meta.gain_map_max)


@pytest.mark.parametrize(("primaries", "gamma"), [("bt2020", 1.0), ("srgb", 1.0),
                                                  ("p3", 0.5)])
def test_gain_map_kernel_matches_reference(primaries, gamma, monkeypatch) -> None:
    from gainmlp.kernels import gainmap_encode as enc

    monkeypatch.setattr(enc, "TILE_PIXELS", 4096)
    sdr, hdr = _encode_inputs(8)
    matrix = (None if primaries == "bt2020"
              else colorimetry.colourspaces.matrix_RGB_to_RGB("bt2020", primaries))
    got = enc.gain_map_codes(sdr, hdr, _srgb_lut(), matrix, 203.0, gamma=gamma, threads=3)
    ref = enc.reference_gain_map_codes(sdr, hdr, _srgb_lut(), matrix, 203.0, gamma=gamma)
    np.testing.assert_allclose(got[1], ref[1], rtol=0, atol=1e-5)
    np.testing.assert_allclose(got[2], ref[2], rtol=0, atol=1e-5)
    diff = np.abs(got[0].astype(int) - ref[0].astype(int))
    assert diff.max() <= 1 and diff.mean() < 1e-3


def test_gain_map_kernel_flat_channel_and_single_thread() -> None:
    from gainmlp.kernels import gainmap_encode as enc

    sdr = np.full((40, 50, 3), 255, np.uint8)
    hdr = np.full((40, 50, 3), float(colorimetry.pq_encode(np.array(203.0))), np.float32)
    hdr[:, :, 1] = np.linspace(0.0, 1.0, 50, dtype=np.float32)  # green alone varies
    codes, lo, hi = enc.gain_map_codes(sdr, hdr, _srgb_lut(), None, 203.0, threads=1)
    ref = enc.reference_gain_map_codes(sdr, hdr, _srgb_lut(), None, 203.0)
    assert np.all(codes[:, :, [0, 2]] == 0) and np.array_equal(lo[[0, 2]], hi[[0, 2]])
    assert abs(lo[0]) < 1e-5 and codes[:, -1, 1].min() == 255 and codes[:, 0, 1].max() == 0
    assert np.abs(codes.astype(int) - ref[0]).max() <= 1
