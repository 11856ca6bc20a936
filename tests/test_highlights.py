"""Highlight statistics: reference values computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from gainmlp.colorimetry import pq_encode
from gainmlp.highlights import highlight_metrics, highlight_stats, luminance_nits


def grey(nits) -> np.ndarray:
    v = np.asarray(nits, dtype=np.float64)
    return pq_encode(np.repeat(v[..., None], 3, axis=-1))


def test_luminance_of_grey_and_of_primaries():
    assert luminance_nits(grey([[1000.0]]))[0, 0] == pytest.approx(1000.0, rel=1e-9)
    red = pq_encode(np.array([[[100.0, 0.0, 0.0]]]))
    assert luminance_nits(red)[0, 0] == pytest.approx(100.0 * 0.2627, rel=1e-6)  # BT.2020


def test_hand_computed_statistics():
    ref = grey([[100.0, 2000.0, 4000.0, 1200.0]])
    test = grey([[100.0, 1000.0, 4000.0, 1200.0]])
    s = highlight_stats(ref, test)
    assert s["fraction"] == pytest.approx(0.75)
    assert s["light_ratio"] == pytest.approx(6200.0 / 7200.0, rel=1e-9)
    # relative errors 0.5, 0, 0: median 0, p99 = 0.5 * 0.98 (linear interpolation)
    assert s["rel_err_p50"] == pytest.approx(0.0, abs=1e-9)
    assert s["rel_err_p99"] == pytest.approx(0.49, rel=1e-6)
    assert highlight_stats(ref, ref)["light_ratio"] == pytest.approx(1.0, rel=1e-12)


def test_no_highlights_and_twice_sdr_white():
    ref = grey([[100.0, 300.0, 500.0]])
    s = highlight_stats(ref, ref)
    assert s["light_ratio"] is None and s["fraction"] == 0.0 and s["p999_ratio"] == 1.0
    m = highlight_metrics(ref, grey([[100.0, 300.0, 250.0]]), sdr_white_nits=203.0)
    assert m["hl_light_ratio"] is None
    assert m["hl2w_fraction"] == pytest.approx(1 / 3)  # above 406 cd/m2: the 500 pixel
    assert m["hl2w_light_ratio"] == pytest.approx(0.5, rel=1e-9)


# -- the highlights option's default (issue 21 item 2) ---------------------------------------


def test_auto_highlights_are_the_focus_specs() -> None:
    from gainmlp.codecs.mlp.highlight_fit import (
        AUTO_HIGHLIGHTS,
        RATE_CONTROL_HIGHLIGHTS,
        HighlightSpec,
        parse_highlights,
        resolve_highlights,
    )
    from gainmlp.options import EncodeOptions

    assert EncodeOptions().highlights == "auto"
    assert AUTO_HIGHLIGHTS == "focus:0.0625:406+tier:1000:8"
    assert RATE_CONTROL_HIGHLIGHTS == "focus:0.03125:406+tier:1000:8"
    assert resolve_highlights("auto", True) == RATE_CONTROL_HIGHLIGHTS
    assert resolve_highlights("AUTO", False) == resolve_highlights("auto") == AUTO_HIGHLIGHTS
    assert resolve_highlights("off", True) == "off"
    assert resolve_highlights("weight:4:406", True) == "weight:4:406"
    spec = parse_highlights("auto")
    assert spec == parse_highlights(AUTO_HIGHLIGHTS) and spec.active
    assert (spec.focus_fraction, spec.focus_nits, spec.focus_boost) == (1 / 16, 406, None)
    assert (spec.tier_nits, spec.tier_repeat) == (1000, 8)
    assert parse_highlights("off") == HighlightSpec() and not parse_highlights("off").active


def test_tier_repeats_the_brightest_focus_pixels_at_most_doubling_the_pool() -> None:
    from gainmlp.codecs.mlp.highlight_fit import focus_pixels, parse_highlights

    # 2 pixels above 1,000 cd/m2 among 18 above 406: repeated 8 times each
    nits = np.full(40, 100.0)
    nits[1:17] = 600.0
    nits[[20, 30]] = [1500.0, 4000.0]
    hdr = grey(nits.reshape(4, 10))
    pool = focus_pixels(parse_highlights("focus:0.125:406+tier:1000:8"), hdr, None)
    assert list(np.unique(pool)) == [*range(1, 17), 20, 30]
    assert np.all(np.diff(pool) >= 0)
    counts = dict(zip(*np.unique(pool, return_counts=True), strict=True))
    assert counts[20] == counts[30] == 8 and counts[3] == 1
    # 6 of 18 above 1,000 cd/m2: repeat 1 + 18 // 6 = 4 (the pool at most doubles)
    nits[1:5] = 2000.0
    pool = focus_pixels(parse_highlights("focus:0.125:406+tier:1000:8"), grey(
        nits.reshape(4, 10)), None)
    assert pool.size == 18 + 6 * 3 and np.count_nonzero(pool == 3) == 4
    # within a held-out pool: only its pixels (2 above 406, 1 above 1,000: repeat 3)
    pool = focus_pixels(parse_highlights("focus:0.125:406+tier:1000:8"), hdr,
                        np.array([0, 3, 20, 21]))
    assert list(pool) == [3, 20, 20, 20]


@pytest.mark.parametrize("spec", ["tier:1000:8", "focus:0.1:406:4+tier:1000:8",
                                  "focus:0.1:406+tier:1000:0", "focus:0.1:406+tier:1000:65",
                                  "focus:0.1:406+tier:1000"])
def test_bad_tier_specs_are_refused(spec: str) -> None:
    from gainmlp.codecs.mlp.highlight_fit import parse_highlights
    from gainmlp.errors import GainMLPError

    with pytest.raises(GainMLPError, match="highlights"):
        parse_highlights(spec)


def _bright_pair(h: int = 24, w: int = 32, peak: float = 3000.0):
    """A PQ pair whose HDR has a small spot far above SDR white (and above 1,000 cd/m2)."""
    from gainmlp.colorimetry import pq_encode

    rng = np.random.default_rng(3)
    sdr_nits = rng.uniform(5, 90, (h, w, 3))
    hdr_nits = sdr_nits * 1.5
    hdr_nits[2:6, 3:8] = peak * rng.uniform(0.8, 1.0, (4, 5, 1))
    hdr_nits[10:14, 20:26] = 500.0
    sdr_nits[2:6, 3:8] = 100.0
    return (pq_encode(sdr_nits).astype(np.float32), pq_encode(hdr_nits).astype(np.float32))


def test_fixed_encodes_fit_with_the_auto_emphasis_only_when_there_are_highlights() -> None:
    """``auto`` is data-dependent: a pair with pixels above 406 cd/m2 is fitted as with
    AUTO_HIGHLIGHTS (and not as with off); one without such pixels exactly as with off."""
    from gainmlp.codecs.mlp import fit as mlp_fit
    from gainmlp.codecs.mlp.highlight_fit import AUTO_HIGHLIGHTS
    from gainmlp.options import EncodeOptions

    sdr, hdr = _bright_pair()
    opts = EncodeOptions(steps=20, batch=256)
    auto = mlp_fit.encode_mlp("gamma-mlp", sdr, hdr, 1 / 64, opts)
    assert auto == mlp_fit.encode_mlp("gamma-mlp", sdr, hdr, 1 / 64,
                                      EncodeOptions(steps=20, batch=256,
                                                    highlights=AUTO_HIGHLIGHTS))
    assert auto != mlp_fit.encode_mlp("gamma-mlp", sdr, hdr, 1 / 64,
                                      EncodeOptions(steps=20, batch=256, highlights="off"))
    dim = np.minimum(hdr, pq_encode(np.array([300.0]))[0]).astype(np.float32)
    assert mlp_fit.encode_mlp("gamma-mlp", sdr, dim, 1 / 64, opts) == mlp_fit.encode_mlp(
        "gamma-mlp", sdr, dim, 1 / 64, EncodeOptions(steps=20, batch=256, highlights="off"))


def test_both_trainers_draw_the_tiered_focus_alike() -> None:
    """The CPU trainer and the torch fused trainer draw the same pixels from a tiered
    focus pool (equal losses at a zero learning rate, step by step)."""
    torch = pytest.importorskip("torch")
    from gainmlp.codecs.mlp import fit as mlp_fit
    from gainmlp.codecs.mlp.cpu_trainer import CpuTrainer
    from gainmlp.codecs.mlp.highlight_fit import (
        AUTO_HIGHLIGHTS,
        focus_count,
        focus_pixels,
        parse_highlights,
    )
    from gainmlp.options import EncodeOptions

    sdr, hdr = _bright_pair()
    spec = parse_highlights(AUTO_HIGHLIGHTS)
    plan = mlp_fit.make_plan("gamma-mlp", "gamma", sdr, hdr, 1 / 64,
                             EncodeOptions(steps=4, batch=256, grid="4x4x2:fp32"))
    focus = focus_pixels(spec, plan.hdr, None)
    assert focus is not None and focus.size > np.unique(focus).size  # the tier is repeated
    image = mlp_fit.ImageData(plan.sdr, plan.target, plan.in_centre, plan.in_scale, 0,
                              plan.start_weights, plan.grid_weight, None, focus, None)
    common = dict(activation=plan.activation, n_frequencies=12, n_pad=8,
                  grid=plan.grid.shapes[0], grid_precision="fp32", batch=256,
                  focus=focus_count(spec, 256))
    fused = mlp_fit.FusedTrainer([image], device=torch.device("cpu"), **common)
    cpu = CpuTrainer([image], **common)
    drawn = np.concatenate([cpu.indices(step, 256)[0][-common["focus"]:] for step in range(4)])
    assert np.isin(drawn, focus).all()
    for step in range(4):
        lt, lc = fused.step(step, 256, lr=0.0), cpu.step(step, 256, lr=0.0)
        assert lc[0] == pytest.approx(float(lt[0]), rel=1e-5)
    cpu.close()


def test_rate_control_fits_with_the_auto_spec(monkeypatch) -> None:
    """The search hands every fit RATE_CONTROL_HIGHLIGHTS under ``auto``, and off
    when asked; on a pair without pixels above 406 cd/m2 a fixed configuration's bytes
    are those of highlights=off."""
    from dataclasses import replace

    from gainmlp.codecs.mlp import fit as mlp_fit
    from gainmlp.codecs.mlp import rate
    from gainmlp.options import EncodeOptions

    seen = []
    real = rate.fit_many

    def spy(method, pairs, eps, options, **kwargs):
        seen.append(options.highlights)
        return real(method, pairs, eps, options, **kwargs)

    monkeypatch.setattr(rate, "fit_many", spy)
    rng = np.random.default_rng(3)
    sdr = rng.uniform(0.2, 0.5, (24, 32, 3)).astype(np.float32)
    hdr = np.clip(sdr * 1.3, 0, 1).astype(np.float32)
    options = EncodeOptions(steps=20, batch=256, target_psnr=20.0)
    rate.search("gamma-mlp", sdr, hdr, 1 / 64, options)
    assert seen and set(seen) == {"focus:0.03125:406+tier:1000:8"}
    seen.clear()
    rate.search("gamma-mlp", sdr, hdr, 1 / 64, replace(options, highlights="off"))
    assert set(seen) == {"off"}
    fixed = replace(options, target_psnr=None)
    assert mlp_fit.encode_mlp("gamma-mlp", sdr, hdr, 1 / 64, fixed) == mlp_fit.encode_mlp(
        "gamma-mlp", sdr, hdr, 1 / 64, replace(fixed, highlights="off"))
