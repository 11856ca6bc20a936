"""Fuzz targets: every reader a user's file reaches, through gainmlp's own entry points.

Each target is a function ``bytes -> None`` that feeds the input to one family of readers
and lets only :class:`~gainmlp.errors.GainMLPError` (the one-line error the CLI prints)
through. Anything else it raises is a crash: another exception type, or an
``AssertionError`` from an output check (decoded HDR must be finite, in [0, 1] and of the
image's size). Warnings are allowed. The work per input is bounded: decoders run on a
40x28 SDR (the size of the payload fixtures), and a payload is decoded only when it
declares at most 64x64 pixels.

Targets whose first input byte is a *selector* (``body-*``, ``map-image``) pick the method
or image format from it (``choices[data[0] % len(choices)]``) and read the rest.
Readers that take a path (HDR PNG/TIFF, EXR, Radiance, ``image_pixels``) get the input
written to a file in a private temporary folder.

The command line's argument layer and the writers have their own targets in
``fuzz/targets_out.py`` (``cli-args``, ``writers``, ``hdr-out``), registered here.

This module needs no fuzzer: ``fuzz/run.py`` drives it under atheris, and
``tests/test_fuzz_targets.py`` runs every target once on every seed of ``fuzz/corpus.py``.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

# Everything a target reaches is imported here, at module level, so that the fuzzer's
# instrumentation (atheris.instrument_imports) sees it before the first input.
import gainmlp.codecs.conventional
import gainmlp.codecs.map_image
import gainmlp.codecs.mlp.decode
import gainmlp.codecs.mlp_itm.decode  # noqa: F401  (loaded by the registry on first use)
from gainmlp.api import decode, sdr_in_hdr_space
from gainmlp.codecs import decode_residual, names
from gainmlp.colorimetry import SdrEncoding
from gainmlp.container.app11 import extract_payload
from gainmlp.container.gainmap_jpeg import (
    gainmap_jpeg_to_hdr_pq,
    is_gainmap_jpeg,
    read_gainmap_jpeg,
)
from gainmlp.container.icc import detect_icc_primaries, identify_icc, read_icc
from gainmlp.container.iso21496 import decode_iso21496, encode_iso21496
from gainmlp.container.mpf import find_mpf, mpf_image_ranges, parse_mpf_payload
from gainmlp.container.payload import Payload
from gainmlp.container.photo import gain_map_size, read_payload_bytes, strip_gain_map
from gainmlp.container.segments import (
    APP1,
    APP2,
    build_segment,
    concatenated_image_ranges,
    find_image_end,
    insertion_point,
    parse_segments,
    remove_segments,
)
from gainmlp.container.xmp import metadata_from_xmp, parse_hdrgm_xmp, read_xmp
from gainmlp.errors import GainMLPError
from gainmlp.image import SdrImage
from gainmlp.io.files import image_pixels, open_image
from gainmlp.io.hdr import read_hdr
from gainmlp.io.jpeg import encode_jpeg
from gainmlp.io.sdr import decode_sdr_bytes, encoding_from_icc
from gainmlp.iso_gainmap import apply_gain_map
from gainmlp.photo import decode_file

SDR_HEIGHT, SDR_WIDTH = 28, 40  # the payload fixtures' size (tests/fixtures/payloads)
MAX_DECODE_PIXELS = 64 * 64
EPS = 1 / 64
MLP_METHODS = ("gain-mlp", "gamma-mlp", "direct-mlp")
ITM_METHODS = ("mlp-itm",)
CONVENTIONAL_METHODS = names("conventional")
MAP_FORMATS = gainmlp.codecs.map_image.FORMATS


# --------------------------------------------------------------------------- helpers


def select(data: bytes, choices: tuple[str, ...]) -> tuple[str, bytes]:
    """(choice picked by the first byte, the rest of the input)."""
    if not data:
        return choices[0], b""
    return choices[data[0] % len(choices)], data[1:]


def selector(choice: str, choices: tuple[str, ...]) -> bytes:
    """The first byte that :func:`select` turns into ``choice`` (for writing seeds)."""
    return bytes([choices.index(choice)])


def _try(fn: Callable, *args):
    """``fn(*args)``, or None when it raises GainMLPError (a correct refusal)."""
    try:
        return fn(*args)
    except GainMLPError:
        return None


@cache
def sdr_pixels(height: int = SDR_HEIGHT, width: int = SDR_WIDTH) -> np.ndarray:
    """A deterministic 8-bit SDR test image (a colour ramp with texture)."""
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack([x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1),
                    (x * 37 + y * 91) % 256], axis=-1)
    return np.ascontiguousarray(rgb, dtype=np.uint8)


@cache
def _sdr_pq(height: int = SDR_HEIGHT, width: int = SDR_WIDTH) -> np.ndarray:
    return sdr_in_hdr_space(sdr_pixels(height, width), SdrEncoding())


def check_hdr(hdr: np.ndarray, height: int, width: int, what: str) -> None:
    """The output oracle: a decoded HDR is finite PQ in [0, 1] of the image's size."""
    hdr = np.asarray(hdr)
    assert hdr.shape == (height, width, 3), f"{what}: HDR has shape {hdr.shape}"
    assert np.all(np.isfinite(hdr)), f"{what}: HDR holds non-finite values"
    assert hdr.min() >= 0.0 and hdr.max() <= 1.0, f"{what}: HDR outside [0, 1]"


