"""Prototype fitting variants of the fewer-steps study (docs/fewer-steps.md), for
``recipe_devset.py --configs proto:NAME``: each patches the CPU trainer's step loop or
update for one fit (numpy prototypes, not the shipped code; the variant that won, Muon,
is now ``EncodeOptions.optimiser``, compiled in ``gainmlp.kernels.train``).

``NAME`` is ``s<steps>`` followed by ``-`` separated parts:

* ``lr<x>``: the learning rate; ``w<n>``: a linear warm-up over the first n steps;
  ``t<f>``: the cosine tail starts at fraction f of the steps; ``f<x>``: its floor;
  ``const``: constant rate (with warm-up if given);
* ``ls``: the output layer solved by least squares (on up to 2^17 pixels, the other
  weights rounded to fp16 first: variable projection) after the last step; ``lsk<k>``:
  also every k steps;
* ``mu[:blocks[:scale]]``: Muon (numpy, float64) for the blocks ``w0`` (first layer),
  ``w1`` (hidden), ``wo`` (output) joined by ``+`` (default ``w1``), update
  ``lr * scale * sqrt(max dim)`` (default scale 0.2); ``glr<x>``: the grid's rate factor;
* ``stop<k>``: a held-out early stop: 1/64 of the pixels are left out of the draws, their
  normalised-map MSE is checked every k steps, and the fit stops when it improved by
  less than 2 % (0.09 dB) since the last check.

Every variant starts from ``optimiser="adam"`` (the recipe before the study).
"""

from __future__ import annotations

import contextlib
import math

import numpy as np

from gainmlp.codecs.mlp import cpu_trainer as ct
from gainmlp.codecs.mlp import fit as fit_mod
from gainmlp.options import EncodeOptions

ORIG_LR, ORIG_RUN, ORIG_INIT = fit_mod.lr_factor, fit_mod._run, ct.CpuTrainer.__init__


def schedule(warm: int = 0, tail_start: float = 0.5, floor: float = 0.01,
             constant: bool = False):
    def factor(_name: str, step: int, steps: int) -> float:
        if warm and step < warm:
            return (step + 1) / warm
        if constant:
            return 1.0
        start = max(int(steps * tail_start), warm)
        if step < start or steps - start <= 1:
            return 1.0
        t = (step - start) / (steps - 1 - start)
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * t))
    return factor


def hidden(tr, k: int, pos: np.ndarray, round16: bool = True):
    """The last hidden layer (n, w), targets (n, 3) and loss weights of image k at the rows
    ``pos`` of its kept pixels (numpy forward of the trainer's parameters)."""
    img = tr.images[k]
    flat = tr.flat[k].copy()
    end = tr.offsets[-1] - (int(np.prod(tr.grid)) if tr.grid is not None else 0)
    if round16:  # the stored precision of the weights (the grid is already rounded)
        flat[:end] = flat[:end].astype(np.float16).astype(np.float32)
    kept = pos if img.kept is None else img.kept[pos]
    rows, cols = kept // img.width, kept % img.width
    w, nf2, o = tr.w, 2 * tr.nf, tr.offs
    w0 = flat[o[0]:o[1]].reshape(5 * nf2, w)
    bias, w1 = flat[o[1]:o[2]], flat[o[2]:o[3]].reshape(w, w)
    norm = np.clip((img.sdr[pos] - img.centre) / img.scale, -1, 1).astype(np.float32)
    args = (norm * np.float32(np.pi))[:, :, None] * np.exp2(np.arange(tr.nf, dtype=np.float32))
    enc = np.concatenate([np.sin(args), np.cos(args)], axis=2).reshape(len(pos), 3 * nf2)
    a1 = bias + enc @ w0[2 * nf2:] + img.tx[cols] @ w0[:nf2] + img.ty[rows] @ w0[nf2:2 * nf2]
    if tr.grid is not None:
        _, gc, gch = tr.grid
        wg = flat[o[4]:o[5]].reshape(gch, w)
        grid = flat[o[5]:].reshape(-1, gch)
        x0, x1, fx = (img.gtx[cols, i] for i in range(3))
        y0, y1, fy = (img.gty[rows, i] for i in range(3))
        x0, x1, y0, y1 = (a.astype(np.int64) for a in (x0, x1, y0, y1))
        top = grid[y0 * gc + x0] + fx[:, None] * (grid[y0 * gc + x1] - grid[y0 * gc + x0])
        bot = grid[y1 * gc + x0] + fx[:, None] * (grid[y1 * gc + x1] - grid[y1 * gc + x0])
        a1 = a1 + (top + fy[:, None] * (bot - top)) @ wg
    act = np.sin if tr.activation == "sine" else (lambda a: np.maximum(a, 0))
    h2 = act(act(a1) @ w1)
    wt = None if img.weight.size == 0 else img.weight[pos]
    return h2.astype(np.float64), img.target[pos].astype(np.float64), wt


