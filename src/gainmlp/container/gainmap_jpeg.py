"""Gain-map JPEG files: Google Ultra HDR, Adobe Gain Map 1.0 and ISO 21496-1.

Reading
-------
:func:`read_gainmap_jpeg` returns the SDR base (uint8 RGB), its ICC profile, the gain-map
metadata and the gain-map image. The gain-map image is located through the MPF index of
the primary image; when that index is missing or points at nothing usable, the JPEG
images concatenated after the primary's EOI are scanned instead (documented fallback,
with a :class:`~gainmlp.errors.GainMLPWarning`). Metadata sources, in order:

1. ISO 21496-1 binary metadata (APP2 ``urn:iso:std:iso:ts:21496:-1``) on the gain-map
   image. The primary image carries only a 4-byte version record.
2. ``hdrgm`` XMP on the gain-map image, as attributes (Ultra HDR / libultrahdr) or as
   elements with per-channel ``rdf:Seq`` lists (Adobe Camera Raw).
3. ``hdrgm`` XMP on the primary image (a few early writers put it there).

When ISO and XMP metadata are both present and disagree, ISO wins and a warning says so.

Rendering
---------
:func:`gainmap_jpeg_to_hdr_pq` rebuilds the HDR rendition at full weight. The base is
decoded with the sRGB transfer function (Ultra HDR and Adobe bases are sRGB or Display
P3, both with the sRGB curve), in the primaries its ICC profile declares (sRGB when
there is none or it is not recognised). The result, relative to SDR white, is scaled so
that SDR white is :data:`SDR_WHITE_NITS` = 203 cd/m2 (ITU-R BT.2408 reference white, the
value libultrahdr uses for its PQ output), converted to BT.2020 and PQ-encoded.

Writing
-------
:func:`write_ultrahdr` writes an Ultra HDR v1 file as libultrahdr does: primary image
with XMP (``hdrgm:Version`` + GContainer directory), an ISO 21496-1 version record, an
MPF index, and optionally our own payload (APP11, see
:mod:`gainmlp.container.jpeg_segments`); then the gain-map JPEG with ``hdrgm`` XMP and the
full ISO 21496-1 record.
"""

from __future__ import annotations

import io
import math
import re
import struct
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from gainmlp.colorimetry import convert_primaries, linear_to_pq_bt2020, sdr_eotf
from gainmlp.container import jpeg_segments as js
from gainmlp.errors import GainMLPError, check_image_size, warn
from gainmlp.iso_gainmap import GainMapMetadata, apply_gain_map

SDR_WHITE_NITS = 203.0
HDRGM_NS = "http://ns.adobe.com/hdr-gain-map/1.0/"
CONTAINER_NS = "http://ns.google.com/photos/1.0/container/"
ITEM_NS = "http://ns.google.com/photos/1.0/container/item/"
MAX_FILE_BYTES = 1 << 30
MAX_XMP_CHARS = 4 << 20  # hdrgm properties are looked for in the first 4 MiB of XMP
# A Huffman-coded JPEG spends at least one bit per 8x8 block and component (progressive
# DC scans included), i.e. at most 512 pixels per byte; 8192 leaves a wide margin, and
# refuses tiny corrupt files that declare huge sizes before Pillow allocates them.
MAX_PIXELS_PER_BYTE = 8192

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


@dataclass
class GainMapJpeg:
    """A decoded gain-map JPEG.

    ``sdr`` is (H, W, 3) uint8; ``gain_map`` is (h, w) or (h, w, 3) uint8 at its stored
    resolution. ``colour_space`` is ``"srgb"``, ``"p3"`` or ``"bt2020"`` as detected from
    ``icc``. ``metadata_source`` is ``"iso21496"`` or ``"xmp"``; ``flavour`` is
    ``"ultrahdr"`` (GContainer directory in the primary XMP), ``"adobe"`` (hdrgm XMP
    without a directory) or ``"iso"`` (ISO metadata only).
    """

    sdr: np.ndarray
    icc: bytes | None
    metadata: GainMapMetadata
    gain_map: np.ndarray
    colour_space: str = "srgb"
    metadata_source: str = "xmp"
    flavour: str = "ultrahdr"
    gain_map_icc: bytes | None = None
    extra_payload: bytes | None = None
    warnings: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- ISO 21496-1


