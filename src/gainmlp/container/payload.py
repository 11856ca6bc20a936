"""The gainmlp payload: a documented, versioned, little-endian binary format.

Layout of version 1 (all integers little-endian; see docs/payload-format.md)::

    offset  size  field
    0       4     magic b"GMLP"
    4       2     format version (u16) = 1
    6       2     method code (u16), see gainmlp.codecs.registry
    8       4     image width in pixels (u32)
    12      4     image height in pixels (u32)
    16      4     residual offset eps (f32)
    20      1     SDR primaries code (1 bt709, 2 srgb, 3 p3, 4 bt2020)
    21      1     SDR transfer code (1 gamma2.4, 2 srgb, 3 gamma2.2)
    22      2     reserved, 0
    24      4     SDR white in cd/m2 (f32)
    28      4     HDR peak in cd/m2 (f32)
    32      4     body length in bytes (u32)
    36      n     body: method-specific (conventional map image or MLP weights)
    36+n    4     CRC-32 (zlib) of bytes [0, 36+n)

Version 2 (written only for a payload whose base shows a view of the frame it was fitted
on: a crop, a resize, a rotation; :mod:`gainmlp.view`, docs/edits.md) is version 1 with
the view between the body length and the body; width and height are the base's::

    36      4     original frame width in pixels (u32)
    40      4     original frame height in pixels (u32)
    44      32    crop box x0, y0, x1, y1 in normalised original coordinates (4 x f64)
    76      1     orientation, EXIF numbering 1..8
    77      3     reserved, 0
    80      n     body
    80+n    4     CRC-32 of bytes [0, 80+n)

Nothing in a payload is ever unpickled or executed; the reader validates every field
before it allocates anything.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

from gainmlp.codecs.registry import METHODS, method_by_code
from gainmlp.colorimetry import PRIMARIES_CODE, TRANSFER_CODE, HdrEncoding, SdrEncoding
from gainmlp.errors import GainMLPError, check_image_size
from gainmlp.view import View

MAGIC = b"GMLP"
VERSION = 1
#: The version written for a payload with a view (:attr:`Payload.view`).
VIEW_VERSION = 2
SUPPORTED_VERSIONS = (1, 2)
_HEADER = struct.Struct("<4sHHIIfBBHffI")
HEADER_SIZE = _HEADER.size  # 36
_VIEW = struct.Struct("<II4dB3s")
VIEW_SIZE = _VIEW.size  # 44
CRC_SIZE = 4
MAX_BODY = 64 * 1024 * 1024

_PRIM_NAMES = {c: n for n, c in PRIMARIES_CODE.items()}
_TRANSFER_NAMES = {c: n for n, c in TRANSFER_CODE.items()}


@dataclass
class Payload:
    """A decoded payload: what the decoder needs besides the SDR image."""

    method: str
    width: int
    height: int
    eps: float
    body: bytes
    sdr: SdrEncoding = field(default_factory=SdrEncoding)
    hdr: HdrEncoding = field(default_factory=HdrEncoding)
    #: The view of the original frame the base shows (header version 2), None when the
    #: base is the original frame (version 1).
    view: View | None = None
    #: (width, height) of the original frame; None: (width, height).
    original_size: tuple[int, int] | None = None

    @property
    def frame_size(self) -> tuple[int, int]:
        """(width, height) of the frame the payload was fitted on."""
        return self.original_size or (self.width, self.height)

    def to_bytes(self) -> bytes:
        if self.method not in METHODS:
            raise GainMLPError(f"unknown method {self.method!r}")
        head = _HEADER.pack(
            MAGIC,
            VERSION if self.view is None else VIEW_VERSION,
            METHODS[self.method].code,
            self.width,
            self.height,
            self.eps,
            PRIMARIES_CODE[self.sdr.primaries],
            TRANSFER_CODE[self.sdr.transfer],
            0,
            self.sdr.white_nits,
            self.hdr.peak_nits,
            len(self.body),
        )
        if self.view is not None:
            v = self.view.check()
            ow, oh = self.frame_size
            check_image_size(ow, oh, "payload original frame")
            head += _VIEW.pack(ow, oh, v.x0, v.y0, v.x1, v.y1, v.orientation, bytes(3))
        data = head + self.body
        return data + struct.pack("<I", zlib.crc32(data))

    @classmethod
    def from_bytes(cls, data: bytes) -> Payload:
        data = bytes(data)
        if len(data) < HEADER_SIZE + CRC_SIZE:
            raise GainMLPError(f"payload is truncated ({len(data)} bytes, header needs 40)")
        (magic, version, method_code, width, height, eps, prim, transfer, _reserved,
         white, peak, body_len) = _HEADER.unpack_from(data)
        if magic != MAGIC:
            raise GainMLPError("not a gainmlp payload (bad magic)")
        if version not in SUPPORTED_VERSIONS:
            raise GainMLPError(f"payload format version {version} is not supported "
                               f"(this gainmlp reads {SUPPORTED_VERSIONS})")
        if body_len > MAX_BODY:
            raise GainMLPError(f"payload claims an absurd body of {body_len} bytes")
        start = HEADER_SIZE + (VIEW_SIZE if version == VIEW_VERSION else 0)
        expected = start + body_len + CRC_SIZE
        if len(data) < expected:
            raise GainMLPError(f"payload is truncated: {len(data)} bytes, header says {expected}")
        if len(data) > expected:
            raise GainMLPError(f"payload has {len(data) - expected} trailing bytes")
        (crc,) = struct.unpack_from("<I", data, start + body_len)
        if crc != zlib.crc32(data[: start + body_len]):
            raise GainMLPError("payload CRC-32 mismatch: the file is corrupt")
        method = method_by_code(method_code)
        if method is None:
            raise GainMLPError(f"payload uses unknown method code {method_code}")
        if prim not in _PRIM_NAMES or transfer not in _TRANSFER_NAMES:
            raise GainMLPError("payload has an unknown SDR colour set-up")
        if not (0.0 < eps < 0.5):
            raise GainMLPError(f"payload has an invalid offset eps={eps}")
        if not (1.0 <= peak <= 10000.0):
            raise GainMLPError(f"payload has an invalid HDR peak {peak}")
        check_image_size(width, height, "payload")
        view = original = None
        if version == VIEW_VERSION:
            ow, oh, x0, y0, x1, y1, orientation, reserved = _VIEW.unpack_from(data, HEADER_SIZE)
            if reserved != bytes(3):
                raise GainMLPError("payload view has non-zero reserved bytes")
            check_image_size(ow, oh, "payload original frame")
            view, original = View(x0, y0, x1, y1, orientation).check(), (ow, oh)
        return cls(
            method=method.name,
            width=width,
            height=height,
            eps=float(eps),
            body=data[start : start + body_len],
            sdr=SdrEncoding(_PRIM_NAMES[prim], _TRANSFER_NAMES[transfer], float(white)),
            hdr=HdrEncoding(float(peak)),
            view=view,
            original_size=original,
        )
