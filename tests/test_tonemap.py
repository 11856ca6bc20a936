"""Tone-mapping operators: range, shape, monotonicity, locality, gamut handling."""

from __future__ import annotations

import numpy as np
import pytest

from gainmlp import colorimetry, tonemap
from gainmlp.errors import GainMLPError, GainMLPWarning
from gainmlp.scene import demo_scene

GLOBAL_OPERATORS = ["reinhard-devlin", "drago", "ward"]
ALL_OPERATORS = [*GLOBAL_OPERATORS, "local"]


@pytest.fixture(scope="module")
def scene() -> np.ndarray:
    # A small scene in display-radiance-like units (the sun is far above everything else).
    return demo_scene(48, 64, seed=3).astype(np.float64) * 0.05


def grey_ramp(n: int = 32, lo: float = 0.01, hi: float = 1.0e4, seed: int = 0) -> np.ndarray:
    """An n x n neutral image whose luminances span lo..hi (log spaced, shuffled)."""
    values = np.geomspace(lo, hi, n * n)
    np.random.default_rng(seed).shuffle(values)
    return np.repeat(values.reshape(n, n, 1), 3, axis=2)


def test_registry_names() -> None:
    assert set(tonemap.TONE_MAPPERS) == {"reinhard-devlin", "drago", "ward", "local"}


@pytest.mark.parametrize("name", ALL_OPERATORS)
def test_output_range_shape_dtype(name: str, scene: np.ndarray) -> None:
    out = tonemap.tone_map(name, scene)
    assert out.shape == scene.shape
    assert out.dtype == np.float64
    assert np.isfinite(out).all()
    assert out.min() >= 0.0 and out.max() <= 1.0
    # Not degenerate: a real spread of display values.
    lum = colorimetry.luminance(out, "bt709")
    assert lum.max() - lum.min() > 0.5


@pytest.mark.parametrize("name", GLOBAL_OPERATORS)
def test_global_operators_are_monotonic_in_luminance(name: str) -> None:
    ramp = grey_ramp()
    out = tonemap.tone_map(name, ramp)
    order = np.argsort(ramp[..., 0], axis=None)
    lum_out = colorimetry.luminance(out, "bt709").ravel()[order]
    assert np.all(np.diff(lum_out) >= -1e-12)
    assert lum_out[-1] > lum_out[0] + 0.5
    # Neutral stays neutral through the BT.2020 -> BT.709 conversion.
    np.testing.assert_allclose(out[..., 0], out[..., 1], atol=1e-9)
    np.testing.assert_allclose(out[..., 2], out[..., 1], atol=1e-9)


@pytest.mark.parametrize("name", GLOBAL_OPERATORS)
def test_global_operators_are_pure_functions_of_colour_within_an_image(name: str) -> None:
    img = grey_ramp(16)
    img[2, 3] = img[10, 12] = [40.0, 30.0, 10.0]
    out = tonemap.tone_map(name, img)
    np.testing.assert_allclose(out[2, 3], out[10, 12], atol=1e-12)


def test_local_operator_depends_on_the_neighbourhood() -> None:
    # The same grey patch (100) on a darker surround (60) and on a brighter one (170):
    # both surrounds are within the range sigma, so the base layers differ.
    img = np.full((64, 64, 3), 60.0)
    img[:, 32:] = 170.0
    img[31:33, 15:17] = 100.0  # small: the spatial sigma (2% of 64 px) reaches the surround
    img[31:33, 47:49] = 100.0
    img[2:4, 2:4] = 1.0e4  # a highlight, so there is range to compress
    img[60:62, 60:62] = 0.5  # and a dark spot
    out = tonemap.local_bilateral(img)
    left, right = out[31, 15], out[31, 47]
    assert np.all(out[31, 15] > 0) and np.all(out[31, 47] > 0)
    # Identical input colours, clearly different output colours.
    assert abs(float(left[1]) - float(right[1])) > 0.02
    # Compare with a global operator, which cannot tell them apart.
    glob = tonemap.drago(img)
    np.testing.assert_allclose(glob[31, 15], glob[31, 47], atol=1e-12)


def test_local_operator_keeps_detail_and_compresses_range() -> None:
    ramp = np.geomspace(0.1, 1.0e4, 64)
    img = np.repeat(np.tile(ramp, (32, 1))[..., None], 3, axis=2)
    out = tonemap.local_bilateral(img)
    lum = colorimetry.luminance(out, "bt709")
    assert lum.max() <= 1.0 and lum.min() > 0.0
    # Five decades in, far fewer out (base contrast 5 plus some detail).
    assert lum.max() / lum.min() < 200.0
    # Still increasing left to right along a smooth ramp (the top end may clip at white).
    assert np.all(np.diff(lum[16]) >= 0)
    assert np.all(np.diff(lum[16][lum[16] < 0.999]) > 0)


def test_out_of_gamut_colours_are_clipped_into_bt709() -> None:
    img = np.full((16, 16, 3), 50.0)
    img[4:8, 4:8] = [0.0, 80.0, 0.0]  # BT.2020 green primary: outside BT.709
    assert (colorimetry.convert_primaries(img[5, 5], "bt2020", "bt709") < 0).any()
    for name in ALL_OPERATORS:
        out = tonemap.tone_map(name, img)
        assert out.min() >= 0.0 and out.max() <= 1.0
        green = out[5, 5]
        assert green[1] > green[0] and green[1] > green[2], name
        assert green[0] == 0.0 and green[2] == 0.0, name  # negative components clipped


@pytest.mark.parametrize("name", ["drago", "ward"])
def test_log_based_operators_ignore_exposure(name: str, scene: np.ndarray) -> None:
    a = tonemap.tone_map(name, scene)
    b = tonemap.tone_map(name, scene * 8.0)
    np.testing.assert_allclose(a, b, atol=2e-3)


def test_drago_maps_the_brightest_pixel_to_white() -> None:
    out = tonemap.drago(grey_ramp())
    assert out.max() == pytest.approx(1.0, abs=1e-9)


def test_saturation_exponent() -> None:
    img = grey_ramp(8, 1.0, 100.0)
    img[3, 3] = [60.0, 20.0, 10.0]
    full = tonemap.drago(img, saturation=1.0)[3, 3]
    less = tonemap.drago(img, saturation=0.5)[3, 3]
    # Lower s pulls the channel ratios towards 1 (less saturated).
    assert full[0] / full[2] > less[0] / less[2] > 1.0


def test_reinhard_devlin_parameters_change_the_result(scene: np.ndarray) -> None:
    default = tonemap.reinhard_devlin(scene)
    darker = tonemap.reinhard_devlin(scene, f=-4.0)
    assert (
        colorimetry.luminance(darker, "bt709").mean()
        < colorimetry.luminance(default, "bt709").mean()
    )


def test_black_image_stays_black() -> None:
    img = np.zeros((8, 8, 3))
    for name in ALL_OPERATORS:
        out = tonemap.tone_map(name, img)
        assert out.shape == img.shape and np.isfinite(out).all() and out.max() <= 1.0


def test_bad_input() -> None:
    with pytest.raises(GainMLPError):
        tonemap.tone_map("nope", np.ones((4, 4, 3)))
    with pytest.raises(GainMLPError):
        tonemap.drago(np.ones((4, 4)))
    img = np.ones((8, 8, 3))
    img[0, 0, 0] = np.nan
    with pytest.warns(GainMLPWarning):
        out = tonemap.ward_histogram(img)
    assert np.isfinite(out).all()
