"""Apple HDR gain maps (iPhone JPEGs): the ``HDRGainMap`` XMP, the headroom, the rendering.

Layout (what libavif >= 1.4 and libultrahdr >= 1.5 read; the dev folder's
``apple_gainmap_{old,new}.jpg``): the primary JPEG carries EXIF, with Apple's maker note,
and an MPF index; its second image is the gain map, an 8-bit single-channel JPEG at a
fraction of the resolution, whose XMP has ``apdi:AuxiliaryImageType`` =
``urn:com:apple:photo:2020:aux:hdrgainmap`` and, in the ``HDRGainMap`` namespace
(``http://ns.apple.com/HDRGainMap/1.0/``), ``HDRGainMapVersion`` and, in newer files
(version 131072 = 0x20000 and up), ``HDRGainMapHeadroom``. There is no ``hdrgm`` XMP and no
ISO 21496-1 record.

Headroom ``H`` (HDR peak over SDR white, linear), first found of:

1. ``HDRGainMapHeadroom`` in the gain map's XMP;
2. tags 33 and 48 of Apple's maker note (EXIF tag 0x927C of the primary image: ``Apple
   iOS\\0``, a 2-byte version, ``MM``/``II``, then a TIFF directory whose offsets count
   from the note's first byte), through the formula of Apple's "Applying Apple HDR effect
   to your photos": with ``m33``, ``m48`` the two values, stops =
   ``-20 m48 + 1.8`` (m33 < 1, m48 <= 0.01), ``-0.101 m48 + 1.601`` (m33 < 1),
   ``-70 m48 + 3`` (m33 >= 1, m48 <= 0.01), ``-0.303 m48 + 2.303`` (otherwise), and
   ``H = 2 ** max(stops, 0)``;
3. neither: :data:`DEFAULT_MAKER33`, :data:`DEFAULT_MAKER48` in that formula (the weakest
   reconstruction, as hdrview falls back to), with a warning.

Rendering, as Apple documents it: the map holds linear data encoded with the Rec.709
transfer function; with ``g`` its linear value (inverse BT.709 OETF) and the base
linearised, ``hdr = base * (1 + (H - 1) * g)``. Sources and how other readers differ:
``docs/gainmaps.md``.
"""

from __future__ import annotations

import math
import re
import struct
from dataclasses import dataclass
from functools import cache

import numpy as np

from gainmlp.errors import GainMLPError
from gainmlp.iso_gainmap import GainMapMetadata
from gainmlp.resample import upsample_bilinear

APPLE_GAINMAP_NS = "http://ns.apple.com/HDRGainMap/1.0/"
APPLE_AUX_TYPE = "urn:com:apple:photo:2020:aux:hdrgainmap"
MAKER_NOTE_ID = b"Apple iOS\x00"
HEADROOM_VERSION = 0x20000  # HDRGainMapVersion from which the XMP carries the headroom
DEFAULT_MAKER33, DEFAULT_MAKER48 = 0.0, 8.0
MAX_XMP_CHARS = 1 << 20
_EXIF_MAKER_NOTE = 0x927C
_EXIF_IFD = 0x8769
_MAX_ENTRIES = 4096


@dataclass(frozen=True)
class AppleGainMap:
    """Apple gain-map parameters: ``headroom`` (linear, >= 1), where it came from
    (``"xmp"``, ``"maker-note"`` or ``"default"``), and ``HDRGainMapVersion``."""

    version: int
    headroom: float
    source: str

    def metadata(self) -> GainMapMetadata:
        """An ISO 21496-1 description of the map's range, as libavif converts Apple maps
        (min 0, max log2 H, gamma 1, offsets 0, headrooms 0 and log2 H). Only a summary:
        rendering follows Apple's formula (:func:`apply_apple_gain_map`), not this."""
        stops = math.log2(self.headroom)
        return GainMapMetadata(gain_map_min=0.0, gain_map_max=stops, gamma=1.0,
                               offset_sdr=0.0, offset_hdr=0.0, hdr_capacity_min=0.0,
                               hdr_capacity_max=stops)


# --------------------------------------------------------------------------- XMP


def _prefix(xml: str) -> str | None:
    m = re.search(
        r"xmlns:([A-Za-z_][\w.-]{0,64})\s{0,16}=\s{0,16}[\"']" + re.escape(APPLE_GAINMAP_NS)
        + r"[\"']", xml)
    return m.group(1) if m else None


