"""Rate control (gainmlp.codecs.mlp.rate): the smallest configuration that reaches a target
on held-out pixels, never over the byte cap, off for forced configurations, and the options
and command-line errors around it."""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import pytest
from mlp_helpers import local_pair, one_fitting_thread, smooth_pair  # noqa: F401

import gainmlp
from gainmlp.cli import main
from gainmlp.colorimetry import SdrEncoding
from gainmlp.errors import GainMLPError, GainMLPWarning
from gainmlp.image import SdrImage
from gainmlp.options import (
    DEFAULT_TARGET_PSNR,
    EncodeOptions,
    parse_target_psnr,
    resolve_target_psnr,
)

pytest.importorskip("torch")

from gainmlp.codecs.mlp import fit as mlp_fit  # noqa: E402
from gainmlp.codecs.mlp import rate  # noqa: E402
from gainmlp.codecs.mlp.format import (  # noqa: E402
    describe_body,
    unpack_mlp_body,
)

EPS = 1 / 64
FAST = {"steps": 150, "batch": 1024}
#: local_pair(64, 96) at FAST (the default Muon recipe): no grid ~57.5 dB, 16x16x2 to
#: 32x32x4 ~61.5-62 dB on held-out pixels (larger grids fit this tiny image's own pixels and
#: do worse; with Adam: ~53 and ~59.7 dB)
DETAILED_TARGET = 59.5


def _search(pair, target: float, **extra) -> rate.RateResult:
    sdr, hdr = pair
    return rate.search("gamma-mlp", sdr, hdr, EPS, EncodeOptions(**FAST, target_psnr=target,
                                                                   **extra))


def _held_out_psnr(pair, rung: rate.Rung) -> float:
    """``rung`` fitted alone, judged on the same held-out pixels as the search."""
    sdr, hdr = pair
    keep, hold = rate.holdout_split(sdr.shape[0] * sdr.shape[1])
    held = rate.HeldOut.of("gamma", sdr, hdr, EPS, hold)
    return rate.fit_rung("gamma-mlp", rung, sdr, hdr, EPS, EncodeOptions(**FAST), keep,
                         held).psnr


def test_smooth_map_gets_the_smallest_configuration() -> None:
    result = _search(smooth_pair(), 45.0)
    assert result.reached and result.rung == rate.LADDER[0]
    assert result.psnr >= 45.0
    assert describe_body(result.body) == "none w16 fp16"
    assert len(result.body) + rate.PAYLOAD_OVERHEAD == rate.LADDER[0].payload_bytes == 4620


def test_detailed_map_gets_a_grid_and_the_rung_below_misses(monkeypatch) -> None:
    # no early stops: their limits are measured on 1000-step fits, these have 150
    monkeypatch.setattr(rate, "CHECKS", {})
    pair = local_pair(64, 96)
    result = _search(pair, DETAILED_TARGET)
    assert result.reached and result.psnr >= DETAILED_TARGET
    chosen = rate.LADDER.index(result.rung)
    assert chosen >= 1 and result.rung.grid is not None
    tried = {t.rung: t for t in result.trials}
    below = tried.get(rate.LADDER[chosen - 1])
    assert below is None or below.psnr < DETAILED_TARGET or below.stopped
    # independently of the search's bookkeeping: the smaller rung alone misses the target
    assert _held_out_psnr(pair, rate.LADDER[chosen - 1]) < DETAILED_TARGET
    assert describe_body(result.body) == result.rung.label  # the body holds the choice


def test_never_over_max_bytes_and_warns_when_the_target_is_out_of_reach() -> None:
    sdr_pq, hdr = local_pair(64, 96)
    cap = rate.LADDER[1].payload_bytes - 1  # only the grid-free network fits
    with pytest.warns(GainMLPWarning, match=f"under max_bytes {cap}"):
        result = _search((sdr_pq, hdr), DETAILED_TARGET, max_bytes=cap)
    assert not result.reached and result.rung == rate.LADDER[0]
    assert len(result.body) + rate.PAYLOAD_OVERHEAD <= cap
    assert all(t.rung.payload_bytes <= cap for t in result.trials)


def test_registered_encoder_respects_the_cap_and_decodes() -> None:
    sdr_pq, hdr = local_pair(64, 96)
    options = EncodeOptions(**FAST, target_psnr=45.0, max_bytes=6000)
    body = rate.encode_mlp("gamma-mlp", sdr_pq, hdr, EPS, options)
    assert len(body) + rate.PAYLOAD_OVERHEAD <= 6000
    rebuilt = gainmlp.codecs.decode_residual("gamma-mlp", body, sdr_pq, EPS)
    assert gainmlp.metrics.psnr(hdr, rebuilt) > 40


