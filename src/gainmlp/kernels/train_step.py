"""One whole step of the CPU trainer in compiled code, spread over threads that stay in it.

:mod:`gainmlp.kernels.train` computes a step in pieces that
:meth:`gainmlp.codecs.mlp.cpu_trainer.CpuTrainer.step` calls one by one from Python,
handing the chunks to a thread pool. For one image, this module runs the same pieces in
the same order on the same values, so the bytes are identical (tests/
test_kernels_train_step.py), with these differences in how they are run:

* :func:`draw` draws the step's pixels (the counter hash of
  :func:`gainmlp.codecs.features.hashed_indices`, the sampler's pool, the highlight focus,
  the kept-pixel positions, :func:`kept_rank`) in compiled code, and :func:`gather`
  copies their data into compact arrays (one pass of independent loads: the cache
  misses of a large image's random rows overlap); :func:`draw_numpy` and
  :func:`gather_numpy` are the references;
* :func:`thread_step` is the one entry of every thread: the caller's side
  (:func:`_main_side`, once per step) and each worker's (:func:`_worker_side`, started
  once per fit and kept inside compiled code between steps) hand the work over through
  flags in a shared int64 array (:mod:`gainmlp.kernels.sync`) instead of Python queues.
  Each thread draws and gathers the pixels of its own chunks (chunk ``c`` on thread ``c mod
  T``); the caller computes the per-column coordinate terms while worker 1 computes the
  per-row ones; after the chunks the caller bins the column gradients while worker 1 bins
  the row ones; the caller runs Adam, then Muon on the hidden matrix while worker 1 runs
  it on the first layer's; and each thread hints its next step's rows
  (:func:`prefetch_own`).

The flags (``ctrl``): :data:`GO` holds the generation (1, 2, ...) the caller published and
:data:`STEP` its step, :data:`STOP` non-zero ends the workers, :data:`MAIN_READY` /
:data:`MAIN_CHUNKS` / :data:`ADAM` the caller's progress, :data:`LR` the step's learning
rate (float64 bits), and per worker ``t`` four slots from :func:`slot`: ready (its share
before the chunks done), chunks done, bins done, step done. Every flag holds the
generation it reached, so nothing is reset between steps.
"""

from __future__ import annotations

import numpy as np

from gainmlp.codecs import features
from gainmlp.kernels._jit import jit
from gainmlp.kernels.sync import load_acquire, prefetch, store_release, wait_until
from gainmlp.kernels.train import adam, bin_gradients, chunk_gradients, coordinate_terms, muon

GO, STOP, MAIN_READY, MAIN_CHUNKS, STEP, ADAM, LR = range(7)
#: Worker return codes.
STOPPED, IDLE = 0, -1
_MIX1 = np.int64(features._MIX1)
_MIX2 = np.int64(features._MIX2)


@jit
def publish(ctrl, g, step):  # pragma: no cover - compiled
    """The caller publishes generation ``g``, the trainer's step ``step`` (release order:
    the workers see every earlier write of the caller's thread)."""
    ctrl[STEP] = step
    store_release(ctrl, GO, g)


@jit
def stop(ctrl):  # pragma: no cover - compiled
    """End the workers (and every wait)."""
    store_release(ctrl, STOP, 1)


@jit(inline="always")
def _set_lr(ctrl, lr):  # pragma: no cover - compiled
    """Keep the step's learning rate (float64) in the flag array for worker 1's Muon."""
    ctrl[LR:LR + 1].view(np.float64)[0] = lr


@jit(inline="always")
def _lr_of(ctrl):  # pragma: no cover - compiled
    return ctrl[LR:LR + 1].view(np.float64)[0]


def ctrl_size(threads: int) -> int:
    """Length of the flag array for ``threads`` threads (the caller's included)."""
    return 7 + 4 * threads


@jit(inline="always")
def slot(t, which):  # pragma: no cover - compiled
    """Worker ``t``'s flag ``which`` (0 ready, 1 chunks done, 2 bins done, 3 step done)."""
    return 7 + 4 * t + which


@jit(inline="always")
def _hash(seed, j, size):  # pragma: no cover - compiled
    """The counter hash of :func:`~gainmlp.codecs.mlp.cpu_trainer.hashed_indices` (int64,
    wrapping) of draw ``j``, modulo ``size``."""
    x = seed * _MIX1 + j * _MIX2
    x ^= x >> np.int64(31)
    x *= _MIX1
    x ^= x >> np.int64(29)
    x *= _MIX1
    x ^= x >> np.int64(32)
    x *= _MIX1
    return (x >> np.int64(16)) % size