@cache
def _tmp_dir() -> Path:
    """A private folder for path-based readers: ``$GAINMLP_FUZZ_TMP`` (fuzz/run.py makes
    and removes it: libFuzzer exits without running atexit), else a new one in /dev/shm
    when there is one, removed at exit."""
    if os.environ.get("GAINMLP_FUZZ_TMP"):
        return Path(os.environ["GAINMLP_FUZZ_TMP"])
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    path = Path(tempfile.mkdtemp(prefix="gainmlp-fuzz-", dir=shm))
    atexit.register(shutil.rmtree, path, True)
    return path


def _as_file(data: bytes, suffix: str) -> Path:
    path = _tmp_dir() / f"input{suffix}"
    path.write_bytes(data)
    return path


@cache
def _small_jpeg(height: int, width: int, grey: bool = False) -> bytes:
    pixels = sdr_pixels(height, width)
    return encode_jpeg(pixels[:, :, 1] if grey else pixels, 80)


def mpf_file(mpf_payload: bytes) -> bytes:
    """A two-image file whose primary's MPF segment is ``mpf_payload``: a 16x8 primary
    JPEG with the segment at its insertion point, then an 8x4 grey JPEG appended."""
    primary, second = _small_jpeg(8, 16), _small_jpeg(4, 8, grey=True)
    ins = insertion_point(primary)
    return primary[:ins] + build_segment(APP2, mpf_payload) + primary[ins:] + second


def mpf_layout(n_payload: int) -> tuple[int, int, int]:
    """(primary size, second image size, second image offset from the MPF TIFF header)
    of :func:`mpf_file` for an MPF payload of ``n_payload`` bytes (for writing seeds)."""
    primary, second = _small_jpeg(8, 16), _small_jpeg(4, 8, grey=True)
    ins = insertion_point(primary)
    primary_len = len(primary) + 4 + n_payload
    return primary_len, len(second), primary_len - (ins + 4 + 4)


# --------------------------------------------------------------------------- targets


def fuzz_segments(data: bytes) -> None:
    """JPEG marker segments: parsing, image ends, appended images, splicing."""
    segments = _try(parse_segments, data)
    for fn in (find_image_end, concatenated_image_ranges, insertion_point, strip_gain_map,
               gain_map_size):
        _try(fn, data)
    if segments is not None:
        out = remove_segments(data, lambda s: s.marker in (APP1, APP2))
        assert len(out) <= len(data), "remove_segments grew the file"


def fuzz_app11(data: bytes) -> None:
    """Our payload in APP11 segments: reassembly, then the payload check."""
    raw = _try(extract_payload, data)
    _try(read_payload_bytes, data, "fuzz")
    if raw is not None:
        Payload.from_bytes(raw)


def fuzz_mpf(data: bytes) -> None:
    """The MPF index: the bare APP2 payload, then as the index of a two-image file."""
    _try(parse_mpf_payload, data)
    if len(data) > 65_533:
        return
    file = mpf_file(data)
    segments = parse_segments(file)
    _try(find_mpf, segments)
    ranges = _try(mpf_image_ranges, file, segments)
    if ranges is not None:
        assert all(0 <= a < b <= len(file) for a, b in ranges), f"MPF ranges {ranges}"
    _try(gain_map_size, file)


def fuzz_xmp(data: bytes) -> None:
    """XMP: a packet's hdrgm properties and metadata; a JPEG's standard + extended XMP."""
    if data.startswith(b"\xff\xd8"):
        segments = parse_segments(data)
        main, extended = read_xmp(segments)
        text = (main or "") + (extended or "")
    else:
        text = data.decode("utf-8", errors="replace")
    props = parse_hdrgm_xmp(text)
    metadata_from_xmp(props)


