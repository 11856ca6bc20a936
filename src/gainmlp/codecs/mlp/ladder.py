"""The configurations rate control chooses from (:mod:`gainmlp.codecs.mlp.rate`) and their
payload bytes: a rung of the ladder, and the bytes a configuration takes, exact or (coded
grids) estimated before it is fitted."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from gainmlp.codecs.mlp.fit_plan import HIDDEN_LAYERS
from gainmlp.codecs.mlp.format import N_FREQUENCIES, N_INPUTS, N_OUTPUTS, body_size
from gainmlp.codecs.mlp.grid import is_coded, parse_grid_spec
from gainmlp.options import EncodeOptions

#: Bytes a payload adds to its body: the outer header (36) and the CRC (4).
PAYLOAD_OVERHEAD = 40


@dataclass(frozen=True)
class Rung:
    """One configuration of the ladder: grid spec (None: no grid), width, weight precision."""

    grid: str | None
    width: int = 16
    precision: str = "fp16"

    @property
    def label(self) -> str:
        return f"{self.grid or 'none'} w{self.width} {self.precision}"

    def options(self, base: EncodeOptions) -> EncodeOptions:
        """``base`` with this configuration forced and rate control off."""
        return replace(base, grid=self.grid, width=self.width, precision=self.precision,
                       target_psnr=None, max_bytes=None)

    @property
    def payload_bytes(self) -> int:
        """Payload bytes: exact without a grid or with raw grids, an estimate with coded
        grids (:func:`config_bytes`)."""
        return config_bytes(self.grid, self.width, self.precision)


def config_bytes(grid: str | None, width: int, precision: str, coded: str = "estimate") -> int:
    """Payload bytes of a Gain-MLP configuration, fixed by its shape unless its grids are
    coded (``u8z``..``u4z``); then ``coded`` says which size: ``"estimate"`` (the grid
    values at :data:`CODED_RATIO` of their count), ``"raw"`` (one byte each, the most they
    take bar a few bytes of deflate overhead) or ``"least"`` (none)."""
    spec = parse_grid_spec(grid)
    shapes = list(spec.shapes) if spec is not None else None
    size = PAYLOAD_OVERHEAD + body_size(N_INPUTS, N_FREQUENCIES, [width] * HIDDEN_LAYERS,
                                        N_OUTPUTS, precision, shapes, 1,
                                        spec.precision if spec is not None else "fp16")
    if spec is None or not is_coded(spec.precision) or coded == "raw":
        return size
    values = sum(int(np.prod(s)) for s in spec.shapes)
    share = 0.0 if coded == "least" else CODED_RATIO[spec.precision]
    return size - values + int(np.ceil(values * share))


#: Coded grid bytes per grid value, by precision (the 90th percentile measured over the
#: dev photos' fitted ladder grids, docs/rate-control.md): where a coded rung sits on the
#: ladder and whether it fits a cap before it is fitted.
CODED_RATIO: dict[str, float] = {"u8z": 0.85, "u7z": 0.70, "u6z": 0.55, "u5z": 0.45,
                                 "u4z": 0.35}


__all__ = ["CODED_RATIO", "PAYLOAD_OVERHEAD", "Rung", "config_bytes"]
