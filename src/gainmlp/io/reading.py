"""Reading input files: regular files only, bounded, and checked against change.

Every input gainmlp decodes is read here (:func:`read_bytes`), or, for a library that
takes a file, opened here (:func:`open_input`) and handed over as an open file object:

* only a **regular file** is read (a symbolic link is followed to its target, which must be
  one too): a device such as ``/dev/zero``, a FIFO or a socket is refused before anything
  is read from it; the file is opened non-blocking, so a FIFO cannot block the open;
* at most :data:`MAX_FILE_BYTES` are read, and no more than the memory budget holds: the
  size ``fstat`` gives is checked first, then exactly that many bytes are read;
* a file whose size or modification time changes while it is read (or that is shorter or
  longer than it said) is refused with a one-line error instead of being decoded half
  old, half new.

:func:`declared_size` reads the width and height an image file's header declares (JPEG,
PNG, TIFF through Pillow; OpenEXR through OpenEXR; Radiance from its text header) without
decoding pixels, for :mod:`gainmlp.budget`.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from PIL import Image

from gainmlp.errors import GainMLPError, check_image_size

#: Largest input file read, bytes: the largest image gainmlp accepts (200 MP,
#: :data:`gainmlp.errors.MAX_PIXELS`) needs far less in any compressed format it reads; a
#: 16-bit uncompressed TIFF of 170 MP would be 1 GiB.
MAX_FILE_BYTES = 1 << 30
_KIND = {stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
         stat.S_IFIFO: "a FIFO (named pipe)", stat.S_IFSOCK: "a socket",
         stat.S_IFDIR: "a folder"}


def _kind(mode: int) -> str:
    return _KIND.get(stat.S_IFMT(mode), "not a regular file")


def check_regular(path: str | os.PathLike) -> os.stat_result:
    """The ``stat`` of ``path`` (its target, for a link) when it is a regular file; a
    one-line error naming what it is otherwise (missing, folder, device, FIFO, socket)."""
    p = Path(path)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise GainMLPError(f"{p}: no such file") from None
    except OSError as exc:
        raise GainMLPError(f"{p}: cannot read ({exc.strerror})") from None
    if stat.S_ISDIR(st.st_mode):
        raise GainMLPError(f"{p}: is a folder, not an image")
    if not stat.S_ISREG(st.st_mode):
        raise GainMLPError(f"{p}: is {_kind(st.st_mode)}, not a regular file; refusing to "
                           "read it")
    return st


@contextlib.contextmanager
def open_input(path: str | os.PathLike) -> Iterator[tuple[BinaryIO, os.stat_result]]:
    """``(file, stat)`` of an input opened for reading, refused unless it is a regular file
    (checked on the open descriptor, so nothing can be swapped in between) of at most
    :data:`MAX_FILE_BYTES`."""
    p = Path(path)
    check_regular(p)  # the clear message for the common cases
    try:
        fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise GainMLPError(f"{p}: cannot read ({exc.strerror})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise GainMLPError(f"{p}: is {_kind(st.st_mode)}, not a regular file; refusing "
                               "to read it")
        limit = _limit()
        if st.st_size > limit:
            raise GainMLPError(f"{p}: is {st.st_size} bytes, over the {limit} byte limit of "
                               "an input file")
        os.set_blocking(fd, True)
        fh = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with fh:
        yield fh, st


def _limit() -> int:
    """:data:`MAX_FILE_BYTES`, or less when the memory budget is smaller."""
    from gainmlp.memory import FLOOR_BYTES, budget

    return max(0, min(MAX_FILE_BYTES, budget() - FLOOR_BYTES))


def _changed(before: os.stat_result, after: os.stat_result) -> bool:
    return (before.st_size, before.st_mtime_ns, before.st_ino) != \
        (after.st_size, after.st_mtime_ns, after.st_ino)


def read_bytes(path: str | os.PathLike) -> bytes:
    """The bytes of the regular file at ``path`` (see the module docstring); a one-line
    error when it is missing, not a regular file, too large, unreadable or changing."""
    p = Path(path)
    with open_input(p) as (fh, st):
        try:
            data = fh.read(st.st_size + 1)
            after = os.fstat(fh.fileno())
        except OSError as exc:
            raise GainMLPError(f"{p}: cannot read ({exc.strerror or exc})") from None
    if len(data) != st.st_size or _changed(st, after):
        raise GainMLPError(f"{p}: changed while it was being read; try again when it is "
                           "complete")
    return data


def image_pixels(path: str | os.PathLike) -> int:
    """Width x height an image file's header declares (:func:`declared_size`), for refusing
    work before the pixels are decoded; 0 when the format is not known (the reader's own
    checks then apply). Refuses a file that is not a regular file."""
    size = declared_size(path)
    return size[0] * size[1] if size else 0


def declared_size(path: str | os.PathLike) -> tuple[int, int] | None:
    """(width, height) an image file's header declares, checked against the size limit,
    without decoding its pixels; None when no reader recognises the header."""
    p = Path(path)
    name = str(p)
    with open_input(p) as (fh, _):
        head = fh.read(16)
        fh.seek(0)
        if head.startswith(b"v/1\x01"):
            size = _exr_size(fh, name)
        elif head.startswith((b"#?RADIANCE", b"#?RGBE")):
            size = _radiance_size(fh.read(65536), name)
        else:
            try:
                with Image.open(fh) as img:
                    size = img.size
            except Image.DecompressionBombError:
                size = None  # the reader reports it
            except Exception:  # noqa: BLE001 - not an image Pillow knows: readers say why
                return None
    if size is not None:
        check_image_size(size[0], size[1], name)
    return size


def _exr_size(fh: BinaryIO, name: str) -> tuple[int, int]:
    """(width, height) of an OpenEXR file's data window (header only)."""
    import OpenEXR

    try:
        head = OpenEXR.File(fh, header_only=True).header()
        lo, hi = head.get("dataWindow", ((0, 0), (-1, -1)))
        return int(hi[0] - lo[0] + 1), int(hi[1] - lo[1] + 1)
    except Exception:  # noqa: BLE001 - OpenEXR raises several types
        raise GainMLPError(f"{name}: not a readable OpenEXR file") from None


_RADIANCE_SIZE = re.compile(rb"\n\n([-+][YX]) (\d{1,9}) ([-+][YX]) (\d{1,9})\n")


def radiance_size(data: bytes, name: str) -> tuple[int, int]:
    """(width, height) of a Radiance RGBE file from its text header (the resolution line
    that follows the blank line ending the header: ``-Y H +X W``)."""
    match = _RADIANCE_SIZE.search(data[:65536])
    if match is None:
        raise GainMLPError(f"{name}: not a Radiance RGBE (.hdr) file")
    first, n1, _, n2 = match.groups()
    rows, cols = (int(n1), int(n2)) if first.endswith(b"Y") else (int(n2), int(n1))
    return cols, rows


_radiance_size = radiance_size


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
