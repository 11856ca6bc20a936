"""The fused trainer (gainmlp.codecs.mlp.trainer): its hand-written backward equals
autograd's, its pixel draws do not depend on the other images, and many images fitted
together give each image what it gets alone."""

from __future__ import annotations

import numpy as np
import pytest
from mlp_helpers import local_pair, one_fitting_thread, smooth_pair  # noqa: F401

from gainmlp.codecs.features import normalise_inputs, pixel_centres
from gainmlp.codecs.mlp.format import pack_mlp_body
from gainmlp.codecs.mlp.grid import grid_taps
from gainmlp.options import EncodeOptions

torch = pytest.importorskip("torch")

from gainmlp.codecs.mlp import fit as mlp_fit  # noqa: E402
from gainmlp.codecs.mlp.trainer import pixel_indices  # noqa: E402


def test_pixel_indices_are_uniform_and_independent_of_the_other_images() -> None:
    sizes = torch.tensor([1000, 7, 123456], dtype=torch.int64)
    seeds = torch.tensor([3, 4, 5], dtype=torch.int64)
    many = pixel_indices(seeds, 17, 4096, sizes)
    alone = pixel_indices(seeds[2:], 17, 4096, sizes[2:])
    assert torch.equal(many[2], alone[0])
    assert int(many.min()) >= 0 and bool((many < sizes[:, None]).all())
    assert set(many[1].tolist()) == set(range(7))
    counts = torch.bincount(pixel_indices(seeds[:1], 0, 200_000, sizes[:1])[0], minlength=1000)
    assert counts.min() > 120 and counts.max() < 290  # mean 200, binomial sd 14
    assert not torch.equal(pixel_indices(seeds, 18, 4096, sizes), many)


def _autograd_grads(plan, idx: np.ndarray, grid: tuple | None) -> list[np.ndarray]:
    """Gradients of the normalised-map MSE by autograd, through an independent forward."""
    model = plan.model
    h, w = plan.sdr.shape[:2]
    row, col = idx // w, idx % w
    raw = np.concatenate([pixel_centres(w)[col, None], pixel_centres(h)[row, None],
                          plan.sdr.reshape(-1, 3)[idx]], axis=1)
    norm = torch.from_numpy(normalise_inputs(raw, plan.in_centre, plan.in_scale))
    feats = None
    if grid is not None:
        gr, gc, _ = grid
        x0, x1, fx = (torch.from_numpy(a) for a in grid_taps(w, gc))
        y0, y1, fy = (torch.from_numpy(a) for a in grid_taps(h, gr))
        g = model.grids[0]
        c, r = torch.from_numpy(col), torch.from_numpy(row)
        top = torch.lerp(g[y0[r], x0[c]], g[y0[r], x1[c]], fx[c][:, None])
        bottom = torch.lerp(g[y1[r], x0[c]], g[y1[r], x1[c]], fx[c][:, None])
        feats = torch.lerp(top, bottom, fy[r][:, None])
    out = model(norm, feats)
    target = torch.from_numpy(plan.target()[idx])
    loss = torch.mean((out - target) ** 2)
    params = list(model.weights) + ([model.grid_weight, model.grids[0]] if grid else [])
    return [g.numpy() for g in torch.autograd.grad(loss, params)]


