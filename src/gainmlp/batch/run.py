"""A whole batch: find the items, skip the done ones, run the rest, write the summary.

:func:`run_batch` is what ``gainmlp batch`` calls. The driver (this process) lists the
items (:mod:`.items`), checks which are done already (:mod:`.summary`), groups the others
into tasks, hands them to the local or the Ray runner, and receives every row: it writes
outputs the workers send back, journals each row, updates the progress bar, and at the
end (also after an interrupt) writes ``summary.csv`` and ``summary.jsonl``.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from gainmlp.batch.items import Item, discover
from gainmlp.batch.summary import (
    Journal,
    check_reserved,
    is_done,
    locked,
    read_rows,
    write_summary,
)
from gainmlp.batch.work import BatchSpec, new_row, one_line
from gainmlp.errors import GainMLPError

#: Items fitted together per task on a GPU when ``--group`` is not given (1 on a CPU).
GPU_GROUP = 16
#: Size assumed for inputs whose header gives none (EXR), for sizing the pool.
DEFAULT_PIXELS = 12_000_000
#: The exit status is the number of failed items, capped here.
MAX_EXIT = 100


@dataclass
class BatchResult:
    """What a batch did: counts, wall time, and the summary rows in item order."""

    rows: list[dict] = field(default_factory=list)
    made: int = 0
    skipped: int = 0
    seconds: float = 0.0
    jobs: int = 0
    group: int = 1
    device: str = "cpu"

    @property
    def failed(self) -> int:
        return sum(row["status"] != "ok" for row in self.rows)

    @property
    def exit_status(self) -> int:
        """0 when every item is done, else the number of failed items (at most 100)."""
        return min(self.failed, MAX_EXIT)


def pixels_hint(items: list[Item], sample: int = 16) -> int:
    """The largest size the headers of the first ``sample`` items declare (for memory)."""
    from gainmlp.io.files import image_pixels

    sizes = []
    for item in items[:sample]:
        path = item.sdr or item.photo
        try:
            sizes.append(image_pixels(path) if path else 0)
        except GainMLPError:
            sizes.append(0)
    known = [s for s in sizes if s]
    return max(known) if known and len(known) == len(sizes) else max(known + [DEFAULT_PIXELS])


def default_jobs(items: list[Item], group: int, gpu: bool) -> int:
    """Worker processes: one per usable core, fewer when the memory budget holds fewer
    fits of the items' size; two on a GPU (one reads and writes while the other fits)."""
    from gainmlp.colorimetry import usable_cores
    from gainmlp.memory import budget, estimate

    cores = usable_cores()
    if gpu:
        return min(2, cores)
    per_worker = estimate("encode", pixels_hint(items) * group)
    return max(1, min(cores, budget() // per_worker))


def _resolve_device(spec: BatchSpec, runner) -> BatchSpec:
    """``--device auto`` made concrete once, on the driver, so every worker fits alike."""
    device = spec.options.device
    if device == "auto":
        device = "cuda" if runner.has_gpu() else "cpu"
    elif device == "cuda" and not runner.has_gpu():
        raise GainMLPError("device 'cuda' was asked for but no CUDA GPU is available")
    gainmap = spec.gainmap_options
    return replace(spec, options=replace(spec.options, device=device, progress=False),
                   gainmap_options=gainmap and replace(gainmap, device=device, progress=False))


def _check_folders(source: Path, out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise GainMLPError(f"{out}: OUT_DIR is a file; name a folder")
    out.mkdir(parents=True, exist_ok=True)
    if source.is_dir() and os.path.samefile(source, out):
        raise GainMLPError(f"{out}: OUT_DIR must not be the INPUT folder")


def run_batch(source: str | os.PathLike, spec: BatchSpec, *, jobs: int = 0, group: int = 0,
              ray: str | None = None, ray_gpus: float = 0.25, transfer: bool = False,
              force: bool = False, progress: bool = False, max_retries: int = 3) -> BatchResult:
    """Make every item of ``source`` (a folder or manifest) into ``spec.out_dir``.

    ``jobs``: local worker processes (0: :func:`default_jobs`); ``group``: items fitted
    together per task (0: 1 on a CPU, :data:`GPU_GROUP` on a GPU); ``ray``: ``"auto"`` or
    a cluster address to run on Ray instead (``ray_gpus`` GPU share per task,
    ``transfer`` inputs and outputs through Ray's object store, ``max_retries`` per
    task); ``force``: redo items that are done. Item failures are rows of the result,
    never exceptions; a :class:`GainMLPError` means the batch could not start.
    """
    if jobs < 0 or group < 0:
        raise GainMLPError("--jobs and --group must be positive (0: automatic)")
    if not 0 <= ray_gpus <= 1:
        raise GainMLPError(f"--ray-gpus must be in 0..1, not {ray_gpus}")
    if transfer and not ray:
        raise GainMLPError("transferring inputs through the object store needs --ray")
    start = time.perf_counter()
    source, out = Path(source), Path(spec.out_dir)
    items = discover(source, spec.tmo)
    _check_folders(source, out)
    inputs = [str(source), *(p for item in items for p in item.inputs)]
    check_reserved(out, inputs)  # summary, journal and lock never write into an input
    with locked(out, inputs):
        if ray:
            from gainmlp.batch.ray_runner import RayRunner

            runner = RayRunner(ray, ray_gpus, transfer, max_retries)
        else:
            from gainmlp.batch.local import LocalRunner

            runner = LocalRunner(1)
        try:
            spec = _resolve_device(spec, runner)
            gpu = spec.options.device == "cuda"
            group = group or (GPU_GROUP if gpu else 1)
            result = BatchResult(group=group, device=spec.options.device)
            rows = _run(items, spec, runner, result, jobs, force, progress, inputs)
        finally:
            runner.close()
    result.rows = rows
    result.seconds = time.perf_counter() - start
    return result


def _run(items: list[Item], spec: BatchSpec, runner, result: BatchResult, jobs: int,
         force: bool, progress: bool, inputs: list[str]) -> list[dict]:
    from tqdm import tqdm

    from gainmlp.io import atomic_write, check_output

    previous = read_rows(spec.out_dir)
    rows: dict[str, dict] = {}
    todo = []
    for item in items:
        row = previous.get(item.name)
        if not force and is_done(item, row, spec):
            rows[item.name] = row
            result.skipped += 1
        else:
            todo.append(item)
    work = [item for item in todo if item.kind != "bad"]
    tasks = [work[k:k + result.group] for k in range(0, len(work), result.group)]
    from gainmlp.batch.local import LocalRunner

    if isinstance(runner, LocalRunner):
        from gainmlp.memory import budget

        runner.jobs = min(jobs or default_jobs(work, result.group, spec.options.device == "cuda"),
                          max(1, len(tasks)))
        runner.memory_budget = budget() // runner.jobs if runner.jobs > 1 else None
        result.jobs = runner.jobs
    journal = Journal(spec.out_dir, inputs)
    bar = tqdm(total=len(todo), desc="batch", unit="img", disable=not progress,
               dynamic_ncols=True)
    failures = 0

    def on_result(results: list[tuple[dict, bytes | None]]) -> None:
        nonlocal failures
        for row, data in results:
            name = row["name"]
            if name in rows:  # never twice, whatever a runner hands back
                continue
            if data is not None:  # the worker sent the output back: the driver writes it
                try:
                    target = spec.output(Item(name, row["kind"]))
                    check_output(target, row["input"].split(";"))
                    atomic_write(target, data)
                except Exception as exc:  # noqa: BLE001 - one item's failure only
                    row.update(status="failed", error=one_line(exc))
            rows[name] = row
            journal.add(row)
            failures += row["status"] != "ok"
            result.made += row["status"] == "ok"
            bar.update(1)
            if failures:
                bar.set_postfix(failed=failures)

    try:
        on_result([(new_row(item, spec), None) for item in todo if item.kind == "bad"])
        if tasks:
            runner.run(tasks, spec, on_result)
    finally:
        bar.close()
        journal.close()
        ordered = [rows[item.name] for item in items if item.name in rows]
        write_summary(spec.out_dir, ordered, inputs)
    return ordered


__all__ = ["BatchResult", "DEFAULT_PIXELS", "GPU_GROUP", "default_jobs", "pixels_hint",
           "run_batch"]
