"""Decode speed and peak memory of one 12-MP photo: gainmlp against libvips and libultrahdr.

Issue 19's benchmark. In one run, on one picture, it times:

* gainmlp's API decode of a gainmlp JPEG (SDR JPEG + MLP payload) to HDR floats, from the
  file's bytes, JPEG decoding included (``gainmlp.load_photo``, PQ BT.2020 float32):
  the best of ``--repeat`` calls in one warm process, and the first call of a fresh process;
* the whole ``gainmlp decode`` command (interpreter start and writing included) to .exr,
  .png and .avif;
* gainmlp decoding the same picture as a standard Ultra HDR JPEG to linear floats
  (``load_photo(..., linear=True)``), and the whole command to .exr;
* libvips (pyvips: ``uhdrload`` + ``uhdr2scRGB``, float32 scRGB) and libultrahdr
  (``imagecodecs.ultrahdr_decode``, float16 linear RGBA) decoding that Ultra HDR JPEG;
* Node decoding the gainmlp JPEG with ``web/cli.mjs`` to raw float32 (skipped, with a note,
  when ``node`` is missing);
* ``gainmlp --version`` (the import diet);
* the first decode with a cold numba cache (a fresh ``NUMBA_CACHE_DIR``), API and command.

Every measurement runs in its own child process, whose peak resident set comes from
``wait4``. The launcher imports nothing but the standard library and builds the pictures in
a child too: Linux carries a parent's peak into the ``ru_maxrss`` of every child it forks,
so the launcher must stay small. The numba cache is warmed first (every command once, on
the pictures and on small copies, untimed); the cold runs come before, each with its own
empty cache. Times are printed as a ratio to libvips, as a markdown table
(``--out FILE`` writes it too).

The pictures: an OpenEXR image of ``--data`` (default ``MtTamWest``; the demo scene when the
folder is missing) made into an SDR/HDR pair by gainmlp's pair maker, its payload fitted
with the default method on the pair at its own size (an MLP payload does not depend on the
image size), the SDR upscaled to ``--megapixels`` (4:3) with a little grain so the base is
photo-like (q95), the payload's size fields set to match. The Ultra HDR version is what
``gainmlp decode photo.jpg -o ultrahdr.jpg`` writes (the same picture as gainmlp decodes it,
with a standard gain map). Run::

    python benchmarks/decode_speed.py [--megapixels 12] [--repeat 3] [--keep DIR] [--out FILE]

The numbers depend on the machine and on what else runs on it: read the ratios.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
GAINMLP = [sys.executable, "-m", "gainmlp"]


# ------------------------------------------------------------------ in child processes


def child_build(folder: str, megapixels: float, data: str, image: str, grain: float) -> None:
    """Write photo.jpg (12 MP gainmlp JPEG), small.jpg (the same payload on the pair's own
    size, for warming caches), their Ultra HDR versions and about.json."""
    import numpy as np

    import gainmlp
    from gainmlp.colorimetry import SdrEncoding
    from gainmlp.container.app11 import embed_payload, extract_payload
    from gainmlp.io import encode_sdr_jpeg
    from gainmlp.pair import make_pair
    from gainmlp.resample import resize_bicubic_u8

    out = Path(folder)
    width = int(round((megapixels * 1e6 * 4 / 3) ** 0.5))
    height = int(round(width * 3 / 4))
    exr = Path(data) / f"{image}.exr"
    if exr.is_file():
        from gainmlp.io import read_hdr_linear

        linear, source = read_hdr_linear(exr), exr.name
    else:
        from gainmlp.scene import demo_scene

        linear, source = demo_scene(480, 640), "the demo scene"
    sdr_small, hdr_u16 = make_pair(linear, "bt2020", "reinhard-devlin")
    t0 = time.perf_counter()
    payload = gainmlp.encode(gainmlp.SdrImage(sdr_small, SdrEncoding()),
                             hdr_u16.astype(np.float32) / 65535.0)  # the default method
    fit_s = time.perf_counter() - t0
    (out / "small.jpg").write_bytes(embed_payload(encode_sdr_jpeg(sdr_small, 95),
                                                  payload.to_bytes()))
    payload.width, payload.height = width, height
    sdr = resize_bicubic_u8(sdr_small, width, height).astype(np.int16)
    if grain > 0:
        noise = np.random.default_rng(0).normal(0, grain, sdr.shape).round().astype(np.int16)
        sdr += noise
    sdr = np.clip(sdr, 0, 255).astype(np.uint8)
    photo = embed_payload(encode_sdr_jpeg(sdr, 95), payload.to_bytes())
    (out / "photo.jpg").write_bytes(photo)
    del sdr
    from PIL import Image  # the base as a decoder sees it: its colours after JPEG

    with Image.open(io.BytesIO(photo)) as im:
        base = np.asarray(im.convert("RGB")).reshape(-1, 3).astype(np.int32)
    colours = len(np.unique(base @ np.array([65536, 256, 1], np.int32)))
    del base
    for name in ("small", "photo"):  # the Ultra HDR versions, by gainmlp's own writer
        uhdr = out / f"{name}-ultrahdr.jpg"
        subprocess.run([*GAINMLP, "decode", str(out / f"{name}.jpg"), "-o", str(uhdr)],
                       check=True, capture_output=True)
        if extract_payload(uhdr.read_bytes()) is not None:  # must be decoded from its map
            raise SystemExit(f"{uhdr} carries a gainmlp payload: not a plain Ultra HDR JPEG")
    about = {
        "picture": f"{width}x{height} ({width * height / 1e6:.1f} MP) from {source} "
                   f"(pair {sdr_small.shape[1]}x{sdr_small.shape[0]}, Reinhard-Devlin), "
                   f"{colours} distinct colours in the decoded base "
                   f"({100 * colours / (width * height):.1f} % of its pixels)",
        "gainmlp_jpeg": f"{len(photo) / 1e6:.2f} MB, payload {len(payload.to_bytes())} B "
                        f"({payload.method}, body v{payload.body[0]}, fitted in {fit_s:.0f} s)",
        "ultrahdr_jpeg": f"{(out / 'photo-ultrahdr.jpg').stat().st_size / 1e6:.2f} MB",
    }
    (out / "about.json").write_text(json.dumps(about))


def _decode_gainmlp(data: bytes, linear: bool):
    import gainmlp
    from gainmlp import photo

    if hasattr(gainmlp, "load_photo"):  # the public API: (base, HDR) from the file's bytes
        return gainmlp.load_photo(data, linear=linear)[1]
    decode = getattr(photo, "decode_photo", None)
    if decode is not None:
        return decode(data, "photo.jpg", linear=linear)
    return photo.decode_file(data, "photo.jpg", linear=linear)[1]


def child_time(kind: str, path: str, repeat: int) -> None:
    """Time ``repeat`` decodes of ``path`` in this process; print JSON: the seconds of each
    call (the first one includes lazy imports, compiled-code loading, first-touch costs)."""
    data = Path(path).read_bytes()
    if kind in ("gainmlp", "gainmlp-linear"):
        import gainmlp.photo  # noqa: F401 - the library's import is not the decode

        def run():
            return _decode_gainmlp(data, linear=kind == "gainmlp-linear")
    elif kind == "libvips":
        import pyvips

        pyvips.cache_set_max(0)  # no operation cache: every call decodes

        def run():
            image = pyvips.Image.new_from_buffer(data, "")
            return image.uhdr2scRGB().numpy()
    elif kind == "libultrahdr":
        import imagecodecs

        def run():
            return imagecodecs.ultrahdr_decode(data)
    else:
        raise SystemExit(f"unknown kind {kind}")
    seconds, shape = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = run()
        seconds.append(time.perf_counter() - t0)
        shape = f"{tuple(out.shape)} {out.dtype}"
        del out
    print(json.dumps({"seconds": seconds, "output": shape}))


# ------------------------------------------------------------------ in the launcher


def measure(cmd: list[str], env: dict | None = None) -> tuple[float, float, str]:
    """(wall seconds, peak RSS in MB, stdout) of a child process; exits on failure."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)  # not wait(): wait4 gives the rusage
        seconds = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode:
            raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): "
                               f"{err.read().decode(errors='replace').strip()[-2000:]}")
        return seconds, usage.ru_maxrss / 1024.0, out.read().decode()


