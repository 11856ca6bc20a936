"""``gainmlp decode`` and ``gainmlp info``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from gainmlp.cli._common import (
    _read_sdr,
)
from gainmlp.errors import GainMLPError


def cmd_info(args: argparse.Namespace) -> int:
    from gainmlp.info import describe_file, format_info
    from gainmlp.io.files import read_bytes

    info = describe_file(read_bytes(args.input), args.input)
    print(json.dumps(info) if args.json else format_info(info))
    return 0


def _warm_up(data: bytes) -> None:
    """Start numba and the kernels decoding ``data`` needs in the background (overlapping
    the JPEG decode); say so on stderr when they are not cached yet and will compile."""
    from gainmlp.container.app11 import extract_payload
    from gainmlp.kernels import DECODE_KERNELS, warm_up_async

    try:
        raw = extract_payload(data) if data[:2] == b"\xff\xd8" else data
    except GainMLPError:
        return  # the decode reports what is wrong
    if raw is None:
        kind = "gain map"
    else:
        from gainmlp.codecs import method_by_code

        entry = method_by_code(int.from_bytes(raw[6:8], "little"))
        if entry is None:
            return
        kind = entry.family if entry.family in ("mlp", "mlp-itm") else "conventional"

    def notice() -> None:
        print("gainmlp: compiling the decoder's kernels, once (a few seconds; cached for "
              "later runs)", file=sys.stderr)

    # this process runs gainmlp's kernels and nothing else of numba: start it lean
    warm_up_async(DECODE_KERNELS[kind], notice, lean=True)


def cmd_decode(args: argparse.Namespace) -> int:
    from gainmlp import photo
    from gainmlp.budget import check_decode
    from gainmlp.container.app11 import extract_payload
    from gainmlp.io import HDR_OUT_EXTENSIONS, check_output, write_hdr
    from gainmlp.io.reading import read_bytes

    out = Path(args.output)
    share = out.suffix.lower() in (".jpg", ".jpeg")
    if out.suffix.lower() not in HDR_OUT_EXTENSIONS and not share:
        raise GainMLPError(f"{out}: output must end in {', '.join(HDR_OUT_EXTENSIONS)}, "
                           "or .jpg for a standard Ultra HDR gain-map JPEG")
    src = Path(args.input)
    check_output(out, [src] + ([args.sdr] if args.sdr else []))
    data = read_bytes(src)  # a regular file, bounded, unchanged while read
    check_decode(data, out, args.sdr, str(src))  # every declared size, before decoding
    given = _read_sdr(args.sdr, args) if args.sdr else None
    # a gain-map JPEG to .exr: straight to linear light, no PQ round trip (no 10,000 cap);
    # our payloads rebuild PQ, which the EXR writer linearises in tiles
    linear = (out.suffix.lower() == ".exr" and data[:2] == b"\xff\xd8"
              and extract_payload(data) is None)
    if share and args.headroom is not None:
        raise GainMLPError("--headroom renders for a display: write .png/.avif/.exr/.tif")
    _warm_up(data)
    sdr, hdr = photo.decode_file(data, str(src), given, linear=linear, headroom=args.headroom)
    if linear:
        from gainmlp.io.hdr import write_hdr_linear

        write_hdr_linear(out, hdr, exr_white_nits=args.exr_white)
        print(f"wrote {out}: {hdr.shape[1]}x{hdr.shape[0]} HDR (linear BT.2020, "
              f"1.0 = {args.exr_white:g} cd/m2, peak {float(hdr.max()):.0f} cd/m2)")
        return 0
    if share:
        from gainmlp.container.ultrahdr import ultrahdr_from_pair
        from gainmlp.io import atomic_write

        data, parts = ultrahdr_from_pair(sdr, hdr, args.scale, args.quality)
        atomic_write(out, data)
        print(f"wrote {out}: Ultra HDR gain-map JPEG, {len(data)} bytes ("
              + ", ".join(f"{k} {v} B" for k, v in parts.items()) + ")")
        return 0
    write_hdr(out, hdr, avif_bits=args.avif_bits, exr_white_nits=args.exr_white)
    print(f"wrote {out}: {hdr.shape[1]}x{hdr.shape[0]} HDR (PQ BT.2020)")
    return 0


