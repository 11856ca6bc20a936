"""Experiments of the paper as commands: ``gainmlp bench SUBCOMMAND DATA_DIR -o OUT_DIR``.

Each experiment turns every HDR image of DATA_DIR (EXR / .hdr) into SDR/HDR pairs with the
pair maker (one per tone mapper), runs a list of method variants on every pair, and
writes ``results.csv``, ``results.json``, ``table.md`` and PNG plots to OUT_DIR.
Results are cached per image x tone mapper x variant under ``OUT_DIR/cache`` (or
``--cache DIR``, which experiments may share), so an interrupted run resumes where it
stopped. ``--quick`` downscales images to 256 pixels
on the long side and runs fewer variants on three images (Desk, MtTamWest, Tree, when
present) with one global and one local tone mapper, fitting MLPs with 16,384 pixels per
step instead of 65,536.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gainmlp.codecs import CONVENTIONAL_METHODS, EncodeOptions
from gainmlp.errors import GainMLPError

TONE_MAPPERS = ("reinhard-devlin", "drago", "ward", "local")
QUICK_TONE_MAPPERS = ("reinhard-devlin", "local")  # one global, one local operator
QUICK_IMAGES = ("Desk", "MtTamWest", "Tree")  # the dev images of the issues' notes
QUICK_BATCH = 16384


KEY_LEGACY = {"lr_schedule": "constant"}


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
PAPER_NET = {"grid": None, "lr_schedule": "constant"}
# the grid as gainmlp's default fits it (docs/grid.md); explicit, so its cache key differs
# from the earlier opt-in grid (a tenth of the learning rate, constant schedule)
DEFAULT_GRID_NET = {"grid": "auto", "lr_schedule": "cosine-tail"}


def _mlps(**options) -> list[Variant]:
    return [Variant("Direct-MLP", "direct-mlp", {**PAPER_NET, **options}),
            Variant("MLP-ITM", "mlp-itm", dict(options)),
            Variant("Gain-MLP", "gain-mlp", {**PAPER_NET, **options}),
            Variant("Gamma-MLP", "gamma-mlp", {**PAPER_NET, **options}),
            # beyond the paper (gainmlp's default): a learned 32x32x4 grid, cosine-tail lr
            Variant("Gamma-MLP+grid", "gamma-mlp", {**DEFAULT_GRID_NET, **options})]


def variants_for(experiment: str, quick: bool) -> list[Variant]:
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
        return [Variant(f"{m} {s} steps", m, {"steps": s, **(PAPER_NET if m != "mlp-itm"
                                                              else {})})
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


# ---------------------------------------------------------------- pairs


def _downscale_linear(rgb: np.ndarray, long_side: int) -> np.ndarray:
    from PIL import Image

    h, w = rgb.shape[:2]
    k = long_side / max(h, w)
    if k >= 1:
        return rgb
    size = (max(1, round(w * k)), max(1, round(h * k)))
    return np.stack([np.asarray(Image.fromarray(np.ascontiguousarray(rgb[:, :, c],
                                                                     dtype=np.float32), "F")
                                .resize(size, Image.Resampling.BOX)) for c in range(3)], -1)


def prepare_pairs(data_dir: Path, cache: Path, tmos: tuple[str, ...], long_side: int | None,
                  images: list[str] | None = None) -> list[tuple[str, str, Path]]:
    """Make (and cache) sdr.png / hdr.png for every image x tone mapper."""
    from gainmlp.io.images import atomic_write, encode_hdr_png, read_hdr_linear, write_sdr_png
    from gainmlp.pair import make_pair

    files = sorted(p for p in Path(data_dir).iterdir() if p.suffix.lower() in (".exr", ".hdr"))
    if images:
        files = [p for p in files if p.stem in images]
    if not files:
        raise GainMLPError(f"{data_dir}: no .exr or .hdr images found")
    out = []
    for path in files:
        linear = None
        for tmo in tmos:
            folder = cache / "pairs" / f"{path.stem}_{tmo}_{long_side or 'full'}"
            if not (folder / "hdr.png").exists():
                if linear is None:
                    linear = read_hdr_linear(path)
                    if long_side:
                        linear = _downscale_linear(linear, long_side)
                sdr, hdr = make_pair(linear, "bt2020", tmo)
                folder.mkdir(parents=True, exist_ok=True)
                write_sdr_png(folder / "sdr.png", sdr)
                atomic_write(folder / "hdr.png", encode_hdr_png(hdr.astype(np.float32) / 65535))
            out.append((path.stem, tmo, folder))
    return out


# ---------------------------------------------------------------- running


def _run_one(folder: Path, method: str, options: dict, device: str) -> dict:
    """Encode, decode and measure one variant on one cached pair (runs in a worker)."""
    from gainmlp.evaluation.evaluate import evaluate
    from gainmlp.io.images import read_hdr, read_sdr

    sdr = read_sdr(folder / "sdr.png")
    hdr = read_hdr(folder / "hdr.png")
    return evaluate(sdr, hdr, method, EncodeOptions(device=device, **options), 1.0 / 64.0)


def _single_thread_worker() -> None:
    # jobs x threads must not exceed the cores; one thread also keeps fits reproducible
    os.environ["GAINMLP_THREADS"] = "1"


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def run_experiment(experiment: str, data_dir: Path, out_dir: Path, quick: bool = False,
                   tmos: tuple[str, ...] = TONE_MAPPERS, images: list[str] | None = None,
                   long_side: int | None = None, device: str = "cpu",
                   variants: list[Variant] | None = None,
                   cache: Path | None = None, jobs: int = 1) -> list[dict]:
    """Run (or read from the cache) every variant on every pair; write the outputs.

    ``jobs`` > 1 runs uncached variants in that many worker processes, one thread each.
    """
    from tqdm import tqdm

    out_dir = Path(out_dir)
    cache = Path(cache) if cache else out_dir / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    if quick:
        long_side = long_side or 256
        if tmos == TONE_MAPPERS:
            tmos = QUICK_TONE_MAPPERS
        stems = sorted(p.stem for p in Path(data_dir).glob("*")
                       if p.suffix.lower() in (".exr", ".hdr"))
        images = images or ([s for s in stems if s in QUICK_IMAGES] or stems[:3])
    pairs = prepare_pairs(Path(data_dir), cache, tmos, long_side, images)
    variants = variants or variants_for(experiment, quick)
    if quick:  # fewer pixels per step: about 4x faster fits on the 256-pixel images
        variants = [Variant(v.label, v.method, {"batch": QUICK_BATCH, **v.options})
                    if v.method not in CONVENTIONAL_METHODS else v for v in variants]
    runs = []
    for img, tmo, folder in pairs:
        for v in variants:
            key = f"{img}|{tmo}|{long_side}|{v.key()}"
            path = cache / f"{hashlib.sha1(key.encode()).hexdigest()[:16]}.json"
            runs.append((img, tmo, folder, v, path))
    pending = [r for r in runs if not r[4].exists()]
    bar = tqdm(total=len(pending), desc=f"bench {experiment}", unit="run",
               disable=not sys.stderr.isatty())

    def store(run: tuple, record: dict) -> None:
        img, tmo, _folder, v, path = run
        record.update(image=img, tmo=tmo, label=v.label)
        path.write_text(json.dumps(record))
        bar.set_postfix_str(f"{img} {tmo} {v.label}")
        bar.update()

    if jobs > 1 and len(pending) > 1:
        from concurrent.futures import ProcessPoolExecutor, as_completed

        with ProcessPoolExecutor(jobs, initializer=_single_thread_worker) as pool:
            futures = {pool.submit(_run_one, r[2], r[3].method, r[3].options, device): r
                       for r in pending}
            for fut in as_completed(futures):
                store(futures[fut], fut.result())
    else:
        for r in pending:
            store(r, _run_one(r[2], r[3].method, r[3].options, device))
    bar.close()
    # a cached run may have been made by another experiment under another label
    rows = [json.loads(r[4].read_text()) | {"label": r[3].label} for r in runs]
    write_outputs(experiment, rows, out_dir, quick, long_side)
    return rows


# ---------------------------------------------------------------- outputs

_COLS = ("psnr", "ssim", "delta_e00", "delta_e_itp", "pu21_psnr", "cvvdp_jod",
         "payload_bytes", "bpp", "encode_seconds")


def _mean_table(rows: list[dict], group: tuple[str, ...]) -> list[dict]:
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault(tuple(r[g] for g in group), []).append(r)
    table = []
    for key, rs in groups.items():
        entry = dict(zip(group, key, strict=True))
        for c in _COLS:
            vals = [r[c] for r in rs if r.get(c) is not None and np.isfinite(r[c])]
            entry[c] = float(np.mean(vals)) if vals else float("nan")
        entry["n"] = len(rs)
        table.append(entry)
    return table


def _markdown(table: list[dict], group: tuple[str, ...]) -> str:
    head = list(group) + ["PSNR", "SSIM", "ΔE00", "ΔE_ITP", "PU21-PSNR", "JOD", "KB", "bpp",
                          "encode s", "n"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for e in table:
        cells = [str(e[g]) for g in group] + [
            f"{e['psnr']:.2f}", f"{e['ssim']:.4f}", f"{e['delta_e00']:.2f}",
            f"{e['delta_e_itp']:.2f}", f"{e['pu21_psnr']:.2f}",
            "–" if np.isnan(e["cvvdp_jod"]) else f"{e['cvvdp_jod']:.2f}",
            f"{e['payload_bytes'] / 1024:.1f}", f"{e['bpp']:.4f}", f"{e['encode_seconds']:.1f}",
            str(e["n"])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_outputs(experiment: str, rows: list[dict], out_dir: Path, quick: bool,
                  long_side: int | None) -> None:
    from gainmlp.io.images import atomic_write

    out_dir.mkdir(parents=True, exist_ok=True)
    keys = sorted({k for r in rows for k in r})
    with open(out_dir / "results.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
    atomic_write(out_dir / "results.json", json.dumps(rows, indent=1).encode())
    group = ("tmo", "label") if experiment == "table4" else ("label",)
    table = _mean_table(rows, group)
    if experiment == "table4":
        table.sort(key=lambda e: (e["tmo"], e["label"]))
    header = (f"# {experiment}\n\nCommand: `{' '.join(['gainmlp'] + sys.argv[1:])}`  \n"
              f"Machine: {platform.machine()} {platform.processor() or ''}, "
              f"{platform.python_version()}; date {time.strftime('%Y-%m-%d')}  \n"
              f"Pairs: {len({(r['image'], r['tmo']) for r in rows})} "
              f"({'long side ' + str(long_side) if long_side else 'full size'}); "
              "metrics on PQ BT.2020 code values, means over pairs.\n\n")
    atomic_write(out_dir / "table.md", (header + _markdown(table, group)).encode())
    _plots(experiment, rows, table, out_dir)


def _plots(experiment: str, rows: list[dict], table: list[dict], out_dir: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if experiment == "rd":
        fig, ax = plt.subplots(figsize=(8, 5.5))
        series: dict[str, list] = {}
        for e in table:
            name = e["label"].split(" ")[0]
            if "fp16" in e["label"]:
                name += " fp16"
            series.setdefault(name, []).append((e["bpp"], e["psnr"]))
        colours = plt.get_cmap("tab20").colors
        for i, (name, pts) in enumerate(sorted(series.items())):
            pts.sort()
            marker = "o" if name.startswith("gamma") else "s"
            style = "-" if "mlp" in name else "--"
            ax.plot([p[0] for p in pts], [p[1] for p in pts], style, marker=marker,
                    color=colours[i % len(colours)], label=name, markersize=5)
        ax.set_xscale("log")
        ax.set_xlabel("bits per pixel (bytes·8 / (W·H·3))")
        ax.set_ylabel("PSNR (dB, PQ code values)")
        ax.set_title("Rate-distortion: maps at scales 1/8..1, MLPs at widths 8..64")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, ncol=2)
        fig.tight_layout()
        fig.savefig(out_dir / "rd.png", dpi=120)
        plt.close(fig)
    elif experiment == "time":
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
        series: dict[str, list] = {}
        for e in table:
            method, steps = e["label"].split(" ")[0], int(e["label"].split(" ")[1])
            series.setdefault(method, []).append((steps, e["encode_seconds"], e["psnr"]))
        for method, pts in sorted(series.items()):
            pts.sort()
            axes[0].plot([p[0] for p in pts], [p[2] for p in pts], "o-", label=method)
            axes[1].plot([p[1] for p in pts], [p[2] for p in pts], "o-", label=method)
        axes[0].set_xlabel("fitting steps")
        axes[1].set_xlabel("encode seconds (this machine)")
        for ax in axes:
            ax.set_ylabel("PSNR (dB)")
            ax.grid(True, alpha=0.3)
            ax.legend()
        fig.tight_layout()
        fig.savefig(out_dir / "time.png", dpi=120)
        plt.close(fig)
    else:
        fig, ax = plt.subplots(figsize=(8, 0.35 * len(table) + 1.5))
        labels = [" / ".join(str(e[k]) for k in e if k in ("tmo", "label")) for e in table]
        ax.barh(labels, [e["psnr"] for e in table])
        ax.set_xlabel("mean PSNR (dB)")
        fig.tight_layout()
        fig.savefig(out_dir / f"{experiment}.png", dpi=120)
        plt.close(fig)

