import struct
import zlib

import pytest

from gainmlp.colorimetry import HdrEncoding, SdrEncoding
from gainmlp.container.payload import HEADER_SIZE, Payload
from gainmlp.errors import GainMLPError


def _payload() -> Payload:
    return Payload("gamma-mlp", 640, 480, 1 / 64, b"\x01\x02\x03" * 10,
                   SdrEncoding("p3", "srgb", 203.0), HdrEncoding(1000.0))


def _recrc(data: bytes) -> bytes:
    body = data[:-4]
    return body + struct.pack("<I", zlib.crc32(body))


def test_round_trip_keeps_every_field():
    p = _payload()
    q = Payload.from_bytes(p.to_bytes())
    assert (q.method, q.width, q.height, q.eps, q.body) == (p.method, 640, 480, 1 / 64, p.body)
    assert q.sdr == p.sdr and q.hdr == p.hdr
    assert len(p.to_bytes()) == HEADER_SIZE + len(p.body) + 4


def test_rejections():
    good = _payload().to_bytes()
    cases = {
        "bad magic": b"XXXX" + good[4:],
        "truncated": good[:30],
        "crc": good[:-1] + bytes([good[-1] ^ 1]),
        "trailing": good + b"\0",
        "short body": good[:-8],
        "version": _recrc(good[:4] + struct.pack("<H", 99) + good[6:]),
        "method": _recrc(good[:6] + struct.pack("<H", 999) + good[8:]),
        "absurd size": _recrc(good[:8] + struct.pack("<II", 1_000_000, 1_000_000) + good[16:]),
        "eps": _recrc(good[:16] + struct.pack("<f", 2.0) + good[20:]),
        "primaries": _recrc(good[:20] + b"\x63" + good[21:]),
        "huge body claim": _recrc(good[:32] + struct.pack("<I", 2**31) + good[36:]),
    }
    for what, data in cases.items():
        with pytest.raises(GainMLPError):
            Payload.from_bytes(data)
            pytest.fail(f"accepted a payload with a bad {what}")


def test_unknown_method_name_refused_on_write():
    p = _payload()
    p.method = "magic"
    with pytest.raises(GainMLPError):
        p.to_bytes()
