"""The conventional gain-map framework (paper §3.1): the paper's baselines.

Encode: residual (gain or gamma map) -> log2 min/max normalisation (eq. 2) -> 8-bit
quantisation -> bicubic downscale by ``scale`` -> image codec at ``quality``.
Decode: image codec -> [0, 1] -> bicubic upscale -> eq. 3 -> eq. 4 or 6 (compiled: all in
one pass over row tiles, ``gainmlp.kernels.gainmap.render_conventional``, bit-identical).

Body layout (little-endian, version 1)::

    offset size field
    0      1    body version = 1
    1      1    map image format (1 jpeg, 2 heic, 3 jxl, 4 avif)
    2      1    downscale factor
    3      1    quality
    4      12   log2 f_min, 3 x f32 (R, G, B)
    16     12   log2 f_max, 3 x f32
    28     2    map width (u16)
    30     2    map height (u16)
    32     n    the compressed map image

The payload byte count is this body plus the 40-byte outer header and CRC.
"""

from __future__ import annotations

import struct

import numpy as np

from gainmlp import paper_residual
from gainmlp.codecs import map_image
from gainmlp.codecs.registry import register_method
from gainmlp.errors import GainMLPError
from gainmlp.resample import resize_bicubic_float, resize_bicubic_u8, scaled_size

BODY_VERSION = 1
_BODY = struct.Struct("<BBBB3f3fHH")
SCALES = (1, 2, 4, 8)


def split_method(method: str) -> tuple[str, str]:
    """'gamma-jpeg' -> ('gamma', 'jpeg')."""
    kind, _, fmt = method.partition("-")
    if kind not in paper_residual.RESIDUAL_KINDS or fmt not in map_image.FORMATS:
        raise GainMLPError(f"{method!r} is not a conventional method")
    return kind, fmt


def quantised_map(kind: str, sdr_pq: np.ndarray, hdr_pq: np.ndarray, eps: float):
    """Residual normalised by eq. 2 and quantised to 8 bits; with its log2 bounds."""
    f = paper_residual.compute(kind, hdr_pq, sdr_pq, eps)
    lo, hi = paper_residual.log2_bounds(f)
    q = np.round(paper_residual.normalise(f, lo, hi) * 255.0).astype(np.uint8)
    return q, lo.astype(np.float32), hi.astype(np.float32)


def encode_map(method: str, sdr_pq: np.ndarray, hdr_pq: np.ndarray, eps: float, options) -> bytes:
    kind, fmt = split_method(method)
    if options.scale not in SCALES:
        raise GainMLPError(f"--scale must be one of {SCALES}, not {options.scale}")
    if not 1 <= options.quality <= 100:
        raise GainMLPError(f"--quality must be in 1..100, not {options.quality}")
    height, width = sdr_pq.shape[:2]
    q, lo, hi = quantised_map(kind, sdr_pq, hdr_pq, eps)
    mw, mh = scaled_size(width, height, options.scale)
    small = q if (mw, mh) == (width, height) else resize_bicubic_u8(q, mw, mh)
    image = map_image.compress(small, fmt, options.quality)
    head = _BODY.pack(BODY_VERSION, map_image.FORMAT_CODE[fmt], options.scale, options.quality,
                      *lo, *hi, mw, mh)
    return head + image


def decode_map(method: str, body: bytes, sdr_pq: np.ndarray, eps: float,
               view=None) -> np.ndarray:
    """The HDR rendition from a conventional body; ``view`` (:class:`gainmlp.view.View`):
    the part of the original frame the SDR shows. The map covers the original frame, so
    with a view it is resampled over the view's crop box (Pillow's bicubic on the box) to
    the crop's size, then turned to the base's orientation."""
    kind, fmt = split_method(method)
    if len(body) < _BODY.size:
        raise GainMLPError("gain-map body is truncated")
    version, fmt_code, _scale, _quality, *rest = _BODY.unpack_from(body)
    lo, hi, (mw, mh) = np.array(rest[:3]), np.array(rest[3:6]), rest[6:]
    if version != BODY_VERSION:
        raise GainMLPError(f"gain-map body version {version} is not supported")
    if map_image.FORMAT_NAME.get(fmt_code) != fmt:
        raise GainMLPError(f"gain-map body holds format code {fmt_code}, method says {fmt}")
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi)) and np.all(hi > lo)
            and np.all(np.abs(np.concatenate([lo, hi])) < 64)):
        raise GainMLPError("gain-map body has invalid normalisation bounds")
    height, width = sdr_pq.shape[:2]
    if view is not None:
        return _decode_view(kind, body[_BODY.size:], fmt, (mw, mh), lo, hi, sdr_pq, eps, view)
    if mw > width or mh > height:
        raise GainMLPError(f"gain map {mw}x{mh} is larger than the image {width}x{height}")
    small = map_image.decompress(body[_BODY.size:], fmt, (mw, mh))
    if small.shape[:2] != (mh, mw):
        raise GainMLPError(f"gain-map image is {small.shape[1]}x{small.shape[0]}, "
                           f"header says {mw}x{mh}")
    from gainmlp import kernels

    if kernels.compiled():  # resize and eqs. 3-6 in one pass, the same values
        if not 0.0 < eps < 0.5:
            raise GainMLPError(f"offset eps={eps} must be in (0, 0.5)")
        from gainmlp.kernels.gainmap import render_conventional

        return render_conventional(sdr_pq, small, lo, hi, eps, kind)
    f_norm = small.astype(np.float32) / 255.0
    if (mw, mh) != (width, height):
        f_norm = np.clip(resize_bicubic_float(f_norm, width, height), 0.0, 1.0)
    f = paper_residual.denormalise(f_norm, lo, hi)
    return paper_residual.reconstruct(kind, sdr_pq, f, eps).astype(np.float32)


def _decode_view(kind: str, image: bytes, fmt: str, size: tuple[int, int], lo: np.ndarray,
                 hi: np.ndarray, sdr_pq: np.ndarray, eps: float, view) -> np.ndarray:
    from gainmlp.view import orient_array

    mw, mh = size
    small = map_image.decompress(image, fmt, size)
    if small.shape[:2] != (mh, mw):
        raise GainMLPError(f"gain-map image is {small.shape[1]}x{small.shape[0]}, "
                           f"header says {mw}x{mh}")
    height, width = sdr_pq.shape[:2]
    cw, ch = view.crop_size(width, height)
    box = (view.x0 * mw, view.y0 * mh, view.x1 * mw, view.y1 * mh)
    f_norm = np.clip(resize_bicubic_float(small.astype(np.float32) / 255.0, cw, ch, box),
                     0.0, 1.0)
    f = paper_residual.denormalise(np.ascontiguousarray(orient_array(f_norm, view.orientation)),
                                   lo, hi)
    return paper_residual.reconstruct(kind, sdr_pq, f, eps).astype(np.float32)


_CODES = {("gain", "jpeg"): 1, ("gamma", "jpeg"): 2, ("gain", "heic"): 3, ("gamma", "heic"): 4,
          ("gain", "jxl"): 5, ("gamma", "jxl"): 6, ("gain", "avif"): 7, ("gamma", "avif"): 8}
for (_kind, _fmt), _code in _CODES.items():
    register_method(f"{_kind}-{_fmt}", code=_code, family="conventional", residual=_kind,
                    encoder=f"{__name__}:encode_map", decoder=f"{__name__}:decode_map",
                    summary=f"{_kind} map as a downscaled 8-bit {_fmt} image (paper §3.1)")
