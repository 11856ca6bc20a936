"""The gainmlp photo: a baseline SDR JPEG with our payload in an APP segment of its own.

Every JPEG viewer shows the SDR; :func:`decode_photo` rebuilds the HDR from that one
file. By default the residual is fitted against the SDR *as decoded from the JPEG* (what
the decoder sees: closed loop); ``open_loop=True`` fits to the original SDR as the paper
did. These workflows sit above the containers: they run the encoder and decoder of
:mod:`gainmlp.api` on the bytes that :mod:`gainmlp.container` reads and writes.
"""

from __future__ import annotations

import numpy as np

from gainmlp.api import decode, encode, encode_many
from gainmlp.colorimetry import SdrEncoding, pq_bt2020_to_linear
from gainmlp.container import gainmap_jpeg
from gainmlp.container.app11 import embed_payload, extract_payload
from gainmlp.container.payload import Payload
from gainmlp.container.photo import gain_map_size, read_payload_bytes, strip_gain_map
from gainmlp.errors import GainMLPError
from gainmlp.image import SdrImage
from gainmlp.io import decode_sdr_bytes, encode_sdr_jpeg
from gainmlp.options import EncodeOptions
from gainmlp.paper_residual import DEFAULT_EPS
from gainmlp.threads import blas_on_caller


def encode_photo(
    sdr: SdrImage, hdr_pq: np.ndarray, method: str = "gamma-mlp",
    options: EncodeOptions | None = None, eps: float = DEFAULT_EPS,
    jpeg_quality: int = 95, open_loop: bool = False,
) -> tuple[bytes, dict[str, int]]:
    """SDR + HDR -> (JPEG bytes with the payload inside, byte count of each part)."""
    if not 1 <= jpeg_quality <= 100:
        raise GainMLPError(f"--jpeg-quality must be in 1..100, not {jpeg_quality}")
    base = encode_sdr_jpeg(sdr.pixels, jpeg_quality, sdr.icc)
    seen = None if open_loop else decode_sdr_bytes(base).pixels
    payload = encode(sdr, hdr_pq, method, options, eps=eps, fit_sdr_pixels=seen).to_bytes()
    data = embed_payload(base, payload)
    return data, {"base": len(base), "payload": len(payload)}


def encode_photos(
    items: list[tuple[SdrImage, np.ndarray]], method: str = "gamma-mlp",
    options: EncodeOptions | None = None, eps: float = DEFAULT_EPS, jpeg_quality: int = 95,
    open_loop: bool = False, seeds: list[int] | None = None, container: str = "gainmlp",
) -> list[tuple[bytes, dict[str, int]]]:
    """:func:`encode_jpeg` for many pairs, their networks fitted together
    (:func:`gainmlp.api.encode_many`); each file is what :func:`encode_jpeg` writes with
    the same ``container`` (``gainmlp`` or ``ultrahdr+mlp``)."""
    from gainmlp.container.ultrahdr import ultrahdr_from_pair

    if not 1 <= jpeg_quality <= 100:
        raise GainMLPError(f"--jpeg-quality must be in 1..100, not {jpeg_quality}")
    if container not in ("gainmlp", "ultrahdr+mlp"):
        raise GainMLPError(f"pairs fitted together are written as gainmlp or ultrahdr+mlp "
                           f"JPEGs, not {container}")
    bases = [encode_sdr_jpeg(sdr.pixels, jpeg_quality, sdr.icc) for sdr, _ in items]
    seen = [None if open_loop else decode_sdr_bytes(b).pixels for b in bases]
    payloads = encode_many(items, method, options, eps, seeds, fit_sdr_pixels=seen)
    out = []
    for (sdr, hdr), base, payload in zip(items, bases, payloads, strict=True):
        data = payload.to_bytes()
        if container == "ultrahdr+mlp":
            out.append(ultrahdr_from_pair(sdr, hdr, MAP_SCALE, MAP_QUALITY, jpeg_quality,
                                          extra_payload=data))
        else:
            out.append((embed_payload(base, data), {"base": len(base), "payload": len(data)}))
    return out


