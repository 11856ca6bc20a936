"""The ``gainmlp`` command line: encode, batch, decode, eval, pair, demo, report, bench.

Every user error prints one line ``gainmlp: error: ...`` and exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from dataclasses import fields
from pathlib import Path

import numpy as np

from gainmlp import __version__
from gainmlp.codecs import DEFAULT_METHOD, METHODS
from gainmlp.colorimetry import PRIMARIES, SDR_TRANSFERS
from gainmlp.errors import GainMLPError
from gainmlp.evaluation import EXPERIMENTS
from gainmlp.options import (
    DEFAULT_EPS,
    DEFAULT_TARGET_PSNR,
    EncodeOptions,
    cli_flags,
    is_no_grid,
    resolve_target_psnr,
)
from gainmlp.photo import CONTAINERS
from gainmlp.tonemap import DEFAULT_TONE_MAPPER, TONE_MAPPERS

EXIT_USAGE = 2


# ---------------------------------------------------------------- option groups


def _add_sdr_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("SDR colour set-up (overrides ICC and defaults)")
    g.add_argument("--sdr-primaries", choices=sorted(PRIMARIES), default=None,
                   help="primaries of the SDR (default: from ICC, else bt709)")
    g.add_argument("--sdr-transfer", choices=SDR_TRANSFERS, default=None,
                   help="SDR EOTF (default: from ICC, else gamma2.4)")
    g.add_argument("--sdr-white", type=float, default=None, metavar="NITS",
                   help="SDR white in cd/m2 (default 100)")


def _add_hdr_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--exr-white", type=float, default=100.0, metavar="NITS",
                   help="cd/m2 that 1.0 means in EXR/.hdr files (default 100)")


def _add_encode_flags(p: argparse.ArgumentParser, many_methods: bool = False) -> None:
    """``--method``, ``--eps`` and one flag per :class:`EncodeOptions` field
    (``many_methods``: ``--method`` may be given several times)."""
    if many_methods:
        p.add_argument("--method", choices=list(METHODS), action="append", default=None,
                       help="a method to compare; repeat for several (default: "
                       f"{DEFAULT_METHOD} and gain-jpeg)")
    else:
        p.add_argument("--method", choices=list(METHODS), default=DEFAULT_METHOD,
                       help=f"residual codec (default {DEFAULT_METHOD})")
    p.add_argument("--eps", type=float, default=DEFAULT_EPS,
                   help=f"residual offset (default {DEFAULT_EPS})")
    groups: dict[str, argparse._ArgumentGroup] = {}
    for group, flag, kwargs in cli_flags():
        if group not in groups:
            groups[group] = p.add_argument_group(group)
        groups[group].add_argument(flag, **kwargs)
    _add_sdr_flags(p)
    _add_hdr_flags(p)


def _options(args: argparse.Namespace, progress: bool, rate_control: bool = False
             ) -> EncodeOptions:
    """The options the flags name, validated (one-line error naming a bad value).

    ``--target-psnr auto`` is :data:`DEFAULT_TARGET_PSNR` where ``rate_control`` is on by
    default (re-encoding a gain-map JPEG with an MLP method), else off."""
    if args.steps < 1:
        raise GainMLPError("--steps must be positive")
    values = {f.name: getattr(args, f.name) for f in fields(EncodeOptions) if hasattr(args, f.name)}
    if is_no_grid(values.get("grid")):
        values["grid"] = None
    mlp = METHODS[args.method].family == "mlp" if getattr(args, "method", None) in METHODS \
        else False
    values["target_psnr"] = resolve_target_psnr(values.get("target_psnr"), rate_control and mlp)
    return EncodeOptions(**values, progress=progress).validate()


def _read_sdr(path: str, args: argparse.Namespace):
    from gainmlp.io import read_sdr

    return read_sdr(path, args.sdr_primaries, args.sdr_transfer, args.sdr_white)


def _progress(args: argparse.Namespace) -> bool:
    return sys.stderr.isatty() and not getattr(args, "quiet", False)


# ---------------------------------------------------------------- commands


def _is_jpeg(path: str) -> bool:
    """Whether the file at ``path`` starts like a JPEG (False when it cannot be read)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(2) == b"\xff\xd8"
    except OSError:
        return True  # the re-encode path reports the missing file


