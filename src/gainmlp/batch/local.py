"""The local runner: a pool of worker processes on this machine.

Workers are forked from a ``forkserver`` that has imported the encoder (torch included)
once, so a pool starts in a fraction of a second after the first, and each is set up once
(:func:`~gainmlp.batch.work.init_worker`: one thread for torch, numpy's BLAS and
gainmlp's pools, an equal share of the memory budget). One task more than there are
workers is in flight at a time, so a long batch holds little in memory. With one job the
tasks run in this process, without a pool.

A worker that dies (killed, out of memory, a crash in a native library) breaks the
pool: every task that was in flight is then run again alone in a fresh pool, so the one
that kills its worker is found; a group is split into single items first, and a single
item whose worker dies twice when run alone gets a failed row. No item is lost and none
is reported twice.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from gainmlp.batch.items import Item
from gainmlp.batch.work import BatchSpec, init_worker, new_row, one_line, run_task

#: How often an item run alone may lose its worker before it is given up.
MAX_SOLO_CRASHES = 2
#: What the forkserver imports once for every worker it forks.
PRELOAD = ["gainmlp.batch.work", "gainmlp.codecs.mlp.fit", "gainmlp.photo"]
#: The forkserver's environment: one thread for torch, the BLAS under numpy and gainmlp's
#: own pools in every worker (jobs x threads must not exceed the cores), set before the
#: forkserver imports numpy and torch.
WORKER_ENV = {"GAINMLP_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
              "MKL_NUM_THREADS": "1"}

Results = list[tuple[dict, bytes | None]]
OnResult = Callable[[Results], None]


def failed(task: list[Item], spec: BatchSpec, error: str) -> Results:
    """Failed rows for every item of ``task``."""
    return [(new_row(item, spec, error), None) for item in task]


def _start_forkserver() -> None:
    """Start the forkserver (if it is not running) with :data:`WORKER_ENV`; this
    process's environment is restored afterwards."""
    from multiprocessing import forkserver

    saved = {k: os.environ.get(k) for k in WORKER_ENV}
    os.environ.update(WORKER_ENV)
    try:
        forkserver.ensure_running()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """Terminate the pool's workers (SIGTERM) without waiting for their tasks: when the
    driver is interrupted, a worker in the middle of a fit would otherwise run on, and
    the interpreter's exit would wait for it. A ``.part`` file a worker leaves is removed
    by the next run's first write into OUT_DIR."""
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        try:
            process.terminate()
        except (OSError, ValueError, AttributeError):
            pass


class LocalRunner:
    """Runs tasks in ``jobs`` worker processes (see the module docstring)."""

    def __init__(self, jobs: int, memory_budget: int | None = None) -> None:
        self.jobs = max(1, jobs)
        self.memory_budget = memory_budget

    def has_gpu(self) -> bool:
        try:
            import torch
        except ImportError:  # the plain install: no torch, so no CUDA trainer either
            return False
        return bool(torch.cuda.is_available())

    def close(self) -> None:
        pass

    def run(self, tasks: list[list[Item]], spec: BatchSpec, on_result: OnResult) -> None:
        if self.jobs == 1:
            for task in tasks:
                on_result(run_task(task, spec))
            return
        pending: deque[list[Item]] = deque(tasks)
        suspects: deque[tuple[list[Item], int]] = deque()
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(PRELOAD)
        _start_forkserver()
        while pending or suspects:
            pool = ProcessPoolExecutor(self.jobs, mp_context=context, initializer=init_worker,
                                       initargs=(self.memory_budget, os.getpid()))
            clean = False
            try:
                self._drain(pool, pending, suspects, spec, on_result)
                clean = True
            finally:
                if not clean:  # interrupted (Ctrl-C, SIGTERM, SIGHUP) or an error here:
                    _stop_workers(pool)  # nothing may fit on (or hold the exit) after it
                pool.shutdown(wait=clean, cancel_futures=True)

    def _drain(self, pool: ProcessPoolExecutor, pending: deque, suspects: deque,
               spec: BatchSpec, on_result: OnResult) -> None:
        """Run tasks in ``pool`` until all are done or a worker dies (then the tasks in
        flight become suspects, each run alone next)."""
        in_flight: dict[Future, tuple[list[Item], int | None]] = {}
        while True:
            if suspects:
                if not in_flight:
                    task, crashes = suspects.popleft()
                    in_flight[pool.submit(run_task, task, spec)] = (task, crashes)
            else:
                while pending and len(in_flight) < self.jobs + 1:
                    task = pending.popleft()
                    in_flight[pool.submit(run_task, task, spec)] = (task, None)
            if not in_flight:
                return
            done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            broken = False
            for fut in done:
                task, crashes = in_flight.pop(fut)
                broken |= self._collect(fut, task, crashes, suspects, spec, on_result)
            if broken:
                for fut, (task, crashes) in in_flight.items():
                    if fut.done() and not fut.cancelled() and fut.exception() is None:
                        on_result(fut.result())
                    else:
                        self._lost(task, crashes, suspects, spec, on_result)
                return

    def _collect(self, fut: Future, task: list[Item], crashes: int | None, suspects: deque,
                 spec: BatchSpec, on_result: OnResult) -> bool:
        """Hand a finished task's rows on; True when its worker died."""
        try:
            results = fut.result()
        except BrokenProcessPool:
            self._lost(task, crashes, suspects, spec, on_result)
            return True
        except Exception as exc:  # noqa: BLE001 - e.g. an item that cannot be sent
            results = failed(task, spec, one_line(exc))
        on_result(results)
        return False

    @staticmethod
    def _lost(task: list[Item], crashes: int | None, suspects: deque, spec: BatchSpec,
              on_result: OnResult) -> None:
        """A task whose worker died: run it alone (again), split it, or give it up."""
        if crashes is None:  # in flight beside others: any of them may be the culprit
            suspects.append((task, 0))
        elif len(task) > 1:
            suspects.extendleft(([item], 0) for item in reversed(task))
        elif crashes + 1 >= MAX_SOLO_CRASHES:
            on_result(failed(task, spec, f"its worker process died each time it ran alone "
                                         f"({crashes + 1} times): killed, out of memory or "
                                         "a crash"))
        else:
            suspects.appendleft((task, crashes + 1))


__all__ = ["LocalRunner", "MAX_SOLO_CRASHES", "failed"]
