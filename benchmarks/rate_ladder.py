"""Every rate-control rung fitted to every dev photo: the data behind docs/rate-control.md.

For each photo of ``--dirs`` (gain-map JPEGs, and an Ultra HDR file per HDR image x tone
mapper made by gainmlp's writer, :mod:`gainmlp.evaluation.photos`), the pixels are split
into the fitted set and the held-out set exactly as rate control splits them, and each
configuration of ``--rungs`` (default: the ladder plus a few alternatives) is fitted in
full; recorded per fit (JSON lines in ``--out``, resumable): the held-out PSNR after 100,
250, 500 and 750 steps and at the end (stored network), the whole image's PSNR after a
real decode, payload bytes and seconds. ``--summary`` prints the per-rung medians and
the late gains that set ``rate.RUNG_GAIN`` and ``rate.LATE_GAIN``.

``--rendition IMAGE TMO`` only fits one dev image as a pair and as Ultra HDR files made
from it (why those files are hard).

Example (docs/rate-control.md)::

    GAINMLP_THREADS=1 nice python benchmarks/rate_ladder.py --out docs/results/rate/ladder.jsonl
    GAINMLP_THREADS=1 nice python benchmarks/rate_ladder.py --rendition Tree reinhard-devlin
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
EXTRA_RUNGS = (("none", 16, "fp32"), ("32x32x4:fp16", 16, "fp16"), ("32x32x4:u8", 32, "fp16"))
CHECKS = (100, 250, 500, 750)
DEFAULT_TARGET = 44.0  # the photo paths are printed for this target


def rungs(names: list[str] | None):
    from gainmlp.codecs.mlp.rate import LADDER, START, Rung

    # the start rung, the top, its neighbours, then the rest, then the alternatives
    top = len(LADDER) - 1
    order = [START, top] + sorted(set(range(len(LADDER))) - {START, top},
                                  key=lambda i: (abs(i - START), -i))
    out = [LADDER[i] for i in order]
    out += [Rung(None if g == "none" else g, w, p) for g, w, p in EXTRA_RUNGS]
    return [r for r in out if names is None or r.label in names]


def run(args: argparse.Namespace) -> None:
    from gainmlp import metrics
    from gainmlp.api import decode
    from gainmlp.codecs.mlp.rate import HeldOut, fit_rung, holdout_split
    from gainmlp.container.payload import Payload
    from gainmlp.evaluation.photos import collect, load_photo, pq_pair
    from gainmlp.options import EncodeOptions

    out = Path(args.out)
    done = set()
    if out.exists():
        done = {(r["photo"], r["rung"]) for r in map(json.loads, out.read_text().splitlines())}
    files = collect([Path(d) for d in args.dirs], Path(args.cache), tuple(args.tmos))
    options = EncodeOptions()
    photos = {}
    for item in files:
        if args.photos and not any(w in item.name for w in args.photos):
            continue
        try:
            photos[item.name] = load_photo(item.data)
        except Exception as exc:  # noqa: BLE001 - a photo gainmlp cannot read is skipped
            print(f"skip {item.name}: {exc}")
    for rung in rungs(args.rungs):  # rung by rung: the ladder first, then the alternatives
        for name, photo in photos.items():
            if (name, rung.label) in done:
                continue
            sdr, hdr = pq_pair(photo)
            keep, hold = holdout_split(sdr.shape[0] * sdr.shape[1], options.seed)
            held = HeldOut.of("gamma", sdr, hdr, 1 / 64, hold)
            t0 = time.perf_counter()
            trial = fit_rung("gamma-mlp", rung, sdr, hdr, 1 / 64, options, keep, held,
                             checks={s: 0.0 for s in CHECKS})
            seconds = time.perf_counter() - t0
            payload = Payload("gamma-mlp", sdr.shape[1], sdr.shape[0], 1 / 64, trial.packed(),
                              photo.sdr.encoding)
            full = metrics.psnr(hdr, decode(payload, photo.sdr.pixels))
            row = {"photo": name, "rung": rung.label,
                   "bytes": trial.payload_bytes or rung.payload_bytes,
                   "pixels": int(sdr.shape[0] * sdr.shape[1]), "held": round(trial.psnr, 3),
                   "full": round(full, 3), "seconds": round(seconds, 2),
                   "checks": {str(k): round(v, 3) for k, v in trial.checks.items()}}
            print(json.dumps(row), flush=True)
            with out.open("a") as fh:
                fh.write(json.dumps(row) + "\n")


def replay_ladder(rows: list[dict]) -> list[tuple]:
    """(rung, row label) for the rungs of ``rate.LADDER`` that ``rows`` measured: a rung
    without rows of its own is replayed on the raw-u8 rows of its grid shape (the ladder
    measured before the grids were coded at 6 bits, which costs 0.07-0.19 dB,
    docs/grid.md); the ladder stops at the first rung with neither."""
    from gainmlp.codecs.mlp.rate import LADDER

    seen = {r["rung"] for r in rows}
    ladder = []
    for r in LADDER:
        label = r.label if r.label in seen else r.label.replace(":u6z", ":u8")
        if label not in seen:
            break
        ladder.append((r, label))
    return ladder


def summary(path: Path) -> None:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    by = {}
    for r in rows:
        by.setdefault(r["photo"], {})[r["rung"]] = r
    ladder = replay_ladder(rows)
    labels = [label for _, label in ladder]
    print("median held-out gain from rung to rung:")
    for a, b in zip(labels, labels[1:], strict=False):
        gains = [p[b]["held"] - p[a]["held"] for p in by.values() if a in p and b in p]
        if gains:
            print(f"  {a:>22} -> {b:<22} median {np.median(gains):+.2f} "
                  f"min {min(gains):+.2f} max {max(gains):+.2f} (n={len(gains)})")
    late = {k: [r["held"] - r["checks"][k] for r in rows if k in r["checks"]]
            for k in ("250", "500", "750")}
    for k, v in late.items():
        print(f"gain after step {k}: median {np.median(v):.2f}, max {max(v):.2f} (n={len(v)})")
    print("\n| photo | " + " | ".join(lab.split(" ")[0] for lab in labels) + " |")
    print("|" + " --- |" * (len(labels) + 1))
    for photo, d in by.items():
        cells = [f"{d[lab]['held']:.2f}" if lab in d else "" for lab in labels]
        print(f"| {photo} | " + " | ".join(cells) + " |")
    print("| payload bytes | " + " | ".join(str(r.payload_bytes) for r, _ in ladder) + " |\n")
    for extra, base in (("none w16 fp32", "none w16 fp16"),
                        ("32x32x4:fp16 w16 fp16", "32x32x4:u8 w16 fp16"),
                        ("32x32x4:fp16 w16 fp16", "48x48x4:u8 w16 fp16"),
                        ("32x32x4:u8 w32 fp16", "32x32x4:u8 w16 fp16"),
                        ("32x32x4:u8 w32 fp16", "48x48x4:u8 w16 fp16")):
        d = [p[extra]["held"] - p[base]["held"] for p in by.values() if extra in p and base in p]
        if d:
            print(f"{extra} minus {base}: median {np.median(d):+.2f}, min {min(d):+.2f}, "
                  f"max {max(d):+.2f} dB (n={len(d)})")
    for k in ("250", "500"):
        spread = []
        for d in by.values():
            gains = [r["held"] - r["checks"][k] for lab, r in d.items() if lab in labels]
            spread += [abs(a - b) for i, a in enumerate(gains) for b in gains[i + 1:]]
        print(f"gain after step {k}, two rungs of one photo differ by: median "
              f"{np.median(spread):.2f}, 90th percentile {np.percentile(spread, 90):.2f} dB")
    diff = [r["full"] - r["held"] for r in rows]
    print(f"whole image minus held-out PSNR: median {np.median(diff):+.2f}, "
          f"min {min(diff):+.2f}, max {max(diff):+.2f}")


def simulate(path: Path, dirs: list[str], cache: str, tmos: list[str],
             targets: tuple[float, ...] = (40.0, 42.0, 44.0, 46.0), capped: bool = True) -> None:
    """Replay ``rate.walk`` on the measured fits: per target, how often the search finds the
    smallest rung that reaches it (``capped``: under the photo's own map bytes, as a
    re-encode caps it; else the whole ladder), how often a larger one, and what it costs in
    single encodes."""
    from gainmlp.codecs.mlp import rate
    from gainmlp.container.photo import gain_map_size
    from gainmlp.evaluation.photos import collect

    rows = [json.loads(line) for line in path.read_text().splitlines()]
    by: dict[str, dict[str, dict]] = {}
    for r in rows:
        by.setdefault(r["photo"], {})[r["rung"]] = r
    ladder = replay_ladder(rows)
    caps = {f.name: max(gain_map_size(f.data), rate.LADDER[0].payload_bytes) if capped
            else ladder[-1][0].payload_bytes
            for f in collect([Path(d) for d in dirs], Path(cache), tuple(tmos))}
    labels = [label for _, label in ladder]
    full = {p: d for p, d in by.items() if all(lab in d for lab in labels) and p in caps}
    print(f"replayed on {len(full)} photos with every rung measured, "
          + ("capped at each photo's map bytes" if capped else "the whole ladder"))
    if not full:
        return
    for target in targets:
        stats = {"exact": 0, "larger": 0, "none": 0, "wrong": 0}
        costs = []
        for name, d in full.items():
            rungs = [r for r, _ in ladder if r.payload_bytes <= caps[name]]
            held = [d[labels[i]]["held"] for i in range(len(rungs))]

            def fit(i, stop_target, checks, rungs=rungs, d=d):
                row = d[labels[i]]
                seen = {}
                for step in sorted(checks):
                    seen[step] = row["checks"][str(step)]
                    if stop_target is not None and seen[step] + checks[step] < stop_target:
                        return rate.Trial(rungs[i], seen[step], 0.0, step, True, seen)
                return rate.Trial(rungs[i], row["held"], 0.0, 1000, False, seen, b"")

            hi, trials = rate.walk(len(rungs), target, 1000, fit)
            best = next((i for i, v in enumerate(held) if v >= target), None)
            costs.append(sum(t.steps for t in trials) / 1000)
            if target == DEFAULT_TARGET and capped:
                kept = rungs[hi] if hi is not None else max(
                    (t for t in trials if not t.stopped), key=lambda t: t.psnr).rung
                path_text = ", ".join(f"{t.rung.label.split(' ')[0]}"
                                      + (f" (stopped at {t.steps})" if t.stopped else "")
                                      for t in trials)
                print(f"  {name}: {path_text} -> {kept.label}; "
                      f"{sum(t.steps for t in trials) / 1000:.2f} encodes")
            if best is None:
                stats["none" if hi is None else "wrong"] += 1
            elif hi == best:
                stats["exact"] += 1
            elif hi is not None and hi > best:
                stats["larger"] += 1
            else:
                stats["wrong"] += 1
        print(f"target {target:g} dB: smallest rung found {stats['exact']}, a larger one "
              f"{stats['larger']}, none reachable {stats['none']}, "
              f"wrong {stats['wrong']}; cost in encodes: mean {np.mean(costs):.2f}, "
              f"median {np.median(costs):.2f}, max {max(costs):.2f}")


def rendition(stem: str, tmo: str, cache: str) -> None:
    """Why our own Ultra HDR files are hard: the same HDR image fitted as a pair and as the
    rendition of Ultra HDR files made from that pair (maps at 1/4 and full scale), at the
    start rung, held-out PSNR; and how far each rendition is from the pair's HDR."""
    from gainmlp import metrics
    from gainmlp.api import sdr_in_hdr_space
    from gainmlp.codecs.mlp.rate import LADDER, START, HeldOut, fit_rung, holdout_split
    from gainmlp.container.ultrahdr import ultrahdr_from_pair
    from gainmlp.evaluation.pairs import prepare_pairs, read_pair
    from gainmlp.evaluation.photos import ULTRAHDR_QUALITY, load_photo, pq_pair
    from gainmlp.options import EncodeOptions

    [(_, _, folder)] = prepare_pairs(SHARED / "hdr", Path(cache), (tmo,), None, [stem])
    sdr, hdr = read_pair(folder)
    cases = [("pair", sdr_in_hdr_space(sdr.pixels, sdr.encoding), hdr)]
    for scale in (4, 1):
        data, _ = ultrahdr_from_pair(sdr, hdr, scale, ULTRAHDR_QUALITY)
        s, h = pq_pair(load_photo(data))
        print(f"{stem} {tmo}: Ultra HDR map 1/{scale}: rendition vs the pair's HDR "
              f"{metrics.psnr(hdr, h):.2f} dB")
        cases.append((f"Ultra HDR 1/{scale}", s, h))
    for name, s, h in cases:
        keep, hold = holdout_split(s.shape[0] * s.shape[1])
        held = HeldOut.of("gamma", s, h, 1 / 64, hold)
        trial = fit_rung("gamma-mlp", LADDER[START], s, h, 1 / 64, EncodeOptions(), keep, held)
        print(f"{stem} {tmo}: {name} fitted at {LADDER[START].label}: {trial.psnr:.2f} dB "
              "held-out")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dirs", nargs="+",
                        default=[str(SHARED / "gainmap"), str(SHARED / "hdr")])
    parser.add_argument("--tmos", nargs="+", default=["reinhard-devlin", "local"])
    parser.add_argument("--rungs", nargs="+", default=None, help="rung labels (default all)")
    parser.add_argument("--photos", nargs="+", default=None,
                        help="only photos whose name contains one of these")
    parser.add_argument("--cache", default="/tmp/gainmlp-photos-cache")
    parser.add_argument("--out", default="rate_ladder.jsonl")
    parser.add_argument("--summary", action="store_true", help="only summarise --out")
    parser.add_argument("--start", type=int, default=None,
                        help="replay with this start rung instead of rate.START")
    parser.add_argument("--max-jump", default=None,
                        help="replay with this rate.MAX_JUMP (an integer, or 'none')")
    parser.add_argument("--rendition", nargs=2, metavar=("IMAGE", "TMO"),
                        help="only the pair-versus-Ultra-HDR check of one dev image")
    args = parser.parse_args()
    if args.rendition:
        rendition(*args.rendition, args.cache)
        return
    if args.start is not None:
        from gainmlp.codecs.mlp import rate

        rate.START = args.start
    if args.max_jump is not None:
        from gainmlp.codecs.mlp import rate

        rate.MAX_JUMP = None if args.max_jump == "none" else int(args.max_jump)
    if not args.summary:
        run(args)
    summary(Path(args.out))
    simulate(Path(args.out), args.dirs, args.cache, args.tmos)
    simulate(Path(args.out), args.dirs, args.cache, args.tmos, capped=False)


if __name__ == "__main__":
    main()
