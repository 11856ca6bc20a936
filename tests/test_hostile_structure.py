"""Hostile structure: small files whose repeated or oversized parts would cost unbounded work.

* an MPF index naming the same secondary image a thousand times (each with a large XMP
  packet): each distinct image is parsed once, the XMP examined per file is bounded;
* progressive JPEGs (base or gain map) with thousands of repeated scans: refused from the
  markers before libjpeg decodes them;
* payload networks larger than any encoder writes (many layers of width 1024): refused
  before they are evaluated, unless ``GAINMLP_MAX_NETWORK_MACS`` raises the limit.
"""

from __future__ import annotations

import dataclasses
import io

import numpy as np
import pytest
from hostile_util import run_cli
from PIL import Image

import gainmlp
from gainmlp.colorimetry import SdrEncoding
from gainmlp.container import gainmap_jpeg, mpf, xmp
from gainmlp.container.segments import APP2, build_segment, insertion_point, remove_segments
from gainmlp.errors import GainMLPError
from gainmlp.io.jpeg import MAX_SCANS, count_scans


def _ultrahdr(pair, extra_xmp: int = 0) -> bytes:
    from gainmlp.container.ultrahdr import ultrahdr_from_pair

    sdr_u8, hdr_pq = pair
    data, _ = ultrahdr_from_pair(gainmlp.SdrImage(sdr_u8, SdrEncoding()), hdr_pq, 4, 80)
    return data


def _with_repeated_mpf(data: bytes, copies: int) -> bytes:
    """``data`` (a two-image MPF file) with an index that lists its gain-map image
    ``copies`` times."""
    ranges = mpf.mpf_image_ranges(data)
    (p0, p1), (g0, g1) = ranges[0], ranges[1]
    primary = remove_segments(data[p0:p1], lambda s: s.startswith(APP2, mpf.MPF_ID))
    gain = data[g0:g1]
    at = insertion_point(primary)
    n = copies + 1
    seg_len = 4 + mpf.mpf_payload_size(n)
    origin = at + 4 + len(mpf.MPF_ID)  # offsets count from the MPF TIFF header
    start = len(primary) + seg_len - origin
    entries = [mpf.MpEntry(mpf.MP_ATTR_PRIMARY | mpf.MP_ATTR_BASELINE_PRIMARY,
                           len(primary) + seg_len, 0)]
    entries += [mpf.MpEntry(0, len(gain), start)] * copies
    seg = build_segment(APP2, mpf.build_mpf_payload(entries))
    assert len(seg) == seg_len
    return primary[:at] + seg + primary[at:] + gain


def test_an_mpf_index_repeating_one_image_is_parsed_once(pair, monkeypatch) -> None:
    data = _ultrahdr(pair)
    hostile = _with_repeated_mpf(data, 1000)
    assert len(mpf.find_mpf(gainmap_jpeg.parse_segments(hostile))[1]) == 1001
    calls = []
    real = xmp.read_xmp
    monkeypatch.setattr(xmp, "read_xmp", lambda segs: calls.append(1) or real(segs))
    gm = gainmap_jpeg.read_gainmap_jpeg(hostile)
    assert len(calls) <= 4, f"XMP read {len(calls)} times"
    assert gainmap_jpeg.is_gainmap_jpeg(hostile)
    # the same result as the file with an ordinary index
    normal = gainmap_jpeg.read_gainmap_jpeg(data)
    assert np.array_equal(gm.sdr, normal.sdr) and np.array_equal(gm.gain_map, normal.gain_map)
    assert gm.metadata == normal.metadata


