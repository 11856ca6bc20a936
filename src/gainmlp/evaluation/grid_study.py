"""The grid study: a learned low-resolution grid beside the MLP, measured (docs/grid.md).

For every (image, tone mapper) pair (:func:`gainmlp.evaluation.pairs.load_pq_pair`, images
shrunk by whole-pixel blocks), each named configuration of :data:`CONFIGS` is fitted, its
body decoded with the numpy decoder, and one row recorded: PQ PSNR of the decoded HDR,
payload bytes (the body plus the payload's header and CRC) and fitting seconds.
Conventional maps (:data:`BASELINES`) are measured beside them. Rows are appended to a
JSON-lines file as they finish, so an interrupted study resumes (``resume=True``), and
:func:`summary_table`, :func:`per_pair_table` and :func:`seed_report` turn the rows into
the markdown tables of docs/grid.md and docs/results/grid/.

A configuration name with a ``+cos`` suffix is the same configuration fitted with the
cosine-tail learning-rate schedule instead of the paper's constant rate. Rows of gain-mlp
and direct-mlp fits are named ``gain:CONFIG`` / ``direct:CONFIG`` (:func:`row_name`).
"""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gainmlp.codecs import EncodeOptions, decode_residual, encode_residual
from gainmlp.container.payload import CRC_SIZE, HEADER_SIZE
from gainmlp.errors import GainMLPError
from gainmlp.evaluation.pairs import load_pq_pair
from gainmlp.metrics import psnr
from gainmlp.paper_residual import DEFAULT_EPS

#: Payload bytes around a body: the payload header and its CRC.
PAYLOAD_OVERHEAD = HEADER_SIZE + CRC_SIZE

#: name -> (grid option, weight precision, entry layer, grid lr scale); None = the codec's
#: default. Grid options are ``EncodeOptions.grid`` strings (docs/grid.md).
CONFIGS: dict[str, tuple[str | None, str, int | None, float | None]] = {
    "plain": (None, "fp32", 1, 1.0),
    "plain-fp16": (None, "fp16", 1, 1.0),
    "g32": ("32x32x2", "fp16", 1, 1.0),
    "g32-w32": ("32x32x2", "fp32", 1, 1.0),
    "g32u8": ("32x32x2:u8", "fp16", 1, 1.0),
    "g16u8-w32": ("16x16x2:u8", "fp32", 1, 1.0),
    "g20u8-w32": ("20x20x2:u8", "fp32", 1, 1.0),
    "g32x4u8": ("32x32x4:u8", "fp16", 1, 1.0),
    "g48u8": ("48x48x2:u8", "fp16", 1, 1.0),
    "g64x1u8": ("64x64x1:u8", "fp16", 1, 1.0),
    "g16x4": ("16x16x4", "fp16", 1, 1.0),
    "g8+32": ("8x8x2+32x32x2", "fp16", 1, 1.0),
    "g32-hidden": ("32x32x2", "fp16", 2, 1.0),
    "g32-lr3": ("32x32x2", "fp16", 1, 3.0),
    "g32-lr0.3": ("32x32x2", "fp16", 1, 0.3),
    "g32x4u8-lr0.1": ("32x32x4:u8", "fp16", 1, 0.1),
    "g16u8-w32-lr0.1": ("16x16x2:u8", "fp32", 1, 0.1),
    # bilateral grids (body version 3): rows x cols x luma bins x channels
    "b16x8x2": ("16x16x8x2:u8", "fp16", 1, 0.1),
    "b16x8x2-lr1": ("16x16x8x2:u8", "fp16", 1, 1.0),
    "b16x8x2-lr0.3": ("16x16x8x2:u8", "fp16", 1, 0.3),
    "b12x8x4": ("12x12x8x4:u8", "fp16", 1, 0.1),
    "b16x16x1": ("16x16x16x1:u8", "fp16", 1, 0.1),
    "b8x8x8": ("8x8x8x8:u8", "fp16", 1, 0.1),
    "b24x8x1": ("24x24x8x1:u8", "fp16", 1, 0.1),
    "b32x4x1": ("32x32x4x1:u8", "fp16", 1, 0.1),
    "b32x4x1-lr1": ("32x32x4x1:u8", "fp16", 1, 1.0),
    "b32x2x2": ("32x32x2x2:u8", "fp16", 1, 0.1),
    "g64x2u8-lr0.1": ("64x64x2:u8", "fp16", 1, 0.1),  # over 10 KB: how fast grids pay off
    "g64x4u8-lr0.1": ("64x64x4:u8", "fp16", 1, 0.1),
    "g36x4u8": ("36x36x4:u8", "fp16", 1, 1.0),   # the largest 4-channel grid under 10 KB
    "g32x5u8": ("32x32x5:u8", "fp16", 1, 1.0),
    "b16x8x2+g32x2": ("16x16x8x2+32x32x2:u8", "fp16", 1, 0.1),
    "auto": ("auto", "auto", None, None),  # whatever EncodeOptions(grid="auto") does
}
#: name -> (method, scale); quality 80 like the paper's conventional maps
BASELINES = {"gain-jpeg-s4": ("gain-jpeg", 4), "gamma-jpeg-s2": ("gamma-jpeg", 2),
             "gamma-jpeg-s1": ("gamma-jpeg", 1)}
