"""Fuzz targets for what gainmlp writes and what its command line accepts (issue 22).

* ``cli-args``: the command line's argument layer. The first byte picks the command; the
  rest, split at whitespace, are arguments after valid input files (so that the checks
  behind the files are reached); tokens ``GAINMLP_THREADS=...`` and
  ``GAINMLP_MAX_MEMORY=...`` set those variables for the input. argparse, then
  :func:`gainmlp.cli._validate.check_args` and the encoders' option validation run; no
  work is done. Oracle: argparse's own exit or a :class:`GainMLPError`, and every number
  that was accepted is finite.
* ``writers``: :func:`gainmlp.io.writing.atomic_write` (and ``check_output_folder``)
  into a private folder, over whatever the first byte puts at the output's name first: a
  new name, a regular file, a setuid file, a FIFO, a symbolic link (to a file, dangling),
  a folder, the input itself. The name comes from the input (any bytes, ``/`` for
  sub-folders, ``..`` and absolute parts dropped so nothing escapes the folder). Oracle:
  a write leaves a regular file with exactly the bytes and no setuid/setgid/sticky bit,
  a refusal leaves the special file as it was, the input is never changed, and no
  ``.part`` file is ever left.
* ``hdr-out``: the HDR writers (:func:`gainmlp.io.hdr.write_hdr`: PNG, AVIF, EXR, TIFF)
  on a small image whose float32 values (NaN, infinities, anything) and EXR white come
  from the input; PNG, TIFF and EXR are read back. Oracle: what is read back is finite PQ
  in [0, 1] of the image's size, and for PNG/TIFF of finite values exactly the values
  rounded to 16 bits.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import stat
import struct
from functools import cache
from pathlib import Path

import numpy as np
from targets import _tmp_dir, check_hdr, sdr_pixels, select

import gainmlp.cli
import gainmlp.cli._validate
import gainmlp.io.writing
from gainmlp.colourspaces import colour_science
from gainmlp.errors import GainMLPError
from gainmlp.io.hdr import read_hdr, write_hdr

# colour-science is loaded now rather than inside the first input (under the fuzzer's
# instrumentation its import alone took over 20 s, libFuzzer's limit for one input)
colour_science()

COMMANDS = ("encode", "decode", "batch", "pair", "eval", "report", "bench", "info", "demo")
ENV_KEYS = ("GAINMLP_THREADS", "GAINMLP_MAX_MEMORY")
MAX_TOKENS = 64
KINDS = ("new", "regular", "setuid", "fifo", "symlink", "dangling", "folder", "input",
         "outdir")
HDR_FORMATS = (".png", ".avif", ".exr", ".tif")


# --------------------------------------------------------------------------- cli-args


@cache
def _parser() -> argparse.ArgumentParser:
    return gainmlp.cli.build_parser()


@cache
def _cli_files() -> dict[str, str]:
    """Small valid inputs for the positional arguments (written once)."""
    from gainmlp.colorimetry import SdrEncoding
    from gainmlp.container.ultrahdr import ultrahdr_from_pair
    from gainmlp.image import SdrImage
    from gainmlp.io import write_hdr as write_pq
    from gainmlp.io import write_sdr_png
    from gainmlp.io.hdr import encode_hdr_exr

    folder = _tmp_dir() / "cli"
    folder.mkdir(exist_ok=True)
    sdr = sdr_pixels(12, 16)
    pq = np.full((12, 16, 3), 0.4, np.float32)
    write_sdr_png(folder / "sdr.png", sdr)
    write_pq(folder / "hdr.png", pq)
    (folder / "photo.jpg").write_bytes(ultrahdr_from_pair(SdrImage(sdr, SdrEncoding()), pq)[0])
    (folder / "scene.exr").write_bytes(encode_hdr_exr(pq))
    return {k: str(folder / v) for k, v in (("sdr", "sdr.png"), ("hdr", "hdr.png"),
                                            ("photo", "photo.jpg"), ("exr", "scene.exr"),
                                            ("folder", "."), ("out", "out"))}


def _positional(command: str) -> list[str]:
    f = _cli_files()
    return {"encode": [f["sdr"], f["hdr"]], "decode": [f["photo"]], "info": [f["photo"]],
            "eval": [f["sdr"], f["hdr"]], "report": [f["sdr"], f["hdr"]],
            "pair": [f["exr"]], "batch": [f["folder"]], "bench": ["table4", f["folder"]],
            "demo": []}[command]


@contextlib.contextmanager
def _environment(values: dict[str, str]):
    saved = {k: os.environ.get(k) for k in ENV_KEYS}
    try:
        for k in ENV_KEYS:
            os.environ.pop(k, None)
        os.environ.update(values)
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def fuzz_cli_args(data: bytes) -> None:
    """The command line's argument layer (module docstring)."""
    from gainmlp.cli._common import _options

    command, rest = select(data, COMMANDS)
    tokens = rest.decode("utf-8", "surrogateescape").replace("\x00", " ").split()
    env = {}
    for token in tokens[:MAX_TOKENS]:
        key, eq, value = token.partition("=")
        if eq and key in ENV_KEYS:
            env[key] = value
    argv = [command, *_positional(command), "-o", _cli_files()["out"],
            *(t for t in tokens[:MAX_TOKENS] if t.partition("=")[0] not in ENV_KEYS)]
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        try:
            args = _parser().parse_args(argv)
        except SystemExit:
            return  # argparse's one-line usage error (or --help / --version)
    with _environment(env):
        gainmlp.cli._validate.check_args(args)
        if command in ("encode", "eval", "batch", "report"):
            values = {**vars(args), "method": None if command == "report" else args.method}
            _options(argparse.Namespace(**values), False)
    for key, value in vars(args).items():
        if isinstance(value, float):
            assert np.isfinite(value), f"--{key} {value!r} accepted"


