"""The batch's summary (``summary.csv``, ``summary.jsonl``) and when an item is done.

While a batch runs, every finished item's row is appended to ``summary.jsonl`` at once
(a journal: an interrupted batch keeps what it did). At the end both files are rewritten
atomically with exactly one row per item, in name order: the rows of this run, and the
earlier rows of items it skipped.

**Done** (skipped by a rerun without ``--force``): the item's last row has status ``ok``
and the fingerprint of this run's options for its kind
(:meth:`~gainmlp.batch.work.BatchSpec.fingerprint`), its inputs still have the byte
count the row records, and ``OUT_DIR/NAME.jpg`` is a regular file whose SHA-256 is the
one the row recorded when it was written (so a file damaged in place, same length or
not, is made again), that starts as a JPEG, and carries a gainmlp payload whose CRC
checks and whose size is the JPEG's (an ``ultrahdr`` container: a readable gain-map
JPEG). Anything else is made again.

OUT_DIR's own files (``summary.csv``, ``summary.jsonl``, the lock) never write into an
input: they are opened without following symbolic links (``O_NOFOLLOW``), must be
regular files, and are refused when they are one of the batch's inputs
(:func:`check_reserved`); the lock is never truncated. Text cells of ``summary.csv``
that a spreadsheet would read as a formula (starting with ``=``, ``+``, ``-``, ``@``, a
tab or a carriage return) are written with a leading ``'`` (``summary.jsonl`` keeps
them as they are).
"""

from __future__ import annotations

import contextlib
import csv
import errno
import hashlib
import io
import json
import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path

from gainmlp.batch.items import Item
from gainmlp.batch.work import COLUMNS, BatchSpec
from gainmlp.errors import GainMLPError

SUMMARY_CSV = "summary.csv"
SUMMARY_JSONL = "summary.jsonl"
LOCK = ".gainmlp-batch.lock"
#: OUT_DIR's own files, none of which may be an input.
RESERVED = (SUMMARY_CSV, SUMMARY_JSONL, LOCK)
#: Largest ``summary.jsonl`` read back (a row is about 600 bytes: ~1.7 million items).
MAX_JOURNAL_BYTES = 1 << 30
#: Longest journal line taken for a row; longer lines are skipped.
MAX_ROW_BYTES = 1 << 20
#: First characters a spreadsheet reads as a formula (OWASP's CSV injection list).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _open_own(path: Path, flags: int, inputs: Iterable[str | os.PathLike] = ()) -> int:
    """Open one of OUT_DIR's own files without following a symbolic link; it must be a
    regular file and none of ``inputs``. Returns the descriptor."""
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, 0o666)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise GainMLPError(f"{path}: is a symbolic link; the batch does not write "
                               "through links in OUT_DIR") from None
        raise GainMLPError(f"{path}: cannot open ({exc.strerror})") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise GainMLPError(f"{path}: is not a regular file")
    for src in inputs:
        try:
            other = os.stat(src)
        except (OSError, ValueError):
            continue
        if (other.st_dev, other.st_ino) == (st.st_dev, st.st_ino):
            os.close(fd)
            raise GainMLPError(f"{path}: is the input {src}; choose another OUT_DIR")
    return fd


def check_reserved(out_dir: str | os.PathLike, inputs: Iterable[str | os.PathLike]) -> None:
    """Refuse a batch whose OUT_DIR files (summary, journal, lock) are not regular files
    (a symbolic link, a folder, a FIFO...) or would be one of its inputs (the manifest
    itself, or any item's file), before any work."""
    own = {}
    for name in RESERVED:
        path = Path(out_dir) / name
        try:
            kind = os.lstat(path).st_mode
            st = os.stat(path)
        except OSError:
            kind = None
        if kind is not None and not stat.S_ISREG(kind):  # before the work, not at its end
            what = "a symbolic link" if stat.S_ISLNK(kind) else "not a regular file"
            raise GainMLPError(f"{path}: is {what}; the batch writes its own file there "
                               "(move it away or choose another OUT_DIR)")
        if kind is not None:
            own[(st.st_dev, st.st_ino)] = name
    if not own:
        return
    for src in inputs:
        try:
            st = os.stat(src)
        except (OSError, ValueError):
            continue
        name = own.get((st.st_dev, st.st_ino))
        if name is not None:
            raise GainMLPError(f"{Path(out_dir) / name}: is the input {src}; the batch would "
                               "overwrite it (choose another OUT_DIR)")


