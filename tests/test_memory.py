"""The memory budget (gainmlp.memory): sizes parsed, work over budget refused up front."""

from __future__ import annotations

import numpy as np
import pytest

import gainmlp
from gainmlp.colorimetry import SdrEncoding
from gainmlp.errors import GainMLPError
from gainmlp.memory import BASE_BYTES, budget, check_memory, estimate


@pytest.mark.parametrize(("text", "value"), [("2G", 2 * 2**30), ("1500M", 1500 * 2**20),
                                             ("512k", 512 * 2**10), ("1.5GB", 3 * 2**29),
                                             ("123456", 123456)])
def test_budget_from_the_environment(monkeypatch, text: str, value: int) -> None:
    monkeypatch.setenv("GAINMLP_MAX_MEMORY", text)
    assert budget() == value


@pytest.mark.parametrize("text", ["lots", "-1G", "0"])
def test_bad_budgets_are_one_line_errors(monkeypatch, text: str) -> None:
    monkeypatch.setenv("GAINMLP_MAX_MEMORY", text)
    with pytest.raises(GainMLPError, match="GAINMLP_MAX_MEMORY"):
        budget()


def test_default_budget_is_most_of_the_machine(monkeypatch) -> None:
    monkeypatch.delenv("GAINMLP_MAX_MEMORY", raising=False)
    assert budget() > max(BASE_BYTES.values())


def test_over_budget_work_is_refused_before_it_starts(monkeypatch) -> None:
    # the estimates come from the peaks benchmarks/memory.py measures (docs/robustness.md)
    need = estimate("encode", 12_000_000)
    assert need > estimate("decode", 12_000_000)
    monkeypatch.setenv("GAINMLP_MAX_MEMORY", str(need))
    check_memory("encode", 12_000_000)  # exactly the estimate: fits
    monkeypatch.setenv("GAINMLP_MAX_MEMORY", str(need - 2**20))
    with pytest.raises(GainMLPError, match=r"encode of 12\.0 MP needs about [0-9.]+ GB, over "
                                           r"the [0-9.]+ GB budget"):
        check_memory("encode", 12_000_000)
    monkeypatch.setenv("GAINMLP_MAX_MEMORY", "300M")
    sdr = gainmlp.SdrImage(np.zeros((16, 16, 3), np.uint8), SdrEncoding())
    with pytest.raises(GainMLPError, match="budget"):
        gainmlp.encode(sdr, np.zeros((16, 16, 3), np.float32), "gain-jpeg")


def test_cli_refuses_over_budget_before_reading_pixels(tmp_path, pair_files) -> None:
    import os
    import subprocess
    import sys

    sdr, hdr = pair_files
    env = {**os.environ, "GAINMLP_MAX_MEMORY": "100M"}
    for args in (["encode", sdr, hdr, "-o", tmp_path / "p.jpg"],
                 ["decode", sdr, "-o", tmp_path / "x.exr"]):
        result = subprocess.run([sys.executable, "-m", "gainmlp", *map(str, args)],
                                capture_output=True, text=True, env=env)
        assert result.returncode == 2
        assert "budget" in result.stderr and result.stderr.count("\n") == 1
    assert not (tmp_path / "p.jpg").exists() and not (tmp_path / "x.exr").exists()
