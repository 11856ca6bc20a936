"""MLP-ITM baseline (codecs/mlp_itm/): body format, numpy decoder == torch model, fitting,
no torch in decode."""

from __future__ import annotations

import struct
import subprocess
import sys

import numpy as np
import pytest
from conftest import synthetic_pair

from gainmlp import colorimetry
from gainmlp.codecs import EncodeOptions, features
from gainmlp.codecs.features import pixel_centres
from gainmlp.codecs.mlp_itm import decode as dec
from gainmlp.codecs.mlp_itm import format as fmt
from gainmlp.errors import GainMLPError
from gainmlp.metrics import psnr

torch = pytest.importorskip("torch")

from mlp_helpers import one_fitting_thread  # noqa: E402, F401  (autouse)

from gainmlp.codecs.mlp_itm import fit, model  # noqa: E402


def random_params(seed: int = 0, precision: str = "fp32", width: int = 32) -> fmt.ItmParams:
    """Params of a randomly initialised model, with a non-trivial spatial (FiLM) output."""
    net = model.ItmNet(width, width)
    gen = torch.Generator().manual_seed(seed)
    net.reset_parameters(gen)
    with torch.no_grad():
        net.spatial[-2].copy_(torch.randn(net.spatial[-2].shape, generator=gen) * 0.3)
        net.spatial[-1].copy_(torch.randn(net.spatial[-1].shape, generator=gen) * 0.3)
    spatial, colour = net.layers()
    rng = np.random.default_rng(seed)
    return fmt.ItmParams(
        spatial=spatial, colour=colour,
        in_centre=np.array([0.5, 0.5, 0.3, 0.35, 0.4], np.float32),
        in_scale=np.array([0.5, 0.5, 0.25, 0.3, 0.2], np.float32),
        out_centre=rng.uniform(0.3, 0.5, 3).astype(np.float32),
        out_scale=rng.uniform(0.1, 0.3, 3).astype(np.float32),
        out_min=np.zeros(3, np.float32), out_max=np.full(3, 0.9, np.float32),
        precision=precision)


def sdr_hdr(height: int = 64, width: int = 64) -> tuple[np.ndarray, np.ndarray]:
    u8, hdr = synthetic_pair(height, width)
    return colorimetry.sdr_to_hdr_space(u8 / 255.0), hdr.astype(np.float32)


# -- body format --------------------------------------------------------------------------


def test_default_size_is_the_papers_34_kb_setting():
    params = random_params()
    body = fmt.pack_itm_body(params)
    assert params.n_parameters == fmt.parameter_count() == 8227
    assert len(body) == fmt.body_size() == 33008
    assert 32_000 < len(body) + 40 < 35_000


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_body_round_trip(precision):
    params = random_params(1, precision)
    body = fmt.pack_itm_body(params)
    assert len(body) == fmt.body_size(precision=precision)
    back = fmt.unpack_itm_body(body)
    assert fmt.pack_itm_body(back) == body
    tol = 0 if precision == "fp32" else 1e-3
    for (w0, b0), (w1, b1) in zip([*params.spatial, *params.colour],
                                  [*back.spatial, *back.colour], strict=True):
        np.testing.assert_allclose(w1, w0, atol=tol, rtol=tol)
        np.testing.assert_allclose(b1, b0, atol=tol, rtol=tol)
    for name in ("in_centre", "in_scale", "out_centre", "out_scale", "out_min", "out_max"):
        np.testing.assert_array_equal(getattr(back, name), getattr(params, name))
    assert (back.spatial_width, back.colour_width, back.precision) == (32, 32, precision)


def _patched(body: bytes, offset: int, fmt: str, value) -> bytes:
    data = bytearray(body)
    struct.pack_into(fmt, data, offset, value)
    return bytes(data)


def test_corrupt_bodies_are_refused():
    body = fmt.pack_itm_body(random_params(2))
    nan = float("nan")
    bad = {
        "version": _patched(body, 0, "<B", 2),
        "activation": _patched(body, 1, "<B", 9),
        "precision": _patched(body, 2, "<B", 7),
        "fusion": _patched(body, 3, "<B", 0),
        "zero frequencies": _patched(body, 4, "<B", 0),
        "too many layers": _patched(body, 6, "<B", 200),
        "absurd width": _patched(body, 8, "<H", 60000),
        "inconsistent width": _patched(body, 10, "<H", 31),
        "truncated": body[:-1],
        "extended": body + b"\0",
        "header only": body[:50],
        "empty": b"",
        "nan centre": _patched(body, 12, "<f", nan),
        "zero scale": _patched(body, 16, "<f", 0.0),
        "inf output": _patched(body, 52, "<f", float("inf")),
        "min above max": _patched(body, 52 + 8, "<f", 5.0),
        "nan weight": _patched(body, fmt.HEADER_SIZE + 4 * 17, "<f", nan),
        "inf bias": _patched(body, len(body) - 4, "<f", float("inf")),
    }
    for what, data in bad.items():
        with pytest.raises(GainMLPError):
            fmt.unpack_itm_body(data)
        with pytest.raises(GainMLPError):
            dec.decode_itm("mlp-itm", data, np.zeros((4, 4, 3), np.float32), 1 / 64)
        assert what


def test_pack_refuses_bad_params():
    params = random_params(3)
    params.spatial[0] = (params.spatial[0][0].copy(), params.spatial[0][1].copy())
    params.spatial[0][0][0, 0] = np.inf
    with pytest.raises(GainMLPError):
        fmt.pack_itm_body(params)
    params = random_params(3)
    params.colour[-1] = (params.colour[-1][0][:2], params.colour[-1][1][:2])
    with pytest.raises(GainMLPError):
        fmt.pack_itm_body(params)
    params = random_params(3, "fp16")
    params.colour[0][1][0] = 1e6  # overflows binary16
    with pytest.raises(GainMLPError):
        fmt.pack_itm_body(params)


