"""The pair maker (HDR rendition + SDR tone mapping) and the procedural demo scene."""

from __future__ import annotations

import numpy as np
import pytest

from gainmlp import colorimetry, pair
from gainmlp.errors import GainMLPError
from gainmlp.scene import demo_scene


@pytest.fixture(scope="module")
def scene() -> np.ndarray:
    return demo_scene(48, 72, seed=1)


def decode_hdr(hdr: np.ndarray) -> np.ndarray:
    return colorimetry.pq_decode(hdr.astype(np.float64) / pair.PQ_CODE_MAX)


# ---------------------------------------------------------------------------- demo scene


def test_demo_scene_is_deterministic() -> None:
    a = demo_scene(40, 56, seed=7)
    b = demo_scene(40, 56, seed=7)
    c = demo_scene(40, 56, seed=8)
    assert a.shape == (40, 56, 3) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert np.isfinite(a).all() and a.min() >= 0.0


def test_demo_scene_is_high_dynamic_range(scene: np.ndarray) -> None:
    lum = colorimetry.luminance(scene, "bt2020")
    shadows = np.percentile(lum, 5)
    assert lum.max() > 1.0e4 * shadows  # the sun against the shadows
    assert lum.max() > 1.0e5


def test_demo_scene_has_colours_outside_bt709(scene: np.ndarray) -> None:
    bt709 = colorimetry.convert_primaries(scene, "bt2020", "bt709")
    assert (bt709 < -1.0).any(axis=2).mean() > 0.005


def test_demo_scene_default_size() -> None:
    assert demo_scene().shape == (256, 384, 3)
    with pytest.raises(GainMLPError):
        demo_scene(2, 2)


# ------------------------------------------------------------------------- HDR rendition


def test_roll_off_shape() -> None:
    x = np.geomspace(1e-3, 1e9, 2000)
    y = pair.roll_off(x, 1000.0)
    assert np.all(np.diff(y) > 0)  # strictly increasing
    assert y.max() < 1000.0
    below = x <= 500.0
    np.testing.assert_array_equal(y[below], x[below])  # identity below the knee
    eps = 1e-3  # slope 1 at the knee: continuous first derivative
    slope = (pair.roll_off(np.array(500.0 + eps)) - pair.roll_off(np.array(500.0))) / eps
    assert slope == pytest.approx(1.0, abs=1e-3)
    with pytest.raises(GainMLPError):
        pair.roll_off(x, 1000.0, knee_nits=1200.0)


def test_exposure_rule_puts_log_average_at_mid_grey() -> None:
    rng = np.random.default_rng(0)
    # A moderate-contrast scene (no pixel reaches the knee), at an arbitrary scale.
    lum = np.exp(rng.normal(np.log(0.37), 0.4, size=(40, 40)))
    tint = np.array([1.0, 0.9, 0.8])
    img = lum[..., None] * tint
    rendition = pair.hdr_rendition(img)
    assert rendition.max() < 500.0
    assert pair.log_average_luminance(rendition) == pytest.approx(pair.MID_GREY_NITS, rel=1e-6)
    _, hdr = pair.make_pair(img, tmo="drago")
    decoded_avg = pair.log_average_luminance(decode_hdr(hdr))
    assert decoded_avg == pytest.approx(36.54, rel=2e-3)
    pq_level = float(colorimetry.pq_encode(np.array(decoded_avg)))
    assert pq_level == pytest.approx(float(colorimetry.pq_encode(np.array(36.54))), abs=5e-4)


def test_exposure_does_not_depend_on_input_scale() -> None:
    img = demo_scene(32, 48, seed=2)
    a = pair.hdr_rendition(img)
    b = pair.hdr_rendition(img * 1000.0)
    np.testing.assert_allclose(a, b, rtol=1e-6)  # float32 input


@pytest.mark.parametrize("sun", [1.0e4, 1.0e7, 1.0e12])
def test_peak_never_exceeds_1000_nits(sun: float) -> None:
    img = demo_scene(32, 48, seed=4).astype(np.float64)
    img[5:9, 5:9] = [sun, sun * 0.1, sun * 3.0]  # a blinding, saturated highlight
    rendition = pair.hdr_rendition(img)
    assert rendition.max() < 1000.0
    _, hdr = pair.make_pair(img, tmo="ward")
    assert decode_hdr(hdr).max() <= 1000.0
    assert hdr.max() <= np.floor(float(colorimetry.pq_encode(np.array(1000.0))) * 65535)


