"""The autograd fit of the Gain-MLP network (torch): ``--engine autograd``, and every
configuration the fused trainers do not cover (``--loss hdr``, bilateral or several grids,
grids entering a deeper layer).

The recipe of the paper (§3.2) and of the authors' implementation: Adam (lr 1e-2, betas
0.9/0.999), ``options.steps`` steps, ``options.batch`` pixels drawn uniformly at random with
replacement per step, MSE on the normalised map (``options.loss == "map"``) or, optionally,
MSE on the HDR PQ values reconstructed through eqs. 4/6 (``"hdr"``).

Speed on CPU: nothing is precomputed per pixel (memory stays at the two input images);
per step the batch is gathered, the x/y encodings come from per-column/per-row tables
(exactly the values the decoder computes), and only the three SDR inputs are encoded.
Importing this module without PyTorch raises a one-line error naming the extra.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gainmlp import paper_residual
from gainmlp.codecs.torch_extra import require_torch

torch = require_torch("the autograd fit (--engine autograd, --loss hdr, bilateral grids)")

from gainmlp.codecs.mlp.fit_plan import (  # noqa: E402 - after the torch check
    GRID_FREEZE_AT,
    GRID_LR_SCALE,
    MUON_ADAM_LR,
    FitResult,
    Plan,
    lr_factor,
)
from gainmlp.codecs.mlp.format import N_FREQUENCIES, MlpParams  # noqa: E402
from gainmlp.codecs.mlp.grid import (  # noqa: E402
    dequantise_grid,
    grid_dims,
    grid_taps,
    is_bilateral,
    luma_guide,
    taps_at,
)
from gainmlp.codecs.mlp.model import GainMLPNet  # noqa: E402
from gainmlp.codecs.mlp.trainer import muon_step  # noqa: E402
from gainmlp.codecs.torch_helpers import (  # noqa: E402
    PixelSampler,
    StepLoop,
    resolve_device,
    torch_threads,
)
from gainmlp.options import EncodeOptions  # noqa: E402


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



def fit_autograd(method: str, plan: Plan, options: EncodeOptions,
                 snapshots: Sequence[int] = (), grid_lr_scale: float | None = None
                 ) -> FitResult:
    """Fit ``plan``'s network with torch autograd and ``torch.optim.Adam`` (with
    ``options.optimiser == "muon"``: Muon for the first layer's encoded-input columns and
    the hidden layer, as the fused trainers).

    ``snapshots``: step counts at which a copy of the params is kept (for studies);
    ``grid_lr_scale``: overrides :data:`GRID_LR_SCALE` (for studies).
    """
    kind = plan.kind
    eps = plan.eps
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
        # Muon's matrices (the fused trainers' MUON_BLOCKS: the encoded inputs' columns of
        # the first layer, the hidden layer): Adam's step on them is replaced, and Adam
        # runs the rest at MUON_ADAM_LR times the rate
        muon = ([(model.weights[0], plan.n_encoded), (model.weights[1], None)]
                if options.optimiser == "muon" else [])
        if muon:
            for group in groups:
                group["lr"] *= MUON_ADAM_LR
        optimiser = torch.optim.Adam(groups, lr=options.lr, betas=(0.9, 0.999))
        momenta = [torch.zeros_like(w[:, :cols]) for w, cols in muon]
        freeze_at = int(options.steps * GRID_FREEZE_AT) if grid is not None else -1
        wanted = set(int(s) for s in snapshots)
        result = FitResult(params=params_of(model), _model=model)
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
            saved = [w.detach()[:, :cols].clone() for w, cols in muon]
            optimiser.step()
            if muon:
                lr = options.lr * (lr_factor(schedule, step, options.steps)
                                   if schedule != "constant" else 1.0)
                with torch.no_grad():
                    for (w, cols), old, buf in zip(muon, saved, momenta, strict=True):
                        w[:, :cols] = old - muon_step(w.grad[None, :, :cols], buf[None], lr)[0]
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



__all__ = ["fit_autograd", "torch_target"]
