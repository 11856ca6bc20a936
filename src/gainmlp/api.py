"""High-level encode/decode: SDR image + HDR image <-> payload.

This is the small public API the CLI is built on::

    from gainmlp import read_sdr, read_hdr, encode, decode, EncodeOptions
    sdr = read_sdr("sdr.png")
    hdr = read_hdr("hdr.png")                       # PQ BT.2020 code values
    payload = encode(sdr, hdr, "gamma-mlp", EncodeOptions())
    rebuilt = decode(payload, sdr.pixels)           # PQ BT.2020 code values
"""

from __future__ import annotations

import numpy as np

from gainmlp.codecs import decode_residual, encode_residual, get_method
from gainmlp.codecs.indexed import IndexedSdr, index_sdr8
from gainmlp.colorimetry import HdrEncoding, SdrEncoding, sdr8_to_hdr_space, sdr_to_hdr_space
from gainmlp.container.payload import Payload
from gainmlp.errors import GainMLPError
from gainmlp.image import SdrImage, check_hdr_pq, check_sdr_pixels
from gainmlp.kernels import compiled
from gainmlp.memory import check_memory
from gainmlp.options import EncodeOptions
from gainmlp.paper_residual import DEFAULT_EPS
from gainmlp.threads import blas_on_caller


def sdr_in_hdr_space(pixels: np.ndarray, encoding: SdrEncoding) -> np.ndarray:
    """8-bit SDR pixels -> PQ BT.2020 code values (float32).

    8-bit pixels are converted once per distinct colour and gathered
    (:func:`sdr_in_hdr_space_indexed`): the same values as
    ``colorimetry.sdr8_to_hdr_space`` per pixel, faster (that per-pixel conversion itself
    with ``GAINMLP_KERNELS=numpy``).
    """
    sdr = sdr_in_hdr_space_indexed(pixels, encoding)
    return sdr.expand() if isinstance(sdr, IndexedSdr) else sdr


def sdr_in_hdr_space_indexed(pixels: np.ndarray, encoding: SdrEncoding
                             ) -> IndexedSdr | np.ndarray:
    """:func:`sdr_in_hdr_space`, as an :class:`~gainmlp.codecs.indexed.IndexedSdr` (colour
    ids + per-colour PQ values) for 8-bit pixels, a plain array otherwise."""
    pixels = np.asarray(pixels)
    if pixels.dtype == np.uint8:
        if compiled() and pixels.ndim == 3 and pixels.shape[-1] == 3:
            return index_sdr8(pixels, encoding)
        return sdr8_to_hdr_space(pixels, encoding)
    return sdr_to_hdr_space(np.asarray(pixels, dtype=np.float32) / 255.0, encoding)


def check_pair(sdr_pixels: np.ndarray, hdr_pq: np.ndarray) -> None:
    if sdr_pixels.shape[:2] != hdr_pq.shape[:2]:
        raise GainMLPError(
            f"SDR is {sdr_pixels.shape[1]}x{sdr_pixels.shape[0]} but HDR is "
            f"{hdr_pq.shape[1]}x{hdr_pq.shape[0]}; they must be the same size"
        )


def check_rate_control(method: str, options: EncodeOptions) -> EncodeOptions:
    """Refuse ``target_psnr`` / ``max_bytes`` for methods without rate control (all but
    the Gain-MLP methods, docs/rate-control.md)."""
    if (options.target_psnr is not None or options.max_bytes is not None) \
            and get_method(method).family != "mlp":
        raise GainMLPError(f"--target-psnr and --max-bytes apply to gamma-, gain- and "
                           f"direct-mlp, not {method}")
    return options


