"""Seed corpora for the fuzz targets (fuzz/targets.py), written by gainmlp's own writers.

    python fuzz/corpus.py OUT_DIR      # OUT_DIR/<target>/<seed name>, deterministic

Payloads of every body version come from the committed fixtures
(``tests/fixtures/payloads/*.gmlp``, 40x28, see tests/golden.py): bare, inside our
container JPEG (``container.app11.embed_payload``), their bodies alone and the map images
of the conventional ones. Gain-map JPEGs come from ``container.gainmap_jpeg.write_ultrahdr``
and ``container.ultrahdr.ultrahdr_from_pair`` (Ultra HDR), plus Adobe-style (per-channel
``rdf:Seq`` XMP, little-endian MPF), ISO-only and Apple (``HDRGainMap`` XMP, maker-note
headroom) files assembled from the XMP, ISO 21496-1 and MPF writers. Images come from the
``io.sdr``/``io.hdr``/``io.jpeg``/``codecs.map_image`` writers: 8- and 16-bit PNG with and
without cICP/iCCP, TIFF, EXR, Radiance, JPEG, AVIF, HEIC, JPEG XL. ICC profiles from
``container.icc.make_icc_profile``.
"""

from __future__ import annotations

import io
import struct
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))

import targets  # noqa: E402  (fuzz/targets.py, beside this file)

from gainmlp import colorimetry  # noqa: E402
from gainmlp.colorimetry import SdrEncoding  # noqa: E402
from gainmlp.container import apple, xmp  # noqa: E402
from gainmlp.container.app11 import embed_payload  # noqa: E402
from gainmlp.container.gainmap_jpeg import write_ultrahdr  # noqa: E402
from gainmlp.container.icc import make_icc_profile  # noqa: E402
from gainmlp.container.iso21496 import (  # noqa: E402
    ISO_21496_ID,
    encode_iso21496,
    iso21496_segment_payload,
)
from gainmlp.container.mpf import (  # noqa: E402
    MP_ATTR_BASELINE_PRIMARY,
    MP_ATTR_FORMAT_JPEG,
    MPF_ID,
    MpEntry,
    build_mpf_payload,
    mpf_payload_size,
)
from gainmlp.container.payload import HEADER_SIZE, Payload  # noqa: E402
from gainmlp.container.segments import (  # noqa: E402
    APP1,
    APP2,
    EXIF_ID,
    build_segment,
    insert_segments,
    insertion_point,
    parse_segments,
)
from gainmlp.container.ultrahdr import ultrahdr_from_pair  # noqa: E402
from gainmlp.image import SdrImage  # noqa: E402
from gainmlp.io import hdr as hdr_io  # noqa: E402
from gainmlp.io.jpeg import encode_jpeg  # noqa: E402
from gainmlp.io.png import png_with_chunk  # noqa: E402
from gainmlp.io.sdr import encode_sdr_jpeg  # noqa: E402
from gainmlp.iso_gainmap import GainMapMetadata  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "payloads"

Seeds = dict[str, bytes]


def fixture_payloads() -> Seeds:
    """The committed payloads of every body version (name -> bytes)."""
    return {p.stem: p.read_bytes() for p in sorted(FIXTURES.glob("*.gmlp"))}


def _fixture_sdr() -> np.ndarray:
    with Image.open(FIXTURES / "sdr.png") as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8)


