"""Small JPEG files made in code for the container tests, and a plain decoder for them."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


def make_jpeg(w: int = 48, h: int = 32, seed: int = 0, **save) -> bytes:
    """A noisy RGB JPEG; ``save`` goes to Pillow (progressive, icc_profile, ...)."""
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "JPEG", quality=90, **save)
    return buf.getvalue()


def decode(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"))
