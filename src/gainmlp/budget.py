"""What a command's inputs declare, and the memory check of its path, before any decoding.

Each entry point calls one function here before it decodes a pixel: :func:`check_decode`
(``gainmlp decode``), :func:`check_encode` (a pair, several pairs, a lone HDR image or a
gain-map JPEG to re-encode; also ``eval`` and ``report``) and :func:`check_pair`
(``gainmlp pair``). Each reads only headers — the SOF of a JPEG's primary image and of
every image its MPF index lists, a payload's header, an HDR file's header
(:func:`gainmlp.io.reading.declared_size`) — and compares the estimate of its path
(:func:`gainmlp.memory.estimate`) with the budget. :func:`path_estimate` gives the same
estimate for ``benchmarks/memory.py``, which checks it against measured peaks.
"""

from __future__ import annotations

import os
from pathlib import Path

from gainmlp.container import mpf
from gainmlp.container.app11 import extract_payload
from gainmlp.container.segments import APP2, concatenated_image_ranges, find_app, parse_segments
from gainmlp.errors import GainMLPError, check_image_size
from gainmlp.io.reading import declared_size, read_bytes
from gainmlp.memory import check_memory, estimate

#: Output formats with their own estimate (``.tiff`` counts as ``.tif``, ``.jpeg`` as ``.jpg``).
DECODE_FORMATS = ("png", "avif", "exr", "tif", "jpg")
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def frame_size(data: bytes, start: int = 0) -> tuple[int, int] | None:
    """(width, height) the SOF segment of the JPEG image at ``start`` declares; None when
    the header is malformed (the decoder then says what is wrong)."""
    try:
        for seg in parse_segments(data, start):
            if seg.marker in _SOF and len(seg.payload) >= 5:
                p = seg.payload
                return (p[3] << 8) | p[4], (p[1] << 8) | p[2]
    except GainMLPError:
        return None
    return None


def photo_sizes(data: bytes, name: str = "photo") -> tuple[int, int]:
    """(base pixels, gain-map pixels) a JPEG declares: its primary image's SOF and the
    largest SOF among the images its MPF index lists (or, without an index, the images
    appended after it), each checked against the size limit; nothing is decoded."""
    base = frame_size(data)
    if base is None:
        return 0, 0
    check_image_size(*base, name)
    ranges: list[tuple[int, int]] = []
    try:
        primary = parse_segments(data)
        if find_app(primary, APP2, mpf.MPF_ID) is not None:
            ranges = mpf.mpf_image_ranges(data, primary)
        if len(ranges) < 2:
            ranges = concatenated_image_ranges(data)
    except GainMLPError:
        ranges = []
    largest = 0
    for start, _ in ranges[1:]:
        size = frame_size(data, start)
        if size is not None:
            check_image_size(*size, f"{name}: secondary image at byte {start}")
            largest = max(largest, size[0] * size[1])
    return base[0] * base[1], largest


def _pixels(path: str | os.PathLike) -> int:
    size = declared_size(path)
    return size[0] * size[1] if size else 0


def _output_format(output: str | os.PathLike) -> str:
    ext = Path(output).suffix.lower().lstrip(".")
    return {"tiff": "tif", "jpeg": "jpg"}.get(ext, ext)


def decode_estimate(data: bytes, output: str | os.PathLike, sdr: str | None = None,
                    name: str = "photo") -> tuple[str, int, int]:
    """(path, output pixels, gain-map pixels) of decoding ``data`` (a JPEG or a bare
    payload; ``sdr``: the SDR given beside a bare payload) to ``output``."""
    fmt = _output_format(output)
    if data[:2] == b"\xff\xd8":
        try:
            kind = "payload" if extract_payload(data) is not None else "gainmap"
        except GainMLPError:
            kind = "payload"
        base, gain_map = photo_sizes(data, name)
        if kind == "payload":
            gain_map = 0  # a standard map beside our payload is not decoded
    else:
        kind, base, gain_map = "payload", 0, 0
    if sdr is not None:
        base = _pixels(sdr)
    elif not base and len(data) >= 16 and data[:2] != b"\xff\xd8":
        from gainmlp.container.payload import Payload

        try:  # a bare payload's header names the size it rebuilds
            payload = Payload.from_bytes(data)
            base = payload.width * payload.height
        except GainMLPError:
            base = 0
    return f"decode-{kind}-{fmt}", base, gain_map


def check_decode(data: bytes, output: str | os.PathLike, sdr: str | None = None,
                 name: str = "photo") -> None:
    """Refuse decoding ``data`` to ``output`` when its path's estimate is over the budget."""
    path, base, gain_map = decode_estimate(data, output, sdr, name)
    check_memory(path, base, map_pixels=gain_map)


def check_encode(files: list[str], mode: str = "encode", engine: str | None = None) -> None:
    """Refuse an encode over the budget, from the inputs' headers. ``mode``: ``encode``
    (``files`` are SDR, HDR pairs; an SDR and its HDR declaring different sizes are refused
    here, undecoded), ``encode-tmo`` (a lone HDR image made into a pair) or ``reencode``
    (one gain-map JPEG); ``engine``: the fitting engine (a torch one needs more,
    :func:`gainmlp.memory.estimate`)."""
    if mode == "reencode":
        base, gain_map = photo_sizes(read_bytes(files[0]), str(files[0]))
        check_memory("reencode", base, map_pixels=gain_map, engine=engine)
        return
    if mode == "encode-tmo":
        check_memory("encode-tmo", _pixels(files[0]), engine=engine)
        return
    total = 0
    for sdr, hdr in zip(files[::2], files[1::2], strict=False):
        s, h = declared_size(sdr), declared_size(hdr)
        if s and h and s != h:
            raise GainMLPError(f"SDR {sdr} is {s[0]}x{s[1]} but HDR {hdr} is {h[0]}x{h[1]}; "
                               "they must be the same size")
        total += max(s[0] * s[1] if s else 0, h[0] * h[1] if h else 0)
    if len(files) % 2:
        total += _pixels(files[-1])
    check_memory("encode", total, max(1, len(files) // 2), engine=engine)


def check_pair(path: str | os.PathLike) -> None:
    """Refuse ``gainmlp pair`` of an HDR image whose header declares more than the budget
    holds."""
    check_memory("pair", _pixels(path))


def path_estimate(path: str, files: list[str], engine: str | None = None) -> int:
    """Bytes the budget expects ``path`` (a name of ``benchmarks/memory.py``) to need with
    these input files (the output last, for a decode) and fitting ``engine`` — the
    estimate the command checks."""
    if path.startswith("decode-"):
        out = "x." + path.rsplit("-", 1)[1]
        name, base, gain_map = decode_estimate(read_bytes(files[0]), out)
        return estimate(name, base, gain_map)
    if path == "reencode":
        base, gain_map = photo_sizes(read_bytes(files[0]))
        return estimate("reencode", base, gain_map, engine)
    if path == "pair":
        return estimate("pair", _pixels(files[0]))
    if path == "encode-tmo":
        return estimate("encode-tmo", _pixels(files[0]), engine=engine)
    return estimate("encode", _pixels(files[0]), engine=engine)
