"""Throughput of ``gainmlp batch`` against one ``gainmlp encode`` process per image.

Makes ``--megapixels`` pairs from the OpenEXR images of ``--data`` (each scene resampled
bilinearly to about that many pixels, then made into a pair by the pair maker with each
``--tmo``), written once as ``WORK/pairs/NAME_{sdr,hdr}.png``, then times each mode
(wall clock of the whole command, start-up included, as a user runs it):

* ``encode``: one ``gainmlp encode SDR HDR -o NAME.jpg`` process per image, one after the
  other (today's way; torch uses the usable cores);
* ``encode-p``: the same with as many processes at once as there are usable cores, one
  thread each (``xargs -P``-style);
* ``batch``: ``gainmlp batch WORK/pairs -o OUT`` (local worker pool, defaults);
* ``batch-gN``: the same with ``--group N`` (N items fitted together per task);
* ``batch-nopsnr``: ``batch`` with ``--no-psnr`` (no decode of each output);
* ``ray``: ``gainmlp batch WORK/pairs -o OUT --ray auto`` (a local Ray instance, started
  by the command).

With ``--repeat N`` the modes run round-robin N times and each keeps its fastest run (on
a machine shared with other jobs, the least disturbed one; ``--once`` names modes run only
in the first round, e.g. the slow ``encode``). Prints a markdown table with images/s and
the ratio against ``--baseline`` measured in the same run, and whether every mode wrote the
same bytes as ``batch`` (``encode`` runs with more threads, so its bytes may differ;
``encode-p`` runs with one, like the batch workers)::

    nice python benchmarks/batch_throughput.py --limit 8 --repeat 2 --once encode
    python benchmarks/batch_throughput.py --device cuda --modes batch batch-g16 batch-g64 \
        --baseline batch
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

GAINMLP = [sys.executable, "-m", "gainmlp.cli"]


def make_pairs(data: Path, tmos: list[str], megapixels: float, folder: Path,
               limit: int | None) -> list[str]:
    """Write (once) the pairs; returns their names."""
    from gainmlp.io import atomic_write, encode_hdr_png, read_hdr_linear, write_sdr_png
    from gainmlp.pair import make_pair
    from gainmlp.resample import resize_box_float, upsample_bilinear

    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for exr in sorted(data.glob("*.exr")):
        linear = None
        for tmo in tmos:
            name = f"{exr.stem}-{tmo}"
            names.append(name)
            if (folder / f"{name}_hdr.png").exists():
                continue
            if linear is None:
                linear = read_hdr_linear(exr)
                h, w = linear.shape[:2]
                scale = (megapixels * 1e6 / (h * w)) ** 0.5
                size = (max(1, round(h * scale)), max(1, round(w * scale)))
                linear = (upsample_bilinear(linear, *size) if scale > 1
                          else resize_box_float(linear, size[1], size[0]))
            sdr, hdr = make_pair(np.ascontiguousarray(np.maximum(linear, 0)), "bt2020", tmo)
            write_sdr_png(folder / f"{name}_sdr.png", sdr)
            atomic_write(folder / f"{name}_hdr.png", encode_hdr_png(hdr.astype(np.float32)
                                                                    / 65535))
    names = sorted(names)
    return names[:limit] if limit else names


def run(cmd: list[str], env: dict | None = None) -> None:
    done = subprocess.run(cmd, env={**os.environ, **(env or {})}, capture_output=True,
                          text=True)
    if done.returncode not in (0,):
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-2000:]}")


def mode_encode(names, pairs: Path, out: Path, flags: list[str], parallel: int) -> None:
    env = {"GAINMLP_THREADS": "1"} if parallel > 1 else None

    def one(name: str) -> None:
        run([*GAINMLP, "encode", str(pairs / f"{name}_sdr.png"), str(pairs / f"{name}_hdr.png"),
             "-o", str(out / f"{name}.jpg"), "-q", *flags], env)

    with ThreadPoolExecutor(parallel) as pool:
        list(pool.map(one, names))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=Path("/work/shared/data/hdr"))
    p.add_argument("--work", type=Path, default=Path("/tmp/gainmlp-batch-bench"))
    p.add_argument("--tmo", nargs="+", default=["reinhard-devlin", "drago"])
    p.add_argument("--megapixels", type=float, default=1.0)
    p.add_argument("--limit", type=int, default=None, help="use only this many pairs")
    p.add_argument("--modes", nargs="+", default=["encode", "encode-p", "batch",
                                                  "batch-nopsnr", "batch-g4", "ray"])
    p.add_argument("--baseline", default="encode-p", help="the mode ratios are against")
    p.add_argument("--repeat", type=int, default=1, help="rounds; each mode keeps its best")
    p.add_argument("--once", nargs="*", default=[], help="modes run in the first round only")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda", "auto"))
    p.add_argument("--json", type=Path, default=None, help="also write the rows here")
    p.add_argument("flags", nargs="*", help="extra encode flags after --, e.g. -- --steps 500")
    args = p.parse_args()

    from gainmlp.colorimetry import usable_cores

    names = make_pairs(args.data, args.tmo, args.megapixels, args.work / "pairs", args.limit)
    pairs = args.work / "pairs"
    if args.limit:  # batch reads the whole folder: give it exactly these pairs
        subset = args.work / f"pairs-{args.limit}"
        subset.mkdir(exist_ok=True)
        for name in names:
            for half in ("sdr", "hdr"):
                link = subset / f"{name}_{half}.png"
                if not link.exists():
                    link.symlink_to(pairs / f"{name}_{half}.png")
        pairs = subset
    from PIL import Image

    pixels = [np.prod(Image.open(pairs / f"{n}_sdr.png").size) for n in names]
    flags = ["--device", args.device, *args.flags]
    cores = usable_cores()
    rows: dict[str, dict] = {}
    rounds = [(r, m) for r in range(args.repeat) for m in args.modes
              if r == 0 or m not in args.once]
    for _, mode in rounds:
        out = args.work / "out" / mode
        out.mkdir(parents=True, exist_ok=True)
        for old in out.glob("*"):
            old.unlink()
        t0 = time.perf_counter()
        if mode in ("encode", "encode-p"):
            mode_encode(names, pairs, out, flags, cores if mode == "encode-p" else 1)
        elif mode.startswith("batch") or mode == "ray":
            cmd = [*GAINMLP, "batch", str(pairs), "-o", str(out), "-q", "--force", *flags]
            if mode.startswith("batch-g"):
                cmd += ["--group", mode.removeprefix("batch-g")]
            if mode == "batch-nopsnr":
                cmd += ["--no-psnr"]
            if mode == "ray":
                cmd += ["--ray", "auto"]
            run(cmd)
        else:
            raise SystemExit(f"unknown mode {mode}")
        seconds = time.perf_counter() - t0
        print(f"{mode}: {seconds:.1f} s (load {os.getloadavg()[0]:.1f})", file=sys.stderr)
        if mode not in rows or seconds < rows[mode]["seconds"]:
            rows[mode] = {"mode": mode, "images": len(names), "seconds": round(seconds, 1),
                          "images_per_s": round(len(names) / seconds, 3)}

    def files(mode: str) -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in (args.work / "out" / mode).glob("*.jpg")}

    reference = files("batch") if "batch" in args.modes else None
    base = rows[args.baseline]["seconds"] if args.baseline in rows else None
    print(f"\n{len(names)} pairs of {np.mean(pixels) / 1e6:.2f} MP (from {args.data}, "
          f"{', '.join(args.tmo)}), device {args.device}, {cores} usable cores, "
          f"{platform.machine()} {platform.processor() or ''}".rstrip())
    print(f"\n| mode | images | seconds | images/s | vs {args.baseline} | same bytes as batch |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows.values():
        ratio = f"{base / r['seconds']:.2f}x" if base else "-"
        same = "-" if reference is None else ("yes" if files(r["mode"]) == reference else "no")
        r.update(same_bytes_as_batch=same)
        print(f"| {r['mode']} | {r['images']} | {r['seconds']} | {r['images_per_s']} | "
              f"{ratio} | {same} |")
    if args.json:
        args.json.write_text("".join(json.dumps(r) + "\n" for r in rows.values()))


if __name__ == "__main__":
    main()
