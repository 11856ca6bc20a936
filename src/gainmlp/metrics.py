"""Quality metrics of an HDR reconstruction (paper §4.2).

All functions take PQ BT.2020 code values in [0, 1], shape (H, W, 3):

* :func:`psnr`, :func:`ssim` on the code values themselves, as the paper does;
* :func:`delta_e00` -- mean CIEDE2000 (colour-science) in CIELAB computed from absolute
  XYZ normalised so that ``reference_white_nits`` (the 1000 cd/m2 grading peak by
  default) is Y = 1, D65 white;
* :func:`delta_e_itp` -- mean ΔE_ITP of ITU-R BT.2124 (the paper's "ΔE_IPT") from
  ICtCp (BT.2100 PQ, colour-science);
* :func:`cvvdp_jod` -- ColorVideoVDP (Mantiuk et al. 2024, PyPI ``cvvdp``, the successor of
  HDR-VDP-3 from the same lab) in JOD units (10 = identical), on the PQ images with its
  ``65inch_hdr_pq_1Knit`` display model (BT.2020 PQ, 1000 cd/m2 peak), offline on the CPU.
  ``cvvdp`` imports torchvision, which does not load beside the CPU torch 2.13 this
  project pins; install it in its own environment (``pip install torch==2.14.1
  torchvision==0.29.1 cvvdp`` then this package) and the metric appears in ``eval --json``
  and the bench tables; elsewhere it is ``None``;
* :func:`pu21_psnr` -- an HDR-aware PSNR on PU21-encoded luminance (Mantiuk & Azimi 2021),
  the fallback HDR metric where ColorVideoVDP cannot run;
* :func:`hdr_flip` -- mean HDR-FLIP error (Andersson et al. 2021; NVIDIA's PyPI package
  ``flip-evaluator``, BSD-3, a dependency of the main install: compiled, CPU, no network),
  0 = identical, lower is better;
* :func:`hdr_metrics` -- HDR-FLIP and the highlight statistics of :mod:`gainmlp.highlights`
  (``hl_*`` above 1,000 cd/m2, ``hl2w_*`` above twice SDR white), what every quality report
  of gainmlp adds to the metrics above (``docs/highlights.md``);
* :func:`bits_per_pixel` -- bytes * 8 / (W * H * 3), as in the paper's Fig. 5.
"""

from __future__ import annotations

import numpy as np

from gainmlp import colorimetry
from gainmlp.colourspaces import colour_science
from gainmlp.errors import GainMLPError


def psnr(reference: np.ndarray, test: np.ndarray, peak: float = 1.0) -> float:
    """PSNR in dB of code values in [0, peak]; inf for identical images."""
    mse = float(np.mean((np.asarray(reference, np.float64) - np.asarray(test, np.float64)) ** 2))
    return float("inf") if mse == 0.0 else float(10.0 * np.log10(peak * peak / mse))


#: Smallest side SSIM's window (Gaussian, sigma 1.5, truncated at 3.5 sigma) fits in.
SSIM_MIN_SIDE = 11
_SSIM_SIGMA = 1.5


def ssim(reference: np.ndarray, test: np.ndarray) -> float:
    """Mean SSIM (Wang et al. 2004) over RGB code values in [0, 1], as scikit-image computes
    it with ``structural_similarity(reference, test, data_range=1.0, channel_axis=-1,
    gaussian_weights=True, sigma=1.5, use_sample_covariance=False)``: per channel, local
    means and (population) variances under a Gaussian window of sigma 1.5 truncated at 3.5
    sigma (11x11 taps; ``reflect`` edges), ``K1 = 0.01``, ``K2 = 0.03``, the map's mean
    without the 5-pixel border, then the mean of the three channels.

    The map is :func:`gainmlp.kernels.ssim.ssim_map` (numba; with ``GAINMLP_KERNELS=numpy``
    its reference, :func:`gainmlp.filters.gaussian_filter`'s blurs): the plain install has
    no scikit-image; ``tests/test_metrics.py`` checks the value against scikit-image's,
    ``tests/test_kernels_ssim.py`` the two paths bit for bit. Images need
    :data:`SSIM_MIN_SIDE` pixels a side (the window).

    Returns
    -------
    float
        Mean SSIM, 1 for identical images.
    """
    reference = np.asarray(reference, np.float64)
    test = np.asarray(test, np.float64)
    side = min(np.shape(reference)[:2] + np.shape(test)[:2])
    if side < SSIM_MIN_SIDE:
        raise GainMLPError(f"SSIM needs images of at least {SSIM_MIN_SIDE}x{SSIM_MIN_SIDE} "
                           f"pixels (its Gaussian window), not {side} a side")
    if reference.shape != test.shape:
        raise GainMLPError(f"SSIM needs images of one shape, not {reference.shape} and "
                           f"{test.shape}")
    if reference.ndim == 2:
        reference, test = reference[..., None], test[..., None]
    from gainmlp import kernels
    from gainmlp.kernels import ssim as ssim_kernel  # numba, on first use

    ssim_map = ssim_kernel.ssim_map if kernels.compiled() else ssim_kernel.reference_ssim_map
    c1, c2 = (0.01 * 1.0) ** 2, (0.03 * 1.0) ** 2  # K1, K2 of Wang et al.; data range 1
    pad = (SSIM_MIN_SIDE - 1) // 2
    means = [ssim_map(reference[..., c], test[..., c], c1, c2, _SSIM_SIGMA, 3.5)
             [pad:-pad, pad:-pad].mean(dtype=np.float64) for c in range(reference.shape[-1])]
    return float(np.mean(means))


