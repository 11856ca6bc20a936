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


# --------------------------------------------------------------------------- reference values
# Numbers worked out by hand from each paper's formulas (and the HDR Toolbox's default
# parameters, which the paper used), on inputs small enough to follow. Neutral pixels stay
# neutral through the BT.2020 -> BT.709 conversion, so their channels are the operator's
# luminance. Derivations are in the comments; the digits came from Python's math module.


def neutral(*lums: float) -> np.ndarray:
    """A 1 x n neutral image with the given luminances."""
    return np.repeat(np.array(lums, dtype=np.float64).reshape(1, -1, 1), 3, axis=2)


def test_reinhard_devlin_reference_neutral() -> None:
    # Reinhard & Devlin 2005, eq. V = I / (I + sigma(I_a)), sigma = (f I_a)^m; toolbox
    # defaults f' = 0 (f = exp(-f') = 1), a = 1 (I_a = the pixel's own L), c = 0.
    # m = 0.5: V(L) = L / (L + sqrt(L)): V(1) = 1/2, V(4) = 4/6, V(16) = 16/20.
    out = tonemap.reinhard_devlin(neutral(1.0, 4.0, 16.0), m=0.5, normalize=False)
    np.testing.assert_allclose(out[0, :, 1], [0.5, 2.0 / 3.0, 0.8], atol=1e-9)
    np.testing.assert_allclose(out[..., 0], out[..., 1], atol=1e-9)
    # The paper's normalisation maps the output luminance range [min, max] onto [0, 1]:
    # (V - 1/2) / (0.8 - 1/2) = 0, 5/9, 1.
    out = tonemap.reinhard_devlin(neutral(1.0, 4.0, 16.0), m=0.5)
    np.testing.assert_allclose(out[0, :, 1], [0.0, 5.0 / 9.0, 1.0], atol=1e-9)


def test_reinhard_devlin_reference_contrast_from_key() -> None:
    # m = 0.3 + 0.7 k^1.4 with the key k = (log2 L_99 - log2 L_av) / (log2 L_99 - log2 L_1)
    # (toolbox: 1st/99th percentiles). 201 pixels: 3 at L = 1, 3 at L = 1024 and 195 with
    # log2 L evenly spaced over [0.5, 9.5]: the percentiles are 2^0 and 2^10 under numpy's
    # interpolation and the toolbox's MaxQuart alike, log2 L_av = 5, so k = 1/2 and
    # m = 0.3 + 0.7 * 0.5^1.4 = 0.565250399. Then V(32) = 32 / (32 + 32^m) = 0.818575686.
    log2_lum = np.concatenate([[0.0] * 3, np.linspace(0.5, 9.5, 195), [10.0] * 3])
    img = neutral(*np.exp2(log2_lum))
    out = tonemap.reinhard_devlin(img, normalize=False)
    v = out[0, :, 1]
    m = 0.5652503991393196
    np.testing.assert_allclose(v, 2.0**log2_lum / (2.0**log2_lum + 2.0 ** (m * log2_lum)),
                               rtol=1e-6)
    assert v[100] == pytest.approx(0.8185756864045253, rel=1e-6)  # log2 L = 5


def test_reinhard_devlin_reference_colour_and_adaptation() -> None:
    # Per channel, a = 1, c = 0: V_C = C / (C + L^m). C = (8, 4, 2) in BT.2020,
    # L = 0.2627*8 + 0.6780*4 + 0.0593*2 = 4.9322, m = 0.5, sqrt(L) = 2.2208557:
    # V = (0.78271333, 0.64299836, 0.47383757) in BT.2020, then converted to BT.709.
    out = tonemap.reinhard_devlin(np.array([[[8.0, 4.0, 2.0]]]), m=0.5, normalize=False)
    expected = colorimetry.convert_primaries(
        np.array([0.7827133306546887, 0.6429983588628738, 0.47383756907181096]),
        "bt2020", "bt709")
    np.testing.assert_allclose(out[0, 0], expected, rtol=2e-6)
    # a = 0 (global adaptation to the log-average L_av): pixels 1 and 16, L_av = 4,
    # sigma = 4^0.5 = 2 for both: V = 1/3 and 16/18.
    out = tonemap.reinhard_devlin(neutral(1.0, 16.0), m=0.5, a=0.0, normalize=False)
    np.testing.assert_allclose(out[0, :, 1], [1.0 / 3.0, 16.0 / 18.0], rtol=1e-6)
    # Intensity f' = ln 4: sigma = (L / 4)^0.5 = 2 at L = 16: V = 16/18.
    out = tonemap.reinhard_devlin(neutral(16.0, 16.0), m=0.5, f=np.log(4.0), normalize=False)
    assert out[0, 0, 1] == pytest.approx(16.0 / 18.0, rel=1e-12)
    # c = 1 (full chromatic adaptation, I_a = C): V_C = C / (C + sqrt(C)), per channel.
    out = tonemap.reinhard_devlin(np.array([[[4.0, 4.0, 4.0]]]), m=0.5, c=1.0, normalize=False)
    np.testing.assert_allclose(out[0, 0], [4.0 / 6.0] * 3, atol=1e-9)


