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