def _to_fraction(value: float, signed: bool) -> tuple[int, int]:
    """``value`` as (numerator, denominator) fitting int32/uint32 numerators, uint32 denom."""
    if not math.isfinite(value):
        raise GainMLPError(f"cannot store non-finite value {value} in ISO 21496-1 metadata")
    if not signed and value < 0:
        value = 0.0
    limit = 0x7FFFFFFF if signed else 0xFFFFFFFF
    max_den = max(1, min(1 << 30, int(limit / max(abs(value), 1.0))))
    frac = Fraction(value).limit_denominator(max_den)
    if abs(frac.numerator) > limit:
        raise GainMLPError(f"value {value} is too large for ISO 21496-1 metadata")
    return frac.numerator, frac.denominator


def encode_iso21496(meta: GainMapMetadata) -> bytes:
    """Full ISO 21496-1 gain-map metadata record (without the URN prefix).

    Layout (big-endian): u16 minimum_version = 0, u16 writer_version = 0, u8 flags (bit 7
    multi-channel, bit 6 use base colour space), then base headroom N/D and alternate
    headroom N/D (u32 each), then per channel gain_map_min (s32/u32), gain_map_max
    (s32/u32), gamma (u32/u32), base_offset (s32/u32), alternate_offset (s32/u32).
    An HDR base is expressed by a base headroom above the alternate one.
    """
    channels = 1 if meta.is_single_channel else 3
    flags = (0x80 if channels == 3 else 0) | (0x40 if meta.use_base_colour_space else 0)
    if meta.base_is_hdr:
        base_head, alt_head = meta.hdr_capacity_max, meta.hdr_capacity_min
        base_off, alt_off = meta.offset_hdr, meta.offset_sdr
    else:
        base_head, alt_head = meta.hdr_capacity_min, meta.hdr_capacity_max
        base_off, alt_off = meta.offset_sdr, meta.offset_hdr
    out = bytearray(struct.pack(">HHB", 0, 0, flags))
    for v in (base_head, alt_head):
        out += struct.pack(">II", *_to_fraction(v, signed=False))
    for c in range(channels):
        out += struct.pack(">iI", *_to_fraction(meta.gain_map_min[c], True))
        out += struct.pack(">iI", *_to_fraction(meta.gain_map_max[c], True))
        out += struct.pack(">II", *_to_fraction(meta.gamma[c], False))
        out += struct.pack(">iI", *_to_fraction(base_off[c], True))
        out += struct.pack(">iI", *_to_fraction(alt_off[c], True))
    return bytes(out)


def decode_iso21496(record: bytes) -> GainMapMetadata | None:
    """Parse an ISO 21496-1 record (after the URN). None for a version-only record.

    Accepts libultrahdr's common-denominator form (flag bit 3) and its backward-direction
    flag (bit 2, HDR base), besides the plain per-field form.
    """
    if len(record) < 4:
        raise GainMLPError("ISO 21496-1 metadata is truncated")
    min_version, _writer = struct.unpack_from(">HH", record, 0)
    if min_version != 0:
        raise GainMLPError(f"ISO 21496-1 metadata needs reader version {min_version}")
    if len(record) == 4:
        return None
    pos = 4

    def take(fmt: str) -> tuple[int, ...]:
        nonlocal pos
        size = struct.calcsize(fmt)
        if pos + size > len(record):
            raise GainMLPError("ISO 21496-1 metadata is truncated")
        vals = struct.unpack_from(fmt, record, pos)
        pos += size
        return vals

    (flags,) = take(">B")
    channels = 3 if flags & 0x80 else 1
    use_base = bool(flags & 0x40)
    backward = bool(flags & 0x04)
    common = bool(flags & 0x08)

    def ratio(n: int, d: int, what: str) -> float:
        if d == 0:
            raise GainMLPError(f"ISO 21496-1 {what} has a zero denominator")
        return n / d

    if common:
        (den,) = take(">I")
        bh, ah = take(">II")
        base_head, alt_head = ratio(bh, den, "headroom"), ratio(ah, den, "headroom")
        per = [take(">iiIii") for _ in range(channels)]
        rows = [[ratio(v, den, "value") for v in p] for p in per]
    else:
        bh, bhd, ah, ahd = take(">IIII")
        base_head, alt_head = ratio(bh, bhd, "headroom"), ratio(ah, ahd, "headroom")
        rows = []
        for _ in range(channels):
            v = take(">iIiIIIiIiI")
            rows.append([ratio(v[2 * k], v[2 * k + 1], "value") for k in range(5)])
    while len(rows) < 3:
        rows.append(rows[0])
    cols = list(zip(*rows, strict=True))
    base_is_hdr = backward or base_head > alt_head
    base_off, alt_off = cols[3], cols[4]
    return GainMapMetadata(
        gain_map_min=cols[0],
        gain_map_max=cols[1],
        gamma=cols[2],
        offset_sdr=alt_off if base_is_hdr else base_off,
        offset_hdr=base_off if base_is_hdr else alt_off,
        hdr_capacity_min=min(base_head, alt_head),
        hdr_capacity_max=max(base_head, alt_head),
        base_is_hdr=base_is_hdr,
        use_base_colour_space=use_base,
    )


