"""The learned low-resolution grid beside the MLP: body version 2, decoder, fitting."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from gainmlp.codecs.mlp.decode import (
    decode_mlp,
    denormalise_outputs,
    forward_numpy,
    grid_features_at,
    method_kind,
    normalise_inputs,
)
from gainmlp.codecs.mlp.format import (
    BILATERAL_BODY_VERSION,
    GRID_BODY_VERSION,
    GridSpec,
    MlpParams,
    body_size,
    grid_taps,
    guide_range,
    luma_guide,
    pack_mlp_body,
    parse_grid_spec,
    unpack_mlp_body,
)
from gainmlp.errors import GainMLPError
from gainmlp.options import DEFAULT_GRID, EncodeOptions
from gainmlp.paper_residual import DEFAULT_EPS, reconstruct

torch = pytest.importorskip("torch")

from gainmlp.codecs.mlp import fit as mlp_fit  # noqa: E402
from gainmlp.codecs.mlp.model import GainMLPNet, model_from_params  # noqa: E402


@pytest.fixture(autouse=True)
def _one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GAINMLP_THREADS", "1")


def _pair(h: int = 40, w: int = 56, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """SDR-in-PQ / HDR-PQ pair whose residual has a smooth *local* part (a bump that is
    not a function of colour), as a local tone mapper makes."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    base = 0.25 + 0.2 * np.sin(7 * xx + 5 * yy)[..., None] + 0.05 * rng.random((h, w, 3))
    sdr = np.clip(base * np.array([1.0, 0.9, 1.1]), 0.02, 0.55).astype(np.float32)
    bump = np.exp(-((xx - 0.6) ** 2 + (yy - 0.3) ** 2) * 12)[..., None]
    hdr = np.clip(sdr ** (0.8 - 0.25 * bump), 0, 0.9).astype(np.float32)
    return sdr, hdr


def _grid_params(shapes=((4, 6, 2),), entry: int = 1, activation: str = "sine",
                 precision: str = "fp32", grid_precision: str = "fp32",
                 seed: int = 1) -> MlpParams:
    net = GainMLPNet(16, 2, activation, grids=shapes, grid_entry=entry)
    net.reset_parameters(torch.Generator().manual_seed(seed))
    rng = np.random.default_rng(seed)
    grids = [rng.normal(size=s).astype(np.float32) for s in shapes]
    return MlpParams(
        activation=activation, weights=net.stored_weights(),
        in_centre=np.array([0.5, 0.5, 0.3, 0.3, 0.3], np.float32),
        in_scale=np.array([0.5, 0.5, 0.25, 0.2, 0.3], np.float32),
        out_centre=np.zeros(3, np.float32), out_scale=np.array([0.5, 0.4, 0.3], np.float32),
        out_min=np.full(3, -2.0, np.float32), out_max=np.full(3, 2.0, np.float32),
        precision=precision, grids=grids, grid_entry=entry, grid_precision=grid_precision,
        grid_guide=(0.05, 0.45))


def _raw_inputs(sdr: np.ndarray) -> np.ndarray:
    h, w = sdr.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    return np.concatenate([((xx + 0.5) / w)[..., None], ((yy + 0.5) / h)[..., None], sdr],
                          axis=-1).reshape(-1, 5).astype(np.float32)


def _torch_forward(p: MlpParams, raw: np.ndarray) -> np.ndarray:
    net = model_from_params(p)
    feats = None
    if p.grids:
        feats = torch.from_numpy(grid_features_at(p, raw[:, 0].astype(np.float64),
                                                  raw[:, 1].astype(np.float64), raw[:, 2:5]))
    with torch.no_grad():
        return net(torch.from_numpy(normalise_inputs(raw, p.in_centre, p.in_scale)),
                   feats).numpy()


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / np.mean((a.astype(np.float64) - b) ** 2)))


# -- option string ---------------------------------------------------------------------

