"""Ultra HDR output: turn an (SDR, HDR) pair or a decoded gainmlp photo into a standard
gain-map JPEG that today's viewers (Android, Chrome, libultrahdr, libvips) show as HDR.

Levels: Ultra HDR readers linearise the base with the sRGB curve in the primaries of its
ICC profile and put SDR white at 203 cd/m2 (BT.2408) when they output PQ. The gain map is
therefore computed against the base *as such a reader sees it* (sRGB-linearised 8-bit
pixels) and against the HDR in cd/m2 divided by 203, so the HDR a reader rebuilds is ours
in absolute cd/m2, whatever transfer function the SDR was graded with. HDR colours
outside the base's primaries are clipped (an Ultra HDR map is in the base colour space).
"""

from __future__ import annotations

import numpy as np

from gainmlp import colorimetry, colourspaces
from gainmlp.container.gainmap_jpeg import SDR_WHITE_NITS, write_ultrahdr
from gainmlp.container.icc import make_icc_profile
from gainmlp.container.mpf import mpf_image_ranges
from gainmlp.errors import GainMLPError
from gainmlp.image import SdrImage
from gainmlp.iso_gainmap import MAX_ABS_LOG2, GainMapMetadata
from gainmlp.resample import resize_bicubic_u8, scaled_size

#: The map's offsets (k_sdr = k_hdr, ISO 21496-1), as ``compute_gain_map``'s default.
OFFSET = 1 / 64
BASE_PRIMARIES = {"bt709": "srgb", "srgb": "srgb", "p3": "p3", "bt2020": "bt2020"}


def standard_gain_map(sdr: SdrImage, hdr_pq: np.ndarray, scale: int = 4,
                      threads: int | None = None) -> tuple[np.ndarray, GainMapMetadata]:
    """The RGB gain map (uint8, 1/``scale`` of the size) and its metadata that take an
    Ultra HDR reader from ``sdr`` (as such a reader linearises it) to ``hdr_pq``.

    The map is :func:`gainmlp.iso_gainmap.compute_gain_map`'s (3 channels, offsets 1/64,
    gamma 1, GainMapMin/Max the per-channel extremes) computed at full resolution, then
    Pillow-bicubic downscaled. It is computed in float64 on row tiles
    (:mod:`gainmlp.kernels.gainmap_encode`: compiled, or its numpy reference with
    ``GAINMLP_KERNELS=numpy``), so nothing of full resolution is made besides the
    uint8 codes (about 4 bytes per pixel instead of ~200). ``threads``: for the compiled
    row tiles (default: the usable cores).
    """
    from gainmlp import kernels
    from gainmlp.kernels import gainmap_encode

    if sdr.pixels.shape[:2] != hdr_pq.shape[:2]:
        raise GainMLPError("SDR and HDR must be the same size")
    primaries = BASE_PRIMARIES[sdr.encoding.primaries]
    matrix = (None if primaries == "bt2020"
              else colourspaces.matrix_RGB_to_RGB("bt2020", primaries))
    lut = colorimetry.sdr_eotf(np.arange(256, dtype=np.float64) / 255.0, "srgb")
    if kernels.compiled():
        gain_map, lo, hi = gainmap_encode.gain_map_codes(
            sdr.pixels, hdr_pq, lut, matrix, SDR_WHITE_NITS, OFFSET, OFFSET, 1.0,
            MAX_ABS_LOG2, threads)
    else:
        gain_map, lo, hi = gainmap_encode.reference_gain_map_codes(
            sdr.pixels, hdr_pq, lut, matrix, SDR_WHITE_NITS, OFFSET, OFFSET, 1.0, MAX_ABS_LOG2)
    meta = GainMapMetadata(gain_map_min=tuple(lo.tolist()), gain_map_max=tuple(hi.tolist()),
                           gamma=(1.0,) * 3, offset_sdr=(OFFSET,) * 3,
                           offset_hdr=(OFFSET,) * 3, hdr_capacity_min=0.0,
                           hdr_capacity_max=max(float(np.max(hi)), 0.01))
    height, width = gain_map.shape[:2]
    mw, mh = scaled_size(width, height, scale)
    if (mw, mh) != (width, height):
        gain_map = resize_bicubic_u8(gain_map, mw, mh)
    return gain_map, meta


