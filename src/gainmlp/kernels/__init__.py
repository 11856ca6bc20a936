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


#: The CPU trainer's kernels (``gainmlp encode`` with the numba engine), as ``(module,
#: function)``: compiling them the first time takes about half a minute of CPU.
TRAIN_KERNELS = (("train_step", "thread_step"), ("train_step", "publish"),
                 ("train_step", "stop"))
#: The standard gain map's kernels (an encode's default container writes one).
MAP_KERNELS = (("gainmap_encode", "_extremes_rows"), ("gainmap_encode", "_code_rows"))


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


#: Modules numba imports while it starts that no gainmlp kernel needs: cffi (numba's
#: typing of cffi functions; its C parser alone takes ~70 ms to import), scipy (numba checks
#: its version, and its BLAS for ``np.dot``, which imports all of ``scipy.linalg``, ~150 ms)
#: and yaml (numba's reader of a ``.numba_config.yaml``, kept when the folder has one).
#: :func:`warm_up_async` can start numba without them (``lean=True``).
LEAN_SKIPPED = ("cffi", "scipy", "yaml")


def _start_without(modules):
    """A context in which importing any of ``modules`` that is not imported yet fails (numba
    then starts without the features needing them); afterwards they import normally again.
    For a process that uses numba for gainmlp's kernels only (the ``gainmlp`` command)."""
    import contextlib
    import sys

    @contextlib.contextmanager
    def hidden():
        added = [m for m in modules if m not in sys.modules]
        for m in added:
            sys.modules[m] = None  # the import system's "not importable" marker
        try:
            yield
        finally:
            for m in added:
                if sys.modules.get(m, 0) is None:
                    del sys.modules[m]

    return hidden()


def load_cached(kernels) -> None:
    """Load the machine code numba's on-disk cache holds for ``kernels`` (``(module,
    function)`` pairs) for this machine, so that their first calls need no load (the CPU
    trainer's step is ~50 ms of it). Signatures cached for another processor are left
    alone; one whose code cannot be read is compiled, as its first call would."""
    import importlib

    for module, name in kernels:
        dispatcher = getattr(importlib.import_module(f"gainmlp.kernels.{module}"), name)
        magic = dispatcher.targetctx.codegen().magic_tuple()
        for key in dispatcher._cache._cache_file._load_index():
            if key[1] == magic and key[0] not in dispatcher.overloads:
                dispatcher.compile(key[0])


def warm_up_async(kernels, notice=None, lean=False):
    """Start numba and load ``kernels``' cached code (:func:`load_cached`) in a background
    thread, so that a command's file reading and JPEG decoding overlap numba's start
    (about half a second per process).
    ``notice()`` is called first when the kernels are not cached yet (they compile).
    ``lean``: start numba without the modules of :data:`LEAN_SKIPPED` (about 0.2 s less),
    leaving numba unable to compile cffi calls or ``np.dot`` in this process, and with the
    cyclic garbage collector paused (then numba's objects frozen out of its reach); for
    the ``gainmlp`` command only, never for a library caller's process.
    Returns the thread (already started), or None when the compiled kernels are off."""
    if not compiled():
        return None
    import contextlib
    import gc
    import threading

    def work() -> None:
        collecting = lean and gc.isenabled()
        if collecting:  # the cyclic collector would trace numba's ~10^5 new objects again and
            gc.disable()  # again while it starts (~40 ms, with the GIL held)
        try:
            skipped = [m for m in LEAN_SKIPPED
                       if not (m == "yaml" and os.path.exists(".numba_config.yaml"))]
            with _start_without(skipped) if lean else contextlib.nullcontext():
                if notice is not None and not cache_is_warm(kernels):
                    notice()
                import numpy as np

                from gainmlp.kernels.colour_index import index_colours

                index_colours(np.zeros((1, 1, 3), np.uint8), threads=1)  # numba's first dispatch
            load_cached(kernels)
        except Exception:  # noqa: BLE001 - only a head start: the decode reports errors
            pass
        finally:
            if collecting:  # numba's objects live as long as the process: not traced again
                gc.freeze()
                gc.enable()

    thread = threading.Thread(target=work, name="gainmlp-warm-up", daemon=True)
    thread.start()
    return thread