def test_parse_grid_spec() -> None:
    for off in (None, "", "none", "off"):
        assert parse_grid_spec(off) is None
    assert parse_grid_spec("32x32x2") == GridSpec(((32, 32, 2),), "fp16")
    spec = parse_grid_spec("8x8x2+32x24x1:u8")
    assert spec == GridSpec(((8, 8, 2), (32, 24, 1)), "u8") and spec.n_features == 3
    assert str(spec) == "8x8x2+32x24x1:u8" and parse_grid_spec(str(spec)) == spec
    for bad in ("32x32", "axbxc", "1x32x2", "300x2x2", "8x8x9", "8x8x2:int4",
                "8x8x8+8x8x8+2x2x1", "2x2x1+2x2x1+2x2x1+2x2x1+2x2x1"):
        with pytest.raises(GainMLPError):
            parse_grid_spec(bad)
    assert mlp_fit.resolve_grid("auto") == parse_grid_spec(DEFAULT_GRID)
    spec = mlp_fit.resolve_grid("Auto")  # with fp16 weights "auto" stays within 10 KB
    assert spec == GridSpec(((32, 32, 4),), "u8")
    size = body_size(5, 12, [16, 16], 3, "fp16", list(spec.shapes), 1, spec.precision)
    assert size + 40 == 8885 <= 10 * 1024
    assert mlp_fit.resolve_grid(None) is None
    assert EncodeOptions().grid is None or mlp_fit.resolve_grid(EncodeOptions().grid)


def test_taps_align_with_cell_centres() -> None:
    """With as many pixels as cells, each pixel centre sits on a cell centre."""
    i0, i1, f = grid_taps(8, 8)
    assert np.array_equal(i0, np.arange(8)) and np.all(f == 0)
    i0, i1, f = grid_taps(8, 4)  # pixel centres at 1/16, 3/16, ... -> g = -0.25, 0.25, ...
    assert list(i0) == [0, 0, 0, 1, 1, 2, 2, 3] and list(i1) == [1, 1, 1, 2, 2, 3, 3, 3]
    np.testing.assert_allclose(f, [0, 0.25, 0.75, 0.25, 0.75, 0.25, 0.75, 0])


# -- body version 2 --------------------------------------------------------------------------

@pytest.mark.parametrize("entry", [1, 2])
@pytest.mark.parametrize("grid_precision", ["fp32", "fp16", "u8"])
def test_v2_round_trip(entry: int, grid_precision: str) -> None:
    shapes = ((3, 5, 2), (6, 4, 1))
    p = _grid_params(shapes, entry=entry, precision="fp16", grid_precision=grid_precision)
    body = pack_mlp_body(p)
    assert body[0] == GRID_BODY_VERSION
    assert len(body) == body_size(5, 12, [16, 16], 3, "fp16", list(shapes), entry,
                                  grid_precision)
    q = unpack_mlp_body(body)
    assert q.grid_shapes == list(shapes) and q.grid_entry == entry
    assert q.grid_precision == grid_precision
    tol = {"fp32": 0, "fp16": 2e-3, "u8": 0.02}[grid_precision]
    for a, b in zip(p.grids, q.grids, strict=True):
        np.testing.assert_allclose(a, b, atol=tol * np.abs(a).max(), rtol=0)
    for a, b in zip(p.weights, q.weights, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-3, rtol=1e-3)
    if grid_precision != "u8":
        assert pack_mlp_body(q) == body


def test_grid_free_bodies_stay_version_1() -> None:
    p = _grid_params()
    p.grids = []
    p.weights[0] = np.delete(p.weights[0], np.s_[120:122], axis=1)
    body = pack_mlp_body(p)
    assert body[0] == 1 and len(body) == 9060


def test_v2_sizes() -> None:
    """The probe's configuration: 32x32x2 fp16 grid, fp16 weights -> under 9 KB payload."""
    size = body_size(5, 12, [16, 16], 3, "fp16", [(32, 32, 2)], 1, "fp16")
    assert size == 4580 + 16 * 2 * 2 + 4 + 5 + 32 * 32 * 2 * 2
    assert size + 40 <= 9 * 1024


