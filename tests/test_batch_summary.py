"""The batch summary files, the journal, the lock, and when an item counts as done."""

from __future__ import annotations

import csv
import json
from dataclasses import replace

import pytest
from batch_helpers import FAST, spec, write_pair

from gainmlp.batch.items import Item
from gainmlp.batch.summary import (
    Journal,
    is_done,
    locked,
    output_is_valid,
    read_rows,
    write_summary,
)
from gainmlp.batch.work import COLUMNS, new_row, run_task
from gainmlp.errors import GainMLPError


@pytest.fixture(autouse=True)
def one_fitting_thread(monkeypatch):
    monkeypatch.setenv("GAINMLP_THREADS", "1")


def test_summary_files_round_trip(tmp_path):
    rows = [new_row(Item("a", "pair", sdr="s", hdr="h"), spec(tmp_path)),
            new_row(Item("b", "bad", error="why, \"quoted\"", sources=("x",)), spec(tmp_path))]
    rows[0].update(status="ok", psnr=41.5, payload_bytes=9000)
    write_summary(tmp_path, rows)
    with open(tmp_path / "summary.csv", newline="") as fh:
        table = list(csv.DictReader(fh))
    assert list(table[0]) == list(COLUMNS)
    assert [r["name"] for r in table] == ["a", "b"]
    assert table[0]["psnr"] == "41.5" and table[1]["error"] == 'why, "quoted"'
    assert table[0]["original_map_bytes"] == ""
    assert read_rows(tmp_path) == {r["name"]: r for r in rows}
    assert read_rows(tmp_path / "nowhere") == {}


def test_a_line_cut_by_a_crash_is_skipped_and_does_not_swallow_the_next(tmp_path):
    good = {"name": "a", "status": "ok"}
    (tmp_path / "summary.jsonl").write_text(json.dumps(good) + '\n{"name": "b", "sta')
    assert read_rows(tmp_path) == {"a": good}
    journal = Journal(tmp_path)
    journal.add({"name": "c", "status": "failed"})
    journal.add({"name": "a", "status": "failed"})  # the last row of a name wins
    journal.close()
    assert read_rows(tmp_path) == {"a": {"name": "a", "status": "failed"},
                                   "c": {"name": "c", "status": "failed"}}


def test_when_an_item_is_done(tmp_path):
    sdr, hdr = write_pair(tmp_path / "in", "p", 0)
    item = Item("p", "pair", sdr=str(sdr), hdr=str(hdr))
    s = spec(tmp_path)
    [(row, _)] = run_task([item], s)
    out = tmp_path / "out" / "p.jpg"
    data = out.read_bytes()
    assert output_is_valid(data) and is_done(item, row, s)
    assert not is_done(item, None, s)
    assert not is_done(item, {**row, "status": "failed"}, s)
    assert not is_done(item, row, replace(s, options=replace(FAST, seed=1)))
    assert is_done(item, row, replace(s, psnr=False, tmo="drago"))  # no effect on pairs
    hdr.write_bytes(hdr.read_bytes() + b"\0")  # the input changed since
    assert not is_done(item, row, s)
    row["input_bytes"] = item.input_bytes()
    assert is_done(item, row, s)
    out.write_bytes(data[:-10])  # cut short
    assert not is_done(item, row, s)
    at = data.index(b"GMLP") + 60  # one payload byte flipped: the CRC fails
    out.write_bytes(data[:at] + bytes([data[at] ^ 1]) + data[at + 1:])
    assert not output_is_valid(out.read_bytes()) and not is_done(item, row, s)
    out.unlink()
    assert not is_done(item, row, s)
    assert not output_is_valid(b"not a jpeg")


def test_one_batch_per_folder(tmp_path):
    with locked(tmp_path):
        with pytest.raises(GainMLPError, match="another gainmlp batch"):
            with locked(tmp_path):
                pass
    with locked(tmp_path):  # released
        pass
