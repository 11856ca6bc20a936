"""ICC profiles: APP2 chunk reassembly, naming primaries, and one answer for all readers."""

from __future__ import annotations

import warnings

import pytest
from jpeg_samples import make_jpeg
from PIL import ImageCms

from gainmlp.container import icc
from gainmlp.container.segments import APP2, parse_segments
from gainmlp.errors import GainMLPError
from gainmlp.io.sdr import encoding_from_icc


def test_icc_multi_segment_read() -> None:
    profile = b"\x00\x01\x02" * 40_000  # Pillow splits it over two APP2 segments
    data = make_jpeg(icc_profile=profile)
    segs = parse_segments(data)
    assert sum(s.startswith(APP2, icc.ICC_ID) for s in segs) == 2
    assert icc.read_icc(segs) == profile


@pytest.mark.parametrize("primaries", ["srgb", "p3"])
def test_icc_detection(primaries: str) -> None:
    profile = icc.make_icc_profile(primaries)
    assert icc.detect_icc_primaries(profile) == primaries
    assert icc.detect_icc_primaries(b"garbage") == "srgb"
    assert icc.detect_icc_primaries(None) == "srgb"


def _pillow_profile(name: str) -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile(name)).tobytes()


@pytest.mark.parametrize(
    ("profile", "expected", "transfer"),
    [
        (icc.make_icc_profile("srgb"), "srgb", "srgb"),
        (icc.make_icc_profile("p3"), "p3", "srgb"),
        # our own BT.2020 base profile carries the sRGB curve and says so
        (icc.make_icc_profile("bt2020"), "bt2020", "srgb"),
        (icc.make_icc_profile("bt2020", description="ITU-R BT.2020"), "bt2020", "gamma2.4"),
        # colorants decide the gamut, even against the description
        (icc.make_icc_profile("p3", description="sRGB"), "p3", "srgb"),
        # sRGB and BT.709 share primaries: the description tells them apart
        (icc.make_icc_profile("srgb", description="ITU-R BT.709"), "bt709", "gamma2.4"),
        (_pillow_profile("sRGB"), "srgb", "srgb"),
        (_pillow_profile("LAB"), None, None),
    ],
)
def test_identify_and_both_readers_agree(profile: bytes, expected: str | None,
                                         transfer: str | None) -> None:
    assert icc.identify_icc(profile)[0] == expected
    gain_map_view = {"p3": "p3", "bt2020": "bt2020"}.get(expected, "srgb")
    assert icc.detect_icc_primaries(profile) == gain_map_view
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        enc = encoding_from_icc(profile)
    if expected is None:
        assert enc is None
    else:
        assert (enc.primaries, enc.transfer) == (expected, transfer)


def test_unreadable_profile() -> None:
    with pytest.raises(GainMLPError):
        icc.identify_icc(b"garbage")
