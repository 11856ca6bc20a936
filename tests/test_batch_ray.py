"""``gainmlp batch --ray``: a local Ray instance (2 CPUs), a worker killed mid-run.

Needs the Ray extra (``pip install -e ".[test,ray]"``, as CI does); skipped without it.
One Ray instance serves the module: starting Ray takes seconds.
"""

from __future__ import annotations

import json

import pytest
from batch_helpers import corrupt_png, gainmap_bytes, outputs, spec, write_pair

from gainmlp.batch.run import run_batch

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture
def folder(tmp_path):
    src = tmp_path / "in"
    for k in range(3):
        write_pair(src, f"p{k}", seed=k)
    (src / "g.jpg").write_bytes(gainmap_bytes(seed=5))
    corrupt_png(src / "bad_sdr.png")
    write_pair(tmp_path / "spare", "bad", seed=4)
    (tmp_path / "spare" / "bad_hdr.png").rename(src / "bad_hdr.png")
    return src


def names_in_summary(out):
    return [json.loads(line)["name"] for line in (out / "summary.jsonl").read_text().splitlines()]


def test_a_killed_worker_loses_nothing_and_bytes_match_a_local_run(tmp_path, folder, cluster):
    marker = tmp_path / "crashed"
    on_ray = run_batch(folder, spec(tmp_path / "ray", crash_once=("p1", str(marker))),
                       ray="auto", group=2)
    assert marker.exists()  # the worker that started p1 (and p0, its group) died
    assert ray.is_initialized()  # a Ray instance the batch found is left running
    expected = {"bad": "failed", "g": "ok", "p0": "ok", "p1": "ok", "p2": "ok"}
    assert {r["name"]: r["status"] for r in on_ray.rows} == expected
    assert names_in_summary(tmp_path / "ray" / "out") == sorted(expected)
    assert "not a readable image" in on_ray.rows[0]["error"] and on_ray.exit_status == 1

    local = run_batch(folder, spec(tmp_path / "local"), jobs=1)
    made = outputs(tmp_path / "local" / "out")
    assert sorted(made) == ["g", "p0", "p1", "p2"]
    assert outputs(tmp_path / "ray" / "out") == made
    assert [r["payload_bytes"] for r in on_ray.rows] == [r["payload_bytes"] for r in local.rows]

    moved = run_batch(folder, spec(tmp_path / "moved"), ray="auto", transfer=True)
    assert outputs(tmp_path / "moved" / "out") == made and moved.exit_status == 1

    again = run_batch(folder, spec(tmp_path / "ray"), ray="auto")  # resumes on Ray too
    assert (again.made, again.skipped, again.failed) == (0, 4, 1)
