"""JPEG marker segments: parsing, image boundaries, building; hostile bytes everywhere."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jpeg_samples import make_jpeg

from gainmlp.container import segments as seg
from gainmlp.container.app11 import embed_payload, extract_payload
from gainmlp.container.icc import read_icc
from gainmlp.container.mpf import MpEntry, build_mpf_payload, find_mpf, mpf_image_ranges
from gainmlp.container.xmp import read_xmp
from gainmlp.errors import GainMLPError


@pytest.fixture(scope="module")
def jpeg() -> bytes:
    return make_jpeg()


def test_parse_segments_structure(jpeg: bytes) -> None:
    segs = seg.parse_segments(jpeg)
    assert segs[0].marker == seg.SOI and segs[-1].marker == seg.SOS
    assert any(s.marker == seg.APP0 for s in segs)
    for a, b in zip(segs, segs[1:], strict=False):
        assert a.end == b.offset
    assert seg.find_image_end(jpeg) == len(jpeg)


def test_find_image_end_progressive_and_restart() -> None:
    prog = make_jpeg(progressive=True)
    assert seg.find_image_end(prog) == len(prog)
    both = prog + b"\x00junk" + make_jpeg(seed=3)
    ranges = seg.concatenated_image_ranges(both)
    assert ranges[0] == (0, len(prog))
    assert ranges[1][1] == len(both)


def test_build_segment_limits() -> None:
    seg.build_segment(seg.APP1, b"x" * seg.MAX_SEGMENT_PAYLOAD)
    with pytest.raises(GainMLPError):
        seg.build_segment(seg.APP1, b"x" * (seg.MAX_SEGMENT_PAYLOAD + 1))
    with pytest.raises(GainMLPError):
        seg.build_segment(seg.SOI, b"")


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
        seg.parse_segments(data)


def test_truncated_scan(jpeg: bytes) -> None:
    with pytest.raises(GainMLPError):
        seg.find_image_end(jpeg[:-2])


# ----------------------------------------------------------------- property tests

_FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _all_readers(data: bytes) -> None:
    """Every segment-level reader of the container modules; only GainMLPError may escape."""
    for fn in (
        seg.parse_segments,
        seg.find_image_end,
        extract_payload,
        mpf_image_ranges,
        seg.concatenated_image_ranges,
    ):
        try:
            fn(data)
        except GainMLPError:
            pass
    try:
        segs = seg.parse_segments(data)
    except GainMLPError:
        return
    for fn in (read_xmp, read_icc, find_mpf):
        try:
            fn(segs)
        except GainMLPError:
            pass


@_FUZZ
@given(st.binary(max_size=600))
def test_random_bytes_only_raise_gainmlp_error(data: bytes) -> None:
    _all_readers(b"\xff\xd8" + data)
    _all_readers(data)


_BASE = embed_payload(make_jpeg(w=16, h=16), b"p" * 70_000)
_MPF = build_mpf_payload([MpEntry(0, 100, 0), MpEntry(0, 50, 60)])


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
