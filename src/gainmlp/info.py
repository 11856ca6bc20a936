"""What a file is: ``gainmlp info FILE [--json]``.

For any JPEG (a gainmlp photo, Ultra HDR, Adobe Gain Map 1.0, ISO 21496-1, Apple
HDRGainMap, or a plain JPEG) and for a bare gainmlp payload: what it carries, the base
image (size, components, chroma subsampling, ICC profile), the gain-map metadata and image,
the payload header (method, body version, configuration, bytes, CRC) and the bytes of each
part. Only headers are parsed, except for a standard gain map, whose reader decodes the
images to check them (a fraction of a second for a 12-MP photo).
"""

from __future__ import annotations

import struct

from gainmlp.errors import GainMLPError

_SOF_MARKERS = {0xC0: "baseline", 0xC1: "extended sequential", 0xC2: "progressive",
                0xC9: "arithmetic sequential", 0xCA: "arithmetic progressive"}


def _frame(segments) -> dict:
    """Size, components and chroma subsampling of a JPEG from its SOF segment."""
    for seg in segments:
        if seg.marker in _SOF_MARKERS and len(seg.payload) >= 6:
            precision, height, width, n = struct.unpack_from(">BHHB", seg.payload)
            factors = [(seg.payload[off] >> 4, seg.payload[off] & 15)
                       for off in range(7, min(6 + 3 * n, len(seg.payload)), 3)]
            return {"width": width, "height": height, "components": n, "bits": precision,
                    "coding": _SOF_MARKERS[seg.marker],
                    "subsampling": _subsampling_name(factors)}
    raise GainMLPError("JPEG has no frame header (SOF)")


def _subsampling_name(factors: list[tuple[int, int]]) -> str:
    if len(factors) != 3:
        return "grey" if len(factors) == 1 else f"{len(factors)} components"
    (h0, v0), rest = factors[0], factors[1:]
    if any(f != (1, 1) for f in rest):
        return "other"
    return {(1, 1): "4:4:4", (2, 1): "4:2:2", (2, 2): "4:2:0", (4, 1): "4:1:1"}.get(
        (h0, v0), f"{h0}x{v0}")


def _payload_info(raw: bytes) -> dict:
    from gainmlp.codecs import get_method
    from gainmlp.container.payload import Payload

    payload = Payload.from_bytes(raw)
    out = {"method": payload.method, "bytes": len(raw), "body_bytes": len(payload.body),
           "crc32": f"{struct.unpack_from('<I', raw, len(raw) - 4)[0]:08x}",  # checked
           "width": payload.width, "height": payload.height, "eps": payload.eps,
           "header_bytes": len(raw) - len(payload.body) - 4,
           "body_version": payload.body[0] if payload.body else None,
           "sdr": {"primaries": payload.sdr.primaries, "transfer": payload.sdr.transfer,
                   "white_nits": payload.sdr.white_nits},
           "hdr_peak_nits": payload.hdr.peak_nits}
    if payload.view is not None:  # header version 2: an edited file (docs/edits.md)
        v = payload.view
        out["view"] = {"x0": v.x0, "y0": v.y0, "x1": v.x1, "y1": v.y1,
                       "orientation": v.orientation,
                       "original_width": payload.frame_size[0],
                       "original_height": payload.frame_size[1]}
    if get_method(payload.method).family == "mlp":
        from gainmlp.codecs.mlp.format import describe_body

        out["config"] = describe_body(payload.body)
    return out


def _metadata_dict(meta) -> dict:
    return {"gain_map_min": list(meta.gain_map_min), "gain_map_max": list(meta.gain_map_max),
            "gamma": list(meta.gamma), "offset_sdr": list(meta.offset_sdr),
            "offset_hdr": list(meta.offset_hdr), "hdr_capacity_min": meta.hdr_capacity_min,
            "hdr_capacity_max": meta.hdr_capacity_max, "base_is_hdr": meta.base_is_hdr}


