"""Standard gain-map JPEGs for the JavaScript decoder's tests, with the Python decoder's output.

``python tests/web_gainmap_fixtures.py DIR`` (or :func:`write_gainmap_fixtures`) writes into
DIR, from the 40x28 fixture pair of ``golden.py`` (generated, nothing committed):

* ``NAME.jpg``: ``gainmlp encode --container ultrahdr`` output, the default container
  (``ultrahdr+mlp``: a standard map and a payload), ISO 21496-1 metadata alone, an Adobe-style
  file (per-channel ``rdf:Seq`` XMP, gamma, offsets, a Display P3 ICC base), an HDR base
  (ISO 21496-1 backward direction), an Ultra HDR file without an MPF index (the appended map
  found by scanning), an MPF index listing the map 1000 times, a map in Display P3 over an
  sRGB base (use_base_colour_space off), and Apple layouts (headroom
  in the XMP, or in the maker note);
* ``NAME-H.f32``: ``gainmlp.photo.decode_file(..., headroom=H)`` (H in :data:`HEADROOMS`,
  ``None`` = the full HDR), float32 little-endian H x W x 3 PQ BT.2020; for files that also
  carry a payload, ``NAME-gainmap-H.f32`` is the standard map's rendition;
* the same for every JPEG of a folder of third-party files (``$GAINMLP_GAINMAP_DIR``, else
  ``/work/shared/data/gainmap`` when it exists), named ``shared-NAME``;
* ``manifest.json``: ``{"files": [{"name", "file", "use", "headroom", "expected"}]}``.
"""

from __future__ import annotations

import io
import json
import os
import struct
import sys
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import golden  # noqa: E402

HEADROOMS = (None, 0.0, 1.0, 2.0, 16.0)
SHARED_DEFAULT = Path("/work/shared/data/gainmap")


def shared_dir() -> Path | None:
    """The folder of third-party gain-map JPEGs, or None when it is absent."""
    folder = Path(os.environ.get("GAINMLP_GAINMAP_DIR", SHARED_DEFAULT))
    return folder if folder.is_dir() and any(folder.glob("*.jpg")) else None


def _jpeg(arr: np.ndarray, quality: int = 95, icc: bytes | None = None) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    extra = {"icc_profile": icc} if icc else {}
    Image.fromarray(arr).save(buf, "JPEG", quality=quality, subsampling=0, **extra)
    return buf.getvalue()


def _with_mpf(primary: bytes, primary_segments: list[bytes], gain: bytes,
              gain_segments: list[bytes], mpf: bool = True, repeat: int = 1) -> bytes:
    """Primary (with ``primary_segments`` and an MPF index) followed by the gain-map JPEG
    (with ``gain_segments``), laid out as libultrahdr and iPhones do; ``repeat`` lists the
    gain map that many times in the index (a hostile index: read once)."""
    from gainmlp.container.mpf import (
        MP_ATTR_BASELINE_PRIMARY,
        MP_ATTR_PRIMARY,
        MpEntry,
        build_mpf_payload,
        mpf_payload_size,
    )
    from gainmlp.container.segments import APP2, build_segment, insert_segments, insertion_point

    if gain_segments:
        gain = insert_segments(gain, gain_segments)
    pos = insertion_point(primary)
    head = primary[:pos] + b"".join(primary_segments)
    tail = primary[pos:]
    if not mpf:
        return head + tail + gain
    mpf_len = len(build_segment(APP2, b"\x00" * mpf_payload_size(1 + repeat)))
    primary_len = len(head) + mpf_len + len(tail)
    origin = len(head) + 8
    entries = [MpEntry(MP_ATTR_PRIMARY | MP_ATTR_BASELINE_PRIMARY, primary_len, 0)]
    entries += [MpEntry(0, len(gain), primary_len - origin)] * repeat
    return head + build_segment(APP2, build_mpf_payload(entries)) + tail + gain


def _apple_xmp(headroom: str | None) -> str:
    ns = ('xmlns:apdi="http://ns.apple.com/pixeldatainfo/1.0/" '
          'xmlns:HDRGainMap="http://ns.apple.com/HDRGainMap/1.0/"')
    body = (f'<rdf:Description rdf:about="" {ns}>'
            "<apdi:AuxiliaryImageType>urn:com:apple:photo:2020:aux:hdrgainmap"
            "</apdi:AuxiliaryImageType>"
            f"<HDRGainMap:HDRGainMapVersion>{131072 if headroom else 65536}"
            "</HDRGainMap:HDRGainMapVersion>")
    if headroom is not None:
        body += f"<HDRGainMap:HDRGainMapHeadroom>{headroom}</HDRGainMap:HDRGainMapHeadroom>"
    body += "</rdf:Description>"
    return ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
            f'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">{body}</rdf:RDF>'
            "</x:xmpmeta>")


