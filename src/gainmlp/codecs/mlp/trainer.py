"""The fused trainer: many images' networks fitted together, with a hand-written backward.

Every image k gets its own network (same shape: the stored layout of
:mod:`gainmlp.codecs.mlp.format` with the grids entering the first layer) and its own
Adam state; a step draws ``batch`` pixels of every image and runs the forward pass, the
backward pass and one Adam update as batched matrix products over the images (``bmm``),
so K images cost K times the arithmetic of one but the same number of kernel launches.
The backward pass is written out (no autograd graph), the parameters of all images live in
one flat tensor with one Adam update, and the pixels come from a counter-based hash of
(seed, step, sample) rather than a stateful generator: an image gets the same pixels,
hence the same payload bytes on a given device, whether it is fitted alone or with others.

What it computes is the paper's recipe as :func:`gainmlp.codecs.mlp.fit.fit_mlp` runs
it with autograd: the same network (tcnn layout; the eight constant padding columns of the
first layer are one bias whose Adam step counts eight times, exactly as eight identical
columns would move), the same normalised-map MSE, Adam (0.9, 0.999, 1e-8) (with
``optimiser="muon"``: Muon for the first and hidden weight matrices,
:meth:`FusedTrainer._muon`), learning-rate schedule and grid freezing. Supported: ReLU
and sine, 2-D grids entering layer 1, the map loss; everything else uses the autograd
fitter.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from gainmlp.codecs.features import (
    PI32,
    StepLoop,
    coordinate_encodings,
    encode_numpy,
    normalise_inputs,
)
from gainmlp.codecs.mlp.cpu_trainer import (
    DRAWN_FRACTION,
    ImageData,
    muon_blocks,
    pixels_of,
    sorted_union,
    targets_of,
    weights_of,
)
from gainmlp.codecs.mlp.fit_plan import (
    MUON_ADAM_LR,
    MUON_BETA,
    MUON_NS,
    MUON_NS_STEPS,
    MUON_SCALE,
)
from gainmlp.codecs.mlp.grid import dequantise_grid, grid_taps
from gainmlp.codecs.torch_extra import require_torch

torch = require_torch("the torch fused trainer (--engine torch, --device cuda)")

ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8
_MIX1 = 0x5851F42D4C957F2D  # multipliers of a 64-bit integer hash (PCG / splitmix family)
_MIX2 = 0x2545F4914F6CDD1D


def _wrap64(value: int) -> int:
    """A Python integer as the int64 with the same low 64 bits."""
    value &= (1 << 64) - 1
    return value - (1 << 64) if value >= 1 << 63 else value


def pixel_indices(seeds: torch.Tensor, step: int, batch: int, sizes: torch.Tensor) -> torch.Tensor:
    """``(K, batch)`` pixel indices, uniform with replacement in ``[0, sizes[k])``, from a hash
    of (seed, step, sample): independent of how many images are fitted together, and the
    same on every device (int64 arithmetic wraps in two's complement)."""
    return hashed_indices(seeds, step * batch, batch, sizes)


def hashed_indices(seeds: torch.Tensor, start: int, count: int,
                   sizes: torch.Tensor) -> torch.Tensor:
    """The indices of draws ``start .. start + count - 1`` (``(K, count)``); step ``s`` of
    a fit with ``batch`` pixels per step is draws ``s * batch`` onwards."""
    j = torch.arange(start, start + count, dtype=torch.int64, device=seeds.device)
    x = seeds[:, None] * _wrap64(_MIX1) + j[None, :] * _wrap64(_MIX2)
    for shift in (31, 29, 32):
        x = x ^ (x >> shift)
        x = x * _wrap64(_MIX1)
    return (x >> 16).remainder(sizes[:, None])


#: Most rows of the colour-encoding tables (12 MB per 2**17 rows); beyond, the encodings
#: are computed per step.
MAX_COLOUR_ROWS = 1 << 21


def _colour_tables(images: list[ImageData], n_frequencies: int, device: torch.device,
                   rows_of: list[np.ndarray | None]
                   ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Per-pixel row ids ``(sum N, 3)`` into a table of the frequency encodings of every
    distinct value of each colour channel ``(rows, 2F)``, or (None, None) when the table
    would be too large. The encodings are the decoder's (:func:`encode_numpy`); an 8-bit SDR
    has far fewer distinct channel values than pixels, so a step gathers instead of
    computing 72 sines and cosines per pixel. ``rows_of[k]``: image k's pixels kept (None:
    all)."""
    uniques, inverses, rows = [], [], 0
    for im, kept in zip(images, rows_of, strict=True):
        flat = pixels_of(im.sdr, kept)
        per_image = []
        for c in range(3):
            u, inv = np.unique(flat[:, c], return_inverse=True)
            uniques.append((u, im.in_centre[2 + c], im.in_scale[2 + c]))
            per_image.append((inv.reshape(-1) + rows).astype(np.int32))
            rows += u.size
            if rows > MAX_COLOUR_ROWS:
                return None, None
        inverses.append(np.stack(per_image, axis=1))
    table = np.concatenate([encode_numpy(normalise_inputs(u[:, None], c, s), n_frequencies)
                            for u, c, s in uniques])
    ids = torch.from_numpy(_join(inverses).astype(np.int32, copy=False)).to(device)
    return ids, torch.from_numpy(table).to(device)


def drawn_pixels(seeds: torch.Tensor, sizes: torch.Tensor, steps: int, batch: int
                 ) -> list[np.ndarray]:
    """Per image, the sorted flat indices of every pixel that ``steps`` steps of ``batch``
    draws will visit: the CPU trainer's (same hash, :func:`hashed_indices` in numpy)."""
    from gainmlp.codecs.mlp.cpu_trainer import drawn_pixels as drawn

    return drawn(seeds.cpu().numpy(), sizes.cpu().numpy(), steps, batch)


def _join(arrays: list[np.ndarray]) -> np.ndarray:
    """The arrays concatenated (no copy for a single one)."""
    return arrays[0] if len(arrays) == 1 else np.concatenate(arrays)


class FusedTrainer:
    """Fits K networks of one shape (see the module docstring)."""

    def __init__(self, images: list[ImageData], *, activation: str, n_frequencies: int,
                 n_pad: int, grid: tuple[int, int, int] | None, grid_precision: str,
                 grid_lr_scale: float = 1.0,
                 device: torch.device, steps: int | None = None,
                 batch: int | None = None, focus: int = 0, optimiser: str = "adam") -> None:
        self.k = len(images)
        self.device = device
        self.activation = activation
        self.nf = n_frequencies
        self.n_pad = n_pad
        self.grid = grid
        self.grid_precision = grid_precision
        self.grid_lr_scale = grid_lr_scale
        dev = {"device": device}
        heights = [im.sdr.shape[0] for im in images]
        widths = [im.sdr.shape[1] for im in images]
        sizes = [h * w for h, w in zip(heights, widths, strict=True)]
        self.widths = torch.tensor(widths, dtype=torch.int64, **dev)
        self.sizes = torch.tensor(sizes, dtype=torch.int64, **dev)
        self.seeds = torch.tensor([im.seed for im in images], dtype=torch.int64, **dev)
        self.pix_off = torch.tensor(np.cumsum([0, *sizes[:-1]]), dtype=torch.int64, **dev)
        self.draw_sizes, self.pool = self.sizes, None  # draws index a pool where one is given
        pools = None
        if any(im.pixels is not None for im in images):
            pools = [np.arange(n) if im.pixels is None else np.asarray(im.pixels)
                     for im, n in zip(images, sizes, strict=True)]
            self.draw_sizes = torch.tensor([p.size for p in pools], dtype=torch.int64, **dev)
            self.pool = torch.from_numpy(np.concatenate(pools).astype(np.int32)).to(**dev)
            self.pool_off = torch.tensor(np.cumsum([0, *[p.size for p in pools[:-1]]]),
                                         dtype=torch.int64, **dev)
        # the last ``focus`` draws of a step come from each image's focus pixels
        self.focus = int(focus) if any(im.focus is not None and im.focus.size
                                       for im in images) else 0
        focus_pools = None
        if self.focus:
            focus_pools = [np.asarray(im.focus) if im.focus is not None and im.focus.size
                           else (np.arange(n) if im.pixels is None else np.asarray(im.pixels))
                           for im, n in zip(images, sizes, strict=True)]
            self.focus_sizes = torch.tensor([p.size for p in focus_pools], dtype=torch.int64,
                                            **dev)
            self.focus_pool = torch.from_numpy(np.concatenate(focus_pools).astype(np.int32)
                                               ).to(**dev)
            self.focus_off = torch.tensor(np.cumsum([0, *[p.size for p in focus_pools[:-1]]]),
                                          dtype=torch.int64, **dev)
        self.col_off = torch.tensor(np.cumsum([0, *widths[:-1]]), dtype=torch.int64, **dev)
        self.row_off = torch.tensor(np.cumsum([0, *heights[:-1]]), dtype=torch.int64, **dev)
        tabs = [coordinate_encodings(im.sdr.shape[0], im.sdr.shape[1], im.in_centre,
                                     im.in_scale, n_frequencies) for im in images]
        self.tx = torch.from_numpy(np.concatenate([t[0] for t in tabs])).to(**dev)
        self.ty = torch.from_numpy(np.concatenate([t[1] for t in tabs])).to(**dev)
        # With ``steps`` and ``batch`` known, a large photo keeps its per-pixel data only
        # at the pixels the fit will draw (identical arithmetic, identical bytes).
        rows_of: list[np.ndarray | None] = [None] * self.k
        self.kept = None
        self.plan = (steps, batch)
        if steps is not None and batch is not None and steps * batch < sum(sizes):
            drawn = drawn_pixels(self.seeds.cpu(), self.draw_sizes.cpu(), steps, batch)
            if pools is not None:  # draws index each image's pool of pixels
                drawn = [pool[d] for pool, d in zip(pools, drawn, strict=True)]
            if focus_pools is not None:  # a superset: every focus pixel is kept (an image
                # without focus pixels draws its last ones from its pool: already in ``d``)
                drawn = [d if im.focus is None or not im.focus.size else sorted_union(d, f, n)
                         for d, f, im, n in zip(drawn, focus_pools, images, sizes,
                                                strict=True)]
            if sum(d.size for d in drawn) < DRAWN_FRACTION * sum(sizes):
                rows_of = drawn
                self.kept = torch.from_numpy(_join(
                    [d + off for d, off in zip(drawn, np.cumsum([0, *sizes[:-1]]),
                                               strict=True)])).to(**dev)
        self.target = torch.from_numpy(_join(
            [targets_of(im, kept) for im, kept in zip(images, rows_of, strict=True)])).to(**dev)
        self.weight = None
        if any(im.weight is not None for im in images):
            self.weight = torch.from_numpy(_join(
                [weights_of(im, kept, n) for im, kept, n in zip(images, rows_of, sizes,
                                                               strict=True)])).to(**dev)
        self.centre = torch.from_numpy(np.stack([im.in_centre[2:] for im in images])
                                       .astype(np.float32))[:, None, :].to(**dev)
        self.scale = torch.from_numpy(np.stack([im.in_scale[2:] for im in images])
                                      .astype(np.float32))[:, None, :].to(**dev)
        self.pi = torch.tensor(PI32, dtype=torch.float32, **dev)
        self.powers = torch.exp2(torch.arange(n_frequencies, dtype=torch.float32, **dev))
        if grid is not None:
            rows, cols, _ = grid
            taps_x = [grid_taps(w, cols) for w in widths]
            taps_y = [grid_taps(h, rows) for h in heights]
            # (first tap, second tap, weight) per column and per row, as one float32 table
            # each (tap indices are far below 2**24, exact in float32)
            self.gx = torch.from_numpy(np.concatenate(
                [np.stack(t, axis=1).astype(np.float32) for t in taps_x])).to(**dev)
            self.gy = torch.from_numpy(np.concatenate(
                [np.stack(t, axis=1).astype(np.float32) for t in taps_y])).to(**dev)
            self.grid_off = (torch.arange(self.k, dtype=torch.int64, **dev) * rows * cols)[:, None]
        self.colour_ids, self.colour_tab = _colour_tables(images, n_frequencies, device,
                                                          rows_of)
        self.sdr = None  # only needed where the colour tables would be too large
        if self.colour_tab is None:
            self.sdr = torch.from_numpy(_join(
                [pixels_of(im.sdr, kept) for im, kept in zip(images, rows_of, strict=True)])
            ).to(**dev)
        self._init_params(images)
        # Muon's matrices (the CPU trainer's :func:`muon_blocks`): no Adam step
        self.muon = muon_blocks(optimiser, self.offsets, self.shapes)
        if self.muon:
            self.lr_scale *= MUON_ADAM_LR
        self.momentum = {}
        for off, rows, cols in self.muon:
            self.lr_scale[off:off + rows * cols] = 0.0
            self.momentum[off] = torch.zeros(self.k, rows, cols, dtype=torch.float32,
                                             device=self.device)

    # -- parameters ---------------------------------------------------------------------

    def _init_params(self, images: list[ImageData]) -> None:
        """Flat parameters ``(K, P)``: W0ᵀ (n_enc, w), bias (1, w), W1ᵀ .., Woutᵀ, Wgᵀ, grid."""
        nf = self.nf
        # the first layer's rows in the stored order: x, y, r, g, b, each 12 sines, 12 cosines
        n_enc = 10 * nf
        blocks = []
        for im in images:
            w0 = np.asarray(im.weights[0], np.float32)
            parts = [w0[:, :n_enc].T, w0[:, n_enc:].sum(axis=1, keepdims=True).T]
            parts += [np.asarray(w, np.float32).T for w in im.weights[1:]]
            if self.grid is not None:
                parts += [np.asarray(im.grid_weight, np.float32).T,
                          np.zeros(self.grid, np.float32)]
            blocks.append(parts)
        self.shapes = [p.shape for p in blocks[0]]
        flat = np.stack([np.concatenate([p.ravel() for p in parts]) for parts in blocks])
        self.flat = torch.from_numpy(flat).to(self.device)
        self.grad = torch.zeros_like(self.flat)
        self.m = torch.zeros_like(self.flat)
        self.v = torch.zeros_like(self.flat)
        sizes = [int(np.prod(s)) for s in self.shapes]
        self.offsets = np.cumsum([0, *sizes])
        self.lr_scale = torch.ones(self.flat.shape[1], dtype=torch.float32, device=self.device)
        self.lr_scale[self.offsets[1]:self.offsets[2]] = self.n_pad  # the bias (see docstring)
        if self.grid is not None:  # the grid values (the last block) have a rate of their own
            self.lr_scale[self.offsets[-2]:] = self.grid_lr_scale
        self.p = self._views(self.flat)
        self.g = self._views(self.grad)

    def _views(self, flat: torch.Tensor) -> list[torch.Tensor]:
        return [flat[:, a:b].view(self.k, *s)
                for a, b, s in zip(self.offsets[:-1], self.offsets[1:], self.shapes, strict=True)]

    def freeze_grid(self) -> None:
        """Round the grids to their stored precision and stop training them."""
        grid = self.p[-1]
        rounded = [dequantise_grid(g, self.grid_precision)
                   for g in grid.detach().cpu().numpy()]
        grid.copy_(torch.from_numpy(np.stack(rounded)).to(self.device))
        self.lr_scale[self.offsets[-2]:] = 0.0

    def stored(self, k: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Image k's weights in the stored layout (grid columns inserted) and its grids."""
        arrs = [p[k].detach().cpu().numpy() for p in self.p]
        n_layers = len(arrs) - (2 if self.grid is not None else 0)
        mid = [arrs[n_layers].T] if self.grid is not None else []
        first = np.concatenate([arrs[0].T, *mid, arrs[1].T], axis=1)
        weights = [first] + [a.T.copy() for a in arrs[2:n_layers]]
        grids = [arrs[-1].copy()] if self.grid is not None else []
        return [np.ascontiguousarray(w, np.float32) for w in weights], grids

    # -- one step -----------------------------------------------------------------------

    def _act(self, a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(activation, its derivative) of a pre-activation."""
        if self.activation == "sine":
            return torch.sin(a), torch.cos(a)
        return torch.relu(a), (a > 0).to(a.dtype)

    def step(self, step: int, batch: int, lr: float) -> torch.Tensor:
        """One Adam step of every image at learning rate ``lr``; returns the (K,) losses."""
        k = self.k
        idx = pixel_indices(self.seeds, step, batch, self.draw_sizes)
        if self.pool is not None:
            idx = self.pool.index_select(0, (idx + self.pool_off[:, None]).reshape(-1)
                                         ).view(k, batch).long()
        if self.focus:  # the same counters, drawn among the focus pixels instead
            n_f = self.focus
            f = hashed_indices(self.seeds, step * batch + batch - n_f, n_f, self.focus_sizes)
            f = self.focus_pool.index_select(0, (f + self.focus_off[:, None]).reshape(-1)
                                             ).view(k, n_f).long()
            idx = torch.cat((idx[:, :batch - n_f], f), dim=1)
        row = torch.div(idx, self.widths[:, None], rounding_mode="floor")
        col = idx - row * self.widths[:, None]
        flat_idx = (idx + self.pix_off[:, None]).reshape(-1)
        if self.kept is not None:  # positions among the kept pixels
            if batch != self.plan[1] or not 0 <= step < self.plan[0]:
                raise ValueError(f"step {step} of {batch} pixels is outside the planned "
                                 f"{self.plan[0]} steps of {self.plan[1]}")
            flat_idx = torch.searchsorted(self.kept, flat_idx)
        fcol = (col + self.col_off[:, None]).reshape(-1)
        frow = (row + self.row_off[:, None]).reshape(-1)
        tx = self.tx.index_select(0, fcol).view(k, batch, -1)
        ty = self.ty.index_select(0, frow).view(k, batch, -1)
        if self.colour_tab is not None:  # the encodings of the pixels' colour values
            ids = self.colour_ids.index_select(0, flat_idx).view(-1)
            colour = self.colour_tab.index_select(0, ids).view(k, batch, -1)
        else:  # computed as the decoder computes them
            s = self.sdr.index_select(0, flat_idx).view(k, batch, 3)
            norm = torch.clamp((s - self.centre) / self.scale, -1.0, 1.0)
            args = (norm * self.pi)[..., None] * self.powers
            colour = torch.stack([torch.sin(args), torch.cos(args)], dim=3).view(k, batch, -1)
        enc = torch.cat((tx, ty, colour), dim=2)

        n_layers = len(self.p) - (2 if self.grid is not None else 0)
        w0t, bias, *mids = self.p[:n_layers]
        a1 = torch.baddbmm(bias, enc, w0t)
        feats = taps = None
        if self.grid is not None:
            wgt, grid = self.p[n_layers], self.p[n_layers + 1]
            feats, taps = self._grid_features(grid, fcol, frow, batch)
            a1.baddbmm_(feats, wgt)
        acts, derivs = [None], []
        h = a1
        for w in mids:
            h, deriv = self._act(h)
            acts.append(h)
            derivs.append(deriv)
            h = torch.bmm(h, w)
        out = h
        target = self.target.index_select(0, flat_idx).view(k, batch, 3)
        diff = out - target
        losses = diff.square().mean(dim=(1, 2))
        d = diff * (2.0 / (batch * 3))
        if self.weight is not None:
            d.mul_(self.weight.index_select(0, flat_idx).view(k, batch, 1))

        grads = self.g
        # output layer, then back through the hidden layers
        for layer in range(len(mids), 0, -1):
            torch.bmm(acts[layer].transpose(1, 2), d, out=grads[1 + layer])
            d = torch.bmm(d, mids[layer - 1].transpose(1, 2)).mul_(derivs[layer - 1])
        torch.bmm(enc.transpose(1, 2), d, out=grads[0])
        torch.sum(d, dim=1, keepdim=True, out=grads[1])
        if self.grid is not None:
            torch.bmm(feats.transpose(1, 2), d, out=grads[n_layers])
            self._grid_backward(torch.bmm(d, wgt.transpose(1, 2)), taps, grads[n_layers + 1])
        self._adam(step + 1, lr)
        self._muon(lr)
        return losses

    def _grid_features(self, grid: torch.Tensor, fcol: torch.Tensor, frow: torch.Tensor,
                       batch: int) -> tuple[torch.Tensor, tuple]:
        k = self.k
        rows, cols, chans = self.grid
        flat = grid.reshape(-1, chans)
        tx = self.gx.index_select(0, fcol)
        ty = self.gy.index_select(0, frow)
        x0, x1, fx = tx[:, 0].long(), tx[:, 1].long(), tx[:, 2]
        y0, y1, fy = ty[:, 0].long(), ty[:, 1].long(), ty[:, 2]
        base = self.grid_off.expand(k, batch).reshape(-1)
        r0, r1 = base + y0 * cols, base + y1 * cols
        corners = (r0 + x0, r0 + x1, r1 + x0, r1 + x1)
        fx, fy = fx[:, None], fy[:, None]
        g00, g01, g10, g11 = (flat.index_select(0, c) for c in corners)
        top = torch.lerp(g00, g01, fx)
        bottom = torch.lerp(g10, g11, fx)
        feats = torch.lerp(top, bottom, fy).view(k, -1, chans)
        return feats, (corners, fx, fy)

    def _grid_backward(self, dfeat: torch.Tensor, taps: tuple, out: torch.Tensor) -> None:
        corners, fx, fy = taps
        d = dfeat.reshape(-1, dfeat.shape[-1])
        flat = torch.zeros(out.numel() // out.shape[-1], out.shape[-1], dtype=out.dtype,
                           device=out.device)
        gx0, gy0 = 1.0 - fx, 1.0 - fy
        for corner, weight in zip(corners, (gy0 * gx0, gy0 * fx, fy * gx0, fy * fx),
                                  strict=True):
            flat.index_add_(0, corner, d * weight)
        out.copy_(flat.view(out.shape))

    def _adam(self, t: int, lr: float) -> None:
        b1, b2 = ADAM_BETAS
        self.m.mul_(b1).add_(self.grad, alpha=1.0 - b1)
        self.v.mul_(b2).addcmul_(self.grad, self.grad, value=1.0 - b2)
        denom = (self.v / (1.0 - b2 ** t)).sqrt_().add_(ADAM_EPS)
        self.flat.addcdiv_(self.m * self.lr_scale, denom, value=-lr / (1.0 - b1 ** t))


    def _muon(self, lr: float) -> None:
        """The Muon update of each matrix of :attr:`muon`, every image at once."""
        for off, rows, cols in self.muon:
            sl = slice(off, off + rows * cols)
            g = self.grad[:, sl].view(self.k, rows, cols)
            self.flat[:, sl].sub_(muon_step(g, self.momentum[off], lr).reshape(self.k, -1))


def muon_step(grad: torch.Tensor, momentum: torch.Tensor, lr: float) -> torch.Tensor:
    """The Muon step of K matrices ``(K, rows, cols)`` (to subtract), updating their
    ``momentum`` in place: what :func:`gainmlp.kernels.train.muon` computes."""
    ns_a, ns_b, ns_c = MUON_NS
    rows, cols = grad.shape[1:]
    momentum.mul_(MUON_BETA).add_(grad)
    x = grad + MUON_BETA * momentum
    x = x / x.square().sum(dim=(1, 2), keepdim=True).sqrt_().add_(1e-7)
    if rows > cols:
        x = x.transpose(1, 2)
    for _ in range(MUON_NS_STEPS):
        s = torch.bmm(x, x.transpose(1, 2))
        x = ns_a * x + torch.bmm(ns_b * s + ns_c * torch.bmm(s, s), x)
    if rows > cols:
        x = x.transpose(1, 2)
    return float(np.float32(lr * MUON_SCALE * np.sqrt(np.float32(max(rows, cols))))) * x


def fit_torch(images: list[ImageData], settings: dict, options, label: str,
              run: Callable[[FusedTrainer, StepLoop], None]
              ) -> tuple[FusedTrainer, StepLoop]:
    """Build a :class:`FusedTrainer` on ``options.device`` with ``settings`` (the keyword
    arguments both fused trainers take) and run ``run(trainer, loop)`` (the step loop of
    :mod:`.fit`) with the fitting threads set."""
    from gainmlp.codecs.torch_helpers import StepLoop as TorchStepLoop
    from gainmlp.codecs.torch_helpers import resolve_device, torch_threads

    device = resolve_device(options.device)
    with torch_threads():
        trainer = FusedTrainer(images, device=device, **settings)
        loop = TorchStepLoop(options.steps, label, options.progress, device)
        run(trainer, loop)
    return trainer, loop
