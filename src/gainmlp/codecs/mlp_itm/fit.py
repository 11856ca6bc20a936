"""Fit the MLP-ITM baseline to one image pair (torch) and pack it as a payload body.

The recipe mirrors the Gain-MLP codec's, so both methods get the same budget: Adam
(``options.lr``, betas 0.9/0.999), ``options.steps`` steps of ``options.batch`` pixels, MSE
on the HDR PQ code values normalised per channel to [-1, 1] around their mean. MLP-ITM's
own ingredient is its online hard-example mining: half of each batch is drawn uniformly,
the other half from the cells of a coarse grid over the image in proportion to their
running error, so hard regions are seen more often (:class:`_MiningBatcher`). Its other
ingredient, a domain-wise meta-learned initialisation, needs a training set we do not
have: every fit starts from the seeded random initialisation (``options.meta_init`` is
ignored). docs/mlp.md documents these choices and what they measured.

Determinism: CPU fits are reproducible for a given seed and thread count
(:func:`gainmlp.codecs.torch_helpers.fit_threads`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gainmlp.codecs.features import channel_stats, chunks
from gainmlp.codecs.torch_extra import require_torch

torch = require_torch("fitting MLP-ITM")

from gainmlp.codecs.mlp_itm.format import (  # noqa: E402
    DEFAULT_FREQUENCIES,
    DEFAULT_HIDDEN_LAYERS,
    DEFAULT_WIDTH,
    MAX_FREQUENCIES,
    MAX_HIDDEN_LAYERS,
    MAX_WIDTH,
    METHOD,
    ItmParams,
    pack_itm_body,
)
from gainmlp.codecs.mlp_itm.model import ItmNet  # noqa: E402
from gainmlp.codecs.torch_helpers import (  # noqa: E402
    PixelSampler,
    StepLoop,
    check_pair,
    resolve_device,
    torch_threads,
)
from gainmlp.errors import GainMLPError  # noqa: E402
from gainmlp.options import EncodeOptions, resolve_precision  # noqa: E402

GRID_CELLS = 32  # mining grid: up to 32 x 32 cells
MINED_FRACTION = 0.5
ERROR_DECAY = 0.9
ERROR_FLOOR = 0.01


@dataclass
class ItmFitResult:
    """A fitted MLP-ITM: stored params, the torch model, the start params, diagnostics."""

    params: ItmParams
    model: ItmNet
    initial: ItmParams
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0


def _channel_stats(values: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per channel of an ``(..., C)`` image (float64): mean, largest deviation, min, max."""
    flat = values.reshape(-1, values.shape[-1])
    return channel_stats(flat[rows].astype(np.float64) for rows in chunks(flat.shape[0]))