def reencode_options(data: bytes, method: str, options: EncodeOptions | None
                     ) -> EncodeOptions | None:
    """The options a gain-map JPEG is re-encoded with (docs/rate-control.md): without
    ``options``, MLP methods run rate control at :data:`gainmlp.options.DEFAULT_TARGET_PSNR`;
    with a target and no ``max_bytes``, the payload is capped at the original gain map's
    bytes (a re-encode never spends more than the map it replaces; at least the smallest
    MLP payload)."""
    from gainmlp.codecs import get_method
    from gainmlp.options import DEFAULT_TARGET_PSNR

    if get_method(method).family != "mlp":
        return options
    options = options or EncodeOptions(target_psnr=DEFAULT_TARGET_PSNR)
    if options.target_psnr is not None and options.max_bytes is None:
        from dataclasses import replace

        from gainmlp.codecs.mlp.rate import LADDER

        options = replace(options, max_bytes=max(gain_map_size(data),
                                                 LADDER[0].payload_bytes))
    return options


@blas_on_caller()  # (gainmlp.threads)
def reencode_gainmap_photo(
    data: bytes, method: str = "gamma-mlp", options: EncodeOptions | None = None,
    eps: float = DEFAULT_EPS, name: str = "photo", container: str | None = None,
) -> tuple[bytes, dict[str, float]]:
    """A gain-map JPEG (Ultra HDR, Adobe, ISO, Apple) -> a gainmlp photo with the same base.

    The one rule for re-encoding, used by ``gainmlp encode PHOTO.jpg`` and ``gainmlp
    batch``. S is the base exactly as stored (its JPEG bytes, EXIF, ICC, IPTC and APP14
    are kept, so there is no generation loss), H the file's full-weight HDR rendition. The
    photo's own primary XMP is kept with only its gain-map fields replaced.
    ``container`` (default :data:`DEFAULT_CONTAINER`): ``ultrahdr+mlp`` writes a new
    small standard map (:data:`MAP_SCALE`) beside the payload, or keeps the photo's own
    map when that is not larger (Ultra HDR / Adobe / ISO maps), ``gainmlp`` the payload
    alone, ``ultrahdr`` a new standard map alone (``--method gain-jpeg``'s scale and
    quality). Returns the new file and a report: the original map's bytes, our payload's
    bytes, and PSNR of our HDR against the file's (and for MLP methods the configuration
    the payload holds). The options are :func:`reencode_options`'s.
    """
    from gainmlp.codecs import get_method
    from gainmlp.container.gainmap_writer import with_primary_xmp
    from gainmlp.container.photo import primary_xmp_of
    from gainmlp.container.ultrahdr import part_sizes, replace_gain_map

    method, container = resolve_container(method, container)
    gm = gainmap_jpeg.read_gainmap_jpeg(data)
    hdr = gainmap_jpeg.gainmap_jpeg_to_hdr_pq(gm)
    encoding = SdrEncoding(gm.colour_space, "srgb", gainmap_jpeg.SDR_WHITE_NITS)
    sdr = SdrImage(gm.sdr, encoding, gm.icc)
    report: dict = {"original_map_bytes": gain_map_size(data)}
    if container == "ultrahdr":
        options = options or EncodeOptions()
        out = replace_gain_map(data, sdr, hdr, options.scale, options.quality, None)
        rebuilt = decode_photo(out, name)
        report.update(part_sizes(out), payload=0,
                      psnr_vs_original_hdr=round(_psnr(hdr, rebuilt), 2))
        return out, report
    options = reencode_options(data, method, options)
    standard = None
    if container == "ultrahdr+mlp":  # the new standard map, made in the fit's idle gaps
        from gainmlp.container.ultrahdr import standard_gain_map
        from gainmlp.threads import in_gaps

        standard = in_gaps(standard_gain_map, sdr, hdr, MAP_SCALE, 1)
    payload = encode(sdr, hdr, method, options, eps=eps)
    body = payload.to_bytes()
    if standard is not None:
        own = None if gm.flavour == "apple" else gm.metadata
        out = replace_gain_map(data, sdr, hdr, MAP_SCALE, MAP_QUALITY, body, own,
                               standard.result())
        report.update(part_sizes(out, body))
    else:
        out = embed_payload(with_primary_xmp(strip_gain_map(data), primary_xmp_of(data)), body)
    rebuilt = decode(payload, decode_sdr_bytes(out, name).pixels)
    report.update(payload=len(body), psnr_vs_original_hdr=round(_psnr(hdr, rebuilt), 2))
    if get_method(method).family == "mlp":
        from gainmlp.codecs.mlp.format import describe_body

        report["config"] = describe_body(payload.body)
    return out, report


