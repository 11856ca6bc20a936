"""Tone-mapping operators: linear HDR BT.2020 light -> display-linear SDR BT.709 in [0, 1].

The paper (sec. 4.1) made its SDR renditions with three canonical operators "using the
default parameters of the MATLAB HDR toolbox" (Banterle et al.): Reinhard & Devlin 2005,
Drago et al. 2003 and Ward Larson et al. 1997. They are re-implemented here from the papers,
with the toolbox's default parameters (listed on each function), plus one *local* operator
in the style of Durand & Dorsey 2002, whose SDR -> HDR residual is not a pure function of
the pixel's colour.

Conventions shared by every operator
------------------------------------
* Input: linear RGB in BT.2020 primaries, shape (H, W, 3), any positive scale (the paper
  fed display radiance in cd/m2, which is what :func:`gainmlp.pair.make_pair` does too).
  Negative, NaN and infinite values are set to 0 first (the toolbox refuses negative input;
  NaN/inf raise a :class:`~gainmlp.errors.GainMLPWarning`).
* The operator works in BT.2020; luminance is BT.2020's Y (``colorimetry.luminance``).
  (The toolbox's ``lum`` uses BT.709 weights because it assumes BT.709 input.)
* Operators that compute a new luminance ``L_d`` put colour back with the saturation rule
  ``C_out = (C / L)**s * L_d`` per channel, ``s = saturation`` (default 1.0, which is the
  toolbox's ``ChangeLuminance``: a pure luminance scaling that keeps chromaticity).
* Output: the result is converted to BT.709 primaries (``colorimetry.convert_primaries``)
  and **clipped per channel to [0, 1]**. That is the gamut mapping: colours outside BT.709
  lose their negative components (they desaturate toward the gamut boundary, with a
  small hue shift) and components above display white clip. Returns float64 display-relative
  linear light, ready for ``colorimetry.sdr_inverse_eotf``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from gainmlp import colorimetry, filters
from gainmlp.errors import GainMLPError

__all__ = [
    "DEFAULT_TONE_MAPPER",
    "TONE_MAPPERS",
    "bilateral_filter",
    "drago",
    "local_bilateral",
    "reinhard_devlin",
    "tone_map",
    "ward_histogram",
]

_LOG_DELTA = 1e-6  # the toolbox's logMean offset, in the input's units


# --------------------------------------------------------------------------- helpers


def _prepare(hdr_linear: np.ndarray) -> np.ndarray:
    """Validate an (H, W, 3) image; return a float64 copy with bad values set to 0."""
    return colorimetry.clean_linear_rgb(hdr_linear, "the image to tone-map")


def _log_mean(lum: np.ndarray) -> float:
    """Geometric mean exp(mean(log(L + 1e-6))), as the toolbox's ``logMean``."""
    return float(np.exp(np.mean(np.log(lum + _LOG_DELTA))))


def _apply_luminance(
    img: np.ndarray, lum: np.ndarray, lum_d: np.ndarray, saturation: float
) -> np.ndarray:
    """Colour from luminance: C_out = (C / L)**s * L_d (0 where L is 0)."""
    safe = np.where(lum > 0.0, lum, 1.0)
    ratio = img / safe[..., None]
    if saturation != 1.0:
        ratio = np.power(ratio, saturation)
    out = ratio * lum_d[..., None]
    out[lum <= 0.0] = 0.0
    return out


