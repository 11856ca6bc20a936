"""Flag groups and helpers every command shares."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from dataclasses import fields

from gainmlp.codecs import DEFAULT_METHOD, METHODS
from gainmlp.colorimetry import PRIMARIES, SDR_TRANSFERS
from gainmlp.errors import GainMLPError
from gainmlp.options import (
    DEFAULT_EPS,
    EncodeOptions,
    cli_flags,
    is_no_grid,
    resolve_target_psnr,
)

EXIT_USAGE = 2


# ---------------------------------------------------------------- option groups


def _add_sdr_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("SDR colour set-up (overrides ICC and defaults)")
    g.add_argument("--sdr-primaries", choices=sorted(PRIMARIES), default=None,
                   help="primaries of the SDR (default: from ICC, else bt709)")
    g.add_argument("--sdr-transfer", choices=SDR_TRANSFERS, default=None,
                   help="SDR EOTF (default: from ICC, else gamma2.4)")
    g.add_argument("--sdr-white", type=float, default=None, metavar="NITS",
                   help="SDR white in cd/m2 (default 100)")


def _add_hdr_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--exr-white", type=float, default=100.0, metavar="NITS",
                   help="cd/m2 that 1.0 means in EXR/.hdr files (default 100)")


def _add_encode_flags(p: argparse.ArgumentParser, many_methods: bool = False) -> None:
    """``--method``, ``--eps`` and one flag per :class:`EncodeOptions` field
    (``many_methods``: ``--method`` may be given several times)."""
    if many_methods:
        p.add_argument("--method", choices=list(METHODS), action="append", default=None,
                       help="a method to compare; repeat for several (default: "
                       f"{DEFAULT_METHOD} and gain-jpeg)")
    else:
        p.add_argument("--method", choices=list(METHODS), default=DEFAULT_METHOD,
                       help=f"residual codec (default {DEFAULT_METHOD})")
    p.add_argument("--eps", type=float, default=DEFAULT_EPS,
                   help=f"residual offset (default {DEFAULT_EPS})")
    groups: dict[str, argparse._ArgumentGroup] = {}
    for group, flag, kwargs in cli_flags():
        if group not in groups:
            groups[group] = p.add_argument_group(group)
        groups[group].add_argument(flag, **kwargs)
    _add_sdr_flags(p)
    _add_hdr_flags(p)


def _options(args: argparse.Namespace, progress: bool, rate_control: bool = False
             ) -> EncodeOptions:
    """The options the flags name, validated (one-line error naming a bad value).

    ``--target-psnr auto`` is :data:`DEFAULT_TARGET_PSNR` where ``rate_control`` is on by
    default (re-encoding a gain-map JPEG with an MLP method), else off."""
    if args.steps is not None and args.steps < 1:
        raise GainMLPError("--steps must be positive")
    values = {f.name: getattr(args, f.name) for f in fields(EncodeOptions) if hasattr(args, f.name)}
    if is_no_grid(values.get("grid")):
        values["grid"] = None
    mlp = METHODS[args.method].family == "mlp" if getattr(args, "method", None) in METHODS \
        else False
    values["target_psnr"] = resolve_target_psnr(values.get("target_psnr"), rate_control and mlp)
    return EncodeOptions(**values, progress=progress).validate()


def _read_sdr(path: str, args: argparse.Namespace):
    from gainmlp.io import read_sdr

    return read_sdr(path, args.sdr_primaries, args.sdr_transfer, args.sdr_white)


def _progress(args: argparse.Namespace) -> bool:
    return sys.stderr.isatty() and not getattr(args, "quiet", False)


# ---------------------------------------------------------------- commands




# ---------------------------------------------------------------- signals


class Interrupted(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised where the program is, as Ctrl-C's KeyboardInterrupt is:
    every ``finally`` and ``except BaseException`` runs (temporary files removed, the
    batch summary written); the command exits with 128 + the signal's number."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.exit_status = 128 + signum


#: Signals that clean up as Ctrl-C does (SIGINT is Python's KeyboardInterrupt already).
CLEAN_SIGNALS = ("SIGTERM", "SIGHUP")


@contextlib.contextmanager
def clean_signals() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise :class:`Interrupted` in the main
    thread; a second one while cleaning up ends the process at once (the default
    action). The previous handlers are restored afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    numbers = [getattr(signal, n) for n in CLEAN_SIGNALS if hasattr(signal, n)]
    previous = {n: signal.getsignal(n) for n in numbers}

    def again(signum, frame):  # the second signal: no more cleaning, the default action
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    def first(signum, frame):
        for n in numbers:
            signal.signal(n, again)
        raise Interrupted(signum)

    for n in numbers:
        if previous[n] is not signal.SIG_IGN:  # nohup's SIGHUP stays ignored
            signal.signal(n, first)
    try:
        yield
    finally:
        for n, handler in previous.items():
            signal.signal(n, handler if handler is not None else signal.SIG_DFL)