@blas_on_caller()  # (gainmlp.threads: OpenBLAS's spinning threads off our cores)
def encode(
    sdr: SdrImage,
    hdr_pq: np.ndarray,
    method: str = "gamma-mlp",
    options: EncodeOptions | None = None,
    eps: float = DEFAULT_EPS,
    fit_sdr_pixels: np.ndarray | None = None,
    hdr: HdrEncoding | None = None,
) -> Payload:
    """Encode the residual between ``sdr`` and ``hdr_pq`` with ``method``.

    ``fit_sdr_pixels`` replaces the SDR the residual is computed against (e.g. the SDR as
    decoded from its JPEG, which is what a decoder will see); the colour set-up is ``sdr``'s.
    """
    get_method(method)
    check_sdr_pixels(sdr.pixels)
    if fit_sdr_pixels is not None:
        check_sdr_pixels(fit_sdr_pixels, "fit_sdr_pixels")
    hdr_pq = check_hdr_pq(hdr_pq)
    check_pair(sdr.pixels, hdr_pq)
    check_memory("encode", sdr.pixels.shape[0] * sdr.pixels.shape[1])
    options = check_rate_control(method, (options or EncodeOptions()).validate())
    pixels = sdr.pixels if fit_sdr_pixels is None else fit_sdr_pixels
    sdr_pq = sdr_in_hdr_space(pixels, sdr.encoding)
    body = encode_residual(method, sdr_pq, np.asarray(hdr_pq, dtype=np.float32), eps, options)
    height, width = sdr.pixels.shape[:2]
    return Payload(method, width, height, eps, body, sdr.encoding, hdr or HdrEncoding())


@blas_on_caller()
def encode_many(
    items: list[tuple[SdrImage, np.ndarray]],
    method: str = "gamma-mlp",
    options: EncodeOptions | None = None,
    eps: float = DEFAULT_EPS,
    seeds: list[int] | None = None,
    fit_sdr_pixels: list[np.ndarray | None] | None = None,
) -> list[Payload]:
    """Encode many (SDR, HDR) pairs; MLP methods fit them all together (one fused trainer,
    e.g. on one GPU). Each payload is what :func:`encode` gives that pair with its seed
    (``seeds``, default ``options.seed`` for all)."""
    entry = get_method(method)
    check_memory("encode", sum(s.pixels.shape[0] * s.pixels.shape[1] for s, _ in items),
                 len(items))
    options = check_rate_control(method, (options or EncodeOptions()).validate())
    fit_sdr_pixels = fit_sdr_pixels or [None] * len(items)
    pairs = []
    for (sdr, hdr_pq), seen in zip(items, fit_sdr_pixels, strict=True):
        check_sdr_pixels(sdr.pixels)
        hdr_pq = check_hdr_pq(hdr_pq)
        check_pair(sdr.pixels, hdr_pq)
        pixels = sdr.pixels if seen is None else seen
        pairs.append((sdr_in_hdr_space(pixels, sdr.encoding),
                      np.asarray(hdr_pq, dtype=np.float32)))
    bodies = entry.encode_many(pairs, eps, options, seeds)
    return [Payload(method, sdr.pixels.shape[1], sdr.pixels.shape[0], eps, body, sdr.encoding,
                    HdrEncoding())
            for (sdr, _), body in zip(items, bodies, strict=True)]


@blas_on_caller()
def decode(payload: Payload, sdr_pixels: np.ndarray) -> np.ndarray:
    """Rebuild the HDR rendition from a payload and the SDR pixels.

    Parameters
    ----------
    payload
        The payload (:meth:`Payload.from_bytes` of the bytes a file carries).
    sdr_pixels
        The SDR base as 8-bit code values, uint8 ``(H, W, 3)``, of the size the payload
        was made for.

    Returns
    -------
    numpy.ndarray
        float32 ``(H, W, 3)`` PQ BT.2020 code values in [0, 1] (``gainmlp.write_hdr``
        writes them; ``gainmlp.colorimetry.pq_bt2020_to_linear`` gives cd/m2).

    Raises
    ------
    GainMLPError
        When the pixels are not uint8 ``(H, W, 3)``, their size is not the payload's, the
        decode would exceed the memory budget, or the payload body is corrupt.
    """
    sdr_pixels = check_sdr_pixels(sdr_pixels)
    height, width = sdr_pixels.shape[:2]
    if (width, height) != (payload.width, payload.height):
        raise GainMLPError(
            f"payload is for a {payload.width}x{payload.height} image but the SDR is "
            f"{width}x{height}"
        )
    check_memory("decode", width * height)
    sdr_pq = sdr_in_hdr_space_indexed(sdr_pixels, payload.sdr)
    view = payload.view
    if view is not None:  # evaluated at the original frame's pixel centres
        from dataclasses import replace

        view = replace(view, frame=payload.frame_size)
    return decode_residual(payload.method, payload.body, sdr_pq, payload.eps, view)
