"""Gain-map JPEG files: Google Ultra HDR, Adobe Gain Map 1.0, ISO 21496-1 and Apple.

This module assembles the format modules beside it (segments, MPF, XMP, ISO 21496-1,
ICC, our APP11 payload) into whole files: it reads them, renders their HDR, writes them.

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
4. Apple's ``HDRGainMap`` XMP on the gain-map image (iPhone JPEGs), with the headroom from
   that XMP or the primary image's maker note (:mod:`gainmlp.container.apple`).

When ISO and XMP metadata are both present and disagree, ISO wins and a warning says so.
Metadata that is present but invalid is skipped for the next source; when none is usable,
the error names what was wrong with the first invalid one.

Rendering
---------
:func:`gainmap_jpeg_to_hdr_pq` rebuilds the HDR rendition at full weight. The base is
decoded with the sRGB transfer function (Ultra HDR and Adobe bases are sRGB or Display
P3, both with the sRGB curve), in the primaries its ICC profile declares (sRGB when
there is none or it is not recognised, with a warning saying so). Apple maps are applied
with Apple's formula instead of the ISO one. The result, relative to SDR white, is scaled so
that SDR white is :data:`SDR_WHITE_NITS` = 203 cd/m2 (ITU-R BT.2408 reference white, the
value libultrahdr uses for its PQ output), converted to BT.2020 and PQ-encoded
(:func:`gainmap_jpeg_to_hdr_pq`, clipped at PQ's 10,000 cd/m2) or left linear
(:func:`gainmap_jpeg_to_linear_bt2020`, unclipped, for linear outputs such as OpenEXR).

Writing
-------
:func:`write_ultrahdr` writes an Ultra HDR v1 file as libultrahdr does: primary image
with XMP (``hdrgm:Version`` + GContainer directory), an ISO 21496-1 version record, an
MPF index, and optionally our own payload (APP11, see :mod:`gainmlp.container.app11`);
then the gain-map JPEG with ``hdrgm`` XMP and the full ISO 21496-1 record.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np

from gainmlp.colorimetry import (
    convert_primaries,
    linear_to_pq_bt2020,
    map_pixel_tiles,
    sdr_eotf,
)
from gainmlp.container import apple, mpf, xmp
from gainmlp.container.app11 import extract_payload
from gainmlp.container.icc import detect_icc_primaries, identify_icc, read_icc
from gainmlp.container.iso21496 import ISO_21496_ID, decode_iso21496
from gainmlp.container.segments import (
    APP1,
    APP2,
    EXIF_ID,
    Segment,
    concatenated_image_ranges,
    find_app,
    find_image_end,
    parse_segments,
    remove_segments,
)
from gainmlp.errors import GainMLPError, check_image_size, warn
from gainmlp.io.jpeg import decode_jpeg, encode_jpeg
from gainmlp.iso_gainmap import GainMapMetadata, apply_gain_map, weight_for_headroom

SDR_WHITE_NITS = 203.0
MAX_FILE_BYTES = 1 << 30


@dataclass
class GainMapJpeg:
    """A decoded gain-map JPEG.

    ``sdr`` is (H, W, 3) uint8; ``gain_map`` is (h, w) or (h, w, 3) uint8 at its stored
    resolution. ``colour_space`` is ``"srgb"``, ``"p3"`` or ``"bt2020"`` as detected from
    ``icc``. ``metadata_source`` is ``"iso21496"``, ``"xmp"`` or ``"apple"``; ``flavour``
    is ``"ultrahdr"`` (GContainer directory in the primary XMP), ``"adobe"`` (hdrgm XMP
    without a directory), ``"iso"`` (ISO metadata only) or ``"apple"`` (Apple HDRGainMap;
    then ``apple`` holds its headroom and ``metadata`` only summarises it).
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
    apple: apple.AppleGainMap | None = None


# --------------------------------------------------------------------------- reading