@jit(inline="always")
def _drawn(seed, start, i, batch, size, pool, n_focus, focus, focus_size
           ):  # pragma: no cover - compiled
    """The flat index of draw ``i`` of the step whose first draw is ``start`` (see
    :func:`draw`)."""
    if i < batch - n_focus:
        k = _hash(seed, start + i, size)
        return pool[k] if pool.size else k
    k = _hash(seed, start + i, focus_size)
    return focus[k] if focus.size else k


@jit
def draw(seed, step, batch, lo, hi, size, pool, n_focus, focus, focus_size, rank, width,
         idx, rows, cols, pos):  # pragma: no cover - compiled
    """Draws ``lo .. hi - 1`` of ``step``'s ``batch``: their flat indices ``idx``, rows,
    columns and data positions ``pos``; uniform in ``[0, size)`` mapped through ``pool``
    (empty: none); with ``n_focus`` the last ``n_focus`` draws of the step uniform in
    ``[0, focus_size)`` through ``focus`` (empty: none); ``pos`` from ``rank``, per image
    pixel its position among the kept pixels (:func:`kept_rank`; empty: ``idx``)."""
    start = np.int64(step) * batch
    for i in range(lo, hi):
        v = _drawn(seed, start, i, batch, size, pool, n_focus, focus, focus_size)
        idx[i] = v
        r = v // width
        rows[i] = r
        cols[i] = v - r * width
    if rank.size:
        for i in range(lo, hi):
            pos[i] = rank[idx[i]]
    else:
        for i in range(lo, hi):
            pos[i] = idx[i]


@jit
def mark_drawn(seed, size, total, seen):  # pragma: no cover - compiled
    """``seen[k] = True`` for every draw ``j < total`` of the sampler (``_hash(seed, j,
    size)``): :func:`gainmlp.codecs.mlp.cpu_trainer.drawn_pixels` compiled (its numpy
    loop is the reference; 4 M draws of a 12-MP fit: ~0.2 s in numpy)."""
    for j in range(total):
        seen[_hash(seed, np.int64(j), size)] = True


def kept_rank(kept: np.ndarray | None, n_pixels: int) -> np.ndarray:
    """Per pixel of the image its position in the sorted ``kept`` (int32; an empty array
    when every pixel is kept): :func:`draw`'s O(1) lookup instead of a binary search per
    draw (~0.4 us each in a 4-M-pixel subset, two thirds of a 12-MP fit's step)."""
    if kept is None:
        return np.zeros(0, np.int32)
    rank = np.zeros(n_pixels, np.int32)
    rank[kept] = np.arange(kept.size, dtype=np.int32)
    return rank


def draw_numpy(seed, step, batch, lo, hi, size, pool, n_focus, focus, focus_size, kept,
               width, idx, rows, cols, pos):
    """Reference of :func:`draw` (numpy, the CPU trainer's own sampler; ``kept``: the sorted
    kept pixels themselves, searched)."""
    hashed_indices = features.hashed_indices
    seeds, n_main = np.array([seed]), batch - n_focus
    k = hashed_indices(seeds, step * batch, batch, np.array([size]))[0]
    v = pool[k] if pool.size else k
    if n_focus:
        f = hashed_indices(seeds, step * batch + n_main, n_focus, np.array([focus_size]))[0]
        v = np.concatenate([v[:n_main], focus[f] if focus.size else f])
    sl = slice(lo, hi)
    idx[sl] = v[sl]
    rows[sl] = idx[sl] // width
    cols[sl] = idx[sl] - rows[sl] * width
    pos[sl] = np.searchsorted(kept, idx[sl]) if kept.size else idx[sl]


@jit
def prefetch_own(tid, threads, step, seed, size, pool, n_focus, focus, focus_size, batch,
                 chunk, n_chunks, sdr, target, weight):  # pragma: no cover - compiled
    """Hint the rows of ``sdr``, ``target`` and ``weight`` that thread ``tid``'s draws of
    ``step`` will gather (its chunks, as :func:`_draw_own`): issued at the end of a step,
    they arrive while the next one starts (the draws of a large image miss the cache)."""
    start = np.int64(step) * batch
    for c in range(tid, n_chunks, threads):
        for i in range(c * chunk, min(batch, (c + 1) * chunk)):
            v = _drawn(seed, start, i, batch, size, pool, n_focus, focus, focus_size)
            prefetch(sdr, 3 * v)
            prefetch(target, 3 * v)
            if weight.size:
                prefetch(weight, v)


