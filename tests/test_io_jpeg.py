"""The one JPEG encoder and decoder: each caller's Pillow settings, strict decoding."""

import io

import numpy as np
import pytest
from PIL import Image

from gainmlp.codecs import map_image
from gainmlp.container.gainmap_jpeg import write_ultrahdr
from gainmlp.errors import GainMLPError
from gainmlp.io.jpeg import decode_jpeg, encode_jpeg
from gainmlp.io.sdr import encode_sdr_jpeg
from gainmlp.iso_gainmap import GainMapMetadata


def _pillow(arr: np.ndarray, **options) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "JPEG", **options)
    return buf.getvalue()


@pytest.fixture
def rgb() -> np.ndarray:
    return np.random.default_rng(5).integers(0, 256, (24, 40, 3), dtype=np.uint8)


def test_settings_reach_pillow_unchanged(rgb):
    icc = b"\x00" * 200
    assert encode_jpeg(rgb, 75) == _pillow(rgb, quality=75)
    assert encode_jpeg(rgb, 90, icc=icc, optimize=True, subsampling=0) == _pillow(
        rgb, quality=90, icc_profile=icc, optimize=True, subsampling=0)
    assert encode_jpeg(rgb[:, :, 0], 80, optimize=True) == _pillow(
        rgb[:, :, 0], quality=80, optimize=True)


def test_callers_settings(rgb):
    """map images: Pillow defaults; SDR bases: optimised, 4:4:4 from quality 90."""
    assert map_image.compress(rgb, "jpeg", 70) == _pillow(rgb, quality=70)
    assert encode_sdr_jpeg(rgb, 95) == _pillow(rgb, quality=95, subsampling=0, optimize=True)
    assert encode_sdr_jpeg(rgb, 80) == _pillow(rgb, quality=80, subsampling=2, optimize=True)
    meta = GainMapMetadata(gain_map_max=2.0, hdr_capacity_max=2.0)
    data = write_ultrahdr(None, rgb, None, rgb[:12, :20], meta)
    assert data.endswith(_pillow(rgb[:12, :20], quality=90, optimize=True, subsampling=0)[-200:])


def test_decode_modes(rgb):
    arr, mode = decode_jpeg(_pillow(rgb, quality=100, subsampling=0))
    assert mode == "RGB" and arr.shape == rgb.shape and np.abs(arr - rgb.astype(int)).mean() < 3
    grey, mode = decode_jpeg(_pillow(rgb[:, :, 1], quality=100))
    assert mode == "L" and np.abs(grey - rgb[:, :, 1].astype(int)).mean() < 3


def test_strict_and_lenient_decoding(rgb):
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG")
    with pytest.raises(GainMLPError, match="cannot decode map"):
        decode_jpeg(buf.getvalue(), "map")
    arr, _ = decode_jpeg(buf.getvalue(), strict=False)  # whatever Pillow reads
    np.testing.assert_array_equal(arr, rgb)
    with pytest.raises(Exception):  # noqa: B017 - Pillow's own exception reaches the caller
        decode_jpeg(b"junk", strict=False)
    with pytest.raises(GainMLPError, match="cannot decode"):
        decode_jpeg(b"junk")


def _declaring(data: bytes, width: int, height: int) -> bytes:
    """``data`` with its SOF0 header declaring ``width`` x ``height``."""
    sof = data.index(b"\xff\xc0")
    return data[:sof + 5] + height.to_bytes(2, "big") + width.to_bytes(2, "big") + data[sof + 9:]


def test_small_file_declaring_a_large_image_is_refused_before_decoding(rgb):
    # fuzz/ (gainmap-jpeg target) found a 5.6 KB file declaring 55584x255: libjpeg fills the
    # missing scan with grey, so it decoded 14 MP and rendering took ~20 s. A Huffman-coded
    # JPEG holds at most 512 pixels per byte; the limit is now 1024 (it was 8192).
    small = _pillow(rgb, quality=80)
    assert len(small) < 2048
    with pytest.raises(GainMLPError, match="declares 2000x1000 pixels but has only"):
        decode_jpeg(_declaring(small, 2000, 1000))
    # the flattest real files (about 250 pixels per byte) still decode
    flat = _pillow(np.full((1024, 1024), 128, np.uint8), quality=50, optimize=True,
                   progressive=True)
    assert 1024 * 1024 / len(flat) > 200
    assert decode_jpeg(flat)[0].shape == (1024, 1024)