def _scene(height: int = 24, width: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """A small (SDR uint8 BT.709, HDR PQ BT.2020) pair with highlights above SDR white."""
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    radiance = np.stack([0.6 + 0.4 * np.sin(6 * x), 0.5 + 0.5 * np.cos(4 * y),
                         0.3 + x * y], -1) * np.exp2(5 * x)[:, :, None] * 40.0
    hdr_pq = colorimetry.linear_to_pq_bt2020(np.minimum(radiance, 1000.0)).astype(np.float32)
    sdr_linear = np.clip(radiance / (radiance + 100.0), 0, 1)
    sdr = np.round(colorimetry.sdr_inverse_eotf(sdr_linear) * 255).astype(np.uint8)
    return sdr, hdr_pq


def _metadata() -> dict[str, GainMapMetadata]:
    return {
        "single": GainMapMetadata(gain_map_min=-0.5, gain_map_max=2.0, hdr_capacity_max=2.0),
        "multi": GainMapMetadata(gain_map_min=(0, 0.1, 0.2), gain_map_max=(2, 2.5, 3),
                                 gamma=(1, 0.9, 1.1), hdr_capacity_max=3.0),
        "offsets": GainMapMetadata(gain_map_max=4.0, offset_sdr=0.0, offset_hdr=0.5,
                                   hdr_capacity_min=0.5, hdr_capacity_max=4.0,
                                   use_base_colour_space=False),
        "hdr-base": GainMapMetadata(gain_map_min=-3.0, gain_map_max=0.0, hdr_capacity_max=3.0,
                                    base_is_hdr=True),
    }


def _packet(attributes: str) -> str:
    """An XMP packet with one rdf:Description carrying ``attributes``."""
    return ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
            'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
            f'<rdf:Description rdf:about="" {attributes}/></rdf:RDF></x:xmpmeta>')


def _adobe_xmp(meta: GainMapMetadata) -> str:
    """hdrgm XMP as elements with per-channel rdf:Seq lists (Adobe Camera Raw style)."""
    return xmp.gain_map_xmp(meta, per_channel_seq=True)


def _assemble(primary: bytes, primary_segs: list[bytes], gain: bytes, gain_segs: list[bytes],
              big_endian: bool = True) -> bytes:
    """A primary and a gain-map JPEG with the given extra segments and an MPF index."""
    gain = insert_segments(gain, gain_segs)
    pos = insertion_point(primary)
    head, tail = primary[:pos] + b"".join(primary_segs), primary[pos:]
    mpf_len = len(build_segment(APP2, b"\x00" * mpf_payload_size(2)))
    primary_len = len(head) + mpf_len + len(tail)
    entries = [MpEntry(MP_ATTR_BASELINE_PRIMARY, primary_len, 0),
               MpEntry(MP_ATTR_FORMAT_JPEG, len(gain), primary_len - (len(head) + 8))]
    return head + build_segment(APP2, build_mpf_payload(entries, big_endian)) + tail + gain


def gainmap_files() -> Seeds:
    """Ultra HDR, Adobe-style and ISO-only gain-map JPEGs, small."""
    sdr, hdr_pq = _scene()
    meta = _metadata()
    grey = np.arange(6 * 8, dtype=np.uint8).reshape(6, 8) * 5
    rgb = np.stack([grey, grey[::-1], grey[:, ::-1]], axis=-1)
    payload = fixture_payloads()["v1-gain-fp16-relu"]
    out = {
        "ultrahdr-grey": write_ultrahdr(None, sdr, None, grey, meta["single"], quality=70),
        "ultrahdr-rgb-p3": write_ultrahdr(None, sdr, make_icc_profile("p3"), rgb, meta["multi"],
                                          quality=70),
        "ultrahdr-offsets-bt2020": write_ultrahdr(None, sdr, make_icc_profile("bt2020"), grey,
                                                  meta["offsets"], quality=70),
        "ultrahdr-payload": write_ultrahdr(None, _fixture_sdr(), None, grey, meta["single"],
                                           extra_payload=payload, quality=70),
    }
    pair_sdr = SdrImage(sdr, SdrEncoding())
    out["ultrahdr-from-pair"] = ultrahdr_from_pair(pair_sdr, hdr_pq, scale=4, map_quality=70,
                                                   jpeg_quality=70)[0]
    # Adobe style: primary has hdrgm:Version only, map XMP per channel, little-endian MPF
    primary = encode_jpeg(sdr, 70)
    adobe_primary = _packet(f'xmlns:hdrgm="{xmp.HDRGM_NS}" hdrgm:Version="1.0"')
    for name in ("multi", "single"):
        out[f"adobe-{name}"] = _assemble(
            primary, [build_segment(APP1, xmp.xmp_segment_payload(adobe_primary))],
            encode_jpeg(rgb, 70), [build_segment(APP1, xmp.xmp_segment_payload(
                _adobe_xmp(meta[name])))], big_endian=False)
    # ISO 21496-1 only: version record on the primary, full record on the map
    for name in ("multi", "hdr-base"):
        out[f"iso-{name}"] = _assemble(
            primary, [build_segment(APP2, iso21496_segment_payload(None))],
            encode_jpeg(grey, 70), [build_segment(APP2, iso21496_segment_payload(meta[name]))])
    # progressive base with the map appended but no MPF (the reader's fallback scan)
    buf = io.BytesIO()
    Image.fromarray(sdr).save(buf, "JPEG", quality=60, progressive=True)
    map_jpeg = insert_segments(encode_jpeg(grey, 70), [build_segment(
        APP1, xmp.xmp_segment_payload(xmp.gain_map_xmp(meta["single"])))])
    out["no-mpf-progressive"] = insert_segments(buf.getvalue(), [build_segment(
        APP1, xmp.xmp_segment_payload(xmp.primary_xmp(len(map_jpeg))))]) + map_jpeg
    return out


