"""Gain-MLP body format (codecs/mlp/format.py): versions 1, 2 and 3, sizes, refusals."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from gainmlp.codecs.mlp.decode import decode_mlp
from gainmlp.codecs.mlp.format import (
    BILATERAL_BODY_VERSION,
    GRID_BODY_VERSION,
    body_size,
    pack_mlp_body,
    unpack_mlp_body,
)
from gainmlp.errors import GainMLPError
from gainmlp.paper_residual import DEFAULT_EPS

pytest.importorskip("torch")  # the random params come from the torch model's init

from mlp_helpers import grid_params, local_pair, random_params  # noqa: E402

OUTER = 40  # payload header + CRC
GRID_SECTION = 8 + 4 + 40 + 48  # where a 2-layer body's grid section starts


# -- version 1 ---------------------------------------------------------------------------

@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_body_round_trip(precision: str) -> None:
    p = random_params()
    p.precision = precision
    body = pack_mlp_body(p)
    q = unpack_mlp_body(body)
    assert q.activation == "relu" and q.precision == precision and q.output_transform == "log2"
    assert q.hidden_widths == [16, 16] and q.n_inputs == 5 and q.n_frequencies == 12
    tol = 0 if precision == "fp32" else 1e-3
    for a, b in zip(p.weights, q.weights, strict=True):
        np.testing.assert_allclose(a, b, atol=tol, rtol=tol)
    np.testing.assert_array_equal(p.in_scale, q.in_scale)
    assert pack_mlp_body(q) == body  # stable: re-packing gives the same bytes


def test_body_sizes() -> None:
    p = random_params()
    fp32 = len(pack_mlp_body(p))
    p.precision = "fp16"
    fp16 = len(pack_mlp_body(p))
    assert fp32 == body_size(5, 12, [16, 16], 3, "fp32") == 9060
    assert fp16 == 4580
    assert fp32 + OUTER <= 10.5 * 1024 and fp16 + OUTER <= 5.5 * 1024


def test_bad_bodies_rejected() -> None:
    body = pack_mlp_body(random_params())
    bad = [
        b"",
        body[:7],
        body[:-1],
        body + b"\0",
        bytes([99]) + body[1:],                       # unknown body version
        body[:1] + bytes([7]) + body[2:],             # unknown activation
        body[:2] + bytes([9]) + body[3:],             # unknown precision
        body[:3] + bytes([5]) + body[4:],             # unknown output transform
        body[:8] + struct.pack("<H", 2000) + body[10:],  # absurd width
        body[:8] + struct.pack("<H", 17) + body[10:],    # width vs remaining bytes
        body[:6] + bytes([0]) + body[7:],             # no hidden layers
    ]
    nan = bytearray(body)
    nan[12:16] = struct.pack("<f", float("nan"))      # input centre of x
    bad.append(bytes(nan))
    neg = bytearray(body)
    neg[16:20] = struct.pack("<f", -1.0)              # input scale of x
    bad.append(bytes(neg))
    for b in bad:
        with pytest.raises(GainMLPError) as info:
            unpack_mlp_body(b)
        assert "\n" not in str(info.value)


def test_pack_refuses_bad_params() -> None:
    for change in ({"activation": "tanh"}, {"precision": "fp8"},
                   {"output_transform": "log10"}):
        p = random_params()
        for name, value in change.items():
            setattr(p, name, value)
        with pytest.raises(GainMLPError, match="unknown MLP"):
            pack_mlp_body(p)
    p = random_params()
    p.weights[1] = p.weights[1].copy()
    p.weights[1][0, 0] = np.nan
    with pytest.raises(GainMLPError, match="non-finite"):
        pack_mlp_body(p)
    p = random_params()
    p.precision = "fp16"
    p.weights[1] = p.weights[1] * 1e6  # beyond binary16
    with pytest.raises(GainMLPError, match="overflow"):
        pack_mlp_body(p)
    p = random_params()
    p.out_scale = np.array([0.5, 0.0, 0.3], np.float32)
    with pytest.raises(GainMLPError, match="scale"):
        pack_mlp_body(p)


# -- version 2: grids --------------------------------------------------------------------

@pytest.mark.parametrize("entry", [1, 2])
@pytest.mark.parametrize("grid_precision", ["fp32", "fp16", "u8"])
def test_v2_round_trip(entry: int, grid_precision: str) -> None:
    shapes = ((3, 5, 2), (6, 4, 1))
    p = grid_params(shapes, entry=entry, precision="fp16", grid_precision=grid_precision)
    body = pack_mlp_body(p)
    assert body[0] == GRID_BODY_VERSION
    assert len(body) == body_size(5, 12, [16, 16], 3, "fp16", list(shapes), entry,
                                  grid_precision)
    q = unpack_mlp_body(body)
    assert q.grid_shapes == list(shapes) and q.grid_entry == entry
    assert q.grid_precision == grid_precision
    tol = {"fp32": 0, "fp16": 2e-3, "u8": 0.02}[grid_precision]
    for a, b in zip(p.grids, q.grids, strict=True):
        np.testing.assert_allclose(a, b, atol=tol * np.abs(a).max(), rtol=0)
    for a, b in zip(p.weights, q.weights, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-3, rtol=1e-3)
    if grid_precision != "u8":
        assert pack_mlp_body(q) == body


def test_grid_free_bodies_stay_version_1() -> None:
    p = grid_params()
    p.grids = []
    p.weights[0] = np.delete(p.weights[0], np.s_[120:122], axis=1)
    body = pack_mlp_body(p)
    assert body[0] == 1 and len(body) == 9060


def test_v2_sizes() -> None:
    """The probe's configuration: 32x32x2 fp16 grid, fp16 weights -> under 9 KB payload."""
    size = body_size(5, 12, [16, 16], 3, "fp16", [(32, 32, 2)], 1, "fp16")
    assert size == 4580 + 16 * 2 * 2 + 4 + 5 + 32 * 32 * 2 * 2
    assert size + OUTER <= 9 * 1024


