"""gainmlp.filters: scipy.ndimage's Gaussian and box filters in numpy (issue 23: the plain
install has no scipy). Bit for bit against scipy where scipy is installed (the test extra);
reference values computed by hand everywhere."""

from __future__ import annotations

import numpy as np
import pytest

from gainmlp import filters

SHAPES = [(37, 53), (8, 200), (11, 11), (5, 7, 9), (3,), (300, 6)]
SIGMAS = [(0.03, 4.0), (0.5, 4.0), (1.5, 3.5), (3.0, 4.0), (12.0, 4.0), (50.0, 4.0)]


@pytest.mark.parametrize("mode", list(filters.MODES))
def test_gaussian_filter_is_scipys_bit_for_bit(mode: str) -> None:
    """Every mode, kernels shorter and (far) longer than the axis, 1-D to 3-D."""
    ndimage = pytest.importorskip("scipy.ndimage")
    rng = np.random.default_rng(0)
    for shape in SHAPES:
        values = rng.standard_normal(shape)
        for sigma, truncate in SIGMAS:
            ours = filters.gaussian_filter(values, sigma, mode, truncate)
            theirs = ndimage.gaussian_filter(values, sigma, mode=mode, truncate=truncate)
            np.testing.assert_array_equal(ours, theirs, err_msg=f"{shape} {sigma} {mode}")


@pytest.mark.parametrize("mode", list(filters.MODES))
def test_uniform_filter_is_scipys_to_rounding(mode: str) -> None:
    ndimage = pytest.importorskip("scipy.ndimage")
    rng = np.random.default_rng(1)
    for shape in SHAPES:
        for size in (1, 2, 3, 4, 7, 30):
            for dtype, tol in ((np.float64, 1e-12), (np.float32, 1e-6)):
                values = (rng.standard_normal(shape) * 3 + 1).astype(dtype)
                ours = filters.uniform_filter(values, size, mode)
                theirs = ndimage.uniform_filter(values, size, mode=mode)
                assert ours.dtype == theirs.dtype == dtype
                np.testing.assert_allclose(ours, theirs, rtol=0, atol=tol,
                                           err_msg=f"{shape} {size} {mode} {dtype}")


def test_gaussian_kernel_values() -> None:
    """exp(-x^2 / (2 sigma^2)) on x = -r..r, r = int(truncate sigma + 0.5), sum 1."""
    k = filters.gaussian_kernel(1.5, 3.5)
    assert k.size == 11  # SSIM's 11-tap window
    x = np.arange(-5, 6)
    expected = np.exp(-x**2 / 4.5)
    np.testing.assert_allclose(k, expected / expected.sum(), rtol=1e-15)
    assert filters.gaussian_kernel(1.0).size == 9 and filters.gaussian_kernel(0.1).size == 1


def test_gaussian_filter_of_an_impulse_is_the_kernel() -> None:
    impulse = np.zeros((15, 15))
    impulse[7, 7] = 1.0
    k = filters.gaussian_kernel(1.2)  # 11 taps
    out = filters.gaussian_filter(impulse, 1.2, mode="constant")
    np.testing.assert_allclose(out[2:13, 2:13], np.outer(k, k), rtol=1e-14, atol=1e-18)
    assert out[:2].max() == out[13:].max() == out[:, :2].max() == out[:, 13:].max() == 0.0


def test_gaussian_filter_modes_at_the_edges() -> None:
    """wrap keeps the total of a periodic signal and is the same filter as on a tiled copy;
    reflect and nearest keep constants; constant leaks mass across the edges."""
    rng = np.random.default_rng(2)
    values = rng.standard_normal((20, 30))
    wrapped = filters.gaussian_filter(values, 2.0, "wrap")
    assert wrapped.sum() == pytest.approx(values.sum(), abs=1e-10)
    tiled = filters.gaussian_filter(np.tile(values, (3, 3)), 2.0, "constant")
    np.testing.assert_allclose(wrapped, tiled[20:40, 30:60], atol=1e-12)
    flat = np.full((6, 9), 0.25)
    for mode in ("reflect", "nearest", "wrap"):
        np.testing.assert_allclose(filters.gaussian_filter(flat, 3.0, mode), flat, rtol=1e-14)
    assert filters.gaussian_filter(flat, 3.0, "constant").sum() < flat.sum()
    np.testing.assert_array_equal(filters.gaussian_filter(values, 0.0), values)


def test_uniform_filter_box_means() -> None:
    values = np.arange(10, dtype=np.float64)
    # size 3: centred box; size 4: one more sample before the centre than after
    np.testing.assert_allclose(filters.uniform_filter(values, 3, "nearest")[1:-1],
                               values[1:-1], rtol=1e-14)
    out = filters.uniform_filter(values, 4, "nearest")
    assert out[5] == pytest.approx((3 + 4 + 5 + 6) / 4)
    assert out[0] == pytest.approx((0 + 0 + 0 + 1) / 4)  # nearest: the edge sample repeats
    assert filters.uniform_filter(values, 4, "constant")[0] == pytest.approx(0.25)
    assert filters.uniform_filter(values, 3, "wrap")[0] == pytest.approx((9 + 0 + 1) / 3)
    assert filters.uniform_filter(values, 3, "reflect")[0] == pytest.approx((0 + 0 + 1) / 3)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="mode"):
        filters.gaussian_filter(np.zeros(4), 1.0, mode="mirror")
    with pytest.raises(ValueError, match="mode"):
        filters.uniform_filter(np.zeros(4), 3, mode="mirror")
    with pytest.raises(ValueError, match="size"):
        filters.uniform_filter(np.zeros(4), 0)