def _property(xml: str, prefix: str, name: str) -> str | None:
    """A simple property as an attribute or an element; bounded patterns (linear time)."""
    p = re.escape(prefix)
    m = re.search(rf"\b{p}:{name}\s{{0,16}}=\s{{0,16}}(?:\"([^\"<]{{0,64}})\"|'([^'<]{{0,64}})')",
                  xml)
    if m:
        return (m.group(1) if m.group(1) is not None else m.group(2)).strip()
    m = re.search(rf"<{p}:{name}(?:\s[^<>]{{0,512}})?>([^<]{{0,64}})</{p}:{name}\s{{0,16}}>", xml)
    return m.group(1).strip() if m else None


def parse_apple_xmp(xml: str) -> tuple[int, float | None] | None:
    """(``HDRGainMapVersion``, ``HDRGainMapHeadroom`` or None) of a gain map's XMP packet;
    None when the packet does not declare an Apple gain map (no ``HDRGainMapVersion``).

    Raises :class:`GainMLPError` for a version or headroom that is not a number, or a
    headroom that is not finite or below 1.
    """
    xml = xml[:MAX_XMP_CHARS]
    prefix = _prefix(xml)
    if prefix is None:
        return None
    version_text = _property(xml, prefix, "HDRGainMapVersion")
    if version_text is None:
        return None
    try:
        version = int(version_text)
    except ValueError:
        raise GainMLPError(f"Apple HDRGainMapVersion is not an integer: {version_text!r}") from None
    text = _property(xml, prefix, "HDRGainMapHeadroom")
    if text is None:
        return version, None
    try:
        headroom = float(text)
    except ValueError:
        raise GainMLPError(f"Apple HDRGainMapHeadroom is not a number: {text!r}") from None
    if not math.isfinite(headroom) or headroom < 1.0:
        raise GainMLPError(f"Apple HDRGainMapHeadroom {headroom} must be a finite number >= 1")
    return version, headroom


# --------------------------------------------------------------------------- maker note


def maker_note(exif_payload: bytes) -> bytes | None:
    """The maker note (EXIF tag 0x927C) of an EXIF APP1 payload (``Exif\\0\\0`` + TIFF),
    through Pillow's EXIF reader; None when absent or the EXIF is unreadable."""
    import warnings

    from PIL import Image

    exif = Image.Exif()
    try:
        with warnings.catch_warnings():  # Pillow warns on corrupt EXIF: None says enough
            warnings.simplefilter("ignore")
            exif.load(exif_payload)
            note = exif.get_ifd(_EXIF_IFD).get(_EXIF_MAKER_NOTE)
    except Exception:  # noqa: BLE001 - Pillow raises several types on hostile EXIF
        return None
    return note if isinstance(note, bytes) else None


_TYPES = {5: ("II", 8), 10: ("ii", 8), 11: ("f", 4), 12: ("d", 8)}  # rational, float, double


def maker_note_values(note: bytes, tags: tuple[int, ...] = (33, 48)) -> dict[int, float]:
    """Numeric values of ``tags`` in an Apple maker note (single RATIONAL, SRATIONAL,
    FLOAT or DOUBLE entries); tags that are absent, of another type or out of bounds
    are left out. Never raises on malformed notes."""
    if len(note) < 16 or not note.startswith(MAKER_NOTE_ID):
        return {}
    order = {b"MM": ">", b"II": "<"}.get(note[12:14])
    if order is None:
        return {}
    (count,) = struct.unpack_from(order + "H", note, 14)
    out: dict[int, float] = {}
    for k in range(min(count, _MAX_ENTRIES)):
        pos = 16 + 12 * k
        if pos + 12 > len(note):
            break
        tag, typ, n = struct.unpack_from(order + "HHI", note, pos)
        if tag not in tags or n != 1 or typ not in _TYPES:
            continue
        fmt, size = _TYPES[typ]
        at = pos + 8 if size <= 4 else struct.unpack_from(order + "I", note, pos + 8)[0]
        if at + size > len(note):
            continue
        vals = struct.unpack_from(order + fmt, note, at)
        if len(vals) == 2:
            if vals[1] == 0:
                continue
            value = vals[0] / vals[1]
        else:
            value = float(vals[0])
        if math.isfinite(value):
            out[tag] = value
    return out


