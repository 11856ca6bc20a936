"""Byte-level JPEG marker handling: segments, APPn payloads, MPF, XMP, ICC.

Nothing here decodes pixels. Every reader validates lengths and offsets against the
buffer before it slices or allocates, and reports malformed input as a one-line
:class:`~gainmlp.errors.GainMLPError`.

A JPEG file is ``SOI`` followed by marker segments ``FF xx LL LL <payload>`` (the 16-bit
big-endian length ``LLLL`` counts itself, so a payload holds at most 65,533 bytes), then
``SOS`` and entropy-coded data up to ``EOI``. Gain-map files concatenate further JPEG
images after the first one's ``EOI``; the Multi-Picture Format index (APP2 ``MPF\\0``)
records where they are.

Our own payload segment (format version 1)
-----------------------------------------
The gainmlp payload (see :mod:`gainmlp.container.payload`) travels in the primary image
as one or more **APP11** (``FF EB``) segments, each laid out as::

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

import hashlib
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

# Identifiers that start APPn payloads.
XMP_ID = b"http://ns.adobe.com/xap/1.0/\x00"
XMP_EXT_ID = b"http://ns.adobe.com/xmp/extension/\x00"
EXIF_ID = b"Exif\x00\x00"
ICC_ID = b"ICC_PROFILE\x00"
MPF_ID = b"MPF\x00"
ISO_21496_ID = b"urn:iso:std:iso:ts:21496:-1\x00"
GAINMLP_ID = b"GainMLP\x00"

GAINMLP_SEGMENT_VERSION = 1
_GMLP_HEADER = struct.Struct(">BHHI")
GAINMLP_CHUNK_MAX = MAX_SEGMENT_PAYLOAD - len(GAINMLP_ID) - _GMLP_HEADER.size  # 65,516
MAX_PAYLOAD_BYTES = 64 * 1024 * 1024 + 1024  # a payload body is capped at 64 MiB

# MPF (CIPA DC-007) tags and attribute flags.
MPF_TAG_VERSION = 0xB000
MPF_TAG_NUMBER_OF_IMAGES = 0xB001
MPF_TAG_MP_ENTRY = 0xB002
MPF_TYPE_LONG = 4
MPF_TYPE_UNDEFINED = 7
MP_ATTR_PRIMARY = 0x20000000  # representative image flag
MP_ATTR_BASELINE_PRIMARY = 0x030000  # "baseline MP primary image" type code
MP_ATTR_FORMAT_JPEG = 0x0
MPF_MAX_IMAGES = 1024
_MP_ENTRY_SIZE = 16


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


# --------------------------------------------------------------------------- our payload


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


# --------------------------------------------------------------------------- MPF


@dataclass(frozen=True)
class MpEntry:
    """One MP Entry: attribute flags, image size in bytes, offset, dependent images.

    ``offset`` is relative to the MPF TIFF header (the byte after ``MPF\\0``), except
    for the first image whose offset is 0 by definition.
    """

    attribute: int
    size: int
    offset: int
    dependent1: int = 0
    dependent2: int = 0


def mpf_payload_size(n_images: int) -> int:
    """Bytes of the APP2 payload :func:`build_mpf_payload` writes for ``n_images``."""
    return len(MPF_ID) + 8 + 2 + 3 * 12 + 4 + _MP_ENTRY_SIZE * n_images


def build_mpf_payload(entries: list[MpEntry], big_endian: bool = True) -> bytes:
    """MPF APP2 payload (``MPF\\0`` + TIFF header + MP Index IFD + MP entries)."""
    if not (1 <= len(entries) <= MPF_MAX_IMAGES):
        raise GainMLPError(f"MPF index needs 1..{MPF_MAX_IMAGES} images, got {len(entries)}")
    e = ">" if big_endian else "<"
    n = len(entries)
    entries_offset = 8 + 2 + 3 * 12 + 4
    out = bytearray(MPF_ID)
    out += (b"MM" if big_endian else b"II") + struct.pack(e + "HI", 42, 8)
    out += struct.pack(e + "H", 3)
    out += struct.pack(e + "HHI", MPF_TAG_VERSION, MPF_TYPE_UNDEFINED, 4) + b"0100"
    out += struct.pack(e + "HHII", MPF_TAG_NUMBER_OF_IMAGES, MPF_TYPE_LONG, 1, n)
    out += struct.pack(
        e + "HHII", MPF_TAG_MP_ENTRY, MPF_TYPE_UNDEFINED, _MP_ENTRY_SIZE * n, entries_offset
    )
    out += struct.pack(e + "I", 0)  # no further IFD
    for ent in entries:
        for value in (ent.attribute, ent.size, ent.offset):
            if not (0 <= value <= 0xFFFFFFFF):
                raise GainMLPError(f"MPF field {value} does not fit 32 bits")
        out += struct.pack(
            e + "IIIHH", ent.attribute, ent.size, ent.offset, ent.dependent1, ent.dependent2
        )
    return bytes(out)


def parse_mpf_payload(payload: bytes) -> list[MpEntry]:
    """Parse an MPF APP2 payload (starting with ``MPF\\0``) into its MP entries."""
    if not payload.startswith(MPF_ID):
        raise GainMLPError("not an MPF segment")
    tiff = payload[len(MPF_ID) :]
    if len(tiff) < 8:
        raise GainMLPError("MPF header is truncated")
    if tiff[:2] == b"MM":
        e = ">"
    elif tiff[:2] == b"II":
        e = "<"
    else:
        raise GainMLPError("MPF header has an unknown byte order")
    magic, ifd = struct.unpack_from(e + "HI", tiff, 2)
    if magic != 42:
        raise GainMLPError("MPF header has a bad TIFF magic number")
    if ifd < 8 or ifd + 2 > len(tiff):
        raise GainMLPError("MPF index IFD offset is out of range")
    (count,) = struct.unpack_from(e + "H", tiff, ifd)
    if ifd + 2 + 12 * count > len(tiff):
        raise GainMLPError("MPF index IFD is truncated")
    n_images = None
    entry_blob = None
    for k in range(count):
        tag, typ, cnt, value = struct.unpack_from(e + "HHII", tiff, ifd + 2 + 12 * k)
        if tag == MPF_TAG_NUMBER_OF_IMAGES:
            if typ != MPF_TYPE_LONG or cnt != 1:
                raise GainMLPError("MPF NumberOfImages tag is malformed")
            n_images = value
        elif tag == MPF_TAG_MP_ENTRY:
            if typ != MPF_TYPE_UNDEFINED or cnt % _MP_ENTRY_SIZE or cnt == 0:
                raise GainMLPError("MPF MPEntry tag is malformed")
            if cnt > MPF_MAX_IMAGES * _MP_ENTRY_SIZE:
                raise GainMLPError(f"MPF index lists more than {MPF_MAX_IMAGES} images")
            if value < 8 or value + cnt > len(tiff):
                raise GainMLPError("MPF MPEntry offset is out of range")
            entry_blob = tiff[value : value + cnt]
    if entry_blob is None:
        raise GainMLPError("MPF index has no MPEntry tag")
    n = len(entry_blob) // _MP_ENTRY_SIZE
    if n_images is not None and n_images != n:
        raise GainMLPError(f"MPF index says {n_images} images but lists {n}")
    return [
        MpEntry(*struct.unpack_from(e + "IIIHH", entry_blob, _MP_ENTRY_SIZE * k)) for k in range(n)
    ]


def find_mpf(segments: list[Segment]) -> tuple[Segment, list[MpEntry]] | None:
    """The first MPF segment of a header and its parsed entries, or None."""
    for seg in segments:
        if seg.startswith(APP2, MPF_ID):
            return seg, parse_mpf_payload(seg.payload)
    return None


def mpf_image_ranges(data: bytes, segments: list[Segment] | None = None) -> list[tuple[int, int]]:
    """Absolute (start, end) byte ranges of the images an MPF index lists.

    Offsets are taken relative to the MPF TIFF header, as the standard says. Raises
    :class:`GainMLPError` when the index is absent, or an entry points outside the data
    or at something that is not a JPEG image.
    """
    if segments is None:
        segments = parse_segments(data)
    found = find_mpf(segments)
    if found is None:
        raise GainMLPError("JPEG has no MPF index")
    seg, entries = found
    origin = seg.payload_offset + len(MPF_ID)
    ranges = []
    for k, ent in enumerate(entries):
        start = 0 if k == 0 or ent.offset == 0 else origin + ent.offset
        end = start + ent.size
        if ent.size < 4 or end > len(data):
            raise GainMLPError(f"MPF image {k} ({ent.size} bytes at {start}) is outside the file")
        if data[start : start + 2] != b"\xff\xd8":
            raise GainMLPError(f"MPF image {k} does not start with a JPEG SOI marker")
        ranges.append((start, end))
    return ranges


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


# --------------------------------------------------------------------------- XMP / ICC


def xmp_segment_payload(xml: str | bytes) -> bytes:
    """APP1 payload for a (standard) XMP packet."""
    body = xml.encode("utf-8") if isinstance(xml, str) else xml
    payload = XMP_ID + body
    if len(payload) > MAX_SEGMENT_PAYLOAD:
        raise GainMLPError(
            f"XMP packet of {len(body)} bytes is too large for one segment; "
            "move properties to extended XMP"
        )
    return payload


def extended_xmp_segments(xml: str | bytes) -> tuple[str, list[bytes]]:
    """Split an extended-XMP packet into APP1 segments; returns (GUID, segments).

    The GUID (upper-case hex MD5 of the packet) goes into the main packet as
    ``xmpNote:HasExtendedXMP``.
    """
    body = xml.encode("utf-8") if isinstance(xml, str) else xml
    guid = hashlib.md5(body).hexdigest().upper()
    chunk = MAX_SEGMENT_PAYLOAD - len(XMP_EXT_ID) - 32 - 8
    segs = []
    for off in range(0, max(len(body), 1), chunk):
        head = XMP_EXT_ID + guid.encode("ascii") + struct.pack(">II", len(body), off)
        segs.append(build_segment(APP1, head + body[off : off + chunk]))
    return guid, segs


def read_xmp(segments: list[Segment]) -> tuple[str | None, str | None]:
    """(standard XMP packet, reassembled extended XMP packet) of a header; None if absent.

    Extended XMP is returned only when it is complete; chunks of one GUID that disagree
    on the total length, overlap the end, or leave holes are ignored.
    """
    main = None
    for seg in segments:
        if seg.startswith(APP1, XMP_ID):
            main = seg.payload[len(XMP_ID) :].decode("utf-8", errors="replace")
            break
    groups: dict[bytes, tuple[int, dict[int, bytes]]] = {}
    hsize = len(XMP_EXT_ID) + 32 + 8
    for seg in segments:
        if not seg.startswith(APP1, XMP_EXT_ID) or len(seg.payload) < hsize:
            continue
        guid = seg.payload[len(XMP_EXT_ID) : len(XMP_EXT_ID) + 32]
        total, off = struct.unpack_from(">II", seg.payload, len(XMP_EXT_ID) + 32)
        prev = groups.setdefault(guid, (total, {}))
        if prev[0] != total:
            continue
        prev[1][off] = seg.payload[hsize:]
    extended = None
    wanted = None
    if main is not None and "HasExtendedXMP" in main:
        for guid in groups:
            if guid.decode("latin-1") in main:
                wanted = guid
    for guid, (total, chunks) in groups.items():
        if wanted is not None and guid != wanted:
            continue
        pos = 0
        parts = []
        for off in sorted(chunks):
            if off != pos:
                break
            parts.append(chunks[off])
            pos += len(chunks[off])
        if pos == total and parts:
            extended = b"".join(parts).decode("utf-8", errors="replace")
            break
    return main, extended


def read_icc(segments: list[Segment]) -> bytes | None:
    """Reassemble the ICC profile from ``ICC_PROFILE`` APP2 segments; None if absent."""
    chunks: dict[int, bytes] = {}
    count = -1
    for seg in segments:
        if not seg.startswith(APP2, ICC_ID) or len(seg.payload) < len(ICC_ID) + 2:
            continue
        seq, n = seg.payload[len(ICC_ID)], seg.payload[len(ICC_ID) + 1]
        if count < 0:
            count = n
        if n != count or not (1 <= seq <= n) or seq in chunks:
            raise GainMLPError("ICC profile segments are inconsistent")
        chunks[seq] = seg.payload[len(ICC_ID) + 2 :]
    if not chunks:
        return None
    if len(chunks) != count:
        raise GainMLPError(f"ICC profile has {len(chunks)} of {count} segments")
    return b"".join(chunks[i] for i in range(1, count + 1))


def find_app(segments: list[Segment], marker: int, identifier: bytes) -> Segment | None:
    """The first ``marker`` segment whose payload starts with ``identifier``."""
    for seg in segments:
        if seg.startswith(marker, identifier):
            return seg
    return None
