"""ICC profiles in JPEG: reassembling APP2 chunks, naming the primaries, writing one.

This is the one place gainmlp interprets an ICC profile. :func:`identify_icc` names the
primaries a profile declares, from its colorant tags first and its description second;
the gain-map reader (:func:`detect_icc_primaries`) and the SDR reader
(:func:`gainmlp.io.sdr.encoding_from_icc`) both go through it, so they cannot disagree.
:func:`make_icc_profile` writes the minimal display profile our Ultra HDR bases carry.
"""

from __future__ import annotations

import io
import math
import struct
from functools import cache

import numpy as np

from gainmlp.colorimetry import PRIMARIES, sdr_eotf
from gainmlp.colourspaces import COLOURSPACES
from gainmlp.container.segments import APP2, Segment
from gainmlp.errors import GainMLPError

ICC_ID = b"ICC_PROFILE\x00"
_D50 = np.array([0.9642, 1.0, 0.8249])
_COLORANT_TOLERANCE = 0.03  # summed |xy| distance of the three colorants


def read_icc(segments: list[Segment]) -> bytes | None:
    """Reassemble the ICC profile from ``ICC_PROFILE`` APP2 segments; None if absent."""
    chunks: dict[int, bytes] = {}
    count = -1
    for seg in segments:
        if not seg.startswith(APP2, ICC_ID) or len(seg.payload) < len(ICC_ID) + 2:
            continue
        seq, n = seg.payload[len(ICC_ID)], seg.payload[len(ICC_ID) + 1]
        if count < 0:
            count = n
        if n != count or not (1 <= seq <= n) or seq in chunks:
            raise GainMLPError("ICC profile segments are inconsistent")
        chunks[seq] = seg.payload[len(ICC_ID) + 2 :]
    if not chunks:
        return None
    if len(chunks) != count:
        raise GainMLPError(f"ICC profile has {len(chunks)} of {count} segments")
    return b"".join(chunks[i] for i in range(1, count + 1))


# --------------------------------------------------------------------------- reading


def _d50_matrix(primaries: str) -> np.ndarray:
    """RGB -> XYZ of ``primaries`` adapted to D50 (Bradford), as ICC colorants are stored."""
    return np.array(COLOURSPACES[primaries].rgb_to_xyz_d50)  # colour-science's Bradford CAT


@cache
def _colorant_xy(primaries: str) -> np.ndarray:
    """Chromaticities of the D50-adapted colorants, as an ICC profile has them."""
    cols = _d50_matrix(primaries).T  # rows: R, G, B colorant XYZ
    return cols[:, :2] / cols.sum(axis=1, keepdims=True)


def _primaries_from_colorants(profile: object) -> str | None:
    """sRGB, Display P3 or BT.2020 when the rXYZ/gXYZ/bXYZ tags match one; else None."""
    try:
        cols = [profile.red_colorant, profile.green_colorant, profile.blue_colorant]
    except Exception:  # noqa: BLE001 - an unreadable tag means "unknown"
        return None
    if any(c is None for c in cols):
        return None
    xyz = np.array([c[0] for c in cols], dtype=np.float64)
    sums = xyz.sum(axis=1, keepdims=True)
    if not (np.all(np.isfinite(xyz)) and np.all(sums > 0)):
        return None
    xy = xyz[:, :2] / sums
    best, dist = None, math.inf
    for name in ("srgb", "p3", "bt2020"):
        d = float(np.abs(_colorant_xy(name) - xy).sum())
        if d < dist:
            best, dist = name, d
    return best if dist < _COLORANT_TOLERANCE else None


def _primaries_from_description(desc: str) -> str | None:
    if "p3" in desc:
        return "p3"
    if "2020" in desc or "2100" in desc:
        return "bt2020"
    if "srgb" in desc or "iec61966" in desc:
        return "srgb"
    if "709" in desc:
        return "bt709"
    return None


