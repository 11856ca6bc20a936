"""MLP codecs: body format, numpy decoder vs torch, fitting, meta-init, torch-free decode."""

from __future__ import annotations

import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from gainmlp.codecs.mlp.decode import decode_mlp, forward_numpy, normalise_inputs
from gainmlp.codecs.mlp.format import MlpParams, body_size, pack_mlp_body, unpack_mlp_body
from gainmlp.errors import GainMLPError
from gainmlp.options import DEFAULT_ACTIVATION, EncodeOptions, resolve_activation
from gainmlp.paper_residual import DEFAULT_EPS

torch = pytest.importorskip("torch")

from gainmlp.codecs.mlp import fit as mlp_fit  # noqa: E402
from gainmlp.codecs.mlp.meta_init import (  # noqa: E402
    load_initial_weights,
    read_meta_file,
    write_meta_file,
)
from gainmlp.codecs.mlp.model import GainMLPNet, model_from_params  # noqa: E402

SRC = Path(__file__).resolve().parent.parent / "src"
OUTER = 40  # payload header + CRC


def _pair(h: int = 48, w: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A smooth synthetic (SDR-in-PQ, HDR-PQ) pair: a global curve plus a spatial gain."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    base = 0.25 + 0.2 * np.sin(3 * xx + 2 * yy)[..., None] + 0.05 * rng.random((h, w, 3))
    sdr = np.clip(base * np.array([1.0, 0.9, 1.1]), 0.02, 0.55).astype(np.float32)
    hdr = np.clip(sdr ** 0.8 * (1.0 + 0.2 * xx[..., None]), 0, 0.9).astype(np.float32)
    return sdr, hdr


def _random_params(width: int = 16, activation: str = "relu", seed: int = 1) -> MlpParams:
    net = GainMLPNet(width, 2, activation)
    net.reset_parameters(torch.Generator().manual_seed(seed))
    rng = np.random.default_rng(seed)
    return MlpParams(
        activation=activation, weights=net.stored_weights(),
        in_centre=np.array([0.5, 0.5, 0.3, 0.3, 0.3], np.float32),
        in_scale=np.array([0.5, 0.5, 0.25, 0.2, 0.3], np.float32),
        out_centre=rng.normal(size=3).astype(np.float32) * 0.1,
        out_scale=np.array([0.5, 0.4, 0.3], np.float32),
        out_min=np.full(3, -2.0, np.float32), out_max=np.full(3, 2.0, np.float32),
        output_transform="log2")


@pytest.fixture(autouse=True)
def _one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """One fitting thread: bit-stable, and far faster on a CPU shared with other jobs."""
    monkeypatch.setenv("GAINMLP_THREADS", "1")


def _fast(**kw) -> EncodeOptions:
    base = dict(steps=60, batch=2048, meta_init=False, seed=3, grid=None)  # the plain MLP
    base.update(kw)
    return EncodeOptions(**base)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / np.mean((a.astype(np.float64) - b) ** 2)))


# -- body format -----------------------------------------------------------------------

@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_body_round_trip(precision: str) -> None:
    p = _random_params()
    p.precision = precision
    body = pack_mlp_body(p)
    q = unpack_mlp_body(body)
    assert q.activation == "relu" and q.precision == precision and q.output_transform == "log2"
    assert q.hidden_widths == [16, 16] and q.n_inputs == 5 and q.n_frequencies == 12
    tol = 0 if precision == "fp32" else 1e-3
    for a, b in zip(p.weights, q.weights, strict=True):
        np.testing.assert_allclose(a, b, atol=tol, rtol=tol)
    np.testing.assert_array_equal(p.in_scale, q.in_scale)
    assert pack_mlp_body(q) == body  # stable: re-packing gives the same bytes


def test_body_sizes() -> None:
    p = _random_params()
    fp32 = len(pack_mlp_body(p))
    p.precision = "fp16"
    fp16 = len(pack_mlp_body(p))
    assert fp32 == body_size(5, 12, [16, 16], 3, "fp32") == 9060
    assert fp16 == 4580
    assert fp32 + OUTER <= 10.5 * 1024 and fp16 + OUTER <= 5.5 * 1024


def test_bad_bodies_rejected() -> None:
    body = pack_mlp_body(_random_params())
    bad = [
        b"",
        body[:7],
        body[:-1],
        body + b"\0",
        bytes([99]) + body[1:],                       # unknown body version
        body[:1] + bytes([7]) + body[2:],             # unknown activation
        body[:2] + bytes([9]) + body[3:],             # unknown precision
        body[:8] + struct.pack("<H", 2000) + body[10:],  # absurd width
        body[:8] + struct.pack("<H", 17) + body[10:],    # width vs remaining bytes
        body[:6] + bytes([0]) + body[7:],             # no hidden layers
    ]
    nan = bytearray(body)
    nan[12:16] = struct.pack("<f", float("nan"))      # input centre of x
    bad.append(bytes(nan))
    neg = bytearray(body)
    neg[16:20] = struct.pack("<f", -1.0)              # input scale of x
    bad.append(bytes(neg))
    for b in bad:
        with pytest.raises(GainMLPError) as info:
            unpack_mlp_body(b)
        assert "\n" not in str(info.value)
    sdr, _ = _pair()
    with pytest.raises(GainMLPError):
        decode_mlp("gamma-mlp", body[:-3], sdr, DEFAULT_EPS)


