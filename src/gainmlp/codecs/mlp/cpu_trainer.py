"""The CPU trainer: the fused trainer's recipe compiled with numba, without torch.

:class:`CpuTrainer` has the interface of :class:`gainmlp.codecs.mlp.trainer.FusedTrainer`
(``step``, ``freeze_grid``, ``stored``) and computes the same thing: the same pixels (the
counter hash of (seed, step, sample), ported to numpy: :func:`hashed_indices`), the same
network, normalised-map MSE, hand-written backward, Adam (and Muon for the weight
matrices with ``optimiser="muon"``) and grid freezing, from the same start weights. A
step is :mod:`gainmlp.kernels.train`'s kernels: the coordinate part of the first layer
per column and per row when there are fewer columns and rows than pixels
per step (gradients summed into per-column / per-row bins and multiplied once), the
step's pixels in fixed chunks of :data:`CHUNK` run on threads (the kernels release the
GIL) with a gradient buffer each, summed in chunk order (the result does not depend on
the number of threads), then one Adam update (and the Muon updates). The pixels are drawn
here, in numpy, and handed to the kernels as indices, so any sampling (held-out pools,
highlight focus) works unchanged.

This module never imports torch; :class:`ImageData` (one image's training data) is shared
with the torch trainer.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from gainmlp.codecs.features import coordinate_encodings, hashed_indices
from gainmlp.codecs.mlp.fit_plan import (
    MUON_ADAM_LR,
    MUON_BETA,
    MUON_BLOCKS,
    MUON_NS,
    MUON_NS_STEPS,
    MUON_SCALE,
    once,
)
from gainmlp.codecs.mlp.grid import dequantise_grid, grid_taps
from gainmlp.errors import GainMLPError
from gainmlp.options import OPTIMISERS

ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8
#: Pixels per chunk of a step: each chunk has its own gradient buffer; chunks run on
#: threads. Fixed, so a fit gives the same bytes with any number of threads.
CHUNK = 2048
#: A fit keeps per-pixel data only for the pixels its steps draw when they are fewer than
#: this fraction of the image (large photos: memory then grows with steps x batch).
DRAWN_FRACTION = 0.5


def muon_blocks(optimiser: str, offsets: np.ndarray, shapes: list[tuple[int, ...]]
                ) -> list[tuple[int, int, int]]:
    """(offset, rows, cols) in the fused layout of each matrix that ``optimiser`` fits with
    Muon (:data:`~gainmlp.codecs.mlp.fit_plan.MUON_BLOCKS` for ``muon``, none for
    ``adam``)."""
    if optimiser not in OPTIMISERS:
        raise GainMLPError(f"unknown optimiser {optimiser!r}; use {' or '.join(OPTIMISERS)}")
    if optimiser != "muon":
        return []
    return [(int(offsets[b]), int(shapes[b][0]), int(shapes[b][1])) for b in MUON_BLOCKS]


def drawn_pixels(seeds: np.ndarray, sizes: np.ndarray, steps: int, batch: int,
                 mark: Callable | None = None) -> list[np.ndarray]:
    """Per image, the sorted flat indices of every pixel that ``steps`` steps of ``batch``
    draws will visit. ``mark``: the compiled marker
    (:func:`gainmlp.kernels.train_step.mark_drawn`, the same pixels); None: numpy."""
    return [np.flatnonzero(drawn_mask(seed, size, steps, batch, mark))
            for seed, size in zip(seeds, sizes, strict=True)]


def drawn_mask(seed: int, size: int, steps: int, batch: int, mark: Callable | None = None
               ) -> np.ndarray:
    """:func:`drawn_pixels` of one image as a mask ``(size,)``."""
    seen = np.zeros(int(size), dtype=bool)
    total = steps * batch
    if mark is not None:
        mark(np.int64(seed), np.int64(size), np.int64(total), seen)
        return seen
    chunk = max(1, (1 << 22) // max(1, batch)) * batch
    for start in range(0, total, chunk):
        count = min(chunk, total - start)
        seen[hashed_indices(np.array([seed]), start, count, np.array([size]))[0]] = True
    return seen


@dataclass
class ImageData:
    """One image's training data: SDR PQ ``(H, W, 3)``, normalised targets ``(H*W, 3)`` (or
    a function giving the targets of given flat pixel indices, None meaning all pixels),
    input normalisation (centre, scale of x, y, r, g, b), the seed, the start weights in the
    stored layout without grid columns, and the grid-column start weights ``(width, C)``."""

    sdr: np.ndarray
    target: np.ndarray | Callable[[np.ndarray | None], np.ndarray]
    in_centre: np.ndarray
    in_scale: np.ndarray
    seed: int
    weights: list[np.ndarray]
    grid_weight: np.ndarray | None = None
    #: The sorted flat pixel indices the sampler draws from (None: every pixel); rate control
    #: (:mod:`gainmlp.codecs.mlp.rate`) leaves its hold-out pixels out.
    pixels: np.ndarray | None = None
    #: Highlight emphasis (:mod:`gainmlp.codecs.mlp.highlight_fit`): the sorted flat indices
    #: the last ``focus`` draws of every step come from (None: the sampler's own pool, so an
    #: image without highlights draws exactly as without emphasis), and per-pixel loss
    #: weights ``(H*W,)`` or a function of flat indices (None: all 1).
    focus: np.ndarray | None = None
    weight: np.ndarray | Callable[[np.ndarray | None], np.ndarray] | None = None


def sorted_union(a: np.ndarray, b: np.ndarray, size: int) -> np.ndarray:
    """The sorted distinct values of ``a`` and ``b`` (flat indices below ``size``), as
    :func:`numpy.union1d` gives them, through a mask: linear time (``union1d`` sorts, which
    took seconds per fit for the millions of highlight pixels of a 12-MP photo)."""
    mask = np.zeros(int(size), dtype=bool)
    mask[a] = True
    mask[b] = True
    return np.flatnonzero(mask)


def pixels_of(image: np.ndarray, kept: np.ndarray | None) -> np.ndarray:
    """``(n, 3)`` float32 values of an ``(H, W, 3)`` image at the flat indices ``kept``
    (all pixels when None)."""
    flat = np.asarray(image).reshape(-1, 3)
    return np.ascontiguousarray(flat if kept is None else flat[kept], np.float32)


def targets_of(im: ImageData, kept: np.ndarray | None) -> np.ndarray:
    if callable(im.target):
        return np.ascontiguousarray(im.target(kept), np.float32)
    return pixels_of(im.target, kept)


def weights_of(im: ImageData, kept: np.ndarray | None, size: int) -> np.ndarray:
    w = im.weight
    if w is None:
        return np.ones(size if kept is None else kept.size, np.float32)
    if callable(w):
        return np.ascontiguousarray(w(kept), np.float32)
    w = np.asarray(w, np.float32).reshape(-1)
    return w if kept is None else w[kept]


def flat_start(images: list[ImageData], n_frequencies: int,
               grid: tuple[int, int, int] | None) -> tuple[np.ndarray, list[tuple[int, ...]]]:
    """The start parameters ``(K, P)`` in the fused layout (W0ᵀ, bias, W1ᵀ, .., Woutᵀ,
    Wgᵀ, grid) and the blocks' shapes."""
    n_enc = 10 * n_frequencies
    blocks = []
    for im in images:
        w0 = np.asarray(im.weights[0], np.float32)
        parts = [w0[:, :n_enc].T, w0[:, n_enc:].sum(axis=1, keepdims=True).T]
        parts += [np.asarray(w, np.float32).T for w in im.weights[1:]]
        if grid is not None:
            parts += [np.asarray(im.grid_weight, np.float32).T, np.zeros(grid, np.float32)]
        blocks.append(parts)
    shapes = [p.shape for p in blocks[0]]
    flat = np.stack([np.concatenate([p.ravel() for p in parts]) for parts in blocks])
    return np.ascontiguousarray(flat, np.float32), shapes


