"""The batch's summary (``summary.csv``, ``summary.jsonl``) and when an item is done.

While a batch runs, every finished item's row is appended to ``summary.jsonl`` at once
(a journal: an interrupted batch keeps what it did). At the end both files are rewritten
atomically with exactly one row per item, in name order: the rows of this run, and the
earlier rows of items it skipped.

**Done** (skipped by a rerun without ``--force``): the item's last row has status ``ok``
and the fingerprint of this run's options for its kind
(:meth:`~gainmlp.batch.work.BatchSpec.fingerprint`), its inputs still have the byte
count the row records, and ``OUT_DIR/NAME.jpg`` exists with the row's byte count, starts
as a JPEG, and carries a gainmlp payload whose CRC checks and whose size is the JPEG's
(an ``ultrahdr`` container: a readable gain-map JPEG). Anything else is made again.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path

from gainmlp.batch.items import Item
from gainmlp.batch.work import COLUMNS, BatchSpec
from gainmlp.errors import GainMLPError

SUMMARY_CSV = "summary.csv"
SUMMARY_JSONL = "summary.jsonl"
LOCK = ".gainmlp-batch.lock"


def read_rows(out_dir: str | os.PathLike) -> dict[str, dict]:
    """The last row of every name in ``OUT_DIR/summary.jsonl`` ({} when there is none);
    lines that are not JSON objects (a line cut by a crash) are skipped."""
    path = Path(out_dir) / SUMMARY_JSONL
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise GainMLPError(f"{path}: cannot read the summary ({exc.strerror})") from None
    rows: dict[str, dict] = {}
    for line in text.splitlines():
        try:
            row = json.loads(line)
        except ValueError:
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
    try:
        data = spec.output(item).read_bytes()
    except OSError:
        return False
    return len(data) == row.get("output_bytes") and output_is_valid(data)


class Journal:
    """``summary.jsonl`` opened for appending one row per finished item."""

    def __init__(self, out_dir: str | os.PathLike) -> None:
        path = Path(out_dir) / SUMMARY_JSONL
        try:
            self.fh = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - closed by close()
            if self.fh.tell() > 0:  # a line cut by a crash must not swallow the next row
                self.fh.seek(self.fh.tell() - 1)
                if self.fh.read(1) != "\n":
                    self.fh.write("\n")
        except OSError as exc:
            raise GainMLPError(f"{path}: cannot write the summary ({exc.strerror})") from None

    def add(self, row: dict) -> None:
        self.fh.write(json.dumps(row) + "\n")
        self.fh.flush()

    def close(self) -> None:
        self.fh.close()


def write_summary(out_dir: str | os.PathLike, rows: list[dict]) -> None:
    """Both summary files with ``rows`` (one per item), written atomically."""
    from gainmlp.io import atomic_write

    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=COLUMNS, extrasaction="ignore",
                            lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row.get(k) is None else row[k] for k in COLUMNS})
    atomic_write(Path(out_dir) / SUMMARY_CSV, text.getvalue().encode())
    lines = "".join(json.dumps({k: row.get(k) for k in COLUMNS}) + "\n" for row in rows)
    atomic_write(Path(out_dir) / SUMMARY_JSONL, lines.encode())


@contextlib.contextmanager
def locked(out_dir: str | os.PathLike) -> Iterator[None]:
    """Hold ``OUT_DIR/.gainmlp-batch.lock``: two batches never write one folder at once."""
    import fcntl

    path = Path(out_dir) / LOCK
    try:
        fh = open(path, "w")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise GainMLPError(f"{out_dir}: cannot write there ({exc.strerror})") from None
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise GainMLPError(f"{out_dir}: another gainmlp batch is writing there") from None
        yield
    finally:
        fh.close()


__all__ = ["Journal", "LOCK", "SUMMARY_CSV", "SUMMARY_JSONL", "is_done", "locked",
           "output_is_valid", "read_rows", "write_summary"]
