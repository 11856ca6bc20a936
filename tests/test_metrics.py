import colour
import numpy as np
import pytest

from gainmlp import colorimetry, metrics


def test_identical_images():
    a = np.random.default_rng(0).random((16, 16, 3)) * 0.7
    assert metrics.psnr(a, a) == float("inf")
    assert metrics.ssim(a, a) == pytest.approx(1.0)
    assert metrics.delta_e00(a, a) == 0.0 and metrics.delta_e_itp(a, a) == 0.0


def test_psnr_value():
    a = np.zeros((4, 4, 3))
    assert metrics.psnr(a, a + 0.01) == pytest.approx(40.0)


def test_ciede2000_against_sharma_reference_pair():
    # Sharma, Wu & Dalal (2005) test data, pair 7: (50, 0, 0) vs (50, -1, 2), ΔE00 = 2.3669.
    # Built as absolute BT.2020 light (Y = 1 at 1000 cd/m2, D65), PQ-encoded, measured by us.
    white = colour.RGB_COLOURSPACES["ITU-R BT.2020"].whitepoint
    pq = []
    for lab in (np.array([50.0, 0.0, 0.0]), np.array([50.0, -1.0, 2.0])):
        rgb = colour.XYZ_to_RGB(colour.Lab_to_XYZ(lab, white), "ITU-R BT.2020",
                                apply_cctf_encoding=False) * 1000
        assert np.all(rgb > 0)
        pq.append(colorimetry.pq_encode(rgb)[None, None])
    assert metrics.delta_e00(pq[0], pq[1]) == pytest.approx(2.3669, abs=1e-3)


def test_delta_e_itp_bt2124_scale():
    # BT.2124: ΔE_ITP = 720 * sqrt(ΔI² + ΔT² + ΔP²), T = 0.5 Ct. A pure intensity step of
    # ΔI = 1/720 between two greys is exactly 1 ΔE_ITP.
    grey = colorimetry.pq_encode(np.full((1, 1, 3), 100.0))
    i = colour.RGB_to_ICtCp(np.array([100.0] * 3), method="ITU-R BT.2100-2 PQ")[0]
    target = colour.models.eotf_ST2084(i + 1 / 720)  # grey of intensity I + 1/720
    other = colorimetry.pq_encode(np.full((1, 1, 3), float(target)))
    assert metrics.delta_e_itp(grey, other) == pytest.approx(1.0, rel=1e-3)


def test_pu21_anchor_values():
    # PU21 maps 100 cd/m2 near 256 and 10,000 cd/m2 near 595 (Mantiuk & Azimi 2021)
    enc = metrics.pu21_encode(np.array([100.0, 10000.0]))
    assert 250 < enc[0] < 262 and 590 < enc[1] < 600
    assert np.all(np.diff(metrics.pu21_encode(np.geomspace(0.01, 1e4, 50))) > 0)


def test_bpp():
    assert metrics.bits_per_pixel(10240, 1920, 1080) == pytest.approx(10240 * 8 / (1920 * 1080 * 3))


def test_cvvdp_is_none_or_ten_for_identical_images():
    a = np.random.default_rng(0).random((64, 64, 3)).astype(np.float32) * 0.7
    jod = metrics.cvvdp_jod(a, a)
    if metrics.cvvdp_available():
        assert jod == pytest.approx(10.0, abs=1e-3)
        assert metrics.cvvdp_jod(a, np.clip(a + 0.05, 0, 1)) < 10.0
    else:
        assert jod is None
