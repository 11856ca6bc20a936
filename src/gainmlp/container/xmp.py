"""XMP in JPEG: APP1 packets (standard and extended) and the ``hdrgm`` gain-map schema.

Packets: a standard XMP packet is one APP1 segment (``http://ns.adobe.com/xap/1.0/``);
a larger one continues in extended-XMP segments keyed by the MD5 of their content.

Schema: Ultra HDR and Adobe Gain Map 1.0 files describe the gain map with ``hdrgm``
properties (``http://ns.adobe.com/hdr-gain-map/1.0/``), as attributes (libultrahdr) or
as elements with per-channel ``rdf:Seq`` lists (Adobe Camera Raw). The reader accepts
both; the writers produce the primary image's packet (``hdrgm:Version`` and the Google
GContainer directory) and the gain-map image's packet.
"""

from __future__ import annotations

import hashlib
import math
import re
import struct

from gainmlp.container.segments import APP1, MAX_SEGMENT_PAYLOAD, Segment, build_segment
from gainmlp.errors import GainMLPError
from gainmlp.iso_gainmap import GainMapMetadata

XMP_ID = b"http://ns.adobe.com/xap/1.0/\x00"
XMP_EXT_ID = b"http://ns.adobe.com/xmp/extension/\x00"
HDRGM_NS = "http://ns.adobe.com/hdr-gain-map/1.0/"
CONTAINER_NS = "http://ns.google.com/photos/1.0/container/"
ITEM_NS = "http://ns.google.com/photos/1.0/container/item/"
MAX_XMP_CHARS = 4 << 20  # hdrgm properties are looked for in the first 4 MiB of XMP
#: Most XMP characters examined in one file, all its images together (:class:`XmpAllowance`):
#: four images' worth of :data:`MAX_XMP_CHARS`.
MAX_XMP_FILE_CHARS = 16 << 20

_HDRGM_FIELDS = (
    "Version",
    "GainMapMin",
    "GainMapMax",
    "Gamma",
    "OffsetSDR",
    "OffsetHDR",
    "HDRCapacityMin",
    "HDRCapacityMax",
    "BaseRenditionIsHDR",
)


# --------------------------------------------------------------------------- packets


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


class XmpAllowance:
    """What one file may still have examined of :data:`MAX_XMP_FILE_CHARS`: readers that
    look at several images of a file take each image's XMP through :meth:`text`, so that a
    file listing many images with large packets costs a bounded amount of parsing."""

    def __init__(self, limit: int = MAX_XMP_FILE_CHARS) -> None:
        self.left = limit

    def text(self, segments: list[Segment]) -> str:
        """The standard and extended XMP of a header joined, cut to :data:`MAX_XMP_CHARS`
        and to what is left; "" once the allowance is spent."""
        if self.left <= 0:
            return ""
        main, extended = read_xmp(segments)
        text = ((main or "") + (extended or ""))[: min(self.left, MAX_XMP_CHARS)]
        self.left -= max(len(text), 1)
        return text


# --------------------------------------------------------------------------- hdrgm


def _fmt(value: float) -> str:
    return repr(float(value))


def _hdrgm_prefix(xml: str) -> str | None:
    m = re.search(
        r"xmlns:([A-Za-z_][\w.-]{0,64})\s{0,16}=\s{0,16}[\"']" + re.escape(HDRGM_NS) + r"[\"']",
        xml,
    )
    return m.group(1) if m else None


def parse_hdrgm_xmp(xml: str) -> dict[str, list[str]]:
    """The ``hdrgm`` properties of an XMP packet as lists of strings (1 or 3 values).

    Properties may be attributes (``hdrgm:GainMapMax="3.5"``), simple elements, or
    elements holding an ``rdf:Seq`` of per-channel ``rdf:li`` values. All patterns are
    bounded so that hostile packets cost linear time; only the first
    :data:`MAX_XMP_CHARS` characters are examined.
    """
    xml = xml[:MAX_XMP_CHARS]
    prefix = _hdrgm_prefix(xml)
    if prefix is None:
        return {}
    p = re.escape(prefix)
    out: dict[str, list[str]] = {}
    for name in _HDRGM_FIELDS:
        m = re.search(
            rf"\b{p}:{name}\s{{0,16}}=\s{{0,16}}(?:\"([^\"<]{{0,256}})\"|'([^'<]{{0,256}})')", xml
        )
        if m:
            out[name] = [(m.group(1) if m.group(1) is not None else m.group(2)).strip()]
            continue
        m = re.search(rf"<{p}:{name}(?:\s[^<>]{{0,512}})?>", xml)
        if not m:
            continue
        end = xml.find(f"</{prefix}:{name}", m.end())
        if end < 0:
            continue
        inner = xml[m.end() : end]
        items = re.findall(r"<rdf:li(?:\s[^<>]{0,512})?>([^<]{0,256})</rdf:li\s{0,16}>", inner)
        out[name] = [s.strip() for s in items] if items else [inner.strip()]
    return out


def _floats(values: list[str], name: str) -> list[float]:
    if len(values) not in (1, 3):
        raise GainMLPError(f"XMP hdrgm:{name} has {len(values)} values, expected 1 or 3")
    try:
        nums = [float(v) for v in values]
    except ValueError as exc:
        raise GainMLPError(f"XMP hdrgm:{name} is not a number: {values[0][:40]!r}") from exc
    if not all(math.isfinite(v) for v in nums):
        raise GainMLPError(f"XMP hdrgm:{name} is not finite")
    return nums


