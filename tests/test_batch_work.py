"""Making batch items: grouped fits give each item its own bytes, errors stay in rows."""

from __future__ import annotations

import struct
import zlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from batch_helpers import (
    FAST,
    alone,
    corrupt_png,
    gainmap_bytes,
    psnr_of,
    spec,
    write_exr,
    write_pair,
)

import gainmlp.io as imageio
from gainmlp.batch.items import Item
from gainmlp.batch.work import COLUMNS, BatchSpec, one_line, run_task
from gainmlp.container.app11 import extract_payload


@pytest.fixture(autouse=True)
def one_fitting_thread(monkeypatch):
    monkeypatch.setenv("GAINMLP_THREADS", "1")


def pair_item(folder: Path, name: str, seed: int, **kw) -> Item:
    sdr, hdr = write_pair(folder, name, seed, **kw)
    return Item(name, "pair", sdr=str(sdr), hdr=str(hdr))


def test_a_group_gives_each_pair_what_encode_gives_it_alone(tmp_path):
    items = [pair_item(tmp_path / "in", "a", 0), pair_item(tmp_path / "in", "b", 1, size=(40, 56))]
    results = run_task(items, spec(tmp_path))
    for item, (row, data) in zip(items, results, strict=True):
        assert data is None and list(row) == list(COLUMNS)
        written = (tmp_path / "out" / f"{item.name}.jpg").read_bytes()
        assert written == alone(item.sdr, item.hdr)
        assert row["status"] == "ok" and row["error"] == ""
        assert row["payload_bytes"] == len(extract_payload(written))
        assert row["output_bytes"] == len(written) and row["input_bytes"] == item.input_bytes()
        hdr = imageio.read_hdr(item.hdr)
        assert row["psnr"] == pytest.approx(psnr_of(written, hdr), abs=1e-3)
        assert row["psnr"] > 30
    single = run_task(items[1:], spec(tmp_path / "single"))
    assert single[0][0]["payload_bytes"] == results[1][0]["payload_bytes"]


def test_gain_map_jpegs_match_the_reencoder(tmp_path):
    from gainmlp.photo import reencode_gainmap_photo

    src = tmp_path / "in"
    src.mkdir()
    items = []
    for k in range(2):
        (src / f"g{k}.jpg").write_bytes(gainmap_bytes(seed=k))
        items.append(Item(f"g{k}", "gainmap", photo=str(src / f"g{k}.jpg")))
    for group in (items, items[:1]):  # fitted together, and alone
        results = run_task(group, spec(tmp_path / str(len(group))))
        for item, (row, _) in zip(group, results, strict=True):
            data, report = reencode_gainmap_photo(Path(item.photo).read_bytes(), "gamma-mlp",
                                                  FAST)
            assert (tmp_path / str(len(group)) / "out" / f"{item.name}.jpg").read_bytes() == data
            assert row["original_map_bytes"] == report["original_map_bytes"]
            assert row["payload_bytes"] == report["payload"]
            assert row["psnr"] == pytest.approx(report["psnr_vs_original_hdr"], abs=0.006)


def test_hdr_with_a_tone_mapper_is_what_pair_then_encode_gives(tmp_path):
    from gainmlp.pair import make_pair

    exr = write_exr(tmp_path / "in" / "scene.exr", seed=3)
    [(row, _)] = run_task([Item("scene", "tonemap", hdr=str(exr))],
                          spec(tmp_path, tmo="drago"))
    assert row["status"] == "ok", row["error"]
    # `gainmlp pair scene.exr --tmo drago -o pair/` then `gainmlp encode`
    sdr_u8, hdr_u16 = make_pair(imageio.read_hdr_linear(exr), primaries="bt2020", tmo="drago")
    imageio.write_sdr_png(tmp_path / "sdr.png", sdr_u8)
    imageio.atomic_write(tmp_path / "hdr.png",
                         imageio.encode_hdr_png(hdr_u16.astype(np.float32) / 65535))
    expected = alone(tmp_path / "sdr.png", tmp_path / "hdr.png")
    assert (tmp_path / "out" / "scene.jpg").read_bytes() == expected


