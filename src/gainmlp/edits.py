"""Crop, rotate, resize and thumbnail HDR photos, keeping the HDR with the same payload.

A gainmlp payload is a function of position in the frame it was fitted on and of the SDR
colour, with a fixed size at any resolution, so an edit does not touch it: the payload
only gains a *view* (header version 2, :mod:`gainmlp.view`): where the edited base's
pixels sit in the original frame. A standard gain map (Ultra HDR, Adobe Gain Map, ISO
21496-1) is a picture of the frame and is edited with the base, as the standard requires:
turned, cropped and resampled, then re-encoded with its own quantisation tables. For the
default container (``ultrahdr+mlp``) both are carried.

The base is re-encoded only as much as the edit needs: a crop whose corner sits on the
JPEG's block grid (iMCU) and a rotation or flip of an image whose size is whole iMCUs are
lossless, through libjpeg-turbo's ``jpegtran`` (Debian ``libjpeg-turbo-progs``; found on
``PATH``, ``GAINMLP_JPEGTRAN=0`` turns it off); anything else (a resize, an unaligned crop,
no jpegtran) decodes the base and encodes it again with the source's own quantisation
tables and chroma subsampling (the loss is measured in docs/edits.md).

Edits act on the image as displayed: a file's EXIF orientation is applied first and the
result is written with orientation 1. EXIF (its dimensions updated; its embedded
thumbnail, which would no longer match, dropped), ICC, IPTC, comments and the photo's own
XMP (gain-map fields replaced, :mod:`gainmlp.container.xmp_merge`) follow the edit.
Apple HDRGainMap photos are refused (re-encode them first with ``gainmlp encode``).
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image

from gainmlp.container.app11 import embed_payload, extract_payload
from gainmlp.container.payload import Payload
from gainmlp.container.segments import (
    APP1,
    EXIF_ID,
    build_segment,
    insert_segments,
    parse_segments,
    remove_segments,
)
from gainmlp.errors import GainMLPError, check_image_size
from gainmlp.view import ROTATIONS, View, crop_view, orient_array

#: jpegtran's option for each EXIF orientation (the transform that displays it).
_JPEGTRAN = {1: [], 2: ["-flip", "horizontal"], 3: ["-rotate", "180"],
             4: ["-flip", "vertical"], 5: ["-transpose"], 6: ["-rotate", "90"],
             7: ["-transverse"], 8: ["-rotate", "270"]}
_EXIF_ORIENTATION = 274
_EXIF_IFD = 0x8769
_PIXEL_X, _PIXEL_Y = 0xA002, 0xA003
#: Largest factor an edit may enlarge an image by.
MAX_UPSCALE = 8.0


@dataclass(frozen=True)
class Edit:
    """One edit of the displayed image: turn it by EXIF ``orientation``, then keep ``box``
    ``(x, y, w, h)`` (pixels of the turned image; None: all), then resize to ``size``
    ``(w, h)`` (None: the box's size). ``thumbnail``: resize as photo libraries make
    thumbnails (Pillow's reducing resize: a box reduction by an integer factor, then
    Lanczos). ``quality``: JPEG quality (1-100) of a base that must be re-encoded; None
    re-encodes with the source's own quantisation tables."""

    orientation: int = 1
    box: tuple[int, int, int, int] | None = None
    size: tuple[int, int] | None = None
    thumbnail: bool = False
    quality: int | None = None


@dataclass
class EditReport:
    """What an edit did: the output size, whether the base was re-encoded (False: a
    lossless jpegtran transform) and the parts carried."""

    width: int
    height: int
    base_reencoded: bool
    payload: bool
    gain_map: bool
    payload_bytes: int = 0


def jpegtran_path() -> str | None:
    """The jpegtran executable used for lossless edits, or None (not installed, or
    ``GAINMLP_JPEGTRAN=0``)."""
    if os.environ.get("GAINMLP_JPEGTRAN", "1") == "0":
        return None
    return shutil.which("jpegtran")


# ------------------------------------------------------------------ the public edits


def snap_box(data: bytes, box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    """``box`` (x, y, w, h, of the displayed image) with its top-left corner moved up and
    left onto the base's JPEG block grid (iMCU) and grown to still cover the box, as
    ``jpegtran -crop`` does: a crop that can be lossless."""
    from gainmlp.container.photo import strip_gain_map

    turn = View(orientation=_exif_orientation(data)).orientation
    mx, my = _imcu(strip_gain_map(data), View(orientation=turn).swapped)
    x, y, w, h = box
    x2, y2 = x - x % mx, y - y % my
    return x2, y2, w + x - x2, h + y - y2


def crop(data: bytes, box: tuple[int, int, int, int], name: str = "photo") -> bytes:
    """The photo cropped to ``box`` = (x, y, width, height) in pixels of the displayed
    image."""
    return edit_jpeg(data, Edit(box=tuple(int(v) for v in box)), name)[0]


def rotate(data: bytes, degrees: int, name: str = "photo") -> bytes:
    """The photo rotated clockwise by ``degrees`` (90, 180 or 270)."""
    if degrees not in (90, 180, 270):
        raise GainMLPError(f"rotation must be 90, 180 or 270 degrees, not {degrees}")
    return edit_jpeg(data, Edit(orientation=ROTATIONS[degrees]), name)[0]


def resize(data: bytes, *, long_side: int | None = None, scale: float | None = None,
           name: str = "photo") -> bytes:
    """The photo resized to ``long_side`` pixels on its longer side, or by ``scale``."""
    width, height = displayed_size(data, name)
    return edit_jpeg(data, Edit(size=target_size(width, height, long_side, scale)), name)[0]


def thumbnail(data: bytes, long_side: int, name: str = "photo") -> bytes:
    """A thumbnail at most ``long_side`` pixels on its longer side (never enlarged)."""
    width, height = displayed_size(data, name)
    long_side = min(int(long_side), max(width, height))
    size = target_size(width, height, long_side, None)
    return edit_jpeg(data, Edit(size=size, thumbnail=True), name)[0]


def target_size(width: int, height: int, long_side: int | None, scale: float | None
                ) -> tuple[int, int]:
    """(w, h) of a ``width x height`` image resized to ``long_side`` or by ``scale``
    (exactly one of them), each side rounded and at least 1."""
    if (long_side is None) == (scale is None):
        raise GainMLPError("give exactly one of --long-side and --scale")
    if long_side is not None:
        if long_side < 1:
            raise GainMLPError(f"--long-side must be at least 1, not {long_side}")
        scale = long_side / max(width, height)
    if not (np.isfinite(scale) and 0 < scale <= MAX_UPSCALE):
        raise GainMLPError(f"scale {scale} is outside (0, {MAX_UPSCALE}]")
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    if long_side is not None:  # the long side exactly as asked
        size = (long_side, size[1]) if width >= height else (size[0], long_side)
    check_image_size(*size, "edited image")
    return size


def displayed_size(data: bytes, name: str = "photo") -> tuple[int, int]:
    """(width, height) of a JPEG's primary image as displayed (EXIF orientation applied)."""
    width, height = _jpeg_size(data, name)
    swap = View(orientation=_exif_orientation(data)).swapped
    return (height, width) if swap else (width, height)


def edit_hdr(hdr_pq: np.ndarray, edit: Edit, exif_orientation: int = 1,
             linear: bool = True) -> np.ndarray:
    """The same edit applied to an HDR image (PQ BT.2020 float32 ``(H, W, 3)`` over the
    stored base's frame): turned, cropped, and resampled with the base's filter (Lanczos
    per channel; box reduction first for a thumbnail) in linear light (``linear``, then
    back to PQ) or on the PQ code values themselves (as the base is resampled on its
    gamma-encoded values). The reference the edited file's HDR is measured against
    (docs/edits.md)."""
    from gainmlp.colorimetry import linear_to_pq_bt2020, pq_bt2020_to_linear

    turn = View(orientation=exif_orientation).then(View(orientation=edit.orientation))
    turned = orient_array(np.asarray(hdr_pq, dtype=np.float32), turn.orientation)
    dh, dw = turned.shape[:2]
    x, y, w, h = edit.box or (0, 0, dw, dh)
    size = edit.size or (w, h)
    if size == (w, h):
        return np.ascontiguousarray(turned[y:y + h, x:x + w])
    values = pq_bt2020_to_linear(turned) if linear else turned
    out = np.empty((size[1], size[0], 3), dtype=np.float32)
    for c in range(3):
        img = Image.fromarray(np.ascontiguousarray(values[:, :, c], dtype=np.float32), "F")
        extra = {"reducing_gap": 2.0} if edit.thumbnail else {}
        out[:, :, c] = np.asarray(img.resize(size, Image.Resampling.LANCZOS,
                                             box=(x, y, x + w, y + h), **extra))
    if not linear:
        return np.clip(out, 0.0, 1.0)
    return linear_to_pq_bt2020(np.maximum(out, 0.0)).astype(np.float32)


# ------------------------------------------------------------------ the pipeline


def edit_jpeg(data: bytes, edit: Edit, name: str = "photo") -> tuple[bytes, EditReport]:
    """Apply ``edit`` to a gainmlp JPEG or a standard gain-map JPEG.

    Returns the new file and an :class:`EditReport`. Raises :class:`GainMLPError` for a
    file that carries neither a payload nor a gain map, an Apple gain map, a box outside
    the image or a size over the limits (before anything large is allocated).
    """
    from gainmlp.container import gainmap_jpeg
    from gainmlp.container.photo import primary_xmp_of, strip_gain_map

    data = bytes(data)
    if data[:2] != b"\xff\xd8":
        raise GainMLPError(f"{name}: not a JPEG")
    raw_payload = extract_payload(data)
    is_map = gainmap_jpeg.is_gainmap_jpeg(data)
    if raw_payload is None and not is_map:
        raise GainMLPError(f"{name}: JPEG carries neither a gainmlp payload nor a gain map")
    payload = Payload.from_bytes(raw_payload) if raw_payload is not None else None
    width, height = _jpeg_size(data, name)
    turn = View(orientation=_exif_orientation(data)).then(
        View(orientation=edit.orientation)).orientation
    dw, dh = (height, width) if View(orientation=turn).swapped else (width, height)
    box = edit.box or (0, 0, dw, dh)
    crop_v = crop_view(*box, dw, dh)
    out_w, out_h = edit.size or box[2:]
    check_image_size(out_w, out_h, "edited image")
    if out_w > MAX_UPSCALE * box[2] or out_h > MAX_UPSCALE * box[3]:
        raise GainMLPError(f"{out_w}x{out_h} enlarges the image more than {MAX_UPSCALE:g} times")
    from gainmlp.memory import check_memory

    check_memory("decode", width * height + out_w * out_h)  # the base in and out, refused first

    primary = strip_gain_map(data)
    primary_xml = primary_xmp_of(data)
    base, reencoded = _edit_base(primary, turn, box, (out_w, out_h), edit, name)
    base = _patch_exif(base, out_w, out_h)

    body = None
    if payload is not None:
        view = (payload.view or View()).then(View(orientation=turn).then(crop_v))
        frame = payload.frame_size
        if view.is_identity and (out_w, out_h) == frame:
            new = replace(payload, width=out_w, height=out_h, view=None, original_size=None)
        else:
            new = replace(payload, width=out_w, height=out_h, view=view, original_size=frame)
        body = new.to_bytes()
    if is_map:
        from gainmlp.container.gainmap_writer import assemble_gainmap_jpeg

        gm = gainmap_jpeg.read_gainmap_jpeg(data)
        if gm.flavour == "apple":
            raise GainMLPError(f"{name}: Apple HDRGainMap photos are not edited (re-encode "
                               "first: gainmlp encode PHOTO.jpg -o OUT.jpg)")
        map_jpeg = _edit_map(data, gm.gain_map, turn, box, (dw, dh), (out_w, out_h), edit)
        out = assemble_gainmap_jpeg(base, map_jpeg, gm.metadata, body, primary_xml)
    else:
        from gainmlp.container.gainmap_writer import with_primary_xmp

        out = embed_payload(with_primary_xmp(base, primary_xml), body)
    report = EditReport(out_w, out_h, reencoded, body is not None, is_map,
                        len(body) if body else 0)
    return out, report


def _jpeg_size(data: bytes, name: str) -> tuple[int, int]:
    try:
        with Image.open(io.BytesIO(data), formats=["JPEG", "MPO"]) as im:
            return im.size
    except Exception as exc:  # noqa: BLE001 - Pillow raises many types on corrupt data
        raise GainMLPError(f"{name}: cannot read the JPEG header: {exc}") from None


def _exif_orientation(data: bytes) -> int:
    exif = _read_exif(data)
    value = exif.get(_EXIF_ORIENTATION, 1) if exif is not None else 1
    return value if value in range(1, 9) else 1


def _read_exif(data: bytes) -> Image.Exif | None:
    for seg in parse_segments(data):
        if seg.startswith(APP1, EXIF_ID):
            exif = Image.Exif()
            try:
                exif.load(seg.payload[len(EXIF_ID):])
            except Exception:  # noqa: BLE001 - a corrupt EXIF block is left as it is
                return None
            return exif
    return None


def _patch_exif(jpeg: bytes, width: int, height: int) -> bytes:
    """The JPEG with its EXIF describing the edited image: orientation 1, the new pixel
    dimensions; rewritten by Pillow, which drops the stale embedded thumbnail."""
    exif = _read_exif(jpeg)
    if exif is None:
        return jpeg
    if _EXIF_ORIENTATION in exif:
        exif[_EXIF_ORIENTATION] = 1
    sub = exif.get_ifd(_EXIF_IFD)
    if _PIXEL_X in sub:
        sub[_PIXEL_X] = width
    if _PIXEL_Y in sub:
        sub[_PIXEL_Y] = height
    segment = build_segment(APP1, EXIF_ID + exif.tobytes())
    stripped = remove_segments(jpeg, lambda seg: seg.startswith(APP1, EXIF_ID))
    return insert_segments(stripped, [segment])


def _imcu(jpeg: bytes, swap: bool) -> tuple[int, int]:
    """(width, height) of the JPEG's iMCU in pixels, of the turned image when ``swap``."""
    for seg in parse_segments(jpeg):
        if seg.marker in (0xC0, 0xC1, 0xC2) and len(seg.payload) >= 6:
            n = seg.payload[5]
            factors = [seg.payload[6 + 3 * i + 1] for i in range(n)
                       if len(seg.payload) >= 9 + 3 * i]
            h = 8 * max((f >> 4 for f in factors), default=1)
            v = 8 * max((f & 15 for f in factors), default=1)
            return (v, h) if swap else (h, v)
    return (16, 16)


def _lossless(jpeg: bytes, turn: int, box: tuple[int, int, int, int]) -> bytes | None:
    """The base turned and cropped by jpegtran without re-encoding, or None when the block
    grid does not allow it (or jpegtran is not there)."""
    tool = jpegtran_path()
    if tool is None:
        return None
    mx, my = _imcu(jpeg, View(orientation=turn).swapped)
    x, y, w, h = box
    if x % mx or y % my:
        return None
    args = [tool, "-copy", "all", "-perfect", *_JPEGTRAN[turn], "-crop", f"{w}x{h}+{x}+{y}"]
    try:
        done = subprocess.run(args, input=jpeg, capture_output=True, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0 or done.stdout[:2] != b"\xff\xd8":
        return None
    with Image.open(io.BytesIO(done.stdout)) as im:
        if im.size != (w, h):
            return None
    return done.stdout


def _source_tables(jpeg: bytes) -> dict:
    """Pillow save options that re-encode like ``jpeg``: its quantisation tables and
    chroma subsampling."""
    from PIL import JpegImagePlugin

    with Image.open(io.BytesIO(jpeg)) as im:
        options = {"qtables": im.quantization} if getattr(im, "quantization", None) else {
            "quality": 90}
        if im.mode != "L":
            sampling = JpegImagePlugin.get_sampling(im)
            if sampling >= 0:
                options["subsampling"] = sampling
    return options


def _resample(pixels: np.ndarray, box: tuple[float, float, float, float], size: tuple[int, int],
              thumb: bool, resample=Image.Resampling.LANCZOS) -> np.ndarray:
    """``pixels`` (8-bit, 2-D or RGB) over ``box`` resized to ``size`` with Pillow."""
    img = Image.fromarray(np.ascontiguousarray(pixels))
    full = box == (0, 0, img.width, img.height)
    if full and size == img.size:
        return np.asarray(img)
    if thumb:
        return np.asarray(img.resize(size, resample, box=box, reducing_gap=2.0))
    return np.asarray(img.resize(size, resample, box=box))


def _edit_base(primary: bytes, turn: int, box: tuple[int, int, int, int],
               size: tuple[int, int], edit: Edit, name: str) -> tuple[bytes, bool]:
    """(the edited base JPEG, whether it was re-encoded)."""
    from gainmlp.io.jpeg import decode_jpeg

    if size == (box[2], box[3]):
        done = _lossless(primary, turn, box)
        if done is not None:
            return done, False
    pixels, _mode = decode_jpeg(primary, f"{name} base image")
    x, y, w, h = box
    turned = orient_array(pixels, turn)
    out = _resample(turned, (x, y, x + w, y + h), size, edit.thumbnail)
    img = Image.fromarray(np.ascontiguousarray(out))
    buf = io.BytesIO()
    options = _source_tables(primary)
    if edit.quality is not None:
        if not 1 <= edit.quality <= 100:
            raise GainMLPError(f"JPEG quality {edit.quality} is outside 1..100")
        options.pop("qtables", None)
        options["quality"] = int(edit.quality)
    img.save(buf, "JPEG", **options)
    # the source's metadata segments (EXIF, ICC, IPTC, comments; not JFIF or Adobe APP14,
    # which describe the old coding) go into the new JPEG
    keep = [primary[s.offset:s.end] for s in parse_segments(primary)
            if (0xE1 <= s.marker <= 0xEF and s.marker != 0xEE) or s.marker == 0xFE]
    return insert_segments(buf.getvalue(), keep), True


def _edit_map(data: bytes, gain_map: np.ndarray, turn: int, box: tuple[int, int, int, int],
              displayed: tuple[int, int], size: tuple[int, int], edit: Edit) -> bytes:
    """The standard gain map turned, cropped and resampled with the base (the map covers
    the base's frame at its own resolution), as a JPEG with the source map's tables."""
    from gainmlp.container.mpf import mpf_image_ranges

    turned = orient_array(gain_map, turn)
    mh, mw = turned.shape[:2]
    sx, sy = mw / displayed[0], mh / displayed[1]
    x, y, w, h = box
    mbox = (x * sx, y * sy, (x + w) * sx, (y + h) * sy)
    msize = (max(1, round(size[0] * sx)), max(1, round(size[1] * sy)))
    out = _resample(turned, mbox, msize, edit.thumbnail, Image.Resampling.BICUBIC)
    options = {"quality": 85}
    try:
        ranges = mpf_image_ranges(data) or []
        if len(ranges) > 1:
            options = _source_tables(data[ranges[1][0]:ranges[1][1]])
    except GainMLPError:
        pass
    if out.ndim == 3:
        options["subsampling"] = 0  # an RGB map's channels are independent
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(out)).save(buf, "JPEG", **options)
    return buf.getvalue()


__all__ = ["Edit", "EditReport", "crop", "displayed_size", "edit_hdr", "edit_jpeg", "jpegtran_path",
           "snap_box",
           "resize", "rotate", "target_size", "thumbnail"]