@jit
def gather(lo, hi, pos, sdr, target, weight, sdr_c, target_c, weight_c
           ):  # pragma: no cover - compiled
    """Copy the drawn pixels' data (rows ``pos[lo:hi]`` of ``sdr``, ``target`` and, when not
    empty, ``weight``) to rows ``lo:hi`` of the compact arrays: one pass of independent
    loads, so the cache misses of a large image's random rows overlap (inside the chunk's
    arithmetic they cost ~15 % of a 1-MP step, docs/speed.md)."""
    for i in range(lo, hi):
        p = pos[i]
        for c in range(3):
            sdr_c[i, c] = sdr[p, c]
            target_c[i, c] = target[p, c]
    if weight.size:
        for i in range(lo, hi):
            weight_c[i] = weight[pos[i]]


def gather_numpy(lo, hi, pos, sdr, target, weight, sdr_c, target_c, weight_c):
    """Reference of :func:`gather`."""
    sl = slice(lo, hi)
    sdr_c[sl] = sdr[pos[sl]]
    target_c[sl] = target[pos[sl]]
    if weight.size:
        weight_c[sl] = weight[pos[sl]]


@jit
def _draw_own(tid, threads, step, seed, size, pool, n_focus, focus, focus_size, rank, width,
              idx, batch, chunk, n_chunks, rows, cols, pos, sdr, target, weight, sdr_c,
              target_c, weight_c):  # pragma: no cover - compiled
    """Thread ``tid``'s draws, those of its chunks (``c = tid, tid + threads, ...``), and
    their data gathered."""
    for c in range(tid, n_chunks, threads):
        lo, hi = c * chunk, min(batch, (c + 1) * chunk)
        draw(seed, step, batch, lo, hi, size, pool, n_focus, focus, focus_size, rank, width,
             idx, rows, cols, pos)
        gather(lo, hi, pos, sdr, target, weight, sdr_c, target_c, weight_c)


@jit
def prefetch_grid(lo, hi, cols, rows, gtx, gty, flat, ogr, grid_cols, gch
                  ):  # pragma: no cover - compiled
    """Hint the grid cells (in ``flat`` from ``ogr``) that pixels ``lo:hi`` interpolate:
    issued before their chunk, they arrive during its colour encodings. A 128x128x8 grid
    is 512 KiB, as much again as its gradient; its random cells missed the cache at
    ~0.3 ms per 12-MP step (1.36 -> 1.02 ms, docs/speed.md)."""
    for i in range(lo, hi):
        cx, ry = cols[i], rows[i]
        x0 = np.int64(gtx[cx, 0])
        i0 = ogr + (np.int64(gty[ry, 0]) * grid_cols + x0) * gch
        i1 = ogr + (np.int64(gty[ry, 1]) * grid_cols + x0) * gch
        prefetch(flat, i0)
        prefetch(flat, i0 + gch)
        prefetch(flat, i1)
        prefetch(flat, i1 + gch)


@jit
def _chunks(tid, threads, batch, chunk, flat, offs, w, act, nf, cols, rows, local, tab_x,
            tab_y, factored, sdr_c, centre, scale, target_c, weight_c, gtx, gty, grid_rows,
            grid_cols, gch, inv, grads, bins_x, bins_y, losses):  # pragma: no cover
    """Thread ``tid``'s chunks: their gradients into ``grads[c]`` and bins, their sums of
    squared errors into ``losses[c]`` (``local``: 0, 1, 2, ...: the chunk's rows of the
    compact arrays)."""
    for c in range(tid, grads.shape[0], threads):
        lo = c * chunk
        hi = min(batch, lo + chunk)
        if gch:
            prefetch_grid(lo, hi, cols, rows, gtx, gty, flat, offs[5], grid_cols, gch)
        losses[c] = chunk_gradients(flat, offs, w, act, nf, cols[lo:hi], rows[lo:hi],
                                    local[:hi - lo], tab_x, tab_y, factored, sdr_c[lo:hi],
                                    centre, scale, target_c[lo:hi],
                                    weight_c[lo:hi] if weight_c.size else weight_c, gtx, gty,
                                    grid_rows, grid_cols, gch, inv, grads[c], bins_x[c],
                                    bins_y[c])


