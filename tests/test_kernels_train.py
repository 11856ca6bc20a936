"""The CPU trainer's kernels (gainmlp.kernels.train) against their numpy references, and
the CPU trainer's own properties (gainmlp.codecs.mlp.cpu_trainer): the same bytes with any
number of threads, with or without the drawn-pixel shortcut, many images or one. No torch
needed (tests/test_mlp_trainer.py compares the CPU trainer with the torch one)."""

from __future__ import annotations

import numpy as np
import pytest
from mlp_helpers import local_pair, one_fitting_thread  # noqa: F401

from gainmlp.codecs.mlp import cpu_trainer
from gainmlp.codecs.mlp.cpu_trainer import CpuTrainer, ImageData, hashed_indices
from gainmlp.codecs.mlp.fit_plan import make_plan
from gainmlp.kernels import train
from gainmlp.options import EncodeOptions

W, NF = 16, 12


def _case(rng: np.random.Generator, factored: bool, gch: int, weighted: bool, n: int = 700):
    """Random arguments of ``chunk_gradients`` for an 30 x 50 image (grid 4 x 5)."""
    h, w = 30, 50
    shapes = [(10 * NF, W), (1, W), (W, W), (W, 3)] + ([(gch, W), (4, 5, gch)] if gch else [])
    sizes = [int(np.prod(s)) for s in shapes]
    offsets = np.cumsum([0, *sizes])
    offs = np.array(list(offsets[:4]) + ([offsets[4], offsets[5]] if gch else [0, 0]),
                    np.int64)
    flat = ((rng.random(offsets[-1]) - 0.5) * 0.6).astype(np.float32)
    cols, rows = rng.integers(0, w, n), rng.integers(0, h, n)
    pos = rows * w + cols
    tab_x = rng.random((w, W if factored else 2 * NF), dtype=np.float32) - 0.5
    tab_y = rng.random((h, W if factored else 2 * NF), dtype=np.float32) - 0.5
    sdr = rng.random((h * w, 3), dtype=np.float32)
    target = rng.random((h * w, 3), dtype=np.float32) * 2 - 1
    weight = rng.random(h * w, dtype=np.float32) * 3 if weighted else np.zeros(0, np.float32)
    gx = np.stack([np.minimum(np.arange(w) // 10, 4), np.minimum(np.arange(w) // 10 + 1, 4),
                   (np.arange(w) % 10) / 10], axis=1).astype(np.float32)
    gy = np.stack([np.minimum(np.arange(h) // 8, 3), np.minimum(np.arange(h) // 8 + 1, 3),
                   (np.arange(h) % 8) / 8], axis=1).astype(np.float32)
    centre = np.array([0.4, 0.5, 0.45], np.float32)
    scale = np.array([0.3, 0.35, 0.25], np.float32)
    return [flat, offs, W, 0, NF, cols, rows, pos, tab_x, tab_y, int(factored), sdr, centre,
            scale, target, weight, gx, gy, 4, 5, gch, np.float32(2 / (3 * n)),
            np.zeros(offsets[-1], np.float32), np.zeros((w, W), np.float32),
            np.zeros((h, W), np.float32)]


@pytest.mark.parametrize("act", [train.SINE, train.RELU])
@pytest.mark.parametrize("factored", [True, False])
@pytest.mark.parametrize("gch", [0, 3])
@pytest.mark.parametrize("weighted", [False, True])
def test_chunk_gradients_equal_the_reference(act: int, factored: bool, gch: int,
                                             weighted: bool) -> None:
    rng = np.random.default_rng(act * 8 + factored * 4 + gch + weighted)
    args = _case(rng, factored, gch, weighted)
    args[3] = act
    ref = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    loss = train.chunk_gradients(*args)
    loss_ref = train.chunk_gradients_numpy(*ref)
    assert loss == pytest.approx(loss_ref, rel=1e-5)
    for got, want in ((args[22], ref[22]), (args[23], ref[23]), (args[24], ref[24])):
        scale = max(np.abs(want).max(), 1e-30)
        assert np.abs(got - want).max() <= 2e-5 * scale
    assert np.abs(args[22]).max() > 0


def test_coordinate_terms_and_bin_gradients_equal_the_references() -> None:
    rng = np.random.default_rng(3)
    table = rng.random((37, 2 * NF), dtype=np.float32)
    flat = rng.random(5 * 2 * NF * W, dtype=np.float32)
    out, ref = np.empty((37, W), np.float32), np.empty((37, W), np.float32)
    table_t = np.ascontiguousarray(table.T)
    train.coordinate_terms(table_t, flat, 2 * NF * W, W, out)
    train.coordinate_terms_numpy(table_t, flat, 2 * NF * W, W, ref)
    np.testing.assert_allclose(out, ref, rtol=1e-5)
    bins = rng.random((3, 37, W), dtype=np.float32)
    bins2 = bins.copy()
    grad, grad2 = np.ones(flat.size, np.float32), np.ones(flat.size, np.float32)
    train.bin_gradients(table, bins, grad, 2 * NF * W, W)
    train.bin_gradients_numpy(table, bins2, grad2, 2 * NF * W, W)
    np.testing.assert_allclose(grad, grad2, rtol=1e-5)
    assert not bins.any() and not bins2.any()
    assert (grad[:2 * NF * W] == 1).all() and (grad[4 * NF * W:] == 1).all()


def test_adam_equals_the_reference_and_torchs_formula() -> None:
    rng = np.random.default_rng(4)
    n = 1003  # the vector loop and its tail
    flat = rng.random(n, dtype=np.float32)
    grads = rng.random((3, n), dtype=np.float32) - 0.5
    m, v = rng.random(n, dtype=np.float32) * 0.1, rng.random(n, dtype=np.float32) * 0.01
    lr_scale = np.ones(n, np.float32)
    lr_scale[:5] = 8
    args = (np.float32(0.01 / (1 - 0.9 ** 3)), np.float32(1 - 0.999 ** 3), np.float32(0.9),
            np.float32(0.999), np.float32(1e-8))
    copies = [a.copy() for a in (flat, grads, m, v)]
    g = grads.sum(axis=0, dtype=np.float64)
    m_want = 0.9 * m + 0.1 * g
    v_want = 0.999 * v + 0.001 * g * g
    want = flat - 0.01 / (1 - 0.9 ** 3) * m_want * lr_scale / (
        np.sqrt(v_want / (1 - 0.999 ** 3)) + 1e-8)
    train.adam(flat, grads, m, v, lr_scale, *args)
    train.adam_numpy(*copies, lr_scale, *args)
    np.testing.assert_allclose(flat, want, rtol=0, atol=2e-6)
    np.testing.assert_allclose(copies[0], want, rtol=0, atol=2e-6)
    np.testing.assert_allclose(m, m_want, rtol=0, atol=1e-7)


@pytest.mark.parametrize("rows, cols", [(120, 16), (16, 16), (16, 3)])
def test_muon_equals_the_reference_and_orthogonalises(rows: int, cols: int) -> None:
    from gainmlp.codecs.mlp.fit_plan import MUON_NS, MUON_NS_STEPS

    rng = np.random.default_rng(rows + cols)
    n, off = rows * cols, 7
    flat = rng.normal(size=n + 20).astype(np.float32)
    grad = rng.normal(size=n + 20).astype(np.float32)
    buf = rng.normal(size=n + 20).astype(np.float32) * 0.1
    copies = [a.copy() for a in (flat, grad, buf)]
    args = (off, rows, cols, 0.01, 0.95, 0.4, *MUON_NS, MUON_NS_STEPS)
    train.muon(flat, grad, buf, *args)
    train.muon_numpy(*copies, *args)
    np.testing.assert_allclose(flat, copies[0], rtol=0, atol=1e-6)
    np.testing.assert_allclose(buf, copies[2], rtol=0, atol=1e-6)
    # the momentum (Nesterov) and, outside the block, nothing changed
    g, b0 = grad[off:off + n], (copies[2][off:off + n] - grad[off:off + n]) / 0.95
    np.testing.assert_allclose(buf[off:off + n], 0.95 * b0 + g, atol=1e-5)
    untouched = np.r_[0:off, off + n:n + 20]
    fresh = np.random.default_rng(rows + cols).normal(size=n + 20).astype(np.float32)
    np.testing.assert_array_equal(flat[untouched], fresh[untouched])  # (the same draw)
    # the update is the momentum orthogonalised: singular values near 1 (the quintic
    # Newton-Schulz iteration leaves them in about 0.7..1.2), singular vectors the
    # momentum's
    step = np.float32(0.01 * 0.4 * np.sqrt(max(rows, cols)))
    x = ((fresh - flat)[off:off + n] / step).reshape(rows, cols).astype(np.float64)
    sv = np.linalg.svd(x, compute_uv=False)
    assert sv.min() > 0.6 and sv.max() < 1.25
    u = (g + 0.95 * buf[off:off + n]).reshape(rows, cols).astype(np.float64)
    uu, _, vt = np.linalg.svd(u, full_matrices=False)
    np.testing.assert_allclose(uu.T @ x @ vt.T, np.diag(np.diag(uu.T @ x @ vt.T)), atol=2e-3)


def test_sincos_is_within_float32_rounding() -> None:
    x = np.linspace(-2048 * np.pi, 2048 * np.pi, 200_001).astype(np.float32)
    s, c = train.sincos_array(x)
    x64 = x.astype(np.float64)
    assert np.abs(s - np.sin(x64)).max() < 3e-7
    assert np.abs(c - np.cos(x64)).max() < 3e-7


def test_hashed_indices_are_uniform_and_independent_of_the_other_images() -> None:
    sizes = np.array([1000, 7, 123456])
    seeds = np.array([3, 4, 5])
    many = hashed_indices(seeds, 17 * 4096, 4096, sizes)
    alone = hashed_indices(seeds[2:], 17 * 4096, 4096, sizes[2:])
    np.testing.assert_array_equal(many[2], alone[0])
    assert many.min() >= 0 and (many < sizes[:, None]).all()
    assert set(many[1].tolist()) == set(range(7))
    counts = np.bincount(hashed_indices(seeds[:1], 0, 200_000, sizes[:1])[0], minlength=1000)
    assert counts.min() > 120 and counts.max() < 290  # mean 200, binomial sd 14


def _trainer(plan, seed: int = 3, **kw) -> CpuTrainer:
    image = ImageData(plan.sdr, plan.target, plan.in_centre, plan.in_scale, seed,
                      plan.start_weights, plan.grid_weight)
    return CpuTrainer([image], activation=plan.activation, n_frequencies=NF, n_pad=8,
                      grid=plan.grid.shapes[0], grid_precision="u8", **kw)


def test_the_result_does_not_depend_on_threads_or_the_drawn_pixel_shortcut() -> None:
    sdr, hdr = local_pair(192, 128)
    plan = make_plan("gamma-mlp", "gamma", sdr, hdr, 1 / 64,
                     EncodeOptions(steps=4, batch=2500, grid="6x8x2"))
    full = _trainer(plan, threads=1, batch=2500)
    drawn = _trainer(plan, threads=2, steps=4, batch=2500)
    assert full.images[0].kept is None and drawn.images[0].kept is not None
    n = sdr.shape[0] * sdr.shape[1]
    want = np.unique(hashed_indices(np.array([3]), 0, 4 * 2500, np.array([n]))[0])
    np.testing.assert_array_equal(drawn.images[0].kept, want)
    assert drawn.images[0].target.shape[0] == want.size < n / 2
    for step in range(4):
        full.step(step, 2500, 1e-2)
        drawn.step(step, 2500, 1e-2)
    np.testing.assert_array_equal(full.flat, drawn.flat)
    with pytest.raises(ValueError, match="outside the planned"):
        drawn.step(4, 2500, 1e-2)
    full.close()
    drawn.close()


def test_compiled_and_reference_trainers_agree() -> None:
    sdr, hdr = local_pair(40, 56)
    plan = make_plan("gamma-mlp", "gamma", sdr, hdr, 1 / 64, EncodeOptions(grid="5x6x3"))
    a, b = _trainer(plan, batch=1500), _trainer(plan, batch=1500, compiled=False)
    for step in range(20):
        la, lb = a.step(step, 1500, 1e-2), b.step(step, 1500, 1e-2)
        assert la[0] == pytest.approx(lb[0], rel=1e-4)
    assert np.abs(a.flat - b.flat).max() < 1e-4


def test_large_batches_without_factoring_fit() -> None:
    """Fewer pixels per step than columns and rows: the coordinate part per pixel."""
    sdr, hdr = local_pair(40, 56)
    plan = make_plan("gamma-mlp", "gamma", sdr, hdr, 1 / 64, EncodeOptions(grid="5x6x3"))
    trainer = _trainer(plan, batch=64)
    assert not trainer.images[0].factored
    losses = [trainer.step(s, 64, 1e-2)[0] for s in range(150)]
    assert np.mean(losses[-20:]) < 0.5 * np.mean(losses[:5])
    assert cpu_trainer.CHUNK >= 64


def test_sorted_union_is_numpys() -> None:
    rng = np.random.default_rng(6)
    a = np.unique(rng.integers(0, 100_000, 3000))
    b = np.unique(rng.integers(0, 100_000, 40_000)).astype(np.int32)
    np.testing.assert_array_equal(cpu_trainer.sorted_union(a, b, 100_000), np.union1d(a, b))
    np.testing.assert_array_equal(cpu_trainer.sorted_union(a, a[:0], 100_000), a)