def _apple_xmp(body: str) -> str:
    return _packet('xmlns:apdi="http://ns.apple.com/pixeldatainfo/1.0/" '
                   'xmlns:HDRGainMap="http://ns.apple.com/HDRGainMap/1.0/"').replace(
        "/></rdf:RDF>", f">{body}</rdf:Description></rdf:RDF>")


def _maker_note(values: dict[int, tuple[int, object]], order: str) -> bytes:
    """An Apple maker note: tag -> (10 SRATIONAL (num, den) | 11 FLOAT, value)."""
    head = apple.MAKER_NOTE_ID + b"\x00\x01" + (b"MM" if order == ">" else b"II")
    start = len(head) + 2 + 12 * len(values) + 4
    entries, blob = b"", b""
    for tag, (typ, value) in sorted(values.items()):
        if typ == 10:
            entries += struct.pack(order + "HHII", tag, typ, 1, start + len(blob))
            blob += struct.pack(order + "ii", *value)
        else:
            entries += struct.pack(order + "HHI", tag, typ, 1) + struct.pack(order + "f", value)
    return head + struct.pack(order + "H", len(values)) + entries + b"\x00" * 4 + blob


def _exif(note: bytes) -> bytes:
    """EXIF APP1 payload: IFD0 -> Exif IFD -> MakerNote."""
    exif_ifd = 8 + 2 + 12 + 4
    note_at = exif_ifd + 2 + 12 + 4
    tiff = b"MM\x00\x2a" + struct.pack(">I", 8)
    tiff += struct.pack(">HHHII", 1, 0x8769, 4, 1, exif_ifd) + b"\x00" * 4
    tiff += struct.pack(">HHHII", 1, 0x927C, 7, len(note), note_at) + b"\x00" * 4
    return EXIF_ID + tiff + note


