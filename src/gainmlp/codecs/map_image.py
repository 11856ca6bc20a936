"""Compress and decompress an 8-bit RGB map image as JPEG, HEIC, JPEG XL or AVIF.

Thin wrappers over Pillow (JPEG), pillow-heif (HEIC) and imagecodecs (JPEG XL, AVIF), each
at its library's own notion of ``quality`` (0-100), with the library defaults otherwise,
as the paper did with PIL.

Resizing lives in :mod:`gainmlp.resample`.
"""

from __future__ import annotations

import io

import numpy as np

from gainmlp.errors import GainMLPError
from gainmlp.io.jpeg import decode_jpeg, encode_jpeg

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


def decompress(data: bytes, fmt: str) -> np.ndarray:
    """Compressed bytes -> uint8 (H, W, 3)."""
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
    return np.ascontiguousarray(arr[:, :, :3])

