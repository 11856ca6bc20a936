"""SDR images in and out: 8-bit PNG / TIFF / JPEG pixels and how to read them.

Default reading: BT.709, 2.4 gamma, 100 cd/m2 white. An embedded ICC profile that
:func:`gainmlp.container.icc.identify_icc` recognises overrides the primaries, with the
transfer function :data:`SDR_TRANSFER` gives them; explicit arguments (CLI flags)
override both.
"""

from __future__ import annotations

import io
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

from gainmlp.colorimetry import SdrEncoding
from gainmlp.container.icc import identify_icc
from gainmlp.errors import GainMLPError, warn
from gainmlp.image import SdrImage
from gainmlp.io.files import atomic_write, open_image, read_bytes
from gainmlp.io.jpeg import check_declared_size, encode_jpeg
from gainmlp.io.png import CICP_TRANSFERS, png_header
from gainmlp.memory import charge

SDR_EXTENSIONS = (".png", ".tif", ".tiff", ".jpg", ".jpeg")
# Transfer function assumed for the primaries an ICC profile declares: sRGB and Display P3
# profiles carry the sRGB curve; BT.2020 and BT.709 SDR is read as 2.4 gamma (BT.1886).
SDR_TRANSFER = {"srgb": "srgb", "p3": "srgb", "bt2020": "gamma2.4", "bt709": "gamma2.4"}


def encoding_from_icc(icc: bytes | None) -> SdrEncoding | None:
    """The SDR encoding an ICC profile declares (see :data:`SDR_TRANSFER`), or None."""
    if not icc:
        return None
    try:
        primaries, desc = identify_icc(icc)
    except GainMLPError:
        warn("embedded ICC profile is unreadable; using the default SDR encoding")
        return None
    if primaries is None:
        warn(f"ICC profile {desc!r} is not one gainmlp knows; reading the SDR as BT.709 2.4 "
             "gamma")
        return None
    # a description that names the sRGB curve (e.g. our own BT.2020 base profile) wins
    transfer = "srgb" if "srgb" in desc else SDR_TRANSFER[primaries]
    return SdrEncoding(primaries=primaries, transfer=transfer)


def decode_sdr_bytes(data: bytes, name: str = "SDR image") -> SdrImage:
    """8-bit SDR image bytes -> pixels, encoding (from ICC or default) and ICC bytes."""
    img = open_image(data, name)
    if img.format in ("JPEG", "MPO"):  # a small file declaring a huge size: before decoding
        check_declared_size(img, data, name)  # also charges the memory budget
    else:  # Pillow's image (4 bytes a pixel), a conversion to RGB (4) and the copy (3)
        charge(img.width, img.height, 12, name)
    png = png_header(data) if img.format == "PNG" else None
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F") or (png and png[2] == 16):
        raise GainMLPError(f"{name}: is a 16-bit image; the SDR must be 8-bit")
    if png and png[3] is not None and len(png[3]) == 4 and png[3][1] in CICP_TRANSFERS:
        raise GainMLPError(f"{name}: its cICP chunk marks it HDR ({CICP_TRANSFERS[png[3][1]]}"
                           "); give it as the HDR image, not the SDR")
    icc = img.info.get("icc_profile")
    try:
        if img.mode != "RGB":
            img = img.convert("RGB")
        arr = np.array(img, dtype=np.uint8)  # decodes; one writable copy of the pixels
    except Exception:
        raise GainMLPError(f"{name}: image data is corrupt or truncated") from None
    enc = encoding_from_icc(icc) or SdrEncoding()
    return SdrImage(arr, enc, icc)


def read_sdr(
    path: str | os.PathLike,
    primaries: str | None = None,
    transfer: str | None = None,
    white_nits: float | None = None,
) -> SdrImage:
    """Read an 8-bit SDR image; explicit arguments override ICC and defaults."""
    name = str(path)
    if Path(path).suffix.lower() not in SDR_EXTENSIONS:
        raise GainMLPError(f"{name}: unsupported SDR format (use PNG, TIFF or JPEG)")
    sdr = decode_sdr_bytes(read_bytes(path), name)
    overrides = {
        k: v
        for k, v in (("primaries", primaries), ("transfer", transfer), ("white_nits", white_nits))
        if v is not None
    }
    if overrides:
        sdr.encoding = replace(sdr.encoding, **overrides)
    return sdr


def write_sdr_png(path: str | os.PathLike, pixels: np.ndarray, icc: bytes | None = None) -> None:
    """An 8-bit RGB PNG of the SDR, with ``icc`` embedded when given (atomically)."""
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8), "RGB").save(
        buf, format="PNG", icc_profile=icc
    )
    atomic_write(path, buf.getvalue())


def encode_sdr_jpeg(pixels: np.ndarray, quality: int = 95, icc: bytes | None = None) -> bytes:
    """A standard baseline JPEG of the SDR (4:2:0 below quality 90, 4:4:4 from 90)."""
    return encode_jpeg(pixels, quality, icc=icc, optimize=True,
                       subsampling=0 if quality >= 90 else 2)
