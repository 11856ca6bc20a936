"""The CLI contract: exit codes, one-line errors, no partial outputs, JSON keys."""

import json
import subprocess
import sys

import numpy as np
import pytest

import gainmlp.io as imageio
from gainmlp import metrics
from gainmlp.cli import main


def run(*args):
    return subprocess.run([sys.executable, "-m", "gainmlp.cli", *map(str, args)],
                          capture_output=True, text=True)


def test_encode_decode_bare_payload(tmp_path, pair_files, pair):
    sdr, hdr = pair_files
    assert main(["encode", str(sdr), str(hdr), "-o", str(tmp_path / "p.bin"),
                 "--method", "gain-jpeg", "--scale", "4", "--quality", "80"]) == 0
    assert main(["decode", str(tmp_path / "p.bin"), "--sdr", str(sdr),
                 "-o", str(tmp_path / "rec.png")]) == 0
    rec = imageio.read_hdr(tmp_path / "rec.png")
    assert metrics.psnr(pair[1], rec) > 30


def test_eval_json_keys(pair_files, capsys):
    sdr, hdr = pair_files
    assert main(["eval", str(sdr), str(hdr), "--method", "gamma-jpeg", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    for key in ("method", "payload_bytes", "bpp", "psnr", "ssim", "encode_seconds"):
        assert key in record
    assert record["method"] == "gamma-jpeg" and record["payload_bytes"] > 40


def test_eval_json_file_level_keys(pair_files, capsys):
    """eval reports the payload level (lossless SDR) and the written JPEG's file level."""
    from gainmlp.evaluation.evaluate import FILE_KEYS

    sdr, hdr = pair_files
    assert main(["eval", str(sdr), str(hdr), "--method", "gamma-mlp", "--steps", "20",
                 "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    for key in ("method", "payload_bytes", "bpp", "psnr", "ssim", "encode_seconds",
                *FILE_KEYS):
        assert key in record, key
    assert record["container"] == "ultrahdr+mlp" and record["jpeg_quality"] == 95
    # the file holds the base codestream, a standard map, our payload and metadata
    assert record["file_payload_bytes"] == record["payload_bytes"]
    assert 0 < record["base_bytes"] < record["file_bytes"]
    assert record["map_bytes"] > 0
    assert record["file_bytes"] > (record["base_bytes"] + record["map_bytes"]
                                   + record["file_payload_bytes"])
    assert 15 < record["file_psnr"] and 15 < record["standard_psnr"]
    assert record["file_psnr"] <= record["psnr"] + 1.0  # the base JPEG costs, never gains


def test_eval_file_level_containers(pair_files, capsys):
    """--container gainmlp: no map, no standard rendition; --no-file: payload level only."""
    sdr, hdr = pair_files
    assert main(["eval", str(sdr), str(hdr), "--method", "gain-jpeg", "--json",
                 "--container", "gainmlp", "--jpeg-quality", "80"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["container"] == "gainmlp" and record["jpeg_quality"] == 80
    assert record["map_bytes"] == 0 and record["standard_psnr"] is None
    assert record["file_bytes"] > record["base_bytes"] + record["file_payload_bytes"]
    assert main(["eval", str(sdr), str(hdr), "--method", "gain-jpeg", "--json",
                 "--no-file"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert "psnr" in record and "file_psnr" not in record


def test_base_bytes_is_the_codestream():
    """base_bytes: the primary image less its APPn/COM segments, the same in every
    container for the same base."""
    from gainmlp.container.app11 import embed_payload
    from gainmlp.evaluation.evaluate import base_bytes, map_bytes
    from gainmlp.io import encode_sdr_jpeg

    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
    plain = encode_sdr_jpeg(pixels, 90)
    with_payload = embed_payload(plain, b"GMLP" + bytes(3000))
    assert base_bytes(plain) == base_bytes(with_payload) <= len(plain)
    assert map_bytes(plain) == 0 and len(with_payload) > len(plain) + 3000


@pytest.mark.parametrize("problem", ["missing", "corrupt", "mismatch", "eight-bit-hdr"])
def test_errors_are_one_line_exit_2_no_output(tmp_path, pair_files, problem):
    sdr, hdr = pair_files
    out = tmp_path / "out.bin"
    if problem == "missing":
        args = ["encode", tmp_path / "none.png", hdr, "-o", out]
    elif problem == "corrupt":
        (tmp_path / "c.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
        args = ["encode", tmp_path / "c.png", hdr, "-o", out]
    elif problem == "mismatch":
        small = np.zeros((8, 8, 3), np.uint8)
        imageio.write_sdr_png(tmp_path / "small.png", small)
        args = ["encode", tmp_path / "small.png", hdr, "-o", out, "--method", "gain-jpeg"]
    else:
        args = ["encode", sdr, sdr, "-o", out, "--method", "gain-jpeg"]
    result = run(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gainmlp: error:"), result.stderr
    assert "Traceback" not in result.stderr
    assert list(tmp_path.glob("out.bin*")) == []


def test_decode_corrupt_payload(tmp_path, pair_files):
    sdr, _ = pair_files
    (tmp_path / "p.bin").write_bytes(b"GMLP" + b"\x01" * 60)
    result = run("decode", tmp_path / "p.bin", "--sdr", sdr, "-o", tmp_path / "o.png")
    assert result.returncode == 2 and "gainmlp: error:" in result.stderr
    assert not (tmp_path / "o.png").exists()


def test_help_for_each_command():
    for cmd in ("encode", "decode", "eval", "pair", "demo"):
        result = run(cmd, "--help")
        assert result.returncode == 0 and "usage: gainmlp" in result.stdout


def test_eval_reports_colour_metrics(pair_files, capsys):
    sdr, hdr = pair_files
    assert main(["eval", str(sdr), str(hdr), "--method", "gain-jpeg", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["delta_e00"] > 0 and record["delta_e_itp"] > 0 and record["pu21_psnr"] > 20


def test_pair_command_writes_8_and_16_bit(tmp_path):
    import OpenEXR

    from gainmlp.scene import demo_scene

    OpenEXR.File({}, {"RGB": demo_scene(32, 48)}).write(str(tmp_path / "s.exr"))
    assert main(["pair", str(tmp_path / "s.exr"), "--tmo", "local", "-o", str(tmp_path)]) == 0
    sdr = imageio.read_sdr(tmp_path / "sdr.png")
    hdr = imageio.read_hdr(tmp_path / "hdr.png")
    assert sdr.pixels.dtype == np.uint8 and sdr.pixels.shape == (32, 48, 3)
    assert hdr.shape == (32, 48, 3) and hdr.max() <= 0.7518272  # 1000 cd/m2 peak


@pytest.mark.parametrize("target", ["sdr", "hdr", "folder"])
def test_output_that_is_an_input_or_a_folder_is_refused(tmp_path, pair_files, target):
    sdr, hdr = pair_files
    before = {p: p.read_bytes() for p in (sdr, hdr)}
    out = {"sdr": sdr, "hdr": hdr, "folder": tmp_path}[target]
    result = run("encode", sdr, hdr, "-o", out, "--method", "gain-jpeg")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("gainmlp: error:")
    assert "Traceback" not in result.stderr
    assert {p: p.read_bytes() for p in (sdr, hdr)} == before
    result = run("decode", sdr, "--sdr", sdr, "-o", out if target != "hdr" else sdr)
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_inputs_are_checked_for_what_they_are(tmp_path, pair_files):
    sdr, hdr = pair_files
    photo = tmp_path / "photo.jpg"
    assert run("encode", sdr, hdr, "-o", photo, "--method", "gain-jpeg").returncode == 0
    result = run("decode", photo, "--sdr", hdr, "-o", tmp_path / "x.png")
    assert result.returncode == 2 and "16-bit" in result.stderr
    result = run("decode", sdr, "-o", tmp_path / "x.exr")
    assert result.returncode == 2 and "neither a JPEG nor a gainmlp payload" in result.stderr
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "x.exr").exists()
