"""Re-encoding gain-map JPEGs: one rule for encode and batch, the photo's metadata kept,
files every HDR reader shows (libultrahdr, libvips)."""

from __future__ import annotations

from pathlib import Path

import imagecodecs
import numpy as np
import pytest
from batch_helpers import FAST_FLAGS, gainmap_bytes

from gainmlp import io as imageio
from gainmlp.cli import main
from gainmlp.container import gainmap_jpeg, mpf
from gainmlp.container.app11 import extract_payload
from gainmlp.container.photo import primary_xmp_of
from gainmlp.container.segments import APP1, build_segment, insert_segments, parse_segments
from gainmlp.container.xmp import XMP_EXT_ID, XMP_ID, extended_xmp_segments, read_xmp
from gainmlp.container.xmp_merge import merge_primary_xmp, strip_gain_map_xmp

APP13 = 0xED
SEINE = Path("/work/shared/data/gainmap/seine_sdr_gainmap_srgb.jpg")

RIGHTS_XMP = """<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:xmpRights="http://ns.adobe.com/xap/1.0/rights/"
    xmlns:xmpNote="http://ns.adobe.com/xmp/note/"
    xmlns:hdrgm="http://ns.adobe.com/hdr-gain-map/1.0/"
    xmlns:GContainer="http://ns.google.com/photos/1.0/container/"
    xmlns:GItem="http://ns.google.com/photos/1.0/container/item/"
    hdrgm:Version="1.0"
    xmpRights:Marked="True"
    xmpNote:HasExtendedXMP="GUID">
   <dc:rights><rdf:Alt><rdf:li xml:lang="x-default">(c) 2026 A. Photographer</rdf:li>
   </rdf:Alt></dc:rights>
   <xmpRights:UsageTerms><rdf:Alt><rdf:li xml:lang="x-default">No reuse</rdf:li></rdf:Alt>
   </xmpRights:UsageTerms>
   <GContainer:Directory><rdf:Seq>
    <rdf:li rdf:parseType="Resource"><GContainer:Item GItem:Semantic="Primary"
      GItem:Mime="image/jpeg"/></rdf:li>
    <rdf:li rdf:parseType="Resource"><GContainer:Item GItem:Semantic="GainMap"
      GItem:Mime="image/jpeg" GItem:Length="1"/></rdf:li>
    <rdf:li rdf:parseType="Resource"><GContainer:Item GItem:Semantic="MotionPhoto"
      GItem:Mime="video/mp4" GItem:Length="12345"/></rdf:li>
   </rdf:Seq></GContainer:Directory>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>"""


def photo_with_rights() -> bytes:
    """A synthetic Ultra HDR file whose primary XMP carries rights, an IPTC segment and
    extended XMP (as a camera or Lightroom writes them)."""
    data = gainmap_bytes(0)
    extended = '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/></x:xmpmeta>'
    guid, ext_segments = extended_xmp_segments(extended)
    xml = RIGHTS_XMP.replace("GUID", guid)

    def not_xmp(seg) -> bool:
        return not seg.payload.startswith(XMP_ID)

    segments = parse_segments(data)
    start, end = mpf.mpf_image_ranges(data)[1]
    gain_jpeg = data[start:end]
    primary = b"".join(data[s.offset:s.end] for s in segments if not_xmp(s))
    primary += data[segments[-1].end:start]
    primary = insert_segments(primary, [build_segment(APP1, XMP_ID + xml.encode()),
                                        *ext_segments, build_segment(APP13, b"Photoshop 3.0\x00x")])
    return rebuilt(primary, gain_jpeg, gainmap_jpeg.read_gainmap_jpeg(data).metadata)


def rebuilt(primary: bytes, gain_jpeg: bytes, meta) -> bytes:
    """A gain-map JPEG of these parts whose primary XMP is ``primary``'s own."""
    from gainmlp.container.gainmap_writer import assemble_gainmap_jpeg
    from gainmlp.container.photo import strip_gain_map

    xml = primary_xmp_of(primary)
    return assemble_gainmap_jpeg(strip_gain_map(primary), strip_gain_map(gain_jpeg), meta,
                                 primary_xml=xml)


