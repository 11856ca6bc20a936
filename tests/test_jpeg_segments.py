"""Byte-level JPEG segment handling: APPn payloads, MPF, XMP, ICC, hostile bytes."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from gainmlp.container import jpeg_segments as js
from gainmlp.errors import GainMLPError


def make_jpeg(w: int = 48, h: int = 32, seed: int = 0, **save) -> bytes:
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "JPEG", quality=90, **save)
    return buf.getvalue()


def decode(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"))


@pytest.fixture(scope="module")
def jpeg() -> bytes:
    return make_jpeg()


def test_parse_segments_structure(jpeg: bytes) -> None:
    segs = js.parse_segments(jpeg)
    assert segs[0].marker == js.SOI and segs[-1].marker == js.SOS
    assert any(s.marker == js.APP0 for s in segs)
    for a, b in zip(segs, segs[1:], strict=False):
        assert a.end == b.offset
    assert js.find_image_end(jpeg) == len(jpeg)


def test_find_image_end_progressive_and_restart() -> None:
    prog = make_jpeg(progressive=True)
    assert js.find_image_end(prog) == len(prog)
    both = prog + b"\x00junk" + make_jpeg(seed=3)
    ranges = js.concatenated_image_ranges(both)
    assert ranges[0] == (0, len(prog))
    assert ranges[1][1] == len(both)


@pytest.mark.parametrize("size", [1, 1000, js.GAINMLP_CHUNK_MAX, js.GAINMLP_CHUNK_MAX + 1, 200_000])
def test_payload_round_trip(jpeg: bytes, size: int) -> None:
    payload = np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8).tobytes()
    out = js.embed_payload(jpeg, payload)
    assert js.extract_payload(out) == payload
    n_segs = sum(s.startswith(js.APP11, js.GAINMLP_ID) for s in js.parse_segments(out))
    assert n_segs == -(-size // js.GAINMLP_CHUNK_MAX)
    assert np.array_equal(decode(out), decode(jpeg))  # image untouched
    # embedding again replaces the old payload
    again = js.embed_payload(out, b"second")
    assert js.extract_payload(again) == b"second"
    assert js.extract_payload(jpeg) is None


def test_payload_segments_go_after_app0(jpeg: bytes) -> None:
    out = js.embed_payload(jpeg, b"abc")
    markers = [s.marker for s in js.parse_segments(out)]
    assert markers[:3] == [js.SOI, js.APP0, js.APP11]


def _with_chunks(jpeg: bytes, chunks: list[bytes]) -> bytes:
    return js.insert_segments(jpeg, [js.build_segment(js.APP11, c) for c in chunks])


def _chunk(index: int, count: int, total: int, body: bytes, version: int = 1) -> bytes:
    return js.GAINMLP_ID + struct.pack(">BHHI", version, index, count, total) + body


@pytest.mark.parametrize(
    "chunks",
    [
        [_chunk(0, 2, 6, b"abc")],  # missing chunk
        [_chunk(0, 2, 6, b"abc"), _chunk(0, 2, 6, b"def")],  # duplicate
        [_chunk(0, 1, 9, b"abc")],  # wrong total
        [_chunk(0, 1, 3, b"abc", version=9)],  # unknown version
        [_chunk(5, 1, 3, b"abc")],  # index out of range
        [_chunk(0, 2, 6, b"abc"), _chunk(1, 3, 6, b"def")],  # disagreeing headers
        [js.GAINMLP_ID + b"\x01"],  # truncated header
    ],
)
def test_payload_bad_chunks(jpeg: bytes, chunks: list[bytes]) -> None:
    with pytest.raises(GainMLPError):
        js.extract_payload(_with_chunks(jpeg, chunks))


def test_payload_chunks_out_of_order(jpeg: bytes) -> None:
    data = _with_chunks(jpeg, [_chunk(1, 2, 6, b"def"), _chunk(0, 2, 6, b"abc")])
    assert js.extract_payload(data) == b"abcdef"


def test_build_segment_limits() -> None:
    js.build_segment(js.APP1, b"x" * js.MAX_SEGMENT_PAYLOAD)
    with pytest.raises(GainMLPError):
        js.build_segment(js.APP1, b"x" * (js.MAX_SEGMENT_PAYLOAD + 1))
    with pytest.raises(GainMLPError):
        js.build_segment(js.SOI, b"")


@pytest.mark.parametrize("big_endian", [True, False])
def test_mpf_round_trip(big_endian: bool) -> None:
    entries = [
        js.MpEntry(js.MP_ATTR_PRIMARY | js.MP_ATTR_BASELINE_PRIMARY, 1234, 0),
        js.MpEntry(0, 567, 1000, 0, 0),
        js.MpEntry(0, 89, 2000, 1, 2),
    ]
    payload = js.build_mpf_payload(entries, big_endian=big_endian)
    assert len(payload) == js.mpf_payload_size(3)
    assert payload[4:6] == (b"MM" if big_endian else b"II")
    assert js.parse_mpf_payload(payload) == entries


def test_mpf_locates_images() -> None:
    first, second = make_jpeg(seed=1), make_jpeg(seed=2, w=16, h=16)
    mpf_len = len(js.build_segment(js.APP2, b"\x00" * js.mpf_payload_size(2)))
    pos = js.insertion_point(first)
    primary_len = len(first) + mpf_len
    origin = pos + 4 + 4
    entries = [
        js.MpEntry(js.MP_ATTR_BASELINE_PRIMARY, primary_len, 0),
        js.MpEntry(0, len(second), primary_len - origin),
    ]
    seg = js.build_segment(js.APP2, js.build_mpf_payload(entries, big_endian=False))
    data = first[:pos] + seg + first[pos:] + second
    ranges = js.mpf_image_ranges(data)
    assert ranges == [(0, primary_len), (primary_len, len(data))]
    assert np.array_equal(decode(data[ranges[1][0] :]), decode(second))
    # an offset pointing outside the file is reported
    bad = [entries[0], js.MpEntry(0, len(second), 10 * len(data))]
    seg = js.build_segment(js.APP2, js.build_mpf_payload(bad))
    with pytest.raises(GainMLPError):
        js.mpf_image_ranges(first[:pos] + seg + first[pos:] + second)


@pytest.mark.parametrize(
    "payload",
    [
        b"MPF\x00",
        b"MPF\x00XX\x00\x2a\x00\x00\x00\x08",
        b"MPF\x00MM\x00\x2b\x00\x00\x00\x08\x00\x00",
        b"MPF\x00MM\x00\x2a\xff\xff\xff\xff",
        b"MPF\x00MM\x00\x2a\x00\x00\x00\x08\xff\xff",
        b"MPF\x00MM\x00\x2a\x00\x00\x00\x08\x00\x01\xb0\x02\x00\x07\x00\x00\x00\x10\xff\xff\xff\x00",
        b"MPF\x00MM\x00\x2a\x00\x00\x00\x08\x00\x00",  # no entries
    ],
)
def test_mpf_malformed(payload: bytes) -> None:
    with pytest.raises(GainMLPError):
        js.parse_mpf_payload(payload)


def test_xmp_and_extended_xmp(jpeg: bytes) -> None:
    xml = '<x:xmpmeta xmlns:x="adobe:ns:meta/"><a b="é"/></x:xmpmeta>'
    ext = "<ext>" + "z" * 150_000 + "</ext>"
    guid, ext_segs = js.extended_xmp_segments(ext)
    main = xml.replace("<a", f"<xmpNote:HasExtendedXMP>{guid}</xmpNote:HasExtendedXMP><a")
    data = js.insert_segments(
        jpeg, [js.build_segment(js.APP1, js.xmp_segment_payload(main)), *reversed(ext_segs)]
    )
    got_main, got_ext = js.read_xmp(js.parse_segments(data))
    assert got_main == main and got_ext == ext
    with pytest.raises(GainMLPError):
        js.xmp_segment_payload("x" * 70_000)
    # an incomplete extended packet is ignored
    partial = js.insert_segments(jpeg, ext_segs[:1])
    assert js.read_xmp(js.parse_segments(partial)) == (None, None)


def test_icc_multi_segment_read() -> None:
    icc = b"\x00\x01\x02" * 40_000  # Pillow splits it over two APP2 segments
    data = make_jpeg(icc_profile=icc)
    segs = js.parse_segments(data)
    assert sum(s.startswith(js.APP2, js.ICC_ID) for s in segs) == 2
    assert js.read_icc(segs) == icc


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xff",
        b"\xff\xd8",
        b"\xff\xd8\xff",
        b"\xff\xd8\xff\xe0\x00",
        b"\xff\xd8\xff\xe0\x00\x01",
        b"\xff\xd8\xff\xe0\xff\xff",
        b"\xff\xd8\xff\xd9",
        b"\x89PNG\r\n",
        b"\xff\xd8\xff\xd8",
    ],
)
def test_parse_segments_rejects_garbage(data: bytes) -> None:
    with pytest.raises(GainMLPError):
        js.parse_segments(data)


def test_truncated_scan(jpeg: bytes) -> None:
    with pytest.raises(GainMLPError):
        js.find_image_end(jpeg[:-2])


# ----------------------------------------------------------------- property tests

_FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _all_readers(data: bytes) -> None:
    for fn in (
        js.parse_segments,
        js.find_image_end,
        js.extract_payload,
        js.mpf_image_ranges,
        js.concatenated_image_ranges,
    ):
        try:
            fn(data)
        except GainMLPError:
            pass
    try:
        segs = js.parse_segments(data)
    except GainMLPError:
        return
    for fn in (js.read_xmp, js.read_icc, js.find_mpf):
        try:
            fn(segs)
        except GainMLPError:
            pass


@_FUZZ
@given(st.binary(max_size=600))
def test_random_bytes_only_raise_gainmlp_error(data: bytes) -> None:
    _all_readers(b"\xff\xd8" + data)
    _all_readers(data)


_BASE = js.embed_payload(make_jpeg(w=16, h=16), b"p" * 70_000)
_MPF = js.build_mpf_payload([js.MpEntry(0, 100, 0), js.MpEntry(0, 50, 60)])


@_FUZZ
@given(
    st.lists(
        st.tuples(st.integers(0, len(_BASE) - 1), st.integers(0, 255)), min_size=1, max_size=8
    ),
    st.integers(0, len(_BASE)),
)
def test_mutated_jpeg_only_raises_gainmlp_error(edits: list[tuple[int, int]], cut: int) -> None:
    buf = bytearray(_BASE)
    for pos, value in edits:
        buf[pos] = value
    _all_readers(bytes(buf[: max(cut, 2)]))
    _all_readers(bytes(buf))


@_FUZZ
@given(
    st.lists(st.tuples(st.integers(0, len(_MPF) - 1), st.integers(0, 255)), max_size=6),
    st.integers(0, len(_MPF)),
)
def test_mutated_mpf_only_raises_gainmlp_error(edits: list[tuple[int, int]], cut: int) -> None:
    buf = bytearray(_MPF)
    for pos, value in edits:
        buf[pos] = value
    try:
        js.parse_mpf_payload(bytes(buf[:cut]))
    except GainMLPError:
        pass
