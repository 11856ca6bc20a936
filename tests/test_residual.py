import numpy as np
import pytest

from gainmlp import paper_residual
from gainmlp.errors import GainMLPError


@pytest.fixture
def maps():
    rng = np.random.default_rng(0)
    sdr = rng.random((16, 16, 3)) * 0.51
    hdr = rng.random((16, 16, 3)) * 0.76
    hdr[0, 0] = 0.0
    sdr[0, 1] = 0.0
    return sdr, hdr


@pytest.mark.parametrize("kind", paper_residual.RESIDUAL_KINDS)
def test_exact_round_trip_unquantised(maps, kind):
    sdr, hdr = maps
    f = paper_residual.compute(kind, hdr, sdr)
    lo, hi = paper_residual.log2_bounds(f)
    rebuilt = paper_residual.reconstruct(kind, sdr, paper_residual.denormalise(
        paper_residual.normalise(f, lo, hi), lo, hi))
    assert np.abs(rebuilt - hdr).max() < 1e-6


def test_gain_map_formula():
    eps = 1 / 64
    np.testing.assert_allclose(paper_residual.gain_map(np.array([0.5]), np.array([0.25])),
                               (0.5 + eps) / (0.25 + eps))
    np.testing.assert_allclose(paper_residual.gamma_map(np.array([0.5]), np.array([0.25])),
                               np.log(0.5 + eps) / np.log(0.25 + eps))


def test_gamma_map_singular_cases_are_finite():
    eps = 1 / 64
    # S + eps == 1 makes log(S + eps) == 0; S + eps > 1 flips its sign; H == 0 stays finite.
    sdr = np.array([1 - eps, 1.0, 0.0, 0.0])
    hdr = np.array([0.5, 0.5, 0.0, 1.0])
    f = paper_residual.gamma_map(hdr, sdr, eps)
    assert np.all(np.isfinite(f)) and np.all(f > 0)
    rebuilt = paper_residual.apply_gamma(sdr, f, eps)
    assert np.all(np.isfinite(rebuilt))
    np.testing.assert_allclose(rebuilt[:3], hdr[:3], atol=1e-9)  # exact below the guard


def test_normalisation_constant_channel_and_clamp():
    f = np.ones((4, 4, 3)) * 2.0
    lo, hi = paper_residual.log2_bounds(f)
    assert np.all(hi > lo)
    norm = paper_residual.normalise(f * 8.0, lo, hi)  # out of range -> clamped to 1
    assert norm.max() == 1.0


def test_bad_eps_and_kind():
    with pytest.raises(GainMLPError):
        paper_residual.gain_map(np.zeros(1), np.zeros(1), eps=0)
    with pytest.raises(GainMLPError):
        paper_residual.compute("ratio", np.zeros(1), np.zeros(1))
