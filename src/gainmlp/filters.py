"""The separable filters of ``scipy.ndimage`` that gainmlp uses, in numpy (issue 23).

The plain install carries no scipy (it and scikit-image were ~195 MB of a ~740 MB install,
``docs/install.md``); these reproduce the few ``scipy.ndimage`` calls the package made:

* :func:`gaussian_filter` -- ``scipy.ndimage.gaussian_filter`` (order 0) on float64 arrays:
  the same kernel (``exp(-x**2 / (2 sigma**2))`` on ``x = -r..r``,
  ``r = int(truncate * sigma + 0.5)``, normalised to sum 1), the same boundary modes and the
  same arithmetic, axis after axis, in the same order (``tests/test_filters.py`` compares
  with scipy, bit for bit where it is installed). Used by SSIM (``reflect``), the demo
  scene's noise (``wrap``), the local tone mapper's bilateral grid (``constant``) and the
  local-oracle study (``nearest``);
* :func:`uniform_filter` -- ``scipy.ndimage.uniform_filter`` (a box mean, the box centred
  as scipy centres it), by cumulative sums: equal to scipy's to rounding (~1e-7 relative in
  float32), not bit for bit. The HTML report uses it to place its crops.

Costs: :func:`gaussian_filter` takes ``2 r + 1`` multiply-adds per sample and axis as
scipy's C loop does (numpy runs them as whole-array operations, ``r + 1`` passes per axis);
:func:`uniform_filter` a handful of passes per axis whatever the size.
"""

from __future__ import annotations

import numpy as np

__all__ = ["MODES", "gaussian_filter", "gaussian_kernel", "uniform_filter"]

#: scipy.ndimage's boundary modes and the numpy.pad mode that extends an axis the same way:
#: ``reflect`` (d c b a | a b c d | d c b a), ``nearest`` (a a | a b c d | d d), ``wrap``
#: (periodic; scipy's ``grid-wrap``) and ``constant`` (zeros beyond the edges).
MODES = {"reflect": "symmetric", "nearest": "edge", "wrap": "wrap", "constant": "constant"}


def gaussian_kernel(sigma: float, truncate: float = 4.0) -> np.ndarray:
    """scipy.ndimage's 1-D Gaussian weights: ``2 r + 1`` taps summing to 1, float64.

    Parameters
    ----------
    sigma : float
        Standard deviation in samples (> 0).
    truncate : float
        The kernel stops ``r = int(truncate * sigma + 0.5)`` samples from its centre.
    """
    radius = int(truncate * float(sigma) + 0.5)
    x = np.arange(-radius, radius + 1)
    phi = np.exp(-0.5 / (float(sigma) * float(sigma)) * x**2)
    return phi / phi.sum()


def _along(values: np.ndarray, axis: int, weights: np.ndarray, mode: str) -> np.ndarray:
    """Correlate ``values`` (float64) with symmetric ``weights`` along ``axis``, summing as
    scipy's ``correlate1d`` does for a symmetric kernel:
    ``x[i] w[0] + (x[i - r] + x[i + r]) w[r] + ... + (x[i - 1] + x[i + 1]) w[1]``."""
    radius = weights.size // 2
    if radius == 0:
        return values * weights[0]
    n = values.shape[axis]
    widths = [(0, 0)] * values.ndim
    widths[axis] = (radius, radius)
    padded = np.pad(values, widths, mode=MODES[mode])

    def shifted(offset: int) -> np.ndarray:
        index = [slice(None)] * values.ndim
        index[axis] = slice(radius + offset, radius + offset + n)
        return padded[tuple(index)]

    out = shifted(0) * weights[radius]
    pair = np.empty_like(out)
    for offset in range(radius, 0, -1):
        np.add(shifted(-offset), shifted(offset), out=pair)
        pair *= weights[radius - offset]
        out += pair
    return out


def gaussian_filter(values: np.ndarray, sigma: float, mode: str = "reflect",
                    truncate: float = 4.0) -> np.ndarray:
    """``scipy.ndimage.gaussian_filter(values, sigma, mode=mode, truncate=truncate)`` for a
    float64 result: every axis filtered in turn with :func:`gaussian_kernel`.

    Parameters
    ----------
    values : numpy.ndarray
        Any shape; converted to float64 (scipy keeps a float32 input's dtype between axes,
        so give float64 to compare with it).
    sigma : float
        Standard deviation in samples, the same on every axis; ``<= 1e-15`` copies.
    mode : str
        Boundary extension, a key of :data:`MODES` (``constant`` extends with zeros).
    truncate : float
        Kernel radius in standard deviations (scipy's default 4.0; SSIM uses 3.5).

    Returns
    -------
    numpy.ndarray
        float64, the shape of ``values``.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    out = np.array(values, dtype=np.float64)
    if float(sigma) <= 1e-15:
        return out
    weights = gaussian_kernel(sigma, truncate)
    for axis in range(out.ndim):
        out = _along(out, axis, weights, mode)
    return out


def uniform_filter(values: np.ndarray, size: int, mode: str = "nearest") -> np.ndarray:
    """``scipy.ndimage.uniform_filter(values, size, mode=mode)`` to rounding: the mean over
    a box of ``size`` samples a side (for an even size one more sample before the centre
    than after, as scipy), in the dtype of ``values`` (float32 or float64).

    Parameters
    ----------
    values : numpy.ndarray
        Floating point, any shape.
    size : int
        Box side in samples (>= 1), the same on every axis.
    mode : str
        Boundary extension, a key of :data:`MODES`.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    size = int(size)
    if size < 1:
        raise ValueError(f"size must be >= 1, not {size}")
    values = np.asarray(values)
    out = values.astype(np.float64)
    before, after = size // 2, size - 1 - size // 2
    for axis in range(out.ndim):
        n = out.shape[axis]
        widths = [(0, 0)] * out.ndim
        widths[axis] = (before + 1, after)
        padded = np.pad(out, widths, mode=MODES[mode])
        # one leading sample more than the box needs, zeroed: sums[i] is then the total of
        # the first i samples of the extended axis
        index = [slice(None)] * out.ndim
        index[axis] = slice(0, 1)
        padded[tuple(index)] = 0.0
        sums = np.cumsum(padded, axis=axis)
        hi = [slice(None)] * out.ndim
        lo = [slice(None)] * out.ndim
        hi[axis] = slice(size, size + n)
        lo[axis] = slice(0, n)
        out = (sums[tuple(hi)] - sums[tuple(lo)]) / size
    return out.astype(values.dtype if values.dtype.kind == "f" else np.float64, copy=False)
