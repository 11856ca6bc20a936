"""The MLP-ITM networks in torch: a spatial network that FiLM-modulates a colour network.

The spatial network maps the encoded pixel position (x, y) to a per-neuron scale
``gamma`` and shift ``beta`` for the colour network's first hidden layer; the colour
network maps the encoded SDR colour (r, g, b) to the normalised HDR. So the colour network
is a global inverse tone curve and the spatial network makes it vary over the image. Both
have biases and ReLU hidden layers. Initialisation: ``nn.Linear``'s default
``U(+-1/sqrt(fan_in))`` from a seeded generator, with the spatial output layer at zero so
that fitting starts from a global curve. docs/mlp.md says which of these choices the
published description of MLP-ITM leaves open and why we made them.

Same function as the numpy decoder (:mod:`gainmlp.codecs.mlp_itm.decode`) to float
rounding: the encoding is the shared torch one (:mod:`gainmlp.codecs.torch_helpers`).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from gainmlp.codecs.features import normalise_inputs
from gainmlp.codecs.mlp_itm.format import (
    DEFAULT_FREQUENCIES,
    DEFAULT_HIDDEN_LAYERS,
    DEFAULT_WIDTH,
    N_COLOUR_INPUTS,
    N_SPATIAL_INPUTS,
    ItmParams,
    layer_shapes,
)
from gainmlp.codecs.torch_helpers import encode_torch


class ItmNet(torch.nn.Module):
    """The spatial network and the FiLM-modulated colour network (see module docstring)."""

    def __init__(self, spatial_width: int = DEFAULT_WIDTH, colour_width: int = DEFAULT_WIDTH,
                 spatial_layers: int = DEFAULT_HIDDEN_LAYERS,
                 colour_layers: int = DEFAULT_HIDDEN_LAYERS,
                 spatial_frequencies: int = DEFAULT_FREQUENCIES,
                 colour_frequencies: int = DEFAULT_FREQUENCIES) -> None:
        super().__init__()
        self.fs, self.fc = spatial_frequencies, colour_frequencies
        self.colour_width = colour_width
        s_shapes, c_shapes = layer_shapes(spatial_frequencies, colour_frequencies,
                                          spatial_layers, colour_layers, spatial_width,
                                          colour_width)

        def params(shapes: list[tuple[int, int]]) -> torch.nn.ParameterList:
            out = []
            for o, i in shapes:
                out += [torch.nn.Parameter(torch.zeros(o, i)), torch.nn.Parameter(torch.zeros(o))]
            return torch.nn.ParameterList(out)

        self.spatial = params(s_shapes)
        self.colour = params(c_shapes)
        per = 2 * colour_frequencies
        sin_cols = [i * per + k for i in range(N_COLOUR_INPUTS) for k in range(colour_frequencies)]
        self.register_buffer("sin_cols", torch.tensor(sin_cols, dtype=torch.long),
                             persistent=False)
        self.register_buffer("cos_cols", self.sin_cols + colour_frequencies, persistent=False)

    def reset_parameters(self, generator: torch.Generator) -> None:
        """``nn.Linear``'s default ``U(+-1/sqrt(fan_in))``; the spatial output layer is 0."""
        with torch.no_grad():
            for plist in (self.spatial, self.colour):
                for j in range(0, len(plist), 2):
                    w, b = plist[j], plist[j + 1]
                    bound = 1.0 / math.sqrt(w.shape[1])
                    w.copy_((torch.rand(w.shape, generator=generator) * 2 - 1) * bound)
                    b.copy_((torch.rand(b.shape, generator=generator) * 2 - 1) * bound)
            self.spatial[-2].zero_()
            self.spatial[-1].zero_()

    # -- forward passes -----------------------------------------------------------------

    def _spatial_tail(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = torch.relu(z)
        n = len(self.spatial) // 2
        for j in range(1, n - 1):
            h = torch.relu(torch.addmm(self.spatial[2 * j + 1], h, self.spatial[2 * j].t()))
        out = torch.addmm(self.spatial[-1], h, self.spatial[-2].t())
        return out[:, :self.colour_width], out[:, self.colour_width:]

    def _colour_tail(self, z: torch.Tensor, gamma: torch.Tensor,
                     beta: torch.Tensor) -> torch.Tensor:
        h = torch.relu(z * (1.0 + gamma) + beta)
        n = len(self.colour) // 2
        for j in range(1, n - 1):
            h = torch.relu(torch.addmm(self.colour[2 * j + 1], h, self.colour[2 * j].t()))
        return torch.addmm(self.colour[-1], h, self.colour[-2].t())

    def forward_split(self, enc_x: torch.Tensor, enc_y: torch.Tensor, sdr_sin: torch.Tensor,
                      sdr_cos: torch.Tensor) -> torch.Tensor:
        """Normalised HDR ``(B, 3)`` from the encodings in blocks (no concatenation).

        ``enc_x``, ``enc_y``: ``(B, 2 F_s)``; ``sdr_sin``, ``sdr_cos``: ``(B, 3 F_c)``,
        input-major.
        """
        ws, per = self.spatial[0], 2 * self.fs
        z_s = torch.addmm(self.spatial[1], enc_x, ws[:, :per].t())
        z_s = torch.addmm(z_s, enc_y, ws[:, per:].t())
        gamma, beta = self._spatial_tail(z_s)
        wc = self.colour[0]
        z_c = torch.addmm(self.colour[1], sdr_sin, wc[:, self.sin_cols].t())
        z_c = torch.addmm(z_c, sdr_cos, wc[:, self.cos_cols].t())
        return self._colour_tail(z_c, gamma, beta)

    def forward(self, norm: torch.Tensor) -> torch.Tensor:
        """Normalised inputs ``(B, 5)`` (x, y, r, g, b in [-1, 1]) -> normalised HDR."""
        enc_s = encode_torch(norm[:, :N_SPATIAL_INPUTS], self.fs)
        enc_c = encode_torch(norm[:, N_SPATIAL_INPUTS:], self.fc)
        gamma, beta = self._spatial_tail(torch.addmm(self.spatial[1], enc_s, self.spatial[0].t()))
        z_c = torch.addmm(self.colour[1], enc_c, self.colour[0].t())
        return self._colour_tail(z_c, gamma, beta)

    # -- conversion to/from the stored layout ---------------------------------------------

    def layers(self) -> tuple[list[tuple[np.ndarray, np.ndarray]], ...]:
        """(spatial, colour) layers as the body stores them: (weight, bias) float32 pairs."""
        def pairs(plist: torch.nn.ParameterList) -> list[tuple[np.ndarray, np.ndarray]]:
            arrs = [p.detach().to("cpu", torch.float32).numpy().copy() for p in plist]
            return [(arrs[j], arrs[j + 1]) for j in range(0, len(arrs), 2)]

        return pairs(self.spatial), pairs(self.colour)

    def load_params(self, params: ItmParams) -> None:
        with torch.no_grad():
            for plist, layers in ((self.spatial, params.spatial), (self.colour, params.colour)):
                if len(layers) * 2 != len(plist):
                    raise ValueError("stored MLP-ITM params have the wrong number of layers")
                for j, (w, b) in enumerate(layers):
                    for p, a in ((plist[2 * j], w), (plist[2 * j + 1], b)):
                        t = torch.as_tensor(np.asarray(a, dtype=np.float32))
                        if t.shape != p.shape:
                            raise ValueError(f"stored shape {tuple(t.shape)}, expected "
                                             f"{tuple(p.shape)}")
                        p.copy_(t.to(p.device))


def model_from_params(params: ItmParams) -> ItmNet:
    """An :class:`ItmNet` (CPU) holding ``params``' weights."""
    net = ItmNet(params.spatial_width, params.colour_width, len(params.spatial) - 1,
                 len(params.colour) - 1, params.spatial_frequencies, params.colour_frequencies)
    net.load_params(params)
    return net


def forward_torch(params: ItmParams, inputs: np.ndarray) -> np.ndarray:
    """Torch reference of ``decode.forward_numpy``: raw ``(N, 5)`` -> ``(N, 3)``."""
    norm = normalise_inputs(inputs, params.in_centre, params.in_scale)
    with torch.no_grad():
        return model_from_params(params)(torch.from_numpy(norm)).numpy()


__all__ = ["ItmNet", "forward_torch", "model_from_params"]
