"""``gainmlp bench photos`` (gainmlp.evaluation.photos): a folder of gain-map photos (and an
HDR image made into one) becomes a table, a CSV and an RD plot; the conventional map is
matched to our bytes."""

from __future__ import annotations

import csv
import json

import pytest
from conftest import synthetic_pair

from gainmlp.cli import main
from gainmlp.colorimetry import SdrEncoding
from gainmlp.container.ultrahdr import ultrahdr_from_pair
from gainmlp.errors import GainMLPError
from gainmlp.image import SdrImage
from gainmlp.options import EncodeOptions

pytest.importorskip("torch")

from gainmlp.evaluation import photos  # noqa: E402

FAST = EncodeOptions(steps=60, batch=512, target_psnr=35.0)


@pytest.fixture(autouse=True)
def _one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GAINMLP_THREADS", "1")


@pytest.fixture
def photo_dir(tmp_path):
    """A folder with one tiny Ultra HDR file, one plain JPEG and one small EXR."""
    import gainmlp.io as imageio
    from gainmlp.colorimetry import pq_decode

    folder = tmp_path / "in"
    folder.mkdir()
    sdr_u8, hdr = synthetic_pair(48, 64)
    data, _ = ultrahdr_from_pair(SdrImage(sdr_u8, SdrEncoding()), hdr, scale=2)
    (folder / "tiny_ultrahdr.jpg").write_bytes(data)
    (folder / "plain.jpg").write_bytes(imageio.encode_sdr_jpeg(sdr_u8))
    imageio.write_hdr(folder / "scene.exr", hdr[:32, :40])
    assert pq_decode(hdr).max() > 100  # an HDR scene, not an SDR one
    return folder


