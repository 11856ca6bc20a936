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


def gradient_scene(h: int, w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(sdr uint8, sdr linear, hdr linear): smooth gradients and a bright highlight; the
    SDR is sRGB-encoded, the HDR is relative to SDR white."""
    from gainmlp.colorimetry import sdr_eotf

    y, x = np.mgrid[0:h, 0:w] / np.array([h, w])[:, None, None]
    sdr = np.stack([x, y, 0.3 + 0.4 * x * y], -1)
    sdr8 = np.round(sdr * 255).astype(np.uint8)
    lin = sdr_eotf(sdr8 / 255.0, "srgb")
    boost = 1 + 5 * np.exp(-((x - 0.6) ** 2 + (y - 0.4) ** 2) / 0.03)
    hdr = lin * np.stack([boost, boost**0.9, boost**0.8], -1)
    return sdr8, lin, hdr
