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