def solve_output(tr, k: int, n_max: int = 1 << 17) -> None:
    """Variable projection: the output layer by (ridge-stabilised) least squares."""
    n = tr.images[k].sdr.shape[0]
    pos = np.arange(n) if n <= n_max else np.sort(
        np.random.default_rng(k).choice(n, n_max, replace=False))
    h, t, wt = hidden(tr, k, pos)
    if wt is not None:
        h, t = h * np.sqrt(wt)[:, None], t * np.sqrt(wt)[:, None]
    a = h.T @ h
    a += 1e-6 * np.trace(a) / a.shape[0] * np.eye(a.shape[0])
    wo = np.linalg.solve(a, h.T @ t)
    tr.flat[k, tr.offs[3]:tr.offs[3] + wo.size] = wo.astype(np.float32).reshape(-1)


def run_loop(ls_every: int = 0, ls_final: bool = False, stop_every: int = 0):
    def run(trainer, loop, options, stop, plans):
        freeze_at = int(options.steps * fit_mod.GRID_FREEZE_AT) if trainer.grid is not None \
            else -1
        last = None
        for step in loop:
            if step == freeze_at:
                trainer.freeze_grid()
            lr = options.lr * fit_mod.lr_factor(options.lr_schedule, step, options.steps)
            trainer.step(step, options.batch, lr)
            if ls_every and (step + 1) % ls_every == 0 and step + 1 < options.steps:
                for k in range(trainer.k):
                    solve_output(trainer, k)
            if stop_every and (step + 1) % stop_every == 0:
                mse = 0.0
                for k in range(trainer.k):
                    h, t, _ = hidden(trainer, k, trainer.held_rows[k], round16=False)
                    o = trainer.offs[3]
                    wo = trainer.flat[k, o:o + 3 * trainer.w].reshape(trainer.w, 3)
                    mse += float(np.mean((h @ wo - t) ** 2))
                if last is not None and mse > 0.98 * last:
                    break
                last = mse
        if ls_final:
            for k in range(trainer.k):
                solve_output(trainer, k)
    return run


def _ns5(g: np.ndarray) -> np.ndarray:
    a, b, c = 3.4445, -4.7750, 2.0315
    x = g / (np.linalg.norm(g) + 1e-7)
    tall = x.shape[0] > x.shape[1]
    if tall:
        x = x.T
    for _ in range(5):
        s = x @ x.T
        x = a * x + (b * s + c * s @ s) @ x
    return x.T if tall else x


