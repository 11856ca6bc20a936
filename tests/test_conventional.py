import io

import numpy as np
import pytest
from PIL import Image

from gainmlp import metrics
from gainmlp.api import decode, encode, sdr_in_hdr_space
from gainmlp.codecs import CONVENTIONAL_METHODS, EncodeOptions
from gainmlp.colorimetry import SdrEncoding
from gainmlp.container.payload import HEADER_SIZE, Payload
from gainmlp.errors import GainMLPError
from gainmlp.image import SdrImage


@pytest.mark.parametrize("method", CONVENTIONAL_METHODS)
def test_each_codec_round_trips_and_counts_bytes(pair, method):
    sdr_u8, hdr = pair
    payload = encode(SdrImage(sdr_u8, SdrEncoding()), hdr, method, EncodeOptions(scale=2))
    data = payload.to_bytes()
    # bytes = outer header + 32-byte body header + the compressed map + CRC, exactly
    assert len(data) == HEADER_SIZE + len(payload.body) + 4
    image = payload.body[32:]
    assert len(image) > 0
    rebuilt = decode(Payload.from_bytes(data), sdr_u8)
    assert rebuilt.shape == hdr.shape and rebuilt.dtype == np.float32
    assert metrics.psnr(hdr, rebuilt) > 30


def _paper_reference(sdr_u8, hdr, kind, scale=4, quality=80, eps=1 / 64):
    """An independent, plain-PIL implementation of §3.1 for cross-checking."""
    s = sdr_in_hdr_space(sdr_u8, SdrEncoding()).astype(np.float64)
    if kind == "gain":
        f = (hdr + eps) / (s + eps)
    else:
        f = np.log(hdr + eps) / np.log(s + eps)
    lf = np.log2(f)
    lo, hi = lf.min(axis=(0, 1)), lf.max(axis=(0, 1))
    q = np.uint8(np.round(np.clip((lf - lo) / (hi - lo), 0, 1) * 255))
    h, w = q.shape[:2]
    small = Image.fromarray(q).resize((round(w / scale), round(h / scale)), Image.BICUBIC)
    buf = io.BytesIO()
    small.save(buf, "JPEG", quality=quality)
    back = Image.open(io.BytesIO(buf.getvalue())).resize((w, h), Image.BICUBIC)
    fn = np.asarray(back, np.float64) / 255
    f2 = 2 ** (fn * (hi - lo) + lo)
    rec = (s + eps) * f2 - eps if kind == "gain" else (s + eps) ** f2 - eps
    return metrics.psnr(hdr, np.clip(rec, 0, 1))


@pytest.mark.parametrize("kind", ["gain", "gamma"])
def test_matches_independent_paper_pipeline(kind):
    from conftest import synthetic_pair

    sdr_u8, hdr = synthetic_pair(128, 160, seed=3)
    ours = decode(encode(SdrImage(sdr_u8, SdrEncoding()), hdr, f"{kind}-jpeg"), sdr_u8)
    assert abs(metrics.psnr(hdr, ours) - _paper_reference(sdr_u8, hdr, kind)) < 0.5


def test_unquantised_full_scale_is_close(pair):
    # scale 1, quality 100: only 8-bit quantisation of the normalised map remains
    sdr_u8, hdr = pair
    payload = encode(SdrImage(sdr_u8, SdrEncoding()), hdr, "gamma-jpeg",
                     EncodeOptions(scale=1, quality=100))
    assert metrics.psnr(hdr, decode(payload, sdr_u8)) > 45


def test_corrupt_map_image_is_refused(pair):
    sdr_u8, hdr = pair
    payload = encode(SdrImage(sdr_u8, SdrEncoding()), hdr, "gain-jpeg")
    payload.body = payload.body[:32] + b"\x00" * 50
    with pytest.raises(GainMLPError):
        decode(Payload.from_bytes(payload.to_bytes()), sdr_u8)


def test_map_image_declaring_a_huge_size_is_refused_before_decoding(pair):
    # the gap behind fuzz/'s slow gain-map input, in the map-image reader: a 700-byte JPEG
    # map declaring 12000x12000 was decoded (144 MP, seconds, ~0.5 GB) before its size
    # was compared with the body's header
    from gainmlp.codecs import map_image

    sdr_u8, hdr = pair
    payload = encode(SdrImage(sdr_u8, SdrEncoding()), hdr, "gain-jpeg")
    sof = payload.body.index(b"\xff\xc0")
    payload.body = (payload.body[:sof + 5] + (1000).to_bytes(2, "big")
                    + (2000).to_bytes(2, "big") + payload.body[sof + 9:])
    with pytest.raises(GainMLPError, match="declares 2000x1000 pixels"):
        map_image.decompress(payload.body[32:], "jpeg")
    with pytest.raises(GainMLPError, match="declares 2000x1000 pixels"):
        decode(Payload.from_bytes(payload.to_bytes()), sdr_u8)


def test_bad_scale_and_size_mismatch(pair):
    sdr_u8, hdr = pair
    with pytest.raises(GainMLPError):
        encode(SdrImage(sdr_u8, SdrEncoding()), hdr, "gain-jpeg", EncodeOptions(scale=3))
    with pytest.raises(GainMLPError):
        encode(SdrImage(sdr_u8, SdrEncoding()), hdr[:-1], "gain-jpeg")
    payload = encode(SdrImage(sdr_u8, SdrEncoding()), hdr, "gain-jpeg")
    with pytest.raises(GainMLPError):
        decode(payload, sdr_u8[:, :-2])