def test_unreachable_target_stops_fits_early_and_keeps_the_best(monkeypatch) -> None:
    # the cap is rung 5's raw size and rung 6's estimate above it: rung 5 always fits
    monkeypatch.setitem(rate.CODED_RATIO, "u6z", 0.75)
    cap = rate.config_bytes(rate.LADDER[5].grid, 16, "fp16", "raw")
    assert rate.LADDER[6].payload_bytes > cap >= rate.LADDER[5].payload_bytes
    with pytest.warns(GainMLPWarning, match="reached 120 dB"):
        result = _search(smooth_pair(), 120.0, max_bytes=cap)
    assert not result.reached
    stopped = [t for t in result.trials if t.stopped]
    checks = rate.check_steps(FAST["steps"])
    assert stopped and all(t.steps in checks and t.body is None for t in stopped)
    # the largest rung under the cap is finished and kept
    assert result.rung == rate.LADDER[5] and describe_body(result.body) == result.rung.label
    assert result.steps < FAST["steps"] * len(result.trials)


def test_coded_rungs_over_the_cap_fail_and_the_payload_stays_under_it(monkeypatch) -> None:
    """Coded rungs are placed by an estimate of their bytes; one whose payload comes out
    over the cap is a miss, and the payload written is always under the cap."""
    monkeypatch.setitem(rate.CODED_RATIO, "u6z", 0.01)  # every rung seems to fit 7,000 B
    assert all(r.payload_bytes <= 7000 for r in rate.LADDER)
    with pytest.warns(GainMLPWarning, match="reached 120 dB"):
        result = _search(smooth_pair(), 120.0, max_bytes=7000)
    over = [t for t in result.trials if t.over_cap]
    assert over and all(not rate.passes(t, 0.0) for t in over)
    assert len(result.body) + rate.PAYLOAD_OVERHEAD <= 7000


def test_coded_sizes_estimate_least_and_raw() -> None:
    raw = rate.config_bytes("96x96x8:u6z", 16, "fp16", "raw")
    assert raw == rate.config_bytes("96x96x8:u8", 16, "fp16") == 78677
    assert rate.config_bytes("96x96x8:u6z", 16, "fp16", "least") == raw - 96 * 96 * 8
    est = rate.config_bytes("96x96x8:u6z", 16, "fp16")
    assert est == raw - 96 * 96 * 8 + int(np.ceil(96 * 96 * 8 * rate.CODED_RATIO["u6z"]))
    assert rate.LADDER[-1].payload_bytes < 78677  # the top rung: 128x128x8 in the old top's bytes


def test_forced_coded_configuration_is_checked_after_fitting() -> None:
    sdr, hdr = smooth_pair()
    options = EncodeOptions(**FAST, grid="48x48x4:u6z", max_bytes=5000)
    with pytest.raises(GainMLPError, match="4789-byte payload, over max_bytes 4000"):
        rate.encode_mlp("gamma-mlp", sdr, hdr, EPS, replace(options, max_bytes=4000))
    with pytest.raises(GainMLPError, match="made a [0-9]+-byte payload, over max_bytes 5000"):
        rate.encode_mlp("gamma-mlp", sdr, hdr, EPS, options)


def test_explicit_configuration_turns_the_search_off(monkeypatch) -> None:
    sdr, hdr = smooth_pair()

    def no_search(*args, **kwargs):
        raise AssertionError("searched")

    monkeypatch.setattr(rate, "search", no_search)
    for forced in ({"grid": "16x16x2:u8"}, {"grid": None}, {"width": 8},
                   {"precision": "fp32"}):
        options = EncodeOptions(steps=40, batch=512, target_psnr=50.0, **forced)
        assert rate.forced(options) and not rate.searches(options)
        fixed = mlp_fit.encode_mlp("gamma-mlp", sdr, hdr, EPS,
                                   replace(options, target_psnr=None))
        assert rate.encode_mlp("gamma-mlp", sdr, hdr, EPS, options) == fixed