@pytest.mark.parametrize("activation", ["sine", "relu"])
@pytest.mark.parametrize("grid", [None, "5x6x3:fp32"])
def test_backward_equals_autograd(activation: str, grid: str | None) -> None:
    sdr, hdr = local_pair()
    options = EncodeOptions(grid=grid, activation=activation, steps=1, batch=512)
    plan = mlp_fit._plan("gamma-mlp", "gamma", sdr, hdr, 1 / 64, options)
    # give the grid values, so that its columns get non-trivial gradients
    with torch.no_grad():
        for g in plan.model.grids:
            g.copy_(torch.randn(g.shape, generator=torch.Generator().manual_seed(1)) * 0.3)
    shape = plan.grid.shapes[0] if plan.grid else None
    trainer = mlp_fit.FusedTrainer(
        [mlp_fit.ImageData(plan.sdr, plan.target(), plan.in_centre, plan.in_scale, 0,
                           plan.start_weights, plan.grid_weight)],
        activation=plan.activation, n_frequencies=12, n_pad=8, grid=shape,
        grid_precision="fp32", device=torch.device("cpu"))
    if shape is not None:
        trainer.p[-1].copy_(plan.model.grids[0].detach()[None])
    trainer.step(0, 512, lr=0.0)
    idx = pixel_indices(torch.tensor([0]), 0, 512, torch.tensor([sdr.shape[0] * sdr.shape[1]]))
    want = _autograd_grads(plan, idx[0].numpy(), shape)
    g = [t[0].numpy() for t in trainer.g]
    w0 = want[0]
    n_enc = 120
    np.testing.assert_allclose(g[0], w0[:, :n_enc].T, rtol=2e-4, atol=1e-6)
    # the bias is the eight padding columns; each gets the same gradient
    np.testing.assert_allclose(g[1][0], w0[:, n_enc], rtol=2e-4, atol=1e-6)
    np.testing.assert_allclose(w0[:, n_enc:], w0[:, n_enc:n_enc + 1].repeat(8, 1), rtol=1e-6)
    np.testing.assert_allclose(g[2], want[1].T, rtol=2e-4, atol=1e-6)
    np.testing.assert_allclose(g[3], want[2].T, rtol=2e-4, atol=1e-6)
    if shape is not None:
        np.testing.assert_allclose(g[4], want[3].T, rtol=2e-4, atol=1e-6)
        np.testing.assert_allclose(g[5], want[4], rtol=2e-4, atol=1e-7)


def test_fused_fit_matches_the_autograd_fit() -> None:
    """Same recipe, different pixel draws: the two engines reach the same quality."""
    from gainmlp.codecs.mlp.decode import decode_mlp

    sdr, hdr = local_pair(48, 64)
    out = {}
    for engine in ("auto", "autograd"):
        opts = EncodeOptions(steps=150, batch=2048, engine=engine, grid="8x8x2")
        params = mlp_fit.fit_mlp("gamma-mlp", sdr, hdr, 1 / 64, opts).params
        rec = decode_mlp("gamma-mlp", pack_mlp_body(params), sdr, 1 / 64)
        out[engine] = 10 * np.log10(1 / np.mean((rec.astype(np.float64) - hdr) ** 2))
    assert out["auto"] > 35
    assert abs(out["auto"] - out["autograd"]) < 1.0, out


def test_many_images_together_equal_each_alone() -> None:
    pairs = [local_pair(40, 56, seed=0), smooth_pair(32, 48, seed=1), local_pair(24, 72, 2)]
    opts = EncodeOptions(steps=40, batch=1024)
    together = mlp_fit.encode_many("gamma-mlp", pairs, 1 / 64, opts, seeds=[0, 1, 2])
    for (sdr, hdr), seed, body in zip(pairs, [0, 1, 2], together, strict=True):
        alone = mlp_fit.encode_mlp("gamma-mlp", sdr, hdr, 1 / 64,
                                   EncodeOptions(steps=40, batch=1024, seed=seed))
        assert alone == body


def test_large_images_keep_only_the_drawn_pixels() -> None:
    """When a fit draws fewer pixels than half the image, the trainer keeps per-pixel data
    only for those; the arithmetic, hence every parameter, is unchanged."""
    from gainmlp.codecs.mlp.trainer import drawn_pixels

    sdr, hdr = local_pair(96, 128)
    options = EncodeOptions(steps=6, batch=512, grid="6x8x2")
    plan = mlp_fit._plan("gamma-mlp", "gamma", sdr, hdr, 1 / 64, options)
    image = mlp_fit.ImageData(plan.sdr, plan.target, plan.in_centre, plan.in_scale, 3,
                              plan.start_weights, plan.grid_weight)
    kwargs = dict(activation=plan.activation, n_frequencies=12, n_pad=8,
                  grid=plan.grid.shapes[0], grid_precision="u8", device=torch.device("cpu"))
    full = mlp_fit.FusedTrainer([image], **kwargs)
    drawn = mlp_fit.FusedTrainer([image], **kwargs, steps=6, batch=512)
    assert full.kept is None and drawn.kept is not None
    n = sdr.shape[0] * sdr.shape[1]
    assert drawn.target.shape[0] == drawn.kept.numel() < n / 2
    # the kept set is exactly the pixels the six steps draw
    want = np.unique(np.concatenate([
        pixel_indices(torch.tensor([3]), s, 512, torch.tensor([n]))[0].numpy()
        for s in range(6)]))
    np.testing.assert_array_equal(drawn_pixels(torch.tensor([3]), torch.tensor([n]), 6, 512)[0],
                                  want)
    for step in range(6):
        full.step(step, 512, 1e-2)
        drawn.step(step, 512, 1e-2)
    assert torch.equal(full.flat, drawn.flat)
    with pytest.raises(ValueError, match="outside the planned"):
        drawn.step(6, 512, 1e-2)


