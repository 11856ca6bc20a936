"""The ``gainmlp batch`` command: its own flags and what it prints.

The encode flags (``--method``, every :class:`~gainmlp.options.EncodeOptions` field, the
SDR colour set-up) are added by :mod:`gainmlp.cli` exactly as for ``gainmlp encode``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from gainmlp.errors import GainMLPError

DESCRIPTION = (
    "Encode every item of INPUT into OUT_DIR/NAME.jpg and write OUT_DIR/summary.csv and "
    "summary.jsonl (one row per item: bytes, PSNR, seconds, status, error). INPUT is a "
    "folder of pairs NAME_sdr.* + NAME_hdr.*, a folder of .exr/.hdr images with --tmo, a "
    "folder of gain-map JPEGs (re-encoded), or a CSV manifest (name,sdr,hdr or name,photo). "
    "Runs in worker processes on this machine, or on Ray with --ray. A rerun skips items "
    "already done with the same options. Exit status: the number of failed items (0: all "
    "done; at most 100); 2 with a 'gainmlp: error:' line when the batch cannot start.")


def add_batch_flags(p: argparse.ArgumentParser) -> None:
    """INPUT, OUT_DIR and the flags only ``batch`` has."""
    from gainmlp.photo import CONTAINERS
    from gainmlp.tonemap import TONE_MAPPERS

    p.add_argument("input", metavar="INPUT", help="a folder or a .csv manifest")
    p.add_argument("-o", "--output", required=True, metavar="OUT_DIR", help="output folder")
    p.add_argument("--tmo", choices=list(TONE_MAPPERS), default=None,
                   help="make the SDR of lone .exr/.hdr images with this tone mapper, as "
                   "'gainmlp pair' does")
    p.add_argument("--peak", type=float, default=1000.0,
                   help="HDR peak cd/m2 of pairs made with --tmo (1000)")
    p.add_argument("--container", choices=CONTAINERS, default=None,
                   help="container of the outputs, as for encode (default ultrahdr+mlp: a "
                   "standard gain-map JPEG plus the payload)")
    p.add_argument("--jpeg-quality", type=int, default=95, help="SDR base JPEG quality (95)")
    p.add_argument("--open-loop", action="store_true",
                   help="fit to the original SDR instead of the JPEG-decoded one (paper)")
    g = p.add_argument_group("running")
    g.add_argument("--jobs", type=int, default=0,
                   help="local worker processes, one thread each (default: one per core, "
                   "fewer if the memory budget says so; 2 on a GPU)")
    g.add_argument("--group", type=int, default=0,
                   help="items fitted together per task (default 1 on a CPU, 16 on a GPU)")
    g.add_argument("--ray", default=None, metavar="auto|ADDRESS",
                   help="run on Ray: auto (the cluster ray.init finds, else a local Ray "
                   "instance) or a cluster address; needs pip install \"gainmlp[ray]\"")
    g.add_argument("--ray-gpus", type=float, default=0.25, metavar="FRACTION",
                   help="GPU share each Ray task declares when fitting on CUDA (0.25)")
    g.add_argument("--ray-transfer", action="store_true",
                   help="send inputs and outputs through Ray's object store instead of "
                   "reading and writing them on shared storage from the workers")
    g.add_argument("--ray-retries", type=int, default=3,
                   help="times Ray reruns a task whose worker or node was lost (3)")
    g.add_argument("--force", action="store_true", help="redo items that are already done")
    g.add_argument("--no-psnr", action="store_true",
                   help="do not decode each output to measure its PSNR")
    g.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def run_command(args: argparse.Namespace, build: Callable) -> int:
    """Run the batch the parsed flags describe; returns the exit status.

    ``build(args, progress, rate_control=...)`` makes validated
    :class:`~gainmlp.options.EncodeOptions` from the flags as ``gainmlp encode`` does:
    gain-map JPEGs get the options ``encode`` gives a gain-map JPEG (where an option's
    "auto" differs, e.g. ``--target-psnr``), pairs those it gives a pair.
    """
    from gainmlp.batch.run import run_batch
    from gainmlp.batch.work import BatchSpec
    from gainmlp.photo import resolve_container

    args.method, args.container = resolve_container(args.method, args.container)
    options = build(args, False)
    gainmap_options = build(args, False, rate_control=True)

    if not 1 <= args.jpeg_quality <= 100:
        raise GainMLPError(f"--jpeg-quality must be in 1..100, not {args.jpeg_quality}")
    if args.ray_retries < 0:
        raise GainMLPError("--ray-retries must be 0 or more")
    spec = BatchSpec(out_dir=args.output, method=args.method, options=options, eps=args.eps,
                     jpeg_quality=args.jpeg_quality, open_loop=args.open_loop,
                     container=args.container, tmo=args.tmo, peak=args.peak,
                     exr_white=args.exr_white, sdr_primaries=args.sdr_primaries,
                     sdr_transfer=args.sdr_transfer, sdr_white=args.sdr_white,
                     psnr=not args.no_psnr,
                     gainmap_options=None if gainmap_options == options else gainmap_options)
    progress = sys.stderr.isatty() and not args.quiet
    result = run_batch(args.input, spec, jobs=args.jobs, group=args.group, ray=args.ray,
                       ray_gpus=args.ray_gpus, transfer=args.ray_transfer, force=args.force,
                       progress=progress, max_retries=args.ray_retries)
    where = f"Ray ({args.ray})" if args.ray else f"{result.jobs or 1} local worker(s)"
    rate = result.made / result.seconds if result.seconds > 0 else 0.0
    print(f"batch: {len(result.rows)} items: {result.made} made, {result.skipped} already done,"
          f" {result.failed} failed in {result.seconds:.1f} s ({rate:.2f} images/s made; "
          f"{where}, {result.device}, group {result.group}); summary in "
          f"{args.output}/summary.csv")
    bad = [row for row in result.rows if row["status"] != "ok"]
    for row in bad[:10]:
        print(f"gainmlp: failed: {row['name']}: {row['error']}", file=sys.stderr)
    if len(bad) > 10:
        print(f"gainmlp: ... and {len(bad) - 10} more failures (see summary.csv)",
              file=sys.stderr)
    return result.exit_status


__all__ = ["DESCRIPTION", "add_batch_flags", "run_command"]
