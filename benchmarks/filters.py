"""gainmlp's own filters against scipy's and scikit-image's (issue 23, docs/install.md).

The plain install has no scipy or scikit-image; what gainmlp took from them is now
``gainmlp.filters`` (numpy) and ``gainmlp.metrics.ssim``. This times both sides in the
same run, on the same arrays, and prints the ratio (ours / theirs; < 1 = ours faster) and
the largest difference of the results:

* SSIM of two RGB images of ``--megapixels`` (4:3) against
  ``skimage.metrics.structural_similarity`` as gainmlp called it: the compiled kernel
  (``kernels/ssim.py``, the default) and its numpy reference (``GAINMLP_KERNELS=numpy``);
* the local tone mapper's bilateral grid (``tonemap.bilateral_filter``) against the same
  grid blurred and sliced with ``scipy.ndimage`` (``gaussian_filter`` + ``map_coordinates``,
  the code gainmlp had), on a 2-D log-luminance of the same size;
* the demo scene's largest noise filter (``gaussian_filter`` ``wrap``, sigma 16 on the
  demo's 256x384: the scene's size, whatever ``--megapixels``).

Needs the test extra (scipy, scikit-image). Best of ``--repeat`` runs each::

    python benchmarks/filters.py --megapixels 12 --repeat 3
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np


def best(fn, repeat: int) -> tuple[float, object]:
    """Best wall time in seconds of ``repeat`` calls and the last result."""
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def scipy_bilateral(values: np.ndarray, sigma_s: float, sigma_r: float) -> np.ndarray:
    """``tonemap.bilateral_filter`` with the blur and slice gainmlp did with scipy.ndimage
    before issue 23 (the splat is the same code)."""
    from scipy import ndimage

    h, w = values.shape
    pad = 4
    gi = np.arange(h, dtype=np.float64) / sigma_s + pad
    gj = np.arange(w, dtype=np.float64) / sigma_s + pad
    gk = ((values - float(values.min())) / sigma_r + pad).ravel()
    shape = (int(gi[-1]) + pad + 2, int(gj[-1]) + pad + 2, int(gk.max()) + pad + 2)
    size = shape[0] * shape[1] * shape[2]
    i0, fi = np.divmod(gi, 1.0)
    j0, fj = np.divmod(gj, 1.0)
    k0, fk = np.divmod(gk, 1.0)
    i0 = np.broadcast_to(i0.astype(np.intp)[:, None], (h, w)).ravel()
    j0 = np.broadcast_to(j0.astype(np.intp)[None, :], (h, w)).ravel()
    fi = np.broadcast_to(fi[:, None], (h, w)).ravel()
    fj = np.broadcast_to(fj[None, :], (h, w)).ravel()
    base = (i0 * shape[1] + j0) * shape[2] + k0.astype(np.intp)
    flat = values.ravel()
    weights, sums = np.zeros(size), np.zeros(size)
    for di, wi in ((0, 1.0 - fi), (1, fi)):
        for dj, wj in ((0, 1.0 - fj), (1, fj)):
            for dk, wk in ((0, 1.0 - fk), (1, fk)):
                idx = base + (di * shape[1] + dj) * shape[2] + dk
                wt = wi * wj * wk
                weights += np.bincount(idx, weights=wt, minlength=size)
                sums += np.bincount(idx, weights=wt * flat, minlength=size)
    weights = ndimage.gaussian_filter(weights.reshape(shape), 1.0, mode="constant")
    sums = ndimage.gaussian_filter(sums.reshape(shape), 1.0, mode="constant")
    coords = np.stack([np.broadcast_to(gi[:, None], (h, w)).ravel(),
                       np.broadcast_to(gj[None, :], (h, w)).ravel(), gk])
    w_at = ndimage.map_coordinates(weights, coords, order=1, mode="nearest")
    s_at = ndimage.map_coordinates(sums, coords, order=1, mode="nearest")
    return np.divide(s_at, w_at, out=flat.copy(), where=w_at > 1e-12).reshape(h, w)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--megapixels", type=float, default=12.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from scipy import ndimage
    from skimage.metrics import structural_similarity

    from gainmlp import filters, metrics, tonemap

    h = int(round((args.megapixels * 1e6 * 3 / 4) ** 0.5))
    w = int(round(h * 4 / 3))
    rng = np.random.default_rng(0)
    a = rng.uniform(size=(h, w, 3))
    b = np.clip(a + 0.02 * rng.standard_normal(a.shape), 0, 1)
    print(f"{w}x{h} ({w * h / 1e6:.1f} MP), best of {args.repeat}")
    print("| what | theirs (s) | ours (s) | ours / theirs | largest difference |")
    print("| --- | ---: | ---: | ---: | ---: |")

    def row(name, theirs, ours):
        t_theirs, r_theirs = best(theirs, args.repeat)
        t_ours, r_ours = best(ours, args.repeat)
        diff = float(np.max(np.abs(np.asarray(r_ours) - np.asarray(r_theirs))))
        print(f"| {name} | {t_theirs:.2f} | {t_ours:.2f} | {t_ours / t_theirs:.2f} | "
              f"{diff:.1e} |", flush=True)

    def theirs_ssim():
        return structural_similarity(a, b, data_range=1.0, channel_axis=-1,
                                     gaussian_weights=True, sigma=1.5,
                                     use_sample_covariance=False)

    def numpy_ssim():
        os.environ["GAINMLP_KERNELS"] = "numpy"
        try:
            return metrics.ssim(a, b)
        finally:
            del os.environ["GAINMLP_KERNELS"]

    metrics.ssim(a[:64, :64], b[:64, :64])  # numba compiles (or loads) the kernel first
    row("SSIM, kernel (skimage)", theirs_ssim, lambda: metrics.ssim(a, b))
    row("SSIM, numpy reference (skimage)", theirs_ssim, numpy_ssim)
    log_lum = np.log10(np.maximum(a @ [0.2627, 0.678, 0.0593], 1e-4) * 1000.0)
    sigma_s = 0.02 * max(h, w)
    row("bilateral grid (scipy.ndimage)", lambda: scipy_bilateral(log_lum, sigma_s, 0.4),
        lambda: tonemap.bilateral_filter(log_lum, sigma_s, 0.4))
    noise = rng.standard_normal((256, 384))
    row("demo noise, 256x384 (scipy.ndimage)",
        lambda: ndimage.gaussian_filter(noise, 16.0, mode="wrap"),
        lambda: filters.gaussian_filter(noise, 16.0, "wrap"))


if __name__ == "__main__":
    main()