HIGHLIGHTS = "focus:0.25:406:4+gn"


def _dim_pair() -> tuple[np.ndarray, np.ndarray]:
    """A pair with no HDR channel above 406 cd/m2 (PQ 0.64)."""
    sdr, hdr = smooth_pair(32, 48, seed=1)
    return sdr, np.minimum(hdr, 0.6).astype(np.float32)


def test_highlight_fits_together_equal_each_alone() -> None:
    """Focus draws and loss weights (codecs/mlp/highlight_fit.py) keep the property that an
    image gets the same payload alone or with others, with or without highlights."""
    pairs = [local_pair(40, 56, seed=0), _dim_pair(), local_pair(24, 72, 2)]
    opts = EncodeOptions(steps=40, batch=1024, highlights="focus:0.25:406:4")
    together = mlp_fit.encode_many("gamma-mlp", pairs, 1 / 64, opts, seeds=[0, 1, 2])
    assert together[0] != mlp_fit.encode_many("gamma-mlp", pairs[:1], 1 / 64,
                                               EncodeOptions(steps=40, batch=1024,
                                                             highlights="off"))[0]
    for (sdr, hdr), seed, body in zip(pairs, [0, 1, 2], together, strict=True):
        alone = mlp_fit.encode_mlp("gamma-mlp", sdr, hdr, 1 / 64,
                                   EncodeOptions(steps=40, batch=1024, seed=seed,
                                                 highlights="focus:0.25:406:4"))
        assert alone == body


def test_an_image_without_highlights_is_fitted_as_without_emphasis() -> None:
    sdr, hdr = _dim_pair()
    plain = mlp_fit.encode_mlp("gamma-mlp", sdr, hdr, 1 / 64,
                               EncodeOptions(steps=20, batch=512, highlights="off"))
    for spec in ("focus:0.125:406", "focus:0.25:406:4", "weight:3:406"):
        assert mlp_fit.encode_mlp("gamma-mlp", sdr, hdr, 1 / 64, EncodeOptions(
            steps=20, batch=512, highlights=spec)) == plain, spec


def test_focus_draws_keep_the_drawn_pixel_shortcut() -> None:
    """With focus draws and weights, keeping only the drawn pixels changes nothing."""
    from gainmlp.codecs.mlp.highlight_fit import focus_pixels, parse_highlights, pixel_weights

    sdr, hdr = local_pair(96, 128)
    spec = parse_highlights(HIGHLIGHTS)
    plan = mlp_fit._plan("gamma-mlp", "gamma", sdr, hdr, 1 / 64,
                         EncodeOptions(steps=6, batch=512, grid="6x8x2"))
    focus = focus_pixels(spec, plan.hdr, None)
    assert focus is not None and 0 < focus.size < sdr.shape[0] * sdr.shape[1] / 4
    weight = pixel_weights(spec, plan.sdr, plan.hdr, 1 / 64, plan.out_s, 512, focus,
                           sdr.shape[0] * sdr.shape[1])
    image = mlp_fit.ImageData(plan.sdr, plan.target, plan.in_centre, plan.in_scale, 3,
                              plan.start_weights, plan.grid_weight, None, focus, weight)
    kwargs = dict(activation=plan.activation, n_frequencies=12, n_pad=8, focus=128,
                  grid=plan.grid.shapes[0], grid_precision="u8", device=torch.device("cpu"))
    full = mlp_fit.FusedTrainer([image], **kwargs)
    drawn = mlp_fit.FusedTrainer([image], **kwargs, steps=6, batch=512)
    assert full.kept is None and drawn.kept is not None
    for step in range(6):
        full.step(step, 512, 1e-2)
        drawn.step(step, 512, 1e-2)
    assert torch.equal(full.flat, drawn.flat)


