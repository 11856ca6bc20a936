"""ISO 21496-1 gain-map metadata records: round trips, libultrahdr's form, bad records."""

from __future__ import annotations

import struct

import pytest

from gainmlp.container import iso21496
from gainmlp.errors import GainMLPError
from gainmlp.iso_gainmap import GainMapMetadata


@pytest.mark.parametrize(
    "meta",
    [
        GainMapMetadata(gain_map_min=-0.5, gain_map_max=2.75, hdr_capacity_max=2.75),
        GainMapMetadata(
            gain_map_min=(-0.1, 0.0, 0.2),
            gain_map_max=(3.1, 2.2, 1.3),
            gamma=(1.0, 0.8, 1.2),
            offset_sdr=(0.01, 0.02, 0.03),
            hdr_capacity_min=0.25,
            hdr_capacity_max=3.1,
            use_base_colour_space=False,
        ),
        GainMapMetadata(
            gain_map_min=-2.0,
            gain_map_max=0.0,
            base_is_hdr=True,
            offset_sdr=0.05,
            hdr_capacity_max=2.0,
        ),
    ],
)
def test_iso_round_trip(meta: GainMapMetadata) -> None:
    record = iso21496.encode_iso21496(meta)
    assert record[4] & 0x80 == (0 if meta.is_single_channel else 0x80)
    back = iso21496.decode_iso21496(record)
    assert back is not None and back.close_to(meta, rel=1e-6, abs_=1e-7)
    assert back.use_base_colour_space == meta.use_base_colour_space


def test_iso_common_denominator_form() -> None:
    # libultrahdr's compact form: flags bit 3, one denominator for every field
    rec = struct.pack(">HHBI", 0, 0, 0x08 | 0x40, 1000) + struct.pack(">II", 0, 2500)
    rec += struct.pack(">iiIii", -500, 2500, 1000, 15, 16)
    meta = iso21496.decode_iso21496(rec)
    assert meta is not None
    assert meta.gain_map_min == (-0.5,) * 3 and meta.gain_map_max == (2.5,) * 3
    assert meta.hdr_capacity_max == 2.5 and meta.offset_hdr == (0.016,) * 3


@pytest.mark.parametrize(
    "record",
    [
        b"",
        b"\x00",
        b"\x00\x01\x00\x00\x00",
        b"\x00\x00\x00\x00\x00\x00\x00\x00\x00",
        struct.pack(">HHB", 0, 0, 0) + struct.pack(">IIII", 1, 0, 1, 1) + b"\x00" * 40,
    ],
)
def test_iso_malformed(record: bytes) -> None:
    with pytest.raises(GainMLPError):
        iso21496.decode_iso21496(record)


def test_iso_version_only() -> None:
    assert iso21496.decode_iso21496(b"\x00\x00\x00\x00") is None


def test_segment_payload() -> None:
    meta = GainMapMetadata(gain_map_max=2.0, hdr_capacity_max=2.0)
    assert iso21496.iso21496_segment_payload(None) == iso21496.ISO_21496_ID + b"\x00" * 4
    full = iso21496.iso21496_segment_payload(meta)
    assert full == iso21496.ISO_21496_ID + iso21496.encode_iso21496(meta)
