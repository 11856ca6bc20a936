"""The pair maker (paper sec. 4.1): linear HDR scene -> (8-bit SDR, 16-bit PQ HDR) images.

HDR rendition (:func:`hdr_rendition`)
    1. The input is converted to BT.2020 and negative / non-finite values are set to 0.
    2. Exposure: the whole image is scaled so that its log-average luminance
       (:func:`log_average_luminance`) lands on 18% of the 203 cd/m2 HDR reference white
       (BT.2408), i.e. ``MID_GREY_NITS`` = 36.54 cd/m2.
    3. Highlight roll-off on **max(R, G, B)**, not luminance, so that no channel (and so no
       colour) exceeds the peak and the ratios R:G:B, i.e. hue and saturation, are kept:
       identity up to the knee ``k`` (default half the peak), then the Reinhard-style
       shoulder ``f(x) = k + (P - k) (x - k) / ((x - k) + (P - k))``, which is C1-continuous
       at the knee (slope 1), strictly increasing, and approaches the peak ``P`` without
       ever reaching it. Every pixel is scaled by ``f(M) / M``.
    The result is linear BT.2020 light in cd/m2 with every channel below ``peak_nits``.

Pair (:func:`make_pair`)
    * HDR: the rendition PQ-encoded (``colorimetry.pq_encode``) and quantised to full-range
      16-bit code values, ``round(pq * 65535)``, capped at ``floor(PQ(peak) * 65535)`` so
      that rounding never lifts a channel above the peak.
    * SDR: as in the paper, the HDR image's encoding is inverted back to display radiance
      (the quantised PQ codes are decoded to cd/m2) and that is tone-mapped
      (``tonemap.tone_map``), giving display-linear BT.709 in [0, 1]; then
      ``colorimetry.sdr_inverse_eotf(..., "gamma2.4")`` and 8-bit quantisation,
      ``round(code * 255)``.

Pure functions: numpy arrays in, numpy arrays out; writing files is the caller's job.
"""

from __future__ import annotations

import numpy as np

from gainmlp import colorimetry, tonemap
from gainmlp.errors import GainMLPError

__all__ = [
    "HDR_REFERENCE_WHITE_NITS",
    "MID_GREY_NITS",
    "PQ_CODE_MAX",
    "SDR_CODE_MAX",
    "hdr_rendition",
    "log_average_luminance",
    "make_pair",
    "roll_off",
]

#: BT.2408 HDR reference (diffuse) white, cd/m2.
HDR_REFERENCE_WHITE_NITS = 203.0
#: Where the exposure rule puts the log-average luminance: 18% of reference white.
MID_GREY_NITS = 0.18 * HDR_REFERENCE_WHITE_NITS
#: Full-range code-value scales of the two outputs.
PQ_CODE_MAX = 65535
SDR_CODE_MAX = 255

# Luminances below this fraction of the maximum are floored before taking logs, so that
# black pixels do not drag the log-average to zero (a 1e-6 dynamic range floor).
_LOG_FLOOR = 1e-6


def _prepare(hdr_linear_rgb: np.ndarray, primaries: str) -> np.ndarray:
    """Validate an (H, W, 3) image; return float64 BT.2020 linear light, bad values -> 0."""
    if primaries not in colorimetry.PRIMARIES:
        known = ", ".join(colorimetry.PRIMARIES)
        raise GainMLPError(f"unknown primaries {primaries!r} (known: {known})")
    img = colorimetry.clean_linear_rgb(hdr_linear_rgb, "the HDR image")
    img = colorimetry.convert_primaries(img, primaries, "bt2020")
    return np.maximum(img, 0.0)  # colours outside BT.2020 clip


def log_average_luminance(rgb_linear: np.ndarray, primaries: str = "bt2020") -> float:
    """Geometric mean of the luminance Y of linear RGB (H, W, 3).

    ``exp(mean(log(max(Y, 1e-6 * max(Y)))))``: luminances more than six decades below the
    brightest pixel are floored there, so black pixels count as very dark, not as -inf.
    Returns 0.0 for an image with no positive luminance.
    """
    lum = colorimetry.luminance(np.asarray(rgb_linear, dtype=np.float64), primaries)
    top = float(np.max(lum)) if lum.size else 0.0
    if not top > 0.0:
        return 0.0
    return float(np.exp(np.mean(np.log(np.maximum(lum, _LOG_FLOOR * top)))))


def roll_off(
    x: np.ndarray, peak_nits: float = 1000.0, knee_nits: float | None = None
) -> np.ndarray:
    """Soft highlight shoulder in cd/m2: identity below the knee, asymptote at the peak.

    ``f(x) = x`` for ``x <= k``, else ``k + (P - k) (x - k) / ((x - k) + (P - k))``, with
    ``P = peak_nits`` and ``k = knee_nits`` (default ``P / 2``). Continuous with slope 1
    at ``k``, strictly increasing, and ``f(x) < P`` for every finite ``x``.
    """
    peak = float(peak_nits)
    knee = 0.5 * peak if knee_nits is None else float(knee_nits)
    if not 0.0 < knee < peak:
        raise GainMLPError(f"roll-off knee {knee} cd/m2 must be between 0 and the peak {peak}")
    x = np.asarray(x, dtype=np.float64)
    over = np.maximum(x - knee, 0.0)
    head = peak - knee
    return np.where(x <= knee, x, knee + head * over / (over + head))


