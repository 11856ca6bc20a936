"""JPEG marker segments: parsing, locating images, building and splicing segments.

Nothing here decodes pixels or knows what an APPn payload means: the modules beside it
interpret payloads (:mod:`~gainmlp.container.app11` our payload,
:mod:`~gainmlp.container.mpf` the image index, :mod:`~gainmlp.container.xmp`,
:mod:`~gainmlp.container.icc`, :mod:`~gainmlp.container.iso21496`). Every reader
validates lengths and offsets against the buffer before it slices or allocates, and
reports malformed input as a one-line :class:`~gainmlp.errors.GainMLPError`.

A JPEG file is ``SOI`` followed by marker segments ``FF xx LL LL <payload>`` (the 16-bit
big-endian length ``LLLL`` counts itself, so a payload holds at most 65,533 bytes), then
``SOS`` and entropy-coded data up to ``EOI``. Gain-map files concatenate further JPEG
images after the first one's ``EOI``.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from gainmlp.errors import GainMLPError

# Marker codes (the byte after 0xFF).
SOI = 0xD8
EOI = 0xD9
SOS = 0xDA
TEM = 0x01
APP0 = 0xE0
APP1 = 0xE1
APP2 = 0xE2
APP11 = 0xEB
RST0, RST7 = 0xD0, 0xD7

MAX_SEGMENT_PAYLOAD = 65_533  # 65,535 minus the two length bytes

EXIF_ID = b"Exif\x00\x00"  # new APPn segments go after a leading Exif APP1


@dataclass(frozen=True)
class Segment:
    """One marker segment of a JPEG header.

    ``offset`` is the position of the ``0xFF`` byte in the file; ``size`` counts the whole
    segment (2 marker bytes, plus the 2 length bytes and the payload when there is one).
    """

    marker: int
    offset: int
    size: int
    payload: bytes

    @property
    def end(self) -> int:
        """Offset just past the segment."""
        return self.offset + self.size

    @property
    def payload_offset(self) -> int:
        """Offset of the first payload byte in the file."""
        return self.offset + 4

    def startswith(self, marker: int, identifier: bytes) -> bool:
        """True for an ``marker`` segment whose payload starts with ``identifier``."""
        return self.marker == marker and self.payload.startswith(identifier)


def _has_length(marker: int) -> bool:
    return not (marker in (SOI, EOI, TEM) or RST0 <= marker <= RST7)


def _read_marker(data: bytes, pos: int) -> tuple[int, int]:
    """Return (marker, offset of its 0xFF) at ``pos``, skipping 0xFF fill bytes."""
    n = len(data)
    if pos >= n or data[pos] != 0xFF:
        raise GainMLPError(f"JPEG marker expected at byte {pos}")
    while pos + 1 < n and data[pos + 1] == 0xFF:
        pos += 1  # fill bytes
    if pos + 1 >= n:
        raise GainMLPError("JPEG data ends inside a marker")
    return data[pos + 1], pos


def _read_segment(data: bytes, pos: int) -> Segment:
    marker, start = _read_marker(data, pos)
    if not _has_length(marker):
        return Segment(marker, start, 2, b"")
    if start + 4 > len(data):
        raise GainMLPError(f"JPEG segment FF{marker:02X} at byte {start} is truncated")
    length = (data[start + 2] << 8) | data[start + 3]
    if length < 2:
        raise GainMLPError(f"JPEG segment FF{marker:02X} at byte {start} has length {length}")
    end = start + 2 + length
    if end > len(data):
        raise GainMLPError(f"JPEG segment FF{marker:02X} at byte {start} runs past the data")
    return Segment(marker, start, 2 + length, bytes(data[start + 4 : end]))


def parse_segments(data: bytes, start: int = 0) -> list[Segment]:
    """Header segments of the JPEG image at ``start``: SOI, APPn, DQT, ..., up to SOS.

    The returned list starts with SOI and ends with the first SOS segment (entropy-coded
    data follows it). Raises :class:`GainMLPError` on anything malformed.
    """
    if start < 0 or start + 2 > len(data) or data[start] != 0xFF or data[start + 1] != SOI:
        raise GainMLPError(f"no JPEG image (SOI marker) at byte {start}")
    segments = [Segment(SOI, start, 2, b"")]
    pos = start + 2
    while True:
        seg = _read_segment(data, pos)
        if seg.marker == SOI:
            raise GainMLPError(f"unexpected SOI marker at byte {seg.offset}")
        if seg.marker == EOI:
            raise GainMLPError("JPEG image ends before any image data (no SOS marker)")
        segments.append(seg)
        pos = seg.end
        if seg.marker == SOS:
            return segments


def find_image_end(data: bytes, start: int = 0) -> int:
    """Offset just past the EOI marker of the JPEG image starting at ``start``.

    Walks the headers, then the entropy-coded data (skipping stuffed ``FF 00``, restart
    markers and fill bytes, and the segments between progressive scans).
    """
    segments = parse_segments(data, start)
    pos = segments[-1].end
    n = len(data)
    while True:
        i = data.find(b"\xff", pos)
        if i < 0 or i + 1 >= n:
            raise GainMLPError(f"JPEG image at byte {start} is truncated (no EOI marker)")
        b = data[i + 1]
        if b == 0x00 or RST0 <= b <= RST7 or b == TEM:
            pos = i + 2
        elif b == 0xFF:
            pos = i + 1
        elif b == EOI:
            return i + 2
        elif b == SOI:
            raise GainMLPError(f"unexpected SOI marker inside image data at byte {i}")
        else:
            pos = _read_segment(data, i).end  # DHT/SOS/DQT/DRI/DNL between scans


def build_segment(marker: int, payload: bytes) -> bytes:
    """Serialise one marker segment ``FF marker LEN payload``."""
    if not (0xC0 <= marker <= 0xFE) or not _has_length(marker):
        raise GainMLPError(f"FF{marker:02X} is not a marker with a payload")
    if len(payload) > MAX_SEGMENT_PAYLOAD:
        raise GainMLPError(
            f"segment payload of {len(payload)} bytes exceeds {MAX_SEGMENT_PAYLOAD} bytes"
        )
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


def insertion_point(data: bytes, start: int = 0) -> int:
    """Where new APPn segments go: after SOI, leading APP0 (JFIF) and Exif APP1 segments."""
    segments = parse_segments(data, start)
    pos = segments[0].end
    for seg in segments[1:]:
        if seg.marker == APP0 or seg.startswith(APP1, EXIF_ID):
            pos = seg.end
        else:
            break
    return pos


def insert_segments(data: bytes, segments: Iterable[bytes], start: int = 0) -> bytes:
    """Insert serialised segments (from :func:`build_segment`) at :func:`insertion_point`."""
    pos = insertion_point(data, start)
    return data[:pos] + b"".join(segments) + data[pos:]


def insert_app_segment(data: bytes, marker: int, payload: bytes) -> bytes:
    """Insert one APPn segment into the first image's header."""
    return insert_segments(data, [build_segment(marker, payload)])


