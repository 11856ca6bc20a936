"""``gainmlp resize``, ``crop``, ``rotate`` and ``thumbnail``: edits that keep the HDR.

The library side is :mod:`gainmlp.edits` (docs/edits.md).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from gainmlp.errors import GainMLPError

_AFTER = ("The payload is kept byte for byte with a view of the original frame (header "
          "version 2); a standard gain map is edited with the base. The base JPEG is "
          "transformed losslessly (jpegtran) where its block grid allows, else re-encoded "
          "with its own quantisation tables.")


def add_edit_commands(sub: argparse._SubParsersAction) -> None:
    """Register the four edit commands on the ``gainmlp`` parser's subcommands."""
    p = sub.add_parser("resize", help="resize a gainmlp or gain-map JPEG, keeping the HDR",
                       description="Resize the photo (as displayed). " + _AFTER)
    _io(p)
    size = p.add_mutually_exclusive_group(required=True)
    size.add_argument("--long-side", type=int, help="pixels on the longer side")
    size.add_argument("--scale", dest="factor", type=float, metavar="F",
                      help="scale factor (0 < F <= 8)")
    p.set_defaults(func=cmd_edit, edit="resize")

    p = sub.add_parser("crop", help="crop a gainmlp or gain-map JPEG, keeping the HDR",
                       description="Crop the photo (as displayed) to a box. " + _AFTER)
    _io(p)
    p.add_argument("--box", required=True, metavar="X,Y,W,H",
                   help="left, top, width, height in pixels of the input")
    p.add_argument("--snap", action="store_true",
                   help="move the box's top-left corner onto the JPEG block grid (growing "
                   "the box to still cover it), so that the crop is lossless")
    p.set_defaults(func=cmd_edit, edit="crop")

    p = sub.add_parser("rotate", help="rotate a gainmlp or gain-map JPEG, keeping the HDR",
                       description="Rotate the photo clockwise. " + _AFTER)
    _io(p)
    p.add_argument("degrees", type=int, choices=(90, 180, 270), help="clockwise degrees")
    p.set_defaults(func=cmd_edit, edit="rotate")

    p = sub.add_parser("thumbnail", help="an HDR thumbnail of a gainmlp or gain-map JPEG",
                       description="A thumbnail at most --long-side pixels on its longer "
                       "side (never enlarged; box reduction, then Lanczos). " + _AFTER)
    _io(p)
    p.add_argument("--long-side", type=int, required=True, help="pixels on the longer side")
    p.set_defaults(func=cmd_edit, edit="thumbnail")


def _io(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", help="a gainmlp JPEG or a standard gain-map JPEG")
    p.add_argument("-o", "--output", required=True, help="OUT.jpg")
    p.add_argument("--jpeg-quality", type=int, default=None, metavar="Q",
                   help="JPEG quality of a base that must be re-encoded (default: the "
                   "source's own quantisation tables)")


def parse_box(text: str) -> tuple[int, int, int, int]:
    """``"X,Y,W,H"`` -> four integers (W, H at least 1, X, Y at least 0)."""
    parts = text.split(",")
    try:
        box = tuple(int(v) for v in parts)
    except ValueError:
        box = ()
    if len(box) != 4 or box[0] < 0 or box[1] < 0 or box[2] < 1 or box[3] < 1:
        raise GainMLPError(f"--box must be X,Y,W,H (integers, W and H at least 1), not {text!r}")
    return box  # type: ignore[return-value]


def cmd_edit(args: argparse.Namespace) -> int:
    from gainmlp import edits
    from gainmlp.io import atomic_write, check_output
    from gainmlp.io.files import read_bytes
    from gainmlp.view import ROTATIONS

    src, out = Path(args.input), Path(args.output)
    if out.suffix.lower() not in (".jpg", ".jpeg"):
        raise GainMLPError(f"{out}: output must end in .jpg")
    box = parse_box(args.box) if args.edit == "crop" else None
    check_output(out, [src])
    data = read_bytes(src)
    name = str(src)
    if args.edit == "crop":
        if args.snap:
            box = edits.snap_box(data, box)
            print(f"box snapped to the block grid: {','.join(map(str, box))}")
        edit = edits.Edit(box=box)
    elif args.edit == "rotate":
        edit = edits.Edit(orientation=ROTATIONS[args.degrees])
    else:
        width, height = edits.displayed_size(data, name)
        if args.edit == "thumbnail":
            long_side = min(args.long_side, max(width, height))
            edit = edits.Edit(size=edits.target_size(width, height, long_side, None),
                              thumbnail=True)
        else:
            edit = edits.Edit(size=edits.target_size(width, height, args.long_side,
                                                     args.factor))
    from dataclasses import replace

    result, report = edits.edit_jpeg(data, replace(edit, quality=args.jpeg_quality), name)
    atomic_write(out, result)
    carried = " + ".join(p for p, on in (("payload", report.payload),
                                          ("gain map", report.gain_map)) if on)
    how = "re-encoded base" if report.base_reencoded else "lossless base (jpegtran)"
    print(f"wrote {out}: {report.width}x{report.height}, {len(result)} bytes, {carried}, "
          f"{how}")
    return 0


__all__ = ["add_edit_commands", "cmd_edit", "parse_box"]
