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


#: The kernels each kind of decode compiles on first use, as ``(module, function)``.
DECODE_KERNELS = {
    "mlp": (("colour_index", "_mark"), ("mlp", "mlp_rows")),
    "mlp-itm": (("colour_index", "_mark"), ("mlp_itm", "itm_rows")),
    "conventional": (("gainmap", "_conventional_rows"),),
    "gain map": (("gainmap", "_render_rows"),),
}


def cache_is_warm(kernels) -> bool:
    """Whether numba's on-disk cache holds machine code for the current source of each of
    ``kernels`` (so a decode starts without compiling). Reads numba's cache index; when
    that cannot be read, answers True (no notice is better than a wrong one)."""
    if not compiled():
        return True
    import importlib

    try:
        for module, name in kernels:
            dispatcher = getattr(importlib.import_module(f"gainmlp.kernels.{module}"), name)
            if not dispatcher._cache._cache_file._load_index():
                return False
    except Exception:  # noqa: BLE001 - numba internals: any doubt means "warm"
        return True
    return True