def patched_init(blocks=(), scale: float = 0.2, beta: float = 0.95, hold: bool = False):
    """The CPU trainer with numpy Muon on ``blocks`` and/or held-out pixels."""
    def init(self, images, *a, **kw):
        held = []
        if hold:
            for im in images:
                n = im.sdr.shape[0] * im.sdr.shape[1]
                out = np.zeros(n, bool)
                out[np.random.default_rng(im.seed).choice(n, n // 64, replace=False)] = True
                im.pixels = np.flatnonzero(~out)
                held.append(np.flatnonzero(out))
        ORIG_INIT(self, images, *a, **kw)
        self.held_rows = [h if img.kept is None else np.searchsorted(img.kept, h)
                          for h, img in zip(held, self.images, strict=False)]
        if not blocks:
            return
        adam, o, w = self.kern["adam"], self.offsets, self.w
        spans = {"w0": (o[0], o[1], (o[1] - o[0]) // w, w), "w1": (o[2], o[3], w, w),
                 "wo": (o[3], o[4], w, 3)}
        sel = [spans[b] for b in blocks]
        state: dict = {}

        def step(flat, grads, m, v, lr_scale, step_size, bias2, b1, b2, eps):
            saved = [flat[s:e].copy() for s, e, _, _ in sel]
            adam(flat, grads, m, v, lr_scale, step_size, bias2, b1, b2, eps)
            t = round(math.log(1 - float(bias2)) / math.log(float(b2)))
            lr = float(step_size) * (1 - float(b1) ** t)
            mom = state.setdefault(flat.__array_interface__["data"][0], {})
            for (s, e, r, c), old in zip(sel, saved, strict=True):
                g = grads[0, s:e].astype(np.float64).reshape(r, c)
                buf = mom.setdefault(s, np.zeros_like(g))
                buf *= beta
                buf += g
                upd = _ns5(g + beta * buf) * scale * math.sqrt(max(r, c))
                flat[s:e] = (old.reshape(r, c) - lr * upd).astype(np.float32).reshape(-1)
        self.kern = dict(self.kern, adam=step)
    return init


@contextlib.contextmanager
def _patched(lr=None, run=None, init=None, glr=None):
    old_glr = fit_mod.GRID_LR_SCALE
    fit_mod.lr_factor = lr or ORIG_LR
    fit_mod._run = run or ORIG_RUN
    ct.CpuTrainer.__init__ = init or ORIG_INIT
    if glr is not None:
        fit_mod.GRID_LR_SCALE = glr
    try:
        yield
    finally:
        fit_mod.lr_factor, fit_mod._run, ct.CpuTrainer.__init__ = ORIG_LR, ORIG_RUN, ORIG_INIT
        fit_mod.GRID_LR_SCALE = old_glr


def variant(name: str):
    """(EncodeOptions, context manager factory) of the prototype ``name`` (module doc)."""
    parts = name.split("-")
    steps, lr = int(parts[0][1:]), 1e-2
    sched: dict = {}
    loop: dict = {}
    muon: dict = {}
    glr = None
    for p in parts[1:]:
        if p.startswith("lr"):
            lr = float(p[2:])
        elif p == "const":
            sched["constant"] = True
        elif p[0] == "w" and p[1:].isdigit():
            sched["warm"] = int(p[1:])
        elif p[0] == "t":
            sched["tail_start"] = float(p[1:])
        elif p[0] == "f":
            sched["floor"] = float(p[1:])
        elif p == "ls":
            loop["ls_final"] = True
        elif p.startswith("lsk"):
            loop.update(ls_final=True, ls_every=int(p[3:]))
        elif p.startswith("stop"):
            loop["stop_every"] = int(p[4:])
        elif p.startswith("glr"):
            glr = float(p[3:])
        elif p.startswith("mu"):
            bits = p.split(":")
            muon["blocks"] = tuple(bits[1].split("+")) if len(bits) > 1 else ("w1",)
            muon["scale"] = float(bits[2]) if len(bits) > 2 else 0.2
        else:
            raise ValueError(f"unknown part {p!r} of prototype {name!r}")
    if loop.get("stop_every"):
        muon["hold"] = True
    options = EncodeOptions(steps=steps, lr=lr, optimiser="adam")
    return options, lambda: _patched(schedule(**sched) if sched else None,
                                     run_loop(**loop) if loop else None,
                                     patched_init(**muon) if muon else None, glr)
