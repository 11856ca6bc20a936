"""The CPU trainer's one-call step (gainmlp.kernels.train_step): its sampler and gather
against their numpy references, and whole fits against the per-step thread pool of
CpuTrainer.step, byte for byte, with 1-3 threads, every sampling (pool, focus, weights,
kept pixels), factored or not, grid or not, Adam or Muon; workers that go idle between
steps and wake up; close()."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from mlp_helpers import local_pair

from gainmlp.codecs.mlp import cpu_trainer
from gainmlp.codecs.mlp.cpu_trainer import CpuTrainer, ImageData, hashed_indices
from gainmlp.codecs.mlp.fit_plan import make_plan
from gainmlp.kernels import train_step
from gainmlp.options import EncodeOptions

NF = 12


def _sampler(rng, n: int, pool: bool, focus: int, focus_pool: bool, kept: bool):
    """Arguments of ``draw`` for an image of ``n`` pixels (width 37)."""
    empty = np.zeros(0, np.int32)
    pool_a = np.sort(rng.choice(n, n // 3, replace=False)).astype(np.int32) if pool else empty
    size = pool_a.size if pool else n
    focus_a = (np.sort(rng.choice(n, 50, replace=False)).astype(np.int32) if focus_pool
               else pool_a)
    focus_size = focus_a.size if focus_a.size else size
    return 11, size, pool_a, focus, focus_a, focus_size, empty, 37


@pytest.mark.parametrize("pool", [False, True])
@pytest.mark.parametrize("focus,focus_pool", [(0, False), (100, False), (100, True)])
@pytest.mark.parametrize("kept", [False, True])
def test_draw_and_gather_equal_the_references(pool, focus, focus_pool, kept) -> None:
    rng = np.random.default_rng(3)
    n, batch = 37 * 29, 700
    seed, size, pool_a, n_focus, focus_a, focus_size, kept_a, width = _sampler(
        rng, n, pool, focus, focus_pool, kept)
    if kept:  # the pixels kept: every drawn one (as the trainer keeps them) and others
        drawn = np.zeros(batch, np.int64)
        train_step.draw_numpy(seed, 9, batch, 0, batch, size, pool_a, n_focus, focus_a,
                              focus_size, kept_a, width, drawn, *(np.zeros(batch, np.int64)
                                                                  for _ in range(3)))
        kept_a = np.union1d(drawn, rng.choice(n, n // 3, replace=False))
    sdr, target = rng.random((n, 3), np.float32), rng.random((n, 3), np.float32)
    weight = rng.random(n, np.float32)
    outs = {}
    for name, fn, gather in (("kernel", train_step.draw, train_step.gather),
                             ("numpy", train_step.draw_numpy, train_step.gather_numpy)):
        idx, rows, cols, pos = (np.full(batch, -1, np.int64) for _ in range(4))
        compact = np.zeros((batch, 3), np.float32), np.zeros((batch, 3), np.float32), \
            np.zeros(batch, np.float32)
        # the kernel looks positions up in the kept pixels' rank, the reference searches
        where = (train_step.kept_rank(kept_a if kept else None, n) if name == "kernel"
                 else kept_a)
        for lo, hi in ((0, 300), (300, batch)):  # two ranges, as two chunks
            fn(seed, 9, batch, lo, hi, size, pool_a, n_focus, focus_a, focus_size, where,
               width, idx, rows, cols, pos)
            gather(lo, hi, pos, sdr, target, weight, *compact)
        outs[name] = (idx, rows, cols, pos, *compact)
    for a, b in zip(outs["kernel"], outs["numpy"], strict=True):
        np.testing.assert_array_equal(a, b)
    idx = outs["kernel"][0]
    assert (outs["kernel"][1] * width + outs["kernel"][2] == idx).all()
    want = hashed_indices(np.array([seed]), 9 * batch, batch, np.array([size]))[0]
    want = pool_a[want] if pool else want
    np.testing.assert_array_equal(idx[:batch - focus], want[:batch - focus])


def _image(plan, seed: int = 3, **kw) -> ImageData:
    return ImageData(plan.sdr, plan.target, plan.in_centre, plan.in_scale, seed,
                     plan.start_weights, plan.grid_weight, **kw)


def _fit(plan, image: ImageData, persistent: bool, steps: int, batch: int, threads: int,
         optimiser: str = "muon", focus: int = 0, planned: bool = False,
         between=None) -> np.ndarray:
    grid = plan.grid.shapes[0] if plan.grid is not None else None
    trainer = CpuTrainer([image], activation=plan.activation, n_frequencies=NF, n_pad=8,
                         grid=grid, grid_precision="u8", batch=batch,
                         steps=steps if planned else None, focus=focus, optimiser=optimiser,
                         threads=threads, persistent=persistent)
    losses = []
    try:
        for step in range(steps):
            if grid is not None and step == steps // 2:
                trainer.freeze_grid()
            losses.append(trainer.step(step, batch, 1e-2 * (0.9 ** step))[0])
            if between is not None:
                between(trainer)
        assert (trainer._threaded is not None) == persistent
        return np.concatenate([trainer.flat.ravel(), np.array(losses, np.float32)])
    finally:
        trainer.close()


CASES = {  # name: (grid, batch, activation-free options)
    "factored-grid": ("6x8x2", 5000, {}),
    "unfactored": (None, 150, {}),
    "adam": ("4x4x3", 4500, {"optimiser": "adam"}),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_one_call_steps_equal_the_thread_pool(case: str, threads: int) -> None:
    grid, batch, extra = CASES[case]
    sdr, hdr = local_pair(96, 128)
    plan = make_plan("gamma-mlp", "gamma", sdr, hdr, 1 / 64, EncodeOptions(grid=grid))
    want = _fit(plan, _image(plan), False, 6, batch, threads, **extra)
    got = _fit(plan, _image(plan), True, 6, batch, threads, **extra)
    np.testing.assert_array_equal(got, want)


def test_one_call_steps_with_pools_focus_weights_and_kept_pixels() -> None:
    sdr, hdr = local_pair(128, 160)
    n = 128 * 160
    plan = make_plan("gamma-mlp", "gamma", sdr, hdr, 1 / 64, EncodeOptions(grid="5x6x2"))
    rng = np.random.default_rng(8)
    pool = np.sort(rng.choice(n, n // 2, replace=False)).astype(np.int32)
    focus = np.sort(rng.choice(pool, 300, replace=False))
    weight = (1 + rng.random(n)).astype(np.float32)
    for kw in ({"pixels": pool}, {"pixels": pool, "focus": focus, "weight": weight},
               {"focus": focus}):
        for planned in (False, True):
            fits = [_fit(plan, _image(plan, **kw), persistent, 4, 2500, 2,
                         focus=256 if "focus" in kw else 0, planned=planned)
                    for persistent in (False, True)]
            np.testing.assert_array_equal(fits[1], fits[0])


def test_idle_workers_wake_up_and_close_stops_them(monkeypatch) -> None:
    """Workers that wait longer than IDLE_YIELDS block in Python; the next step wakes them
    (the same bytes as without pauses); close() ends them."""
    monkeypatch.setattr(cpu_trainer._ThreadedStep, "IDLE_YIELDS", 1)
    sdr, hdr = local_pair(96, 128)
    plan = make_plan("gamma-mlp", "gamma", sdr, hdr, 1 / 64, EncodeOptions(grid="6x8x2"))
    seen = []

    def pause(trainer) -> None:
        time.sleep(0.02)  # the workers go idle
        seen.append(list(trainer._threaded.idle))

    want = _fit(plan, _image(plan), False, 5, 5000, 3)
    got = _fit(plan, _image(plan), True, 5, 5000, 3, between=pause)
    np.testing.assert_array_equal(got, want)
    assert any(any(s) for s in seen)  # the workers did block between steps
    assert not [t for t in threading.enumerate() if t.name.startswith("gainmlp-fit-")]


def test_compiled_drawn_pixels_equal_numpys() -> None:
    seeds, sizes = np.array([3, 11]), np.array([5000, 123457])
    for steps, batch in ((7, 700), (40, 4096)):
        want = cpu_trainer.drawn_pixels(seeds, sizes, steps, batch)
        got = cpu_trainer.drawn_pixels(seeds, sizes, steps, batch, train_step.mark_drawn)
        for a, b in zip(got, want, strict=True):
            np.testing.assert_array_equal(a, b)
