"""HDR files in and out: PNG with cICP, TIFF, EXR (chromaticities, Y/RY/BY), AVIF, .hdr."""

import numpy as np
import pytest

from gainmlp import colorimetry
from gainmlp.colourspaces import COLOURSPACES
from gainmlp.errors import GainMLPError, GainMLPWarning
from gainmlp.io.hdr import (
    read_exr_linear,
    read_hdr,
    read_hdr_linear,
    write_hdr,
    write_hdr_linear,
)
from gainmlp.io.png import png_header
from gainmlp.io.sdr import read_sdr, write_sdr_png


def test_hdr_png_round_trip_with_cicp(tmp_path, pair):
    _, hdr = pair
    path = tmp_path / "h.png"
    write_hdr(path, hdr)
    data = path.read_bytes()
    assert png_header(data)[3] == bytes([9, 16, 0, 1])
    np.testing.assert_allclose(read_hdr(path), hdr, atol=1 / 65535)


def test_hdr_tiff_and_exr_round_trip(tmp_path, pair):
    _, hdr = pair
    write_hdr(tmp_path / "h.tif", hdr)
    np.testing.assert_allclose(read_hdr(tmp_path / "h.tif"), hdr, atol=1 / 65535)
    write_hdr(tmp_path / "h.exr", hdr, exr_white_nits=100)
    # half floats: ~1e-3 relative in linear, well under 1e-3 in PQ
    np.testing.assert_allclose(read_hdr(tmp_path / "h.exr", 100), hdr, atol=1e-3)
    linear = read_exr_linear(tmp_path / "h.exr")
    np.testing.assert_allclose(linear * 100, colorimetry.pq_decode(hdr), rtol=2e-3, atol=1e-3)


def test_avif_output_is_10_bit_pq(tmp_path, pair):
    import imagecodecs

    _, hdr = pair
    write_hdr(tmp_path / "h.avif", hdr)
    back = imagecodecs.avif_decode((tmp_path / "h.avif").read_bytes())
    assert back.dtype == np.uint16 and back.max() <= 1023
    assert np.abs(back / 1023.0 - hdr).mean() < 0.01


def test_exr_chromaticities_are_honoured(tmp_path):
    import OpenEXR

    rgb709 = np.full((4, 4, 3), [0.2, 0.5, 0.8], np.float32)
    chroma = (0.64, 0.33, 0.30, 0.60, 0.15, 0.06, 0.3127, 0.3290)
    OpenEXR.File({"chromaticities": chroma}, {"RGB": rgb709}).write(str(tmp_path / "a.exr"))
    got = read_exr_linear(tmp_path / "a.exr")
    want = colorimetry.convert_primaries(rgb709, "bt709", "bt2020")
    np.testing.assert_allclose(got, want, atol=1e-4)


@pytest.mark.parametrize("chroma", ["renamed-type", (0.0,) * 8, (0.3, 0.3) * 4])
def test_exr_malformed_chromaticities_are_refused(tmp_path, chroma):
    # fuzz/ (exr target) found the first: an attribute named chromaticities whose type is
    # not "chromaticities" came back as an opaque object and numpy raised TypeError;
    # degenerate primaries have no RGB -> XYZ matrix
    import OpenEXR

    path = tmp_path / "c.exr"
    rgb = np.full((4, 4, 3), 0.5, np.float32)
    real = (0.64, 0.33, 0.30, 0.60, 0.15, 0.06, 0.3127, 0.3290)
    OpenEXR.File({"chromaticities": real if isinstance(chroma, str) else chroma},
                 {"RGB": rgb}).write(str(path))
    if isinstance(chroma, str):
        tag = b"chromaticities\0chromaticities\0"
        path.write_bytes(path.read_bytes().replace(tag, tag[:-3] + b"vs\0"))
    with pytest.raises(GainMLPError, match="chromaticities attribute is malformed"):
        read_hdr(path)