def test_strip_and_merge_keep_everything_but_the_gain_map_fields():
    stripped = strip_gain_map_xmp(RIGHTS_XMP)
    assert "hdrgm" not in stripped and "Directory" not in stripped
    assert "GContainer" not in stripped  # unused declarations go too
    assert "(c) 2026 A. Photographer" in stripped and 'xmpRights:Marked="True"' in stripped
    merged = merge_primary_xmp(RIGHTS_XMP, 4321)
    assert merged.count("GContainer:Item ") == 2  # the new file's items only
    assert 'GItem:Length="4321"' in merged and "MotionPhoto" not in merged
    assert 'hdrgm:Version="1.0"' in merged and "UsageTerms" in merged
    assert merged.startswith("<?xpacket begin") and merged.endswith('<?xpacket end="w"?>')


def test_merge_without_a_packet_or_with_a_self_closing_description():
    assert merge_primary_xmp(None, None) is None
    assert 'Item:Length="7"' in merge_primary_xmp(None, 7)
    xml = ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf='
           '"http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" '
           'xmlns:dc="http://purl.org/dc/elements/1.1/" dc:format="image/jpeg"/>'
           '</rdf:RDF></x:xmpmeta>')
    merged = merge_primary_xmp(xml, 10)
    assert merged.count("</rdf:Description>") == 1 and 'dc:format="image/jpeg"' in merged
    assert 'Item:Length="10"' in merged


def test_hostile_packets_cost_linear_time():
    xml = RIGHTS_XMP.replace("</rdf:Description>", "<hdrgm:Gamma>" * 50000
                             + "</rdf:Description>")
    out = strip_gain_map_xmp(xml)  # unclosed elements: nothing to remove, no blow-up
    assert out.count("<hdrgm:Gamma>") == 50000


@pytest.mark.parametrize("container", ["ultrahdr+mlp", "gainmlp"])
def test_reencode_keeps_rights_iptc_and_extended_xmp(tmp_path, container):
    data = photo_with_rights()
    src = tmp_path / "in.jpg"
    src.write_bytes(data)
    out = tmp_path / "out.jpg"
    assert main(["encode", str(src), "-o", str(out), "--method", "gamma-jpeg",
                 "--container", container]) == 0
    new = out.read_bytes()
    segments = parse_segments(new)
    main_xmp, ext = read_xmp(segments)
    assert "(c) 2026 A. Photographer" in main_xmp and "No reuse" in main_xmp
    assert ext is not None  # extended XMP kept and still named by the packet's GUID
    assert sum(s.payload.startswith(XMP_EXT_ID) for s in segments) == 1
    assert any(s.marker == APP13 for s in segments)
    assert "MotionPhoto" not in main_xmp
    np.testing.assert_array_equal(imageio.decode_sdr_bytes(new).pixels,
                                  imageio.decode_sdr_bytes(data).pixels)
    assert extract_payload(new) is not None
    if container == "gainmlp":
        assert not gainmap_jpeg.is_gainmap_jpeg(new) and "hdrgm" not in main_xmp
    else:
        ranges = mpf.mpf_image_ranges(new)
        assert f'Item:Length="{ranges[1][1] - ranges[1][0]}"' in main_xmp
        assert imagecodecs.ultrahdr_decode(new).shape[:2] == (48, 64)


@pytest.mark.skipif(not SEINE.exists(), reason="shared gain-map folder absent")
def test_reencoding_the_seine_file_keeps_its_xmp(tmp_path):
    before = primary_xmp_of(SEINE.read_bytes())
    out = tmp_path / "seine.jpg"
    assert main(["encode", str(SEINE), "-o", str(out), "--method", "gamma-jpeg"]) == 0
    after = primary_xmp_of(out.read_bytes())
    for field in ("dc:", "crs:", "xmpMM:History", "photoshop:", "GCamera:hdrp_makernote"):
        assert field in before and field in after, field
    for prop in ("crs:Exposure2012", "xmpMM:DocumentID", "xmpMM:OriginalDocumentID"):
        line = next(x for x in before.splitlines() if prop in x).strip()
        assert line in after, prop
    assert gainmap_jpeg.is_gainmap_jpeg(out.read_bytes())