def _apple_exif(m33: float, m48: float) -> bytes:
    """EXIF APP1 payload whose Exif IFD holds an Apple maker note with tags 33 and 48."""
    from gainmlp.container.segments import EXIF_ID

    head = b"Apple iOS\x00" + b"\x00\x01" + b"MM"
    start = len(head) + 2 + 12 * 2 + 4
    entries, blob = b"", b""
    for tag, value in ((33, m33), (48, m48)):
        entries += struct.pack(">HHII", tag, 10, 1, start + len(blob))
        blob += struct.pack(">ii", int(round(value * 10000)), 10000)
    note = head + struct.pack(">H", 2) + entries + b"\x00" * 4 + blob
    exif_ifd = 8 + 2 + 12 + 4
    note_at = exif_ifd + 2 + 12 + 4
    tiff = b"MM\x00\x2a" + struct.pack(">I", 8)
    tiff += struct.pack(">HHHII", 1, 0x8769, 4, 1, exif_ifd) + b"\x00" * 4
    tiff += struct.pack(">HHHII", 1, 0x927C, 7, len(note), note_at) + b"\x00" * 4
    return EXIF_ID + tiff + note


def make_files() -> dict[str, bytes]:
    """The generated gain-map JPEGs, by name."""
    from gainmlp import colorimetry, photo
    from gainmlp.colorimetry import SdrEncoding
    from gainmlp.container.icc import make_icc_profile
    from gainmlp.container.iso21496 import iso21496_segment_payload
    from gainmlp.container.segments import APP1, APP2, build_segment
    from gainmlp.container.ultrahdr import ultrahdr_from_pair
    from gainmlp.container.xmp import gain_map_xmp, xmp_segment_payload
    from gainmlp.image import SdrImage
    from gainmlp.io import encode_sdr_jpeg
    from gainmlp.iso_gainmap import GainMapMetadata, compute_gain_map

    sdr, hdr = golden.golden_pair(28, 40, seed=11)
    image = SdrImage(sdr, SdrEncoding())
    files: dict[str, bytes] = {}
    files["gm-ultrahdr"] = photo.encode_jpeg(image, hdr, container="ultrahdr")[0]
    payload = (golden.PAYLOAD_DIR / "v2-gamma-default.gmlp").read_bytes()
    files["gm-ultrahdr-mlp"] = ultrahdr_from_pair(image, hdr, photo.MAP_SCALE, photo.MAP_QUALITY,
                                                  95, extra_payload=payload)[0]
    # a map computed on linear light (sRGB curve, relative to SDR white)
    sdr_lin = colorimetry.sdr_eotf(sdr / 255.0, "srgb")
    hdr_lin = colorimetry.pq_bt2020_to_linear(hdr) / 203.0
    hdr_lin = np.maximum(colorimetry.convert_primaries(hdr_lin, "bt2020", "srgb"), 0.0)
    code1, meta1 = compute_gain_map(sdr_lin, hdr_lin, channels=1, gamma=1.0)
    small = code1[::2, ::2]
    iso_only = GainMapMetadata(gain_map_min=meta1.gain_map_min, gain_map_max=meta1.gain_map_max,
                               offset_sdr=1 / 64, offset_hdr=1 / 32, hdr_capacity_min=0.5,
                               hdr_capacity_max=max(meta1.gain_map_max) + 0.25)
    iso_seg = build_segment(APP2, iso21496_segment_payload(iso_only))
    files["gm-iso-only"] = _with_mpf(encode_sdr_jpeg(sdr, 95),
                                     [build_segment(APP2, iso21496_segment_payload(None))],
                                     _jpeg(small, 85), [iso_seg])
    code3, meta3 = compute_gain_map(sdr_lin, hdr_lin, channels=3, gamma=0.8)
    adobe = GainMapMetadata(gain_map_min=meta3.gain_map_min, gain_map_max=meta3.gain_map_max,
                            gamma=(0.8, 0.85, 0.9), offset_sdr=(0.01, 0.015625, 0.02),
                            offset_hdr=(0.02, 0.015625, 0.01), hdr_capacity_min=0.0,
                            hdr_capacity_max=1.8)
    p3 = make_icc_profile("p3")
    primary_xmp = ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/'
                   '1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" xmlns:hdrgm="http'
                   '://ns.adobe.com/hdr-gain-map/1.0/" hdrgm:Version="1.0"/></rdf:RDF>'
                   "</x:xmpmeta>")
    files["gm-adobe-p3"] = _with_mpf(
        encode_sdr_jpeg(sdr, 92, p3), [build_segment(APP1, xmp_segment_payload(primary_xmp))],
        _jpeg(code3, 90),
        [build_segment(APP1, xmp_segment_payload(gain_map_xmp(adobe, per_channel_seq=True)))])
    hdr_base = GainMapMetadata(gain_map_min=-max(meta1.gain_map_max), gain_map_max=0.0,
                               offset_sdr=1 / 64, offset_hdr=1 / 64, hdr_capacity_min=0.0,
                               hdr_capacity_max=max(meta1.gain_map_max), base_is_hdr=True)
    files["gm-hdr-base"] = _with_mpf(
        encode_sdr_jpeg(sdr, 95), [build_segment(APP2, iso21496_segment_payload(None))],
        _jpeg(255 - small, 85), [build_segment(APP2, iso21496_segment_payload(hdr_base))])
    # the map in other primaries than the base (ISO 21496-1 use_base_colour_space off, a
    # Display P3 ICC profile on the map image): the base is converted before the map applies
    other = GainMapMetadata(gain_map_min=meta3.gain_map_min, gain_map_max=meta3.gain_map_max,
                            gamma=0.8, offset_sdr=1 / 64, offset_hdr=1 / 64,
                            hdr_capacity_min=0.0, hdr_capacity_max=2.0,
                            use_base_colour_space=False)
    files["gm-map-p3"] = _with_mpf(
        encode_sdr_jpeg(sdr, 95), [build_segment(APP2, iso21496_segment_payload(None))],
        _jpeg(code3, 90, p3), [build_segment(APP2, iso21496_segment_payload(other))])
    files["gm-mpf-repeated"] = _with_mpf(
        encode_sdr_jpeg(sdr, 95), [build_segment(APP2, iso21496_segment_payload(None))],
        _jpeg(small, 85), [iso_seg], repeat=1000)
    files["gm-no-mpf"] = _with_mpf(
        encode_sdr_jpeg(sdr, 95), [build_segment(APP2, iso21496_segment_payload(None))],
        _jpeg(small, 85), [iso_seg], mpf=False)
    apple_map = np.round(np.clip(1.2 * code1 / 255.0 - 0.1, 0, 1)[::2, ::2] * 255).astype(np.uint8)
    files["gm-apple-xmp"] = _with_mpf(
        _jpeg(sdr, 95, p3), [], _jpeg(apple_map, 90),
        [build_segment(APP1, xmp_segment_payload(_apple_xmp("3.2")))])
    files["gm-apple-makernote"] = _with_mpf(
        _jpeg(sdr, 95), [build_segment(APP1, _apple_exif(1.0, 0.005))], _jpeg(apple_map, 90),
        [build_segment(APP1, xmp_segment_payload(_apple_xmp(None)))])
    return files


