"""The paper's experiments: which method variants each one runs, and running them.

``gainmlp bench SUBCOMMAND DATA_DIR -o OUT_DIR`` calls :func:`run_experiment`: every HDR
image of DATA_DIR (EXR / .hdr) becomes one SDR/HDR pair per tone mapper
(:mod:`gainmlp.evaluation.pairs`), every variant of the experiment (:func:`variants_for`)
is encoded, decoded and measured on every pair (:func:`gainmlp.evaluation.evaluate`), and
``results.csv``, ``results.json``, ``table.md`` and PNG plots are written to OUT_DIR
(:mod:`gainmlp.evaluation.report`). Each record holds the payload level (the paper's
protocol, lossless SDR) and the file level (the JPEG ``gainmlp encode`` writes in the
default container at base quality 95, decoded by gainmlp: ``file_psnr``, ``file_bytes``,
``base_bytes``; :mod:`gainmlp.evaluation.evaluate`). A cached record from before the file
level existed is completed: only its file level is computed.

Each result is cached as one JSON file per image x tone mapper x size x variant under
``OUT_DIR/cache`` (or ``--cache DIR``, which experiments may share), so an interrupted run
resumes where it stopped and an experiment reuses what another one computed. The cache
file is named by a hash of :meth:`Variant.key`, which therefore never changes for a
computation that does not change.

``--quick`` downscales images to 256 pixels on the long side and runs fewer variants on
three images (Desk, MtTamWest, Tree, when present) with one global and one local tone
mapper, fitting MLPs with 16,384 pixels per step instead of 65,536.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from gainmlp import tonemap
from gainmlp.codecs import CONVENTIONAL_METHODS, EncodeOptions
from gainmlp.errors import GainMLPError
from gainmlp.evaluation.evaluate import evaluate, evaluate_file
from gainmlp.evaluation.pairs import hdr_images, prepare_pairs, read_pair
from gainmlp.evaluation.report import write_outputs
from gainmlp.paper_residual import DEFAULT_EPS

#: Every tone mapper, in the order of :data:`gainmlp.tonemap.TONE_MAPPERS`.
TONE_MAPPERS = tuple(tonemap.TONE_MAPPERS)
QUICK_TONE_MAPPERS = ("reinhard-devlin", "local")  # one global, one local operator
QUICK_IMAGES = ("Desk", "MtTamWest", "Tree")  # the dev images of the issues' notes
QUICK_BATCH = 16384  # pixels per fitting step with --quick (a quarter of the default)
QUICK_LONG_SIDE = 256
EXPERIMENTS = ("table1", "table4", "rd", "time", "ablation", "conventional")

#: Options at the value that reproduces what ran before the option existed; left out of
#: :meth:`Variant.key` so that older cache entries stay valid.
# options at the values every run had before the option existed: left out of cache keys
KEY_LEGACY = {"lr_schedule": "constant", "batch": 65536, "engine": "autograd",
              "steps": 1000, "optimiser": "adam"}
#: The fitting recipe every table here was run with (the default before issue 23 item 3's
#: Muon recipe, docs/fewer-steps.md): pinned, so the cached results stay what they were.
ADAM_RECIPE = {"steps": 1000, "optimiser": "adam"}


@dataclass
class Variant:
    """One method with one set of options; ``label`` names it in tables and plots."""

    label: str
    method: str
    options: dict = field(default_factory=dict)

    def key(self) -> str:
        """Cache key: the method and its explicit options (None values left out, and
        options at the value that reproduces what ran before they existed, so older
        cache entries stay valid: :data:`KEY_LEGACY`)."""
        options = {k: v for k, v in self.options.items()
                   if v is not None and KEY_LEGACY.get(k, object()) != v}
        return json.dumps({"method": self.method, **options}, sort_keys=True)


def _conventional(scale: int = 4, quality: int = 80) -> list[Variant]:
    names = {"jpeg": "JPEG", "heic": "HEIC", "jxl": "JPEG-XL", "avif": "AVIF"}
    return [
        Variant(f"{m.split('-')[0].title()}-{names[m.split('-')[1]]}", m,
                {"scale": scale, "quality": quality})
        for m in CONVENTIONAL_METHODS
    ]


# the paper's network and recipe: no learned grid, fp32 weights, constant learning rate
PAPER_NET = {"grid": None, "lr_schedule": "constant", "batch": 65536, "engine": "autograd",
             **ADAM_RECIPE}
# the grid as gainmlp's default fits it (docs/grid.md); explicit, so its cache key differs
# from the earlier opt-in grid (a tenth of the learning rate, constant schedule)
DEFAULT_GRID_NET = {"grid": "auto", "lr_schedule": "cosine-tail", "batch": 4096, **ADAM_RECIPE}
# MLP-ITM as the paper ran it: the Gain-MLP recipe's budget
ITM_NET = {"batch": 65536, "steps": 1000}


def _mlps(**options) -> list[Variant]:
    return [Variant("Direct-MLP", "direct-mlp", {**PAPER_NET, **options}),
            Variant("MLP-ITM", "mlp-itm", {**ITM_NET, **options}),
            Variant("Gain-MLP", "gain-mlp", {**PAPER_NET, **options}),
            Variant("Gamma-MLP", "gamma-mlp", {**PAPER_NET, **options}),
            # beyond the paper (gainmlp's default): a learned 32x32x4 grid, cosine-tail lr
            Variant("Gamma-MLP+grid", "gamma-mlp", {**DEFAULT_GRID_NET, **options})]


def variants_for(experiment: str, quick: bool) -> list[Variant]:
    """The variants one experiment (:data:`EXPERIMENTS`) runs; fewer with ``quick``."""
    if experiment in ("table1", "table4"):
        return _conventional() + _mlps()
    if experiment == "conventional":
        return _conventional()
    if experiment == "rd":
        out = []
        for m in CONVENTIONAL_METHODS:
            for s in (8, 4, 2, 1):
                out.append(Variant(f"{m} 1/{s}", m, {"scale": s, "quality": 80}))
        for m in ("gain-mlp", "gamma-mlp") if quick else ("gain-mlp", "gamma-mlp", "direct-mlp"):
            for w in ((8, 16, 64) if quick else (8, 16, 64, 128)):
                out.append(Variant(f"{m} w{w}", m, {"width": w, **PAPER_NET}))
        out.append(Variant("gamma-mlp w16 fp16", "gamma-mlp", {"width": 16, "precision": "fp16",
                                                               **PAPER_NET}))
        out.append(Variant("gamma-mlp+grid w16", "gamma-mlp", {"width": 16,
                                                               **DEFAULT_GRID_NET}))
        return out
    if experiment == "time":
        steps = (100, 250, 500, 1000) if quick else (100, 250, 500, 1000, 2000)
        return [Variant(f"{m} {s} steps", m, {**(PAPER_NET if m != "mlp-itm" else ITM_NET),
                                              "steps": s})
                for m in ("gain-mlp", "gamma-mlp", "mlp-itm") + (() if quick else ("direct-mlp",))
                for s in steps]
    if experiment == "ablation":
        out = []
        for act in ("relu", "sine"):
            for mi in (True, False):
                for m in ("gamma-mlp", "gain-mlp", "direct-mlp"):
                    out.append(Variant(f"{m} {act} {'meta' if mi else 'rand'}", m,
                                       {"activation": act, "meta_init": mi, **PAPER_NET}))
        out.append(Variant("gamma-mlp loss=hdr", "gamma-mlp", {"loss": "hdr", **PAPER_NET}))
        out.append(Variant("gamma-mlp inputs=xy", "gamma-mlp", {"inputs": "xy", **PAPER_NET}))
        return out
    raise GainMLPError(f"unknown experiment {experiment!r}")


# ---------------------------------------------------------------- running


def _run_one(folder: Path, method: str, options: dict, device: str,
             cached: dict | None = None) -> dict:
    """Encode, decode and measure one variant on one cached pair (runs in a worker);
    with ``cached`` (a record without the file level), add only the file level to it."""
    sdr, hdr = read_pair(folder)
    opts = EncodeOptions(device=device, **options)
    if cached is not None:
        return {**cached, **evaluate_file(sdr, hdr, method, opts, DEFAULT_EPS)}
    return evaluate(sdr, hdr, method, opts, DEFAULT_EPS)


def _cached(path: Path) -> dict | None:
    """The cached record at ``path`` when it lacks the file level (to complete), else None."""
    if not path.exists():
        return None
    record = json.loads(path.read_text())
    return None if "file_psnr" in record else record


def _single_thread_worker() -> None:
    # jobs x threads must not exceed the cores; one thread also keeps fits reproducible
    os.environ["GAINMLP_THREADS"] = "1"


def default_jobs() -> int:
    """Worker processes for ``--jobs 0``: one per core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _result_path(cache: Path, image: str, tmo: str, long_side: int | None,
                 variant: Variant) -> Path:
    key = f"{image}|{tmo}|{long_side}|{variant.key()}"
    return cache / f"{hashlib.sha1(key.encode()).hexdigest()[:16]}.json"


