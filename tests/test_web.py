"""The JavaScript decoder (web/) against the Python decoder.

* Node's test runner on the plain-JS path (web/test/*.test.mjs) with fixtures this side
  writes (tests/web_fixtures.py): every body version, JPEG layouts, corrupt files;
* ``node web/cli.mjs decode`` writes the PNG ``gainmlp decode`` writes (within 1e-4 PQ);
* the WebGL2 path and the HTML report in a headless Chromium (web/test/browser.test.mjs).

Skipped, with the reason, when Node, Chromium or playwright-core is absent; ``.ci/run``
installs them and sets ``GAINMLP_REQUIRE_BROWSER=1``, which turns those skips into failures.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import web_fixtures

from gainmlp.cli import main

REPO = Path(__file__).resolve().parents[1]
WEB = REPO / "web"
NODE = shutil.which("node")
CHROMIUM = os.environ.get("GAINMLP_CHROMIUM", "/usr/bin/chromium")
REQUIRED = os.environ.get("GAINMLP_REQUIRE_BROWSER") == "1"


def _skip(reason: str) -> None:
    if REQUIRED:
        pytest.fail(f"{reason} (GAINMLP_REQUIRE_BROWSER=1)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if NODE is None:
        _skip("node is not installed (the JavaScript tests need Node 20+)")
    out = tmp_path_factory.mktemp("web-fixtures")
    web_fixtures.write_fixtures(out)
    return out


def _node(args: list[str], env: dict[str, str], timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([NODE, *args], cwd=WEB, env={**os.environ, **env}, capture_output=True,
                          text=True, timeout=timeout)


def _passed(result: subprocess.CompletedProcess) -> None:
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-6000:]
    assert "# fail 0" in result.stdout and "# pass 0" not in result.stdout, out[-3000:]


def test_plain_js_decoder_agrees_with_python(fixtures: Path) -> None:
    tests = ["test/decode.test.mjs", "test/jpeg.test.mjs", "test/payload.test.mjs"]
    result = _node(["--test", *tests], {"GAINMLP_WEB_FIXTURES": str(fixtures)})
    _passed(result)
    assert "# skipped 0" in result.stdout


def test_fixtures_cover_every_body_version_and_the_python_errors(fixtures: Path) -> None:
    import json

    manifest = json.loads((fixtures / "manifest.json").read_text())
    versions = {(e["method"].endswith("-mlp"), e["body_version"]) for e in manifest["payloads"]}
    assert {(True, 1), (True, 2), (True, 3), (False, 1)} <= versions
    messages = {e["name"]: e["message"] for e in manifest["errors"]}
    assert messages["crc"] == "payload CRC-32 mismatch: the file is corrupt"
    assert messages["truncated-in-scan"].endswith("image data is corrupt or truncated")
    assert all(messages.values())
    weights = {e["weight"] for e in manifest["headroom"]}
    assert 0.0 in weights and 1.0 in weights and any(0.2 < w < 0.8 for w in weights)


@pytest.mark.parametrize("name", ["v2-gamma-default", "v3-gamma-bilateral-u8", "v1-gain-fp16-relu",
                                  "itm-fp16", "conv-gain-jpeg"])
def test_node_cli_writes_the_png_python_writes(fixtures: Path, tmp_path: Path, name: str) -> None:
    from gainmlp.io import read_hdr
    from gainmlp.io.png import png_header

    src = fixtures / f"{name}.jpg"
    result = _node(["cli.mjs", "decode", str(src), "-o", str(tmp_path / "js.png")], {})
    assert result.returncode == 0, result.stderr
    assert main(["decode", str(src), "-o", str(tmp_path / "py.png")]) == 0
    js, py = read_hdr(tmp_path / "js.png"), read_hdr(tmp_path / "py.png")
    assert js.shape == py.shape
    assert float(np.abs(js - py).max()) <= 1e-4
    js_head = png_header((tmp_path / "js.png").read_bytes())
    assert js_head == png_header((tmp_path / "py.png").read_bytes())
    assert js_head[2:] == (16, bytes([9, 16, 0, 1]))


@pytest.mark.parametrize("name", web_fixtures.HEADROOM_FIXTURES)
def test_node_cli_headroom_renders_as_python(fixtures: Path, tmp_path: Path, name: str) -> None:
    """``node cli.mjs decode --headroom`` (no, some, ample headroom) against
    ``gainmlp.photo.decode_file(..., headroom=h)``, and ``gainmlp decode --headroom``'s PNG."""
    from gainmlp import photo
    from gainmlp.io import read_hdr

    src = fixtures / f"{name}.jpg"
    data = src.read_bytes()
    full = photo.decode_file(data, src.name)[1]
    for stops in web_fixtures.HEADROOM_STOPS:
        out = tmp_path / f"js-{stops}.f32"
        result = _node(["cli.mjs", "decode", str(src), "--headroom", str(stops), "-o", str(out)],
                       {})
        assert result.returncode == 0, result.stderr
        py = photo.decode_file(data, src.name, headroom=stops)[1]
        js = np.fromfile(out, "<f4").reshape(py.shape)
        assert float(np.abs(js - py).max()) <= 1e-4
        # 0 stops is the SDR in HDR space, 2 stops between it and the HDR, 16 the HDR
        assert (float(np.abs(py - full).max()) > 0.05) == (stops < 16)
    js_png, py_png = tmp_path / "js.png", tmp_path / "py.png"
    result = _node(["cli.mjs", "decode", str(src), "--headroom", "2", "-o", str(js_png)], {})
    assert result.returncode == 0, result.stderr
    assert main(["decode", str(src), "--headroom", "2", "-o", str(py_png)]) == 0
    assert float(np.abs(read_hdr(js_png) - read_hdr(py_png)).max()) <= 1e-4


