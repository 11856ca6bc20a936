"""The Ray runner: the same tasks as the local runner, as Ray tasks on a cluster.

``--ray auto`` connects to the cluster ``ray.init()`` finds (``$RAY_ADDRESS``, or one
started on this machine with ``ray start``) and starts a local Ray instance when there is
none; ``--ray ADDRESS`` connects to that cluster (``HOST:6379`` or ``ray://HOST:10001``).
A Ray instance this runner started is shut down at the end; one it found is left alone.

Each task is a group of items and declares its resources: one CPU, plus a fraction of a
GPU (``--ray-gpus``, e.g. 0.25 packs four tasks on one GPU) when the fit runs on CUDA.
Ray runs a task again when its worker or node is lost (``max_retries``); a group that
still fails is split into single items, and a single item that still fails gets a failed
row, so no item is lost. The driver keeps at most two tasks per cluster CPU in flight and
receives every row; outputs are written atomically by the worker (shared storage), or
with ``transfer`` the driver sends the inputs' bytes through Ray's object store and
writes the outputs the workers send back. Every worker checks that it runs the driver's
gainmlp version.
"""

from __future__ import annotations

import contextlib
import logging
from collections import deque
from pathlib import Path

from gainmlp import __version__
from gainmlp.batch.items import Item
from gainmlp.batch.local import OnResult, Results, failed
from gainmlp.batch.work import BatchSpec, init_worker, new_row, one_line, run_task
from gainmlp.errors import GainMLPError

RAY_HINT = 'install the Ray extra on every node: pip install "gainmlp[ray]"'


def ray_task(items: list[Item], spec: BatchSpec, driver_version: str,
             blobs: dict[str, bytes] | None) -> Results:
    """What a Ray worker runs: :func:`~gainmlp.batch.work.run_task` after checking that
    it has the driver's gainmlp version."""
    if __version__ != driver_version:
        return [(new_row(item, spec, f"the worker has gainmlp {__version__} but the driver "
                                     f"{driver_version}: install one version on every node"),
                 None) for item in items]
    init_worker()
    return run_task(items, spec, blobs)


def _blobs(task: list[Item]) -> dict[str, bytes]:
    """The bytes of every readable input of ``task`` (inputs sent through Ray)."""
    out = {}
    for item in task:
        for path in item.inputs:
            try:
                out[path] = Path(path).read_bytes()
            except OSError:
                pass  # the worker reports the missing file as the item's error
    return out


class RayRunner:
    """Runs tasks on a Ray cluster (see the module docstring)."""

    def __init__(self, address: str = "auto", gpus_per_task: float = 0.25,
                 transfer: bool = False, max_retries: int = 3) -> None:
        try:
            import ray
        except ImportError:
            raise GainMLPError(f"--ray needs Ray: {RAY_HINT}") from None
        self.ray = ray
        self.gpus_per_task = gpus_per_task
        self.transfer = transfer
        self.max_retries = max_retries
        self.started = not ray.is_initialized()
        if self.started:
            try:
                ray.init(address=None if address == "auto" else address,
                         include_dashboard=False, log_to_driver=False,
                         logging_level=logging.WARNING)
            except Exception as exc:  # noqa: BLE001 - ConnectionError, ValueError, ...
                raise GainMLPError(f"--ray {address}: cannot start or reach Ray "
                                   f"({one_line(exc)})") from None

    def resources(self) -> dict:
        return dict(self.ray.cluster_resources())

    def has_gpu(self) -> bool:
        return self.resources().get("GPU", 0) > 0

    def close(self) -> None:
        if self.started and self.ray.is_initialized():
            self.ray.shutdown()

    def run(self, tasks: list[list[Item]], spec: BatchSpec, on_result: OnResult) -> None:
        ray = self.ray
        gpus = self.gpus_per_task if spec.options.device == "cuda" else 0
        if gpus and not self.has_gpu():
            raise GainMLPError("--device cuda, but the Ray cluster has no GPU")
        remote = ray.remote(ray_task).options(num_cpus=1, num_gpus=gpus,
                                              max_retries=self.max_retries)
        window = max(4, 2 * int(self.resources().get("CPU", 1)))
        queue: deque[list[Item]] = deque(tasks)
        refs: dict = {}
        try:
            while queue or refs:
                while queue and len(refs) < window:
                    task = queue.popleft()
                    blobs = _blobs(task) if self.transfer else None
                    refs[remote.remote(task, spec, __version__, blobs)] = task
                ready, _ = ray.wait(list(refs), num_returns=1)
                for ref in ready:
                    task = refs.pop(ref)
                    try:
                        results = ray.get(ref)
                    except ray.exceptions.RayError as exc:
                        if len(task) > 1:  # find the item that fails: one task each
                            queue.extend([item] for item in task)
                            continue
                        results = failed(task, spec, f"Ray task failed after {self.max_retries}"
                                                     f" retries: {one_line(exc)}")
                    on_result(results)
        except BaseException:
            for ref in refs:
                with contextlib.suppress(Exception):
                    ray.cancel(ref, force=True)
            raise


__all__ = ["RAY_HINT", "RayRunner", "ray_task"]
