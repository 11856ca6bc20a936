"""What the Gain-MLP and MLP-ITM codecs share on the numpy side: inputs, normalisation, tiles.

Both networks see the same inputs: the pixel centre (x, y) and the SDR's PQ code values
(r, g, b), each normalised to [-1, 1] by a per-input centre and scale, then
frequency-encoded. Both decoders walk the image in tiles of whole rows and factor the
coordinate part of the first layer per column and per row. The fitters compute their
tables with these same functions, so a decoder reproduces the fitted network's forward pass
(to float rounding). The exact definitions are in ``docs/payload-format.md``.

This module never imports torch: decoding and the CPU trainer are numpy (and numba) only.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator

import numpy as np

from gainmlp.colorimetry import usable_cores
from gainmlp.errors import GainMLPError, check_image_size

#: The float32 nearest to pi: the encoding's ``a = PI32 * n`` is formed in float32.
PI32 = np.float32(np.pi)
#: Pixels per decoding tile (whole rows): bounds the decoder's memory on large photos.
TILE_PIXELS = 65536
#: Rows per chunk when per-channel statistics are gathered over a whole image.
STAT_CHUNK = 1 << 20


def pixel_centres(n: int) -> np.ndarray:
    """``(i + 0.5) / n`` for i = 0..n-1 (computed in float64), as float32."""
    return ((np.arange(n, dtype=np.float64) + 0.5) / n).astype(np.float32)


def normalise_inputs(values: np.ndarray, centre: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``clip((v - centre) / scale, -1, 1)`` in float32 (broadcast over the last axis)."""
    v = np.asarray(values, dtype=np.float32)
    n = (v - np.asarray(centre, dtype=np.float32)) / np.asarray(scale, dtype=np.float32)
    return np.clip(n, np.float32(-1.0), np.float32(1.0))


def encode_numpy(norm: np.ndarray, n_frequencies: int) -> np.ndarray:
    """Frequency encoding of normalised inputs ``(N, n_in)`` -> ``(N, n_in * 2 * n_freq)``.

    Per input: ``sin(2^k a)`` for k ascending, then ``cos(2^k a)``, with
    ``a = float32(pi) * n`` in float32 (the scaling by 2^k is exact).
    """
    norm = np.asarray(norm, dtype=np.float32)
    n, n_in = norm.shape
    powers = np.exp2(np.arange(n_frequencies, dtype=np.float32))
    args = (norm * PI32)[:, :, None] * powers[None, None, :]
    out = np.empty((n, n_in, 2, n_frequencies), dtype=np.float32)
    np.sin(args, out=out[:, :, 0, :])
    np.cos(args, out=out[:, :, 1, :])
    return out.reshape(n, n_in * 2 * n_frequencies)


def coordinate_encodings(height: int, width: int, centre: np.ndarray, scale: np.ndarray,
                         n_frequencies: int) -> tuple[np.ndarray, np.ndarray]:
    """Encodings of every column's x ``(W, 2F)`` and every row's y ``(H, 2F)``.

    ``centre``/``scale``: the input normalisation, x and y first. The first layer's
    coordinate part is separable, so these per-column and per-row tables are all that a
    decoder or a batch sampler needs of (x, y).
    """
    enc_x = encode_numpy(normalise_inputs(pixel_centres(width)[:, None], centre[:1],
                                          scale[:1]), n_frequencies)
    enc_y = encode_numpy(normalise_inputs(pixel_centres(height)[:, None], centre[1:2],
                                          scale[1:2]), n_frequencies)
    return enc_x, enc_y


def checked_sdr(sdr_pq: np.ndarray) -> tuple[np.ndarray, int, int]:
    """The SDR as an (H, W, 3) array with its height and width, size limits checked."""
    sdr = np.asarray(sdr_pq)
    if sdr.ndim != 3 or sdr.shape[2] != 3:
        raise GainMLPError(f"SDR image must be (H, W, 3), got shape {sdr.shape}")
    height, width = sdr.shape[:2]
    check_image_size(width, height, "SDR image")
    return sdr, height, width


