"""An 8-bit SDR in HDR space as per-pixel colour ids and a per-colour table.

A photo has far fewer distinct 8-bit colours than pixels, and the SDR -> HDR-space
conversion is a per-pixel function, so it is evaluated once per distinct colour (the
palette) and gathered: :func:`index_sdr8` gives an :class:`IndexedSdr`, whose
:meth:`IndexedSdr.expand` is exactly ``colorimetry.sdr8_to_hdr_space(pixels, encoding)``
(same values, faster). The MLP decoders use the indexed form directly (per-colour
tables, :mod:`gainmlp.codecs.mlp.fast_decode`); every other decoder gets the plain
``(H, W, 3)`` float32 array (:func:`as_array`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gainmlp.colorimetry import SdrEncoding, sdr8_to_hdr_space
from gainmlp.errors import GainMLPError


@dataclass(frozen=True)
class IndexedSdr:
    """SDR PQ code values as ``palette_pq[ids]``.

    ``ids``: int32 ``(H, W)``, each pixel's row of the palette; ``palette``: the distinct
    8-bit colours ``(K, 3)`` uint8; ``palette_pq``: their PQ BT.2020 code values ``(K, 3)``
    float32 ("SDR in HDR space").
    """

    ids: np.ndarray
    palette: np.ndarray
    palette_pq: np.ndarray

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(H, W, 3)``, the shape of :meth:`expand`."""
        return (*self.ids.shape, 3)

    @property
    def n_colours(self) -> int:
        return int(self.palette_pq.shape[0])

    def expand(self) -> np.ndarray:
        """The SDR PQ code values per pixel, float32 ``(H, W, 3)``."""
        from gainmlp.kernels.colour_index import gather_rows

        return gather_rows(self.palette_pq, self.ids)


def index_sdr8(pixels: np.ndarray, encoding: SdrEncoding | None = None) -> IndexedSdr:
    """8-bit SDR pixels ``(H, W, 3)`` -> :class:`IndexedSdr` in HDR space (per colour)."""
    from gainmlp.kernels.colour_index import index_colours

    pixels = np.asarray(pixels)
    if pixels.dtype != np.uint8:
        raise GainMLPError(f"8-bit SDR pixels expected, got {pixels.dtype}")
    ids, palette = index_colours(pixels)
    palette_pq = sdr8_to_hdr_space(palette[None], encoding)[0]
    return IndexedSdr(ids, palette, np.ascontiguousarray(palette_pq, dtype=np.float32))


def as_array(sdr_pq: np.ndarray | IndexedSdr) -> np.ndarray:
    """The plain ``(H, W, 3)`` SDR PQ array of either form."""
    if isinstance(sdr_pq, IndexedSdr):
        return sdr_pq.expand()
    return sdr_pq
