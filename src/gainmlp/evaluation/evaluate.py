"""Encode, decode and measure one method on one pair: the ``gainmlp eval`` record, and
the record of every run of the experiments (:mod:`gainmlp.evaluation.experiments`)."""

from __future__ import annotations

import time

import numpy as np

from gainmlp import metrics
from gainmlp.api import decode, encode
from gainmlp.codecs import CONVENTIONAL_METHODS, EncodeOptions
from gainmlp.container.payload import Payload


def evaluate(sdr, hdr: np.ndarray, method: str, options: EncodeOptions, eps: float) -> dict:
    """Encode, decode and measure one method on one pair (the ``eval`` JSON record)."""
    t0 = time.perf_counter()
    payload = encode(sdr, hdr, method, options, eps=eps)
    t1 = time.perf_counter()
    data = payload.to_bytes()
    rebuilt = decode(Payload.from_bytes(data), sdr.pixels)
    t2 = time.perf_counter()
    height, width = hdr.shape[:2]
    record = {
        "method": method,
        "width": width,
        "height": height,
        "payload_bytes": len(data),
        "bpp": metrics.bits_per_pixel(len(data), width, height),
        **metrics.all_metrics(hdr, rebuilt),
        "encode_seconds": t1 - t0,
        "decode_seconds": t2 - t1,
    }
    if method in CONVENTIONAL_METHODS:
        record.update(scale=options.scale, quality=options.quality)
    else:
        record.update(width_mlp=options.width, steps=options.steps,
                      activation=options.activation, precision=options.precision,
                      meta_init=options.meta_init, loss=options.loss, grid=options.grid,
                      lr_schedule=options.lr_schedule)
    return record
