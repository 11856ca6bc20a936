"""Gain-map maths and gain-map JPEG files (Ultra HDR, Adobe, ISO 21496-1)."""

from __future__ import annotations

import io
import struct
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jpeg_samples import gradient_scene
from PIL import Image

from gainmlp.colorimetry import linear_to_pq_bt2020
from gainmlp.container import gainmap_jpeg as gj
from gainmlp.container import xmp
from gainmlp.container.icc import make_icc_profile
from gainmlp.container.iso21496 import ISO_21496_ID, iso21496_segment_payload
from gainmlp.container.mpf import (
    MP_ATTR_BASELINE_PRIMARY,
    MPF_ID,
    MpEntry,
    build_mpf_payload,
    mpf_image_ranges,
    mpf_payload_size,
)
from gainmlp.container.segments import (
    APP1,
    APP2,
    build_segment,
    find_app,
    find_image_end,
    insert_segments,
    insertion_point,
    parse_segments,
)
from gainmlp.errors import GainMLPError, GainMLPWarning
from gainmlp.iso_gainmap import GainMapMetadata, apply_gain_map, compute_gain_map

H, W = 64, 96


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(1.0 / mse)


@pytest.fixture(scope="module")
def scene() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(sdr uint8, sdr linear, hdr linear): smooth gradients and a bright highlight."""
    return gradient_scene(H, W)


def downsample(code: np.ndarray, factor: int) -> np.ndarray:
    h, w = code.shape[:2]
    im = Image.fromarray(code)
    return np.asarray(im.resize((w // factor, h // factor), Image.BILINEAR))


def to_pq(linear: np.ndarray, primaries: str) -> np.ndarray:
    return linear_to_pq_bt2020(np.asarray(linear, np.float64) * gj.SDR_WHITE_NITS, primaries)


# ----------------------------------------------------------------- our writer / reader


@pytest.fixture(scope="module")
def written(scene):
    sdr8, lin, hdr = scene
    code, meta = compute_gain_map(lin, hdr, channels=3)
    payload = bytes(range(256)) * 400  # 100 KB: two APP11 segments
    data = gj.write_ultrahdr(None, sdr8, None, code, meta, extra_payload=payload)
    return data, code, meta, payload


def test_write_read_round_trip(scene, written, tmp_path) -> None:
    sdr8, lin, hdr = scene
    data, code, meta, payload = written
    assert gj.is_gainmap_jpeg(data)
    gm = gj.read_gainmap_jpeg(data)
    assert gm.metadata_source == "iso21496" and gm.flavour == "ultrahdr"
    assert gm.metadata.close_to(meta, rel=1e-6, abs_=1e-7)
    assert gm.extra_payload == payload and gm.warnings == []
    assert gm.sdr.shape == (H, W, 3) and gm.gain_map.shape == (H, W, 3)
    assert np.abs(gm.sdr.astype(int) - sdr8).mean() < 2
    pq = gj.gainmap_jpeg_to_hdr_pq(gm)
    assert pq.dtype == np.float32 and pq.shape == (H, W, 3)
    assert psnr(pq, to_pq(hdr, "srgb")) > 38
    # structure: XMP, ISO version record, APP11 chunks and MPF in the primary
    segs = parse_segments(data)
    assert find_app(segs, APP2, ISO_21496_ID).payload.endswith(b"\x00" * 4)
    assert [r[0] for r in mpf_image_ranges(data)] == [0, find_image_end(data)]
    out = tmp_path / "x.jpg"
    gj.write_ultrahdr(out, sdr8, None, code, meta)
    assert gj.read_gainmap_jpeg(out.read_bytes()).metadata.close_to(meta)


def test_plain_jpeg_is_not_a_gainmap(scene) -> None:
    buf = io.BytesIO()
    Image.fromarray(scene[0]).save(buf, "JPEG")
    assert not gj.is_gainmap_jpeg(buf.getvalue())
    assert not gj.is_gainmap_jpeg(b"not a jpeg")
    with pytest.raises(GainMLPError):
        gj.read_gainmap_jpeg(buf.getvalue())


# ----------------------------------------------------------------- libultrahdr / libvips


def _imagecodecs_linear(data: bytes) -> np.ndarray:
    imagecodecs = pytest.importorskip("imagecodecs")
    if not imagecodecs.ULTRAHDR.available:
        pytest.skip("imagecodecs built without libultrahdr")
    # float16 output: linear light, base image gamut, SDR white = 1.0 (full display boost)
    return imagecodecs.ultrahdr_decode(data)[..., :3].astype(np.float64)


@pytest.mark.parametrize(
    ("channels", "factor", "primaries"),
    [(3, 1, "srgb"), (1, 1, "srgb"), (1, 4, "p3"), (3, 2, "p3")],
)
def test_libultrahdr_decodes_our_files(scene, channels, factor, primaries) -> None:
    sdr8, lin, hdr = scene
    code, meta = compute_gain_map(lin, hdr, channels=channels)
    code = downsample(code, factor)
    icc = make_icc_profile(primaries) if primaries != "srgb" else None
    data = gj.write_ultrahdr(None, sdr8, icc, code, meta)
    gm = gj.read_gainmap_jpeg(data)
    assert gm.colour_space == primaries
    ours = gj.gainmap_jpeg_to_hdr_pq(gm)
    theirs = to_pq(_imagecodecs_linear(data), primaries)
    value = psnr(ours, theirs)
    print(f"libultrahdr vs ours, {channels}ch 1/{factor} {primaries}: {value:.1f} dB")
    assert value >= 40


def test_libvips_decodes_our_files(scene) -> None:
    try:
        import pyvips
    except Exception as exc:  # noqa: BLE001 - ImportError, or OSError without libvips
        pytest.skip(f"pyvips unavailable: {exc}")
    sdr8, lin, hdr = scene
    code, meta = compute_gain_map(lin, hdr, channels=1)  # libvips reads RGB maps via sRGB
    data = gj.write_ultrahdr(None, sdr8, None, downsample(code, 2), meta)
    try:
        im = pyvips.Image.uhdrload_buffer(data).uhdr2scRGB()
        arr = np.ndarray(
            buffer=im.write_to_memory(), dtype=np.float32, shape=(im.height, im.width, im.bands)
        )
    except (pyvips.Error, AttributeError) as exc:  # no uhdr support in this libvips
        pytest.skip(f"libvips cannot load Ultra HDR: {exc}")
    ours = gj.gainmap_jpeg_to_hdr_pq(gj.read_gainmap_jpeg(data))
    value = psnr(ours, to_pq(arr[..., :3], "srgb"))
    print(f"libvips vs ours: {value:.1f} dB")
    assert value >= 40


# ----------------------------------------------------------------- hand-built files


def _jpeg(arr: np.ndarray, quality: int = 95) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "JPEG", quality=quality, subsampling=0)
    return buf.getvalue()


def assemble(
    primary: bytes,
    primary_segs: list[bytes],
    gain: bytes,
    gain_segs: list[bytes],
    mpf: bool = True,
    big_endian: bool = True,
    gap: bytes = b"",
) -> bytes:
    """Concatenate a primary and a gain-map JPEG with the given extra segments + MPF."""
    gain = insert_segments(gain, gain_segs)
    pos = insertion_point(primary)
    head = primary[:pos] + b"".join(primary_segs)
    tail = primary[pos:]
    if not mpf:
        return head + tail + gap + gain
    mpf_len = len(build_segment(APP2, b"\x00" * mpf_payload_size(2)))
    primary_len = len(head) + mpf_len + len(tail)
    origin = len(head) + 8
    entries = [
        MpEntry(MP_ATTR_BASELINE_PRIMARY, primary_len, 0),
        MpEntry(0, len(gain), primary_len + len(gap) - origin),
    ]
    seg = build_segment(APP2, build_mpf_payload(entries, big_endian))
    return head + seg + tail + gap + gain


def xmp_seg(xml: str) -> bytes:
    return build_segment(APP1, xmp.xmp_segment_payload(xml))


def iso_seg(meta: GainMapMetadata | None) -> bytes:
    return build_segment(APP2, iso21496_segment_payload(meta))


ADOBE_PRIMARY_XMP = """<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="Adobe XMP Core 7.0">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="" xmlns:hdrgm="http://ns.adobe.com/hdr-gain-map/1.0/"
    hdrgm:Version="1.0"/>
 </rdf:RDF>