def test_node_cli_refuses_a_bad_headroom_like_gainmlp_decode(fixtures: Path, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture) -> None:
    src = fixtures / "v2-gamma-default.jpg"
    for stops in ("-1", "nan", "inf"):
        result = _node(["cli.mjs", "decode", str(src), "--headroom", stops, "-o",
                        str(tmp_path / "js.png")], {})
        assert main(["decode", str(src), "--headroom", stops, "-o", str(tmp_path / "py.png")]) == 2
        python_line = capsys.readouterr().err.strip().splitlines()[-1]
        assert result.returncode == 2
        assert result.stderr.strip() == python_line
        assert not (tmp_path / "js.png").exists()
    result = _node(["cli.mjs", "decode", str(src), "--headroom", "two", "-o",
                    str(tmp_path / "js.png")], {})
    assert result.returncode == 2
    assert "argument --headroom: invalid float value: 'two'" in result.stderr


def test_node_cli_decodes_a_bare_payload_with_its_sdr_png(fixtures: Path, tmp_path: Path) -> None:
    import golden

    from gainmlp.io import read_hdr

    payload, sdr = golden.PAYLOAD_DIR / "v3-gamma-mixed.gmlp", golden.PAYLOAD_DIR / "sdr.png"
    result = _node(["cli.mjs", "decode", str(payload), "--sdr", str(sdr), "-o",
                    str(tmp_path / "js.png")], {})
    assert result.returncode == 0, result.stderr
    assert main(["decode", str(payload), "--sdr", str(sdr), "-o", str(tmp_path / "py.png")]) == 0
    js, py = read_hdr(tmp_path / "js.png"), read_hdr(tmp_path / "py.png")
    assert float(np.abs(js - py).max()) <= 1e-4


def test_node_cli_errors_like_gainmlp_decode(fixtures: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture) -> None:
    for case in ("crc", "truncated-in-scan", "wrong-size", "no-payload"):
        src = fixtures / "errors" / f"{case}.jpg"
        result = _node(["cli.mjs", "decode", str(src), "-o", str(tmp_path / "js.png")], {})
        assert main(["decode", str(src), "-o", str(tmp_path / "py.png")]) == 2
        python_line = capsys.readouterr().err.strip().splitlines()[-1]
        assert result.returncode == 2
        assert result.stderr.strip() == python_line
        assert not (tmp_path / "js.png").exists() and not (tmp_path / "py.png").exists()


def _browser_missing() -> str | None:
    if NODE is None:
        return "node is not installed"
    if not Path(CHROMIUM).exists():
        return f"Chromium is not installed at {CHROMIUM} (.ci/run installs Debian's chromium)"
    if not (WEB / "node_modules" / "playwright-core").is_dir():
        return "playwright-core is not installed (npm ci --prefix web)"
    return None


def test_webgl_decoder_and_report_in_headless_chromium(fixtures: Path, tmp_path: Path,
                                                       pair) -> None:
    reason = _browser_missing()
    if reason:
        _skip(reason)
    from PIL import Image

    from gainmlp.colorimetry import SdrEncoding
    from gainmlp.evaluation.html_report import make_report
    from gainmlp.image import SdrImage
    from gainmlp.options import EncodeOptions

    sdr_u8, hdr = pair
    report = make_report(SdrImage(sdr_u8, SdrEncoding()), hdr, tmp_path / "report",
                         options=EncodeOptions(steps=40, batch=2048), progress=False)
    shot = tmp_path / "report.png"
    result = _node(["--test", "test/browser.test.mjs"],
                   {"GAINMLP_WEB_FIXTURES": str(fixtures), "GAINMLP_REPORT_DIR": str(report.parent),
                    "GAINMLP_SCREENSHOT": str(shot)}, timeout=600)
    print("\n".join(line.replace("# \\# ", "") for line in result.stdout.splitlines()
                    if line.startswith(("# \\#", "# #"))))
    _passed(result)
    assert "# skipped 0" in result.stdout
    picture = np.asarray(Image.open(shot).convert("L"), dtype=np.float32)
    assert picture.shape[1] == 1280 and picture.std() > 10  # a page, not a blank screen