def apple_files() -> Seeds:
    """iPhone-style gain-map JPEGs: headroom in the map's XMP (new) or the maker note (old)."""
    sdr, _ = _scene()
    grey = np.arange(12 * 16, dtype=np.uint8).reshape(12, 16)
    aux = f"<apdi:AuxiliaryImageType>{apple.APPLE_AUX_TYPE}</apdi:AuxiliaryImageType>"
    new = aux + ("<HDRGainMap:HDRGainMapVersion>131072</HDRGainMap:HDRGainMapVersion>"
                 "<HDRGainMap:HDRGainMapHeadroom>4.5</HDRGainMap:HDRGainMapHeadroom>")
    old = aux + "<HDRGainMap:HDRGainMapVersion>65536</HDRGainMap:HDRGainMapVersion>"
    notes = {"old-be": _maker_note({33: (10, (1, 1)), 48: (10, (5, 1000))}, ">"),
             "old-le": _maker_note({33: (11, 0.5), 48: (11, 0.2)}, "<")}
    out = {"apple-new": _assemble(encode_jpeg(sdr, 70), [], encode_jpeg(grey, 70), [
        build_segment(APP1, xmp.xmp_segment_payload(_apple_xmp(new)))])}
    for name, note in notes.items():
        out[f"apple-{name}"] = _assemble(
            encode_jpeg(sdr, 70), [build_segment(APP1, _exif(note))], encode_jpeg(grey, 70),
            [build_segment(APP1, xmp.xmp_segment_payload(_apple_xmp(old)))])
    return out


def container_jpegs() -> Seeds:
    """Our container: the fixture SDR as a JPEG with each fixture payload in APP11."""
    base = encode_sdr_jpeg(_fixture_sdr(), 90)
    out = {f"gainmlp-{name}": embed_payload(base, data)
           for name, data in fixture_payloads().items()}
    out["gainmlp-split-70000"] = embed_payload(base, fixture_payloads()["itm-fp32"] + bytes(
        37_000))  # payload over one segment (not a valid payload: trailing bytes)
    out["plain-jpeg"] = base
    return out


def _bodies(family: tuple[str, ...]) -> Seeds:
    out = {}
    for name, data in fixture_payloads().items():
        payload = Payload.from_bytes(data)
        if payload.method in family:
            out[name] = targets.selector(payload.method, family) + payload.body
    return out


def map_images() -> Seeds:
    """Map images from the conventional fixtures, freshly written ones, and HDR AVIFs."""
    from gainmlp.codecs import map_image

    out = {}
    for name, data in fixture_payloads().items():
        payload = Payload.from_bytes(data)
        if payload.method in targets.CONVENTIONAL_METHODS:
            fmt = map_image.FORMAT_NAME[payload.body[1]]
            out[name] = targets.selector(fmt, targets.MAP_FORMATS) + payload.body[32:]
    rgb = targets.sdr_pixels(6, 8)
    for fmt in targets.MAP_FORMATS:
        out[f"fresh-{fmt}"] = targets.selector(fmt, targets.MAP_FORMATS) + map_image.compress(
            rgb, fmt, 70)
    _, hdr_pq = _scene(6, 8)
    avif = targets.selector("avif", targets.MAP_FORMATS)
    out["hdr-avif-10"] = avif + hdr_io.encode_hdr_avif(hdr_pq, 10)
    out["hdr-avif-12"] = avif + hdr_io.encode_hdr_avif(hdr_pq, 12)
    return out


def _png(arr: np.ndarray, icc: bytes | None = None) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG", icc_profile=icc)
    return buf.getvalue()


def sdr_images() -> Seeds:
    sdr = targets.sdr_pixels(12, 16)
    out = {
        "png8": _png(sdr),
        "png8-grey": _png(sdr[:, :, 0]),
        "tiff8": _tiff(sdr),
        "jpeg": encode_sdr_jpeg(sdr, 80),
        "jpeg-444-p3": encode_sdr_jpeg(sdr, 95, make_icc_profile("p3")),
        "png16": hdr_io.encode_hdr_png(sdr.astype(np.float32) / 255),
    }
    for primaries in ("srgb", "p3", "bt2020", "bt709"):
        out[f"png8-icc-{primaries}"] = _png(sdr, make_icc_profile(primaries))
    buf = io.BytesIO()
    Image.fromarray(sdr).save(buf, "JPEG", quality=60, progressive=True)
    out["jpeg-progressive"] = buf.getvalue()
    return out


def _tiff(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "TIFF")
    return buf.getvalue()


