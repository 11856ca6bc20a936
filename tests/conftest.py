"""Small fixtures generated in code (no image files are needed by the tests)."""

from __future__ import annotations

import numpy as np
import pytest

from gainmlp import colorimetry
from gainmlp.colourspaces import colour_science

# Test modules import colour-science directly; where scipy is not installed (the plain
# install, CI's no-torch run) that import leaves a MagicMock as sys.modules["scipy"], which
# breaks numba's import. Importing colour through gainmlp first takes the mock out.
colour_science()


def synthetic_pair(height: int = 48, width: int = 64, seed: int = 0):
    """An (sdr_uint8, hdr_pq float32) pair: smooth HDR scene, global tone curve for SDR."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    base = np.stack([0.6 + 0.4 * np.sin(6 * x), 0.5 + 0.5 * np.cos(4 * y), 0.3 + x * y], -1)
    radiance = base * np.exp2(6 * x)[:, :, None] * 20.0 + rng.random((height, width, 3)) * 2
    hdr_pq = colorimetry.linear_to_pq_bt2020(np.minimum(radiance, 1000.0))
    sdr_linear = radiance / (radiance + 100.0)
    sdr_709 = np.clip(colorimetry.convert_primaries(sdr_linear, "bt2020", "bt709"), 0, 1)
    sdr_u8 = np.round(colorimetry.sdr_inverse_eotf(sdr_709) * 255).astype(np.uint8)
    return sdr_u8, hdr_pq


@pytest.fixture
def pair():
    return synthetic_pair()


@pytest.fixture
def pair_files(tmp_path, pair):
    """sdr.png (8-bit) and hdr.png (16-bit PQ with cICP) written to tmp_path."""
    import gainmlp.io as imageio

    sdr_u8, hdr_pq = pair
    imageio.write_sdr_png(tmp_path / "sdr.png", sdr_u8)
    imageio.write_hdr(tmp_path / "hdr.png", hdr_pq)
    return tmp_path / "sdr.png", tmp_path / "hdr.png"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true",
                     help="rewrite tests/fixtures/payloads and tests/expected (see golden.py)")
