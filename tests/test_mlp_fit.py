"""Fitting the Gain-MLP network (codecs/mlp/fit.py, model.py): determinism, the fitted
network decodes as torch computes it, options, grids, the learning-rate schedule."""

from __future__ import annotations

import numpy as np
import pytest

from gainmlp import paper_residual
from gainmlp.codecs.features import normalise_inputs
from gainmlp.codecs.mlp.decode import decode_mlp, denormalise_outputs, forward_numpy, method_kind
from gainmlp.codecs.mlp.format import (
    BILATERAL_BODY_VERSION,
    GRID_BODY_VERSION,
    body_size,
    pack_mlp_body,
    unpack_mlp_body,
)
from gainmlp.codecs.mlp.grid import GridSpec, guide_range, parse_grid_spec
from gainmlp.errors import GainMLPError
from gainmlp.options import (
    AUTO_GRID,
    DEFAULT_ACTIVATION,
    DEFAULT_GRID,
    EncodeOptions,
    resolve_activation,
    resolve_precision,
)
from gainmlp.paper_residual import DEFAULT_EPS, reconstruct

torch = pytest.importorskip("torch")

from mlp_helpers import (  # noqa: E402
    fast_options,
    grid_options,
    local_pair,
    one_fitting_thread,  # noqa: F401  (autouse)
    psnr,
    random_params,
    raw_inputs,
    smooth_pair,
    torch_forward,
)

from gainmlp.codecs.mlp import fit as mlp_fit  # noqa: E402

# -- the plain network -------------------------------------------------------------------

@pytest.mark.parametrize("method", ["gamma-mlp", "gain-mlp", "direct-mlp"])
def test_decode_matches_fitted_forward(method: str) -> None:
    sdr, hdr = smooth_pair()
    res = mlp_fit.fit_mlp(method, sdr, hdr, DEFAULT_EPS, fast_options(steps=20))
    body = pack_mlp_body(res.params)
    out = decode_mlp(method, body, sdr, DEFAULT_EPS)
    assert out.dtype == np.float32 and out.shape == sdr.shape
    assert np.all((out >= 0) & (out <= 1))
    # The split training forward, the plain torch forward and the numpy decoder agree.
    raw = raw_inputs(sdr)
    p = res.params
    with torch.no_grad():
        t = res.model.cpu()(torch.from_numpy(normalise_inputs(raw, p.in_centre, p.in_scale)))
    np.testing.assert_allclose(forward_numpy(p, raw), t.numpy(), atol=1e-5, rtol=0)
    mapped = denormalise_outputs(p, t.numpy().astype(np.float64))
    kind = method_kind(method)
    expect = (np.clip(mapped, 0, 1) if kind == "direct"
              else reconstruct(kind, sdr.reshape(-1, 3), mapped, DEFAULT_EPS))
    np.testing.assert_allclose(out.reshape(-1, 3), expect, atol=2e-5, rtol=0)


def test_fit_is_deterministic() -> None:
    """Same seed (and thread count) -> the same bytes; another seed -> other bytes."""
    sdr, hdr = smooth_pair()
    a = mlp_fit.encode_mlp("gamma-mlp", sdr, hdr, DEFAULT_EPS, fast_options(steps=15))
    b = mlp_fit.encode_mlp("gamma-mlp", sdr, hdr, DEFAULT_EPS, fast_options(steps=15))
    c = mlp_fit.encode_mlp("gamma-mlp", sdr, hdr, DEFAULT_EPS, fast_options(steps=15, seed=4))
    assert a == b and a != c


@pytest.mark.parametrize("method,loss", [("gamma-mlp", "map"), ("gain-mlp", "map"),
                                         ("direct-mlp", "map"), ("gamma-mlp", "hdr")])
