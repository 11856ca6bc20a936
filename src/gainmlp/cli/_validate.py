"""Every number, environment variable and input path of a command, checked in one place
before any work (``docs/robustness.md``, "Options").

:func:`check_args` runs right after parsing: each numeric flag must be a finite number
inside its range (:data:`ARG_RANGES`, the encoder's own :data:`gainmlp.options.RANGES`),
``GAINMLP_THREADS`` and ``GAINMLP_MAX_MEMORY`` must parse and be in range, and each input
file must exist and be a regular file (not a folder, a device, a FIFO or a socket). A bad
value is a one-line error (exit 2) before a file is read or a network fitted.
"""

from __future__ import annotations

import argparse
import os
import stat

from gainmlp.errors import GainMLPError
from gainmlp.io.hdr import EXR_WHITE_RANGE
from gainmlp.options import INTEGER_OPTIONS, RANGES, check_range

#: Inclusive ranges of the command line's own numeric flags: ``dest: (low, high,
#: integer)``. Reasons in docs/robustness.md.
ARG_RANGES: dict[str, tuple[float, float, bool]] = {
    "eps": (1e-6, 1.0, False),          # the residual offset: positive, at most SDR white
    "sdr_white": (1.0, 10_000.0, False),  # cd/m2 of SDR white: PQ stops at 10,000
    "exr_white": (*EXR_WHITE_RANGE, False),  # cd/m2 that 1.0 means in EXR / .hdr files
    "peak": (1.0, 10_000.0, False),     # HDR peak of a pair: PQ stops at 10,000 cd/m2
    "headroom": (0.0, 16.0, False),     # stops above SDR white (ISO 21496-1 weighting)
    "jpeg_quality": (1, 100, True),
    "jobs": (0, 1024, True),            # worker processes (0: automatic)
    "group": (0, 4096, True),           # items fitted together per task (0: automatic)
    "ray_gpus": (0.0, 1.0, False),
    "ray_retries": (0, 100, True),
    "long_side": (16, 65_535, True),
}
#: The command line needs at least one Adam step (the API allows 0: the start network).
CLI_STEPS = (1, RANGES["steps"][1])
#: Arguments that name input files, per command (``batch`` and ``bench`` take folders).
INPUT_ARGS = {"encode": ("files",), "decode": ("input", "sdr"), "info": ("input",),
              "eval": ("sdr", "hdr"), "pair": ("hdr",), "report": ("sdr", "hdr")}


def _flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def check_numbers(args: argparse.Namespace) -> None:
    """Every numeric flag finite and in range (one-line error naming the flag)."""
    values = vars(args)
    for dest, (low, high, integer) in ARG_RANGES.items():
        if values.get(dest) is not None:
            check_range(dest, values[dest], low, high, integer, _flag(dest))
    for dest, (low, high) in RANGES.items():
        if dest == "steps":
            low, high = CLI_STEPS
            if isinstance(values.get(dest), int) and values[dest] < low:
                raise GainMLPError("--steps must be positive")
        value = values.get(dest)
        if value is not None and not isinstance(value, str):
            check_range(dest, value, low, high, dest in INTEGER_OPTIONS)


def check_environment() -> None:
    """``GAINMLP_THREADS`` and ``GAINMLP_MAX_MEMORY`` parse and are in range."""
    from gainmlp.colorimetry import usable_cores
    from gainmlp.memory import budget

    usable_cores()
    budget()


def check_input(path: str | os.PathLike) -> None:
    """An input file exists and is a regular file (a folder, a device, a FIFO or a
    socket is refused before anything opens it)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise GainMLPError(f"{path}: no such file") from None
    except OSError as exc:
        raise GainMLPError(f"{path}: cannot read ({exc.strerror})") from None
    if stat.S_ISDIR(st.st_mode):
        raise GainMLPError(f"{path}: is a folder, not an image file")
    if not stat.S_ISREG(st.st_mode):
        raise GainMLPError(f"{path}: is not a regular file (a device, FIFO or socket)")


def check_input_folder(path: str | os.PathLike) -> None:
    """An input folder exists and is a folder."""
    if not os.path.isdir(path):
        what = "no such folder" if not os.path.exists(path) else "is not a folder"
        raise GainMLPError(f"{path}: {what}")


def check_args(args: argparse.Namespace) -> None:
    """:func:`check_numbers`, :func:`check_environment` and every input file of the
    command, before it runs."""
    check_numbers(args)
    check_environment()
    for dest in INPUT_ARGS.get(getattr(args, "command", None) or "", ()):
        value = getattr(args, dest, None)
        for path in value if isinstance(value, list) else [value]:
            if path:
                check_input(path)
    if getattr(args, "command", None) == "bench":
        for folder in args.data_dir:
            check_input_folder(folder)


__all__ = ["ARG_RANGES", "INPUT_ARGS", "check_args", "check_environment", "check_input",
           "check_input_folder", "check_numbers"]
