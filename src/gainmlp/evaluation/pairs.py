"""SDR/HDR pairs for the experiments, made once from a folder of HDR images and cached.

Every experiment (``gainmlp bench``, the grid study, the local-oracle study) starts from a
folder of linear HDR images (OpenEXR or Radiance ``.hdr``) and turns each one, per tone
mapper, into the pair the paper evaluates: an 8-bit SDR rendition and its 16-bit PQ
BT.2020 HDR (:func:`gainmlp.pair.make_pair`). Making a pair takes seconds (reading the
file, the local operator's bilateral filter), so each is written once as
``CACHE/pairs/<image>_<tone mapper>_<size>/{sdr,hdr}.png`` and read back by later runs.
Both PNGs hold the pair's integer codes, so a cached pair is bit-exact.

Images can be made smaller first, in one of two ways (:data:`RESIZES`): ``resample``
box-resamples the long side to exactly the asked length (the bench's ``--long-side`` and
``--quick``); ``blocks`` averages square blocks of a whole number of pixels, so the long
side is at most the asked length (the grid study's ``--size``; its documented numbers were
measured that way). The size part of the folder name tells them apart.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from gainmlp.errors import GainMLPError
from gainmlp.resample import block_mean, resize_box_float

HDR_SUFFIXES = (".exr", ".hdr")
RESIZES = ("resample", "blocks")


def downscale_linear(rgb: np.ndarray, long_side: int | None,
                     resize: str = "resample") -> np.ndarray:
    """Linear HDR ``rgb`` (H, W, 3) made smaller so its long side is about ``long_side``.

    ``resample``: a box filter to exactly ``long_side`` pixels on the long side (float32).
    ``blocks``: the mean of k x k pixel blocks, k = ceil(long side / ``long_side``), the
    last partial row and column of blocks dropped. Images already small enough, and a
    ``long_side`` of None or 0, are returned unchanged.
    """
    if resize not in RESIZES:
        raise GainMLPError(f"unknown resize {resize!r}; use {' or '.join(RESIZES)}")
    if not long_side:
        return rgb
    h, w = rgb.shape[:2]
    if resize == "blocks":
        k = max(1, math.ceil(max(h, w) / long_side))
        if k == 1:
            return rgb
        return block_mean(rgb, k)
    scale = long_side / max(h, w)
    if scale >= 1:
        return rgb
    return resize_box_float(rgb, max(1, round(w * scale)), max(1, round(h * scale)))


def hdr_images(data_dir: Path, images: list[str] | None = None) -> list[Path]:
    """The EXR / .hdr files of ``data_dir`` sorted by name, only ``images`` (stems) if given."""
    files = sorted(p for p in Path(data_dir).iterdir() if p.suffix.lower() in HDR_SUFFIXES)
    if images:
        files = [p for p in files if p.stem in images]
    if not files:
        raise GainMLPError(f"{data_dir}: no .exr or .hdr images found")
    return files


def pair_folder(cache: Path, image: str, tmo: str, long_side: int | None,
                resize: str = "resample") -> Path:
    """Where the pair of one image and tone mapper is cached under ``cache``."""
    size = str(long_side) if long_side else "full"
    if long_side and resize == "blocks":
        size = f"blocks{long_side}"
    return Path(cache) / "pairs" / f"{image}_{tmo}_{size}"


def prepare_pairs(data_dir: Path, cache: Path, tmos: tuple[str, ...], long_side: int | None,
                  images: list[str] | None = None,
                  resize: str = "resample") -> list[tuple[str, str, Path]]:
    """Make (or find in ``cache``) the pair of every image x tone mapper.

    Returns (image stem, tone mapper, folder with ``sdr.png`` and ``hdr.png``) per pair,
    images in name order, tone mappers in the order given.
    """
    from gainmlp.io import atomic_write, encode_hdr_png, read_hdr_linear, write_sdr_png
    from gainmlp.pair import make_pair

    out = []
    for path in hdr_images(data_dir, images):
        linear = None
        for tmo in tmos:
            folder = pair_folder(cache, path.stem, tmo, long_side, resize)
            if not (folder / "hdr.png").exists():  # written last: a complete pair
                if linear is None:
                    linear = downscale_linear(read_hdr_linear(path), long_side, resize)
                sdr, hdr = make_pair(linear, "bt2020", tmo)
                folder.mkdir(parents=True, exist_ok=True)
                write_sdr_png(folder / "sdr.png", sdr)
                atomic_write(folder / "hdr.png", encode_hdr_png(hdr.astype(np.float32) / 65535))
            out.append((path.stem, tmo, folder))
    return out


def read_pair(folder: Path):
    """The cached pair of ``folder``: (:class:`~gainmlp.image.SdrImage`, HDR PQ float32)."""
    from gainmlp.io import read_hdr, read_sdr

    return read_sdr(Path(folder) / "sdr.png"), read_hdr(Path(folder) / "hdr.png")


def load_pq_pair(data_dir: Path, image: str, tmo: str, long_side: int | None, cache: Path,
                 resize: str = "blocks") -> tuple[np.ndarray, np.ndarray]:
    """One pair as the codecs see it: (SDR, HDR) PQ BT.2020 code values, float32 (H, W, 3).

    Made and cached by :func:`prepare_pairs`; the SDR is mapped into HDR space with its
    encoding (:func:`gainmlp.api.sdr_in_hdr_space`).
    """
    from gainmlp.api import sdr_in_hdr_space

    [(_, _, folder)] = prepare_pairs(data_dir, cache, (tmo,), long_side, [image], resize)
    sdr, hdr = read_pair(folder)
    return np.asarray(sdr_in_hdr_space(sdr.pixels, sdr.encoding), dtype=np.float32), hdr
