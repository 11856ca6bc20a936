"""Rendering for a display's headroom: ISO 21496-1's weighting, for standard maps and
for the log-ratio a payload rebuilds."""

from __future__ import annotations

import numpy as np
import pytest
from batch_helpers import FAST, gainmap_bytes
from conftest import synthetic_pair

from gainmlp.api import sdr_in_hdr_space
from gainmlp.cli import main
from gainmlp.colorimetry import SdrEncoding
from gainmlp.container import gainmap_jpeg
from gainmlp.display import headroom_weight
from gainmlp.errors import GainMLPError
from gainmlp.image import SdrImage
from gainmlp.photo import decode_file, encode_jpeg


@pytest.mark.parametrize("h, lo, hi, w", [
    (0.0, 0.0, 2.0, 0.0), (1.0, 0.0, 2.0, 0.5), (2.0, 0.0, 2.0, 1.0), (5.0, 0.0, 2.0, 1.0),
    (1.5, 1.0, 3.0, 0.25), (0.5, 1.0, 3.0, 0.0), (1.0, 1.0, 1.0, 1.0), (0.9, 1.0, 1.0, 0.0),
])
def test_headroom_weight_is_iso_21496_rule(h, lo, hi, w):
    assert headroom_weight(h, lo, hi) == pytest.approx(w)


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf")])
def test_headroom_must_be_stops(bad):
    with pytest.raises(GainMLPError, match="headroom"):
        headroom_weight(bad, 0.0, 2.0)


def luminance_mean(pq: np.ndarray) -> float:
    from gainmlp.colorimetry import pq_decode

    return float(pq_decode(pq.astype(np.float64)).mean())


def test_payload_rendition_between_sdr_and_hdr():
    sdr_u8, hdr = synthetic_pair(48, 64, seed=6)
    sdr = SdrImage(sdr_u8, SdrEncoding())
    data, _ = encode_jpeg(sdr, hdr, "gamma-mlp", FAST)
    base, full = decode_file(data, "x")
    assert np.array_equal(decode_file(data, "x", headroom=20.0)[1], full)
    s = sdr_in_hdr_space(base.pixels, SdrEncoding())
    zero = decode_file(data, "x", headroom=0.0)[1]
    np.testing.assert_allclose(zero, s, atol=2e-6)  # the SDR, in HDR space
    half = decode_file(data, "x", headroom=0.5)[1]
    assert luminance_mean(zero) < luminance_mean(half) < luminance_mean(full)


def test_standard_map_uses_its_own_capacity():
    data = gainmap_bytes(0)
    gm = gainmap_jpeg.read_gainmap_jpeg(data)
    cap = gm.metadata.hdr_capacity_max
    assert cap > 0.5
    full = decode_file(data, "x")[1]
    np.testing.assert_array_equal(decode_file(data, "x", headroom=cap + 1)[1], full)
    half = decode_file(data, "x", headroom=cap / 2)[1]
    np.testing.assert_array_equal(half, gainmap_jpeg.gainmap_jpeg_to_hdr_pq(gm, 0.5))
    zero = decode_file(data, "x", headroom=0.0)[1]
    assert luminance_mean(zero) < luminance_mean(half) < luminance_mean(full)


def test_cli_headroom(tmp_path, capsys):
    src = tmp_path / "in.jpg"
    src.write_bytes(gainmap_bytes(1))
    assert main(["decode", str(src), "-o", str(tmp_path / "h.png"), "--headroom", "1"]) == 0
    assert main(["decode", str(src), "-o", str(tmp_path / "h.jpg"), "--headroom", "1"]) == 2
    assert "--headroom" in capsys.readouterr().err
    assert main(["decode", str(src), "-o", str(tmp_path / "n.png"), "--headroom", "-2"]) == 2
    assert "--headroom must be in 0..16" in capsys.readouterr().err
    assert not (tmp_path / "n.png").exists()


def test_first_decode_says_it_compiles(tmp_path, monkeypatch):
    import subprocess
    import sys

    src = tmp_path / "in.jpg"
    src.write_bytes(gainmap_bytes(2))
    env = {**__import__("os").environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    cmd = [sys.executable, "-m", "gainmlp", "decode", str(src), "-o", str(tmp_path / "a.png")]
    first = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    assert "compiling the decoder's kernels" in first.stderr
    cmd[-1] = str(tmp_path / "b.png")
    second = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    assert "compiling" not in second.stderr
