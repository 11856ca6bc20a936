"""ISO 21496-1 gain-map metadata: the binary record in an APP2 segment.

The gain-map image carries the full record after the URN
``urn:iso:std:iso:ts:21496:-1\\0``; the primary image carries only a 4-byte version
record announcing that a gain map follows. Values are stored as fractions; this module
encodes :class:`~gainmlp.iso_gainmap.GainMapMetadata` to that record and back.
"""

from __future__ import annotations

import math
import struct
from fractions import Fraction

from gainmlp.errors import GainMLPError
from gainmlp.iso_gainmap import GainMapMetadata

ISO_21496_ID = b"urn:iso:std:iso:ts:21496:-1\x00"
VERSION_RECORD = struct.pack(">HH", 0, 0)  # minimum_version 0, writer_version 0


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


def iso21496_segment_payload(meta: GainMapMetadata | None) -> bytes:
    """APP2 payload: the URN, then the full record, or the version record for None."""
    return ISO_21496_ID + (VERSION_RECORD if meta is None else encode_iso21496(meta))