def _gainmap_rendition(data: bytes, headroom: float | None) -> np.ndarray:
    """The standard map's rendition of a file that also carries a payload."""
    from gainmlp.container import gainmap_jpeg

    gm = gainmap_jpeg.read_gainmap_jpeg(data)
    return gainmap_jpeg.gainmap_jpeg_to_hdr_pq(gm, gainmap_jpeg.weight_toward_hdr(gm, headroom))


def write_gainmap_fixtures(out: Path, shared: Path | None = None) -> dict:
    """Write the files, Python's renditions and ``manifest.json`` into ``out``."""
    from gainmlp import photo
    from gainmlp.container.app11 import extract_payload

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = make_files()
    if shared is not None:
        for path in sorted(shared.glob("*.jpg")):
            files[f"shared-{path.stem}"] = path.read_bytes()
    manifest: dict = {"files": []}
    for name, data in files.items():
        (out / f"{name}.jpg").write_bytes(data)
        uses = ["auto", "gainmap"] if extract_payload(data) is not None else ["auto"]
        for use in uses:
            for headroom in HEADROOMS:
                tag = f"{name}{'-gainmap' if use == 'gainmap' else ''}-{headroom}"
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    hdr = (_gainmap_rendition(data, headroom) if use == "gainmap"
                           else photo.decode_file(data, name, headroom=headroom)[1])
                (out / f"{tag}.f32").write_bytes(np.ascontiguousarray(hdr, "<f4").tobytes())
                manifest["files"].append({"name": name, "file": f"{name}.jpg", "use": use,
                                          "headroom": headroom, "expected": f"{tag}.f32",
                                          "width": int(hdr.shape[1]),
                                          "height": int(hdr.shape[0])})
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tests/web_gainmap_fixtures.py OUT_DIR")
    m = write_gainmap_fixtures(Path(sys.argv[1]), shared_dir())
    print(f"{len(m['files'])} renditions of {len({e['name'] for e in m['files']})} files -> "
          f"{sys.argv[1]}")