def row_tiles(sdr: np.ndarray) -> Iterator[tuple[int, int, np.ndarray]]:
    """``(r0, r1, tile)`` for tiles of whole rows of about :data:`TILE_PIXELS` pixels.

    ``tile`` is rows ``r0..r1-1`` of the ``(H, W, 3)`` SDR as float32 ``(N, 3)`` with NaN
    read as 0 and infinities clamped to 0 / 1.
    """
    height, width = sdr.shape[:2]
    rows_per_tile = max(1, TILE_PIXELS // width)
    for r0 in range(0, height, rows_per_tile):
        r1 = min(height, r0 + rows_per_tile)
        tile = np.nan_to_num(np.asarray(sdr[r0:r1], dtype=np.float32).reshape(-1, 3),
                             nan=0.0, posinf=1.0, neginf=0.0)
        yield r0, r1, tile


def for_row_tiles(sdr: np.ndarray, work: Callable[[int, int, np.ndarray], None],
                  threads: int | None = None) -> None:
    """Run ``work(r0, r1, tile)`` for every :func:`row_tiles` tile, on ``threads`` threads
    (default: the usable cores). Tiles are independent and numpy releases the GIL in its
    loops, so a decoder that writes each tile's rows of its output scales with the cores."""
    workers = threads or usable_cores()
    if workers <= 1 or sdr.shape[0] * sdr.shape[1] <= TILE_PIXELS:
        for r0, r1, tile in row_tiles(sdr):
            work(r0, r1, tile)
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(workers) as pool:
        for future in [pool.submit(work, *args) for args in row_tiles(sdr)]:
            future.result()


def for_row_ranges(height: int, width: int, work: Callable[[int, int], None],
                   threads: int | None = None) -> None:
    """Run ``work(r0, r1)`` for the row ranges of :func:`row_tiles` (no tile data), on
    ``threads`` threads (default: the usable cores); for compiled (nogil) kernels that
    read their inputs themselves."""
    rows_per_tile = max(1, TILE_PIXELS // width)
    ranges = [(r0, min(height, r0 + rows_per_tile)) for r0 in range(0, height, rows_per_tile)]
    workers = min(threads or usable_cores(), len(ranges))
    if workers <= 1:
        for r0, r1 in ranges:
            work(r0, r1)
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(workers) as pool:
        for future in [pool.submit(work, r0, r1) for r0, r1 in ranges]:
            future.result()


def chunks(n: int, size: int = STAT_CHUNK) -> Iterator[slice]:
    """Consecutive slices of at most ``size`` rows covering ``range(n)``."""
    for i in range(0, n, size):
        yield slice(i, i + size)


def map_chunks(fn: Callable[[slice], object], n: int, size: int = STAT_CHUNK,
               threads: int | None = None) -> list:
    """``[fn(rows) for rows in chunks(n, size)]``, the chunks run on ``threads`` threads
    (default: the usable cores; numpy releases the GIL in its loops), the threads of
    :func:`gainmlp.threads.chunk_pool`. The results come in chunk order, so a fold over
    them gives the same bits as the serial loop. ``fn`` must not call :func:`map_chunks`."""
    ranges = list(chunks(n, size))
    workers = min(threads or usable_cores(), len(ranges))
    if workers <= 1:
        return [fn(rows) for rows in ranges]
    from gainmlp.threads import chunk_pool

    return list(chunk_pool(workers).map(fn, ranges))


def channel_stats(blocks: Iterable[np.ndarray]) -> tuple[np.ndarray, ...]:
    """Per channel over the rows of all ``blocks`` ``(n_i, C)``: mean, largest deviation
    from the mean (at least 1e-6), min and max (float64).

    The blocks are folded in one at a time, so a full-resolution photo never needs a
    float64 copy of itself (see :func:`chunks`; :func:`chunk_stats` folds the same
    partial sums computed on threads).
    """
    return _fold_stats(_block_stats(block) for block in blocks)


def chunk_stats(block_of: Callable[[slice], np.ndarray], n: int, size: int = STAT_CHUNK,
                threads: int | None = None) -> tuple[np.ndarray, ...]:
    """:func:`channel_stats` of ``block_of(rows)`` for the :func:`chunks` of ``range(n)``,
    the blocks and their partial sums made on threads (:func:`map_chunks`) and folded in
    order: the same bits as the serial fold."""
    return _fold_stats(map_chunks(lambda rows: _block_stats(block_of(rows)), n, size,
                                  threads))


def _block_stats(block: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """One block's per-channel sum, min, max and row count."""
    # min and max are exact in any order: taken along contiguous rows of the transpose
    # (about 20x faster than numpy's strided reduction over axis 0 of an (n, 3) block),
    # in pieces, so the copy stays small
    lo = hi = None
    for sub in chunks(block.shape[0], 1 << 16):
        rows = np.ascontiguousarray(block[sub].T)
        part_lo, part_hi = rows.min(axis=1), rows.max(axis=1)
        lo = part_lo if lo is None else np.minimum(lo, part_lo)
        hi = part_hi if hi is None else np.maximum(hi, part_hi)
    return block.sum(axis=0), lo, hi, block.shape[0]


def _fold_stats(partials: Iterable[tuple]) -> tuple[np.ndarray, ...]:
    total = lo = hi = None
    count = 0
    for part_sum, part_lo, part_hi, rows in partials:
        if total is None:
            total = np.zeros(part_sum.shape[0])
            lo, hi = np.full(total.shape, np.inf), np.full(total.shape, -np.inf)
        total += part_sum
        lo, hi = np.minimum(lo, part_lo), np.maximum(hi, part_hi)
        count += rows
    if total is None:
        raise GainMLPError("no pixels to take statistics of")
    mean = total / count
    return mean, np.maximum(np.maximum(hi - mean, mean - lo), 1e-6), lo, hi


def padded_width(n: int) -> int:
    """tcnn pads the encoding to a multiple of 16; we keep at least one constant column."""
    padded = -(-n // 16) * 16
    return padded if padded > n else n + 16


def check_pair(sdr_pq: np.ndarray, hdr_pq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The (SDR, HDR) pair as contiguous float32 ``(H, W, 3)`` arrays, NaN and infinities
    read as :func:`numpy.nan_to_num` does (finite float32 inputs are not copied)."""
    sdr, hdr = (_finite_float32(a) for a in (sdr_pq, hdr_pq))
    if sdr.ndim != 3 or sdr.shape[2] != 3 or sdr.shape != hdr.shape:
        raise GainMLPError(f"SDR {sdr.shape} and HDR {hdr.shape} must both be (H, W, 3)")
    return sdr, hdr


def _finite_float32(values: np.ndarray) -> np.ndarray:
    """``values`` as a contiguous float32 array with non-finite values replaced; no copy
    when it already is one (checked in slices, so a large photo needs no mask of itself)."""
    a = np.ascontiguousarray(values, dtype=np.float32)
    flat = a.reshape(-1)
    if all(np.isfinite(flat[sl]).all() for sl in chunks(flat.size)):
        return a
    return np.nan_to_num(a)


#: The fitters keep the loss every this many steps (and at the last step).
LOSS_EVERY = 50


class StepLoop:
    """The bookkeeping around an Adam loop: an optional progress bar, the loss every
    :data:`LOSS_EVERY` steps, and the loop's wall time (``sync()`` is called before the
    clock stops: a GPU's queue drained)."""

    def __init__(self, steps: int, desc: str, progress: bool,
                 sync: Callable[[], None] | None = None) -> None:
        self.steps, self.desc, self.progress, self.sync = steps, desc, progress, sync
        self.losses: list[float] = []
        self.seconds = 0.0
        self.bar = None

    def __iter__(self) -> Iterator[int]:
        steps = range(self.steps)
        if self.progress:
            from tqdm import tqdm

            self.bar = tqdm(steps, desc=self.desc, unit="step", leave=False)
            steps = self.bar
        t0 = time.perf_counter()
        yield from steps
        if self.sync is not None:
            self.sync()
        self.seconds = time.perf_counter() - t0
        if self.bar is not None:
            self.bar.close()

    def log(self, step: int, loss) -> None:
        """Keep ``loss`` (a number or a one-element tensor) at every :data:`LOSS_EVERY`-th
        step and at the last one."""
        if step % LOSS_EVERY == 0 or step == self.steps - 1:
            self.losses.append(float(loss.detach() if hasattr(loss, "detach") else loss))
            if self.bar is not None:
                self.bar.set_postfix(loss=f"{self.losses[-1]:.3g}")


# -- the pixel sampler's hash ------------------------------------------------------------------

_MIX1 = 0x5851F42D4C957F2D  # multipliers of a 64-bit integer hash (PCG / splitmix family)
_MIX2 = 0x2545F4914F6CDD1D


def _wrap64(value: int) -> np.int64:
    """A Python integer as the int64 with the same low 64 bits."""
    value &= (1 << 64) - 1
    return np.int64(value - (1 << 64) if value >= 1 << 63 else value)


def hashed_indices(seeds: np.ndarray, start: int, count: int, sizes: np.ndarray) -> np.ndarray:
    """Draws ``start .. start + count - 1`` of each image ``(K, count)``, uniform with
    replacement in ``[0, sizes[k])``: the torch trainer's hash
    (:func:`gainmlp.codecs.mlp.trainer.hashed_indices`) in numpy int64 (wrapping); the CPU
    trainer's sampler (compiled: :func:`gainmlp.kernels.train_step.draw`)."""
    seeds = np.asarray(seeds, np.int64).reshape(-1, 1)
    j = np.arange(start, start + count, dtype=np.int64)[None, :]
    with np.errstate(over="ignore"):
        x = seeds * _wrap64(_MIX1) + j * _wrap64(_MIX2)
        for shift in (31, 29, 32):
            x ^= x >> np.int64(shift)
            x *= _wrap64(_MIX1)
    return (x >> np.int64(16)) % np.asarray(sizes, np.int64).reshape(-1, 1)