def test_fit_improves(method: str, loss: str) -> None:
    sdr, hdr = smooth_pair()
    res = mlp_fit.fit_mlp(method, sdr, hdr, DEFAULT_EPS, fast_options(steps=100, loss=loss),
                          snapshots=(0,))
    before = psnr(decode_mlp(method, pack_mlp_body(res.snapshots[0]), sdr, DEFAULT_EPS), hdr)
    after = psnr(decode_mlp(method, pack_mlp_body(res.params), sdr, DEFAULT_EPS), hdr)
    assert after > before + 3 and after > 30, (before, after)
    assert res.losses and res.seconds > 0


def test_fp16_and_sine_payloads() -> None:
    sdr, hdr = smooth_pair()
    body = mlp_fit.encode_mlp("gamma-mlp", sdr, hdr, DEFAULT_EPS,
                              fast_options(steps=40, precision="fp16", activation="sine"))
    p = unpack_mlp_body(body)
    assert p.precision == "fp16" and p.activation == "sine" and len(body) == 4580
    assert psnr(decode_mlp("gamma-mlp", body, sdr, DEFAULT_EPS), hdr) > 25


def test_options_validated() -> None:
    sdr, hdr = smooth_pair()
    for kw in ({"activation": "tanh"}, {"precision": "fp8"}, {"loss": "l1"},
               {"device": "tpu"}, {"inputs": "rgb"}, {"lr_schedule": "step"}):
        with pytest.raises(GainMLPError):
            mlp_fit.encode_mlp("gamma-mlp", sdr, hdr, DEFAULT_EPS, fast_options(**kw))
    with pytest.raises(GainMLPError):
        mlp_fit.encode_mlp("gamma-mlp", sdr, hdr[:10], DEFAULT_EPS, fast_options())
    with pytest.raises(GainMLPError):
        mlp_fit.encode_mlp("mlp-itm", sdr, hdr, DEFAULT_EPS, fast_options())
    assert resolve_activation("auto") == DEFAULT_ACTIVATION


def test_fit_starts_from_given_weights() -> None:
    """``init``: step 0 is the given network; an init of another shape is refused."""
    p = random_params()
    sdr, hdr = smooth_pair()
    res = mlp_fit.fit_mlp("gamma-mlp", sdr, hdr, DEFAULT_EPS,
                          fast_options(steps=1, activation="relu"), init=p, snapshots=(0,))
    np.testing.assert_allclose(res.snapshots[0].weights[1], p.weights[1])
    with pytest.raises(GainMLPError):  # a relu init for a sine network
        mlp_fit.fit_mlp("gamma-mlp", sdr, hdr, DEFAULT_EPS, fast_options(activation="sine"),
                        init=p)


def test_target_values_are_the_residual() -> None:
    sdr, hdr = smooth_pair(8, 8)
    s, h = sdr.reshape(-1, 3), hdr.reshape(-1, 3)
    gain = paper_residual.compute("gain", h, s, DEFAULT_EPS)
    np.testing.assert_array_equal(mlp_fit.target_values("gain", "linear", s, h, DEFAULT_EPS),
                                  gain)
    np.testing.assert_allclose(mlp_fit.target_values("gain", "log2", s, h, DEFAULT_EPS),
                               np.log2(gain))
    np.testing.assert_array_equal(mlp_fit.target_values("direct", "linear", s, h, 0.1), h)
    with torch.no_grad():
        t = mlp_fit.torch_target("gamma", "linear", torch.from_numpy(s), torch.from_numpy(h),
                                 DEFAULT_EPS)
    np.testing.assert_allclose(t.numpy(), mlp_fit.target_values("gamma", "linear", s, h,
                                                                DEFAULT_EPS), rtol=1e-5)


def test_heavy_tailed_gain_maps_are_fitted_in_log2() -> None:
    rng = np.random.default_rng(0)
    sdr = (0.2 + 0.3 * rng.random((64, 64, 3))).astype(np.float32)
    hdr = np.clip(sdr * 1.3, 0, 1).astype(np.float32)
    assert mlp_fit.choose_transform("gain", sdr, hdr, 1 / 64) == "linear"
    dark = sdr.copy()
    dark[0, :8] = 0.0  # a few black SDR pixels under bright HDR: huge gains
    hdr2 = hdr.copy()
    hdr2[0, :8] = 0.7
    assert mlp_fit.choose_transform("gain", dark, hdr2, 1 / 64) == "log2"
    assert mlp_fit.choose_transform("gamma", dark, hdr2, 1 / 64) == "linear"


