"""Fit the Gain-MLP network to one image pair (torch) and pack it as a payload body.

The recipe of the paper (§3.2) and of the authors' implementation: Adam (lr 1e-2, betas
0.9/0.999), ``options.steps`` steps, ``options.batch`` pixels drawn uniformly at random with
replacement per step, MSE on the normalised map (``options.loss == "map"``) or, optionally,
MSE on the HDR PQ values reconstructed through eqs. 4/6 (``"hdr"``).

Speed on CPU: nothing is precomputed per pixel (memory stays at the two input images);
per step the batch is gathered, the x/y encodings come from per-column/per-row tables
(exactly the values the decoder computes), and only the three SDR inputs are encoded.
The learned grids (``options.grid``, :mod:`gainmlp.codecs.mlp.grid`) are fitted jointly
with the network; docs/grid.md explains the choices below and holds their measurements.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from gainmlp import paper_residual
from gainmlp.codecs.features import STAT_CHUNK, channel_stats, chunks
from gainmlp.codecs.mlp.decode import method_kind
from gainmlp.codecs.mlp.format import MAX_WIDTH, N_FREQUENCIES, MlpParams, pack_mlp_body
from gainmlp.codecs.mlp.grid import (
    GridSpec,
    dequantise_grid,
    grid_dims,
    grid_taps,
    guide_range,
    is_bilateral,
    luma_guide,
    parse_grid_spec,
    taps_at,
)
from gainmlp.codecs.mlp.highlight_fit import (
    focus_count,
    focus_pixels,
    parse_highlights,
    pixel_weights,
)
from gainmlp.codecs.mlp.model import GainMLPNet, model_from_params, padded_width
from gainmlp.codecs.mlp.trainer import FusedTrainer, ImageData
from gainmlp.codecs.torch_helpers import (
    PixelSampler,
    StepLoop,
    check_pair,
    resolve_device,
    torch_threads,
)
from gainmlp.errors import GainMLPError
from gainmlp.options import (
    INPUTS,
    LOSSES,
    LR_SCHEDULES,
    EncodeOptions,
    grid_for,
    resolve_activation,
    resolve_precision,
)

#: Output transform per residual kind unless :func:`choose_transform` says otherwise.
DEFAULT_OUTPUT_TRANSFORM = {"gain": "linear", "gamma": "linear", "direct": "linear"}
HIDDEN_LAYERS = 2
#: Largest deviation, in standard deviations, beyond which a gain map is fitted in log2.
HEAVY_TAIL = 8.0

XY_ONLY_SCALE = 1e30  # colour inputs divided by this are 0 to float32 precision
#: The layer whose pre-activation the grid features join: the first, where they act like
#: extra inputs (entering deeper fitted worse, docs/grid.md).
GRID_ENTRY = 1
#: Grid learning rate relative to the MLP's. Under the cosine-tail schedule the grid's
#: late steps are damped with the MLP's, so it needs no slower rate of its own.
GRID_LR_SCALE = 1.0
#: Fraction of the steps after which the grids are rounded to their stored precision and
#: frozen, so that the MLP spends the remaining steps adapting to the grid the decoder sees.
GRID_FREEZE_AT = 0.9


@dataclass
class FitResult:
    """A fitted network: stored-layout params, the torch model, and some diagnostics."""

    params: MlpParams
    model: GainMLPNet
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    snapshots: dict[int, MlpParams] = field(default_factory=dict)


LR_TAIL_START = 0.5   # cosine-tail: fraction of the steps at the full rate
LR_TAIL_FLOOR = 0.01  # cosine-tail: rate at the last step, relative to the full rate


def resolve_grid(spec: str | None, kind: str = "gamma") -> GridSpec | None:
    """``EncodeOptions.grid`` -> the grid to fit (``"auto"`` and the spellings of "no
    grid" resolved per residual kind by :func:`gainmlp.options.grid_for`)."""
    return parse_grid_spec(grid_for(spec, kind))


def lr_factor(schedule: str, step: int, steps: int) -> float:
    """Multiplier of the learning rate at ``step`` (0-based) of ``steps``."""
    if schedule == "constant":
        return 1.0
    if schedule != "cosine-tail":
        raise GainMLPError(f"unknown learning-rate schedule {schedule!r}; use "
                           f"{' or '.join(LR_SCHEDULES)}")
    start = int(steps * LR_TAIL_START)
    if step < start or steps - start <= 1:
        return 1.0
    t = (step - start) / (steps - 1 - start)
    return LR_TAIL_FLOOR + (1.0 - LR_TAIL_FLOOR) * 0.5 * (1.0 + math.cos(math.pi * t))


def target_values(kind: str, transform: str, sdr: np.ndarray, hdr: np.ndarray,
                  eps: float) -> np.ndarray:
    """The fitted quantity T (float64): the map (or its log2), or the HDR for direct."""
    if kind == "direct":
        return np.asarray(hdr, dtype=np.float64)
    f = paper_residual.compute(kind, hdr, sdr, eps)
    return np.log2(f) if transform == "log2" else f


def choose_transform(kind: str, sdr: np.ndarray, hdr: np.ndarray, eps: float) -> str:
    """The output transform to fit ``kind``'s map in: linear, or log2 for heavy-tailed
    gain maps.

    Linear targets fit best on typical pairs, but a heavy-tailed gain map (a dark SDR,
    e.g. Ward's histogram operator: a few pixels with huge gains) squeezes every other
    pixel into a sliver of [-1, 1] after the max-deviation normalisation. When the largest
    deviation exceeds :data:`HEAVY_TAIL` standard deviations in any channel, fit log2 of
    the gain map instead (eq. 2's space). The threshold lies between the values measured
    on ordinary and on heavy-tailed gain maps (docs/mlp.md)."""
    if kind != "gain":
        return DEFAULT_OUTPUT_TRANSFORM[kind]
    step = max(1, sdr.size // 3 // STAT_CHUNK)
    f = paper_residual.compute(kind, hdr.reshape(-1, 3)[::step], sdr.reshape(-1, 3)[::step], eps)
    spread = np.maximum(f.max(axis=0) - f.mean(axis=0), f.mean(axis=0) - f.min(axis=0))
    ratio = spread / np.maximum(f.std(axis=0), 1e-12)
    return "log2" if float(ratio.max()) > HEAVY_TAIL else "linear"


def output_constants(kind: str, transform: str, sdr: np.ndarray, hdr: np.ndarray,
                     eps: float) -> tuple[np.ndarray, ...]:
    """Per channel: mean of T, its largest deviation from the mean, min and max (float32)."""
    s2, h2 = sdr.reshape(-1, 3), hdr.reshape(-1, 3)
    stats = channel_stats(target_values(kind, transform, s2[rows], h2[rows], eps)
                          for rows in chunks(s2.shape[0]))
    return tuple(np.asarray(a, dtype=np.float32) for a in stats)


def input_constants(sdr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre/scale of (x, y, r, g, b): x, y in (0, 1) -> [-1, 1]; SDR around its mean."""
    s2 = sdr.reshape(-1, 3)
    mean, dev, _, _ = channel_stats(s2[rows].astype(np.float64) for rows in chunks(s2.shape[0]))
    centre = np.concatenate([[0.5, 0.5], mean]).astype(np.float32)
    scale = np.concatenate([[0.5, 0.5], dev]).astype(np.float32)
    return centre, scale


class _Batcher(PixelSampler):
    """Uniformly drawn pixels with their encoding in blocks (see ``forward_split``) and,
    with grids, their grid taps."""

    def __init__(self, sdr: np.ndarray, hdr: np.ndarray, in_centre: np.ndarray,
                 in_scale: np.ndarray, device: torch.device,
                 n_frequencies: int = N_FREQUENCIES) -> None:
        super().__init__(sdr, hdr, in_centre, in_scale, device, n_frequencies, n_frequencies)
        self.grid_tables: list[tuple[torch.Tensor, ...]] = []

    def add_grids(self, shapes: Sequence[tuple[int, ...]],
                  guide: tuple[float, float] = (0.0, 1.0)) -> None:
        """Per-column / per-row bilinear taps of each grid (``grid.grid_taps``); bilateral
        grids also get each pixel's luma-bin taps (``grid.luma_guide``)."""
        self.bins: list[int] = []
        for shape in shapes:
            rows, cols, bins, _ = grid_dims(shape)
            x0, x1, fx = grid_taps(self.width, cols)
            y0, y1, fy = grid_taps(self.height, rows)
            self.grid_tables.append(tuple(torch.from_numpy(a).to(self.device) for a in (
                x0 * bins, x1 * bins, fx, y0 * cols * bins, y1 * cols * bins, fy)))
            self.bins.append(bins if is_bilateral(shape) else 0)
        self.z_taps: dict[int, tuple[torch.Tensor, ...]] = {}
        if any(self.bins):
            v = luma_guide(self.sdr.cpu().numpy(), *guide).astype(np.float64)
            for bins in set(b for b in self.bins if b):
                z0, z1, fz = taps_at(v, bins)
                self.z_taps[bins] = tuple(torch.from_numpy(a).to(self.device) for a in (
                    z0, z1 - z0, fz))

    def taps(self, row: torch.Tensor, col: torch.Tensor,
             idx: torch.Tensor | None = None) -> list[tuple[torch.Tensor, ...]]:
        """For ``GainMLPNet.grid_features``: flat corner indices and (B, 1) weights (and
        for bilateral grids the luma-bin offset and weight of the pixels ``idx``)."""
        out = []
        for (x0, x1, fx, y0, y1, fy), bins in zip(self.grid_tables, self.bins, strict=True):
            cx0, cx1, ry0, ry1 = x0[col], x1[col], y0[row], y1[row]
            tap = (ry0 + cx0, ry0 + cx1, ry1 + cx0, ry1 + cx1, fx[col][:, None],
                   fy[row][:, None])
            if bins:
                z0, dz, fz = self.z_taps[bins]
                z = z0[idx]
                tap = (*(t + z for t in tap[:4]), *tap[4:], dz[idx], fz[idx][:, None])
            out.append(tap)
        return out

    def sample(self, batch: int, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
        """(enc_x, enc_y, sin, cos, SDR, HDR) of ``batch`` pixels drawn with replacement."""
        idx, row, col = self.uniform(batch, generator)
        ex, ey, sn, cs, s = self.inputs(idx, row, col)
        self.last_taps = self.taps(row, col, idx) if self.grid_tables else None
        return ex, ey, sn, cs, s, self.hdr[idx]


def torch_target(kind: str, transform: str, s: torch.Tensor, h: torch.Tensor,
                 eps: float) -> torch.Tensor:
    """:func:`target_values` in torch, for a batch of SDR ``s`` and HDR ``h`` values."""
    if kind == "direct":
        return h
    if kind == "gain":
        f = (torch.clamp_min(h, 0.0) + eps) / (torch.clamp_min(s, 0.0) + eps)
    else:
        hi = 1.0 - paper_residual.GAMMA_GUARD
        f = torch.log(torch.clamp(h + eps, eps, hi)) / torch.log(torch.clamp(s + eps, eps, hi))
    return torch.log2(f) if transform == "log2" else f


def _torch_reconstruct(kind: str, transform: str, t_denorm: torch.Tensor, s: torch.Tensor,
                       eps: float) -> torch.Tensor:
    """HDR PQ from the denormalised output T, as the decoder computes it (clipped)."""
    f = torch.exp2(t_denorm) if transform == "log2" else t_denorm
    if kind == "direct":
        out = f
    elif kind == "gain":
        out = (torch.clamp_min(s, 0.0) + eps) * f - eps
    else:
        base = torch.clamp(s + eps, eps, 1.0 - paper_residual.GAMMA_GUARD)
        out = torch.pow(base, f) - eps
    return torch.clamp(out, 0.0, 1.0)


@dataclass
class _Plan:
    """Everything a fit needs before its first step, for either trainer."""

    kind: str
    activation: str
    transform: str
    precision: str
    grid: GridSpec | None
    entry: int
    guide: tuple[float, float]
    sdr: np.ndarray
    hdr: np.ndarray
    eps: float
    seed: int
    in_centre: np.ndarray
    in_scale: np.ndarray
    out_c: np.ndarray
    out_s: np.ndarray
    out_lo: np.ndarray
    out_hi: np.ndarray
    model: GainMLPNet

    @property
    def n_encoded(self) -> int:
        return self.model.n_encoded

    @property
    def start_weights(self) -> list[np.ndarray]:
        """The model's start weights in the stored layout, without grid columns."""
        ws = [w.detach().cpu().numpy() for w in self.model.weights]
        first = np.concatenate([ws[0][:, :self.n_encoded],
                                ws[0][:, self.n_encoded:].sum(axis=1, keepdims=True)], axis=1)
        return [first, *ws[1:]]

    @property
    def grid_weight(self) -> np.ndarray | None:
        gw = self.model.grid_weight
        return None if gw is None else gw.detach().cpu().numpy().copy()

    def target(self, rows: np.ndarray | None = None) -> np.ndarray:
        """The normalised fitted quantity, ``(H*W, 3)`` float32, or ``(n, 3)`` at the flat
        pixel indices ``rows``."""
        s2, h2 = self.sdr.reshape(-1, 3), self.hdr.reshape(-1, 3)
        n = s2.shape[0] if rows is None else len(rows)
        out = np.empty((n, 3), np.float32)
        for sl in chunks(n):
            at = sl if rows is None else rows[sl]
            t = target_values(self.kind, self.transform, s2[at], h2[at], self.eps)
            out[sl] = (t - self.out_c) / self.out_s
        return out

    def params(self, weights: list[np.ndarray], grids: list[np.ndarray]) -> MlpParams:
        return MlpParams(activation=self.activation, weights=weights,
                         in_centre=self.in_centre, in_scale=self.in_scale,
                         out_centre=self.out_c, out_scale=self.out_s, out_min=self.out_lo,
                         out_max=self.out_hi, output_transform=self.transform,
                         precision=self.precision, n_frequencies=N_FREQUENCIES, grids=grids,
                         grid_entry=self.entry,
                         grid_precision=self.grid.precision if self.grid else "fp16",
                         grid_guide=self.guide)


def _plan(method: str, kind: str, sdr_pq: np.ndarray, hdr_pq: np.ndarray, eps: float,
          options: EncodeOptions, *, init: MlpParams | None = None,
          output_transform: str | None = None, grid_entry: int | None = None) -> _Plan:
    """Check the options and the pair, compute the constants, build the start network."""
    sdr, hdr = check_pair(sdr_pq, hdr_pq)
    if not (0.0 < eps < 0.5):
        raise GainMLPError(f"offset eps={eps} must be in (0, 0.5)")
    activation = resolve_activation(options.activation)
    transform = output_transform or choose_transform(kind, sdr, hdr, eps)
    if options.loss not in LOSSES:
        raise GainMLPError(f"unknown loss {options.loss!r}; use {' or '.join(LOSSES)}")
    if options.steps < 0 or options.batch < 1 or not (1 <= options.width <= MAX_WIDTH):
        raise GainMLPError(f"steps must be >= 0, batch >= 1 and width in 1..{MAX_WIDTH}")
    grid = resolve_grid(options.grid, kind)
    precision = resolve_precision(options.precision, grid is not None)
    entry = GRID_ENTRY if grid_entry is None else int(grid_entry)
    if grid is not None and not (1 <= entry <= HIDDEN_LAYERS):
        raise GainMLPError(f"grid entry layer {entry} is outside 1..{HIDDEN_LAYERS}")
    lr_factor(options.lr_schedule, 0, 1)  # validates the name
    in_centre, in_scale = input_constants(sdr)
    if options.inputs not in INPUTS:
        raise GainMLPError(f"unknown inputs {options.inputs!r}; use {' or '.join(INPUTS)}")
    if options.inputs == "xy":  # Table-2 ablation: constant colour inputs, any decoder agrees
        in_centre[2:], in_scale[2:] = 0.0, XY_ONLY_SCALE
    out_c, out_s, out_lo, out_hi = output_constants(kind, transform, sdr, hdr, eps)
    guide = (guide_range(sdr) if grid is not None and any(is_bilateral(g) for g in grid.shapes)
             else (0.0, 1.0))
    with torch_threads():
        torch.manual_seed(options.seed)
        model = GainMLPNet(options.width, HIDDEN_LAYERS, activation,
                           grids=grid.shapes if grid else (), grid_entry=entry)
        start = init
        if start is not None and (start.activation != activation
                                  or start.hidden_widths != [options.width] * HIDDEN_LAYERS):
            raise GainMLPError(f"initial weights are a {start.activation} network of widths "
                               f"{start.hidden_widths}, not {activation} width {options.width}")
        if start is None and options.meta_init:
            from gainmlp.codecs.mlp.meta_init import load_initial_weights

            start = load_initial_weights(method, options.width, activation)
        if start is not None:
            model.reset_grid(torch.Generator().manual_seed(options.seed + 7919))
            model.load_stored_weights(start.weights)
        else:
            model.reset_parameters(torch.Generator().manual_seed(options.seed))
    return _Plan(kind, activation, transform, precision, grid, entry, guide, sdr, hdr, eps,
                 options.seed, in_centre, in_scale, out_c, out_s, out_lo, out_hi, model)


def fit_mlp(method: str, sdr_pq: np.ndarray, hdr_pq: np.ndarray, eps: float,
            options: EncodeOptions, *, init: MlpParams | None = None,
            output_transform: str | None = None,
            snapshots: Sequence[int] = (), grid_entry: int | None = None,
            grid_lr_scale: float | None = None) -> FitResult:
    """Fit one network to the pair; returns the params (stored layout) and the model.

    ``init``: start from these weights instead of ``options.meta_init``/random ones (the
    MLP part only; grid columns and grids start as :meth:`GainMLPNet.reset_grid` sets them).
    ``snapshots``: step counts at which a copy of the params is kept (for studies).
    ``grid_entry`` / ``grid_lr_scale``: override :data:`GRID_ENTRY` / :data:`GRID_LR_SCALE`
    (for studies). The grid itself comes from ``options.grid`` (see :func:`resolve_grid`).
    """
    kind = method_kind(method)
    if fused_supported(options, kind) and not snapshots and grid_entry is None \
            and grid_lr_scale is None:
        return fit_many(method, [(sdr_pq, hdr_pq)], eps, options, init=init,
                        output_transform=output_transform)[0]
    plan = _plan(method, kind, sdr_pq, hdr_pq, eps, options, init=init,
                 output_transform=output_transform, grid_entry=grid_entry)
    sdr, hdr, grid = plan.sdr, plan.hdr, plan.grid
    transform, guide = plan.transform, plan.guide
    in_centre, in_scale = plan.in_centre, plan.in_scale
    out_c, out_s, out_lo, out_hi = plan.out_c, plan.out_s, plan.out_lo, plan.out_hi
    grid_lr = options.lr * (GRID_LR_SCALE if grid_lr_scale is None else float(grid_lr_scale))
    schedule = options.lr_schedule
    device = resolve_device(options.device)

    def params_of(model: GainMLPNet) -> MlpParams:
        return plan.params(model.stored_weights(), model.stored_grids())

    with torch_threads():
        model = plan.model
        model.to(device)

        generator = torch.Generator(device=device).manual_seed(options.seed)
        batcher = _Batcher(sdr, hdr, in_centre, in_scale, device)
        oc, os_, olo, ohi = (torch.from_numpy(a.copy()).to(device)
                             for a in (out_c, out_s, out_lo, out_hi))
        groups = [{"params": list(model.weights), "lr": options.lr}]
        if grid is not None:
            batcher.add_grids(grid.shapes, guide)
            groups[0]["params"].append(model.grid_weight)
            groups.append({"params": list(model.grids), "lr": grid_lr})
        optimiser = torch.optim.Adam(groups, lr=options.lr, betas=(0.9, 0.999))
        freeze_at = int(options.steps * GRID_FREEZE_AT) if grid is not None else -1
        wanted = set(int(s) for s in snapshots)
        result = FitResult(params=params_of(model), model=model)
        if 0 in wanted:
            result.snapshots[0] = params_of(model)

        loop = StepLoop(options.steps, f"fitting {method}", options.progress, device)
        result.losses = loop.losses
        base_lrs = [g["lr"] for g in optimiser.param_groups]
        for step in loop:
            if step == freeze_at:
                _freeze_grids(model, optimiser, grid.precision)
                base_lrs[-1] = 0.0
            if schedule != "constant":
                factor = lr_factor(schedule, step, options.steps)
                for group, base in zip(optimiser.param_groups, base_lrs, strict=True):
                    group["lr"] = base * factor
            ex, ey, sn, cs, s, h = batcher.sample(options.batch, generator)
            feats = model.grid_features(batcher.last_taps) if grid is not None else None
            out = model.forward_split(ex, ey, sn, cs, feats)
            if options.loss == "map":
                with torch.no_grad():
                    target = (torch_target(kind, transform, s, h, eps) - oc) / os_
                loss = torch.mean((out - target) ** 2)
            else:
                t_den = torch.clamp(out * os_ + oc, olo, ohi)
                loss = torch.mean((_torch_reconstruct(kind, transform, t_den, s, eps) - h) ** 2)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            loop.log(step, loss)
            if step + 1 in wanted:
                result.snapshots[step + 1] = params_of(model)
        result.seconds = loop.seconds
        result.params = params_of(model)
    return result


def _freeze_grids(model: GainMLPNet, optimiser: torch.optim.Optimizer, precision: str) -> None:
    """Round the grids to their stored precision and stop training them."""
    with torch.no_grad():
        for g in model.grids:
            rounded = dequantise_grid(g.detach().cpu().numpy(), precision)
            g.copy_(torch.from_numpy(rounded).to(g.device))
            g.requires_grad_(False)
    optimiser.param_groups[-1]["lr"] = 0.0


def fused_supported(options: EncodeOptions, kind: str) -> bool:
    """Whether :mod:`.trainer` can fit this configuration (see its docstring)."""
    grid = resolve_grid(options.grid, kind)
    return (options.engine != "autograd" and options.loss == "map"
            and (grid is None or (len(grid.shapes) == 1 and not is_bilateral(grid.shapes[0]))))


def fit_many(method: str, pairs: Sequence[tuple[np.ndarray, np.ndarray]], eps: float,
             options: EncodeOptions, seeds: Sequence[int] | None = None, *,
             init: MlpParams | None = None,
             output_transform: str | None = None,
             pixels: Sequence[np.ndarray | None] | None = None,
             stop: Callable[[int, Callable[[int], MlpParams]], bool] | None = None
             ) -> list[FitResult]:
    """Fit one network per (SDR, HDR) pair, all together with the fused trainer.

    Each pair's result does not depend on the others: its pixels come from its own seed
    (``seeds``, default ``options.seed`` for every pair). Configurations the fused trainer
    does not cover (:func:`fused_supported`) are fitted one by one with :func:`fit_mlp`.
    ``init`` / ``output_transform``: as for :func:`fit_mlp`, for every pair.
    ``pixels`` / ``stop`` (rate control, :mod:`.rate`; fused trainer only): per pair the
    sorted flat pixel indices the sampler may draw (None: all); ``stop(steps_done,
    params_of)`` runs after every step, ``params_of(k)`` giving pair k's params so far, and
    a true result ends the fit there.
    """
    kind = method_kind(method)
    seeds = [options.seed] * len(pairs) if seeds is None else list(seeds)
    if len(seeds) != len(pairs):
        raise GainMLPError(f"{len(seeds)} seeds for {len(pairs)} images")
    highlights = parse_highlights(options.highlights)
    if highlights.gauss_newton and kind != "gamma":
        raise GainMLPError("--highlights gn is for gamma maps")
    if not fused_supported(options, kind):
        if pixels is not None or stop is not None:  # (the autograd fitter has no
            # highlight emphasis: it fits as ``highlights="off"``)
            raise GainMLPError("held-out pixels and early stops need the fused trainer "
                               "(--engine auto, --loss map, one plain grid)")
        return [fit_mlp(method, s, h, eps, replace(options, seed=seed, engine="autograd"),
                        init=init, output_transform=output_transform)
                for (s, h), seed in zip(pairs, seeds, strict=True)]
    plans = [_plan(method, kind, s, h, eps, replace(options, seed=seed), init=init,
                   output_transform=output_transform)
             for (s, h), seed in zip(pairs, seeds, strict=True)]
    first = plans[0]
    grid = first.grid.shapes[0] if first.grid is not None else None
    device = resolve_device(options.device)
    images = []
    for k, pl in enumerate(plans):
        pool = None if pixels is None or pixels[k] is None else np.asarray(pixels[k])
        focus = focus_pixels(highlights, pl.hdr, pool)
        weight = pixel_weights(highlights, pl.sdr, pl.hdr, pl.eps, pl.out_s, options.batch,
                               focus, pl.sdr.shape[0] * pl.sdr.shape[1] if pool is None
                               else pool.size)
        images.append(ImageData(pl.sdr, pl.target, pl.in_centre, pl.in_scale, pl.seed,
                                pl.start_weights, pl.grid_weight, pool, focus, weight))
    with torch_threads():
        trainer = FusedTrainer(
            images,
            activation=first.activation, n_frequencies=N_FREQUENCIES,
            n_pad=padded_width(first.n_encoded) - first.n_encoded, grid=grid,
            grid_precision=first.grid.precision if first.grid else "fp16",
            grid_lr_scale=GRID_LR_SCALE, device=device, steps=options.steps,
            batch=options.batch, focus=focus_count(highlights, options.batch))
        freeze_at = int(options.steps * GRID_FREEZE_AT) if grid is not None else -1
        label = f"fitting {method}" + (f" x{len(pairs)}" if len(pairs) > 1 else "")
        loop = StepLoop(options.steps, label, options.progress, device)
        for step in loop:
            if step == freeze_at:
                trainer.freeze_grid()
            lr = options.lr * lr_factor(options.lr_schedule, step, options.steps)
            losses = trainer.step(step, options.batch, lr)
            loop.log(step, losses.mean())
            if stop is not None and stop(step + 1, lambda k: plans[k].params(*trainer.stored(k))):
                break
    results = []
    for k, pl in enumerate(plans):
        weights, grids = trainer.stored(k)
        params = pl.params(weights, grids)
        results.append(FitResult(params=params, model=model_from_params(params),
                                 losses=list(loop.losses),
                                 seconds=loop.seconds))
    return results


def encode_mlp(method: str, sdr_pq: np.ndarray, hdr_pq: np.ndarray, eps: float,
               options: EncodeOptions) -> bytes:
    """Fit the network of ``method`` and return its payload body (:mod:`.format`)."""
    return pack_mlp_body(fit_mlp(method, sdr_pq, hdr_pq, eps, options).params)


def encode_many(method: str, pairs: Sequence[tuple[np.ndarray, np.ndarray]], eps: float,
                options: EncodeOptions, seeds: Sequence[int] | None = None) -> list[bytes]:
    """Payload bodies of many pairs fitted together (:func:`fit_many`)."""
    return [pack_mlp_body(r.params) for r in fit_many(method, pairs, eps, options, seeds)]


__all__ = ["FitResult", "choose_transform", "encode_many", "encode_mlp", "fit_many", "fit_mlp",
           "input_constants",
           "lr_factor", "output_constants", "resolve_grid", "target_values", "torch_target"]
