"""Threads around gainmlp's own: BLAS on the caller, side work in the cores' idle gaps.

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

:func:`in_gaps` runs a side job (a re-encode's standard map) on a thread of the kernel's
idle class (Linux ``SCHED_IDLE``): it gets a core only while nothing else wants one, as
during a fit's single-threaded checks, packing and set-up, and never takes one from the
fit's spinning threads (at normal priority, side by side, it slowed a 12.5-MP re-encode,
docs/speed.md). Asking for its result raises it back to normal priority.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator

_state: dict = {"depth": 0, "limiter": None, "controller": None}
_pool_lock = threading.Lock()


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


_pools: dict = {}


def chunk_pool(workers: int):
    """A thread pool of ``workers`` threads kept for the process (one per size asked for):
    :func:`gainmlp.codecs.features.map_chunks` runs numpy chunks on it. New threads on
    every call each got a heap of their own from the C allocator, which kept their freed
    float64 temporaries: ~145 MB more peak memory in a 12.5-MP re-encode. A forked child
    gets pools of its own (its parent's threads do not exist in it)."""
    with _pool_lock:
        key = (os.getpid(), workers)
        pool = _pools.get(key)
        if pool is None:
            from concurrent.futures import ThreadPoolExecutor

            pool = _pools[key] = ThreadPoolExecutor(workers, thread_name_prefix="gainmlp-chunk")
        return pool


class Gap:
    """A side job started by :func:`in_gaps`; :meth:`result` waits for it."""

    def __init__(self, fn: Callable, args: tuple, kwargs: dict) -> None:
        self._call = (fn, args, kwargs)
        self._value: object = None
        self._error: BaseException | None = None
        self._tid: int | None = None
        self._started = threading.Event()
        self._thread: threading.Thread | None = None
        if hasattr(os, "SCHED_IDLE"):
            self._thread = threading.Thread(target=self._run, name="gainmlp-gaps",
                                            daemon=True)
            self._thread.start()
            self._started.wait()

    def _run(self) -> None:
        self._tid = threading.get_native_id()
        with contextlib.suppress(OSError):  # (not allowed here: it runs at normal priority)
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        self._started.set()
        fn, args, kwargs = self._call
        try:
            self._value = fn(*args, **kwargs)
        except BaseException as error:  # noqa: BLE001 - re-raised by result()
            self._error = error

    def result(self):
        """The job's return value (its exception re-raised): what is left of it runs now,
        at normal priority (on this thread where idle-class threads are not available)."""
        if self._thread is None:
            fn, args, kwargs = self._call
            return fn(*args, **kwargs)
        if self._thread.is_alive():
            with contextlib.suppress(OSError):
                os.sched_setscheduler(self._tid, os.SCHED_OTHER, os.sched_param(0))
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value


def in_gaps(fn: Callable, *args, **kwargs) -> Gap:
    """Start ``fn(*args, **kwargs)`` on a thread that only runs on an otherwise idle core
    (module doc); :meth:`Gap.result` gives its value. Where the idle class does not exist,
    the call is made by :meth:`Gap.result` itself."""
    return Gap(fn, args, kwargs)


__all__ = ["Gap", "blas_on_caller", "chunk_pool", "in_gaps"]