def test_mpf_images_are_deduplicated_and_bounded() -> None:
    data = b"\xff\xd8" + bytes(64)
    # an index of the primary and 40 distinct "images" (each a bare SOI)
    body = bytearray(data)
    starts = []
    for _ in range(40):
        starts.append(len(body))
        body += b"\xff\xd8" + bytes(14)
    at = 2
    n = 41 + 40  # every image listed twice
    seg_len = 4 + mpf.mpf_payload_size(n)
    origin = at + 4 + len(mpf.MPF_ID)
    entries = [mpf.MpEntry(0, 66 + seg_len, 0)]
    entries += [mpf.MpEntry(0, 16, s + seg_len - origin) for s in starts] * 2
    seg = build_segment(APP2, mpf.build_mpf_payload(entries[:n]))
    blob = bytes(body[:at]) + seg + bytes(body[at:])
    found = mpf.mpf_image_ranges(blob, [gainmap_jpeg.Segment(APP2, at, len(seg),
                                                             seg[4:])])
    assert len(found) == mpf.MPF_MAX_READ_IMAGES
    assert len(set(found)) == len(found)


def test_xmp_examined_per_file_is_bounded() -> None:
    from gainmlp.container.segments import Segment

    packet = "x" * (xmp.MAX_XMP_CHARS + 100)
    seg = Segment(0xE1, 0, 0, xmp.XMP_ID + packet.encode())
    allowance = xmp.XmpAllowance()
    texts = [allowance.text([seg]) for _ in range(10)]
    assert sum(map(len, texts)) <= xmp.MAX_XMP_FILE_CHARS
    assert texts[0] == packet[: xmp.MAX_XMP_CHARS] and texts[-1] == ""


def _progressive(pixels: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "JPEG", quality=80, progressive=True)
    return buf.getvalue()


def _repeat_last_scan(jpeg: bytes, copies: int) -> bytes:
    """A progressive JPEG whose last scan (SOS segment and its data) is repeated: libjpeg
    accepts the repeats with a warning and decodes each over the whole image."""
    last = jpeg.rindex(b"\xff\xda")
    scan = jpeg[last:-2]  # up to the EOI
    return jpeg[:-2] + scan * copies + b"\xff\xd9"


def test_many_scans_are_counted_from_the_markers(pair) -> None:
    sdr_u8, _ = pair
    jpeg = _progressive(sdr_u8)
    assert count_scans(jpeg) == 10
    hostile = _repeat_last_scan(jpeg, 3000)
    assert count_scans(hostile) > MAX_SCANS
    # Pillow would decode it (a warning per repeated scan), over the whole image each time
    assert Image.open(io.BytesIO(hostile)).size == (64, 48)


def test_a_base_or_map_with_thousands_of_scans_is_refused(tmp_path, pair) -> None:
    from gainmlp.container.gainmap_writer import assemble_gainmap_jpeg

    sdr_u8, hdr_pq = pair
    many = _repeat_last_scan(_progressive(sdr_u8), 3000)
    (tmp_path / "sdr.jpg").write_bytes(many)
    gainmlp.io.write_hdr(tmp_path / "hdr.png", hdr_pq)
    normal = _ultrahdr(pair)
    meta = gainmap_jpeg.read_gainmap_jpeg(normal).metadata
    grey = np.full((12, 16), 100, np.uint8)
    map_many = _repeat_last_scan(_progressive(grey), 3000)
    (tmp_path / "map.jpg").write_bytes(assemble_gainmap_jpeg(
        gainmlp.io.encode_sdr_jpeg(sdr_u8, 90), map_many, meta))
    base_many = assemble_gainmap_jpeg(many, gainmap_jpeg.encode_jpeg(grey, 80), meta)
    (tmp_path / "base.jpg").write_bytes(base_many)
    for args in (("encode", tmp_path / "sdr.jpg", tmp_path / "hdr.png", "-o",
                  tmp_path / "o.jpg", "--method", "gain-jpeg"),
                 ("decode", tmp_path / "map.jpg", "-o", tmp_path / "o.png"),
                 ("decode", tmp_path / "base.jpg", "-o", tmp_path / "o.png")):
        run = run_cli(*args, timeout=120)
        assert run.one_line_error() and "scans" in run.stderr, (args, run.stderr)
    assert not (tmp_path / "o.jpg").exists() and not (tmp_path / "o.png").exists()


