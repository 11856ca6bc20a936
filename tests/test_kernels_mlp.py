"""The fused MLP decoder (kernels/mlp.py via codecs/mlp/fast_decode.py) against the numpy
decoder it replaces (codecs/mlp/decode.py with ``GAINMLP_KERNELS=numpy``), on small
generated networks of every body version: no grid (1), spatial grids (2) and bilateral
grids (3), relu and sine, gain/gamma/direct residuals, log2 and linear output transforms,
widths that are not multiples of the kernel's unrolling, grids entering layer 1 or 2;
and the fused MLP-ITM decoder (kernels/mlp_itm.py) on the committed MLP-ITM fixtures.

The stated tolerance (docs/payload-format.md) is 2e-5 PQ, max abs; measured here
(``python tests/test_kernels_mlp.py`` prints it per case): at most 2.4e-7 on every case
(float32 rounding of the reordered sums; the polynomial sine is within 1.3e-7 absolute of
the exact sine on [-200, 200], the polynomial 2 ** x within 9.6e-8 relative on [-30, 30]).
No torch needed.
"""

from __future__ import annotations

import numpy as np
import pytest

from gainmlp.codecs import features
from gainmlp.codecs.indexed import index_sdr8
from gainmlp.codecs.mlp import fast_decode
from gainmlp.codecs.mlp.decode import decode_mlp
from gainmlp.codecs.mlp.format import MlpParams, pack_mlp_body, unpack_mlp_body
from gainmlp.codecs.mlp.grid import guide_range
from gainmlp.colorimetry import SdrEncoding, sdr8_to_hdr_space
from gainmlp.errors import GainMLPError
from gainmlp.paper_residual import DEFAULT_EPS

TOLERANCE = 2e-5
N_FREQ = 12


def make_params(hidden=(16, 16), activation="sine", grids=(), entry=1,
                transform="log2", seed=0) -> MlpParams:
    """A random network of the body format (numpy only), SIREN-like scales."""
    rng = np.random.default_rng(seed)
    grids = [rng.normal(size=s).astype(np.float32) for s in grids]
    n_grid = sum(g.shape[-1] for g in grids)
    fan_in = 2 * N_FREQ * 5 + (n_grid if grids and entry == 1 else 0) + 1
    weights = []
    for i, out in enumerate([*hidden, 3]):
        extra = n_grid if grids and i == entry - 1 and i > 0 else 0
        bound = np.sqrt(6.0 / (fan_in + extra)) * (1.0 if activation == "sine" else 0.8)
        weights.append(rng.uniform(-bound, bound, (out, fan_in + extra)).astype(np.float32))
        fan_in = out
    return MlpParams(
        activation=activation, weights=weights,
        in_centre=np.array([0.5, 0.5, 0.3, 0.3, 0.3], np.float32),
        in_scale=np.array([0.5, 0.5, 0.25, 0.2, 0.3], np.float32),
        out_centre=(rng.normal(size=3) * 0.1 + (-1.0 if transform == "log2" else 0.5)
                    ).astype(np.float32),
        out_scale=np.array([0.5, 0.4, 0.3], np.float32),
        out_min=np.full(3, -2.0, np.float32), out_max=np.full(3, 2.0, np.float32),
        output_transform=transform, grids=grids, grid_entry=entry,
        grid_precision="fp32", grid_guide=(0.05, 0.45))