def test_bad_v2_bodies_rejected() -> None:
    p = _grid_params(((3, 4, 2),), grid_precision="u8")
    body = pack_mlp_body(p)
    g0 = 8 + 4 + 40 + 48  # start of the grid section
    bad = [
        body[:-1], body + b"\0", body[:g0 + 2],
        body[:g0] + bytes([0]) + body[g0 + 1:],                  # no grids
        body[:g0] + bytes([5]) + body[g0 + 1:],                  # too many grids
        body[:g0 + 1] + bytes([3]) + body[g0 + 2:],              # entry layer 3 of 2
        body[:g0 + 2] + bytes([9]) + body[g0 + 3:],              # unknown grid precision
        body[:g0 + 3] + bytes([1]) + body[g0 + 4:],              # reserved byte
        body[:g0 + 4] + struct.pack("<H", 1) + body[g0 + 6:],    # 1-row grid
        body[:g0 + 4] + struct.pack("<H", 4000) + body[g0 + 6:],  # absurd rows
        body[:g0 + 8] + bytes([0]) + body[g0 + 9:],              # no channels
    ]
    neg = bytearray(body)
    neg[g0 + 9 + 4:g0 + 9 + 8] = struct.pack("<f", -1.0)      # u8 step of channel 0
    bad.append(bytes(neg))
    for b in bad:
        with pytest.raises(GainMLPError) as info:
            unpack_mlp_body(b)
        assert "\n" not in str(info.value)


# -- decoder vs torch ------------------------------------------------------------------------

@pytest.mark.parametrize("entry,activation", [(1, "sine"), (2, "relu"), (1, "relu")])
def test_numpy_forward_matches_torch(entry: int, activation: str) -> None:
    p = _grid_params(((5, 7, 2), (3, 3, 1)), entry=entry, activation=activation)
    raw = np.random.default_rng(5).random((4096, 5)).astype(np.float32)
    np.testing.assert_allclose(forward_numpy(p, raw), _torch_forward(p, raw), atol=1e-5,
                               rtol=0)


@pytest.mark.parametrize("entry", [1, 2])
def test_decoder_matches_forward_and_tiles(entry: int, monkeypatch: pytest.MonkeyPatch) -> None:
    from gainmlp.codecs.mlp import decode as mlp_decode

    sdr, _ = _pair(37, 29)
    p = unpack_mlp_body(pack_mlp_body(_grid_params(((4, 4, 2), (9, 6, 1)), entry=entry)))
    out = decode_mlp("gamma-mlp", pack_mlp_body(p), sdr, DEFAULT_EPS)
    raw = _raw_inputs(sdr)
    mapped = denormalise_outputs(p, _torch_forward(p, raw).astype(np.float64))
    expect = reconstruct("gamma", sdr.reshape(-1, 3), mapped, DEFAULT_EPS)
    np.testing.assert_allclose(out.reshape(-1, 3), expect, atol=2e-5, rtol=0)
    monkeypatch.setattr(mlp_decode, "TILE_PIXELS", 100)
    np.testing.assert_allclose(decode_mlp("gamma-mlp", pack_mlp_body(p), sdr, DEFAULT_EPS),
                               out, atol=1e-6)


# -- fitting -----------------------------------------------------------------------------------

def _opts(**kw) -> EncodeOptions:
    base = dict(steps=50, batch=2048, seed=3, grid="8x8x2", precision="fp32")
    base.update(kw)
    return EncodeOptions(**base)


