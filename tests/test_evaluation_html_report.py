"""``gainmlp report`` (gainmlp.evaluation.html_report): the page, its images, the bundled
JavaScript decoder, and ``gainmlp demo`` writing one. (The page running in a browser is
tested in test_web.py.)"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess

import numpy as np
import pytest

from gainmlp.cli import main
from gainmlp.colorimetry import SdrEncoding
from gainmlp.errors import GainMLPError
from gainmlp.evaluation import html_report
from gainmlp.image import SdrImage
from gainmlp.options import EncodeOptions

QUICK = EncodeOptions(steps=20, batch=1024)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    from conftest import synthetic_pair

    sdr_u8, hdr = synthetic_pair(32, 48, seed=2)
    out = tmp_path_factory.mktemp("report")
    path = html_report.make_report(SdrImage(sdr_u8, SdrEncoding()), hdr, out / "r",
                                   ("gamma-mlp", "gain-jpeg"), QUICK, progress=False)
    return path, sdr_u8, hdr


def _script(page: str, element_id: str) -> str:
    return re.search(rf'<script id="{element_id}"[^>]*>(.*?)</script>', page, re.S).group(1)


def test_report_writes_the_page_and_every_image(report) -> None:
    import imagecodecs

    from gainmlp.io import read_sdr

    path, sdr_u8, hdr = report
    files = {p.name for p in path.parent.iterdir()}
    assert {"index.html", "sdr.png", "hdr.avif"} <= files
    for method in ("gamma-mlp", "gain-jpeg"):
        assert {f"{method}.avif", f"{method}.jpg", f"{method}-error.png"} <= files
    for name in ("hdr.avif", "gamma-mlp.avif"):
        image = imagecodecs.avif_decode((path.parent / name).read_bytes())
        assert image.shape == hdr.shape and image.dtype == np.uint16 and image.max() < 1024
    np.testing.assert_array_equal(read_sdr(path.parent / "sdr.png").pixels, sdr_u8)
    page = path.read_text()
    for src in re.findall(r'src="([^"]+)"', page):
        assert (path.parent / src).is_file(), src
    assert page.count('class="view"') == 7  # SDR, HDR, 2 x (reconstruction, error), JS canvas
    assert "<td>gamma-mlp</td>" in page and "<td>gain-jpeg</td>" in page
    assert not re.search(r"\{\{[A-Z_0-9]+\}\}", page)  # every placeholder filled


def test_page_carries_the_photo_and_python_values_for_its_js_decoder(report) -> None:
    from gainmlp import photo

    path, _sdr, hdr = report
    page = path.read_text()
    jpeg = base64.b64decode(_script(page, "gainmlp-jpeg"))
    assert jpeg == (path.parent / "gamma-mlp.jpg").read_bytes()
    samples = json.loads(_script(page, "python-samples"))
    rebuilt = photo.decode_photo(jpeg).reshape(-1, 3)
    np.testing.assert_allclose(np.asarray(samples["values"]).reshape(-1, 3),
                               rebuilt[samples["index"]], atol=1e-7)
    assert len(samples["index"]) == min(html_report.N_SAMPLES, hdr.shape[0] * hdr.shape[1])


def test_error_map_is_zero_for_a_perfect_reconstruction_and_grows_with_the_error(pair) -> None:
    _sdr, hdr = pair
    assert np.all(html_report.error_map(hdr, hdr) == 0)
    worse = html_report.error_map(hdr, np.clip(hdr + 0.02, 0, 1))
    worst = html_report.error_map(hdr, np.clip(hdr + 0.05, 0, 1))
    assert 0 < worse.mean() < worst.mean()
    picture = html_report.heat_map(np.array([[0.0, html_report.ERROR_MAX, 100.0]]))
    assert picture.dtype == np.uint8 and np.array_equal(picture[0, 1], picture[0, 2])


def _bundle() -> str:
    """The decoder bundle built from web/ in a source checkout; in an installed package
    (CI's run without torch), the one shipped with it."""
    if (html_report.WEB_DIR / "gainmlp.mjs").is_file():
        return html_report.bundle_web()
    return html_report.packaged_bundle()


def test_bundle_defines_the_decoder_api() -> None:
    script = _bundle()
    assert script.startswith("(function () {") and "window.gainmlp = {" in script
    api = re.search(r"window\.gainmlp = \{ ([^}]*) \}", script).group(1).split(", ")
    assert {"decodeGainmlp", "drawHdr", "GainMLPError"} <= set(api)
    assert not re.search(r"^(import|export) ", script, re.M) and "</script" not in script


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_bundle_decodes_the_reports_photo_in_node(report, tmp_path) -> None:
    from gainmlp import photo

    path, _sdr, _hdr = report
    (tmp_path / "bundle.js").write_text(_bundle())
    code = ("const vm = require('vm'), fs = require('fs'); const ctx = { window: {}, performance };"
            "vm.createContext(ctx); vm.runInContext(fs.readFileSync(process.argv[1], 'utf8'), ctx);"
            "const r = ctx.window.gainmlp.decodeGainmlpSync(new Uint8Array(fs.readFileSync("
            "process.argv[2]))); process.stdout.write(Buffer.from(r.hdr.buffer));")
    out = subprocess.run(["node", "-e", code, str(tmp_path / "bundle.js"),
                          str(path.parent / "gamma-mlp.jpg")], capture_output=True, check=True)
    js = np.frombuffer(out.stdout, dtype="<f4")
    python = photo.decode_photo((path.parent / "gamma-mlp.jpg").read_bytes()).reshape(-1)
    assert float(np.abs(js - python).max()) <= 1e-4


def test_report_refuses_bad_requests(tmp_path, pair) -> None:
    sdr_u8, hdr = pair
    sdr = SdrImage(sdr_u8, SdrEncoding())
    (tmp_path / "file").write_text("x")
    with pytest.raises(GainMLPError, match="is a file"):
        html_report.write_report(tmp_path / "file", sdr, hdr, [], progress=False)
    with pytest.raises(GainMLPError, match="unknown method"):
        html_report.run_methods(sdr, hdr, ["gamma-mlp", "nope"], QUICK)
    with pytest.raises(GainMLPError, match="named twice"):
        html_report.run_methods(sdr, hdr, ["gain-jpeg", "gain-jpeg"], QUICK)
    assert not any((tmp_path / "file").parent.glob("*.avif"))


def test_cli_report_with_methods(tmp_path, pair_files, capsys) -> None:
    sdr, hdr = pair_files
    out = tmp_path / "rep"
    assert main(["report", str(sdr), str(hdr), "-o", str(out), "--method", "gain-jpeg",
                 "--method", "gamma-jpeg", "-q"]) == 0
    assert f"wrote {out / 'index.html'}" in capsys.readouterr().out
    page = (out / "index.html").read_text()
    assert "<td>gain-jpeg</td>" in page and "<td>gamma-jpeg</td>" in page
    assert "gain-jpeg.jpg" in page  # no MLP method: the JS panel decodes the first photo
    assert main(["report", str(sdr), str(tmp_path / "missing.png"), "-o", str(out)]) == 2


def test_demo_writes_a_report_and_prints_its_path(tmp_path, capsys, monkeypatch) -> None:
    from gainmlp.evaluation import demo

    monkeypatch.setattr(demo, "demo_scene", _small_scene)
    path = demo.run_demo(tmp_path, "gamma-mlp", options=QUICK)
    assert path == tmp_path / "report" / "index.html" and path.is_file()
    assert f"report: {path}" in capsys.readouterr().out
    page = path.read_text()
    for method in ("gamma-mlp", "gain-jpeg", "gamma-jpeg"):
        assert f"<td>{method}</td>" in page


def _small_scene():
    from gainmlp.scene import demo_scene

    return demo_scene(32, 48, seed=1)


def test_rate_control_options_apply_to_the_mlp_methods_only(pair) -> None:
    sdr_u8, hdr = pair
    results = html_report.run_methods(SdrImage(sdr_u8, SdrEncoding()), hdr, ["gain-jpeg"],
                                      EncodeOptions(target_psnr=40.0), log=lambda _: None)
    assert results[0].method == "gain-jpeg" and results[0].payload_bytes > 40


def test_report_table_has_file_and_payload_levels(pair, tmp_path) -> None:
    """The page shows each JPEG's bytes, base bytes and PSNR beside the payload level."""
    from gainmlp.evaluation.evaluate import base_bytes

    sdr_u8, hdr = pair
    sdr = SdrImage(sdr_u8, SdrEncoding())
    (result,) = html_report.run_methods(sdr, hdr, ["gain-jpeg"], log=lambda _: None)
    assert result.payload_psnr is not None and np.isfinite(result.payload_psnr)
    page = html_report.write_report(tmp_path, sdr, hdr, [result]).read_text()
    for text in ("file (B)", "base (B)", "PSNR file (dB)", "PSNR lossless SDR (dB)",
                 f"<td>{len(result.jpeg)}</td><td>{base_bytes(result.jpeg)}</td>",
                 f"<td>{result.payload_psnr:.2f}</td>"):
        assert text in page, text


def test_report_table_has_flip_and_highlight_columns(pair, tmp_path) -> None:
    """HDR-FLIP, the light ratios (above 1,000 cd/m2: none in this pair, "–"; above twice
    the pair's 100 cd/m2 SDR white) and the p99.9 ratio of the file's reconstruction."""
    from gainmlp import metrics

    sdr_u8, hdr = pair
    sdr = SdrImage(sdr_u8, SdrEncoding())
    (result,) = html_report.run_methods(sdr, hdr, ["gain-jpeg"], log=lambda _: None)
    page = html_report.write_report(tmp_path, sdr, hdr, [result]).read_text()
    m = metrics.hdr_metrics(hdr, result.rebuilt, sdr_white_nits=100.0)
    assert m["hl_light_ratio"] is None and m["hl2w_light_ratio"] is not None
    for text in ("<th>HDR-FLIP</th>", "<th>p99.9 ratio</th>",
                 f"<td>{m['hdr_flip']:.4f}</td><td>–</td><td>{m['hl2w_light_ratio']:.3f}"
                 f"</td><td>{m['hl_p999_ratio']:.3f}</td>"):
        assert text in page, text


@pytest.mark.skipif(not (html_report.WEB_DIR / "gainmlp.mjs").is_file(),
                    reason="not a source checkout (no web/)")
def test_shipped_bundle_is_the_decoder_in_web() -> None:
    assert html_report.PACKAGED_BUNDLE.read_text() == html_report.bundle_web(), \
        "web/ changed: run python scripts/bundle_web.py"
