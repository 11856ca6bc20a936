"""The colour-science functions and tables gainmlp's decode path uses, in plain numpy.

colour-science imports ``colour.plotting`` whenever any part of ``colour`` is imported, and
that imports matplotlib when it is installed: about a second before the first pixel. The
decode path (our payloads and standard gain-map JPEGs, to every output format) and the
command line's start therefore use these transcriptions instead. Each function repeats
colour-science 0.4's arithmetic operation for operation (its ``spow``, constants and
thresholds), and the tables are colour-science's own matrices, so the results are the same
floats; ``tests/test_colourspaces.py`` checks every function and table bit for bit against
colour-science, which stays the reference and is still used, imported on first use, by
the rest (reading EXR chromaticities, colour-difference metrics).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "COLOURSPACES", "Colourspace", "eotf_BT1886", "eotf_ST2084", "eotf_inverse_BT1886",
    "eotf_inverse_ST2084", "eotf_inverse_sRGB", "eotf_sRGB", "gamma_function",
    "matrix_RGB_to_RGB", "oetf_inverse_BT709",
]


@dataclass(frozen=True, eq=False)
class Colourspace:
    """One RGB colourspace as colour-science defines it (``name`` in
    ``colour.RGB_COLOURSPACES``): xy chromaticities of R, G, B and white, RGB <-> XYZ, and
    RGB -> XYZ adapted to the ICC's D50 white (Bradford), as ICC colorants are stored."""

    name: str
    primaries: np.ndarray
    whitepoint: np.ndarray
    rgb_to_xyz: np.ndarray
    xyz_to_rgb: np.ndarray
    rgb_to_xyz_d50: np.ndarray

    def __post_init__(self) -> None:
        for field in ("primaries", "whitepoint", "rgb_to_xyz", "xyz_to_rgb", "rgb_to_xyz_d50"):
            value = np.array(getattr(self, field), dtype=np.float64)
            value.setflags(write=False)
            object.__setattr__(self, field, value)


#: By gainmlp's short names (:data:`gainmlp.colorimetry.PRIMARIES`), all D65.
COLOURSPACES: dict[str, Colourspace] = {
    "bt709": Colourspace(
        "ITU-R BT.709",
        primaries=((0.64, 0.33), (0.3, 0.6), (0.15, 0.06)),
        whitepoint=(0.3127, 0.329),
        rgb_to_xyz=(
            (0.41239079926595934, 0.35758433938387796, 0.1804807884018343),
            (0.2126390058715103, 0.7151686787677559, 0.07219231536073371),
            (0.019330818715591825, 0.11919477979462595, 0.9505321522496606),
        ),
        xyz_to_rgb=(
            (3.240969941904522, -1.537383177570094, -0.49861076029300344),
            (-0.9692436362808798, 1.8759675015077206, 0.04155505740717563),
            (0.05563007969699364, -0.20397695888897655, 1.0569715142428786),
        ),
        rgb_to_xyz_d50=(
            (0.43604125161605095, 0.3851129107981555, 0.1430458375857936),
            (0.22248454022947742, 0.7169050786084572, 0.06061038116206524),
            (0.013920187471375373, 0.09706723869712398, 0.7139125738315005),
        ),
    ),
    "srgb": Colourspace(
        "sRGB",
        primaries=((0.64, 0.33), (0.3, 0.6), (0.15, 0.06)),
        whitepoint=(0.3127, 0.329),
        rgb_to_xyz=(
            (0.4124, 0.3576, 0.1805),
            (0.2126, 0.7152, 0.0722),
            (0.0193, 0.1192, 0.9505),
        ),
        xyz_to_rgb=(
            (3.2406, -1.5372, -0.4986),
            (-0.9689, 1.8758, 0.0415),
            (0.0557, -0.204, 1.057),
        ),
        rgb_to_xyz_d50=(
            (0.4360515465656215, 0.3851297770442278, 0.14306775983348718),
            (0.22244670407457073, 0.716936475887352, 0.06061911010279643),
            (0.013896348672472877, 0.09707148981384205, 0.7138883437726184),
        ),
    ),
    "p3": Colourspace(
        "Display P3",
        primaries=((0.68, 0.32), (0.265, 0.69), (0.15, 0.06)),
        whitepoint=(0.3127, 0.329),
        rgb_to_xyz=(
            (0.486570948648216, 0.2656676931690931, 0.1982172852343625),
            (0.2289745640697487, 0.6917385218365064, 0.079286914093745),
            (-3.9720755169334855e-17, 0.04511338185890264, 1.0439443689009757),
        ),
        xyz_to_rgb=(
            (2.4934969119414268, -0.9313836179191245, -0.4027107844507171),
            (-0.8294889695615748, 1.7626640603183463, 0.023624685841943605),
            (0.035845830243784474, -0.07617238926804183, 0.9568845240076874),
        ),
        rgb_to_xyz_d50=(
            (0.515118700928096, 0.2919778320413746, 0.15710346703052944),
            (0.24118916783740296, 0.6922440506378196, 0.0665667815247776),
            (-0.0010504527079767028, 0.04187912006015114, 0.7840713326478255),
        ),
    ),
    "bt2020": Colourspace(
        "ITU-R BT.2020",
        primaries=((0.708, 0.292), (0.17, 0.797), (0.131, 0.046)),
        whitepoint=(0.3127, 0.329),
        rgb_to_xyz=(
            (0.6369580483012912, 0.1446169035862084, 0.16888097516417208),
            (0.262700212011267, 0.6779980715188711, 0.05930171646986195),
            (4.994106574466074e-17, 0.028072693049087445, 1.0609850577107909),
        ),
        xyz_to_rgb=(
            (1.7166511879712678, -0.35567078377639244, -0.2533662813736598),
            (-0.6666843518324888, 1.6164812366349386, 0.015768545813911117),
            (0.01763985744531079, -0.04277061325780853, 0.9421031212354739),
        ),
        rgb_to_xyz_d50=(
            (0.6734801879253274, 0.16567120665765725, 0.12504860541701554),
            (0.27904258474633437, 0.675344495876177, 0.045612919377488736),
            (-0.0019334827800528023, 0.0299828499664111, 0.7968506328136417),
        ),
    ),
}