def test_without_a_target_the_bytes_are_the_fixed_encoders() -> None:
    sdr, hdr = smooth_pair()
    options = EncodeOptions(steps=40, batch=512)
    assert not rate.searches(options)
    assert rate.encode_mlp("gamma-mlp", sdr, hdr, EPS, options) == \
        mlp_fit.encode_mlp("gamma-mlp", sdr, hdr, EPS, options)
    assert rate.encode_many("gamma-mlp", [(sdr, hdr)], EPS, options) == \
        mlp_fit.encode_many("gamma-mlp", [(sdr, hdr)], EPS, options)


def test_forced_configuration_over_the_cap_is_refused_before_fitting() -> None:
    sdr, hdr = smooth_pair()
    options = EncodeOptions(**FAST, grid="32x32x4:u8", max_bytes=5000)
    with pytest.raises(GainMLPError, match="8885-byte payload, over max_bytes 5000"):
        rate.encode_mlp("gamma-mlp", sdr, hdr, EPS, options)


@pytest.mark.parametrize("steps, batch", [(20, 512), (2, 256)])
def test_held_out_pixels_are_never_drawn(steps: int, batch: int) -> None:
    """The held-out pixels' targets are NaN: one draw of them would make the loss NaN.
    (2 steps of 256 draw few enough pixels for the trainer to keep only those.)"""
    import torch

    from gainmlp.codecs.mlp.trainer import FusedTrainer, ImageData
    from gainmlp.codecs.torch_helpers import torch_threads

    sdr, _ = smooth_pair()
    n = sdr.shape[0] * sdr.shape[1]
    keep, hold = rate.holdout_split(n)
    assert keep.size + hold.size == n and np.intersect1d(keep, hold).size == 0
    rng = np.random.default_rng(0)
    target = rng.normal(0, 0.3, (n, 3)).astype(np.float32)
    target[hold] = np.nan
    centre, scale = mlp_fit.input_constants(sdr)
    weights = [rng.normal(0, 0.1, s).astype(np.float32) for s in ((16, 121), (16, 16), (3, 16))]

    def losses(pixels: np.ndarray | None) -> np.ndarray:
        with torch_threads():
            trainer = FusedTrainer(
                [ImageData(sdr, target, centre, scale, 0, weights, None, pixels)],
                activation="sine", n_frequencies=12, n_pad=8, grid=None, grid_precision="fp16",
                device=torch.device("cpu"), steps=steps, batch=batch)
            return np.array([float(trainer.step(s, batch, 1e-3)[0]) for s in range(steps)])

    assert np.all(np.isfinite(losses(keep)))
    assert not np.all(np.isfinite(losses(None)))  # the control: every pixel may be drawn


def test_holdout_split_sizes_and_seed() -> None:
    keep, hold = rate.holdout_split(1_000_000)
    assert hold.size == 20_000 and keep.size == 980_000
    assert np.all(np.diff(hold) > 0) and np.all(np.diff(keep) > 0)
    assert hold.dtype == np.int32
    assert rate.holdout_split(10_000_000)[1].size == rate.HOLDOUT_MAX
    assert rate.holdout_split(3072)[1].size == 768  # at most a quarter of a tiny image
    assert np.array_equal(rate.holdout_split(50_000)[1], rate.holdout_split(50_000)[1])
    assert not np.array_equal(rate.holdout_split(50_000, 1)[1], rate.holdout_split(50_000)[1])


def test_held_out_psnr_is_the_decoders() -> None:
    sdr, hdr = smooth_pair()
    body = mlp_fit.encode_mlp("gamma-mlp", sdr, hdr, EPS, EncodeOptions(**FAST))
    _, hold = rate.holdout_split(sdr.shape[0] * sdr.shape[1])
    held = rate.HeldOut.of("gamma", sdr, hdr, EPS, hold)
    rebuilt = gainmlp.codecs.decode_residual("gamma-mlp", body, sdr, EPS)
    expected = gainmlp.metrics.psnr(hdr.reshape(-1, 3)[hold], rebuilt.reshape(-1, 3)[hold])
    assert held.psnr(unpack_mlp_body(body)) == pytest.approx(expected, abs=0.01)


def test_ladder_is_ordered_by_bytes_and_sizes_are_exact() -> None:
    sizes = [r.payload_bytes for r in rate.LADDER]
    assert sizes == sorted(sizes) and len(set(sizes)) == len(sizes)
    assert rate.config_bytes("32x32x4:u8", 16, "fp16") == 8885  # docs/payload-format.md
    assert rate.config_bytes(None, 16, "fp32") == 9100
    assert rate.ladder_under(None) == list(rate.LADDER)
    with pytest.raises(GainMLPError, match="below the smallest MLP payload"):
        rate.ladder_under(4000)