def test_roll_off_keeps_channel_ratios(scene: np.ndarray) -> None:
    rendition = pair.hdr_rendition(scene)
    src = colorimetry.convert_primaries(scene.astype(np.float64), "bt2020", "bt2020")
    bright = src.max(axis=2) > 0
    ratio_in = src[bright][:, 0] / src[bright].max(axis=1)
    ratio_out = rendition[bright][:, 0] / rendition[bright].max(axis=1)
    np.testing.assert_allclose(ratio_in, ratio_out, rtol=1e-9, atol=1e-12)


def test_other_peaks() -> None:
    img = demo_scene(24, 32, seed=5)
    assert pair.hdr_rendition(img, peak_nits=4000.0).max() < 4000.0
    assert pair.hdr_rendition(img, peak_nits=600.0).max() < 600.0
    with pytest.raises(GainMLPError):
        pair.hdr_rendition(img, peak_nits=20000.0)


# ------------------------------------------------------------------------------ the pair


@pytest.mark.parametrize("tmo", ["reinhard-devlin", "drago", "ward", "local"])
def test_make_pair_types_and_ranges(tmo: str, scene: np.ndarray) -> None:
    sdr, hdr = pair.make_pair(scene, tmo=tmo)
    assert sdr.shape == scene.shape and sdr.dtype == np.uint8
    assert hdr.shape == scene.shape and hdr.dtype == np.uint16
    assert sdr.max() > 200 and sdr.min() < 60  # uses the 8-bit range
    assert hdr.max() > 40000  # the sun is near the 1000 cd/m2 peak (PQ 0.75)


def test_make_pair_sdr_is_the_tone_mapped_hdr(scene: np.ndarray) -> None:
    from gainmlp import tonemap

    sdr, hdr = pair.make_pair(scene, tmo="drago")
    linear = tonemap.drago(decode_hdr(hdr))
    expected = np.rint(colorimetry.sdr_inverse_eotf(linear, "gamma2.4") * 255)
    np.testing.assert_array_equal(sdr, expected.astype(np.uint8))


def test_default_tone_mapper_is_drago(scene: np.ndarray) -> None:
    # Reinhard & Devlin is scale dependent and, fed cd/m2 as the paper describes, bright
    # (docs/results/tonemappers.md); the pair maker and `gainmlp pair` default to Drago.
    from gainmlp import tonemap
    from gainmlp.cli import build_parser

    assert tonemap.DEFAULT_TONE_MAPPER == "drago"
    default_sdr, _ = pair.make_pair(scene)
    drago_sdr, _ = pair.make_pair(scene, tmo="drago")
    np.testing.assert_array_equal(default_sdr, drago_sdr)
    args = build_parser().parse_args(["pair", "scene.exr", "-o", "out"])
    assert args.tmo == tonemap.DEFAULT_TONE_MAPPER


def test_make_pair_is_deterministic_and_tmo_dependent(scene: np.ndarray) -> None:
    a_sdr, a_hdr = pair.make_pair(scene, tmo="local")
    b_sdr, b_hdr = pair.make_pair(scene, tmo="local")
    c_sdr, c_hdr = pair.make_pair(scene, tmo="ward")
    np.testing.assert_array_equal(a_sdr, b_sdr)
    np.testing.assert_array_equal(a_hdr, c_hdr)  # the HDR side does not depend on the TMO
    assert not np.array_equal(a_sdr, c_sdr)


def test_make_pair_other_primaries() -> None:
    img709 = np.full((8, 8, 3), 20.0)
    img709[2:4, 2:4] = [80.0, 5.0, 5.0]
    _, hdr709 = pair.make_pair(img709, primaries="bt709")
    img2020 = colorimetry.convert_primaries(img709, "bt709", "bt2020")
    _, hdr2020 = pair.make_pair(img2020, primaries="bt2020")
    assert np.abs(hdr709.astype(int) - hdr2020.astype(int)).max() <= 1


def test_make_pair_errors() -> None:
    with pytest.raises(GainMLPError):
        pair.make_pair(np.zeros((8, 8, 3)))
    with pytest.raises(GainMLPError):
        pair.make_pair(np.ones((8, 8, 3)), tmo="nope")
    with pytest.raises(GainMLPError):
        pair.make_pair(np.ones((8, 8)))
    with pytest.raises(GainMLPError):
        pair.make_pair(np.ones((8, 8, 3)), primaries="xyz")
