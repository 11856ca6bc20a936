"""The gainmlp photo's bytes: a baseline SDR JPEG whose primary image carries our payload.

Byte level only, no pixels: taking the primary image of a gain-map JPEG without its
gain-map metadata, measuring the gain map it had, and reading the payload bytes out of a
gainmlp JPEG. The workflows that encode and decode pixels are in :mod:`gainmlp.photo`.
"""

from __future__ import annotations

from gainmlp.container.app11 import GAINMLP_ID, extract_payload
from gainmlp.container.iso21496 import ISO_21496_ID
from gainmlp.container.mpf import MPF_ID, mpf_image_ranges
from gainmlp.container.segments import Segment, find_image_end, remove_segments
from gainmlp.container.xmp import XMP_ID
from gainmlp.errors import GainMLPError


def strip_gain_map(data: bytes) -> bytes:
    """The primary image of a gain-map JPEG without its gain-map metadata (MPF, ISO 21496-1
    version record, XMP) and without anything appended after its EOI."""
    primary = data[: find_image_end(data)]

    def is_gain_map_metadata(seg: Segment) -> bool:
        return seg.payload.startswith((MPF_ID, ISO_21496_ID, XMP_ID, GAINMLP_ID))

    return remove_segments(primary, is_gain_map_metadata)


def gain_map_size(data: bytes) -> int:
    """Bytes of a gain-map JPEG's gain-map image, from its MPF index.

    Raises :class:`GainMLPError` when the file has no usable MPF index; with an index
    that lists the primary image alone, everything after the primary's EOI is counted.
    """
    ranges = mpf_image_ranges(data) or []
    map_bytes = len(data) - find_image_end(data)
    if len(ranges) > 1:
        map_bytes = ranges[1][1] - ranges[1][0]
    return map_bytes


def primary_xmp_of(data: bytes) -> str | None:
    """The primary image's own (standard) XMP packet, or None."""
    from gainmlp.container.segments import parse_segments
    from gainmlp.container.xmp import read_xmp

    return read_xmp(parse_segments(data))[0]


def read_payload_bytes(data: bytes, name: str = "photo") -> bytes:
    """The gainmlp payload a JPEG carries; :class:`GainMLPError` when it carries none."""
    raw = extract_payload(data)
    if raw is None:
        raise GainMLPError(f"{name}: JPEG carries no gainmlp payload")
    return raw


__all__ = ["gain_map_size", "primary_xmp_of", "read_payload_bytes", "strip_gain_map"]
