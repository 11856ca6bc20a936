"""PNG header chunks: bounds-checked parsing, the cICP chunk, inserting a chunk.

HDR PNGs are 16-bit PQ; their colour description travels in a ``cICP`` chunk (ITU-T
H.273 code points), which Pillow neither reads nor writes, so it is handled here at the
chunk level. The image data itself is coded by imagecodecs or Pillow.
"""

from __future__ import annotations

import struct
import zlib

from gainmlp.errors import GainMLPError, check_image_size

# ITU-T H.273 code points
CICP_PRIMARIES = {1: "bt709", 9: "bt2020", 12: "p3"}
CICP_PQ = 16


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, payload) of each PNG chunk up to IDAT, with bounds checks."""
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        raise GainMLPError("not a PNG file")
    chunks, pos = [], 8
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        if pos + 12 + length > len(data):
            raise GainMLPError("PNG is truncated")
        chunks.append((kind, data[pos + 8 : pos + 8 + length]))
        if len(chunks) == 1 and kind == b"IHDR" and length == 13:
            check_image_size(*struct.unpack(">II", chunks[0][1][:8]), "PNG")
        if kind in (b"IDAT", b"IEND"):
            break
        pos += 12 + length
    if not chunks or chunks[0][0] != b"IHDR" or len(chunks[0][1]) != 13:
        raise GainMLPError("PNG has no valid IHDR header")
    return chunks


def png_header(data: bytes) -> tuple[int, int, int, bytes | None]:
    """(width, height, bit depth, cICP payload or None) from a PNG's header chunks."""
    chunks = png_chunks(data)
    width, height, depth = struct.unpack(">IIB", chunks[0][1][:9])
    check_image_size(width, height, "PNG")
    cicp = next((body for kind, body in chunks if kind == b"cICP"), None)
    return width, height, depth, cicp


def png_with_chunk(png: bytes, kind: bytes, body: bytes) -> bytes:
    """Insert a chunk right after IHDR (where cICP belongs: before PLTE and IDAT)."""
    ihdr_end = 8 + 12 + 13
    chunk = struct.pack(">I", len(body)) + kind + body
    chunk += struct.pack(">I", zlib.crc32(kind + body))
    return png[:ihdr_end] + chunk + png[ihdr_end:]
