"""The numpy Gain-MLP decoder (codecs/mlp/decode.py): it computes the torch model's
function, tiles do not change the result, and it never imports torch."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from gainmlp.codecs import features
from gainmlp.codecs.features import normalise_inputs
from gainmlp.codecs.mlp.decode import decode_mlp, denormalise_outputs, forward_numpy
from gainmlp.codecs.mlp.format import pack_mlp_body, unpack_mlp_body
from gainmlp.codecs.mlp.grid import guide_range
from gainmlp.errors import GainMLPError
from gainmlp.paper_residual import DEFAULT_EPS, reconstruct

torch = pytest.importorskip("torch")

from mlp_helpers import (  # noqa: E402
    fast_options,
    grid_params,
    local_pair,
    one_fitting_thread,  # noqa: F401  (autouse)
    random_params,
    raw_inputs,
    smooth_pair,
    torch_forward,
)

from gainmlp.codecs.mlp import fit as mlp_fit  # noqa: E402
from gainmlp.codecs.mlp.model import model_from_params  # noqa: E402

SRC = Path(__file__).resolve().parent.parent / "src"


@pytest.mark.parametrize("activation", ["relu", "sine"])
def test_numpy_forward_matches_torch(activation: str) -> None:
    p = random_params(activation=activation)
    inputs = np.random.default_rng(5).random((4096, 5)).astype(np.float32)
    ref = forward_numpy(p, inputs)
    net = model_from_params(p)
    with torch.no_grad():
        out = net(torch.from_numpy(normalise_inputs(inputs, p.in_centre, p.in_scale)))
    np.testing.assert_allclose(ref, out.numpy(), atol=1e-5, rtol=0)


@pytest.mark.parametrize("entry,activation", [(1, "sine"), (2, "relu"), (1, "relu")])
def test_numpy_forward_with_grids_matches_torch(entry: int, activation: str) -> None:
    p = grid_params(((5, 7, 2), (3, 3, 1)), entry=entry, activation=activation)
    raw = np.random.default_rng(5).random((4096, 5)).astype(np.float32)
    np.testing.assert_allclose(forward_numpy(p, raw), torch_forward(p, raw), atol=1e-5,
                               rtol=0)


def test_decode_tiles_match_single_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    sdr, _ = smooth_pair(37, 29)
    body = pack_mlp_body(random_params(activation="sine"))
    whole = decode_mlp("gain-mlp", body, sdr, DEFAULT_EPS)
    monkeypatch.setattr(features, "TILE_PIXELS", 100)
    np.testing.assert_allclose(decode_mlp("gain-mlp", body, sdr, DEFAULT_EPS), whole,
                               atol=1e-6)


@pytest.mark.parametrize(("shapes", "entry"), [(((4, 4, 2), (9, 6, 1)), 1),
                                              (((4, 4, 2), (9, 6, 1)), 2),
                                              (((4, 4, 5, 2), (9, 6, 1)), 1)])
def test_decoder_matches_forward_and_tiles(shapes, entry: int,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Plain and bilateral grids, entering layer 1 or 2: the tiled numpy decoder equals the
    torch forward pass, whatever the tile size."""
    sdr, _ = local_pair(37, 29)
    p = grid_params(shapes, entry=entry)
    if len(shapes[0]) == 4:
        p.grid_guide = guide_range(sdr)
    p = unpack_mlp_body(pack_mlp_body(p))
    out = decode_mlp("gamma-mlp", pack_mlp_body(p), sdr, DEFAULT_EPS)
    mapped = denormalise_outputs(p, torch_forward(p, raw_inputs(sdr)).astype(np.float64))
    expect = reconstruct("gamma", sdr.reshape(-1, 3), mapped, DEFAULT_EPS)
    np.testing.assert_allclose(out.reshape(-1, 3), expect, atol=2e-5, rtol=0)
    monkeypatch.setattr(features, "TILE_PIXELS", 100)
    np.testing.assert_allclose(decode_mlp("gamma-mlp", pack_mlp_body(p), sdr, DEFAULT_EPS),
                               out, atol=1e-6)


def test_decode_rejects_bad_input() -> None:
    body = pack_mlp_body(random_params())
    sdr = smooth_pair()[0]
    with pytest.raises(GainMLPError):
        decode_mlp("gamma-jpeg", body, sdr, DEFAULT_EPS)
    with pytest.raises(GainMLPError):
        decode_mlp("mlp-itm", body, sdr, DEFAULT_EPS)
    with pytest.raises(GainMLPError):
        decode_mlp("gamma-mlp", body, np.zeros((4, 4), np.float32), DEFAULT_EPS)
    with pytest.raises(GainMLPError):
        decode_mlp("gamma-mlp", body[:-3], sdr, DEFAULT_EPS)


@pytest.mark.parametrize("method", ["gamma-mlp", "direct-mlp"])
def test_overflowing_network_is_refused_not_decoded_to_nan(method: str) -> None:
    # fuzz/ (payload target) found it: finite but huge fp32 weights overflow to inf - inf
    params = random_params(activation="relu")
    params.weights = [w * np.float32(1e30) for w in params.weights]
    body = pack_mlp_body(params)
    with np.errstate(all="ignore"), pytest.raises(GainMLPError, match="overflows"):
        decode_mlp(method, body, smooth_pair(8, 8)[0], DEFAULT_EPS)


@pytest.mark.parametrize("grid", [None, "4x4x2+6x6x1:u8"])
def test_decode_without_torch(tmp_path: Path, grid: str | None) -> None:
    """Version-1 bodies and version-2 (grid) bodies decode with torch blocked."""
    sdr, hdr = smooth_pair(20, 24)
    body = mlp_fit.encode_mlp("gamma-mlp", sdr, hdr, DEFAULT_EPS,
                              fast_options(steps=5, grid=grid))
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