MLP_METHODS = ("gamma-mlp", "gain-mlp", "direct-mlp")
COSINE_SUFFIX = "+cos"


@dataclass(frozen=True)
class Study:
    """Where a study reads and writes, and the fitting recipe every configuration shares.

    ``size``: long side of the pairs (0 = full resolution); ``out``: the JSON-lines file
    of rows; ``cache``: the pair cache; ``device``: cpu, cuda or auto (fitting only);
    ``method``: the MLP method the configurations fit (:data:`MLP_METHODS`).
    """

    data_dir: Path
    out: Path
    cache: Path
    size: int = 512
    steps: int = 1000
    batch: int = 16384
    seed: int = 0
    device: str = "cpu"
    method: str = "gamma-mlp"

    def tag(self) -> dict:
        """The settings stored in every row; ``resume`` reuses only rows with the same."""
        return {"size": self.size, "steps": self.steps, "batch": self.batch, "seed": self.seed}


def check_configs(names: list[str]) -> None:
    """Raise :class:`GainMLPError` naming the choices if a configuration is unknown."""
    for name in names:
        if name.removesuffix(COSINE_SUFFIX) not in CONFIGS:
            raise GainMLPError(f"unknown config {name!r}; choose from {', '.join(CONFIGS)} "
                               f"(each also with a {COSINE_SUFFIX} suffix: cosine-tail "
                               "learning rate)")


def run_config(name: str, sdr: np.ndarray, hdr: np.ndarray, steps: int,
               batch: int, device: str = "cpu", seed: int = 0,
               method: str = "gamma-mlp") -> tuple[float, int, float]:
    """(PSNR dB, payload bytes, seconds) of one configuration or baseline on one pair."""
    from gainmlp.codecs.mlp import fit as mlp_fit
    from gainmlp.codecs.mlp.format import pack_mlp_body

    t0 = time.perf_counter()
    if name in BASELINES:
        method, scale = BASELINES[name]
        body = encode_residual(method, sdr, hdr, DEFAULT_EPS,
                               EncodeOptions(scale=scale, quality=80))
    else:
        base = name.removesuffix(COSINE_SUFFIX)
        schedule = "cosine-tail" if base != name else "constant"
        grid, precision, entry, lr_scale = CONFIGS[base]
        opts = EncodeOptions(steps=steps, batch=batch, precision=precision, grid=grid,
                             device=device, lr_schedule=schedule, seed=seed)
        res = mlp_fit.fit_mlp(method, sdr, hdr, DEFAULT_EPS, opts, grid_entry=entry,
                              grid_lr_scale=lr_scale)
        body = pack_mlp_body(res.params)
    out = decode_residual(method, body, sdr, DEFAULT_EPS)
    return psnr(hdr, out), len(body) + PAYLOAD_OVERHEAD, time.perf_counter() - t0


def row_name(name: str, method: str) -> str:
    """Rows of gain-/direct-mlp fits are named ``gain:CONFIG`` / ``direct:CONFIG``."""
    if method == "gamma-mlp" or name in BASELINES:
        return name
    return f"{method.split('-')[0]}:{name}"


def run_pair(study: Study, image: str, tmo: str, names: list[str]) -> list[dict]:
    """Every configuration of one (image, tone mapper) pair; rows appended to ``study.out``."""
    if study.device == "cpu":
        os.environ.setdefault("GAINMLP_THREADS", "1")
    sdr, hdr = load_pq_pair(study.data_dir, image, tmo, study.size, study.cache, "blocks")
    rows = []
    for name in names:
        value, size, secs = run_config(name, sdr, hdr, study.steps, study.batch,
                                       study.device, study.seed, study.method)
        name = row_name(name, study.method)
        row = {"config": name, "image": image, "tmo": tmo, "psnr": value, "bytes": size,
               "seconds": secs, "device": study.device, **study.tag()}
        rows.append(row)
        with open(study.out, "a") as f:
            f.write(json.dumps(row) + "\n")
        print(f"{image:18s} {tmo:16s} {name:14s} {value:6.2f} dB {size / 1024:6.2f} KB "
              f"{secs:6.1f} s ({sdr.shape[1]}x{sdr.shape[0]})", flush=True)
    return rows


