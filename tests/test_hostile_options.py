"""Hostile options (issue 22, causes 7 and 8): every number and environment variable is
checked in one place before any work (a one-line error, status 2, nothing fitted,
decoded or written), and a PNG cICP chunk is read as it says or refused, never taken
for full-range BT.2020 PQ when it says otherwise."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from gainmlp import colorimetry
from gainmlp.cli import main
from gainmlp.errors import GainMLPError
from gainmlp.options import EncodeOptions

pytestmark = pytest.mark.filterwarnings("ignore")

# every case: (argv after the command's files, extra environment); all must be refused
ENCODE = [
    ["--batch", "1000000000000"], ["--batch", "0"], ["--seed", str(2**64)], ["--seed", "-1"],
    ["--lr", "inf"], ["--lr", "nan"], ["--lr", "-1"], ["--lr", "0"],
    ["--steps", "100000000"], ["--eps", "nan"], ["--eps", "0"], ["--eps", "-1"],
    ["--exr-white", "-100"], ["--exr-white", "nan"], ["--exr-white", "0"],
    ["--sdr-white", "inf"], ["--sdr-white", "-5"], ["--jpeg-quality", "1000"],
    ["--max-bytes", str(2**40)], ["--quality", "0"], ["--peak", "nan"],
]
DECODE = [["--exr-white", "0"], ["--exr-white", "nan"], ["--exr-white", "-1"],
          ["--headroom", "nan"], ["--headroom", "-1"], ["--headroom", "inf"],
          ["--quality", "1000"], ["--sdr-white", "0"]]
BATCH = [["--jobs", "-1"], ["--jobs", "100000"], ["--group", "100000"],
         ["--ray-gpus", "nan"], ["--ray-retries", "-1"], ["--lr", "inf"],
         ["--seed", str(2**64)], ["--batch", "1000000000000"]]
PAIR = [["--peak", "nan"], ["--peak", "0"], ["--peak", "1e9"]]
ENVIRONMENT = [{"GAINMLP_MAX_MEMORY": v} for v in ("inf", "nan", "-1", "1e30", "abc", "0")] + [
    {"GAINMLP_THREADS": v} for v in ("100000", "0", "-3", "abc")]


def _no_work(monkeypatch) -> None:
    """Make every kind of work fail loudly: a refusal must come before any of it."""
    import gainmlp.api
    import gainmlp.batch.run
    import gainmlp.evaluation
    import gainmlp.io.hdr
    import gainmlp.pair
    import gainmlp.photo

    def work(*args, **kwargs):
        raise AssertionError("work started before the options were checked")

    for module, name in ((gainmlp.photo, "encode_jpeg"), (gainmlp.photo, "decode_file"),
                         (gainmlp.photo, "encode_photos"), (gainmlp.api, "encode"),
                         (gainmlp.evaluation, "evaluate"), (gainmlp.pair, "make_pair"),
                         (gainmlp.io.hdr, "read_hdr_linear"),
                         (gainmlp.batch.run, "run_batch")):
        monkeypatch.setattr(module, name, work)


def _refused(capsys, argv) -> None:
    capsys.readouterr()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main([str(a) for a in argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("gainmlp: error: "), (argv, err)


@pytest.fixture
def files(tmp_path, pair_files) -> dict[str, Path]:
    from gainmlp.io.hdr import encode_hdr_exr

    sdr, hdr = pair_files
    photo = tmp_path / "photo.jpg"
    assert main(["encode", str(sdr), str(hdr), "-o", str(photo), "--method", "gain-jpeg",
                 "--container", "ultrahdr"]) == 0
    exr = tmp_path / "scene.exr"
    exr.write_bytes(encode_hdr_exr(np.full((16, 16, 3), 0.5, np.float32)))
    return {"sdr": sdr, "hdr": hdr, "photo": photo, "exr": exr}


def test_numbers_out_of_range_are_refused_before_any_work(tmp_path, files, capsys,
                                                          monkeypatch) -> None:
    _no_work(monkeypatch)
    out = tmp_path / "o"
    for flags in ENCODE:
        _refused(capsys, ["encode", files["sdr"], files["hdr"], "-o", f"{out}.jpg", *flags])
    for flags in DECODE:
        _refused(capsys, ["decode", files["photo"], "-o", f"{out}.exr", *flags])
    for flags in BATCH:
        _refused(capsys, ["batch", tmp_path, "-o", tmp_path / "b", *flags])
    for flags in PAIR:
        _refused(capsys, ["pair", files["exr"], "-o", tmp_path / "p", *flags])
    _refused(capsys, ["bench", "table4", tmp_path, "-o", tmp_path / "r", "--long-side", "0"])
    assert not list(tmp_path.glob("o.*")) and not (tmp_path / "p").exists()


def test_environment_out_of_range_is_refused_before_any_work(tmp_path, files, capsys,
                                                             monkeypatch) -> None:
    _no_work(monkeypatch)
    for env in ENVIRONMENT:
        with monkeypatch.context() as m:
            for key, value in env.items():
                m.setenv(key, value)
            _refused(capsys, ["encode", files["sdr"], files["hdr"], "-o", tmp_path / "o.jpg"])
            _refused(capsys, ["decode", files["photo"], "-o", tmp_path / "o.png"])


def test_eval_of_a_pair_smaller_than_ssims_window(tmp_path, capsys, monkeypatch) -> None:
    import gainmlp.io as imageio

    _no_work(monkeypatch)
    imageio.write_sdr_png(tmp_path / "s.png", np.full((1, 1, 3), 128, np.uint8))
    imageio.write_hdr(tmp_path / "h.png", np.full((1, 1, 3), 0.5, np.float32))
    _refused(capsys, ["eval", tmp_path / "s.png", tmp_path / "h.png"])


def test_bounds_are_inclusive_and_options_check_them_too() -> None:
    EncodeOptions(seed=2**32 - 1, batch=1 << 20, lr=10.0, steps=1_000_000).validate()
    EncodeOptions(seed=np.int64(7), lr=np.float32(0.01)).validate()
    for bad in ({"seed": 2**32}, {"lr": float("inf")}, {"lr": float("nan")},
                {"batch": 1.5}, {"steps": True}, {"max_bytes": 0}, {"quality": 101}):
        with pytest.raises(GainMLPError):
            EncodeOptions(**bad).validate()


# ---------------------------------------------------------------- cICP


def _png16(values: np.ndarray, cicp: bytes | None) -> bytes:
    """A 16-bit RGB PNG of ``values`` (uint16) with a raw cICP payload, built by hand."""
    import imagecodecs

    from gainmlp.io.png import png_with_chunk

    png = bytes(imagecodecs.png_encode(values))
    return png if cicp is None else png_with_chunk(png, b"cICP", cicp)


def _read(tmp_path: Path, values: np.ndarray, cicp: bytes | None) -> np.ndarray:
    from gainmlp.io import read_hdr

    path = tmp_path / "hdr.png"
    path.write_bytes(_png16(values, cicp))
    return read_hdr(path)


def _hlg_nits(v: np.ndarray, peak: float = 1000.0) -> np.ndarray:
    """BT.2100 HLG EOTF (inverse OETF, then the OOTF with gamma 1.2 at 1000 cd/m2, black
    0), written out here as the independent reference."""
    a, b = 0.17883277, 0.28466892
    c = 0.5 - a * np.log(4 * a)
    scene = np.where(v <= 0.5, v * v / 3.0, (np.exp((v - c) / a) + b) / 12.0)
    y = scene @ np.array([0.2627, 0.6780, 0.0593])
    return peak * (y ** 0.2)[..., None] * scene


def test_cicp_narrow_range_and_hlg_are_read_as_they_say(tmp_path) -> None:
    rng = np.random.default_rng(3)
    codes = rng.integers(4096, 60161, (6, 5, 3)).astype(np.uint16)
    full = codes.astype(np.float64) / 65535
    # full-range BT.2020 PQ: the values as stored
    np.testing.assert_allclose(_read(tmp_path, codes, bytes([9, 16, 0, 1])), full, atol=1e-7)
    # narrow range: 4096..60160 is black..white
    narrow = (codes.astype(np.float64) - 4096) / (60160 - 4096)
    np.testing.assert_allclose(_read(tmp_path, codes, bytes([9, 16, 0, 0])), narrow,
                               atol=2e-6)
    # HLG, full range, BT.2020: the reference display's light, as PQ
    expect = colorimetry.pq_encode(_hlg_nits(full))
    np.testing.assert_allclose(_read(tmp_path, codes, bytes([9, 18, 0, 1])), expect,
                               atol=2e-5)
    # HLG, narrow range, BT.709 primaries
    expect = colorimetry.linear_to_pq_bt2020(_hlg_nits(narrow), "bt709")
    np.testing.assert_allclose(_read(tmp_path, codes, bytes([1, 18, 0, 0])), expect,
                               atol=2e-5)


def test_cicp_that_cannot_be_read_is_refused(tmp_path) -> None:
    codes = np.full((4, 4, 3), 30000, np.uint16)
    for cicp, word in ((bytes([1, 1, 0, 1]), "transfer 1"),    # BT.709 SDR curve
                       (bytes([9, 13, 0, 1]), "transfer 13"),  # sRGB
                       (bytes([9, 14, 0, 1]), "transfer 14"),
                       (bytes([9, 16, 9, 1]), "matrix 9"),     # YCbCr
                       (bytes([9, 16, 0, 2]), "range flag"),
                       (bytes([11, 16, 0, 1]), "primaries 11"),  # DCI-P3 white
                       (bytes([9, 16, 0]), "3 bytes"), (bytes([9, 16, 0, 1, 0]), "5 bytes")):
        with pytest.raises(GainMLPError, match=word):
            _read(tmp_path, codes, cicp)



def test_an_8_bit_png_marked_hdr_is_not_read_as_sdr() -> None:
    import io

    from PIL import Image

    from gainmlp.io.png import png_with_chunk
    from gainmlp.io.sdr import decode_sdr_bytes

    buf = io.BytesIO()
    Image.fromarray(np.full((4, 4, 3), 200, np.uint8)).save(buf, "PNG")
    for transfer in (16, 18):  # PQ, HLG
        with pytest.raises(GainMLPError, match="marks it HDR"):
            decode_sdr_bytes(png_with_chunk(buf.getvalue(), b"cICP", bytes([9, transfer, 0, 1])),
                             "sdr.png")
    srgb = png_with_chunk(buf.getvalue(), b"cICP", bytes([1, 13, 0, 1]))
    assert decode_sdr_bytes(srgb, "sdr.png").pixels.shape == (4, 4, 3)
