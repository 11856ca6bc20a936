"""How well a reconstruction keeps an HDR image's highlights.

Whole-image PSNR on PQ code values barely sees highlights: they are a fraction of a percent
of the pixels but most of the light. These statistics look only at the pixels whose
*reference* luminance is above a threshold (1,000 cd/m2, or twice SDR white):

* ``light_ratio``: total luminance of the reconstruction over the reference's, on those
  pixels (1 = the highlights keep their light; 0.76 = 24 % dimmer);
* ``rel_err_p50`` / ``rel_err_p99``: the median and 99th percentile of the per-pixel
  relative luminance error ``|Y_rec - Y_ref| / Y_ref``;
* ``p999_ratio``: the 99.9th percentile of the reconstruction's luminance over the
  reference's, over the whole image (the peak the eye sees, robust to single pixels);
* ``fraction``: the share of pixels above the threshold.

Luminance is BT.2020's Y of linear light from the PQ code values, in cd/m2. Numpy only.
"""

from __future__ import annotations

import numpy as np

from gainmlp.colorimetry import luminance_weights

#: The absolute threshold of the highlight statistics, cd/m2.
HIGHLIGHT_NITS = 1000.0


def luminance_nits(pq: np.ndarray) -> np.ndarray:
    """BT.2020 luminance (cd/m2, float64) of PQ BT.2020 code values ``(H, W, 3)``."""
    from gainmlp.colorimetry import pq_decode

    rgb = pq_decode(np.clip(np.asarray(pq, dtype=np.float64), 0.0, 1.0))
    return rgb @ luminance_weights("bt2020")


def highlight_stats(reference_pq: np.ndarray, test_pq: np.ndarray,
                    threshold_nits: float = HIGHLIGHT_NITS) -> dict[str, float | None]:
    """Highlight statistics of ``test_pq`` against ``reference_pq`` (module doc).

    Parameters
    ----------
    reference_pq, test_pq
        PQ BT.2020 code values in [0, 1], the same shape ``(H, W, 3)``.
    threshold_nits
        Pixels whose reference luminance is above this (cd/m2) are the highlights.

    Returns
    -------
    dict
        ``fraction``, ``light_ratio``, ``rel_err_p50``, ``rel_err_p99`` (None when no
        pixel is above the threshold) and ``p999_ratio``.

    Examples
    --------
    >>> from gainmlp.colorimetry import pq_encode
    >>> ref = pq_encode(np.array([[[100.0] * 3, [2000.0] * 3]]))
    >>> test = pq_encode(np.array([[[100.0] * 3, [1500.0] * 3]]))
    >>> round(highlight_stats(ref, test)["light_ratio"], 6)
    0.75
    """
    ref = luminance_nits(reference_pq).reshape(-1)
    test = luminance_nits(test_pq).reshape(-1)
    if ref.shape != test.shape:
        from gainmlp.errors import GainMLPError

        raise GainMLPError(f"images differ in size: {reference_pq.shape} vs {test_pq.shape}")
    mask = ref > threshold_nits
    out: dict[str, float | None] = {"fraction": float(mask.mean()) if ref.size else 0.0}
    if mask.any():
        r, t = ref[mask], test[mask]
        rel = np.abs(t - r) / r
        out.update(light_ratio=float(t.sum() / r.sum()),
                   rel_err_p50=float(np.percentile(rel, 50)),
                   rel_err_p99=float(np.percentile(rel, 99)))
    else:
        out.update(light_ratio=None, rel_err_p50=None, rel_err_p99=None)
    p_ref = float(np.percentile(ref, 99.9))
    out["p999_ratio"] = float(np.percentile(test, 99.9)) / p_ref if p_ref > 0 else None
    return out


def highlight_metrics(reference_pq: np.ndarray, test_pq: np.ndarray,
                      sdr_white_nits: float = 203.0) -> dict[str, float | None]:
    """:func:`highlight_stats` above 1,000 cd/m2 (keys ``hl_*``) and above twice SDR white
    (keys ``hl2w_*``), flat, as ``gainmlp eval --json`` reports them."""
    out: dict[str, float | None] = {}
    for prefix, threshold in (("hl", HIGHLIGHT_NITS), ("hl2w", 2.0 * sdr_white_nits)):
        for key, value in highlight_stats(reference_pq, test_pq, threshold).items():
            out[f"{prefix}_{key}"] = value
    return out


__all__ = ["HIGHLIGHT_NITS", "highlight_metrics", "highlight_stats", "luminance_nits"]