def fuzz_icc(data: bytes) -> None:
    """ICC profiles: reassembly from a JPEG's APP2 chunks, naming the primaries."""
    if data.startswith(b"\xff\xd8"):
        profile = read_icc(parse_segments(data))
        if profile is None:
            return
        data = profile
    detect_icc_primaries(data)
    encoding_from_icc(data)
    identify_icc(data)


def fuzz_iso21496(data: bytes) -> None:
    """The ISO 21496-1 record: parsing, writing it back, applying it to a tiny base."""
    meta = decode_iso21496(data)
    if meta is None:
        return
    again = decode_iso21496(encode_iso21496(meta))
    assert again is not None, "ISO 21496-1 round trip lost the record"
    # headrooms closer than 1e-6 lose their order (which says which rendition the base is)
    # in the writer's fractions: such records are not compared
    if meta.hdr_capacity_max - meta.hdr_capacity_min > 1e-6:
        assert again.close_to(meta, rel=1e-3, abs_=1e-3), "ISO 21496-1 round trip"
    base = np.linspace(0.0, 1.0, 4 * 4 * 3, dtype=np.float32).reshape(4, 4, 3)
    gmap = np.linspace(0.0, 1.0, 2 * 2 * 3, dtype=np.float32).reshape(2, 2, 3)
    out = apply_gain_map(base, gmap, meta, 1.0)
    assert out.shape == (4, 4, 3), "apply_gain_map changed the size"


def fuzz_payload(data: bytes) -> None:
    """The payload container (as stored, and with its CRC-32 repaired so that every field
    check is reached), then decoding it on a tiny SDR."""
    _try(Payload.from_bytes, data)
    if len(data) < 8:
        return
    fixed = data[:-4] + zlib.crc32(data[:-4]).to_bytes(4, "little")
    payload = Payload.from_bytes(fixed)
    if payload.width * payload.height > MAX_DECODE_PIXELS:
        return
    hdr = decode(payload, sdr_pixels(payload.height, payload.width))
    check_hdr(hdr, payload.height, payload.width, payload.method)


def _fuzz_body(data: bytes, methods: tuple[str, ...]) -> None:
    method, body = select(data, methods)
    hdr = decode_residual(method, body, _sdr_pq(), EPS)
    check_hdr(hdr, SDR_HEIGHT, SDR_WIDTH, method)


def fuzz_body_mlp(data: bytes) -> None:
    """Gain-MLP bodies (versions 1-3): parse and decode on the 40x28 SDR."""
    _fuzz_body(data, MLP_METHODS)


def fuzz_body_itm(data: bytes) -> None:
    """MLP-ITM bodies: parse and decode on the 40x28 SDR."""
    _fuzz_body(data, ITM_METHODS)


def fuzz_body_conventional(data: bytes) -> None:
    """Conventional map bodies (JPEG/HEIC/JPEG XL/AVIF map images): decode on the SDR."""
    _fuzz_body(data, CONVENTIONAL_METHODS)


def fuzz_map_image(data: bytes) -> None:
    """The map-image decoders (JPEG, HEIC, JPEG XL, AVIF) as a conventional body uses them."""
    fmt, rest = select(data, MAP_FORMATS)
    arr = gainmlp.codecs.map_image.decompress(rest, fmt)
    assert arr.dtype == np.uint8 and arr.ndim == 3 and arr.shape[2] == 3, "map image"


def fuzz_sdr_image(data: bytes) -> None:
    """8-bit SDR images (PNG, TIFF, JPEG, whatever Pillow opens): header check, pixels,
    colour set-up from an embedded ICC profile."""
    _try(image_pixels, _as_file(data, ".img"))
    _try(open_image, data, "fuzz")
    sdr = decode_sdr_bytes(data, "fuzz")
    assert sdr.pixels.dtype == np.uint8 and sdr.pixels.ndim == 3, "SDR pixels"


def _fuzz_hdr_file(data: bytes, suffix: str) -> None:
    pq = read_hdr(_as_file(data, suffix))
    check_hdr(pq, pq.shape[0], pq.shape[1], suffix)


def fuzz_hdr_png(data: bytes) -> None:
    """16-bit PQ PNG with or without cICP, through read_hdr."""
    _fuzz_hdr_file(data, ".png")


def fuzz_hdr_tiff(data: bytes) -> None:
    """16-bit PQ TIFF through read_hdr."""
    _fuzz_hdr_file(data, ".tif")