# -- decoder vs torch --------------------------------------------------------------------

@pytest.mark.parametrize("activation", ["relu", "sine"])
def test_numpy_forward_matches_torch(activation: str) -> None:
    p = _random_params(activation=activation)
    rng = np.random.default_rng(5)
    inputs = rng.random((4096, 5)).astype(np.float32)
    ref = forward_numpy(p, inputs)
    net = model_from_params(p)
    with torch.no_grad():
        out = net(torch.from_numpy(normalise_inputs(inputs, p.in_centre, p.in_scale)))
    np.testing.assert_allclose(ref, out.numpy(), atol=1e-5, rtol=0)


@pytest.mark.parametrize("method", ["gamma-mlp", "gain-mlp", "direct-mlp"])
def test_decode_matches_fitted_forward(method: str) -> None:
    sdr, hdr = _pair()
    res = mlp_fit.fit_mlp(method, sdr, hdr, DEFAULT_EPS, _fast(steps=20))
    body = pack_mlp_body(res.params)
    out = decode_mlp(method, body, sdr, DEFAULT_EPS)
    assert out.dtype == np.float32 and out.shape == sdr.shape
    assert np.all((out >= 0) & (out <= 1))
    # The split training forward, the plain torch forward and the numpy decoder agree.
    h, w = sdr.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    raw = np.concatenate([((xx + 0.5) / w)[..., None], ((yy + 0.5) / h)[..., None], sdr],
                         axis=-1).reshape(-1, 5).astype(np.float32)
    p = res.params
    with torch.no_grad():
        t = res.model.cpu()(torch.from_numpy(normalise_inputs(raw, p.in_centre, p.in_scale)))
    np.testing.assert_allclose(forward_numpy(p, raw), t.numpy(), atol=1e-5, rtol=0)
    from gainmlp.codecs.mlp.decode import denormalise_outputs, method_kind
    from gainmlp.paper_residual import reconstruct

    mapped = denormalise_outputs(p, t.numpy().astype(np.float64))
    kind = method_kind(method)
    expect = (np.clip(mapped, 0, 1) if kind == "direct"
              else reconstruct(kind, sdr.reshape(-1, 3), mapped, DEFAULT_EPS))
    np.testing.assert_allclose(out.reshape(-1, 3), expect, atol=2e-5, rtol=0)


def test_decode_rejects_bad_input() -> None:
    body = pack_mlp_body(_random_params())
    with pytest.raises(GainMLPError):
        decode_mlp("gamma-jpeg", body, _pair()[0], DEFAULT_EPS)
    with pytest.raises(GainMLPError):
        decode_mlp("gamma-mlp", body, np.zeros((4, 4), np.float32), DEFAULT_EPS)


def test_decode_tiles_match_single_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    from gainmlp.codecs.mlp import decode as mlp_decode

    sdr, _ = _pair(37, 29)
    body = pack_mlp_body(_random_params(activation="sine"))
    whole = decode_mlp("gain-mlp", body, sdr, DEFAULT_EPS)
    monkeypatch.setattr(mlp_decode, "TILE_PIXELS", 100)
    np.testing.assert_allclose(decode_mlp("gain-mlp", body, sdr, DEFAULT_EPS), whole,
                               atol=1e-6)


# -- fitting -----------------------------------------------------------------------------

def test_fit_is_deterministic() -> None:
    """Same seed (and thread count) -> the same bytes; another seed -> other bytes."""
    sdr, hdr = _pair()
    a = mlp_fit.encode_mlp("gamma-mlp", sdr, hdr, DEFAULT_EPS, _fast(steps=15))
    b = mlp_fit.encode_mlp("gamma-mlp", sdr, hdr, DEFAULT_EPS, _fast(steps=15))
    c = mlp_fit.encode_mlp("gamma-mlp", sdr, hdr, DEFAULT_EPS, _fast(steps=15, seed=4))
    assert a == b and a != c


@pytest.mark.parametrize("method,loss", [("gamma-mlp", "map"), ("gain-mlp", "map"),
                                         ("direct-mlp", "map"), ("gamma-mlp", "hdr")])
def test_fit_improves(method: str, loss: str) -> None:
    sdr, hdr = _pair()
    res = mlp_fit.fit_mlp(method, sdr, hdr, DEFAULT_EPS, _fast(steps=100, loss=loss),
                          snapshots=(0,))
    before = _psnr(decode_mlp(method, pack_mlp_body(res.snapshots[0]), sdr, DEFAULT_EPS), hdr)
    after = _psnr(decode_mlp(method, pack_mlp_body(res.params), sdr, DEFAULT_EPS), hdr)
    assert after > before + 3 and after > 30, (before, after)


