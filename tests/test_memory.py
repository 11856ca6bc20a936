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
    monkeypatch.setenv("GAINMLP_MAX_MEMORY", "200M")  # under any encode's fixed part
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


def test_torch_engines_add_their_share_to_fitting_paths(monkeypatch) -> None:
    from gainmlp.memory import TORCH_EXTRA

    n = 12_000_000
    default = estimate("reencode", n)
    extra = TORCH_EXTRA[0] * 2**20 + TORCH_EXTRA[1] * n
    for engine in ("torch", "autograd"):
        assert estimate("reencode", n, engine=engine) == default + extra
    assert estimate("reencode", n, engine="numba") == default
    assert estimate("decode-payload-png", n, engine="torch") == estimate("decode-payload-png", n)
    monkeypatch.setenv("GAINMLP_MAX_MEMORY", str(default))
    check_memory("reencode", n)  # the default engine fits the budget
    with pytest.raises(GainMLPError, match=r"needs about [0-9.]+ GB, over the"):
        check_memory("reencode", n, engine="torch")


def test_cli_counts_the_torch_engine_before_reading_pixels(tmp_path, pair_files) -> None:
    import os
    import subprocess
    import sys

    from gainmlp.budget import path_estimate

    sdr, hdr = pair_files
    need = path_estimate("encode", [str(sdr)])
    assert path_estimate("encode", [str(sdr)], "torch") > need + 2**27
    env = {**os.environ, "GAINMLP_MAX_MEMORY": str(need + 2**20)}
    for flags in (["--engine", "torch"], ["--device", "cuda"]):
        result = subprocess.run([sys.executable, "-m", "gainmlp", "encode", str(sdr), str(hdr),
                                 "-o", str(tmp_path / "p.jpg"), *flags],
                                capture_output=True, text=True, env=env)
        assert result.returncode == 2, result.stderr
        assert "budget" in result.stderr and result.stderr.count("\n") == 1
    assert not (tmp_path / "p.jpg").exists()
