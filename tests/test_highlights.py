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


def test_auto_highlights_are_focus_under_rate_control_and_off_otherwise() -> None:
    from gainmlp.codecs.mlp.highlight_fit import (
        RATE_CONTROL_HIGHLIGHTS,
        HighlightSpec,
        parse_highlights,
        resolve_highlights,
    )
    from gainmlp.options import EncodeOptions

    assert EncodeOptions().highlights == "auto"
    assert parse_highlights("auto") == HighlightSpec() and not parse_highlights("auto").active
    assert resolve_highlights("auto", True) == RATE_CONTROL_HIGHLIGHTS == "focus:0.03125:406"
    assert resolve_highlights("AUTO", False) == "off"
    assert resolve_highlights("off", True) == "off"
    assert resolve_highlights("weight:4:406", True) == "weight:4:406"
    spec = parse_highlights(RATE_CONTROL_HIGHLIGHTS)
    assert spec.focus_fraction == 1 / 32 and spec.focus_nits == 406 and spec.focus_boost is None


def test_rate_control_fits_with_the_focus_and_fixed_encodes_without(monkeypatch) -> None:
    """The search hands every fit highlights=focus:0.03125:406 under the default ``auto``;
    a fixed configuration's bytes are those of highlights=off."""
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
    assert seen and set(seen) == {"focus:0.03125:406"}
    seen.clear()
    rate.search("gamma-mlp", sdr, hdr, 1 / 64, replace(options, highlights="off"))
    assert set(seen) == {"off"}
    fixed = replace(options, target_psnr=None)
    assert mlp_fit.encode_mlp("gamma-mlp", sdr, hdr, 1 / 64, fixed) == mlp_fit.encode_mlp(
        "gamma-mlp", sdr, hdr, 1 / 64, replace(fixed, highlights="off"))