def ultrahdr_from_pair(
    sdr: SdrImage,
    hdr_pq: np.ndarray,
    scale: int = 4,
    map_quality: int = 85,
    jpeg_quality: int = 95,
    extra_payload: bytes | None = None,
    standard: tuple[np.ndarray, GainMapMetadata] | None = None,
) -> tuple[bytes, dict[str, int]]:
    """Write an Ultra HDR JPEG (RGB gain map at 1/``scale``); returns bytes and part sizes.

    ``extra_payload`` (a gainmlp payload) rides along in APP11 segments of the primary:
    gainmlp prefers it, every other reader uses the standard gain map. ``standard``: that
    map and its metadata when already made (:func:`standard_gain_map` of the same pair
    and scale).
    """
    gain_map, meta = standard or standard_gain_map(sdr, hdr_pq, scale)
    icc = sdr.icc or make_icc_profile(BASE_PRIMARIES[sdr.encoding.primaries])
    data = write_ultrahdr(None, sdr.pixels, icc, gain_map, meta, extra_payload,
                          quality=jpeg_quality, gain_map_quality=map_quality)
    return data, part_sizes(data, extra_payload)


def part_sizes(data: bytes, extra_payload: bytes | None = None) -> dict[str, int]:
    """Bytes of a gain-map JPEG's parts: ``primary`` (the SDR JPEG with its metadata and
    the payload segments, if any), ``gain_map`` and ``payload``."""
    ranges = mpf_image_ranges(data)
    parts = {"primary": ranges[0][1] - ranges[0][0], "gain_map": ranges[1][1] - ranges[1][0]}
    if extra_payload is not None:
        parts["payload"] = len(extra_payload)
    return parts


def replace_gain_map(data: bytes, sdr: SdrImage, hdr_pq: np.ndarray, scale: int,
                     map_quality: int, extra_payload: bytes | None,
                     original: GainMapMetadata | None = None,
                     standard: tuple[np.ndarray, GainMapMetadata] | None = None) -> bytes:
    """A gain-map JPEG with a new standard map of ``hdr_pq`` (1/``scale``, JPEG quality
    ``map_quality``) and an optional payload, keeping the photo's base image bytes, EXIF,
    ICC, IPTC, APP14 and its own primary XMP (only the gain-map fields replaced).

    ``original``: the photo's own map metadata (ISO 21496-1 / hdrgm, not Apple's). Then,
    when the new map would not be smaller than the photo's own map image, that image is
    kept instead, byte for byte with its metadata: a re-encode never grows the standard
    map, and other viewers keep the photo's own rendition. ``standard``: the new map as
    :func:`standard_gain_map` made it (``sdr``, ``hdr_pq``, ``scale``), when already made."""
    from gainmlp.container.gainmap_writer import assemble_gainmap_jpeg
    from gainmlp.container.photo import primary_xmp_of, strip_gain_map
    from gainmlp.io.jpeg import encode_jpeg

    gain_map, meta = standard or standard_gain_map(sdr, hdr_pq, scale)
    gain_jpeg = encode_jpeg(gain_map, int(map_quality), optimize=True, subsampling=0)
    if original is not None:
        ranges = mpf_image_ranges(data) or []
        if len(ranges) > 1:
            own = strip_gain_map(data[ranges[1][0]:ranges[1][1]])
            if len(own) <= len(gain_jpeg):
                gain_jpeg, meta = own, original
    return assemble_gainmap_jpeg(strip_gain_map(data), gain_jpeg, meta, extra_payload,
                                 primary_xmp_of(data))