def _float(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


def _spow(a: np.ndarray, p: float) -> np.ndarray:
    """colour-science's ``spow``: ``sign(a) * |a| ** p``."""
    return np.sign(a) * np.abs(a) ** p


# SMPTE ST 2084 (PQ), colour.models.CONSTANTS_ST2084
_M1 = 2610 / 4096 * (1 / 4)
_M2 = 2523 / 4096 * 128
_C1 = 3424 / 4096
_C2 = 2413 / 4096 * 32
_C3 = 2392 / 4096 * 32


def eotf_inverse_ST2084(C, L_p: float = 10000) -> np.ndarray:
    """Luminance in cd/m2 -> PQ code value (``colour.models.eotf_inverse_ST2084``)."""
    Y_p = _spow(_float(C) / L_p, _M1)
    return _spow((_C1 + _C2 * Y_p) / (_C3 * Y_p + 1), _M2)


def eotf_ST2084(N, L_p: float = 10000) -> np.ndarray:
    """PQ code value -> luminance in cd/m2 (``colour.models.eotf_ST2084``)."""
    V_p = _spow(_float(N), 1 / _M2)
    n = np.maximum(0, V_p - _C1)
    return L_p * _spow(n / (_C2 - _C3 * V_p), 1 / _M1)


def eotf_BT1886(V) -> np.ndarray:
    """``colour.models.eotf_BT1886(V, L_B=0, L_W=1)``: a pure 2.4 power."""
    return 1.0 * _spow(np.maximum(_float(V) + 0.0, 0), 2.40)


def eotf_inverse_BT1886(L) -> np.ndarray:
    """``colour.models.eotf_inverse_BT1886(L, L_B=0, L_W=1)``."""
    return _spow(_float(L) / 1.0, 1 / 2.40) - 0.0


def eotf_inverse_sRGB(L) -> np.ndarray:
    """IEC 61966-2-1 linear light -> code value (``colour.models.eotf_inverse_sRGB``)."""
    L = _float(L)
    return np.where(L <= 0.0031308, L * 12.92, 1.055 * _spow(L, 1 / 2.4) - 0.055)


def eotf_sRGB(V) -> np.ndarray:
    """IEC 61966-2-1 code value -> linear light (``colour.models.eotf_sRGB``)."""
    V = _float(V)
    return np.where(0.0031308 * 12.92 >= V, V / 12.92, _spow((V + 0.055) / 1.055, 2.4))


def gamma_function(a, exponent: float) -> np.ndarray:
    """``colour.gamma_function(a, exponent)`` (negative numbers: indeterminate)."""
    return _float(a) ** _float(exponent)


def oetf_inverse_BT709(V) -> np.ndarray:
    """ITU-R BT.709 code value -> scene linear light (``colour.models.oetf_inverse_BT709``)."""
    V = _float(V)
    L = _float(0.018)
    threshold = np.where(L < 0.018, L * 4.5, 1.099 * _spow(L, 0.45) - 0.099)
    return np.where(threshold > V, V / 4.5, _spow((V + 0.099) / 1.099, 1 / 0.45))


def matrix_RGB_to_RGB(source: str, target: str) -> np.ndarray:
    """Linear RGB in ``source`` -> ``target`` through XYZ, without chromatic adaptation
    (``colour.matrix_RGB_to_RGB(..., chromatic_adaptation_transform=None)``)."""
    return np.matmul(COLOURSPACES[target].xyz_to_rgb, COLOURSPACES[source].rgb_to_xyz)


def colour_science():
    """The colour-science module, imported on first use. Without matplotlib, its import
    warns that its plotting is unavailable, and without scipy (not in the plain install,
    issue 23) that its scipy-based functions are; gainmlp uses none of them, so those two
    warnings are not shown (the filter is scoped to this import and then restored).

    Without them, colour-science's import also puts ``MagicMock`` objects in
    ``sys.modules`` in their place (``scipy``, ``scipy.interpolate``, ``matplotlib``,
    ``matplotlib.pyplot``, ``cycler``, ``mpl_toolkits``, ...: colour 0.4.7's
    ``algebra/interpolation.py`` and ``plotting/__init__.py``), so that every later import
    of them in the process "succeeds": numba's import then fails (``AttributeError:
    __version__``, reading the mock scipy's version) and a missing matplotlib is not
    noticed. The mocks that this import put there are taken out again (colour keeps its own
    references; its scipy and plotting functions, which gainmlp does not call, stay as they
    were). Mocks already there before (colour imported earlier by someone else) are left."""
    import sys
    import warnings
    from unittest import mock

    before = {name for name, module in sys.modules.items()
              if isinstance(module, mock.NonCallableMock)}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message='"Matplotlib" related API features')
        warnings.filterwarnings("ignore", message='"SciPy" related API features')
        import colour
    for name, module in list(sys.modules.items()):
        if isinstance(module, mock.NonCallableMock) and name not in before:
            del sys.modules[name]
    return colour
