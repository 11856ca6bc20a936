"""Residual codecs behind one interface: a registry of methods (:mod:`.registry`).

``encode_residual`` turns an (SDR, HDR) pair in HDR space into a method's payload body;
``decode_residual`` turns the body and the SDR back into the HDR rendition. Importing this
package registers every method; the MLP encoders import torch on first use, every decoder
is numpy-only.
"""

from __future__ import annotations

import numpy as np

import gainmlp.codecs.conventional  # noqa: F401  (registers gain-/gamma-{jpeg,heic,jxl,avif})
import gainmlp.codecs.mlp  # noqa: F401  (registers gamma-/gain-/direct-mlp)
import gainmlp.codecs.mlp_itm  # noqa: F401  (registers mlp-itm)
from gainmlp.codecs.indexed import IndexedSdr
from gainmlp.codecs.registry import METHODS, Method, get_method, method_by_code, names
from gainmlp.options import EncodeOptions

DEFAULT_METHOD = "gamma-mlp"
CONVENTIONAL_METHODS = names("conventional")
#: Families whose decoders take an :class:`IndexedSdr` as it is (per-colour tables).
INDEXED_FAMILIES = ("mlp", "mlp-itm")


def encode_residual(method: str, sdr_pq: np.ndarray, hdr_pq: np.ndarray, eps: float,
                    options: EncodeOptions) -> bytes:
    """Fit/compress the residual of ``method``; returns the payload body."""
    return get_method(method).encode(sdr_pq, hdr_pq, eps, options)


def decode_residual(method: str, body: bytes, sdr_pq: np.ndarray | IndexedSdr,
                    eps: float, view=None) -> np.ndarray:
    """Rebuild the HDR rendition (PQ BT.2020, float32 in [0, 1]) from SDR and a body.

    ``sdr_pq``: PQ code values ``(H, W, 3)``, or an :class:`IndexedSdr` (per-colour
    values), which the MLP decoders use as it is and every other decoder gets expanded.
    ``view``: the :class:`gainmlp.view.View` of the original frame the SDR shows (None:
    the SDR is the original frame).
    """
    entry = get_method(method)
    if isinstance(sdr_pq, IndexedSdr) and entry.family not in INDEXED_FAMILIES:
        sdr_pq = sdr_pq.expand()
    return entry.decode(body, sdr_pq, eps, view)


__all__ = ["CONVENTIONAL_METHODS", "DEFAULT_METHOD", "INDEXED_FAMILIES", "METHODS",
           "EncodeOptions", "IndexedSdr", "Method",
           "decode_residual", "encode_residual", "get_method", "method_by_code", "names"]
