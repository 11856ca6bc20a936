"""PNG header chunks: size checks before decoding, inserting and finding cICP."""

import struct
import zlib

import pytest

from gainmlp.errors import GainMLPError
from gainmlp.io.hdr import read_hdr
from gainmlp.io.png import png_chunks, png_header, png_with_chunk


def _ihdr(width: int, height: int, depth: int = 16) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, depth, 2, 0, 0, 0)
    return struct.pack(">I", 13) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))


def test_absurd_png_header_refused_before_decoding(tmp_path):
    (tmp_path / "big.png").write_bytes(b"\x89PNG\r\n\x1a\n" + _ihdr(100_000, 100_000) + b"\0" * 32)
    with pytest.raises(GainMLPError, match="over the limit"):
        read_hdr(tmp_path / "big.png")


def test_chunk_inserted_after_ihdr():
    png = b"\x89PNG\r\n\x1a\n" + _ihdr(4, 3)
    out = png_with_chunk(png, b"cICP", bytes([9, 16, 0, 1]))
    assert [kind for kind, _ in png_chunks(out)] == [b"IHDR", b"cICP"]
    assert png_header(out) == (4, 3, 16, bytes([9, 16, 0, 1]))
    with pytest.raises(GainMLPError, match="not a PNG"):
        png_chunks(b"GIF89a")
