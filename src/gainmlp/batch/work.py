"""Making batch items, in whichever process runs them (a local worker, a Ray task).

:func:`run_task` takes a group of items and the batch's :class:`BatchSpec` and returns
one summary row per item (with the output's bytes when the driver writes them). The
items of a group are read one by one, fitted together where they can be
(:func:`gainmlp.photo.encode_photos`, :func:`gainmlp.api.encode_many`: each payload is
what the item gets alone), written atomically and measured. Every failure of an item
becomes its row's one-line error; nothing an item does stops the others.

Fits run with one torch thread (``GAINMLP_THREADS=1``): torch's reductions split by
thread count, so a fixed count is what makes the same item with the same options give
the same bytes in every worker, locally or on Ray.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from gainmlp import __version__
from gainmlp.batch.items import Item
from gainmlp.codecs import DEFAULT_METHOD
from gainmlp.errors import GainMLPError
from gainmlp.image import SdrImage
from gainmlp.options import DEFAULT_EPS, EncodeOptions

#: Columns of ``summary.csv`` / keys of ``summary.jsonl``, in order.
COLUMNS = ("name", "status", "kind", "input", "input_bytes", "original_map_bytes",
           "payload_bytes", "output_bytes", "psnr", "seconds", "fingerprint", "version",
           "warnings", "error", "output_sha256")
MAX_ERROR = 300


@dataclass(frozen=True)
class BatchSpec:
    """What every item of a batch is made with: the encode options and where it goes.

    ``crash_once`` is for tests only: ``(NAME, MARKER)`` makes the process that starts
    item NAME exit at once (``os._exit``) if the file MARKER does not exist yet, creating
    it, so the first attempt of that item loses its worker and the retry succeeds.
    """

    out_dir: str
    method: str = DEFAULT_METHOD
    options: EncodeOptions = field(default_factory=EncodeOptions)
    eps: float = DEFAULT_EPS
    jpeg_quality: int = 95
    open_loop: bool = False
    container: str = "ultrahdr+mlp"
    tmo: str | None = None
    peak: float = 1000.0
    exr_white: float = 100.0
    sdr_primaries: str | None = None
    sdr_transfer: str | None = None
    sdr_white: float | None = None
    psnr: bool = True
    gainmap_options: EncodeOptions | None = None
    crash_once: tuple[str, str] | None = None

    def options_for(self, kind: str) -> EncodeOptions:
        """The options items of ``kind`` are encoded with: ``gainmap_options`` (where an
        option's default differs for re-encoded gain-map JPEGs) or ``options``."""
        if kind == "gainmap" and self.gainmap_options is not None:
            return self.gainmap_options
        return self.options

    def fingerprint(self, kind: str) -> str:
        """A short hash of every setting that shapes the output of an item of ``kind``
        (not the gainmlp version, the worker count or the grouping)."""
        options = asdict(self.options_for(kind))
        options.pop("progress", None)
        keys: dict = {"method": self.method, "eps": self.eps, "options": options,
                      "container": self.container}
        if kind in ("pair", "tonemap"):
            keys.update(jpeg_quality=self.jpeg_quality, open_loop=self.open_loop,
                        sdr=[self.sdr_primaries, self.sdr_transfer,
                                                       self.sdr_white])
        if kind == "pair":
            keys.update(exr_white=self.exr_white)
        if kind == "tonemap":
            keys.update(tmo=self.tmo, peak=self.peak)
        text = json.dumps(keys, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def output(self, item: Item) -> Path:
        return Path(self.out_dir) / f"{item.name}.jpg"


def one_line(exc: BaseException) -> str:
    """An exception as one short line (a GainMLPError's own message, else its type too)."""
    if isinstance(exc, GainMLPError):
        text = str(exc)
    elif isinstance(exc, MemoryError):
        text = "out of memory"
    else:
        text = f"{type(exc).__name__}: {exc}"
    text = " ".join(text.split())
    return text if len(text) <= MAX_ERROR else text[:MAX_ERROR - 3] + "..."


def new_row(item: Item, spec: BatchSpec, error: str = "") -> dict:
    """The summary row of ``item`` before it is made (a failure until it succeeds)."""
    row = dict.fromkeys(COLUMNS)
    row.update(name=item.name, status="failed", kind=item.kind, input=";".join(item.inputs),
               input_bytes=item.input_bytes(), seconds=0.0, version=__version__,
               fingerprint=spec.fingerprint(item.kind) if item.kind != "bad" else None,
               warnings="", error=error or item.error or "")
    return row


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """``GAINMLP_THREADS=1`` for the duration (restored after): one fitting thread."""
    before = os.environ.get("GAINMLP_THREADS")
    os.environ["GAINMLP_THREADS"] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("GAINMLP_THREADS", None)
        else:
            os.environ["GAINMLP_THREADS"] = before


def init_worker(memory_budget: int | None = None, driver_pid: int | None = None) -> None:
    """Set up a worker process once: it dies with the driver ``driver_pid``
    (:mod:`~gainmlp.batch.lifeline`), one fitting thread, its share of the memory budget,
    and the encoder (torch included) imported before the first item."""
    if driver_pid:
        from gainmlp.batch.lifeline import die_with

        die_with(driver_pid)
    os.environ["GAINMLP_THREADS"] = "1"
    if memory_budget:
        os.environ["GAINMLP_MAX_MEMORY"] = str(int(memory_budget))
    import gainmlp.codecs.mlp.fit  # noqa: F401 - torch and the fitter, imported once
    import gainmlp.photo  # noqa: F401


@dataclass
class _Prepared:
    """An item read and ready to fit: the SDR and HDR (PQ) the encoder takes."""

    index: int
    item: Item
    sdr: SdrImage
    hdr: np.ndarray
    photo: bytes | None = None
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def _crash_hook(item: Item, spec: BatchSpec) -> None:
    if spec.crash_once is None or spec.crash_once[0] != item.name:
        return
    try:
        fd = os.open(spec.crash_once[1], os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return
    os.write(fd, str(os.getpid()).encode())
    os.close(fd)
    os._exit(17)


def _check_header(*paths: str, mode: str = "encode") -> None:
    """Refuse images whose headers are absurd or too large for the memory budget
    (:func:`gainmlp.budget.check_encode`), or that are not regular files."""
    from gainmlp.budget import check_encode

    check_encode(list(paths), mode)


def _read(item: Item, spec: BatchSpec) -> tuple[SdrImage, np.ndarray, bytes | None]:
    """(SDR, HDR PQ, the gain-map JPEG's bytes or None) of one item."""
    from gainmlp.api import check_pair
    from gainmlp.colorimetry import SdrEncoding

    overrides = {k: v for k, v in (("primaries", spec.sdr_primaries),
                                   ("transfer", spec.sdr_transfer),
                                   ("white_nits", spec.sdr_white)) if v is not None}
    if item.kind == "pair":
        from gainmlp.io import read_hdr, read_sdr

        _check_header(item.sdr, item.hdr)
        sdr = read_sdr(item.sdr, spec.sdr_primaries, spec.sdr_transfer, spec.sdr_white)
        hdr = read_hdr(item.hdr, spec.exr_white)
        check_pair(sdr.pixels, hdr)
        return sdr, hdr, None
    if item.kind == "tonemap":  # what `gainmlp pair` writes and `gainmlp encode` reads
        from gainmlp.pair import pair_from_hdr_file

        return (*pair_from_hdr_file(item.hdr, spec.tmo, spec.peak,
                                    replace(SdrEncoding(), **overrides)), None)
    if item.kind == "gainmap":
        from gainmlp.container import gainmap_jpeg
        from gainmlp.io.files import read_bytes

        _check_header(item.photo, mode="reencode")
        data = read_bytes(item.photo)
        try:
            gm = gainmap_jpeg.read_gainmap_jpeg(data)
            hdr = gainmap_jpeg.gainmap_jpeg_to_hdr_pq(gm)
        except GainMLPError as exc:  # the reader's messages do not name the file
            raise GainMLPError(f"{item.photo}: {exc}") from None
        encoding = SdrEncoding(gm.colour_space, "srgb", gainmap_jpeg.SDR_WHITE_NITS)
        return SdrImage(gm.sdr, encoding, gm.icc), hdr, data
    raise GainMLPError(item.error or f"unknown item kind {item.kind!r}")


def _prepare(index: int, item: Item, spec: BatchSpec, row: dict) -> _Prepared | None:
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            sdr, hdr, data = _read(item, spec)
        except Exception as exc:  # noqa: BLE001 - any failure of one item is its row's error
            row["error"] = one_line(exc)
            sdr = None
    notes = [" ".join(str(w.message).split()) for w in caught]
    row["seconds"] = time.perf_counter() - t0
    row["warnings"] = "; ".join(notes)
    if sdr is None:
        return None
    return _Prepared(index, item, sdr, hdr, data, row["seconds"], notes)


def _encode_group(group: list[_Prepared], spec: BatchSpec) -> list[tuple[bytes, int | None]]:
    """(file bytes, payload bytes) of each prepared item, fitted together if several."""
    from gainmlp import photo

    pairs = [(p.sdr, p.hdr) for p in group]
    options = spec.options_for(group[0].item.kind)
    if group[0].item.kind == "gainmap":  # the one re-encode rule, item by item
        out = []
        for p in group:
            data, report = photo.reencode_gainmap_photo(p.photo, spec.method, options,
                                                        spec.eps, p.item.name, spec.container)
            out.append((data, report["payload"] or None))
        return out
    if len(group) == 1 or spec.container == "ultrahdr":
        files = [photo.encode_jpeg(s, h, spec.method, options, spec.eps, spec.container,
                                   spec.jpeg_quality, spec.open_loop) for s, h in pairs]
    else:
        files = photo.encode_photos(pairs, spec.method, options, spec.eps,
                                    spec.jpeg_quality, spec.open_loop, container=spec.container)
    return [(data, parts.get("payload")) for data, parts in files]


def _finish(p: _Prepared, data: bytes, payload_bytes: int | None, fit_seconds: float,
            spec: BatchSpec, row: dict, write: bool) -> None:
    """Write (or keep for the driver), measure and fill the row of one encoded item."""
    from gainmlp import metrics
    from gainmlp.photo import decode_photo

    t0 = time.perf_counter()
    if p.photo is not None:
        from gainmlp.container.photo import gain_map_size

        row["original_map_bytes"] = gain_map_size(p.photo)
    if spec.psnr:  # decoded before it is written: a file that does not decode is not kept
        value = metrics.psnr(p.hdr, decode_photo(data, p.item.name))
        row["psnr"] = round(value, 3) if np.isfinite(value) else None
    if write:
        from gainmlp.io import atomic_write, check_output

        target = spec.output(p.item)
        check_output(target, p.item.inputs)
        atomic_write(target, data)
    row.update(status="ok", error="", payload_bytes=payload_bytes, output_bytes=len(data),
               output_sha256=hashlib.sha256(data).hexdigest(),
               seconds=round(p.seconds + fit_seconds + time.perf_counter() - t0, 3))


def _run_encoded(group: list[_Prepared], spec: BatchSpec, rows: list[dict],
                 outputs: list[bytes | None], write: bool) -> None:
    """Fit ``group`` together; if that fails, each item alone, so errors find their item."""
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            encoded = _encode_group(group, spec)
    except Exception as exc:  # noqa: BLE001 - one item's failure must not stop the batch
        if len(group) > 1:
            for p in group:
                _run_encoded([p], spec, rows, outputs, write)
            return
        rows[group[0].index]["error"] = one_line(exc)
        rows[group[0].index]["seconds"] = round(group[0].seconds + time.perf_counter() - t0, 3)
        return
    share = (time.perf_counter() - t0) / len(group)
    for p, (data, payload_bytes) in zip(group, encoded, strict=True):
        row = rows[p.index]
        notes = p.notes + [" ".join(str(w.message).split()) for w in caught]
        row["warnings"] = "; ".join(dict.fromkeys(notes))
        try:
            _finish(p, data, payload_bytes, share, spec, row, write)
            outputs[p.index] = None if write else data
        except Exception as exc:  # noqa: BLE001
            row.update(status="failed", error=one_line(exc))


def _localise(items: list[Item], blobs: dict[str, bytes], folder: str) -> list[Item]:
    """The items with their inputs written to ``folder`` (inputs sent as bytes)."""
    out = []
    for k, item in enumerate(items):
        local = {}
        for key in ("sdr", "hdr", "photo"):
            path = getattr(item, key)
            if path and path in blobs:
                dest = Path(folder) / f"{k}-{key}{Path(path).suffix.lower()}"
                dest.write_bytes(blobs[path])
                local[key] = str(dest)
        out.append(replace(item, **local))
    return out


def run_task(items: list[Item], spec: BatchSpec,
             blobs: dict[str, bytes] | None = None) -> list[tuple[dict, bytes | None]]:
    """Make ``items`` (fitted together where possible); one (row, output) per item.

    Without ``blobs`` inputs are read from their paths and outputs written to
    ``spec.out_dir`` by this process (output None). With ``blobs`` (input path -> bytes,
    sent by the driver) inputs come from there and each output's bytes are returned for
    the driver to write.
    """
    write = blobs is None
    rows = [new_row(item, spec) for item in items]
    outputs: list[bytes | None] = [None] * len(items)
    with single_thread(), (contextlib.nullcontext() if write
                           else tempfile.TemporaryDirectory(prefix="gainmlp-batch-")) as tmp:
        work = items if write else _localise(items, blobs, tmp)
        prepared: dict[str, list[_Prepared]] = {}
        for k, item in enumerate(work):
            _crash_hook(item, spec)
            if item.kind == "bad":
                continue
            p = _prepare(k, item, spec, rows[k])
            if p is not None:
                prepared.setdefault(item.kind if item.kind == "gainmap" else "pair",
                                    []).append(p)
        for group in prepared.values():
            _run_encoded(group, spec, rows, outputs, write)
    for row in rows:
        row["seconds"] = round(float(row["seconds"] or 0.0), 3)
    return list(zip(rows, outputs, strict=True))


__all__ = ["COLUMNS", "BatchSpec", "init_worker", "new_row", "one_line", "run_task",
           "single_thread"]
