"""Why the local tone mapper's residual resists a 10 KB code (docs/grid.md, "Why the local
target is out of reach").

Fits the paper's Gamma-MLP (2x16 sine, random initialisation, Adam at 1e-2, a constant
rate) on one pair with extra per-pixel input channels beside (x, y, r, g, b), and reports
the PQ PSNR of the decoded HDR per arm (:data:`ARMS`):

* ``plain``: the five inputs only;
* ``sdr-gauss``: + a Gaussian blur of the SDR luma (sigma 2 % of the long side): context a
  decoder could compute for free;
* ``sdr-bilateral``: + a bilateral filter of the SDR luma (sigma 2 %, range 0.1 PQ);
* ``oracle-base``: + the bilateral filter of the *HDR* luma (sigma 2 %, range 0.03 PQ),
  i.e. the local adaptation layer of the tone mapper at full resolution. Not available to
  a decoder: it measures how much of the error is that layer.

The network and its target come from the codec (:class:`~gainmlp.codecs.mlp.model.GainMLPNet`,
:func:`~gainmlp.codecs.mlp.fit.target_values`); the fitting loop is a plain one here
because the codec's fit takes no extra inputs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gainmlp import filters
from gainmlp.codecs.mlp.grid import LUMA_WEIGHTS
from gainmlp.evaluation.pairs import load_pq_pair
from gainmlp.metrics import psnr
from gainmlp.paper_residual import DEFAULT_EPS, reconstruct
from gainmlp.tonemap import bilateral_filter

ARMS = ("plain", "sdr-gauss", "sdr-bilateral", "oracle-base")
SIGMA = 0.02  # spatial sigma of every filter, as a fraction of the long side
CHUNK = 65536  # pixels per forward pass when predicting the whole image


def extra_channels(arm: str, sdr: np.ndarray, hdr: np.ndarray) -> list[np.ndarray]:
    """The per-pixel inputs ``arm`` adds to (x, y, r, g, b), each (H, W) float64."""
    sigma = SIGMA * max(sdr.shape[:2])
    if arm == "sdr-gauss":
        return [filters.gaussian_filter((sdr @ LUMA_WEIGHTS).astype(np.float64), sigma,
                                        mode="nearest")]
    if arm == "sdr-bilateral":
        return [bilateral_filter((sdr @ LUMA_WEIGHTS).astype(np.float64), sigma, 0.1)]
    if arm == "oracle-base":
        return [bilateral_filter((hdr @ LUMA_WEIGHTS).astype(np.float64), sigma, 0.03)]
    return []


def fit_arm(sdr: np.ndarray, hdr: np.ndarray, arm: str, steps: int, batch: int,
            seed: int) -> float:
    """PQ PSNR (dB) of the Gamma-MLP fitted to the pair with ``arm``'s inputs (a PyTorch
    fit: without torch, a one-line error naming the ``gainmlp[gpu]`` extra)."""
    from gainmlp.codecs.torch_extra import require_torch

    torch = require_torch("the local-oracle study")

    from gainmlp.codecs.mlp.fit import output_constants, target_values
    from gainmlp.codecs.mlp.model import GainMLPNet

    h, w = sdr.shape[:2]
    yy, xx = np.meshgrid((np.arange(h) + 0.5) / h, (np.arange(w) + 0.5) / w, indexing="ij")
    chans = [xx, yy, sdr[..., 0], sdr[..., 1], sdr[..., 2], *extra_channels(arm, sdr, hdr)]
    x = np.stack([c.reshape(-1) for c in chans], 1).astype(np.float64)
    centre = x.mean(0)
    scale = np.maximum(np.maximum(x.max(0) - centre, centre - x.min(0)), 1e-6)
    centre[:2], scale[:2] = 0.5, 0.5
    inputs = torch.from_numpy(np.clip((x - centre) / scale, -1, 1).astype(np.float32))
    target = target_values("gamma", "linear", sdr, hdr, DEFAULT_EPS).reshape(-1, 3)
    oc, os_, lo, hi = output_constants("gamma", "linear", sdr, hdr, DEFAULT_EPS)
    t = torch.from_numpy(((target - oc) / os_).astype(np.float32))
    torch.manual_seed(seed)
    net = GainMLPNet(16, 2, "sine", n_inputs=inputs.shape[1])
    net.reset_parameters(torch.Generator().manual_seed(seed))
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        idx = torch.randint(0, inputs.shape[0], (batch,), generator=gen)
        loss = ((net(inputs[idx]) - t[idx]) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        pred = torch.cat([net(inputs[i:i + CHUNK]) for i in range(0, inputs.shape[0], CHUNK)])
    mapped = np.clip(pred.numpy() * os_ + oc, lo, hi)
    rebuilt = reconstruct("gamma", sdr.reshape(-1, 3), mapped, DEFAULT_EPS).reshape(sdr.shape)
    return psnr(hdr, rebuilt)


def run_oracle(data_dir: Path, image: str, tmo: str, size: int, cache: Path,
               arms: tuple[str, ...] = ARMS, steps: int = 1000, batch: int = 16384,
               seed: int = 0) -> dict[str, float]:
    """PSNR per arm on one pair (made like the grid study's), printed as each finishes.

    Fits run on one CPU thread.
    """
    import torch

    torch.set_num_threads(1)
    sdr, hdr = load_pq_pair(data_dir, image, tmo, size, cache, "blocks")
    out = {}
    for arm in arms:
        out[arm] = fit_arm(sdr, hdr, arm, steps, batch, seed)
        print(f"{image} {tmo} {arm:14s} {out[arm]:6.2f} dB", flush=True)
    return out
