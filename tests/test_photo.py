"""JPEG containers end to end: gainmlp photo, Ultra HDR output, ultrahdr+mlp, re-encoding;
and the photo's byte-level helpers (gainmlp.container.photo)."""

import imagecodecs
import numpy as np
import pytest

import gainmlp.io as imageio
from gainmlp import metrics, photo
from gainmlp.cli import main
from gainmlp.codecs import EncodeOptions
from gainmlp.colorimetry import SdrEncoding
from gainmlp.container import gainmap_jpeg
from gainmlp.container import photo as photo_bytes
from gainmlp.container.app11 import extract_payload
from gainmlp.container.ultrahdr import ultrahdr_from_pair
from gainmlp.errors import GainMLPError
from gainmlp.image import SdrImage

FAST = ["--steps", "30", "--batch", "2048"]


def test_gainmlp_photo_round_trip(tmp_path, pair_files, pair):
    sdr, hdr = pair_files
    out = tmp_path / "photo.jpg"
    assert main(["encode", str(sdr), str(hdr), "-o", str(out), "--method", "gamma-jpeg"]) == 0
    data = out.read_bytes()
    # every viewer sees a plain JPEG of the SDR
    shown = imageio.decode_sdr_bytes(data).pixels
    assert metrics.psnr(pair[0] / 255.0, shown / 255.0) > 35
    assert extract_payload(data) is not None
    assert main(["decode", str(out), "-o", str(tmp_path / "hdr.png")]) == 0
    rebuilt = imageio.read_hdr(tmp_path / "hdr.png")
    assert metrics.psnr(pair[1], rebuilt) > 30


def test_closed_loop_fits_the_decoded_jpeg(pair):
    sdr_u8, hdr = pair
    sdr = SdrImage(sdr_u8, SdrEncoding())
    # a near-lossless map (full scale, quality 100): closed loop cancels the base's JPEG
    # error, open loop (the paper's set-up) leaves it in the HDR
    options = EncodeOptions(scale=1, quality=100)
    closed, _ = photo.encode_photo(sdr, hdr, "gamma-jpeg", options, jpeg_quality=70)
    opened, _ = photo.encode_photo(sdr, hdr, "gamma-jpeg", options, jpeg_quality=70,
                                   open_loop=True)
    assert metrics.psnr(hdr, photo.decode_photo(closed)) > metrics.psnr(
        hdr, photo.decode_photo(opened)) + 3


def test_ultrahdr_output_decodes_in_libultrahdr(tmp_path, pair_files, pair):
    sdr, hdr = pair_files
    out = tmp_path / "u.jpg"
    assert main(["encode", str(sdr), str(hdr), "-o", str(out), "--method", "gain-jpeg",
                 "--container", "ultrahdr", "--scale", "1"]) == 0
    data = out.read_bytes()
    ours = photo.decode_photo(data)
    # libultrahdr: linear float16, base gamut (sRGB), SDR white = 1.0
    theirs = np.asarray(imagecodecs.ultrahdr_decode(data), dtype=np.float64)[..., :3]
    from gainmlp import colorimetry

    theirs_pq = colorimetry.linear_to_pq_bt2020(theirs * gainmap_jpeg.SDR_WHITE_NITS, "srgb")
    assert metrics.psnr(ours, theirs_pq) >= 40
    assert metrics.psnr(pair[1], ours) > 28


def test_ultrahdr_plus_mlp_prefers_payload(tmp_path, pair_files, pair):
    sdr, hdr = pair_files
    out = tmp_path / "um.jpg"
    assert main(["encode", str(sdr), str(hdr), "-o", str(out), "--container", "ultrahdr+mlp",
                 *FAST]) == 0
    data = out.read_bytes()
    assert gainmap_jpeg.is_gainmap_jpeg(data)
    assert extract_payload(data) is not None
    imagecodecs.ultrahdr_decode(data)  # other viewers still get a gain map


def test_reencode_gain_map_jpeg_and_share(tmp_path, pair):
    sdr_u8, hdr = pair
    data, _ = ultrahdr_from_pair(SdrImage(sdr_u8, SdrEncoding()), hdr, scale=1)
    (tmp_path / "in.jpg").write_bytes(data)
    base_in = imageio.decode_sdr_bytes(data).pixels
    # default container: a new small standard map beside the payload, base bytes kept
    assert main(["encode", str(tmp_path / "in.jpg"), "-o", str(tmp_path / "both.jpg"),
                 "--method", "gamma-jpeg", "--scale", "2"]) == 0
    both = (tmp_path / "both.jpg").read_bytes()
    assert gainmap_jpeg.is_gainmap_jpeg(both) and extract_payload(both) is not None
    assert photo_bytes.gain_map_size(both) < photo_bytes.gain_map_size(data)
    assert imagecodecs.ultrahdr_decode(both).shape[:2] == sdr_u8.shape[:2]
    np.testing.assert_array_equal(imageio.decode_sdr_bytes(both).pixels, base_in)
    assert main(["encode", str(tmp_path / "in.jpg"), "-o", str(tmp_path / "mlp.jpg"),
                 "--method", "gamma-jpeg", "--scale", "2", "--container", "gainmlp"]) == 0
    mlp = (tmp_path / "mlp.jpg").read_bytes()
    assert not gainmap_jpeg.is_gainmap_jpeg(mlp)  # old map gone, base bytes kept
    np.testing.assert_array_equal(imageio.decode_sdr_bytes(mlp).pixels, base_in)
    assert main(["decode", str(tmp_path / "mlp.jpg"), "-o", str(tmp_path / "shared.jpg")]) == 0
    shared = (tmp_path / "shared.jpg").read_bytes()
    assert gainmap_jpeg.is_gainmap_jpeg(shared)
    imagecodecs.ultrahdr_decode(shared)


