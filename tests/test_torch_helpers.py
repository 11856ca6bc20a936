"""What both MLP fitters share on the torch side (codecs/torch_helpers.py)."""

from __future__ import annotations

import numpy as np
import pytest

from gainmlp.codecs.features import encode_numpy
from gainmlp.errors import GainMLPError

torch = pytest.importorskip("torch")

from gainmlp.codecs.torch_helpers import (  # noqa: E402
    FrequencyEncoding,
    StepLoop,
    check_pair,
    encode_torch,
    fit_threads,
    resolve_device,
    torch_threads,
)


def test_torch_encoding_is_the_numpy_one() -> None:
    """Same float32 arguments as the numpy encoding, bit for bit; sin/cos agree to the
    last bit or so (torch and numpy have their own libm)."""
    norm = np.random.default_rng(0).uniform(-1, 1, (500, 3)).astype(np.float32)
    args = (norm * np.float32(np.pi))[:, :, None] * np.exp2(np.arange(12, dtype=np.float32))
    encoding = FrequencyEncoding(12)
    np.testing.assert_array_equal(encoding.args(torch.from_numpy(norm)).numpy(), args)
    ref = encode_numpy(norm, 12)
    np.testing.assert_allclose(encode_torch(torch.from_numpy(norm), 12).numpy(), ref,
                               atol=1e-6, rtol=0)
    sin, cos = encoding.sin_cos(torch.from_numpy(norm))
    blocks = ref.reshape(500, 3, 2, 12)
    np.testing.assert_allclose(sin.numpy(), blocks[:, :, 0].reshape(500, -1), atol=1e-6)
    np.testing.assert_allclose(cos.numpy(), blocks[:, :, 1].reshape(500, -1), atol=1e-6)


def test_devices_and_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type in ("cpu", "cuda")
    with pytest.raises(GainMLPError):
        resolve_device("tpu")
    monkeypatch.setenv("GAINMLP_THREADS", "3")
    assert fit_threads() == 3
    before = torch.get_num_threads()
    with torch_threads():
        assert torch.get_num_threads() == 3
    assert torch.get_num_threads() == before
    monkeypatch.setenv("GAINMLP_THREADS", "many")
    with pytest.raises(GainMLPError):
        fit_threads()


def test_check_pair() -> None:
    sdr, hdr = check_pair(np.full((2, 3, 3), np.nan), np.zeros((2, 3, 3), np.float64))
    assert sdr.dtype == hdr.dtype == np.float32 and np.all(sdr == 0)
    with pytest.raises(GainMLPError):
        check_pair(np.zeros((2, 3, 3)), np.zeros((3, 2, 3)))


def test_step_loop_logs_every_fiftieth_and_the_last_loss() -> None:
    loop = StepLoop(120, "test", False, torch.device("cpu"))
    for step in loop:
        loop.log(step, torch.tensor(float(step)))
    assert loop.losses == [0.0, 50.0, 100.0, 119.0] and loop.seconds >= 0