def test_xy_only_inputs_ablation_ignores_colour():
    """inputs="xy" (Table 2): the decoded map cannot follow the SDR's colour."""
    from conftest import synthetic_pair

    from gainmlp.codecs import decode_residual, encode_residual

    sdr_u8, hdr = synthetic_pair(32, 32, seed=5)
    sdr = (sdr_u8 / 255.0).astype(np.float32) * 0.5
    opts = EncodeOptions(steps=20, batch=512, grid=None, inputs="xy")
    body = encode_residual("gamma-mlp", sdr, hdr, 1 / 64, opts)
    out1 = decode_residual("gamma-mlp", body, sdr, 1 / 64)
    # same positions, different colours: the predicted gamma map is unchanged
    other = np.roll(sdr, 7, axis=1)
    out2 = decode_residual("gamma-mlp", body, other, 1 / 64)
    f1 = paper_residual.gamma_map(out1, sdr)
    f2 = paper_residual.gamma_map(out2, other)
    np.testing.assert_allclose(f1, f2, rtol=1e-4, atol=1e-4)


# -- with grids ----------------------------------------------------------------------------

def _split_forward_matches(res: mlp_fit.FitResult, sdr: np.ndarray, hdr: np.ndarray,
                           t: np.ndarray) -> None:
    """The training-time (split, gathered) forward agrees with the plain one."""
    p = res.params
    model = res.model.cpu()
    batcher = mlp_fit._Batcher(sdr, hdr, p.in_centre, p.in_scale, torch.device("cpu"))
    batcher.add_grids(p.grid_shapes, p.grid_guide)
    with torch.no_grad():
        ex, ey, sn, cs, _, _ = batcher.sample(512, torch.Generator().manual_seed(0))
        split = model.forward_split(ex, ey, sn, cs, model.grid_features(batcher.last_taps))
    idx = torch.randint(0, sdr.shape[0] * sdr.shape[1], (512,),
                        generator=torch.Generator().manual_seed(0)).numpy()
    np.testing.assert_allclose(split.numpy(), t[idx], atol=1e-5, rtol=0)


@pytest.mark.parametrize("method", ["gamma-mlp", "gain-mlp"])
def test_fitted_grid_decodes_like_torch(method: str) -> None:
    sdr, hdr = local_pair()
    res = mlp_fit.fit_mlp(method, sdr, hdr, DEFAULT_EPS, grid_options(steps=20, grid="4x6x2:u8"))
    assert res.params.grid_shapes == [(4, 6, 2)] and res.params.grid_precision == "u8"
    body = pack_mlp_body(res.params)
    assert body[0] == GRID_BODY_VERSION
    # The grid was frozen at its stored (u8) values, so packing does not move it.
    np.testing.assert_allclose(unpack_mlp_body(body).grids[0], res.params.grids[0], atol=1e-6)
    p = res.params
    raw = raw_inputs(sdr)
    t = torch_forward(p, raw)
    np.testing.assert_allclose(forward_numpy(p, raw), t, atol=1e-5, rtol=0)
    _split_forward_matches(res, sdr, hdr, t)
    out = decode_mlp(method, body, sdr, DEFAULT_EPS)
    mapped = denormalise_outputs(p, t.astype(np.float64))
    expect = reconstruct(method_kind(method), sdr.reshape(-1, 3), mapped, DEFAULT_EPS)
    np.testing.assert_allclose(out.reshape(-1, 3), expect, atol=2e-5, rtol=0)


