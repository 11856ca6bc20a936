"""Coverage-guided fuzzing of gainmlp's readers with atheris (libFuzzer), outside CI.

    pip install -e ".[fuzz]"
    nice -n 10 python fuzz/run.py --all                    # every target, its default runs
    python fuzz/run.py payload body-mlp --runs 20000        # some targets, N inputs each
    python fuzz/run.py --list

Each target (fuzz/targets.py) runs in its own process, one after the other: gainmlp and
Pillow are imported under ``atheris.instrument_imports`` (so coverage feedback covers
their Python code), the seed corpus written by fuzz/corpus.py is loaded, and libFuzzer
runs ``-runs=N`` inputs. Any exception other than GainMLPError is a crash: it is recorded
(one reproducer per crash site, ``WORK/artifacts/TARGET/pycrash-*``) and fuzzing goes on;
a hang (``-timeout``), running out of memory (``-rss_limit_mb``) or a crash in native
code stops the target with libFuzzer's own ``timeout-*``/``oom-*``/``crash-*`` reproducer.
A reproducer replays with ``python fuzz/run.py TARGET --replay FILE``.

``--plain`` runs the same targets on the same seeds without atheris: random byte edits,
insertions, deletions, truncations and splices of the seeds, no coverage feedback (the
project's older container-only mutation fuzzer, now over every target), for a platform
without atheris or a quick check.

Per target the report gives the inputs executed, libFuzzer's final coverage figures (``cov``:
instrumented edges reached, ``ft``: features), exec/s and crashes; ``WORK/summary.json``
keeps them and ``WORK/logs/TARGET.log`` libFuzzer's output. The corpus that libFuzzer grows
is kept in ``WORK/corpus/TARGET`` and reused by the next run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_WORK = HERE / "work"
DICTIONARY = HERE / "gainmlp.dict"


# --------------------------------------------------------------------------- worker


def _crash_site(exc: BaseException) -> str:
    """``Type at file:line (function)`` of the innermost frame, for grouping crashes."""
    frames = traceback.extract_tb(exc.__traceback__)
    frame = frames[-1] if frames else None
    where = f"{Path(frame.filename).name}:{frame.lineno} ({frame.name})" if frame else "?"
    return f"{type(exc).__name__} at {where}"


def _worker(name: str, artifacts: Path, libfuzzer_args: list[str]) -> None:
    """Run one target under atheris; never returns (libFuzzer exits)."""
    import atheris

    with atheris.instrument_imports(include=["gainmlp", "PIL"]):
        from PIL import Image

        Image.init()  # import every Pillow plugin now, instrumented
        import targets

        from gainmlp.errors import GainMLPError

    fn = targets.TARGETS[name].fn
    warnings.simplefilter("ignore")
    artifacts.mkdir(parents=True, exist_ok=True)
    log = artifacts / "crashes.jsonl"
    seen: set[str] = set()

    first = [True]

    def one_input(data: bytes) -> None:
        if first[0]:  # the driver counts exec/s from here, without the start-up
            (artifacts / "started").write_text(repr(time.time()))
            first[0] = False
        try:
            fn(data)
        except GainMLPError:
            pass
        except Exception as exc:  # noqa: BLE001 - that is what we are looking for
            site = _crash_site(exc)
            record = {"site": site, "message": str(exc)[:300]}
            if site not in seen:
                seen.add(site)
                path = artifacts / f"pycrash-{hashlib.sha1(data).hexdigest()}"
                path.write_bytes(data)
                record["reproducer"] = str(path)
                print(f"\n== new crash site: {site}: {exc}\n{traceback.format_exc()}",
                      file=sys.stderr, flush=True)
            with log.open("a") as fh:
                fh.write(json.dumps(record) + "\n")

    atheris.Setup([sys.argv[0], *libfuzzer_args], one_input)
    atheris.Fuzz()


def _replay(name: str, files: list[Path]) -> int:
    """Run a target on reproducer files without a fuzzer; show what each raises."""
    sys.path.insert(0, str(HERE))
    import targets

    from gainmlp.errors import GainMLPError

    status = 0
    for path in files:
        try:
            targets.TARGETS[name].fn(path.read_bytes())
            print(f"{path}: ok")
        except GainMLPError as exc:
            print(f"{path}: GainMLPError: {exc}")
        except Exception:  # noqa: BLE001
            print(f"{path}: CRASH\n{traceback.format_exc()}")
            status = 1
    return status


# --------------------------------------------------------------------------- plain mode

_INTERESTING = (b"\x00\x00", b"\xff\xff", b"\x00\x01", b"\x7f\xff\xff\xff", b"\x00\x00\x00\x00",
                b"\xff\xd8", b"\xff\xd9", b"\xff\xda")


def mutate(data: bytes, rnd: random.Random, pool: list[bytes]) -> bytes:
    """1 to 8 random edits of ``data``: a byte, an insertion, a deletion, a truncation, an
    interesting 16/32-bit value, or a piece of another seed spliced in."""
    buf = bytearray(data)
    for _ in range(rnd.randint(1, 8)):
        if not buf:
            break
        op, pos = rnd.random(), rnd.randrange(len(buf))
        if op < 0.45:
            buf[pos] = rnd.randrange(256)
        elif op < 0.55:
            buf[pos:pos] = bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 8)))
        elif op < 0.65:
            del buf[pos : pos + rnd.randint(1, 64)]
        elif op < 0.75:
            del buf[pos:]
        elif op < 0.85:
            val = rnd.choice(_INTERESTING)
            buf[pos : pos + len(val)] = val
        else:
            other = rnd.choice(pool)
            start = rnd.randrange(len(other)) if other else 0
            buf[pos:pos] = other[start : start + rnd.randint(1, 512)]
    return bytes(buf)


def plain_target(name: str, runs: int, work: Path, seed: int) -> dict:
    """Fuzz one target in this process with :func:`mutate` (no coverage feedback)."""
    import targets

    from gainmlp.errors import GainMLPError

    fn = targets.TARGETS[name].fn
    seeds_dir, artifacts = work / "seeds" / name, work / "artifacts" / name
    artifacts.mkdir(parents=True, exist_ok=True)
    pool = [p.read_bytes() for p in sorted(seeds_dir.iterdir())]
    rnd = random.Random(seed)
    sites: dict[str, int] = {}
    start = time.time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(runs):
            data = mutate(rnd.choice(pool), rnd, pool)
            try:
                fn(data)
            except GainMLPError:
                pass
            except Exception as exc:  # noqa: BLE001 - that is what we are looking for
                site = _crash_site(exc)
                if site not in sites:
                    (artifacts / f"pycrash-{hashlib.sha1(data).hexdigest()}").write_bytes(data)
                    print(f"\n== new crash site: {site}: {exc}", file=sys.stderr, flush=True)
                sites[site] = sites.get(site, 0) + 1
    elapsed = time.time() - start
    return {"target": name, "mode": "plain", "seeds": len(pool), "runs": runs,
            "wall_s": round(elapsed, 1), "exec_per_s": round(runs / max(elapsed, 1e-3)),
            "exit": 0, "crashing_inputs": sum(sites.values()), "crash_sites": sites,
            "libfuzzer_artifacts": []}


# --------------------------------------------------------------------------- driver

_FINAL = re.compile(r"#(\d+)\s+DONE\s+cov: (\d+) ft: (\d+) corp: (\d+)/")
_STATUS = re.compile(r"#(\d+)\s+\w+\s+cov: (\d+) ft: (\d+) corp: (\d+)/")
_STAT = re.compile(r"stat::(\w+):\s+(\d+)")


def parse_log(text: str) -> dict:
    """Inputs executed, final cov/ft/corpus, exec/s and peak RSS from libFuzzer's output."""
    out: dict = {}
    lines = _FINAL.findall(text) or _STATUS.findall(text)
    if lines:
        runs, cov, ft, corp = (int(v) for v in lines[-1])
        out.update(runs=runs, cov=cov, ft=ft, corpus=corp)
    stats = dict(_STAT.findall(text))
    if "number_of_executed_units" in stats:
        out["runs"] = int(stats["number_of_executed_units"])
    if "peak_rss_mb" in stats:
        out["peak_rss_mb"] = int(stats["peak_rss_mb"])
    return out


