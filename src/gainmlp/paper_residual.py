"""Residuals between SDR and HDR renditions (paper §3.1, eqs. 1-6).

Both images are PQ BT.2020 code values in [0, 1] ("HDR space"); ``eps`` is the offset
of the gain-map documents (1/64 by default).

* gain map  f = (H + eps) / (S + eps),            H' = (S + eps) * f - eps      (eqs. 1, 4)
* gamma map f = log(H + eps) / log(S + eps),      H' = (S + eps) ** f - eps     (eqs. 5, 6)

Singular cases of the gamma map, guarded explicitly: ``log(S + eps)`` is 0 at
``S + eps = 1`` and positive above it, and ``log(H + eps)`` changes sign at ``H + eps = 1``.
Both offset images are therefore clamped to ``[eps, 1 - GAMMA_GUARD]`` before the logs, so
the map is finite and positive for every input; round trips are exact for
``H + eps <= 1 - GAMMA_GUARD`` (PQ 0.983, about 8000 cd/m2, far above any grading here).

The log2 min/max normalisation (eq. 2) and its inverse (eq. 3) map a residual to [0, 1]
for 8-bit quantisation, per channel.
"""

from __future__ import annotations

import numpy as np

from gainmlp.errors import GainMLPError

DEFAULT_EPS = 1.0 / 64.0
GAMMA_GUARD = 1e-3
RESIDUAL_KINDS = ("gain", "gamma")


def _check_eps(eps: float) -> None:
    if not (0.0 < eps < 0.5):
        raise GainMLPError(f"offset eps={eps} must be in (0, 0.5)")


def _gamma_base(x: np.ndarray, eps: float) -> np.ndarray:
    return np.clip(np.asarray(x, dtype=np.float64) + eps, eps, 1.0 - GAMMA_GUARD)


def gain_map(hdr: np.ndarray, sdr: np.ndarray, eps: float = DEFAULT_EPS) -> np.ndarray:
    """Eq. 1: (H + eps) / (S + eps). Inputs are clipped to >= 0, so the map is > 0."""
    _check_eps(eps)
    h = np.maximum(np.asarray(hdr, dtype=np.float64), 0.0) + eps
    s = np.maximum(np.asarray(sdr, dtype=np.float64), 0.0) + eps
    return h / s


def apply_gain(sdr: np.ndarray, f: np.ndarray, eps: float = DEFAULT_EPS) -> np.ndarray:
    """Eq. 4: H' = (S + eps) * f - eps."""
    _check_eps(eps)
    s = np.maximum(np.asarray(sdr, dtype=np.float64), 0.0) + eps
    return s * f - eps


def gamma_map(hdr: np.ndarray, sdr: np.ndarray, eps: float = DEFAULT_EPS) -> np.ndarray:
    """Eq. 5: log(H + eps) / log(S + eps), with both bases clamped (see module doc)."""
    _check_eps(eps)
    return np.log(_gamma_base(hdr, eps)) / np.log(_gamma_base(sdr, eps))


def apply_gamma(sdr: np.ndarray, f: np.ndarray, eps: float = DEFAULT_EPS) -> np.ndarray:
    """Eq. 6: H' = (S + eps) ** f - eps."""
    _check_eps(eps)
    return _gamma_base(sdr, eps) ** f - eps


def compute(kind: str, hdr: np.ndarray, sdr: np.ndarray, eps: float = DEFAULT_EPS) -> np.ndarray:
    """The residual of ``kind`` ('gain' or 'gamma')."""
    if kind == "gain":
        return gain_map(hdr, sdr, eps)
    if kind == "gamma":
        return gamma_map(hdr, sdr, eps)
    raise GainMLPError(f"unknown residual kind {kind!r}; expected one of {RESIDUAL_KINDS}")


def reconstruct(kind: str, sdr: np.ndarray, f: np.ndarray, eps: float = DEFAULT_EPS) -> np.ndarray:
    """The HDR rendition from SDR and a residual of ``kind``; clipped to [0, 1]."""
    if kind == "gain":
        out = apply_gain(sdr, f, eps)
    elif kind == "gamma":
        out = apply_gamma(sdr, f, eps)
    else:
        raise GainMLPError(f"unknown residual kind {kind!r}; expected one of {RESIDUAL_KINDS}")
    return np.clip(out, 0.0, 1.0)


def log2_bounds(f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel log2(f_min), log2(f_max) of a positive residual (H, W, C)."""
    lf = np.log2(np.asarray(f, dtype=np.float64).reshape(-1, f.shape[-1]))
    lo, hi = lf.min(axis=0), lf.max(axis=0)
    # A constant channel would divide by zero in eq. 2: give it a tiny span.
    hi = np.where(hi - lo < 1e-6, lo + 1e-6, hi)
    return lo, hi


def normalise(f: np.ndarray, log2_min: np.ndarray, log2_max: np.ndarray) -> np.ndarray:
    """Eq. 2: (log2 f - log2 f_min) / (log2 f_max - log2 f_min), clamped to [0, 1]."""
    lf = np.log2(np.asarray(f, dtype=np.float64))
    return np.clip((lf - log2_min) / (log2_max - log2_min), 0.0, 1.0)


def denormalise(f_norm: np.ndarray, log2_min: np.ndarray, log2_max: np.ndarray) -> np.ndarray:
    """Eq. 3: 2 ** (f_norm * (log2 f_max - log2 f_min) + log2 f_min)."""
    return np.exp2(np.asarray(f_norm, dtype=np.float64) * (log2_max - log2_min) + log2_min)