@pytest.mark.parametrize("spec", ["focus:1.5:406", "focus:0.1", "weight:0:406", "lum", "x"])
def test_bad_highlight_specs_are_refused(spec: str) -> None:
    from gainmlp.codecs.mlp.highlight_fit import parse_highlights
    from gainmlp.errors import GainMLPError

    with pytest.raises(GainMLPError, match="highlights"):
        parse_highlights(spec)


# -- the CPU trainer (numba) against the torch fused trainer ---------------------------------


@pytest.mark.parametrize("meta_init", [True, False])
@pytest.mark.parametrize("activation", ["sine", "relu"])
def test_numpy_start_network_is_torchs(meta_init: bool, activation: str) -> None:
    """fit_plan draws the start network in numpy exactly as the torch model draws it."""
    sdr, hdr = local_pair()
    plan = mlp_fit._plan("gamma-mlp", "gamma", sdr, hdr, 1 / 64, EncodeOptions(
        activation=activation, meta_init=meta_init, seed=123456789012))
    model = plan.model
    n_enc = model.n_encoded
    torch_first = model.weights[0].detach().numpy()
    want = [np.concatenate([torch_first[:, :n_enc],
                            torch_first[:, n_enc:].sum(axis=1, keepdims=True)], axis=1)]
    want += [w.detach().numpy() for w in model.weights[1:]]
    for got, w in zip(plan.start_weights, want, strict=True):
        np.testing.assert_array_equal(got, w)
    np.testing.assert_array_equal(plan.grid_weight, model.grid_weight.detach().numpy())


def test_numpy_hash_is_torchs() -> None:
    from gainmlp.codecs.mlp.cpu_trainer import hashed_indices

    sizes, seeds = np.array([1000, 7, 123456, 2 ** 40]), np.array([3, -4, 5, 2 ** 62])
    want = pixel_indices(torch.from_numpy(seeds), 17, 4096, torch.from_numpy(sizes)).numpy()
    np.testing.assert_array_equal(hashed_indices(seeds, 17 * 4096, 4096, sizes), want)


def _both_trainers(plan, batch: int, optimiser: str = "adam", **kw):
    from gainmlp.codecs.mlp.cpu_trainer import CpuTrainer

    shape = plan.grid.shapes[0] if plan.grid else None
    image = mlp_fit.ImageData(plan.sdr, plan.target, plan.in_centre, plan.in_scale, 0,
                              plan.start_weights, plan.grid_weight, **kw)
    common = dict(activation=plan.activation, n_frequencies=12, n_pad=8, grid=shape,
                  grid_precision="fp32", batch=batch, optimiser=optimiser)
    return (mlp_fit.FusedTrainer([image], device=torch.device("cpu"), **common),
            CpuTrainer([image], **common))


