"""What a newcomer meets on the command line: one-line usage errors, a lone HDR image."""

from __future__ import annotations

import re

import numpy as np
import pytest
from batch_helpers import FAST_FLAGS, write_exr

from gainmlp.cli import main
from gainmlp.colorimetry import SdrEncoding
from gainmlp.container.app11 import extract_payload
from gainmlp.container.gainmap_jpeg import is_gainmap_jpeg


@pytest.mark.parametrize("argv, message", [
    (["encode"], "the following arguments are required"),
    (["decode", "x.jpg", "-o", "y.png", "--bogus"], "unrecognized arguments: --bogus"),
    (["decode", "x.jpg", "-o", "y.png", "--avif-bits", "9"], "invalid choice: 9"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
])
def test_argparse_errors_are_one_line_exit_2(capsys, argv, message):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("gainmlp: error: ") and message in err and err.count("\n") == 1


def test_a_lone_hdr_image_needs_tmo_and_gets_its_sdr_with_it(tmp_path, capsys):
    exr = write_exr(tmp_path / "scene.exr", 0)
    out = tmp_path / "photo.jpg"
    assert main(["encode", str(exr), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--tmo" in err and "not a gain-map JPEG" in err and not out.exists()
    assert main(["encode", str(exr), "-o", str(out), "--tmo", "drago", *FAST_FLAGS]) == 0
    data = out.read_bytes()
    assert is_gainmap_jpeg(data) and extract_payload(data) is not None
    assert main(["encode", str(exr), str(exr), "-o", str(tmp_path / "y.jpg"),
                 "--tmo", "drago"]) == 2
    assert "lone HDR image" in capsys.readouterr().err


@pytest.mark.parametrize("change, message", [
    (lambda s, h: (s.astype(np.float32) / 255, h), "8-bit code values (uint8), got float32"),
    (lambda s, h: (s, h * 1000), "must be PQ BT.2020 code values in [0, 1]"),
    (lambda s, h: (s, np.where(h > 0.5, np.nan, h)), "NaN or infinite"),
    (lambda s, h: (s[:, :, 0], h), "must be (H, W, 3)"),
])
def test_api_refuses_what_would_decode_to_nonsense(change, message):
    from conftest import synthetic_pair

    import gainmlp

    sdr, hdr = change(*synthetic_pair(16, 16, seed=1))
    with pytest.raises(gainmlp.GainMLPError, match=re.escape(message)):
        gainmlp.encode(gainmlp.SdrImage(sdr, SdrEncoding()), hdr, "gamma-jpeg")


def test_decode_refuses_a_float_sdr():
    from conftest import synthetic_pair

    import gainmlp

    sdr, hdr = synthetic_pair(16, 16, seed=1)
    payload = gainmlp.encode(gainmlp.SdrImage(sdr, SdrEncoding()), hdr, "gamma-jpeg")
    with pytest.raises(gainmlp.GainMLPError, match="uint8"):
        gainmlp.decode(payload, sdr / 255.0)