def _fake_fits(final: list[float], steps: int = 1000, late: float = 2.0):
    """A ``walk`` fit that replays final PSNRs; each check sits ``late`` dB below the final
    one per remaining quarter of the steps."""
    calls = []

    def fit(i: int, target, checks) -> rate.Trial:
        calls.append(i)
        seen = {}
        for step in sorted(checks):
            seen[step] = final[i] - late * (steps - step) / (steps / 4)
            if target is not None and seen[step] + checks[step] < target:
                return rate.Trial(rate.LADDER[i], seen[step], 0.0, step, True, seen)
        return rate.Trial(rate.LADDER[i], final[i], 0.0, steps, False, seen, b"body")

    return fit, calls


#: The replayed ladders below have nine rungs (walk is a function of the rung count).
NINE = 9


def test_walk_starts_with_the_smallest_rung() -> None:
    fit, calls = _fake_fits([50, 51, 51.5, 52, 52.5, 53, 54, 55, 56])
    assert rate.walk(NINE, 44.0, 1000, fit)[0] == 0 and calls == [0]
    fit, calls = _fake_fits([20, 21, 22, 23, 24, 25, 26, 27, 28])
    hi, trials = rate.walk(NINE, 44.0, 1000, fit)
    # probe, at most MAX_JUMP rungs up (stopped early too), then the top
    assert hi is None and calls == [0, 4, 8] and trials[0].steps == 250


def test_walk_climbs_at_most_max_jump_rungs_above_a_miss(monkeypatch) -> None:
    """A photo whose gains come from the first grid rungs and then flatten (like
    seine_sdr_different): the typical gains predict the top rung from the no-grid miss;
    the jump limit finds the smallest passing rung instead."""
    final = [38.28, 40.92, 41.79, 42.66, 43.73, 44.27, 44.52, 44.45, 44.42]
    fit, calls = _fake_fits(final)
    hi, _ = rate.walk(NINE, 44.0, 1000, fit)
    assert hi == 5 and calls == [0, 4, 5]
    monkeypatch.setattr(rate, "MAX_JUMP", None)
    fit, calls = _fake_fits(final)
    hi, _ = rate.walk(NINE, 44.0, 1000, fit)
    assert hi is not None and hi > 5 and calls[:2] == [0, 8]  # a larger rung than needed


@pytest.mark.parametrize("final, target, answer, path", [
    # easy photo: the default reaches it far above, the prediction jumps to the smallest
    ([50, 51, 51.5, 52, 52.5, 53, 54, 55, 56], 44.0, 0, [4, 0]),
    # the default reaches it just: the rung below is expected to miss, and is checked
    ([40, 41, 42, 43, 44.2, 45, 46, 47, 48], 44.0, 4, [4, 3]),
    # just below: one rung up
    ([40, 41, 42, 43, 43.8, 44.9, 46, 47, 48], 44.0, 5, [4, 5]),
    # hard photo: the default is stopped at a quarter, the largest rung is kept
    ([20, 21, 22, 23, 24, 25, 26, 27, 28], 44.0, None, [4, 8]),
])
def test_walk_decisions(monkeypatch, final, target, answer, path) -> None:
    """The decisions from a middle start (gainmlp's fixed default, rung 4)."""
    monkeypatch.setattr(rate, "RUNG_GAIN", (1.0,) * (len(rate.LADDER) - 1))
    monkeypatch.setattr(rate, "START", 4)
    fit, calls = _fake_fits(final)
    hi, trials = rate.walk(NINE, target, 1000, fit)
    assert hi == answer and calls == path
    assert trials[-1].body is not None or hi is not None
    if answer is None:
        assert trials[0].stopped and trials[0].steps == 250 and not trials[-1].stopped


def test_walk_stays_within_its_budget(monkeypatch) -> None:
    """With rung gains far too small the search would probe rung after rung between a
    failure and a success; the budget ends it on the success."""
    monkeypatch.setattr(rate, "RUNG_GAIN", (0.01,) * (len(rate.LADDER) - 1))
    monkeypatch.setattr(rate, "START", 4)
    fit, calls = _fake_fits([40, 40.5, 41, 41.5, 42, 42.5, 43, 43.5, 44.5], late=0.1)
    hi, trials = rate.walk(NINE, 44.0, 1000, fit)
    assert hi == 8 and calls == [4, 8, 5]  # 4 fails, 8 reaches, 5 fails: 3 encodes spent
    assert sum(t.steps for t in trials) == rate.BUDGET * 1000


