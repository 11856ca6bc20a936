"""Golden results: committed payloads of every body version still decode to the same
pixels, new payloads are byte-identical for the same options and seed (CPU, one thread),
and every method's bytes and PSNR on the fixed synthetic pair match ``tests/expected``.

Regenerate (only for an intended change of output): ``pytest --update-golden`` or
``python tests/golden.py``.
"""

from __future__ import annotations

import json

import golden
import numpy as np
import pytest


@pytest.fixture(autouse=True)
def _one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GAINMLP_THREADS", "1")


@pytest.fixture(scope="module", autouse=True)
def _regenerate(request: pytest.FixtureRequest) -> None:
    if request.config.getoption("--update-golden"):
        golden.write_all()


def test_fixture_sdr_is_the_committed_one() -> None:
    from PIL import Image

    committed = np.asarray(Image.open(golden.PAYLOAD_DIR / "sdr.png").convert("RGB"))
    np.testing.assert_array_equal(committed, golden.fixture_sdr())


@pytest.mark.parametrize("name", sorted(golden.PAYLOADS))
def test_committed_payload_decodes_to_the_same_pixels(name: str) -> None:
    import gainmlp

    data = (golden.PAYLOAD_DIR / f"{name}.gmlp").read_bytes()
    expected = np.load(golden.PAYLOAD_DIR / f"{name}.npy", allow_pickle=False)
    rebuilt = gainmlp.decode(gainmlp.Payload.from_bytes(data), golden.fixture_sdr())
    assert rebuilt.dtype == np.float32 and rebuilt.shape == expected.shape
    np.testing.assert_allclose(rebuilt, expected, rtol=0, atol=2e-6)


@pytest.mark.parametrize("name", sorted(golden.PAYLOADS))
def test_new_payload_is_byte_identical(name: str) -> None:
    if golden.needs_torch(name):
        pytest.importorskip("torch")
    committed = (golden.PAYLOAD_DIR / f"{name}.gmlp").read_bytes()
    assert golden.encode_fixture(name) == committed


def test_every_body_version_is_covered() -> None:
    import gainmlp

    versions = set()
    for name in golden.PAYLOADS:
        payload = gainmlp.Payload.from_bytes((golden.PAYLOAD_DIR / f"{name}.gmlp").read_bytes())
        versions.add((payload.method.endswith("-mlp"), payload.body[0]))
    assert {(True, 1), (True, 2), (True, 3), (False, 1)} <= versions


def test_golden_results_per_method() -> None:
    pytest.importorskip("torch")  # MLP-ITM fits with torch
    expected = json.loads(golden.EXPECTED.read_text())
    tol = expected["psnr_tolerance_db"]
    got = golden.golden_results()
    assert set(got) == set(expected["methods"])
    for method, want in expected["methods"].items():
        assert got[method]["payload_bytes"] == want["payload_bytes"], method
        assert abs(got[method]["psnr"] - want["psnr"]) <= tol, (method, got[method]["psnr"],
                                                                 want["psnr"])