def _lab(pq: np.ndarray, reference_white_nits: float) -> np.ndarray:
    colour = colour_science()  # on first use: importing colour-science imports matplotlib

    bt2020 = colour.RGB_COLOURSPACES[colorimetry.PRIMARIES["bt2020"]]
    xyz = colorimetry.pq_decode(pq) @ bt2020.matrix_RGB_to_XYZ.T / reference_white_nits
    return colour.XYZ_to_Lab(xyz, bt2020.whitepoint)


def delta_e00(reference: np.ndarray, test: np.ndarray,
              reference_white_nits: float = 1000.0) -> float:
    """Mean CIEDE2000 between two PQ BT.2020 images (see module doc for the white)."""
    colour = colour_science()

    return float(np.mean(colour.delta_E(_lab(reference, reference_white_nits),
                                        _lab(test, reference_white_nits), method="CIE 2000")))


def _ictcp(pq: np.ndarray) -> np.ndarray:
    colour = colour_science()

    return colour.RGB_to_ICtCp(colorimetry.pq_decode(pq), method="ITU-R BT.2100-2 PQ")


def delta_e_itp(reference: np.ndarray, test: np.ndarray) -> float:
    """Mean ΔE_ITP (ITU-R BT.2124) between two PQ BT.2020 images."""
    colour = colour_science()

    return float(np.mean(colour.difference.delta_E_ITP(_ictcp(reference), _ictcp(test))))


# PU21 "banding with glare" parameters (Mantiuk & Azimi, PCS 2021, Table 1).
_PU21 = (0.353487901, 0.3734658629, 8.277049286e-05, 0.9062562627, 0.09150303166,
         0.9099517204, 596.3148142)


def pu21_encode(nits: np.ndarray) -> np.ndarray:
    """PU21 perceptually-uniform encoding of absolute luminance in cd/m2 (0.005..10000)."""
    p = _PU21
    y = np.clip(np.asarray(nits, dtype=np.float64), 0.005, 10000.0)
    return p[6] * (((p[0] + p[1] * y ** p[3]) / (1 + p[2] * y ** p[3])) ** p[4] - p[5])


def pu21_psnr(reference: np.ndarray, test: np.ndarray) -> float:
    """PSNR of PU21-encoded luminance, peak = PU21(10,000 cd/m2)."""
    def lum(pq: np.ndarray) -> np.ndarray:
        return colorimetry.luminance(colorimetry.pq_decode(pq), "bt2020")

    a, b = pu21_encode(lum(reference)), pu21_encode(lum(test))
    return psnr(a, b, peak=float(pu21_encode(np.array(10000.0))))


CVVDP_DISPLAY = "65inch_hdr_pq_1Knit"
_cvvdp_model = None


def cvvdp_available() -> bool:
    """True when ``pycvvdp`` imports (and ``GAINMLP_CVVDP`` is not set to 0)."""
    import os

    if os.environ.get("GAINMLP_CVVDP", "1") == "0":
        return False
    try:
        import pycvvdp  # noqa: F401
    except Exception:  # ImportError, or torchvision failing to load its operators
        return False
    return True


