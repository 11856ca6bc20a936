"""The one JIT decorator every kernel module uses (numba is imported here, lazily by
the kernel modules that need it)."""

from __future__ import annotations

import numba

#: ``@jit`` compiles a function in nopython mode, caches it on disk and releases the GIL.
jit = numba.njit(cache=True, nogil=True)
