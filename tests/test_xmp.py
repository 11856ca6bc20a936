"""XMP in JPEG: standard and extended packets; the hdrgm schema read and written."""

from __future__ import annotations

import time

import pytest
from jpeg_samples import make_jpeg

from gainmlp.container import xmp
from gainmlp.container.segments import APP1, build_segment, insert_segments, parse_segments
from gainmlp.errors import GainMLPError
from gainmlp.iso_gainmap import GainMapMetadata


def test_xmp_and_extended_xmp() -> None:
    jpeg = make_jpeg()
    xml = '<x:xmpmeta xmlns:x="adobe:ns:meta/"><a b="é"/></x:xmpmeta>'
    ext = "<ext>" + "z" * 150_000 + "</ext>"
    guid, ext_segs = xmp.extended_xmp_segments(ext)
    main = xml.replace("<a", f"<xmpNote:HasExtendedXMP>{guid}</xmpNote:HasExtendedXMP><a")
    data = insert_segments(
        jpeg, [build_segment(APP1, xmp.xmp_segment_payload(main)), *reversed(ext_segs)]
    )
    got_main, got_ext = xmp.read_xmp(parse_segments(data))
    assert got_main == main and got_ext == ext
    with pytest.raises(GainMLPError):
        xmp.xmp_segment_payload("x" * 70_000)
    # an incomplete extended packet is ignored
    partial = insert_segments(jpeg, ext_segs[:1])
    assert xmp.read_xmp(parse_segments(partial)) == (None, None)


@pytest.mark.parametrize("seq", [None, True])
def test_gain_map_xmp_reads_back(seq: bool | None) -> None:
    meta = GainMapMetadata(gain_map_min=-0.25, gain_map_max=2.5, gamma=0.8,
                           hdr_capacity_max=2.5)
    back = xmp.metadata_from_xmp(xmp.parse_hdrgm_xmp(xmp.gain_map_xmp(meta, seq)))
    assert back is not None and back.close_to(meta)
    assert xmp.metadata_from_xmp(xmp.parse_hdrgm_xmp(xmp.primary_xmp(123))) is None


def test_pathological_xmp_is_linear_time() -> None:
    head = f'<x xmlns:hdrgm="{xmp.HDRGM_NS}" '
    for filler in ("<hdrgm:GainMapMin ", 'hdrgm:GainMapMax="', "<hdrgm:Gamma><rdf:li>"):
        xml = head + filler * (60_000 // len(filler))
        t = time.perf_counter()
        props = xmp.parse_hdrgm_xmp(xml)
        assert time.perf_counter() - t < 0.5
        assert isinstance(props, dict)