# --------------------------------------------------------------------------- XMP


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


# --------------------------------------------------------------------------- ICC


_D50 = np.array([0.9642, 1.0, 0.8249])


def _icc_colorant_xy(primaries: str) -> np.ndarray:
    """Chromaticities of the D50-adapted (Bradford) colorants, as an ICC profile has them."""
    import colour

    from gainmlp.colorimetry import PRIMARIES

    space = colour.RGB_COLOURSPACES[PRIMARIES[primaries]]
    cat = colour.adaptation.matrix_chromatic_adaptation_VonKries(
        colour.xy_to_XYZ(space.whitepoint), _D50, transform="Bradford"
    )
    m = cat @ space.matrix_RGB_to_XYZ
    cols = m.T  # rows: R, G, B colorant XYZ
    return cols[:, :2] / cols.sum(axis=1, keepdims=True)


def detect_icc_primaries(icc: bytes | None) -> str:
    """``"srgb"``, ``"p3"`` or ``"bt2020"`` from an ICC profile; ``"srgb"`` by default.

    Uses the colorant tags (rXYZ/gXYZ/bXYZ) when Pillow can read them, else the profile
    description.
    """
    if not icc:
        return "srgb"
    try:
        from PIL import ImageCms

        prof = ImageCms.ImageCmsProfile(io.BytesIO(icc)).profile
        desc = (prof.profile_description or "").lower()
        cols = [prof.red_colorant, prof.green_colorant, prof.blue_colorant]
    except Exception:  # noqa: BLE001 - any unreadable profile means "unknown"
        return "srgb"
    if all(c is not None for c in cols):
        xyz = np.array([c[0] for c in cols], dtype=np.float64)
        sums = xyz.sum(axis=1, keepdims=True)
        if np.all(np.isfinite(xyz)) and np.all(sums > 0):
            xy = xyz[:, :2] / sums
            best, dist = "srgb", math.inf
            for name in ("srgb", "p3", "bt2020"):
                d = float(np.abs(_icc_colorant_xy(name) - xy).sum())
                if d < dist:
                    best, dist = name, d
            if dist < 0.03:
                return best
    if "p3" in desc:
        return "p3"
    if "2020" in desc or "2100" in desc:
        return "bt2020"
    return "srgb"


def _s15(v: float) -> bytes:
    return struct.pack(">i", int(round(v * 65536)))


