"""Fit the Gain-MLP network to one image pair (torch) and pack it as a payload body.

The recipe of the paper (§3.2) and of the authors' implementation: Adam (lr 1e-2, betas
0.9/0.999), ``options.steps`` steps, ``options.batch`` pixels drawn uniformly at random with
replacement per step, MSE on the normalised map (``options.loss == "map"``) or, optionally,
MSE on the HDR PQ values reconstructed through eqs. 4/6 (``"hdr"``).

Speed on CPU: nothing is precomputed per pixel (memory stays at the two input images);
per step the batch is gathered, the x/y encodings come from per-column/per-row tables
(exactly the values the decoder computes), and only the three SDR inputs are encoded.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from gainmlp import paper_residual
from gainmlp.codecs.mlp.decode import encode_numpy, method_kind, normalise_inputs
from gainmlp.codecs.mlp.format import (
    N_FREQUENCIES,
    GridSpec,
    MlpParams,
    dequantise_grid,
    grid_dims,
    grid_taps,
    guide_range,
    is_bilateral,
    luma_guide,
    pack_mlp_body,
    parse_grid_spec,
    taps_at,
)
from gainmlp.codecs.mlp.model import PI32, GainMLPNet
from gainmlp.errors import GainMLPError
from gainmlp.options import (
    LR_SCHEDULES,
    EncodeOptions,
    grid_for,
    resolve_activation,
    resolve_precision,
)

DEFAULT_OUTPUT_TRANSFORM = {"gain": "linear", "gamma": "linear", "direct": "linear"}
HIDDEN_LAYERS = 2
STAT_CHUNK = 1 << 20
HEAVY_TAIL = 8.0  # see choose_transform

XY_ONLY_SCALE = 1e30  # colour inputs divided by this are 0 to float32 precision
GRID_ENTRY = 1             # the grid features enter the first layer
GRID_LR_SCALE = 1.0        # grid learning rate = options.lr * GRID_LR_SCALE (docs/grid.md;
                           # 0.1 was safer under a constant rate, 1.0 wins with cosine-tail)
GRID_FREEZE_AT = 0.9       # fraction of the steps after which the grid is stored-rounded
                           # and frozen (the MLP adapts to the rounding in the last 10 %)


@dataclass
class FitResult:
    """A fitted network: stored-layout params, the torch model, and some diagnostics."""

    params: MlpParams
    model: GainMLPNet
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    snapshots: dict[int, MlpParams] = field(default_factory=dict)


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise GainMLPError("device 'cuda' was asked for but torch sees no CUDA GPU")
    if device not in ("cpu", "cuda"):
        raise GainMLPError(f"unknown device {device!r}; use cpu, cuda or auto")
    return torch.device(device)


def resolve_grid(spec: str | None, kind: str = "gamma") -> GridSpec | None:
    """``EncodeOptions.grid`` -> the grid to fit (``"auto"`` resolved per residual kind by
    :func:`gainmlp.options.grid_for`)."""
    return parse_grid_spec(grid_for(spec, kind))


LR_TAIL_START = 0.5   # cosine-tail: fraction of the steps at the full rate
LR_TAIL_FLOOR = 0.01  # cosine-tail: rate at the last step, relative to the full rate


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


def _check_pair(sdr_pq: np.ndarray, hdr_pq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    sdr = np.ascontiguousarray(np.nan_to_num(np.asarray(sdr_pq, dtype=np.float32)))
    hdr = np.ascontiguousarray(np.nan_to_num(np.asarray(hdr_pq, dtype=np.float32)))
    if sdr.ndim != 3 or sdr.shape[2] != 3 or sdr.shape != hdr.shape:
        raise GainMLPError(f"SDR {sdr.shape} and HDR {hdr.shape} must both be (H, W, 3)")
    return sdr, hdr


def _target_values(kind: str, transform: str, sdr: np.ndarray, hdr: np.ndarray,
                   eps: float) -> np.ndarray:
    """The fitted quantity T (float64): the map (or its log2), or the HDR for direct."""
    if kind == "direct":
        return np.asarray(hdr, dtype=np.float64)
    f = paper_residual.compute(kind, hdr, sdr, eps)
    return np.log2(f) if transform == "log2" else f


def choose_transform(kind: str, sdr: np.ndarray, hdr: np.ndarray, eps: float) -> str:
    """Linear targets fit best on typical pairs, but a heavy-tailed gain map (a dark SDR,
    e.g. Ward's histogram operator: a few pixels with huge gains) squeezes every other
    pixel into a sliver of [-1, 1] after the max-deviation normalisation. When the largest
    deviation exceeds HEAVY_TAIL standard deviations in any channel, fit log2 of the gain
    map instead (eq. 2's space). Measured: the statistic is 1.6-3.5 on every
    Reinhard-Devlin, Drago and local gain map of the dev images and 10-34 on Ward's, where
    the linear gain fit lost 10-20 dB to Gamma-MLP."""
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
    total = np.zeros(3)
    lo, hi = np.full(3, np.inf), np.full(3, -np.inf)
    for i in range(0, s2.shape[0], STAT_CHUNK):
        t = _target_values(kind, transform, s2[i:i + STAT_CHUNK], h2[i:i + STAT_CHUNK], eps)
        total += t.sum(axis=0)
        lo, hi = np.minimum(lo, t.min(axis=0)), np.maximum(hi, t.max(axis=0))
    mean = total / s2.shape[0]
    scale = np.maximum(np.maximum(hi - mean, mean - lo), 1e-6)
    return tuple(np.asarray(a, dtype=np.float32) for a in (mean, scale, lo, hi))


def input_constants(sdr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre/scale of (x, y, r, g, b): x, y in (0, 1) -> [-1, 1]; SDR around its mean."""
    s2 = sdr.reshape(-1, 3).astype(np.float64)
    mean = s2.mean(axis=0)
    dev = np.maximum(np.maximum(s2.max(axis=0) - mean, mean - s2.min(axis=0)), 1e-6)
    centre = np.concatenate([[0.5, 0.5], mean]).astype(np.float32)
    scale = np.concatenate([[0.5, 0.5], dev]).astype(np.float32)
    return centre, scale


def fit_threads() -> int:
    """Threads for CPU fitting: ``$GAINMLP_THREADS`` if set, else the usable cores.

    A fixed count keeps fits bit-reproducible (torch's reductions split by thread count).
    On a CPU shared with other busy processes, ``GAINMLP_THREADS=1`` is much faster:
    OpenMP threads that wait on a descheduled sibling spin (measured 3x slower here).
    """
    env = os.environ.get("GAINMLP_THREADS", "").strip()
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            raise GainMLPError(f"GAINMLP_THREADS={env!r} is not an integer") from None
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    return max(1, min(torch.get_num_threads(), cores))


@contextlib.contextmanager
def torch_threads() -> Iterator[None]:
    """Run with :func:`fit_threads` threads, restoring torch's setting afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(fit_threads())
    try:
        yield
    finally:
        torch.set_num_threads(before)


class _Batcher:
    """Gathers random pixels and their encoding, in blocks (see ``forward_split``)."""

    def __init__(self, sdr: np.ndarray, hdr: np.ndarray, in_centre: np.ndarray,
                 in_scale: np.ndarray, device: torch.device,
                 n_frequencies: int = N_FREQUENCIES) -> None:
        height, width = sdr.shape[:2]
        self.width, self.n = width, height * width
        self.device = device
        self.sdr = torch.from_numpy(sdr.reshape(-1, 3)).to(device)
        self.hdr = torch.from_numpy(hdr.reshape(-1, 3)).to(device)
        xs = ((np.arange(width, dtype=np.float64) + 0.5) / width).astype(np.float32)
        ys = ((np.arange(height, dtype=np.float64) + 0.5) / height).astype(np.float32)
        self.tx = torch.from_numpy(encode_numpy(
            normalise_inputs(xs[:, None], in_centre[:1], in_scale[:1]), n_frequencies)).to(device)
        self.ty = torch.from_numpy(encode_numpy(
            normalise_inputs(ys[:, None], in_centre[1:2], in_scale[1:2]), n_frequencies)).to(device)
        self.centre = torch.from_numpy(in_centre[2:].copy()).to(device)
        self.scale = torch.from_numpy(in_scale[2:].copy()).to(device)
        self.pi = torch.tensor(PI32, dtype=torch.float32, device=device)
        self.powers = torch.exp2(torch.arange(n_frequencies, dtype=torch.float32, device=device))
        self.grid_tables: list[tuple[torch.Tensor, ...]] = []

    def add_grids(self, shapes: Sequence[tuple[int, ...]], height: int,
                  guide: tuple[float, float] = (0.0, 1.0)) -> None:
        """Per-column / per-row bilinear taps of each grid (see ``mlp_body.grid_taps``);
        bilateral grids also get each pixel's luma-bin taps (``mlp_body.luma_guide``)."""
        self.bins: list[int] = []
        for shape in shapes:
            rows, cols, bins, _ = grid_dims(shape)
            x0, x1, fx = grid_taps(self.width, cols)
            y0, y1, fy = grid_taps(height, rows)
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
        idx = torch.randint(0, self.n, (batch,), generator=generator, device=self.device)
        row = torch.div(idx, self.width, rounding_mode="floor")
        col = idx - row * self.width
        s = self.sdr[idx]
        norm = torch.clamp((s - self.centre) / self.scale, -1.0, 1.0)
        # Same float32 operations as mlp_decode.encode_numpy.
        args = ((norm * self.pi)[:, :, None] * self.powers).reshape(batch, -1)
        self.last_taps = self.taps(row, col, idx) if self.grid_tables else None
        return self.tx[col], self.ty[row], torch.sin(args), torch.cos(args), s, self.hdr[idx]


def _torch_target(kind: str, transform: str, s: torch.Tensor, h: torch.Tensor,
                  eps: float) -> torch.Tensor:
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
    sdr, hdr = _check_pair(sdr_pq, hdr_pq)
    if not (0.0 < eps < 0.5):
        raise GainMLPError(f"offset eps={eps} must be in (0, 0.5)")
    activation = resolve_activation(options.activation)
    transform = output_transform or choose_transform(kind, sdr, hdr, eps)
    if options.loss not in ("map", "hdr"):
        raise GainMLPError(f"unknown loss {options.loss!r}; use map or hdr")
    if options.steps < 0 or options.batch < 1 or not (1 <= options.width <= 1024):
        raise GainMLPError("steps must be >= 0, batch >= 1 and width in 1..1024")
    device = resolve_device(options.device)
    grid = resolve_grid(getattr(options, "grid", None), kind)
    precision = resolve_precision(options.precision, grid is not None)
    entry = GRID_ENTRY if grid_entry is None else int(grid_entry)
    if grid is not None and not (1 <= entry <= HIDDEN_LAYERS):
        raise GainMLPError(f"grid entry layer {entry} is outside 1..{HIDDEN_LAYERS}")
    grid_lr = options.lr * (GRID_LR_SCALE if grid_lr_scale is None else float(grid_lr_scale))
    schedule = getattr(options, "lr_schedule", "constant")
    lr_factor(schedule, 0, 1)  # validates the name

    in_centre, in_scale = input_constants(sdr)
    inputs = getattr(options, "inputs", "xyrgb")
    if inputs == "xy":  # Table-2 ablation: constant colour inputs, any decoder agrees
        in_centre[2:], in_scale[2:] = 0.0, XY_ONLY_SCALE
    elif inputs != "xyrgb":
        raise GainMLPError(f"unknown inputs {inputs!r}; use xyrgb or xy")
    out_c, out_s, out_lo, out_hi = output_constants(kind, transform, sdr, hdr, eps)
    guide = (guide_range(sdr) if grid is not None and any(is_bilateral(g) for g in grid.shapes)
             else (0.0, 1.0))

    def params_of(model: GainMLPNet) -> MlpParams:
        return MlpParams(activation=activation, weights=model.stored_weights(),
                         in_centre=in_centre, in_scale=in_scale, out_centre=out_c,
                         out_scale=out_s, out_min=out_lo, out_max=out_hi,
                         output_transform=transform, precision=precision,
                         n_frequencies=N_FREQUENCIES, grids=model.stored_grids(),
                         grid_entry=entry, grid_precision=grid.precision if grid else "fp16",
                         grid_guide=guide)

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
        model.to(device)

        generator = torch.Generator(device=device).manual_seed(options.seed)
        batcher = _Batcher(sdr, hdr, in_centre, in_scale, device)
        oc, os_, olo, ohi = (torch.from_numpy(a.copy()).to(device)
                             for a in (out_c, out_s, out_lo, out_hi))
        groups = [{"params": list(model.weights), "lr": options.lr}]
        if grid is not None:
            batcher.add_grids(grid.shapes, sdr.shape[0], guide)
            groups[0]["params"].append(model.grid_weight)
            groups.append({"params": list(model.grids), "lr": grid_lr})
        optimiser = torch.optim.Adam(groups, lr=options.lr, betas=(0.9, 0.999))
        freeze_at = int(options.steps * GRID_FREEZE_AT) if grid is not None else -1
        wanted = set(int(s) for s in snapshots)
        result = FitResult(params=params_of(model), model=model)
        if 0 in wanted:
            result.snapshots[0] = params_of(model)

        steps = range(options.steps)
        bar = None
        if options.progress:
            from tqdm import tqdm

            bar = tqdm(steps, desc=f"fitting {method}", unit="step", leave=False)
            steps = bar
        t0 = time.perf_counter()
        base_lrs = [g["lr"] for g in optimiser.param_groups]
        for step in steps:
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
                    target = (_torch_target(kind, transform, s, h, eps) - oc) / os_
                loss = torch.mean((out - target) ** 2)
            else:
                t_den = torch.clamp(out * os_ + oc, olo, ohi)
                loss = torch.mean((_torch_reconstruct(kind, transform, t_den, s, eps) - h) ** 2)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            if step % 50 == 0 or step == options.steps - 1:
                result.losses.append(float(loss.detach()))
                if bar is not None:
                    bar.set_postfix(loss=f"{result.losses[-1]:.3g}")
            if step + 1 in wanted:
                result.snapshots[step + 1] = params_of(model)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        result.seconds = time.perf_counter() - t0
        if bar is not None:
            bar.close()
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


def encode_mlp(method: str, sdr_pq: np.ndarray, hdr_pq: np.ndarray, eps: float,
               options: EncodeOptions) -> bytes:
    """Fit the network of ``method`` and return its payload body (see ``mlp_body``)."""
    return pack_mlp_body(fit_mlp(method, sdr_pq, hdr_pq, eps, options).params)


__all__ = ["FitResult", "encode_mlp", "fit_mlp",
           "resolve_grid"]