def _decode_jpeg(data: bytes, what: str) -> tuple[np.ndarray, str]:
    """Decode one JPEG image of the file; returns (array, Pillow mode)."""
    # Without its MPF index Pillow reads the image as a plain JPEG, not as an MPO whose
    # (possibly hostile) offsets it would follow.
    data = remove_segments(data, lambda s: s.startswith(APP2, mpf.MPF_ID))
    return decode_jpeg(data, what)


@dataclass
class _Image:
    start: int
    end: int
    segments: list[Segment]


def _candidate_images(data: bytes, primary: list[Segment], notes: list[str]) -> list[_Image]:
    ranges: list[tuple[int, int]] | None = None
    if find_app(primary, APP2, mpf.MPF_ID) is not None:
        try:
            ranges = mpf.mpf_image_ranges(data, primary)
        except GainMLPError as exc:
            notes.append(f"ignoring the MPF index ({exc}); scanning for appended images")
    if ranges is None or len(ranges) < 2:
        try:
            ranges = concatenated_image_ranges(data)
        except GainMLPError as exc:
            notes.append(f"primary image is malformed: {exc}")
            ranges = [(0, len(data))]
    out = []
    for start, end in ranges[1:]:
        try:
            segs = parse_segments(data[start:end])
        except GainMLPError as exc:
            notes.append(f"skipping secondary image at byte {start}: {exc}")
            continue
        out.append(_Image(start, end, segs))
    return out


def _metadata_of(
    img_segments: list[Segment], notes: list[str], problems: list[str] | None = None,
    allowance: xmp.XmpAllowance | None = None,
) -> tuple[GainMapMetadata | None, str | None]:
    iso_meta = None
    iso_seg = find_app(img_segments, APP2, ISO_21496_ID)
    if iso_seg is not None:
        try:
            iso_meta = decode_iso21496(iso_seg.payload[len(ISO_21496_ID) :])
        except GainMLPError as exc:
            notes.append(f"ignoring ISO 21496-1 metadata: {exc}")
            if problems is not None:
                problems.append(f"ISO 21496-1 gain-map metadata is invalid: {exc}")
    xmp_meta = None
    xmp_text = (allowance or xmp.XmpAllowance()).text(img_segments)
    if xmp_text:
        props = xmp.parse_hdrgm_xmp(xmp_text)
        if props:
            try:
                xmp_meta = xmp.metadata_from_xmp(props)
            except GainMLPError as exc:
                if iso_meta is None:
                    text = str(exc)
                    raise GainMLPError(text if text.startswith("XMP") else
                                       f"hdrgm XMP gain-map metadata is invalid: {text}") from exc
                notes.append(f"ignoring hdrgm XMP: {exc}")
    if iso_meta is not None:
        if xmp_meta is not None and not iso_meta.close_to(xmp_meta):
            notes.append("ISO 21496-1 and XMP gain-map metadata disagree; using ISO 21496-1")
        return iso_meta, "iso21496"
    if xmp_meta is not None:
        return xmp_meta, "xmp"
    return None, None


