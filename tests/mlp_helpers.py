"""What the Gain-MLP codec tests (``test_mlp*.py``) share: synthetic pairs, random params,
fast fitting options, and a torch reference forward pass.

Test modules import :func:`one_fitting_thread` by name to make it autouse there: one
fitting thread keeps fits bit-stable, and it is far faster on a CPU shared with other jobs.
"""

from __future__ import annotations

import numpy as np
import pytest

from gainmlp.codecs.features import normalise_inputs, pixel_centres
from gainmlp.codecs.mlp.format import MlpParams
from gainmlp.options import EncodeOptions


@pytest.fixture(autouse=True)
def one_fitting_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GAINMLP_THREADS", "1")


def smooth_pair(h: int = 48, w: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A smooth synthetic (SDR-in-PQ, HDR-PQ) pair: a global curve plus a spatial gain."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    base = 0.25 + 0.2 * np.sin(3 * xx + 2 * yy)[..., None] + 0.05 * rng.random((h, w, 3))
    sdr = np.clip(base * np.array([1.0, 0.9, 1.1]), 0.02, 0.55).astype(np.float32)
    hdr = np.clip(sdr ** 0.8 * (1.0 + 0.2 * xx[..., None]), 0, 0.9).astype(np.float32)
    return sdr, hdr


def local_pair(h: int = 40, w: int = 56, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """SDR-in-PQ / HDR-PQ pair whose residual has a smooth *local* part (a bump that is
    not a function of colour), as a local tone mapper makes."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    base = 0.25 + 0.2 * np.sin(7 * xx + 5 * yy)[..., None] + 0.05 * rng.random((h, w, 3))
    sdr = np.clip(base * np.array([1.0, 0.9, 1.1]), 0.02, 0.55).astype(np.float32)
    bump = np.exp(-((xx - 0.6) ** 2 + (yy - 0.3) ** 2) * 12)[..., None]
    hdr = np.clip(sdr ** (0.8 - 0.25 * bump), 0, 0.9).astype(np.float32)
    return sdr, hdr


def random_params(width: int = 16, activation: str = "relu", seed: int = 1) -> MlpParams:
    """A grid-free network with tcnn-like random weights and non-trivial constants."""
    import torch

    from gainmlp.codecs.mlp.model import GainMLPNet

    net = GainMLPNet(width, 2, activation)
    net.reset_parameters(torch.Generator().manual_seed(seed))
    rng = np.random.default_rng(seed)
    return MlpParams(
        activation=activation, weights=net.stored_weights(),
        in_centre=np.array([0.5, 0.5, 0.3, 0.3, 0.3], np.float32),
        in_scale=np.array([0.5, 0.5, 0.25, 0.2, 0.3], np.float32),
        out_centre=rng.normal(size=3).astype(np.float32) * 0.1,
        out_scale=np.array([0.5, 0.4, 0.3], np.float32),
        out_min=np.full(3, -2.0, np.float32), out_max=np.full(3, 2.0, np.float32),
        output_transform="log2")


def grid_params(shapes=((4, 6, 2),), entry: int = 1, activation: str = "sine",
                precision: str = "fp32", grid_precision: str = "fp32",
                seed: int = 1) -> MlpParams:
    """A network with random grids of ``shapes`` entering layer ``entry``."""
    import torch

    from gainmlp.codecs.mlp.model import GainMLPNet

    net = GainMLPNet(16, 2, activation, grids=shapes, grid_entry=entry)
    net.reset_parameters(torch.Generator().manual_seed(seed))
    rng = np.random.default_rng(seed)
    grids = [rng.normal(size=s).astype(np.float32) for s in shapes]
    return MlpParams(
        activation=activation, weights=net.stored_weights(),
        in_centre=np.array([0.5, 0.5, 0.3, 0.3, 0.3], np.float32),
        in_scale=np.array([0.5, 0.5, 0.25, 0.2, 0.3], np.float32),
        out_centre=np.zeros(3, np.float32), out_scale=np.array([0.5, 0.4, 0.3], np.float32),
        out_min=np.full(3, -2.0, np.float32), out_max=np.full(3, 2.0, np.float32),
        precision=precision, grids=grids, grid_entry=entry, grid_precision=grid_precision,
        grid_guide=(0.05, 0.45))


def raw_inputs(sdr: np.ndarray) -> np.ndarray:
    """Every pixel's raw inputs (x, y, r, g, b) ``(H * W, 5)``, row-major."""
    h, w = sdr.shape[:2]
    ys, xs = np.meshgrid(pixel_centres(h), pixel_centres(w), indexing="ij")
    return np.concatenate([xs[..., None], ys[..., None], sdr],
                          axis=-1).reshape(-1, 5).astype(np.float32)


def torch_forward(p: MlpParams, raw: np.ndarray) -> np.ndarray:
    """The torch model's plain forward pass on raw inputs (grid features from numpy)."""
    import torch

    from gainmlp.codecs.mlp.decode import grid_features_at
    from gainmlp.codecs.mlp.model import model_from_params

    net = model_from_params(p)
    feats = None
    if p.grids:
        feats = torch.from_numpy(grid_features_at(p, raw[:, 0].astype(np.float64),
                                                  raw[:, 1].astype(np.float64), raw[:, 2:5]))
    with torch.no_grad():
        return net(torch.from_numpy(normalise_inputs(raw, p.in_centre, p.in_scale)),
                   feats).numpy()


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / np.mean((a.astype(np.float64) - b) ** 2)))


def fast_options(**kw) -> EncodeOptions:
    """A short fit of the paper's plain network from random weights."""
    return EncodeOptions(**{"steps": 60, "batch": 2048, "meta_init": False, "seed": 3,
                            "grid": None, **kw})


def grid_options(**kw) -> EncodeOptions:
    """A short fit with an 8x8x2 grid and fp32 weights."""
    return EncodeOptions(**{"steps": 50, "batch": 2048, "seed": 3, "grid": "8x8x2",
                            "precision": "fp32", **kw})
