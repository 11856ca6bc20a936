"""Decoder speed and memory: the tiled, separable numpy decoder against the plain version.

The plain version evaluates the network on every pixel at once with the unfactorised
first layer (``forward_numpy``), as a straightforward port would. Both run in this process
on the same random network and SDR image; the script prints seconds, peak traced memory and
the ratios. Run::

    python benchmarks/decode_speed.py [--megapixels 4] [--width 16]
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np

from gainmlp import paper_residual
from gainmlp.codecs.mlp.decode import decode_mlp, denormalise_outputs, forward_numpy
from gainmlp.codecs.mlp.format import MlpParams, pack_mlp_body


def random_params(width: int, seed: int = 0) -> MlpParams:
    rng = np.random.default_rng(seed)
    shapes = [(width, 121), (width, width), (3, width)]
    return MlpParams(
        activation="relu",
        weights=[(rng.standard_normal(s) / np.sqrt(s[1])).astype(np.float32) for s in shapes],
        in_centre=np.full(5, 0.5, np.float32), in_scale=np.full(5, 0.5, np.float32),
        out_centre=np.ones(3, np.float32), out_scale=np.full(3, 0.2, np.float32),
        out_min=np.full(3, 0.5, np.float32), out_max=np.full(3, 2.0, np.float32),
    )


def plain_decode(params: MlpParams, sdr: np.ndarray, eps: float) -> np.ndarray:
    h, w = sdr.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    inputs = np.concatenate([((xs + 0.5) / w)[..., None], ((ys + 0.5) / h)[..., None], sdr],
                            axis=-1).reshape(-1, 5)
    f = denormalise_outputs(params, forward_numpy(params, inputs))
    return paper_residual.reconstruct("gamma", sdr.reshape(-1, 3), f, eps).reshape(h, w, 3)


def measure(fn, *args) -> tuple[float, float, np.ndarray]:
    tracemalloc.start()
    t0 = time.perf_counter()
    out = fn(*args)
    seconds = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return seconds, peak, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--megapixels", type=float, default=4.0)
    ap.add_argument("--width", type=int, default=16)
    args = ap.parse_args()
    side = int(np.sqrt(args.megapixels * 1e6))
    rng = np.random.default_rng(1)
    sdr = (rng.random((side, side, 3)) * 0.5).astype(np.float32)
    params = random_params(args.width)
    body = pack_mlp_body(params)
    eps = 1 / 64
    t_tiled, m_tiled, a = measure(decode_mlp, "gamma-mlp", body, sdr, eps)
    t_plain, m_plain, b = measure(plain_decode, params, sdr, eps)
    diff = float(np.abs(a - b).max())
    print(f"{side}x{side} image, width {args.width}; max |tiled - plain| = {diff:.2e}")
    print(f"plain  : {t_plain:6.2f} s  peak {m_plain:8.1f} MiB")
    print(f"tiled  : {t_tiled:6.2f} s  peak {m_tiled:8.1f} MiB")
    print(f"ratio  : speed x{t_plain / t_tiled:.2f}, memory x{m_plain / m_tiled:.2f} less")


if __name__ == "__main__":
    main()
