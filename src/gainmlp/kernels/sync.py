"""Synchronisation between threads running compiled kernels, without the GIL.

The CPU trainer's threaded step (:mod:`gainmlp.kernels.train_step`) hands each step's
work between a caller's thread and worker threads that stay inside compiled code from one
step to the next. A Python hand-off (a queue, an event, taking the GIL back) costs 0.1-0.2
ms per step, a fifth of a 1-MP fit's step; a flag in shared memory costs well under a
microsecond (docs/speed.md). Three primitives, as numba intrinsics:

* :func:`load_acquire` / :func:`store_release`: an atomic 64-bit load with acquire order
  and store with release order on an element of an int64 array (a writer's earlier stores
  are visible to a reader that sees its flag);
* :func:`relax`: a spin-wait hint (``pause`` on x86, nothing elsewhere);
* :func:`yield_cpu`: ``sched_yield()`` from the C library, so a waiting thread gives its
  core away when threads outnumber cores;
* :func:`prefetch`: a hint to bring an array element's cache line into this core's cache.

:func:`wait_until` spins on a flag, then yields, and gives up after a bound (the caller
then blocks in Python). There is no numpy reference: these are not arithmetic; the tests
(``tests/test_kernels_sync.py``) check hand-offs between threads and the bound.
Importing this module imports numba.
"""

from __future__ import annotations

import platform

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from gainmlp.kernels._jit import jit

#: Busy spins (with :func:`relax`) before a waiter starts yielding its core.
SPINS = 4000
_X86 = platform.machine().lower() in ("x86_64", "amd64", "i386", "i686")


def _element(context, builder, aryty, ary, idx):
    """The address of element ``idx`` of ``ary``'s data (contiguous)."""
    data = context.make_array(aryty)(context, builder, ary).data
    return builder.gep(data, [idx])


@intrinsic
def load_acquire(typingctx, arr, idx):  # pragma: no cover - compiled
    """``arr[idx]`` (int64, 1-D) read atomically with acquire order."""
    sig = types.int64(arr, idx)

    def codegen(context, builder, signature, args):
        ptr = _element(context, builder, signature.args[0], args[0], args[1])
        return builder.load_atomic(ptr, "acquire", 8)

    return sig, codegen


@intrinsic
def store_release(typingctx, arr, idx, value):  # pragma: no cover - compiled
    """``arr[idx] = value`` (int64, 1-D) written atomically with release order."""
    sig = types.void(arr, idx, types.int64)

    def codegen(context, builder, signature, args):
        ptr = _element(context, builder, signature.args[0], args[0], args[1])
        val = context.cast(builder, args[2], signature.args[2], types.int64)
        builder.store_atomic(val, ptr, "release", 8)
        return context.get_dummy_value()

    return sig, codegen


def _call(builder, name, ret, args=(), arg_types=()):
    """Call the external or LLVM function ``name`` (declared on first use)."""
    fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ret, list(arg_types)),
                                        name)
    return builder.call(fn, list(args))


@intrinsic
def relax(typingctx):  # pragma: no cover - compiled
    """A spin-wait hint to the core (x86 ``pause``; nothing on other processors)."""

    def codegen(context, builder, signature, args):
        if _X86:
            _call(builder, "llvm.x86.sse2.pause", ir.VoidType())
        return context.get_dummy_value()

    return types.void(), codegen


@intrinsic
def yield_cpu(typingctx):  # pragma: no cover - compiled
    """``sched_yield()``: give this thread's core to another runnable thread."""

    def codegen(context, builder, signature, args):
        return _call(builder, "sched_yield", ir.IntType(32))

    return types.int32(), codegen


@intrinsic
def prefetch(typingctx, arr, idx):  # pragma: no cover - compiled
    """Hint that element ``idx`` of ``arr`` (counted in elements from the start of its data,
    whatever its shape) will be read soon (``llvm.prefetch``; no effect on results)."""

    def codegen(context, builder, signature, args):
        ptr = _element(context, builder, signature.args[0], args[0], args[1])
        i8p, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
        name = "llvm.prefetch.p0" if str(i8p) == "ptr" else "llvm.prefetch.p0i8"
        _call(builder, name, ir.VoidType(), [builder.bitcast(ptr, i8p), i32(0), i32(3), i32(1)],
              [i8p, i32, i32, i32])
        return context.get_dummy_value()

    return types.void(arr, idx), codegen


@jit
def wait_until(ctrl, i, value, stop, limit):  # pragma: no cover - compiled
    """Wait until ``ctrl[i] >= value`` or ``ctrl[stop] != 0``: :data:`SPINS` busy spins,
    then a yield per check; after ``limit`` yields (``limit < 0``: never) give up. Returns
    1 when the flag is reached, 0 on a stop, -1 on giving up."""
    n = 0
    while True:
        if load_acquire(ctrl, i) >= value:
            return 1
        if load_acquire(ctrl, stop) != 0:
            return 0
        n += 1
        if n < SPINS:
            relax()
        else:
            yield_cpu()
            if 0 <= limit < n - SPINS:
                return -1
