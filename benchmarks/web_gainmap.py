"""The JavaScript decoder (web/) on standard gain-map JPEGs, against the Python decoder.

For each JPEG of ``DIR`` (default: ``/work/shared/data/gainmap``), in one run: the Python
decoder (``gainmlp.photo.decode_file``, warm, numba kernels on the usable cores) and the
JavaScript one in Node (``decodeGainmlpSync``, one thread), each ``--repeat`` times after a
warm-up; prints the best wall time and the CPU time of each, the JavaScript / Python
ratios, and the largest PQ difference between the two outputs.

Run::

    python benchmarks/web_gainmap.py [DIR] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
NODE_SCRIPT = """
import { readFileSync, writeFileSync } from 'node:fs';
import { decodeGainmlpSync } from './gainmlp.mjs';
const [path, repeat, out] = process.argv.slice(1);
const bytes = new Uint8Array(readFileSync(path));
let r = decodeGainmlpSync(bytes);
let wall = Infinity, cpu = Infinity;
for (let i = 0; i < Number(repeat); i++) {
  const c0 = process.cpuUsage(), t0 = performance.now();
  r = decodeGainmlpSync(bytes);
  const c = process.cpuUsage(c0);
  wall = Math.min(wall, performance.now() - t0);
  cpu = Math.min(cpu, (c.user + c.system) / 1000);
}
writeFileSync(out, new Uint8Array(r.hdr.buffer, r.hdr.byteOffset, r.hdr.byteLength));
console.log(JSON.stringify({ wall, cpu, width: r.width, height: r.height }));
"""


def python_times(data: bytes, repeat: int) -> tuple[float, float, np.ndarray]:
    """Best wall and CPU milliseconds of ``decode_file`` on ``data``, and its output."""
    from gainmlp import photo

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hdr = photo.decode_file(data, "x.jpg")[1]
        wall = cpu = float("inf")
        for _ in range(repeat):
            c0, t0 = time.process_time(), time.perf_counter()
            hdr = photo.decode_file(data, "x.jpg")[1]
            wall = min(wall, (time.perf_counter() - t0) * 1e3)
            cpu = min(cpu, (time.process_time() - c0) * 1e3)
    return wall, cpu, hdr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", nargs="?", default="/work/shared/data/gainmap")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    node = shutil.which("node")
    if node is None:
        raise SystemExit("node is not installed")
    load = os.getloadavg()[0]
    print(f"load average {load:.1f}, {os.cpu_count()} cores; best of {args.repeat}")
    print(f"{'file':44s} {'size':>10s} {'Python ms':>10s} {'(CPU)':>7s} {'JS ms':>8s} "
          f"{'(CPU)':>7s} {'wall x':>7s} {'CPU x':>6s} {'max |JS-Py|':>12s}")
    out = REPO / ".web_gainmap_bench.f32"
    try:
        for path in sorted(Path(args.dir).glob("*.jpg")):
            data = path.read_bytes()
            py_wall, py_cpu, hdr = python_times(data, args.repeat)
            result = subprocess.run([node, "--input-type=module", "-e", NODE_SCRIPT, str(path),
                                     str(args.repeat), str(out)], cwd=REPO / "web",
                                    capture_output=True, text=True, check=True)
            js = json.loads(result.stdout)
            diff = float(np.abs(np.fromfile(out, "<f4") - hdr.ravel()).max())
            print(f"{path.name:44s} {js['width']:>5d}x{js['height']:<4d} {py_wall:10.0f} "
                  f"{py_cpu:7.0f} {js['wall']:8.0f} {js['cpu']:7.0f} "
                  f"{js['wall'] / py_wall:7.1f} {js['cpu'] / py_cpu:6.1f} {diff:12.2e}")
    finally:
        out.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
