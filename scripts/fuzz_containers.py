#!/usr/bin/env python
"""Mutation fuzzing of the container parsers, outside CI.

Seeds are small files written in code (Ultra HDR with RGB and grey maps, an Adobe-style
file, a progressive JPEG with our payload). Each iteration applies random byte edits,
insertions, deletions, truncations or splices to a seed and feeds it to every reader.
Any exception other than GainMLPError counts as a crash; distinct crash sites (type and
innermost frame) are printed with a reproducer written to ``--out``.

    python scripts/fuzz_containers.py --seconds 300 --seed 1
"""

from __future__ import annotations

import argparse
import io
import random
import sys
import time
import traceback
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from gainmlp.container import gainmap_jpeg as gj
from gainmlp.container.app11 import embed_payload, extract_payload
from gainmlp.container.icc import make_icc_profile
from gainmlp.container.iso21496 import ISO_21496_ID
from gainmlp.container.mpf import mpf_image_ranges
from gainmlp.container.segments import (
    APP1,
    APP2,
    concatenated_image_ranges,
    find_image_end,
    parse_segments,
    remove_segments,
)
from gainmlp.container.xmp import XMP_ID
from gainmlp.errors import GainMLPError
from gainmlp.iso_gainmap import GainMapMetadata


def seeds() -> list[bytes]:
    """Small valid inputs to mutate."""
    rng = np.random.default_rng(0)
    sdr = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
    grey = rng.integers(0, 256, (6, 8), dtype=np.uint8)
    rgb = rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)
    single = GainMapMetadata(gain_map_min=-0.5, gain_map_max=2.0, hdr_capacity_max=2.0)
    multi = GainMapMetadata(
        gain_map_min=(0, 0.1, 0.2),
        gain_map_max=(2, 2.5, 3),
        gamma=(1, 0.9, 1.1),
        hdr_capacity_max=3.0,
    )
    out = [
        gj.write_ultrahdr(None, sdr, None, grey, single, extra_payload=b"x" * 70_000, quality=60),
        gj.write_ultrahdr(None, sdr, make_icc_profile("p3"), rgb, multi, quality=60),
    ]
    buf = io.BytesIO()
    Image.fromarray(sdr).save(buf, "JPEG", quality=60, progressive=True)
    out.append(embed_payload(buf.getvalue(), bytes(range(256))))
    # Adobe style: primary has hdrgm:Version only, map XMP per channel, little-endian MPF
    primary = remove_segments(
        out[1], lambda s: s.startswith(APP1, XMP_ID) or s.startswith(APP2, ISO_21496_ID)
    )
    out.append(primary)
    return out


def mutate(data: bytes, rnd: random.Random, pool: list[bytes]) -> bytes:
    buf = bytearray(data)
    for _ in range(rnd.randint(1, 8)):
        op = rnd.random()
        if not buf:
            break
        pos = rnd.randrange(len(buf))
        if op < 0.45:
            buf[pos] = rnd.randrange(256)
        elif op < 0.55:
            buf[pos:pos] = bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 8)))
        elif op < 0.65:
            del buf[pos : pos + rnd.randint(1, 64)]
        elif op < 0.75:
            del buf[pos:]
        elif op < 0.85:  # interesting values in 16/32-bit fields
            val = rnd.choice(
                [
                    b"\x00\x00",
                    b"\xff\xff",
                    b"\x00\x01",
                    b"\x7f\xff\xff\xff",
                    b"\x00\x00\x00\x00",
                    b"\xff\xd8",
                    b"\xff\xd9",
                    b"\xff\xda",
                ]
            )
            buf[pos : pos + len(val)] = val
        else:  # splice in a piece of another seed
            other = rnd.choice(pool)
            a = rnd.randrange(len(other))
            buf[pos:pos] = other[a : a + rnd.randint(1, 512)]
    return bytes(buf)


def run_readers(data: bytes) -> bool:
    """Feed ``data`` to every reader; True when it decoded to an HDR image."""
    decoded = False
    try:
        gm = gj.read_gainmap_jpeg(data)
        pq = gj.gainmap_jpeg_to_hdr_pq(gm)
        if not np.all(np.isfinite(pq)):
            raise AssertionError("non-finite HDR output")
        decoded = True
    except GainMLPError:
        pass
    gj.is_gainmap_jpeg(data)
    for fn in (
        parse_segments,
        find_image_end,
        extract_payload,
        mpf_image_ranges,
        concatenated_image_ranges,
    ):
        try:
            fn(data)
        except GainMLPError:
            pass
    return decoded


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=120.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("fuzz-crashes"))
    args = ap.parse_args(argv)
    rnd = random.Random(args.seed)
    pool = seeds()
    crashes: dict[str, int] = {}
    iterations = decoded = 0
    start = time.monotonic()
    warnings.simplefilter("ignore")
    while time.monotonic() - start < args.seconds:
        data = mutate(rnd.choice(pool), rnd, pool)
        iterations += 1
        try:
            decoded += run_readers(data)
        except Exception as exc:  # noqa: BLE001 - that is what we are looking for
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            key = f"{type(exc).__name__} at {Path(frame.filename).name}:{frame.lineno}"
            if key not in crashes:
                args.out.mkdir(parents=True, exist_ok=True)
                path = args.out / f"crash-{len(crashes):03d}.jpg"
                path.write_bytes(data)
                print(f"new crash: {key}: {exc} -> {path}", flush=True)
            crashes[key] = crashes.get(key, 0) + 1
        if iterations % 2000 == 0:
            rate = iterations / (time.monotonic() - start)
            print(
                f"{iterations} iterations ({decoded} decoded), {rate:.0f}/s, "
                f"{len(crashes)} crash sites",
                flush=True,
            )
    elapsed = time.monotonic() - start
    print(
        f"done: {iterations} iterations in {elapsed:.0f} s ({decoded} decoded to HDR), "
        f"{sum(crashes.values())} crashing inputs, {len(crashes)} distinct crash sites"
    )
    for key, count in sorted(crashes.items(), key=lambda kv: -kv[1]):
        print(f"  {count:6d}  {key}")
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