def test_decode_refuses_bad_calls():
    body = fmt.pack_itm_body(random_params(4))
    with pytest.raises(GainMLPError):
        dec.decode_itm("gain-mlp", body, np.zeros((4, 4, 3), np.float32), 1 / 64)
    with pytest.raises(GainMLPError):
        dec.decode_itm("mlp-itm", body, np.zeros((4, 4), np.float32), 1 / 64)


def test_overflowing_network_is_refused_not_decoded_to_nan():
    # fuzz/ (payload target) found it: finite but huge fp32 weights overflow to inf - inf
    params = random_params(5)
    params.colour = [(w * np.float32(1e30), b * np.float32(1e30)) for w, b in params.colour]
    body = fmt.pack_itm_body(params)
    sdr = np.full((4, 4, 3), 0.5, np.float32)
    with np.errstate(all="ignore"), pytest.raises(GainMLPError, match="overflows"):
        dec.decode_itm("mlp-itm", body, sdr, 1 / 64)


# -- numpy decoder == torch model ---------------------------------------------------------


def test_numpy_forward_matches_torch():
    params = fmt.unpack_itm_body(fmt.pack_itm_body(random_params(5)))
    rng = np.random.default_rng(5)
    inputs = rng.uniform(-0.1, 1.1, (3000, 5)).astype(np.float32)
    ref = model.forward_torch(params, inputs)
    assert np.abs(dec.forward_numpy(params, inputs) - ref).max() < 1e-5
    assert np.std(ref) > 0.05  # not a degenerate network


def test_tiled_decoder_matches_torch(monkeypatch):
    monkeypatch.setattr(features, "TILE_PIXELS", 400)  # several tiles, with a partial last one
    params = random_params(6)
    body = fmt.pack_itm_body(params)
    height, width = 37, 53
    sdr = np.random.default_rng(6).random((height, width, 3)).astype(np.float32)
    ys, xs = np.meshgrid(pixel_centres(height), pixel_centres(width), indexing="ij")
    inputs = np.concatenate([xs[..., None], ys[..., None], sdr], axis=2).reshape(-1, 5)
    t = model.forward_torch(params, inputs)
    ref = np.clip(np.clip(t * params.out_scale + params.out_centre, params.out_min,
                          params.out_max), 0, 1).reshape(height, width, 3)
    out = dec.decode_itm("mlp-itm", body, sdr, 1 / 64)
    assert out.dtype == np.float32 and out.shape == (height, width, 3)
    assert np.abs(out - ref).max() < 1e-5
    assert out.min() >= 0.0 and out.max() <= 1.0


# -- fitting ------------------------------------------------------------------------------


def test_fitting_improves_psnr_and_is_deterministic():
    sdr, hdr = sdr_hdr()
    options = EncodeOptions(steps=60, batch=2048, seed=3)
    result = fit.fit_itm(sdr, hdr, options)
    start = psnr(hdr, dec.decode_itm("mlp-itm", fmt.pack_itm_body(result.initial), sdr, 0.0))
    body = fmt.pack_itm_body(result.params)
    end = psnr(hdr, dec.decode_itm("mlp-itm", body, sdr, 0.0))
    assert end > start + 10.0 and end > 30.0, (start, end)
    assert result.losses[-1] < result.losses[0]
    # encode_itm: same seed, same bytes.
    assert fit.encode_itm("mlp-itm", sdr, hdr, 1 / 64, options) == body


def test_fit_refuses_bad_input():
    sdr, hdr = sdr_hdr(8, 8)
    with pytest.raises(GainMLPError):
        fit.fit_itm(sdr, hdr[:4], EncodeOptions(steps=1))
    with pytest.raises(GainMLPError):
        fit.fit_itm(sdr, hdr, EncodeOptions(steps=1, activation="sine"))
    with pytest.raises(GainMLPError):
        fit.encode_itm("gain-mlp", sdr, hdr, 1 / 64, EncodeOptions(steps=1))


def test_mining_draws_more_from_hard_cells():
    sdr, hdr = sdr_hdr(64, 64)
    params = fit.fit_itm(sdr, hdr, EncodeOptions(steps=0)).params
    batcher = fit._MiningBatcher(sdr, hdr, params, torch.device("cpu"))
    batcher.errors.zero_()
    batcher.errors[5] = 1.0  # one hard cell
    *_, cell = batcher.sample(4000, torch.Generator().manual_seed(0))
    share = float((cell == 5).float().mean())
    assert 0.4 < share < 0.6  # about the mined half (the floor spreads a little)
    batcher.update(cell, torch.zeros(cell.shape[0]))
    assert float(batcher.errors[5]) == pytest.approx(0.9)


# -- the decoder never needs torch --------------------------------------------------------


def test_decode_module_does_not_import_torch(tmp_path):
    body_path = tmp_path / "body.bin"
    body_path.write_bytes(fmt.pack_itm_body(random_params(7)))
    code = (
        "import sys, numpy as np\n"
        "from gainmlp.codecs.mlp_itm.decode import decode_itm\n"
        f"body = open({str(body_path)!r}, 'rb').read()\n"
        "out = decode_itm('mlp-itm', body, np.full((9, 11, 3), 0.4, np.float32), 1 / 64)\n"
        "assert out.shape == (9, 11, 3)\n"
        "print('torch' in sys.modules)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True)
    assert run.stdout.strip() == "False", run.stderr