def make_icc_profile(primaries: str = "p3", description: str | None = None) -> bytes:
    """A minimal ICC v2 display profile: sRGB transfer curve, the given primaries, D65.

    Enough for viewers (and libultrahdr) to recognise sRGB, Display P3 or BT.2020 bases.
    """
    from gainmlp.colorimetry import PRIMARIES, sdr_eotf

    if primaries not in PRIMARIES:
        raise GainMLPError(f"unknown primaries {primaries!r}")
    import colour

    desc = (
        description
        or {
            "srgb": "sRGB",
            "bt709": "sRGB",
            "p3": "Display P3",
            "bt2020": "Rec. 2020 (sRGB curve)",
        }[primaries]
    )
    space = colour.RGB_COLOURSPACES[PRIMARIES[primaries]]
    cat = colour.adaptation.matrix_chromatic_adaptation_VonKries(
        colour.xy_to_XYZ(space.whitepoint), _D50, transform="Bradford"
    )
    m = cat @ space.matrix_RGB_to_XYZ

    def xyz_tag(v: np.ndarray) -> bytes:
        return b"XYZ \x00\x00\x00\x00" + b"".join(_s15(float(x)) for x in v)

    d = desc.encode("ascii", "replace") + b"\x00"
    desc_tag = b"desc\x00\x00\x00\x00" + struct.pack(">I", len(d)) + d
    desc_tag += b"\x00" * 8 + b"\x00" * 3 + b"\x00" * 67  # unicode + scriptcode parts
    curve = np.round(sdr_eotf(np.linspace(0, 1, 1024), "srgb") * 65535).astype(">u2")
    trc = b"curv\x00\x00\x00\x00" + struct.pack(">I", curve.size) + curve.tobytes()
    cprt = b"text\x00\x00\x00\x00" + b"No copyright, use freely\x00"
    tags = [
        (b"desc", desc_tag),
        (b"cprt", cprt),
        (b"wtpt", xyz_tag(_D50)),
        (b"rXYZ", xyz_tag(m[:, 0])),
        (b"gXYZ", xyz_tag(m[:, 1])),
        (b"bXYZ", xyz_tag(m[:, 2])),
        (b"rTRC", trc),
        (b"gTRC", trc),
        (b"bTRC", trc),
    ]
    table = bytearray(struct.pack(">I", len(tags)))
    blobs = bytearray()
    offset = 128 + 4 + 12 * len(tags)
    seen: dict[bytes, int] = {}
    for sig, blob in tags:
        if blob not in seen:
            while len(blobs) % 4:
                blobs += b"\x00"
            seen[blob] = offset + len(blobs)
            blobs += blob
        table += sig + struct.pack(">II", seen[blob], len(blob))
    body = bytes(table) + bytes(blobs)
    size = 128 + len(body)
    header = bytearray(128)
    struct.pack_into(">I", header, 0, size)
    header[8:12] = bytes((2, 0x10, 0, 0))
    header[12:16] = b"mntr"
    header[16:20] = b"RGB "
    header[20:24] = b"XYZ "
    struct.pack_into(">6H", header, 24, 2024, 1, 1, 0, 0, 0)
    header[36:40] = b"acsp"
    header[68:80] = b"".join(_s15(float(x)) for x in _D50)
    return bytes(header) + body


# --------------------------------------------------------------------------- reading


def _decode_jpeg(data: bytes, what: str) -> tuple[np.ndarray, str]:
    """Decode one JPEG image with Pillow; returns (array, Pillow mode)."""
    from PIL import Image

    # Without its MPF index Pillow reads the image as a plain JPEG, not as an MPO whose
    # (possibly hostile) offsets it would follow.
    data = js.remove_segments(data, lambda s: s.startswith(js.APP2, js.MPF_ID))
    try:
        with Image.open(io.BytesIO(data), formats=["JPEG"]) as im:
            if im.format != "JPEG":
                raise GainMLPError(f"{what} is not a JPEG image")
            check_image_size(im.width, im.height, what)
            if im.width * im.height > MAX_PIXELS_PER_BYTE * max(len(data), 1024):
                raise GainMLPError(
                    f"{what} declares {im.width}x{im.height} pixels but has only "
                    f"{len(data)} bytes of data"
                )
            mode = im.mode
            if mode not in ("L", "RGB"):
                im = im.convert("RGB")
            im.load()
            arr = np.asarray(im)
    except GainMLPError:
        raise
    except Exception as exc:  # noqa: BLE001 - Pillow raises many types on corrupt data
        raise GainMLPError(f"cannot decode {what}: {type(exc).__name__}: {exc}") from exc
    if arr.dtype != np.uint8 or arr.ndim not in (2, 3):
        raise GainMLPError(f"{what} decoded to an unexpected {arr.dtype} array {arr.shape}")
    return arr, mode


@dataclass
class _Image:
    start: int
    end: int
    segments: list[js.Segment]


