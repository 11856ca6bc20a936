"""Reading and writing SDR and HDR images (file formats only; colour math is elsewhere).

Readers return pixels plus how to interpret them; every reader checks the size a header
claims before it decodes, and turns codec failures into :class:`GainMLPError`.

* SDR in: 8-bit PNG / TIFF / JPEG. Default reading: BT.709, 2.4 gamma, 100 cd/m2 white;
  an embedded ICC profile naming sRGB or Display P3 overrides it, and CLI flags override both.
* HDR in: OpenEXR (linear, ``1.0 = exr_white_nits`` cd/m2, 100 by default; the
  ``chromaticities`` attribute is honoured; RGB, RGBA and Y/RY/BY files), Radiance .hdr
  (same scale), 16-bit PNG / TIFF holding BT.2020 PQ code values (a PNG cICP chunk is honoured).
* HDR out: 16-bit PNG PQ BT.2020 with a cICP chunk, 16-bit TIFF PQ, AVIF 10/12-bit PQ
  with CICP 9/16/9, OpenEXR linear half-float BT.2020 with ``1.0 = exr_white_nits`` cd/m2.

Outputs are written to a temporary file in the target folder and renamed into place, so an
error never leaves a half-written file.
"""

from __future__ import annotations

import io
import os
import struct
import tempfile
import zlib
from dataclasses import replace
from pathlib import Path

import colour
import numpy as np
from PIL import Image, ImageCms

from gainmlp import colorimetry
from gainmlp.colorimetry import SdrEncoding
from gainmlp.errors import GainMLPError, check_image_size, warn
from gainmlp.image import SdrImage

Image.MAX_IMAGE_PIXELS = None  # we check sizes ourselves, before decoding

DEFAULT_EXR_WHITE_NITS = 100.0
SDR_EXTENSIONS = (".png", ".tif", ".tiff", ".jpg", ".jpeg")
HDR_EXTENSIONS = (".exr", ".hdr", ".png", ".tif", ".tiff")
HDR_OUT_EXTENSIONS = (".png", ".avif", ".exr", ".tif", ".tiff")

# ITU-T H.273 code points
CICP_PRIMARIES = {1: "bt709", 9: "bt2020", 12: "p3"}
CICP_PQ = 16


# ---------------------------------------------------------------- helpers


def _read_bytes(path: str | os.PathLike) -> bytes:
    p = Path(path)
    if not p.exists():
        raise GainMLPError(f"{p}: no such file")
    if p.is_dir():
        raise GainMLPError(f"{p}: is a folder, not an image")
    try:
        return p.read_bytes()
    except OSError as exc:
        raise GainMLPError(f"{p}: cannot read ({exc.strerror})") from None


