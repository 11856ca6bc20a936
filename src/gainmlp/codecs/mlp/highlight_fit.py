"""Fitting that sees the highlights (issue 21 item 2): which pixels a step draws, and how
much each one weighs in the loss.

Highlights are a fraction of a percent of a photo's pixels but most of its light; a fit
that draws pixels uniformly and weighs them alike spends almost nothing on them. The
option ``EncodeOptions.highlights`` (``--highlights``) is ``auto`` (the default:
:data:`RATE_CONTROL_HIGHLIGHTS` when rate control searches, which the photo re-encode does
by default, else :data:`AUTO_HIGHLIGHTS`; :func:`resolve_highlights`), ``off`` or parts
joined by ``+``:

* ``focus:F:T[:L]``: the last ``round(F * batch)`` draws of every step come from the
  pixels with some HDR channel above ``T`` cd/m2 (the same counter hash, so an image's
  draws stay its own); ``L`` (default ``bias``): ``bias`` leaves every draw weight 1 (the
  highlights weigh as often as they are drawn), a number ``L`` reweighs the draws so that
  the expected loss is the uniform one with highlight pixels counted ``L`` times (``1``:
  unbiased importance sampling, only less noise on the highlights);
* ``tier:T:R`` (with a biased focus): the focus pixels above ``T`` cd/m2 are listed ``R``
  times in the focus pool, so they are drawn ``R`` times as often as the other focus
  pixels; ``R`` is lowered so that the pool at most doubles (a tier that is most of the
  pool needs no emphasis);
* ``weight:L:T``: draws stay uniform; pixels above ``T`` cd/m2 weigh ``L``;
* ``lum:A``: draws stay uniform; a pixel weighs ``max(1, Y / 203) ** A`` with ``Y`` its
  brightest HDR channel in cd/m2 (the light the eye sees grows with it);
* ``gn``: draws stay uniform; a pixel weighs the square of the reconstructed HDR's
  sensitivity to the fitted map (``(H + eps) ln(S + eps)``, Gauss-Newton on the HDR PQ
  error) relative to its mean, so the map loss approximates the HDR loss.

An image with no pixel above ``T`` is fitted exactly as with ``off`` (same payload bytes);
so is every image where the weights are all 1. Only the fused trainer applies the option;
the autograd fitter (``--engine autograd``, ``--loss hdr``, bilateral grids) fits as
``off``. ``auto`` is ``focus:0.0625:406+tier:1000:8`` for a fixed configuration (pairs,
``gainmlp encode SDR HDR``): on the 32 dev pairs made with a 4,000-cd/m2 peak it keeps the
light above 1,000 cd/m2 within 3 % on all 28 that have such pixels (``off``: 27, worst
0.80) at +0.06 dB; under rate control it is half that focus,
``focus:0.03125:406+tier:1000:8`` (the search's light criterion catches what it misses; the
full focus cost the photos 0.3 dB at equal bytes). docs/highlights.md and
docs/results/highlights/ hold the measurements.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from gainmlp import paper_residual
from gainmlp.codecs.features import chunks
from gainmlp.errors import GainMLPError

SDR_WHITE_NITS = 203.0
#: The largest ``tier`` repeat (the focus pool at most doubles in any case).
MAX_TIER_REPEAT = 64
OFF = ("off", "none", "")
#: What ``highlights="auto"`` (the default) means for a fixed configuration
#: (docs/highlights.md): 1/16 of every step's draws from the pixels above twice SDR white,
#: those above 1,000 cd/m2 among them drawn 8 times as often.
AUTO_HIGHLIGHTS = "focus:0.0625:406+tier:1000:8"
#: What it means when rate control searches: half the focus (the search's light criterion
#: catches what it misses, and a stronger focus cost the photos PSNR at equal bytes).
RATE_CONTROL_HIGHLIGHTS = "focus:0.03125:406+tier:1000:8"


def resolve_highlights(spec: str | None, searching: bool = False) -> str:
    """``auto`` -> :data:`RATE_CONTROL_HIGHLIGHTS` when rate control searches, else
    :data:`AUTO_HIGHLIGHTS`; any other value unchanged."""
    text = "off" if spec is None else str(spec).strip().lower()
    if text != "auto":
        return str(spec)
    return RATE_CONTROL_HIGHLIGHTS if searching else AUTO_HIGHLIGHTS


@dataclass(frozen=True)
class HighlightSpec:
    """A parsed ``highlights`` option (module doc)."""

    focus_fraction: float = 0.0
    focus_nits: float = 1000.0
    focus_boost: float | None = None  # None: biased (weights 1)
    weight: float = 1.0
    weight_nits: float = 1000.0
    lum_power: float = 0.0
    gauss_newton: bool = False
    tier_nits: float = 0.0  # focus pixels above this (cd/m2) are in the focus pool
    tier_repeat: int = 1  # this many times (drawn that much more often); 1: no tier

    @property
    def active(self) -> bool:
        return (self.focus_fraction > 0 or self.weight != 1.0 or self.lum_power != 0
                or self.gauss_newton)


def parse_highlights(spec: str | None) -> HighlightSpec:
    """``EncodeOptions.highlights`` -> :class:`HighlightSpec`; raises :class:`GainMLPError`."""
    text = resolve_highlights("off" if spec is None else str(spec)).strip().lower()
    out: dict = {}
    if text in OFF:
        return HighlightSpec()
    try:
        for part in text.split("+"):
            name, *args = part.split(":")
            if name == "focus" and len(args) in (2, 3):
                out.update(focus_fraction=float(args[0]), focus_nits=float(args[1]))
                if len(args) == 3 and args[2] != "bias":
                    out["focus_boost"] = float(args[2])
            elif name == "weight" and len(args) == 2:
                out.update(weight=float(args[0]), weight_nits=float(args[1]))
            elif name == "lum" and len(args) == 1:
                out["lum_power"] = float(args[0])
            elif name == "tier" and len(args) == 2:
                out.update(tier_nits=float(args[0]), tier_repeat=int(args[1]))
            elif name == "gn" and not args:
                out["gauss_newton"] = True
            else:
                raise ValueError(part)
    except ValueError:
        raise GainMLPError(f"highlights {spec!r}: use auto, off, or focus:F:T[:bias|L], "
                           "tier:T:R, weight:L:T, lum:A, gn joined by +") from None
    parsed = HighlightSpec(**out)
    if not 0.0 <= parsed.focus_fraction < 1.0 or parsed.weight <= 0 or (
            parsed.focus_boost is not None and parsed.focus_boost <= 0):
        raise GainMLPError(f"highlights {spec!r}: F must be in [0, 1), L > 0")
    if not 1 <= parsed.tier_repeat <= MAX_TIER_REPEAT or (
            parsed.tier_repeat > 1 and (parsed.focus_fraction <= 0
                                        or parsed.focus_boost is not None)):
        raise GainMLPError(f"highlights {spec!r}: tier:T:R needs a biased focus and R in "
                           f"1..{MAX_TIER_REPEAT}")
    return parsed


def _pq(nits: float) -> float:
    from gainmlp.colorimetry import pq_encode

    return float(pq_encode(np.array([nits], np.float64))[0])


def focus_pixels(spec: HighlightSpec, hdr: np.ndarray,
                 pool: np.ndarray | None) -> np.ndarray | None:
    """The sorted flat indices of the pixels the focus draws come from (within ``pool``
    where given), or None when the spec has no focus or no pixel qualifies."""
    if spec.focus_fraction <= 0:
        return None
    h = np.asarray(hdr).reshape(-1, 3)
    cut, tier = _pq(spec.focus_nits), _pq(spec.tier_nits)
    in_pool = None
    if pool is not None:  # pool order is free: a mask, not a sort of both (12 MP: seconds)
        in_pool = np.zeros(h.shape[0], bool)
        in_pool[pool] = True
    found, tops = [np.zeros(0, np.int64)], [np.zeros(0, bool)]
    for rows in chunks(h.shape[0]):  # (in chunks: no full-size temporaries)
        part = h[rows]
        keep = (part[:, 0] > cut) | (part[:, 1] > cut) | (part[:, 2] > cut)
        if in_pool is not None:
            keep &= in_pool[rows]
        at = np.flatnonzero(keep)
        found.append(at + rows.start)
        if spec.tier_repeat > 1:
            values = part[at]
            tops.append((values[:, 0] > tier) | (values[:, 1] > tier) | (values[:, 2] > tier))
    hot = np.concatenate(found)
    if hot.size and spec.tier_repeat > 1:
        is_top = np.concatenate(tops)
        n_top = int(np.count_nonzero(is_top))
        # at most doubling the pool: a tier that is most of the pool needs no emphasis
        repeat = min(spec.tier_repeat, 1 + hot.size // max(n_top, 1))
        if n_top and repeat > 1:  # each tier pixel ``repeat`` times, still sorted
            hot = np.repeat(hot, np.where(is_top, repeat, 1))
    return hot if hot.size else None


def focus_count(spec: HighlightSpec, batch: int) -> int:
    """How many of a step's ``batch`` draws are focus draws."""
    return min(batch - 1, int(round(spec.focus_fraction * batch))) if batch > 1 else 0