def test_encode_and_batch_write_the_same_bytes(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    (src / "photo.jpg").write_bytes(gainmap_bytes(1))
    flags = ["--method", "gamma-mlp", *FAST_FLAGS]
    assert main(["encode", str(src / "photo.jpg"), "-o", str(tmp_path / "one.jpg"),
                 *flags]) == 0
    assert main(["batch", str(src), "-o", str(tmp_path / "batch"), "--jobs", "1",
                 *flags]) == 0
    assert (tmp_path / "one.jpg").read_bytes() == (tmp_path / "batch" / "photo.jpg").read_bytes()


def test_container_ultrahdr_implies_gain_jpeg(tmp_path, capsys):
    src = tmp_path / "in.jpg"
    src.write_bytes(gainmap_bytes(2))
    assert main(["encode", str(src), "-o", str(tmp_path / "u.jpg"),
                 "--container", "ultrahdr"]) == 0
    new = (tmp_path / "u.jpg").read_bytes()
    assert extract_payload(new) is None and gainmap_jpeg.is_gainmap_jpeg(new)
    assert main(["encode", str(src), "-o", str(tmp_path / "v.jpg"), "--container", "ultrahdr",
                 "--method", "gamma-mlp"]) == 2
    assert "--container ultrahdr" in capsys.readouterr().err


def test_default_jpeg_output_is_hdr_in_libultrahdr_libvips_and_gainmlp(tmp_path):
    pyvips = pytest.importorskip("pyvips")
    from batch_helpers import write_pair

    from gainmlp.photo import decode_photo, read_photo

    write_pair(tmp_path, "p", 3)
    out = tmp_path / "x.jpg"
    assert main(["encode", str(tmp_path / "p_sdr.png"), str(tmp_path / "p_hdr.png"), "-o",
                 str(out), *FAST_FLAGS]) == 0
    data = out.read_bytes()
    uhdr = imagecodecs.ultrahdr_decode(data, dtype="float16")  # linear, boosted
    assert uhdr.shape[:2] == (48, 64)
    image = pyvips.Image.new_from_buffer(data, "")
    assert "gainmap-data" in image.get_fields()
    scrgb = image.uhdr2scRGB().numpy()
    sdr = imageio.decode_sdr_bytes(data).pixels
    # the HDR rendition of the bright pixels goes above SDR white in libvips
    assert scrgb[sdr.mean(axis=2) > 200].max() > 1.2
    # gainmlp decodes the payload (the MLP), not the standard map
    base, payload = read_photo(data)
    from gainmlp.api import decode

    np.testing.assert_array_equal(decode_photo(data), decode(payload, base.pixels))
    assert payload.method == "gamma-mlp"


def test_a_small_own_map_is_kept_not_grown(tmp_path):
    from conftest import synthetic_pair

    from gainmlp.colorimetry import SdrEncoding
    from gainmlp.container.ultrahdr import ultrahdr_from_pair
    from gainmlp.image import SdrImage

    sdr, hdr = synthetic_pair(96, 128, seed=7)
    data, parts = ultrahdr_from_pair(SdrImage(sdr, SdrEncoding()), hdr, scale=8,
                                     map_quality=50)
    src = tmp_path / "small.jpg"
    src.write_bytes(data)
    assert main(["encode", str(src), "-o", str(tmp_path / "out.jpg"), "--method",
                 "gamma-jpeg"]) == 0
    new = (tmp_path / "out.jpg").read_bytes()
    old_map = mpf.mpf_image_ranges(data)[1]
    new_map = mpf.mpf_image_ranges(new)[1]
    assert new_map[1] - new_map[0] == old_map[1] - old_map[0]  # the photo's own map, kept
    before = gainmap_jpeg.read_gainmap_jpeg(data)
    after = gainmap_jpeg.read_gainmap_jpeg(new)
    np.testing.assert_array_equal(after.gain_map, before.gain_map)
    assert after.metadata.close_to(before.metadata)
    assert extract_payload(new) is not None
