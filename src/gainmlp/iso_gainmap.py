"""Gain-map arithmetic of the Adobe Gain Map specification 1.0 and ISO 21496-1.

Pure numpy, no file formats. Images are linear-light float arrays (H, W, 3) relative to
the SDR diffuse white (SDR white = 1.0). With ``k`` the offsets and ``G`` the log2 gain::

    encoding:  G = log2((hdr + k_hdr) / (sdr + k_sdr))
               r = clip((G - GainMapMin) / (GainMapMax - GainMapMin), 0, 1) ** Gamma
               map = round(255 * r)
    decoding:  G = GainMapMin * (1 - r**(1/Gamma)) + GainMapMax * r**(1/Gamma)
               hdr = (sdr + k_sdr) * 2 ** (G * weight) - k_hdr

``weight`` in [0, 1] comes from the display headroom H (log2) as
``clip((H - HDRCapacityMin) / (HDRCapacityMax - HDRCapacityMin), 0, 1)``. When the base
rendition is the HDR one, the roles of the offsets swap and ``weight`` becomes
``1 - weight`` (applying the map then yields the SDR rendition).

All log2 quantities (GainMapMin/Max, HDRCapacityMin/Max) are stored in log2 units, as in
the Adobe XMP and in ISO 21496-1 (its "headroom" fields).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gainmlp.colorimetry import luminance_weights
from gainmlp.errors import GainMLPError
from gainmlp.resample import upsample_bilinear

# Clip of the log2 gain when a map is *computed* (2**16 = 65536x is far beyond any display).
MAX_ABS_LOG2 = 16.0
# Ranges of ISO 21496-1 (its fields are fractions with 32-bit numerators and denominators):
# gain-map min/max and the offsets are signed (int32 numerator), gamma and the headrooms
# unsigned (uint32); gamma must be above 0 and max not below min. Adobe Gain Map 1.0 has the
# same fields as real numbers with the same rules, and offsets and HDRCapacityMin >= 0
# (checked where its XMP is read). Nothing narrower is imposed: Camera Raw writes offsets
# above 10, and any value in these ranges decodes (the arithmetic saturates, see
# :func:`apply_gain_map`).
ISO_SIGNED_MAX = float(2**31 - 1)
ISO_UNSIGNED_MAX = float(2**32 - 1)

Triple = tuple[float, float, float]


def _triple(value: float | Sequence[float], name: str) -> Triple:
    try:
        arr = np.asarray(value, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise GainMLPError(f"gain-map {name} is not numeric") from exc
    if arr.size == 1:
        arr = np.repeat(arr, 3)
    if arr.size != 3:
        raise GainMLPError(f"gain-map {name} needs 1 or 3 values, got {arr.size}")
    if not np.all(np.isfinite(arr)):
        raise GainMLPError(f"gain-map {name} is not finite: {arr.tolist()}")
    return (float(arr[0]), float(arr[1]), float(arr[2]))


@dataclass(frozen=True)
class GainMapMetadata:
    """Gain-map metadata (Adobe hdrgm names; per-channel values are RGB triples).

    ``gain_map_min``/``gain_map_max`` and ``hdr_capacity_min``/``hdr_capacity_max`` are
    log2 values. Scalars given for per-channel fields are repeated over the three
    channels. Construction validates every field against the ISO 21496-1 rules (finite,
    inside the ranges its fractions can hold, gamma above 0, max not below min, headrooms
    non-negative and ordered) and raises :class:`GainMLPError` naming the field otherwise.
    """

    gain_map_min: Triple = (0.0, 0.0, 0.0)
    gain_map_max: Triple = (1.0, 1.0, 1.0)
    gamma: Triple = (1.0, 1.0, 1.0)
    offset_sdr: Triple = (1 / 64, 1 / 64, 1 / 64)
    offset_hdr: Triple = (1 / 64, 1 / 64, 1 / 64)
    hdr_capacity_min: float = 0.0
    hdr_capacity_max: float = 1.0
    base_is_hdr: bool = False
    use_base_colour_space: bool = True

    def __post_init__(self) -> None:
        for name in ("gain_map_min", "gain_map_max", "gamma", "offset_sdr", "offset_hdr"):
            object.__setattr__(self, name, _triple(getattr(self, name), name))
        for name in ("hdr_capacity_min", "hdr_capacity_max"):
            value = getattr(self, name)
            try:
                value = float(value)
            except (TypeError, ValueError) as exc:
                raise GainMLPError(f"gain-map {name} is not numeric") from exc
            if not math.isfinite(value):
                raise GainMLPError(f"gain-map {name} = {value} is not finite")
            if not 0.0 <= value <= ISO_UNSIGNED_MAX:
                raise GainMLPError(
                    f"gain-map {name} = {value} is outside 0..2^32-1 (ISO 21496-1 headroom)"
                )
            object.__setattr__(self, name, value)
        object.__setattr__(self, "base_is_hdr", bool(self.base_is_hdr))
        object.__setattr__(self, "use_base_colour_space", bool(self.use_base_colour_space))
        for name in ("gain_map_min", "gain_map_max", "offset_sdr", "offset_hdr"):
            for v in getattr(self, name):
                if abs(v) > ISO_SIGNED_MAX:
                    raise GainMLPError(
                        f"gain-map {name} = {v} is outside +-2^31 (ISO 21496-1 range)"
                    )
        for lo, hi in zip(self.gain_map_min, self.gain_map_max, strict=True):
            if hi < lo:
                raise GainMLPError(f"gain-map max {hi} is below min {lo}")
        for g in self.gamma:
            if not 0.0 < g <= ISO_UNSIGNED_MAX:
                raise GainMLPError(f"gain-map gamma {g} must be above 0 (ISO 21496-1)")
        if self.hdr_capacity_max < self.hdr_capacity_min:
            raise GainMLPError(
                f"HDR capacity max {self.hdr_capacity_max} is below min {self.hdr_capacity_min}"
            )

    @property
    def is_single_channel(self) -> bool:
        """True when all per-channel fields are equal over R, G, B."""
        return all(
            len(set(getattr(self, n))) == 1
            for n in ("gain_map_min", "gain_map_max", "gamma", "offset_sdr", "offset_hdr")
        )

    def max_content_boost(self) -> float:
        """Largest linear gain the map can express (2 ** max(gain_map_max))."""
        return float(2.0 ** max(self.gain_map_max))

    def close_to(self, other: GainMapMetadata, rel: float = 1e-3, abs_: float = 1e-4) -> bool:
        """Field-wise comparison with a tolerance (rational/decimal round-off)."""
        for name in ("gain_map_min", "gain_map_max", "gamma", "offset_sdr", "offset_hdr"):
            for a, b in zip(getattr(self, name), getattr(other, name), strict=True):
                if not math.isclose(a, b, rel_tol=rel, abs_tol=abs_):
                    return False
        for name in ("hdr_capacity_min", "hdr_capacity_max"):
            if not math.isclose(
                getattr(self, name), getattr(other, name), rel_tol=rel, abs_tol=abs_
            ):
                return False
        return self.base_is_hdr == other.base_is_hdr


def weight_for_headroom(meta: GainMapMetadata, headroom_log2: float) -> float:
    """Weight of the map for a display with ``headroom_log2`` stops above SDR white."""
    lo, hi = meta.hdr_capacity_min, meta.hdr_capacity_max
    if hi > lo:
        w = min(max((headroom_log2 - lo) / (hi - lo), 0.0), 1.0)
    else:
        w = 1.0 if headroom_log2 >= hi else 0.0
    return 1.0 - w if meta.base_is_hdr else w


def _as_rgb_map(gain_map: np.ndarray) -> np.ndarray:
    g = np.asarray(gain_map)
    if g.ndim == 3 and g.shape[2] == 1:
        g = g[:, :, 0]
    if g.ndim == 2:
        return g
    if g.ndim == 3 and g.shape[2] == 3:
        return g
    raise GainMLPError(f"gain map must be (h, w), (h, w, 1) or (h, w, 3), got {g.shape}")


def apply_gain_map(
    sdr_linear: np.ndarray,
    gain_map_image_0_1: np.ndarray,
    meta: GainMapMetadata,
    weight: float = 1.0,
) -> np.ndarray:
    """Apply a gain map to the linear base rendition; returns float32 (H, W, 3).

    ``sdr_linear`` is the base image in linear light relative to SDR white (for an HDR
    base, the HDR rendition). ``gain_map_image_0_1`` holds the stored map values scaled
    to [0, 1] (uint8 / 255), or the uint8 codes themselves (then read as
    ``float32(code) / 255`` and applied by the compiled kernel in one pass, same values),
    at any resolution (bilinearly upsampled to the base size), with one or three
    channels. ``weight`` scales the log gain (1 = full alternate
    rendition). The result is the alternate rendition, relative to SDR white.
    """
    base = np.asarray(sdr_linear, dtype=np.float32)
    if base.ndim != 3 or base.shape[2] != 3:
        raise GainMLPError(f"base image must be (H, W, 3), got {base.shape}")
    if not math.isfinite(weight):
        raise GainMLPError(f"gain-map weight {weight} is not finite")
    weight = min(max(float(weight), 0.0), 1.0)
    g = _as_rgb_map(gain_map_image_0_1)
    from gainmlp import kernels

    if g.dtype == np.uint8 and kernels.compiled():  # fused pass (kernels/gainmap.py)
        return _apply_fused(base, g, meta, weight)
    g = upsample_bilinear(g, base.shape[0], base.shape[1])
    g = np.clip(np.nan_to_num(g, nan=0.0), 0.0, 1.0)
    if g.ndim == 2:
        g = g[:, :, None]
    gamma = np.asarray(meta.gamma, dtype=np.float32)
    lo = np.asarray(meta.gain_map_min, dtype=np.float32)
    hi = np.asarray(meta.gain_map_max, dtype=np.float32)
    if meta.base_is_hdr:
        k_base = np.asarray(meta.offset_hdr, dtype=np.float32)
        k_alt = np.asarray(meta.offset_sdr, dtype=np.float32)
    else:
        k_base = np.asarray(meta.offset_sdr, dtype=np.float32)
        k_alt = np.asarray(meta.offset_hdr, dtype=np.float32)
    recovery = np.power(g, 1.0 / gamma) if np.any(gamma != 1.0) else g
    log_boost = lo * (1.0 - recovery) + hi * recovery
    with np.errstate(over="ignore", invalid="ignore"):
        out = (base + k_base) * np.exp2(log_boost * np.float32(weight)) - k_alt
    out = out.astype(np.float32, copy=False)
    if not np.isfinite(out).all():  # far ends of the ISO 21496-1 ranges: saturate
        np.nan_to_num(out, copy=False, nan=0.0, posinf=np.finfo(np.float32).max, neginf=0.0)
    return out


def _apply_fused(base: np.ndarray, codes: np.ndarray, meta: GainMapMetadata,
                 weight: float) -> np.ndarray:
    from gainmlp.kernels.gainmap import render_gain_map

    k_base, k_alt = ((meta.offset_hdr, meta.offset_sdr) if meta.base_is_hdr
                     else (meta.offset_sdr, meta.offset_hdr))
    lut = np.arange(256, dtype=np.float32) / np.float32(255.0)
    return render_gain_map(base, codes, lut, lo=meta.gain_map_min, hi=meta.gain_map_max,
                           gamma=meta.gamma, k_base=k_base, k_alt=k_alt, weight=weight)


def compute_gain_map(
    sdr_linear: np.ndarray,
    hdr_linear: np.ndarray,
    *,
    channels: int = 3,
    offset_sdr: float = 1 / 64,
    offset_hdr: float = 1 / 64,
    gamma: float = 1.0,
    gain_min_log2: float | Sequence[float] | None = None,
    gain_max_log2: float | Sequence[float] | None = None,
    hdr_capacity_min: float = 0.0,
    hdr_capacity_max: float | None = None,
    primaries: str = "srgb",
) -> tuple[np.ndarray, GainMapMetadata]:
    """Compute an 8-bit gain map (same size as the inputs) and its metadata.

    Both inputs are linear (H, W, 3) relative to SDR white, in the same primaries.
    ``channels=1`` computes a luminance gain map (weights of ``primaries``) and returns
    (H, W) uint8; ``channels=3`` returns (H, W, 3). GainMapMin/Max default to the
    per-channel extremes of the log2 gain (for a single channel, the same value in all
    three); HDRCapacityMax defaults to the largest GainMapMax (at least 0.01).
    Downsampling the map for storage is up to the caller.
    """
    sdr = np.maximum(np.asarray(sdr_linear, dtype=np.float64), 0.0)
    hdr = np.maximum(np.asarray(hdr_linear, dtype=np.float64), 0.0)
    if sdr.shape != hdr.shape or sdr.ndim != 3 or sdr.shape[2] != 3:
        raise GainMLPError(f"SDR {sdr.shape} and HDR {hdr.shape} must both be (H, W, 3)")
    if channels not in (1, 3):
        raise GainMLPError(f"gain map needs 1 or 3 channels, got {channels}")
    if offset_sdr <= 0 or offset_hdr <= 0:
        raise GainMLPError("gain-map offsets must be positive to compute a map")
    if channels == 1:
        wts = luminance_weights(primaries)
        sdr = (sdr @ wts)[:, :, None]
        hdr = (hdr @ wts)[:, :, None]
    log_gain = np.log2((hdr + offset_hdr) / (sdr + offset_sdr))
    log_gain = np.nan_to_num(log_gain, nan=0.0, posinf=MAX_ABS_LOG2, neginf=-MAX_ABS_LOG2)
    log_gain = np.clip(log_gain, -MAX_ABS_LOG2, MAX_ABS_LOG2)
    flat = log_gain.reshape(-1, log_gain.shape[2])
    lo = np.asarray(
        flat.min(axis=0) if gain_min_log2 is None else _triple(gain_min_log2, "min")[:channels],
        dtype=np.float64,
    ).reshape(-1)
    hi = np.asarray(
        flat.max(axis=0) if gain_max_log2 is None else _triple(gain_max_log2, "max")[:channels],
        dtype=np.float64,
    ).reshape(-1)
    lo = lo[: log_gain.shape[2]]
    hi = np.maximum(hi[: log_gain.shape[2]], lo)
    span = hi - lo
    safe = np.where(span > 0, span, 1.0)
    recovery = np.where(span > 0, np.clip((log_gain - lo) / safe, 0.0, 1.0), 0.0)
    if gamma != 1.0:
        recovery = recovery**gamma
    code = np.round(recovery * 255.0).astype(np.uint8)
    if channels == 1:
        code = code[:, :, 0]
    cap_max = float(np.max(hi)) if hdr_capacity_max is None else float(hdr_capacity_max)
    cap_max = max(cap_max, hdr_capacity_min + 0.01)
    meta = GainMapMetadata(
        gain_map_min=_triple(lo.tolist() if lo.size == 3 else float(lo[0]), "min"),
        gain_map_max=_triple(hi.tolist() if hi.size == 3 else float(hi[0]), "max"),
        gamma=(gamma, gamma, gamma),
        offset_sdr=(offset_sdr,) * 3,
        offset_hdr=(offset_hdr,) * 3,
        hdr_capacity_min=hdr_capacity_min,
        hdr_capacity_max=cap_max,
    )
    return code, meta