def _decode_both(base: bytes, gain_map: bytes) -> tuple[np.ndarray, np.ndarray]:
    """The base and the gain-map image decoded; in two threads when the map is large
    enough to matter (Pillow releases the GIL while it decodes)."""
    if len(gain_map) < (1 << 18):
        return (_decode_jpeg(base, "SDR base image")[0],
                _decode_jpeg(gain_map, "gain-map image")[0])
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        job = pool.submit(_decode_jpeg, gain_map, "gain-map image")
        sdr = _decode_jpeg(base, "SDR base image")[0]
        return sdr, job.result()[0]


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
    primary = parse_segments(data)
    notes: list[str] = []
    allowance = xmp.XmpAllowance()  # XMP parsed in this file, all images together
    primary_xmp_text = allowance.text(primary)
    flavour = (
        "ultrahdr"
        if "Container:Directory" in primary_xmp_text or (xmp.CONTAINER_NS in primary_xmp_text)
        else ("adobe" if xmp.HDRGM_NS in primary_xmp_text else "iso")
    )

    meta = source = None
    gm_image: _Image | None = None
    apple_map: apple.AppleGainMap | None = None
    problems: list[str] = []
    candidates = _candidate_images(data, primary, notes)
    for cand in candidates:
        meta, source = _metadata_of(cand.segments, notes, problems, allowance)
        if meta is not None:
            gm_image = cand
            break
    if meta is None and primary_xmp_text and candidates:
        props = xmp.parse_hdrgm_xmp(primary_xmp_text)
        meta = xmp.metadata_from_xmp(props) if props else None
        if meta is not None:
            gm_image, source = candidates[0], "xmp"
    if meta is None and not problems:
        exif = find_app(primary, APP1, EXIF_ID)
        for cand in candidates:
            apple_map = apple.read_apple_gain_map(allowance.text(cand.segments),
                                                  exif.payload if exif else None, notes)
            if apple_map is not None:
                meta, source, gm_image, flavour = apple_map.metadata(), "apple", cand, "apple"
                break
    if meta is None or gm_image is None:
        if not candidates:
            raise GainMLPError("JPEG has no gain-map image (no secondary image found)")
        if problems:
            raise GainMLPError(problems[0])
        raise GainMLPError("JPEG has no gain-map metadata (no hdrgm XMP, ISO 21496-1 or "
                           "Apple HDRGainMap)")

    try:
        icc = read_icc(primary)
    except GainMLPError as exc:
        notes.append(f"ignoring the ICC profile: {exc}")
        icc = None
    colour_space = detect_icc_primaries(icc)
    if icc:
        try:
            named, desc = identify_icc(icc)
        except GainMLPError:
            named, desc = None, ""
            notes.append("ICC profile is unreadable; reading the base as sRGB (sRGB primaries "
                         "and curve)")
        if named is None and desc:
            notes.append(f"ICC profile {desc!r} is not one gainmlp knows; reading the base as "
                         "sRGB (sRGB primaries and curve)")
    try:
        gm_icc = read_icc(gm_image.segments)
    except GainMLPError:
        gm_icc = None
    try:
        extra = extract_payload(data, primary)
    except GainMLPError as exc:
        notes.append(f"ignoring the gainmlp payload segments: {exc}")
        extra = None

    try:
        primary_end = find_image_end(data)
    except GainMLPError:
        primary_end = len(data)  # let the decoder report what is wrong
    sdr, gmap = _decode_both(data[:primary_end], data[gm_image.start : gm_image.end])
    if sdr.ndim == 2:
        sdr = np.repeat(sdr[:, :, None], 3, axis=2)
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
        colour_space=colour_space,
        metadata_source=source or "xmp",
        flavour=flavour,
        gain_map_icc=gm_icc,
        extra_payload=extra,
        warnings=notes,
        apple=apple_map,
    )


def is_gainmap_jpeg(data: bytes) -> bool:
    """Cheap check: does the primary image announce a gain map (hdrgm XMP, ISO, MPF+map)?

    Never raises; only the primary header (and, for MPF, the secondary headers) is read.
    """
    try:
        data = bytes(data)
        primary = parse_segments(data)
        if find_app(primary, APP2, ISO_21496_ID) is not None:
            return True
        allowance = xmp.XmpAllowance()
        if xmp.HDRGM_NS in allowance.text(primary):
            return True
        if find_app(primary, APP2, mpf.MPF_ID) is not None:
            for start, end in mpf.mpf_image_ranges(data, primary)[1:]:
                segs = parse_segments(data[start:end])
                if find_app(segs, APP2, ISO_21496_ID) is not None:
                    return True
                text = allowance.text(segs)
                if xmp.HDRGM_NS in text or apple.APPLE_GAINMAP_NS in text:
                    return True
    except (GainMLPError, ValueError, TypeError):
        return False
    return False


@cache
def _srgb_lut() -> np.ndarray:
    """Linear value of each 8-bit sRGB code (a lookup: 1000x faster than per pixel)."""
    return sdr_eotf(np.arange(256, dtype=np.float64) / 255.0, "srgb").astype(np.float32)