@pytest.mark.parametrize("method", ["gamma-mlp", "gain-mlp"])
def test_fitted_grid_decodes_like_torch(method: str) -> None:
    sdr, hdr = _pair()
    res = mlp_fit.fit_mlp(method, sdr, hdr, DEFAULT_EPS, _opts(steps=20, grid="4x6x2:u8"))
    assert res.params.grid_shapes == [(4, 6, 2)] and res.params.grid_precision == "u8"
    body = pack_mlp_body(res.params)
    assert body[0] == GRID_BODY_VERSION
    # The grid was frozen at its stored (u8) values, so packing does not move it.
    np.testing.assert_allclose(unpack_mlp_body(body).grids[0], res.params.grids[0], atol=1e-6)
    p = res.params
    raw = _raw_inputs(sdr)
    t = _torch_forward(p, raw)
    np.testing.assert_allclose(forward_numpy(p, raw), t, atol=1e-5, rtol=0)
    # The training-time (split, gathered) forward agrees with the plain one too.
    model = res.model.cpu()
    batcher = mlp_fit._Batcher(sdr, hdr, p.in_centre, p.in_scale, torch.device("cpu"))
    batcher.add_grids(p.grid_shapes, sdr.shape[0])
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        ex, ey, sn, cs, s, _ = batcher.sample(512, gen)
        split = model.forward_split(ex, ey, sn, cs, model.grid_features(batcher.last_taps))
    idx = torch.randint(0, sdr.shape[0] * sdr.shape[1], (512,),
                        generator=torch.Generator().manual_seed(0)).numpy()
    np.testing.assert_allclose(split.numpy(), t[idx], atol=1e-5, rtol=0)
    out = decode_mlp(method, body, sdr, DEFAULT_EPS)
    mapped = denormalise_outputs(p, t.astype(np.float64))
    expect = reconstruct(method_kind(method), sdr.reshape(-1, 3), mapped, DEFAULT_EPS)
    np.testing.assert_allclose(out.reshape(-1, 3), expect, atol=2e-5, rtol=0)


def test_grid_starts_as_the_plain_network() -> None:
    """Grids start at zero: with meta-init, step 0 computes the shipped network's function."""
    sdr, hdr = _pair()
    plain = mlp_fit.fit_mlp("gamma-mlp", sdr, hdr, DEFAULT_EPS, _opts(steps=0, grid=None))
    grid = mlp_fit.fit_mlp("gamma-mlp", sdr, hdr, DEFAULT_EPS, _opts(steps=0))
    assert all(np.all(g == 0) for g in grid.params.grids)
    assert np.any(grid.params.weights[0][:, grid.params.grid_columns()] != 0)
    a = decode_mlp("gamma-mlp", pack_mlp_body(plain.params), sdr, DEFAULT_EPS)
    b = decode_mlp("gamma-mlp", pack_mlp_body(grid.params), sdr, DEFAULT_EPS)
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_grid_fit_learns_the_local_part() -> None:
    sdr, hdr = _pair()
    res = mlp_fit.fit_mlp("gamma-mlp", sdr, hdr, DEFAULT_EPS, _opts(steps=50),
                          snapshots=(0,))
    before = _psnr(decode_mlp("gamma-mlp", pack_mlp_body(res.snapshots[0]), sdr,
                              DEFAULT_EPS), hdr)
    after = _psnr(decode_mlp("gamma-mlp", pack_mlp_body(res.params), sdr, DEFAULT_EPS), hdr)
    assert after > before + 3 and after > 30, (before, after)
    assert np.any(res.params.grids[0] != 0)


def test_grid_fit_deterministic_and_validated() -> None:
    sdr, hdr = _pair(20, 24)
    a = mlp_fit.encode_mlp("gamma-mlp", sdr, hdr, DEFAULT_EPS, _opts(steps=8))
    b = mlp_fit.encode_mlp("gamma-mlp", sdr, hdr, DEFAULT_EPS, _opts(steps=8))
    assert a == b
    for kw in ({"grid": "8x8"}, {"grid": "8x8x2:int4"}):
        with pytest.raises(GainMLPError):
            mlp_fit.encode_mlp("gamma-mlp", sdr, hdr, DEFAULT_EPS, _opts(**kw))
    with pytest.raises(GainMLPError):
        mlp_fit.fit_mlp("gamma-mlp", sdr, hdr, DEFAULT_EPS, _opts(), grid_entry=3)