class _Image:
    """One image's arrays as the kernels take them."""

    def __init__(self, im: ImageData, kept: np.ndarray | None, n_frequencies: int,
                 width: int, batch: int | None, grid: tuple[int, int, int] | None) -> None:
        self.height, self.width = im.sdr.shape[:2]
        self.size = self.height * self.width
        self.seed = int(im.seed)
        self.kept = kept
        # pools as given (rate control's is int32: no int64 copy of a large photo's pixels)
        self.pool = None if im.pixels is None else np.asarray(im.pixels)
        self.focus = None if im.focus is None or not im.focus.size else np.asarray(im.focus)
        self.sdr = pixels_of(im.sdr, kept)
        self.target = targets_of(im, kept)
        self.weight = (np.zeros(0, np.float32) if im.weight is None
                       else weights_of(im, kept, self.size))
        self.centre = np.asarray(im.in_centre[2:], np.float32)
        self.scale = np.asarray(im.in_scale[2:], np.float32)
        self.tx, self.ty = coordinate_encodings(self.height, self.width, im.in_centre,
                                                im.in_scale, n_frequencies)
        self.tx_t, self.ty_t = (np.ascontiguousarray(t.T) for t in (self.tx, self.ty))
        # per column / row terms pay when there are fewer columns and rows than pixels
        self.factored = batch is not None and self.width + self.height <= batch
        if self.factored:
            self.cx = np.zeros((self.width, width), np.float32)
            self.cy = np.zeros((self.height, width), np.float32)
        if grid is not None:
            rows, cols, _ = grid
            self.gtx = np.ascontiguousarray(np.stack(grid_taps(self.width, cols), axis=1),
                                            np.float32)
            self.gty = np.ascontiguousarray(np.stack(grid_taps(self.height, rows), axis=1),
                                            np.float32)
        else:
            self.gtx = self.gty = np.zeros((1, 3), np.float32)

    def draw_size(self) -> int:
        return self.size if self.pool is None else self.pool.size