def _psnr(reference: np.ndarray, test: np.ndarray) -> float:
    """:func:`gainmlp.metrics.psnr` (peak 1) summed over blocks of rows in float64, so a
    12-MP photo needs no float64 copy of itself (the same value up to float64 rounding
    of the sum)."""
    reference, test = np.asarray(reference), np.asarray(test)
    if reference.shape != test.shape:
        raise GainMLPError(f"cannot compare images of shapes {reference.shape} and "
                           f"{test.shape}")
    rows = max(1, (1 << 18) // max(1, reference[0].size))
    total = 0.0
    for r in range(0, reference.shape[0], rows):
        diff = reference[r:r + rows].astype(np.float64) - test[r:r + rows]
        flat = diff.reshape(-1)
        total += float(np.dot(flat, flat))
    mse = total / max(reference.size, 1)
    return float("inf") if mse == 0.0 else float(10.0 * np.log10(1.0 / mse))


def read_photo(data: bytes, name: str = "photo") -> tuple[SdrImage, Payload]:
    """A gainmlp JPEG -> (its SDR, its payload)."""
    import warnings

    from gainmlp.errors import GainMLPWarning

    payload = Payload.from_bytes(read_payload_bytes(data, name))
    with warnings.catch_warnings():  # the payload says how to read the SDR, not its ICC
        warnings.simplefilter("ignore", GainMLPWarning)
        sdr = decode_sdr_bytes(data, name)
    sdr.encoding = payload.sdr
    return sdr, payload


def _gain_map_file(data: bytes, name: str, linear: bool, headroom: float | None = None
                   ) -> tuple[SdrImage, np.ndarray]:
    """(base, HDR) of a gain-map JPEG without our payload, the base described as the
    gain-map reader reads it (sRGB curve, primaries of its ICC profile, 203 cd/m2 white)."""
    if not gainmap_jpeg.is_gainmap_jpeg(data):
        raise GainMLPError(f"{name}: JPEG carries neither a gainmlp payload nor a gain map "
                           "(no hdrgm XMP, ISO 21496-1 or Apple HDRGainMap)")
    gm = gainmap_jpeg.read_gainmap_jpeg(data)
    base = SdrImage(gm.sdr, SdrEncoding(gm.colour_space, "srgb", gainmap_jpeg.SDR_WHITE_NITS),
                    gm.icc)
    if headroom is not None:
        from gainmlp.display import headroom_weight

        headroom_weight(headroom, 0.0, 1.0)  # the one check of the value
    weight = gainmap_jpeg.weight_toward_hdr(gm, headroom)
    if linear:
        return base, gainmap_jpeg.gainmap_jpeg_to_linear_bt2020(gm, weight)
    return base, gainmap_jpeg.gainmap_jpeg_to_hdr_pq(gm, weight)


def decode_photo(data: bytes, name: str = "photo", linear: bool = False) -> np.ndarray:
    """A gainmlp JPEG (or any gain-map JPEG gainmlp reads) -> HDR, PQ BT.2020 float32, or
    with ``linear`` linear BT.2020 cd/m2 (see :func:`decode_file`)."""
    return decode_file(data, name, linear=linear)[1]


CONTAINERS = ("gainmlp", "ultrahdr", "ultrahdr+mlp")
#: What JPEG output is by default: a standard gain-map JPEG (every HDR viewer) that also
#: carries the payload gainmlp's decoders prefer.
DEFAULT_CONTAINER = "ultrahdr+mlp"
#: Scale and JPEG quality of the standard map beside a payload: on the dev set 1/4 at q60
#: costs 1 KB more than 1/8 at q80 and gives other viewers +1.8 dB (docs/results/containers.md).
MAP_SCALE = 4
MAP_QUALITY = 60


def resolve_container(method: str | None, container: str | None) -> tuple[str, str]:
    """``(method, container)`` with the defaults filled in: the container
    :data:`DEFAULT_CONTAINER`; the method ``gain-jpeg`` for ``--container ultrahdr`` (a
    standard gain map alone), else :data:`gainmlp.options.DEFAULT_METHOD`. A method the
    container cannot hold is a :class:`GainMLPError`."""
    from gainmlp.codecs import DEFAULT_METHOD

    container = container or DEFAULT_CONTAINER
    if container not in CONTAINERS:
        raise GainMLPError(f"unknown container {container!r}; use {', '.join(CONTAINERS)}")
    if method is None:
        method = "gain-jpeg" if container == "ultrahdr" else DEFAULT_METHOD
    if container == "ultrahdr" and method != "gain-jpeg":
        raise GainMLPError("--container ultrahdr stores a standard gain map alone (--method "
                           "gain-jpeg); --container ultrahdr+mlp adds the payload of "
                           f"{method}")
    return method, container


def encode_jpeg(
    sdr: SdrImage, hdr_pq: np.ndarray, method: str | None = None,
    options: EncodeOptions | None = None, eps: float = DEFAULT_EPS,
    container: str | None = None, jpeg_quality: int = 95, open_loop: bool = False,
) -> tuple[bytes, dict[str, int]]:
    """An SDR/HDR pair as a JPEG file.

    ``container`` (default :data:`DEFAULT_CONTAINER`): ``ultrahdr+mlp`` (a small standard
    gain map, :data:`MAP_SCALE`, for every other reader plus the payload gainmlp prefers),
    ``gainmlp`` (SDR JPEG + payload, the smallest file) or ``ultrahdr`` (a standard gain-map
    JPEG of ``gain-jpeg``'s scale and quality). The base JPEG is the same for every
    container (:func:`gainmlp.io.encode_sdr_jpeg` at ``jpeg_quality``). Returns the bytes
    and the byte count of each part.
    """
    from gainmlp.container.ultrahdr import ultrahdr_from_pair

    method, container = resolve_container(method, container)
    options = options or EncodeOptions()
    if container == "gainmlp":
        return encode_photo(sdr, hdr_pq, method, options, eps, jpeg_quality, open_loop)
    if container == "ultrahdr":
        return ultrahdr_from_pair(sdr, hdr_pq, options.scale, options.quality, jpeg_quality)
    if not 1 <= jpeg_quality <= 100:
        raise GainMLPError(f"--jpeg-quality must be in 1..100, not {jpeg_quality}")
    from gainmlp.container.ultrahdr import standard_gain_map
    from gainmlp.threads import in_gaps

    # The standard map needs only the pair: made in the idle gaps of the fit's set-up and
    # steps, it uses a core that would idle (docs/speed.md).
    standard = in_gaps(standard_gain_map, sdr, hdr_pq, MAP_SCALE, 1)
    seen = None if open_loop else decode_sdr_bytes(
        encode_sdr_jpeg(sdr.pixels, jpeg_quality, sdr.icc)).pixels
    payload = encode(sdr, hdr_pq, method, options, eps=eps, fit_sdr_pixels=seen).to_bytes()
    return ultrahdr_from_pair(sdr, hdr_pq, MAP_SCALE, MAP_QUALITY, jpeg_quality,
                              extra_payload=payload, standard=standard.result())


def decode_file(data: bytes, name: str, sdr: SdrImage | None = None, linear: bool = False,
                headroom: float | None = None) -> tuple[SdrImage, np.ndarray]:
    """(SDR, HDR) of a gainmlp or gain-map JPEG, or of a bare payload plus its ``sdr``.

    The HDR is PQ BT.2020 code values, or with ``linear`` linear BT.2020 light in cd/m2:
    a gain-map JPEG is then rendered straight to linear light, without PQ's clip at
    10,000 cd/m2; our payloads rebuild PQ code values, which are decoded to linear.
    ``headroom`` (stops, None = full HDR) renders for a display with that much HDR
    headroom: ISO 21496-1's weighting of a standard map, the same weighting of the
    log-ratio a payload rebuilds (:mod:`gainmlp.display`).
    """
    if data[:2] == b"\xff\xd8":
        if extract_payload(data) is None:
            return _gain_map_file(data, name, linear, headroom)
        base, payload = read_photo(data, name)
    elif not data.startswith(b"GMLP"):
        raise GainMLPError(f"{name}: neither a JPEG nor a gainmlp payload")
    elif sdr is None:
        raise GainMLPError(f"{name} is a bare payload: give the SDR image with --sdr")
    else:
        base, payload = sdr, Payload.from_bytes(data)
    hdr = decode(payload, base.pixels)
    if headroom is not None:
        from gainmlp.api import sdr_in_hdr_space
        from gainmlp.display import render_for_headroom

        hdr = render_for_headroom(hdr, sdr_in_hdr_space(base.pixels, payload.sdr), headroom,
                                  payload.sdr.white_nits)
    return base, pq_bt2020_to_linear(hdr) if linear else hdr


def load_photo(source, linear: bool = False, headroom: float | None = None
               ) -> tuple[SdrImage, np.ndarray]:
    """Open a photo file: a gainmlp JPEG or any gain-map JPEG gainmlp reads.

    Parameters
    ----------
    source
        A path, or the file's bytes.
    linear
        False: the HDR as PQ BT.2020 code values in [0, 1]; True: linear BT.2020 light in
        cd/m2 (a standard gain map rendered without PQ's 10,000 cd/m2 clip).
    headroom
        None: the full HDR rendition; else a display's HDR headroom in stops (log2 of its
        peak over SDR white), rendered with ISO 21496-1's weighting (:mod:`gainmlp.display`).

    Returns
    -------
    tuple
        ``(base, hdr)``: the SDR base (:class:`~gainmlp.image.SdrImage`, 8-bit) and the HDR
        rendition, float32 ``(H, W, 3)``. A file carrying a gainmlp payload is decoded
        through the payload, any other gain-map JPEG through its standard map.

    Raises
    ------
    GainMLPError
        When the file cannot be read or carries neither a payload nor a gain map.

    Examples
    --------
    >>> base, hdr = gainmlp.load_photo("photo.jpg")        # doctest: +SKIP
    >>> gainmlp.write_hdr("photo.avif", hdr)               # doctest: +SKIP
    """
    if isinstance(source, bytes | bytearray | memoryview):
        data, name = bytes(source), "photo"
    else:
        from gainmlp.io.files import read_bytes

        data, name = read_bytes(source), str(source)
    return decode_file(data, name, linear=linear, headroom=headroom)


def save_photo(path, sdr: SdrImage, hdr_pq: np.ndarray, method: str | None = None,
               options: EncodeOptions | None = None, container: str | None = None,
               jpeg_quality: int = 95) -> dict[str, int]:
    """Encode an SDR/HDR pair and write it as a photo file (atomically: a failure leaves
    no partial file and never touches an input).

    Parameters
    ----------
    path
        Where to write the JPEG.
    sdr, hdr_pq
        The SDR (8-bit, :func:`gainmlp.read_sdr`) and the HDR as PQ BT.2020 code values in
        [0, 1] (:func:`gainmlp.read_hdr`), the same size.
    method, options, container, jpeg_quality
        As for ``gainmlp encode`` (defaults: ``gamma-mlp``, the default options, an Ultra
        HDR file with the payload inside, base quality 95).

    Returns
    -------
    dict
        Bytes of each part of the file written.
    """
    from gainmlp.io import atomic_write

    data, parts = encode_jpeg(sdr, hdr_pq, method, options, container=container,
                              jpeg_quality=jpeg_quality)
    atomic_write(path, data)
    return parts


__all__ = ["CONTAINERS", "DEFAULT_CONTAINER", "MAP_QUALITY", "MAP_SCALE", "decode_file",
           "decode_photo", "encode_jpeg", "encode_photo", "encode_photos", "load_photo",
           "read_photo", "save_photo",
           "reencode_gainmap_photo", "reencode_options", "resolve_container"]
