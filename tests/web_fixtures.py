"""Fixtures for the JavaScript decoder's tests (web/test/), written by the Python side.

``python tests/web_fixtures.py DIR`` (or :func:`write_fixtures`) writes, from the committed
payloads of every body version (``tests/fixtures/payloads/``, see ``golden.py``):

* ``NAME.jpg``: a gainmlp JPEG, the fixtures' 40x28 SDR as the base (quality 95 4:4:4,
  85 4:2:0 or progressive, varied over the entries) with the payload in APP11, and
  ``NAME.f32``: what ``gainmlp.photo.decode_photo`` decodes from it (float32 little-endian,
  H x W x 3, PQ BT.2020);
* ``NAME.gmlp`` + ``NAME.bare.f32``: the bare payload and its committed decoded pixels
  (decoded from ``sdr.rgb``, the raw 8-bit SDR);
* ``errors/*.jpg``: corrupt and truncated files with the one-line error Python gives
  (``manifest.json`` maps each to its message);
* ``jpeg/*.jpg`` + ``.rgb``: JPEGs of every layout Pillow writes and Pillow's pixels;
* ``colour.json``: SDR in HDR space of random 8-bit colours for every SDR colour set-up;
* ``headroom/NAME-STOPS.f32``: ``gainmlp.photo.decode_file(..., headroom=STOPS)`` of a few
  fixtures for a display with no, some and ample HDR headroom (``manifest["headroom"]``,
  with the weight the rule gives), and Python's messages for bad headrooms.

Nothing is committed: the tests write these into a temporary folder.
"""

from __future__ import annotations

import io
import json
import struct
import sys
import zlib
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import golden  # noqa: E402

# base JPEG per fixture: quality (95 -> 4:4:4, < 90 -> 4:2:0), progressive
_BASES = [(95, False), (85, False), (95, True), (70, True)]


def _base_jpeg(sdr: np.ndarray, quality: int, progressive: bool) -> bytes:
    from PIL import Image

    from gainmlp.io import encode_sdr_jpeg

    if not progressive:
        return encode_sdr_jpeg(sdr, quality)
    buf = io.BytesIO()
    Image.fromarray(sdr, "RGB").save(buf, "JPEG", quality=quality, progressive=True,
                                     subsampling=0 if quality >= 90 else 2)
    return buf.getvalue()


def python_error(data: bytes, name: str) -> str | None:
    """The one-line message ``gainmlp decode`` prints for ``data`` (None if it decodes)."""
    from gainmlp import photo
    from gainmlp.errors import GainMLPError

    try:
        photo.decode_file(data, name)
    except GainMLPError as exc:
        return str(exc)
    return None


def _with_payload_crc(payload: bytes) -> bytes:
    body = payload[:-4]
    return body + struct.pack("<I", zlib.crc32(body))