def test_fp16_and_sine_payloads() -> None:
    sdr, hdr = _pair()
    body = mlp_fit.encode_mlp("gamma-mlp", sdr, hdr, DEFAULT_EPS,
                              _fast(steps=40, precision="fp16", activation="sine"))
    p = unpack_mlp_body(body)
    assert p.precision == "fp16" and p.activation == "sine" and len(body) == 4580
    assert _psnr(decode_mlp("gamma-mlp", body, sdr, DEFAULT_EPS), hdr) > 25


def test_options_validated() -> None:
    sdr, hdr = _pair()
    for kw in ({"activation": "tanh"}, {"precision": "fp8"}, {"loss": "l1"},
               {"device": "tpu"}):
        with pytest.raises(GainMLPError):
            mlp_fit.encode_mlp("gamma-mlp", sdr, hdr, DEFAULT_EPS, _fast(**kw))
    with pytest.raises(GainMLPError):
        mlp_fit.encode_mlp("gamma-mlp", sdr, hdr[:10], DEFAULT_EPS, _fast())
    assert resolve_activation("auto") == DEFAULT_ACTIVATION


# -- meta-init ---------------------------------------------------------------------------

def test_meta_init_files(tmp_path: Path) -> None:
    p = _random_params()
    write_meta_file(tmp_path / "meta_gamma_w16_relu.gmlp", p)
    q = load_initial_weights("gamma-mlp", 16, "relu", data_dir=tmp_path)
    assert q is not None
    np.testing.assert_array_equal(q.weights[0], p.weights[0])
    assert load_initial_weights("gamma-mlp", 8, "relu", data_dir=tmp_path) is None
    (tmp_path / "bad.gmlp").write_bytes(b"not a meta file")
    with pytest.raises(GainMLPError):
        read_meta_file(tmp_path / "bad.gmlp")
    # A fit started from given weights uses them (step 0 equals the init).
    sdr, hdr = _pair()
    res = mlp_fit.fit_mlp("gamma-mlp", sdr, hdr, DEFAULT_EPS, _fast(steps=1, activation="relu"),
                          init=q, snapshots=(0,))
    np.testing.assert_allclose(res.snapshots[0].weights[1], p.weights[1])
    with pytest.raises(GainMLPError):  # a relu init for a sine network
        mlp_fit.fit_mlp("gamma-mlp", sdr, hdr, DEFAULT_EPS, _fast(activation="sine"), init=q)


def test_shipped_meta_init_loads() -> None:
    for method in ("gamma-mlp", "gain-mlp", "direct-mlp"):
        for act in ("relu", "sine"):
            p = load_initial_weights(method, 16, act)
            if p is not None:
                assert p.hidden_widths == [16, 16] and p.activation == act


# -- torch-free decoding -------------------------------------------------------------------

@pytest.mark.parametrize("grid", [None, "4x4x2+6x6x1:u8"])
def test_decode_without_torch(tmp_path: Path, grid: str | None) -> None:
    """Version-1 bodies and version-2 (grid) bodies decode with torch blocked."""
    sdr, hdr = _pair(20, 24)
    body = mlp_fit.encode_mlp("gamma-mlp", sdr, hdr, DEFAULT_EPS, _fast(steps=5, grid=grid))
    assert body[0] == (1 if grid is None else 2)
    expect = decode_mlp("gamma-mlp", body, sdr, DEFAULT_EPS)
    np.save(tmp_path / "sdr.npy", sdr)
    (tmp_path / "body.bin").write_bytes(body)
    script = textwrap.dedent(f"""
        import sys, importlib.abc
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name == "torch" or name.startswith("torch."):
                    raise ImportError("torch is blocked in this test")
                return None
        sys.meta_path.insert(0, Block())
        sys.path.insert(0, {str(SRC)!r})
        import numpy as np
        from gainmlp.codecs import decode_residual
        sdr = np.load({str(tmp_path / "sdr.npy")!r})
        body = open({str(tmp_path / "body.bin")!r}, "rb").read()
        out = decode_residual("gamma-mlp", body, sdr, {DEFAULT_EPS!r})
        np.save({str(tmp_path / "out.npy")!r}, out)
        assert "torch" not in sys.modules
        try:
            import torch  # noqa: F401
        except ImportError:
            print("blocked")
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    assert "blocked" in run.stdout
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), expect)


def test_heavy_tailed_gain_maps_are_fitted_in_log2() -> None:
    from gainmlp.codecs.mlp.fit import choose_transform

    rng = np.random.default_rng(0)
    sdr = (0.2 + 0.3 * rng.random((64, 64, 3))).astype(np.float32)
    hdr = np.clip(sdr * 1.3, 0, 1).astype(np.float32)
    assert choose_transform("gain", sdr, hdr, 1 / 64) == "linear"
    dark = sdr.copy()
    dark[0, :8] = 0.0  # a few black SDR pixels under bright HDR: huge gains
    hdr2 = hdr.copy()
    hdr2[0, :8] = 0.7
    assert choose_transform("gain", dark, hdr2, 1 / 64) == "log2"
    assert choose_transform("gamma", dark, hdr2, 1 / 64) == "linear"