class _MiningBatcher(PixelSampler):
    """Draws batches: part uniform, part from the grid cells with the largest running error.

    The image is cut into up to ``GRID_CELLS`` x ``GRID_CELLS`` cells. A running (EMA,
    decay ``ERROR_DECAY``) mean squared error per cell is updated from every batch's own
    per-pixel losses (no extra forward pass); ``MINED_FRACTION`` of each batch comes from
    cells chosen with probability proportional to their running error plus a floor of
    ``ERROR_FLOOR`` times the mean (so no cell starves), uniformly inside the cell.
    """

    def __init__(self, sdr: np.ndarray, hdr: np.ndarray, params: ItmParams,
                 device: torch.device) -> None:
        super().__init__(sdr, hdr, params.in_centre, params.in_scale, device,
                         params.spatial_frequencies, params.colour_frequencies)
        height, width = self.height, self.width
        self.out_centre = torch.from_numpy(params.out_centre.copy()).to(device)
        self.out_scale = torch.from_numpy(params.out_scale.copy()).to(device)
        # Mining grid: cell i spans rows [row_lo[i], row_lo[i + 1]).
        gh, gw = min(GRID_CELLS, height), min(GRID_CELLS, width)
        self.gw = gw
        row_lo = (np.arange(gh + 1) * height) // gh
        col_lo = (np.arange(gw + 1) * width) // gw
        self.row_lo = torch.from_numpy(row_lo[:-1]).to(device)
        self.row_n = torch.from_numpy(np.diff(row_lo)).to(device)
        self.col_lo = torch.from_numpy(col_lo[:-1]).to(device)
        self.col_n = torch.from_numpy(np.diff(col_lo)).to(device)
        self.cell_of_row = torch.from_numpy(np.searchsorted(row_lo, np.arange(height),
                                                            side="right") - 1).to(device)
        self.cell_of_col = torch.from_numpy(np.searchsorted(col_lo, np.arange(width),
                                                            side="right") - 1).to(device)
        self.errors = torch.ones(gh * gw, dtype=torch.float32, device=device)

    def sample(self, batch: int, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
        """(enc_x, enc_y, sin, cos, target, cell) of ``batch`` pixels."""
        mined = int(round(batch * MINED_FRACTION)) if batch > 1 else 0
        _, row, col = self.uniform(batch - mined, generator)
        if mined:
            weights = self.errors + ERROR_FLOOR * self.errors.mean()
            cells = torch.multinomial(weights, mined, replacement=True, generator=generator)
            ci = torch.div(cells, self.gw, rounding_mode="floor")
            cj = cells - ci * self.gw
            u = torch.rand((2, mined), generator=generator, device=self.device)
            r = self.row_lo[ci] + torch.clamp((u[0] * self.row_n[ci]).long(),
                                              max=self.row_n[ci] - 1)
            c = self.col_lo[cj] + torch.clamp((u[1] * self.col_n[cj]).long(),
                                              max=self.col_n[cj] - 1)
            row, col = torch.cat([row, r]), torch.cat([col, c])
        idx = row * self.width + col
        cell = self.cell_of_row[row] * self.gw + self.cell_of_col[col]
        ex, ey, sn, cs, _ = self.inputs(idx, row, col)
        target = (self.hdr[idx] - self.out_centre) / self.out_scale
        return ex, ey, sn, cs, target, cell

    def update(self, cell: torch.Tensor, per_pixel: torch.Tensor) -> None:
        """Fold one batch's per-pixel losses into the running per-cell errors."""
        sums = torch.zeros_like(self.errors).index_add_(0, cell, per_pixel)
        counts = torch.bincount(cell, minlength=self.errors.numel()).to(torch.float32)
        seen = counts > 0
        mean = sums / torch.clamp_min(counts, 1.0)
        blended = ERROR_DECAY * self.errors + (1.0 - ERROR_DECAY) * mean
        self.errors = torch.where(seen, blended, self.errors)


def fit_itm(sdr_pq: np.ndarray, hdr_pq: np.ndarray, options: EncodeOptions, *,
            spatial_width: int = DEFAULT_WIDTH, colour_width: int = DEFAULT_WIDTH,
            hidden_layers: int = DEFAULT_HIDDEN_LAYERS,
            n_frequencies: int = DEFAULT_FREQUENCIES) -> ItmFitResult:
    """Fit MLP-ITM to one pair (PQ BT.2020 float32 ``(H, W, 3)``); returns params and model.

    The shape keywords default to the paper's 34 KB setting; ``options.width`` (the
    Gain-MLP width) is deliberately not used, so the CLI's default is that setting.
    """
    sdr, hdr = check_pair(sdr_pq, hdr_pq)
    precision = resolve_precision(options.precision, has_grid=False)
    if options.activation not in ("auto", "relu"):
        raise GainMLPError(f"MLP-ITM uses ReLU; activation {options.activation!r} is not "
                           f"supported")
    if options.steps < 0 or options.batch < 1 or not (options.lr > 0):
        raise GainMLPError("steps must be >= 0, batch >= 1 and lr > 0")
    if not (1 <= spatial_width <= MAX_WIDTH and 1 <= colour_width <= MAX_WIDTH
            and 1 <= hidden_layers <= MAX_HIDDEN_LAYERS
            and 1 <= n_frequencies <= MAX_FREQUENCIES):
        raise GainMLPError(f"MLP-ITM widths must be in 1..{MAX_WIDTH}, layers in "
                           f"1..{MAX_HIDDEN_LAYERS}, frequencies in 1..{MAX_FREQUENCIES}")
    device = resolve_device(options.device)

    s_mean, s_dev, _, _ = _channel_stats(sdr)
    in_centre = np.concatenate([[0.5, 0.5], s_mean]).astype(np.float32)
    in_scale = np.concatenate([[0.5, 0.5], s_dev]).astype(np.float32)
    o_mean, o_dev, o_lo, o_hi = (a.astype(np.float32) for a in _channel_stats(hdr))

    def params_of(model: ItmNet) -> ItmParams:
        spatial, colour = model.layers()
        return ItmParams(spatial=spatial, colour=colour, in_centre=in_centre, in_scale=in_scale,
                         out_centre=o_mean, out_scale=o_dev, out_min=o_lo, out_max=o_hi,
                         spatial_frequencies=n_frequencies, colour_frequencies=n_frequencies,
                         precision=precision)

    with torch_threads():
        model = ItmNet(spatial_width, colour_width, hidden_layers, hidden_layers,
                       n_frequencies, n_frequencies)
        model.reset_parameters(torch.Generator().manual_seed(options.seed))
        model.to(device)
        initial = params_of(model)
        result = ItmFitResult(params=initial, model=model, initial=initial)
        generator = torch.Generator(device=device).manual_seed(options.seed)
        batcher = _MiningBatcher(sdr, hdr, initial, device)
        optimiser = torch.optim.Adam(model.parameters(), lr=options.lr, betas=(0.9, 0.999))

        loop = StepLoop(options.steps, f"fitting {METHOD}", options.progress, device)
        result.losses = loop.losses
        for step in loop:
            ex, ey, sn, cs, target, cell = batcher.sample(options.batch, generator)
            out = model.forward_split(ex, ey, sn, cs)
            per_pixel = ((out - target) ** 2).mean(dim=1)
            loss = per_pixel.mean()
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            batcher.update(cell, per_pixel.detach())
            loop.log(step, loss)
        result.seconds = loop.seconds
        result.params = params_of(model)
    return result


def encode_itm(method: str, sdr_pq: np.ndarray, hdr_pq: np.ndarray, eps: float,
               options: EncodeOptions) -> bytes:
    """Fit MLP-ITM and return its payload body (:mod:`gainmlp.codecs.mlp_itm.format`).

    ``eps`` is unused: the method predicts the HDR directly, not a residual.
    """
    del eps
    if method != METHOD:
        raise GainMLPError(f"{method!r} is not the MLP-ITM method")
    return pack_itm_body(fit_itm(sdr_pq, hdr_pq, options).params)


__all__ = ["ItmFitResult", "encode_itm", "fit_itm"]
