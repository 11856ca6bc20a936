"""gainmlp.colourspaces against colour-science, bit for bit: the decode path's numpy
transcriptions of colour-science's transfer functions and tables must give the same floats
(so decoded pixels and payload bytes do not depend on which of the two computed them)."""

from __future__ import annotations

import colour
import numpy as np
import pytest

from gainmlp import colourspaces as cs
from gainmlp.colorimetry import PRIMARIES

D50 = np.array([0.9642, 1.0, 0.8249])
RNG = np.random.default_rng(7)
# every 8-bit and 10-bit code, random values, both ends and points near the thresholds
UNIT = np.unique(np.concatenate([
    np.arange(256) / 255.0, np.arange(1024) / 1023.0, RNG.random(4000), RNG.random(500) * 0.05,
    np.arange(256, dtype=np.float32) / np.float32(255.0),
    [0.0, 1.0, 0.0031308, 0.0031308 * 12.92, 0.018, 0.081, 1e-12],
]))


def _same(ours, ref) -> None:
    ours, ref = np.asarray(ours), np.asarray(ref)
    assert ours.dtype == np.float64 and ours.shape == ref.shape
    np.testing.assert_array_equal(ours, ref)


def test_pq_is_colour_science_bit_for_bit() -> None:
    nits = np.concatenate([UNIT * 10000.0, UNIT * 100.0, UNIT * 1000.0])
    _same(cs.eotf_inverse_ST2084(nits), colour.models.eotf_inverse_ST2084(nits))
    _same(cs.eotf_ST2084(UNIT), colour.models.eotf_ST2084(UNIT))
    image = RNG.random((5, 7, 3)).astype(np.float32)
    _same(cs.eotf_ST2084(image), colour.models.eotf_ST2084(image))


@pytest.mark.parametrize(("ours", "ref"), [
    (cs.eotf_BT1886, lambda v: colour.models.eotf_BT1886(v, L_B=0.0, L_W=1.0)),
    (cs.eotf_inverse_BT1886, lambda v: colour.models.eotf_inverse_BT1886(v, L_B=0.0, L_W=1.0)),
    (cs.eotf_sRGB, colour.models.eotf_sRGB),
    (cs.eotf_inverse_sRGB, colour.models.eotf_inverse_sRGB),
    (cs.oetf_inverse_BT709, colour.models.oetf_inverse_BT709),
    (lambda v: cs.gamma_function(v, 2.2), lambda v: colour.gamma_function(v, 2.2)),
    (lambda v: cs.gamma_function(v, 1 / 2.2), lambda v: colour.gamma_function(v, 1 / 2.2)),
])
def test_sdr_curves_are_colour_science_bit_for_bit(ours, ref) -> None:
    _same(ours(UNIT), ref(UNIT))
    _same(ours(UNIT.reshape(-1, 1)), ref(UNIT.reshape(-1, 1)))


@pytest.mark.parametrize("name", list(PRIMARIES))
def test_tables_are_colour_science_bit_for_bit(name: str) -> None:
    ours, ref = cs.COLOURSPACES[name], colour.RGB_COLOURSPACES[PRIMARIES[name]]
    assert ours.name == ref.name
    for field, theirs in (("primaries", ref.primaries), ("whitepoint", ref.whitepoint),
                          ("rgb_to_xyz", ref.matrix_RGB_to_XYZ),
                          ("xyz_to_rgb", ref.matrix_XYZ_to_RGB)):
        _same(getattr(ours, field), theirs)
    cat = colour.adaptation.matrix_chromatic_adaptation_VonKries(
        colour.xy_to_XYZ(ref.whitepoint), D50, transform="Bradford")
    _same(ours.rgb_to_xyz_d50, cat @ ref.matrix_RGB_to_XYZ)
    for other in PRIMARIES:
        _same(cs.matrix_RGB_to_RGB(name, other), colour.matrix_RGB_to_RGB(
            ref, colour.RGB_COLOURSPACES[PRIMARIES[other]], chromatic_adaptation_transform=None))


def test_tables_are_read_only() -> None:
    with pytest.raises(ValueError):
        cs.COLOURSPACES["bt2020"].rgb_to_xyz[0, 0] = 1.0
