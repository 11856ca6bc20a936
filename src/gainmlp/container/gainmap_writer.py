"""Assembling a gain-map JPEG (Ultra HDR / Adobe Gain Map 1.0 / ISO 21496-1) from parts.

A primary JPEG (freshly encoded, or a photo's own base with its gain-map metadata
removed, so that its EXIF, ICC, IPTC, APP14 and scan data stay byte for byte), a gain-map
JPEG and its metadata become one file: the primary gains its XMP (its own packet with only
the gain-map fields replaced, :mod:`gainmlp.container.xmp_merge`), the ISO 21496-1 version
record, an optional gainmlp payload in APP11 segments and the MPF index; the gain-map
image gains its ``hdrgm`` XMP and the full ISO 21496-1 record. Byte level only.
"""

from __future__ import annotations

from gainmlp.container import mpf, xmp
from gainmlp.container.app11 import payload_segments
from gainmlp.container.iso21496 import iso21496_segment_payload
from gainmlp.container.segments import (
    APP1,
    APP2,
    MAX_SEGMENT_PAYLOAD,
    build_segment,
    insert_segments,
    insertion_point,
    remove_segments,
)
from gainmlp.container.xmp_merge import fit_segment, merge_primary_xmp
from gainmlp.iso_gainmap import GainMapMetadata


def assemble_gainmap_jpeg(primary_jpeg: bytes, gain_jpeg: bytes, meta: GainMapMetadata,
                          extra_payload: bytes | None = None,
                          primary_xml: str | None = None) -> bytes:
    """One gain-map JPEG from its parts.

    Parameters
    ----------
    primary_jpeg
        The SDR base as a JPEG without XMP, MPF or ISO 21496-1 segments (see
        :func:`gainmlp.container.photo.strip_gain_map`); its other segments are kept.
    gain_jpeg
        The gain-map image as a plain JPEG.
    meta
        The gain map's metadata (written as hdrgm XMP and as ISO 21496-1).
    extra_payload
        A gainmlp payload carried in APP11 segments of the primary image, or None.
    primary_xml
        The photo's own primary XMP packet, kept with only its gain-map fields replaced;
        None writes a packet of our own.

    Returns
    -------
    bytes
        The file: primary image (with the MPF index) followed by the gain-map image.
    """
    iso_full = build_segment(APP2, iso21496_segment_payload(meta))
    gm_xmp = build_segment(APP1, xmp.xmp_segment_payload(xmp.gain_map_xmp(meta)))
    gain_jpeg = insert_segments(gain_jpeg, [gm_xmp, iso_full])

    xml = merge_primary_xmp(primary_xml, len(gain_jpeg))
    xml = fit_segment(xml, MAX_SEGMENT_PAYLOAD - len(xmp.XMP_ID))
    if "HasExtendedXMP" not in xml:  # extended XMP only lives beside the packet naming it
        primary_jpeg = remove_segments(primary_jpeg,
                                       lambda seg: seg.startswith(APP1, xmp.XMP_EXT_ID))
    xmp_seg = build_segment(APP1, xmp.xmp_segment_payload(xml))
    iso_version = build_segment(APP2, iso21496_segment_payload(None))
    extra = payload_segments(extra_payload) if extra_payload else []
    mpf_size = len(build_segment(APP2, b"\x00" * mpf.mpf_payload_size(2)))
    ins = insertion_point(primary_jpeg)
    head = primary_jpeg[:ins] + xmp_seg + iso_version + b"".join(extra)
    tail = primary_jpeg[ins:]
    primary_len = len(head) + mpf_size + len(tail)
    tiff_origin = len(head) + 4 + len(mpf.MPF_ID)
    entries = [
        mpf.MpEntry(mpf.MP_ATTR_PRIMARY | mpf.MP_ATTR_BASELINE_PRIMARY, primary_len, 0),
        mpf.MpEntry(mpf.MP_ATTR_FORMAT_JPEG, len(gain_jpeg), primary_len - tiff_origin),
    ]
    mpf_seg = build_segment(APP2, mpf.build_mpf_payload(entries, big_endian=True))
    return head + mpf_seg + tail + gain_jpeg


def with_primary_xmp(primary_jpeg: bytes, primary_xml: str | None) -> bytes:
    """A JPEG without a standard gain map that keeps its own primary XMP (gain-map fields
    removed); extended XMP is dropped when the kept packet does not name it."""
    xml = merge_primary_xmp(primary_xml, None)
    if xml is None or "HasExtendedXMP" not in xml:
        primary_jpeg = remove_segments(primary_jpeg,
                                       lambda seg: seg.startswith(APP1, xmp.XMP_EXT_ID))
    if xml is None:
        return primary_jpeg
    xml = fit_segment(xml, MAX_SEGMENT_PAYLOAD - len(xmp.XMP_ID))
    return insert_segments(primary_jpeg, [build_segment(APP1, xmp.xmp_segment_payload(xml))])


__all__ = ["assemble_gainmap_jpeg", "with_primary_xmp"]