def test_fitted_bilateral_grid_decodes_like_torch() -> None:
    sdr, hdr = local_pair()
    res = mlp_fit.fit_mlp("gamma-mlp", sdr, hdr, DEFAULT_EPS,
                          grid_options(steps=30, grid="4x6x3x2:u8"), snapshots=(0,))
    p = res.params
    assert p.grid_shapes == [(4, 6, 3, 2)] and p.grid_guide == guide_range(sdr)
    body = pack_mlp_body(p)
    assert body[0] == BILATERAL_BODY_VERSION
    _split_forward_matches(res, sdr, hdr, torch_forward(p, raw_inputs(sdr)))
    before = psnr(decode_mlp("gamma-mlp", pack_mlp_body(res.snapshots[0]), sdr,
                             DEFAULT_EPS), hdr)
    after = psnr(decode_mlp("gamma-mlp", body, sdr, DEFAULT_EPS), hdr)
    assert after > before + 3, (before, after)


def test_grid_starts_as_the_plain_network() -> None:
    """Grids start at zero: with meta-init, step 0 computes the shipped network's function."""
    sdr, hdr = local_pair()
    plain = mlp_fit.fit_mlp("gamma-mlp", sdr, hdr, DEFAULT_EPS, grid_options(steps=0, grid=None))
    grid = mlp_fit.fit_mlp("gamma-mlp", sdr, hdr, DEFAULT_EPS, grid_options(steps=0))
    assert all(np.all(g == 0) for g in grid.params.grids)
    assert np.any(grid.params.weights[0][:, grid.params.grid_columns()] != 0)
    a = decode_mlp("gamma-mlp", pack_mlp_body(plain.params), sdr, DEFAULT_EPS)
    b = decode_mlp("gamma-mlp", pack_mlp_body(grid.params), sdr, DEFAULT_EPS)
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_grid_fit_learns_the_local_part() -> None:
    sdr, hdr = local_pair()
    res = mlp_fit.fit_mlp("gamma-mlp", sdr, hdr, DEFAULT_EPS, grid_options(steps=50),
                          snapshots=(0,))
    before = psnr(decode_mlp("gamma-mlp", pack_mlp_body(res.snapshots[0]), sdr,
                             DEFAULT_EPS), hdr)
    after = psnr(decode_mlp("gamma-mlp", pack_mlp_body(res.params), sdr, DEFAULT_EPS), hdr)
    assert after > before + 3 and after > 30, (before, after)
    assert np.any(res.params.grids[0] != 0)


def test_grid_fit_deterministic_and_validated() -> None:
    sdr, hdr = local_pair(20, 24)
    a = mlp_fit.encode_mlp("gamma-mlp", sdr, hdr, DEFAULT_EPS, grid_options(steps=8))
    b = mlp_fit.encode_mlp("gamma-mlp", sdr, hdr, DEFAULT_EPS, grid_options(steps=8))
    assert a == b
    for kw in ({"grid": "8x8"}, {"grid": "8x8x2:int4"}):
        with pytest.raises(GainMLPError):
            mlp_fit.encode_mlp("gamma-mlp", sdr, hdr, DEFAULT_EPS, grid_options(**kw))
    with pytest.raises(GainMLPError):
        mlp_fit.fit_mlp("gamma-mlp", sdr, hdr, DEFAULT_EPS, grid_options(), grid_entry=3)


def test_auto_precision_is_fp16_with_a_grid_and_fp32_without() -> None:
    assert resolve_precision("auto", True) == "fp16"
    assert resolve_precision("auto", False) == "fp32"
    assert resolve_precision("fp32", True) == "fp32"
    sdr, hdr = local_pair()
    with_grid = mlp_fit.fit_mlp("gamma-mlp", sdr, hdr, DEFAULT_EPS,
                                grid_options(steps=2, precision="auto"))
    plain = mlp_fit.fit_mlp("gamma-mlp", sdr, hdr, DEFAULT_EPS,
                            grid_options(steps=2, precision="auto", grid=None))
    assert with_grid.params.precision == "fp16" and plain.params.precision == "fp32"


