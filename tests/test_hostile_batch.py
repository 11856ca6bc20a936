"""Hostile batches (issue 22, cause 6 and the batch half of cause 7): an output damaged
in place at the same length, OUT_DIR files that are (links to) inputs, formula cells in
summary.csv, a journal that is not text, a manifest cell over the csv module's limit,
and ``kill -9`` of the driver while its workers fit."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from batch_helpers import FAST_FLAGS, spec, write_pair

from gainmlp.batch.run import run_batch
from gainmlp.cli import main
from gainmlp.errors import GainMLPError

pytestmark = pytest.mark.filterwarnings("ignore")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    write_pair(tmp_path / "in", "a", 0)
    return tmp_path / "in"


def _flip_scan_byte(path: Path) -> None:
    """Change one byte of the base image's entropy-coded data (same length, the payload
    and its CRC untouched)."""
    data = bytearray(path.read_bytes())
    pos = data.index(b"\xff\xda") + 40
    while data[pos] in (0xFE, 0xFF) or data[pos - 1] == 0xFF:
        pos += 1
    data[pos] ^= 0x01
    path.write_bytes(bytes(data))


def test_an_output_damaged_at_the_same_length_is_made_again(tmp_path, folder) -> None:
    s = spec(tmp_path)
    first = run_batch(folder, s, jobs=1)
    assert first.made == 1 and first.rows[0]["output_sha256"]
    out = tmp_path / "out" / "a.jpg"
    good = out.read_bytes()
    _flip_scan_byte(out)
    assert len(out.read_bytes()) == len(good) and out.read_bytes() != good
    again = run_batch(folder, s, jobs=1)
    assert again.made == 1 and again.skipped == 0
    assert out.read_bytes() == good  # same options, same bytes
    assert run_batch(folder, s, jobs=1).skipped == 1  # and now it is done


def test_a_manifest_named_like_the_summary_is_not_overwritten(tmp_path, folder) -> None:
    out = tmp_path / "out"
    out.mkdir()
    manifest = out / "summary.csv"
    text = f"name,sdr,hdr\na,{folder / 'a_sdr.png'},{folder / 'a_hdr.png'}\n"
    manifest.write_text(text)
    with pytest.raises(GainMLPError, match="is the input"):
        run_batch(manifest, spec(tmp_path), jobs=1)
    assert manifest.read_text() == text
    code = main(["batch", str(manifest), "-o", str(out), *FAST_FLAGS, "--jobs", "1"])
    assert code == 2 and manifest.read_text() == text


@pytest.mark.parametrize("own", [".gainmlp-batch.lock", "summary.jsonl", "summary.csv"])
def test_out_dir_files_linked_to_an_input_never_write_into_it(tmp_path, folder, own) -> None:
    out = tmp_path / "out"
    out.mkdir()
    victim = folder / "a_hdr.png"
    before = victim.read_bytes()
    (out / own).symlink_to(victim)
    with pytest.raises(GainMLPError):
        run_batch(folder, spec(tmp_path), jobs=1)
    assert victim.read_bytes() == before
    assert (out / own).is_symlink() and not list(out.glob("*.jpg"))


@pytest.mark.parametrize("own", ["summary.csv", "summary.jsonl"])
def test_out_dir_files_that_are_folders_stop_the_batch_before_the_work(tmp_path, folder,
                                                                       own) -> None:
    out = tmp_path / "out"
    (out / own).mkdir(parents=True)
    with pytest.raises(GainMLPError, match="not a regular file"):
        run_batch(folder, spec(tmp_path), jobs=1)
    assert not list(out.glob("*.jpg"))


def test_a_lock_or_journal_linked_elsewhere_is_not_followed(tmp_path, folder) -> None:
    out = tmp_path / "out"
    out.mkdir()
    elsewhere = tmp_path / "notes.txt"
    elsewhere.write_text("mine")
    (out / ".gainmlp-batch.lock").symlink_to(elsewhere)
    with pytest.raises(GainMLPError, match="symbolic link"):
        run_batch(folder, spec(tmp_path), jobs=1)
    assert elsewhere.read_text() == "mine"


def test_formula_cells_are_escaped_in_summary_csv(tmp_path, folder) -> None:
    manifest = tmp_path / "list.csv"
    names = ["=HYPERLINK(1)", "+1", "-2", "@SUM(A1)"]
    rows = "".join(f"{n},{folder / 'a_sdr.png'},{tmp_path / 'missing.png'}\n" for n in names)
    manifest.write_text("name,sdr,hdr\n" + rows)
    result = run_batch(manifest, spec(tmp_path), jobs=1)
    assert result.failed == 4
    with open(tmp_path / "out" / "summary.csv", newline="") as fh:
        table = list(csv.DictReader(fh))
    assert sorted(r["name"] for r in table) == sorted("'" + n for n in names)
    for r in table:
        for value in r.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), r
    journal = [json.loads(line) for line in
               (tmp_path / "out" / "summary.jsonl").read_text().splitlines()]
    assert sorted(r["name"] for r in journal) == sorted(names)  # the JSON keeps them


JOURNALS = [
    b"[" * 100_000 + b"]" * 100_000,  # nesting deeper than the JSON parser's recursion
    bytes(range(256)) * 64,           # binary
    b'{"name": "a", "status": "ok", "error": "\\ud800"}\n',  # a lone surrogate
    "{\"name\": \"a\"}".encode("utf-16"),
]


def test_a_journal_that_is_not_text_is_skipped(tmp_path, folder) -> None:
    out = tmp_path / "out"
    out.mkdir()
    for content in JOURNALS:
        (out / "summary.jsonl").write_bytes(content)
        result = run_batch(folder, spec(tmp_path), jobs=1, force=True)
        assert result.made == 1 and result.failed == 0
        rows = [json.loads(x) for x in (out / "summary.jsonl").read_text().splitlines()]
        assert [r["name"] for r in rows] == ["a"]


def test_a_manifest_cell_over_128_kb_is_one_line(tmp_path, capsys) -> None:
    manifest = tmp_path / "big.csv"
    manifest.write_text("name,sdr,hdr\na," + "x" * 140_000 + ",h.png\n")
    capsys.readouterr()
    code = main(["batch", str(manifest), "-o", str(tmp_path / "out"), *FAST_FLAGS])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "field larger than field limit" in err[0], err


def _descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat_line = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat_line.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_kill_9_of_the_driver_ends_its_workers(tmp_path) -> None:
    """The caller's pipe must reach end-of-file soon after the driver is killed: nothing
    the batch started may keep it open (forkserver, workers, resource tracker)."""
    for k in range(3):
        write_pair(tmp_path / "in", f"p{k}", k, size=(96, 128))
    cmd = [sys.executable, "-m", "gainmlp", "batch", str(tmp_path / "in"), "-o",
           str(tmp_path / "out"), "--jobs", "2", "--steps", "1000000", "--batch", "512",
           "--no-psnr", "-q"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    below: set[int] = set()
    try:
        deadline = time.monotonic() + 240
        while len(_descendants(proc.pid)) < 4:  # forkserver, 2 workers, resource tracker
            assert proc.poll() is None, proc.stdout.read()
            assert time.monotonic() < deadline, "the workers never started"
            time.sleep(0.2)
        time.sleep(1.0)  # the workers are fitting
        below = _descendants(proc.pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        eof = threading.Event()
        threading.Thread(target=lambda: (proc.stdout.read(), eof.set()), daemon=True).start()
        assert eof.wait(60), "a process of the batch still holds the caller's stdout"
        deadline = time.monotonic() + 30
        while any(Path(f"/proc/{p}").exists() and "Z" not in _state(p) for p in below):
            assert time.monotonic() < deadline, "workers outlived the driver"
            time.sleep(0.2)
    finally:
        for p in below | _descendants(proc.pid) | ({proc.pid} if proc.poll() is None else set()):
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_or_sighup_stops_a_batch_as_ctrl_c_does(tmp_path, signum) -> None:
    """The driver stops its workers, writes the summary and exits 128 + the signal,
    instead of dying without a summary (or waiting at exit for workers that fit on)."""
    for k in range(2):
        write_pair(tmp_path / "in", f"p{k}", k, size=(96, 128))
    cmd = [sys.executable, "-m", "gainmlp", "batch", str(tmp_path / "in"), "-o",
           str(tmp_path / "out"), "--jobs", "2", "--steps", "1000000", "--batch", "512",
           "--no-psnr", "-q"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    below: set[int] = set()
    try:
        deadline = time.monotonic() + 240
        while len(_descendants(proc.pid)) < 4:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the workers never started"
            time.sleep(0.2)
        time.sleep(1.0)
        below = _descendants(proc.pid)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 128 + signum, err
        assert "gainmlp: interrupted" in err and "Traceback" not in err, err
        summary = (tmp_path / "out" / "summary.csv").read_text()
        assert summary.startswith("name,status,")
        assert not [p for p in (tmp_path / "out").iterdir() if p.name.endswith(".part")]
        deadline = time.monotonic() + 30
        while any(Path(f"/proc/{p}").exists() and "Z" not in _state(p) for p in below):
            assert time.monotonic() < deadline, "workers outlived the driver"
            time.sleep(0.2)
    finally:
        for p in below | ({proc.pid} if proc.poll() is None else set()):
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
