"""Adobe Gain Map 1.0 / ISO 21496-1 gain-map arithmetic (gainmlp.iso_gainmap)."""

from __future__ import annotations

import numpy as np
import pytest
from jpeg_samples import gradient_scene

from gainmlp.colorimetry import linear_to_pq_bt2020
from gainmlp.errors import GainMLPError
from gainmlp.iso_gainmap import (
    GainMapMetadata,
    apply_gain_map,
    compute_gain_map,
    weight_for_headroom,
)

H, W = 64, 96
SDR_WHITE_NITS = 203.0


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(1.0 / mse)


def to_pq(linear: np.ndarray, primaries: str) -> np.ndarray:
    return linear_to_pq_bt2020(np.asarray(linear, np.float64) * SDR_WHITE_NITS, primaries)


@pytest.fixture(scope="module")
def scene() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(sdr uint8, sdr linear, hdr linear): smooth gradients and a bright highlight."""
    return gradient_scene(H, W)


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("gamma", [1.0, 0.5])
def test_compute_then_apply_recovers_hdr(scene, channels: int, gamma: float) -> None:
    _, lin, hdr = scene
    code, meta = compute_gain_map(lin, hdr, channels=channels, gamma=gamma)
    assert code.dtype == np.uint8 and code.shape == ((H, W) if channels == 1 else (H, W, 3))
    out = apply_gain_map(lin, code / 255.0, meta)
    target = hdr if channels == 3 else out  # a luminance map cannot match per channel
    assert psnr(to_pq(out, "srgb"), to_pq(target, "srgb")) > 45
    if channels == 3:
        assert meta.gain_map_max[0] > meta.gain_map_max[2]
    # weight 0 gives the base back (up to the offsets, which cancel when equal)
    assert np.allclose(apply_gain_map(lin, code / 255.0, meta, weight=0.0), lin, atol=1e-6)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"gain_map_max": float("nan")},
        {"gain_map_min": (0, 0, float("inf"))},
        {"gain_map_min": 2.0, "gain_map_max": 1.0},
        {"gamma": 0.0},
        {"gain_map_max": 1e300},
        {"offset_sdr": -3e9},  # beyond ISO 21496-1's int32 numerator
        {"gamma": -1.0},
        {"hdr_capacity_min": -1.0, "hdr_capacity_max": 1.0},  # ISO headrooms are unsigned
        {"hdr_capacity_min": 3.0, "hdr_capacity_max": 1.0},
        {"gain_map_max": (1, 2)},
        {"gamma": "x"},
    ],
)
def test_metadata_validation(kwargs) -> None:
    with pytest.raises(GainMLPError):
        GainMapMetadata(**kwargs)


def test_large_offsets_decode_by_the_formula() -> None:
    """Offsets as Camera Raw writes them (10.3, 6.7) are valid: no guessed limit."""
    meta = GainMapMetadata(gain_map_min=-0.5, gain_map_max=2.0, gamma=0.8,
                           offset_sdr=10.308957, offset_hdr=6.695587, hdr_capacity_max=2.0)
    base = np.array([[[0.0, 0.5, 1.0], [0.25, 0.05, 0.9]]], dtype=np.float32)
    code = np.array([[0.0, 1.0]], dtype=np.float32)
    out = apply_gain_map(base, code, meta)
    r = code[0][:, None] ** (1 / 0.8)
    log_gain = -0.5 * (1 - r) + 2.0 * r
    expected = (base[0] + 10.308957) * 2.0**log_gain - 6.695587
    assert np.allclose(out[0], expected, rtol=1e-5, atol=1e-4)


def test_extreme_metadata_saturates_instead_of_overflowing() -> None:
    """Far ends of the ISO ranges overflow float32; the result stays finite."""
    meta = GainMapMetadata(gain_map_min=0.0, gain_map_max=2.0**31 - 1, hdr_capacity_max=1.0)
    out = apply_gain_map(np.full((1, 2, 3), 0.5, np.float32), np.array([[0.0, 1.0]]), meta)
    assert np.all(np.isfinite(out))
    assert out[0, 1, 0] == np.finfo(np.float32).max and 0.49 < out[0, 0, 0] < 0.51


def test_weight_for_headroom() -> None:
    meta = GainMapMetadata(hdr_capacity_min=0.0, hdr_capacity_max=2.0)
    assert weight_for_headroom(meta, 0.0) == 0.0
    assert weight_for_headroom(meta, 1.0) == 0.5
    assert weight_for_headroom(meta, 5.0) == 1.0
    inv = GainMapMetadata(hdr_capacity_min=0.0, hdr_capacity_max=2.0, base_is_hdr=True)
    assert weight_for_headroom(inv, 2.0) == 0.0