def run_target(name: str, runs: int, work: Path, timeout: int, rss_mb: int,
               extra: list[str]) -> dict:
    """Fuzz one target for ``runs`` inputs in a fresh process; returns its report."""
    seeds, corpus = work / "seeds" / name, work / "corpus" / name
    artifacts = work / "artifacts" / name
    for folder in (corpus, artifacts, work / "logs"):
        folder.mkdir(parents=True, exist_ok=True)
    for old in artifacts.iterdir():
        old.unlink()
    args = [f"-runs={runs}", f"-timeout={timeout}", f"-rss_limit_mb={rss_mb}",
            f"-artifact_prefix={artifacts}/", "-len_control=0", "-print_final_stats=1",
            f"-dict={DICTIONARY}", *extra, str(corpus), str(seeds)]
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", name, "--work",
           str(work), "--", *args]
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    tmp = tempfile.mkdtemp(prefix="gainmlp-fuzz-", dir=shm)  # the path-based readers' files
    start = time.time()
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              errors="replace", check=False,
                              env={**os.environ, "GAINMLP_FUZZ_TMP": tmp})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    end = time.time()
    first = artifacts / "started"
    fuzz_s = end - (float(first.read_text()) if first.exists() else start)
    (work / "logs" / f"{name}.log").write_text(proc.stdout)
    report = {"target": name, "seeds": len(list(seeds.iterdir())),
              "wall_s": round(end - start, 1), "fuzz_s": round(fuzz_s, 1),
              "exit": proc.returncode, **parse_log(proc.stdout)}
    # libFuzzer's own exec/s is runs / whole seconds; ours counts from the first input
    report["exec_per_s"] = round(report.get("runs", 0) / max(fuzz_s, 1e-3))
    crashes = []
    log = artifacts / "crashes.jsonl"
    if log.exists():
        crashes = [json.loads(line) for line in log.read_text().splitlines()]
    sites: dict[str, int] = {}
    for c in crashes:
        sites[c["site"]] = sites.get(c["site"], 0) + 1
    report["crashing_inputs"] = len(crashes)
    report["crash_sites"] = sites
    # hangs, OOMs and native crashes stop libFuzzer with a reproducer of its own; slow
    # inputs (over 10 s) are reported without stopping
    report["libfuzzer_artifacts"] = sorted(
        p.name for p in artifacts.iterdir()
        if p.name.startswith(("timeout-", "oom-", "crash-", "slow-unit-", "leak-")))
    return report


