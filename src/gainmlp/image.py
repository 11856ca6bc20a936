"""The SDR image the library passes around: 8-bit pixels and how to read them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gainmlp.colorimetry import SdrEncoding


@dataclass
class SdrImage:
    """An 8-bit SDR image and how its code values are to be read."""

    pixels: np.ndarray  # uint8 (H, W, 3)
    encoding: SdrEncoding
    icc: bytes | None = None


def check_sdr_pixels(pixels: np.ndarray, what: str = "SDR") -> np.ndarray:
    """``pixels`` as given, refused (:class:`~gainmlp.errors.GainMLPError`) unless they are
    8-bit code values ``(H, W, 3)`` uint8. A float image in [0, 1] would read as black."""
    from gainmlp.errors import GainMLPError

    arr = np.asarray(pixels)
    if arr.dtype != np.uint8:
        hint = (" (multiply a [0, 1] image by 255 and round, or read the file with "
                "gainmlp.read_sdr)" if arr.dtype.kind == "f" else "")
        raise GainMLPError(f"{what} pixels must be 8-bit code values (uint8), got "
                           f"{arr.dtype}{hint}")
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise GainMLPError(f"{what} pixels must be (H, W, 3), got shape {arr.shape}")
    return arr


def check_hdr_pq(hdr_pq: np.ndarray, what: str = "HDR") -> np.ndarray:
    """``hdr_pq`` as float32, refused unless it is ``(H, W, 3)`` PQ code values in [0, 1]
    with no NaN or infinity (checked in slices: no full-size temporary)."""
    from gainmlp.errors import GainMLPError

    arr = np.asarray(hdr_pq, dtype=np.float32)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise GainMLPError(f"{what} must be (H, W, 3), got shape {arr.shape}")
    flat = arr.reshape(-1)
    step = 1 << 22
    for i in range(0, flat.size, step):
        part = flat[i:i + step]
        lo, hi = float(part.min()), float(part.max())
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise GainMLPError(f"{what} has NaN or infinite values; it must be PQ code values "
                               "in [0, 1]")
        if lo < -1e-6 or hi > 1.0 + 1e-6:
            raise GainMLPError(f"{what} must be PQ BT.2020 code values in [0, 1], found "
                               f"{lo:.4g}..{hi:.4g} (linear light? read files with "
                               "gainmlp.read_hdr, or convert with "
                               "gainmlp.colorimetry.linear_to_pq_bt2020)")
    return arr