def test_predict_moves_by_the_typical_rung_gains(monkeypatch) -> None:
    monkeypatch.setattr(rate, "RUNG_GAIN", (2.0,) * (len(rate.LADDER) - 1))
    n = len(rate.LADDER)
    assert rate.predict(50.0, 4, 45.0, n) == 2  # 50 -> 48 -> 46 >= 45 ; 44 < 45
    assert rate.predict(45.5, 4, 45.0, n) == 4
    assert rate.predict(42.0, 4, 45.0, n) == 6  # 42 -> 44 -> 46
    assert rate.predict(10.0, 4, 45.0, n) == n - 1


def test_options_validation() -> None:
    for bad in ({"target_psnr": 5.0}, {"target_psnr": 1000.0}, {"target_psnr": "auto"},
                {"max_bytes": 0}, {"max_bytes": 12.5}):
        with pytest.raises(GainMLPError):
            EncodeOptions(**bad).validate()
    EncodeOptions(target_psnr=45.0, max_bytes=20000).validate()
    assert parse_target_psnr("off") is None and parse_target_psnr("46.5") == 46.5
    assert resolve_target_psnr("auto", True) == DEFAULT_TARGET_PSNR
    assert resolve_target_psnr("auto", False) is None
    with pytest.raises(GainMLPError, match="not a number of dB"):
        parse_target_psnr("loud")


def test_target_with_a_conventional_method_is_refused() -> None:
    sdr_u8 = np.full((16, 16, 3), 128, np.uint8)
    hdr = np.full((16, 16, 3), 0.5, np.float32)
    with pytest.raises(GainMLPError, match="apply to gamma-, gain- and direct-mlp"):
        gainmlp.encode(SdrImage(sdr_u8, SdrEncoding()), hdr, "gain-jpeg",
                       EncodeOptions(target_psnr=45.0))


@pytest.mark.parametrize("flags, message", [
    (["--target-psnr", "loud"], "not a number of dB"),
    (["--target-psnr", "5"], "target_psnr must be"),
    (["--max-bytes", "0"], "max_bytes must be"),
    (["--max-bytes", "3000", "--target-psnr", "45"], "below the smallest MLP payload"),
    (["--method", "gain-jpeg", "--target-psnr", "45"], "apply to gamma-"),
])
def test_cli_errors_are_one_line_exit_2(tmp_path, pair_files, capsys, flags, message) -> None:
    sdr, hdr = pair_files
    out = tmp_path / "out.bin"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main(["encode", str(sdr), str(hdr), "-o", str(out), "--steps", "5", *flags])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and message in err[0], err
    assert not out.exists()


def test_cli_target_on_a_pair_picks_and_reports(tmp_path, pair_files, capsys) -> None:
    sdr, hdr = pair_files
    out = tmp_path / "p.gmlp"
    assert main(["encode", str(sdr), str(hdr), "-o", str(out), "--steps", "150",
                 "--batch", "1024", "--target-psnr", "40", "-q"]) == 0
    payload = gainmlp.Payload.from_bytes(out.read_bytes())
    label = describe_body(payload.body)
    assert label in {r.label for r in rate.LADDER}
    assert len(out.read_bytes()) == {r.label: r for r in rate.LADDER}[label].payload_bytes


def test_cli_reencode_runs_rate_control_by_default(tmp_path, pair, capsys) -> None:
    from gainmlp.container.ultrahdr import ultrahdr_from_pair

    sdr_u8, hdr = pair
    data, _ = ultrahdr_from_pair(SdrImage(sdr_u8, SdrEncoding()), hdr, scale=2)
    (tmp_path / "in.jpg").write_bytes(data)
    fast = ["--steps", "60", "--batch", "512", "-q"]
    assert main(["encode", str(tmp_path / "in.jpg"), "-o", str(tmp_path / "a.jpg"),
                 *fast]) == 0
    printed = capsys.readouterr().out
    labels = [r.label for r in rate.LADDER if f"({r.label})" in printed]
    assert len(labels) == 1, printed
    assert main(["encode", str(tmp_path / "in.jpg"), "-o", str(tmp_path / "b.jpg"),
                 "--target-psnr", "off", *fast]) == 0
    assert "payload 8885 B (32x32x4:u8 w16 fp16)" in capsys.readouterr().out


