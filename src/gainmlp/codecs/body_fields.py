"""Fields that both MLP body formats (Gain-MLP and MLP-ITM) store the same way (numpy only).

Each format (:mod:`gainmlp.codecs.mlp.format`, :mod:`gainmlp.codecs.mlp_itm.format`) has
its own layout, specified in docs/payload-format.md; this module holds the pieces they
share: byte codes of named choices, the version check, the block of input and output
normalisation constants, and weights rounded to their stored precision. Every
check raises :class:`GainMLPError` with a one-line message naming the codec.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gainmlp.errors import GainMLPError

#: How the weight precisions of both body formats are stored.
STORED_DTYPES = {"fp32": np.dtype("<f4"), "fp16": np.dtype("<f2")}


@dataclass
class Normalisation:
    """The normalisation constants every body stores: the network sees each input as
    ``clip((v - in_centre) / in_scale, -1, 1)`` and its outputs ``t`` become
    ``clip(t * out_scale + out_centre, out_min, out_max)`` (float32, one per input/output).
    The params of both codecs extend this."""

    in_centre: np.ndarray
    in_scale: np.ndarray
    out_centre: np.ndarray
    out_scale: np.ndarray
    out_min: np.ndarray
    out_max: np.ndarray


def field_code(codes: dict[str, int], name: str, codec: str, what: str) -> int:
    """The byte code of ``name`` in ``codes``, for a body being written; ``what`` names the
    field in the error (e.g. ``field_code(ACTIVATION_CODES, "tanh", "MLP", "activation")``
    -> "unknown MLP activation 'tanh'")."""
    try:
        return codes[name]
    except KeyError:
        raise GainMLPError(f"unknown {codec} {what} {name!r}") from None


def field_name(codes: dict[str, int], code: int, codec: str, what: str) -> str:
    """The name stored as ``code``, for a body being read (inverse of :func:`field_code`)."""
    for name, value in codes.items():
        if value == code:
            return name
    raise GainMLPError(f"{codec} body has unknown {what} code {code}")


def check_body_version(version: int, supported: tuple[int, ...], codec: str) -> None:
    """Refuse a body version this gainmlp cannot read."""
    if version not in supported:
        raise GainMLPError(f"{codec} body version {version} is not supported "
                           f"(this gainmlp reads {supported})")


def _f32_field(values: np.ndarray | list[float], n: int, what: str) -> np.ndarray:
    """``values`` as ``n`` finite float32 numbers (for packing); ``what`` names the field
    in the error, e.g. "MLP input centre"."""
    arr = np.asarray(values, dtype=np.float32).reshape(-1)
    if arr.size != n:
        raise GainMLPError(f"{what} has {arr.size} values, expected {n}")
    if not np.all(np.isfinite(arr)):
        raise GainMLPError(f"{what} holds non-finite values")
    return arr


def _check_normalisation(ins: np.ndarray, outs: np.ndarray, codec: str) -> None:
    """Validate stored normalisation constants: ``ins`` ``(n_in, 2)`` centre/scale,
    ``outs`` ``(n_out, 4)`` centre/scale/min/max. ``codec`` starts the error message."""
    if not (np.all(np.isfinite(ins)) and np.all(np.isfinite(outs))):
        raise GainMLPError(f"{codec} body holds non-finite normalisation constants")
    if np.any(ins[:, 1] <= 0) or np.any(outs[:, 1] <= 0):
        raise GainMLPError(f"{codec} body holds a non-positive normalisation scale")
    if np.any(outs[:, 2] > outs[:, 3]):
        raise GainMLPError(f"{codec} body holds an output minimum above its maximum")


def pack_normalisation(params: Normalisation, n_in: int, n_out: int, codec: str) -> bytes:
    """The normalisation block of a body: per input centre, scale; then per output centre,
    scale, min, max (float32 each)."""
    ins = np.stack([_f32_field(params.in_centre, n_in, f"{codec} input centre"),
                    _f32_field(params.in_scale, n_in, f"{codec} input scale")], axis=1)
    outs = np.stack([_f32_field(params.out_centre, n_out, f"{codec} output centre"),
                     _f32_field(params.out_scale, n_out, f"{codec} output scale"),
                     _f32_field(params.out_min, n_out, f"{codec} output min"),
                     _f32_field(params.out_max, n_out, f"{codec} output max")], axis=1)
    _check_normalisation(ins, outs, codec)
    return ins.astype("<f4").tobytes() + outs.astype("<f4").tobytes()


def unpack_normalisation(data: bytes, offset: int, n_in: int, n_out: int,
                         codec: str) -> dict[str, np.ndarray]:
    """The normalisation block at ``offset`` (:func:`normalisation_bytes` of it), validated,
    as the keyword arguments of :class:`Normalisation`."""
    ins = np.frombuffer(data, dtype="<f4", count=2 * n_in, offset=offset).reshape(n_in, 2)
    outs = np.frombuffer(data, dtype="<f4", count=4 * n_out,
                         offset=offset + 8 * n_in).reshape(n_out, 4)
    _check_normalisation(ins, outs, codec)
    return {"in_centre": ins[:, 0].copy(), "in_scale": ins[:, 1].copy(),
            "out_centre": outs[:, 0].copy(), "out_scale": outs[:, 1].copy(),
            "out_min": outs[:, 2].copy(), "out_max": outs[:, 3].copy()}


def normalisation_bytes(n_in: int, n_out: int) -> int:
    """Size of the normalisation block."""
    return 8 * n_in + 16 * n_out


def stored_bytes(values: np.ndarray, precision: str, what: str) -> bytes:
    """Finite float values rounded to the stored ``precision`` (``"fp32"``/``"fp16"``,
    little-endian, row-major bytes). Refuses non-finite values and values that overflow
    the precision; ``what`` names them in the error (e.g. "MLP weights")."""
    v32 = np.asarray(values, dtype=np.float32)
    if not np.all(np.isfinite(v32)):
        raise GainMLPError(f"{what}: non-finite values")
    with np.errstate(over="ignore"):
        q = v32.astype(STORED_DTYPES[precision])
    if not np.all(np.isfinite(q)):
        raise GainMLPError(f"{what}: values overflow {precision}")
    return np.ascontiguousarray(q).tobytes()
