"""PyTorch is optional: what needs it says so in one line, naming the extra that brings it.

The plain install encodes and decodes on the CPU without torch (the CPU trainer,
:mod:`gainmlp.codecs.mlp.cpu_trainer`); the CUDA trainer, the autograd fit, MLP-ITM
fitting and the meta-initialisation script need it (``pip install "gainmlp[gpu]"``).
No decoder imports this module.
"""

from __future__ import annotations

from gainmlp.errors import GainMLPError

#: The pip extra that brings PyTorch (the CUDA trainer, autograd fits, MLP-ITM fitting).
TORCH_EXTRA = "gainmlp[gpu]"


def require_torch(purpose: str):
    """The ``torch`` module, or a one-line :class:`GainMLPError` saying that ``purpose``
    needs PyTorch and which extra installs it."""
    try:
        import torch
    except ImportError:
        raise GainMLPError(f"{purpose} needs PyTorch, which is not installed: "
                           f"pip install \"{TORCH_EXTRA}\" (or pip install torch)") from None
    return torch


def torch_available() -> bool:
    """Whether PyTorch can be imported (without importing it)."""
    import importlib.util

    return importlib.util.find_spec("torch") is not None


__all__ = ["TORCH_EXTRA", "require_torch", "torch_available"]