@jit
def _worker_side(ctrl, tid, threads, last, limit, seed, size, pool, n_focus, focus,
                focus_size, rank, width, idx, batch, chunk, flat, offs, w, act, nf, cols,
                rows, pos, local, tx, ty, tx_t, ty_t, cx, cy, factored, sdr, centre, scale,
                target, weight, sdr_c, target_c, weight_c, gtx, gty, grid_rows, grid_cols, gch,
                inv, grads, bins_x, bins_y, losses, momentum, muon_blocks, beta, mscale, ns_a,
                ns_b, ns_c, ns_steps):  # pragma: no cover - compiled
    """Worker ``tid`` (1 .. threads - 1): runs its share of every generation after ``last``
    as the caller publishes them. Returns :data:`STOPPED` on a stop, or :data:`IDLE` after
    ``limit`` yields without a new generation (the caller's Python wrapper then blocks
    until the next one); ``ctrl[slot(tid, 3)]`` then holds the last generation done.
    Worker 1 also computes the per-row coordinate terms and their gradients, the first
    Muon matrix once the caller's Adam has summed the gradients."""
    nf2 = 2 * nf
    n_chunks = grads.shape[0]
    tab_x, tab_y = (cx, cy) if factored else (tx, ty)
    while True:
        got = wait_until(ctrl, GO, last + 1, STOP, limit)
        if got <= 0:
            return STOPPED if got == 0 else IDLE
        g = load_acquire(ctrl, GO)
        last = g
        _draw_own(tid, threads, ctrl[STEP], seed, size, pool, n_focus, focus, focus_size, rank,
                  width, idx, batch, chunk, n_chunks, rows, cols, pos, sdr, target, weight,
                  sdr_c, target_c, weight_c)
        if tid == 1 and factored:
            coordinate_terms(ty_t, flat, offs[0] + nf2 * w, w, cy)
        store_release(ctrl, slot(tid, 0), g)
        if wait_until(ctrl, MAIN_READY, g, STOP, -1) == 0:
            return STOPPED
        if tid > 1 and factored and wait_until(ctrl, slot(1, 0), g, STOP, -1) == 0:
            return STOPPED  # worker 1's per-row terms
        _chunks(tid, threads, batch, chunk, flat, offs, w, act, nf, cols, rows, local, tab_x,
                tab_y, factored, sdr_c, centre, scale, target_c, weight_c, gtx, gty,
                grid_rows, grid_cols, gch, inv, grads, bins_x, bins_y, losses)
        store_release(ctrl, slot(tid, 1), g)
        if tid == 1 and factored:
            if wait_until(ctrl, MAIN_CHUNKS, g, STOP, -1) == 0:
                return STOPPED
            for t in range(2, threads):
                if wait_until(ctrl, slot(t, 1), g, STOP, -1) == 0:
                    return STOPPED
            bin_gradients(ty, bins_y, grads[0], offs[0] + nf2 * w, w)
        store_release(ctrl, slot(tid, 2), g)
        if tid == 1 and muon_blocks.shape[0] > 1:
            if wait_until(ctrl, ADAM, g, STOP, -1) == 0:
                return STOPPED
            muon(flat, grads[0], momentum, muon_blocks[0, 0], muon_blocks[0, 1],
                 muon_blocks[0, 2], _lr_of(ctrl), beta, mscale, ns_a, ns_b, ns_c, ns_steps)
        store_release(ctrl, slot(tid, 3), g)
        if not rank.size:
            prefetch_own(tid, threads, ctrl[STEP] + 1, seed, size, pool, n_focus, focus,
                         focus_size, batch, chunk, n_chunks, sdr, target, weight)