def _table(reports: list[dict]) -> str:
    head = ("| target | seeds | inputs run | cov | ft | exec/s | crash sites | libFuzzer |\n"
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n")
    rows = "".join(
        f"| {r['target']} | {r['seeds']} | {r.get('runs', 0):,} | {r.get('cov', '-')} | "
        f"{r.get('ft', '-')} | {r.get('exec_per_s', '-')} | {len(r['crash_sites'])} | "
        f"{', '.join(r['libfuzzer_artifacts']) or '-'} |\n" for r in reports)
    total = sum(r.get("runs", 0) for r in reports)
    return head + rows + f"\n{total:,} inputs in all, " \
        f"{sum(len(r['crash_sites']) for r in reports)} crash sites\n"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    extra: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1:]
    sys.path.insert(0, str(HERE))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("targets", nargs="*", help="target names (see --list)")
    ap.add_argument("--all", action="store_true", help="every target")
    ap.add_argument("--list", action="store_true", help="list the targets and exit")
    ap.add_argument("--runs", type=int, help="inputs per target (default: its own share)")
    ap.add_argument("--scale", type=float, default=1.0,
                    help="multiply every target's default runs (e.g. 0.01 for a smoke run)")
    ap.add_argument("--work", type=Path, default=DEFAULT_WORK,
                    help=f"seeds, grown corpus, artifacts, logs (default {DEFAULT_WORK})")
    ap.add_argument("--timeout", type=int, default=20, help="seconds per input (a hang)")
    ap.add_argument("--rss-mb", type=int, default=3072, help="memory limit (an OOM)")
    ap.add_argument("--replay", type=Path, nargs="+", help="run TARGET on these files")
    ap.add_argument("--plain", action="store_true",
                    help="random mutations without atheris (no coverage feedback)")
    ap.add_argument("--seed", type=int, default=0, help="random seed of --plain")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.worker:
        _worker(args.worker, args.work / "artifacts" / args.worker, extra)
        return 0
    import targets

    if args.list:
        for t in targets.TARGETS.values():
            print(f"{t.name:<18} {t.runs:>8,}  {t.entry_points}")
        return 0
    names = list(targets.TARGETS) if args.all else args.targets
    unknown = [n for n in names if n not in targets.TARGETS]
    if unknown or not names:
        ap.error(f"unknown targets {unknown}" if unknown else "name targets or give --all")
    if args.replay:
        return max(_replay(n, args.replay) for n in names)

    import corpus

    counts = corpus.write_corpus(args.work / "seeds")
    print(f"seed corpora: {sum(counts.values())} files in {args.work / 'seeds'}", flush=True)
    reports = []
    for name in names:
        runs = args.runs or max(1, int(targets.TARGETS[name].runs * args.scale))
        print(f"{name}: {runs:,} inputs ...", end=" ", flush=True)
        report = (plain_target(name, runs, args.work, args.seed) if args.plain else
                  run_target(name, runs, args.work, args.timeout, args.rss_mb, extra))
        reports.append(report)
        print(f"{report.get('runs', 0):,} run in {report['wall_s']} s, cov {report.get('cov')} "
              f"ft {report.get('ft')}, {report.get('exec_per_s')} exec/s, "
              f"{len(report['crash_sites'])} crash sites"
              + (f", libFuzzer: {report['libfuzzer_artifacts']}"
                 if report["libfuzzer_artifacts"] else ""),
              flush=True)
        for site, count in report["crash_sites"].items():
            print(f"    {count:7d} x {site}")
    summary = args.work / "summary.json"
    old = json.loads(summary.read_text()) if summary.exists() else {}
    old.update({r["target"]: r for r in reports})
    summary.write_text(json.dumps(old, indent=1) + "\n")
    print("\n" + _table(reports))
    bad = any(r["crash_sites"] or r["libfuzzer_artifacts"] or r["exit"] for r in reports)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