def atomic_write(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    p = Path(path)
    folder = p.parent if str(p.parent) else Path(".")
    if not folder.is_dir():
        raise GainMLPError(f"{p}: folder {folder} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".part", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, payload) of each PNG chunk up to IDAT, with bounds checks."""
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        raise GainMLPError("not a PNG file")
    chunks, pos = [], 8
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        if pos + 12 + length > len(data):
            raise GainMLPError("PNG is truncated")
        chunks.append((kind, data[pos + 8 : pos + 8 + length]))
        if len(chunks) == 1 and kind == b"IHDR" and length == 13:
            check_image_size(*struct.unpack(">II", chunks[0][1][:8]), "PNG")
        if kind in (b"IDAT", b"IEND"):
            break
        pos += 12 + length
    if not chunks or chunks[0][0] != b"IHDR" or len(chunks[0][1]) != 13:
        raise GainMLPError("PNG has no valid IHDR header")
    return chunks


def _png_header(data: bytes) -> tuple[int, int, int, bytes | None]:
    """(width, height, bit depth, cICP payload or None) from a PNG's header chunks."""
    chunks = _png_chunks(data)
    width, height, depth = struct.unpack(">IIB", chunks[0][1][:9])
    check_image_size(width, height, "PNG")
    cicp = next((body for kind, body in chunks if kind == b"cICP"), None)
    return width, height, depth, cicp


def _png_with_chunk(png: bytes, kind: bytes, body: bytes) -> bytes:
    """Insert a chunk right after IHDR (where cICP belongs: before PLTE and IDAT)."""
    ihdr_end = 8 + 12 + 13
    chunk = struct.pack(">I", len(body)) + kind + body
    chunk += struct.pack(">I", zlib.crc32(kind + body))
    return png[:ihdr_end] + chunk + png[ihdr_end:]


def _open_pil(data: bytes, name: str) -> Image.Image:
    try:
        img = Image.open(io.BytesIO(data))
    except Exception:
        raise GainMLPError(f"{name}: not a readable image (corrupt or unsupported)") from None
    check_image_size(img.width, img.height, name)
    return img


def _rgb_from_array(arr: np.ndarray, name: str) -> np.ndarray:
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise GainMLPError(f"{name}: expected an RGB image, got shape {arr.shape}")
    return arr[:, :, :3]


# ---------------------------------------------------------------- SDR


def encoding_from_icc(icc: bytes | None) -> SdrEncoding | None:
    """The SDR encoding an ICC profile names (sRGB or Display P3), or None if unknown."""
    if not icc:
        return None
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        desc = ImageCms.getProfileDescription(profile).lower()
    except Exception:
        warn("embedded ICC profile is unreadable; using the default SDR encoding")
        return None
    if "p3" in desc:
        return SdrEncoding(primaries="p3", transfer="srgb")
    if "srgb" in desc or "iec61966" in desc:
        return SdrEncoding(primaries="srgb", transfer="srgb")
    if "2020" in desc:
        return SdrEncoding(primaries="bt2020", transfer="gamma2.4")
    if "709" in desc:
        return SdrEncoding(primaries="bt709", transfer="gamma2.4")
    warn(f"ICC profile {desc!r} is not one gainmlp knows; reading the SDR as BT.709 2.4 gamma")
    return None


def decode_sdr_bytes(data: bytes, name: str = "SDR image") -> SdrImage:
    """8-bit SDR image bytes -> pixels, encoding (from ICC or default) and ICC bytes."""
    img = _open_pil(data, name)
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F") or (
        img.format == "PNG" and _png_header(data)[2] == 16
    ):
        raise GainMLPError(f"{name}: is a 16-bit image; the SDR must be 8-bit")
    icc = img.info.get("icc_profile")
    try:
        arr = np.asarray(img.convert("RGB"), dtype=np.uint8)
    except Exception:
        raise GainMLPError(f"{name}: image data is corrupt or truncated") from None
    enc = encoding_from_icc(icc) or SdrEncoding()
    return SdrImage(arr.copy(), enc, icc)


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
    sdr = decode_sdr_bytes(_read_bytes(path), name)
    overrides = {
        k: v
        for k, v in (("primaries", primaries), ("transfer", transfer), ("white_nits", white_nits))
        if v is not None
    }
    if overrides:
        sdr.encoding = replace(sdr.encoding, **overrides)
    return sdr


def write_sdr_png(path: str | os.PathLike, pixels: np.ndarray, icc: bytes | None = None) -> None:
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8), "RGB").save(
        buf, format="PNG", icc_profile=icc
    )
    atomic_write(path, buf.getvalue())


def encode_sdr_jpeg(pixels: np.ndarray, quality: int = 95, icc: bytes | None = None) -> bytes:
    """A standard baseline JPEG of the SDR (4:2:0 below quality 90, 4:4:4 from 90)."""
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8), "RGB").save(
        buf, format="JPEG", quality=quality, subsampling=0 if quality >= 90 else 2,
        icc_profile=icc, optimize=True,
    )
    return buf.getvalue()


# ---------------------------------------------------------------- HDR in


def sanitise_hdr(values: np.ndarray, name: str) -> np.ndarray:
    """Replace NaN/Inf/negative values (with one warning saying how many)."""
    bad_nan = ~np.isfinite(values)
    bad_neg = values < 0
    n_nan, n_neg = int(bad_nan.sum()), int((bad_neg & ~bad_nan).sum())
    if n_nan or n_neg:
        warn(f"{name}: replaced {n_nan} NaN/Inf and {n_neg} negative values with 0")
        values = np.where(bad_nan | bad_neg, 0.0, values)
    return values


def _exr_to_bt2020(rgb: np.ndarray, chromaticities) -> np.ndarray:
    if chromaticities is None:
        return colorimetry.convert_primaries(rgb, "bt709", "bt2020")  # OpenEXR default: 709
    c = np.asarray(chromaticities, dtype=np.float64).reshape(4, 2)
    space = colour.RGB_Colourspace("EXR", c[:3], c[3], use_derived_matrix_RGB_to_XYZ=True,
                                   use_derived_matrix_XYZ_to_RGB=True)
    target = colour.RGB_COLOURSPACES[colorimetry.PRIMARIES["bt2020"]]
    return colour.RGB_to_RGB(rgb, space, target, chromatic_adaptation_transform="Bradford")


