"""The Gain-MLP codec package (codecs/mlp/): its registered methods and the shipped
meta-initialisation (meta_init.py). Per module: test_mlp_format.py, test_mlp_grid.py,
test_mlp_decode.py, test_mlp_fit.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gainmlp.codecs.registry import get_method, names
from gainmlp.errors import GainMLPError
from gainmlp.options import DEFAULT_ACTIVATION

torch = pytest.importorskip("torch")

from mlp_helpers import (  # noqa: E402
    fast_options,
    one_fitting_thread,  # noqa: F401  (autouse)
    random_params,
    smooth_pair,
)

from gainmlp.codecs.mlp import fit as mlp_fit  # noqa: E402
from gainmlp.codecs.mlp.meta_init import (  # noqa: E402
    DATA_DIR,
    load_initial_weights,
    meta_file_name,
    read_meta_file,
    write_meta_file,
)
from gainmlp.paper_residual import DEFAULT_EPS  # noqa: E402


def test_registered_methods() -> None:
    mlp = names("mlp")
    assert set(mlp) == {"gamma-mlp", "gain-mlp", "direct-mlp"}
    for method, code in (("gain-mlp", 16), ("gamma-mlp", 17), ("direct-mlp", 18)):
        entry = get_method(method)
        assert entry.code == code and entry.residual == method.removesuffix("-mlp")


def test_meta_file_names() -> None:
    assert meta_file_name("gamma-mlp", 16, "sine") == "meta_gamma_w16_sine.gmlp"
    assert meta_file_name("gamma", 16, "sine") == "meta_gamma_w16_sine.gmlp"
    assert meta_file_name("direct-mlp", 32, "relu") == "meta_direct_w32_relu.gmlp"
    for bad in ("mlp-itm", "gain-jpeg", "nonsense"):
        with pytest.raises(GainMLPError):
            meta_file_name(bad, 16, "relu")


def test_meta_init_files(tmp_path: Path) -> None:
    p = random_params()
    write_meta_file(tmp_path / "meta_gamma_w16_relu.gmlp", p)
    q = load_initial_weights("gamma-mlp", 16, "relu", data_dir=tmp_path)
    assert q is not None
    np.testing.assert_array_equal(q.weights[0], p.weights[0])
    assert load_initial_weights("gamma-mlp", 8, "relu", data_dir=tmp_path) is None
    (tmp_path / "bad.gmlp").write_bytes(b"not a meta file")
    with pytest.raises(GainMLPError):
        read_meta_file(tmp_path / "bad.gmlp")
    write_meta_file(tmp_path / "meta_gain_w16_sine.gmlp", p)  # holds a relu network
    with pytest.raises(GainMLPError):
        load_initial_weights("gain-mlp", 16, "sine", data_dir=tmp_path)


@pytest.mark.parametrize("method", names("mlp"))
def test_shipped_meta_init_exists_and_loads(method: str) -> None:
    """Every MLP method ships initial weights for the default width and activation; a
    missing or unreadable file fails here instead of silently fitting from random."""
    width = fast_options().width
    path = DATA_DIR / meta_file_name(method, width, DEFAULT_ACTIVATION)
    assert path.is_file(), f"{path} is missing"
    p = load_initial_weights(method, width, DEFAULT_ACTIVATION)
    assert p is not None
    assert p.hidden_widths == [width, width] and p.activation == DEFAULT_ACTIVATION
    assert not p.grids and p.precision == "fp32"


def test_fits_start_from_the_shipped_weights() -> None:
    """With ``meta_init`` the first step starts from the shipped file's weights."""
    sdr, hdr = smooth_pair()
    res = mlp_fit.fit_mlp("gain-mlp", sdr, hdr, DEFAULT_EPS,
                          fast_options(steps=0, meta_init=True), snapshots=(0,))
    shipped = load_initial_weights("gain-mlp", 16, DEFAULT_ACTIVATION)
    for a, b in zip(res.snapshots[0].weights, shipped.weights, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