def _to_display(rgb_bt2020: np.ndarray) -> np.ndarray:
    """Display-linear BT.2020 -> BT.709, clipped per channel to [0, 1] (the gamut mapping)."""
    out = colorimetry.convert_primaries(rgb_bt2020, "bt2020", "bt709")
    return np.clip(np.nan_to_num(out, nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0)


# --------------------------------------------------------------------------- operators


def reinhard_devlin(
    hdr_linear: np.ndarray,
    m: float | None = None,
    f: float = 0.0,
    c: float = 0.0,
    a: float = 1.0,
    normalize: bool = True,
) -> np.ndarray:
    """Reinhard & Devlin 2005, "Dynamic range reduction inspired by photoreceptor physiology".

    Per channel ``V = C / (C + (exp(-f) * I_a)**m)`` with the adaptation level
    ``I_a = a * I_local + (1 - a) * I_global``, ``I_local = c * C + (1 - c) * L`` and
    ``I_global = c * mean(C) + (1 - c) * logmean(L)``. Colour comes from the per-channel
    response itself (no saturation rule).

    Defaults (HDR Toolbox ``ReinhardDevlinTMO.m``): ``f = 0`` (intensity), ``c = 0``
    (no chromatic adaptation), ``a = 1`` (full light adaptation: each pixel adapts to its
    own luminance, so the operator is global), and the contrast ``m`` chosen from the key
    of the image when not given: ``k = (log2 L_99 - log2 L_av) / (log2 L_99 - log2 L_1)``
    (1st/99th percentiles of luminance, ``L_av`` the log-average),
    ``m = 0.3 + 0.7 * k**1.4`` (``k`` clipped to [0, 1]; 0 for a flat image); a given
    ``m`` is clamped to [0.3, 1]. ``normalize`` (toolbox default on, as in the paper)
    maps the output's luminance range [min, max] to [0, 1] and clamps. The percentiles are
    numpy's (linear interpolation); the toolbox's ``MaxQuart`` takes the order statistic
    ``round(N p)``: a neighbouring sample. The toolbox's suggested display gamma of 1.6 is
    not applied (the result is display-linear, encoded later with the SDR's 2.4 gamma).

    The response depends on the absolute scale of the input (``C**m`` with ``m < 1``): with
    ``a = 1`` a neutral pixel gets ``L**(1-m) / (L**(1-m) + exp(-f)**m)``, half of white at
    ``L = 1`` input unit (``f = 0``). The pair maker feeds display radiance in cd/m2 (mid-grey
    at 36.54), as the paper describes, so mid-grey lands near 0.86 of white and the SDRs are
    bright (mean 8-bit code 220 on the dev images, against 147 for Drago:
    docs/results/tonemappers.md). That is the operator as published, with its defaults; it
    is why the pair maker's default is :data:`DEFAULT_TONE_MAPPER` (Drago), not this one.

    Returns display-linear BT.709 RGB in [0, 1], float64, shape (H, W, 3).
    """
    img = _prepare(hdr_linear)
    lum = colorimetry.luminance(img, "bt2020")
    l_av = _log_mean(lum)
    if m is None:
        l_hi = np.log2(float(np.quantile(lum, 0.99)) + 1e-9)
        l_lo = np.log2(float(np.quantile(lum, 0.01)) + 1e-9)
        span = l_hi - l_lo
        k = (l_hi - np.log2(l_av + 1e-9)) / span if span > 0.0 else 0.0
        k = float(np.clip(k, 0.0, 1.0))
        m = 0.3 + 0.7 * k**1.4
    else:
        m = float(np.clip(m, 0.3, 1.0))
    f = float(np.clip(f, -8.0, 8.0))
    c = float(np.clip(c, 0.0, 1.0))
    a = float(np.clip(a, 0.0, 1.0))
    f_scale = np.exp(-f)

    out = np.empty_like(img)
    for ch in range(3):
        chan = img[..., ch]
        i_local = c * chan + (1.0 - c) * lum
        i_global = c * float(chan.mean()) + (1.0 - c) * l_av
        i_a = a * i_local + (1.0 - a) * i_global
        denom = chan + np.power(f_scale * i_a, m)
        out[..., ch] = np.divide(chan, denom, out=np.zeros_like(chan), where=denom > 0.0)

    if normalize:
        lum_out = colorimetry.luminance(out, "bt2020")
        lo, hi = float(lum_out.min()), float(lum_out.max())
        if hi - lo > 0.0:
            out = np.clip((out - lo) / (hi - lo), 0.0, 1.0)
    return _to_display(out)


def drago(
    hdr_linear: np.ndarray,
    ld_max: float = 100.0,
    bias: float = 0.85,
    saturation: float = 1.0,
) -> np.ndarray:
    """Drago et al. 2003, "Adaptive logarithmic mapping for displaying high contrast scenes".

    ``L_w`` is luminance divided by the world adaptation ``L_wa`` (the log-average,
    divided by ``(1 + b - 0.85)**5``);
    ``L_d = (ld_max / 100) / log10(1 + L_wmax) * log(1 + L_w) / log(2 + 8 (L_w / L_wmax)**e)``
    with ``e = log(b) / log(0.5)``.

    Defaults (HDR Toolbox ``DragoTMO.m``): ``ld_max = 100`` cd/m2 (so the brightest pixel
    maps to 1), bias ``b = 0.85``. The toolbox's separate ``GammaDrago`` display encoding is
    *not* applied: the result is display-linear, encoded later by the SDR transfer function.
    Colour: ``(C / L)**saturation * L_d`` (toolbox: saturation 1).

    Returns display-linear BT.709 RGB in [0, 1], float64, shape (H, W, 3).
    """
    if not 0.0 < bias <= 1.0:
        raise GainMLPError(f"Drago bias must be in (0, 1], got {bias}")
    if ld_max <= 0.0:
        raise GainMLPError(f"Drago display maximum must be positive, got {ld_max}")
    img = _prepare(hdr_linear)
    lum = colorimetry.luminance(img, "bt2020")
    l_wa = _log_mean(lum) / (1.0 + bias - 0.85) ** 5
    l_s = lum / l_wa
    l_max_s = float(l_s.max())
    if l_max_s <= 0.0:
        return np.zeros_like(img)
    exponent = np.log(bias) / np.log(0.5)
    p1 = (ld_max / 100.0) / np.log10(1.0 + l_max_s)
    p2 = np.log1p(l_s) / np.log(2.0 + 8.0 * np.power(l_s / l_max_s, exponent))
    lum_d = p1 * p2
    return _to_display(_apply_luminance(img, lum, lum_d, saturation))


def _fovea_resample(lum: np.ndarray) -> np.ndarray:
    """Block-average luminance to about one sample per degree of visual angle.

    Ward Larson et al. compute the histogram on a foveal-resolution image; the toolbox
    assumes the image spans ``2 * atan(1 / 1.5)`` (~67 deg) along its longer side, i.e.
    ``side / (max_side * 0.75 * 0.01745)`` (~76) samples. We area-average (box
    antialiasing); an image already smaller than that grid is used as it is.
    """
    h, w = lum.shape
    longest = max(h, w)
    out_h = max(1, round(h / (longest * 0.75 * 0.01745)))
    out_w = max(1, round(w / (longest * 0.75 * 0.01745)))
    if out_h >= h or out_w >= w:
        return lum
    rows = np.linspace(0, h, out_h + 1).round().astype(np.intp)
    cols = np.linspace(0, w, out_w + 1).round().astype(np.intp)
    summed = np.add.reduceat(np.add.reduceat(lum, rows[:-1], axis=0), cols[:-1], axis=1)
    counts = np.outer(np.diff(rows), np.diff(cols))
    return summed / counts


def _histogram_ceiling(hist: np.ndarray, ceiling_fraction: float) -> np.ndarray | None:
    """Ward Larson's iterative histogram ceiling (linear-ceiling contrast limit).

    Each pass caps every bin at ``ceiling_fraction * sum(H)``; passes repeat while they
    trim more than 2.5% of the original count (the paper's loop). Returns None when the
    histogram collapses below that tolerance (the paper then falls back to a linear map).
    """
    hist = hist.astype(np.float64).copy()
    tolerance = 0.025 * hist.sum()
    for _ in range(1000):
        total = hist.sum()
        if total < tolerance:
            return None
        ceiling = total * ceiling_fraction
        over = hist > ceiling
        trimmed = float((hist[over] - ceiling).sum())
        hist[over] = ceiling
        if trimmed <= tolerance:
            break
    return hist


def ward_histogram(
    hdr_linear: np.ndarray,
    n_bins: int = 100,
    ld_min: float = 1.0,
    ld_max: float = 100.0,
    saturation: float = 1.0,
) -> np.ndarray:
    """Ward Larson, Rushmeier & Piatko 1997, histogram adjustment (linear-ceiling variant).

    The histogram of log luminance (of a foveal-resolution copy, see
    :func:`_fovea_resample`) is ceilinged so that no range of scene luminances is
    displayed with more contrast than a linear mapping would give
    (bin cap = ``delta_b / (log ld_max - log ld_min)`` of the total), and its cumulative
    distribution ``P`` defines ``log L_d = log ld_min + (log ld_max - log ld_min) P(log L)``.
    ``L_d`` is then normalised, ``(L_d - ld_min) / (ld_max - ld_min)``, to [0, 1].

    Defaults (HDR Toolbox ``WardHistAdjTMO.m``): ``n_bins = 100``, display range
    ``ld_min = 1`` to ``ld_max = 100`` cd/m2. The ceiling loop follows the paper (repeat
    while a pass trims more than 2.5% of the pixels); the toolbox's loop condition is
    inverted (it usually stops after the first large trim). ``P`` is interpolated
    linearly between the bin edges (toolbox: at ``n_bins`` points spanning the range).
    Colour: ``(C / L)**saturation * L_d`` (toolbox: saturation 1).

    Returns display-linear BT.709 RGB in [0, 1], float64, shape (H, W, 3).
    """
    n_bins = int(n_bins)
    if n_bins < 1:
        raise GainMLPError(f"Ward histogram needs at least one bin, got {n_bins}")
    if not 0.0 < ld_min < ld_max:
        raise GainMLPError(f"Ward display range must satisfy 0 < min < max, got {ld_min}..{ld_max}")
    img = _prepare(hdr_linear)
    lum = colorimetry.luminance(img, "bt2020")
    fovea = _fovea_resample(lum + _LOG_DELTA)
    log_fovea = np.log(fovea)
    log_min, log_max = float(log_fovea.min()), float(log_fovea.max())
    log_lum = np.log(np.clip(lum + _LOG_DELTA, np.exp(log_min), np.exp(log_max)))
    log_d_min, log_d_max = np.log(ld_min), np.log(ld_max)

    if log_max - log_min <= 1e-12:
        cdf_at = np.full_like(lum, 1.0)  # flat image: everything at display white
    else:
        hist, edges = np.histogram(log_fovea, bins=n_bins, range=(log_min, log_max))
        delta_b = (log_max - log_min) / n_bins
        capped = _histogram_ceiling(hist, delta_b / (log_d_max - log_d_min))
        if capped is None:
            cdf = (edges - log_min) / (log_max - log_min)  # linear fallback (paper)
        else:
            cdf = np.concatenate([[0.0], np.cumsum(capped)]) / capped.sum()
        cdf_at = np.interp(log_lum, edges, cdf)
    lum_d = np.exp(log_d_min + (log_d_max - log_d_min) * cdf_at)
    lum_d = (lum_d - ld_min) / (ld_max - ld_min)
    return _to_display(_apply_luminance(img, lum, lum_d, saturation))


def bilateral_filter(
    values: np.ndarray, sigma_s: float, sigma_r: float, truncate: float = 3.0
) -> np.ndarray:
    """Fast bilateral filter of a 2-D array (Chen, Paris & Durand 2007 bilateral grid).

    Values are splatted with trilinear weights into a 3-D grid whose cells are
    ``sigma_s`` pixels wide and ``sigma_r`` value units deep, the homogeneous grid
    (sum of values, sum of weights) is blurred with a Gaussian of one cell, and sliced back
    with trilinear interpolation. Cost is O(pixels) plus a grid of roughly
    (H / sigma_s) x (W / sigma_s) x (range / sigma_r) cells.
    """
    h, w = values.shape
    pad = int(np.ceil(truncate)) + 1
    gi = np.arange(h, dtype=np.float64) / sigma_s + pad
    gj = np.arange(w, dtype=np.float64) / sigma_s + pad
    gk = ((values - float(values.min())) / sigma_r + pad).ravel()
    shape = (
        int(gi[-1]) + pad + 2,
        int(gj[-1]) + pad + 2,
        int(gk.max()) + pad + 2,
    )
    size = shape[0] * shape[1] * shape[2]
    i0, fi = np.divmod(gi, 1.0)
    j0, fj = np.divmod(gj, 1.0)
    k0, fk = np.divmod(gk, 1.0)
    i0 = np.broadcast_to(i0.astype(np.intp)[:, None], (h, w)).ravel()
    j0 = np.broadcast_to(j0.astype(np.intp)[None, :], (h, w)).ravel()
    fi = np.broadcast_to(fi[:, None], (h, w)).ravel()
    fj = np.broadcast_to(fj[None, :], (h, w)).ravel()
    k0 = k0.astype(np.intp)
    base_index = (i0 * shape[1] + j0) * shape[2] + k0
    flat_values = values.ravel()
    weights = np.zeros(size)
    sums = np.zeros(size)

    def corners():
        """The 8 grid cells around every pixel (flat indices) and their trilinear weights."""
        for di, wi in ((0, 1.0 - fi), (1, fi)):
            for dj, wj in ((0, 1.0 - fj), (1, fj)):
                wij = wi * wj
                for dk, wk in ((0, 1.0 - fk), (1, fk)):
                    yield base_index + (di * shape[1] + dj) * shape[2] + dk, wij * wk

    for idx, wt in corners():  # splat
        weights += np.bincount(idx, weights=wt, minlength=size)
        sums += np.bincount(idx, weights=wt * flat_values, minlength=size)
    # blur: scipy.ndimage.gaussian_filter(grid, 1.0, mode="constant"), in numpy
    weights = filters.gaussian_filter(weights.reshape(shape), 1.0, mode="constant").ravel()
    sums = filters.gaussian_filter(sums.reshape(shape), 1.0, mode="constant").ravel()
    w_at = np.zeros(h * w)
    s_at = np.zeros(h * w)
    for idx, wt in corners():  # slice: trilinear interpolation at the splat positions
        w_at += weights[idx] * wt
        s_at += sums[idx] * wt
    out = np.divide(s_at, w_at, out=flat_values.copy(), where=w_at > 1e-12)
    return out.reshape(h, w)


def local_bilateral(
    hdr_linear: np.ndarray,
    target_contrast: float = 5.0,
    sigma_spatial: float | None = None,
    sigma_range: float = 0.4,
    saturation: float = 1.0,
) -> np.ndarray:
    """Local operator after Durand & Dorsey 2002 (base/detail split in log luminance).

    ``log10 L`` is split by an edge-preserving bilateral filter (bilateral-grid
    approximation, :func:`bilateral_filter`) into a base layer and a detail layer
    (``log10 L - base``). Only the base is compressed, linearly in log so that its range
    becomes ``log10(target_contrast)`` with its maximum at display white; the detail is
    added back unchanged: ``log10 L_d = c (base - max(base)) + detail``. A pixel's result
    therefore depends on its neighbourhood, not only on its colour.

    Defaults follow the Durand & Dorsey paper and the HDR Toolbox's ``DurandTMO.m``:
    base contrast 5, spatial sigma 2% of the longer image side, range sigma 0.4 (log10
    units). Colour: ``(C / L)**saturation * L_d`` (toolbox: saturation 1). The result is
    scaled so that the 99th percentile of output luminance is display white (about 1% of
    pixels clip) rather than the base maximum, which clipped half of all bright detail.

    Returns display-linear BT.709 RGB in [0, 1], float64, shape (H, W, 3).
    """
    if target_contrast <= 1.0:
        raise GainMLPError(f"local operator target contrast must be > 1, got {target_contrast}")
    if sigma_range <= 0.0:
        raise GainMLPError(f"local operator range sigma must be positive, got {sigma_range}")
    img = _prepare(hdr_linear)
    lum = colorimetry.luminance(img, "bt2020")
    if sigma_spatial is None:
        sigma_spatial = 0.02 * max(lum.shape)
    sigma_spatial = max(float(sigma_spatial), 0.5)
    log_lum = np.log10(lum + _LOG_DELTA)
    base = bilateral_filter(log_lum, sigma_spatial, sigma_range)
    detail = log_lum - base
    b_max, b_min = float(base.max()), float(base.min())
    span = b_max - b_min
    factor = np.log10(target_contrast) / span if span > 0.0 else 1.0
    lum_d = np.power(10.0, factor * (base - b_max) + detail)
    # Exposure: Durand & Dorsey put the base's maximum at white, which clips every detail
    # above it (half of the bright regions). We scale so that the 99th percentile of the
    # output luminance lands at white instead: about 1% of pixels clip.
    white = float(np.quantile(lum_d, 0.99))
    if white > 0.0:
        lum_d = lum_d / white
    return _to_display(_apply_luminance(img, lum, lum_d, saturation))


ToneMapper = Callable[[np.ndarray], np.ndarray]

#: The pair maker's and ``gainmlp pair``'s default: Drago et al. 2003. It is invariant to
#: the scale of its input (only ``L / L_wa`` and ``L / L_max`` enter), so the cd/m2
#: convention of the pair maker cannot brighten it the way it does Reinhard & Devlin.
DEFAULT_TONE_MAPPER = "drago"

#: Registry of operators by their CLI name; each maps linear BT.2020 HDR to SDR BT.709.
TONE_MAPPERS: dict[str, ToneMapper] = {
    "reinhard-devlin": reinhard_devlin,
    "drago": drago,
    "ward": ward_histogram,
    "local": local_bilateral,
}


def tone_map(name: str, hdr_linear: np.ndarray) -> np.ndarray:
    """Run the operator ``name`` of :data:`TONE_MAPPERS` with its default parameters.

    ``hdr_linear`` is linear BT.2020 RGB (H, W, 3); returns display-linear BT.709 RGB in
    [0, 1] (float64, same height and width).
    """
    try:
        operator = TONE_MAPPERS[name]
    except KeyError:
        known = ", ".join(sorted(TONE_MAPPERS))
        raise GainMLPError(f"unknown tone mapper {name!r} (known: {known})") from None
    return operator(hdr_linear)
