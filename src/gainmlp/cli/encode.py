"""``gainmlp encode``: a pair, a lone HDR image, a gain-map photo or many pairs."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from gainmlp.cli._common import (
    _options,
    _progress,
    _read_sdr,
)
from gainmlp.errors import GainMLPError


def _is_jpeg(path: str) -> bool:
    """Whether the file at ``path`` starts like a JPEG (False when it cannot be read)."""
    from gainmlp.io.reading import open_input

    try:
        with open_input(path) as (fh, _):  # a FIFO or device is refused, not waited on
            return fh.read(2) == b"\xff\xd8"
    except GainMLPError:
        return True  # the re-encode path reports what is wrong


def cmd_encode(args: argparse.Namespace) -> int:
    from gainmlp import photo
    from gainmlp.api import encode
    from gainmlp.budget import check_encode
    from gainmlp.io import atomic_write, check_output, read_hdr
    from gainmlp.io.reading import read_bytes

    args.sdr, args.hdr, args.more = (args.files[0], (args.files[1:2] or [None])[0],
                                      args.files[2:])
    out = Path(args.output)
    if not args.more:
        check_output(out, args.files)
    to_jpeg = out.suffix.lower() in (".jpg", ".jpeg")
    if not to_jpeg and args.container not in (None, "gainmlp"):
        raise GainMLPError(f"--container {args.container} writes a JPEG: name the output .jpg")
    args.method, container = photo.resolve_container(args.method, args.container)
    lone_hdr = args.hdr is None and not _is_jpeg(args.sdr)
    if lone_hdr:  # an HDR image alone: its SDR made by --tmo, as `gainmlp pair` does
        if args.tmo is None:
            raise GainMLPError(f"{args.sdr} is not a gain-map JPEG: give its SDR too "
                               "(gainmlp encode SDR HDR -o OUT), or --tmo NAME to make the "
                               "SDR from it as 'gainmlp pair' does")
    elif args.tmo is not None:
        raise GainMLPError("--tmo makes the SDR of a lone HDR image (gainmlp encode HDR.exr "
                           "--tmo NAME -o OUT)")
    # every declared size against the budget, before decoding (SDR and HDR alike)
    check_encode(args.files, "encode-tmo" if lone_hdr else
                 "reencode" if args.hdr is None else "encode",
                 "torch" if getattr(args, "device", "cpu") == "cuda"
                 else getattr(args, "engine", None))
    options = _options(args, _progress(args), rate_control=args.hdr is None and not lone_hdr)
    _say_if_compiling(args.method, options, wait=lone_hdr)
    start = time.perf_counter()
    if args.hdr is None and not lone_hdr:  # re-encode a gain-map JPEG's map as gainmlp
        if not to_jpeg:
            raise GainMLPError("with a single gain-map JPEG input, the output must be .jpg")
        src = Path(args.sdr)
        data, report = photo.reencode_gainmap_photo(read_bytes(src), args.method, options,
                                                    args.eps, str(src), container)
        atomic_write(out, data, args.files)
        chosen = f" ({report['config']})" if "config" in report else ""
        print(f"wrote {out}: {len(data)} bytes; original gain map "
              f"{report['original_map_bytes']} B -> {args.method} payload {report['payload']} B"
              f"{chosen}, PSNR {report['psnr_vs_original_hdr']:.2f} dB vs the original HDR")
        return 0
    if args.more:
        return _encode_many(args, options, start, container)
    if lone_hdr:
        from gainmlp.pair import pair_from_hdr_file

        sdr, hdr = pair_from_hdr_file(args.sdr, args.tmo, args.peak)
    else:
        sdr = _read_sdr(args.sdr, args)
        hdr = read_hdr(args.hdr, args.exr_white)
    if to_jpeg:
        data, parts = photo.encode_jpeg(sdr, hdr, args.method, options, args.eps,
                                        container, args.jpeg_quality, args.open_loop)
    else:
        data = encode(sdr, hdr, args.method, options, eps=args.eps).to_bytes()
        parts = {"payload": len(data)}
    atomic_write(out, data, args.files)
    detail = ", ".join(f"{k} {v} B" for k, v in parts.items())
    print(f"wrote {out}: {len(data)} bytes ({args.method}; {detail}) in "
          f"{time.perf_counter() - start:.1f} s")
    return 0


def _say_if_compiling(method: str, options, wait: bool) -> None:
    """Start numba lean (this process runs gainmlp's kernels and nothing else of numba:
    ``kernels.warm_up_async(lean=True)``), and tell the user, once per machine, that the
    CPU trainer's kernels compile first (about half a minute; numba caches them) when this
    encode will fit with them. The start overlaps reading the inputs and the fit's set-up
    (0.1-0.2 s of a 1-MP encode, docs/speed.md): what runs meanwhile imports only image
    codecs and gainmlp's own modules, none of the modules the lean start hides (a kernel's
    first use waits for numba's import). ``wait``: wait for the start first (an HDR image
    alone: its tone mapper may import anything)."""
    from gainmlp import kernels
    from gainmlp.codecs import get_method

    entry = get_method(method)
    if not kernels.compiled():
        return
    from gainmlp.codecs.mlp.decode import method_kind
    from gainmlp.codecs.mlp.fit import engine_for

    fits_with_numba = (entry.family == "mlp"
                       and engine_for(options, method_kind(method)) == "numba")

    def notice() -> None:
        print("gainmlp: compiling the encoder's kernels, once (about half a minute; cached "
              "for later runs)", file=sys.stderr)

    thread = kernels.warm_up_async((kernels.TRAIN_KERNELS if fits_with_numba else ())
                                   + kernels.MAP_KERNELS,
                                   notice if fits_with_numba else None, lean=True)
    if thread is not None and wait:
        thread.join()


def _encode_many(args: argparse.Namespace, options, start: float, container: str) -> int:
    """``gainmlp encode SDR1 HDR1 SDR2 HDR2 ... -o DIR``: one fit for all pairs."""
    from gainmlp import photo
    from gainmlp.io import atomic_write, check_output, read_hdr
    from gainmlp.io.writing import check_output_folder

    names = [args.sdr, args.hdr, *args.more]
    if len(names) % 2:
        raise GainMLPError("give SDR and HDR images in pairs: SDR1 HDR1 SDR2 HDR2 ...")
    out = Path(args.output)
    if out.suffix or (out.exists() and not out.is_dir()):
        raise GainMLPError(f"{out}: with several pairs, the output is a folder")
    if container == "ultrahdr":
        raise GainMLPError("several pairs are fitted together: --container ultrahdr has no "
                           "fit, encode them one by one")
    targets = [out / f"{Path(s).stem}.jpg" for s in names[::2]]
    if len(set(targets)) != len(targets):
        raise GainMLPError("two SDR images share a file name; their outputs would collide")
    check_output_folder(out)  # made and checked before the fit, not after it
    for target in targets:
        check_output(target, names)
    items = [(_read_sdr(s, args), read_hdr(h, args.exr_white))
             for s, h in zip(names[::2], names[1::2], strict=True)]
    files = photo.encode_photos(items, args.method, options, args.eps, args.jpeg_quality,
                                args.open_loop, container=container)
    for target, (data, parts) in zip(targets, files, strict=True):
        atomic_write(target, data, names)
        print(f"wrote {target}: {len(data)} bytes (payload {parts['payload']} B)")
    seconds = time.perf_counter() - start
    print(f"{len(files)} photos in {seconds:.1f} s ({len(files) / seconds:.2f} photos/s)")
    return 0