def hdr_pngs() -> Seeds:
    import imagecodecs

    _, pq = _scene(6, 8)
    u16 = np.round(pq * 65535).astype(np.uint16)
    raw = bytes(imagecodecs.png_encode(u16))
    out = {"cicp-9": hdr_io.encode_hdr_png(pq), "no-cicp": raw,
           "grey16": bytes(imagecodecs.png_encode(np.ascontiguousarray(u16[:, :, 0]))),
           "rgba16": bytes(imagecodecs.png_encode(np.concatenate([u16, u16[:, :, :1]], 2))),
           "png8": _png(targets.sdr_pixels(6, 8))}
    for prim in (1, 12):
        out[f"cicp-{prim}"] = png_with_chunk(raw, b"cICP", bytes([prim, 16, 0, 1]))
    return out


def hdr_tiffs() -> Seeds:
    import imagecodecs

    _, pq = _scene(6, 8)
    u16 = np.round(pq * 65535).astype(np.uint16)
    return {"pq16": hdr_io.encode_hdr_tiff(pq), "grey16": bytes(imagecodecs.tiff_encode(
        np.ascontiguousarray(u16[:, :, 0]))), "tiff8": _tiff(targets.sdr_pixels(6, 8))}


def exr_files() -> Seeds:
    import tempfile

    import OpenEXR

    _, pq = _scene(6, 8)
    linear = (colorimetry.pq_decode(pq) / 100.0).astype(np.float32)
    out = {"half-bt2020": hdr_io.encode_hdr_exr(pq)}
    header = {"compression": OpenEXR.NO_COMPRESSION, "type": OpenEXR.scanlineimage}
    y = linear.mean(axis=2)
    layouts = {
        "rgba-float-nochroma": {"RGBA": np.concatenate([linear, np.ones_like(linear[:, :, :1])],
                                                       axis=2)},
        "y-only": {"Y": y},
        "y-ry-by": {"Y": y, "RY": linear[:, :, 0] / np.maximum(y, 1e-6) - 1,
                    "BY": linear[:, :, 2] / np.maximum(y, 1e-6) - 1},
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name, channels in layouts.items():
            path = Path(tmp) / f"{name}.exr"
            OpenEXR.File(header, {k: OpenEXR.Channel(np.ascontiguousarray(v))
                                  for k, v in channels.items()}).write(str(path))
            out[name] = path.read_bytes()
    return out


def radiance_files() -> Seeds:
    import imagecodecs

    _, pq = _scene(6, 8)
    linear = (colorimetry.pq_decode(pq) / 100.0).astype(np.float32)
    wide = np.tile(linear, (1, 3, 1))  # 24 wide: rows long enough for RLE
    return {"small": bytes(imagecodecs.rgbe_encode(linear)),
            "rle": bytes(imagecodecs.rgbe_encode(wide, rle=True)),
            "flat": bytes(imagecodecs.rgbe_encode(wide, rle=False))}


def xmp_seeds() -> Seeds:
    meta = _metadata()
    out = {"primary": xmp.primary_xmp(1234).encode()}
    for name, m in meta.items():
        out[f"gain-map-{name}"] = xmp.gain_map_xmp(m).encode()
        out[f"seq-{name}"] = _adobe_xmp(m).encode()
    # a JPEG with a standard packet pointing at an extended one
    guid, segs = xmp.extended_xmp_segments(xmp.gain_map_xmp(meta["multi"]))
    main = _packet(f'xmlns:xmpNote="http://ns.adobe.com/xmp/note/" '
                   f'xmpNote:HasExtendedXMP="{guid}"')
    out["jpeg-extended"] = insert_segments(
        encode_jpeg(targets.sdr_pixels(8, 8), 70),
        [build_segment(APP1, xmp.xmp_segment_payload(main)), *segs])
    return out


def icc_seeds() -> Seeds:
    from PIL import ImageCms

    out = {p: make_icc_profile(p) for p in ("srgb", "p3", "bt2020", "bt709")}
    out["lcms-srgb"] = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    out["jpeg-p3"] = encode_sdr_jpeg(targets.sdr_pixels(8, 8), 80, make_icc_profile("p3"))
    # a profile split over two APP2 chunks
    icc = make_icc_profile("bt2020")
    half = len(icc) // 2
    segs = [build_segment(APP2, b"ICC_PROFILE\x00" + bytes([i + 1, 2]) + part)
            for i, part in enumerate((icc[:half], icc[half:]))]
    out["jpeg-two-chunks"] = insert_segments(encode_jpeg(targets.sdr_pixels(8, 8), 70), segs)
    return out


def iso_seeds() -> Seeds:
    out = {name: encode_iso21496(m) for name, m in _metadata().items()}
    out["version-only"] = iso21496_segment_payload(None)[len(ISO_21496_ID):]
    # libultrahdr's common-denominator form (flag bit 3), single channel
    out["common-denominator"] = struct.pack(">HHBIII", 0, 0, 0x08, 1000, 0, 2000) + struct.pack(
        ">iiIii", -500, 2000, 1000, 15, 15)
    out["common-denominator-backward"] = struct.pack(
        ">HHBIII", 0, 0, 0x08 | 0x04 | 0x80, 64, 128, 0) + struct.pack(
        ">iiIii", -128, 0, 64, 1, 1) * 3
    return out


def mpf_seeds() -> Seeds:
    """MPF payloads laid out for targets.mpf_file, and the ones our writer produced."""
    out = {}
    for big_endian in (True, False):
        size = mpf_payload_size(2)
        primary_len, second_len, offset = targets.mpf_layout(size)
        entries = [MpEntry(MP_ATTR_BASELINE_PRIMARY, primary_len, 0),
                   MpEntry(MP_ATTR_FORMAT_JPEG, second_len, offset)]
        out[f"two-{'be' if big_endian else 'le'}"] = build_mpf_payload(entries, big_endian)
    primary_len, second_len, offset = targets.mpf_layout(mpf_payload_size(3))
    out["three"] = build_mpf_payload([MpEntry(MP_ATTR_BASELINE_PRIMARY, primary_len, 0),
                                      MpEntry(0, second_len, offset),
                                      MpEntry(0, second_len, offset)])
    primary_len, _, _ = targets.mpf_layout(mpf_payload_size(1))
    out["one"] = build_mpf_payload([MpEntry(MP_ATTR_BASELINE_PRIMARY, primary_len, 0)])
    for name, data in gainmap_files().items():
        for seg in parse_segments(data):
            if seg.startswith(APP2, MPF_ID):
                out[f"from-{name}"] = seg.payload
    return out


def cli_seeds() -> Seeds:
    """Argument lists for the ``cli-args`` target (most of them valid)."""
    import targets_out as out

    def seed(command: str, text: str) -> bytes:
        return targets.selector(command, out.COMMANDS) + text.encode()

    return {
        "encode": seed("encode", "--steps 50 --lr 0.01 --seed 3 --batch 2048"),
        "encode-env": seed("encode", "--width 32 GAINMLP_THREADS=2 GAINMLP_MAX_MEMORY=2G"),
        "encode-rate": seed("encode", "--target-psnr 45 --max-bytes 20000 --grid 16x16x4"),
        "decode": seed("decode", "--headroom 2 --exr-white 203 --quality 90"),
        "batch": seed("batch", "--jobs 2 --group 1 --ray-gpus 0.5 --jpeg-quality 90"),
        "pair": seed("pair", "--peak 1000"),
        "eval": seed("eval", "--steps 5 --no-file --eps 0.02"),
        "bench": seed("bench", "--long-side 256 --quick --jobs 1"),
        "refused": seed("encode", "--lr inf --seed 18446744073709551616"),
    }


def writer_seeds() -> Seeds:
    """Outputs over each kind of thing for the ``writers`` target."""
    import targets_out as out

    def seed(kind: str, name: str, content: bytes) -> bytes:
        return targets.selector(kind, out.KINDS) + name.encode() + b"\x00" + content

    return {
        "new": seed("new", "out.png", b"\x89PNG data"),
        "nested": seed("regular", "a/b/photo.jpg", b"\xff\xd8" + bytes(100)),
        "setuid": seed("setuid", "tool.bin", b"replacement"),
        "long": seed("new", "n" * 250 + ".exr", b"long name"),
        "unicode": seed("regular", "\u00e9t\u00e9/\u6f22.tif", b"x" * 3),
        "outdir": seed("outdir", "made/here", b""),
        "fifo": seed("fifo", "pipe.png", b"x"),
        "symlink": seed("symlink", "link.png", b"x"),
        "folder": seed("folder", "dir.png", b"x"),
        "input": seed("input", "", b"x"),
    }


def hdr_out_seeds() -> Seeds:
    """Small images for the ``hdr-out`` target: format, size, EXR white, float32 values."""
    import targets_out as out

    rng = np.random.default_rng(7)
    values = rng.random(4 * 5 * 3).astype("<f4").tobytes()
    seeds = {}
    for fmt in out.HDR_FORMATS:
        head = targets.selector(fmt, out.HDR_FORMATS) + bytes([3, 4])
        seeds[f"ramp{fmt}"] = head + struct.pack("<f", 100.0) + values
        seeds[f"white203{fmt}"] = head + struct.pack("<f", 203.0) + values[:24]
    seeds["nan.png"] = (targets.selector(".png", out.HDR_FORMATS) + bytes([1, 1])
                        + struct.pack("<f", 100.0) + struct.pack("<3f", np.nan, np.inf, -1))
    return seeds


def all_seeds() -> dict[str, Seeds]:
    """target name -> {seed name: bytes}, for every target of targets.TARGETS."""
    payloads = fixture_payloads()
    gainmap = {**gainmap_files(), **apple_files()}
    jpegs = container_jpegs()
    xmp_in = xmp_seeds()
    truncated = {f"{n}-header-only": d[:HEADER_SIZE + 4] for n, d in list(payloads.items())[:2]}
    seeds = {
        "segments": {**jpegs, **gainmap},
        "app11": jpegs,
        "mpf": mpf_seeds(),
        "xmp": {**xmp_in, "ultrahdr-grey": gainmap["ultrahdr-grey"]},
        "icc": icc_seeds(),
        "iso21496": iso_seeds(),
        "payload": {**payloads, **truncated},
        "body-mlp": _bodies(targets.MLP_METHODS),
        "body-itm": _bodies(targets.ITM_METHODS),
        "body-conventional": _bodies(targets.CONVENTIONAL_METHODS),
        "map-image": map_images(),
        "sdr-image": sdr_images(),
        "hdr-png": hdr_pngs(),
        "hdr-tiff": hdr_tiffs(),
        "exr": exr_files(),
        "radiance": radiance_files(),
        "gainmap-jpeg": gainmap,
        "photo": {**{k: v for k, v in jpegs.items() if "split" not in k}, **gainmap,
                  **{f"bare-{k}": v for k, v in payloads.items()}},
    }
    seeds.update({"cli-args": cli_seeds(), "writers": writer_seeds(),
                  "hdr-out": hdr_out_seeds()})
    assert set(seeds) == set(targets.TARGETS), "every target needs seeds"
    return seeds


def write_corpus(out_dir: Path) -> dict[str, int]:
    """Write every target's seeds to ``out_dir/<target>/``; returns seed counts."""
    counts = {}
    for target, files in all_seeds().items():
        folder = out_dir / target
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.iterdir():
            old.unlink()
        for name, data in files.items():
            (folder / name).write_bytes(data)
        counts[target] = len(files)
    return counts


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__.strip().splitlines()[2].strip())
    for target, n in write_corpus(Path(sys.argv[1])).items():
        print(f"{target:<18} {n:3d} seeds")