def cvvdp_jod(reference: np.ndarray, test: np.ndarray) -> float | None:
    """ColorVideoVDP JOD of ``test`` against ``reference`` (PQ BT.2020), None if unavailable."""
    global _cvvdp_model
    if not cvvdp_available():
        return None
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import pycvvdp
    import torch

    if _cvvdp_model is None:
        _cvvdp_model = pycvvdp.cvvdp(display_name=CVVDP_DISPLAY, device=torch.device("cpu"))
    jod, _ = _cvvdp_model.predict(np.ascontiguousarray(test, dtype=np.float32),
                                  np.ascontiguousarray(reference, dtype=np.float32),
                                  dim_order="HWC")
    return float(jod)


def _linear_bt709(pq: np.ndarray) -> np.ndarray:
    """PQ BT.2020 code values as linear BT.709 light, 1.0 = 100 cd/m2, negatives (colours
    outside BT.709) clipped to 0: HDR-FLIP's input (linear sRGB primaries, non-negative)."""
    rgb = colorimetry.pq_decode(np.clip(np.asarray(pq, dtype=np.float64), 0.0, 1.0))
    rgb = colorimetry.convert_primaries(rgb, "bt2020", "bt709") / 100.0
    return np.ascontiguousarray(np.maximum(rgb, 0.0), dtype=np.float32)


def hdr_flip(reference: np.ndarray, test: np.ndarray) -> float | None:
    """Mean HDR-FLIP error of ``test`` against ``reference`` (PQ BT.2020), None when
    ``flip-evaluator`` is not installed or ``GAINMLP_FLIP`` is set to 0.

    HDR-FLIP (Andersson, Nilsson, Shirley, Akenine-Möller, HPG 2021) tone-maps both
    images (ACES) at a range of exposures chosen from the reference's luminance, takes
    LDR-FLIP of each exposure at 67 pixels per degree, and keeps the per-pixel maximum;
    the mean of that map is in [0, 1]. The exposures are chosen from the reference itself,
    so the result does not depend on the unit of the linear light it is given. Cost: about
    1.4 s per megapixel and exposure on one core of the 2-core development machine, the
    exposures growing with the reference's dynamic range (6 on the 512-px dev pairs: 1 s;
    8 on the 1.7-MP tokyo_ultrahdr photo: 20 s; a 12-MP photo: minutes); its OpenMP
    threads follow ``OMP_NUM_THREADS``. ``GAINMLP_FLIP=0`` skips it.
    """
    import os

    if os.environ.get("GAINMLP_FLIP", "1") == "0":
        return None
    try:
        import flip_evaluator
    except ImportError:
        return None
    _, mean, _ = flip_evaluator.evaluate(_linear_bt709(reference), _linear_bt709(test), "HDR",
                                         applyMagma=False, computeMeanError=True)
    return float(mean)


def hdr_metrics(reference: np.ndarray, test: np.ndarray,
                sdr_white_nits: float = 203.0) -> dict[str, float | None]:
    """``hdr_flip`` and :func:`gainmlp.highlights.highlight_metrics` (``hl_*`` above
    1,000 cd/m2, ``hl2w_*`` above twice ``sdr_white_nits``): the HDR-specific part of
    :func:`all_metrics`, also what ``gainmlp eval`` reports for the written file
    (``file_`` + these keys). ``sdr_white_nits``: the pair's SDR encoding white (100 for
    gainmlp's pairs), 203 for gain-map photos."""
    from gainmlp.highlights import highlight_metrics

    return {"hdr_flip": hdr_flip(reference, test),
            **highlight_metrics(reference, test, sdr_white_nits)}


def bits_per_pixel(payload_bytes: int, width: int, height: int) -> float:
    """bytes * 8 / (W * H * 3), as in the paper's Fig. 5."""
    return payload_bytes * 8.0 / (width * height * 3)


def all_metrics(reference: np.ndarray, test: np.ndarray,
                sdr_white_nits: float = 203.0) -> dict[str, float | None]:
    """Every metric of this module, keyed as in ``gainmlp eval --json``; ``sdr_white_nits``
    sets the ``hl2w_*`` threshold (:func:`hdr_metrics`)."""
    return {
        "psnr": psnr(reference, test),
        "ssim": ssim(reference, test),
        "delta_e00": delta_e00(reference, test),
        "delta_e_itp": delta_e_itp(reference, test),
        "pu21_psnr": pu21_psnr(reference, test),
        "cvvdp_jod": cvvdp_jod(reference, test),
        **hdr_metrics(reference, test, sdr_white_nits),
    }