</x:xmpmeta>"""

ADOBE_GAIN_XMP = """<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="Adobe XMP Core 7.0">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:hdrgm="http://ns.adobe.com/hdr-gain-map/1.0/"
    hdrgm:Version="1.0"
    hdrgm:BaseRenditionIsHDR="False"
    hdrgm:HDRCapacityMin="0"
    hdrgm:HDRCapacityMax="{capmax}">
   <hdrgm:GainMapMin><rdf:Seq>{gmin}</rdf:Seq></hdrgm:GainMapMin>
   <hdrgm:GainMapMax>
    <rdf:Seq>{gmax}</rdf:Seq>
   </hdrgm:GainMapMax>
   <hdrgm:Gamma><rdf:Seq>{gamma}</rdf:Seq></hdrgm:Gamma>
   <hdrgm:OffsetSDR><rdf:Seq>{osdr}</rdf:Seq></hdrgm:OffsetSDR>
   <hdrgm:OffsetHDR><rdf:Seq>{ohdr}</rdf:Seq></hdrgm:OffsetHDR>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>"""


def adobe_xmp(meta: GainMapMetadata) -> str:
    def seq(vals) -> str:
        return "".join(f"<rdf:li>{v!r}</rdf:li>" for v in vals)

    return ADOBE_GAIN_XMP.format(
        capmax=meta.hdr_capacity_max,
        gmin=seq(meta.gain_map_min),
        gmax=seq(meta.gain_map_max),
        gamma=seq(meta.gamma),
        osdr=seq(meta.offset_sdr),
        ohdr=seq(meta.offset_hdr),
    )


def test_adobe_camera_raw_style_file(scene) -> None:
    sdr8, lin, hdr = scene
    code, meta = compute_gain_map(lin, hdr, channels=3, gamma=0.8)
    code = downsample(code, 3)  # odd ratio: 64x96 -> 21x32
    data = assemble(
        _jpeg(sdr8),
        [xmp_seg(ADOBE_PRIMARY_XMP)],
        _jpeg(code),
        [xmp_seg(adobe_xmp(meta))],
        big_endian=False,
    )
    assert gj.is_gainmap_jpeg(data)
    gm = gj.read_gainmap_jpeg(data)
    assert gm.flavour == "adobe" and gm.metadata_source == "xmp"
    assert gm.metadata.close_to(meta, rel=1e-9, abs_=1e-12)
    assert gm.gain_map.shape == code.shape
    ref = apply_gain_map(lin, code / 255.0, meta)
    assert psnr(gj.gainmap_jpeg_to_hdr_pq(gm), to_pq(ref, "srgb")) > 40


def test_single_channel_attribute_xmp_on_grey_map(scene) -> None:
    sdr8, lin, hdr = scene
    code, meta = compute_gain_map(lin, hdr, channels=1)
    data = assemble(
        _jpeg(sdr8), [xmp_seg(xmp.primary_xmp(0))], _jpeg(code), [xmp_seg(xmp.gain_map_xmp(meta))]
    )
    gm = gj.read_gainmap_jpeg(data)
    assert gm.gain_map.ndim == 2 and gm.metadata.close_to(meta)


def test_iso_preferred_over_conflicting_xmp(scene) -> None:
    sdr8, lin, hdr = scene
    code, meta = compute_gain_map(lin, hdr, channels=1)
    other = GainMapMetadata(gain_map_min=0.0, gain_map_max=0.5, hdr_capacity_max=0.5)
    data = assemble(
        _jpeg(sdr8),
        [xmp_seg(xmp.primary_xmp(0)), iso_seg(None)],
        _jpeg(code),
        [xmp_seg(xmp.gain_map_xmp(other)), iso_seg(meta)],
    )
    with pytest.warns(GainMLPWarning, match="disagree"):
        gm = gj.read_gainmap_jpeg(data)
    assert gm.metadata_source == "iso21496" and gm.metadata.close_to(meta)


def test_bad_iso_falls_back_to_xmp(scene) -> None:
    sdr8, lin, hdr = scene
    code, meta = compute_gain_map(lin, hdr, channels=1)
    broken = build_segment(APP2, ISO_21496_ID + b"\x00\x00\x00\x00\x00\x00")
    data = assemble(_jpeg(sdr8), [], _jpeg(code), [xmp_seg(xmp.gain_map_xmp(meta)), broken])
    with pytest.warns(GainMLPWarning, match="ISO"):
        gm = gj.read_gainmap_jpeg(data)
    assert gm.metadata_source == "xmp" and gm.metadata.close_to(meta)


# ----------------------------------------------------------------- hostile files


@pytest.fixture(scope="module")
def parts(scene):
    sdr8, lin, hdr = scene
    code, meta = compute_gain_map(lin, hdr, channels=1)
    return _jpeg(sdr8), _jpeg(code), meta


def test_bad_mpf_offset_falls_back_to_scan(parts) -> None:
    primary, gain, meta = parts
    good = assemble(primary, [], gain, [iso_seg(meta)])
    # corrupt the secondary offset in the MPF entry (big-endian, last entry's offset)
    seg = find_app(parse_segments(good), APP2, MPF_ID)
    off = seg.payload_offset + len(seg.payload) - 8
    bad = good[:off] + b"\x7f\xff\xff\xff" + good[off + 4 :]
    with pytest.warns(GainMLPWarning, match="MPF"):
        gm = gj.read_gainmap_jpeg(bad)
    assert gm.metadata.close_to(meta)
    # padding between the images is tolerated by the scan as well
    padded = assemble(primary, [], gain, [iso_seg(meta)], mpf=False, gap=b"\x00" * 33)
    assert gj.read_gainmap_jpeg(padded).metadata.close_to(meta)


def test_truncated_secondary(parts) -> None:
    primary, gain, meta = parts
    data = assemble(primary, [], gain, [iso_seg(meta)])
    for cut in (len(data) - 10, len(primary) + 40, len(primary) + 2):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(GainMLPError):
                gj.read_gainmap_jpeg(data[:cut])


@pytest.mark.parametrize(
    "xml",
    [
        xmp.gain_map_xmp(GainMapMetadata()).replace('GainMapMax="1.0"', 'GainMapMax="nan"'),
        xmp.gain_map_xmp(GainMapMetadata()).replace('GainMapMax="1.0"', 'GainMapMax="1e300"'),
        xmp.gain_map_xmp(GainMapMetadata()).replace('GainMapMax="1.0"', 'GainMapMax="abc"'),
        xmp.gain_map_xmp(GainMapMetadata()).replace('Gamma="1.0"', 'Gamma="-1"'),
        xmp.gain_map_xmp(GainMapMetadata()).replace('hdrgm:GainMapMax="1.0"', ""),
        adobe_xmp(GainMapMetadata()).replace("<rdf:li>1.0</rdf:li>", "", 1),
    ],
)
def test_absurd_xmp_values(parts, xml: str) -> None:
    primary, gain, _ = parts
    data = assemble(primary, [], gain, [xmp_seg(xml)])
    with pytest.raises(GainMLPError):
        gj.read_gainmap_jpeg(data)


def _set_sof_size(jpeg: bytes, width: int, height: int) -> bytes:
    for seg in parse_segments(jpeg):
        if seg.marker in (0xC0, 0xC1, 0xC2):
            p = seg.payload_offset + 1
            return jpeg[:p] + struct.pack(">HH", height, width) + jpeg[p + 4 :]
    raise AssertionError("no SOF")


@pytest.mark.parametrize("size", [(65_535, 65_535), (20_000, 20_000), (9000, 9000)])
def test_gigantic_declared_sizes(parts, size) -> None:
    primary, gain, meta = parts
    for p, g in ((_set_sof_size(primary, *size), gain), (primary, _set_sof_size(gain, *size))):
        with pytest.raises(GainMLPError):
            gj.read_gainmap_jpeg(assemble(p, [], g, [iso_seg(meta)]))


def test_no_metadata_or_no_secondary(parts) -> None:
    primary, gain, _ = parts
    with pytest.raises(GainMLPError, match="metadata"):
        gj.read_gainmap_jpeg(assemble(primary, [], gain, []))
    with pytest.raises(GainMLPError, match="secondary"):
        gj.read_gainmap_jpeg(insert_segments(primary, [xmp_seg(ADOBE_PRIMARY_XMP)]))


_FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _small_file() -> bytes:
    rng = np.random.default_rng(1)
    sdr = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    gm = rng.integers(0, 256, (8, 8), dtype=np.uint8)
    meta = GainMapMetadata(gain_map_min=-0.5, gain_map_max=2.0, hdr_capacity_max=2.0)
    return gj.write_ultrahdr(None, sdr, None, gm, meta, extra_payload=b"xyz", quality=50)


_SMALL = _small_file()


@_FUZZ
@given(
    st.lists(
        st.tuples(st.integers(0, len(_SMALL) - 1), st.integers(0, 255)), min_size=1, max_size=6
    ),
    st.one_of(st.none(), st.integers(2, len(_SMALL))),
)
def test_mutated_files_only_raise_gainmlp_error(edits, cut) -> None:
    buf = bytearray(_SMALL)
    for pos, value in edits:
        buf[pos] = value
    data = bytes(buf if cut is None else buf[:cut])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gj.is_gainmap_jpeg(data)
        try:
            gm = gj.read_gainmap_jpeg(data)
        except GainMLPError:
            return
        pq = gj.gainmap_jpeg_to_hdr_pq(gm)
    assert np.all(np.isfinite(pq))


@_FUZZ
@given(st.binary(max_size=300))
def test_random_bytes_only_raise_gainmlp_error(data: bytes) -> None:
    for blob in (data, b"\xff\xd8" + data, _SMALL[:200] + data):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                gj.read_gainmap_jpeg(blob)
            except GainMLPError:
                pass
        gj.is_gainmap_jpeg(blob)


# ----------------------------------------------------------------- ranges, errors, real files


def test_large_offsets_as_camera_raw_writes_them(scene) -> None:
    sdr8, lin, hdr = scene
    code, meta = compute_gain_map(lin, hdr, channels=3, offset_sdr=10.308957,
                                  offset_hdr=6.695587)
    for data in (
        assemble(_jpeg(sdr8), [xmp_seg(ADOBE_PRIMARY_XMP)], _jpeg(code),
                 [xmp_seg(adobe_xmp(meta))]),
        gj.write_ultrahdr(None, sdr8, None, code, meta, gain_map_quality=100),
    ):
        gm = gj.read_gainmap_jpeg(data)
        assert gm.metadata.offset_sdr[0] == pytest.approx(10.308957)
        assert gm.metadata.offset_hdr[0] == pytest.approx(6.695587)
        ref = apply_gain_map(lin, code / 255.0, meta)
        assert psnr(gj.gainmap_jpeg_to_hdr_pq(gm), to_pq(ref, "srgb")) > 40


def test_negative_xmp_offset_is_named(parts) -> None:
    primary, gain, _ = parts
    xml = adobe_xmp(GainMapMetadata()).replace("<rdf:li>0.015625</rdf:li>",
                                               "<rdf:li>-0.5</rdf:li>", 1)
    with pytest.raises(GainMLPError, match="OffsetSDR -0.5 is negative"):
        gj.read_gainmap_jpeg(assemble(primary, [], gain, [xmp_seg(xml)]))


def test_invalid_xmp_is_named(parts) -> None:
    primary, gain, _ = parts
    xml = xmp.gain_map_xmp(GainMapMetadata(gain_map_min=1.0, gain_map_max=1.0)).replace(
        'GainMapMin="1.0"', 'GainMapMin="2.0"')
    with pytest.raises(GainMLPError, match="hdrgm XMP gain-map metadata is invalid: gain-map "
                       "max 1.0 is below min 2.0"):
        gj.read_gainmap_jpeg(assemble(primary, [], gain, [xmp_seg(xml)]))


def test_invalid_iso_record_is_named(parts) -> None:
    """An ISO-only file whose record has max below min: the error says so."""
    from gainmlp import photo
    from gainmlp.container.iso21496 import encode_iso21496

    primary, gain, _ = parts
    record = bytearray(encode_iso21496(GainMapMetadata(gain_map_min=0.0, gain_map_max=1.0)))
    struct.pack_into(">iI", record, 21, 2, 1)  # single channel: gain_map_min = 2/1 > max
    data = assemble(primary, [iso_seg(None)], gain,
                    [build_segment(APP2, ISO_21496_ID + bytes(record))])
    message = "ISO 21496-1 gain-map metadata is invalid: gain-map max 1.0 is below min 2.0"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(GainMLPError, match=message):
            gj.read_gainmap_jpeg(data)
        with pytest.raises(GainMLPError, match=message):
            photo.decode_file(data, "iso.jpg")


def test_unknown_icc_warning_says_srgb(scene) -> None:
    from PIL import ImageCms

    sdr8, lin, hdr = scene
    code, meta = compute_gain_map(lin, hdr, channels=1)
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("XYZ")).tobytes()
    data = gj.write_ultrahdr(None, sdr8, icc, code, meta)
    with pytest.warns(GainMLPWarning, match="reading the base as sRGB") as record:
        gm = gj.read_gainmap_jpeg(data)
    assert not any("2.4" in str(w.message) for w in record)
    assert gm.colour_space == "srgb"


SHARED_GAINMAPS = sorted(Path("/work/shared/data/gainmap").glob("*.jpg"))


@pytest.mark.skipif(not SHARED_GAINMAPS, reason="shared gain-map folder absent")
@pytest.mark.parametrize("path", SHARED_GAINMAPS, ids=lambda p: p.name)
def test_every_shared_gain_map_jpeg_decodes(path) -> None:
    data = path.read_bytes()
    assert gj.is_gainmap_jpeg(data)
    gm = gj.read_gainmap_jpeg(data)
    assert (gm.flavour == "apple") == path.name.startswith("apple")
    linear = gj.gainmap_jpeg_to_linear_bt2020(gm)
    assert linear.shape == (*gm.sdr.shape[:2], 3) and np.all(np.isfinite(linear))
    assert linear.max() > 1.5 * gj.SDR_WHITE_NITS  # the map really brightens highlights
    pq = gj.gainmap_jpeg_to_hdr_pq(gm)  # the PQ outputs: the same light, clipped by PQ only
    assert np.allclose(pq[::5, ::5], linear_to_pq_bt2020(linear[::5, ::5]), atol=1e-4)
