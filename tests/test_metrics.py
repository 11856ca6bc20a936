import colour
import numpy as np
import pytest

from gainmlp import colorimetry, metrics
from gainmlp.errors import GainMLPError


def test_identical_images():
    a = np.random.default_rng(0).random((16, 16, 3)) * 0.7
    assert metrics.psnr(a, a) == float("inf")
    assert metrics.ssim(a, a) == pytest.approx(1.0)
    assert metrics.delta_e00(a, a) == 0.0 and metrics.delta_e_itp(a, a) == 0.0


def test_psnr_value():
    a = np.zeros((4, 4, 3))
    assert metrics.psnr(a, a + 0.01) == pytest.approx(40.0)


def _noisy_pairs():
    """Image pairs of several sizes and kinds (noise, a smooth ramp, a blurred copy)."""
    rng = np.random.default_rng(3)
    for shape in ((11, 11, 3), (40, 57, 3), (97, 64, 3)):
        a = rng.uniform(size=shape)
        yield a, np.clip(a + 0.05 * rng.standard_normal(shape), 0, 1)
    y, x = np.mgrid[0:48, 0:80] / 80.0
    ramp = np.stack([x, y, x * y], -1)
    yield ramp, np.clip(ramp ** 1.1 + 0.01 * rng.standard_normal(ramp.shape), 0, 1)
    yield ramp, (ramp + np.roll(ramp, 1, axis=1)) / 2


def test_ssim_is_scikit_images():
    """gainmlp's SSIM is scikit-image's ``structural_similarity`` as gainmlp called it (a
    Gaussian window of sigma 1.5, population covariance, data range 1, the channels'
    mean); float32 input is taken as float64, as before."""
    skimage_metrics = pytest.importorskip("skimage.metrics")
    for a, b in _noisy_pairs():
        theirs = skimage_metrics.structural_similarity(
            a, b, data_range=1.0, channel_axis=-1, gaussian_weights=True, sigma=1.5,
            use_sample_covariance=False)
        assert metrics.ssim(a, b) == pytest.approx(theirs, rel=0, abs=1e-12)
        assert metrics.ssim(a.astype(np.float32), b.astype(np.float32)) == pytest.approx(
            skimage_metrics.structural_similarity(
                a.astype(np.float32).astype(np.float64), b.astype(np.float32).astype(np.float64),
                data_range=1.0, channel_axis=-1, gaussian_weights=True, sigma=1.5,
                use_sample_covariance=False), rel=0, abs=1e-12)


def test_ssim_reference_values():
    """Flat images: the variances vanish and SSIM is (2 a b + C1) / (a^2 + b^2 + C1),
    C1 = 0.01^2, per channel; the mean of the channels; symmetric; 1 for identical images;
    less for noisier copies."""
    a = np.full((16, 20, 3), [0.3, 0.5, 0.7])
    b = np.full((16, 20, 3), [0.5, 0.5, 0.2])
    c1 = 0.01**2
    expected = np.mean([(2 * p * q + c1) / (p * p + q * q + c1)
                        for p, q in ((0.3, 0.5), (0.5, 0.5), (0.7, 0.2))])
    assert metrics.ssim(a, b) == pytest.approx(expected, rel=1e-12)
    assert metrics.ssim(b, a) == pytest.approx(expected, rel=1e-12)
    rng = np.random.default_rng(4)
    ref = rng.uniform(size=(32, 32, 3))
    scores = [metrics.ssim(ref, np.clip(ref + s * rng.standard_normal(ref.shape), 0, 1))
              for s in (0.0, 0.02, 0.1)]
    assert scores[0] == 1.0 and scores[0] > scores[1] > scores[2]


def test_ssim_refuses_small_or_mismatched_images():
    with pytest.raises(GainMLPError, match="at least 11x11"):
        metrics.ssim(np.zeros((10, 40, 3)), np.zeros((10, 40, 3)))
    with pytest.raises(GainMLPError, match="one shape"):
        metrics.ssim(np.zeros((12, 40, 3)), np.zeros((12, 41, 3)))


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


def _ramp_with_highlight(highlight_nits: float = 2000.0) -> np.ndarray:
    """32 x 48 grey ramp, 5 .. ~1,200 cd/m2 left to right, and an 8 x 10 square at
    ``highlight_nits``, as PQ BT.2020 code values."""
    x = np.mgrid[0:32, 0:48][1]
    nits = np.repeat((5.0 * 2.0 ** (x / 6.0))[..., None], 3, -1)
    nits[8:16, 30:40] = highlight_nits
    return colorimetry.pq_encode(nits)


def test_hdr_flip_reference_values():
    """Mean HDR-FLIP: 0 for identical images; a hard-coded value for the highlight square
    dimmed from 2,000 to 1,000 cd/m2 (0.027394281700253487, computed once with
    flip-evaluator 1.7, NVIDIA's package, through gainmlp.metrics.hdr_flip, on x86_64 with
    1 and 2 OpenMP threads alike: a regression anchor, not an independent value); a larger
    error for a larger change."""
    pytest.importorskip("flip_evaluator")
    ref = _ramp_with_highlight()
    assert metrics.hdr_flip(ref, ref) == 0.0
    dimmed = metrics.hdr_flip(ref, _ramp_with_highlight(1000.0))
    assert dimmed == pytest.approx(0.0273943, abs=2e-5)
    darker = colorimetry.pq_encode(colorimetry.pq_decode(ref) * 0.8)
    assert metrics.hdr_flip(ref, darker) > dimmed


def test_hdr_flip_does_not_depend_on_the_unit_of_light():
    """HDR-FLIP picks its exposures from the reference, so 1.0 = 100 cd/m2 (what
    hdr_flip passes) and any other unit give the same mean error."""
    flip_evaluator = pytest.importorskip("flip_evaluator")
    ref = metrics._linear_bt709(_ramp_with_highlight())
    test = metrics._linear_bt709(_ramp_with_highlight(1000.0))
    means = [flip_evaluator.evaluate(ref * k, test * k, "HDR", applyMagma=False)[1]
             for k in (1.0, 0.5, 8.0)]
    assert means[1] == pytest.approx(means[0], rel=1e-5)
    assert means[2] == pytest.approx(means[0], rel=1e-5)


def test_hdr_flip_can_be_switched_off(monkeypatch):
    monkeypatch.setenv("GAINMLP_FLIP", "0")
    ref = _ramp_with_highlight()
    assert metrics.hdr_flip(ref, ref) is None
    assert metrics.hdr_metrics(ref, ref)["hdr_flip"] is None


def test_all_metrics_carry_flip_and_highlight_keys():
    ref = _ramp_with_highlight()
    out = metrics.all_metrics(ref, _ramp_with_highlight(1000.0), sdr_white_nits=100.0)
    assert {"hdr_flip", "hl_light_ratio", "hl_p999_ratio", "hl2w_light_ratio",
            "hl2w_rel_err_p99"} <= set(out)
    # the 80 square pixels lose half their light; the ramp's pixels above 1,000 keep theirs
    nits = colorimetry.luminance(colorimetry.pq_decode(ref), "bt2020")
    above = nits > 1000.0
    expected = (nits[above].sum() - 80 * 1000.0) / nits[above].sum()
    assert out["hl_light_ratio"] == pytest.approx(expected, rel=1e-4)
    assert out["hl2w_fraction"] == pytest.approx(float((nits > 200.0).mean()), rel=1e-9)
