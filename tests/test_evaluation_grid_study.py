"""The grid study on a tiny pair: rows, resume, tables and the seed report."""

from __future__ import annotations

import pytest

from gainmlp.errors import GainMLPError
from gainmlp.evaluation import grid_study as gs
from gainmlp.scene import demo_scene


@pytest.fixture
def study(tmp_path):
    import OpenEXR

    data = tmp_path / "data"
    data.mkdir()
    OpenEXR.File({}, {"RGB": demo_scene(24, 32, seed=4)}).write(str(data / "tiny.exr"))
    return gs.Study(data, tmp_path / "rows.jsonl", tmp_path / "cache", size=0, steps=4,
                    batch=256)


def test_study_rows_resume_and_tables(study):
    pytest.importorskip("torch")  # its MLP configs fit with autograd (the gpu extra)
    names = ["gain-jpeg-s4", "plain", "g32x4u8+cos"]
    rows = gs.run_study(study, ["tiny"], ["drago"], names)
    assert [r["config"] for r in rows] == names
    assert all(r["size"] == 0 and r["steps"] == 4 and r["seed"] == 0 for r in rows)
    assert rows[1]["bytes"] > rows[0]["bytes"] > gs.PAYLOAD_OVERHEAD
    assert len(gs.read_rows(study.out)) == 3
    # resumed: nothing is fitted again, the rows come from the file
    again = gs.run_study(study, ["tiny"], ["drago"], names, resume=True)
    assert again == rows and len(gs.read_rows(study.out)) == 3

    tables = gs.study_tables(rows, names, ["tiny"], ["drago"])
    assert "| config | drago | all | KB | s/fit |" in tables
    assert f"| tiny | drago | {rows[0]['psnr']:.2f} / " in tables
    report = gs.seed_report(rows + [dict(rows[1], psnr=rows[1]["psnr"] + 1.0)], names,
                            ["tiny"], ["drago"])
    assert "| plain | 2 | 1.00 | 1.00 |" in report


def test_rows_of_other_methods_and_unknown_configs():
    assert gs.row_name("plain", "gain-mlp") == "gain:plain"
    assert gs.row_name("gamma-jpeg-s2", "direct-mlp") == "gamma-jpeg-s2"
    assert gs.row_name("auto", "gamma-mlp") == "auto"
    gs.check_configs(["plain", "auto+cos"])
    with pytest.raises(GainMLPError, match="unknown config 'g7'"):
        gs.check_configs(["g7"])
