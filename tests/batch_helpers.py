"""What the ``gainmlp batch`` tests (``test_batch*.py``) share: small input folders made in
code, fast fitting options, and the bytes ``gainmlp encode`` gives an item alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from conftest import synthetic_pair

import gainmlp.io as imageio
from gainmlp.batch.work import BatchSpec
from gainmlp.colorimetry import SdrEncoding
from gainmlp.image import SdrImage
from gainmlp.options import EncodeOptions

FAST = EncodeOptions(steps=20, batch=512)
FAST_FLAGS = ["--steps", "20", "--batch", "512"]


def write_pair(folder: Path, name: str, seed: int = 0, size: tuple[int, int] = (48, 64)
               ) -> tuple[Path, Path]:
    """``NAME_sdr.png`` (8-bit) and ``NAME_hdr.png`` (16-bit PQ) of a synthetic pair."""
    folder.mkdir(parents=True, exist_ok=True)
    sdr, hdr = synthetic_pair(*size, seed=seed)
    imageio.write_sdr_png(folder / f"{name}_sdr.png", sdr)
    imageio.write_hdr(folder / f"{name}_hdr.png", hdr)
    return folder / f"{name}_sdr.png", folder / f"{name}_hdr.png"


def gainmap_bytes(seed: int = 0, size: tuple[int, int] = (48, 64)) -> bytes:
    """An Ultra HDR gain-map JPEG of a synthetic pair."""
    from gainmlp.container.ultrahdr import ultrahdr_from_pair

    sdr, hdr = synthetic_pair(*size, seed=seed)
    return ultrahdr_from_pair(SdrImage(sdr, SdrEncoding()), hdr, scale=1)[0]


def write_exr(path: Path, seed: int = 0, size: tuple[int, int] = (48, 64)) -> Path:
    """A linear OpenEXR scene (BT.2020, 1.0 = 100 cd/m2) of a synthetic pair's HDR."""
    from gainmlp.io.hdr import encode_hdr_exr

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode_hdr_exr(synthetic_pair(*size, seed=seed)[1]))
    return path


def corrupt_png(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n not really a PNG")
    return path


def spec(tmp_path: Path, **kw) -> BatchSpec:
    """A batch writing to ``tmp_path/out`` with :data:`FAST` options."""
    (tmp_path / "out").mkdir(parents=True, exist_ok=True)
    return BatchSpec(out_dir=str(tmp_path / "out"), **{"options": FAST, **kw})


def alone(sdr_path: Path, hdr_path: Path, options: EncodeOptions = FAST) -> bytes:
    """What ``GAINMLP_THREADS=1 gainmlp encode SDR HDR -o X.jpg`` writes (with ``options``)."""
    from gainmlp import photo

    sdr, hdr = imageio.read_sdr(sdr_path), imageio.read_hdr(hdr_path)
    return photo.encode_jpeg(sdr, hdr, "gamma-mlp", options)[0]


def outputs(folder: Path) -> dict[str, bytes]:
    return {p.stem: p.read_bytes() for p in sorted(Path(folder).glob("*.jpg"))}


def psnr_of(data: bytes, hdr: np.ndarray) -> float:
    from gainmlp import metrics
    from gainmlp.photo import decode_photo

    return metrics.psnr(hdr, decode_photo(data))
