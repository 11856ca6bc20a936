"""HDR images in and out. Pixels in memory are PQ (SMPTE ST 2084) BT.2020 code values.

* In: OpenEXR (linear, ``1.0 = exr_white_nits`` cd/m2, 100 by default; the
  ``chromaticities`` attribute is honoured; RGB, RGBA and Y/RY/BY files), Radiance .hdr
  (same scale), 16-bit PNG / TIFF holding PQ code values (a PNG cICP chunk is honoured).
* Out: 16-bit PNG PQ BT.2020 with a cICP chunk, 16-bit TIFF PQ, AVIF 10/12-bit PQ with
  CICP 9/16/9, OpenEXR linear half-float BT.2020 with ``1.0 = exr_white_nits`` cd/m2
  (from PQ code values, :func:`write_hdr`, so at most 10,000 cd/m2; or from linear light,
  :func:`write_hdr_linear`, unclipped up to half-float's 65,504 x ``exr_white_nits``).

Readers check the size a header claims before decoding and turn codec failures into
:class:`GainMLPError`; NaN, infinite and negative values are replaced with a warning.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from gainmlp import colorimetry
from gainmlp.colourspaces import COLOURSPACES, colour_science
from gainmlp.errors import GainMLPError, check_image_size, warn
from gainmlp.io.files import atomic_write
from gainmlp.io.png import CICP_PQ, cicp_to_pq_bt2020, png_header, png_with_chunk, read_cicp
from gainmlp.io.reading import open_image, radiance_size, read_bytes
from gainmlp.memory import charge

DEFAULT_EXR_WHITE_NITS = 100.0
#: cd/m2 that 1.0 may mean in an EXR / .hdr file (``--exr-white``): finite and positive
#: (0 wrote +inf, NaN wrote NaN, a negative value black), from 1.0 = 0.01 cd/m2 to
#: 1.0 = 100,000 cd/m2 (ten times PQ's peak).
EXR_WHITE_RANGE = (0.01, 100_000.0)


def check_exr_white(white_nits: float) -> float:
    """``white_nits`` as a float, or a one-line error outside :data:`EXR_WHITE_RANGE`."""
    from gainmlp.options import check_range

    check_range("exr_white", white_nits, *EXR_WHITE_RANGE, flag="--exr-white")
    return float(white_nits)
HDR_EXTENSIONS = (".exr", ".hdr", ".png", ".tif", ".tiff")
HDR_OUT_EXTENSIONS = (".png", ".avif", ".exr", ".tif", ".tiff")
#: Peak bytes per pixel of reading each HDR input into float32 PQ (the decoded channels,
#: the float64 arithmetic of sanitising and converting primaries, the result), charged
#: against the memory budget before decoding (:func:`gainmlp.memory.charge`).
DECODE_BYTES_PER_PIXEL = {"exr": 72, "hdr": 72, "16-bit": 32}


def _rgb_from_array(arr: np.ndarray, name: str) -> np.ndarray:
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise GainMLPError(f"{name}: expected an RGB image, got shape {arr.shape}")
    return arr[:, :, :3]


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


def _exr_chromaticities(value, name: str) -> np.ndarray | None:
    """The ``chromaticities`` attribute as (4, 2) xy of R, G, B and white (None when absent);
    one that is malformed or degenerate (no invertible RGB -> XYZ matrix) is refused."""
    if value is None:
        return None
    colour = colour_science()  # on first use: importing colour-science imports matplotlib

    try:
        c = np.asarray(value, dtype=np.float64).reshape(4, 2)
        with np.errstate(all="ignore"):
            npm = colour.normalised_primary_matrix(c[:3], c[3])
            usable = bool(np.all(np.isfinite(npm))) and abs(np.linalg.det(npm)) > 1e-9
    except (TypeError, ValueError, ArithmeticError):
        usable = False
    if not usable:
        raise GainMLPError(f"{name}: OpenEXR chromaticities attribute is malformed")
    return c


def _exr_to_bt2020(rgb: np.ndarray, chromaticities) -> np.ndarray:
    if chromaticities is None:
        return colorimetry.convert_primaries(rgb, "bt709", "bt2020")  # OpenEXR default: 709
    colour = colour_science()

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
    colour = colour_science()

    weights = colour.normalised_primary_matrix(c[:3], c[3])[1]
    r = (full(channels["RY"]) + 1.0) * y
    b = (full(channels["BY"]) + 1.0) * y
    g = (y - r * weights[0] - b * weights[2]) / weights[1]
    return np.stack([r, g, b], axis=-1)


def read_exr_linear(path: str | os.PathLike) -> np.ndarray:
    """OpenEXR -> linear BT.2020 RGB float32 in the file's own units (no scaling)."""
    import OpenEXR

    name = str(path)
    data = read_bytes(path)  # a regular file, bounded, read once (OpenEXR gets the bytes)
    try:
        head = OpenEXR.File(io.BytesIO(data), header_only=True).header()
    except Exception:
        raise GainMLPError(f"{name}: not a readable OpenEXR file") from None
    try:
        lo, hi = head.get("dataWindow", (np.zeros(2), np.zeros(2)))
        width, height = int(hi[0] - lo[0] + 1), int(hi[1] - lo[1] + 1)
    except (TypeError, ValueError, IndexError):
        raise GainMLPError(f"{name}: OpenEXR dataWindow attribute is malformed") from None
    check_image_size(width, height, name)
    charge(width, height, DECODE_BYTES_PER_PIXEL["exr"], name)
    chroma = _exr_chromaticities(head.get("chromaticities"), name)
    try:
        exr = OpenEXR.File(io.BytesIO(data), separate_channels=True)
        channels = {k: v.pixels for k, v in exr.channels().items()}
    except Exception:
        raise GainMLPError(f"{name}: OpenEXR data is corrupt or truncated") from None
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
    data = read_bytes(path)
    w, h = radiance_size(data, name)
    check_image_size(w, h, name)
    charge(w, h, DECODE_BYTES_PER_PIXEL["hdr"], name)
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


