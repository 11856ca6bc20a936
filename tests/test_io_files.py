"""Files on disk: one-line errors for missing or unsupported files, atomic writes."""

import pytest

from gainmlp.errors import GainMLPError
from gainmlp.io.files import atomic_write
from gainmlp.io.hdr import read_hdr
from gainmlp.io.sdr import read_sdr


def test_missing_and_unsupported(tmp_path):
    with pytest.raises(GainMLPError, match="no such file"):
        read_sdr(tmp_path / "nope.png")
    with pytest.raises(GainMLPError, match="unsupported"):
        read_hdr(tmp_path / "x.bmp")


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    with pytest.raises(TypeError):
        atomic_write(tmp_path / "o.bin", 12345)  # not bytes
    assert list(tmp_path.iterdir()) == []


# -- outputs never clobber inputs, honest modes, failures leave the old file --------------


def test_new_files_get_the_umask_mode_and_replaced_files_keep_theirs(tmp_path) -> None:
    import os

    from gainmlp.io.files import atomic_write

    old = os.umask(0o027)
    try:
        atomic_write(tmp_path / "a.bin", b"x")
        assert (tmp_path / "a.bin").stat().st_mode & 0o777 == 0o640
        (tmp_path / "b.bin").write_bytes(b"old")
        os.chmod(tmp_path / "b.bin", 0o604)
        atomic_write(tmp_path / "b.bin", b"new")
        assert (tmp_path / "b.bin").stat().st_mode & 0o777 == 0o604
        assert (tmp_path / "b.bin").read_bytes() == b"new"
    finally:
        os.umask(old)


def test_outputs_that_are_inputs_or_folders_are_refused(tmp_path) -> None:
    import os

    from gainmlp.errors import GainMLPError
    from gainmlp.io.files import atomic_write, check_output

    src = tmp_path / "in.png"
    src.write_bytes(b"input")
    os.link(src, tmp_path / "hard.png")
    os.symlink(src, tmp_path / "soft.png")
    for out in (src, tmp_path / "hard.png", tmp_path / "soft.png"):
        with pytest.raises(GainMLPError, match="refusing to overwrite an input"):
            check_output(out, [src])
    with pytest.raises(GainMLPError, match="is a folder"):
        atomic_write(tmp_path, b"x")
    with pytest.raises(GainMLPError, match="does not exist"):
        atomic_write(tmp_path / "missing" / "x.bin", b"x")
    assert src.read_bytes() == b"input"


def test_a_failed_write_leaves_the_previous_file(tmp_path, monkeypatch) -> None:
    import errno
    import os

    from gainmlp.errors import GainMLPError
    from gainmlp.io.files import atomic_write

    target = tmp_path / "out.bin"
    target.write_bytes(b"previous")

    def disk_full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(GainMLPError, match="No space left"):
        atomic_write(target, b"new data")
    assert target.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]  # no .part left


def test_importing_gainmlp_leaves_pillow_settings_alone() -> None:
    import subprocess
    import sys

    code = ("from PIL import Image; before = Image.MAX_IMAGE_PIXELS; import gainmlp, "
            "gainmlp.cli, gainmlp.io; assert Image.MAX_IMAGE_PIXELS == before, "
            "Image.MAX_IMAGE_PIXELS")
    subprocess.run([sys.executable, "-c", code], check=True)