def identify_icc(icc: bytes) -> tuple[str | None, str]:
    """(primaries, lower-case description) of an ICC profile.

    The primaries are ``"srgb"``, ``"p3"``, ``"bt2020"`` or ``"bt709"``, or None when the
    profile declares none of them. The colorant tags decide when they match sRGB, Display
    P3 or BT.2020; as sRGB and BT.709 share primaries, a description naming BT.709 turns
    an sRGB match into ``"bt709"``. Without usable colorants the description decides
    ("p3", then "2020"/"2100", then "srgb"/"iec61966", then "709"). Raises
    :class:`GainMLPError` when the profile cannot be read.
    """
    from PIL import ImageCms

    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        desc = ImageCms.getProfileDescription(profile).lower()
    except Exception as exc:  # noqa: BLE001 - Pillow raises several types on bad profiles
        raise GainMLPError("ICC profile is unreadable") from exc
    named = _primaries_from_description(desc)
    measured = _primaries_from_colorants(profile.profile)
    if measured == "srgb" and named == "bt709":
        return "bt709", desc
    return measured or named, desc


def detect_icc_primaries(icc: bytes | None) -> str:
    """``"srgb"``, ``"p3"`` or ``"bt2020"`` from an ICC profile; ``"srgb"`` by default.

    What a gain-map reader needs: the base's gamut (BT.709 is sRGB's), sRGB when there is
    no profile or it is unreadable or unknown.
    """
    if not icc:
        return "srgb"
    try:
        primaries, _ = identify_icc(icc)
    except GainMLPError:
        return "srgb"
    return primaries if primaries in ("p3", "bt2020") else "srgb"


# --------------------------------------------------------------------------- writing


def _s15(v: float) -> bytes:
    return struct.pack(">i", int(round(v * 65536)))


def make_icc_profile(primaries: str = "p3", description: str | None = None) -> bytes:
    """A minimal ICC v2 display profile: sRGB transfer curve, the given primaries, D65.

    Enough for viewers (and libultrahdr) to recognise sRGB, Display P3 or BT.2020 bases.
    """
    if primaries not in PRIMARIES:
        raise GainMLPError(f"unknown primaries {primaries!r}")
    desc = (
        description
        or {
            "srgb": "sRGB",
            "bt709": "sRGB",
            "p3": "Display P3",
            "bt2020": "Rec. 2020 (sRGB curve)",
        }[primaries]
    )
    m = _d50_matrix(primaries)

    def xyz_tag(v: np.ndarray) -> bytes:
        return b"XYZ \x00\x00\x00\x00" + b"".join(_s15(float(x)) for x in v)

    d = desc.encode("ascii", "replace") + b"\x00"
    desc_tag = b"desc\x00\x00\x00\x00" + struct.pack(">I", len(d)) + d
    desc_tag += b"\x00" * 8 + b"\x00" * 3 + b"\x00" * 67  # unicode + scriptcode parts
    curve = np.round(sdr_eotf(np.linspace(0, 1, 1024), "srgb") * 65535).astype(">u2")
    trc = b"curv\x00\x00\x00\x00" + struct.pack(">I", curve.size) + curve.tobytes()
    cprt = b"text\x00\x00\x00\x00" + b"No copyright, use freely\x00"
    tags = [
        (b"desc", desc_tag),
        (b"cprt", cprt),
        (b"wtpt", xyz_tag(_D50)),
        (b"rXYZ", xyz_tag(m[:, 0])),
        (b"gXYZ", xyz_tag(m[:, 1])),
        (b"bXYZ", xyz_tag(m[:, 2])),
        (b"rTRC", trc),
        (b"gTRC", trc),
        (b"bTRC", trc),
    ]
    table = bytearray(struct.pack(">I", len(tags)))
    blobs = bytearray()
    offset = 128 + 4 + 12 * len(tags)
    seen: dict[bytes, int] = {}
    for sig, blob in tags:
        if blob not in seen:
            while len(blobs) % 4:
                blobs += b"\x00"
            seen[blob] = offset + len(blobs)
            blobs += blob
        table += sig + struct.pack(">II", seen[blob], len(blob))
    body = bytes(table) + bytes(blobs)
    size = 128 + len(body)
    header = bytearray(128)
    struct.pack_into(">I", header, 0, size)
    header[8:12] = bytes((2, 0x10, 0, 0))
    header[12:16] = b"mntr"
    header[16:20] = b"RGB "
    header[20:24] = b"XYZ "
    struct.pack_into(">6H", header, 24, 2024, 1, 1, 0, 0, 0)
    header[36:40] = b"acsp"
    header[68:80] = b"".join(_s15(float(x)) for x in _D50)
    return bytes(header) + body
