"""JPEG pixels in and out, through Pillow: the one place gainmlp encodes or decodes a JPEG.

The SDR base of a photo (:func:`gainmlp.io.sdr.encode_sdr_jpeg`), the images of an Ultra
HDR file (:mod:`gainmlp.container.gainmap_jpeg`) and the JPEG map images inside payloads
(:mod:`gainmlp.codecs.map_image`) all go through :func:`encode_jpeg` and
:func:`decode_jpeg`. Each caller passes the Pillow settings it has always used, and only
those: a setting left at None is not passed to Pillow at all, so Pillow's own default
applies and the bytes written stay what they were.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from gainmlp.container.segments import parse_segments
from gainmlp.errors import GainMLPError, check_image_size

# A Huffman-coded JPEG spends at least one bit per 8x8 block and component (progressive
# DC scans included), i.e. at most 512 pixels per byte (the flattest files Pillow writes
# hold about 250); 1024 leaves a margin, and refuses tiny corrupt files that declare huge
# sizes (libjpeg fills a scan cut short with grey) before Pillow allocates them.
# Arithmetic coding (SOF9-SOF15) has no such floor and keeps a wide 8192.
MAX_PIXELS_PER_BYTE = 1024
MAX_PIXELS_PER_BYTE_ARITHMETIC = 8192
_ARITHMETIC_SOF = (0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF)


def encode_jpeg(
    pixels: np.ndarray,
    quality: int,
    *,
    icc: bytes | None = None,
    optimize: bool = False,
    subsampling: int | None = None,
) -> bytes:
    """8-bit (H, W) grey or (H, W, 3) RGB pixels -> baseline JPEG bytes.

    ``subsampling`` is Pillow's code (0 = 4:4:4, 1 = 4:2:2, 2 = 4:2:0); None leaves
    Pillow's default. ``icc`` is embedded when given; ``optimize`` asks for optimised
    Huffman tables.
    """
    arr = np.ascontiguousarray(pixels, dtype=np.uint8)
    image = Image.fromarray(arr, "L" if arr.ndim == 2 else "RGB")
    options: dict[str, object] = {"quality": quality}
    if optimize:
        options["optimize"] = True
    if subsampling is not None:
        options["subsampling"] = subsampling
    if icc:
        options["icc_profile"] = icc
    buf = io.BytesIO()
    image.save(buf, "JPEG", **options)
    return buf.getvalue()


def decode_jpeg(data: bytes, what: str = "JPEG image", *, strict: bool = True
                ) -> tuple[np.ndarray, str]:
    """JPEG bytes -> (uint8 pixels, Pillow mode of the stored image).

    Grey (``L``) images come back as (H, W), everything else as (H, W, 3) RGB.

    ``strict`` (for untrusted files): only JPEG is accepted, the declared size is checked
    against the size limit and against the amount of data before any pixel is decoded,
    and every failure is a one-line :class:`GainMLPError` naming ``what``. With
    ``strict=False`` whatever Pillow recognises is decoded and Pillow's exceptions reach
    the caller, which words its own error.
    """
    try:
        with Image.open(io.BytesIO(data), formats=["JPEG"] if strict else None) as im:
            if strict:
                check_declared_size(im, data, what)
            mode = im.mode
            if mode not in ("L", "RGB"):
                im = im.convert("RGB")
            im.load()
            arr = np.asarray(im)
    except GainMLPError:
        raise
    except Exception as exc:  # noqa: BLE001 - Pillow raises many types on corrupt data
        if not strict:
            raise
        raise GainMLPError(f"cannot decode {what}: {type(exc).__name__}: {exc}") from exc
    if strict and (arr.dtype != np.uint8 or arr.ndim not in (2, 3)):
        raise GainMLPError(f"{what} decoded to an unexpected {arr.dtype} array {arr.shape}")
    return arr, mode


def check_declared_size(im: Image.Image, data: bytes, what: str) -> None:
    """Refuse a JPEG (opened by Pillow, header only) whose declared size is over the limit
    or out of proportion to its ``data`` (:data:`MAX_PIXELS_PER_BYTE`)."""
    if im.format not in ("JPEG", "MPO"):  # MPO: Pillow's name for a JPEG with an MPF index
        raise GainMLPError(f"{what} is not a JPEG image")
    check_image_size(im.width, im.height, what)
    try:
        arithmetic = any(s.marker in _ARITHMETIC_SOF for s in parse_segments(data))
    except GainMLPError:
        arithmetic = False
    per_byte = MAX_PIXELS_PER_BYTE_ARITHMETIC if arithmetic else MAX_PIXELS_PER_BYTE
    n_bytes = len(data)
    if im.width * im.height > per_byte * max(n_bytes, 1024):
        raise GainMLPError(
            f"{what} declares {im.width}x{im.height} pixels but has only "
            f"{n_bytes} bytes of data"
        )