def absurd_png(path: Path) -> Path:
    """A PNG whose header claims 70000 x 1 pixels (over the 65535 per side limit)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body)))

    ihdr = struct.pack(">IIBBBBB", 70000, 1, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
                     + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))
    return path


def test_bad_items_are_rows_and_the_rest_of_the_group_is_made(tmp_path):
    src = tmp_path / "in"
    good = pair_item(src, "good", 0)
    small = pair_item(tmp_path / "small", "m", 1, size=(40, 64))
    items = [
        Item("corrupt", "pair", sdr=str(corrupt_png(src / "corrupt_sdr.png")), hdr=good.hdr),
        Item("mismatch", "pair", sdr=small.sdr, hdr=good.hdr),
        Item("absurd", "pair", sdr=str(absurd_png(src / "absurd_sdr.png")), hdr=good.hdr),
        Item("missing", "pair", sdr=str(src / "nope_sdr.png"), hdr=good.hdr),
        good,
        Item("notgm", "gainmap", photo=good.sdr),
        Item("lone", "bad", error="no partner", sources=("x",)),
    ]
    rows = {row["name"]: row for row, _ in run_task(items, spec(tmp_path))}
    assert rows["good"]["status"] == "ok"
    assert (tmp_path / "out" / "good.jpg").read_bytes() == alone(good.sdr, good.hdr)
    expect = {"corrupt": "not a readable image", "mismatch": "must be the same size",
              "absurd": "over the limit", "missing": "no such file",
              "notgm": "good_sdr.png: no JPEG image", "lone": "no partner"}
    for name, text in expect.items():
        row = rows[name]
        assert row["status"] == "failed" and text in row["error"], row
        assert "\n" not in row["error"] and not (tmp_path / "out" / f"{name}.jpg").exists()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["good.jpg"]


def test_inputs_sent_as_bytes_and_output_returned(tmp_path):
    item = pair_item(tmp_path / "in", "t", 2)
    blobs = {p: Path(p).read_bytes() for p in item.inputs}
    expected = alone(item.sdr, item.hdr)
    for p in item.inputs:  # the worker sees only the bytes
        Path(p).unlink()
    [(row, data)] = run_task([item], spec(tmp_path), blobs)
    assert row["status"] == "ok" and data == expected
    assert row["input"] == f"{item.sdr};{item.hdr}" and row["input_bytes"] is None
    assert list((tmp_path / "out").iterdir()) == []


def test_fingerprints():
    base = BatchSpec("out", options=FAST)
    assert base.fingerprint("pair") == BatchSpec("elsewhere", options=FAST).fingerprint("pair")
    assert base.fingerprint("pair") != replace(base, options=replace(FAST, steps=21)
                                               ).fingerprint("pair")
    tmo = replace(base, tmo="ward")
    assert tmo.fingerprint("pair") == base.fingerprint("pair")
    assert tmo.fingerprint("tonemap") != base.fingerprint("tonemap")
    other = replace(base, container="ultrahdr+mlp", jpeg_quality=90)
    assert other.fingerprint("gainmap") == base.fingerprint("gainmap")
    assert other.fingerprint("pair") != base.fingerprint("pair")
    assert replace(base, psnr=False).fingerprint("pair") == base.fingerprint("pair")
    gm = replace(base, gainmap_options=replace(FAST, seed=3))
    assert gm.fingerprint("pair") == base.fingerprint("pair")
    assert gm.fingerprint("gainmap") != base.fingerprint("gainmap")


def test_one_line_errors():
    from gainmlp.errors import GainMLPError

    assert one_line(GainMLPError("a\n  b")) == "a b"
    assert one_line(ValueError("bad")) == "ValueError: bad"
    assert one_line(MemoryError()) == "out of memory"
    assert len(one_line(GainMLPError("x" * 1000))) == 300
