"""Worker processes die with the batch's driver.

A worker of the local pool is forked by multiprocessing's forkserver, not by the driver,
so when the driver is killed outright (``kill -9``) nothing would tell a worker in the
middle of a fit; it would run on for minutes holding the caller's stdout and stderr (a
caller capturing the output waits for them) and the memory of its fit. Each worker
therefore

* asks Linux for a parent-death signal (``prctl(PR_SET_PDEATHSIG, SIGKILL)`` through
  ctypes): it is killed when its parent, the forkserver, ends (the forkserver ends when
  the driver does: it reads the driver's end of a pipe);
* runs a watchdog thread that polls the driver's process id every
  :data:`POLL_SECONDS` and ends the worker (``os._exit``) once the driver is gone, which
  also covers platforms without ``prctl``.

A ``.part`` file a worker was writing when it was killed is removed by the next write
into OUT_DIR (:func:`gainmlp.io.writing.remove_stale_parts`).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

#: Seconds between two checks of the watchdog.
POLL_SECONDS = 0.5
#: Exit status of a worker whose driver is gone.
ORPHAN_EXIT = 70
_PR_SET_PDEATHSIG = 1


def set_parent_death_signal(signum: int = signal.SIGKILL) -> bool:
    """Ask the kernel to send ``signum`` to this process when its parent ends (Linux);
    False where that is not available."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, int(signum), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _watch(driver_pid: int, parent_pid: int) -> None:
    while True:
        time.sleep(POLL_SECONDS)
        if not _alive(driver_pid) or os.getppid() != parent_pid:
            os._exit(ORPHAN_EXIT)


def die_with(driver_pid: int) -> None:
    """Make this worker end when the driver ``driver_pid`` (or the worker's own parent)
    ends: the parent-death signal and the watchdog thread (module docstring)."""
    parent = os.getppid()
    set_parent_death_signal()
    if not _alive(driver_pid) or parent == 1:  # gone before the signal was armed
        os._exit(ORPHAN_EXIT)
    threading.Thread(target=_watch, args=(driver_pid, parent), name="gainmlp-lifeline",
                     daemon=True).start()


__all__ = ["ORPHAN_EXIT", "POLL_SECONDS", "die_with", "set_parent_death_signal"]