def test_xy_only_inputs_ablation_ignores_colour():
    """inputs="xy" (Table 2): the decoded map cannot follow the SDR's colour."""
    from conftest import synthetic_pair

    from gainmlp.codecs import EncodeOptions, decode_residual, encode_residual

    sdr_u8, hdr = synthetic_pair(32, 32, seed=5)
    sdr = (sdr_u8 / 255.0).astype(np.float32) * 0.5
    opts = EncodeOptions(steps=20, batch=512, grid=None, inputs="xy")
    body = encode_residual("gamma-mlp", sdr, hdr, 1 / 64, opts)
    out1 = decode_residual("gamma-mlp", body, sdr, 1 / 64)
    # same positions, different colours: the predicted gamma map is unchanged
    other = np.roll(sdr, 7, axis=1)
    out2 = decode_residual("gamma-mlp", body, other, 1 / 64)
    from gainmlp import paper_residual

    f1 = paper_residual.gamma_map(out1, sdr)
    f2 = paper_residual.gamma_map(out2, other)
    np.testing.assert_allclose(f1, f2, rtol=1e-4, atol=1e-4)


def test_auto_precision_is_fp16_with_a_grid_and_fp32_without() -> None:
    from gainmlp.options import resolve_precision

    assert resolve_precision("auto", True) == "fp16"
    assert resolve_precision("auto", False) == "fp32"
    assert resolve_precision("fp32", True) == "fp32"
    sdr, hdr = _pair()
    with_grid = mlp_fit.fit_mlp("gamma-mlp", sdr, hdr, DEFAULT_EPS,
                                _opts(steps=2, precision="auto"))
    plain = mlp_fit.fit_mlp("gamma-mlp", sdr, hdr, DEFAULT_EPS,
                            _opts(steps=2, precision="auto", grid=None))
    assert with_grid.params.precision == "fp16" and plain.params.precision == "fp32"


# -- bilateral grids (body version 3) ---------------------------------------------------------

def test_parse_bilateral_spec() -> None:
    spec = parse_grid_spec("16x16x8x2+32x32x1:u8")
    assert spec == GridSpec(((16, 16, 8, 2), (32, 32, 1)), "u8") and spec.n_features == 3
    assert str(spec) == "16x16x8x2+32x32x1:u8"
    for bad in ("16x16x1x2", "16x16x65x2", "16x16x8x0", "2x2x2x2x2", "256x256x64x8"):
        with pytest.raises(GainMLPError):
            parse_grid_spec(bad)


def test_luma_guide_uses_bt2020_weights() -> None:
    sdr = np.array([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0], [0.5, 0.5, 0.5]], np.float32)
    np.testing.assert_allclose(luma_guide(sdr, 0.0, 1.0), [0.2627, 0.6780, 0.0593, 0.5],
                               atol=1e-6)
    np.testing.assert_allclose(luma_guide(sdr, 0.1, 0.3), [0.8135, 1.0, 0.0, 1.0], atol=1e-5)
    assert guide_range(np.full((4, 4, 3), 0.2, np.float32))[1] > 0.2  # never empty


def test_trilinear_features_reproduce_a_linear_field() -> None:
    """Inside the grid, trilinear interpolation of a linear function is exact."""
    rows, cols, bins = 5, 7, 6
    r, c, z = np.meshgrid(np.arange(rows), np.arange(cols), np.arange(bins), indexing="ij")
    field = (0.5 * r - 0.25 * c + 2.0 * z)[..., None].astype(np.float32)
    p = _grid_params(((rows, cols, bins, 1),))
    p.grids = [field]
    p.grid_guide = (0.0, 0.5)
    rng = np.random.default_rng(3)
    x, y = rng.uniform(0.15, 0.85, 200), rng.uniform(0.15, 0.85, 200)
    sdr = np.repeat(rng.uniform(0.1, 0.4, 200)[:, None], 3, axis=1).astype(np.float32)
    v = sdr[:, 0] / 0.5  # a grey pixel's luma is its value; guide maps [0, 0.5] to [0, 1]
    expect = 0.5 * (y * rows - 0.5) - 0.25 * (x * cols - 0.5) + 2.0 * (v * bins - 0.5)
    got = grid_features_at(p, x, y, sdr)[:, 0]
    np.testing.assert_allclose(got, expect, atol=1e-4)


