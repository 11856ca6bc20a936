"""The SSIM map kernel (kernels/ssim.py) against its numpy reference (scipy.ndimage's
Gaussian filter as gainmlp.filters reproduces it): identical arrays, and so the same SSIM
as scikit-image's (tests/test_metrics.py).

Measured: identical (max abs difference 0) on every case below.
"""

from __future__ import annotations

import numpy as np
import pytest

from gainmlp import kernels, metrics
from gainmlp.kernels import ssim

C1, C2 = (0.01 * 1.0) ** 2, (0.03 * 1.0) ** 2


def _pairs() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(5)
    noise = rng.uniform(size=(70, 131))
    yy, xx = np.mgrid[0:133, 0:67] / 133.0
    ramp = np.sin(7 * xx) * np.cos(5 * yy) * 0.5 + 0.5
    return {
        "noise": (noise, np.clip(noise + 0.05 * rng.standard_normal(noise.shape), 0, 1)),
        "ramp-shifted": (ramp, np.roll(ramp, 1, axis=0)),
        "smallest": (rng.uniform(size=(11, 11)), rng.uniform(size=(11, 11))),
        "thin": (rng.uniform(size=(11, 300)), rng.uniform(size=(11, 300))),
        "flat-vs-noise": (np.full((40, 50), 0.3), rng.uniform(size=(40, 50))),
        "identical": (noise, noise),
    }


@pytest.mark.parametrize("name", sorted(_pairs()))
@pytest.mark.parametrize("threads", [1, 3])
def test_compiled_map_equals_the_reference(name: str, threads: int) -> None:
    x, y = _pairs()[name]
    ours = ssim.ssim_map(x, y, C1, C2, threads=threads)
    ref = ssim.reference_ssim_map(x, y, C1, C2)
    np.testing.assert_array_equal(ours, ref)
    if name == "identical":
        assert np.all(ours == 1.0)


def test_row_tiles_cover_the_image() -> None:
    """More rows than a tile, not a multiple of it: every row written, the same values."""
    rng = np.random.default_rng(6)
    rows = ssim.ROWS_PER_TILE * 2 + 7
    x, y = rng.uniform(size=(rows, 20)), rng.uniform(size=(rows, 20))
    np.testing.assert_array_equal(ssim.ssim_map(x, y, C1, C2, threads=2),
                                  ssim.reference_ssim_map(x, y, C1, C2))


def test_metrics_ssim_is_the_same_on_both_paths(monkeypatch) -> None:
    rng = np.random.default_rng(7)
    a = rng.uniform(size=(45, 38, 3)).astype(np.float32)
    b = np.clip(a + 0.03 * rng.standard_normal(a.shape).astype(np.float32), 0, 1)
    compiled = metrics.ssim(a, b)
    monkeypatch.setenv("GAINMLP_KERNELS", "numpy")
    assert not kernels.compiled()
    assert metrics.ssim(a, b) == compiled
