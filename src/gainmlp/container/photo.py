"""The gainmlp photo: a baseline SDR JPEG with our payload in an APP segment of its own.

Every JPEG viewer shows the SDR; ``decode_photo`` rebuilds the HDR from that one file.
By default the residual is fitted against the SDR *as decoded from the JPEG* (what the
decoder sees: closed loop); ``open_loop=True`` fits to the original SDR as the paper did.
"""

from __future__ import annotations

import numpy as np

from gainmlp.api import decode, encode
from gainmlp.codecs import EncodeOptions
from gainmlp.container import jpeg_segments
from gainmlp.container.payload import Payload
from gainmlp.errors import GainMLPError
from gainmlp.image import SdrImage
from gainmlp.io.images import decode_sdr_bytes, encode_sdr_jpeg
from gainmlp.paper_residual import DEFAULT_EPS


def encode_photo(
    sdr: SdrImage,
    hdr_pq: np.ndarray,
    method: str = "gamma-mlp",
    options: EncodeOptions | None = None,
    eps: float = DEFAULT_EPS,
    jpeg_quality: int = 95,
    open_loop: bool = False,
) -> tuple[bytes, dict[str, int]]:
    """SDR + HDR -> (JPEG bytes with the payload inside, byte count of each part)."""
    if not 1 <= jpeg_quality <= 100:
        raise GainMLPError(f"--jpeg-quality must be in 1..100, not {jpeg_quality}")
    base = encode_sdr_jpeg(sdr.pixels, jpeg_quality, sdr.icc)
    seen = None if open_loop else decode_sdr_bytes(base).pixels
    payload = encode(sdr, hdr_pq, method, options, eps=eps, fit_sdr_pixels=seen).to_bytes()
    data = jpeg_segments.embed_payload(base, payload)
    return data, {"base": len(base), "payload": len(payload)}


def strip_gain_map(data: bytes) -> bytes:
    """The primary image of a gain-map JPEG without its gain-map metadata (MPF, ISO 21496-1
    version record, XMP) and without anything appended after its EOI."""
    primary = data[: jpeg_segments.find_image_end(data)]

    def is_gain_map_metadata(seg: jpeg_segments.Segment) -> bool:
        return seg.payload.startswith((jpeg_segments.MPF_ID, jpeg_segments.ISO_21496_ID,
                                       jpeg_segments.XMP_ID, jpeg_segments.GAINMLP_ID))

    return jpeg_segments.remove_segments(primary, is_gain_map_metadata)


def reencode_gainmap_photo(
    data: bytes, method: str = "gamma-mlp", options: EncodeOptions | None = None,
    eps: float = DEFAULT_EPS, name: str = "photo",
) -> tuple[bytes, dict[str, float]]:
    """A gain-map JPEG (Ultra HDR, Adobe, ISO) -> a gainmlp JPEG with the same base image.

    S is the base exactly as stored (its JPEG bytes are kept, so there is no generation
    loss), H the file's full-weight HDR rendition. Returns the new file and a report:
    the original map's bytes, our payload's bytes, and PSNR of our HDR against the file's.
    """
    from gainmlp import metrics
    from gainmlp.colorimetry import SdrEncoding
    from gainmlp.container import gainmap_jpeg

    gm = gainmap_jpeg.read_gainmap_jpeg(data)
    hdr = gainmap_jpeg.gainmap_jpeg_to_hdr_pq(gm)
    encoding = SdrEncoding(gm.colour_space, "srgb", gainmap_jpeg.SDR_WHITE_NITS)
    sdr = SdrImage(gm.sdr, encoding, gm.icc)
    payload = encode(sdr, hdr, method, options, eps=eps)
    out = jpeg_segments.embed_payload(strip_gain_map(data), payload.to_bytes())
    rebuilt = decode(payload, decode_sdr_bytes(out, name).pixels)
    ranges = jpeg_segments.mpf_image_ranges(data) or []
    map_bytes = len(data) - jpeg_segments.find_image_end(data)
    if len(ranges) > 1:
        map_bytes = ranges[1][1] - ranges[1][0]
    return out, {"original_map_bytes": map_bytes, "payload": len(payload.to_bytes()),
                 "psnr_vs_original_hdr": round(metrics.psnr(hdr, rebuilt), 2)}


def read_photo(data: bytes, name: str = "photo") -> tuple[SdrImage, Payload]:
    """A gainmlp JPEG -> (its SDR, its payload)."""
    raw = jpeg_segments.extract_payload(data)
    if raw is None:
        raise GainMLPError(f"{name}: JPEG carries no gainmlp payload")
    payload = Payload.from_bytes(raw)
    sdr = decode_sdr_bytes(data, name)
    sdr.encoding = payload.sdr
    return sdr, payload


def decode_photo(data: bytes, name: str = "photo") -> np.ndarray:
    """A gainmlp JPEG (or any gain-map JPEG gainmlp reads) -> HDR, PQ BT.2020 float32."""
    if jpeg_segments.extract_payload(data) is None:
        from gainmlp.container import gainmap_jpeg

        if gainmap_jpeg.is_gainmap_jpeg(data):
            return gainmap_jpeg.gainmap_jpeg_to_hdr_pq(gainmap_jpeg.read_gainmap_jpeg(data))
        raise GainMLPError(f"{name}: JPEG carries neither a gainmlp payload nor a gain map")
    sdr, payload = read_photo(data, name)
    return decode(payload, sdr.pixels)


__all__ = ["encode_photo", "decode_photo", "read_photo"]
