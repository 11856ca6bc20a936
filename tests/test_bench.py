import json

import numpy as np

from gainmlp.evaluation import Variant, run_experiment
from gainmlp.scene import demo_scene


def test_bench_writes_outputs_and_resumes(tmp_path):
    import OpenEXR

    data = tmp_path / "data"
    data.mkdir()
    OpenEXR.File({}, {"RGB": demo_scene(40, 56, seed=1)}).write(str(data / "scene.exr"))
    variants = [Variant("Gain-JPEG", "gain-jpeg", {"scale": 4}),
                Variant("Gamma-JPEG", "gamma-jpeg", {"scale": 4})]
    out = tmp_path / "out"
    rows = run_experiment("table4", data, out, tmos=("drago", "local"), variants=variants)
    assert len(rows) == 4
    for name in ("results.csv", "results.json", "table.md", "table4.png"):
        assert (out / name).exists()
    table = (out / "table.md").read_text()
    assert "| drago | Gain-JPEG |" in table and "| local | Gamma-JPEG |" in table
    # a second run reads every result from the cache: same numbers, no re-encoding
    cached = sorted((out / "cache").glob("*.json"))
    assert len(cached) == 4
    stamp = [p.stat().st_mtime_ns for p in cached]
    again = run_experiment("table4", data, out, tmos=("drago", "local"), variants=variants)
    assert [r["psnr"] for r in again] == [r["psnr"] for r in rows]
    assert [p.stat().st_mtime_ns for p in cached] == stamp
    saved = json.loads((out / "results.json").read_text())
    assert all(np.isfinite(r["psnr"]) for r in saved)


def test_parallel_jobs_give_the_same_results(tmp_path):
    import OpenEXR

    data = tmp_path / "data"
    data.mkdir()
    OpenEXR.File({}, {"RGB": demo_scene(32, 40, seed=2)}).write(str(data / "s.exr"))
    variants = [Variant("Gain-JPEG", "gain-jpeg", {"scale": 2}),
                Variant("Gamma-HEIC", "gamma-heic", {"scale": 2})]
    one = run_experiment("table1", data, tmp_path / "a", tmos=("ward",), variants=variants)
    two = run_experiment("table1", data, tmp_path / "b", tmos=("ward",), variants=variants,
                         jobs=2)
    assert [(r["label"], r["psnr"], r["payload_bytes"]) for r in one] == [
        (r["label"], r["psnr"], r["payload_bytes"]) for r in two]


def test_cache_keys_follow_what_a_variant_computes():
    """The paper's network keeps its earlier key (same computation); the default grid's key
    names its schedule, so results of the earlier opt-in grid are never reused for it."""
    from gainmlp.evaluation import Variant, variants_for
    from gainmlp.evaluation.experiments import PAPER_NET

    labels = {v.label: v for v in variants_for("table1", quick=True)}
    assert labels["Gamma-MLP"].key() == '{"method": "gamma-mlp"}'
    assert Variant("x", "gamma-mlp", dict(PAPER_NET)).key() == '{"method": "gamma-mlp"}'
    grid_key = labels["Gamma-MLP+grid"].key()
    assert '"lr_schedule": "cosine-tail"' in grid_key and '"grid": "auto"' in grid_key


def test_bench_reports_file_level_and_completes_old_cache(tmp_path):
    """Tables show the written JPEG's PSNR and bytes beside the payload level; a cached
    record from before the file level gets only its file level added."""
    import OpenEXR

    data = tmp_path / "data"
    data.mkdir()
    OpenEXR.File({}, {"RGB": demo_scene(32, 40, seed=3)}).write(str(data / "s.exr"))
    variants = [Variant("Gain-JPEG", "gain-jpeg", {"scale": 2})]
    out = tmp_path / "out"
    rows = run_experiment("table1", data, out, tmos=("ward",), variants=variants)
    record = rows[0]
    assert record["container"] == "ultrahdr+mlp" and record["jpeg_quality"] == 95
    assert 0 < record["base_bytes"] < record["file_bytes"]
    assert np.isfinite(record["file_psnr"]) and np.isfinite(record["psnr"])
    table = (out / "table.md").read_text()
    assert "| file PSNR | file KB | base KB |" in table
    assert f"| {record['file_psnr']:.2f} | {record['file_bytes'] / 1024:.1f} |" in table
    # strip the file level from the cache: the next run adds it back, payload level kept
    (path,) = (out / "cache").glob("*.json")
    old = {k: v for k, v in json.loads(path.read_text()).items()
           if k not in ("file_psnr", "file_bytes", "base_bytes", "container")}
    old["psnr"] = 99.0  # a marker: the payload level must not be recomputed
    path.write_text(json.dumps(old))
    again = run_experiment("table1", data, out, tmos=("ward",), variants=variants)
    assert again[0]["psnr"] == 99.0 and again[0]["file_psnr"] == record["file_psnr"]
