"""``gainmlp eval``, ``pair``, ``demo``, ``report``, ``batch`` and ``bench``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from gainmlp.cli._common import (
    _options,
    _progress,
    _read_sdr,
)
from gainmlp.errors import GainMLPError
from gainmlp.options import (
    EncodeOptions,
    resolve_target_psnr,
)


def cmd_eval(args: argparse.Namespace) -> int:
    from gainmlp.budget import check_encode
    from gainmlp.evaluation import evaluate
    from gainmlp.io import read_hdr

    check_encode([args.sdr, args.hdr])
    from gainmlp.metrics import SSIM_MIN_SIDE

    sdr = _read_sdr(args.sdr, args)
    if min(sdr.pixels.shape[:2]) < SSIM_MIN_SIDE:  # refused before the fit, not after
        raise GainMLPError(f"{args.sdr}: eval needs at least {SSIM_MIN_SIDE}x{SSIM_MIN_SIDE} "
                           f"pixels (SSIM's window), not {sdr.pixels.shape[1]}x"
                           f"{sdr.pixels.shape[0]}")
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
    from gainmlp.budget import check_pair
    from gainmlp.io import atomic_write, encode_hdr_png, read_hdr_linear, write_sdr_png
    from gainmlp.io.writing import check_output, check_output_folder
    from gainmlp.pair import make_pair

    check_pair(args.hdr)  # the declared size against the budget, before decoding
    out = check_output_folder(args.output)  # before the work: a file there is refused
    for name in ("sdr.png", "hdr.png"):
        check_output(out / name, [args.hdr])
    linear = read_hdr_linear(args.hdr)
    sdr_u8, hdr_u16 = make_pair(linear, primaries="bt2020", tmo=args.tmo, peak_nits=args.peak)
    write_sdr_png(out / "sdr.png", sdr_u8)
    atomic_write(out / "hdr.png", encode_hdr_png(hdr_u16.astype(np.float32) / 65535.0),
                 [args.hdr])
    print(f"wrote {out / 'sdr.png'} and {out / 'hdr.png'} ({args.tmo})")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from gainmlp.evaluation.demo import run_demo
    from gainmlp.io.writing import check_output_folder

    check_output_folder(args.output)
    run_demo(Path(args.output), args.method, args.tmo, progress=sys.stderr.isatty())
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from gainmlp.budget import check_encode
    from gainmlp.evaluation.html_report import DEFAULT_METHODS, make_report
    from gainmlp.io import read_hdr
    from gainmlp.io.writing import check_output_folder

    check_output_folder(args.output)
    check_encode([args.sdr, args.hdr])
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
    from gainmlp.io.writing import check_output_folder

    check_output_folder(args.output)
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