# --------------------------------------------------------------------------- writers


def _snapshot(path: Path) -> tuple | None:
    try:
        st = os.lstat(path)
    except OSError:
        return None
    if stat.S_ISLNK(st.st_mode):
        return ("link", os.readlink(path))
    if stat.S_ISREG(st.st_mode):
        return ("file", path.read_bytes(), stat.S_IMODE(st.st_mode))
    return (stat.S_IFMT(st.st_mode),)


def _safe_name(raw: bytes) -> Path:
    parts = [p for p in os.fsdecode(raw[:600]).split("/") if p not in ("", ".", "..")]
    return Path(*parts[:4]) if parts else Path("out.bin")


def fuzz_writers(data: bytes) -> None:
    """atomic_write over every kind of thing at the output's name (module docstring)."""
    kind, rest = select(data, KINDS)
    raw_name, _, content = rest.partition(b"\x00")
    root = _tmp_dir() / "writers"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir()
    source = root / "input.bin"
    source.write_bytes(b"input")
    target = source if kind == "input" else root / _safe_name(raw_name)
    if kind not in ("new", "input"):
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            if kind in ("regular", "setuid"):
                target.write_bytes(b"old")
                os.chmod(target, 0o6755 if kind == "setuid" else 0o640)
            elif kind == "fifo":
                os.mkfifo(target)
            elif kind == "symlink":
                target.symlink_to(source)
            elif kind == "dangling":
                target.symlink_to(root / "nowhere")
            elif kind == "folder":
                target.mkdir()
        except OSError:
            return  # a name the file system refuses: nothing to test
    before = _snapshot(target)
    if kind == "outdir":
        try:
            made = gainmlp.io.writing.check_output_folder(target)
            assert made.is_dir(), "check_output_folder returned a non-folder"
        except GainMLPError:
            assert _snapshot(target) == before, "a refused output folder changed"
        return
    try:
        gainmlp.io.writing.atomic_write(target, content, [source])
        written = True
    except GainMLPError:
        written = False
    parts = [p for p in root.rglob("*") if p.name.endswith(".part")]
    assert not parts, f"left {parts}"
    assert source.read_bytes() == b"input", "the input changed"
    after = _snapshot(target)
    if written:
        assert kind in ("new", "regular", "setuid"), f"wrote over a {kind}"
        assert after is not None and after[0] == "file" and after[1] == content, "content"
        assert after[2] & 0o7000 == 0, "a setuid/setgid/sticky bit was kept"
    else:
        assert after == before, f"a refused write changed the {kind}"


# --------------------------------------------------------------------------- hdr-out


@contextlib.contextmanager
def _kernels_numpy():
    saved = os.environ.get("GAINMLP_KERNELS")
    os.environ["GAINMLP_KERNELS"] = "numpy"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("GAINMLP_KERNELS", None)
        else:
            os.environ["GAINMLP_KERNELS"] = saved


def fuzz_hdr_out(data: bytes) -> None:
    """The HDR writers on values and EXR white from the input (module docstring)."""
    fmt, rest = select(data, HDR_FORMATS)
    if len(rest) < 6:
        return
    height, width = 1 + rest[0] % 8, 1 + rest[1] % 8
    (white,) = struct.unpack("<f", rest[2:6])
    values = np.frombuffer(rest[6:6 + (len(rest) - 6) // 4 * 4], dtype="<f4")
    pq = np.resize(values, height * width * 3) if values.size else np.zeros(height * width * 3)
    pq = pq.astype(np.float32).reshape(height, width, 3)
    path = _tmp_dir() / f"hdr-out{fmt}"
    path.unlink(missing_ok=True)
    # the numpy references of the kernels: numba cannot compile instrumented bytecode
    with _kernels_numpy():
        write_hdr(path, pq, exr_white_nits=float(white))
        if fmt == ".avif":
            return
        back = read_hdr(path, exr_white_nits=float(white))
    check_hdr(back, height, width, fmt)
    if fmt != ".exr" and np.all(np.isfinite(pq)):
        expect = np.rint(np.clip(pq, 0.0, 1.0) * 65535) / 65535
        assert np.array_equal(back, expect.astype(np.float32)), f"{fmt} round trip"


OUT_TARGETS = (
    ("cli-args", fuzz_cli_args, "cli.build_parser, cli._validate.check_args, "
     "cli._common._options (EncodeOptions.validate)", 100_000),
    ("writers", fuzz_writers, "io.writing.atomic_write, check_output, check_output_folder",
     100_000),
    ("hdr-out", fuzz_hdr_out, "io.hdr.write_hdr (PNG, AVIF, EXR, TIFF), read back", 100_000),
)
