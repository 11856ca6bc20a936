"""Colour set-up: transfer functions, primaries, and the SDR -> HDR-space conversion.

Transfer functions and primaries are colour-science's, through :mod:`gainmlp.colourspaces`
(the same floats, checked bit for bit, without importing ``colour``, whose import pulls in
matplotlib). Images are float arrays of shape (H, W, 3). Conventions of the paper's data
(README, "Colour set-up"):

* SDR: BT.709 primaries, pure 2.4 gamma (BT.1886 with black at 0), 100 cd/m2 white.
* HDR: BT.2020 primaries, SMPTE ST 2084 (PQ) code values in [0, 1], graded for 1000 cd/m2.
* "SDR in HDR space": SDR code values linearised, scaled to the SDR white in cd/m2,
  converted to BT.2020 and PQ-encoded (100 cd/m2 white lands at PQ 0.508).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gainmlp import colourspaces
from gainmlp.errors import GainMLPError, warn

# Our short names -> colour-science colourspace names (all D65 white points).
PRIMARIES = {
    "bt709": "ITU-R BT.709",
    "srgb": "sRGB",
    "p3": "Display P3",
    "bt2020": "ITU-R BT.2020",
}

# Codes stored in payloads; never renumber.
PRIMARIES_CODE = {"bt709": 1, "srgb": 2, "p3": 3, "bt2020": 4}
TRANSFER_CODE = {"gamma2.4": 1, "srgb": 2, "gamma2.2": 3}


@dataclass(frozen=True)
class SdrEncoding:
    """How the 8-bit SDR image's code values are to be read."""

    primaries: str = "bt709"
    transfer: str = "gamma2.4"
    white_nits: float = 100.0

    def __post_init__(self) -> None:
        if self.primaries not in PRIMARIES:
            raise GainMLPError(f"unknown SDR primaries {self.primaries!r}")
        if self.transfer not in SDR_TRANSFERS:
            raise GainMLPError(f"unknown SDR transfer function {self.transfer!r}")
        if not (1.0 <= self.white_nits <= 10000.0):
            raise GainMLPError(f"SDR white {self.white_nits} cd/m2 is outside 1..10000")


@dataclass(frozen=True)
class HdrEncoding:
    """The HDR space residuals live in: BT.2020 PQ, graded for ``peak_nits``."""

    peak_nits: float = 1000.0


def pq_encode(nits: np.ndarray) -> np.ndarray:
    """Absolute luminance in cd/m2 -> PQ code value in [0, 1] (SMPTE ST 2084)."""
    nits = np.clip(np.asarray(nits, dtype=np.float64), 0.0, 10000.0)
    return np.asarray(colourspaces.eotf_inverse_ST2084(nits), dtype=np.float64)


def pq_decode(code: np.ndarray) -> np.ndarray:
    """PQ code value in [0, 1] -> absolute luminance in cd/m2 (SMPTE ST 2084 EOTF)."""
    code = np.clip(np.asarray(code, dtype=np.float64), 0.0, 1.0)
    return np.asarray(colourspaces.eotf_ST2084(code), dtype=np.float64)


#: SDR transfer functions by name: (EOTF, inverse EOTF), code values and linear light in
#: [0, 1] (display-relative), all colour-science's (:mod:`gainmlp.colourspaces`).
SDR_EOTFS = {
    "gamma2.4": (colourspaces.eotf_BT1886, colourspaces.eotf_inverse_BT1886),  # black 0
    "srgb": (colourspaces.eotf_sRGB, colourspaces.eotf_inverse_sRGB),
    "gamma2.2": (lambda v: colourspaces.gamma_function(v, 2.2),
                 lambda v: colourspaces.gamma_function(v, 1.0 / 2.2)),
}
SDR_TRANSFERS = tuple(SDR_EOTFS)


