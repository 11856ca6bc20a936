"""The Multi-Picture Format index (CIPA DC-007): where a gain-map file's images are.

A gain-map JPEG is a primary image with further JPEG images appended after its EOI; an
APP2 ``MPF\\0`` segment of the primary lists each image's size and offset. This module
builds and parses that index and turns it into byte ranges of the file.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from gainmlp.container.segments import APP2, Segment, parse_segments
from gainmlp.errors import GainMLPError

MPF_ID = b"MPF\x00"

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
#: Most distinct images of an MPF index that readers look at (the primary included): a
#: gain-map file has two (Apple's: a few more, depth and mattes); the entries after these,
#: and entries repeating an image already listed, are skipped, so a small file whose index
#: names one image a thousand times is parsed once.
MPF_MAX_READ_IMAGES = 16
_MP_ENTRY_SIZE = 16


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

    Offsets are taken relative to the MPF TIFF header, as the standard says. An image
    listed more than once is returned once, and at most :data:`MPF_MAX_READ_IMAGES`
    images are returned (the first ones listed). Raises
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
    ranges: list[tuple[int, int]] = []
    seen: set[int] = set()
    for k, ent in enumerate(entries):
        start = 0 if k == 0 or ent.offset == 0 else origin + ent.offset
        end = start + ent.size
        if ent.size < 4 or end > len(data):
            raise GainMLPError(f"MPF image {k} ({ent.size} bytes at {start}) is outside the file")
        if data[start : start + 2] != b"\xff\xd8":
            raise GainMLPError(f"MPF image {k} does not start with a JPEG SOI marker")
        if start in seen:  # the same image listed again: read once
            continue
        seen.add(start)
        ranges.append((start, end))
        if len(ranges) == MPF_MAX_READ_IMAGES:
            break
    return ranges