def test_reencode_options_cap_at_the_original_map(pair) -> None:
    from gainmlp.container.photo import gain_map_size
    from gainmlp.container.ultrahdr import ultrahdr_from_pair
    from gainmlp.photo import reencode_options

    sdr_u8, hdr = pair
    data, _ = ultrahdr_from_pair(SdrImage(sdr_u8, SdrEncoding()), hdr, scale=1,
                                 map_quality=100)
    map_bytes = gain_map_size(data)
    assert map_bytes > rate.LADDER[0].payload_bytes
    default = reencode_options(data, "gamma-mlp", None)
    assert default.target_psnr == DEFAULT_TARGET_PSNR and default.max_bytes == map_bytes
    mine = reencode_options(data, "gamma-mlp", EncodeOptions(target_psnr=40, max_bytes=99999))
    assert mine.max_bytes == 99999
    assert reencode_options(data, "gamma-mlp", EncodeOptions()).max_bytes is None  # off
    assert reencode_options(data, "gain-jpeg", None) is None
    small, _ = ultrahdr_from_pair(SdrImage(sdr_u8, SdrEncoding()), hdr, scale=4)
    assert reencode_options(small, "gamma-mlp", None).max_bytes == \
        rate.LADDER[0].payload_bytes  # never below the smallest MLP payload


def test_higher_targets_never_get_smaller_payloads() -> None:
    """Whenever a larger rung never fits worse, a search that ends within its budget
    answers the smallest rung that passes, so its answer grows with the target (replayed
    on random monotone ladders; a search cut by the budget keeps its smallest success)."""
    rng = np.random.default_rng(3)
    n = len(rate.LADDER)
    cases = cut = 0
    for _ in range(200):
        final = list(np.cumsum(rng.uniform(0.0, 2.5, n)) + rng.uniform(30.0, 45.0))
        answers = []
        for target in np.arange(30.0, 70.0, 0.5):
            fit, _ = _fake_fits(final, late=rng.uniform(0.2, 3.0))
            hi, trials = rate.walk(n, float(target), 1000, fit)
            passing = [i for i in range(n) if final[i] >= target]
            cases += 1
            if sum(t.steps for t in trials) < rate.BUDGET * 1000:
                assert hi == (passing[0] if passing else None)
                answers.append(n if hi is None else hi)
            else:
                cut += 1
                assert hi is None or final[hi] >= target  # never short of the target
        assert answers == sorted(answers)
    assert cut < 0.25 * cases  # 19.7 % with these ladders


def test_a_rung_that_dims_the_highlights_does_not_pass() -> None:
    rung = rate.LADDER[0]
    good = rate.Trial(rung, 50.0, 0.0, 1000, False, {}, b"x", light=0.985)
    dim = rate.Trial(rung, 50.0, 0.0, 1000, False, {}, b"x", light=0.9)
    unknown = rate.Trial(rung, 50.0, 0.0, 1000, False, {}, b"x", light=None)
    assert rate.passes(good, 44.0) and rate.passes(unknown, 44.0)
    assert not rate.passes(dim, 44.0) and not rate.passes(good, 51.0)
    stopped = rate.Trial(rung, 50.0, 0.0, 250, True, {}, None)
    assert not rate.passes(stopped, 44.0)


def _spot_pair(size: int = 64, spot: int = 12):
    """A PQ pair whose HDR has one ``spot`` x ``spot`` square at 3,000 cd/m2 (the only
    pixels above 1,000 cd/m2)."""
    from gainmlp.colorimetry import pq_encode

    rng = np.random.default_rng(4)
    nits = rng.uniform(5, 90, (size, size, 3))
    hdr = nits * 1.5
    hdr[10:10 + spot, 20:20 + spot] = 3000.0
    return (pq_encode(nits).astype(np.float32), pq_encode(hdr).astype(np.float32))