def read_rows(path: Path) -> list[dict]:
    """The rows of a study's JSON-lines file."""
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line]


def run_study(study: Study, images: list[str], tmos: list[str], names: list[str],
              jobs: int = 1, resume: bool = False) -> list[dict]:
    """Run every configuration / baseline of ``names`` on every image x tone mapper.

    ``resume``: rows of ``study.out`` with the same settings (:meth:`Study.tag`) are kept
    and not run again. ``jobs`` > 1 runs pairs in that many worker processes (spawned, so
    CUDA works in them). Returns the rows of these images and tone mappers.
    """
    check_configs([n for n in names if n not in BASELINES])
    rows: list[dict] = []
    if resume and Path(study.out).is_file():
        rows = [r for r in read_rows(study.out)
                if all(r.get(k) == v for k, v in study.tag().items())]
    done = {(r["config"], r["image"], r["tmo"]) for r in rows}
    todo = [(image, tmo, [n for n in names
                          if (row_name(n, study.method), image, tmo) not in done])
            for image in images for tmo in tmos]
    todo = [t for t in todo if t[2]]
    if jobs > 1:
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")  # CUDA cannot be forked
        with ProcessPoolExecutor(jobs, mp_context=ctx) as pool:
            for new in pool.map(run_pair, [study] * len(todo), *zip(*todo, strict=True)):
                rows += new
    else:
        for image, tmo, todo_names in todo:
            rows += run_pair(study, image, tmo, todo_names)
    return [r for r in rows if r["image"] in images and r["tmo"] in tmos]


# ---------------------------------------------------------------- tables


def summary_table(rows: list[dict], names: list[str], tmos: list[str]) -> str:
    """Markdown: per configuration, mean PSNR per tone mapper and over all, mean payload KB
    and mean seconds per fit."""
    head = "| config | " + " | ".join(tmos) + " | all | KB | s/fit |"
    lines = [head, "|" + " --- |" * (len(tmos) + 4)]
    for name in names:
        mine = [r for r in rows if r["config"] == name]
        if not mine:
            continue
        cells = []
        for tmo in tmos:
            vals = [r["psnr"] for r in mine if r["tmo"] == tmo]
            cells.append(f"{np.mean(vals):.2f}" if vals else "-")
        kb = np.mean([r["bytes"] for r in mine]) / 1024
        lines.append(f"| {name} | " + " | ".join(cells)
                     + f" | {np.mean([r['psnr'] for r in mine]):.2f} | {kb:.2f} | "
                     + f"{np.mean([r['seconds'] for r in mine]):.1f} |")
    return "\n".join(lines)


def per_pair_table(rows: list[dict], names: list[str], images: list[str],
                   tmos: list[str]) -> str:
    """Markdown: one row per (image, tone mapper), PSNR dB / payload KB per configuration
    (the last row recorded where there are several)."""
    lines = ["| image | tone mapper | " + " | ".join(names) + " |",
             "|" + " --- |" * (len(names) + 2)]
    for tmo in tmos:
        for image in images:
            cells = []
            for name in names:
                hit = [r for r in rows if (r["config"], r["image"], r["tmo"]) == (name, image, tmo)]
                cells.append(f"{hit[-1]['psnr']:.2f} / {hit[-1]['bytes'] / 1024:.1f}" if hit
                             else "-")
            lines.append(f"| {image} | {tmo} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def study_tables(rows: list[dict], names: list[str], images: list[str],
                 tmos: list[str]) -> str:
    """:func:`summary_table` and :func:`per_pair_table`, a blank line apart."""
    return (summary_table(rows, names, tmos) + "\n\n"
            + per_pair_table(rows, names, images, tmos))


def seed_report(rows: list[dict], names: list[str], images: list[str], tmos: list[str]) -> str:
    """The tables of :func:`study_tables` with PSNR averaged over the seeds run, plus how
    far two seeds of the same configuration land apart."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["config"], r["image"], r["tmo"]), []).append(r)
    mean_rows = [{**g[0], "psnr": float(np.mean([r["psnr"] for r in g])),
                  "seeds": len(g)} for g in groups.values()]
    lines = [study_tables(mean_rows, names, images, tmos), "",
             "| config | seeds | mean abs seed difference dB | largest |",
             "| --- | --- | --- | --- |"]
    for name in names:
        diffs = [abs(g[0]["psnr"] - g[1]["psnr"]) for k, g in groups.items()
                 if k[0] == name and len(g) >= 2]
        seeds = max((len(g) for k, g in groups.items() if k[0] == name), default=0)
        if diffs:
            lines.append(f"| {name} | {seeds} | {np.mean(diffs):.2f} | {max(diffs):.2f} |")
    return "\n".join(lines)
