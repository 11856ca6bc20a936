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
from gainmlp.memory import charge

# A Huffman-coded JPEG spends at least one bit per 8x8 block and component (progressive
# DC scans included), i.e. at most 512 pixels per byte (the flattest files Pillow writes
# hold about 250); 1024 leaves a margin, and refuses tiny corrupt files that declare huge
# sizes (libjpeg fills a scan cut short with grey) before Pillow allocates them.
# Arithmetic coding (SOF9-SOF15) has no such floor and keeps a wide 8192.
MAX_PIXELS_PER_BYTE = 1024
MAX_PIXELS_PER_BYTE_ARITHMETIC = 8192
_ARITHMETIC_SOF = (0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF)
#: Most scans (SOS markers) a JPEG image may have. libjpeg decodes every scan of a
#: progressive image over the whole image, so a small file of thousands of repeated scans
#: costs minutes; no encoder writes many: libjpeg-turbo's and mozjpeg's progressive scripts
#: have 10 (colour) or 6 (grey) scans, a hand-written script with one scan per coefficient
#: and component at most 3 x 64 = 192 plus refinements. Pillow does not expose
#: libjpeg-turbo's scan limit, so the markers are counted before decoding.
MAX_SCANS = 256
#: Bytes per pixel a decoded JPEG occupies at its peak, charged against the memory budget
#: before decoding: Pillow's image (4 bytes a pixel for RGB, 1 for grey) and the numpy
#: copy of it (3 or 1), with a byte to spare for a CMYK file's conversion.
DECODE_BYTES_PER_PIXEL = {"L": 2, "RGB": 8}
_SOS, _EOI, _SOI, _TEM, _RST0, _RST7 = 0xDA, 0xD9, 0xD8, 0x01, 0xD0, 0xD7


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
    """Refuse a JPEG (opened by Pillow, header only) whose declared size is over the limit,
    out of proportion to its ``data`` (:data:`MAX_PIXELS_PER_BYTE`) or over the memory
    budget (:func:`gainmlp.memory.charge`), or which has more than :data:`MAX_SCANS`
    scans."""
    if im.format not in ("JPEG", "MPO"):  # MPO: Pillow's name for a JPEG with an MPF index
        raise GainMLPError(f"{what} is not a JPEG image")
    check_image_size(im.width, im.height, what)
    try:
        arithmetic = any(s.marker in _ARITHMETIC_SOF for s in parse_segments(data))
    except GainMLPError:
        arithmetic = False
    # FF DA can only be an SOS marker outside segment payloads: few of them, few scans
    scans = count_scans(data) if data.count(b"\xff\xda") > MAX_SCANS else 0
    if scans > MAX_SCANS:
        raise GainMLPError(f"{what} has more than {MAX_SCANS} scans, the limit "
                           "(progressive encoders write about 10)")
    charge(im.width, im.height, DECODE_BYTES_PER_PIXEL["L" if im.mode == "L" else "RGB"],
           what)
    per_byte = MAX_PIXELS_PER_BYTE_ARITHMETIC if arithmetic else MAX_PIXELS_PER_BYTE
    n_bytes = len(data)
    if im.width * im.height > per_byte * max(n_bytes, 1024):
        raise GainMLPError(
            f"{what} declares {im.width}x{im.height} pixels but has only "
            f"{n_bytes} bytes of data"
        )


def count_scans(data: bytes, start: int = 0, stop: int = MAX_SCANS) -> int:
    """Scans (SOS segments) of the JPEG image at ``start``, counted from its markers
    without decoding; counting stops past ``stop`` (enough to refuse it), at the image's
    EOI or at the end of the data. A malformed header counts as one scan (the decoder
    reports it)."""
    try:
        pos = parse_segments(data, start)[-1].end
    except GainMLPError:
        return 1
    n, size = 1, len(data)
    while n <= stop:
        i = data.find(b"\xff", pos)
        if i < 0 or i + 1 >= size:
            break
        b = data[i + 1]
        if b == 0x00 or _RST0 <= b <= _RST7 or b == _TEM:
            pos = i + 2
        elif b == 0xFF:
            pos = i + 1
        elif b in (_EOI, _SOI):
            break
        else:  # a segment between scans: DHT, DQT, DRI, DNL, COM, APPn or the next SOS
            if i + 4 > size:
                break
            n += b == _SOS
            pos = i + 2 + ((data[i + 2] << 8) | data[i + 3])
    return n