def _sdr_transfer(values: np.ndarray, transfer: str, inverse: bool) -> np.ndarray:
    if transfer not in SDR_EOTFS:
        raise GainMLPError(f"unknown SDR transfer function {transfer!r}")
    values = np.clip(np.asarray(values, dtype=np.float64), 0.0, 1.0)
    return np.asarray(SDR_EOTFS[transfer][int(inverse)](values), dtype=np.float64)


def sdr_eotf(code: np.ndarray, transfer: str = "gamma2.4") -> np.ndarray:
    """SDR code value in [0, 1] -> display-relative linear light in [0, 1]."""
    return _sdr_transfer(code, transfer, inverse=False)


def sdr_inverse_eotf(linear: np.ndarray, transfer: str = "gamma2.4") -> np.ndarray:
    """Display-relative linear light in [0, 1] -> SDR code value in [0, 1]."""
    return _sdr_transfer(linear, transfer, inverse=True)


def convert_primaries(rgb: np.ndarray, source: str, target: str) -> np.ndarray:
    """Linear RGB in ``source`` primaries -> linear RGB in ``target`` (all D65, via XYZ)."""
    if source == target:
        return np.asarray(rgb, dtype=np.float64)
    matrix = colourspaces.matrix_RGB_to_RGB(source, target)
    return np.asarray(rgb, dtype=np.float64) @ matrix.T


def sdr_to_hdr_space(sdr_code: np.ndarray, encoding: SdrEncoding | None = None) -> np.ndarray:
    """SDR code values in [0, 1] -> PQ BT.2020 code values ("SDR in HDR space").

    Linearise with the SDR EOTF, scale to ``white_nits``, convert primaries to BT.2020
    through XYZ, PQ-encode. Returns float32.
    """
    enc = encoding or SdrEncoding()
    linear = sdr_eotf(sdr_code, enc.transfer) * enc.white_nits
    bt2020 = convert_primaries(linear, enc.primaries, "bt2020")
    return pq_encode(np.maximum(bt2020, 0.0)).astype(np.float32)


def sdr8_to_hdr_space(pixels: np.ndarray, encoding: SdrEncoding | None = None,
                      threads: int | None = None) -> np.ndarray:
    """:func:`sdr_to_hdr_space` of 8-bit pixels ``(H, W, 3)`` (codes ``float32(v / 255)``),
    with the same values, faster: the EOTF is evaluated once per code value (256 of them)
    and looked up, and the rows are converted in tiles on ``threads`` threads (default:
    the usable cores; numpy releases the GIL in its loops). Returns float32."""
    enc = encoding or SdrEncoding()
    pixels = np.asarray(pixels)
    if pixels.dtype != np.uint8:
        raise GainMLPError(f"8-bit SDR pixels expected, got {pixels.dtype}")
    codes = np.arange(256, dtype=np.float32) / np.float32(255.0)
    lut = sdr_eotf(codes, enc.transfer) * enc.white_nits

    def convert(tile: np.ndarray) -> np.ndarray:
        bt2020 = convert_primaries(lut[tile], enc.primaries, "bt2020")
        return pq_encode(np.maximum(bt2020, 0.0))

    return map_pixel_tiles(convert, pixels, np.float32, threads)


def map_pixel_tiles(fn, image: np.ndarray, dtype, threads: int | None = None) -> np.ndarray:
    """``fn`` applied to tiles of an ``(..., 3)`` image's pixels ``(n, 3)``, results in a new
    array of ``dtype`` and the image's shape; tiles run on ``threads`` threads (default
    :func:`usable_cores`). For per-pixel functions, the same values as ``fn(image)``."""
    image = np.asarray(image)
    out = np.empty(image.shape, dtype=dtype)
    flat_in, flat_out = image.reshape(-1, image.shape[-1]), out.reshape(-1, image.shape[-1])

    def tile(start: int) -> None:
        flat_out[start:start + _TILE] = fn(flat_in[start:start + _TILE])

    starts = range(0, flat_in.shape[0], _TILE)
    workers = threads or usable_cores()
    if workers > 1 and len(starts) > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(tile, starts))
    else:
        for start in starts:
            tile(start)
    return out


