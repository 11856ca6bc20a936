"""What gainmlp reads in each third-party gain-map JPEG of a folder, and the HDR it decodes.

For every ``*.jpg``: its flavour (Ultra HDR, Adobe, ISO 21496-1, Apple), where the metadata
came from, the base's primaries, the gain map's size and channels, the metadata in short
(max log2 gain and offsets, or Apple's headroom and where it came from), and the decoded
full-weight HDR's peak and 99.9th-percentile luminance (linear BT.2020, SDR white 203
cd/m2, no PQ clip). Prints a markdown table (``docs/gainmaps.md`` holds its output).

    python scripts/gainmap_report.py ../shared/data/gainmap
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np

from gainmlp.colorimetry import luminance_weights
from gainmlp.container import gainmap_jpeg as gj


def describe(path: Path) -> str:
    data = path.read_bytes()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            gm = gj.read_gainmap_jpeg(data)
            linear = gj.gainmap_jpeg_to_linear_bt2020(gm)
        except Exception as exc:  # noqa: BLE001 - a report row, not a crash
            return f"| {path.name} | {len(data)} | error: {exc} | | | | | |"
    meta = gm.metadata
    if gm.apple is not None:
        summary = f"headroom {gm.apple.headroom:.3f} ({gm.apple.source})"
    else:
        summary = (f"max {max(meta.gain_map_max):.3f} stops, offsets "
                   f"{meta.offset_sdr[0]:.4g}/{meta.offset_hdr[0]:.4g}, gamma {meta.gamma[0]:.3g}")
    y = linear.reshape(-1, 3) @ luminance_weights("bt2020")
    h, w = gm.gain_map.shape[:2]
    channels = 1 if gm.gain_map.ndim == 2 else 3
    notes = "; ".join(str(c.message) for c in caught) or "–"
    return (f"| {path.name} | {len(data)} | {gm.flavour} ({gm.metadata_source}) | "
            f"{gm.colour_space} {gm.sdr.shape[1]}x{gm.sdr.shape[0]} | {w}x{h}x{channels} | "
            f"{summary} | {float(y.max()):.0f} / {float(np.percentile(y, 99.9)):.0f} | {notes} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path)
    args = ap.parse_args()
    files = sorted(args.folder.glob("*.jpg"))
    if not files:
        raise SystemExit(f"{args.folder}: no .jpg files")
    print("| file | bytes | format (metadata) | base | map | metadata | peak / p99.9 "
          "luminance (cd/m2) | warnings |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for path in files:
        print(describe(path))


if __name__ == "__main__":
    main()
