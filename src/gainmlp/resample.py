"""Resampling of images and maps, in one place.

* :func:`upsample_bilinear` — pixel-centre aligned bilinear resize with clamped edges
  (numpy, float32): how gain-map readers bring a stored map to the base image's size
  (Adobe Gain Map 1.0 / ISO 21496-1 leave the filter to the reader; this is libultrahdr's).
* :func:`resize_bicubic_u8`, :func:`resize_bicubic_float` — Pillow's bicubic filter on
  8-bit RGB and on float channels: the paper's map downscale (PIL) and its upscale.
* :func:`resize_box_float` — Pillow's box filter per float channel: area-averaging
  downscale of linear HDR images for experiments.
* :func:`block_mean` — the mean of k x k blocks (exact, numpy).
"""

from __future__ import annotations

import numpy as np
from PIL import Image


def scaled_size(width: int, height: int, scale: int) -> tuple[int, int]:
    """Size of an image downscaled by ``scale`` (rounded, at least 1x1)."""
    return max(1, round(width / scale)), max(1, round(height / scale))


def upsample_bilinear(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resize with pixel-centre alignment and clamped edges (float32 out).

    Works for (h, w) and (h, w, c) arrays; same-size input is returned as float32.
    """
    img = np.asarray(image, dtype=np.float32)
    h, w = img.shape[:2]
    if (h, w) == (height, width):
        return img.copy()

    def coords(n_out: int, n_in: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x = (np.arange(n_out, dtype=np.float64) + 0.5) * (n_in / n_out) - 0.5
        x = np.clip(x, 0.0, n_in - 1)
        i0 = np.floor(x).astype(np.intp)
        i1 = np.minimum(i0 + 1, n_in - 1)
        return i0, i1, (x - i0).astype(np.float32)

    y0, y1, fy = coords(height, h)
    x0, x1, fx = coords(width, w)
    extra = (1,) * (img.ndim - 2)
    rows = img[y0] * (1 - fy).reshape(-1, 1, *extra) + img[y1] * fy.reshape(-1, 1, *extra)
    fx = fx.reshape(1, -1, *extra)
    return rows[:, x0] * (1 - fx) + rows[:, x1] * fx


def resize_bicubic_u8(rgb_u8: np.ndarray, width: int, height: int) -> np.ndarray:
    """Bicubic resize of an 8-bit (H, W) or (H, W, 3) image with Pillow."""
    arr = np.ascontiguousarray(rgb_u8, dtype=np.uint8)
    img = Image.fromarray(arr, "L" if arr.ndim == 2 else "RGB")
    return np.asarray(img.resize((width, height), Image.Resampling.BICUBIC))


def _per_channel(values: np.ndarray, width: int, height: int, method,
                 box: tuple[float, float, float, float] | None = None) -> np.ndarray:
    out = np.empty((height, width, values.shape[2]), dtype=np.float32)
    for c in range(values.shape[2]):
        img = Image.fromarray(np.ascontiguousarray(values[:, :, c], dtype=np.float32), "F")
        out[:, :, c] = np.asarray(img.resize((width, height), method, box=box))
    return out


def resize_bicubic_float(values: np.ndarray, width: int, height: int,
                         box: tuple[float, float, float, float] | None = None) -> np.ndarray:
    """Bicubic resize of a float (h, w, C) array to (height, width, C), per channel;
    ``box`` (left, top, right, bottom, in input pixels, fractional allowed): the region
    of the input resized (Pillow's ``box``), default all of it."""
    return _per_channel(values, width, height, Image.Resampling.BICUBIC, box)


def resize_box_float(values: np.ndarray, width: int, height: int) -> np.ndarray:
    """Box-filter (area-averaging) resize of a float (h, w, C) array, per channel."""
    return _per_channel(values, width, height, Image.Resampling.BOX)


def block_mean(values: np.ndarray, k: int) -> np.ndarray:
    """Mean of k x k pixel blocks of an (H, W, C) array; a last partial block row or
    column is dropped."""
    h, w, c = values.shape
    h, w = (h // k) * k, (w // k) * k
    return values[:h, :w].reshape(h // k, k, w // k, k, c).mean(axis=(1, 3))
