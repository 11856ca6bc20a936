"""Hostile sizes: small files that declare huge images, against the memory budget.

Every image a command decodes — an HDR input (16-bit PNG, OpenEXR), the gain-map image
inside a JPEG, a map image inside a payload, the input of ``gainmlp pair`` — has its
declared size charged against ``GAINMLP_MAX_MEMORY`` before it is decoded. Each case runs
the command line in a child process under a budget and checks: a one-line error, exit 2,
nothing written, and a peak resident set far below what decoding would have taken (the
refusal came before the allocation).
"""

from __future__ import annotations

import dataclasses
import io
import struct
import zlib

import numpy as np
import pytest
from hostile_util import run_cli
from PIL import Image

import gainmlp
from gainmlp.colorimetry import SdrEncoding
from gainmlp.errors import GainMLPError
from gainmlp.memory import FLOOR_BYTES, charge, check_memory, estimate

MB = 2**20


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(
        ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def zero_png(width: int, height: int, depth: int, channels: int = 3) -> bytes:
    """A PNG of zeros of any size, compressed row by row (a few hundred KB for 36 MP)."""
    colour = {1: 0, 3: 2}[channels]
    head = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    row = bytes(1 + width * channels * depth // 8)
    z = zlib.compressobj(9)
    body = b"".join(z.compress(row) for _ in range(height)) + z.flush()
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", head) + _chunk(b"IDAT", body)
            + _chunk(b"IEND", b""))


def grey_jpeg(width: int, height: int, **kw) -> bytes:
    buf = io.BytesIO()
    Image.new("L", (width, height), 128).save(buf, "JPEG", quality=60, **kw)
    return buf.getvalue()


def test_an_hdr_input_declaring_a_huge_size_is_refused_before_decoding(tmp_path) -> None:
    # a 16-bit PNG of 6000 x 6000 (36 MP: 216 MB of pixels, ~0.9 GB to read as PQ floats)
    # in a file of a few hundred KB, beside an ordinary small SDR
    (tmp_path / "huge.png").write_bytes(zero_png(6000, 6000, 16))
    (tmp_path / "sdr.png").write_bytes(zero_png(64, 48, 8))
    (tmp_path / "sdr_big.png").write_bytes(zero_png(6000, 6000, 8))
    # a budget that holds encoding a small pair, not reading this HDR
    budget = {"GAINMLP_MAX_MEMORY": str(estimate("encode", 64 * 48) + 100 * MB)}
    for args in (("encode", tmp_path / "sdr.png", tmp_path / "huge.png", "-o",
                  tmp_path / "o.jpg"),
                 ("encode", tmp_path / "sdr_big.png", tmp_path / "huge.png", "-o",
                  tmp_path / "o.jpg"),
                 ("eval", tmp_path / "sdr.png", tmp_path / "huge.png"),
                 ("report", tmp_path / "sdr.png", tmp_path / "huge.png", "-o",
                  tmp_path / "rep")):
        run = run_cli(*args, env=budget, timeout=120)
        assert run.one_line_error(), (args, run.stderr)
        assert run.peak_mb < 300, f"{args}: peak {run.peak_mb:.0f} MB before refusing"
    left = sorted(p.name for p in tmp_path.iterdir() if p.name != "rep")
    assert left == ["huge.png", "sdr.png", "sdr_big.png"]
    assert not (tmp_path / "rep").exists() or not any((tmp_path / "rep").iterdir())


def test_an_exr_declaring_a_huge_size_is_refused_by_pair_and_encode(tmp_path) -> None:
    from gainmlp.io.hdr import _exr_bytes

    # 3000 x 3000 half-float zeros: a small file, ~0.6 GB to read and convert
    (tmp_path / "scene.exr").write_bytes(_exr_bytes(np.zeros((3000, 3000, 3), np.float16),
                                                    100.0))
    assert (tmp_path / "scene.exr").stat().st_size < 2 * MB
    budget = {"GAINMLP_MAX_MEMORY": str(estimate("encode-tmo", 64 * 48) + 100 * MB)}
    for args in (("pair", tmp_path / "scene.exr", "-o", tmp_path / "pair"),
                 ("encode", tmp_path / "scene.exr", "--tmo", "reinhard-devlin", "-o",
                  tmp_path / "o.jpg")):
        run = run_cli(*args, env=budget, timeout=120)
        assert run.one_line_error() and "budget" in run.stderr, (args, run.stderr)
        assert run.peak_mb < 250, f"{args}: peak {run.peak_mb:.0f} MB before refusing"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scene.exr"]


def _gainmap_file(gain_jpeg: bytes, sdr_u8: np.ndarray, hdr_pq: np.ndarray) -> bytes:
    """A standard gain-map JPEG (Ultra HDR) of the pair whose map image is ``gain_jpeg``."""
    from gainmlp.container.gainmap_jpeg import read_gainmap_jpeg
    from gainmlp.container.gainmap_writer import assemble_gainmap_jpeg
    from gainmlp.container.ultrahdr import ultrahdr_from_pair
    from gainmlp.io import encode_sdr_jpeg

    sdr = gainmlp.SdrImage(sdr_u8, SdrEncoding())
    normal, _ = ultrahdr_from_pair(sdr, hdr_pq, 4, 80)
    meta = read_gainmap_jpeg(normal).metadata
    return assemble_gainmap_jpeg(encode_sdr_jpeg(sdr_u8, 90), gain_jpeg, meta)


def test_a_gain_map_image_larger_than_the_budget_is_refused(tmp_path, pair) -> None:
    sdr_u8, hdr_pq = pair  # a 64 x 48 photo whose gain map declares 4000 x 4000
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(_gainmap_file(grey_jpeg(4000, 4000), sdr_u8, hdr_pq))
    assert photo.stat().st_size < 400_000
    # a budget that holds decoding the photo with an ordinary map, not with this one
    need = estimate("decode-gainmap-png", 64 * 48) + 64 * MB
    assert estimate("decode-gainmap-png", 64 * 48, 16_000_000) > need
    budget = {"GAINMLP_MAX_MEMORY": str(need)}
    for args in (("decode", photo, "-o", tmp_path / "o.png"),
                 ("encode", photo, "-o", tmp_path / "o.jpg")):
        run = run_cli(*args, env=budget, timeout=120)
        assert run.one_line_error() and "budget" in run.stderr, (args, run.stderr)
        assert "gain map" in run.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.jpg"]
    # the same photo with its own small map decodes under that budget
    small = tmp_path / "small.jpg"
    small.write_bytes(_gainmap_file(grey_jpeg(16, 12), sdr_u8, hdr_pq))
    assert run_cli("decode", small, "-o", tmp_path / "o.png", env=budget).status == 0


def _payload_with_map(pair, image: bytes, size: tuple[int, int]) -> bytes:
    """A gain-jpeg payload of ``pair`` whose map image is ``image`` and whose body says
    the map is ``size``."""
    from gainmlp.codecs.conventional import _BODY

    sdr_u8, hdr_pq = pair
    payload = gainmlp.encode(gainmlp.SdrImage(sdr_u8, SdrEncoding()), hdr_pq, "gain-jpeg")
    head = list(_BODY.unpack_from(payload.body))
    head[-2:] = size
    return dataclasses.replace(payload, body=_BODY.pack(*head) + image)


def test_a_map_image_inside_a_payload_is_checked_before_decoding(tmp_path, pair) -> None:
    sdr_u8, hdr_pq = pair
    gainmlp.io.write_sdr_png(tmp_path / "sdr.png", sdr_u8)
    # a payload of a 64 x 48 photo whose JPEG map image declares 8000 x 8000 (192 MB)
    payload = _payload_with_map(pair, grey_jpeg(8000, 8000), (16, 12))
    (tmp_path / "p.bin").write_bytes(payload.to_bytes())
    run = run_cli("decode", tmp_path / "p.bin", "--sdr", tmp_path / "sdr.png", "-o",
                  tmp_path / "o.png", timeout=120)
    assert run.one_line_error() and "declares 8000x8000" in run.stderr, run.stderr
    assert run.peak_mb < 280, f"peak {run.peak_mb:.0f} MB: the map was decoded"
    assert not (tmp_path / "o.png").exists()


def test_map_images_of_every_format_declare_their_size_before_decoding(pair) -> None:
    from gainmlp.codecs import map_image

    big = np.zeros((600, 800, 3), np.uint8)
    for fmt in map_image.FORMATS:
        data = map_image.compress(big, fmt, 50)
        assert map_image.declared_size(data, fmt) == (800, 600), fmt
        with pytest.raises(GainMLPError, match="declares 800x600 pixels, the payload says"):
            map_image.decompress(data, fmt, (16, 12))


def test_charge_refuses_one_image_over_the_budget(monkeypatch) -> None:
    monkeypatch.setenv("GAINMLP_MAX_MEMORY", "300M")
    charge(4000, 4000, 6, "map")  # 96 MB beside the floor: fits
    with pytest.raises(GainMLPError, match=r"map declares 12000x12000 pixels: decoding it "
                                           r"needs about 0.8 GB, over the 300 MB budget"):
        charge(12000, 12000, 6, "map")
    assert FLOOR_BYTES < 300 * MB


@pytest.mark.parametrize("text", ["inf", "nan", "1e400", "-0", "2Q"])
def test_absurd_budgets_are_one_line_errors(monkeypatch, text) -> None:
    monkeypatch.setenv("GAINMLP_MAX_MEMORY", text)
    with pytest.raises(GainMLPError, match="GAINMLP_MAX_MEMORY"):
        check_memory("decode", 100)


def test_every_path_has_an_estimate_that_grows_with_the_map(tmp_path) -> None:
    from gainmlp.budget import DECODE_FORMATS

    for kind in ("gainmap", "payload"):
        for fmt in DECODE_FORMATS:
            path = f"decode-{kind}-{fmt}"
            assert estimate(path, 12_000_000) > estimate(path, 1_000_000)
            assert estimate(path, 10**6, 10**6) > estimate(path, 10**6)
    for path in ("encode", "encode-tmo", "reencode", "pair"):
        assert estimate(path, 12_000_000) > estimate(path, 1_000_000)
