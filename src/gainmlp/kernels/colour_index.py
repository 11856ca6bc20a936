"""Distinct colours of an 8-bit image: per-pixel colour ids and the palette.

A photo has far fewer distinct 8-bit RGB triples than pixels (about 1-2 % of them), so
everything that depends only on a pixel's colour (the SDR -> HDR-space conversion, the
colour part of an MLP's first layer, ``log(S + eps)``) is computed once per colour and
gathered. :func:`index_colours` gives the ids and the palette, sorted by the key
``r << 16 | g << 8 | b`` (the order of ``np.unique``), so both paths give identical
results; :func:`gather_rows` expands a per-colour table back to pixels.

Compiled path: a 2^24-entry table of int32 (64 MiB, allocated per call): the pixels'
keys are marked in it (row tiles on threads), one scan numbers the marked keys in
ascending order and writes the palette, and a second pass over the pixels reads each
pixel's id (threads again). Reference path: ``np.unique(keys, return_inverse=True)``.
Importing this module imports numba: callers import it when they first need it.
"""

from __future__ import annotations

import numpy as np

from gainmlp.colorimetry import usable_cores
from gainmlp.errors import GainMLPError
from gainmlp.kernels import compiled
from gainmlp.kernels._jit import jit

#: Pixels per threaded chunk of the compiled passes.
CHUNK_PIXELS = 1 << 20

@jit
def _mark(flat, start, stop, table):
    for i in range(start, stop):
        key = (np.int32(flat[i, 0]) << 16) | (np.int32(flat[i, 1]) << 8) | np.int32(flat[i, 2])
        table[key] = 1


@jit
def _count(table):
    k = 0
    for key in range(table.size):
        k += table[key] != 0
    return k


@jit
def _number(table, palette):
    k = 0
    for key in range(table.size):
        if table[key] != 0:
            table[key] = k
            palette[k, 0] = key >> 16
            palette[k, 1] = (key >> 8) & 255
            palette[k, 2] = key & 255
            k += 1
    return k


@jit
def _lookup(flat, start, stop, table, ids):
    for i in range(start, stop):
        key = (np.int32(flat[i, 0]) << 16) | (np.int32(flat[i, 1]) << 8) | np.int32(flat[i, 2])
        ids[i] = table[key]


@jit
def _gather(table, ids, start, stop, out):
    n = table.shape[1]
    for i in range(start, stop):
        row = ids[i]
        for c in range(n):
            out[i, c] = table[row, c]


def _run_chunks(fn, n: int, threads: int | None) -> None:
    """``fn(start, stop)`` over chunks of ``range(n)``, on threads (kernels are nogil)."""
    starts = list(range(0, n, CHUNK_PIXELS))
    workers = min(threads or usable_cores(), len(starts))
    if workers <= 1:
        for s in starts:
            fn(s, min(n, s + CHUNK_PIXELS))
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(workers) as pool:
        for f in [pool.submit(fn, s, min(n, s + CHUNK_PIXELS)) for s in starts]:
            f.result()


def _flat_pixels(pixels: np.ndarray) -> np.ndarray:
    pixels = np.asarray(pixels)
    if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] != 3:
        raise GainMLPError(f"8-bit (H, W, 3) pixels expected, got {pixels.dtype} "
                           f"{pixels.shape}")
    return np.ascontiguousarray(pixels).reshape(-1, 3)


def index_colours_numpy(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Reference of :func:`index_colours`: ``np.unique`` of the 24-bit keys."""
    flat = _flat_pixels(pixels).astype(np.int32)
    keys = (flat[:, 0] << 16) | (flat[:, 1] << 8) | flat[:, 2]
    uniq, inverse = np.unique(keys, return_inverse=True)
    palette = np.stack([uniq >> 16, (uniq >> 8) & 255, uniq & 255], axis=1).astype(np.uint8)
    return inverse.astype(np.int32).reshape(pixels.shape[:2]), palette


def index_colours(pixels: np.ndarray, threads: int | None = None) -> tuple[np.ndarray,
                                                                           np.ndarray]:
    """8-bit pixels ``(H, W, 3)`` -> (colour ids int32 ``(H, W)``, palette uint8 ``(K, 3)``).

    ``palette[ids] == pixels``; the palette is sorted by ``r << 16 | g << 8 | b``, as
    :func:`index_colours_numpy` sorts it (the two give identical arrays).
    """
    if not compiled():
        return index_colours_numpy(pixels)
    flat = _flat_pixels(pixels)
    table = np.zeros(1 << 24, dtype=np.int32)
    _run_chunks(lambda a, b: _mark(flat, a, b, table), flat.shape[0], threads)
    palette = np.empty((_count(table), 3), dtype=np.uint8)
    _number(table, palette)
    ids = np.empty(flat.shape[0], dtype=np.int32)
    _run_chunks(lambda a, b: _lookup(flat, a, b, table, ids), flat.shape[0], threads)
    return ids.reshape(pixels.shape[:2]), palette


def gather_rows(table: np.ndarray, ids: np.ndarray, threads: int | None = None) -> np.ndarray:
    """``table[ids]``: a per-colour table ``(K, C)`` expanded to ``ids.shape + (C,)``."""
    table = np.ascontiguousarray(table)
    if not compiled():
        return table[ids]
    flat_ids = np.ascontiguousarray(ids, dtype=np.int32).reshape(-1)
    out = np.empty((flat_ids.size, table.shape[1]), dtype=table.dtype)
    _run_chunks(lambda a, b: _gather(table, flat_ids, a, b, out), flat_ids.size, threads)
    return out.reshape(*np.shape(ids), table.shape[1])