def test_bench_photos_writes_the_table_csv_and_plot(tmp_path, photo_dir) -> None:
    out = tmp_path / "out"
    rows = photos.run_photos([photo_dir], out, options=FAST, tmos=("reinhard-devlin",))
    by_file = {r["file"]: r for r in rows}
    assert set(by_file) == {"plain.jpg", "scene (reinhard-devlin)", "tiny_ultrahdr.jpg"}
    assert "gain-map" in by_file["plain.jpg"]["skipped"]
    tiny = by_file["tiny_ultrahdr.jpg"]
    assert tiny["width"] == 64 and tiny["height"] == 48 and tiny["map"] == "32x24x3"
    assert tiny["original_map_bytes"] > 0 and tiny["bytes"] > 4000
    assert tiny["config"].endswith("w16 fp16") and tiny["psnr"] > 30
    assert tiny["fixed_bytes"] == 8885 and tiny["cost_ratio"] > 0
    assert by_file["scene (reinhard-devlin)"]["source"] == "ultrahdr from scene.exr"
    table = (out / "table.md").read_text()
    assert "| tiny_ultrahdr.jpg |" in table and "**mean**" in table
    # highlights: the synthetic scene peaks at 1,000 cd/m2 (nothing above it); SDR white
    # 203, so hl2w counts the light above 406 cd/m2
    assert tiny["hl_light_ratio"] is None and tiny["hl2w_fraction"] > 0
    for prefix in ("", "fixed_", "conv_"):
        assert abs(tiny[f"{prefix}hl2w_light_ratio"] - 1.0) < 0.05, prefix
    assert 0.0 < tiny["hdr_flip"] < 0.2 and "fixed_hdr_flip" not in tiny
    assert "| HL light | p99.9 | conv. HL light | FLIP |" in table
    assert "Skipped plain.jpg" in table and "target 35.0 dB" in table
    with open(out / "results.csv") as fh:
        assert len(list(csv.DictReader(fh))) == 3
    assert len(json.loads((out / "results.json").read_text())) == 3
    assert (out / "rd.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # a second run reads every record from the cache
    again = photos.run_photos([photo_dir], out, options=FAST, tmos=("reinhard-devlin",))
    assert again == rows


def test_conventional_map_lands_within_ten_percent(photo_dir) -> None:
    photo = photos.load_photo((photo_dir / "tiny_ultrahdr.jpg").read_bytes())
    for target in (900, 2000):
        conv = photos.conventional_at_bytes(photo, target)
        assert conv["conv_matched"]
        assert abs(conv["conv_bytes"] - target) <= photos.MATCH_TOLERANCE * target
        assert 20 < conv["conv_psnr"] < 99
    # more bytes buy a better map
    assert photos.conventional_at_bytes(photo, 3000)["conv_psnr"] >= \
        photos.conventional_at_bytes(photo, 600)["conv_psnr"]


def test_bench_photo_measures_the_highlights(tmp_path) -> None:
    """A photo with highlights above 1,000 cd/m2: ours, the default and the conventional
    map keep their light; a record without the highlight keys (cached before they existed)
    shows "–" in the table."""
    from gainmlp.colorimetry import pq_decode, pq_encode

    sdr_u8, hdr = synthetic_pair(48, 64)
    nits = pq_decode(hdr.astype("float64"))
    nits[:, -16:] *= 4.0  # the brightest columns up to ~4,000 cd/m2
    data, _ = ultrahdr_from_pair(SdrImage(sdr_u8, SdrEncoding()), pq_encode(nits), scale=2)
    record = photos.bench_photo(photos.PhotoFile("bright.jpg", data, "file"), "gamma-mlp",
                                FAST)
    assert record["hl_fraction"] > 0.1
    for prefix in ("", "fixed_", "conv_"):
        assert abs(record[f"{prefix}hl_light_ratio"] - 1.0) < 0.05, prefix
        assert abs(record[f"{prefix}hl_p999_ratio"] - 1.0) < 0.05, prefix
    assert record["hl_rel_err_p50"] <= record["hl_rel_err_p99"]
    old = {k: v for k, v in record.items() if "hl_" not in k and "flip" not in k}
    line = photos.markdown_table([old]).splitlines()[2]
    assert line.endswith("| – | – | – | – |")
    line = photos.markdown_table([record]).splitlines()[2]
    assert f"| {record['hl_light_ratio']:.3f} | {record['hl_p999_ratio']:.3f} |" in line


def test_markdown_table_lists_skipped_files_only() -> None:
    text = photos.markdown_table([{"file": "x.jpg", "source": "file", "skipped": "no map"}])
    assert "Skipped x.jpg: no map" in text and "**mean**" not in text


def test_cli_bench_photos_passes_the_folders_and_target(tmp_path, monkeypatch) -> None:
    seen = {}

    def fake(dirs, out, options=None, tmos=(), long_side=None, cache=None):
        seen.update(dirs=dirs, options=options, tmos=tmos)
        return []

    monkeypatch.setattr(photos, "run_photos", fake)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()  # bench checks its DATA_DIRs are folders before the work
    assert main(["bench", "photos", str(tmp_path / "a"), str(tmp_path / "b"), "-o",
                 str(tmp_path / "o"), "--target-psnr", "44", "--max-bytes", "20000",
                 "--tmo", "local"]) == 0
    assert [p.name for p in seen["dirs"]] == ["a", "b"] and seen["tmos"] == ("local",)
    assert seen["options"].target_psnr == 44.0 and seen["options"].max_bytes == 20000


def test_cli_bench_other_experiments_take_one_folder(tmp_path, capsys) -> None:
    assert main(["bench", "table4", str(tmp_path), str(tmp_path), "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "takes one DATA_DIR" in err[0]


def test_missing_folder_is_one_error(tmp_path) -> None:
    with pytest.raises(GainMLPError, match="no such folder"):
        photos.collect([tmp_path / "nope"], tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(GainMLPError, match="no JPEG or HDR image"):
        photos.collect([tmp_path / "empty"], tmp_path)
