"""The registry of residual methods: one entry per method, in the spirit of
colour-science's ``EOTFS`` mapping and CompressAI's ``register_model``.

A method is its name (the CLI's ``--method``), its payload method code (stored in every
payload, never renumbered), its family, the residual it fits (``gain``, ``gamma``, or
``direct`` for codecs that predict the HDR itself), and where its encoder and decoder
live. Encoders and decoders are named as ``"module:function"`` and imported on first
use, so registering a method costs nothing and decoding never imports torch.

Adding a method is one :func:`register_method` call in the codec's package ``__init__``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from gainmlp.errors import GainMLPError

RESIDUALS = ("gain", "gamma", "direct")


@dataclass(frozen=True)
class Method:
    """One registered method (see the module docstring)."""

    name: str
    code: int
    family: str
    residual: str
    encoder: str
    decoder: str
    summary: str = ""
    many_encoder: str | None = None

    @staticmethod
    def _load(target: str) -> Callable:
        module, _, function = target.partition(":")
        return getattr(importlib.import_module(module), function)

    def encode(self, sdr_pq: np.ndarray, hdr_pq: np.ndarray, eps: float, options) -> bytes:
        """Fit/compress the residual; returns the payload body."""
        return self._load(self.encoder)(self.name, sdr_pq, hdr_pq, eps, options)

    def encode_many(self, pairs: list[tuple[np.ndarray, np.ndarray]], eps: float, options,
                    seeds: list[int] | None = None) -> list[bytes]:
        """Bodies of many pairs; fitted together where the codec can (``many_encoder``),
        else one by one. Each body is what :meth:`encode` gives its pair with its seed."""
        if self.many_encoder is not None:
            return self._load(self.many_encoder)(self.name, pairs, eps, options, seeds)
        from dataclasses import replace

        seeds = [options.seed] * len(pairs) if seeds is None else seeds
        return [self.encode(s, h, eps, replace(options, seed=seed))
                for (s, h), seed in zip(pairs, seeds, strict=True)]

    def decode(self, body: bytes, sdr_pq: np.ndarray, eps: float, view=None) -> np.ndarray:
        """The HDR rendition (PQ BT.2020 float32 ``(H, W, 3)``) from a body and the SDR;
        ``view``: the :class:`gainmlp.view.View` the SDR shows (None: the whole frame)."""
        if view is None:
            return self._load(self.decoder)(self.name, body, sdr_pq, eps)
        return self._load(self.decoder)(self.name, body, sdr_pq, eps, view=view)


#: Every registered method by name, in registration order.
METHODS: dict[str, Method] = {}


def register_method(name: str, *, code: int, family: str, residual: str, encoder: str,
                    decoder: str, summary: str = "", many_encoder: str | None = None) -> Method:
    """Add a method to :data:`METHODS`; names and payload codes must be new."""
    if residual not in RESIDUALS:
        raise ValueError(f"method {name!r}: residual {residual!r} is not one of {RESIDUALS}")
    if name in METHODS or any(m.code == code for m in METHODS.values()):
        raise ValueError(f"method {name!r} or payload code {code} is already registered")
    if not 1 <= code <= 0xFFFF:
        raise ValueError(f"payload code {code} does not fit 16 bits")
    METHODS[name] = Method(name, code, family, residual, encoder, decoder, summary,
                           many_encoder)
    return METHODS[name]


def get_method(name: str) -> Method:
    """The registered method ``name``; a one-line error listing the choices otherwise."""
    try:
        return METHODS[name]
    except KeyError:
        raise GainMLPError(f"unknown method {name!r}; choose from "
                           f"{', '.join(METHODS)}") from None


def method_by_code(code: int) -> Method | None:
    """The method stored under payload code ``code``, or None."""
    return next((m for m in METHODS.values() if m.code == code), None)


def names(family: str | None = None) -> tuple[str, ...]:
    """Registered method names, optionally of one family."""
    return tuple(n for n, m in METHODS.items() if family is None or m.family == family)
