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


def _bright(pair, factor: float = 4.0):
    """The synthetic pair with its brightest columns (the right quarter) made ``factor``
    times brighter in the HDR: highlights above 1,000 cd/m2 (up to ~4,000)."""
    from gainmlp.colorimetry import pq_decode, pq_encode

    sdr_u8, hdr = pair
    nits = pq_decode(hdr.astype(np.float64))
    nits[:, -16:] *= factor
    return sdr_u8, pq_encode(nits).astype(np.float32)


def test_eval_json_highlight_and_flip_keys(tmp_path, pair, capsys):
    """eval --json reports HDR-FLIP and the highlight statistics at both levels; a
    conventional map keeps the highlights' light within a few percent."""
    sdr_u8, hdr = _bright(pair)
    imageio.write_sdr_png(tmp_path / "sdr.png", sdr_u8)
    imageio.write_hdr(tmp_path / "hdr.png", hdr)
    assert main(["eval", str(tmp_path / "sdr.png"), str(tmp_path / "hdr.png"), "--method",
                 "gain-jpeg", "--scale", "2", "--quality", "95", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    for level in ("", "file_"):
        assert 0.0 < record[f"{level}hdr_flip"] < 0.2
        assert record[f"{level}hl_fraction"] > 0.1
        for key in ("hl_light_ratio", "hl_p999_ratio", "hl2w_light_ratio"):
            assert record[f"{level}{key}"] == pytest.approx(1.0, abs=0.05), (level, key)
        assert 0.0 <= record[f"{level}hl_rel_err_p50"] <= record[f"{level}hl_rel_err_p99"]
    # the pair's SDR white is 100 cd/m2: hl2w counts the pixels above 200
    from gainmlp.highlights import luminance_nits

    assert record["hl2w_fraction"] == pytest.approx(
        float((luminance_nits(imageio.read_hdr(tmp_path / "hdr.png")) > 200.0).mean()))


def test_eval_reports_a_dimmed_reconstruction(pair, monkeypatch):
    """A decoder that gives back the reference with the highlights at 0.8 of their light:
    light ratio and p99.9 ratio 0.8, relative error 0.2, at the payload and file levels."""
    from gainmlp import photo
    from gainmlp.colorimetry import SdrEncoding, pq_decode, pq_encode
    from gainmlp.evaluation.evaluate import evaluate
    from gainmlp.highlights import luminance_nits
    from gainmlp.image import SdrImage
    from gainmlp.options import EncodeOptions

    sdr_u8, hdr = _bright(pair)
    nits = pq_decode(hdr.astype(np.float64))
    bright = luminance_nits(hdr) > 1000.0
    nits[bright] *= 0.8
    dimmed = pq_encode(nits)
    ev = sys.modules["gainmlp.evaluation.evaluate"]  # the module, not the function
    monkeypatch.setattr(ev, "decode", lambda payload, pixels: dimmed)
    monkeypatch.setattr(photo, "decode_photo", lambda data, name: dimmed)
    record = evaluate(SdrImage(sdr_u8, SdrEncoding()), hdr, "gain-jpeg",
                         EncodeOptions(scale=4), eps=1 / 64)
    for level in ("", "file_"):
        assert record[f"{level}hl_light_ratio"] == pytest.approx(0.8, rel=1e-6)
        assert record[f"{level}hl_rel_err_p50"] == pytest.approx(0.2, rel=1e-6)
        assert record[f"{level}hl_p999_ratio"] == pytest.approx(0.8, rel=1e-6)
        assert record[f"{level}hdr_flip"] > 0.0
