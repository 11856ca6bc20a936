"""The one JIT decorator every kernel module uses (numba is imported here, lazily by
the kernel modules that need it)."""

from __future__ import annotations

import numba


def jit(fn=None, **options):
    """numba ``njit`` with gainmlp's defaults: ``cache=True`` (machine code kept on disk
    after the first compile) and ``nogil=True`` (callers run kernels on row tiles in
    threads). ``options`` add to or override them (e.g. ``fastmath={"contract"}``)."""
    settings = {"cache": True, "nogil": True, **options}
    if fn is None:
        return numba.njit(**settings)
    return numba.njit(**settings)(fn)
