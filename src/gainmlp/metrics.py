"""Quality metrics on PQ BT.2020 code values (paper §4.2)."""

from __future__ import annotations

import numpy as np


def psnr(reference: np.ndarray, test: np.ndarray, peak: float = 1.0) -> float:
    """PSNR in dB of code values in [0, peak]; inf for identical images."""
    mse = float(np.mean((np.asarray(reference, np.float64) - np.asarray(test, np.float64)) ** 2))
    return float("inf") if mse == 0.0 else float(10.0 * np.log10(peak * peak / mse))


def ssim(reference: np.ndarray, test: np.ndarray) -> float:
    """Mean SSIM (Wang et al. 2004, scikit-image, Gaussian window) over RGB code values."""
    from skimage.metrics import structural_similarity

    return float(
        structural_similarity(
            np.asarray(reference, np.float64), np.asarray(test, np.float64),
            data_range=1.0, channel_axis=-1, gaussian_weights=True, sigma=1.5,
            use_sample_covariance=False,
        )
    )


def bits_per_pixel(payload_bytes: int, width: int, height: int) -> float:
    """bytes * 8 / (W * H * 3), as in the paper's Fig. 5."""
    return payload_bytes * 8.0 / (width * height * 3)