def run_experiment(experiment: str, data_dir: Path, out_dir: Path, quick: bool = False,
                   tmos: tuple[str, ...] = TONE_MAPPERS, images: list[str] | None = None,
                   long_side: int | None = None, device: str = "cpu",
                   variants: list[Variant] | None = None,
                   cache: Path | None = None, jobs: int = 1) -> list[dict]:
    """Run (or read from the cache) every variant on every pair; write the outputs.

    ``jobs`` > 1 runs uncached variants in that many worker processes, one thread each.
    Returns one record per pair x variant (:func:`gainmlp.evaluation.evaluate`'s, plus
    ``image``, ``tmo`` and ``label``).
    """
    from tqdm import tqdm

    out_dir = Path(out_dir)
    cache = Path(cache) if cache else out_dir / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    if quick:
        long_side = long_side or QUICK_LONG_SIDE
        if tmos == TONE_MAPPERS:
            tmos = QUICK_TONE_MAPPERS
        stems = [p.stem for p in hdr_images(Path(data_dir))]
        images = images or ([s for s in stems if s in QUICK_IMAGES] or stems[:3])
    pairs = prepare_pairs(Path(data_dir), cache, tmos, long_side, images)
    variants = variants or variants_for(experiment, quick)
    if quick:
        variants = [Variant(v.label, v.method, {**v.options, "batch": QUICK_BATCH})
                    if v.method not in CONVENTIONAL_METHODS else v for v in variants]
    runs = [(img, tmo, folder, v, _result_path(cache, img, tmo, long_side, v))
            for img, tmo, folder in pairs for v in variants]
    pending = [(*r, _cached(r[4])) for r in runs
               if not r[4].exists() or _cached(r[4]) is not None]
    bar = tqdm(total=len(pending), desc=f"bench {experiment}", unit="run",
               disable=not sys.stderr.isatty())

    def store(run: tuple, record: dict) -> None:
        img, tmo, _folder, v, path, _old = run
        record.update(image=img, tmo=tmo, label=v.label)
        path.write_text(json.dumps(record))
        bar.set_postfix_str(f"{img} {tmo} {v.label}")
        bar.update()

    if jobs > 1 and len(pending) > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        # not fork: a parent that already ran OpenMP code (FLIP, torch) deadlocks forked
        # children in the OpenMP runtime
        ctx = multiprocessing.get_context("forkserver")
        with ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_single_thread_worker) as pool:
            futures = {pool.submit(_run_one, r[2], r[3].method, r[3].options, device, r[5]): r
                       for r in pending}
            for fut in as_completed(futures):
                store(futures[fut], fut.result())
    else:
        for r in pending:
            store(r, _run_one(r[2], r[3].method, r[3].options, device, r[5]))
    bar.close()
    # a cached run may have been made by another experiment under another label
    rows = [json.loads(r[4].read_text()) | {"label": r[3].label} for r in runs]
    write_outputs(experiment, rows, out_dir, long_side)
    return rows