_TILE = 1 << 18  # pixels per tile: small enough to stay in cache-friendly chunks


#: Most threads ``$GAINMLP_THREADS`` may ask for (each pool thread holds a stack and
#: per-thread buffers: 100,000 of them ran out of memory; docs/robustness.md).
MAX_THREADS = 1024


def usable_cores() -> int:
    """Threads for gainmlp's parallel work: ``$GAINMLP_THREADS`` if set, else the cores
    this process may run on."""
    import os

    env = os.environ.get("GAINMLP_THREADS", "").strip()
    if env:
        try:
            value = int(env)
        except ValueError:
            raise GainMLPError(f"GAINMLP_THREADS={env!r} is not an integer") from None
        if not 1 <= value <= MAX_THREADS:
            raise GainMLPError(f"GAINMLP_THREADS={env!r} must be in 1..{MAX_THREADS}")
        return value
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def hdr_space_to_sdr(pq_code: np.ndarray, encoding: SdrEncoding | None = None) -> np.ndarray:
    """Inverse of :func:`sdr_to_hdr_space` (no quantisation; out-of-gamut values clip)."""
    enc = encoding or SdrEncoding()
    bt2020 = pq_decode(pq_code)
    linear = convert_primaries(bt2020, "bt2020", enc.primaries) / enc.white_nits
    return sdr_inverse_eotf(np.clip(linear, 0.0, 1.0), enc.transfer).astype(np.float32)


def linear_to_pq_bt2020(rgb_nits: np.ndarray, primaries: str = "bt2020") -> np.ndarray:
    """Linear light in cd/m2 (any supported primaries) -> PQ BT.2020 code values."""
    bt2020 = convert_primaries(rgb_nits, primaries, "bt2020")
    return pq_encode(np.maximum(bt2020, 0.0)).astype(np.float32)


def pq_bt2020_to_linear(pq_code: np.ndarray) -> np.ndarray:
    """PQ BT.2020 code values -> linear BT.2020 light in cd/m2 (float32, in threaded tiles,
    so a large photo needs no float64 copy of itself)."""
    return map_pixel_tiles(pq_decode, pq_code, np.float32)


#: ITU-R BT.2020 luma coefficients K_R, K_G, K_B, as the recommendation states them
#: (applied to non-linear code values they give the luma Y'; see :func:`luminance_weights`
#: for the exact luminance row of a colourspace).
BT2020_LUMA_WEIGHTS = (0.2627, 0.6780, 0.0593)


def luminance_weights(primaries: str = "bt2020") -> np.ndarray:
    """The RGB -> Y row of the colourspace's RGB->XYZ matrix (float64, sums to 1)."""
    if primaries not in PRIMARIES:
        raise GainMLPError(f"unknown primaries {primaries!r}")
    return np.array(colourspaces.COLOURSPACES[primaries].rgb_to_xyz[1], dtype=np.float64)


def luminance(rgb_linear: np.ndarray, primaries: str = "bt2020") -> np.ndarray:
    """Relative luminance Y of linear RGB (:func:`luminance_weights` of ``primaries``)."""
    return np.asarray(rgb_linear, dtype=np.float64) @ luminance_weights(primaries)


def clean_linear_rgb(image: np.ndarray, what: str = "the HDR image") -> np.ndarray:
    """A float64 copy of a linear (H, W, 3) image with NaN/Inf and negative values set to 0
    (one warning counts the non-finite ones); one-line errors for a wrong shape."""
    img = np.asarray(image)
    if img.ndim != 3 or img.shape[2] != 3:
        raise GainMLPError(f"{what} must have shape (H, W, 3), got {img.shape}")
    if img.shape[0] == 0 or img.shape[1] == 0:
        raise GainMLPError(f"{what} is empty (shape {img.shape})")
    img = np.array(img, dtype=np.float64)
    bad = ~np.isfinite(img)
    if bad.any():
        warn(f"{int(bad.sum())} NaN/infinite values of {what} were set to 0")
        img[bad] = 0.0
    return np.maximum(img, 0.0, out=img)
