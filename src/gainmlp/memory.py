"""The one accounting of memory and work: refuse what would need more than allowed, first.

**Budget.** ``$GAINMLP_MAX_MEMORY`` (bytes, or with a K/M/G/T suffix, e.g. ``2G``) or, when
that is not set, 80 % of the machine's physical memory.

**Whole operations** (:func:`check_memory`): before any pixel is decoded, each entry point
(command line, API, batch) adds up the sizes its inputs' headers declare — the base image,
a gain-map image inside a JPEG, an HDR input, a map image inside a payload
(:mod:`gainmlp.budget` reads them) — and compares the estimate of its *path* with the
budget. An estimate is a fixed base (the interpreter, numpy, the codecs; torch and the
fit's data for an encode) plus bytes per pixel of the output, plus bytes per pixel of a
gain-map image, from the peak resident sets ``benchmarks/memory.py`` measures for each
path at 2, 12 and 24 MP (docs/robustness.md), rounded up; that benchmark also checks
that a budget equal to the estimate keeps the real peak within 1.2 x.

**Each decode** (:func:`charge`): every decoder of an image from untrusted bytes charges
the bytes its declared size will occupy before decoding it; one image that alone could
not fit the budget (beside the process's floor, :data:`FLOOR_BYTES`) is refused there,
whichever entry point reached it.

**Work** (:func:`check_network`): a network inside a payload costs multiply-adds per
pixel; more than the largest network gainmlp's encoders write (:data:`MAX_NETWORK_MACS`)
is refused before it is evaluated, unless ``$GAINMLP_MAX_NETWORK_MACS`` raises the limit.
"""

from __future__ import annotations

import math
import os

from gainmlp.errors import GainMLPError

_MIB = 2**20
#: Each path's estimate: (fixed part in MiB: the interpreter and the libraries that path
#: loads; bytes per pixel of its output image), fitted to the peaks benchmarks/memory.py
#: measured at 2 and 12 MP (24 MP before issue 23 item 4) and rounded up by 2-7 %
#: (docs/robustness.md has the measurements). ``encode`` is a pair encoded to the default
#: container (Ultra HDR + payload), ``encode-tmo`` a lone HDR image made into a pair first,
#: ``reencode`` a gain-map JPEG's map re-encoded with rate control, ``pair`` the ``gainmlp
#: pair`` command; ``decode-gainmap-EXT`` a standard gain-map JPEG and
#: ``decode-payload-EXT`` a gainmlp photo decoded to a file of that format (``jpg``: an
#: Ultra HDR JPEG, whose gain map is computed again, in row tiles); ``decode`` is the
#: API's decode (PQ pixels, no file). The fitting paths are the default engine's (the CPU
#: trainer); a torch engine adds :data:`TORCH_EXTRA`.
_PATHS = {
    "encode": (280, 56), "encode-tmo": (470, 255), "reencode": (300, 64),
    "pair": (192, 250),
    "decode-gainmap-png": (170, 30), "decode-gainmap-avif": (190, 58),
    "decode-gainmap-exr": (195, 25), "decode-gainmap-tif": (180, 34),
    "decode-gainmap-jpg": (165, 28),
    "decode-payload-png": (230, 31), "decode-payload-avif": (230, 59),
    "decode-payload-exr": (240, 26), "decode-payload-tif": (220, 35),
    "decode-payload-jpg": (240, 30),
    "decode": (240, 26),
}
#: The paths that fit a network (their estimates are for the default engine on a CPU, the
#: numba trainer).
FITTING_PATHS = ("encode", "encode-tmo", "reencode")
#: Engines that fit with torch (``--engine torch|autograd``, or ``--device cuda``).
TORCH_ENGINES = ("torch", "autograd")
#: What a torch engine adds to a fitting path's estimate: (MiB: torch itself; bytes per
#: pixel: its copies of the pair), fitted like :data:`_PATHS` (docs/robustness.md).
TORCH_EXTRA = (200, 65)
#: Fixed part of each path's peak, bytes.
BASE_BYTES = {path: mib * _MIB for path, (mib, _) in _PATHS.items()}
#: Bytes of peak per pixel of the output image, per path.
BYTES_PER_PIXEL = {path: per_pixel for path, (_, per_pixel) in _PATHS.items()}
#: Bytes per pixel of a gain-map image on top of the base's: an RGB map decoded by Pillow
#: (4), its numpy copy (3) and the comparisons that find a grey map stored as RGB (3).
MAP_BYTES_PER_PIXEL = 10
#: What the process holds before it decodes anything (interpreter, numpy, Pillow): an
#: image whose decoded pixels do not fit beside it is refused by :func:`charge`.
FLOOR_BYTES = 100 * 2**20
#: Multiply-adds per pixel of the largest network gainmlp's command line writes (width
#: 128, two hidden layers, an 8-channel grid: 33,280), rounded up to a power of two.
MAX_NETWORK_MACS = 1 << 16
_SUFFIX = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
_MAX_TEXT = 1 << 62  # no machine has more: a larger value is a typing error