def sdr8(h: int = 37, w: int = 53, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y = np.linspace(0, 1, h)[:, None, None]
    x = np.linspace(0, 1, w)[None, :, None]
    base = (0.5 + 0.45 * np.sin(6 * x + 3 * y + np.array([0, 1, 2]))) * 255
    return np.clip(base + rng.normal(0, 6, (h, w, 3)), 0, 255).astype(np.uint8)


CASES = {
    "v1-sine-log2": {},
    "v1-relu-linear": {"activation": "relu", "transform": "linear"},
    "v1-deep-odd-widths": {"hidden": (7, 13, 5)},
    "v1-narrow-layer": {"hidden": (16, 3, 6)},  # a product with fewer than 4 inputs
    "v2-spatial-entry1": {"grids": ((4, 6, 2), (9, 5, 1))},
    "v2-spatial-entry2-relu": {"grids": ((4, 6, 2),), "entry": 2, "activation": "relu"},
    "v3-bilateral": {"grids": ((4, 4, 5, 2),)},
    "v3-mixed-entry2": {"grids": ((4, 4, 5, 2), (8, 8, 2)), "entry": 2,
                        "hidden": (12, 10)},
}


def _numpy_decode(method: str, body: bytes, sdr: np.ndarray,
                  monkeypatch: pytest.MonkeyPatch) -> np.ndarray:
    with monkeypatch.context() as m:
        m.setenv("GAINMLP_KERNELS", "numpy")
        return decode_mlp(method, body, sdr, DEFAULT_EPS)


def _body(case: str, img: np.ndarray) -> bytes:
    p = make_params(**CASES[case])
    if p.has_bilateral:
        p.grid_guide = guide_range(sdr8_to_hdr_space(img))
    return pack_mlp_body(p)


@pytest.mark.parametrize("method", ["gamma-mlp", "gain-mlp", "direct-mlp"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_fused_decoder_matches_numpy(case: str, method: str,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    img = sdr8()
    body = _body(case, img)
    assert body[0] == int(case[1])
    indexed = index_sdr8(img, SdrEncoding())
    ref = _numpy_decode(method, body, indexed.expand(), monkeypatch)
    fast = decode_mlp(method, body, indexed, DEFAULT_EPS)
    assert fast.dtype == np.float32 and fast.shape == ref.shape
    assert np.abs(fast - ref).max() <= TOLERANCE
    assert 0.05 < np.mean((fast > 0) & (fast < 1))  # not all clipped
    # a plain array, per-tile tables and small tiles: the same pixels up to the rounding
    # of the colour term's matrix product (numpy's BLAS rounds by the number of rows)
    plain = decode_mlp(method, body, indexed.expand(), DEFAULT_EPS)
    np.testing.assert_allclose(plain, fast, rtol=0, atol=1e-6)
    monkeypatch.setattr(fast_decode, "TABLE_BYTES", 0)
    monkeypatch.setattr(features, "TILE_PIXELS", 100)
    np.testing.assert_allclose(decode_mlp(method, body, indexed, DEFAULT_EPS), fast, rtol=0,
                               atol=1e-6)


def test_fused_decoder_on_a_wide_image_spans_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    img = sdr8(5, 300, seed=2)  # 300 = 2 blocks + a partial one per row
    body = _body("v3-mixed-entry2", img)
    indexed = index_sdr8(img)
    ref = _numpy_decode("gamma-mlp", body, indexed.expand(), monkeypatch)
    assert np.abs(decode_mlp("gamma-mlp", body, indexed, DEFAULT_EPS) - ref).max() <= TOLERANCE


def test_fused_decoder_reads_unpacked_fp16_bodies(monkeypatch: pytest.MonkeyPatch) -> None:
    p = make_params(grids=((4, 6, 2),))
    p.precision, p.grid_precision = "fp16", "u8"
    body = pack_mlp_body(p)
    assert unpack_mlp_body(body).grid_precision == "u8"
    img = sdr8()
    ref = _numpy_decode("gamma-mlp", body, sdr8_to_hdr_space(img), monkeypatch)
    assert np.abs(decode_mlp("gamma-mlp", body, index_sdr8(img), DEFAULT_EPS) - ref).max() \
        <= TOLERANCE


@pytest.mark.parametrize("activation", ["relu", "sine"])
def test_fused_decoder_refuses_overflowing_networks(activation: str) -> None:
    p = make_params(activation=activation)
    p.weights = [w * np.float32(1e30) for w in p.weights]
    with np.errstate(all="ignore"), pytest.raises(GainMLPError, match="overflows"):
        decode_mlp("gamma-mlp", pack_mlp_body(p), index_sdr8(sdr8(8, 8)), DEFAULT_EPS)


def test_polynomial_sine_and_exp2_match_numpy() -> None:
    from gainmlp.kernels.mlp import exp2_array, sin_array

    x = np.linspace(-200, 200, 400_001, dtype=np.float32)
    assert np.abs(sin_array(x) - np.sin(x)).max() < 3e-7
    assert np.isnan(sin_array(np.array([np.inf, -np.inf, np.nan], np.float32))).all()
    e = np.linspace(-30, 30, 100_001, dtype=np.float32)
    rel = np.abs(exp2_array(e) / np.exp2(e) - 1)
    assert rel.max() < 5e-7
    ends = exp2_array(np.array([-200, -125, 127.9, 128, 200], np.float32))
    assert ends[0] < 1e-37 and ends[1] == np.float32(2.0 ** -125)
    assert abs(ends[2] / np.exp2(np.float64(np.float32(127.9))) - 1) < 5e-7
    assert ends[3] == ends[4] == np.inf


if __name__ == "__main__":  # print the measured differences (the docstring's figures)
    import os

    img = sdr8()
    indexed = index_sdr8(img)
    for case in sorted(CASES):
        body = _body(case, img)
        for method in ("gamma-mlp", "gain-mlp", "direct-mlp"):
            fast = decode_mlp(method, body, indexed, DEFAULT_EPS)
            os.environ["GAINMLP_KERNELS"] = "numpy"
            ref = decode_mlp(method, body, indexed.expand(), DEFAULT_EPS)
            del os.environ["GAINMLP_KERNELS"]
            print(f"{case:24s} {method:11s} max abs {np.abs(fast - ref).max():.2e}")


@pytest.mark.parametrize("name", ["itm-fp32", "itm-fp16"])
def test_itm_fused_decoder_matches_numpy(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """MLP-ITM with an IndexedSdr (colour net's first layer per distinct colour, the rest
    in kernels/mlp_itm.py) against the numpy decoder (measured: max abs 6e-8 on both
    fixtures)."""
    from pathlib import Path

    from gainmlp.codecs.mlp_itm.decode import decode_itm
    from gainmlp.container.payload import Payload

    fixtures = Path(__file__).resolve().parent / "fixtures" / "payloads"
    payload = Payload.from_bytes((fixtures / f"{name}.gmlp").read_bytes())
    img = sdr8(payload.height, payload.width, seed=4)
    indexed = index_sdr8(img, payload.sdr)
    with monkeypatch.context() as m:
        m.setenv("GAINMLP_KERNELS", "numpy")
        ref = decode_itm(payload.method, payload.body, indexed.expand(), payload.eps)
    fast = decode_itm(payload.method, payload.body, indexed, payload.eps)
    assert np.abs(fast - ref).max() <= TOLERANCE
    monkeypatch.setattr(features, "TILE_PIXELS", 100)
    np.testing.assert_allclose(decode_itm(payload.method, payload.body, indexed, payload.eps),
                               fast, rtol=0, atol=1e-6)
    # overflowing weights are refused, as by the numpy decoder
    from gainmlp.codecs.mlp_itm.format import pack_itm_body, unpack_itm_body

    params = unpack_itm_body(payload.body)
    params.colour = [(w * np.float32(1e30), b) for w, b in params.colour]
    params.precision = "fp32"
    with np.errstate(all="ignore"), pytest.raises(GainMLPError, match="overflows"):
        decode_itm(payload.method, pack_itm_body(params), indexed, payload.eps)
