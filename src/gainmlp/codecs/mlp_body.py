"""The MLP payload *body*: a documented, versioned, little-endian binary format (numpy only).

The outer payload (``gainmlp.container.payload``) carries the method, image size, eps and a
CRC; this body carries one small MLP and the constants needed to evaluate it. Nothing in it
is ever unpickled or executed; :func:`unpack_mlp_body` validates every field before it
allocates anything.

Layout of body version 1 (all integers unsigned, little-endian)::

    offset       size        field
    0            1           body version (u8) = 1
    1            1           hidden activation (u8): 1 relu, 2 sine (plain sin(x), as tcnn)
    2            1           weight precision (u8): 1 fp32, 2 fp16 (IEEE binary16)
    3            1           output transform (u8): 0 linear, 1 log2 (see below)
    4            1           input count n_in (u8) = 5: x, y, r, g, b
    5            1           frequency count n_freq (u8) = 12
    6            1           hidden layer count L (u8), 1..8
    7            1           output count n_out (u8) = 3
    8            2*L         hidden widths w_1..w_L (u16 each), 1..1024
    8+2L         8*n_in      input normalisation, per input: centre (f32), scale (f32)
    ...          16*n_out    output normalisation, per output: centre, scale, min, max (f32)
    ...          rest        weight matrices, row-major (out x in), in the weight precision:
                             W_1: w_1 x (2*n_freq*n_in + 1), W_2: w_2 x w_1, ...,
                             W_out: n_out x w_L

With the defaults (5 inputs, 12 frequencies, 2 hidden layers of 16, 3 outputs) the header
and constants take 100 bytes and the weights 2240 values: 9060 bytes of body in fp32
(9100-byte payload with the 40-byte outer header and CRC), 4580 bytes in fp16 (4620).

Evaluation (see ``mlp_decode``): each raw input ``v`` (x, y are pixel centres in (0, 1),
``(i + 0.5) / W``; r, g, b are the SDR's PQ BT.2020 code values) is normalised to
``n = clip((v - centre) / scale, -1, 1)`` in float32, then encoded as
``sin(2^k * a)`` and ``cos(2^k * a)`` with ``a = float32(pi) * n`` rounded to float32,
k = 0..n_freq-1 (the power-of-two scaling of ``a`` is exact). The first layer's columns are
ordered input by input; for each input, the n_freq sines (k ascending), then the n_freq
cosines. The last column of ``W_1`` multiplies a constant 1.

That last column is how the tiny-cuda-nn layout is stored without its padding:
tiny-cuda-nn pads the 120 encoded values to 128 with constant ones (a bias in disguise)
and the 3 outputs to 16 rows. The eight padding columns always see the same input, so only
their sum matters: we store that sum as one column. The 13 padding output rows never reach
an output and are dropped. Neither changes the function the network computes; the tcnn
layout of 16*128 + 16*16 + 16*16 = 2560 weights becomes 16*121 + 16*16 + 3*16 = 2240.

Hidden layers have no biases; each hidden layer is ``act(W h)``, the output layer is linear.

Output normalisation: the network predicts ``t`` in about [-1, 1]; the decoder forms
``T = clip(t * scale + centre, min, max)`` per channel. For gain and gamma maps with output
transform log2, ``T`` is log2 of the map (so the map is ``2 ** T``, as eqs. 2/3 work in
log2); with transform linear, ``T`` is the map itself. For direct-MLP, ``T`` is the HDR PQ
code value (transform linear). ``centre`` is the mean of ``T`` over the image, ``scale``
the largest deviation from it (so the target spans [-1, 1] around its mean), ``min``/``max``
the range of ``T``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

from ..errors import GainMLPError

BODY_VERSION = 1
SUPPORTED_BODY_VERSIONS = (1,)

ACTIVATION_CODES: dict[str, int] = {"relu": 1, "sine": 2}
PRECISION_CODES: dict[str, int] = {"fp32": 1, "fp16": 2}
OUTPUT_TRANSFORM_CODES: dict[str, int] = {"linear": 0, "log2": 1}
_ACTIVATION_NAMES = {c: n for n, c in ACTIVATION_CODES.items()}
_PRECISION_NAMES = {c: n for n, c in PRECISION_CODES.items()}
_TRANSFORM_NAMES = {c: n for n, c in OUTPUT_TRANSFORM_CODES.items()}
_DTYPES = {"fp32": np.dtype("<f4"), "fp16": np.dtype("<f2")}

N_INPUTS = 5
N_FREQUENCIES = 12
N_OUTPUTS = 3
MAX_WIDTH = 1024
MAX_HIDDEN_LAYERS = 8
MAX_INPUTS = 16
MAX_FREQUENCIES = 24
MAX_OUTPUTS = 16

_FIXED = struct.Struct("<BBBBBBBB")


@dataclass
class MlpParams:
    """Everything a body holds: the network's weights and its normalisation constants.

    ``weights`` are float32 arrays, row-major ``(out, in)``: the first has
    ``2 * n_frequencies * n_inputs + 1`` columns (the last multiplies a constant 1).
    """

    activation: str
    weights: list[np.ndarray]
    in_centre: np.ndarray
    in_scale: np.ndarray
    out_centre: np.ndarray
    out_scale: np.ndarray
    out_min: np.ndarray
    out_max: np.ndarray
    output_transform: str = "linear"
    precision: str = "fp32"
    n_frequencies: int = N_FREQUENCIES
    extra: dict = field(default_factory=dict)

    @property
    def n_inputs(self) -> int:
        return int(np.asarray(self.in_centre).size)

    @property
    def n_outputs(self) -> int:
        return int(np.asarray(self.out_centre).size)

    @property
    def hidden_widths(self) -> list[int]:
        return [int(w.shape[0]) for w in self.weights[:-1]]

    @property
    def encoded_width(self) -> int:
        """Columns of the first matrix: the encoding plus the constant-one column."""
        return 2 * self.n_frequencies * self.n_inputs + 1


def _f32(values: np.ndarray | list[float], n: int, what: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float32).reshape(-1)
    if arr.size != n:
        raise GainMLPError(f"MLP {what} has {arr.size} values, expected {n}")
    if not np.all(np.isfinite(arr)):
        raise GainMLPError(f"MLP {what} holds non-finite values")
    return arr


def _check_shapes(params: MlpParams) -> None:
    n_in, n_out = params.n_inputs, params.n_outputs
    if not (1 <= n_in <= MAX_INPUTS) or not (1 <= n_out <= MAX_OUTPUTS):
        raise GainMLPError(f"MLP has {n_in} inputs / {n_out} outputs, outside the limits")
    if not (1 <= params.n_frequencies <= MAX_FREQUENCIES):
        raise GainMLPError(f"MLP has {params.n_frequencies} frequencies, outside 1..24")
    if not (2 <= len(params.weights) <= MAX_HIDDEN_LAYERS + 1):
        raise GainMLPError(f"MLP has {len(params.weights)} weight matrices, expected 2..9")
    fan_in = params.encoded_width
    for i, w in enumerate(params.weights):
        if w.ndim != 2 or w.shape[1] != fan_in:
            raise GainMLPError(f"MLP weight matrix {i} has shape {w.shape}, expected (*, {fan_in})")
        if i < len(params.weights) - 1 and not (1 <= w.shape[0] <= MAX_WIDTH):
            raise GainMLPError(f"MLP hidden width {w.shape[0]} is outside 1..{MAX_WIDTH}")
        fan_in = w.shape[0]
    if params.weights[-1].shape[0] != n_out:
        raise GainMLPError(f"MLP output matrix has {params.weights[-1].shape[0]} rows, "
                           f"expected {n_out}")


def pack_mlp_body(params: MlpParams) -> bytes:
    """Serialise ``params`` as a version-1 body (weights rounded to ``params.precision``)."""
    if params.activation not in ACTIVATION_CODES:
        raise GainMLPError(f"unknown MLP activation {params.activation!r}")
    if params.precision not in PRECISION_CODES:
        raise GainMLPError(f"unknown MLP precision {params.precision!r}")
    if params.output_transform not in OUTPUT_TRANSFORM_CODES:
        raise GainMLPError(f"unknown MLP output transform {params.output_transform!r}")
    _check_shapes(params)
    n_in, n_out = params.n_inputs, params.n_outputs
    hidden = params.hidden_widths
    parts = [
        _FIXED.pack(BODY_VERSION, ACTIVATION_CODES[params.activation],
                    PRECISION_CODES[params.precision],
                    OUTPUT_TRANSFORM_CODES[params.output_transform],
                    n_in, params.n_frequencies, len(hidden), n_out),
        struct.pack(f"<{len(hidden)}H", *hidden),
    ]
    ic = _f32(params.in_centre, n_in, "input centre")
    isc = _f32(params.in_scale, n_in, "input scale")
    parts.append(np.stack([ic, isc], axis=1).astype("<f4").tobytes())
    out = np.stack([_f32(params.out_centre, n_out, "output centre"),
                    _f32(params.out_scale, n_out, "output scale"),
                    _f32(params.out_min, n_out, "output min"),
                    _f32(params.out_max, n_out, "output max")], axis=1)
    parts.append(out.astype("<f4").tobytes())
    dtype = _DTYPES[params.precision]
    for w in params.weights:
        w32 = np.asarray(w, dtype=np.float32)
        if not np.all(np.isfinite(w32)):
            raise GainMLPError("MLP weights hold non-finite values")
        wq = w32.astype(dtype)
        if not np.all(np.isfinite(wq)):
            raise GainMLPError(f"MLP weights overflow {params.precision}")
        parts.append(np.ascontiguousarray(wq).tobytes())
    return b"".join(parts)


def body_size(n_inputs: int, n_frequencies: int, hidden: list[int], n_outputs: int,
              precision: str) -> int:
    """Size in bytes of a version-1 body with this shape."""
    header = _FIXED.size + 2 * len(hidden) + 8 * n_inputs + 16 * n_outputs
    fan_in = 2 * n_frequencies * n_inputs + 1
    count = 0
    for w in [*hidden, n_outputs]:
        count += w * fan_in
        fan_in = w
    return header + count * _DTYPES[precision].itemsize


def unpack_mlp_body(body: bytes) -> MlpParams:
    """Parse and validate a body; raises :class:`GainMLPError` with a one-line message."""
    data = bytes(body)
    if len(data) < _FIXED.size:
        raise GainMLPError(f"MLP body is truncated ({len(data)} bytes)")
    version, act, prec, transform, n_in, n_freq, n_hidden, n_out = _FIXED.unpack_from(data)
    if version not in SUPPORTED_BODY_VERSIONS:
        raise GainMLPError(f"MLP body version {version} is not supported "
                           f"(this gainmlp reads {SUPPORTED_BODY_VERSIONS})")
    if act not in _ACTIVATION_NAMES:
        raise GainMLPError(f"MLP body has unknown activation code {act}")
    if prec not in _PRECISION_NAMES:
        raise GainMLPError(f"MLP body has unknown precision code {prec}")
    if transform not in _TRANSFORM_NAMES:
        raise GainMLPError(f"MLP body has unknown output transform code {transform}")
    if not (1 <= n_in <= MAX_INPUTS and 1 <= n_freq <= MAX_FREQUENCIES
            and 1 <= n_hidden <= MAX_HIDDEN_LAYERS and 1 <= n_out <= MAX_OUTPUTS):
        raise GainMLPError(f"MLP body declares an absurd shape ({n_in} inputs, {n_freq} "
                           f"frequencies, {n_hidden} hidden layers, {n_out} outputs)")
    off = _FIXED.size
    if len(data) < off + 2 * n_hidden:
        raise GainMLPError("MLP body is truncated inside its hidden widths")
    hidden = list(struct.unpack_from(f"<{n_hidden}H", data, off))
    off += 2 * n_hidden
    for w in hidden:
        if not (1 <= w <= MAX_WIDTH):
            raise GainMLPError(f"MLP body declares an absurd hidden width {w} (limit {MAX_WIDTH})")
    precision = _PRECISION_NAMES[prec]
    expected = body_size(n_in, n_freq, hidden, n_out, precision)
    if len(data) != expected:
        raise GainMLPError(f"MLP body has {len(data)} bytes but its declared shape needs "
                           f"{expected}")
    ins = np.frombuffer(data, dtype="<f4", count=2 * n_in, offset=off).reshape(n_in, 2)
    off += 8 * n_in
    outs = np.frombuffer(data, dtype="<f4", count=4 * n_out, offset=off).reshape(n_out, 4)
    off += 16 * n_out
    if not (np.all(np.isfinite(ins)) and np.all(np.isfinite(outs))):
        raise GainMLPError("MLP body holds non-finite normalisation constants")
    if np.any(ins[:, 1] <= 0) or np.any(outs[:, 1] <= 0):
        raise GainMLPError("MLP body holds a non-positive normalisation scale")
    if np.any(outs[:, 2] > outs[:, 3]):
        raise GainMLPError("MLP body holds an output minimum above its maximum")
    dtype = _DTYPES[precision]
    weights = []
    fan_in = 2 * n_freq * n_in + 1
    for w in [*hidden, n_out]:
        mat = np.frombuffer(data, dtype=dtype, count=w * fan_in, offset=off)
        off += w * fan_in * dtype.itemsize
        mat = mat.astype(np.float32).reshape(w, fan_in)
        if not np.all(np.isfinite(mat)):
            raise GainMLPError("MLP body holds non-finite weights")
        weights.append(mat)
        fan_in = w
    return MlpParams(
        activation=_ACTIVATION_NAMES[act],
        weights=weights,
        in_centre=ins[:, 0].copy(),
        in_scale=ins[:, 1].copy(),
        out_centre=outs[:, 0].copy(),
        out_scale=outs[:, 1].copy(),
        out_min=outs[:, 2].copy(),
        out_max=outs[:, 3].copy(),
        output_transform=_TRANSFORM_NAMES[transform],
        precision=precision,
        n_frequencies=n_freq,
    )
