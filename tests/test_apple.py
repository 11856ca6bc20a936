"""Apple HDR gain maps (gainmlp.container.apple): iPhone-style JPEGs built in code."""

from __future__ import annotations

import io
import struct

import colour
import numpy as np
import pytest
from PIL import Image

from gainmlp import photo
from gainmlp.colorimetry import sdr_eotf
from gainmlp.container import apple
from gainmlp.container import gainmap_jpeg as gj
from gainmlp.container.icc import make_icc_profile
from gainmlp.container.mpf import (
    MP_ATTR_BASELINE_PRIMARY,
    MpEntry,
    build_mpf_payload,
    mpf_payload_size,
)
from gainmlp.container.segments import (
    APP1,
    APP2,
    EXIF_ID,
    build_segment,
    insert_segments,
    insertion_point,
)
from gainmlp.container.xmp import xmp_segment_payload
from gainmlp.errors import GainMLPError, GainMLPWarning

H, W = 32, 48


def _jpeg(arr: np.ndarray, **save) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "JPEG", quality=100, subsampling=0, **save)
    return buf.getvalue()


def apple_xmp(version: int = 131072, headroom: str | None = "4.5", attrs: bool = False) -> str:
    """The gain map's XMP as iPhones write it (elements), or with attributes."""
    ns = ('xmlns:apdi="http://ns.apple.com/pixeldatainfo/1.0/" '
          'xmlns:HDRGainMap="http://ns.apple.com/HDRGainMap/1.0/"')
    if attrs:
        head = f'HDRGainMap:HDRGainMapVersion="{version}"'
        if headroom is not None:
            head += f' HDRGainMap:HDRGainMapHeadroom="{headroom}"'
        body = f'<rdf:Description rdf:about="" {ns} {head}/>'
    else:
        body = (f'<rdf:Description rdf:about="" {ns}>'
                f"<apdi:AuxiliaryImageType>{apple.APPLE_AUX_TYPE}</apdi:AuxiliaryImageType>"
                f"<HDRGainMap:HDRGainMapVersion>{version}</HDRGainMap:HDRGainMapVersion>")
        if headroom is not None:
            body += f"<HDRGainMap:HDRGainMapHeadroom>{headroom}</HDRGainMap:HDRGainMapHeadroom>"
        body += "</rdf:Description>"
    return ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
            f'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">{body}</rdf:RDF>'
            "</x:xmpmeta>")


def maker_note(values: dict[int, tuple[int, object]], order: str = ">") -> bytes:
    """An Apple maker note: header, byte order, a directory; offsets from the note's start.

    ``values`` maps tag -> (TIFF type, value): 10 (num, den) SRATIONAL, 11 FLOAT, 3 SHORT.
    """
    head = apple.MAKER_NOTE_ID + b"\x00\x01" + (b"MM" if order == ">" else b"II")
    start = len(head) + 2 + 12 * len(values) + 4
    entries, blob = b"", b""
    for tag, (typ, value) in sorted(values.items()):
        if typ == 10:
            entries += struct.pack(order + "HHII", tag, typ, 1, start + len(blob))
            blob += struct.pack(order + "ii", *value)
        elif typ == 11:
            entries += struct.pack(order + "HHI", tag, typ, 1) + struct.pack(order + "f", value)
        else:
            entries += struct.pack(order + "HHIHH", tag, typ, 1, value, 0)
    return head + struct.pack(order + "H", len(values)) + entries + b"\x00" * 4 + blob


def exif_with(note: bytes) -> bytes:
    """EXIF APP1 payload: IFD0 -> Exif IFD -> MakerNote (UNDEFINED)."""
    exif_ifd = 8 + 2 + 12 + 4
    note_at = exif_ifd + 2 + 12 + 4
    tiff = b"MM\x00\x2a" + struct.pack(">I", 8)
    tiff += struct.pack(">HHHII", 1, 0x8769, 4, 1, exif_ifd) + b"\x00" * 4
    tiff += struct.pack(">HHHII", 1, 0x927C, 7, len(note), note_at) + b"\x00" * 4
    return EXIF_ID + tiff + note


