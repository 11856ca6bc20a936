"""The local-oracle study: its extra input channels and a short fit per arm."""

from __future__ import annotations

import numpy as np
import pytest

from gainmlp.evaluation import local_oracle
from gainmlp.pair import make_pair
from gainmlp.scene import demo_scene


@pytest.fixture(scope="module")
def pq_pair():
    from gainmlp.api import sdr_in_hdr_space
    from gainmlp.colorimetry import SdrEncoding

    sdr_u8, hdr_u16 = make_pair(demo_scene(24, 32, seed=5), "bt2020", "local")
    return (sdr_in_hdr_space(sdr_u8, SdrEncoding()),
            (hdr_u16 / 65535).astype(np.float32))


def test_each_arm_adds_its_channels(pq_pair):
    sdr, hdr = pq_pair
    assert local_oracle.extra_channels("plain", sdr, hdr) == []
    for arm in local_oracle.ARMS[1:]:
        [channel] = local_oracle.extra_channels(arm, sdr, hdr)
        assert channel.shape == sdr.shape[:2] and channel.dtype == np.float64
        assert np.isfinite(channel).all()


def test_fits_are_reproducible(pq_pair):
    pytest.importorskip("torch")  # a PyTorch fit (the gpu extra)
    sdr, hdr = pq_pair
    first = local_oracle.fit_arm(sdr, hdr, "oracle-base", steps=3, batch=64, seed=0)
    assert np.isfinite(first)
    assert local_oracle.fit_arm(sdr, hdr, "oracle-base", steps=3, batch=64, seed=0) == first