@pytest.mark.parametrize("grid_precision", ["fp32", "fp16", "u8"])
def test_v3_round_trip(grid_precision: str) -> None:
    shapes = ((3, 5, 4, 2), (6, 4, 1))
    p = _grid_params(shapes, precision="fp16", grid_precision=grid_precision)
    body = pack_mlp_body(p)
    assert body[0] == BILATERAL_BODY_VERSION
    assert len(body) == body_size(5, 12, [16, 16], 3, "fp16", list(shapes), 1, grid_precision)
    q = unpack_mlp_body(body)
    assert q.grid_shapes == list(shapes) and q.grid_guide == pytest.approx((0.05, 0.45))
    tol = {"fp32": 0, "fp16": 2e-3, "u8": 0.02}[grid_precision]
    for a, b in zip(p.grids, q.grids, strict=True):
        np.testing.assert_allclose(a, b, atol=tol * np.abs(a).max(), rtol=0)
    if grid_precision != "u8":
        assert pack_mlp_body(q) == body


def test_bad_v3_bodies_rejected() -> None:
    p = _grid_params(((3, 4, 5, 2),), grid_precision="fp16")
    body = pack_mlp_body(p)
    g0 = 8 + 4 + 40 + 48
    bad = [
        body[:-1], body[:g0 + 6],
        body[:g0 + 4] + struct.pack("<ff", 0.5, 0.5) + body[g0 + 12:],        # empty range
        body[:g0 + 4] + struct.pack("<ff", 0.1, float("nan")) + body[g0 + 12:],
        body[:g0 + 16] + bytes([200]) + body[g0 + 17:],                       # 200 bins
    ]
    for b in bad:
        with pytest.raises(GainMLPError) as info:
            unpack_mlp_body(b)
        assert "\n" not in str(info.value)


def test_bilateral_decoder_matches_forward_and_tiles(monkeypatch: pytest.MonkeyPatch) -> None:
    from gainmlp.codecs.mlp import decode as mlp_decode

    sdr, _ = _pair(37, 29)
    p = _grid_params(((4, 4, 5, 2), (9, 6, 1)))
    p.grid_guide = guide_range(sdr)
    p = unpack_mlp_body(pack_mlp_body(p))
    out = decode_mlp("gamma-mlp", pack_mlp_body(p), sdr, DEFAULT_EPS)
    mapped = denormalise_outputs(p, _torch_forward(p, _raw_inputs(sdr)).astype(np.float64))
    expect = reconstruct("gamma", sdr.reshape(-1, 3), mapped, DEFAULT_EPS)
    np.testing.assert_allclose(out.reshape(-1, 3), expect, atol=2e-5, rtol=0)
    monkeypatch.setattr(mlp_decode, "TILE_PIXELS", 100)
    np.testing.assert_allclose(decode_mlp("gamma-mlp", pack_mlp_body(p), sdr, DEFAULT_EPS),
                               out, atol=1e-6)