class CpuTrainer:
    """Fits K networks of one shape on the CPU (see the module docstring)."""

    def __init__(self, images: list[ImageData], *, activation: str, n_frequencies: int,
                 n_pad: int, grid: tuple[int, int, int] | None, grid_precision: str,
                 grid_lr_scale: float = 1.0, steps: int | None = None,
                 batch: int | None = None, focus: int = 0, optimiser: str = "adam",
                 threads: int | None = None, compiled: bool | None = None,
                 persistent: bool = True) -> None:
        from gainmlp import kernels
        from gainmlp.colorimetry import usable_cores
        from gainmlp.kernels import train

        self.compiled = kernels.compiled() if compiled is None else bool(compiled)
        self.kern = train.kernels(self.compiled)
        self.k = len(images)
        self.activation = activation
        self.act = train.SINE if activation == "sine" else train.RELU
        self.nf = n_frequencies
        self.grid = grid
        self.grid_precision = grid_precision
        self.plan = (steps, batch)
        self.focus = int(focus) if any(im.focus is not None and im.focus.size
                                       for im in images) else 0
        self.flat, self.shapes = flat_start(images, n_frequencies, grid)
        self.w = int(self.shapes[1][1])
        sizes = [int(np.prod(s)) for s in self.shapes]
        self.offsets = np.cumsum([0, *sizes])
        offs = list(self.offsets[:4])
        offs += [self.offsets[4], self.offsets[5]] if grid is not None else [0, 0]
        self.offs = np.asarray(offs, np.int64)
        self.m = np.zeros_like(self.flat)
        self.v = np.zeros_like(self.flat)
        self.lr_scale = np.ones(self.flat.shape[1], np.float32)
        self.lr_scale[self.offsets[1]:self.offsets[2]] = n_pad  # the bias (trainer.py)
        if grid is not None:
            self.lr_scale[self.offsets[-2]:] = grid_lr_scale
        self.muon = muon_blocks(optimiser, self.offsets, self.shapes)
        if self.muon:
            self.lr_scale *= MUON_ADAM_LR
        for off, rows, cols in self.muon:  # Muon's matrices: no Adam step
            self.lr_scale[off:off + rows * cols] = 0.0
        self.momentum = np.zeros_like(self.flat) if self.muon else None
        kept = self._kept(images, steps, batch)
        self.images = [_Image(im, kp, n_frequencies, self.w, batch, grid)
                       for im, kp in zip(images, kept, strict=True)]
        self.threads = max(1, int(threads or usable_cores()))
        self._pool = ThreadPoolExecutor(self.threads - 1) if self.threads > 1 else None
        self._buffers: dict[int, tuple] = {}
        self._threaded: _ThreadedStep | None = None
        #: Whether a one-image fit runs its steps in :mod:`gainmlp.kernels.train_step` (the
        #: threads kept in compiled code between steps); False: the Python pool of
        #: :meth:`step` (the same bytes; K > 1 images and the numpy references always).
        self.persistent = bool(persistent) and self.compiled

    def close(self) -> None:
        """Stop the worker threads."""
        if self._threaded is not None:
            self._threaded.close()
            self._threaded = None
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def __del__(self) -> None:  # pragma: no cover - interpreter shutdown order
        try:
            self.close()
        except Exception:  # noqa: BLE001
            pass

    def _kept(self, images: list[ImageData], steps: int | None, batch: int | None
              ) -> list[np.ndarray | None]:
        """Per image the pixels whose data is kept (None: all): with ``steps`` and
        ``batch`` known, a large photo keeps only the pixels the fit will draw (identical
        arithmetic, identical bytes)."""
        sizes = [im.sdr.shape[0] * im.sdr.shape[1] for im in images]
        none: list[np.ndarray | None] = [None] * len(images)
        if steps is None or batch is None or steps * batch >= sum(sizes):
            return none
        if self.focus and sum(0 if im.focus is None else im.focus.size for im in images
                              ) >= DRAWN_FRACTION * sum(sizes):
            return none  # the kept pixels include the focus pools: too many already
        pools = [None if im.pixels is None else np.asarray(im.pixels) for im in images]
        # rate control fits one pair with the same pool, focus, steps and batch rung after
        # rung: the same pixels (0.1 s of a 12-MP fit's set-up), found once per search
        key = ("kept", steps, batch, self.focus,
               *((im.seed, n, id(p), id(im.focus)) for im, n, p in zip(images, sizes, pools,
                                                                     strict=True)))
        return once(key, lambda: self._drawn(images, sizes, pools, steps, batch),
                    *(p for p in pools if p is not None),
                    *(im.focus for im in images if im.focus is not None))

    def _drawn(self, images: list[ImageData], sizes: list[int],
               pools: list[np.ndarray | None], steps: int, batch: int
               ) -> list[np.ndarray | None]:
        """:meth:`_kept`'s pixels: those drawn, with the focus pools (counted as masks
        first: a 12-MP photo's millions of indices are made only when they are kept)."""
        mark = None
        if self.compiled:
            from gainmlp.kernels import train_step

            mark = train_step.mark_drawn
        masks = []
        for im, n, pool in zip(images, sizes, pools, strict=True):
            seen = drawn_mask(im.seed, n if pool is None else pool.size, steps, batch, mark)
            if pool is not None:
                mask = np.zeros(n, dtype=bool)
                mask[pool[seen]] = True
                seen = mask
            if self.focus and im.focus is not None and im.focus.size:
                seen[im.focus] = True
            masks.append(seen)
        if sum(int(np.count_nonzero(m)) for m in masks) >= DRAWN_FRACTION * sum(sizes):
            return [None] * len(images)
        return [np.flatnonzero(m) for m in masks]

    # -- parameters ----------------------------------------------------------------------

    def freeze_grid(self) -> None:
        """Round the grids to their stored precision and stop training them."""
        start = self.offsets[-2]
        for k in range(self.k):
            grid = self.flat[k, start:].reshape(self.grid)
            self.flat[k, start:] = dequantise_grid(grid, self.grid_precision).reshape(-1)
        self.lr_scale[start:] = 0.0

    def stored(self, k: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Image k's weights in the stored layout (grid columns inserted) and its grids."""
        arrs = [self.flat[k, a:b].reshape(s) for a, b, s in
                zip(self.offsets[:-1], self.offsets[1:], self.shapes, strict=True)]
        n_layers = len(arrs) - (2 if self.grid is not None else 0)
        mid = [arrs[n_layers].T] if self.grid is not None else []
        first = np.concatenate([arrs[0].T, *mid, arrs[1].T], axis=1)
        weights = [first] + [a.T.copy() for a in arrs[2:n_layers]]
        grids = [arrs[-1].copy()] if self.grid is not None else []
        return [np.ascontiguousarray(w, np.float32) for w in weights], grids

    # -- one step ------------------------------------------------------------------------

    def indices(self, step: int, batch: int) -> list[np.ndarray]:
        """Per image the flat pixel indices of ``step``'s draws (the torch trainer's)."""
        out = []
        for img in self.images:
            idx = hashed_indices(np.array([img.seed]), step * batch, batch,
                                 np.array([img.draw_size()]))[0]
            if img.pool is not None:
                idx = img.pool[idx]
            if self.focus:
                n_f = self.focus
                pool = img.focus if img.focus is not None else img.pool
                size = img.draw_size() if img.focus is None else img.focus.size
                f = hashed_indices(np.array([img.seed]), step * batch + batch - n_f, n_f,
                                   np.array([size]))[0]
                idx = np.concatenate([idx[:batch - n_f], f if pool is None else pool[f]])
            out.append(idx.astype(np.int64, copy=False))
        return out

    def _buffer(self, batch: int, img_index: int) -> tuple:
        key = (batch, img_index)
        if key not in self._buffers:
            img = self.images[img_index]
            n_chunks = -(-batch // CHUNK)
            grads = np.zeros((n_chunks, self.flat.shape[1]), np.float32)
            shape_x = (n_chunks, img.width, self.w) if img.factored else (n_chunks, 1, 1)
            shape_y = (n_chunks, img.height, self.w) if img.factored else (n_chunks, 1, 1)
            self._buffers[key] = (grads, np.zeros(shape_x, np.float32),
                                  np.zeros(shape_y, np.float32))
        return self._buffers[key]

    def step(self, step: int, batch: int, lr: float) -> np.ndarray:
        """One Adam step of every image at learning rate ``lr``; returns the (K,) losses."""
        if self.images[0].kept is not None and (batch != self.plan[1]
                                                or not 0 <= step < self.plan[0]):
            raise ValueError(f"step {step} of {batch} pixels is outside the planned "
                             f"{self.plan[0]} steps of {self.plan[1]}")
        if self.k == 1 and self.persistent:
            if self._threaded is None or self._threaded.batch != batch:
                if self._threaded is not None:
                    self._threaded.close()
                self._threaded = _ThreadedStep(self, batch)
            return self._threaded.step(step, lr)
        kern = self.kern
        w, nf2 = self.w, 2 * self.nf
        inv = np.float32(2.0 / (batch * 3))
        grid = self.grid or (0, 0, 0)
        work = []
        for k, (img, idx) in enumerate(zip(self.images, self.indices(step, batch),
                                           strict=True)):
            rows = idx // img.width
            cols = idx - rows * img.width
            pos = idx
            if img.kept is not None:
                pos = np.searchsorted(img.kept, idx)
            grads, bins_x, bins_y = self._buffer(batch, k)
            flat = self.flat[k]
            if img.factored:
                kern["coordinate_terms"](img.tx_t, flat, self.offs[0], w, img.cx)
                kern["coordinate_terms"](img.ty_t, flat, self.offs[0] + nf2 * w, w, img.cy)
                tab_x, tab_y, factored = img.cx, img.cy, 1
            else:
                tab_x, tab_y, factored = img.tx, img.ty, 0
            for c in range(grads.shape[0]):
                sl = slice(c * CHUNK, min(batch, (c + 1) * CHUNK))
                work.append((flat, self.offs, w, self.act, self.nf, cols[sl], rows[sl],
                             pos[sl], tab_x, tab_y, factored, img.sdr, img.centre, img.scale,
                             img.target, img.weight, img.gtx, img.gty, grid[0], grid[1],
                             grid[2], inv, grads[c], bins_x[c], bins_y[c]))
        losses = self._run(work)
        out = np.zeros(self.k)
        i = 0
        b1, b2 = ADAM_BETAS
        t = step + 1
        step_size = np.float32(lr / (1.0 - b1 ** t))
        bias2 = np.float32(1.0 - b2 ** t)
        for k, img in enumerate(self.images):
            grads, bins_x, bins_y = self._buffer(batch, k)
            out[k] = sum(losses[i:i + grads.shape[0]]) / (batch * 3)
            i += grads.shape[0]
            if img.factored:
                kern["bin_gradients"](img.tx, bins_x, grads[0], self.offs[0], w)
                kern["bin_gradients"](img.ty, bins_y, grads[0], self.offs[0] + nf2 * w, w)
            kern["adam"](self.flat[k], grads, self.m[k], self.v[k], self.lr_scale, step_size,
                         bias2, np.float32(b1), np.float32(b2), np.float32(ADAM_EPS))
            for off, rows, cols in self.muon:  # (adam left the summed gradient in grads[0])
                kern["muon"](self.flat[k], grads[0], self.momentum[k], off, rows, cols,
                             float(lr), MUON_BETA, MUON_SCALE, *MUON_NS, MUON_NS_STEPS)
        return out

    def _run(self, work: list[tuple]) -> list[float]:
        """Run the chunk kernels, spread over the threads (each writes only its own
        buffers); returns their losses in order."""
        fn = self.kern["chunk_gradients"]
        losses = [0.0] * len(work)

        def share(t: int) -> None:
            for i in range(t, len(work), self.threads):
                losses[i] = fn(*work[i])

        futures = [] if self._pool is None else \
            [self._pool.submit(share, t) for t in range(1, min(self.threads, len(work)))]
        share(0)
        for f in futures:
            f.result()
        return losses


class _ThreadedStep:
    """The steps of a one-image fit as :mod:`gainmlp.kernels.train_step` runs them: the
    caller's thread and each worker thread in :func:`~gainmlp.kernels.train_step.
    thread_step`, the workers from one step to the next (the same
    kernels, arguments and order as :meth:`CpuTrainer.step`'s pool, so the same bytes). A
    worker that waits longer than :data:`IDLE_YIELDS` yields for a step (the caller is busy
    elsewhere, or the fit ended) blocks on a condition until the next step or
    :meth:`close`."""

    #: Yields (after :data:`~gainmlp.kernels.sync.SPINS` spins, ~0.1 ms in all) a worker
    #: waits for the next step before it blocks: a few times the Python work between two
    #: steps, far less than a rate-control check, during which a spinning worker would
    #: take a core from the check's own threads.
    IDLE_YIELDS = 100

    def __init__(self, trainer: CpuTrainer, batch: int) -> None:
        import threading

        from gainmlp.codecs.mlp.fit_plan import MUON_BETA, MUON_NS, MUON_NS_STEPS, MUON_SCALE
        from gainmlp.kernels import train_step

        self.ts = train_step
        self.trainer, self.batch = trainer, batch
        img = trainer.images[0]
        grads, bins_x, bins_y = trainer._buffer(batch, 0)
        self.threads = max(1, min(trainer.threads, grads.shape[0]))
        self.ctrl = np.zeros(train_step.ctrl_size(self.threads), np.int64)
        self.gen = 0
        self.idx, self.rows, self.cols, self.pos = (np.zeros(batch, np.int64) for _ in range(4))
        self.losses = np.zeros(grads.shape[0])
        grid = trainer.grid or (0, 0, 0)
        empty = np.zeros(0, np.int32)
        cx, cy = (img.cx, img.cy) if img.factored else (img.tx, img.ty)
        compact = (np.zeros((batch, 3), np.float32), np.zeros((batch, 3), np.float32),
                   np.zeros(batch if img.weight.size else 0, np.float32))
        self.shared = (batch, CHUNK, trainer.flat[0], trainer.offs, trainer.w, trainer.act,
                       trainer.nf, self.cols, self.rows, self.pos, np.arange(CHUNK), img.tx,
                       img.ty, img.tx_t, img.ty_t, cx, cy, int(img.factored), img.sdr,
                       img.centre, img.scale, img.target, img.weight, *compact, img.gtx,
                       img.gty, grid[0], grid[1], grid[2], np.float32(2.0 / (batch * 3)),
                       grads, bins_x, bins_y, self.losses)
        focus = trainer.focus
        focus_pool = img.focus if img.focus is not None else img.pool
        # flat pixel indices as int32 (rate control's pools are: no copy of 12 M of them)
        self.sampler = (np.int64(img.seed), img.draw_size(),
                        empty if img.pool is None else img.pool.astype(np.int32, copy=False),
                        focus, empty if focus_pool is None
                        else focus_pool.astype(np.int32, copy=False),
                        img.draw_size() if img.focus is None else img.focus.size,
                        train_step.kept_rank(img.kept, img.size), img.width, self.idx)
        blocks = np.array(trainer.muon, np.int64).reshape(-1, 3)
        momentum = trainer.momentum[0] if trainer.momentum is not None else \
            np.zeros(0, np.float32)
        self.shared += (momentum, blocks, MUON_BETA, MUON_SCALE, *MUON_NS, MUON_NS_STEPS)
        self.update = (trainer.m[0], trainer.v[0], trainer.lr_scale)
        one = np.float32(1.0)
        self._idle = (one, one, one, one, one, 0.0)  # a worker's unused Adam arguments
        self.cond = threading.Condition()
        self.idle = [False] * self.threads
        self.workers = [threading.Thread(target=self._work, args=(t,), daemon=True,
                                         name=f"gainmlp-fit-{t}")
                        for t in range(1, self.threads)]
        for worker in self.workers:
            worker.start()

    def _work(self, t: int) -> None:
        """Worker ``t``: the compiled loop, and a Python wait whenever it goes idle."""
        ts, last = self.ts, 0
        try:
            while True:
                code = ts.thread_step(self.ctrl, t, self.threads, last, self.IDLE_YIELDS, 0,
                                      *self.sampler, *self.shared, *self.update, *self._idle)
                last = int(self.ctrl[ts.slot(t, 3)])
                if code == ts.STOPPED:
                    return
                with self.cond:  # idle: sleep until the next step (or the stop)
                    if self.ctrl[ts.GO] != last or self.ctrl[ts.STOP]:
                        continue
                    self.idle[t] = True
                    self.cond.wait_for(lambda: not self.idle[t])
        finally:
            self.ctrl[ts.STOP] = 1  # a worker that ends stops the caller's waits too

    def step(self, step: int, lr: float) -> np.ndarray:
        """Step ``step`` at learning rate ``lr``; returns the (1,) loss."""
        ts = self.ts
        self.gen += 1
        with self.cond:
            ts.publish(self.ctrl, self.gen, step)
            if any(self.idle):
                self.idle = [False] * self.threads
                self.cond.notify_all()
        b1, b2 = ADAM_BETAS
        t = step + 1
        loss = ts.thread_step(self.ctrl, 0, self.threads, self.gen, 0, step, *self.sampler,
                              *self.shared, *self.update, np.float32(lr / (1.0 - b1 ** t)),
                              np.float32(1.0 - b2 ** t), np.float32(b1), np.float32(b2),
                              np.float32(ADAM_EPS), float(lr))
        if loss < 0:  # a worker ended (its exception was reported by its thread)
            raise RuntimeError("a fitting thread stopped")
        return np.array([loss])

    def close(self) -> None:
        """Stop and join the worker threads."""
        with self.cond:
            self.ts.stop(self.ctrl)
            self.idle = [False] * self.threads
            self.cond.notify_all()
        for worker in self.workers:
            worker.join()
        self.workers = []
