"""Rate control: the smallest Gain-MLP configuration whose PSNR reaches a target.

A fixed network spends the same bytes on every photo: easy ones waste them, hard ones fall
short. With ``EncodeOptions.target_psnr`` set (and the configuration left to gainmlp:
``grid`` and ``precision`` "auto", the default ``width``), the encoder searches a
:data:`LADDER` of configurations ordered by payload bytes for the smallest whose PSNR
reaches the target. docs/rate-control.md holds the rule's measurements.

* **Judged on held-out pixels.** A fixed random :func:`holdout_split` of the pixels
  (:data:`HOLDOUT_FRACTION`, at least :data:`HOLDOUT_MIN`, at most :data:`HOLDOUT_MAX`, at
  most a quarter) is never drawn by the sampler; the PSNR is ``gainmlp eval``'s (PQ
  BT.2020 code values, peak 1) of the HDR the stored (rounded) network rebuilds there.
* **The search** (:func:`walk`). The first fit is :data:`START`, the smallest rung.
  Each fit either reaches the target (an upper bound on the answer) or not
  (a lower bound); the next rung is the one :func:`predict` expects to reach it with the
  fewest bytes (from the last PSNR and :data:`RUNG_GAIN`, the median gain from one rung to
  the next), kept strictly between the bounds and, before any success, at most
  :data:`MAX_JUMP` rungs above the largest miss. The search ends when the rung below the
  smallest success has been fitted to the end and misses the target (a rung below it that
  is only *expected* to miss, or was stopped early, is fitted to the end first, without
  early stops), when the largest rung misses it, or after :data:`BUDGET` encodes' worth
  of steps. So whenever a larger rung never does worse than a smaller one, the answer is
  the smallest rung that passes, and a higher target never gets a smaller payload.
* **Highlights.** A rung passes only when the pixels above 1,000 cd/m2 also keep their
  total light within :data:`HIGHLIGHT_TOLERANCE` (3 %; not applied with fewer than
  :data:`HIGHLIGHT_MIN_PIXELS` such pixels): PSNR alone let highlights dim by 10-40 %.
  Judged on the held-out ones plus a fixed sample of all (:func:`highlight_pixels`). With
  ``highlights="auto"`` (the default) the search's fits draw 1/32 of their pixels from
  those above twice SDR white (:mod:`gainmlp.codecs.mlp.highlight_fit`).
* **Early stops.** Each fit is checked at :data:`CHECKS` of its steps: when its held-out
  PSNR plus the most the remaining steps can add is short of the target, it is stopped
  (it cannot be the answer). "The most" is the largest gain measured on the dev photos
  until one fit of the photo has finished, then that fit's own gain plus
  :data:`OWN_GAIN_MARGIN`. The largest rung is never stopped when nothing has reached
  the target: it is what is kept.
* **The cap.** ``max_bytes`` removes the rungs above it; when no rung left reaches the
  target, the best one is kept and a one-line warning says so. A forced configuration
  over the cap is refused before fitting. Rungs with coded grids (``u6z``: their size
  depends on the values) are placed and capped by :attr:`Rung.payload_bytes`, an estimate
  from :data:`CODED_RATIO`; a fit whose payload comes out over the cap fails.

The chosen configuration is in the body itself (grid shape and storage, width, weight
precision: docs/payload-format.md), so every decoder reads the result as it reads any
payload; the target is not stored.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from gainmlp import metrics, paper_residual
from gainmlp.codecs.features import chunks, pixel_centres
from gainmlp.codecs.mlp import fit
from gainmlp.codecs.mlp.decode import (
    denormalise_outputs,
    encoded_inputs,
    forward_numpy,
    method_kind,
)
from gainmlp.codecs.mlp.fit import fit_many, fused_supported
from gainmlp.codecs.mlp.fit_plan import shared_setup
from gainmlp.codecs.mlp.format import (
    MlpParams,
    pack_mlp_body,
    unpack_mlp_body,
)
from gainmlp.codecs.mlp.ladder import CODED_RATIO, PAYLOAD_OVERHEAD, Rung, config_bytes
from gainmlp.codecs.torch_helpers import check_pair
from gainmlp.errors import GainMLPError, warn
from gainmlp.options import EncodeOptions, default, grid_for, resolve_precision

HOLDOUT_FRACTION = 0.02
HOLDOUT_MIN = 4096
HOLDOUT_MAX = 65536
#: Seed of the hold-out draw (mixed with ``options.seed``).
HOLDOUT_SEED = 0x5EED


#: The configurations rate control chooses from, in increasing payload bytes. The grids
#: are coded with 64 levels (``u6z``, docs/grid.md): about half the bytes of raw u8 for
#: 0.1 dB, so each grid shape costs less and the top rung (128x128x8) takes about the
#: bytes the raw 96x96x8 rung took.
LADDER: tuple[Rung, ...] = (
    Rung(None),
    Rung("16x16x2:u6z"),
    Rung("16x16x4:u6z"),
    Rung("24x24x4:u6z"),
    Rung("32x32x4:u6z"),
    Rung("48x48x4:u6z"),
    Rung("64x64x4:u6z"),
    Rung("64x64x8:u6z"),
    Rung("96x96x8:u6z"),
    Rung("128x128x8:u6z"),
)
#: The rung fitted first: the smallest. On the dev photos it is the most common answer at
#: the default target, its fit is the cheapest, and on the others its early checks are
#: the short probe the prediction starts from (docs/rate-control.md).
START = 0
#: Typical held-out PSNR gain (dB) from rung i to rung i + 1 on the dev photos (median).
RUNG_GAIN: tuple[float, ...] = (1.17, 0.33, 0.56, 0.43, 0.93, 0.80, 0.38, 1.22, 1.17)
#: Check points (fraction of the steps) and the largest held-out PSNR gain (dB) the steps
#: after each added on the dev photos, with a margin: a fit further than that below the
#: target at a check is stopped.
CHECKS: dict[float, float] = {0.25: 10.0, 0.5: 7.5}
#: The median of those gains, to estimate where a stopped fit would have ended.
TYPICAL_LATE_GAIN: dict[float, float] = {0.25: 2.70, 0.5: 1.66}
#: Once one fit of the photo has finished, its own late gains replace :data:`CHECKS`, plus
#: this margin (dB): two rungs' late gains on one photo differ by less in about 9 cases of
#: 10 (a stop it gets wrong can only make the answer a rung larger than needed).
OWN_GAIN_MARGIN = 1.5
#: The most fitting steps a search starts, in single encodes (``options.steps`` each).
BUDGET = 3.0
#: The most rungs the search climbs above a miss before anything has reached the target
#: (None: as far as :func:`predict` says). The typical gains predict well for photos whose
#: PSNR keeps rising with the grid, and overshoot for those whose gain comes from the first
#: grid rungs and then flattens (seine_sdr_different: a 44-dB target chose 64x64x8 at
#: 19.7 KB where 48x48x4 at 9.2 KB passes); docs/rate-control.md has the replay.
MAX_JUMP: int | None = 4
#: A configuration passes only if the held-out pixels above 1,000 cd/m2 keep their total
#: light within this relative tolerance (issue 21: PSNR alone let highlights dim 10-40 %).
HIGHLIGHT_TOLERANCE = 0.03
#: Fewer highlight pixels than this: the light criterion is not applied.
HIGHLIGHT_MIN_PIXELS = 64
#: The light criterion is judged on the held-out highlights plus a fixed sample of all the
#: photo's highlight pixels, this many at most (a 2 % hold-out of a photo whose highlights
#: are a small sun or a few lamps has fewer than HIGHLIGHT_MIN_PIXELS of them:
#: docs/rate-control.md, "Highlights").
HIGHLIGHT_SAMPLE = 16384


# -- the configuration -------------------------------------------------------------------


def forced(options: EncodeOptions) -> bool:
    """Whether the options name the configuration (an explicit grid, weight precision or
    width), which turns the search off."""
    grid = options.grid
    return not (grid is not None and str(grid).strip().lower() == "auto"
                and options.precision == "auto" and options.width == default("width"))


def searches(options: EncodeOptions) -> bool:
    """Whether an encode with these options runs the rate-control search."""
    return options.target_psnr is not None and not forced(options)


def check_cap(options: EncodeOptions, kind: str) -> None:
    """Refuse a fixed configuration whose payload exceeds ``options.max_bytes``."""
    if options.max_bytes is None:
        return
    grid = grid_for(options.grid, kind)
    size = config_bytes(grid, options.width,
                        resolve_precision(options.precision, grid is not None), "least")
    if size > options.max_bytes:
        raise GainMLPError(f"the configuration asked for makes a {size}-byte payload, over "
                           f"max_bytes {options.max_bytes}")


# -- hold-out pixels -----------------------------------------------------------------------


def holdout_split(n_pixels: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(pixels the fit may draw, held-out pixels): sorted flat indices, int32.

    The held-out set is a fixed random :data:`HOLDOUT_FRACTION` of the pixels (at least
    :data:`HOLDOUT_MIN`, at most :data:`HOLDOUT_MAX`, never more than a quarter)."""
    n_hold = int(np.clip(round(n_pixels * HOLDOUT_FRACTION), HOLDOUT_MIN, HOLDOUT_MAX))
    n_hold = max(1, min(n_hold, n_pixels // 4))
    if n_pixels < 8:
        raise GainMLPError(f"rate control needs an image of at least 8 pixels, not {n_pixels}")
    rng = np.random.default_rng([HOLDOUT_SEED, int(seed) & 0xFFFFFFFF])
    hold = np.sort(rng.choice(n_pixels, n_hold, replace=False))
    mask = np.ones(n_pixels, dtype=bool)
    mask[hold] = False
    keep, at = np.empty(n_pixels - n_hold, np.int32), 0
    for rows in chunks(n_pixels):  # (no int64 copy of 12 M indices: 0.2 s of page faults)
        part = np.flatnonzero(mask[rows])
        keep[at:at + part.size] = part + rows.start
        at += part.size
    return keep, hold.astype(np.int32)


@dataclass
class HeldOut:
    """The held-out pixels' network inputs (x, y, SDR) and HDR, to judge a network."""

    kind: str
    eps: float
    inputs: np.ndarray
    hdr: np.ndarray
    #: the pixels the light criterion is judged on (:meth:`light`; None: these)
    highlights: HeldOut | None = None
    #: (input normalisation, the inputs' encodings) of the last network judged
    _encoded: tuple | None = field(default=None, repr=False, compare=False)

    @classmethod
    def of(cls, kind: str, sdr: np.ndarray, hdr: np.ndarray, eps: float,
           pixels: np.ndarray, seed: int | None = None) -> HeldOut:
        """The held-out ``pixels``; with ``seed``, also the highlight pixels of
        :meth:`light` (those of ``pixels`` and up to :data:`HIGHLIGHT_SAMPLE` of all)."""
        height, width = sdr.shape[:2]
        rows, cols = np.divmod(pixels.astype(np.int64), width)
        xy = np.stack([pixel_centres(width)[cols], pixel_centres(height)[rows]], axis=1)
        s = sdr.reshape(-1, 3)[pixels]
        out = cls(kind, eps, np.concatenate([xy, s], axis=1).astype(np.float32),
                  np.asarray(hdr.reshape(-1, 3)[pixels], np.float32))
        if seed is not None:
            hot = highlight_pixels(hdr, pixels, seed)
            if hot.size:
                out.highlights = cls.of(kind, sdr, hdr, eps, hot)
        return out

    def rebuilt(self, params: MlpParams) -> np.ndarray:
        """The HDR ``params`` rebuild at the held-out pixels ``(N, 3)``."""
        key = (params.in_centre.tobytes(), params.in_scale.tobytes(), params.n_frequencies)
        if self._encoded is None or self._encoded[0] != key:  # (every fit of a search)
            self._encoded = (key, encoded_inputs(params, self.inputs))
        mapped = denormalise_outputs(params, forward_numpy(params, self.inputs, self._encoded[1]))
        s = self.inputs[:, 2:5]
        if self.kind == "direct":
            return np.clip(mapped, 0.0, 1.0)
        return paper_residual.reconstruct(self.kind, s, mapped, self.eps)

    def psnr(self, params: MlpParams) -> float:
        """PSNR (dB) of the HDR ``params`` rebuild at the held-out pixels."""
        return metrics.psnr(self.hdr, self.rebuilt(params))

    def light(self, params: MlpParams) -> float | None:
        """Light ratio of the highlights (above 1,000 cd/m2,
        :func:`gainmlp.highlights.highlight_stats`) among the held-out pixels and the
        sample of :attr:`highlights`, None with fewer than :data:`HIGHLIGHT_MIN_PIXELS`."""
        from gainmlp.highlights import HIGHLIGHT_NITS, highlight_stats, luminance_nits

        judged = self if self.highlights is None else self.highlights
        if int((luminance_nits(judged.hdr[None]) > HIGHLIGHT_NITS).sum()) \
                < HIGHLIGHT_MIN_PIXELS:
            return None
        rebuilt = np.asarray(judged.rebuilt(params), dtype=np.float32)
        return highlight_stats(judged.hdr[None], rebuilt[None])["light_ratio"]


def highlight_pixels(hdr: np.ndarray, held: np.ndarray, seed: int) -> np.ndarray:
    """Sorted flat indices (int32) of the pixels :meth:`HeldOut.light` judges: the held-out
    ones (``held``, sorted) and a fixed random sample of at most :data:`HIGHLIGHT_SAMPLE`
    of all pixels whose luminance is above 1,000 cd/m2 (mostly pixels the fit also draws:
    for a total of light that the network's few thousand weights cannot memorise, the
    sample is what the eye sees). Scans the HDR in row chunks (no full-size copy)."""
    from gainmlp.highlights import HIGHLIGHT_NITS, luminance_nits

    flat = hdr.reshape(-1, 3)
    cut = np.float32(_pq_of(HIGHLIGHT_NITS))
    hot = []
    for rows in chunks(flat.shape[0]):  # Y > 1000 needs a channel above 1000: cheap first
        part = flat[rows]
        cand = np.flatnonzero((part[:, 0] > cut) | (part[:, 1] > cut) | (part[:, 2] > cut))
        if cand.size:
            cand = cand[luminance_nits(part[cand][None])[0] > HIGHLIGHT_NITS]
            hot.append(cand + rows.start)
    if not hot:
        return np.zeros(0, np.int32)
    hot_all = np.concatenate(hot)
    if hot_all.size > HIGHLIGHT_SAMPLE:
        rng = np.random.default_rng([HOLDOUT_SEED, int(seed) & 0xFFFFFFFF, 1])
        hot_all = rng.choice(hot_all, HIGHLIGHT_SAMPLE, replace=False)
    held_hot = held[np.isin(held, hot_all, invert=True)]
    held_hot = held_hot[luminance_nits(flat[held_hot][None])[0] > HIGHLIGHT_NITS] \
        if held_hot.size else held_hot
    return np.union1d(hot_all, held_hot).astype(np.int32)


def _pq_of(nits: float) -> float:
    from gainmlp.colorimetry import pq_encode

    return float(pq_encode(np.array([nits], np.float64))[0])


# -- one fit -------------------------------------------------------------------------------


@dataclass
class Trial:
    """One fitted rung: its held-out PSNR (at the last check when stopped early), seconds,
    steps run, the held-out PSNR at each check step, and the body (None when stopped;
    packed from ``params`` when first asked for: zopfli takes ~0.1 s for a large grid, and
    most rungs' sizes never matter)."""

    rung: Rung
    psnr: float
    seconds: float
    steps: int
    stopped: bool = False
    checks: dict[int, float] = field(default_factory=dict)
    body: bytes | None = None
    light: float | None = None  # held-out highlight light ratio (None: too few highlights)
    cap: int | None = None  # the search's max_bytes
    params: MlpParams | None = field(default=None, repr=False)  # packed on demand

    def packed(self) -> bytes | None:
        """The body (zopfli), packed from :attr:`params` on first use."""
        if self.body is None and self.params is not None:
            self.body, self.params = pack_mlp_body(self.params), None
        return self.body

    @property
    def payload_bytes(self) -> int | None:
        """The payload's actual bytes (None when stopped)."""
        body = self.packed()
        return None if body is None else len(body) + PAYLOAD_OVERHEAD

    @property
    def over_cap(self) -> bool:
        """A coded rung whose payload came out over :attr:`cap`."""
        return self.cap is not None and (self.payload_bytes or 0) > self.cap

    def late_gains(self) -> dict[int, float]:
        """What the steps after each check added (a finished fit only)."""
        return {} if self.stopped else {k: self.psnr - v for k, v in self.checks.items()}


def check_steps(steps: int) -> dict[int, float]:
    """:data:`CHECKS` as step counts: {step: largest late gain}."""
    out = {}
    for frac, gain in CHECKS.items():
        step = int(steps * frac)
        if 0 < step < steps:
            out[step] = gain
    return out


def fit_rung(method: str, rung: Rung, sdr: np.ndarray, hdr: np.ndarray, eps: float,
             options: EncodeOptions, keep: np.ndarray, held: HeldOut,
             target: float | None = None, checks: dict[int, float] | None = None) -> Trial:
    """Fit ``rung`` on the pixels ``keep``; judge it on ``held``.

    ``checks``: {step: gain}; the held-out PSNR is recorded after each of those steps and,
    with a ``target``, the fit stops at the first where PSNR + gain falls short of it."""
    opts = rung.options(options)
    checks = checks or {}
    seen: dict[int, float] = {}
    stopped = False

    def stop(done: int, params_of) -> bool:
        nonlocal stopped
        if done not in checks or done >= opts.steps:
            return False
        seen[done] = held.psnr(params_of(0))
        stopped = target is not None and seen[done] + checks[done] < target
        return stopped

    t0 = time.perf_counter()
    [result] = fit_many(method, [(sdr, hdr)], eps, opts, pixels=[keep], stop=stop)
    if stopped:
        last = max(seen)
        return Trial(rung, seen[last], time.perf_counter() - t0, last, True, seen)
    stored = unpack_mlp_body(pack_mlp_body(result.params, fast=True))  # (the same values)
    return Trial(rung, held.psnr(stored), time.perf_counter() - t0, opts.steps,
                 False, seen, None, held.light(stored), params=result.params)


def passes(trial: Trial, target: float) -> bool:
    """A fit passes when it ran to the end, its held-out PSNR reaches ``target``, it keeps
    the held-out highlights' light (:data:`HIGHLIGHT_TOLERANCE`) and its payload is not
    over the cap."""
    return (not trial.stopped and trial.psnr >= target  # (the size last: it may pack)
            and (trial.light is None or abs(trial.light - 1.0) <= HIGHLIGHT_TOLERANCE)
            and not trial.over_cap)


# -- the search ----------------------------------------------------------------------------


@dataclass
class RateResult:
    """What the search chose (``body``, ``rung``, its held-out ``psnr``), whether it reached
    the target, and every fit it ran, in order."""

    body: bytes
    rung: Rung
    psnr: float
    reached: bool
    trials: list[Trial]

    @property
    def seconds(self) -> float:
        return sum(t.seconds for t in self.trials)

    @property
    def steps(self) -> int:
        """Fitting steps run in all (a single encode runs ``options.steps``)."""
        return sum(t.steps for t in self.trials)


def ladder_under(cap: int | None) -> list[Rung]:
    """The rungs whose payload fits ``cap`` bytes (all without a cap)."""
    rungs = [r for r in LADDER if cap is None or r.payload_bytes <= cap]
    if not rungs:
        raise GainMLPError(f"max_bytes {cap} is below the smallest MLP payload "
                           f"({LADDER[0].payload_bytes} bytes)")
    return rungs


def predict(psnr: float, at: int, target: float, n_rungs: int) -> int:
    """The rung expected to reach ``target`` with the fewest bytes, from a (final) PSNR at
    rung ``at``, stepping by :data:`RUNG_GAIN` (the typical gain from one rung to the next).
    """
    i = at
    if psnr >= target:
        while i > 0 and psnr - RUNG_GAIN[i - 1] >= target:
            psnr -= RUNG_GAIN[i - 1]
            i -= 1
        return i
    while i < n_rungs - 1 and psnr < target:
        psnr += RUNG_GAIN[i]
        i += 1
    return i


def walk(n_rungs: int, target: float, steps: int,
         fit: Callable[[int, float | None, dict[int, float]], Trial]
         ) -> tuple[int | None, list[Trial]]:
    """The search's decisions (the module docstring), given ``fit(i, target, checks)`` that
    fits rung ``i`` with early stops against ``target`` (None: never stop) at ``checks``
    ({step: gain}). Returns the smallest rung found to reach the target (None: none did)
    and the trials in order. Pure: :mod:`benchmarks.rate_ladder` replays it on measured fits.
    """
    checks = check_steps(steps)
    typical = {int(steps * f): g for f, g in TYPICAL_LATE_GAIN.items()}
    trials: dict[int, Trial] = {}
    own: dict[int, float] = {}  # the photo's late gains, from its first finished fit

    def estimate(t: Trial) -> float:
        """The final held-out PSNR a trial stands for (a stopped one: its last check plus
        the photo's own late gain, else the typical one)."""
        return t.psnr + (own.get(t.steps, typical.get(t.steps, 0.0)) if t.stopped else 0.0)

    lo, hi = -1, None  # highest rung known (or stopped) to fail, lowest known to pass
    failed: set[int] = set()  # rungs that finished and failed
    verify = False  # the next fit checks the rung below the smallest success, no stops
    i = min(START, n_rungs - 1)
    order: list[Trial] = []
    while True:
        limits = {k: own[k] + OWN_GAIN_MARGIN for k in checks if k in own} or checks
        last_resort = hi is None and i == n_rungs - 1  # kept if nothing reaches: finish it
        t = fit(i, None if (last_resort or verify) else target, limits)
        trials[i] = t
        order.append(t)
        own = own or t.late_gains()
        if passes(t, target):
            hi = i if hi is None else min(hi, i)
        else:
            lo = max(lo, i)
            if not t.stopped:
                failed.add(i)
        if hi is None and lo >= n_rungs - 1:
            break  # nothing reaches the target
        if hi is not None and (hi == 0 or hi - 1 in failed):
            break  # the rung below the answer was fitted to the end and misses
        spent = sum(t.steps for t in order)
        if spent >= BUDGET * steps:
            if hi is not None or n_rungs - 1 in trials:
                break  # out of budget: the smallest success so far (or the largest rung)
            i, verify = n_rungs - 1, False
            continue
        guess = predict(estimate(t), i, target, n_rungs)
        if hi is None:
            if MAX_JUMP is not None:
                guess = min(guess, lo + MAX_JUMP)
            i, verify = max(lo + 1, guess), False
        elif guess >= hi or hi - 1 <= lo:
            # the rung below the smallest success is expected to miss, or was only stopped:
            # fit it to the end, so the answer is the smallest rung that passes whenever a
            # larger rung never does worse (a higher target never gets a smaller payload)
            i, verify = hi - 1, True
        else:
            i, verify = min(hi - 1, max(lo + 1, guess)), False
    return hi, order


@shared_setup()  # the pair's statistics, targets and highlight pixels: once per search
def search(method: str, sdr_pq: np.ndarray, hdr_pq: np.ndarray, eps: float,
           options: EncodeOptions) -> RateResult:
    """The smallest rung of the ladder (under ``options.max_bytes``) whose held-out PSNR
    reaches ``options.target_psnr``, as :func:`walk` finds it."""
    from gainmlp.codecs.mlp.highlight_fit import resolve_highlights

    kind = method_kind(method)
    target = float(options.target_psnr)
    options = replace(options, highlights=resolve_highlights(options.highlights, True))
    if not fused_supported(replace(options, grid=None), kind):
        raise GainMLPError("rate control fits with the fused trainer: drop --engine autograd "
                           "and --loss hdr, or turn it off with --target-psnr off")
    sdr, hdr = check_pair(sdr_pq, hdr_pq)
    rungs = ladder_under(options.max_bytes)
    keep, hold = holdout_split(sdr.shape[0] * sdr.shape[1], options.seed)
    held = HeldOut.of(kind, sdr, hdr, eps, hold, seed=options.seed)

    def fit(i: int, stop_target: float | None, checks: dict[int, float]) -> Trial:
        trial = fit_rung(method, rungs[i], sdr, hdr, eps, options, keep, held, stop_target,
                         checks)
        trial.cap = options.max_bytes
        return trial

    hi, order = walk(len(rungs), target, options.steps, fit)
    if hi is not None:
        best = next(t for t in order if t.rung == rungs[hi] and passes(t, target))
        return RateResult(best.packed(), best.rung, best.psnr, True, order)
    best = _best_kept([t for t in order if not t.stopped])
    if best is None:  # every finished fit came out over the cap: the largest rung sure to fit
        sure = [r for r in rungs if config_bytes(r.grid, r.width, r.precision, "raw")
                <= (options.max_bytes or 0)] or rungs[:1]
        best = fit(rungs.index(sure[-1]), None, {})
        order.append(best)
    cap = "" if options.max_bytes is None else f" under max_bytes {options.max_bytes}"
    warn(f"rate control: no configuration{cap} reached {target:g} dB; kept "
         f"{best.rung.label} ({best.rung.payload_bytes} B, {best.psnr:.2f} dB on held-out "
         f"pixels)")
    return RateResult(best.packed(), best.rung, best.psnr, False, order)


def _best_kept(finished: list[Trial]) -> Trial | None:
    """The finished fit under the cap with the highest PSNR, then the fewest bytes, then the
    first (None: all over the cap); bytes are packed only for the PSNR levels looked at."""
    for level in sorted({t.psnr for t in finished}, reverse=True):
        under = [t for t in finished if t.psnr == level and not t.over_cap]
        if under:
            return max(under, key=lambda t: -(t.payload_bytes or 0))
    return None


# -- the encoders the method registry calls ------------------------------------------------


def encode_mlp(method: str, sdr_pq: np.ndarray, hdr_pq: np.ndarray, eps: float,
               options: EncodeOptions) -> bytes:
    """The MLP methods' encoder: :func:`search` when rate control applies
    (:func:`searches`), else the fixed configuration (:func:`gainmlp.codecs.mlp.fit.encode_mlp`,
    byte for byte)."""
    if searches(options):
        return search(method, sdr_pq, hdr_pq, eps, options).body
    check_cap(options, method_kind(method))
    return _checked_size(fit.encode_mlp(method, sdr_pq, hdr_pq, eps, options), options)


def _checked_size(body: bytes, options: EncodeOptions) -> bytes:
    """``body``, or a one-line error when its payload exceeds ``options.max_bytes`` (a
    forced configuration with coded grids: their size is only known once fitted)."""
    size = len(body) + PAYLOAD_OVERHEAD
    if options.max_bytes is not None and size > options.max_bytes:
        raise GainMLPError(f"the configuration asked for made a {size}-byte payload, over "
                           f"max_bytes {options.max_bytes}")
    return body


def encode_many(method: str, pairs: Sequence[tuple[np.ndarray, np.ndarray]], eps: float,
                options: EncodeOptions, seeds: Sequence[int] | None = None) -> list[bytes]:
    """Many pairs: fitted together at the fixed configuration, or searched one by one."""
    if not searches(options):
        check_cap(options, method_kind(method))
        return [_checked_size(b, options)
                for b in fit.encode_many(method, pairs, eps, options, seeds)]
    seeds = [options.seed] * len(pairs) if seeds is None else list(seeds)
    return [search(method, s, h, eps, replace(options, seed=seed)).body
            for (s, h), seed in zip(pairs, seeds, strict=True)]


__all__ = ["CHECKS", "CODED_RATIO", "HOLDOUT_FRACTION", "LADDER", "OWN_GAIN_MARGIN",
           "PAYLOAD_OVERHEAD", "HIGHLIGHT_TOLERANCE", "START", "HeldOut", "RateResult", "Rung",
           "Trial", "check_cap", "config_bytes", "passes", "encode_many", "encode_mlp",
           "fit_rung", "forced", "holdout_split", "ladder_under", "predict", "search",
           "searches"]