def apple_jpeg(sdr8: np.ndarray, map8: np.ndarray, xml: str | None,
               exif: bytes | None = None, icc: bytes | None = None) -> bytes:
    """Primary (EXIF, MPF, ICC) + gain-map JPEG (Apple XMP), as an iPhone lays them out."""
    primary = _jpeg(sdr8, **({"icc_profile": icc} if icc else {}))
    gain = _jpeg(map8)
    if xml is not None:
        gain = insert_segments(gain, [build_segment(APP1, xmp_segment_payload(xml))])
    pos = insertion_point(primary)
    head = primary[:pos] + (build_segment(APP1, exif) if exif else b"")
    tail = primary[pos:]
    mpf_len = len(build_segment(APP2, b"\x00" * mpf_payload_size(2)))
    primary_len = len(head) + mpf_len + len(tail)
    origin = len(head) + 8
    entries = [MpEntry(MP_ATTR_BASELINE_PRIMARY, primary_len, 0),
               MpEntry(0, len(gain), primary_len - origin)]
    return head + build_segment(APP2, build_mpf_payload(entries)) + tail + gain


@pytest.fixture(scope="module")
def images() -> tuple[np.ndarray, np.ndarray]:
    y, x = np.mgrid[0:H, 0:W] / np.array([H, W])[:, None, None]
    sdr8 = np.round(np.stack([x, y, 0.5 * (x + y)], -1) * 255).astype(np.uint8)
    map8 = np.round(np.clip(1.2 * x - 0.1, 0, 1)[::2, ::2] * 255).astype(np.uint8)
    return sdr8, map8


def expected_hdr(data: bytes, headroom: float) -> np.ndarray:
    """Apple's formula computed here from the decoded pixels, independently of gainmlp:
    base sRGB-linearised, map linearised with the inverse BT.709 OETF, upsampled."""
    gm = gj.read_gainmap_jpeg(data)
    base = sdr_eotf(gm.sdr / 255.0, "srgb")
    g = colour.models.oetf_inverse_BT709(gm.gain_map / 255.0)
    big = np.asarray(Image.fromarray(g.astype(np.float32), "F").resize((W, H), Image.BILINEAR))
    return base * (1 + (headroom - 1) * big[:, :, None])


