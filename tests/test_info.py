"""``gainmlp info``: what a file carries, from its headers."""

from __future__ import annotations

import json

import numpy as np
import pytest
from batch_helpers import FAST, gainmap_bytes
from conftest import synthetic_pair

from gainmlp import io as imageio
from gainmlp.cli import main
from gainmlp.colorimetry import SdrEncoding
from gainmlp.container.mpf import mpf_image_ranges
from gainmlp.image import SdrImage
from gainmlp.info import describe_file, format_info
from gainmlp.photo import encode_jpeg


def test_default_photo_is_payload_plus_ultrahdr_and_iso():
    sdr, hdr = synthetic_pair(48, 64, seed=4)
    data, parts = encode_jpeg(SdrImage(sdr, SdrEncoding()), hdr, "gamma-mlp", FAST)
    info = describe_file(data, "x.jpg")
    assert info["kind"] == ["gainmlp payload", "Ultra HDR", "ISO 21496-1"]
    assert info["payload"]["method"] == "gamma-mlp" and info["payload"]["body_version"] == 2
    assert info["payload"]["bytes"] == parts["payload"]
    assert (info["payload"]["width"], info["payload"]["height"]) == (64, 48)
    assert info["payload"]["config"].startswith("32x32x4")
    start, end = mpf_image_ranges(data)[1]
    assert info["parts"]["gain_map"] == end - start
    assert info["parts"]["primary"] + info["parts"]["gain_map"] == len(data)
    assert info["base"]["subsampling"] == "4:4:4" and info["base"]["width"] == 64
    assert info["gain_map"]["channels"] == 3 and info["gain_map"]["width"] == 16
    text = format_info(info)
    assert "gamma-mlp body v2" in text and "16x12x3" in text


def test_plain_jpeg_and_bare_payload(tmp_path, capsys):
    sdr, _ = synthetic_pair(48, 64, seed=5)
    plain = imageio.encode_sdr_jpeg(sdr, 80)
    info = describe_file(plain)
    assert info["kind"] == ["plain JPEG"] and info["base"]["subsampling"] == "4:2:0"
    assert "payload" not in info and "gain_map" not in info
    payload = gainmap_bytes(0)
    (tmp_path / "u.jpg").write_bytes(payload)
    assert main(["info", str(tmp_path / "u.jpg"), "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["kind"] == ["Ultra HDR", "ISO 21496-1"]
    assert np.isclose(record["gain_map"]["metadata"]["gamma"][0], 1.0)


@pytest.mark.parametrize("content, message", [
    (b"hello", "neither a JPEG nor a gainmlp payload"),
    (b"GMLP\x01\x00", "payload"),
])
def test_info_refuses_what_it_cannot_read(tmp_path, capsys, content, message):
    (tmp_path / "f.bin").write_bytes(content)
    assert main(["info", str(tmp_path / "f.bin")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gainmlp: error: ") and message in err and err.count("\n") == 1