def _parse_size(name: str, text: str) -> int:
    text = text.strip().upper().removesuffix("B")
    unit = text[-1] if text and text[-1] in _SUFFIX else ""
    try:
        value = float(text[:-1] if unit else text)
    except ValueError:
        raise GainMLPError(f"{name}={text!r} is not a size like 2G") from None
    if not (math.isfinite(value) and value > 0) or value * _SUFFIX[unit] >= _MAX_TEXT:
        raise GainMLPError(f"{name}={text!r} must be a positive, finite size like 2G")
    return int(value * _SUFFIX[unit])


def budget() -> int:
    """The memory budget in bytes (see the module docstring)."""
    text = os.environ.get("GAINMLP_MAX_MEMORY", "").strip()
    if text:
        return _parse_size("GAINMLP_MAX_MEMORY", text)
    try:
        return int(0.8 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return 1 << 62


def _family(operation: str) -> str:
    return "encode" if operation.startswith(("encode", "reencode", "pair")) else "decode"


def estimate(operation: str, pixels: int, map_pixels: int = 0,
             engine: str | None = None) -> int:
    """Bytes ``operation`` is expected to need at its peak for ``pixels`` output pixels and
    ``map_pixels`` pixels of gain-map images; ``operation`` is a path of
    :data:`BYTES_PER_PIXEL` (``encode``, ``decode``, ``reencode``, ``pair``,
    ``decode-gainmap-png``, ...), or falls back to its family (``encode``/``decode``).
    ``engine``: the fitting engine of an encode; a torch one (:data:`TORCH_ENGINES`) adds
    :data:`TORCH_EXTRA`."""
    key = operation if operation in BYTES_PER_PIXEL else _family(operation)
    need = (BASE_BYTES[key] + BYTES_PER_PIXEL[key] * int(pixels)
            + MAP_BYTES_PER_PIXEL * int(map_pixels))
    if engine in TORCH_ENGINES and key in FITTING_PATHS:
        need += TORCH_EXTRA[0] * _MIB + TORCH_EXTRA[1] * int(pixels)
    return need


def _gb(n: int) -> str:
    return f"{n / 2**30:.1f} GB" if n >= 2**29 else f"{n / 2**20:.0f} MB"


def check_memory(operation: str, pixels: int, images: int = 1, map_pixels: int = 0,
                 engine: str | None = None) -> None:
    """A one-line error when ``operation`` on ``images`` images of ``pixels`` pixels in all
    (plus ``map_pixels`` of gain-map images; fitted by ``engine``) would need more than
    :func:`budget`."""
    need, allowed = estimate(operation, pixels, map_pixels, engine), budget()
    if need > allowed:
        verb = operation.split("-")[0]
        size = f"{pixels / 1e6:.1f} MP" + (f" in {images} images" if images > 1 else "")
        if map_pixels:
            size += f" with {map_pixels / 1e6:.1f} MP of gain map"
        raise GainMLPError(f"{verb} of {size} needs about {_gb(need)}, over the "
                           f"{_gb(allowed)} budget (set GAINMLP_MAX_MEMORY to change it)")


def charge(width: int, height: int, bytes_per_pixel: float, what: str) -> None:
    """Refuse to decode an image of ``width`` x ``height`` pixels whose decoded form takes
    ``bytes_per_pixel`` per pixel when it cannot fit the budget beside the process's floor
    (:data:`FLOOR_BYTES`); called before the decoder allocates anything."""
    need = int(width) * int(height) * bytes_per_pixel
    allowed = budget()
    if FLOOR_BYTES + need > allowed:
        raise GainMLPError(f"{what} declares {width}x{height} pixels: decoding it needs "
                           f"about {_gb(int(need))}, over the {_gb(allowed)} budget (set "
                           "GAINMLP_MAX_MEMORY to change it)")


def max_network_macs() -> int:
    """Multiply-adds per pixel a payload's network may cost (:data:`MAX_NETWORK_MACS`, or
    ``$GAINMLP_MAX_NETWORK_MACS``)."""
    text = os.environ.get("GAINMLP_MAX_NETWORK_MACS", "").strip()
    return _parse_size("GAINMLP_MAX_NETWORK_MACS", text) if text else MAX_NETWORK_MACS


def check_network(macs_per_pixel: int, what: str = "the payload's network") -> None:
    """Refuse a network costing more multiply-adds per pixel than :func:`max_network_macs`
    (layers x width x width per pixel; the work of a decode is this times its pixels)."""
    limit = max_network_macs()
    if macs_per_pixel > limit:
        raise GainMLPError(f"{what} costs {macs_per_pixel} multiply-adds per pixel, over the "
                           f"limit of {limit} (the largest network gainmlp writes; set "
                           "GAINMLP_MAX_NETWORK_MACS to raise it)")