def _candidate_images(data: bytes, primary: list[js.Segment], notes: list[str]) -> list[_Image]:
    ranges: list[tuple[int, int]] | None = None
    if js.find_app(primary, js.APP2, js.MPF_ID) is not None:
        try:
            ranges = js.mpf_image_ranges(data, primary)
        except GainMLPError as exc:
            notes.append(f"ignoring the MPF index ({exc}); scanning for appended images")
    if ranges is None or len(ranges) < 2:
        try:
            ranges = js.concatenated_image_ranges(data)
        except GainMLPError as exc:
            notes.append(f"primary image is malformed: {exc}")
            ranges = [(0, len(data))]
    out = []
    for start, end in ranges[1:]:
        try:
            segs = js.parse_segments(data[start:end])
        except GainMLPError as exc:
            notes.append(f"skipping secondary image at byte {start}: {exc}")
            continue
        out.append(_Image(start, end, segs))
    return out


def _metadata_of(
    img_segments: list[js.Segment], notes: list[str]
) -> tuple[GainMapMetadata | None, str | None]:
    iso_meta = None
    iso_seg = js.find_app(img_segments, js.APP2, js.ISO_21496_ID)
    if iso_seg is not None:
        try:
            iso_meta = decode_iso21496(iso_seg.payload[len(js.ISO_21496_ID) :])
        except GainMLPError as exc:
            notes.append(f"ignoring ISO 21496-1 metadata: {exc}")
    xmp_meta = None
    main, extended = js.read_xmp(img_segments)
    xmp_text = (main or "") + (extended or "")
    if xmp_text:
        props = parse_hdrgm_xmp(xmp_text)
        if props:
            try:
                xmp_meta = metadata_from_xmp(props)
            except GainMLPError as exc:
                if iso_meta is None:
                    raise
                notes.append(f"ignoring hdrgm XMP: {exc}")
    if iso_meta is not None:
        if xmp_meta is not None and not iso_meta.close_to(xmp_meta):
            notes.append("ISO 21496-1 and XMP gain-map metadata disagree; using ISO 21496-1")
        return iso_meta, "iso21496"
    if xmp_meta is not None:
        return xmp_meta, "xmp"
    return None, None