# -- defaults: grid and cosine-tail learning rate ---------------------------------------------

def test_resolve_grid_auto_per_kind() -> None:
    for off in (None, "", "none", "off", "None"):
        assert mlp_fit.resolve_grid(off) is None
    assert mlp_fit.resolve_grid("auto") == parse_grid_spec(DEFAULT_GRID)
    spec = mlp_fit.resolve_grid("Auto")  # with fp16 weights "auto" stays within 10 KB
    assert spec == GridSpec(((32, 32, 4),), "u8")
    size = body_size(5, 12, [16, 16], 3, "fp16", list(spec.shapes), 1, spec.precision)
    assert size + 40 == 8885 <= 10 * 1024
    assert mlp_fit.resolve_grid(None) is None
    for kind, grid in AUTO_GRID.items():
        assert mlp_fit.resolve_grid("auto", kind) == parse_grid_spec(grid)
    assert mlp_fit.resolve_grid(EncodeOptions().grid) is not None


def test_lr_factor_schedules() -> None:
    assert all(mlp_fit.lr_factor("constant", s, 1000) == 1.0 for s in (0, 500, 999))
    f = [mlp_fit.lr_factor("cosine-tail", s, 1000) for s in range(1000)]
    assert f[0] == f[499] == 1.0 and f[500] == pytest.approx(1.0)
    assert f[999] == pytest.approx(mlp_fit.LR_TAIL_FLOOR)
    assert f[749] == pytest.approx(0.5 * (1 + mlp_fit.LR_TAIL_FLOOR), abs=2e-3)
    assert all(a >= b for a, b in zip(f, f[1:], strict=False))
    with pytest.raises(GainMLPError):
        mlp_fit.lr_factor("step", 0, 10)


def test_default_options_fit_the_grid_with_the_cosine_tail() -> None:
    opts = EncodeOptions()
    assert opts.grid == "auto" and opts.lr_schedule == "cosine-tail"
    sdr, hdr = local_pair(20, 24)
    body = mlp_fit.encode_mlp("gamma-mlp", sdr, hdr, DEFAULT_EPS,
                              EncodeOptions(steps=4, batch=256))
    p = unpack_mlp_body(body)
    assert body[0] == GRID_BODY_VERSION and p.grid_shapes == [(32, 32, 4)]
    assert p.precision == "fp16" and p.grid_precision == "u8" and len(body) + 40 == 8885


def test_cosine_tail_changes_only_the_second_half() -> None:
    sdr, hdr = local_pair(20, 24)
    kw = dict(steps=20, batch=256, grid=None)
    a = mlp_fit.fit_mlp("gamma-mlp", sdr, hdr, DEFAULT_EPS, EncodeOptions(**kw),
                        snapshots=(10, 20))
    b = mlp_fit.fit_mlp("gamma-mlp", sdr, hdr, DEFAULT_EPS,
                        EncodeOptions(lr_schedule="constant", **kw), snapshots=(10, 20))
    assert pack_mlp_body(a.snapshots[10]) == pack_mlp_body(b.snapshots[10])
    assert pack_mlp_body(a.snapshots[20]) != pack_mlp_body(b.snapshots[20])


@pytest.mark.parametrize("method", ["gain-mlp", "direct-mlp"])
def test_auto_grid_is_none_for_gain_and_direct(method: str) -> None:
    """Measured per method: gain/direct lost with Ward's operator, so "auto" = no grid."""
    sdr, hdr = local_pair(20, 24)
    body = mlp_fit.encode_mlp(method, sdr, hdr, DEFAULT_EPS, EncodeOptions(steps=2, batch=256))
    assert body[0] == 1 and len(body) == 9060
    explicit = mlp_fit.encode_mlp(method, sdr, hdr, DEFAULT_EPS,
                                  EncodeOptions(steps=2, batch=256, grid=DEFAULT_GRID))
    assert explicit[0] == GRID_BODY_VERSION