def _error_cases(jpg: bytes, payload: bytes, sdr: np.ndarray) -> dict[str, bytes]:
    from gainmlp.container.app11 import embed_payload
    from gainmlp.io import encode_sdr_jpeg

    base = encode_sdr_jpeg(sdr, 95)
    app11 = jpg.index(b"GainMLP\x00")
    body_at = app11 + 17 + 36  # segment header + payload header
    scan = jpg.rindex(b"\xff\xda")
    def embed(raw: bytes) -> bytes:
        return embed_payload(base, raw)

    def patched(at: int, new: bytes, tail: bytes | None = None) -> bytes:
        """The payload with bytes ``at..`` replaced by ``new`` (and cut to ``tail``), CRC
        recomputed."""
        rest = payload[at + len(new):] if tail is None else tail
        return embed(_with_payload_crc(payload[:at] + new + rest))

    cases = {
        "crc": jpg[:body_at + 10] + bytes([jpg[body_at + 10] ^ 0x5A]) + jpg[body_at + 11:],
        "truncated-in-payload": jpg[:app11 + 200],
        "truncated-in-scan": jpg[:scan + (len(jpg) - scan) // 2],
        "truncated-header": jpg[:app11 - 4],
        "segment-version": jpg[:app11 + 8] + b"\x07" + jpg[app11 + 9:],
        "chunk-count": jpg[:app11 + 11] + b"\x00\x02" + jpg[app11 + 13:],
        "bad-magic": embed(b"GMLX" + payload[4:]),
        "format-version": patched(4, b"\x02\x00"),
        "unknown-method": patched(6, b"\x63\x00"),
        "body-version": patched(36, b"\x04"),
        "body-length": patched(32, struct.pack("<I", 8), payload[36:44] + b"\x00" * 4),
        "wrong-size": patched(8, struct.pack("<I", 41)),
        "no-payload": base,
        "not-an-image": b"hello, world" * 4,
        "bare-payload": payload,
    }
    return cases


def write_fixtures(out: Path) -> dict:
    """Write every fixture into ``out``; returns the manifest (also ``manifest.json``)."""
    import gainmlp
    from gainmlp import photo
    from gainmlp.container.app11 import embed_payload

    out = Path(out)
    (out / "errors").mkdir(parents=True, exist_ok=True)
    (out / "jpeg").mkdir(exist_ok=True)
    sdr = golden.fixture_sdr()
    (out / "sdr.rgb").write_bytes(np.ascontiguousarray(sdr).tobytes())
    manifest: dict = {"width": int(sdr.shape[1]), "height": int(sdr.shape[0]), "payloads": [],
                      "errors": [], "jpeg": []}
    for i, name in enumerate(sorted(golden.PAYLOADS)):
        payload = (golden.PAYLOAD_DIR / f"{name}.gmlp").read_bytes()
        parsed = gainmlp.Payload.from_bytes(payload)
        quality, progressive = _BASES[i % len(_BASES)]
        jpg = embed_payload(_base_jpeg(sdr, quality, progressive), payload)
        (out / f"{name}.jpg").write_bytes(jpg)
        (out / f"{name}.gmlp").write_bytes(payload)
        bare = np.load(golden.PAYLOAD_DIR / f"{name}.npy", allow_pickle=False)
        (out / f"{name}.bare.f32").write_bytes(bare.astype("<f4").tobytes())
        entry = {"name": name, "method": parsed.method, "body_version": parsed.body[0],
                 "quality": quality, "progressive": progressive}
        error = python_error(jpg, f"{name}.jpg")
        if error is None:
            hdr = photo.decode_photo(jpg, name)
            (out / f"{name}.f32").write_bytes(hdr.astype("<f4").tobytes())
        entry["python_error"] = error
        manifest["payloads"].append(entry)
    # error cases, from the default (version-2) fixture
    src = "v2-gamma-default"
    jpg = (out / f"{src}.jpg").read_bytes()
    payload = (out / f"{src}.gmlp").read_bytes()
    for case, data in _error_cases(jpg, payload, sdr).items():
        (out / "errors" / f"{case}.jpg").write_bytes(data)
        manifest["errors"].append({"name": case, "message": python_error(data, f"{case}.jpg")})
    manifest["headroom"], manifest["headroom_errors"] = _headroom_cases(out)
    manifest["jpeg"] = _jpeg_cases(out / "jpeg")
    manifest["colour"] = _colour_cases(out)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


# one fixture per decoder path (Gain-MLP on threads in the CLI, bilateral grids, MLP-ITM,
# a conventional JPEG map); no, some and ample headroom (these fixtures hold 3.9-4.7 stops;
# 16 is the most `gainmlp decode --headroom` accepts)
HEADROOM_FIXTURES = ("v2-gamma-default", "v3-gamma-bilateral-u8", "itm-fp16", "conv-gain-jpeg")
HEADROOM_STOPS = (0.0, 2.0, 16.0)


def _headroom_cases(out: Path) -> tuple[list[dict], dict[str, str]]:
    """Python's renditions for a display's headroom (gainmlp.display), with the weight."""
    from gainmlp import photo
    from gainmlp.api import sdr_in_hdr_space
    from gainmlp.display import headroom_weight
    from gainmlp.errors import GainMLPError
    from gainmlp.kernels.pq import pq_decode_nits

    (out / "headroom").mkdir(exist_ok=True)
    cases = []
    for name in HEADROOM_FIXTURES:
        data = (out / f"{name}.jpg").read_bytes()
        base, full = photo.decode_file(data, f"{name}.jpg")
        payload = photo.read_photo(data, name)[1]
        k = np.float32(payload.sdr.white_nits / 64.0)
        sdr = pq_decode_nits(sdr_in_hdr_space(base.pixels, payload.sdr)) + k
        capacity = max(float(np.log2((pq_decode_nits(full) + k) / sdr).max()), 0.0)
        for stops in HEADROOM_STOPS:
            hdr = photo.decode_file(data, f"{name}.jpg", headroom=stops)[1]
            file = f"{name}-{stops}.f32"
            (out / "headroom" / file).write_bytes(hdr.astype("<f4").tobytes())
            cases.append({"name": name, "stops": stops, "file": file, "capacity": capacity,
                          "weight": headroom_weight(stops, 0.0, capacity)})
    errors = {}
    data = (out / f"{HEADROOM_FIXTURES[0]}.jpg").read_bytes()
    for bad in (-1.0, float("nan"), float("inf")):
        try:
            photo.decode_file(data, "photo.jpg", headroom=bad)
        except GainMLPError as exc:
            errors[repr(bad)] = str(exc)
    return cases, errors


def _jpeg_cases(out: Path) -> list[dict]:
    """JPEGs of the layouts Pillow writes (and odd sizes), with Pillow's decoded pixels."""
    from PIL import Image

    rng = np.random.default_rng(3)
    cases = []
    for i, (h, w, mode, sub, prog, q, extra) in enumerate([
        (28, 40, "RGB", 0, False, 95, {}), (29, 41, "RGB", 2, False, 75, {"optimize": True}),
        (17, 23, "RGB", 1, False, 80, {}), (33, 67, "RGB", 2, True, 85, {}),
        (30, 30, "RGB", 0, True, 95, {}), (9, 5, "RGB", 2, False, 50, {"restart_marker_blocks": 2}),
        (1, 1, "RGB", 2, False, 90, {}), (4, 3, "RGB", 2, True, 60, {}),
        (21, 13, "L", 0, False, 90, {}), (21, 13, "L", 0, True, 90, {}),
    ]):
        y, x = np.mgrid[0:h, 0:w]
        img = np.stack([128 + 100 * np.sin(x / 5 + y / 9), 128 + 90 * np.cos(y / 4),
                        128 + 60 * np.sin((x + y) / 7)], -1) + rng.normal(0, 15, (h, w, 3))
        img = np.clip(img, 0, 255).astype(np.uint8)
        pil = Image.fromarray(img[:, :, 0] if mode == "L" else img, mode)
        buf = io.BytesIO()
        pil.save(buf, "JPEG", quality=q, subsampling=sub, progressive=prog, **extra)
        data = buf.getvalue()
        rgb = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
        (out / f"j{i}.jpg").write_bytes(data)
        (out / f"j{i}.rgb").write_bytes(rgb.tobytes())
        cases.append({"name": f"j{i}", "width": w, "height": h, "mode": mode, "subsampling": sub,
                      "progressive": prog})
    return cases


def _colour_cases(out: Path) -> list[dict]:
    """SDR in HDR space (float32) of random colours, for every primaries / transfer set-up."""
    from gainmlp.colorimetry import PRIMARIES, SDR_TRANSFERS, SdrEncoding, sdr8_to_hdr_space

    rng = np.random.default_rng(7)
    pixels = rng.integers(0, 256, (1, 4096, 3), dtype=np.uint8)
    pixels[0, :256] = np.arange(256, dtype=np.uint8)[:, None]  # every code, grey
    (out / "colour.rgb").write_bytes(pixels.tobytes())
    cases = []
    for primaries in PRIMARIES:
        for transfer in SDR_TRANSFERS:
            for white in (100.0, 203.0):
                enc = SdrEncoding(primaries, transfer, white)
                name = f"colour-{primaries}-{transfer}-{int(white)}"
                pq = sdr8_to_hdr_space(pixels, enc, threads=1)
                (out / f"{name}.f32").write_bytes(pq.astype("<f4").tobytes())
                cases.append({"name": name, "primaries": primaries, "transfer": transfer,
                              "white": white})
    return cases


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tests/web_fixtures.py OUT_DIR")
    m = write_fixtures(Path(sys.argv[1]))
    print(f"{len(m['payloads'])} payload fixtures, {len(m['errors'])} error cases, "
          f"{len(m['jpeg'])} JPEGs, {len(m['colour'])} colour set-ups -> {sys.argv[1]}")
