"""PNG header chunks: bounds-checked parsing, the cICP chunk, inserting a chunk.

HDR PNGs are 16-bit PQ; their colour description travels in a ``cICP`` chunk (ITU-T
H.273 code points), which Pillow neither reads nor writes, so it is handled here at the
chunk level. The image data itself is coded by imagecodecs or Pillow.

What a cICP chunk may say (:func:`read_cicp`, :func:`cicp_to_pq_bt2020`): primaries
BT.709 (1), BT.2020 (9) or Display P3 (12); transfer PQ (16) or HLG (18, BT.2100's
reference display: 1,000 cd/m2 peak, black 0, system gamma 1.2, through colour-science);
matrix 0 (RGB, the only one PNG allows); full (1) or narrow (0) range (narrow: code
values 4096..60160 of 16 bits, H.273's 16..235 scaled, widened to full range). Anything
else (another transfer such as BT.709's or sRGB's, another primaries code, a YCbCr matrix,
a range flag other than 0 or 1, a chunk that is not 4 bytes) is a one-line error, never
read as full-range BT.2020 PQ.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

from gainmlp.colourspaces import colour_science
from gainmlp.errors import GainMLPError, check_image_size

# ITU-T H.273 code points
CICP_PRIMARIES = {1: "bt709", 9: "bt2020", 12: "p3"}
CICP_PQ = 16
CICP_HLG = 18
CICP_TRANSFERS = {CICP_PQ: "PQ", CICP_HLG: "HLG"}
#: HLG's nominal peak (cd/m2): BT.2100's reference display, also ISO 22028-5's.
HLG_PEAK_NITS = 1000.0


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


def read_cicp(cicp: bytes | None, name: str = "PNG") -> tuple[str, str, bool] | None:
    """(primaries name, ``"PQ"`` or ``"HLG"``, full range) a cICP payload describes, None
    for no chunk; a one-line error for a description gainmlp cannot read (module
    docstring)."""
    if cicp is None:
        return None
    if len(cicp) != 4:
        raise GainMLPError(f"{name}: cICP chunk of {len(cicp)} bytes (must be 4)")
    primaries, transfer, matrix, full = cicp
    if primaries not in CICP_PRIMARIES:
        raise GainMLPError(f"{name}: cICP primaries {primaries} are not supported (1 BT.709, "
                           "9 BT.2020, 12 Display P3)")
    if transfer not in CICP_TRANSFERS:
        raise GainMLPError(f"{name}: cICP transfer {transfer} is not an HDR one gainmlp reads "
                           "(16 PQ, 18 HLG)")
    if matrix != 0:
        raise GainMLPError(f"{name}: cICP matrix {matrix} is not RGB (0), which PNG requires")
    if full not in (0, 1):
        raise GainMLPError(f"{name}: cICP range flag {full} is neither 0 (narrow) nor 1 (full)")
    return CICP_PRIMARIES[primaries], CICP_TRANSFERS[transfer], bool(full)


def cicp_to_pq_bt2020(values: np.ndarray, cicp: tuple[str, str, bool] | None) -> np.ndarray:
    """16-bit code values (as stored) of an image :func:`read_cicp` described, to PQ
    BT.2020 code values float32 in [0, 1] (no cICP: they are full-range PQ BT.2020)."""
    from gainmlp import colorimetry

    v = np.asarray(values).astype(np.float32) / 65535.0
    if cicp is None:
        return v
    primaries, transfer, full = cicp
    if not full:  # narrow range: 16..235 (x 2^8) is black..white
        colour = colour_science()
        v = np.clip(colour.legal_to_full(v, bit_depth=16), 0.0, 1.0).astype(np.float32)
    if transfer == "PQ" and primaries == "bt2020":
        return v
    if transfer == "PQ":
        nits = colorimetry.pq_decode(v)
    else:
        nits = colour_science().models.eotf_BT2100_HLG(v, L_B=0, L_W=HLG_PEAK_NITS)
    return colorimetry.linear_to_pq_bt2020(np.asarray(nits), primaries)
