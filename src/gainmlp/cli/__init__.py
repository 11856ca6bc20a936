"""The ``gainmlp`` command line: encode, batch, decode, eval, pair, demo, report, bench.

Every user error prints one line ``gainmlp: error: ...`` and exits with status 2.
"""

from __future__ import annotations

import argparse
import gc
import sys
import warnings

from gainmlp import __version__
from gainmlp.cli._common import (
    EXIT_USAGE,
    _add_encode_flags,
    _add_hdr_flags,
    _add_sdr_flags,
    clean_signals,
)
from gainmlp.cli._validate import check_args
from gainmlp.cli.decode import cmd_decode, cmd_info
from gainmlp.cli.edit import add_edit_commands
from gainmlp.cli.encode import cmd_encode
from gainmlp.cli.tools import cmd_batch, cmd_bench, cmd_demo, cmd_eval, cmd_pair, cmd_report
from gainmlp.codecs import DEFAULT_METHOD, METHODS
from gainmlp.errors import GainMLPError
from gainmlp.evaluation import EXPERIMENTS
from gainmlp.io.writing import new_run
from gainmlp.options import DEFAULT_TARGET_PSNR
from gainmlp.photo import CONTAINERS
from gainmlp.tonemap import DEFAULT_TONE_MAPPER, TONE_MAPPERS


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

    add_edit_commands(sub)  # resize, crop, rotate, thumbnail (cli/edit.py)
    return parser


def _one_line_warning(message, category, filename, lineno, file=None, line=None):
    print(f"gainmlp: warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Run the ``gainmlp`` command with ``argv`` (default: the process's arguments);
    returns the exit status."""
    status = _run(argv, process=argv is None)
    if argv is None:
        # the process is the gainmlp command and ends now: freeze the heap, so that the
        # interpreter's shutdown does not trace numba's ~10^5 objects again (0.2-0.5 s of
        # every decode's wall time, docs/speed.md); nothing is left to collect anyway
        gc.freeze()
    return status


#: Commands that read one file and write one: in their own process they run without the
#: cyclic garbage collector, which would otherwise trace numba's objects two or three times
#: while it starts (about 0.1-0.2 s of a decode); memory is freed by reference counts.
SHORT_COMMANDS = ("decode", "info")


def _run(argv: list[str] | None, process: bool = False) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if process and args.command in SHORT_COMMANDS:
        gc.disable()
    warnings.showwarning = _one_line_warning
    try:
        with clean_signals():
            new_run()  # this command's first write into a folder removes stale .part files
            check_args(args)  # every number and environment variable, before any work
            return int(args.func(args) or 0)
    except GainMLPError as exc:
        print(f"gainmlp: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt as exc:  # Ctrl-C, SIGTERM, SIGHUP: cleaned up on the way here
        print("gainmlp: interrupted", file=sys.stderr)
        return getattr(exc, "exit_status", 130)
    except MemoryError:
        print("gainmlp: error: out of memory", file=sys.stderr)
        return EXIT_USAGE
