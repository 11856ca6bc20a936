"""Shipped initial weights (meta-initialisation) for the MLP codecs.

Files live in ``gainmlp/data/`` as ``meta_<kind>_w<width>_<activation>.gmlp``, where kind
is the residual the method fits (gain, gamma or direct, from the method registry). Each
file is the 8-byte magic ``b"GMLPINIT"`` followed by one MLP body in the format of
:mod:`gainmlp.codecs.mlp.format` (fp32); only its weights are used, its normalisation
constants are those of the synthetic training set and are ignored. Nothing is unpickled.
``scripts/make_meta_init.py`` generates the files (docs/mlp.md has how and what they gain).

With a learned grid (``EncodeOptions.grid``, body versions 2 and 3) the meta-initialisation
still covers the MLP part: the fitter loads these grid-free weights, starts the grids at
zero (so step 0 computes exactly the shipped network's function) and draws the grid's
extra first-layer columns at random (:meth:`GainMLPNet.reset_grid
<gainmlp.codecs.mlp.model.GainMLPNet.reset_grid>`). A file holding a grid body also
reads; its grid values are never used as a starting point.
"""

from __future__ import annotations

from pathlib import Path

from gainmlp.codecs.mlp.format import MlpParams, pack_mlp_body, unpack_mlp_body
from gainmlp.codecs.registry import METHODS
from gainmlp.errors import GainMLPError

MAGIC = b"GMLPINIT"
DATA_DIR = Path(__file__).resolve().parents[2] / "data"


def meta_kind(method: str) -> str:
    """The residual kind of an MLP method name ('gamma-mlp') or a kind itself ('gamma')."""
    for entry in METHODS.values():
        if entry.family == "mlp" and method in (entry.name, entry.residual):
            return entry.residual
    raise GainMLPError(f"no meta-initialisation for method {method!r}")


def meta_file_name(method: str, width: int, activation: str) -> str:
    """File name of the shipped weights for ``method`` (e.g. 'gamma-mlp' or 'gamma')."""
    return f"meta_{meta_kind(method)}_w{int(width)}_{activation}.gmlp"


def read_meta_file(path: str | Path) -> MlpParams:
    """Parse one meta-initialisation file (magic + body), validating everything."""
    data = Path(path).read_bytes()
    if not data.startswith(MAGIC):
        raise GainMLPError(f"{Path(path).name} is not a gainmlp meta-initialisation file")
    return unpack_mlp_body(data[len(MAGIC):])


def write_meta_file(path: str | Path, params: MlpParams) -> None:
    """Write ``params`` (fp32) as a meta-initialisation file."""
    params.precision = "fp32"
    Path(path).write_bytes(MAGIC + pack_mlp_body(params))


def load_initial_weights(method: str, width: int, activation: str,
                         data_dir: str | Path | None = None) -> MlpParams | None:
    """The shipped initial params for this configuration, or None if none are shipped."""
    path = Path(data_dir or DATA_DIR) / meta_file_name(method, width, activation)
    if not path.is_file():
        return None
    params = read_meta_file(path)
    widths = params.hidden_widths
    if params.activation != activation or any(w != int(width) for w in widths):
        raise GainMLPError(f"{path.name} does not hold a width-{width} {activation} network")
    return params
