"""Errors and warnings the library raises for bad input.

Every problem a user can cause (a missing file, a corrupt payload, mismatched sizes)
raises :class:`GainMLPError` with a one-line message; the CLI prints it and exits 2.
"""

from __future__ import annotations

import warnings


class GainMLPError(Exception):
    """A problem with the user's input: printed as one line by the CLI, exit code 2."""


class GainMLPWarning(UserWarning):
    """Input was usable after a repair (e.g. NaN pixels replaced)."""


def warn(message: str) -> None:
    warnings.warn(message, GainMLPWarning, stacklevel=3)


# Largest image we accept, in pixels: 200 MP (a 16k x 12k photo). Anything a header
# claims above this is refused before a single buffer is allocated.
MAX_PIXELS = 200_000_000
MAX_SIDE = 65_535


def check_image_size(width: int, height: int, what: str = "image") -> None:
    """Refuse absurd dimensions before allocating anything."""
    if width <= 0 or height <= 0:
        raise GainMLPError(f"{what} has an empty size {width}x{height}")
    if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        raise GainMLPError(
            f"{what} claims {width}x{height} pixels, over the limit of "
            f"{MAX_SIDE} per side / {MAX_PIXELS // 1_000_000} MP"
        )