@pytest.mark.parametrize("activation", ["sine", "relu"])
@pytest.mark.parametrize("grid", [None, "5x6x3:fp32"])
@pytest.mark.parametrize("batch", [64, 3000])  # per pixel, and per column / row
def test_cpu_trainer_gradients_equal_the_torch_trainers(activation: str, grid: str | None,
                                                        batch: int) -> None:
    sdr, hdr = local_pair()
    options = EncodeOptions(grid=grid, activation=activation, steps=1, batch=batch)
    plan = mlp_fit._plan("gamma-mlp", "gamma", sdr, hdr, 1 / 64, options)
    rng = np.random.default_rng(5)
    weight = rng.random(sdr.shape[0] * sdr.shape[1]).astype(np.float32) + 0.5
    torch_trainer, cpu = _both_trainers(plan, batch, weight=weight)
    assert cpu.images[0].factored == (batch == 3000)
    if grid is not None:  # grid values, so that every gradient is non-trivial
        values = rng.normal(size=plan.grid.shapes[0]).astype(np.float32) * 0.3
        torch_trainer.p[-1].copy_(torch.from_numpy(values)[None])
        cpu.flat[0, cpu.offsets[-2]:] = values.ravel()
    lt = torch_trainer.step(0, batch, lr=0.0)
    lc = cpu.step(0, batch, lr=0.0)
    assert lc[0] == pytest.approx(float(lt[0]), rel=1e-5)
    got, want = cpu._buffer(batch, 0)[0][0], torch_trainer.grad[0].numpy()
    for a, b in zip(cpu.offsets[:-1], cpu.offsets[1:], strict=True):  # block by block
        scale = np.abs(want[a:b]).max()
        assert scale > 0 and np.abs(got[a:b] - want[a:b]).max() <= 2e-5 * scale
    cpu.close()


@pytest.mark.parametrize("grid", [None, "5x6x3:fp32"])
def test_cpu_trainer_muon_steps_equal_the_torch_trainers(grid: str | None) -> None:
    """Muon (first and hidden matrices) and Adam (the rest): the same parameters after a
    few steps, and the Muon matrices moved by Muon, not Adam."""
    sdr, hdr = local_pair()
    options = EncodeOptions(grid=grid, steps=4, batch=3000)
    plan = mlp_fit._plan("gamma-mlp", "gamma", sdr, hdr, 1 / 64, options)
    torch_trainer, cpu = _both_trainers(plan, 3000, optimiser="muon")
    _, adam_only = _both_trainers(plan, 3000)
    start = cpu.flat[0].copy()
    for step in range(4):
        torch_trainer.step(step, 3000, lr=1e-2)
        cpu.step(step, 3000, lr=1e-2)
        adam_only.step(step, 3000, lr=1e-2)
    got, want = cpu.flat[0], torch_trainer.flat[0].numpy()
    assert [b for b, _, _ in cpu.muon] == [cpu.offsets[0], cpu.offsets[2]]
    for a, b in zip(cpu.offsets[:-1], cpu.offsets[1:], strict=True):  # block by block
        moved = np.abs(want[a:b] - start[a:b]).max()
        assert moved > 0 and np.abs(got[a:b] - want[a:b]).max() <= 1e-3 * moved
    for off, rows, cols in cpu.muon:  # Muon's step, not Adam's
        sl = slice(off, off + rows * cols)
        assert np.abs(got[sl] - adam_only.flat[0, sl]).max() > 0.1 * np.abs(
            got[sl] - start[sl]).max()
    cpu.close()
    adam_only.close()


@pytest.mark.parametrize("optimiser, steps", [("muon", 100), ("adam", 300)])
def test_cpu_and_torch_fits_decode_alike(optimiser: str, steps: int) -> None:
    """The default recipe (shortened) with both engines: payloads within 0.05 dB. (Muon's
    orthogonalisation lifts the momentum's smallest singular directions to unit size, so
    float rounding differences between the engines grow once the fit has converged far:
    after 300 steps of these tiny pairs at 66-68 dB the engines differ by up to 0.2 dB,
    as much as two seeds do; docs/fewer-steps.md.)"""
    from gainmlp.codecs.mlp.decode import decode_mlp

    for sdr, hdr in (local_pair(48, 64), smooth_pair(40, 56, seed=2)):
        psnr = {}
        for engine in ("numba", "torch"):
            opts = EncodeOptions(steps=steps, batch=2048, engine=engine, optimiser=optimiser)
            body = mlp_fit.encode_mlp("gamma-mlp", sdr, hdr, 1 / 64, opts)
            rec = decode_mlp("gamma-mlp", body, sdr, 1 / 64)
            psnr[engine] = 10 * np.log10(1 / np.mean((rec.astype(np.float64) - hdr) ** 2))
        assert psnr["numba"] > 35
        assert abs(psnr["numba"] - psnr["torch"]) < 0.05, psnr
