"""``gainmlp batch`` on the command line: exit status, messages, flags."""

from __future__ import annotations

import csv

import pytest
from batch_helpers import FAST_FLAGS, corrupt_png, write_pair

from gainmlp.cli import main


@pytest.fixture(autouse=True)
def one_fitting_thread(monkeypatch):
    monkeypatch.setenv("GAINMLP_THREADS", "1")


def test_exit_status_counts_failures(tmp_path, capsys):
    src, out = tmp_path / "in", tmp_path / "out"
    write_pair(src, "good", 0)
    corrupt_png(src / "bad_sdr.png")
    write_pair(tmp_path / "x", "bad", 1)
    (tmp_path / "x" / "bad_hdr.png").rename(src / "bad_hdr.png")
    assert main(["batch", str(src), "-o", str(out), "--jobs", "1", *FAST_FLAGS]) == 1
    captured = capsys.readouterr()
    assert "2 items: 1 made, 0 already done, 1 failed" in captured.out
    assert "gainmlp: failed: bad: " in captured.err and "not a readable image" in captured.err
    with open(out / "summary.csv", newline="") as fh:
        rows = {r["name"]: r for r in csv.DictReader(fh)}
    assert rows["good"]["status"] == "ok" and float(rows["good"]["psnr"]) > 30
    assert rows["bad"]["error"].endswith("not a readable image (corrupt or unsupported)")
    assert (out / "good.jpg").exists() and not (out / "bad.jpg").exists()
    assert main(["batch", str(src), "-o", str(out), "--jobs", "1", *FAST_FLAGS,
                 "--no-psnr"]) == 1
    assert "0 made, 1 already done, 1 failed" in capsys.readouterr().out


def test_every_encode_option_reaches_the_items(tmp_path, capsys):
    src = tmp_path / "in"
    write_pair(src, "p", 0)
    args = ["batch", str(src), "--jobs", "1", *FAST_FLAGS]
    assert main([*args, "-o", str(tmp_path / "a")]) == 0
    assert main([*args, "-o", str(tmp_path / "b"), "--method", "gamma-jpeg",
                 "--quality", "60", "--jpeg-quality", "80", "--sdr-white", "120"]) == 0
    a, b = (tmp_path / d / "summary.csv" for d in "ab")
    row_a, row_b = (next(csv.DictReader(open(p, newline=""))) for p in (a, b))
    assert row_a["fingerprint"] != row_b["fingerprint"]
    assert int(row_b["payload_bytes"]) < int(row_a["payload_bytes"])


@pytest.mark.parametrize("flags, message", [
    (["--jpeg-quality", "0"], "--jpeg-quality must be in 1..100"),
    (["--ray-transfer"], "needs --ray"),
    (["--steps", "0"], "--steps must be positive"),
])
def test_usage_errors_exit_2(tmp_path, capsys, flags, message):
    write_pair(tmp_path / "in", "p", 0)
    assert main(["batch", str(tmp_path / "in"), "-o", str(tmp_path / "out"), *flags]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gainmlp: error: ") and message in err and err.count("\n") == 1


def test_missing_input_exits_2(tmp_path, capsys):
    assert main(["batch", str(tmp_path / "nope"), "-o", str(tmp_path / "out")]) == 2
    assert "no such folder or manifest" in capsys.readouterr().err


def test_gain_map_jpegs_get_the_options_encode_gives_them(tmp_path, monkeypatch):
    from gainmlp import cli
    from gainmlp.batch import run as batch_run
    from gainmlp.cli import _common as cli_common

    seen = {}

    def fake_run_batch(source, spec, **kw):
        seen["spec"] = spec
        return batch_run.BatchResult()

    monkeypatch.setattr(batch_run, "run_batch", fake_run_batch)
    argv = ["batch", str(tmp_path), "-o", str(tmp_path / "out"), *FAST_FLAGS]
    assert main(argv) == 0
    args = cli.build_parser().parse_args(argv)
    spec = seen["spec"]
    assert spec.options == cli_common._options(args, False)
    assert spec.options_for("gainmap") == cli_common._options(args, False, rate_control=True)
    assert spec.options_for("pair") == spec.options