def test_bad_v2_bodies_rejected() -> None:
    p = grid_params(((3, 4, 2),), grid_precision="u8")
    body = pack_mlp_body(p)
    g0 = GRID_SECTION
    bad = [
        body[:-1], body + b"\0", body[:g0 + 2],
        body[:g0] + bytes([0]) + body[g0 + 1:],                  # no grids
        body[:g0] + bytes([5]) + body[g0 + 1:],                  # too many grids
        body[:g0 + 1] + bytes([3]) + body[g0 + 2:],              # entry layer 3 of 2
        body[:g0 + 2] + bytes([9]) + body[g0 + 3:],              # unknown grid precision
        body[:g0 + 3] + bytes([1]) + body[g0 + 4:],              # reserved byte
        body[:g0 + 4] + struct.pack("<H", 1) + body[g0 + 6:],    # 1-row grid
        body[:g0 + 4] + struct.pack("<H", 4000) + body[g0 + 6:],  # absurd rows
        body[:g0 + 8] + bytes([0]) + body[g0 + 9:],              # no channels
    ]
    neg = bytearray(body)
    neg[g0 + 9 + 4:g0 + 9 + 8] = struct.pack("<f", -1.0)      # u8 step of channel 0
    bad.append(bytes(neg))
    for b in bad:
        with pytest.raises(GainMLPError) as info:
            unpack_mlp_body(b)
        assert "\n" not in str(info.value)


# -- version 3: bilateral grids ---------------------------------------------------------

@pytest.mark.parametrize("grid_precision", ["fp32", "fp16", "u8"])
def test_v3_round_trip(grid_precision: str) -> None:
    shapes = ((3, 5, 4, 2), (6, 4, 1))
    p = grid_params(shapes, precision="fp16", grid_precision=grid_precision)
    body = pack_mlp_body(p)
    assert body[0] == BILATERAL_BODY_VERSION
    assert len(body) == body_size(5, 12, [16, 16], 3, "fp16", list(shapes), 1, grid_precision)
    q = unpack_mlp_body(body)
    assert q.grid_shapes == list(shapes) and q.grid_guide == pytest.approx((0.05, 0.45))
    tol = {"fp32": 0, "fp16": 2e-3, "u8": 0.02}[grid_precision]
    for a, b in zip(p.grids, q.grids, strict=True):
        np.testing.assert_allclose(a, b, atol=tol * np.abs(a).max(), rtol=0)
    if grid_precision != "u8":
        assert pack_mlp_body(q) == body


def test_bad_v3_bodies_rejected() -> None:
    p = grid_params(((3, 4, 5, 2),), grid_precision="fp16")
    body = pack_mlp_body(p)
    g0 = GRID_SECTION
    bad = [
        body[:-1], body[:g0 + 6],
        body[:g0 + 4] + struct.pack("<ff", 0.5, 0.5) + body[g0 + 12:],        # empty range
        body[:g0 + 4] + struct.pack("<ff", 0.1, float("nan")) + body[g0 + 12:],
        body[:g0 + 16] + bytes([200]) + body[g0 + 17:],                       # 200 bins
    ]
    for b in bad:
        with pytest.raises(GainMLPError) as info:
            unpack_mlp_body(b)
        assert "\n" not in str(info.value)