def headroom_from_maker_note(maker33: float, maker48: float) -> float:
    """Apple's headroom (linear) from maker-note tags 33 and 48 (formula in the module
    docstring)."""
    if maker33 < 1.0:
        stops = -20.0 * maker48 + 1.8 if maker48 <= 0.01 else -0.101 * maker48 + 1.601
    else:
        stops = -70.0 * maker48 + 3.0 if maker48 <= 0.01 else -0.303 * maker48 + 2.303
    return float(2.0 ** max(stops, 0.0))


def read_apple_gain_map(gain_map_xmp: str, exif_payload: bytes | None,
                        notes: list[str]) -> AppleGainMap | None:
    """The Apple gain map a gain-map image's XMP declares, its headroom resolved (XMP,
    then the primary image's maker note, then the default, with a note); None when the
    XMP declares none."""
    parsed = parse_apple_xmp(gain_map_xmp)
    if parsed is None:
        return None
    version, headroom = parsed
    if headroom is not None:
        return AppleGainMap(version, headroom, "xmp")
    note = maker_note(exif_payload) if exif_payload else None
    values = maker_note_values(note) if note else {}
    if 33 in values and 48 in values:
        return AppleGainMap(version, headroom_from_maker_note(values[33], values[48]),
                            "maker-note")
    default = headroom_from_maker_note(DEFAULT_MAKER33, DEFAULT_MAKER48)
    notes.append(f"Apple gain map without a headroom (no HDRGainMapHeadroom, no maker-note "
                 f"tags 33 and 48); using {default:.3f} ({math.log2(default):.3f} stops, the "
                 "weakest Apple reconstruction)")
    return AppleGainMap(version, default, "default")


# --------------------------------------------------------------------------- rendering


@cache
def map_lut() -> np.ndarray:
    """Linear value of each 8-bit map code: the inverse BT.709 OETF (colour-science's)."""
    from gainmlp.colourspaces import oetf_inverse_BT709

    codes = np.arange(256, dtype=np.float64) / 255.0
    return np.asarray(oetf_inverse_BT709(codes), dtype=np.float32)


def apply_apple_gain_map(base_linear: np.ndarray, gain_map_u8: np.ndarray, headroom: float,
                         weight: float = 1.0) -> np.ndarray:
    """``base * (1 + (H - 1) * g)``, float32 (H, W, 3), relative to SDR white.

    ``gain_map_u8`` is the stored map, (h, w) or (h, w, 3) uint8 at any size (its linear
    values are bilinearly upsampled). ``weight`` in [0, 1] scales the headroom in stops
    (``H ** weight``; 1 = the full HDR rendition, 0 = the base).
    """
    base = np.asarray(base_linear, dtype=np.float32)
    if base.ndim != 3 or base.shape[2] != 3:
        raise GainMLPError(f"base image must be (H, W, 3), got {base.shape}")
    if not (math.isfinite(headroom) and headroom >= 1.0 and math.isfinite(weight)):
        raise GainMLPError(f"Apple gain-map headroom {headroom} must be a finite number >= 1")
    g = np.asarray(gain_map_u8)
    if g.dtype != np.uint8 or g.ndim not in (2, 3) or (g.ndim == 3 and g.shape[2] != 3):
        raise GainMLPError(f"Apple gain map must be (h, w) or (h, w, 3) uint8, got {g.shape}")
    boost = float(headroom) ** min(max(float(weight), 0.0), 1.0) - 1.0
    from gainmlp import kernels

    if kernels.compiled():  # one fused pass, the same values (kernels/gainmap.py)
        from gainmlp.kernels.gainmap import render_gain_map

        return render_gain_map(base, g, map_lut(), apple_boost=boost)
    lin = upsample_bilinear(map_lut()[g], base.shape[0], base.shape[1])
    if lin.ndim == 2:
        lin = lin[:, :, None]
    with np.errstate(over="ignore", invalid="ignore"):
        out = base * (np.float32(1.0) + np.float32(boost) * lin)
    if not np.isfinite(out).all():  # an absurd headroom overflows float32: saturate
        np.nan_to_num(out, copy=False, nan=0.0, posinf=np.finfo(np.float32).max)
    return out


__all__ = ["APPLE_AUX_TYPE", "APPLE_GAINMAP_NS", "AppleGainMap", "apply_apple_gain_map",
           "headroom_from_maker_note", "maker_note", "maker_note_values", "parse_apple_xmp",
           "read_apple_gain_map"]
