"""The JavaScript decoder as an npm package (web/): its types, what ``npm pack`` ships, the
standard gain-map JPEGs it decodes (Node and headless Chromium, against the Python
decoder), its command line (``--help``, ``--use-gainmap``, ``.exr``) and the example gallery.

Fixtures are generated here (``tests/web_gainmap_fixtures.py``: gainmlp's own
``--container ultrahdr`` and default-container output, ISO-only, Adobe, HDR-base and Apple
layouts); the third-party files of ``/work/shared/data/gainmap`` (``$GAINMLP_GAINMAP_DIR``)
join them when present. Skipped, with the reason, when Node, npm, TypeScript, Chromium or
playwright-core is absent; ``GAINMLP_REQUIRE_BROWSER=1`` (``.ci/run``) turns those skips
into failures.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import web_gainmap_fixtures

from gainmlp.cli import main

REPO = Path(__file__).resolve().parents[1]
WEB = REPO / "web"
NODE = shutil.which("node")
NPM = shutil.which("npm")
CHROMIUM = os.environ.get("GAINMLP_CHROMIUM", "/usr/bin/chromium")
REQUIRED = os.environ.get("GAINMLP_REQUIRE_BROWSER") == "1"


def _skip(reason: str) -> None:
    if REQUIRED:
        pytest.fail(f"{reason} (GAINMLP_REQUIRE_BROWSER=1)")
    pytest.skip(reason)


def _node(args: list[str], env: dict[str, str] | None = None, timeout: int = 300,
          cwd: Path = WEB) -> subprocess.CompletedProcess:
    if NODE is None:
        _skip("node is not installed (the JavaScript tests need Node 20+)")
    return subprocess.run([NODE, *args], cwd=cwd, env={**os.environ, **(env or {})},
                          capture_output=True, text=True, timeout=timeout)


def _passed(result: subprocess.CompletedProcess) -> None:
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-6000:]
    assert "# fail 0" in result.stdout and "# pass 0" not in result.stdout, out[-3000:]
    assert "# skipped 0" in result.stdout, out[-3000:]


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if NODE is None:
        _skip("node is not installed (the JavaScript tests need Node 20+)")
    out = tmp_path_factory.mktemp("web-gainmap-fixtures")
    web_gainmap_fixtures.write_gainmap_fixtures(out, web_gainmap_fixtures.shared_dir())
    return out


# --------------------------------------------------------------------------- the package


def test_hand_written_types_check_with_tsc() -> None:
    tsc = WEB / "node_modules" / "typescript" / "bin" / "tsc"
    if not tsc.is_file():
        _skip("typescript is not installed (npm ci --prefix web)")
    result = _node([str(tsc), "-p", "tsconfig.json"])
    assert result.returncode == 0, result.stdout + result.stderr


def test_types_declare_every_export_and_the_package_resolves_by_name() -> None:
    _passed(_node(["--test", "test/package.test.mjs"]))


def test_npm_pack_ships_only_what_a_user_needs() -> None:
    if NPM is None:
        _skip("npm is not installed")
    result = subprocess.run([NPM, "pack", "--dry-run", "--json", "--ignore-scripts"], cwd=WEB,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    packed = json.loads(result.stdout)[0]
    files = {f["path"] for f in packed["files"]}
    modules = {p.name for p in WEB.glob("*.mjs")}
    types = {f"types/{p.name}" for p in (WEB / "types").glob("*.d.ts")}
    assert files == modules | types | {"package.json", "README.md", "LICENSE"}
    assert {"gainmlp.mjs", "worker.mjs", "cli.mjs", "gainmap.mjs", "exr.mjs",
            "types/gainmlp.d.ts"} <= files
    assert not any(f.startswith(("test/", "examples/", "node_modules/")) for f in files)
    package = json.loads((WEB / "package.json").read_text())
    assert packed["name"] == package["name"] and "private" not in package
    assert package["license"] == "BSD-3-Clause" and package["bin"] == {"gainmlp-web": "./cli.mjs"}
    assert set(package["exports"]) >= {".", "./display", "./cli"}
    assert (WEB / "LICENSE").read_text().startswith("BSD 3-Clause License")


# --------------------------------------------------------------------------- decoding


def test_node_decodes_every_gain_map_file_as_python(fixtures: Path) -> None:
    result = _node(["--test", "test/gainmap.test.mjs"],
                   {"GAINMLP_WEB_GAINMAP_FIXTURES": str(fixtures)})
    print("\n".join(line.replace("# \\# ", "") for line in result.stdout.splitlines()
                    if line.startswith("# \\#")))
    _passed(result)
    manifest = json.loads((fixtures / "manifest.json").read_text())
    names = {e["name"] for e in manifest["files"]}
    assert {"gm-ultrahdr", "gm-ultrahdr-mlp", "gm-iso-only", "gm-adobe-p3", "gm-hdr-base",
            "gm-no-mpf", "gm-mpf-repeated", "gm-map-p3", "gm-apple-xmp",
            "gm-apple-makernote"} <= names
    shared = web_gainmap_fixtures.shared_dir()
    if shared is not None:
        assert {f"shared-{p.stem}" for p in shared.glob("*.jpg")} <= names


def test_gain_map_fixtures_differ_with_headroom(fixtures: Path) -> None:
    """Guards the fixtures themselves: 0 stops, 1 stop and the full HDR are different
    renditions, so the headroom comparisons above can fail."""
    for name in ("gm-ultrahdr", "gm-adobe-p3", "gm-apple-xmp"):
        full = np.fromfile(fixtures / f"{name}-None.f32", "<f4")
        none = np.fromfile(fixtures / f"{name}-0.0.f32", "<f4")
        one = np.fromfile(fixtures / f"{name}-1.0.f32", "<f4")
        assert float(np.abs(full - none).max()) > 0.05
        assert float(np.abs(full - one).max()) > 0.01 and float(np.abs(one - none).max()) > 0.01


def test_gain_maps_and_the_gallery_in_headless_chromium(fixtures: Path, tmp_path: Path) -> None:
    if NODE is None:
        _skip("node is not installed")
    if not Path(CHROMIUM).exists():
        _skip(f"Chromium is not installed at {CHROMIUM} (.ci/run installs Debian's chromium)")
    if not (WEB / "node_modules" / "playwright-core").is_dir():
        _skip("playwright-core is not installed (npm ci --prefix web)")
    from PIL import Image

    shot = tmp_path / "gallery.png"
    result = _node(["--test", "test/gainmap_browser.test.mjs"],
                   {"GAINMLP_WEB_GAINMAP_FIXTURES": str(fixtures),
                    "GAINMLP_GALLERY_SCREENSHOT": str(shot)}, timeout=600)
    print("\n".join(line.replace("# \\# ", "") for line in result.stdout.splitlines()
                    if line.startswith("# \\#")))
    _passed(result)
    picture = np.asarray(Image.open(shot).convert("L"), dtype=np.float32)
    assert picture.shape[1] == 1280 and picture.std() > 10


# --------------------------------------------------------------------------- the command line


@pytest.mark.parametrize("command", [[], ["decode"], ["info"]])
def test_cli_help_for_every_command(command: list[str]) -> None:
    result = _node(["cli.mjs", *command, "--help"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: gainmlp-web " + (command[0] if command else "COMMAND"))
    if command == ["decode"]:
        for option in ("--headroom", "--use-gainmap", "--exr-white", ".exr", "--sdr"):
            assert option in result.stdout
    bad = _node(["cli.mjs", "resize", "x.jpg"])
    assert bad.returncode == 2 and bad.stderr.startswith("gainmlp: error: unknown command resize")


def _exr(path: Path) -> np.ndarray:
    import OpenEXR

    with OpenEXR.File(str(path)) as f:
        header = f.header()
        assert header["compression"] in (OpenEXR.ZIP_COMPRESSION, OpenEXR.PIZ_COMPRESSION)
        assert header["whiteLuminance"] == 100.0
        assert np.allclose(header["chromaticities"],
                           (0.708, 0.292, 0.17, 0.797, 0.131, 0.046, 0.3127, 0.329))
        return np.asarray(f.channels()["RGB"].pixels, dtype=np.float32)


@pytest.mark.parametrize("name", ["gm-ultrahdr", "gm-ultrahdr-mlp", "gm-adobe-p3", "gm-apple-xmp"])
def test_node_cli_writes_the_exr_gainmlp_decode_writes(fixtures: Path, tmp_path: Path,
                                                       name: str) -> None:
    """Half floats within one unit in the last place of ``gainmlp decode``'s (rounding of
    float32 values that straddle a half-float boundary)."""
    src = fixtures / f"{name}.jpg"
    result = _node(["cli.mjs", "decode", str(src), "-o", str(tmp_path / "js.exr")])
    assert result.returncode == 0, result.stderr
    assert main(["decode", str(src), "-o", str(tmp_path / "py.exr")]) == 0
    js, py = _exr(tmp_path / "js.exr"), _exr(tmp_path / "py.exr")
    assert js.shape == py.shape
    ulp = np.spacing(np.maximum(np.abs(py), 2.0 ** -14).astype(np.float16)).astype(np.float32)
    assert bool(np.all(np.abs(js - py) <= ulp))
    assert float(np.mean(js == py)) > 0.99


def test_node_cli_use_gainmap_png_and_f32_header(fixtures: Path, tmp_path: Path) -> None:
    from gainmlp.container import gainmap_jpeg
    from gainmlp.io import read_hdr

    src = fixtures / "gm-ultrahdr-mlp.jpg"
    data = src.read_bytes()
    for flag, want in (([], np.fromfile(fixtures / "gm-ultrahdr-mlp-None.f32", "<f4")),
                       (["--use-gainmap"], gainmap_jpeg.gainmap_jpeg_to_hdr_pq(
                           gainmap_jpeg.read_gainmap_jpeg(data)).ravel())):
        out = tmp_path / "js.png"
        result = _node(["cli.mjs", "decode", str(src), *flag, "-o", str(out)])
        assert result.returncode == 0, result.stderr
        assert ("gain map" in result.stdout) == bool(flag)
        assert float(np.abs(read_hdr(out).ravel() - want).max()) <= 1e-4
    out = tmp_path / "js.f32"
    result = _node(["cli.mjs", "decode", str(fixtures / "gm-iso-only.jpg"), "--headroom", "1",
                    "-o", str(out)])
    assert result.returncode == 0, result.stderr
    header = json.loads((tmp_path / "js.f32.json").read_text())
    assert header == {"width": 40, "height": 28, "channels": 3, "dtype": "float32",
                      "byteOrder": "little", "encoding": "pq-bt2020"}
    js = np.fromfile(out, "<f4")
    assert float(np.abs(js - np.fromfile(fixtures / "gm-iso-only-1.0.f32", "<f4")).max()) <= 1e-6


def test_node_cli_gain_map_errors_like_gainmlp_decode(fixtures: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture) -> None:
    data = (fixtures / "gm-ultrahdr.jpg").read_bytes()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(data[: len(data) - 200])  # the map's scan truncated
    for src, extra in ((cut, []), (fixtures / "gm-ultrahdr.jpg", ["--headroom", "17"])):
        result = _node(["cli.mjs", "decode", str(src), *extra, "-o", str(tmp_path / "js.png")])
        assert main(["decode", str(src), *extra, "-o", str(tmp_path / "py.png")]) == 2
        python_line = capsys.readouterr().err.strip().splitlines()[-1]
        assert result.returncode == 2, result.stdout
        assert result.stderr.strip().splitlines()[-1] == python_line
        assert not (tmp_path / "js.png").exists()


def test_truncated_gain_map_files_give_python_messages(fixtures: Path, tmp_path: Path) -> None:
    """Every cut of five layouts (19 each) fails, or decodes, as ``gainmlp.photo.decode_file``:
    the same one-line message."""
    import warnings

    from gainmlp import photo
    from gainmlp.errors import GainMLPError

    paths, expected = [], []
    for name in ("gm-ultrahdr", "gm-apple-makernote", "gm-iso-only", "gm-no-mpf", "gm-adobe-p3"):
        data = (fixtures / f"{name}.jpg").read_bytes()
        for k in range(1, 20):
            path = tmp_path / f"{name}-{k}.jpg"
            path.write_bytes(data[: len(data) * k // 20])
            paths.append(str(path))
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    photo.decode_file(path.read_bytes(), "x.jpg")
                expected.append(None)
            except GainMLPError as exc:
                expected.append(str(exc))
    script = ("import { readFileSync } from 'node:fs';\n"
              "import { decodeGainmlpSync } from './gainmlp.mjs';\n"
              "console.log(JSON.stringify(process.argv.slice(1).map((f) => {\n"
              "  try { decodeGainmlpSync(new Uint8Array(readFileSync(f)), { name: 'x.jpg' }); }\n"
              "  catch (e) { return e.name === 'GainMLPError' ? e.message : `${e.name}: ${e}`; }\n"
              "  return null;\n"
              "})));\n")
    result = _node(["--input-type=module", "-e", script, *paths])
    assert result.returncode == 0, result.stderr
    got = json.loads(result.stdout)
    assert got == expected
    assert sum(m is not None for m in expected) >= 80  # cuts that fail, with varied messages
    assert len(set(expected)) >= 5


def test_packed_tarball_installs_and_runs(fixtures: Path, tmp_path: Path) -> None:
    """``npm pack``, ``npm install`` of the tarball into an empty project (offline), then
    the installed package: ``import 'gainmlp'`` decodes a file and the ``gainmlp-web`` bin
    writes an EXR."""
    if NPM is None:
        _skip("npm is not installed")
    packed = subprocess.run([NPM, "pack", "--pack-destination", str(tmp_path), "--json",
                             "--ignore-scripts"], cwd=WEB, capture_output=True, text=True,
                            timeout=120)
    assert packed.returncode == 0, packed.stderr
    tarball = tmp_path / json.loads(packed.stdout)[0]["filename"]
    project = tmp_path / "project"
    project.mkdir()
    (project / "package.json").write_text('{"name": "app", "version": "1.0.0", "private": true}')
    installed = subprocess.run([NPM, "install", "--offline", "--no-audit", "--no-fund",
                                "--ignore-scripts", str(tarball)], cwd=project,
                               capture_output=True, text=True, timeout=120)
    assert installed.returncode == 0, installed.stderr
    src = fixtures / "gm-adobe-p3.jpg"
    script = ("import { decodeGainmlp } from 'gainmlp';\n"
              f"const r = await decodeGainmlp({json.dumps(str(src))}, {{ headroom: 1 }});\n"
              "console.log(JSON.stringify([r.source, r.gainmap.flavour, r.width, r.height]));\n")
    result = _node(["--input-type=module", "-e", script], cwd=project)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == ["gainmap", "adobe", 40, 28]
    out = tmp_path / "out.exr"
    result = subprocess.run([str(project / "node_modules" / ".bin" / "gainmlp-web"), "decode",
                             str(src), "-o", str(out)], cwd=project, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert out.read_bytes()[:4] == b"\x76\x2f\x31\x01"


def test_node_cli_info_describes_the_payload_or_the_gain_map(fixtures: Path) -> None:
    from gainmlp.container import gainmap_jpeg

    both = fixtures / "gm-ultrahdr-mlp.jpg"
    result = _node(["cli.mjs", "info", str(both)])
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert (info["kind"], info["method"], info["width"], info["height"]) == \
        ("payload", "gamma-mlp", 40, 28)
    for src, flag in ((both, ["--use-gainmap"]), (fixtures / "gm-adobe-p3.jpg", [])):
        result = _node(["cli.mjs", "info", str(src), *flag])
        assert result.returncode == 0, result.stderr
        info = json.loads(result.stdout)
        gm = gainmap_jpeg.read_gainmap_jpeg(src.read_bytes())
        assert (info["kind"], info["flavour"], info["source"], info["colourSpace"]) == \
            ("gainmap", gm.flavour, gm.metadata_source, gm.colour_space)
        meta = info["metadata"]
        assert np.allclose(meta["gainMapMax"], gm.metadata.gain_map_max, rtol=0, atol=1e-12)
        assert np.allclose(meta["gamma"], gm.metadata.gamma, rtol=0, atol=1e-12)
        assert meta["hdrCapacityMax"] == pytest.approx(gm.metadata.hdr_capacity_max, abs=1e-12)


def test_node_cli_refuses_outputs_and_inputs_as_gainmlp_decode(fixtures: Path, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture
                                                              ) -> None:
    """A FIFO, a symbolic link, a folder or the input itself as the output, a missing or
    non-regular input: the same one-line message as ``gainmlp decode``, nothing written,
    the special files left as they were."""
    src = tmp_path / "in.jpg"
    src.write_bytes((fixtures / "gm-iso-only.jpg").read_bytes())
    fifo = tmp_path / "fifo.png"
    os.mkfifo(fifo)
    link = tmp_path / "link.png"
    link.symlink_to(tmp_path / "elsewhere.png")
    folder = tmp_path / "folder.png"
    folder.mkdir()
    hard = tmp_path / "hard.png"
    os.link(src, hard)
    cases = [[str(src), "-o", str(fifo)], [str(src), "-o", str(link)],
             [str(src), "-o", str(folder)], [str(src), "-o", str(hard)],
             [str(src), "-o", str(tmp_path / "missing" / "x.png")],
             [str(tmp_path / "none.jpg"), "-o", str(tmp_path / "x.png")],
             [str(fifo), "-o", str(tmp_path / "x.png")]]
    for args in cases:
        result = _node(["cli.mjs", "decode", *args], timeout=60)
        assert main(["decode", *args]) == 2
        python_line = capsys.readouterr().err.strip().splitlines()[-1]
        assert result.returncode == 2, args
        assert result.stderr.strip() == python_line, args
    assert fifo.is_fifo() and link.is_symlink() and not (tmp_path / "elsewhere.png").exists()
    assert hard.read_bytes() == src.read_bytes() and not (tmp_path / "x.png").exists()