def _exr_yca_to_rgb(channels: dict, chromaticities) -> np.ndarray:
    """Luminance-chroma (Y, RY, BY) channels -> RGB, as OpenEXR's RgbaYca defines them."""
    y = np.asarray(channels["Y"], dtype=np.float64)
    h, w = y.shape

    def full(c: np.ndarray) -> np.ndarray:
        c = np.asarray(c, dtype=np.float64)
        if c.shape != (h, w):  # sub-sampled chroma: nearest upsampling
            ry, rx = -(-h // c.shape[0]), -(-w // c.shape[1])
            c = np.repeat(np.repeat(c, ry, axis=0), rx, axis=1)[:h, :w]
        return c

    if "RY" not in channels or "BY" not in channels:
        return np.repeat(y[:, :, None], 3, axis=2)
    c = (np.asarray(chromaticities, dtype=np.float64).reshape(4, 2) if chromaticities is not None
         else np.array([[0.64, 0.33], [0.3, 0.6], [0.15, 0.06], [0.3127, 0.329]]))
    weights = colour.normalised_primary_matrix(c[:3], c[3])[1]
    r = (full(channels["RY"]) + 1.0) * y
    b = (full(channels["BY"]) + 1.0) * y
    g = (y - r * weights[0] - b * weights[2]) / weights[1]
    return np.stack([r, g, b], axis=-1)


def read_exr_linear(path: str | os.PathLike) -> np.ndarray:
    """OpenEXR -> linear BT.2020 RGB float32 in the file's own units (no scaling)."""
    import OpenEXR

    name = str(path)
    _read_bytes(path)[:0]  # existence / readability errors first
    try:
        head = OpenEXR.File(name, header_only=True).header()
    except Exception:
        raise GainMLPError(f"{name}: not a readable OpenEXR file") from None
    lo, hi = head.get("dataWindow", (np.zeros(2), np.zeros(2)))
    check_image_size(int(hi[0] - lo[0] + 1), int(hi[1] - lo[1] + 1), name)
    try:
        exr = OpenEXR.File(name, separate_channels=True)
        channels = {k: v.pixels for k, v in exr.channels().items()}
    except Exception:
        raise GainMLPError(f"{name}: OpenEXR data is corrupt or truncated") from None
    chroma = head.get("chromaticities")
    if all(k in channels for k in "RGB"):
        rgb = np.stack([np.asarray(channels[k], dtype=np.float64) for k in "RGB"], axis=-1)
    elif "Y" in channels:
        rgb = _exr_yca_to_rgb(channels, chroma)
    else:
        raise GainMLPError(f"{name}: OpenEXR has no R,G,B or Y channels ({sorted(channels)})")
    rgb = sanitise_hdr(rgb, name)
    return np.maximum(_exr_to_bt2020(rgb, chroma), 0.0).astype(np.float32)


def read_radiance_linear(path: str | os.PathLike) -> np.ndarray:
    """Radiance RGBE .hdr -> linear BT.2020 RGB float32 (file assumed BT.709 primaries)."""
    import imagecodecs

    name = str(path)
    data = _read_bytes(path)
    try:
        header = data[: data.find(b"\n\n") + 2 + 64].split(b"\n\n", 1)[1].split(b"\n", 1)[0]
        dims = header.split()
        h, w = int(dims[1]), int(dims[3])
    except (IndexError, ValueError):
        raise GainMLPError(f"{name}: not a Radiance RGBE (.hdr) file") from None
    check_image_size(w, h, name)
    try:
        rgb = imagecodecs.rgbe_decode(data).astype(np.float64)
    except Exception:
        raise GainMLPError(f"{name}: Radiance data is corrupt or truncated") from None
    rgb = sanitise_hdr(rgb, name)
    return np.maximum(colorimetry.convert_primaries(rgb, "bt709", "bt2020"), 0).astype(np.float32)


def read_hdr_linear(path: str | os.PathLike) -> np.ndarray:
    """Scene/display-linear HDR (EXR or .hdr) as BT.2020 RGB float32, file units."""
    ext = Path(path).suffix.lower()
    if ext == ".exr":
        return read_exr_linear(path)
    if ext == ".hdr":
        return read_radiance_linear(path)
    raise GainMLPError(f"{path}: a linear HDR image must be .exr or .hdr")


def _decode_16bit(data: bytes, name: str, ext: str) -> tuple[np.ndarray, str]:
    """16-bit PNG/TIFF -> (uint16 RGB, primaries name from cICP or bt2020)."""
    import imagecodecs

    primaries = "bt2020"
    if ext == ".png":
        width, height, depth, cicp = _png_header(data)
        check_image_size(width, height, name)
        if depth != 16:
            raise GainMLPError(f"{name}: is {depth}-bit; an HDR PNG must be 16-bit PQ")
        if cicp is not None and len(cicp) == 4:
            if cicp[1] != CICP_PQ:
                raise GainMLPError(f"{name}: cICP transfer {cicp[1]} is not PQ (16)")
            if cicp[0] not in CICP_PRIMARIES:
                raise GainMLPError(f"{name}: cICP primaries {cicp[0]} are not supported")
            primaries = CICP_PRIMARIES[cicp[0]]
        try:
            arr = imagecodecs.png_decode(data)
        except Exception:
            raise GainMLPError(f"{name}: PNG data is corrupt or truncated") from None
    else:
        img = _open_pil(data, name)  # header only: size check before decoding
        del img
        try:
            arr = imagecodecs.tiff_decode(data)
        except Exception:
            raise GainMLPError(f"{name}: TIFF data is corrupt or unsupported") from None
        if arr.dtype != np.uint16:
            raise GainMLPError(f"{name}: is {arr.dtype.itemsize * 8}-bit; HDR TIFF must be 16-bit")
    return _rgb_from_array(arr, name), primaries


def read_hdr(path: str | os.PathLike, exr_white_nits: float = DEFAULT_EXR_WHITE_NITS) -> np.ndarray:
    """Read any supported HDR image as PQ BT.2020 code values, float32 (H, W, 3) in [0, 1]."""
    name = str(path)
    ext = Path(path).suffix.lower()
    if ext not in HDR_EXTENSIONS:
        raise GainMLPError(f"{name}: unsupported HDR format (use EXR, .hdr, 16-bit PNG/TIFF)")
    if ext in (".exr", ".hdr"):
        return colorimetry.linear_to_pq_bt2020(read_hdr_linear(path) * exr_white_nits)
    arr, primaries = _decode_16bit(_read_bytes(path), name, ext)
    pq = arr.astype(np.float32) / 65535.0
    if primaries != "bt2020":
        pq = colorimetry.linear_to_pq_bt2020(colorimetry.pq_decode(pq), primaries)
    return pq


# ---------------------------------------------------------------- HDR out


def _to_u16(pq: np.ndarray) -> np.ndarray:
    return np.round(np.clip(pq, 0.0, 1.0) * 65535.0).astype(np.uint16)


def encode_hdr_png(pq: np.ndarray) -> bytes:
    """16-bit PNG of PQ BT.2020 code values with cICP (9, 16, 0, 1)."""
    import imagecodecs

    png = imagecodecs.png_encode(_to_u16(pq), level=6)
    return _png_with_chunk(bytes(png), b"cICP", bytes([9, CICP_PQ, 0, 1]))


def encode_hdr_avif(pq: np.ndarray, bits: int = 10, quality: int = 90) -> bytes:
    """AVIF 10- or 12-bit, PQ BT.2020 (CICP 9/16/9), 4:4:4."""
    import imagecodecs

    if bits not in (10, 12):
        raise GainMLPError(f"AVIF bit depth must be 10 or 12, not {bits}")
    top = (1 << bits) - 1
    data = np.round(np.clip(pq, 0.0, 1.0) * top).astype(np.uint16)
    return bytes(
        imagecodecs.avif_encode(
            data, level=quality, bitspersample=bits, pixelformat="444",
            primaries=9, transfer=16, matrix=9, speed=6,
        )
    )


def encode_hdr_exr(pq: np.ndarray, white_nits: float = DEFAULT_EXR_WHITE_NITS) -> bytes:
    """Linear BT.2020 half-float EXR with chromaticities; 1.0 = ``white_nits`` cd/m2."""
    import OpenEXR

    linear = (colorimetry.pq_decode(pq) / white_nits).astype(np.float16)
    c = colour.RGB_COLOURSPACES[colorimetry.PRIMARIES["bt2020"]]
    chroma = tuple(float(v) for v in np.concatenate([c.primaries.ravel(), c.whitepoint]))
    header = {
        "compression": OpenEXR.ZIP_COMPRESSION,
        "type": OpenEXR.scanlineimage,
        "chromaticities": chroma,
        "whiteLuminance": float(white_nits),
    }
    with tempfile.TemporaryDirectory() as tmp:
        target = os.path.join(tmp, "out.exr")
        OpenEXR.File(header, {"RGB": OpenEXR.Channel(np.ascontiguousarray(linear))}).write(target)
        return Path(target).read_bytes()


def encode_hdr_tiff(pq: np.ndarray) -> bytes:
    import imagecodecs

    return bytes(imagecodecs.tiff_encode(_to_u16(pq)))


def write_hdr(path: str | os.PathLike, pq: np.ndarray, avif_bits: int = 10,
              exr_white_nits: float = DEFAULT_EXR_WHITE_NITS) -> None:
    """Write PQ BT.2020 code values in the format the extension names (atomically)."""
    ext = Path(path).suffix.lower()
    if ext == ".png":
        data = encode_hdr_png(pq)
    elif ext == ".avif":
        data = encode_hdr_avif(pq, avif_bits)
    elif ext == ".exr":
        data = encode_hdr_exr(pq, exr_white_nits)
    elif ext in (".tif", ".tiff"):
        data = encode_hdr_tiff(pq)
    else:
        raise GainMLPError(f"{path}: HDR output must end in {', '.join(HDR_OUT_EXTENSIONS)}")
    atomic_write(path, data)