def _self(*args: str) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "_child", *args]


def _cold_env(tmp: Path) -> dict:
    cache = Path(tempfile.mkdtemp(prefix="numba-cold-", dir=tmp))
    return {**os.environ, "NUMBA_CACHE_DIR": str(cache)}


def _versions() -> list[str]:
    def probe(code: str) -> str:
        try:
            return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                  timeout=120).stdout.strip() or "missing"
        except (OSError, subprocess.SubprocessError):
            return "missing"

    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    node = shutil.which("node")
    node_v = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip() \
        if node else "missing"
    return [
        f"machine: {cpu}, {len(os.sched_getaffinity(0))} usable cores, {platform.system()} "
        f"{platform.machine()}, Python {platform.python_version()}",
        "gainmlp " + probe("import gainmlp; print(gainmlp.__version__)")
        + "; numba " + probe("import numba; print(numba.__version__)")
        + "; libvips " + probe("import pyvips; print('.'.join(str(pyvips.version(i)) "
                               "for i in range(3)))")
        + "; imagecodecs " + probe("import imagecodecs; print(imagecodecs.__version__)")
        + f"; node {node_v}",
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--megapixels", type=float, default=12.0)
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "hdr"),
                    help="folder of OpenEXR images (default ../shared/data/hdr)")
    ap.add_argument("--image", default="MtTamWest", help="which EXR of --data (no suffix)")
    ap.add_argument("--grain", type=float, default=2.0,
                    help="std. dev. of the grain added to the upscaled SDR, 8-bit codes")
    ap.add_argument("--repeat", type=int, default=3,
                    help="decodes per in-process measurement (the best is reported)")
    ap.add_argument("--cli-repeat", type=int, default=1, help="runs of each whole command")
    ap.add_argument("--keep", type=Path, default=None,
                    help="keep the built pictures in this folder and reuse them")
    ap.add_argument("--skip-cold", action="store_true", help="no cold-cache runs")
    ap.add_argument("--out", type=Path, default=None, help="also write the table here")
    args = ap.parse_args()

    lines = _versions()
    with tempfile.TemporaryDirectory(prefix="decode-speed-") as tmp_name:
        tmp = Path(tmp_name)
        folder = args.keep or tmp / "pictures"
        folder.mkdir(parents=True, exist_ok=True)
        if not (folder / "about.json").is_file():
            print(f"building the {args.megapixels:g}-MP pictures in {folder} ...", flush=True)
            seconds, mb, _ = measure(_self("build", str(folder), str(args.megapixels),
                                           args.data, args.image, str(args.grain)))
            print(f"  built in {seconds:.0f} s (peak {mb:.0f} MB)", flush=True)
        about = json.loads((folder / "about.json").read_text())
        photo, uhdr = folder / "photo.jpg", folder / "photo-ultrahdr.jpg"
        lines += [f"picture: {about['picture']}",
                  f"gainmlp JPEG: {about['gainmlp_jpeg']}; Ultra HDR JPEG (gainmlp's "
                  f"writer): {about['ultrahdr_jpeg']}"]
        for line in lines:
            print(line, flush=True)

        rows: list[tuple[str, float, float, str]] = []  # (what, seconds, peak MB, note)

        def add(what: str, seconds: float, mb: float, note: str = "") -> None:
            rows.append((what, seconds, mb, note))
            print(f"  {what:<58} {seconds:8.3f} s {mb:7.0f} MB  {note}", flush=True)

        def guarded(what: str, fn) -> float:
            """``fn()``; a failure (the code under test is changing) becomes a row."""
            try:
                return fn()
            except (RuntimeError, ValueError, KeyError, IndexError) as exc:
                reason = str(exc).strip().splitlines()[-1][:160]
                add(what, float("nan"), float("nan"), f"FAILED: {reason}")
                return float("nan")

        def cold_runs() -> None:
            env = _cold_env(tmp)
            s, mb, out = measure(_self("time", "gainmlp", str(photo), "1"), env)
            add("API decode, gainmlp JPEG, cold numba cache (first call)",
                json.loads(out)["seconds"][0], mb, f"process {s:.2f} s")
            s, mb, _ = measure([*GAINMLP, "decode", str(photo), "-o", str(tmp / "cold.exr")],
                               _cold_env(tmp))
            add("`gainmlp decode` -> .exr, cold numba cache", s, mb)

        if not args.skip_cold:  # before anything warms the default cache
            print("cold numba cache (fresh NUMBA_CACHE_DIR):", flush=True)
            guarded("cold numba cache runs", cold_runs)

        print("warming (every command once, untimed) ...", flush=True)
        for src in ("small.jpg", "small-ultrahdr.jpg", "photo.jpg", "photo-ultrahdr.jpg"):
            for ext in ("exr", "png", "avif") if src.startswith("small") else ("exr",):
                guarded(f"warming: decode {src} -> .{ext}", lambda src=src, ext=ext: measure(
                    [*GAINMLP, "decode", str(folder / src), "-o", str(tmp / f"w.{ext}")]))
            for kind in ("gainmlp", "gainmlp-linear"):
                guarded(f"warming: {kind} {src}",
                        lambda kind=kind, src=src: measure(_self("time", kind,
                                                                 str(folder / src), "1")))
        print("warm:", flush=True)

        def timed(what: str, kind: str, path: Path, first: bool = False) -> float:
            return guarded(what, lambda: _timed(what, kind, path, first))

        def _timed(what: str, kind: str, path: Path, first: bool) -> float:
            s, mb, out = measure(_self("time", kind, str(path), str(args.repeat)))
            result = json.loads(out)
            best = min(result["seconds"][1:] or result["seconds"])
            add(what, best, mb, result["output"])
            if first:
                add(what + " (first call of a process)", result["seconds"][0], mb,
                    f"process {s:.2f} s")
            return best

        vips = timed("libvips: Ultra HDR JPEG -> float32 scRGB", "libvips", uhdr)
        timed("libultrahdr (imagecodecs): Ultra HDR JPEG -> float16 linear", "libultrahdr",
              uhdr)
        timed("gainmlp API: gainmlp JPEG -> PQ float32", "gainmlp", photo, first=True)
        timed("gainmlp API: Ultra HDR JPEG -> linear float32", "gainmlp-linear", uhdr)

        def command(what: str, cmd: list[str], note: str = "", repeat: int = 0) -> None:
            def run() -> float:
                runs = [measure(cmd) for _ in range(max(1, repeat or args.cli_repeat))]
                add(what, min(r[0] for r in runs), max(r[1] for r in runs), note)
                return 0.0

            guarded(what, run)

        for ext in ("exr", "png", "avif"):
            command(f"`gainmlp decode` gainmlp JPEG -> .{ext}",
                    [*GAINMLP, "decode", str(photo), "-o", str(tmp / f"out.{ext}")])
        command("`gainmlp decode` Ultra HDR JPEG -> .exr",
                [*GAINMLP, "decode", str(uhdr), "-o", str(tmp / "uhdr.exr")])
        node = shutil.which("node")
        if node and (ROOT / "web" / "cli.mjs").is_file():
            command("Node `web/cli.mjs decode` gainmlp JPEG -> raw float32",
                    [node, str(ROOT / "web" / "cli.mjs"), "decode", str(photo), "-o",
                     str(tmp / "node.f32")], "whole process")
        else:
            print("  (node or web/cli.mjs missing: the Node decode is skipped)", flush=True)
            lines.append("Node: skipped (node or web/cli.mjs missing)")
        command("`gainmlp --version`", [*GAINMLP, "--version"], "best of 5", repeat=5)

    table = ["| what | seconds | × libvips | peak MB | note |",
             "| --- | ---: | ---: | ---: | --- |"]
    for what, seconds, mb, note in rows:
        table.append(f"| {what} | {seconds:.3f} | {seconds / vips:.2f} | {mb:.0f} | {note} |")
    command_line = "python benchmarks/decode_speed.py " + " ".join(sys.argv[1:])
    text = "\n".join([f"`{command_line.strip()}`, {time.strftime('%Y-%m-%d %H:%M')}", "",
                      *(f"- {line}" for line in lines), "", *table, ""])
    print()
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "_child":
        if sys.argv[2] == "build":
            a = sys.argv[3:]
            child_build(a[0], float(a[1]), a[2], a[3], float(a[4]))
        else:
            child_time(sys.argv[3], sys.argv[4], int(sys.argv[5]))
    else:
        main()
