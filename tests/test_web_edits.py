"""The JavaScript decoder on edited files (payload header version 2, gainmlp.edits): the
Node CLI's float32 output against the Python decoder's, per body version and per view
(crops on and off the block grid, the eight orientations, thumbnails)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from gainmlp import edits, photo
from gainmlp.container.app11 import embed_payload
from gainmlp.container.payload import Payload
from gainmlp.io import read_sdr
from gainmlp.io.sdr import encode_sdr_jpeg

REPO = Path(__file__).resolve().parents[1]
WEB = REPO / "web"
PAYLOADS = REPO / "tests" / "fixtures" / "payloads"
NODE = shutil.which("node")
REQUIRED = os.environ.get("GAINMLP_REQUIRE_BROWSER") == "1"

#: Body versions 1-3 (plain, spatial grids, bilateral grids) and MLP-ITM.
BODIES = ["v1-gain-fp16-relu", "v2-gamma-default", "v3-gamma-mixed", "itm-fp16"]
#: (name, edit) pairs: every orientation once, crops on and off the 8x8 grid, a thumbnail.
EDITS = [("crop-aligned", edits.Edit(box=(8, 8, 24, 16))),
         ("crop-odd", edits.Edit(box=(3, 5, 29, 17))),
         *[(f"orient{o}", edits.Edit(orientation=o)) for o in range(2, 9)],
         ("rot90-crop", edits.Edit(orientation=6, box=(2, 7, 21, 30))),
         ("thumb", edits.Edit(size=(20, 14), thumbnail=True))]


def _photo(name: str) -> bytes:
    sdr = read_sdr(PAYLOADS / "sdr.png").pixels
    payload = (PAYLOADS / f"{name}.gmlp").read_bytes()
    return embed_payload(encode_sdr_jpeg(sdr, 95), payload)


def _js_decode(path: Path, out: Path) -> np.ndarray:
    # one thread: the same tables (mlp_cpu.prepareMlp) as the threaded path
    result = subprocess.run([NODE, "cli.mjs", "decode", str(path), "--threads", "1", "-o",
                             str(out)], cwd=WEB, capture_output=True, text=True, timeout=300,
                            check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    meta = json.loads(Path(f"{out}.json").read_text())
    return np.fromfile(out, dtype=np.float32).reshape(meta["height"], meta["width"], 3)


@pytest.mark.parametrize("body", BODIES)
def test_js_decoder_agrees_with_python_on_edited_files(tmp_path: Path, body: str) -> None:
    if NODE is None:
        if REQUIRED:
            pytest.fail("node is not installed (GAINMLP_REQUIRE_BROWSER=1)")
        pytest.skip("node is not installed (the JavaScript tests need Node 20+)")
    data = _photo(body)
    worst = 0.0
    for name, edit in EDITS:
        out, _ = edits.edit_jpeg(data, edit)
        view = Payload.from_bytes(photo.read_payload_bytes(out)).view
        assert view is not None, name  # every edit here gives a version-2 header
        path = tmp_path / f"{name}.jpg"
        path.write_bytes(out)
        py = photo.decode_photo(out)
        js = _js_decode(path, tmp_path / f"{name}.f32")
        assert js.shape == py.shape, name
        err = float(np.abs(js - py).max())
        assert err <= 1e-5, (name, err)
        worst = max(worst, err)
    print(f"{body}: worst |JS - Python| over {len(EDITS)} edits = {worst:.2e}")


def test_js_reads_the_view_block_like_python(tmp_path: Path) -> None:
    if NODE is None:
        pytest.skip("node is not installed")
    out, _ = edits.edit_jpeg(_photo("v2-gamma-default"), edits.Edit(orientation=7,
                                                                      box=(1, 2, 20, 30)))
    path = tmp_path / "e.jpg"
    path.write_bytes(out)
    result = subprocess.run([NODE, "cli.mjs", "info", str(path)], cwd=WEB, capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    payload = Payload.from_bytes(photo.read_payload_bytes(out))
    js_view = info.get("view") or info.get("payload", {}).get("view")
    assert js_view is not None, result.stdout[:2000]
    v = payload.view
    assert [js_view[k] for k in ("x0", "y0", "x1", "y1", "orientation")] == \
        [v.x0, v.y0, v.x1, v.y1, v.orientation]


def test_webgl_and_browser_cpu_agree_with_python_on_edited_files(tmp_path: Path) -> None:
    """Headless Chromium (web/test/edits_browser.test.mjs): the WebGL2 path, whose grid
    coordinates follow the view in the shader, and the browser's CPU path."""
    chromium = Path(os.environ.get("GAINMLP_CHROMIUM", "/usr/bin/chromium"))
    missing = ("node is not installed" if NODE is None else
               f"Chromium is not installed at {chromium}" if not chromium.exists() else
               "playwright-core is not installed (npm ci --prefix web)"
               if not (WEB / "node_modules" / "playwright-core").is_dir() else None)
    if missing:
        if REQUIRED:
            pytest.fail(f"{missing} (GAINMLP_REQUIRE_BROWSER=1)")
        pytest.skip(missing)
    names = []
    for body in ("v2-gamma-default", "v3-gamma-mixed", "itm-fp16"):
        data = _photo(body)
        for name, edit in [*EDITS[1::2], EDITS[-1]]:  # crop-odd, orient 3/5/7, thumbnail
            out, _ = edits.edit_jpeg(data, edit)
            stem = f"{body}-{name}"
            (tmp_path / f"{stem}.jpg").write_bytes(out)
            photo.decode_photo(out).astype(np.float32).tofile(tmp_path / f"{stem}.f32")
            names.append({"name": stem, "webgl": not body.startswith("itm")})  # no ITM shader
    (tmp_path / "manifest.json").write_text(json.dumps({"files": names}))
    result = subprocess.run([NODE, "--test", "test/edits_browser.test.mjs"], cwd=WEB,
                            env={**os.environ, "GAINMLP_EDIT_FIXTURES": str(tmp_path)},
                            capture_output=True, text=True, timeout=600, check=False)
    print("\n".join(line for line in result.stdout.splitlines() if "max |JS" in line))
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert "# fail 0" in result.stdout and "# skipped 0" in result.stdout, result.stdout[-2000:]