def metadata_from_xmp(props: dict[str, list[str]]) -> GainMapMetadata | None:
    """Build metadata from :func:`parse_hdrgm_xmp` output; None without hdrgm:GainMapMax.

    Defaults as in the Adobe specification: GainMapMin 0, Gamma 1, offsets 1/64,
    HDRCapacityMin 0; a missing HDRCapacityMax falls back to the largest GainMapMax.
    """
    if "GainMapMax" not in props:
        return None

    def get(name: str, default: float) -> list[float]:
        return _floats(props[name], name) if name in props else [default]

    gmax = get("GainMapMax", 1.0)
    cap_min = get("HDRCapacityMin", 0.0)
    cap_max = get("HDRCapacityMax", max(gmax))
    if len(cap_min) != 1 or len(cap_max) != 1:
        raise GainMLPError("XMP hdrgm:HDRCapacityMin/Max must be single values")
    base_hdr = props.get("BaseRenditionIsHDR", ["False"])[0].strip().lower()
    if base_hdr not in ("true", "false"):
        raise GainMLPError("XMP hdrgm:BaseRenditionIsHDR must be True or False")
    for name in ("OffsetSDR", "OffsetHDR", "HDRCapacityMin"):  # Adobe Gain Map 1.0: >= 0
        lowest = min(get(name, 0.0))
        if lowest < 0:
            raise GainMLPError(f"XMP hdrgm:{name} {lowest} is negative (Adobe Gain Map 1.0 "
                               "requires >= 0)")
    return GainMapMetadata(
        gain_map_min=get("GainMapMin", 0.0),
        gain_map_max=gmax,
        gamma=get("Gamma", 1.0),
        offset_sdr=get("OffsetSDR", 1 / 64),
        offset_hdr=get("OffsetHDR", 1 / 64),
        hdr_capacity_min=cap_min[0],
        hdr_capacity_max=cap_max[0],
        base_is_hdr=base_hdr == "true",
    )


def _xmp_wrap(description_attrs: str, body: str = "") -> str:
    inner = f'   <rdf:Description rdf:about=""{description_attrs}'
    inner += f">\n{body}   </rdf:Description>\n" if body else "/>\n"
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="gainmlp">\n'
        ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        f"{inner}"
        " </rdf:RDF>\n"
        "</x:xmpmeta>\n"
    )


def primary_xmp(gain_map_length: int) -> str:
    """Ultra HDR primary-image XMP: hdrgm:Version and the GContainer directory."""
    attrs = (
        f'\n    xmlns:hdrgm="{HDRGM_NS}"\n    xmlns:Container="{CONTAINER_NS}"'
        f'\n    xmlns:Item="{ITEM_NS}"\n    hdrgm:Version="1.0"'
    )
    body = (
        "    <Container:Directory>\n     <rdf:Seq>\n"
        '      <rdf:li rdf:parseType="Resource">\n'
        '       <Container:Item Item:Semantic="Primary" Item:Mime="image/jpeg"/>\n'
        "      </rdf:li>\n"
        '      <rdf:li rdf:parseType="Resource">\n'
        '       <Container:Item Item:Semantic="GainMap" Item:Mime="image/jpeg"'
        f' Item:Length="{int(gain_map_length)}"/>\n'
        "      </rdf:li>\n"
        "     </rdf:Seq>\n    </Container:Directory>\n"
    )
    return _xmp_wrap(attrs, body)


def gain_map_xmp(meta: GainMapMetadata, per_channel_seq: bool | None = None) -> str:
    """hdrgm XMP for the gain-map image.

    Single-channel metadata is written as attributes (what libultrahdr parses);
    per-channel metadata as ``rdf:Seq`` elements (Adobe style), or when forced.
    """
    seq = (not meta.is_single_channel) if per_channel_seq is None else per_channel_seq
    attrs = f'\n    xmlns:hdrgm="{HDRGM_NS}"\n    hdrgm:Version="1.0"'
    body = ""
    fields = {
        "GainMapMin": meta.gain_map_min,
        "GainMapMax": meta.gain_map_max,
        "Gamma": meta.gamma,
        "OffsetSDR": meta.offset_sdr,
        "OffsetHDR": meta.offset_hdr,
    }
    for name, vals in fields.items():
        if seq:
            lis = "".join(f"       <rdf:li>{_fmt(v)}</rdf:li>\n" for v in vals)
            body += f"    <hdrgm:{name}>\n     <rdf:Seq>\n{lis}     </rdf:Seq>\n"
            body += f"    </hdrgm:{name}>\n"
        else:
            attrs += f'\n    hdrgm:{name}="{_fmt(vals[0])}"'
    attrs += f'\n    hdrgm:HDRCapacityMin="{_fmt(meta.hdr_capacity_min)}"'
    attrs += f'\n    hdrgm:HDRCapacityMax="{_fmt(meta.hdr_capacity_max)}"'
    attrs += f'\n    hdrgm:BaseRenditionIsHDR="{"True" if meta.base_is_hdr else "False"}"'
    return _xmp_wrap(attrs, body)