def cmd_encode(args: argparse.Namespace) -> int:
    from gainmlp import photo
    from gainmlp.api import encode
    from gainmlp.io import atomic_write, check_output, read_hdr
    from gainmlp.io.files import image_pixels
    from gainmlp.memory import check_memory

    args.sdr, args.hdr, args.more = (args.files[0], (args.files[1:2] or [None])[0],
                                      args.files[2:])
    out = Path(args.output)
    if not args.more:
        check_output(out, args.files)
    check_memory("encode", sum(image_pixels(f) for f in args.files[::2]),
                 max(1, len(args.files) // 2))
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
    options = _options(args, _progress(args), rate_control=args.hdr is None and not lone_hdr)
    start = time.perf_counter()
    if args.hdr is None and not lone_hdr:  # re-encode a gain-map JPEG's map as gainmlp
        if not to_jpeg:
            raise GainMLPError("with a single gain-map JPEG input, the output must be .jpg")
        src = Path(args.sdr)
        if not src.is_file():
            raise GainMLPError(f"{src}: no such file")
        data, report = photo.reencode_gainmap_photo(src.read_bytes(), args.method, options,
                                                    args.eps, str(src), container)
        atomic_write(out, data)
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
    atomic_write(out, data)
    detail = ", ".join(f"{k} {v} B" for k, v in parts.items())
    print(f"wrote {out}: {len(data)} bytes ({args.method}; {detail}) in "
          f"{time.perf_counter() - start:.1f} s")
    return 0


def _encode_many(args: argparse.Namespace, options, start: float, container: str) -> int:
    """``gainmlp encode SDR1 HDR1 SDR2 HDR2 ... -o DIR``: one fit for all pairs."""
    from gainmlp import photo
    from gainmlp.io import atomic_write, check_output, read_hdr

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
    if out.is_dir():
        for target in targets:
            check_output(target, names)
    items = [(_read_sdr(s, args), read_hdr(h, args.exr_white))
             for s, h in zip(names[::2], names[1::2], strict=True)]
    files = photo.encode_photos(items, args.method, options, args.eps, args.jpeg_quality,
                                args.open_loop, container=container)
    out.mkdir(parents=True, exist_ok=True)
    for target, (data, parts) in zip(targets, files, strict=True):
        atomic_write(target, data)
        print(f"wrote {target}: {len(data)} bytes (payload {parts['payload']} B)")
    seconds = time.perf_counter() - start
    print(f"{len(files)} photos in {seconds:.1f} s ({len(files) / seconds:.2f} photos/s)")
    return 0


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

    warm_up_async(DECODE_KERNELS[kind], notice)


def cmd_decode(args: argparse.Namespace) -> int:
    from gainmlp import photo
    from gainmlp.container.app11 import extract_payload
    from gainmlp.io import HDR_OUT_EXTENSIONS, check_output, write_hdr
    from gainmlp.io.files import image_pixels
    from gainmlp.memory import check_memory

    out = Path(args.output)
    share = out.suffix.lower() in (".jpg", ".jpeg")
    if out.suffix.lower() not in HDR_OUT_EXTENSIONS and not share:
        raise GainMLPError(f"{out}: output must end in {', '.join(HDR_OUT_EXTENSIONS)}, "
                           "or .jpg for a standard Ultra HDR gain-map JPEG")
    src = Path(args.input)
    check_output(out, [src] + ([args.sdr] if args.sdr else []))
    check_memory("decode", image_pixels(args.sdr or src))
    if not src.exists():
        raise GainMLPError(f"{src}: no such file")
    data = src.read_bytes()
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


def cmd_eval(args: argparse.Namespace) -> int:
    from gainmlp.evaluation import evaluate
    from gainmlp.io import read_hdr

    sdr = _read_sdr(args.sdr, args)
    hdr = read_hdr(args.hdr, args.exr_white)
    record = evaluate(sdr, hdr, args.method, _options(args, _progress(args)), args.eps,
                      file_level=not args.no_file, container=args.container,
                      jpeg_quality=args.jpeg_quality)
    if args.json:
        print(json.dumps(record))
    else:
        for k, v in record.items():
            print(f"{k:>22}: {v:.4f}" if isinstance(v, float) else f"{k:>22}: {v}")
    return 0


def cmd_pair(args: argparse.Namespace) -> int:
    from gainmlp.io import atomic_write, encode_hdr_png, read_hdr_linear, write_sdr_png
    from gainmlp.pair import make_pair

    linear = read_hdr_linear(args.hdr)
    sdr_u8, hdr_u16 = make_pair(linear, primaries="bt2020", tmo=args.tmo, peak_nits=args.peak)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    write_sdr_png(out / "sdr.png", sdr_u8)
    atomic_write(out / "hdr.png", encode_hdr_png(hdr_u16.astype(np.float32) / 65535.0))
    print(f"wrote {out / 'sdr.png'} and {out / 'hdr.png'} ({args.tmo})")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from gainmlp.evaluation.demo import run_demo

    run_demo(Path(args.output), args.method, args.tmo, progress=sys.stderr.isatty())
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from gainmlp.evaluation.html_report import DEFAULT_METHODS, make_report
    from gainmlp.io import read_hdr

    sdr = _read_sdr(args.sdr, args)
    hdr = read_hdr(args.hdr, args.exr_white)
    options = _options(argparse.Namespace(**{**vars(args), "method": None}), _progress(args))
    path = make_report(sdr, hdr, Path(args.output), args.method or list(DEFAULT_METHODS),
                       options, args.eps, args.jpeg_quality,
                       title=args.title or f"gainmlp report: {Path(args.sdr).name}",
                       progress=_progress(args))
    print(f"wrote {path}")
    return 0


def cmd_batch(args: argparse.Namespace) -> int:
    from gainmlp.batch.command import run_command

    return run_command(args, _options)


def cmd_bench(args: argparse.Namespace) -> int:
    from gainmlp.evaluation import TONE_MAPPERS as ALL_TMOS
    from gainmlp.evaluation import default_jobs, run_experiment
    from gainmlp.evaluation.report import require_matplotlib

    require_matplotlib(f"gainmlp bench {args.experiment}")  # before hours of work, not after
    if args.experiment == "photos":
        return _bench_photos(args)
    if len(args.data_dir) != 1:
        raise GainMLPError(f"bench {args.experiment} takes one DATA_DIR")
    args.data_dir = args.data_dir[0]
    tmos = tuple(args.tmo.split(",")) if args.tmo else ALL_TMOS
    images = args.images.split(",") if args.images else None
    rows = run_experiment(args.experiment, Path(args.data_dir), Path(args.output),
                          quick=args.quick, tmos=tmos, images=images,
                          long_side=args.long_side, device=args.device,
                          cache=Path(args.cache) if args.cache else None,
                          jobs=args.jobs or default_jobs())
    print(f"{len(rows)} results -> {Path(args.output) / 'table.md'}")
    return 0


def _bench_photos(args: argparse.Namespace) -> int:
    """``gainmlp bench photos DIR [DIR ...]`` (:mod:`gainmlp.evaluation.photos`)."""
    from gainmlp.evaluation.photos import PHOTO_TMOS, run_photos

    target = resolve_target_psnr(args.target_psnr, True)
    options = EncodeOptions(target_psnr=target, max_bytes=args.max_bytes).validate()
    rows = run_photos([Path(d) for d in args.data_dir], Path(args.output), options=options,
                      tmos=tuple(args.tmo.split(",")) if args.tmo else PHOTO_TMOS,
                      long_side=args.long_side,
                      cache=Path(args.cache) if args.cache else None)
    print(f"{len(rows)} photos -> {Path(args.output) / 'table.md'}")
    return 0


# ---------------------------------------------------------------- main


class _Parser(argparse.ArgumentParser):
    """argparse with gainmlp's error format: one line, ``gainmlp: error: ...``, exit 2."""

    def error(self, message: str):  # type: ignore[override]
        command = self.prog.split(" ", 1)[1] if " " in self.prog else ""
        hint = f" (gainmlp {command} --help)" if command else " (gainmlp --help)"
        print(f"gainmlp: error: {' '.join(message.split())}{hint}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="gainmlp",
        description="HDR photos as SDR images plus a tiny MLP (or conventional) gain map.",
    )
    parser.add_argument("--version", action="version", version=f"gainmlp {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("encode", help="encode an SDR/HDR pair",
                       description="Encode the HDR rendition as a residual of the SDR. "
                       "OUT ending .jpg writes the SDR JPEG with the payload inside; any other "
                       "ending writes the bare payload.")
    p.add_argument("files", nargs="+", metavar="SDR [HDR [SDR HDR ...]]",
                   help="an 8-bit SDR image (PNG/TIFF/JPEG) and its HDR image (EXR, .hdr, "
                   "16-bit PQ PNG/TIFF); or one gain-map JPEG (Ultra HDR, Adobe, ISO 21496-1) "
                   "to re-encode its map; or several SDR HDR pairs, whose networks are "
                   "fitted together, written to the folder OUT as OUT/SDR_NAME.jpg")
    p.add_argument("-o", "--output", required=True, help="OUT.jpg or payload file")
    p.add_argument("--container", choices=CONTAINERS, default=None,
                   help="for .jpg output: ultrahdr+mlp (default: a standard gain-map JPEG "
                   "that every HDR viewer shows, with a small 1/4 map, plus the payload "
                   "gainmlp prefers), gainmlp (SDR JPEG + payload, the smallest file, HDR in "
                   "gainmlp's decoders only), ultrahdr (a standard gain map alone; implies "
                   "--method gain-jpeg)")
    _add_encode_flags(p)
    p.set_defaults(method=None)  # resolved with the container (photo.resolve_container)
    p.add_argument("--tmo", default=None, choices=list(TONE_MAPPERS),
                   help="for a lone HDR image (.exr/.hdr): make its SDR with this tone "
                   "mapper, as 'gainmlp pair' does")
    p.add_argument("--peak", type=float, default=1000.0,
                   help="HDR peak cd/m2 of a pair made with --tmo (1000)")
    p.add_argument("--jpeg-quality", type=int, default=95, help="SDR base JPEG quality (95)")
    p.add_argument("--open-loop", action="store_true",
                   help="fit to the original SDR instead of the JPEG-decoded one (paper)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_encode)

    from gainmlp.batch.command import DESCRIPTION, add_batch_flags

    p = sub.add_parser("batch", help="encode a folder or manifest of photos (local or Ray)",
                       description=DESCRIPTION)
    add_batch_flags(p)
    _add_encode_flags(p)
    p.set_defaults(func=cmd_batch)

    p = sub.add_parser("decode", help="rebuild the HDR image",
                       description="Rebuild the HDR rendition from a gainmlp JPEG, a "
                       "gain-map JPEG (Ultra HDR, Adobe, ISO 21496-1, Apple), or a bare payload "
                       "plus --sdr. .png/.avif/.tif hold PQ (up to 10,000 cd/m2); .exr holds "
                       "linear light, a gain-map JPEG's unclipped.")
    p.add_argument("input", help="a .jpg written by encode or another gain-map JPEG, or a "
                   "bare payload")
    p.add_argument("--sdr", help="the SDR image (needed for a bare payload)")
    p.add_argument("-o", "--output", required=True, help="OUT.png|.avif|.exr|.tif")
    p.add_argument("--avif-bits", type=int, choices=(10, 12), default=10)
    p.add_argument("--headroom", type=float, default=None, metavar="STOPS",
                   help="render for a display with this much HDR headroom (log2 of its peak "
                   "over SDR white; ISO 21496-1's weighting; default: the full HDR)")
    p.add_argument("--scale", type=int, default=4, choices=(1, 2, 4, 8),
                   help="gain-map downscale for .jpg (Ultra HDR) output (default 4)")
    p.add_argument("--quality", type=int, default=85,
                   help="gain-map JPEG quality for .jpg output (default 85)")
    _add_sdr_flags(p)
    _add_hdr_flags(p)
    p.set_defaults(func=cmd_decode)

    p = sub.add_parser("info", help="what a file is: payload, gain map, base, parts",
                       description="Describe a JPEG (gainmlp, Ultra HDR, Adobe, ISO 21496-1, "
                       "Apple, plain) or a bare payload: what it carries, the base image, the "
                       "gain-map metadata, the payload header and the bytes of each part.")
    p.add_argument("input", help="a JPEG or a bare payload")
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("eval", help="encode, decode and measure one method",
                       description="Encode and decode one pair with one method; report "
                       "metrics on PQ code values at two levels. Payload level (psnr, ssim, "
                       "..., hdr_flip, hl_*, hl2w_*, payload_bytes, bpp; the paper's "
                       "protocol): the payload fitted to and decoded with the lossless SDR. "
                       "File level (file_psnr, file_ssim, file_hdr_flip, file_hl_*, "
                       "file_hl2w_*, file_bytes, base_bytes, map_bytes, standard_psnr): the "
                       "JPEG that 'gainmlp encode' writes, decoded by gainmlp, the base "
                       "JPEG's error included (it fits a second time). hdr_flip: mean "
                       "HDR-FLIP error (0 = identical). hl_* / hl2w_*: the pixels above "
                       "1,000 cd/m2 / above twice the SDR white: light_ratio (total light, "
                       "reconstruction / reference), rel_err_p50/p99 (relative luminance "
                       "error), p999_ratio (99.9th-percentile luminance ratio, whole image), "
                       "fraction; null without such pixels (docs/highlights.md).")
    p.add_argument("sdr")
    p.add_argument("hdr")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--container", choices=CONTAINERS, default=None,
                   help="file level: the JPEG container (default ultrahdr+mlp, as encode)")
    p.add_argument("--jpeg-quality", type=int, default=95,
                   help="file level: SDR base JPEG quality (95)")
    p.add_argument("--no-file", action="store_true",
                   help="payload level only (no JPEG written, no second fit)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    _add_encode_flags(p)
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("pair", help="make an SDR/HDR pair from one HDR image",
                       description="Render sdr.png (8-bit BT.709 2.4 gamma, by a tone-mapping "
                       "operator) and hdr.png (16-bit PQ BT.2020, 1000 cd/m2) from a linear "
                       "HDR image.")
    p.add_argument("hdr", help="linear HDR image (.exr or .hdr)")
    p.add_argument("--tmo", default=DEFAULT_TONE_MAPPER,
                   choices=list(TONE_MAPPERS))
    p.add_argument("--peak", type=float, default=1000.0, help="HDR peak cd/m2 (1000)")
    p.add_argument("-o", "--output", required=True, help="output folder")
    p.set_defaults(func=cmd_pair)

    p = sub.add_parser("demo", help="run end to end on a generated scene",
                       description="Generate an HDR scene, make its pair, encode it with "
                       "conventional and MLP codecs, write a gainmlp JPEG and decode it.")
    p.add_argument("-o", "--output", default="gainmlp-demo", help="folder (gainmlp-demo)")
    p.add_argument("--method", choices=METHODS, default=DEFAULT_METHOD)
    p.add_argument("--tmo", default=DEFAULT_TONE_MAPPER,
                   choices=list(TONE_MAPPERS))
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("report", help="an HTML page comparing methods on one pair",
                       description="Encode the pair with each --method as a gainmlp JPEG, "
                       "decode it, and write DIR/index.html: SDR, original HDR and each "
                       "reconstruction as PQ AVIF, error maps, metrics, and the JavaScript "
                       "decoder running on the page. Opens from disk in a browser.")
    p.add_argument("sdr")
    p.add_argument("hdr")
    p.add_argument("-o", "--output", required=True, help="output folder DIR")
    p.add_argument("--jpeg-quality", type=int, default=95, help="SDR base JPEG quality (95)")
    p.add_argument("--title", default=None, help="the page's title")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    _add_encode_flags(p, many_methods=True)
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("bench", help="run one of the paper's experiments",
                       description="Run an experiment over every HDR image of DATA_DIR x "
                       "tone mappers; write CSV, JSON, a markdown table and plots to OUT_DIR. "
                       "Resumable: finished runs are cached in OUT_DIR/cache.")
    p.add_argument("experiment", choices=[*EXPERIMENTS, "photos"])
    p.add_argument("data_dir", nargs="+", help="folder of .exr/.hdr images; for photos, "
                   "folders of gain-map JPEGs (and .exr/.hdr images, made into Ultra HDR "
                   "files per tone mapper, default reinhard-devlin,local)")
    p.add_argument("-o", "--output", required=True, help="output folder")
    p.add_argument("--quick", action="store_true",
                   help="256-pixel images and fewer variants")
    p.add_argument("--tmo", default=None, help="comma-separated tone mappers (default all)")
    p.add_argument("--images", default=None, help="comma-separated image stems (default all)")
    p.add_argument("--long-side", type=int, default=None,
                   help="downscale images to this long side (default: full size)")
    p.add_argument("--device", choices=("cpu", "cuda", "auto"), default="cpu")
    p.add_argument("--jobs", type=int, default=0,
                   help="worker processes, one thread each (default: one per core)")
    p.add_argument("--cache", default=None,
                   help="results cache folder (default OUT_DIR/cache; share it between "
                   "experiments to reuse runs)")
    p.add_argument("--target-psnr", default="auto", metavar="DB|auto",
                   help=f"photos: rate control's target (auto: {DEFAULT_TARGET_PSNR:g})")
    p.add_argument("--max-bytes", type=int, default=None, metavar="N",
                   help="photos: rate control's payload cap")
    p.set_defaults(func=cmd_bench)
    return parser


def _one_line_warning(message, category, filename, lineno, file=None, line=None):
    print(f"gainmlp: warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    warnings.showwarning = _one_line_warning
    try:
        return int(args.func(args) or 0)
    except GainMLPError as exc:
        print(f"gainmlp: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("gainmlp: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print("gainmlp: error: out of memory", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