@jit
def _main_side(ctrl, g, threads, step, seed, size, pool, n_focus, focus, focus_size, rank,
              width, idx, batch, chunk, flat, offs, w, act, nf, cols, rows, pos, local, tx, ty,
              tx_t, ty_t, cx, cy, factored, sdr, centre, scale, target, weight, sdr_c, target_c,
              weight_c, gtx, gty, grid_rows, grid_cols, gch, inv, grads, bins_x, bins_y, losses,
              momentum, muon_blocks, beta, mscale, ns_a, ns_b, ns_c, ns_steps, m, v, lr_scale,
              step_size, bias2, b1, b2, eps, lr):  # pragma: no cover - compiled
    """The caller's side of generation ``g`` (already published in ``ctrl[GO]``): its draws,
    the coordinate terms, its chunks, the bins, Adam and Muon (``muon_blocks`` rows:
    offset, rows, cols). Returns the step's mean squared error, or -1.0 when the workers
    stopped."""
    nf2 = 2 * nf
    _draw_own(0, threads, step, seed, size, pool, n_focus, focus, focus_size, rank, width, idx,
              batch, chunk, grads.shape[0], rows, cols, pos, sdr, target, weight, sdr_c,
              target_c, weight_c)
    if factored:
        coordinate_terms(tx_t, flat, offs[0], w, cx)
        if threads == 1:
            coordinate_terms(ty_t, flat, offs[0] + nf2 * w, w, cy)
        tab_x, tab_y = cx, cy
    else:
        tab_x, tab_y = tx, ty
    store_release(ctrl, MAIN_READY, g)
    for t in range(1, threads):
        if wait_until(ctrl, slot(t, 0), g, STOP, -1) == 0:
            return -1.0
    _chunks(0, threads, batch, chunk, flat, offs, w, act, nf, cols, rows, local, tab_x, tab_y,
            factored, sdr_c, centre, scale, target_c, weight_c, gtx, gty, grid_rows, grid_cols,
            gch, inv, grads, bins_x, bins_y, losses)
    store_release(ctrl, MAIN_CHUNKS, g)
    for t in range(1, threads):
        if wait_until(ctrl, slot(t, 1), g, STOP, -1) == 0:
            return -1.0
    if factored:
        bin_gradients(tx, bins_x, grads[0], offs[0], w)
        if threads == 1:
            bin_gradients(ty, bins_y, grads[0], offs[0] + nf2 * w, w)
    for t in range(1, threads):
        if wait_until(ctrl, slot(t, 2), g, STOP, -1) == 0:
            return -1.0
    adam(flat, grads, m, v, lr_scale, step_size, bias2, b1, b2, eps)
    shared = threads > 1 and muon_blocks.shape[0] > 1  # worker 1 takes the first matrix
    if shared:
        _set_lr(ctrl, lr)
        store_release(ctrl, ADAM, g)
    for b in range(1 if shared else 0, muon_blocks.shape[0]):
        muon(flat, grads[0], momentum, muon_blocks[b, 0], muon_blocks[b, 1], muon_blocks[b, 2],
             lr, beta, mscale, ns_a, ns_b, ns_c, ns_steps)
    if not rank.size:
        prefetch_own(0, threads, step + 1, seed, size, pool, n_focus, focus, focus_size,
                     batch, chunk, grads.shape[0], sdr, target, weight)
    for t in range(1, threads):
        if wait_until(ctrl, slot(t, 3), g, STOP, -1) == 0:
            return -1.0
    total = 0.0
    for c in range(losses.shape[0]):
        total += losses[c]
    return total / (batch * 3)


@jit
def thread_step(ctrl, tid, threads, gen, limit, step, seed, size, pool, n_focus, focus,
                focus_size, rank, width, idx, batch, chunk, flat, offs, w, act, nf, cols, rows,
                pos, local, tx, ty, tx_t, ty_t, cx, cy, factored, sdr, centre, scale, target,
                weight, sdr_c, target_c, weight_c, gtx, gty, grid_rows, grid_cols, gch, inv,
                grads, bins_x, bins_y, losses, momentum, muon_blocks, beta, mscale, ns_a, ns_b,
                ns_c, ns_steps, m, v, lr_scale, step_size, bias2, b1, b2, eps, lr
                ):  # pragma: no cover - compiled
    """The one entry of both sides (one compiled function to load from numba's cache, not
    two copies of the chunk kernel). ``tid`` 0: the caller's side of generation ``gen``
    (step ``step``), returning the step's loss (:func:`_main_side`); ``tid`` >= 1: worker
    ``tid``'s loop after generation ``gen`` (:func:`_worker_side`), returning
    :data:`STOPPED` or :data:`IDLE`; the other arguments are each side's."""
    if tid == 0:
        return _main_side(ctrl, gen, threads, step, seed, size, pool, n_focus, focus,
                          focus_size, rank, width, idx, batch, chunk, flat, offs, w, act, nf,
                          cols, rows, pos, local, tx, ty, tx_t, ty_t, cx, cy, factored, sdr,
                          centre, scale, target, weight, sdr_c, target_c, weight_c, gtx, gty,
                          grid_rows, grid_cols, gch, inv, grads, bins_x, bins_y, losses,
                          momentum, muon_blocks, beta, mscale, ns_a, ns_b, ns_c, ns_steps, m,
                          v, lr_scale, step_size, bias2, b1, b2, eps, lr)
    return float(_worker_side(ctrl, tid, threads, gen, limit, seed, size, pool, n_focus, focus,
                              focus_size, rank, width, idx, batch, chunk, flat, offs, w, act,
                              nf, cols, rows, pos, local, tx, ty, tx_t, ty_t, cx, cy, factored,
                              sdr, centre, scale, target, weight, sdr_c, target_c, weight_c,
                              gtx, gty, grid_rows, grid_cols, gch, inv, grads, bins_x, bins_y,
                              losses, momentum, muon_blocks, beta, mscale, ns_a, ns_b, ns_c,
                              ns_steps))