def remove_segments(data: bytes, predicate: Callable[[Segment], bool]) -> bytes:
    """Drop header segments of the first image for which ``predicate`` is true.

    Bytes after the first image's SOS segment (scan data and any appended images) are
    kept untouched.
    """
    segments = parse_segments(data)
    out = bytearray()
    for seg in segments:
        if seg.marker != SOI and predicate(seg):
            continue
        out += data[seg.offset : seg.end]
    out += data[segments[-1].end :]
    return bytes(out)


def find_app(segments: list[Segment], marker: int, identifier: bytes) -> Segment | None:
    """The first ``marker`` segment whose payload starts with ``identifier``."""
    for seg in segments:
        if seg.startswith(marker, identifier):
            return seg
    return None


def concatenated_image_ranges(data: bytes, max_images: int = 8) -> list[tuple[int, int]]:
    """(start, end) of the first image and of JPEG images appended after its EOI.

    The fallback when an MPF index is missing or wrong: after each image's EOI, the next
    SOI marker starts the next image (padding in between is skipped). A truncated trailing
    image is left out.
    """
    ranges = [(0, find_image_end(data, 0))]
    pos = ranges[0][1]
    while len(ranges) < max_images:
        nxt = data.find(b"\xff\xd8\xff", pos)
        if nxt < 0:
            break
        try:
            end = find_image_end(data, nxt)
        except GainMLPError:
            break
        ranges.append((nxt, end))
        pos = end
    return ranges
