"""Helpers of the hostile-input tests: the command line in a child process, measured."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Run:
    status: int  # exit status; -9 when it was killed for running past its time
    stderr: str
    peak_mb: float  # the child's peak resident set (ru_maxrss)

    def one_line_error(self) -> bool:
        """Exit 2 with exactly one line on stderr, ``gainmlp: error: ...``."""
        lines = [line for line in self.stderr.splitlines() if line.strip()]
        return (self.status == 2 and len(lines) == 1
                and lines[0].startswith("gainmlp: error: ") and "Traceback" not in self.stderr)


_WRAPPER = """
import atexit, sys
peak_file = sys.argv[1]
def _peak():
    try:
        with open("/proc/self/status") as fh:
            hwm = [line for line in fh if line.startswith("VmHWM:")]
        with open(peak_file, "w") as out:
            out.write(hwm[0].split()[1] if hwm else "")
    except OSError:
        pass
atexit.register(_peak)
sys.argv = ["gainmlp", *sys.argv[2:]]
from gainmlp.cli import main
sys.exit(main())
"""


def run_cli(*args, env: dict | None = None, timeout: float = 120.0, cwd=None) -> Run:
    """``gainmlp ARGS`` in a child process with ``env`` added to the environment; killed
    after ``timeout`` seconds (so a regression that blocks cannot hang the suite).

    The peak is the child's own high-water mark (``VmHWM``, read as it exits): the
    ``ru_maxrss`` that ``wait4`` reports would include the RSS of this test process,
    which Linux carries into every child it starts."""
    full_env = {**os.environ, **(env or {})}
    with tempfile.TemporaryFile() as err, tempfile.NamedTemporaryFile("r") as peak:
        proc = subprocess.Popen([sys.executable, "-c", _WRAPPER, peak.name, *map(str, args)],
                                stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL,
                                env=full_env, cwd=cwd)
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.05)
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        text = err.read().decode(errors="replace")
        kb = peak.read().strip()
    return Run(proc.returncode, text, int(kb) / 1024.0 if kb else usage.ru_maxrss / 1024.0)


def listing(folder: Path) -> dict[str, tuple[int, int]]:
    """name -> (mode, size) of everything in ``folder`` (not following links), to check
    that nothing was changed, added or left behind."""
    out = {}
    for p in sorted(Path(folder).iterdir()):
        st = p.lstat()
        out[p.name] = (st.st_mode, st.st_size if not p.is_fifo() else 0)
    return out