def read_gainmap_jpeg(data: bytes) -> GainMapJpeg:
    """Read a gain-map JPEG (Ultra HDR, Adobe gain map, ISO 21496-1).

    Raises :class:`GainMLPError` for anything that is not a readable gain-map JPEG.
    Repairs (an unusable MPF index, conflicting metadata, an unreadable ICC profile)
    are reported as :class:`~gainmlp.errors.GainMLPWarning` and in ``.warnings``.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise GainMLPError("gain-map JPEG data must be bytes")
    data = bytes(data)
    if len(data) > MAX_FILE_BYTES:
        raise GainMLPError(f"file of {len(data)} bytes is over the {MAX_FILE_BYTES} byte limit")
    primary = js.parse_segments(data)
    notes: list[str] = []
    main_xmp, ext_xmp = js.read_xmp(primary)
    primary_xmp_text = (main_xmp or "") + (ext_xmp or "")
    flavour = (
        "ultrahdr"
        if "Container:Directory" in primary_xmp_text or (CONTAINER_NS in primary_xmp_text)
        else ("adobe" if HDRGM_NS in primary_xmp_text else "iso")
    )

    meta = source = None
    gm_image: _Image | None = None
    candidates = _candidate_images(data, primary, notes)
    for cand in candidates:
        meta, source = _metadata_of(cand.segments, notes)
        if meta is not None:
            gm_image = cand
            break
    if meta is None and primary_xmp_text and candidates:
        props = parse_hdrgm_xmp(primary_xmp_text)
        meta = metadata_from_xmp(props) if props else None
        if meta is not None:
            gm_image, source = candidates[0], "xmp"
    if meta is None or gm_image is None:
        if not candidates:
            raise GainMLPError("JPEG has no gain-map image (no secondary image found)")
        raise GainMLPError("JPEG has no gain-map metadata (no hdrgm XMP or ISO 21496-1)")

    try:
        icc = js.read_icc(primary)
    except GainMLPError as exc:
        notes.append(f"ignoring the ICC profile: {exc}")
        icc = None
    try:
        gm_icc = js.read_icc(gm_image.segments)
    except GainMLPError:
        gm_icc = None
    try:
        extra = js.extract_payload(data, primary)
    except GainMLPError as exc:
        notes.append(f"ignoring the gainmlp payload segments: {exc}")
        extra = None

    try:
        primary_end = js.find_image_end(data)
    except GainMLPError:
        primary_end = len(data)  # let the decoder report what is wrong
    sdr, _ = _decode_jpeg(data[:primary_end], "SDR base image")
    if sdr.ndim == 2:
        sdr = np.repeat(sdr[:, :, None], 3, axis=2)
    gmap, _ = _decode_jpeg(data[gm_image.start : gm_image.end], "gain-map image")
    if (
        gmap.ndim == 3
        and np.array_equal(gmap[:, :, 0], gmap[:, :, 1])
        and np.array_equal(gmap[:, :, 0], gmap[:, :, 2])
        and meta.is_single_channel
    ):
        gmap = np.ascontiguousarray(gmap[:, :, 0])
    for note in notes:
        warn(note)
    return GainMapJpeg(
        sdr=np.ascontiguousarray(sdr),
        icc=icc,
        metadata=meta,
        gain_map=gmap,
        colour_space=detect_icc_primaries(icc),
        metadata_source=source or "xmp",
        flavour=flavour,
        gain_map_icc=gm_icc,
        extra_payload=extra,
        warnings=notes,
    )


def is_gainmap_jpeg(data: bytes) -> bool:
    """Cheap check: does the primary image announce a gain map (hdrgm XMP, ISO, MPF+map)?

    Never raises; only the primary header (and, for MPF, the secondary headers) is read.
    """
    try:
        data = bytes(data)
        primary = js.parse_segments(data)
        if js.find_app(primary, js.APP2, js.ISO_21496_ID) is not None:
            return True
        main, ext = js.read_xmp(primary)
        if HDRGM_NS in ((main or "") + (ext or "")):
            return True
        if js.find_app(primary, js.APP2, js.MPF_ID) is not None:
            for start, end in js.mpf_image_ranges(data, primary)[1:]:
                segs = js.parse_segments(data[start:end])
                if js.find_app(segs, js.APP2, js.ISO_21496_ID) is not None:
                    return True
                m, e = js.read_xmp(segs)
                if HDRGM_NS in ((m or "") + (e or "")):
                    return True
    except (GainMLPError, ValueError, TypeError):
        return False
    return False


def gainmap_jpeg_to_linear(gm: GainMapJpeg, weight: float = 1.0) -> tuple[np.ndarray, str]:
    """HDR rendition in linear light relative to SDR white, and its primaries name.

    ``weight`` is the map weight toward the HDR rendition (1 = full HDR). For an HDR
    base (``base_is_hdr``) the base itself is the HDR rendition and weight 1 returns it.
    """
    meta = gm.metadata
    primaries = gm.colour_space
    base = sdr_eotf(gm.sdr.astype(np.float32) / 255.0, "srgb").astype(np.float32)
    if not meta.use_base_colour_space and gm.gain_map_icc:
        alt = detect_icc_primaries(gm.gain_map_icc)
        if alt != primaries:
            base = convert_primaries(base, primaries, alt).astype(np.float32)
            primaries = alt
    w = 1.0 - weight if meta.base_is_hdr else weight
    if w <= 0.0:
        return base, primaries
    gmap = gm.gain_map.astype(np.float32) / 255.0
    return apply_gain_map(base, gmap, meta, w), primaries


def gainmap_jpeg_to_hdr_pq(gm: GainMapJpeg) -> np.ndarray:
    """Full-weight HDR rendition as float32 (H, W, 3) PQ code values, BT.2020 primaries.

    SDR white maps to :data:`SDR_WHITE_NITS` (203 cd/m2).
    """
    linear, primaries = gainmap_jpeg_to_linear(gm, 1.0)
    return linear_to_pq_bt2020(linear.astype(np.float64) * SDR_WHITE_NITS, primaries)


# --------------------------------------------------------------------------- writing


def _encode_jpeg(image: np.ndarray, quality: int, icc: bytes | None, what: str) -> bytes:
    from PIL import Image

    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        raise GainMLPError(f"{what} must be uint8, got {arr.dtype}")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] == 3)):
        raise GainMLPError(f"{what} must be (H, W) or (H, W, 3), got {arr.shape}")
    check_image_size(arr.shape[1], arr.shape[0], what)
    if not (1 <= quality <= 100):
        raise GainMLPError(f"JPEG quality {quality} is outside 1..100")
    im = Image.fromarray(np.ascontiguousarray(arr), "L" if arr.ndim == 2 else "RGB")
    buf = io.BytesIO()
    kwargs: dict[str, object] = {"quality": int(quality), "optimize": True}
    if icc:
        kwargs["icc_profile"] = icc
    if arr.ndim == 3 and what.startswith("gain"):
        kwargs["subsampling"] = 0  # 4:4:4, the map's channels are independent
    im.save(buf, "JPEG", **kwargs)
    return buf.getvalue()


def write_ultrahdr(
    path_or_bytes_out: str | Path | io.BufferedIOBase | None,
    sdr_uint8: np.ndarray,
    icc: bytes | None,
    gain_map_uint8: np.ndarray,
    meta: GainMapMetadata,
    extra_payload: bytes | None = None,
    *,
    quality: int = 95,
    gain_map_quality: int = 90,
) -> bytes:
    """Write an Ultra HDR JPEG (also valid as Adobe gain map 1.0 and ISO 21496-1).

    ``path_or_bytes_out`` is a file path, a writable binary stream, or None (just return
    the bytes). ``sdr_uint8`` is (H, W, 3) sRGB-encoded in the primaries of ``icc``
    (sRGB if None); ``gain_map_uint8`` is (h, w) or (h, w, 3). ``extra_payload`` is
    carried in APP11 ``GainMLP`` segments of the primary image. Returns the file bytes.
    """
    if meta.base_is_hdr:
        raise GainMLPError("Ultra HDR JPEGs need an SDR base (base_is_hdr is not supported)")
    gm = np.asarray(gain_map_uint8)
    primary_jpeg = _encode_jpeg(sdr_uint8, quality, icc, "SDR base image")
    gain_jpeg = _encode_jpeg(gm, gain_map_quality, None, "gain-map image")

    iso_full = js.build_segment(js.APP2, js.ISO_21496_ID + encode_iso21496(meta))
    gm_xmp = js.build_segment(js.APP1, js.xmp_segment_payload(gain_map_xmp(meta)))
    gain_jpeg = js.insert_segments(gain_jpeg, [gm_xmp, iso_full])

    xmp = js.build_segment(js.APP1, js.xmp_segment_payload(primary_xmp(len(gain_jpeg))))
    iso_version = js.build_segment(js.APP2, js.ISO_21496_ID + struct.pack(">HH", 0, 0))
    extra = js.payload_segments(extra_payload) if extra_payload else []
    mpf_size = len(js.build_segment(js.APP2, b"\x00" * js.mpf_payload_size(2)))
    ins = js.insertion_point(primary_jpeg)
    head = primary_jpeg[:ins] + xmp + iso_version + b"".join(extra)
    tail = primary_jpeg[ins:]
    primary_len = len(head) + mpf_size + len(tail)
    tiff_origin = len(head) + 4 + len(js.MPF_ID)
    entries = [
        js.MpEntry(js.MP_ATTR_PRIMARY | js.MP_ATTR_BASELINE_PRIMARY, primary_len, 0),
        js.MpEntry(js.MP_ATTR_FORMAT_JPEG, len(gain_jpeg), primary_len - tiff_origin),
    ]
    mpf = js.build_segment(js.APP2, js.build_mpf_payload(entries, big_endian=True))
    out = head + mpf + tail + gain_jpeg
    if path_or_bytes_out is not None:
        if isinstance(path_or_bytes_out, str | Path):
            try:
                Path(path_or_bytes_out).write_bytes(out)
            except OSError as exc:
                raise GainMLPError(f"cannot write {path_or_bytes_out}: {exc}") from exc
        else:
            path_or_bytes_out.write(out)
    return out
