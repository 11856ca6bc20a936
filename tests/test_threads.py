"""gainmlp.threads: BLAS on the calling thread during encodes, the user's setting restored."""

from __future__ import annotations

import threading

import numpy as np
import pytest

threadpoolctl = pytest.importorskip("threadpoolctl")

from gainmlp.threads import blas_on_caller  # noqa: E402


def _blas_threads() -> list[int]:
    return [lib["num_threads"] for lib in threadpoolctl.threadpool_info()
            if lib["user_api"] == "blas"]


@pytest.fixture()
def two_blas_threads():
    if not _blas_threads():
        pytest.skip("no BLAS library threadpoolctl can control")
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        yield


def test_blas_runs_on_the_caller_inside_and_is_restored_after(two_blas_threads) -> None:
    before = _blas_threads()
    with blas_on_caller():
        assert set(_blas_threads()) == {1}
        with blas_on_caller():  # nested: still one, not restored by the inner exit
            pass
        assert set(_blas_threads()) == {1}
        assert float(np.ones(4) @ np.ones(4)) == 4.0
    assert _blas_threads() == before


def test_other_threads_change_nothing(two_blas_threads) -> None:
    before, seen = _blas_threads(), []

    def other() -> None:
        with blas_on_caller():
            seen.append(_blas_threads())

    worker = threading.Thread(target=other)
    worker.start()
    worker.join()
    assert seen == [before] and _blas_threads() == before


def test_an_encode_leaves_the_blas_setting_as_it_found_it(two_blas_threads) -> None:
    from gainmlp import api
    from gainmlp.colorimetry import SdrEncoding
    from gainmlp.image import SdrImage
    from gainmlp.options import EncodeOptions

    rng = np.random.default_rng(0)
    sdr = SdrImage(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8), SdrEncoding())
    hdr = rng.random((16, 16, 3), dtype=np.float32) * 0.5
    before = _blas_threads()
    payload = api.encode(sdr, hdr, "gamma-mlp", EncodeOptions(steps=2, batch=64))
    assert _blas_threads() == before
    api.decode(payload, sdr.pixels)
    assert _blas_threads() == before


def test_a_gap_job_runs_in_the_idle_class_and_returns_its_value() -> None:
    import os

    from gainmlp.threads import in_gaps

    def job(a: int, b: int = 0) -> tuple[int, int]:
        return a + b, os.sched_getscheduler(0)

    value, policy = in_gaps(job, 2, b=3).result()
    assert value == 5
    if hasattr(os, "SCHED_IDLE"):
        assert policy == os.SCHED_IDLE


def test_a_gap_jobs_error_is_raised_by_result() -> None:
    from gainmlp.errors import GainMLPError
    from gainmlp.threads import in_gaps

    def job() -> None:
        raise GainMLPError("no map")

    gap = in_gaps(job)
    with pytest.raises(GainMLPError, match="no map"):
        gap.result()


def test_without_the_idle_class_the_job_runs_when_asked(monkeypatch) -> None:
    import os

    from gainmlp.threads import in_gaps

    monkeypatch.delattr(os, "SCHED_IDLE", raising=False)
    calls = []
    gap = in_gaps(lambda: calls.append(threading.current_thread()) or 7)
    assert calls == []
    assert gap.result() == 7 and calls == [threading.current_thread()]


def test_the_chunk_pool_is_kept_and_a_forked_child_gets_its_own() -> None:
    import os

    from gainmlp.threads import chunk_pool

    pool = chunk_pool(2)
    assert chunk_pool(2) is pool and list(pool.map(abs, [-1, -2])) == [1, 2]
    if not hasattr(os, "fork"):
        return
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child
        try:
            ok = chunk_pool(2) is not pool and list(chunk_pool(2).map(abs, [-3])) == [3]
            os.write(write, b"1" if ok else b"0")
        finally:
            os._exit(0)
    os.close(write)
    assert os.read(read, 1) == b"1"
    os.waitpid(child, 0)