@pytest.mark.parametrize("grid_precision", ["u8", "u8z"])
@pytest.mark.parametrize("shapes", [((3, 4, 2),), ((3, 4, 5, 2), (2, 3, 1))])
def test_mutated_grid_bodies_fail_cleanly(shapes, grid_precision: str) -> None:
    """Random byte flips, truncations and extensions of v2/v3 bodies: either a valid body or
    a one-line GainMLPError, and a body that parses also decodes."""
    body = pack_mlp_body(grid_params(shapes, grid_precision=grid_precision))
    rng = np.random.default_rng(11)
    sdr, _ = local_pair(8, 8)
    for _ in range(300):
        data = bytearray(body)
        for _ in range(int(rng.integers(1, 4))):
            data[int(rng.integers(0, len(data)))] = int(rng.integers(0, 256))
        cut = int(rng.integers(0, 3))
        if cut == 1:
            data = data[:int(rng.integers(0, len(data)))]
        elif cut == 2:
            data += bytes(int(rng.integers(1, 9)))
        try:
            params = unpack_mlp_body(bytes(data))
        except GainMLPError as exc:
            assert "\n" not in str(exc)
            continue
        with np.errstate(all="ignore"):
            try:
                decode_mlp("gamma-mlp", pack_mlp_body(params), sdr, DEFAULT_EPS)
            except GainMLPError:
                pass


# -- coded grids (grid precision 4, u8z) ----------------------------------------------------

@pytest.mark.parametrize("shapes", [((12, 10, 3), (6, 4, 1)), ((3, 5, 4, 2), (6, 4, 1))])
@pytest.mark.parametrize("grid_precision", ["u8z", "u6z", "u4z"])
def test_coded_grids_round_trip(shapes, grid_precision: str) -> None:
    """u8z..u4z store the u8 values of code 3 (with 2^N levels), coded: the decoder sees
    exactly dequantise_grid's values; u8z holds the same values as u8."""
    from gainmlp.codecs.mlp.grid import dequantise_grid

    p = grid_params(shapes, precision="fp16", grid_precision=grid_precision)
    body = pack_mlp_body(p)
    g0 = GRID_SECTION
    assert body[g0 + 2] == 4  # every coded precision is stored as code 4
    raw_size = body_size(5, 12, [16, 16], 3, "fp16", list(shapes), 1, grid_precision)
    assert len(body) != raw_size
    q = unpack_mlp_body(body)
    # named by the levels its codes reach (the writer's 2^N), so re-packing gives the bytes
    assert q.grid_precision == grid_precision and q.grid_shapes == list(shapes)
    assert pack_mlp_body(q) == body
    for a, b in zip(p.grids, q.grids, strict=True):
        np.testing.assert_array_equal(b, dequantise_grid(a, grid_precision))
    for a, b in zip(p.weights, q.weights, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-3, rtol=1e-3)
    if grid_precision == "u8z":
        p.grid_precision = "u8"
        raw = unpack_mlp_body(pack_mlp_body(p))
        for a, b in zip(raw.grids, q.grids, strict=True):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("grid_precision", ["u8z", "u6z"])
def test_a_fast_packed_body_holds_the_same_network(grid_precision: str) -> None:
    """Rate control judges a rung on the body packed with zlib's fastest level and packs
    with zopfli only the rungs whose bytes matter: both unpack to the same values."""
    p = grid_params(((40, 30, 4),), precision="fp16", grid_precision=grid_precision)
    fast, best = pack_mlp_body(p, fast=True), pack_mlp_body(p)
    assert fast != best and len(best) <= len(fast)
    a, b = unpack_mlp_body(fast), unpack_mlp_body(best)
    for x, y in zip([*a.grids, *a.weights], [*b.grids, *b.weights], strict=True):
        np.testing.assert_array_equal(x, y)
    assert pack_mlp_body(a) == best


def test_coded_grids_are_smaller_when_smooth() -> None:
    """A smooth grid codes to a fraction of its raw bytes; fewer levels code smaller."""
    yy, xx = np.mgrid[0:48, 0:48] / 48.0
    smooth = np.stack([np.sin(3 * xx + c) * np.cos(2 * yy) for c in range(4)], -1)
    p = grid_params(((48, 48, 4),), precision="fp16", grid_precision="u8")
    p.grids = [smooth.astype(np.float32)]
    sizes = {}
    for prec in ("u8", "u8z", "u6z", "u4z"):
        p.grid_precision = prec
        sizes[prec] = len(pack_mlp_body(p))
    values = 48 * 48 * 4
    assert sizes["u8"] - sizes["u8z"] > values // 2
    assert sizes["u8z"] > sizes["u6z"] > sizes["u4z"]


def test_bad_coded_bodies_rejected() -> None:
    p = grid_params(((6, 5, 2),), grid_precision="u6z")
    body = pack_mlp_body(p)
    raw_size = body_size(5, 12, [16, 16], 3, "fp16", [(6, 5, 2)], 1, "u6z")
    head = raw_size - 6 * 5 * 2  # where the coded values start
    bad = [body[:-1], body + b"\0", body[:head],
           body[:head] + b"\xff" * (len(body) - head),  # deflate block type 3: reserved
           body[:head] + bytes(len(body) - head)]
    for b in bad:
        with pytest.raises(GainMLPError) as info:
            unpack_mlp_body(b)
        assert "\n" not in str(info.value)
