"""Residual codecs: conventional map images and MLPs, behind one small interface.

``encode_residual`` turns an (SDR, HDR) pair in HDR space into a method-specific payload
body; ``decode_residual`` turns the body and the SDR back into the HDR rendition. The MLP
encoder imports torch lazily; every decoder is numpy-only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gainmlp.errors import GainMLPError

CONVENTIONAL_METHODS = (
    "gain-jpeg", "gamma-jpeg", "gain-heic", "gamma-heic",
    "gain-jxl", "gamma-jxl", "gain-avif", "gamma-avif",
)
MLP_METHODS = ("gamma-mlp", "gain-mlp", "direct-mlp")
BASELINE_METHODS = ("mlp-itm",)  # Liu et al.'s MLP-ITM, the paper's strongest prior art
METHODS = MLP_METHODS + CONVENTIONAL_METHODS + BASELINE_METHODS
DEFAULT_METHOD = "gamma-mlp"


@dataclass
class EncodeOptions:
    """Every knob of every encoder; each codec reads the ones it understands."""

    # conventional map images
    scale: int = 4
    quality: int = 80
    # MLPs
    width: int = 16
    steps: int = 1000
    batch: int = 65536
    lr: float = 1e-2
    # "cosine-tail" (default): constant for the first half, then a cosine decay to 1 % of
    # the rate by the last step (mlp_fit.lr_factor); "constant" is the paper's recipe.
    # Measured on the 32 dev pairs: seed-to-seed spread 1.24 -> 0.10 dB (docs/grid.md)
    lr_schedule: str = "cosine-tail"
    seed: int = 0
    device: str = "cpu"
    activation: str = "auto"  # "auto" = the measured default of the MLP codec
    precision: str = "auto"  # "auto": fp16 with a grid (8.7 KB payload), else fp32 (9.1 KB)
    meta_init: bool = True
    loss: str = "map"  # "map" (paper) or "hdr"
    # learned low-resolution grid beside the MLP (body version 2; docs/grid.md): "auto" =
    # mlp_fit.DEFAULT_GRID (32x32x4:u8; payload 8.7 KB with precision fp16, 13.2 KB with
    # fp32), None/"none" = no grid (version-1 body, the paper's network), or
    # "ROWSxCOLSxC[+...][:fp16|:fp32|:u8]"
    # "auto" is the default: mlp_fit.AUTO_GRID per method (gamma-mlp: 32x32x4:u8, which beat
    # the paper's network on every dev pair; gain-/direct-mlp: none), docs/grid.md
    grid: str | None = "auto"
    # "xyrgb" (the method) or "xy": the paper's Table-2 ablation, the network never sees
    # the SDR colour (stored as an input scale so large the colour inputs are constant)
    inputs: str = "xyrgb"
    progress: bool = False


def resolve_precision(precision: str, has_grid: bool) -> str:
    """Weight precision: "auto" is fp16 when a grid rides along (keeps the default payload
    under 10 KB at no measured cost, docs/grid.md), fp32 otherwise (the paper's 10 KB)."""
    if precision == "auto":
        return "fp16" if has_grid else "fp32"
    if precision not in ("fp32", "fp16"):
        raise GainMLPError(f"unknown precision {precision!r}; use auto, fp32 or fp16")
    return precision


def check_method(method: str) -> str:
    if method not in METHODS:
        raise GainMLPError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    return method


def encode_residual(
    method: str, sdr_pq: np.ndarray, hdr_pq: np.ndarray, eps: float, options: EncodeOptions
) -> bytes:
    """Fit/compress the residual of ``method``; returns the payload body."""
    check_method(method)
    if method in CONVENTIONAL_METHODS:
        from gainmlp.codecs.conventional import encode_map

        return encode_map(method, sdr_pq, hdr_pq, eps, options)
    if method in BASELINE_METHODS:
        from gainmlp.codecs.mlp_itm.fit import encode_itm  # imports torch

        return encode_itm(method, sdr_pq, hdr_pq, eps, options)
    from gainmlp.codecs.mlp.fit import encode_mlp  # imports torch

    return encode_mlp(method, sdr_pq, hdr_pq, eps, options)


def decode_residual(method: str, body: bytes, sdr_pq: np.ndarray, eps: float) -> np.ndarray:
    """Rebuild the HDR rendition (PQ BT.2020, float32 in [0, 1]) from SDR and a body."""
    check_method(method)
    if method in CONVENTIONAL_METHODS:
        from gainmlp.codecs.conventional import decode_map

        return decode_map(method, body, sdr_pq, eps)
    if method in BASELINE_METHODS:
        from gainmlp.codecs.mlp_itm.decode import decode_itm  # numpy only

        return decode_itm(method, body, sdr_pq, eps)
    from gainmlp.codecs.mlp.decode import decode_mlp  # numpy only

    return decode_mlp(method, body, sdr_pq, eps)
