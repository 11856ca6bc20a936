"""The Gain-MLP network in torch, laid out as tiny-cuda-nn lays it out.

Inputs (x, y, r, g, b), normalised to [-1, 1] -> frequency encoding with 12 frequencies
(sin and cos of 2^k * pi * v, 120 values) -> padded with constant ones to a multiple of 16
(128, tcnn's padding: a bias in disguise) -> ``hidden_layers`` layers of ``width`` neurons
without biases -> 3 linear outputs. Activation "relu" (the paper's text) or "sine" (the
authors' tcnn config; tcnn's Sine is plain ``sin(x)``, no SIREN frequency factor).

Initialisation follows tcnn's FullyFusedMLP: Xavier-uniform ``U(+-sqrt(6 / (fan_in +
fan_out)))`` for ReLU (the output layer's fan_out is tcnn's padded 16), and for Sine
``U(+-1 / fan_in)`` on the first layer, ``U(+-sqrt(6 / fan_in))`` on the others.

The encoding (:mod:`gainmlp.codecs.torch_helpers`) is computed in float32 exactly as the
numpy decoder computes it, so the decoder reproduces this forward pass (to float rounding).

Optional learned grids (body versions 2 and 3): ``grids`` ``(rows, cols[, bins], C)``
parameters, sampled at the pixel centre (:mod:`gainmlp.codecs.mlp.grid`), whose features
enter layer
``grid_entry``'s pre-activation through ``grid_weight`` ``(width, sum C)``. The grids start
at zero, so a network with grids computes exactly the grid-free function it was
initialised with (e.g. the shipped meta-initialisation); ``grid_weight`` starts random
(Xavier-uniform), since with both at zero neither would ever receive a gradient.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from gainmlp.codecs.features import padded_width
from gainmlp.codecs.mlp.format import (
    ACTIVATION_CODES,
    N_FREQUENCIES,
    N_INPUTS,
    N_OUTPUTS,
    MlpParams,
)
from gainmlp.codecs.torch_helpers import encode_torch, torch_threads


class GainMLPNet(torch.nn.Module):
    """The bias-free MLP; ``weights[0]`` has the padded input width (ones in the padding)."""

    def __init__(self, width: int = 16, hidden_layers: int = 2, activation: str = "relu",
                 n_inputs: int = N_INPUTS, n_frequencies: int = N_FREQUENCIES,
                 n_outputs: int = N_OUTPUTS,
                 grids: Sequence[tuple[int, ...]] = (), grid_entry: int = 1) -> None:
        super().__init__()
        if activation not in ACTIVATION_CODES:
            raise ValueError(f"unknown activation {activation!r}")
        self.activation = activation
        self.n_inputs = n_inputs
        self.n_frequencies = n_frequencies
        self.n_outputs = n_outputs
        self.n_encoded = 2 * n_frequencies * n_inputs
        self.n_padded = padded_width(self.n_encoded)
        shapes = [(width, self.n_padded)] + [(width, width)] * (hidden_layers - 1)
        shapes.append((n_outputs, width))
        self.weights = torch.nn.ParameterList(
            [torch.nn.Parameter(torch.zeros(s, dtype=torch.float32)) for s in shapes])
        # Columns of the first matrix fed by the sines / cosines of inputs 2.. (r, g, b),
        # in the order of a (B, n_inputs - 2, n_frequencies) block: used by forward_split.
        per = 2 * n_frequencies
        sin_cols = [i * per + k for i in range(2, n_inputs) for k in range(n_frequencies)]
        self.register_buffer("sin_cols", torch.tensor(sin_cols, dtype=torch.long),
                             persistent=False)
        self.register_buffer("cos_cols", self.sin_cols + n_frequencies, persistent=False)
        self.grid_shapes = [tuple(int(d) for d in g) for g in grids]
        if self.grid_shapes and not (1 <= grid_entry <= hidden_layers):
            raise ValueError(f"grid entry layer {grid_entry} outside 1..{hidden_layers}")
        self.grid_entry = grid_entry
        self.n_grid = sum(g[-1] for g in self.grid_shapes)
        self.grids = torch.nn.ParameterList(
            [torch.nn.Parameter(torch.zeros(g, dtype=torch.float32)) for g in self.grid_shapes])
        self.grid_weight = (torch.nn.Parameter(torch.zeros(width, self.n_grid))
                            if self.grid_shapes else None)

    @property
    def width(self) -> int:
        return int(self.weights[0].shape[0])

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """tcnn-like initialisation (see module docstring)."""
        with torch.no_grad():
            n = len(self.weights)
            for i, w in enumerate(self.weights):
                fan_out, fan_in = w.shape
                if i == n - 1:
                    fan_out = -(-fan_out // 16) * 16  # tcnn pads the output layer to 16
                if self.activation == "sine":
                    bound = 1.0 / fan_in if i == 0 else math.sqrt(6.0 / fan_in)
                else:
                    bound = math.sqrt(6.0 / (fan_in + fan_out))
                u = torch.rand(w.shape, generator=generator, dtype=torch.float32)
                w.copy_((u * 2.0 - 1.0) * bound)
        self.reset_grid(generator)

    def reset_grid(self, generator: torch.Generator | None = None) -> None:
        """Grids to zero (the function is unchanged), grid columns Xavier-uniform."""
        if self.grid_weight is None:
            return
        with torch.no_grad():
            for g in self.grids:
                g.zero_()
            fan_out, fan_in = self.grid_weight.shape
            bound = math.sqrt(6.0 / (fan_in + fan_out))
            u = torch.rand(self.grid_weight.shape, generator=generator, dtype=torch.float32)
            self.grid_weight.copy_((u * 2.0 - 1.0) * bound)

    def grid_features(self, taps: Sequence[tuple[torch.Tensor, ...]]) -> torch.Tensor:
        """Bilinear grid samples ``(B, n_grid)``; ``taps`` per grid: four flat indices
        (top-left, top-right, bottom-left, bottom-right) into ``rows * cols`` and the
        ``(B, 1)`` weights of the second column and second row. For a bilateral grid
        ``(rows, cols, bins, C)`` the indices address ``rows * cols * bins`` at the lower
        luma bin and two more entries follow: the offset to the upper bin ``(B,)`` and its
        ``(B, 1)`` weight (trilinear interpolation)."""
        feats = []
        for g, tap in zip(self.grids, taps, strict=True):
            i00, i01, i10, i11, fx, fy = tap[:6]
            flat = g.reshape(-1, g.shape[-1])
            if len(tap) == 8:
                dz, fz = tap[6], tap[7]

                def at(i: torch.Tensor, flat=flat, dz=dz, fz=fz) -> torch.Tensor:
                    return torch.lerp(flat[i], flat[i + dz], fz)
            else:
                def at(i: torch.Tensor, flat=flat) -> torch.Tensor:
                    return flat[i]
            top = torch.lerp(at(i00), at(i01), fx)
            bottom = torch.lerp(at(i10), at(i11), fx)
            feats.append(torch.lerp(top, bottom, fy))
        return feats[0] if len(feats) == 1 else torch.cat(feats, dim=1)

    def _grid_term(self, feats: torch.Tensor | None, layer: int) -> torch.Tensor | None:
        if feats is None or self.grid_weight is None or layer != self.grid_entry:
            return None
        return feats @ self.grid_weight.t()

    def _act(self, h: torch.Tensor) -> torch.Tensor:
        return torch.relu(h) if self.activation == "relu" else torch.sin(h)

    def forward_first(self, h: torch.Tensor, feats: torch.Tensor | None = None) -> torch.Tensor:
        """Everything after the first layer's pre-activation ``h`` ``(B, width)``.

        ``feats``: the grid features (added to layer ``grid_entry``; the first layer's
        term must already be in ``h`` when the entry is 1).
        """
        for layer, w in enumerate(self.weights[1:-1], start=2):
            h = self._act(h) @ w.t()
            extra = self._grid_term(feats, layer)
            if extra is not None:
                h = h + extra
        return self._act(h) @ self.weights[-1].t()

    def forward_encoded(self, enc: torch.Tensor,
                        feats: torch.Tensor | None = None) -> torch.Tensor:
        """``enc``: ``(B, n_padded)`` encoded inputs with ones in the padding columns."""
        h = enc @ self.weights[0].t()
        extra = self._grid_term(feats, 1)
        return self.forward_first(h if extra is None else h + extra, feats)

    def forward_split(self, enc_x: torch.Tensor, enc_y: torch.Tensor, sdr_sin: torch.Tensor,
                      sdr_cos: torch.Tensor,
                      feats: torch.Tensor | None = None) -> torch.Tensor:
        """The same function as :meth:`forward_encoded`, from the encoding in blocks.

        ``enc_x``, ``enc_y``: ``(B, 2 * n_freq)`` encodings of x and y; ``sdr_sin``,
        ``sdr_cos``: ``(B, (n_inputs - 2) * n_freq)`` sines / cosines of the other inputs.
        Avoids assembling the (B, 128) matrix (strided copies dominate on a CPU).
        """
        w = self.weights[0]
        per = 2 * self.n_frequencies
        h = torch.addmm(w[:, self.n_encoded:].sum(dim=1), enc_x, w[:, :per].t())
        h = torch.addmm(h, enc_y, w[:, per:2 * per].t())
        h = torch.addmm(h, sdr_sin, w[:, self.sin_cols].t())
        h = torch.addmm(h, sdr_cos, w[:, self.cos_cols].t())
        if feats is not None and self.grid_weight is not None and self.grid_entry == 1:
            h = torch.addmm(h, feats, self.grid_weight.t())
        return self.forward_first(h, feats)

    def pad_encoding(self, enc: torch.Tensor) -> torch.Tensor:
        ones = torch.ones(enc.shape[0], self.n_padded - self.n_encoded, dtype=enc.dtype,
                          device=enc.device)
        return torch.cat([enc, ones], dim=1)

    def forward(self, norm: torch.Tensor, feats: torch.Tensor | None = None) -> torch.Tensor:
        """Normalised inputs ``(B, n_inputs)`` in [-1, 1] -> outputs ``(B, n_outputs)``.

        ``feats``: grid features ``(B, n_grid)`` (see :meth:`grid_features`), if any.
        """
        return self.forward_encoded(self.pad_encoding(encode_torch(norm, self.n_frequencies)),
                                    feats)

    # -- conversion to/from the stored (unpadded) layout ------------------------------------

    def stored_weights(self) -> list[np.ndarray]:
        """The weights as the body stores them: padding columns summed into one, the grid
        columns inserted in the entry layer (docs/payload-format.md)."""
        ws = [w.detach().to("cpu", torch.float32) for w in self.weights]
        gw = (self.grid_weight.detach().to("cpu", torch.float32)
              if self.grid_weight is not None else None)
        mid = [gw] if gw is not None and self.grid_entry == 1 else []
        first = torch.cat([ws[0][:, : self.n_encoded], *mid,
                           ws[0][:, self.n_encoded:].sum(dim=1, keepdim=True)], dim=1)
        out = [first] + ws[1:]
        if gw is not None and self.grid_entry > 1:
            e = self.grid_entry - 1
            out[e] = torch.cat([out[e], gw], dim=1)
        return [w.numpy().copy() for w in out]

    def stored_grids(self) -> list[np.ndarray]:
        """The grids as float32 ``(rows, cols[, bins], C)`` arrays."""
        return [g.detach().to("cpu", torch.float32).numpy().copy() for g in self.grids]

    def load_grids(self, grids: list[np.ndarray]) -> None:
        with torch.no_grad():
            for p, g in zip(self.grids, grids, strict=True):
                t = torch.as_tensor(np.asarray(g, dtype=np.float32))
                if t.shape != p.shape:
                    raise ValueError(f"grid has shape {tuple(t.shape)}, expected "
                                     f"{tuple(p.shape)}")
                p.copy_(t.to(p.device))

    def load_stored_weights(self, weights: list[np.ndarray]) -> None:
        """Inverse of :meth:`stored_weights` (the constant column is spread evenly).

        ``weights`` may be those of a grid-free network (e.g. the meta-initialisation):
        then only the MLP part is loaded and ``grid_weight`` is left as it is.
        """
        if len(weights) != len(self.weights):
            raise ValueError("stored weights have the wrong number of layers")
        weights = [np.asarray(w, dtype=np.float32) for w in weights]
        if self.grid_weight is not None:
            e = self.grid_entry - 1
            plain = self.weights[e].shape[1] - (self.n_padded - self.n_encoded - 1
                                                if e == 0 else 0)
            if weights[e].shape[1] == plain + self.n_grid:
                cols = (slice(self.n_encoded, self.n_encoded + self.n_grid) if e == 0
                        else slice(plain, plain + self.n_grid))
                with torch.no_grad():
                    self.grid_weight.copy_(torch.as_tensor(weights[e][:, cols].copy()))
                keep = np.ones(weights[e].shape[1], dtype=bool)
                keep[cols] = False
                weights[e] = weights[e][:, keep]
        n_pad = self.n_padded - self.n_encoded
        with torch.no_grad():
            for i, (p, w) in enumerate(zip(self.weights, weights, strict=True)):
                t = torch.as_tensor(np.asarray(w, dtype=np.float32))
                if i == 0:
                    pad = (t[:, -1:] / n_pad).expand(-1, n_pad)
                    t = torch.cat([t[:, :-1], pad], dim=1)
                if t.shape != p.shape:
                    raise ValueError(f"stored weight {i} has shape {tuple(t.shape)}, "
                                     f"expected {tuple(p.shape)}")
                p.copy_(t.to(p.device))


def model_from_params(params: MlpParams) -> GainMLPNet:
    """A :class:`GainMLPNet` holding ``params``' weights (CPU)."""
    widths = params.hidden_widths
    if len(set(widths)) != 1:
        raise ValueError("GainMLPNet needs equal hidden widths")
    net = GainMLPNet(widths[0], len(widths), params.activation, params.n_inputs,
                     params.n_frequencies, params.n_outputs,
                     grids=params.grid_shapes, grid_entry=params.grid_entry)
    net.load_stored_weights(params.weights)
    if params.grids:
        net.load_grids(params.grids)
    return net


def start_model(width: int, hidden_layers: int, activation: str,
                grid_shapes: Sequence[tuple[int, ...]], grid_entry: int, seed: int,
                start: MlpParams | None) -> GainMLPNet:
    """The start network of a fit: ``start``'s weights (the meta-initialisation or given
    weights) with the grids at zero and their columns drawn from the generator seeded
    ``seed + 7919``, or (``start`` None) tcnn's initialisation from the generator seeded
    ``seed``. :func:`gainmlp.codecs.mlp.fit_plan.start_network` draws the same numbers in
    numpy."""
    with torch_threads():
        model = GainMLPNet(width, hidden_layers, activation, grids=grid_shapes,
                           grid_entry=grid_entry)
        if start is not None:
            model.reset_grid(torch.Generator().manual_seed(seed + 7919))
            model.load_stored_weights(start.weights)
        else:
            model.reset_parameters(torch.Generator().manual_seed(seed))
    return model


__all__ = ["GainMLPNet", "model_from_params", "padded_width", "start_model"]
