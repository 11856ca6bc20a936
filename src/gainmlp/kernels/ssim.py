"""SSIM's map, compiled: the local Gaussian statistics and the SSIM formula in one pass.

:func:`gainmlp.metrics.ssim` is scikit-image's ``structural_similarity`` (Gaussian window
of sigma 1.5 truncated at 3.5 sigma, 11 taps, ``reflect`` edges, population covariance);
its numpy path (:func:`reference_ssim_map`) blurs five whole images (x, y, x², y², xy) with
:func:`gainmlp.filters.gaussian_filter`, axis 0 then axis 1, and evaluates the formula.
:func:`_ssim_rows` does the same per output row: the vertical pass of the five quantities
into row buffers, the horizontal pass over them, the formula; every sum in the order
scipy's ``correlate1d`` uses (``x[i] w0 + (x[i - 5] + x[i + 5]) w5 + ... + (x[i - 1] +
x[i + 1]) w1``), no fast-math, so the map is **bit for bit** the reference's
(``tests/test_kernels_ssim.py``), and so scikit-image's. It reads the two images once
instead of writing and re-reading ten whole-image temporaries: a 12 MP photo's SSIM in
``docs/install.md``'s table.

:func:`ssim_map` runs it on row tiles in threads (``usable_cores``); the cropped mean is
taken by the caller with numpy, as scikit-image does.
"""

from __future__ import annotations

import numpy as np

from gainmlp.kernels._jit import jit

ROWS_PER_TILE = 64


def reference_ssim_map(x: np.ndarray, y: np.ndarray, c1: float, c2: float,
                       sigma: float = 1.5, truncate: float = 3.5) -> np.ndarray:
    """The SSIM map of one channel (float64 (H, W) each) in numpy, scikit-image's
    arithmetic: :func:`gainmlp.filters.gaussian_filter` (``reflect``) of x, y, x², y², xy,
    population (co)variances, ``c1 = (K1 L)²``, ``c2 = (K2 L)²``."""
    from gainmlp import filters

    def blur(values: np.ndarray) -> np.ndarray:
        return filters.gaussian_filter(values, sigma, mode="reflect", truncate=truncate)

    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    ux, uy = blur(x), blur(y)
    uxx, uyy, uxy = blur(x * x), blur(y * y), blur(x * y)
    vx = 1.0 * (uxx - ux * ux)
    vy = 1.0 * (uyy - uy * uy)
    vxy = 1.0 * (uxy - ux * uy)
    a1, a2 = 2 * ux * uy + c1, 2 * vxy + c2
    b1, b2 = ux**2 + uy**2 + c1, vx + vy + c2
    return (a1 * a2) / (b1 * b2)


@jit
def _reflect(p, n):  # pragma: no cover - compiled
    """scipy's ``reflect`` (numpy's ``symmetric``) index for ``-n <= p < 2 n``."""
    if p < 0:
        return -p - 1
    if p >= n:
        return 2 * n - p - 1
    return p


@jit
def _ssim_rows(x, y, w, c1, c2, r0, r1, out):  # pragma: no cover - compiled
    """Rows ``r0 .. r1 - 1`` of the SSIM map of ``x`` and ``y`` (float64 (H, W), C order)
    into ``out``; ``w`` the symmetric Gaussian weights (length 2 r + 1)."""
    h, wd = x.shape
    r = w.shape[0] // 2
    # the vertical pass of x, y, x², y², xy for one row, with r reflected columns each side
    buf = np.empty((5, wd + 2 * r))
    for i in range(r0, r1):
        for j in range(wd):
            xc = x[i, j]
            yc = y[i, j]
            a0 = xc * w[r]
            a1 = yc * w[r]
            a2 = (xc * xc) * w[r]
            a3 = (yc * yc) * w[r]
            a4 = (xc * yc) * w[r]
            for k in range(r, 0, -1):
                up = _reflect(i - k, h)
                dn = _reflect(i + k, h)
                xu = x[up, j]
                xd = x[dn, j]
                yu = y[up, j]
                yd = y[dn, j]
                wk = w[r - k]
                a0 += (xu + xd) * wk
                a1 += (yu + yd) * wk
                a2 += (xu * xu + xd * xd) * wk
                a3 += (yu * yu + yd * yd) * wk
                a4 += (xu * yu + xd * yd) * wk
            buf[0, j + r] = a0
            buf[1, j + r] = a1
            buf[2, j + r] = a2
            buf[3, j + r] = a3
            buf[4, j + r] = a4
        for q in range(5):
            for k in range(1, r + 1):
                buf[q, r - k] = buf[q, r + _reflect(-k, wd)]
                buf[q, r + wd - 1 + k] = buf[q, r + _reflect(wd - 1 + k, wd)]
        for j in range(wd):
            c = j + r
            ux = buf[0, c] * w[r]
            uy = buf[1, c] * w[r]
            uxx = buf[2, c] * w[r]
            uyy = buf[3, c] * w[r]
            uxy = buf[4, c] * w[r]
            for k in range(r, 0, -1):
                wk = w[r - k]
                ux += (buf[0, c - k] + buf[0, c + k]) * wk
                uy += (buf[1, c - k] + buf[1, c + k]) * wk
                uxx += (buf[2, c - k] + buf[2, c + k]) * wk
                uyy += (buf[3, c - k] + buf[3, c + k]) * wk
                uxy += (buf[4, c - k] + buf[4, c + k]) * wk
            vx = uxx - ux * ux
            vy = uyy - uy * uy
            vxy = uxy - ux * uy
            num = (2.0 * ux * uy + c1) * (2.0 * vxy + c2)
            den = (ux * ux + uy * uy + c1) * (vx + vy + c2)
            out[i, j] = num / den


def ssim_map(x: np.ndarray, y: np.ndarray, c1: float, c2: float, sigma: float = 1.5,
             truncate: float = 3.5, threads: int | None = None) -> np.ndarray:
    """The SSIM map of one channel with :func:`_ssim_rows` on row tiles in ``threads``
    threads (default :func:`gainmlp.colorimetry.usable_cores`); bit for bit
    :func:`reference_ssim_map`. Images need the window's radius (5 pixels) a side."""
    from gainmlp import filters
    from gainmlp.colorimetry import usable_cores

    x = np.ascontiguousarray(x, dtype=np.float64)
    y = np.ascontiguousarray(y, dtype=np.float64)
    w = filters.gaussian_kernel(sigma, truncate)
    out = np.empty(x.shape)
    starts = range(0, x.shape[0], ROWS_PER_TILE)
    workers = threads or usable_cores()

    def tile(start: int) -> None:
        _ssim_rows(x, y, w, float(c1), float(c2), start,
                   min(start + ROWS_PER_TILE, x.shape[0]), out)

    if workers > 1 and len(starts) > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(workers) as pool:
            for future in [pool.submit(tile, s) for s in starts]:
                future.result()
    else:
        for start in starts:
            tile(start)
    return out
