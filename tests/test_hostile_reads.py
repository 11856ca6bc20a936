"""Hostile reads: devices, FIFOs, sockets and files that change, given as inputs.

Each is refused with one line and exit 2 before anything is read from it (no blocking on a
FIFO, no reading /dev/zero until memory runs out), nothing is written, and the special
file is left as it was. Every command runs in a child process with a time limit, so a
regression that blocks fails instead of hanging the suite.
"""

from __future__ import annotations

import os
import socket
import stat

import numpy as np
import pytest
from hostile_util import listing, run_cli

from gainmlp.errors import GainMLPError
from gainmlp.io import reading

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX special files")


def _commands(bad, sdr, hdr, out):
    """Every command that reads an image, with ``bad`` in each input position."""
    return [
        ("decode", bad, "-o", out / "o.png"),
        ("info", bad),
        ("encode", bad, "-o", out / "o.jpg"),  # a gain-map JPEG to re-encode
        ("encode", bad, hdr, "-o", out / "o.jpg"),  # as the SDR
        ("encode", sdr, bad, "-o", out / "o.jpg"),  # as the HDR
        ("pair", bad, "-o", out / "pairdir"),
        ("eval", sdr, bad),
    ]


@pytest.fixture
def special_files(tmp_path, pair_files):
    """A folder of special files posing as images: links to /dev/zero and /dev/null, a
    FIFO, a socket (and links to the last two)."""
    folder = tmp_path / "in"
    folder.mkdir()
    made = {}
    for name, target in (("zero.jpg", "/dev/zero"), ("null.png", "/dev/null")):
        if os.path.exists(target):
            (folder / name).symlink_to(target)
            made[name] = folder / name
    os.mkfifo(folder / "fifo.jpg")
    made["fifo.jpg"] = folder / "fifo.jpg"
    (folder / "fifo-link.exr").symlink_to(folder / "fifo.jpg")
    made["fifo-link.exr"] = folder / "fifo-link.exr"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(folder / "sock.png"))
    made["sock.png"] = folder / "sock.png"
    yield folder, made
    sock.close()


def test_special_files_are_refused_by_every_command(tmp_path, pair_files, special_files):
    sdr, hdr = pair_files
    folder, made = special_files
    out = tmp_path / "out"
    out.mkdir()
    before = listing(folder)
    for path in made.values():
        for args in _commands(path, sdr, hdr, out):
            run = run_cli(*args, timeout=60)
            assert run.status != -9, f"{args} blocked (killed after 60 s)"
            assert run.one_line_error(), (args, run.status, run.stderr)
            assert "regular file" in run.stderr or "not a" in run.stderr, run.stderr
            assert run.peak_mb < 400, f"{args} read {run.peak_mb:.0f} MB"
    assert listing(folder) == before  # the special files are as they were
    assert list(out.iterdir()) == []  # nothing written, no partial file


def test_a_fifo_row_of_a_batch_manifest_fails_that_row_only(tmp_path, pair_files):
    sdr, hdr = pair_files
    os.mkfifo(tmp_path / "f.png")
    manifest = tmp_path / "list.csv"
    manifest.write_text(f"name,sdr,hdr\ngood,{sdr},{hdr}\nbad,{sdr},{tmp_path / 'f.png'}\n")
    run = run_cli("batch", manifest, "-o", tmp_path / "out", "--jobs", "1", "--steps", "20",
                  "--method", "gain-jpeg", timeout=240)
    assert run.status == 1, run.stderr  # one failure, after the other item was made
    assert (tmp_path / "out" / "good.jpg").is_file()
    assert not (tmp_path / "out" / "bad.jpg").exists()
    summary = (tmp_path / "out" / "summary.csv").read_text()
    assert "FIFO" in summary
    assert stat.S_ISFIFO(os.lstat(tmp_path / "f.png").st_mode)


def test_read_bytes_refuses_a_file_that_changes_while_read(tmp_path, monkeypatch) -> None:
    path = tmp_path / "a.png"
    path.write_bytes(b"\x89PNG" + bytes(100))
    real = os.fstat
    calls = []

    def growing(fd):  # the second look (after the read) sees the file grown
        st = real(fd)
        calls.append(fd)
        if len(calls) < 2:
            return st
        values = list(st)
        values[stat.ST_SIZE] += 10
        return os.stat_result(values)

    monkeypatch.setattr(reading.os, "fstat", growing)
    with pytest.raises(GainMLPError, match="changed while it was being read"):
        reading.read_bytes(path)


def test_a_file_shorter_than_it_says_is_refused(tmp_path) -> None:
    # /proc files are regular files of size 0 that have content: what fstat says and what
    # a read gives disagree, as for a file truncated or extended during the read
    proc = "/proc/self/status"
    if not os.path.exists(proc):
        pytest.skip("no /proc")
    (tmp_path / "s.jpg").symlink_to(proc)
    run = run_cli("decode", tmp_path / "s.jpg", "-o", tmp_path / "o.png", timeout=60)
    assert run.one_line_error() and "changed while" in run.stderr, run.stderr
    assert not (tmp_path / "o.png").exists()


def test_an_input_over_the_read_limit_is_refused_unread(tmp_path) -> None:
    # a sparse file of 1.5 GiB: more than any input may be; refused from its size alone
    big = tmp_path / "big.jpg"
    with open(big, "wb") as fh:
        fh.write(b"\xff\xd8\xff")
        fh.truncate(3 << 29)
    run = run_cli("decode", big, "-o", tmp_path / "o.png", timeout=60)
    assert run.one_line_error() and "byte limit" in run.stderr, run.stderr
    assert run.peak_mb < 400
    # and a budget lowers the limit: 300 MB of zeros under a 256 MB budget
    with open(big, "r+b") as fh:
        fh.truncate(300 << 20)
    run = run_cli("info", big, env={"GAINMLP_MAX_MEMORY": "256M"}, timeout=60)
    assert run.one_line_error() and "byte limit" in run.stderr, run.stderr
    assert run.peak_mb < 250
    assert big.stat().st_size == 300 << 20


def test_declared_size_reads_headers_of_every_input_format(tmp_path) -> None:
    import gainmlp.io as imageio
    from gainmlp.io.hdr import encode_hdr_exr

    pq = np.full((12, 20, 3), 0.5, np.float32)
    imageio.write_hdr(tmp_path / "h.png", pq)
    (tmp_path / "h.exr").write_bytes(encode_hdr_exr(pq))
    imageio.write_sdr_png(tmp_path / "s.png", np.zeros((12, 20, 3), np.uint8))
    (tmp_path / "r.hdr").write_bytes(b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 12 +X 20\n"
                                     + bytes(4 * 240))
    for name in ("h.png", "h.exr", "s.png", "r.hdr"):
        assert reading.declared_size(tmp_path / name) == (20, 12), name
    assert reading.declared_size(tmp_path / "r.hdr") == (20, 12)
