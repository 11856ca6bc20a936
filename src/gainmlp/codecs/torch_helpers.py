"""What the Gain-MLP and MLP-ITM fitters share on the torch side.

The device and thread settings, the input checks, the frequency encoding in torch (the
same float32 operations as :func:`gainmlp.codecs.features.encode_numpy`, so a numpy
decoder reproduces what was fitted), the sampler of random pixels with their encoded
inputs, and the bookkeeping of the Adam loop (progress bar, loss log, wall time).
Importing this module does not import torch (its functions do): :func:`check_pair` and
the constants serve torch-free callers too.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from gainmlp.codecs import features
from gainmlp.codecs.features import LOSS_EVERY, PI32, check_pair, coordinate_encodings
from gainmlp.colorimetry import usable_cores
from gainmlp.errors import GainMLPError

if TYPE_CHECKING:
    import torch


def resolve_device(device: str) -> torch.device:
    """``"cpu"``, ``"cuda"`` or ``"auto"`` (CUDA when torch sees a GPU) -> a torch device."""
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise GainMLPError("device 'cuda' was asked for but torch sees no CUDA GPU")
    if device not in ("cpu", "cuda"):
        raise GainMLPError(f"unknown device {device!r}; use cpu, cuda or auto")
    return torch.device(device)


def fit_threads() -> int:
    """Threads for CPU fitting: ``$GAINMLP_THREADS`` if set, else the usable cores.

    A fixed count keeps fits bit-reproducible (torch's reductions split by thread count).
    On a CPU shared with other busy processes ``GAINMLP_THREADS=1`` is much faster:
    OpenMP threads that wait on a descheduled sibling spin instead of sleeping.
    """
    import torch

    if os.environ.get("GAINMLP_THREADS", "").strip():
        return usable_cores()
    return max(1, min(torch.get_num_threads(), usable_cores()))


@contextlib.contextmanager
def torch_threads() -> Iterator[None]:
    """Run with :func:`fit_threads` threads, restoring torch's setting afterwards."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(fit_threads())
    try:
        yield
    finally:
        torch.set_num_threads(before)


class FrequencyEncoding:
    """The frequency encoding in torch, with its constants made once per device.

    ``a = float32(pi) * n``, then ``sin(2^k a)`` and ``cos(2^k a)``, k = 0..F-1: the same
    float32 operations as ``features.encode_numpy``.
    """

    def __init__(self, n_frequencies: int, device: torch.device | str = "cpu") -> None:
        import torch

        self.n_frequencies = n_frequencies
        self.pi = torch.tensor(PI32, dtype=torch.float32, device=device)
        self.powers = torch.exp2(torch.arange(n_frequencies, dtype=torch.float32,
                                              device=device))

    def args(self, norm: torch.Tensor) -> torch.Tensor:
        """``2^k a`` for normalised inputs ``(..., n)`` -> ``(..., n, F)``."""
        return (norm * self.pi)[..., None] * self.powers

    def sin_cos(self, norm: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The sines and the cosines of ``(B, n)`` inputs, each ``(B, n * F)``, input-major
        (the first layer's matching columns are gathered by the models)."""
        import torch

        a = self.args(norm).reshape(norm.shape[0], -1)
        return torch.sin(a), torch.cos(a)

    def __call__(self, norm: torch.Tensor) -> torch.Tensor:
        """The encoding as the first layer sees it: ``(B, n)`` -> ``(B, n * 2F)``, per input
        the F sines then the F cosines."""
        import torch

        a = self.args(norm)
        return torch.stack([torch.sin(a), torch.cos(a)], dim=2).reshape(norm.shape[0], -1)


def encode_torch(norm: torch.Tensor, n_frequencies: int) -> torch.Tensor:
    """Frequency encoding ``(B, n)`` -> ``(B, n * 2 * n_frequencies)`` (see
    :class:`FrequencyEncoding`)."""
    return FrequencyEncoding(n_frequencies, norm.device)(norm)


class PixelSampler:
    """Random pixels of a pair with their network inputs, for one Adam step at a time.

    Holds the pair on the fitting device, the per-column / per-row encodings of (x, y)
    (the decoders' separable tables, :func:`features.coordinate_encodings`), and the
    normalisation and encoding of the three SDR inputs. Subclasses choose the pixels.
    """

    def __init__(self, sdr: np.ndarray, hdr: np.ndarray, in_centre: np.ndarray,
                 in_scale: np.ndarray, device: torch.device, xy_frequencies: int,
                 colour_frequencies: int) -> None:
        import torch

        height, width = sdr.shape[:2]
        self.height, self.width, self.n = height, width, height * width
        self.device = device
        self.sdr = torch.from_numpy(sdr.reshape(-1, 3)).to(device)
        self.hdr = torch.from_numpy(hdr.reshape(-1, 3)).to(device)
        enc_x, enc_y = coordinate_encodings(height, width, in_centre, in_scale, xy_frequencies)
        self.tx = torch.from_numpy(enc_x).to(device)
        self.ty = torch.from_numpy(enc_y).to(device)
        self.centre = torch.from_numpy(in_centre[2:].copy()).to(device)
        self.scale = torch.from_numpy(in_scale[2:].copy()).to(device)
        self.encoding = FrequencyEncoding(colour_frequencies, device)

    def uniform(self, batch: int, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
        """(flat index, row, column) of ``batch`` pixels drawn uniformly with replacement."""
        import torch

        idx = torch.randint(0, self.n, (batch,), generator=generator, device=self.device)
        row = torch.div(idx, self.width, rounding_mode="floor")
        return idx, row, idx - row * self.width

    def inputs(self, idx: torch.Tensor, row: torch.Tensor,
               col: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(enc_x, enc_y, sin, cos, SDR) of the pixels: what ``forward_split`` takes."""
        import torch

        s = self.sdr[idx]
        norm = torch.clamp((s - self.centre) / self.scale, -1.0, 1.0)
        sin, cos = self.encoding.sin_cos(norm)
        return self.tx[col], self.ty[row], sin, cos, s


class StepLoop(features.StepLoop):
    """:class:`gainmlp.codecs.features.StepLoop` on a torch device (a GPU's queue is
    drained before the clock stops)."""

    def __init__(self, steps: int, desc: str, progress: bool, device: torch.device) -> None:
        import torch

        sync = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else None
        super().__init__(steps, desc, progress, sync)
        self.device = device


__all__ = ["LOSS_EVERY", "FrequencyEncoding", "PixelSampler", "StepLoop", "check_pair",
           "encode_torch", "fit_threads", "resolve_device", "torch_threads"]
