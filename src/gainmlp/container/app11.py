"""Our payload inside a JPEG: APP11 segments of the primary image.

The gainmlp payload (its binary format is :mod:`gainmlp.container.payload`) travels in
the primary image as one or more **APP11** (``FF EB``) segments; this module holds that
framing only. Each segment (format version 1) is laid out as::

    offset  size  field
    0       8     identifier b"GainMLP\\0"
    8       1     segment format version (u8) = 1
    9       2     index of this chunk, 0-based (u16, big-endian)
    11      2     number of chunks (u16, big-endian)
    13      4     length of the whole reassembled payload (u32, big-endian)
    17      n     chunk bytes (n <= 65,516)

Chunks are concatenated in index order. APP11 is also used by JPEG XT / JUMBF, whose
segments start with ``b"JP"``; the distinct identifier keeps the two apart, and readers
that do not know ours skip it like any unknown APPn segment.
"""

from __future__ import annotations

import struct

from gainmlp.container.segments import (
    APP11,
    MAX_SEGMENT_PAYLOAD,
    Segment,
    build_segment,
    insert_segments,
    parse_segments,
    remove_segments,
)
from gainmlp.errors import GainMLPError

GAINMLP_ID = b"GainMLP\x00"

GAINMLP_SEGMENT_VERSION = 1
_GMLP_HEADER = struct.Struct(">BHHI")
GAINMLP_CHUNK_MAX = MAX_SEGMENT_PAYLOAD - len(GAINMLP_ID) - _GMLP_HEADER.size  # 65,516
MAX_PAYLOAD_BYTES = 64 * 1024 * 1024 + 1024  # a payload body is capped at 64 MiB


def payload_segments(payload: bytes) -> list[bytes]:
    """Serialise a gainmlp payload as APP11 segments (see module docstring)."""
    if not payload:
        raise GainMLPError("refusing to embed an empty payload")
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise GainMLPError(f"payload of {len(payload)} bytes is too large to embed")
    chunks = [payload[i : i + GAINMLP_CHUNK_MAX] for i in range(0, len(payload), GAINMLP_CHUNK_MAX)]
    out = []
    for index, chunk in enumerate(chunks):
        header = GAINMLP_ID + _GMLP_HEADER.pack(
            GAINMLP_SEGMENT_VERSION, index, len(chunks), len(payload)
        )
        out.append(build_segment(APP11, header + chunk))
    return out


def embed_payload(data: bytes, payload: bytes) -> bytes:
    """Return ``data`` with our payload in APP11 segments of its first image.

    Any gainmlp segments already there are replaced.
    """
    stripped = remove_segments(data, lambda s: s.startswith(APP11, GAINMLP_ID))
    return insert_segments(stripped, payload_segments(payload))


def extract_payload(data: bytes, segments: list[Segment] | None = None) -> bytes | None:
    """Reassemble our APP11 payload from the first image's header; None when absent."""
    if segments is None:
        segments = parse_segments(data)
    parts = [s.payload for s in segments if s.startswith(APP11, GAINMLP_ID)]
    if not parts:
        return None
    hsize = len(GAINMLP_ID) + _GMLP_HEADER.size
    chunks: dict[int, bytes] = {}
    count = total = -1
    for part in parts:
        if len(part) < hsize:
            raise GainMLPError("gainmlp APP11 segment is truncated")
        version, index, n, length = _GMLP_HEADER.unpack_from(part, len(GAINMLP_ID))
        if version != GAINMLP_SEGMENT_VERSION:
            raise GainMLPError(f"gainmlp APP11 segment has unsupported version {version}")
        if count < 0:
            count, total = n, length
        elif (n, length) != (count, total):
            raise GainMLPError("gainmlp APP11 segments disagree on the payload size")
        if not (0 <= index < count):
            raise GainMLPError(f"gainmlp APP11 chunk {index} of {count} is out of range")
        if index in chunks:
            raise GainMLPError(f"gainmlp APP11 chunk {index} appears twice")
        chunks[index] = part[hsize:]
    if len(chunks) != count:
        raise GainMLPError(f"gainmlp payload has {len(chunks)} of {count} APP11 chunks")
    payload = b"".join(chunks[i] for i in range(count))
    if len(payload) != total:
        raise GainMLPError(f"gainmlp payload is {len(payload)} bytes, header says {total}")
    return payload
