"""The local pool: a worker killed mid-run loses no item and reports none twice."""

from __future__ import annotations

from collections import deque

from batch_helpers import spec, write_pair

from gainmlp.batch.items import Item
from gainmlp.batch.local import MAX_SOLO_CRASHES, LocalRunner
from gainmlp.batch.work import run_task, single_thread


def test_a_killed_worker_loses_nothing_and_repeats_nothing(tmp_path):
    items = []
    for k in range(3):
        sdr, hdr = write_pair(tmp_path / "in", f"p{k}", seed=k)
        items.append(Item(f"p{k}", "pair", sdr=str(sdr), hdr=str(hdr)))
    marker = tmp_path / "crashed"
    s = spec(tmp_path, crash_once=("p1", str(marker)))
    seen: list[str] = []
    LocalRunner(jobs=2).run([[it] for it in items], s,
                            lambda results: seen.extend(r["name"] for r, _ in results
                                                        if r["status"] == "ok"))
    assert marker.exists()  # the worker that started p1 did die
    assert sorted(seen) == ["p0", "p1", "p2"]
    reference = spec(tmp_path / "ref")
    with single_thread():
        run_task(items, reference)
    for it in items:  # same bytes as one process making them all
        assert ((tmp_path / "out" / f"{it.name}.jpg").read_bytes()
                == (tmp_path / "ref" / "out" / f"{it.name}.jpg").read_bytes())


def test_lost_tasks_are_isolated_then_given_up():
    a, b, c = (Item(n, "pair", sdr="s", hdr="h") for n in "abc")
    got: list = []
    suspects: deque = deque()
    s = spec_for_rows()
    LocalRunner._lost([a, b], None, suspects, s, got.extend)  # was in flight with others
    assert list(suspects) == [([a, b], 0)] and not got
    suspects.clear()
    LocalRunner._lost([a, b, c], 0, suspects, s, got.extend)  # a group that died alone
    assert list(suspects) == [([a], 0), ([b], 0), ([c], 0)]
    suspects.clear()
    LocalRunner._lost([a], 0, suspects, s, got.extend)
    assert list(suspects) == [([a], 1)] and MAX_SOLO_CRASHES == 2
    suspects.clear()
    LocalRunner._lost([a], 1, suspects, s, got.extend)
    assert not suspects and [r["name"] for r, _ in got] == ["a"]
    assert got[0][0]["status"] == "failed" and "worker process died" in got[0][0]["error"]


def spec_for_rows():
    from gainmlp.batch.work import BatchSpec

    return BatchSpec("unused")


def test_no_torch_means_no_gpu(monkeypatch) -> None:
    """The plain install has no torch: ``--device auto`` falls back to the CPU trainer
    instead of failing on the import."""
    import sys

    monkeypatch.setitem(sys.modules, "torch", None)  # import torch -> ImportError
    assert LocalRunner(1).has_gpu() is False
