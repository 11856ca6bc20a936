"""Image files on disk: reading bytes, writing atomically, opening with Pillow.

Readers report a missing file, a folder or an unreadable file as a one-line
:class:`GainMLPError`. Outputs are written to a temporary file in the target folder and
renamed into place, so an error never leaves a half-written file and a replaced file is
either the old one or the new one; new files get the mode ``open(path, "w")`` would give
(0666 less the umask), a replaced file keeps its mode. Every reader here checks the size a
header claims (:func:`open_image`, :func:`gainmlp.errors.check_image_size`) before
decoding; Pillow's own decompression-bomb guard stays as the application set it.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

from PIL import Image

from gainmlp.errors import GainMLPError, check_image_size


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


def _new_file_mode() -> int:
    """The mode ``open(path, "w")`` gives a new file: 0666 less the process umask."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def check_output(path: str | os.PathLike, inputs: list[str | os.PathLike] = ()) -> Path:
    """Refuse an output that is a folder, sits in a missing or unwritable folder, or is one
    of ``inputs`` (same path, a link to it, or a hard link); returns the output path."""
    p = Path(path)
    if p.is_dir():
        raise GainMLPError(f"{p}: is a folder; name an output file")
    folder = p.parent if str(p.parent) else Path(".")
    if not folder.is_dir():
        raise GainMLPError(f"{p}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise GainMLPError(f"{p}: folder {folder} is not writable")
    if p.exists():
        for src in inputs:
            try:
                same = os.path.samefile(p, src)
            except OSError:
                same = False
            if same:
                raise GainMLPError(f"{p}: is the input {src}; refusing to overwrite an input")
    return p


def atomic_write(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file, fsync and a rename."""
    p = check_output(path)
    folder = p.parent if str(p.parent) else Path(".")
    try:
        mode = p.stat().st_mode & 0o7777 if p.exists() else _new_file_mode()
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".part", dir=folder)
    except OSError as exc:
        raise GainMLPError(f"{p}: cannot write ({exc.strerror})") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fchmod(fh.fileno(), mode)
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise GainMLPError(f"{p}: cannot write ({exc.strerror or exc})") from None
        raise


def image_pixels(path: str | os.PathLike) -> int:
    """Width x height an image file's header declares (Pillow reads only the header), for
    refusing work before the pixels are decoded; 0 when Pillow does not know the format
    (the reader's own checks then apply)."""
    p = Path(path)
    try:
        with Image.open(p) as img:
            check_image_size(img.width, img.height, str(p))
            return img.width * img.height
    except GainMLPError:
        raise
    except Exception:  # noqa: BLE001 - unknown or unreadable: the readers say what is wrong
        return 0


def open_image(data: bytes, name: str) -> Image.Image:
    """Open image bytes with Pillow (header only) and check the size it declares."""
    try:
        img = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:
        raise GainMLPError(f"{name}: declares more pixels than Pillow's decompression-bomb "
                           f"limit") from None
    except Exception:
        raise GainMLPError(f"{name}: not a readable image (corrupt or unsupported)") from None
    check_image_size(img.width, img.height, name)
    return img
