"""Hostile outputs (issue 22, cause 4 and the output half of cause 7): ``-o`` naming a
FIFO, a socket, a device, a symbolic link, a setuid file, a name near or over NAME_MAX, a
file where a folder is wanted; stale ``.part`` files of a killed writer. Each case: a
one-line error with status 2 (or a correct result), the special file or input untouched,
no temporary or partial file left."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import warnings
from pathlib import Path

import pytest

from gainmlp.cli import main

pytestmark = pytest.mark.filterwarnings("ignore")


@pytest.fixture
def photo(tmp_path: Path, pair_files) -> Path:
    """A small gain-map JPEG (conventional method: no fit), beside sdr.png and hdr.png."""
    sdr, hdr = pair_files
    out = tmp_path / "photo.jpg"
    assert main(["encode", str(sdr), str(hdr), "-o", str(out), "--method", "gain-jpeg",
                 "--container", "ultrahdr"]) == 0
    return out


def run(capsys, argv: list[str]) -> tuple[int, list[str]]:
    capsys.readouterr()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main([str(a) for a in argv])
    return code, capsys.readouterr().err.strip().splitlines()


def one_line_error(code: int, err: list[str], text: str = "") -> None:
    assert code == 2 and len(err) == 1 and err[0].startswith("gainmlp: error: "), err
    assert text in err[0], err


def no_parts(folder: Path) -> None:
    left = [p.name for p in folder.iterdir() if p.name.endswith(".part")]
    assert not left, left


def test_fifo_and_socket_outputs_are_refused_and_kept(tmp_path, photo, capsys) -> None:
    fifo = tmp_path / "fifo.png"
    os.mkfifo(fifo)
    sock_path = tmp_path / "sock.png"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(sock_path))
    try:
        for target, test, word in ((fifo, stat.S_ISFIFO, "FIFO"),
                                   (sock_path, stat.S_ISSOCK, "socket")):
            code, err = run(capsys, ["decode", photo, "-o", target])
            one_line_error(code, err, word)
            assert test(os.lstat(target).st_mode)
        # a bare payload output (any name) too
        code, err = run(capsys, ["encode", tmp_path / "sdr.png", tmp_path / "hdr.png", "-o",
                                 fifo, "--method", "gain-jpeg"])
        one_line_error(code, err, "FIFO")
        assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    finally:
        server.close()
    no_parts(tmp_path)


def test_a_character_device_output_is_refused(tmp_path, photo, capsys) -> None:
    node = tmp_path / "null.png"
    try:
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # /dev/null's numbers
    except (PermissionError, OSError):
        pytest.skip("cannot make a device node here (not root)")
    code, err = run(capsys, ["decode", photo, "-o", node])
    one_line_error(code, err, "character device")
    assert stat.S_ISCHR(os.lstat(node).st_mode)
    no_parts(tmp_path)


def test_a_symlinked_output_is_refused_and_neither_link_nor_target_changes(
        tmp_path, photo, capsys) -> None:
    target = tmp_path / "precious.png"
    target.write_bytes(b"precious")
    link = tmp_path / "link.png"
    link.symlink_to(target)
    dangling = tmp_path / "dangling.png"
    dangling.symlink_to(tmp_path / "nowhere.png")
    for out in (link, dangling):
        code, err = run(capsys, ["decode", photo, "-o", out])
        one_line_error(code, err, "symbolic link")
        assert out.is_symlink()
    assert target.read_bytes() == b"precious" and not (tmp_path / "nowhere.png").exists()
    no_parts(tmp_path)


def test_a_replaced_output_never_keeps_setuid_setgid_or_sticky(tmp_path, photo, capsys) -> None:
    out = tmp_path / "out.png"
    out.write_bytes(b"old")
    os.chmod(out, 0o6755 | stat.S_ISVTX)
    code, err = run(capsys, ["decode", photo, "-o", out])
    assert code == 0, err
    mode = stat.S_IMODE(os.stat(out).st_mode)
    assert mode == 0o755, oct(mode)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_long_output_names(tmp_path, photo, capsys) -> None:
    """A name of 251 bytes + .png (255, NAME_MAX) is written (its temporary name stays
    within the limit); one over it is a one-line error, not a traceback."""
    fits = tmp_path / ("x" * 251 + ".png")
    code, err = run(capsys, ["decode", photo, "-o", fits])
    assert code == 0, err
    assert fits.read_bytes()[:4] == b"\x89PNG"
    for name in ("y" * 252 + ".png", "é" * 200 + ".png"):
        code, err = run(capsys, ["decode", photo, "-o", tmp_path / name])
        one_line_error(code, err, "too long")
    code, err = run(capsys, ["decode", photo, "-o", "/".join(["d" * 200] * 30) + "/o.png"])
    one_line_error(code, err)
    no_parts(tmp_path)


def test_pair_and_demo_into_an_existing_file(tmp_path, capsys) -> None:
    import numpy as np

    from gainmlp.io.hdr import encode_hdr_exr

    exr = tmp_path / "scene.exr"
    exr.write_bytes(encode_hdr_exr(np.full((8, 8, 3), 0.5, np.float32)))
    blocker = tmp_path / "file.txt"
    blocker.write_bytes(b"keep")
    for argv in (["pair", exr, "-o", blocker], ["demo", "-o", blocker],
                 ["pair", exr, "-o", blocker / "sub"]):
        code, err = run(capsys, argv)
        one_line_error(code, err)
    assert blocker.read_bytes() == b"keep"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt", "scene.exr"]


def test_many_pairs_into_an_unusable_folder_fail_before_the_fit(tmp_path, pair_files, capsys,
                                                                monkeypatch) -> None:
    import gainmlp.photo

    def no_fit(*args, **kwargs):
        raise AssertionError("the fit ran before the output folder was checked")

    monkeypatch.setattr(gainmlp.photo, "encode_photos", no_fit)
    sdr, hdr = pair_files
    blocker = tmp_path / "file.txt"
    blocker.write_bytes(b"keep")
    sdr2, hdr2 = tmp_path / "b_sdr.png", tmp_path / "b_hdr.png"
    sdr2.write_bytes(sdr.read_bytes())
    hdr2.write_bytes(hdr.read_bytes())
    code, err = run(capsys, ["encode", sdr, hdr, sdr2, hdr2, "-o", blocker / "out"])
    one_line_error(code, err)
    assert blocker.read_bytes() == b"keep"


def test_a_folder_given_as_input_is_one_line(tmp_path, capsys) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    for argv in (["decode", folder, "-o", tmp_path / "o.png"], ["info", folder],
                 ["encode", folder, "-o", tmp_path / "o.jpg"]):
        code, err = run(capsys, argv)
        one_line_error(code, err, "folder")
    # and a file where a folder of inputs is wanted
    code, err = run(capsys, ["bench", "table4", tmp_path / "file.txt", "-o", tmp_path / "r"])
    one_line_error(code, err)
    (tmp_path / "file.txt").write_bytes(b"x")
    code, err = run(capsys, ["bench", "table4", tmp_path / "file.txt", "-o", tmp_path / "r"])
    one_line_error(code, err, "not a folder")


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_stale_parts_of_a_killed_writer_are_removed_by_the_next_write(tmp_path, photo,
                                                                       capsys) -> None:
    from gainmlp.io.writing import part_prefix

    out = tmp_path / "out.png"
    stale = tmp_path / f"{part_prefix(out.name, _dead_pid())}abcdefgh.part"
    stale.write_bytes(b"half a PNG")
    other = tmp_path / f"{part_prefix('other.jpg', _dead_pid())}ijklmnop.part"
    other.write_bytes(b"half a JPEG")
    alive = tmp_path / f"{part_prefix(out.name, 1)}qrstuvwx.part"  # pid 1 runs: kept
    alive.write_bytes(b"being written")
    foreign = tmp_path / ".notes.part"  # not our pattern: kept
    foreign.write_bytes(b"someone else's")
    code, err = run(capsys, ["decode", photo, "-o", out])
    assert code == 0, err
    assert not stale.exists() and not other.exists()
    assert alive.exists() and foreign.exists()
