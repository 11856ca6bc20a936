import json

import numpy as np
import pytest

from gainmlp.evaluation import Variant, run_experiment
from gainmlp.scene import demo_scene


def test_bench_writes_outputs_and_resumes(tmp_path):
    pytest.importorskip("matplotlib")  # gainmlp bench writes its plots (the plot extra)
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
    pytest.importorskip("matplotlib")  # gainmlp bench writes its plots (the plot extra)
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
    pytest.importorskip("matplotlib")  # gainmlp bench writes its plots (the plot extra)
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


def test_bench_reports_flip_and_highlights(tmp_path):
    pytest.importorskip("matplotlib")  # gainmlp bench writes its plots (the plot extra)
    """Records carry HDR-FLIP and the highlight statistics; the table shows FLIP, the
    light ratios and the p99.9 ratio. gainmlp's pairs peak at 1,000 cd/m2, so nothing is
    above 1,000 (HL light "–") and the light above twice SDR white (200) is what counts: a
    full-size map keeps it, a half-size map loses the scene's small bright spots."""
    import OpenEXR

    data = tmp_path / "data"
    data.mkdir()
    OpenEXR.File({}, {"RGB": demo_scene(32, 40, seed=3)}).write(str(data / "s.exr"))
    variants = [Variant("full", "gain-jpeg", {"scale": 1, "quality": 95}),
                Variant("half", "gain-jpeg", {"scale": 2, "quality": 95})]
    out = tmp_path / "out"
    full, half = run_experiment("table1", data, out, tmos=("ward",), variants=variants)
    assert full["hl_light_ratio"] is None and full["file_hl_light_ratio"] is None
    assert full["hl2w_fraction"] > 0.0
    assert abs(full["hl2w_light_ratio"] - 1.0) < 0.03
    assert abs(full["hl_p999_ratio"] - 1.0) < 0.06
    assert half["hl2w_light_ratio"] < full["hl2w_light_ratio"] - 0.03
    assert half["hl_p999_ratio"] < full["hl_p999_ratio"]
    assert 0.0 < full["hdr_flip"] < half["hdr_flip"] < 0.3 and 0.0 < full["file_hdr_flip"]
    table = (out / "table.md").read_text()
    assert "| FLIP | HL light | 2W light | p99.9 |" in table
    assert (f"| {full['hdr_flip']:.4f} | – | {full['hl2w_light_ratio']:.3f} | "
            f"{full['hl_p999_ratio']:.3f} |") in table


def test_table_of_records_without_highlight_keys():
    """Records cached before the highlight metrics existed: "–" in their columns."""
    from gainmlp.evaluation.report import markdown_table, mean_table

    old = {"label": "x", "psnr": 40.0, "ssim": 0.9, "delta_e00": 1.0, "delta_e_itp": 2.0,
           "pu21_psnr": 41.0, "cvvdp_jod": None, "payload_bytes": 2048, "bpp": 0.1,
           "encode_seconds": 1.0}
    dimmed = old | {"hdr_flip": 0.05, "hl_light_ratio": 0.8, "hl2w_light_ratio": 0.9,
                    "hl_p999_ratio": 0.85}
    line = markdown_table(mean_table([old], ("label",)), ("label",)).splitlines()[-1]
    assert line.startswith("| x | 40.00 |") and line.count("–") == 9
    line = markdown_table(mean_table([old, dimmed], ("label",)), ("label",)).splitlines()[-1]
    assert "| 0.0500 | 0.800 | 0.900 | 0.850 | 2.0 |" in line
