"""Compiled kernels: the one place where gainmlp uses a JIT compiler (numba).

Each module of this package holds the compiled kernels of one concern together with a
plain numpy reference of each (same inputs, same outputs); the tests compare the two
(``tests/test_kernels_*.py``). Kernels are compiled with :func:`jit` (numba ``njit`` with
``cache=True``, so the machine code is kept on disk after the first use, and ``nogil=True``,
so callers run them on row tiles in threads, ``gainmlp.colorimetry.usable_cores``).

Nothing here is imported by ``import gainmlp``: numba (about 0.3 s to import, and a compile
on first use) is loaded only when a decoder or encoder first needs a kernel. numba's own
settings (threading layer, cache directory) are left as the user has them.

``GAINMLP_KERNELS=numpy`` makes :func:`compiled` false, so every caller takes the numpy
reference path instead (slower, same results within the tolerances stated per kernel);
the compiled path is the default.
"""

from __future__ import annotations

import os


def compiled() -> bool:
    """Whether callers should use the compiled kernels (``$GAINMLP_KERNELS`` != numpy)."""
    return os.environ.get("GAINMLP_KERNELS", "").strip().lower() != "numpy"