def hdr_rendition(
    hdr_linear_rgb: np.ndarray,
    primaries: str = "bt2020",
    peak_nits: float = 1000.0,
    knee_nits: float | None = None,
) -> np.ndarray:
    """HDR display rendition of a linear scene: BT.2020 linear light in cd/m2, float64.

    Scene radiance (any positive scale, in ``primaries``) is exposed so its log-average
    luminance is ``MID_GREY_NITS`` (36.54 cd/m2) and its highlights are rolled off on
    max(R, G, B) towards ``peak_nits`` with :func:`roll_off` (see the module docstring).
    Every channel of the result is in [0, peak_nits).
    """
    if not 0.0 < peak_nits <= 10000.0:
        raise GainMLPError(f"HDR peak {peak_nits} cd/m2 is outside (0, 10000]")
    img = _prepare(hdr_linear_rgb, primaries)
    log_avg = log_average_luminance(img, "bt2020")
    if log_avg <= 0.0:
        raise GainMLPError("the HDR image is black: no exposure can be derived from it")
    img *= MID_GREY_NITS / log_avg
    max_rgb = img.max(axis=2)
    rolled = roll_off(max_rgb, peak_nits, knee_nits)
    gain = np.divide(rolled, max_rgb, out=np.ones_like(max_rgb), where=max_rgb > 0.0)
    return img * gain[..., None]


def make_pair(
    hdr_linear_rgb: np.ndarray,
    primaries: str = "bt2020",
    tmo: str = tonemap.DEFAULT_TONE_MAPPER,
    peak_nits: float = 1000.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Make the paper's (SDR, HDR) pair from a linear HDR scene image (H, W, 3).

    Returns ``(sdr, hdr)``:

    * ``sdr``: uint8 (H, W, 3), BT.709 primaries, pure 2.4-gamma code values 0..255,
      made by the tone-mapping operator ``tmo`` (a key of ``tonemap.TONE_MAPPERS``;
      default ``tonemap.DEFAULT_TONE_MAPPER``, Drago) applied to the decoded HDR rendition
      in cd/m2;
    * ``hdr``: uint16 (H, W, 3), BT.2020 PQ code values 0..65535 (full range), graded for
      ``peak_nits`` by :func:`hdr_rendition`.
    """
    if tmo not in tonemap.TONE_MAPPERS:
        known = ", ".join(sorted(tonemap.TONE_MAPPERS))
        raise GainMLPError(f"unknown tone mapper {tmo!r} (known: {known})")
    rendition = hdr_rendition(hdr_linear_rgb, primaries=primaries, peak_nits=peak_nits)
    pq = colorimetry.pq_encode(rendition)
    # Round to the nearest code, but never above the last code at or below the peak, so
    # quantisation cannot push a channel over ``peak_nits``.
    top_code = np.floor(float(colorimetry.pq_encode(np.array(peak_nits))) * PQ_CODE_MAX)
    hdr = np.minimum(np.rint(pq * PQ_CODE_MAX), top_code).astype(np.uint16)

    display_nits = colorimetry.pq_decode(hdr.astype(np.float64) / PQ_CODE_MAX)
    sdr_linear = tonemap.tone_map(tmo, display_nits)
    sdr_code = colorimetry.sdr_inverse_eotf(sdr_linear, "gamma2.4")
    sdr = np.rint(np.clip(sdr_code, 0.0, 1.0) * SDR_CODE_MAX).astype(np.uint8)
    return sdr, hdr


def pair_from_hdr_file(path, tmo: str = tonemap.DEFAULT_TONE_MAPPER, peak_nits: float = 1000.0,
                       encoding=None):
    """An (SDR, HDR) pair made from a linear HDR image file, as ``gainmlp pair`` makes it.

    Parameters
    ----------
    path
        An OpenEXR or Radiance HDR file (linear light, 1.0 = 100 cd/m2).
    tmo, peak_nits
        The tone mapper of the SDR and the HDR rendition's peak, as for :func:`make_pair`.
    encoding
        The SDR's :class:`~gainmlp.colorimetry.SdrEncoding` (default: BT.709, 2.4 gamma,
        100 cd/m2, what :func:`make_pair` renders).

    Returns
    -------
    tuple
        ``(SdrImage, hdr)``: the 8-bit SDR and the HDR as float32 PQ BT.2020 code values.
    """
    from gainmlp.budget import check_encode
    from gainmlp.colorimetry import SdrEncoding
    from gainmlp.image import SdrImage
    from gainmlp.io import read_hdr_linear

    check_encode([path], "encode-tmo")  # the header's size against the budget, first
    linear = read_hdr_linear(path)
    sdr_u8, hdr_u16 = make_pair(linear, primaries="bt2020", tmo=tmo, peak_nits=peak_nits)
    return (SdrImage(sdr_u8, encoding or SdrEncoding(), None),
            hdr_u16.astype(np.float32) / np.float32(PQ_CODE_MAX))
