"""Image files on disk: reading bytes, writing atomically, opening with Pillow.

The read side (:func:`read_bytes`, :func:`image_pixels`, :func:`open_image`: regular
files only, bounded, checked against change, sizes from headers) lives in
:mod:`gainmlp.io.reading`; Pillow's own decompression-bomb guard stays as the application
set it. The write side
(:func:`atomic_write`, :func:`check_output`: temporary file and rename, only over regular
files or new names) lives in :mod:`gainmlp.io.writing` and is re-exported here.
"""

from __future__ import annotations

from gainmlp.io.reading import (  # noqa: F401 - the read side
    check_regular,
    image_pixels,
    open_image,
    read_bytes,
)
from gainmlp.io.writing import atomic_write, check_output  # noqa: F401 - the write side