def test_light_is_judged_on_a_sample_of_all_highlights(monkeypatch) -> None:
    """A 2-% hold-out of a small highlight has too few of its pixels to judge; the light
    criterion therefore also sees a fixed sample of all the highlight pixels."""
    sdr, hdr = _spot_pair()
    spot = {r * 64 + c for r in range(10, 22) for c in range(20, 32)}
    keep, hold = rate.holdout_split(64 * 64, 0)
    held_spot = spot & set(hold.tolist())
    assert 0 < len(held_spot) < rate.HIGHLIGHT_MIN_PIXELS  # the hold-out alone: no verdict
    picked = rate.highlight_pixels(hdr, hold, 0)
    assert picked.dtype == np.int32 and set(picked.tolist()) == spot
    monkeypatch.setattr(rate, "HIGHLIGHT_SAMPLE", 100)  # a sample, plus the held-out ones
    small = rate.highlight_pixels(hdr, hold, 0)
    assert set(small.tolist()) <= spot and held_spot <= set(small.tolist())
    assert 100 <= small.size <= 100 + len(held_spot)
    assert np.array_equal(small, rate.highlight_pixels(hdr, hold, 0))  # fixed, not random
    monkeypatch.setattr(rate, "HIGHLIGHT_SAMPLE", 0)  # before: the held-out ones only
    assert set(rate.highlight_pixels(hdr, hold, 0).tolist()) == held_spot
    monkeypatch.undo()

    body = mlp_fit.encode_mlp("gamma-mlp", sdr, hdr, EPS, EncodeOptions(**FAST))
    params = unpack_mlp_body(body)
    plain = rate.HeldOut.of("gamma", sdr, hdr, EPS, hold)
    judged = rate.HeldOut.of("gamma", sdr, hdr, EPS, hold, seed=0)
    assert plain.light(params) is None
    light = judged.light(params)
    assert light is not None
    from gainmlp.codecs.mlp.decode import decode_mlp
    from gainmlp.highlights import highlight_stats

    rebuilt = decode_mlp("gamma-mlp", body, sdr, EPS)
    assert light == pytest.approx(highlight_stats(hdr, rebuilt)["light_ratio"], rel=1e-4)
    assert judged.psnr(params) == plain.psnr(params)  # the PSNR stays the hold-out's


def test_search_computes_the_pairs_set_up_once_with_the_same_result(monkeypatch) -> None:
    from gainmlp.codecs.mlp import fit_plan

    monkeypatch.setattr(rate, "CHECKS", {})
    pair = local_pair(64, 96)
    calls = []
    real = fit_plan.output_constants

    def counted(*args):
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(fit_plan, "output_constants", counted)
    result = _search(pair, DETAILED_TARGET)
    assert len(result.trials) >= 2 and len(calls) == 1  # several fits, one set-up
    # each rung fitted on its own (no shared set-up) gives the same stored network
    sdr, hdr = pair
    keep, hold = rate.holdout_split(sdr.shape[0] * sdr.shape[1])
    held = rate.HeldOut.of("gamma", sdr, hdr, EPS, hold)
    from gainmlp.codecs.mlp.highlight_fit import resolve_highlights

    options = EncodeOptions(**FAST, highlights=resolve_highlights("auto", True))
    alone = rate.fit_rung("gamma-mlp", result.rung, sdr, hdr, EPS, options, keep, held)
    assert len(calls) == 2 and alone.packed() == result.body


def test_steps_left_to_gainmlp_are_longer_when_rate_control_searches() -> None:
    from gainmlp.options import FIXED_STEPS, SEARCH_STEPS

    assert (FIXED_STEPS, SEARCH_STEPS) == (500, 1000)
    assert EncodeOptions().steps == FIXED_STEPS
    assert EncodeOptions(target_psnr=44.0).steps == SEARCH_STEPS
    assert EncodeOptions(steps=150, target_psnr=44.0).steps == 150  # asked for: kept
    # a rung's fit keeps the search's steps
    assert rate.LADDER[1].options(EncodeOptions(target_psnr=44.0)).steps == SEARCH_STEPS


def test_only_the_rungs_whose_bytes_matter_are_packed_by_zopfli(monkeypatch) -> None:
    """A finished fit is judged on a fast-packed copy (the same values); its final bytes
    are made only when the search needs its size (a rung that reaches the target, the
    one kept) or its body."""
    monkeypatch.setattr(rate, "CHECKS", {})  # every fit runs to the end
    result = _search(local_pair(64, 96), DETAILED_TARGET)
    assert result.reached
    misses = [t for t in result.trials if t.psnr < DETAILED_TARGET]
    assert misses and all(t.body is None and t.params is not None for t in misses)
    chosen = next(t for t in result.trials if t.rung == result.rung)
    assert chosen.body == result.body and chosen.params is None
    assert misses[0].packed() is not None and misses[0].params is None  # on demand