def test_plain_jpeg_without_payload_is_refused(tmp_path, pair):
    data = imageio.encode_sdr_jpeg(pair[0])
    with pytest.raises(GainMLPError, match="neither"):
        photo.decode_photo(data)
    (tmp_path / "plain.jpg").write_bytes(data)
    assert main(["decode", str(tmp_path / "plain.jpg"), "-o", str(tmp_path / "x.png")]) == 2
    assert not (tmp_path / "x.png").exists()


def test_photo_bytes_helpers(pair):
    sdr_u8, hdr = pair
    data, parts = ultrahdr_from_pair(SdrImage(sdr_u8, SdrEncoding()), hdr, scale=2)
    assert photo_bytes.gain_map_size(data) == parts["gain_map"]
    primary = photo_bytes.strip_gain_map(data)
    assert not gainmap_jpeg.is_gainmap_jpeg(primary) and len(primary) < parts["primary"]
    np.testing.assert_array_equal(imageio.decode_sdr_bytes(primary).pixels,
                                  imageio.decode_sdr_bytes(data).pixels)
    with pytest.raises(GainMLPError, match="no gainmlp payload"):
        photo_bytes.read_payload_bytes(primary, "x.jpg")
    ours, _ = photo.encode_photo(SdrImage(sdr_u8, SdrEncoding()), hdr, "gamma-jpeg")
    assert photo_bytes.read_payload_bytes(ours) == extract_payload(ours)


def test_gain_map_jpeg_to_exr_is_unclipped(tmp_path):
    """A gain map 8 stops over a white base (a sunlit highlight, ~52,800 cd/m2): .exr is
    linear without the PQ round trip and keeps it; PQ outputs clip at 10,000 cd/m2."""
    from gainmlp.iso_gainmap import GainMapMetadata

    sdr = np.full((16, 16, 3), 255, np.uint8)
    gain = np.zeros((16, 16), np.uint8)
    gain[:8, :8] = 255
    meta = GainMapMetadata(gain_map_min=0.0, gain_map_max=8.0, hdr_capacity_max=8.0)
    data = gainmap_jpeg.write_ultrahdr(None, sdr, None, gain, meta, quality=100,
                                       gain_map_quality=100)
    (tmp_path / "sun.jpg").write_bytes(data)
    sun = ((1 + 1 / 64) * 2**8 - 1 / 64) * gainmap_jpeg.SDR_WHITE_NITS
    _, linear = photo.decode_file(data, "sun.jpg", linear=True)
    assert linear.max() == pytest.approx(sun, rel=1e-3)
    assert main(["decode", str(tmp_path / "sun.jpg"), "-o", str(tmp_path / "sun.exr")]) == 0
    exr = imageio.read_hdr_linear(tmp_path / "sun.exr") * 100
    assert exr.max() == pytest.approx(sun, rel=2e-3)
    assert exr[12, 12, 1] == pytest.approx(gainmap_jpeg.SDR_WHITE_NITS, rel=2e-3)
    assert main(["decode", str(tmp_path / "sun.jpg"), "-o", str(tmp_path / "sun.png")]) == 0
    assert imageio.read_hdr(tmp_path / "sun.png").max() == pytest.approx(1.0, abs=1e-4)


def test_photo_level_api_round_trip(tmp_path, pair):
    import gainmlp

    sdr_u8, hdr = pair
    target = tmp_path / "photo.jpg"
    parts = gainmlp.save_photo(target, gainmlp.SdrImage(sdr_u8, SdrEncoding()), hdr,
                               "gamma-jpeg")
    assert set(parts) == {"primary", "gain_map", "payload"}
    base, rebuilt = gainmlp.load_photo(target)
    again = gainmlp.load_photo(target.read_bytes())[1]
    np.testing.assert_array_equal(rebuilt, again)
    assert base.pixels.shape == sdr_u8.shape and rebuilt.dtype == np.float32
    assert 30 < gainmlp.metrics.psnr(hdr, rebuilt) < 80
    linear = gainmlp.load_photo(target, linear=True)[1]
    assert linear.max() > 100  # cd/m2
    with pytest.raises(GainMLPError, match="no such file"):
        gainmlp.load_photo(tmp_path / "missing.jpg")
    assert not (tmp_path / "missing.jpg").exists()
