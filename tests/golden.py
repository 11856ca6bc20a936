"""Golden fixtures: committed payloads of every body version and golden results per method.

``python tests/golden.py`` (or ``pytest --update-golden``) rewrites them; the tests in
``test_golden.py`` check them. Regenerate only when a change of output is intended, and say
why in the commit: the committed files are what earlier gainmlp versions wrote.

* ``tests/fixtures/payloads/``: ``sdr.png`` (a 40x28 8-bit SDR), and for every entry of
  :data:`PAYLOADS` the payload ``NAME.gmlp`` and its decoded HDR ``NAME.npy`` (float32 PQ,
  plain ``.npy``, read with ``allow_pickle=False``). New payloads for the same options and
  seed must be byte-identical; old payloads must keep decoding to the same pixels.
* ``tests/expected/methods.json``: payload bytes and PSNR of every method on the fixed
  synthetic pair of :func:`golden_pair`, with the recipe of :data:`GOLDEN_RECIPE`.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
PAYLOAD_DIR = HERE / "fixtures" / "payloads"
EXPECTED = HERE / "expected" / "methods.json"

# Tiny fits (the point is the format, not the quality): name -> (method, options). The MLP
# fixtures were written by the autograd engine before the fused trainer existed, and pin
# it; the "fused-" ones pin the torch fused trainer, the "numba-" ones the CPU trainer (the
# default engine on a CPU). The MLP-ITM ones and all but the "numba-" MLP ones need torch.
# The optimiser is pinned to Adam (the only one before issue 23 item 3); the "-muon" ones pin
# the Muon recipe (the default since). Highlight emphasis is pinned off: every fixture was
# written before ``highlights="auto"`` applied to fixed configurations (issue 21).
_TINY = {"steps": 20, "batch": 512, "seed": 5, "engine": "autograd", "optimiser": "adam",
         "highlights": "off"}
_FUSED = {"steps": 20, "batch": 512, "seed": 5, "engine": "torch", "optimiser": "adam",
          "highlights": "off"}
_NUMBA = {"steps": 20, "batch": 512, "seed": 5, "engine": "numba", "optimiser": "adam",
          "highlights": "off"}
PAYLOADS: dict[str, tuple[str, dict]] = {
    "v1-gamma-fp32": ("gamma-mlp", {"grid": None, **_TINY}),
    "v1-gain-fp16-relu": ("gain-mlp", {"grid": None, "precision": "fp16", "activation": "relu",
                                       **_TINY}),
    "v1-direct-nometa": ("direct-mlp", {"grid": None, "meta_init": False, **_TINY}),
    "v2-gamma-default": ("gamma-mlp", {**_TINY}),
    "v2-gain-multi-fp32": ("gain-mlp", {"grid": "4x4x1+8x8x2:fp32", **_TINY}),
    "v2-gamma-fp16grid": ("gamma-mlp", {"grid": "6x5x3", "lr_schedule": "constant", **_TINY}),
    "v3-gamma-bilateral-u8": ("gamma-mlp", {"grid": "4x4x4x2:u8", **_TINY}),
    "v3-gamma-mixed": ("gamma-mlp", {"grid": "4x4x4x2+8x8x2", **_TINY}),
    # grid precision 4 (deflate-coded u8 values; u6z: 64 levels), plain and bilateral
    "v2-gamma-u6z": ("gamma-mlp", {"grid": "8x6x3:u6z", **_TINY}),
    "v3-gamma-u8z": ("gamma-mlp", {"grid": "4x4x4x2+8x8x2:u8z", **_TINY}),
    "fused-v1-gamma": ("gamma-mlp", {"grid": None, **_FUSED}),
    "fused-v2-gain-relu": ("gain-mlp", {"grid": "6x5x3", "activation": "relu", **_FUSED}),
    "fused-v2-gamma-default": ("gamma-mlp", {**_FUSED}),
    "numba-v1-gamma": ("gamma-mlp", {"grid": None, **_NUMBA}),
    "numba-v2-gain-relu": ("gain-mlp", {"grid": "6x5x3", "activation": "relu", **_NUMBA}),
    "numba-v2-gamma-default": ("gamma-mlp", {**_NUMBA}),
    "fused-v2-gamma-muon": ("gamma-mlp", {**_FUSED, "optimiser": "muon"}),
    "numba-v2-gamma-muon": ("gamma-mlp", {**_NUMBA, "optimiser": "muon"}),
    "autograd-v2-gamma-muon": ("gamma-mlp", {**_TINY, "optimiser": "muon"}),
    "itm-fp32": ("mlp-itm", {**_TINY}),
    "itm-fp16": ("mlp-itm", {"precision": "fp16", **_TINY}),
    "conv-gain-jpeg": ("gain-jpeg", {"scale": 2, "quality": 80}),
    "conv-gamma-heic": ("gamma-heic", {"scale": 4, "quality": 70}),
    "conv-gain-jxl": ("gain-jxl", {"scale": 1, "quality": 80}),
    "conv-gamma-avif": ("gamma-avif", {"scale": 2, "quality": 60}),
}

# Golden results: every method, a short recipe on a 64x96 pair (seconds on a CPU).
GOLDEN_RECIPE = {"steps": 200, "batch": 4096, "seed": 0, "highlights": "off"}
PSNR_TOLERANCE_DB = 0.05


def _api():
    """(encode, decode, Payload, EncodeOptions, SdrImage, SdrEncoding, methods) of the
    installed gainmlp, whatever its internal layout."""
    import gainmlp
    from gainmlp import SdrImage
    from gainmlp.colorimetry import SdrEncoding

    return (gainmlp.encode, gainmlp.decode, gainmlp.Payload, gainmlp.EncodeOptions, SdrImage,
            SdrEncoding, list(gainmlp.METHODS))


def fixture_sdr() -> np.ndarray:
    """The 40x28 SDR the payload fixtures were fitted to (also committed as sdr.png)."""
    sdr, _ = golden_pair(28, 40, seed=11)
    return sdr


def golden_pair(height: int = 64, width: int = 96, seed: int = 0):
    """(sdr uint8 BT.709 2.4 gamma, hdr float32 PQ BT.2020): a local tone mapper's pair of
    a smooth synthetic scene, so that the grid and the spatial inputs matter."""
    from gainmlp import colorimetry

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    base = np.stack([0.6 + 0.4 * np.sin(6 * x), 0.5 + 0.5 * np.cos(4 * y), 0.3 + x * y], -1)
    radiance = base * np.exp2(7 * x * (1 - y))[:, :, None] * 15.0
    radiance += rng.random((height, width, 3)) * 2.0
    hdr_pq = colorimetry.linear_to_pq_bt2020(np.minimum(radiance, 1000.0))
    lum = radiance.mean(axis=2, keepdims=True)
    local = lum / (1.0 + lum / (40.0 + 60.0 * y[:, :, None]))  # spatially varying curve
    sdr_linear = radiance / np.maximum(lum, 1e-6) * local / 100.0
    sdr_709 = np.clip(colorimetry.convert_primaries(sdr_linear, "bt2020", "bt709"), 0, 1)
    sdr_u8 = np.round(colorimetry.sdr_inverse_eotf(sdr_709) * 255).astype(np.uint8)
    return sdr_u8, hdr_pq.astype(np.float32)


def encode_fixture(name: str) -> bytes:
    """The payload bytes of fixture ``name`` as the installed gainmlp writes them."""
    encode, _decode, _payload, options_cls, sdr_cls, enc_cls, _ = _api()
    method, opts = PAYLOADS[name]
    sdr_u8, hdr = golden_pair(28, 40, seed=11)
    sdr = sdr_cls(sdr_u8, enc_cls())
    return encode(sdr, hdr, method, options_cls(**opts)).to_bytes()


def needs_torch(name: str) -> bool:
    """Whether encoding fixture ``name`` needs PyTorch (an autograd or torch engine, or
    MLP-ITM)."""
    method, opts = PAYLOADS[name]
    return method == "mlp-itm" or opts.get("engine") in ("autograd", "torch")


def golden_results() -> dict:
    """{method: {"payload_bytes", "psnr"}} on :func:`golden_pair` with GOLDEN_RECIPE."""
    encode, decode, payload_cls, options_cls, sdr_cls, enc_cls, methods = _api()
    sdr_u8, hdr = golden_pair()
    sdr = sdr_cls(sdr_u8, enc_cls())
    out = {}
    for method in methods:
        data = encode(sdr, hdr, method, options_cls(**GOLDEN_RECIPE)).to_bytes()
        rebuilt = decode(payload_cls.from_bytes(data), sdr_u8)
        mse = float(np.mean((rebuilt.astype(np.float64) - hdr) ** 2))
        out[method] = {"payload_bytes": len(data), "psnr": round(10 * np.log10(1 / mse), 4)}
    return out


def write_all() -> None:
    from PIL import Image

    os.environ["GAINMLP_THREADS"] = "1"  # fits are bit-reproducible for a thread count
    _encode, decode, payload_cls, *_ = _api()
    PAYLOAD_DIR.mkdir(parents=True, exist_ok=True)
    sdr = fixture_sdr()
    Image.fromarray(sdr, "RGB").save(PAYLOAD_DIR / "sdr.png")
    for name in PAYLOADS:
        data = encode_fixture(name)
        (PAYLOAD_DIR / f"{name}.gmlp").write_bytes(data)
        np.save(PAYLOAD_DIR / f"{name}.npy", decode(payload_cls.from_bytes(data), sdr),
                allow_pickle=False)
        print(f"{name}: {len(data)} bytes")
    EXPECTED.parent.mkdir(parents=True, exist_ok=True)
    results = golden_results()
    EXPECTED.write_text(json.dumps({"recipe": GOLDEN_RECIPE, "pair": "golden_pair(64, 96, 0)",
                                    "psnr_tolerance_db": PSNR_TOLERANCE_DB,
                                    "methods": results}, indent=1) + "\n")
    for m, r in results.items():
        print(f"{m:<12} {r['payload_bytes']:>6} B  {r['psnr']:.2f} dB")


if __name__ == "__main__":
    sys.exit(write_all())