def _decode_16bit(data: bytes, name: str, ext: str) -> tuple[np.ndarray, tuple | None]:
    """16-bit PNG/TIFF -> (uint16 RGB, what a PNG's cICP says or None: PQ BT.2020)."""
    import imagecodecs

    cicp = None
    if ext == ".png":
        width, height, depth, cicp = png_header(data)
        check_image_size(width, height, name)
        charge(width, height, DECODE_BYTES_PER_PIXEL["16-bit"], name)
        if depth != 16:
            raise GainMLPError(f"{name}: is {depth}-bit; an HDR PNG must be 16-bit PQ")
        cicp = read_cicp(cicp, name)  # checked before decoding; None: PQ BT.2020
        try:
            arr = imagecodecs.png_decode(data)
        except Exception:
            raise GainMLPError(f"{name}: PNG data is corrupt or truncated") from None
    else:
        img = open_image(data, name)  # header only: size check before decoding
        charge(img.width, img.height, DECODE_BYTES_PER_PIXEL["16-bit"], name)
        del img
        try:
            arr = imagecodecs.tiff_decode(data)
        except Exception:
            raise GainMLPError(f"{name}: TIFF data is corrupt or unsupported") from None
        if arr.dtype != np.uint16:
            raise GainMLPError(f"{name}: is {arr.dtype.itemsize * 8}-bit; HDR TIFF must be 16-bit")
    return _rgb_from_array(arr, name), cicp


def read_hdr(path: str | os.PathLike, exr_white_nits: float = DEFAULT_EXR_WHITE_NITS) -> np.ndarray:
    """Read any supported HDR image as PQ BT.2020 code values, float32 (H, W, 3) in [0, 1]."""
    name = str(path)
    ext = Path(path).suffix.lower()
    if ext not in HDR_EXTENSIONS:
        raise GainMLPError(f"{name}: unsupported HDR format (use EXR, .hdr, 16-bit PNG/TIFF)")
    if ext in (".exr", ".hdr"):
        white = check_exr_white(exr_white_nits)
        return colorimetry.linear_to_pq_bt2020(read_hdr_linear(path) * white)
    arr, cicp = _decode_16bit(read_bytes(path), name, ext)
    pq = cicp_to_pq_bt2020(arr, cicp)  # PQ or HLG, full or narrow range, to PQ BT.2020
    return pq


# ---------------------------------------------------------------- HDR out


def _to_u16(pq: np.ndarray) -> np.ndarray:
    return _quantise(pq, 65535)


#: zlib settings of the 16-bit PNG writer: level 1, run-length strategy, the Sub filter
#: (libpng's fast setting, as OpenCV uses it). At 12 MP: 1.6 s instead of 4.1 s at level 6
#: with adaptive filters, for 8.7 % more bytes (docs/speed.md, issue 19).
PNG_OPTIONS = {"level": 1, "strategy": 3, "filter": 16}
#: libaom speed of the AVIF writer (0 slowest .. 10): 9 encodes a 12-MP picture in about
#: 1.4 s instead of 20 s at speed 6, for 8 % more bytes (docs/speed.md, issue 19).
AVIF_SPEED = 9


def encode_hdr_png(pq: np.ndarray) -> bytes:
    """16-bit PNG of PQ BT.2020 code values with cICP (9, 16, 0, 1), fast zlib settings
    (:data:`PNG_OPTIONS`)."""
    import imagecodecs

    png = imagecodecs.png_encode(_to_u16(pq), **PNG_OPTIONS)
    return png_with_chunk(bytes(png), b"cICP", bytes([9, CICP_PQ, 0, 1]))


