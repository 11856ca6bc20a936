"""Compress and decompress an 8-bit RGB map image as JPEG, HEIC, JPEG XL or AVIF.

Thin wrappers over Pillow (JPEG), pillow-heif (HEIC) and imagecodecs (JPEG XL, AVIF), each
at its library's own notion of ``quality`` (0-100), with the library defaults otherwise,
as the paper did with PIL.

Resizing lives in :mod:`gainmlp.resample`.
"""

from __future__ import annotations

import io
import re

import numpy as np
from PIL import Image

from gainmlp.errors import GainMLPError, check_image_size
from gainmlp.io.jpeg import decode_jpeg, encode_jpeg
from gainmlp.memory import charge

FORMATS = ("jpeg", "heic", "jxl", "avif")
FORMAT_CODE = {"jpeg": 1, "heic": 2, "jxl": 3, "avif": 4}
FORMAT_NAME = {c: n for n, c in FORMAT_CODE.items()}


def compress(rgb: np.ndarray, fmt: str, quality: int) -> bytes:
    """uint8 (H, W, 3) -> compressed bytes."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    if fmt == "jpeg":
        return encode_jpeg(rgb, quality)
    if fmt == "heic":
        import pillow_heif

        heif = pillow_heif.from_bytes(mode="RGB", size=(rgb.shape[1], rgb.shape[0]),
                                      data=rgb.tobytes())
        buf = io.BytesIO()
        heif.save(buf, quality=quality)
        return buf.getvalue()
    if fmt == "jxl":
        import imagecodecs

        return bytes(imagecodecs.jpegxl_encode(rgb, level=quality))
    if fmt == "avif":
        import imagecodecs

        return bytes(imagecodecs.avif_encode(rgb, level=quality))
    raise GainMLPError(f"unknown map image format {fmt!r}")


#: Bytes per pixel a decoded map image occupies at its peak (the library's buffer, the RGB
#: copy), charged against the memory budget before decoding.
DECODE_BYTES_PER_PIXEL = 8
_SHAPE = re.compile(r"(?<!\.)shape=\((\d+), (\d+)")


def declared_size(data: bytes, fmt: str) -> tuple[int, int]:
    """(width, height) the compressed map image declares, read without decoding its
    pixels: Pillow's header for JPEG, pillow-heif's for HEIC; for JPEG XL and AVIF
    imagecodecs is asked to decode into a one-byte buffer, which it refuses, after reading
    the basic image information, naming the shape it needed."""
    if fmt == "jpeg":
        with Image.open(io.BytesIO(data), formats=["JPEG"]) as im:
            return im.size
    if fmt == "heic":
        import pillow_heif

        heif = pillow_heif.open_heif(io.BytesIO(data), convert_hdr_to_8bit=True)
        return heif.size
    if fmt in ("jxl", "avif"):
        import imagecodecs

        decode = imagecodecs.jpegxl_decode if fmt == "jxl" else imagecodecs.avif_decode
        try:
            arr = decode(data, out=np.empty((1, 1, 1), np.uint8))
        except ValueError as exc:
            match = _SHAPE.search(str(exc))
            if match is None:
                raise
            return int(match.group(2)), int(match.group(1))
        return arr.shape[1], arr.shape[0]
    raise GainMLPError(f"unknown map image format {fmt!r}")


def decompress(data: bytes, fmt: str, size: tuple[int, int] | None = None) -> np.ndarray:
    """Compressed bytes -> uint8 (H, W, 3).

    The size the image declares is read first (:func:`declared_size`) and refused, before
    any pixel is decoded, when it is not ``size`` (width, height; the payload's header
    says it), is over the size limit, or does not fit the memory budget."""
    what = f"the {fmt} gain-map image in the payload"
    try:
        width, height = declared_size(data, fmt)
    except GainMLPError:
        raise
    except Exception:
        raise GainMLPError(f"{what} is corrupt") from None
    if size is not None and (width, height) != tuple(size):
        raise GainMLPError(f"{what} declares {width}x{height} pixels, the payload says "
                           f"{size[0]}x{size[1]}")
    check_image_size(width, height, what)
    charge(width, height, DECODE_BYTES_PER_PIXEL, what)
    try:
        if fmt == "jpeg":  # strict: a small map declaring a huge size is refused undecoded
            arr, _ = decode_jpeg(data, "jpeg gain-map image in the payload")
        elif fmt == "heic":
            import pillow_heif

            heif = pillow_heif.open_heif(io.BytesIO(data), convert_hdr_to_8bit=True)
            arr = np.asarray(heif[0].to_pillow().convert("RGB"))
        elif fmt == "jxl":
            import imagecodecs

            arr = imagecodecs.jpegxl_decode(data)
        elif fmt == "avif":
            import imagecodecs

            arr = imagecodecs.avif_decode(data)
        else:
            raise GainMLPError(f"unknown map image format {fmt!r}")
    except GainMLPError:
        raise
    except Exception:
        raise GainMLPError(f"the {fmt} gain-map image in the payload is corrupt") from None
    arr = np.asarray(arr)
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] < 3:
        raise GainMLPError(f"the {fmt} gain-map image is not 8-bit RGB")
    if arr.shape[:2] != (height, width):
        raise GainMLPError(f"{what} decoded to {arr.shape[1]}x{arr.shape[0]} pixels, it "
                           f"declared {width}x{height}")
    return np.ascontiguousarray(arr[:, :, :3])
