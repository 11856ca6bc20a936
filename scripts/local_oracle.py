"""Why the local tone mapper's residual resists a 10 KB code (issue 6; docs/grid.md).

Fits the paper's Gamma-MLP (2x16 sine, random init, Adam 1e-2, 1000 steps) on one pair
with extra per-pixel input channels and reports PQ PSNR:

* ``plain``: the five inputs (x, y, r, g, b) only;
* ``sdr-gauss``: + a Gaussian blur of the SDR luma (sigma 2 % of the long side): context a
  decoder could compute for free;
* ``sdr-bilateral``: + a bilateral filter of the SDR luma (sigma 2 %, range 0.1 PQ);
* ``oracle-base``: + the bilateral filter of the *HDR* luma (sigma 2 %, range 0.03 PQ),
  i.e. the local adaptation layer of the tone mapper at full resolution. Not available to
  a decoder: it measures how much of the error is that layer.

Example (~512-px images, one CPU thread, ~15 s per fit)::

    python scripts/local_oracle.py --image Tree --tmo local --size 512
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parent))
from grid_experiments import load_pair  # noqa: E402

from gainmlp.codecs.mlp.fit import _target_values, output_constants  # noqa: E402
from gainmlp.codecs.mlp.model import GainMLPNet  # noqa: E402
from gainmlp.metrics import psnr  # noqa: E402
from gainmlp.paper_residual import DEFAULT_EPS, reconstruct  # noqa: E402
from gainmlp.tonemap import _bilateral_grid  # noqa: E402

LUMA = np.array([0.2627, 0.6780, 0.0593], np.float32)
ARMS = ("plain", "sdr-gauss", "sdr-bilateral", "oracle-base")


def extra_channels(arm: str, sdr: np.ndarray, hdr: np.ndarray) -> list[np.ndarray]:
    sigma = 0.02 * max(sdr.shape[:2])
    if arm == "sdr-gauss":
        return [ndimage.gaussian_filter((sdr @ LUMA).astype(np.float64), sigma, mode="nearest")]
    if arm == "sdr-bilateral":
        return [_bilateral_grid((sdr @ LUMA).astype(np.float64), sigma, 0.1)]
    if arm == "oracle-base":
        return [_bilateral_grid((hdr @ LUMA).astype(np.float64), sigma, 0.03)]
    return []


def fit(sdr: np.ndarray, hdr: np.ndarray, arm: str, steps: int, batch: int, seed: int) -> float:
    h, w = sdr.shape[:2]
    yy, xx = np.meshgrid((np.arange(h) + 0.5) / h, (np.arange(w) + 0.5) / w, indexing="ij")
    chans = [xx, yy, sdr[..., 0], sdr[..., 1], sdr[..., 2], *extra_channels(arm, sdr, hdr)]
    x = np.stack([c.reshape(-1) for c in chans], 1).astype(np.float64)
    centre = x.mean(0)
    scale = np.maximum(np.maximum(x.max(0) - centre, centre - x.min(0)), 1e-6)
    centre[:2], scale[:2] = 0.5, 0.5
    inputs = torch.from_numpy(np.clip((x - centre) / scale, -1, 1).astype(np.float32))
    target = _target_values("gamma", "linear", sdr, hdr, DEFAULT_EPS).reshape(-1, 3)
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
        pred = torch.cat([net(inputs[i:i + 65536]) for i in range(0, inputs.shape[0], 65536)])
    mapped = np.clip(pred.numpy() * os_ + oc, lo, hi)
    rebuilt = reconstruct("gamma", sdr.reshape(-1, 3), mapped, DEFAULT_EPS).reshape(sdr.shape)
    return psnr(hdr, rebuilt)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--image", default="Tree")
    ap.add_argument("--tmo", default="local")
    ap.add_argument("--size", type=int, default=512, help="long side; 0 = full resolution")
    ap.add_argument("--arms", nargs="+", default=list(ARMS), choices=ARMS)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=16384)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/gainmlp_pairs"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    sdr, hdr = load_pair(args.image, args.tmo, args.size, args.cache)
    for arm in args.arms:
        value = fit(sdr, hdr, arm, args.steps, args.batch, args.seed)
        print(f"{args.image} {args.tmo} {arm:14s} {value:6.2f} dB", flush=True)


if __name__ == "__main__":
    main()