def test_new_files_headroom_from_xmp(images) -> None:
    sdr8, map8 = images
    data = apple_jpeg(sdr8, map8, apple_xmp(headroom="4.532783"),
                      exif_with(maker_note({33: (10, (3, 2)), 48: (10, (0, 1))})))
    assert gj.is_gainmap_jpeg(data)
    gm = gj.read_gainmap_jpeg(data)
    assert gm.flavour == "apple" and gm.metadata_source == "apple"
    assert gm.apple == apple.AppleGainMap(131072, 4.532783, "xmp")  # XMP wins over the note
    assert gm.gain_map.shape == (H // 2, W // 2)
    linear, primaries = gj.gainmap_jpeg_to_linear(gm)
    assert primaries == "srgb"
    ref = expected_hdr(data, 4.532783)
    assert np.max(np.abs(linear - ref)) < 1e-4  # (an sRGB-decoded map is 0.15 off)
    assert linear.max() > 3.0  # the bright right edge really is boosted
    assert gm.metadata.gain_map_max[0] == pytest.approx(np.log2(4.532783))


@pytest.mark.parametrize(
    ("values", "order", "headroom"),
    [
        ({33: (10, (3, 2)), 48: (10, (0, 1))}, ">", 8.0),  # m33 >= 1, m48 <= 0.01: 3 stops
        ({33: (10, (1, 2)), 48: (10, (1, 200))}, "<", 2 ** 1.7),  # -20 * 0.005 + 1.8
        ({33: (11, 0.25), 48: (11, 2.0)}, ">", 2 ** (1.601 - 0.202)),  # FLOAT entries
        ({33: (10, (2, 1)), 48: (10, (1, 2))}, ">", 2 ** (2.303 - 0.1515)),
    ],
)
def test_old_files_headroom_from_maker_note(images, values, order, headroom) -> None:
    sdr8, map8 = images
    data = apple_jpeg(sdr8, map8, apple_xmp(version=65536, headroom=None),
                      exif_with(maker_note(values, order)))
    gm = gj.read_gainmap_jpeg(data)
    assert gm.apple.source == "maker-note"
    assert gm.apple.headroom == pytest.approx(headroom, rel=1e-6)
    assert np.allclose(gj.gainmap_jpeg_to_linear(gm)[0], expected_hdr(data, headroom),
                       atol=1e-4)


def test_headroom_formula_branches() -> None:
    f = apple.headroom_from_maker_note
    assert f(0.0, 0.0) == pytest.approx(2 ** 1.8)
    assert f(0.5, 0.02) == pytest.approx(2 ** (1.601 - 0.00202))
    assert f(1.0, 0.01) == pytest.approx(2 ** 2.3)
    assert f(1.0, 0.5) == pytest.approx(2 ** (2.303 - 0.1515))
    assert f(0.0, 100.0) == 1.0  # stops below 0 -> no headroom


def test_missing_headroom_uses_documented_default_with_warning(images) -> None:
    sdr8, map8 = images
    for exif in (None, exif_with(maker_note({33: (10, (1, 1))})),  # tag 48 absent
                 exif_with(maker_note({33: (3, 1), 48: (3, 0)}))):  # SHORTs are not numbers
        data = apple_jpeg(sdr8, map8, apple_xmp(version=65536, headroom=None), exif)
        with pytest.warns(GainMLPWarning, match="without a headroom"):
            gm = gj.read_gainmap_jpeg(data)
        default = apple.headroom_from_maker_note(apple.DEFAULT_MAKER33, apple.DEFAULT_MAKER48)
        assert gm.apple == apple.AppleGainMap(65536, default, "default")
        assert default == pytest.approx(2 ** (1.601 - 0.808))


def test_attribute_form_xmp(images) -> None:
    sdr8, map8 = images
    data = apple_jpeg(sdr8, map8, apple_xmp(headroom="2.0", attrs=True))
    assert gj.read_gainmap_jpeg(data).apple.headroom == 2.0


@pytest.mark.parametrize(
    ("xml", "message"),
    [
        (apple_xmp(headroom="abc"), "HDRGainMapHeadroom is not a number"),
        (apple_xmp(headroom="0.5"), "HDRGainMapHeadroom 0.5 must be"),
        (apple_xmp(headroom="inf"), "HDRGainMapHeadroom inf must be"),
        (apple_xmp(version="x", headroom="2"), "HDRGainMapVersion is not an integer"),
    ],
)
def test_invalid_apple_metadata_is_named(images, xml, message) -> None:
    sdr8, map8 = images
    with pytest.raises(GainMLPError, match=message):
        gj.read_gainmap_jpeg(apple_jpeg(sdr8, map8, xml))


def test_map_without_apple_xmp_is_no_gain_map(images) -> None:
    sdr8, map8 = images
    with pytest.raises(GainMLPError, match="no gain-map metadata"):
        gj.read_gainmap_jpeg(apple_jpeg(sdr8, map8, None))


def test_hostile_maker_notes_are_ignored() -> None:
    good = maker_note({33: (10, (1, 1)), 48: (10, (0, 1))})
    assert apple.maker_note_values(good) == {33: 1.0, 48: 0.0}
    assert apple.maker_note_values(good[:30]) == {}  # directory cut short
    bad_offset = bytearray(good)
    struct.pack_into(">I", bad_offset, 16 + 8, 10_000)  # tag 33's value outside the note
    assert apple.maker_note_values(bytes(bad_offset)) == {48: 0.0}
    zero_den = maker_note({33: (10, (1, 0)), 48: (10, (0, 1))})
    assert apple.maker_note_values(zero_den) == {48: 0.0}
    assert apple.maker_note_values(b"Canon" + good[5:]) == {}
    assert apple.maker_note(b"Exif\x00\x00MM\x00\x2a\xff\xff\xff\xff") is None


def test_display_p3_base_and_decode_file(images) -> None:
    sdr8, map8 = images
    data = apple_jpeg(sdr8, map8, apple_xmp(headroom="3"), icc=make_icc_profile("p3"))
    base, hdr = photo.decode_file(data, "iphone.jpg", linear=True)
    assert base.encoding.primaries == "p3" and base.encoding.transfer == "srgb"
    gm = gj.read_gainmap_jpeg(data)
    assert gm.colour_space == "p3"
    assert np.allclose(hdr, gj.gainmap_jpeg_to_linear_bt2020(gm))
    assert hdr.max() > 2.5 * 203  # headroom 3 at the right edge, in cd/m2