def _fused(gm: GainMapJpeg, weight: float, mode: int) -> np.ndarray | None:
    """The rendition through the fused kernel (:mod:`gainmlp.kernels.gainmap`), or None
    where it does not apply (numpy reference path asked for, a map in other primaries
    than the base, weight 0)."""
    from gainmlp import kernels

    meta = gm.metadata
    if not kernels.compiled() or not math.isfinite(weight):
        return None
    from gainmlp.kernels import gainmap as fused

    primaries = gm.colour_space
    matrix = None if mode == fused.OUT_RELATIVE else primaries_matrix(primaries, "bt2020")
    common = {"base_lut": _srgb_lut(), "mode": mode, "matrix": matrix,
              "white": SDR_WHITE_NITS}
    if gm.apple is not None:
        boost = float(gm.apple.headroom) ** min(max(float(weight), 0.0), 1.0) - 1.0
        return fused.render_gain_map(gm.sdr, gm.gain_map, apple.map_lut(), apple_boost=boost,
                                     **common)
    if not meta.use_base_colour_space and gm.gain_map_icc:
        if detect_icc_primaries(gm.gain_map_icc) != primaries:
            return None
    w = 1.0 - weight if meta.base_is_hdr else weight
    if w <= 0.0:
        return None
    k_base, k_alt = ((meta.offset_hdr, meta.offset_sdr) if meta.base_is_hdr
                     else (meta.offset_sdr, meta.offset_hdr))
    return fused.render_gain_map(gm.sdr, gm.gain_map, _map_code_lut(), lo=meta.gain_map_min,
                                 hi=meta.gain_map_max, gamma=meta.gamma, k_base=k_base,
                                 k_alt=k_alt, weight=min(w, 1.0), **common)


@cache
def _map_code_lut() -> np.ndarray:
    """``float32(code) / 255`` of each 8-bit map code (as ``gain_map / 255.0`` computes it)."""
    return np.arange(256, dtype=np.float32) / np.float32(255.0)


def primaries_matrix(source: str, target: str) -> np.ndarray:
    """The 3x3 float64 matrix of :func:`gainmlp.colorimetry.convert_primaries`."""
    return np.ascontiguousarray(convert_primaries(np.eye(3), source, target).T)


def gainmap_jpeg_to_linear(gm: GainMapJpeg, weight: float = 1.0) -> tuple[np.ndarray, str]:
    """HDR rendition in linear light relative to SDR white, and its primaries name.

    ``weight`` is the map weight toward the HDR rendition (1 = full HDR). For an HDR
    base (``base_is_hdr``) the base itself is the HDR rendition and weight 1 returns it.
    The compiled kernel renders it in one pass (``gainmlp.kernels.gainmap``); with
    ``GAINMLP_KERNELS=numpy`` the numpy reference below does, with the same values up to
    float32 rounding of ``exp2``.
    """
    from gainmlp.kernels.gainmap import OUT_RELATIVE

    fused = _fused(gm, weight, OUT_RELATIVE)
    if fused is not None:
        return fused, gm.colour_space
    meta = gm.metadata
    primaries = gm.colour_space
    base = _srgb_lut()[gm.sdr]
    if gm.apple is not None:
        return apple.apply_apple_gain_map(base, gm.gain_map, gm.apple.headroom, weight), primaries
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


def weight_toward_hdr(gm: GainMapJpeg, headroom_stops: float | None) -> float:
    """The map weight toward the HDR rendition for a display with ``headroom_stops`` of
    HDR headroom (log2 of its peak over SDR white), by ISO 21496-1's rule on the file's
    HDR capacity (None: full HDR, 1)."""
    if headroom_stops is None:
        return 1.0
    w = weight_for_headroom(gm.metadata, float(headroom_stops))
    return 1.0 - w if gm.metadata.base_is_hdr else w


