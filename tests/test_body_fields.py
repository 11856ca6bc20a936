"""The fields both MLP body formats share (codecs/body_fields.py)."""

from __future__ import annotations

import numpy as np
import pytest

from gainmlp.codecs.body_fields import (
    Normalisation,
    check_body_version,
    field_code,
    field_name,
    normalisation_bytes,
    pack_normalisation,
    stored_bytes,
    unpack_normalisation,
)
from gainmlp.errors import GainMLPError

CODES = {"relu": 1, "sine": 2}


def _norm(**kw) -> Normalisation:
    base = dict(in_centre=[0.5, 0.25], in_scale=[0.5, 0.75], out_centre=[0.0],
                out_scale=[2.0], out_min=[-1.0], out_max=[1.0])
    base.update(kw)
    return Normalisation(**{k: np.asarray(v, np.float32) for k, v in base.items()})


def test_codes_and_versions() -> None:
    assert field_code(CODES, "sine", "MLP", "activation") == 2
    assert field_name(CODES, 1, "MLP", "activation") == "relu"
    with pytest.raises(GainMLPError, match="unknown MLP activation 'tanh'"):
        field_code(CODES, "tanh", "MLP", "activation")
    with pytest.raises(GainMLPError, match="MLP body has unknown activation code 9"):
        field_name(CODES, 9, "MLP", "activation")
    check_body_version(2, (1, 2), "MLP")
    with pytest.raises(GainMLPError, match="version 3"):
        check_body_version(3, (1, 2), "MLP")


def test_normalisation_round_trip_and_refusals() -> None:
    data = b"xx" + pack_normalisation(_norm(), 2, 1, "MLP")
    assert len(data) == 2 + normalisation_bytes(2, 1) == 2 + 32
    back = unpack_normalisation(data, 2, 2, 1, "MLP")
    for name, value in back.items():
        np.testing.assert_array_equal(value, getattr(_norm(), name))
    for bad in ({"in_scale": [0.5, 0.0]}, {"out_min": [2.0]}, {"in_centre": [np.nan, 0]},
                {"in_centre": [0.5]}):
        with pytest.raises(GainMLPError):
            pack_normalisation(_norm(**bad), 2, 1, "MLP")


def test_stored_bytes() -> None:
    w = np.array([[1.0, -2.5]], np.float32)
    assert stored_bytes(w, "fp32", "w") == w.astype("<f4").tobytes()
    assert stored_bytes(w, "fp16", "w") == w.astype("<f2").tobytes()
    with pytest.raises(GainMLPError, match="overflow fp16"):
        stored_bytes(w * 1e6, "fp16", "w")
    with pytest.raises(GainMLPError, match="non-finite"):
        stored_bytes(w * np.inf, "fp32", "w")
