"""Encode, decode and measure one method on one pair: the ``gainmlp eval`` record, and
the record of every run of the experiments (:mod:`gainmlp.evaluation.experiments`).

Two levels are measured, both against the pair's HDR in PQ BT.2020 code values:

* **payload level** (``psnr``, ``ssim``, ... ``hdr_flip``, ``hl_*``, ``hl2w_*``,
  ``payload_bytes``, ``bpp``): the paper's protocol. The payload is fitted to the lossless
  SDR and decoded with the lossless SDR, so only the residual's own error counts.
* **file level** (``file_psnr``, ``file_ssim``, ``file_hdr_flip``, ``file_hl_*``,
  ``file_hl2w_*``, ``file_bytes``, ``base_bytes``, ...): what
  a user ships. The pair is written as the JPEG ``gainmlp encode`` writes
  (:func:`gainmlp.photo.encode_jpeg`, by default in :data:`gainmlp.photo.DEFAULT_CONTAINER`
  at base quality 95, fitted to the decoded base: closed loop), the file's bytes are
  decoded as a user would (:func:`gainmlp.photo.decode_photo`: gainmlp's decoder, which
  prefers the payload), and the base JPEG's own error is included.

The highlight keys (:func:`gainmlp.metrics.hdr_metrics`, ``docs/highlights.md``): ``hl_*``
on the pixels whose reference luminance is above 1,000 cd/m2, ``hl2w_*`` above twice the
pair's SDR white (its :class:`~gainmlp.colorimetry.SdrEncoding` ``white_nits``):
``light_ratio`` (total light, reconstruction / reference), ``rel_err_p50`` /
``rel_err_p99``, ``p999_ratio`` (99.9th-percentile luminance of the whole image) and
``fraction``; the ratios are None when no pixel is above the threshold.
"""

from __future__ import annotations

import time

import numpy as np

from gainmlp import metrics
from gainmlp.api import decode, encode
from gainmlp.codecs import CONVENTIONAL_METHODS, EncodeOptions
from gainmlp.container.payload import Payload

#: The keys :func:`evaluate_file` adds to a record.
FILE_KEYS = ("container", "jpeg_quality", "file_bytes", "base_bytes", "map_bytes",
             "file_payload_bytes", "file_bpp", "file_psnr", "file_ssim", "standard_psnr",
             "file_encode_seconds", "file_hdr_flip",
             *(f"file_{p}_{k}" for p in ("hl", "hl2w")
               for k in ("fraction", "light_ratio", "rel_err_p50", "rel_err_p99",
                         "p999_ratio")))


def base_bytes(data: bytes) -> int:
    """Bytes of the SDR picture itself in a JPEG file: its first (primary) image, SOI to
    EOI, less every APPn (APP0..APP15) and COM segment. What remains is the JPEG
    codestream (quantisation and Huffman tables, frame header, scans): the same for every
    container at a given base quality, without ICC, EXIF, XMP, MPF, ISO 21496-1 metadata,
    our payload's APP11 segments or the gain-map image."""
    from gainmlp.container.segments import find_image_end, remove_segments

    primary = data[: find_image_end(data)]
    return len(remove_segments(primary, lambda s: 0xE0 <= s.marker <= 0xEF or s.marker == 0xFE))


def map_bytes(data: bytes) -> int:
    """Bytes of a JPEG file's standard gain-map image (the second MPF image); 0 without."""
    from gainmlp.container.mpf import mpf_image_ranges
    from gainmlp.errors import GainMLPError

    try:
        ranges = mpf_image_ranges(data) or []
    except GainMLPError:  # no MPF index: no second image
        return 0
    return ranges[1][1] - ranges[1][0] if len(ranges) > 1 else 0


def standard_rendition(data: bytes) -> np.ndarray | None:
    """The HDR (PQ BT.2020) that a reader of standard gain-map JPEGs shows for ``data``,
    gainmlp's payload ignored (gainmlp's own gain-map reader, full weight, SDR white at
    203 cd/m2); None for a file without a standard gain map."""
    from gainmlp.container import gainmap_jpeg

    if not gainmap_jpeg.is_gainmap_jpeg(data):
        return None
    return gainmap_jpeg.gainmap_jpeg_to_hdr_pq(gainmap_jpeg.read_gainmap_jpeg(data))


def evaluate_payload(sdr, hdr: np.ndarray, method: str, options: EncodeOptions,
                     eps: float) -> dict:
    """The payload-level record (the paper's protocol: lossless SDR in and out)."""
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
        **metrics.all_metrics(hdr, rebuilt, sdr.encoding.white_nits),
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


def evaluate_file(sdr, hdr: np.ndarray, method: str, options: EncodeOptions, eps: float,
                  container: str | None = None, jpeg_quality: int = 95) -> dict:
    """The file-level keys (:data:`FILE_KEYS`): the JPEG :func:`gainmlp.photo.encode_jpeg`
    writes (``container`` None: the default one), decoded by
    :func:`gainmlp.photo.decode_photo`. ``file_bytes`` is the whole file, ``base_bytes``
    :func:`base_bytes`, ``map_bytes`` the standard gain-map image (0 without one),
    ``file_payload_bytes`` our payload (0 without one); ``standard_psnr`` is the PSNR of
    what other gain-map readers show (:func:`standard_rendition`), None without a map."""
    from gainmlp import photo

    method, container = photo.resolve_container(method, container)
    t0 = time.perf_counter()
    data, parts = photo.encode_jpeg(sdr, hdr, method, options, eps, container, jpeg_quality)
    t1 = time.perf_counter()
    rebuilt = photo.decode_photo(data, f"{method}.jpg")
    standard = standard_rendition(data)
    height, width = hdr.shape[:2]
    return {
        "container": container,
        "jpeg_quality": jpeg_quality,
        "file_bytes": len(data),
        "base_bytes": base_bytes(data),
        "map_bytes": map_bytes(data),
        "file_payload_bytes": int(parts.get("payload", 0)),
        "file_bpp": metrics.bits_per_pixel(len(data), width, height),
        "file_psnr": metrics.psnr(hdr, rebuilt),
        "file_ssim": metrics.ssim(hdr, rebuilt),
        "standard_psnr": None if standard is None else metrics.psnr(hdr, standard),
        "file_encode_seconds": t1 - t0,
        **{f"file_{k}": v
           for k, v in metrics.hdr_metrics(hdr, rebuilt, sdr.encoding.white_nits).items()},
    }


def evaluate(sdr, hdr: np.ndarray, method: str, options: EncodeOptions, eps: float,
             file_level: bool = True, container: str | None = None,
             jpeg_quality: int = 95) -> dict:
    """Encode, decode and measure one method on one pair (the ``eval`` JSON record): the
    payload-level keys (:func:`evaluate_payload`; ``psnr`` is the paper's protocol,
    lossless SDR) and, with ``file_level``, the file-level ones (:func:`evaluate_file`;
    ``file_psnr`` is what the written JPEG decodes to). The file level fits again, to the
    decoded base JPEG, so it doubles an MLP method's encoding time."""
    record = evaluate_payload(sdr, hdr, method, options, eps)
    if file_level:
        record.update(evaluate_file(sdr, hdr, method, options, eps, container, jpeg_quality))
    return record
