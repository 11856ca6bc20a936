"""Our payload's APP11 framing: chunking, placement, reassembly, malformed chunks."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from jpeg_samples import decode, make_jpeg

from gainmlp.container import app11
from gainmlp.container.segments import (
    APP0,
    APP11,
    SOI,
    build_segment,
    insert_segments,
    parse_segments,
)
from gainmlp.errors import GainMLPError


@pytest.fixture(scope="module")
def jpeg() -> bytes:
    return make_jpeg()


@pytest.mark.parametrize(
    "size", [1, 1000, app11.GAINMLP_CHUNK_MAX, app11.GAINMLP_CHUNK_MAX + 1, 200_000]
)
def test_payload_round_trip(jpeg: bytes, size: int) -> None:
    payload = np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8).tobytes()
    out = app11.embed_payload(jpeg, payload)
    assert app11.extract_payload(out) == payload
    n_segs = sum(s.startswith(APP11, app11.GAINMLP_ID) for s in parse_segments(out))
    assert n_segs == -(-size // app11.GAINMLP_CHUNK_MAX)
    assert np.array_equal(decode(out), decode(jpeg))  # image untouched
    # embedding again replaces the old payload
    again = app11.embed_payload(out, b"second")
    assert app11.extract_payload(again) == b"second"
    assert app11.extract_payload(jpeg) is None


def test_payload_segments_go_after_app0(jpeg: bytes) -> None:
    out = app11.embed_payload(jpeg, b"abc")
    markers = [s.marker for s in parse_segments(out)]
    assert markers[:3] == [SOI, APP0, APP11]


def _with_chunks(jpeg: bytes, chunks: list[bytes]) -> bytes:
    return insert_segments(jpeg, [build_segment(APP11, c) for c in chunks])


def _chunk(index: int, count: int, total: int, body: bytes, version: int = 1) -> bytes:
    return app11.GAINMLP_ID + struct.pack(">BHHI", version, index, count, total) + body


@pytest.mark.parametrize(
    "chunks",
    [
        [_chunk(0, 2, 6, b"abc")],  # missing chunk
        [_chunk(0, 2, 6, b"abc"), _chunk(0, 2, 6, b"def")],  # duplicate
        [_chunk(0, 1, 9, b"abc")],  # wrong total
        [_chunk(0, 1, 3, b"abc", version=9)],  # unknown version
        [_chunk(5, 1, 3, b"abc")],  # index out of range
        [_chunk(0, 2, 6, b"abc"), _chunk(1, 3, 6, b"def")],  # disagreeing headers
        [app11.GAINMLP_ID + b"\x01"],  # truncated header
    ],
)
def test_payload_bad_chunks(jpeg: bytes, chunks: list[bytes]) -> None:
    with pytest.raises(GainMLPError):
        app11.extract_payload(_with_chunks(jpeg, chunks))


def test_payload_chunks_out_of_order(jpeg: bytes) -> None:
    data = _with_chunks(jpeg, [_chunk(1, 2, 6, b"def"), _chunk(0, 2, 6, b"abc")])
    assert app11.extract_payload(data) == b"abcdef"