def test_exr_luminance_chroma_channels(tmp_path):
    import OpenEXR

    rgb = np.array([0.2, 0.5, 0.8])
    w = COLOURSPACES["bt709"].rgb_to_xyz[1]  # colour-science's BT.709
    y = float(rgb @ w)
    ch = {"Y": np.full((4, 4), y, np.float32),
          "RY": np.full((4, 4), rgb[0] / y - 1, np.float32),
          "BY": np.full((4, 4), rgb[2] / y - 1, np.float32)}
    OpenEXR.File({}, ch).write(str(tmp_path / "yc.exr"))
    got = read_exr_linear(tmp_path / "yc.exr")
    want = colorimetry.convert_primaries(rgb, "bt709", "bt2020")
    np.testing.assert_allclose(got[0, 0], want, atol=2e-3)


def test_nan_inf_negative_hdr_sanitised_with_warning(tmp_path):
    import OpenEXR

    rgb = np.ones((4, 4, 3), np.float32)
    rgb[0, 0] = [np.nan, np.inf, -1.0]
    OpenEXR.File({}, {"RGB": rgb}).write(str(tmp_path / "bad.exr"))
    with pytest.warns(GainMLPWarning, match="NaN"):
        pq = read_hdr(tmp_path / "bad.exr")
    assert np.all(np.isfinite(pq)) and pq.min() >= 0


def test_radiance_hdr(tmp_path):
    import imagecodecs

    rgb = np.full((3, 5, 3), 0.5, np.float32)
    (tmp_path / "a.hdr").write_bytes(imagecodecs.rgbe_encode(rgb))
    np.testing.assert_allclose(read_hdr_linear(tmp_path / "a.hdr"),
                               colorimetry.convert_primaries(rgb, "bt709", "bt2020"), atol=1e-2)


def test_bit_depth_errors(tmp_path, pair):
    sdr_u8, hdr = pair
    write_sdr_png(tmp_path / "8.png", sdr_u8)
    with pytest.raises(GainMLPError, match="16-bit"):
        read_hdr(tmp_path / "8.png")
    write_hdr(tmp_path / "16.png", hdr)
    with pytest.raises(GainMLPError, match="8-bit"):
        read_sdr(tmp_path / "16.png")


def test_linear_exr_keeps_values_above_10000_nits(tmp_path):
    """Linear output skips PQ: 50,000 cd/m2 (a sunlit highlight) survives, PQ would clip."""
    linear = np.full((4, 6, 3), 120.0, np.float32)
    linear[1, 2] = (50_000.0, 40_000.0, 2_000_000.0)
    write_hdr_linear(tmp_path / "sun.exr", linear, exr_white_nits=100)
    back = read_exr_linear(tmp_path / "sun.exr") * 100
    np.testing.assert_allclose(back, linear, rtol=1e-3)
    write_hdr(tmp_path / "pq.exr", colorimetry.linear_to_pq_bt2020(linear))
    assert read_exr_linear(tmp_path / "pq.exr").max() * 100 == pytest.approx(10_000, rel=1e-3)
    # beyond half-float range (65,504 x white): clipped there, with a warning
    with pytest.warns(GainMLPWarning, match="half-float"):
        write_hdr_linear(tmp_path / "over.exr", linear, exr_white_nits=1.0)
    assert read_exr_linear(tmp_path / "over.exr").max() == 65504.0
    with pytest.raises(GainMLPError, match=".exr"):
        write_hdr_linear(tmp_path / "sun.png", linear)
    assert not (tmp_path / "sun.png").exists()


def test_hdr_png_of_a_non_contiguous_view(tmp_path) -> None:
    """A flipped or transposed view is written as the image it shows (imagecodecs needs
    C-contiguous data)."""
    from gainmlp.io.hdr import encode_hdr_png

    pq = np.random.default_rng(3).random((6, 5, 3)).astype(np.float32)
    for view in (pq[:, ::-1], pq.transpose(1, 0, 2)):
        path = tmp_path / "view.png"
        path.write_bytes(encode_hdr_png(view))
        np.testing.assert_allclose(read_hdr(path), view, atol=1 / 65535)


def test_exr_writer_leaves_openexr_settings_as_it_found_them():
    import OpenEXR

    from gainmlp.io.hdr import encode_hdr_exr

    before = OpenEXR.global_thread_count()
    OpenEXR.set_global_thread_count(before + 3)
    try:
        data = encode_hdr_exr(np.full((8, 8, 3), 0.5, np.float32))
        assert OpenEXR.global_thread_count() == before + 3
    finally:
        OpenEXR.set_global_thread_count(before)
    assert data[:4] == b"\x76\x2f\x31\x01"  # OpenEXR magic
