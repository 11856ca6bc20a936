"""The MPF image index: building, parsing, locating images, malformed indexes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jpeg_samples import decode, make_jpeg

from gainmlp.container import mpf
from gainmlp.container.segments import APP2, build_segment, insertion_point
from gainmlp.errors import GainMLPError


@pytest.mark.parametrize("big_endian", [True, False])
def test_mpf_round_trip(big_endian: bool) -> None:
    entries = [
        mpf.MpEntry(mpf.MP_ATTR_PRIMARY | mpf.MP_ATTR_BASELINE_PRIMARY, 1234, 0),
        mpf.MpEntry(0, 567, 1000, 0, 0),
        mpf.MpEntry(0, 89, 2000, 1, 2),
    ]
    payload = mpf.build_mpf_payload(entries, big_endian=big_endian)
    assert len(payload) == mpf.mpf_payload_size(3)
    assert payload[4:6] == (b"MM" if big_endian else b"II")
    assert mpf.parse_mpf_payload(payload) == entries


def test_mpf_locates_images() -> None:
    first, second = make_jpeg(seed=1), make_jpeg(seed=2, w=16, h=16)
    mpf_len = len(build_segment(APP2, b"\x00" * mpf.mpf_payload_size(2)))
    pos = insertion_point(first)
    primary_len = len(first) + mpf_len
    origin = pos + 4 + 4
    entries = [
        mpf.MpEntry(mpf.MP_ATTR_BASELINE_PRIMARY, primary_len, 0),
        mpf.MpEntry(0, len(second), primary_len - origin),
    ]
    seg = build_segment(APP2, mpf.build_mpf_payload(entries, big_endian=False))
    data = first[:pos] + seg + first[pos:] + second
    ranges = mpf.mpf_image_ranges(data)
    assert ranges == [(0, primary_len), (primary_len, len(data))]
    assert np.array_equal(decode(data[ranges[1][0] :]), decode(second))
    # an offset pointing outside the file is reported
    bad = [entries[0], mpf.MpEntry(0, len(second), 10 * len(data))]
    seg = build_segment(APP2, mpf.build_mpf_payload(bad))
    with pytest.raises(GainMLPError):
        mpf.mpf_image_ranges(first[:pos] + seg + first[pos:] + second)


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
        mpf.parse_mpf_payload(payload)


_MPF = mpf.build_mpf_payload([mpf.MpEntry(0, 100, 0), mpf.MpEntry(0, 50, 60)])


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    st.lists(st.tuples(st.integers(0, len(_MPF) - 1), st.integers(0, 255)), max_size=6),
    st.integers(0, len(_MPF)),
)
def test_mutated_mpf_only_raises_gainmlp_error(edits: list[tuple[int, int]], cut: int) -> None:
    buf = bytearray(_MPF)
    for pos, value in edits:
        buf[pos] = value
    try:
        mpf.parse_mpf_payload(bytes(buf[:cut]))
    except GainMLPError:
        pass