def test_reinhard_devlin_depends_on_the_unit_of_its_input() -> None:
    # With a = 1 the response of a neutral pixel is L^(1-m) / (L^(1-m) + f^m): half at
    # L = 1 input unit. Fed display radiance in cd/m2 (the pair maker puts mid-grey at
    # 36.54 cd/m2), mid-grey lands at 36.54 / (36.54 + sqrt(36.54)) = 0.858 of white for
    # m = 0.5; in units of 100 cd/m2 it would be 0.3654 / (0.3654 + sqrt(0.3654)) = 0.377.
    # This is why its SDRs are bright (docs/results/tonemappers.md); Drago is unaffected.
    nits = tonemap.reinhard_devlin(neutral(36.54, 36.54), m=0.5, normalize=False)
    rel = tonemap.reinhard_devlin(neutral(0.3654, 0.3654), m=0.5, normalize=False)
    assert nits[0, 0, 1] == pytest.approx(0.8580519835711039, rel=1e-9)
    assert rel[0, 0, 1] == pytest.approx(0.37674637628158925, rel=1e-9)


def test_drago_reference() -> None:
    # Drago et al. 2003: L_d = (Ld_max/100) / log10(1 + L_max) * log(1 + L) /
    # log(2 + 8 (L / L_max)^(log b / log 0.5)), L in units of the world adaptation
    # L_wa = logmean / (1 + b - 0.85)^5. Pixels 1, 4, 16: logmean 4; b = 0.85: L_wa = 4,
    # L = 1/4, 1, 4; exponent ln 0.85 / ln 0.5 = 0.2344653; 1 / log10(5) = 1.4306766.
    out = tonemap.drago(neutral(1.0, 4.0, 16.0))
    np.testing.assert_allclose(out[0, :, 1], [0.17534461812691574, 0.4833742091609053, 1.0],
                               rtol=1e-6)
    # b = 1: exponent 0, so L_d = log10(1 + L) / log10(1 + L_max), with
    # L_wa = 4 / 1.15^5 = 1.9887111.
    out = tonemap.drago(neutral(1.0, 4.0, 16.0), bias=1.0)
    np.testing.assert_allclose(out[0, :, 1], [0.1849719253588125, 0.5005726437703661, 1.0],
                               rtol=1e-6)
    # Ld_max scales linearly: 50 cd/m2 halves everything.
    half = tonemap.drago(neutral(1.0, 4.0, 16.0), ld_max=50.0)
    np.testing.assert_allclose(half[0, :, 1], [0.17534461812691574 / 2, 0.4833742091609053 / 2,
                                               0.5], rtol=1e-6)


def test_ward_histogram_reference() -> None:
    # Ward Larson et al. 1997, histogram adjustment with the linear ceiling. 3 x 3 pixels
    # (smaller than the foveal grid, so used as they are): six at L = 1, two at 10^4, one
    # at 10^2.5. Four bins of ln L over [0, 4 ln 10]: counts (6, 0, 1, 2). Display 1..100
    # cd/m2: ceiling = delta_b / (ln 100 - ln 1) = ln 10 / (2 ln 10) = 1/2 of the total.
    # Passes (stop when a pass trims <= 2.5% of the 9 pixels, 0.225): cap 4.5 trims 1.5,
    # cap 3.75 trims 0.75, cap 3.375 trims 0.375, cap 3.1875 trims 0.1875 -> stop with
    # (3.1875, 0, 1, 2), total 6.1875. P at 10^2.5 (middle of bin 3) = 3.6875 / 6.1875
    # = 59/99; L_d = 100^(59/99), normalised (L_d - 1) / 99 = 0.147037994.
    lums = [1.0] * 6 + [1.0e4] * 2 + [10.0**2.5]
    img = np.repeat(np.array(lums).reshape(3, 3, 1), 3, axis=2)
    out = tonemap.ward_histogram(img, n_bins=4)
    got = out[..., 1].ravel()
    np.testing.assert_allclose(got[:6], 0.0, atol=1e-6)
    np.testing.assert_allclose(got[6:8], 1.0, atol=1e-6)
    assert got[8] == pytest.approx(0.14703799433641127, rel=1e-5)


def test_local_operator_reference() -> None:
    # Durand & Dorsey 2002: log10 L = base + detail; the base is scaled to a contrast of
    # 5 and the detail kept. Two flat halves, 1 and 100 cd/m2 (range sigma 0.4 << 2
    # decades, so the base is the image): output 1 : 5 far from the edge, the bright
    # half (50% of the pixels) at white after our 99th-percentile exposure.
    img = np.full((64, 128, 3), 1.0)
    img[:, 64:] = 100.0
    lum = colorimetry.luminance(tonemap.local_bilateral(img), "bt709")
    assert lum[32, 100] == pytest.approx(1.0, abs=1e-6)
    assert lum[32, 16] == pytest.approx(0.2, abs=1e-6)
    # A +-0.05 decade pixel checkerboard on the dark half is detail (finer than the
    # spatial sigma, within the range sigma): kept, 10^0.1 = 1.2589 between neighbours.
    yy, xx = np.mgrid[0:64, 0:64]
    img[:, :64] *= np.where((yy + xx) % 2 == 0, 10**0.05, 10**-0.05)[..., None]
    lum = colorimetry.luminance(tonemap.local_bilateral(img), "bt709")
    assert lum[32, 16] / lum[32, 17] == pytest.approx(10**0.1, rel=5e-3)
