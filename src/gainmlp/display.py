"""Rendering an HDR photo for a display with limited headroom.

A display shows HDR up to its *headroom*: log2 of its peak luminance over SDR white (0 for
an SDR display, about 2-4 stops for today's phones and laptops). ISO 21496-1 renders a
standard gain map for such a display by weighting the map's log2 gain with
``w = clamp((H - capacity_min) / (capacity_max - capacity_min), 0, 1)``. A gainmlp payload
rebuilds the HDR itself, not a map, so the same rule is applied to the log-ratio the
network rebuilds: per channel and pixel ``G = log2((HDR + k) / (SDR + k))`` in linear
light (``k`` = SDR white / 64, the offsets of the gain-map documents), the content's
capacity is ``[0, max G]``, and the rendition is ``(SDR + k) * 2^(w G) - k``. ``w = 1``
gives the HDR rendition unchanged, ``w = 0`` the SDR in the HDR's colour space.
"""

from __future__ import annotations

import numpy as np

from gainmlp.errors import GainMLPError


def headroom_weight(headroom_stops: float, capacity_min: float, capacity_max: float) -> float:
    """ISO 21496-1's weight for a display with ``headroom_stops`` (all in log2 stops).

    Examples
    --------
    >>> headroom_weight(1.0, 0.0, 2.0)
    0.5
    >>> headroom_weight(3.0, 0.0, 2.0)
    1.0
    """
    if not np.isfinite(headroom_stops) or headroom_stops < 0:
        raise GainMLPError(f"headroom {headroom_stops} must be a number of stops >= 0")
    if capacity_max <= capacity_min:
        return 1.0 if headroom_stops >= capacity_max else 0.0
    return float(min(max((headroom_stops - capacity_min) / (capacity_max - capacity_min),
                         0.0), 1.0))


def render_for_headroom(hdr_pq: np.ndarray, sdr_pq: np.ndarray, headroom_stops: float,
                        sdr_white_nits: float) -> np.ndarray:
    """The HDR rendition ``hdr_pq`` weighted toward ``sdr_pq`` for a display's headroom.

    Parameters
    ----------
    hdr_pq, sdr_pq
        float32 ``(H, W, 3)`` PQ BT.2020 code values: the decoded HDR and the SDR in HDR
        space (``gainmlp.api.sdr_in_hdr_space``).
    headroom_stops
        The display's headroom, log2(peak / SDR white), >= 0.
    sdr_white_nits
        The SDR's white in cd/m2 (the payload's SDR encoding).

    Returns
    -------
    numpy.ndarray
        float32 ``(H, W, 3)`` PQ code values; ``hdr_pq`` itself when the display's
        headroom covers the content's.
    """
    from gainmlp.kernels.pq import pq_decode_nits, pq_encode_nits

    k = np.float32(sdr_white_nits / 64.0)
    hdr = pq_decode_nits(hdr_pq) + k
    sdr = pq_decode_nits(sdr_pq) + k
    gain = np.log2(hdr / sdr)  # reuses no input: hdr and sdr are fresh arrays
    del hdr
    capacity = max(float(gain.max()), 0.0)
    w = headroom_weight(headroom_stops, 0.0, capacity)
    if w >= 1.0:
        return np.asarray(hdr_pq, dtype=np.float32)
    gain *= np.float32(w)
    np.exp2(gain, out=gain)
    gain *= sdr
    gain -= k
    np.maximum(gain, 0.0, out=gain)
    return pq_encode_nits(gain)