def describe_file(data: bytes, name: str = "file") -> dict:
    """What ``data`` (a JPEG or a bare gainmlp payload) is, as a JSON-ready dict.

    Parameters
    ----------
    data
        The file's bytes.
    name
        The file's name, for error messages.

    Returns
    -------
    dict
        ``kind`` (list of what the file carries: ``gainmlp payload``, ``Ultra HDR``,
        ``Adobe gain map``, ``ISO 21496-1``, ``Apple HDRGainMap``, or ``plain JPEG``),
        ``bytes``, ``parts`` (bytes of the primary image, the gain-map image, the payload,
        the XMP and the rest), ``base``, ``gain_map`` and ``payload`` where present.

    Raises
    ------
    GainMLPError
        When ``data`` is neither a JPEG nor a gainmlp payload, or is malformed.
    """
    if data.startswith(b"GMLP"):
        info = _payload_info(data)
        return {"name": name, "bytes": len(data), "kind": ["gainmlp payload (bare)"],
                "payload": info, "parts": {"payload": len(data)}}
    if data[:2] != b"\xff\xd8":
        raise GainMLPError(f"{name}: neither a JPEG nor a gainmlp payload")
    from gainmlp.container import gainmap_jpeg
    from gainmlp.container.app11 import extract_payload
    from gainmlp.container.icc import identify_icc, read_icc
    from gainmlp.container.iso21496 import ISO_21496_ID
    from gainmlp.container.segments import APP2, find_app, find_image_end, parse_segments
    from gainmlp.container.xmp import XMP_EXT_ID, XMP_ID

    try:
        segments = parse_segments(data)
    except GainMLPError as exc:
        raise GainMLPError(f"{name}: {exc}") from None
    out: dict = {"name": name, "bytes": len(data), "kind": []}
    icc = read_icc(segments)
    base = _frame(segments)
    base["icc"] = " ".join(identify_icc(icc)[1].split()) if icc else None
    base["icc_bytes"] = len(icc) if icc else 0
    out["base"] = base
    primary_end = find_image_end(data)
    xmp_bytes = sum(len(s.payload) + 4 for s in segments
                    if s.payload.startswith((XMP_ID, XMP_EXT_ID)))
    raw = extract_payload(data, segments)
    parts = {"primary": primary_end, "xmp": xmp_bytes}
    if raw is not None:
        out["kind"].append("gainmlp payload")
        out["payload"] = _payload_info(raw)
        parts["payload"] = len(raw)
    if gainmap_jpeg.is_gainmap_jpeg(data):
        import warnings

        from gainmlp.container.photo import gain_map_size

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            gm = gainmap_jpeg.read_gainmap_jpeg(data)
        flavour = {"ultrahdr": "Ultra HDR", "adobe": "Adobe gain map", "iso": "ISO 21496-1",
                   "apple": "Apple HDRGainMap"}[gm.flavour]
        out["kind"].append(flavour)
        if gm.flavour != "iso" and (gm.metadata_source == "iso21496"
                                    or find_app(segments, APP2, ISO_21496_ID)):
            out["kind"].append("ISO 21496-1")
        h, w = gm.gain_map.shape[:2]
        out["gain_map"] = {"width": w, "height": h,
                           "channels": 1 if gm.gain_map.ndim == 2 else gm.gain_map.shape[2],
                           "metadata_source": gm.metadata_source,
                           "metadata": _metadata_dict(gm.metadata),
                           "notes": [str(c.message) for c in caught]}
        parts["gain_map"] = gain_map_size(data)
    if not out["kind"]:
        out["kind"].append("plain JPEG")
    parts["other"] = len(data) - primary_end - parts.get("gain_map", 0)
    out["parts"] = parts
    return out


def format_info(info: dict) -> str:
    """:func:`describe_file`'s dict as lines of text for a terminal."""
    lines = [f"{info['name']}: {' + '.join(info['kind'])}, {info['bytes']} bytes"]
    base = info.get("base")
    if base:
        lines.append(f"  base: {base['width']}x{base['height']} {base['coding']} JPEG, "
                     f"{base['subsampling']}, ICC {base['icc'] or 'none'}")
    gm = info.get("gain_map")
    if gm:
        meta = gm["metadata"]
        lines.append(f"  gain map: {gm['width']}x{gm['height']}x{gm['channels']} "
                     f"({gm['metadata_source']}), log2 max {meta['gain_map_max']}, "
                     f"capacity {meta['hdr_capacity_min']:.3g}..{meta['hdr_capacity_max']:.3g}"
                     f" stops")
    p = info.get("payload")
    if p:
        config = f" {p['config']}" if "config" in p else ""
        lines.append(f"  payload: {p['method']} body v{p['body_version']}{config}, "
                     f"{p['bytes']} bytes, CRC-32 {p['crc32']} (checked), "
                     f"for {p['width']}x{p['height']}")
        if "view" in p:
            v = p["view"]
            lines.append(f"  view: box x {v['x0']:.6g}..{v['x1']:.6g}, y {v['y0']:.6g}.."
                         f"{v['y1']:.6g} of the {v['original_width']}x{v['original_height']} "
                         f"original, EXIF orientation {v['orientation']}")
    lines.append("  parts: " + ", ".join(f"{k} {v} B" for k, v in info["parts"].items()))
    return "\n".join(lines)


__all__ = ["describe_file", "format_info"]