def test_fitted_bilateral_grid_decodes_like_torch() -> None:
    sdr, hdr = _pair()
    res = mlp_fit.fit_mlp("gamma-mlp", sdr, hdr, DEFAULT_EPS,
                          _opts(steps=30, grid="4x6x3x2:u8"), snapshots=(0,))
    p = res.params
    assert p.grid_shapes == [(4, 6, 3, 2)] and p.grid_guide == guide_range(sdr)
    body = pack_mlp_body(p)
    assert body[0] == BILATERAL_BODY_VERSION
    raw = _raw_inputs(sdr)
    t = _torch_forward(p, raw)
    model = res.model.cpu()
    batcher = mlp_fit._Batcher(sdr, hdr, p.in_centre, p.in_scale, torch.device("cpu"))
    batcher.add_grids(p.grid_shapes, sdr.shape[0], p.grid_guide)
    with torch.no_grad():
        ex, ey, sn, cs, _, _ = batcher.sample(512, torch.Generator().manual_seed(0))
        split = model.forward_split(ex, ey, sn, cs, model.grid_features(batcher.last_taps))
    idx = torch.randint(0, sdr.shape[0] * sdr.shape[1], (512,),
                        generator=torch.Generator().manual_seed(0)).numpy()
    np.testing.assert_allclose(split.numpy(), t[idx], atol=1e-5, rtol=0)
    before = _psnr(decode_mlp("gamma-mlp", pack_mlp_body(res.snapshots[0]), sdr,
                              DEFAULT_EPS), hdr)
    after = _psnr(decode_mlp("gamma-mlp", body, sdr, DEFAULT_EPS), hdr)
    assert after > before + 3, (before, after)


# -- defaults: grid and cosine-tail learning rate ---------------------------------------------

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
    sdr, hdr = _pair(20, 24)
    body = mlp_fit.encode_mlp("gamma-mlp", sdr, hdr, DEFAULT_EPS,
                              EncodeOptions(steps=4, batch=256))
    p = unpack_mlp_body(body)
    assert body[0] == GRID_BODY_VERSION and p.grid_shapes == [(32, 32, 4)]
    assert p.precision == "fp16" and p.grid_precision == "u8" and len(body) + 40 == 8885
    with pytest.raises(GainMLPError):
        mlp_fit.encode_mlp("gamma-mlp", sdr, hdr, DEFAULT_EPS,
                           EncodeOptions(steps=4, batch=256, lr_schedule="linear"))


def test_cosine_tail_changes_only_the_second_half() -> None:
    sdr, hdr = _pair(20, 24)
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
    sdr, hdr = _pair(20, 24)
    body = mlp_fit.encode_mlp(method, sdr, hdr, DEFAULT_EPS, EncodeOptions(steps=2, batch=256))
    assert body[0] == 1 and len(body) == 9060
    explicit = mlp_fit.encode_mlp(method, sdr, hdr, DEFAULT_EPS,
                                  EncodeOptions(steps=2, batch=256, grid=DEFAULT_GRID))
    assert explicit[0] == GRID_BODY_VERSION


@pytest.mark.parametrize("shapes", [((3, 4, 2),), ((3, 4, 5, 2), (2, 3, 1))])
def test_mutated_grid_bodies_fail_cleanly(shapes) -> None:
    """Random byte flips, truncations and extensions of v2/v3 bodies: either a valid body or
    a one-line GainMLPError, and a body that parses also decodes."""
    body = pack_mlp_body(_grid_params(shapes, grid_precision="u8"))
    rng = np.random.default_rng(11)
    sdr, _ = _pair(8, 8)
    for _ in range(300):
        data = bytearray(body)
        for _ in range(int(rng.integers(1, 4))):
            data[int(rng.integers(0, len(data)))] = int(rng.integers(0, 256))
        cut = int(rng.integers(0, 3))
        if cut == 1:
            data = data[:int(rng.integers(0, len(data)))]
        elif cut == 2:
            data += bytes(int(rng.integers(1, 9)))
        try:
            params = unpack_mlp_body(bytes(data))
        except GainMLPError as exc:
            assert "\n" not in str(exc)
            continue
        with np.errstate(all="ignore"):
            try:
                decode_mlp("gamma-mlp", pack_mlp_body(params), sdr, DEFAULT_EPS)
            except GainMLPError:
                pass
