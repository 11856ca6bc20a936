"""Fit the Gain-MLP network to one image pair, or many together, and pack it as a payload
body: the engines and their choice.

The recipe of the paper (§3.2) and of the authors' implementation: Adam (lr 1e-2, betas
0.9/0.999), ``options.steps`` steps, ``options.batch`` pixels drawn uniformly at random with
replacement per step, MSE on the normalised map (``options.loss == "map"``) or, optionally,
MSE on the HDR PQ values reconstructed through eqs. 4/6 (``"hdr"``). What a fit needs
before its first step (targets, normalisation, grid, start network) is
:mod:`.fit_plan`'s, without torch. Three engines (``options.engine``, :func:`engine_for`):

* ``numba``: the CPU trainer (:mod:`.cpu_trainer`, compiled kernels, no torch): the
  default on a CPU;
* ``torch``: the torch fused trainer (:mod:`.trainer`, batched matrix products with a
  hand-written backward): the default on a CUDA GPU;
* ``autograd``: torch autograd (:mod:`.fit_autograd`), for every configuration the two
  fused trainers do not cover (``--loss hdr``, bilateral or several grids).

The two fused trainers draw the same pixels from the same start and compute the same
steps (to float rounding; tests/test_mlp_trainer.py compares them). This module imports
torch only when a torch engine runs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from gainmlp.codecs.features import StepLoop, padded_width
from gainmlp.codecs.mlp.cpu_trainer import CpuTrainer, ImageData
from gainmlp.codecs.mlp.decode import method_kind
from gainmlp.codecs.mlp.fit_plan import (
    DEFAULT_OUTPUT_TRANSFORM,
    GRID_ENTRY,
    GRID_FREEZE_AT,
    GRID_LR_SCALE,
    HEAVY_TAIL,
    HIDDEN_LAYERS,
    LR_TAIL_FLOOR,
    LR_TAIL_START,
    XY_ONLY_SCALE,
    FitResult,
    Plan,
    choose_transform,
    input_constants,
    lr_factor,
    make_plan,
    once,
    output_constants,
    resolve_grid,
    target_values,
)
from gainmlp.codecs.mlp.format import N_FREQUENCIES, MlpParams, pack_mlp_body
from gainmlp.codecs.mlp.grid import is_bilateral
from gainmlp.codecs.mlp.highlight_fit import (
    focus_count,
    focus_pixels,
    parse_highlights,
    pixel_weights,
)
from gainmlp.codecs.torch_extra import require_torch, torch_available
from gainmlp.errors import GainMLPError
from gainmlp.options import EncodeOptions

_plan = make_plan  # the names tests and studies know
_Plan = Plan
#: Names served from the torch modules on first use (``fit._Batcher`` etc.).
_TORCH_NAMES = {"_Batcher": "fit_autograd", "torch_target": "fit_autograd",
                "_torch_reconstruct": "fit_autograd", "FusedTrainer": "trainer",
                "pixel_indices": "trainer", "GainMLPNet": "model",
                "model_from_params": "model"}


def __getattr__(name: str):
    if name in _TORCH_NAMES:
        import importlib

        return getattr(importlib.import_module(f"gainmlp.codecs.mlp.{_TORCH_NAMES[name]}"),
                       name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def engine_for(options: EncodeOptions, kind: str) -> str:
    """The engine that fits ``options`` (``numba``, ``torch`` or ``autograd``).

    ``auto``: a configuration the fused trainers do not cover goes to autograd; otherwise
    the torch fused trainer on a CUDA GPU (``device`` cuda, or auto with a GPU torch sees)
    and the CPU trainer on a CPU. Asking for a torch engine without torch installed, or
    the CPU trainer on a GPU, is a one-line error."""
    if options.device not in ("cpu", "cuda", "auto"):
        raise GainMLPError(f"unknown device {options.device!r}; use cpu, cuda or auto")
    engine = options.engine
    if not fused_supported(options, kind):
        engine = "autograd"
    elif engine == "auto":
        engine = "torch" if options.device == "cuda" or (
            options.device == "auto" and _cuda_available()) else "numba"
    if engine == "numba" and options.device == "cuda":
        raise GainMLPError("--engine numba fits on the CPU; use --engine torch (or auto) "
                           "with --device cuda")
    if engine in ("torch", "autograd"):
        what = ("the autograd fit (--engine autograd, --loss hdr, bilateral grids)"
                if engine == "autograd" else "--engine torch / --device cuda")
        require_torch(what)
    return engine


def _cuda_available() -> bool:
    """Whether torch is installed and sees a CUDA GPU (imports torch only if installed)."""
    if not torch_available():
        return False
    import torch

    return bool(torch.cuda.is_available())


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
    from gainmlp.codecs.mlp import fit_autograd

    plan = make_plan(method, kind, sdr_pq, hdr_pq, eps, options, init=init,
                     output_transform=output_transform, grid_entry=grid_entry)
    return fit_autograd.fit_autograd(method, plan, options, snapshots, grid_lr_scale)


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
    engine = engine_for(options, kind)
    plans = [make_plan(method, kind, s, h, eps, replace(options, seed=seed), init=init,
                       output_transform=output_transform)
             for (s, h), seed in zip(pairs, seeds, strict=True)]
    first = plans[0]
    grid = first.grid.shapes[0] if first.grid is not None else None
    images = []
    for k, pl in enumerate(plans):
        pool = None if pixels is None or pixels[k] is None else np.asarray(pixels[k])
        focus = once(("focus", highlights, id(pl.hdr), id(pool)),
                     lambda pl=pl, pool=pool: focus_pixels(highlights, pl.hdr, pool),
                     pl.hdr, pool)
        weight = pixel_weights(highlights, pl.sdr, pl.hdr, pl.eps, pl.out_s, options.batch,
                               focus, pl.sdr.shape[0] * pl.sdr.shape[1] if pool is None
                               else pool.size)
        images.append(ImageData(pl.sdr, pl.target, pl.in_centre, pl.in_scale, pl.seed,
                                pl.start_weights, pl.grid_weight, pool, focus, weight))
    settings = dict(activation=first.activation, n_frequencies=N_FREQUENCIES,
                    n_pad=padded_width(first.n_encoded) - first.n_encoded, grid=grid,
                    grid_precision=first.grid.precision if first.grid else "fp16",
                    grid_lr_scale=GRID_LR_SCALE, steps=options.steps, batch=options.batch,
                    focus=focus_count(highlights, options.batch), optimiser=options.optimiser)
    label = f"fitting {method}" + (f" x{len(pairs)}" if len(pairs) > 1 else "")
    if engine == "torch":
        from gainmlp.codecs.mlp.trainer import fit_torch

        trainer, loop = fit_torch(images, settings, options, label,
                                  lambda t, lp: _run(t, lp, options, stop, plans))
    else:
        trainer = CpuTrainer(images, **settings)
        loop = StepLoop(options.steps, label, options.progress)
        try:
            _run(trainer, loop, options, stop, plans)
        finally:
            trainer.close()
    results = []
    for k, pl in enumerate(plans):
        weights, grids = trainer.stored(k)
        results.append(FitResult(params=pl.params(weights, grids), losses=list(loop.losses),
                                 seconds=loop.seconds))
    return results


def _run(trainer, loop: StepLoop, options: EncodeOptions, stop, plans: list[Plan]) -> None:
    """The step loop of a fused trainer: grid freezing, the learning-rate schedule, the
    loss log and the early stop (shared by both fused engines)."""
    freeze_at = int(options.steps * GRID_FREEZE_AT) if trainer.grid is not None else -1
    for step in loop:
        if step == freeze_at:
            trainer.freeze_grid()
        lr = options.lr * lr_factor(options.lr_schedule, step, options.steps)
        losses = trainer.step(step, options.batch, lr)
        loop.log(step, losses.mean())
        if stop is not None and stop(step + 1, lambda k: plans[k].params(*trainer.stored(k))):
            break


def encode_mlp(method: str, sdr_pq: np.ndarray, hdr_pq: np.ndarray, eps: float,
               options: EncodeOptions) -> bytes:
    """Fit the network of ``method`` and return its payload body (:mod:`.format`)."""
    return pack_mlp_body(fit_mlp(method, sdr_pq, hdr_pq, eps, options).params)


def encode_many(method: str, pairs: Sequence[tuple[np.ndarray, np.ndarray]], eps: float,
                options: EncodeOptions, seeds: Sequence[int] | None = None) -> list[bytes]:
    """Payload bodies of many pairs fitted together (:func:`fit_many`)."""
    return [pack_mlp_body(r.params) for r in fit_many(method, pairs, eps, options, seeds)]


__all__ = ["DEFAULT_OUTPUT_TRANSFORM", "GRID_ENTRY", "GRID_FREEZE_AT", "GRID_LR_SCALE",
           "HEAVY_TAIL", "HIDDEN_LAYERS", "LR_TAIL_FLOOR", "LR_TAIL_START", "XY_ONLY_SCALE",
           "FitResult", "ImageData", "MlpParams", "Plan", "choose_transform", "encode_many",
           "encode_mlp", "engine_for", "fit_many", "fit_mlp", "fused_supported",
           "input_constants", "lr_factor", "make_plan", "output_constants", "resolve_grid",
           "target_values"]