def csv_cell(value) -> str:
    """A summary value as a CSV cell: text a spreadsheet would take for a formula gets a
    leading ``'``."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def read_rows(out_dir: str | os.PathLike) -> dict[str, dict]:
    """The last row of every name in ``OUT_DIR/summary.jsonl`` ({} when there is none);
    lines that are not JSON objects of text (a line cut by a crash, binary data, deep
    nesting, text that is not UTF-8) are skipped. A journal that is a symbolic link, not
    a regular file, or over :data:`MAX_JOURNAL_BYTES` is a one-line error."""
    path = Path(out_dir) / SUMMARY_JSONL
    if not os.path.lexists(path):
        return {}
    fd = _open_own(path, os.O_RDONLY)
    with os.fdopen(fd, "rb") as fh:
        if os.fstat(fd).st_size > MAX_JOURNAL_BYTES:
            raise GainMLPError(f"{path}: over {MAX_JOURNAL_BYTES >> 20} MB; not a journal "
                               "of this batch (move it away)")
        try:
            data = fh.read(MAX_JOURNAL_BYTES + 1)
        except OSError as exc:
            raise GainMLPError(f"{path}: cannot read the summary ({exc.strerror})") from None
    rows: dict[str, dict] = {}
    for raw in data.split(b"\n"):
        if not raw.startswith(b"{") or len(raw) > MAX_ROW_BYTES:
            continue
        try:
            row = json.loads(raw.decode("utf-8"))
            json.dumps(row, ensure_ascii=False).encode("utf-8")  # no lone surrogates
        except (ValueError, RecursionError):  # UnicodeError is a ValueError
            continue
        if isinstance(row, dict) and isinstance(row.get("name"), str):
            rows[row["name"]] = row
    return rows


def output_is_valid(data: bytes) -> bool:
    """Whether ``data`` is a whole gainmlp photo: a JPEG whose payload's CRC checks and
    whose size matches the payload's (or a readable gain-map JPEG without a payload)."""
    from gainmlp.container import gainmap_jpeg
    from gainmlp.container.app11 import extract_payload
    from gainmlp.container.payload import Payload
    from gainmlp.io.files import open_image

    if not data.startswith(b"\xff\xd8"):
        return False
    try:
        raw = extract_payload(data)
        if raw is None:
            return gainmap_jpeg.is_gainmap_jpeg(data)
        payload = Payload.from_bytes(raw)
        img = open_image(data, "output")
        return (img.width, img.height) == (payload.width, payload.height)
    except Exception:  # noqa: BLE001 - anything unreadable is simply not done
        return False


def is_done(item: Item, row: dict | None, spec: BatchSpec) -> bool:
    """Whether a rerun may skip ``item`` (see the module docstring)."""
    if item.kind == "bad" or row is None or row.get("status") != "ok":
        return False
    if row.get("fingerprint") != spec.fingerprint(item.kind):
        return False
    if row.get("input_bytes") != item.input_bytes():
        return False
    digest = row.get("output_sha256")
    if not isinstance(digest, str):  # a row written before hashes were recorded
        return False
    target = spec.output(item)
    try:
        if not stat.S_ISREG(os.lstat(target).st_mode):
            return False
        data = target.read_bytes()
    except OSError:
        return False
    return (len(data) == row.get("output_bytes")
            and hashlib.sha256(data).hexdigest() == digest and output_is_valid(data))


class Journal:
    """``summary.jsonl`` opened for appending one row per finished item."""

    def __init__(self, out_dir: str | os.PathLike,
                 inputs: Iterable[str | os.PathLike] = ()) -> None:
        path = Path(out_dir) / SUMMARY_JSONL
        fd = _open_own(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, inputs)
        try:
            size = os.fstat(fd).st_size
            # a line cut by a crash (or any last byte but a newline) must not swallow the
            # next row; read as bytes: the journal may hold anything
            if size > 0 and os.pread(fd, 1, size - 1) != b"\n":
                os.write(fd, b"\n")
            self.fh = open(fd, "a", encoding="utf-8")  # noqa: SIM115 - closed by close()
        except OSError as exc:
            os.close(fd)
            raise GainMLPError(f"{path}: cannot write the summary ({exc.strerror})") from None

    def add(self, row: dict) -> None:
        self.fh.write(json.dumps(row) + "\n")
        self.fh.flush()

    def close(self) -> None:
        self.fh.close()


def write_summary(out_dir: str | os.PathLike, rows: list[dict],
                  inputs: Iterable[str | os.PathLike] = ()) -> None:
    """Both summary files with ``rows`` (one per item), written atomically (refused over
    any of ``inputs``)."""
    from gainmlp.io.writing import atomic_write

    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=COLUMNS, extrasaction="ignore",
                            lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: csv_cell(row.get(k)) for k in COLUMNS})
    inputs = list(inputs)
    atomic_write(Path(out_dir) / SUMMARY_CSV, text.getvalue().encode("utf-8", "replace"),
                 inputs)
    lines = "".join(json.dumps({k: row.get(k) for k in COLUMNS}) + "\n" for row in rows)
    atomic_write(Path(out_dir) / SUMMARY_JSONL, lines.encode(), inputs)


@contextlib.contextmanager
def locked(out_dir: str | os.PathLike, inputs: Iterable[str | os.PathLike] = ()
           ) -> Iterator[None]:
    """Hold ``OUT_DIR/.gainmlp-batch.lock``: two batches never write one folder at once.
    The lock is opened without truncating or following a link, and refused when it is
    not a regular file or is one of ``inputs``."""
    import fcntl

    path = Path(out_dir) / LOCK
    fh = os.fdopen(_open_own(path, os.O_RDWR | os.O_CREAT, inputs), "r+b")
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise GainMLPError(f"{out_dir}: another gainmlp batch is writing there") from None
        yield
    finally:
        fh.close()


__all__ = ["FORMULA_START", "Journal", "LOCK", "RESERVED", "SUMMARY_CSV", "SUMMARY_JSONL",
           "check_reserved", "csv_cell", "is_done", "locked", "output_is_valid", "read_rows",
           "write_summary"]
