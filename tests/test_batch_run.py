"""A whole batch: every item once in the summary, failures counted, reruns resume."""

from __future__ import annotations

import json
import os
from dataclasses import replace

import pytest
from batch_helpers import FAST, alone, corrupt_png, outputs, spec, write_pair

from gainmlp.batch import run as batch_run
from gainmlp.batch.items import Item
from gainmlp.batch.run import default_jobs, pixels_hint, run_batch
from gainmlp.errors import GainMLPError
from gainmlp.memory import estimate


@pytest.fixture(autouse=True)
def one_fitting_thread(monkeypatch):
    monkeypatch.setenv("GAINMLP_THREADS", "1")


@pytest.fixture
def folder(tmp_path):
    src = tmp_path / "in"
    for k, name in enumerate(("a", "b")):
        write_pair(src, name, seed=k)
    corrupt_png(src / "c_sdr.png")
    write_pair(tmp_path / "spare", "c", seed=2)
    os.replace(tmp_path / "spare" / "c_hdr.png", src / "c_hdr.png")
    (src / "d_sdr.png").write_bytes(b"lone")
    return src


def summary(out):
    return [json.loads(line) for line in (out / "summary.jsonl").read_text().splitlines()]


def test_a_batch_and_its_reruns(tmp_path, folder):
    s = spec(tmp_path)
    out = tmp_path / "out"
    result = run_batch(folder, s, jobs=1)
    assert [r["name"] for r in result.rows] == ["a", "b", "c", "d"]
    assert [r["status"] for r in result.rows] == ["ok", "ok", "failed", "failed"]
    assert result.failed == 2 and result.exit_status == 2 and result.made == 2
    assert [r["name"] for r in summary(out)] == ["a", "b", "c", "d"]
    assert (out / "summary.csv").read_text().count("\n") == 5
    made = outputs(out)
    assert sorted(made) == ["a", "b"]
    assert made["a"] == alone(folder / "a_sdr.png", folder / "a_hdr.png")
    assert not [p for p in out.iterdir() if p.name.endswith(".part")]

    again = run_batch(folder, s, jobs=1)  # resumes: nothing is done twice
    assert (again.made, again.skipped, again.failed) == (0, 2, 2)
    assert again.rows[:2] == result.rows[:2] and outputs(out) == made

    (out / "b.jpg").write_bytes(made["b"][:-100])  # a damaged output is made again
    third = run_batch(folder, s, jobs=1)
    assert (third.made, third.skipped) == (1, 1) and outputs(out) == made

    forced = run_batch(folder, s, jobs=1, force=True)
    assert (forced.made, forced.skipped) == (2, 0) and outputs(out) == made

    other = run_batch(folder, replace(s, options=replace(FAST, steps=21)), jobs=1)
    assert (other.made, other.skipped) == (2, 0) and outputs(out)["a"] != made["a"]
    assert [r["name"] for r in summary(out)] == ["a", "b", "c", "d"]


def test_an_interrupted_batch_keeps_what_it_did(tmp_path, folder, monkeypatch):
    from gainmlp.batch.local import LocalRunner

    def interrupted(self, tasks, spec, on_result):
        from gainmlp.batch.work import run_task

        on_result(run_task(tasks[0], spec))
        raise KeyboardInterrupt

    monkeypatch.setattr(LocalRunner, "run", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_batch(folder, spec(tmp_path), jobs=1)
    rows = summary(tmp_path / "out")
    assert [r["name"] for r in rows] == ["a", "d"] and rows[0]["status"] == "ok"
    monkeypatch.undo()
    monkeypatch.setenv("GAINMLP_THREADS", "1")
    rest = run_batch(folder, spec(tmp_path), jobs=1)
    assert (rest.made, rest.skipped, rest.failed) == (1, 1, 2)


def test_folders_that_cannot_work(tmp_path, folder):
    with pytest.raises(GainMLPError, match="must not be the INPUT folder"):
        run_batch(folder, replace(spec(tmp_path), out_dir=str(folder)))
    (tmp_path / "file").write_text("x")
    with pytest.raises(GainMLPError, match="is a file"):
        run_batch(folder, replace(spec(tmp_path), out_dir=str(tmp_path / "file")))
    with pytest.raises(GainMLPError, match="needs --ray"):
        run_batch(folder, spec(tmp_path), transfer=True)
    with pytest.raises(GainMLPError, match="positive"):
        run_batch(folder, spec(tmp_path), jobs=-1)


def test_the_device_is_resolved_on_the_driver(tmp_path, folder):
    result = run_batch(folder, spec(tmp_path, options=replace(FAST, device="auto")), jobs=1)
    assert result.device == "cpu"
    assert result.rows[0]["fingerprint"] == spec(tmp_path).fingerprint("pair")


def test_pool_size(tmp_path, folder, monkeypatch):
    items = [Item("a", "pair", sdr=str(folder / "a_sdr.png"), hdr=str(folder / "a_hdr.png")),
             Item("e", "tonemap", hdr=str(tmp_path / "e.exr"))]
    assert pixels_hint(items[:1]) == 48 * 64
    assert pixels_hint(items) == batch_run.DEFAULT_PIXELS  # EXR headers are not read
    monkeypatch.setenv("GAINMLP_THREADS", "8")
    assert default_jobs(items[:1], 1, gpu=False) == 8
    assert default_jobs(items[:1], 1, gpu=True) == 2
    # a budget of two small fits (gainmlp.memory's estimate) gives two workers
    monkeypatch.setenv("GAINMLP_MAX_MEMORY", str(2 * estimate("encode", 48 * 64) + 1))
    assert default_jobs(items[:1], 1, gpu=False) == 2
    assert default_jobs(items, 1, gpu=False) == 1


def test_ray_missing_is_a_one_line_error(tmp_path, folder, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    with pytest.raises(GainMLPError, match=r'pip install "gainmlp\[ray\]"'):
        run_batch(folder, spec(tmp_path), ray="auto")