def pixel_weights(spec: HighlightSpec, sdr: np.ndarray, hdr: np.ndarray, eps: float,
                  out_scale: np.ndarray, batch: int, focus: np.ndarray | None,
                  pool_size: int) -> Callable[[np.ndarray | None], np.ndarray] | None:
    """Per-pixel loss weights as a function of flat indices (None: all pixels), or None
    when every weight would be 1."""
    reweigh = focus is not None and spec.focus_boost is not None
    if not (reweigh or spec.weight != 1.0 or spec.lum_power or spec.gauss_newton):
        return None
    s2, h2 = np.asarray(sdr).reshape(-1, 3), np.asarray(hdr).reshape(-1, 3)
    gn_mean = 1.0
    if spec.gauss_newton:
        step = max(1, s2.shape[0] // 65536)
        gn_mean = float(_gauss_newton(s2[::step], h2[::step], eps, out_scale).mean()) or 1.0
    is_focus = None
    if reweigh:
        n_f = focus_count(spec, batch)
        n_u = batch - n_f
        # mixture density x pool size, relative to a uniform draw's: n_u/B + n_f N/(B m)
        focus_weight = spec.focus_boost * n_u / (n_u + n_f * pool_size / focus.size)
        is_focus = np.zeros(s2.shape[0], bool)
        is_focus[focus] = True
    hot_pq = _pq(spec.weight_nits)

    def weights(rows: np.ndarray | None) -> np.ndarray:
        n = s2.shape[0] if rows is None else len(rows)
        out = np.ones(n, np.float32)
        for sl in chunks(n):
            at = sl if rows is None else rows[sl]
            s, h = s2[at], h2[at]
            w = np.ones(len(s), np.float64)
            peak = h.max(axis=1)
            if spec.weight != 1.0:
                w[peak > hot_pq] *= spec.weight
            if spec.lum_power:
                from gainmlp.colorimetry import pq_decode

                nits = pq_decode(np.clip(peak.astype(np.float64), 0.0, 1.0))
                w *= np.maximum(1.0, nits / SDR_WHITE_NITS) ** spec.lum_power
            if spec.gauss_newton:
                w *= _gauss_newton(s, h, eps, out_scale) / gn_mean
            if is_focus is not None:
                w[is_focus[at]] *= focus_weight
            out[sl] = w
        return out

    return weights


def _gauss_newton(s: np.ndarray, h: np.ndarray, eps: float, out_scale: np.ndarray
                  ) -> np.ndarray:
    """Mean over channels of (dH / dT_normalised)^2 of the gamma map H = (S+eps)^f - eps."""
    hi = 1.0 - paper_residual.GAMMA_GUARD
    base = np.clip(s.astype(np.float64) + eps, eps, hi)
    sens = (np.clip(h.astype(np.float64), 0.0, 1.0) + eps) * np.log(base) * out_scale
    return np.mean(sens * sens, axis=1)


__all__ = ["AUTO_HIGHLIGHTS", "MAX_TIER_REPEAT", "RATE_CONTROL_HIGHLIGHTS", "HighlightSpec",
           "focus_count", "focus_pixels", "parse_highlights", "pixel_weights",
           "resolve_highlights"]
