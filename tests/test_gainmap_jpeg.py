"""Gain-map maths and gain-map JPEG files (Ultra HDR, Adobe, ISO 21496-1)."""

from __future__ import annotations

import io
import struct
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from gainmlp.colorimetry import linear_to_pq_bt2020, sdr_eotf
from gainmlp.container import gainmap_jpeg as gj
from gainmlp.container import jpeg_segments as js
from gainmlp.errors import GainMLPError, GainMLPWarning
from gainmlp.iso_gainmap import (
    GainMapMetadata,
    apply_gain_map,
    compute_gain_map,
    upsample_bilinear,
    weight_for_headroom,
)

H, W = 64, 96


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(1.0 / mse)


@pytest.fixture(scope="module")
def scene() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(sdr uint8, sdr linear, hdr linear): smooth gradients and a bright highlight."""
    y, x = np.mgrid[0:H, 0:W] / np.array([H, W])[:, None, None]
    sdr = np.stack([x, y, 0.3 + 0.4 * x * y], -1)
    sdr8 = np.round(sdr * 255).astype(np.uint8)
    lin = sdr_eotf(sdr8 / 255.0, "srgb")
    boost = 1 + 5 * np.exp(-((x - 0.6) ** 2 + (y - 0.4) ** 2) / 0.03)
    hdr = lin * np.stack([boost, boost**0.9, boost**0.8], -1)
    return sdr8, lin, hdr


def downsample(code: np.ndarray, factor: int) -> np.ndarray:
    h, w = code.shape[:2]
    im = Image.fromarray(code)
    return np.asarray(im.resize((w // factor, h // factor), Image.BILINEAR))


def to_pq(linear: np.ndarray, primaries: str) -> np.ndarray:
    return linear_to_pq_bt2020(np.asarray(linear, np.float64) * gj.SDR_WHITE_NITS, primaries)


# ----------------------------------------------------------------- maths


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("gamma", [1.0, 0.5])
def test_compute_then_apply_recovers_hdr(scene, channels: int, gamma: float) -> None:
    _, lin, hdr = scene
    code, meta = compute_gain_map(lin, hdr, channels=channels, gamma=gamma)
    assert code.dtype == np.uint8 and code.shape == ((H, W) if channels == 1 else (H, W, 3))
    out = apply_gain_map(lin, code / 255.0, meta)
    target = hdr if channels == 3 else out  # a luminance map cannot match per channel
    assert psnr(to_pq(out, "srgb"), to_pq(target, "srgb")) > 45
    if channels == 3:
        assert meta.gain_map_max[0] > meta.gain_map_max[2]
    # weight 0 gives the base back (up to the offsets, which cancel when equal)
    assert np.allclose(apply_gain_map(lin, code / 255.0, meta, weight=0.0), lin, atol=1e-6)


def test_upsample_bilinear() -> None:
    img = np.arange(12, dtype=np.float32).reshape(3, 4)
    assert np.array_equal(upsample_bilinear(img, 3, 4), img)
    up = upsample_bilinear(np.full((2, 3, 3), 0.25, np.float32), 7, 11)
    assert up.shape == (7, 11, 3) and np.allclose(up, 0.25)
    ramp = upsample_bilinear(np.array([[0.0, 1.0]], np.float32), 1, 4)
    assert np.allclose(ramp, [[0.0, 0.25, 0.75, 1.0]])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"gain_map_max": float("nan")},
        {"gain_map_min": (0, 0, float("inf"))},
        {"gain_map_min": 2.0, "gain_map_max": 1.0},
        {"gamma": 0.0},
        {"gain_map_max": 1e300},
        {"offset_sdr": 5.0},
        {"hdr_capacity_min": 3.0, "hdr_capacity_max": 1.0},
        {"gain_map_max": (1, 2)},
        {"gamma": "x"},
    ],
)
def test_metadata_validation(kwargs) -> None:
    with pytest.raises(GainMLPError):
        GainMapMetadata(**kwargs)


def test_weight_for_headroom() -> None:
    meta = GainMapMetadata(hdr_capacity_min=0.0, hdr_capacity_max=2.0)
    assert weight_for_headroom(meta, 0.0) == 0.0
    assert weight_for_headroom(meta, 1.0) == 0.5
    assert weight_for_headroom(meta, 5.0) == 1.0
    inv = GainMapMetadata(hdr_capacity_min=0.0, hdr_capacity_max=2.0, base_is_hdr=True)
    assert weight_for_headroom(inv, 2.0) == 0.0


# ----------------------------------------------------------------- ISO 21496-1


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
    record = gj.encode_iso21496(meta)
    assert record[4] & 0x80 == (0 if meta.is_single_channel else 0x80)
    back = gj.decode_iso21496(record)
    assert back is not None and back.close_to(meta, rel=1e-6, abs_=1e-7)
    assert back.use_base_colour_space == meta.use_base_colour_space


def test_iso_common_denominator_form() -> None:
    # libultrahdr's compact form: flags bit 3, one denominator for every field
    rec = struct.pack(">HHBI", 0, 0, 0x08 | 0x40, 1000) + struct.pack(">II", 0, 2500)
    rec += struct.pack(">iiIii", -500, 2500, 1000, 15, 16)
    meta = gj.decode_iso21496(rec)
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
        gj.decode_iso21496(record)


def test_iso_version_only() -> None:
    assert gj.decode_iso21496(b"\x00\x00\x00\x00") is None


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
    segs = js.parse_segments(data)
    assert js.find_app(segs, js.APP2, js.ISO_21496_ID).payload.endswith(b"\x00" * 4)
    assert [r[0] for r in js.mpf_image_ranges(data)] == [0, js.find_image_end(data)]
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


@pytest.mark.parametrize("primaries", ["srgb", "p3"])
def test_icc_detection(primaries: str) -> None:
    icc = gj.make_icc_profile(primaries)
    assert gj.detect_icc_primaries(icc) == primaries
    assert gj.detect_icc_primaries(b"garbage") == "srgb"
    assert gj.detect_icc_primaries(None) == "srgb"


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
    icc = gj.make_icc_profile(primaries) if primaries != "srgb" else None
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
    gain = js.insert_segments(gain, gain_segs)
    pos = js.insertion_point(primary)
    head = primary[:pos] + b"".join(primary_segs)
    tail = primary[pos:]
    if not mpf:
        return head + tail + gap + gain
    mpf_len = len(js.build_segment(js.APP2, b"\x00" * js.mpf_payload_size(2)))
    primary_len = len(head) + mpf_len + len(tail)
    origin = len(head) + 8
    entries = [
        js.MpEntry(js.MP_ATTR_BASELINE_PRIMARY, primary_len, 0),
        js.MpEntry(0, len(gain), primary_len + len(gap) - origin),
    ]
    seg = js.build_segment(js.APP2, js.build_mpf_payload(entries, big_endian))
    return head + seg + tail + gap + gain


def xmp_seg(xml: str) -> bytes:
    return js.build_segment(js.APP1, js.xmp_segment_payload(xml))


def iso_seg(meta: GainMapMetadata | None) -> bytes:
    body = gj.encode_iso21496(meta) if meta is not None else b"\x00\x00\x00\x00"
    return js.build_segment(js.APP2, js.ISO_21496_ID + body)


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
        _jpeg(sdr8), [xmp_seg(gj.primary_xmp(0))], _jpeg(code), [xmp_seg(gj.gain_map_xmp(meta))]
    )
    gm = gj.read_gainmap_jpeg(data)
    assert gm.gain_map.ndim == 2 and gm.metadata.close_to(meta)


def test_iso_preferred_over_conflicting_xmp(scene) -> None:
    sdr8, lin, hdr = scene
    code, meta = compute_gain_map(lin, hdr, channels=1)
    other = GainMapMetadata(gain_map_min=0.0, gain_map_max=0.5, hdr_capacity_max=0.5)
    data = assemble(
        _jpeg(sdr8),
        [xmp_seg(gj.primary_xmp(0)), iso_seg(None)],
        _jpeg(code),
        [xmp_seg(gj.gain_map_xmp(other)), iso_seg(meta)],
    )
    with pytest.warns(GainMLPWarning, match="disagree"):
        gm = gj.read_gainmap_jpeg(data)
    assert gm.metadata_source == "iso21496" and gm.metadata.close_to(meta)


def test_bad_iso_falls_back_to_xmp(scene) -> None:
    sdr8, lin, hdr = scene
    code, meta = compute_gain_map(lin, hdr, channels=1)
    broken = js.build_segment(js.APP2, js.ISO_21496_ID + b"\x00\x00\x00\x00\x00\x00")
    data = assemble(_jpeg(sdr8), [], _jpeg(code), [xmp_seg(gj.gain_map_xmp(meta)), broken])
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
    seg = js.find_app(js.parse_segments(good), js.APP2, js.MPF_ID)
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
        gj.gain_map_xmp(GainMapMetadata()).replace('GainMapMax="1.0"', 'GainMapMax="nan"'),
        gj.gain_map_xmp(GainMapMetadata()).replace('GainMapMax="1.0"', 'GainMapMax="1e300"'),
        gj.gain_map_xmp(GainMapMetadata()).replace('GainMapMax="1.0"', 'GainMapMax="abc"'),
        gj.gain_map_xmp(GainMapMetadata()).replace('Gamma="1.0"', 'Gamma="-1"'),
        gj.gain_map_xmp(GainMapMetadata()).replace('hdrgm:GainMapMax="1.0"', ""),
        adobe_xmp(GainMapMetadata()).replace("<rdf:li>1.0</rdf:li>", "", 1),
    ],
)
def test_absurd_xmp_values(parts, xml: str) -> None:
    primary, gain, _ = parts
    data = assemble(primary, [], gain, [xmp_seg(xml)])
    with pytest.raises(GainMLPError):
        gj.read_gainmap_jpeg(data)


def test_pathological_xmp_is_linear_time() -> None:
    import time

    head = f'<x xmlns:hdrgm="{gj.HDRGM_NS}" '
    for filler in ("<hdrgm:GainMapMin ", 'hdrgm:GainMapMax="', "<hdrgm:Gamma><rdf:li>"):
        xml = head + filler * (60_000 // len(filler))
        t = time.perf_counter()
        props = gj.parse_hdrgm_xmp(xml)
        assert time.perf_counter() - t < 0.5
        assert isinstance(props, dict)


def _set_sof_size(jpeg: bytes, width: int, height: int) -> bytes:
    for seg in js.parse_segments(jpeg):
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
        gj.read_gainmap_jpeg(js.insert_segments(primary, [xmp_seg(ADOBE_PRIMARY_XMP)]))


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