def gainmap_jpeg_to_hdr_pq(gm: GainMapJpeg, weight: float = 1.0) -> np.ndarray:
    """HDR rendition as float32 (H, W, 3) PQ code values, BT.2020 primaries.

    ``weight``: the map's weight toward the HDR rendition (1, the default: full HDR; see
    :func:`weight_toward_hdr` for a display's headroom). SDR white maps to
    :data:`SDR_WHITE_NITS` (203 cd/m2); PQ clips at 10,000 cd/m2. Compiled: one fused pass
    with a tabulated PQ curve (max error 2.6e-7, :mod:`gainmlp.kernels.pq`).
    """
    from gainmlp.kernels.gainmap import OUT_PQ

    fused = _fused(gm, weight, OUT_PQ)
    if fused is not None:
        return fused
    linear, primaries = gainmap_jpeg_to_linear(gm, weight)
    return linear_to_pq_bt2020(linear.astype(np.float64) * SDR_WHITE_NITS, primaries)


def gainmap_jpeg_to_linear_bt2020(gm: GainMapJpeg, weight: float = 1.0) -> np.ndarray:
    """HDR rendition (map ``weight`` toward HDR, default full) as float32 (H, W, 3) linear
    BT.2020 light in cd/m2, SDR white at :data:`SDR_WHITE_NITS`; negative values (out of
    the BT.2020 gamut) are set to 0, nothing is clipped above (no PQ round trip)."""
    from gainmlp.kernels.gainmap import OUT_LINEAR_NITS

    fused = _fused(gm, weight, OUT_LINEAR_NITS)
    if fused is not None:
        return fused
    linear, primaries = gainmap_jpeg_to_linear(gm, weight)

    def tile(px: np.ndarray) -> np.ndarray:
        return np.maximum(convert_primaries(px, primaries, "bt2020") * SDR_WHITE_NITS, 0.0)

    return map_pixel_tiles(tile, linear, np.float32)


# --------------------------------------------------------------------------- writing
def _checked_pixels(image: np.ndarray, quality: int, what: str) -> np.ndarray:
    """``image`` as (H, W) or (H, W, 3) uint8, refusing what a JPEG cannot hold."""
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
    return arr


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
    primary_xml: str | None = None,
) -> bytes:
    """Write an Ultra HDR JPEG (also valid as Adobe gain map 1.0 and ISO 21496-1).

    ``path_or_bytes_out`` is a file path, a writable binary stream, or None (just return
    the bytes). ``sdr_uint8`` is (H, W, 3) sRGB-encoded in the primaries of ``icc``
    (sRGB if None); ``gain_map_uint8`` is (h, w) or (h, w, 3). ``extra_payload`` is
    carried in APP11 ``GainMLP`` segments of the primary image; ``primary_xml`` is an XMP
    packet to keep (its gain-map fields are replaced). Returns the file bytes.
    """
    if meta.base_is_hdr:
        raise GainMLPError("Ultra HDR JPEGs need an SDR base (base_is_hdr is not supported)")
    from gainmlp.container.gainmap_writer import assemble_gainmap_jpeg
    from gainmlp.io.sdr import encode_sdr_jpeg

    sdr = _checked_pixels(sdr_uint8, quality, "SDR base image")
    primary_jpeg = encode_sdr_jpeg(sdr, int(quality), icc)  # the same base for every container
    gm = _checked_pixels(gain_map_uint8, gain_map_quality, "gain-map image")
    # 4:4:4 for an RGB map: its channels are independent
    gain_jpeg = encode_jpeg(gm, int(gain_map_quality), optimize=True,
                            subsampling=0 if gm.ndim == 3 else None)
    out = assemble_gainmap_jpeg(primary_jpeg, gain_jpeg, meta, extra_payload, primary_xml)
    if path_or_bytes_out is not None:
        if isinstance(path_or_bytes_out, str | Path):
            try:
                Path(path_or_bytes_out).write_bytes(out)
            except OSError as exc:
                raise GainMLPError(f"cannot write {path_or_bytes_out}: {exc}") from exc
        else:
            path_or_bytes_out.write(out)
    return out
