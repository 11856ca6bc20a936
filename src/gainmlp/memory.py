"""Memory budget: refuse work that would need more memory than allowed, before doing it.

The budget is ``$GAINMLP_MAX_MEMORY`` (bytes, or with a K/M/G suffix, e.g. ``2G``) or, when
that is not set, 80 % of the machine's physical memory. Estimates are a fixed base (the
interpreter, numpy and torch; for an encode also the fit's data at the pixels its steps
draw) plus bytes per pixel, from the peak resident sets measured by
``benchmarks/memory.py`` at 12, 24 and 100 MP (docs/speed.md), rounded up.
"""

from __future__ import annotations

import os

from gainmlp.errors import GainMLPError

BASE_BYTES = {"encode": 700 * 2**20, "decode": 350 * 2**20}
BYTES_PER_PIXEL = {"encode": 32, "decode": 40}
#: The bound the estimates must keep for a 24-MP photo (the no-data-lost issue's target).
BOUND_24MP = 1.5 * 2**30
_SUFFIX = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def budget() -> int:
    """The memory budget in bytes (see the module docstring)."""
    text = os.environ.get("GAINMLP_MAX_MEMORY", "").strip().upper().removesuffix("B")
    if text:
        unit = text[-1] if text[-1] in _SUFFIX else ""
        try:
            value = float(text[:-1] if unit else text)
        except ValueError:
            raise GainMLPError(f"GAINMLP_MAX_MEMORY={text!r} is not a size like 2G") from None
        if not value > 0:
            raise GainMLPError(f"GAINMLP_MAX_MEMORY={text!r} must be positive")
        return int(value * _SUFFIX[unit])
    try:
        return int(0.8 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return 1 << 62


def estimate(operation: str, pixels: int) -> int:
    """Bytes ``operation`` (``encode`` or ``decode``) is expected to need for ``pixels``."""
    return BASE_BYTES[operation] + BYTES_PER_PIXEL[operation] * int(pixels)


def check_memory(operation: str, pixels: int, images: int = 1) -> None:
    """A one-line error when ``operation`` on ``images`` images of ``pixels`` pixels in all
    would need more than :func:`budget`."""
    need, allowed = estimate(operation, pixels), budget()
    if need > allowed:
        size = f"{pixels / 1e6:.1f} MP" + (f" in {images} images" if images > 1 else "")
        raise GainMLPError(f"{operation} of {size} needs about {need / 2**30:.1f} GB, over the "
                           f"{allowed / 2**30:.1f} GB budget (set GAINMLP_MAX_MEMORY to change it)")
