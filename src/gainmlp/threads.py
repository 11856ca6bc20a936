"""BLAS on the calling thread while gainmlp's own threads hold the cores.

gainmlp runs its heavy loops on its own threads (compiled kernels on row tiles, the CPU
trainer's workers that spin between steps: :func:`gainmlp.colorimetry.usable_cores` of
them). Between those loops it makes small BLAS calls (a held-out check's matrix products,
a palette's first layer, a PSNR's dot product). OpenBLAS runs each on its own thread pool
and then keeps those threads spinning for a while (~0.1 s) in case another call comes:
on a 2-core machine they took a core from the fit's threads, about 1 s of a 12.5-MP
re-encode (docs/speed.md).

:func:`blas_on_caller` limits BLAS to the calling thread (threadpoolctl) while an
encode or decode runs in the main thread, and restores the process's setting when the
outermost one returns; nothing is changed at import, nor in other threads (OpenBLAS
0.3.31 ignores a thread count raised back from a thread other than the main one, so a
limit set there could not be undone). The values are the same: OpenBLAS splits a product
between its threads by rows, each computed by the same kernel.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

_state: dict = {"depth": 0, "limiter": None, "controller": None}


def _controller():
    """threadpoolctl's view of the loaded BLAS libraries (None: threadpoolctl missing)."""
    if _state["controller"] is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:  # pragma: no cover - a dependency; kept optional at run time
            return None
        _state["controller"] = ThreadpoolController()
    return _state["controller"]


@contextlib.contextmanager
def blas_on_caller() -> Iterator[None]:
    """Within this context, entered in the main thread, BLAS runs on the calling thread
    (threadpoolctl's ``limits=1`` for the ``blas`` API); the outermost context restores
    the setting it found. In any other thread it changes nothing.

    Examples
    --------
    >>> import numpy as np
    >>> with blas_on_caller():
    ...     float(np.ones(3) @ np.ones(3))
    3.0
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if _state["depth"] == 0:
        controller = _controller()
        if controller is not None:
            _state["limiter"] = controller.limit(limits=1, user_api="blas")
    _state["depth"] += 1
    try:
        yield
    finally:
        _state["depth"] -= 1
        if _state["depth"] == 0 and _state["limiter"] is not None:
            _state["limiter"].restore_original_limits()
            _state["limiter"] = None


__all__ = ["blas_on_caller"]
