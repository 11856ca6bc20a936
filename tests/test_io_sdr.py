"""SDR files in and out: default encoding, ICC override, flags, corrupt files."""

import io

import numpy as np
import pytest
from PIL import Image, ImageCms

from gainmlp import colorimetry
from gainmlp.errors import GainMLPError
from gainmlp.io.sdr import read_sdr, write_sdr_png


def test_sdr_defaults_and_icc_override(tmp_path, pair):
    sdr_u8, _ = pair
    write_sdr_png(tmp_path / "plain.png", sdr_u8)
    img = read_sdr(tmp_path / "plain.png")
    assert img.encoding == colorimetry.SdrEncoding("bt709", "gamma2.4", 100.0)
    np.testing.assert_array_equal(img.pixels, sdr_u8)
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    write_sdr_png(tmp_path / "srgb.png", sdr_u8, icc=icc)
    assert read_sdr(tmp_path / "srgb.png").encoding.transfer == "srgb"
    flags = read_sdr(tmp_path / "srgb.png", primaries="p3", white_nits=203)
    assert (flags.encoding.primaries, flags.encoding.white_nits) == ("p3", 203)


@pytest.mark.parametrize("content,match", [
    (b"", "not a readable"), (b"garbage" * 10, "not a readable"),
])
def test_corrupt_files(tmp_path, content, match):
    (tmp_path / "x.png").write_bytes(content)
    with pytest.raises(GainMLPError, match=match):
        read_sdr(tmp_path / "x.png")


def test_truncated_jpeg(tmp_path, pair):
    sdr_u8, _ = pair
    buf = io.BytesIO()
    Image.fromarray(sdr_u8).save(buf, "JPEG")
    (tmp_path / "t.jpg").write_bytes(buf.getvalue()[:200])
    with pytest.raises(GainMLPError):
        read_sdr(tmp_path / "t.jpg")


def test_jpeg_declaring_far_more_pixels_than_its_data_is_refused(pair):
    # the gap behind fuzz/'s slow gain-map input, in the SDR reader: a 10 KB gainmlp JPEG whose
    # SOF declared 12000x12000 was decoded (144 MP of grey fill, seconds, ~0.5 GB) before
    # the payload's size was compared
    from gainmlp.io.sdr import decode_sdr_bytes

    buf = io.BytesIO()
    Image.fromarray(pair[0][:16, :16]).save(buf, "JPEG")
    data = buf.getvalue()
    sof = data.index(b"\xff\xc0")
    big = data[:sof + 5] + (1000).to_bytes(2, "big") + (2000).to_bytes(2, "big") + data[sof + 9:]
    with pytest.raises(GainMLPError, match="declares 2000x1000 pixels"):
        decode_sdr_bytes(big, "big.jpg")
    assert decode_sdr_bytes(data).pixels.shape == (16, 16, 3)
