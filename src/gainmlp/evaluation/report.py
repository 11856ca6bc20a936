"""An experiment's outputs: every record as CSV and JSON, a markdown table of means, plots.

:func:`write_outputs` is what ``gainmlp bench`` leaves in OUT_DIR: ``results.csv`` and
``results.json`` (one record per pair x variant), ``table.md`` (means over the pairs per
variant, per tone mapper too for ``table4``, under a header naming the command, machine
and date) and a PNG: the rate-distortion curves (``rd.png``), PSNR against fitting steps
and seconds (``time.png``) or mean PSNR per variant (``EXPERIMENT.png``).
"""

from __future__ import annotations

import csv
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

from gainmlp.errors import GainMLPError

#: The measured columns that tables average: the payload level (the paper's protocol,
#: lossless SDR), then the file level (the written JPEG, :mod:`.evaluate`).
COLUMNS = ("psnr", "ssim", "delta_e00", "delta_e_itp", "pu21_psnr", "cvvdp_jod", "hdr_flip",
           "hl_light_ratio", "hl2w_light_ratio", "hl_p999_ratio",
           "payload_bytes", "bpp", "encode_seconds", "file_psnr", "file_bytes", "base_bytes",
           "file_hl_light_ratio")


def mean_table(rows: list[dict], group: tuple[str, ...]) -> list[dict]:
    """One entry per value of the ``group`` keys: the mean of each of :data:`COLUMNS` over
    its records (missing and non-finite values left out; NaN when none is left) and ``n``,
    the number of records. Entries in the order their groups first occur."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault(tuple(r[g] for g in group), []).append(r)
    table = []
    for key, rs in groups.items():
        entry = dict(zip(group, key, strict=True))
        for c in COLUMNS:
            vals = [r[c] for r in rs if r.get(c) is not None and np.isfinite(r[c])]
            entry[c] = float(np.mean(vals)) if vals else float("nan")
        entry["n"] = len(rs)
        table.append(entry)
    return table


def markdown_table(table: list[dict], group: tuple[str, ...]) -> str:
    """:func:`mean_table`'s entries as a markdown table (KB of 1024 bytes): payload-level
    metrics (lossless SDR; FLIP: mean HDR-FLIP; HL light / 2W light: light ratio above
    1,000 cd/m2 / above twice SDR white; p99.9: the 99.9th-percentile luminance ratio),
    then the written JPEG's PSNR, total bytes, base bytes and light ratio above 1,000 cd/m2
    ("–" where no record has the value: records made before the file level or the
    highlight metrics existed, or pairs without pixels above the threshold)."""
    head = list(group) + ["PSNR", "SSIM", "ΔE00", "ΔE_ITP", "PU21-PSNR", "JOD", "FLIP",
                          "HL light", "2W light", "p99.9", "KB", "bpp", "encode s",
                          "file PSNR", "file KB", "base KB", "file HL light", "n"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for e in table:
        cells = [str(e[g]) for g in group] + [
            f"{e['psnr']:.2f}", f"{e['ssim']:.4f}", f"{e['delta_e00']:.2f}",
            f"{e['delta_e_itp']:.2f}", f"{e['pu21_psnr']:.2f}",
            _cell(e["cvvdp_jod"], "{:.2f}"), _cell(e["hdr_flip"], "{:.4f}"),
            _cell(e["hl_light_ratio"], "{:.3f}"), _cell(e["hl2w_light_ratio"], "{:.3f}"),
            _cell(e["hl_p999_ratio"], "{:.3f}"),
            f"{e['payload_bytes'] / 1024:.1f}", f"{e['bpp']:.4f}", f"{e['encode_seconds']:.1f}",
            _cell(e["file_psnr"], "{:.2f}"), _cell(e["file_bytes"] / 1024, "{:.1f}"),
            _cell(e["base_bytes"] / 1024, "{:.1f}"), _cell(e["file_hl_light_ratio"], "{:.3f}"),
            str(e["n"])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _cell(value: float, fmt: str) -> str:
    return "–" if not np.isfinite(value) else fmt.format(value)


def write_records(rows: list[dict], out_dir: Path) -> None:
    """``results.csv`` (one column per key of any row) and ``results.json`` in ``out_dir``."""
    from gainmlp.io import atomic_write

    out_dir.mkdir(parents=True, exist_ok=True)
    keys = sorted({k for r in rows for k in r})
    with open(out_dir / "results.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
    atomic_write(out_dir / "results.json", json.dumps(rows, indent=1).encode())


def write_outputs(experiment: str, rows: list[dict], out_dir: Path,
                  long_side: int | None) -> None:
    """Write the records, the table and the plot of one experiment to ``out_dir``."""
    from gainmlp.io import atomic_write

    write_records(rows, out_dir)
    group = ("tmo", "label") if experiment == "table4" else ("label",)
    table = mean_table(rows, group)
    if experiment == "table4":
        table.sort(key=lambda e: (e["tmo"], e["label"]))
    header = (f"# {experiment}\n\nCommand: `{' '.join(['gainmlp'] + sys.argv[1:])}`  \n"
              f"Machine: {platform.machine()} {platform.processor() or ''}, "
              f"{platform.python_version()}; date {time.strftime('%Y-%m-%d')}  \n"
              f"Pairs: {len({(r['image'], r['tmo']) for r in rows})} "
              f"({'long side ' + str(long_side) if long_side else 'full size'}); "
              "metrics on PQ BT.2020 code values, means over pairs. PSNR..bpp: payload "
              "level (fitted to and decoded with the lossless SDR, the paper's protocol); "
              "FLIP: mean HDR-FLIP error; HL light / 2W light: total light of the pixels "
              "above 1,000 cd/m2 / above twice SDR white, reconstruction over reference "
              "(means over the pairs that have such pixels); p99.9: ratio of the "
              "99.9th-percentile luminance (docs/highlights.md); "
              "file PSNR/KB/HL light: the JPEG `gainmlp encode` writes (default container, "
              "base quality 95), decoded by gainmlp; base KB: its SDR codestream without "
              "metadata.\n\n")
    atomic_write(out_dir / "table.md", (header + markdown_table(table, group)).encode())
    _plots(experiment, table, out_dir)


def require_matplotlib(what: str):
    """matplotlib, imported, for ``what`` (a command or function that draws plots); a
    one-line :class:`GainMLPError` naming the extra to install when it is missing.
    matplotlib is the optional extra ``gainmlp[plot]``: only plotting needs it."""
    try:
        import matplotlib
    except ImportError:
        raise GainMLPError(f"{what} draws plots with matplotlib, which is not installed: "
                           'pip install "gainmlp[plot]"') from None
    return matplotlib


def _plots(experiment: str, table: list[dict], out_dir: Path) -> None:
    matplotlib = require_matplotlib("gainmlp bench")
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
