import colour
import numpy as np
import pytest

from gainmlp import colorimetry
from gainmlp.colorimetry import SdrEncoding
from gainmlp.errors import GainMLPError


def test_pq_reference_values():
    # SMPTE ST 2084 / ITU-R BT.2100 reference points
    code = colorimetry.pq_encode(np.array([0.0, 100.0, 203.0, 1000.0, 10000.0]))
    np.testing.assert_allclose(code[1:], [0.508078, 0.580689, 0.751827, 1.0], atol=2e-6)
    assert code[0] < 1e-6
    np.testing.assert_allclose(colorimetry.pq_decode(code[1:]), [100, 203, 1000, 10000],
                               rtol=1e-9)


def test_gamma24_is_bt1886_with_zero_black():
    v = np.linspace(0, 1, 11)
    np.testing.assert_allclose(colorimetry.sdr_eotf(v, "gamma2.4"), v**2.4, atol=1e-12)
    np.testing.assert_allclose(colorimetry.sdr_inverse_eotf(v**2.4, "gamma2.4"), v, atol=1e-12)


def test_srgb_transfer_matches_colour_science():
    v = np.linspace(0, 1, 17)
    np.testing.assert_allclose(colorimetry.sdr_eotf(v, "srgb"), colour.models.eotf_sRGB(v))


def test_sdr_white_lands_at_pq_0508():
    white = colorimetry.sdr_to_hdr_space(np.ones((1, 1, 3)))
    np.testing.assert_allclose(white, 0.508078, atol=1e-6)
    brighter = colorimetry.sdr_to_hdr_space(np.ones((1, 1, 3)), SdrEncoding(white_nits=203))
    np.testing.assert_allclose(brighter, 0.580689, atol=1e-6)


def test_primaries_match_colour_science_rgb_to_rgb():
    rgb = np.random.default_rng(1).random((10, 3))
    ours = colorimetry.convert_primaries(rgb, "bt709", "bt2020")
    ref = colour.RGB_to_RGB(rgb, colour.RGB_COLOURSPACES["ITU-R BT.709"],
                            colour.RGB_COLOURSPACES["ITU-R BT.2020"])
    np.testing.assert_allclose(ours, ref, atol=1e-12)
    # BT.2087 matrix, first row
    np.testing.assert_allclose(colorimetry.convert_primaries(np.eye(3), "bt709", "bt2020")[0],
                               [0.6274, 0.0691, 0.0164], atol=1e-4)


def test_p3_red_is_inside_2020_and_outside_709():
    red = colorimetry.convert_primaries(np.array([1.0, 0, 0]), "p3", "bt709")
    assert red[1] < 0 or red[2] < 0  # out of BT.709 gamut
    # ... and (within 0.2 %, a known hair outside the red-blue edge) inside BT.2020
    assert np.all(colorimetry.convert_primaries(np.array([1.0, 0, 0]), "p3", "bt2020") > -2e-3)


def test_sdr_hdr_space_round_trip():
    # every 8-bit code value survives SDR -> HDR space (float32) -> SDR
    code = np.arange(256, dtype=np.float32).reshape(16, 16, 1).repeat(3, axis=2) / 255
    for enc in (SdrEncoding(), SdrEncoding("p3", "srgb", 203.0)):
        back = colorimetry.hdr_space_to_sdr(colorimetry.sdr_to_hdr_space(code, enc), enc)
        np.testing.assert_array_equal(np.round(back * 255), np.round(code * 255))


def test_bad_encoding_rejected():
    with pytest.raises(GainMLPError):
        SdrEncoding(primaries="adobe98")
    with pytest.raises(GainMLPError):
        SdrEncoding(white_nits=0)


@pytest.mark.parametrize("enc", [colorimetry.SdrEncoding(),
                                 colorimetry.SdrEncoding("p3", "srgb", 100.0),
                                 colorimetry.SdrEncoding("bt2020", "gamma2.2", 203.0)])
def test_sdr8_to_hdr_space_equals_the_plain_conversion(enc, monkeypatch) -> None:
    monkeypatch.setattr(colorimetry, "_TILE", 4096)  # several tiles
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (300, 301, 3), dtype=np.uint8)
    plain = colorimetry.sdr_to_hdr_space(np.asarray(pixels, np.float32) / 255.0, enc)
    np.testing.assert_array_equal(colorimetry.sdr8_to_hdr_space(pixels, enc, threads=2), plain)
    np.testing.assert_array_equal(colorimetry.sdr8_to_hdr_space(pixels, enc, threads=1), plain)