def _mlp_payload(pair, width: int, layers: int) -> gainmlp.Payload:
    """A gamma-mlp payload of ``pair`` whose network has ``layers`` hidden layers of
    ``width`` (random weights: the shape is what is checked)."""
    from gainmlp.codecs.mlp.format import pack_mlp_body, unpack_mlp_body

    sdr_u8, hdr_pq = pair
    options = gainmlp.EncodeOptions(steps=2, grid=None)
    payload = gainmlp.encode(gainmlp.SdrImage(sdr_u8, SdrEncoding()), hdr_pq, "gamma-mlp",
                             options)
    params = unpack_mlp_body(payload.body)
    rng = np.random.default_rng(0)
    fan = params.weights[0].shape[1]
    weights = []
    for _ in range(layers):
        weights.append(rng.normal(0, 0.01, (width, fan)).astype(np.float32))
        fan = width
    weights.append(rng.normal(0, 0.01, (params.weights[-1].shape[0], fan)).astype(np.float32))
    big = dataclasses.replace(params, weights=weights, precision="fp16")
    return dataclasses.replace(payload, body=pack_mlp_body(big))


def test_a_network_larger_than_any_encoder_writes_is_refused(tmp_path, pair) -> None:
    sdr_u8, _ = pair
    gainmlp.io.write_sdr_png(tmp_path / "sdr.png", sdr_u8)
    payload = _mlp_payload(pair, 1024, 8)  # 7.4 M multiply-adds per pixel
    (tmp_path / "p.bin").write_bytes(payload.to_bytes())
    run = run_cli("decode", tmp_path / "p.bin", "--sdr", tmp_path / "sdr.png", "-o",
                  tmp_path / "o.png", timeout=120)
    assert run.one_line_error() and "multiply-adds per pixel" in run.stderr, run.stderr
    assert not (tmp_path / "o.png").exists()
    with pytest.raises(GainMLPError, match="GAINMLP_MAX_NETWORK_MACS"):
        gainmlp.decode(gainmlp.Payload.from_bytes(payload.to_bytes()), sdr_u8)


def test_the_network_limit_can_be_raised(pair, monkeypatch) -> None:
    sdr_u8, _ = pair
    payload = _mlp_payload(pair, 512, 2)  # 0.27 M multiply-adds per pixel
    with pytest.raises(GainMLPError, match="multiply-adds"):
        gainmlp.decode(payload, sdr_u8)
    monkeypatch.setenv("GAINMLP_MAX_NETWORK_MACS", "1M")
    out = gainmlp.decode(payload, sdr_u8)
    assert out.shape == (48, 64, 3) and np.all(np.isfinite(out))


def test_the_largest_network_the_command_line_writes_is_within_the_limit(pair) -> None:
    from gainmlp.memory import MAX_NETWORK_MACS

    sdr_u8, _ = pair
    payload = _mlp_payload(pair, 128, 2)
    out = gainmlp.decode(payload, sdr_u8)  # not refused
    assert out.shape == (48, 64, 3)
    assert MAX_NETWORK_MACS >= 33_280


def test_mlp_itm_networks_are_bounded_too(monkeypatch) -> None:
    from gainmlp.codecs.mlp_itm import format as itm

    head = itm._FIXED.pack(itm.BODY_VERSION, 1, 2, 1, 12, 12, 8, 8, 1024, 1024)
    with pytest.raises(GainMLPError, match="multiply-adds"):
        itm.unpack_itm_body(head + bytes(itm.HEADER_SIZE - len(head)))


def test_payload_repeated_structure_round_trip_unchanged(pair) -> None:
    # the limits leave the default networks and files alone
    sdr_u8, hdr_pq = pair
    payload = gainmlp.encode(gainmlp.SdrImage(sdr_u8, SdrEncoding()), hdr_pq, "gamma-mlp",
                             gainmlp.EncodeOptions(steps=5))
    again = gainmlp.Payload.from_bytes(payload.to_bytes())
    assert np.array_equal(gainmlp.decode(again, sdr_u8), gainmlp.decode(payload, sdr_u8))