def fuzz_exr(data: bytes) -> None:
    """OpenEXR (RGB, RGBA, Y/RY/BY, chromaticities) through read_hdr."""
    _fuzz_hdr_file(data, ".exr")


def fuzz_radiance(data: bytes) -> None:
    """Radiance RGBE .hdr through read_hdr."""
    _fuzz_hdr_file(data, ".hdr")


def fuzz_gainmap_jpeg(data: bytes) -> None:
    """Gain-map JPEGs (Ultra HDR, Adobe, ISO 21496-1): read, render the HDR."""
    is_gainmap_jpeg(data)
    gm = read_gainmap_jpeg(data)
    pq = gainmap_jpeg_to_hdr_pq(gm)
    check_hdr(pq, gm.sdr.shape[0], gm.sdr.shape[1], "gain-map JPEG")


def fuzz_photo(data: bytes) -> None:
    """``gainmlp decode``'s reader: a gainmlp JPEG, a gain-map JPEG or a bare payload
    (with the 40x28 SDR), to the HDR."""
    sdr = SdrImage(sdr_pixels(), SdrEncoding())
    base, hdr = decode_file(data, "fuzz", sdr)
    check_hdr(hdr, base.pixels.shape[0], base.pixels.shape[1], "photo")


@dataclass(frozen=True)
class Target:
    """A fuzz target: its function, the entry points it reaches and its share of a run."""

    name: str
    fn: Callable[[bytes], None]
    entry_points: str
    runs: int  # inputs for ``fuzz/run.py --all`` (fast parsers get more)


TARGETS: dict[str, Target] = {t.name: t for t in (
    Target("segments", fuzz_segments, "container.segments (parse_segments, find_image_end, "
           "concatenated_image_ranges, remove_segments), container.photo", 150_000),
    Target("app11", fuzz_app11, "container.app11.extract_payload, "
           "container.photo.read_payload_bytes", 100_000),
    Target("mpf", fuzz_mpf, "container.mpf (parse_mpf_payload, mpf_image_ranges)", 100_000),
    Target("xmp", fuzz_xmp, "container.xmp (read_xmp, parse_hdrgm_xmp, metadata_from_xmp)",
           100_000),
    Target("icc", fuzz_icc, "container.icc (read_icc, identify_icc), io.sdr.encoding_from_icc",
           100_000),
    Target("iso21496", fuzz_iso21496, "container.iso21496.decode_iso21496, "
           "iso_gainmap.apply_gain_map", 100_000),
    Target("payload", fuzz_payload, "container.payload.Payload.from_bytes, api.decode",
           100_000),
    Target("body-mlp", fuzz_body_mlp, "codecs.mlp.format.unpack_mlp_body, "
           "codecs.mlp.decode.decode_mlp", 60_000),
    Target("body-itm", fuzz_body_itm, "codecs.mlp_itm.format.unpack_itm_body, "
           "codecs.mlp_itm.decode.decode_itm", 30_000),
    Target("body-conventional", fuzz_body_conventional, "codecs.conventional.decode_map",
           40_000),
    Target("map-image", fuzz_map_image, "codecs.map_image.decompress (JPEG, HEIC, JPEG XL, "
           "AVIF)", 40_000),
    Target("sdr-image", fuzz_sdr_image, "io.files.image_pixels/open_image, "
           "io.sdr.decode_sdr_bytes (PNG, TIFF, JPEG)", 30_000),
    Target("hdr-png", fuzz_hdr_png, "io.hdr.read_hdr (.png), io.png", 60_000),
    Target("hdr-tiff", fuzz_hdr_tiff, "io.hdr.read_hdr (.tif)", 20_000),
    Target("exr", fuzz_exr, "io.hdr.read_hdr (.exr)", 40_000),
    Target("radiance", fuzz_radiance, "io.hdr.read_hdr (.hdr)", 60_000),
    Target("gainmap-jpeg", fuzz_gainmap_jpeg, "container.gainmap_jpeg (read_gainmap_jpeg, "
           "gainmap_jpeg_to_hdr_pq, is_gainmap_jpeg)", 40_000),
    Target("photo", fuzz_photo, "photo.decode_file (gainmlp JPEG, gain-map JPEG, bare "
           "payload)", 40_000),
)}


# the command line's argument layer and the writers (fuzz/targets_out.py, issue 22)
from targets_out import OUT_TARGETS  # noqa: E402 - needs the helpers above

TARGETS.update((name, Target(name, fn, entry, runs)) for name, fn, entry, runs in OUT_TARGETS)
