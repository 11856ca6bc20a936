"""Image files on disk: reading bytes, writing atomically, opening with Pillow.

Readers report a missing file, a folder or an unreadable file as a one-line
:class:`GainMLPError`. Outputs are written to a temporary file in the target folder and
renamed into place, so an error never leaves a half-written file. Pillow's own
decompression-bomb limit is switched off: every reader here checks the size a header
claims (:func:`open_image`, :func:`gainmlp.errors.check_image_size`) before decoding.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

from PIL import Image

from gainmlp.errors import GainMLPError, check_image_size

Image.MAX_IMAGE_PIXELS = None  # we check sizes ourselves, before decoding


def read_bytes(path: str | os.PathLike) -> bytes:
    """The bytes of the file at ``path``; a one-line error when it cannot be read."""
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


def open_image(data: bytes, name: str) -> Image.Image:
    """Open image bytes with Pillow (header only) and check the size it declares."""
    try:
        img = Image.open(io.BytesIO(data))
    except Exception:
        raise GainMLPError(f"{name}: not a readable image (corrupt or unsupported)") from None
    check_image_size(img.width, img.height, name)
    return img
