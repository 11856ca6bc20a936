"""The compiled hand-off flags (gainmlp.kernels.sync): a flag written with release order
and read with acquire order carries data between threads; waits end on the flag, on a
stop, or after their bound."""

from __future__ import annotations

import threading

import numpy as np

from gainmlp.kernels._jit import jit
from gainmlp.kernels.sync import load_acquire, store_release, wait_until


@jit
def _ping(ctrl, data, rounds):  # pragma: no cover - compiled
    total = 0
    for r in range(1, rounds + 1):
        data[0] = r * 3
        store_release(ctrl, 0, r)
        if wait_until(ctrl, 1, r, 2, -1) != 1:
            return -1
        total += data[1]
    return total


@jit
def _pong(ctrl, data, rounds):  # pragma: no cover - compiled
    for r in range(1, rounds + 1):
        if wait_until(ctrl, 0, r, 2, -1) != 1:
            return -1
        data[1] = data[0] + 1  # written before the flag: the other side must see it
        store_release(ctrl, 1, r)
    return load_acquire(ctrl, 1)


def test_flags_hand_data_between_threads() -> None:
    ctrl, data = np.zeros(3, np.int64), np.zeros(2, np.int64)
    rounds = 20000
    out = []
    worker = threading.Thread(target=lambda: out.append(_pong(ctrl, data, rounds)))
    worker.start()
    total = _ping(ctrl, data, rounds)
    worker.join()
    assert out == [rounds]
    assert total == sum(3 * r + 1 for r in range(1, rounds + 1))


def test_waits_end_on_stop_and_after_their_bound() -> None:
    ctrl = np.zeros(3, np.int64)
    assert wait_until(ctrl, 0, 1, 2, 5) == -1  # never set: gives up after 5 yields
    ctrl[0] = 4
    assert wait_until(ctrl, 0, 4, 2, 5) == 1
    ctrl[2] = 1
    assert wait_until(ctrl, 0, 9, 2, -1) == 0  # a stop ends an unbounded wait