def _quantise(pq: np.ndarray, top: int) -> np.ndarray:
    """``round(clip(pq, 0, 1) * top)`` as uint16, in row tiles (no full-size float
    temporaries; round half to even, as ``np.round``)."""
    pq = np.asarray(pq)
    out = np.empty(pq.shape, dtype=np.uint16)
    rows = max(1, (1 << 20) // max(1, pq[0].size))
    for r in range(0, pq.shape[0], rows):
        t = np.clip(pq[r:r + rows], 0.0, 1.0) * top
        out[r:r + rows] = np.rint(t, out=t)
    return out


def encode_hdr_avif(pq: np.ndarray, bits: int = 10, quality: int = 90) -> bytes:
    """AVIF 10- or 12-bit, PQ BT.2020 (CICP 9/16/9), 4:4:4, libaom speed :data:`AVIF_SPEED`,
    on the usable cores (the same bytes as one thread: libaom's row threads)."""
    import imagecodecs

    if bits not in (10, 12):
        raise GainMLPError(f"AVIF bit depth must be 10 or 12, not {bits}")
    data = _quantise(pq, (1 << bits) - 1)
    return bytes(
        imagecodecs.avif_encode(
            data, level=quality, bitspersample=bits, pixelformat="444",
            primaries=9, transfer=16, matrix=9, speed=AVIF_SPEED,
            numthreads=colorimetry.usable_cores(),
        )
    )


def encode_hdr_exr(pq: np.ndarray, white_nits: float = DEFAULT_EXR_WHITE_NITS) -> bytes:
    """Linear BT.2020 half-float EXR with chromaticities; 1.0 = ``white_nits`` cd/m2.

    The PQ curve is decoded by the compiled table (``gainmlp.kernels.pq``, relative error
    2.9e-6, far below a half-float's step) in row tiles straight into the half-float
    image the file is written from; ``GAINMLP_KERNELS=numpy`` uses the float64 formula."""
    from gainmlp import kernels

    white_nits = check_exr_white(white_nits)
    if kernels.compiled():
        from gainmlp.kernels.pq import PEAK_NITS, pq_decode_nits

        linear = pq_decode_nits(pq, PEAK_NITS / white_nits, np.float16)
    else:
        linear = colorimetry.map_pixel_tiles(lambda v: colorimetry.pq_decode(v) / white_nits,
                                             pq, np.float16)
    return _exr_bytes(linear, white_nits)


HALF_MAX = 65504.0


def encode_hdr_exr_linear(linear_nits: np.ndarray,
                          white_nits: float = DEFAULT_EXR_WHITE_NITS) -> bytes:
    """:func:`encode_hdr_exr` from linear BT.2020 light in cd/m2 (no PQ, no 10,000 cd/m2
    limit); values above half-float's largest, 65,504 x ``white_nits`` cd/m2, are clipped
    there with a warning."""
    white_nits = check_exr_white(white_nits)
    top = HALF_MAX * white_nits
    over = int(np.count_nonzero(np.asarray(linear_nits) > top))
    if over:
        warn(f"{over} values above {top:.0f} cd/m2 clipped to half-float's maximum; "
             "raise --exr-white to keep them")
    scaled = colorimetry.map_pixel_tiles(
        lambda v: np.clip(np.nan_to_num(v, nan=0.0) / white_nits, 0.0, HALF_MAX),
        linear_nits, np.float16)
    return _exr_bytes(scaled, white_nits)


def _exr_bytes(linear: np.ndarray, white_nits: float) -> bytes:
    import OpenEXR

    c = COLOURSPACES["bt2020"]
    chroma = tuple(float(v) for v in np.concatenate([c.primaries.ravel(), c.whitepoint]))
    # PIZ: lossless wavelet coding made for photographic half-float images; at 12 MP it
    # wrote 2.6x faster than ZIP and 7 % smaller (docs/speed.md)
    header = {
        "compression": OpenEXR.PIZ_COMPRESSION,
        "type": OpenEXR.scanlineimage,
        "chromaticities": chroma,
        "whiteLuminance": float(white_nits),
    }
    threads = OpenEXR.global_thread_count()
    # written to memory (no temporary folder that a killed process would leave behind);
    # OpenEXR compresses line blocks on its own thread pool: sized to our cores for this
    # write only, then given back as the caller had it
    stream = io.BytesIO()
    OpenEXR.set_global_thread_count(colorimetry.usable_cores())
    try:
        OpenEXR.File(header, {"RGB": OpenEXR.Channel(np.ascontiguousarray(linear))}
                     ).write(stream)
    finally:
        OpenEXR.set_global_thread_count(threads)
    return stream.getvalue()


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


def write_hdr_linear(path: str | os.PathLike, linear_nits: np.ndarray,
                     exr_white_nits: float = DEFAULT_EXR_WHITE_NITS) -> None:
    """Write linear BT.2020 light in cd/m2 as OpenEXR (:func:`encode_hdr_exr_linear`),
    atomically; the one linear format, so ``path`` must end in ``.exr``."""
    if Path(path).suffix.lower() != ".exr":
        raise GainMLPError(f"{path}: linear HDR output must be .exr")
    atomic_write(path, encode_hdr_exr_linear(linear_nits, exr_white_nits))
