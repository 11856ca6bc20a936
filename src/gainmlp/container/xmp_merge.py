"""Keeping a photo's own XMP when its gain map is replaced.

A re-encoded photo keeps its primary XMP packet (rights, keywords, Camera Raw settings,
edit history, anything we do not know) and changes only what describes the gain map: the
``hdrgm`` properties and the Google GContainer directory, which must list the items the
new file really holds. This is a textual edit of the packet, not a parse and re-serialise:
namespace prefixes, formatting, the packet wrapper and every other property stay as they
were, byte for byte. All patterns are bounded (hostile packets cost linear time) and only
packets up to :data:`gainmlp.container.xmp.MAX_XMP_CHARS` are edited; a longer one is
replaced by our own packet.

Extended XMP is left alone: its segments stay in the file and the main packet's
``xmpNote:HasExtendedXMP`` (the MD5 of the unchanged extended packet) stays valid.
"""

from __future__ import annotations

import re

from gainmlp.container.xmp import (
    CONTAINER_NS,
    HDRGM_NS,
    ITEM_NS,
    MAX_XMP_CHARS,
    primary_xmp,
)

#: The hdrgm properties a primary packet may carry (all removed, Version written anew).
HDRGM_FIELDS = ("Version", "GainMapMin", "GainMapMax", "Gamma", "OffsetSDR", "OffsetHDR",
                "HDRCapacityMin", "HDRCapacityMax", "BaseRenditionIsHDR")

RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
#: An attribute value in double or single quotes (no markup inside).
_VALUE = r"(?:\"[^\"<]{0,65536}\"|'[^'<]{0,65536}')"


def namespace_prefix(xml: str, uri: str) -> str | None:
    """The prefix an XMP packet binds to the namespace ``uri`` (first declaration), or None."""
    m = re.search(r"xmlns:([A-Za-z_][\w.-]{0,64})\s{0,16}=\s{0,16}[\"']" + re.escape(uri)
                  + r"[\"']", xml)
    return m.group(1) if m else None


def _drop_properties(xml: str, prefix: str, names: tuple[str, ...]) -> str:
    """Remove attributes ``prefix:NAME="..."`` and elements ``<prefix:NAME ...>...</...>``
    for each of ``names`` (linear time per name: one forward scan)."""
    p = re.escape(prefix)
    for name in names:
        xml = re.sub(rf"\s{{1,64}}{p}:{name}\s{{0,16}}=\s{{0,16}}{_VALUE}", "", xml)
        xml = re.sub(rf"\s{{0,64}}<{p}:{name}(?:\s[^<>]{{0,4096}})?/>", "", xml)
        opening = re.compile(rf"\s{{0,64}}<{p}:{name}(?:\s[^<>]{{0,4096}})?>")
        closing = re.compile(rf"</{p}:{name}\s{{0,16}}>")
        out, pos = [], 0
        while (m := opening.search(xml, pos)) is not None:
            end = closing.search(xml, m.end())
            if end is None:  # no closing tag anywhere after: nothing more to remove
                break
            out.append(xml[pos:m.start()])
            pos = end.end()
        xml = "".join(out) + xml[pos:]
    return xml


def _drop_unused_declaration(xml: str, uri: str) -> str:
    """Remove the declaration of ``uri``'s prefix when no property uses that prefix."""
    prefix = namespace_prefix(xml, uri)
    if prefix is None:
        return xml
    p = re.escape(prefix)
    if re.search(rf"(?<!xmlns:){p}:", xml):
        return xml
    return re.sub(rf"\s{{1,64}}xmlns:{p}\s{{0,16}}=\s{{0,16}}[\"']{re.escape(uri)}[\"']", "",
                  xml)


def strip_gain_map_xmp(xml: str, drop_declarations: bool = True) -> str:
    """A primary XMP packet without its ``hdrgm`` properties and GContainer directory (and,
    with ``drop_declarations``, without their namespace declarations where nothing else
    uses them)."""
    prefix = namespace_prefix(xml, HDRGM_NS)
    if prefix is not None:
        xml = _drop_properties(xml, prefix, HDRGM_FIELDS)
    prefix = namespace_prefix(xml, CONTAINER_NS)
    if prefix is not None:
        xml = _drop_properties(xml, prefix, ("Directory",))
    if drop_declarations:
        for uri in (HDRGM_NS, CONTAINER_NS, ITEM_NS):
            xml = _drop_unused_declaration(xml, uri)
    return xml


def _declare(xml: str, uri: str, wanted: str, new_attrs: list[str]) -> str:
    """The prefix to use for ``uri``: the packet's own, else ``wanted`` declared anew."""
    prefix = namespace_prefix(xml, uri)
    if prefix is None:
        prefix = wanted
        while re.search(rf"xmlns:{re.escape(prefix)}\s{{0,16}}=", xml):
            prefix += "_"
        new_attrs.append(f'xmlns:{prefix}="{uri}"')
    return prefix


def merge_primary_xmp(xml: str | None, gain_map_length: int | None) -> str | None:
    """The primary XMP of a re-encoded photo.

    Parameters
    ----------
    xml
        The photo's own primary XMP packet, or None when it has none.
    gain_map_length
        Bytes of the new gain-map image (the GContainer ``Item:Length``), or None when the
        new file carries no standard gain map (then the gain-map fields are only removed).

    Returns
    -------
    str or None
        The packet to write, or None when there is nothing to write.

    Examples
    --------
    >>> out = merge_primary_xmp(None, 1234)
    >>> 'Item:Length="1234"' in out
    True
    """
    if xml is None or len(xml) > MAX_XMP_CHARS:
        return None if gain_map_length is None else primary_xmp(gain_map_length)
    rdf = namespace_prefix(xml, RDF_NS)
    if rdf is None:  # not an RDF packet we can edit: ours replaces it
        return None if gain_map_length is None else primary_xmp(gain_map_length)
    xml = strip_gain_map_xmp(xml, drop_declarations=gain_map_length is None)
    if gain_map_length is None:
        return xml
    r = re.escape(rdf)
    start = re.search(rf"<{r}:Description\b(?:[^<>\"']|\"[^\"]{{0,65536}}\"|'[^']{{0,65536}}')"
                      rf"{{0,4096}}?(/?)>", xml)
    if start is None:
        return primary_xmp(gain_map_length)
    new_attrs: list[str] = []
    hdrgm = _declare(xml, HDRGM_NS, "hdrgm", new_attrs)
    cont = _declare(xml, CONTAINER_NS, "Container", new_attrs)
    item = _declare(xml, ITEM_NS, "Item", new_attrs)
    new_attrs.append(f'{hdrgm}:Version="1.0"')
    directory = (
        f"\n   <{cont}:Directory>\n    <{rdf}:Seq>\n"
        f'     <{rdf}:li {rdf}:parseType="Resource">\n'
        f'      <{cont}:Item {item}:Semantic="Primary" {item}:Mime="image/jpeg"/>\n'
        f"     </{rdf}:li>\n"
        f'     <{rdf}:li {rdf}:parseType="Resource">\n'
        f'      <{cont}:Item {item}:Semantic="GainMap" {item}:Mime="image/jpeg"'
        f' {item}:Length="{int(gain_map_length)}"/>\n'
        f"     </{rdf}:li>\n"
        f"    </{rdf}:Seq>\n   </{cont}:Directory>"
    )
    attrs = "".join(f"\n    {a}" for a in new_attrs)
    head = xml[: start.start(1)] + attrs
    if start.group(1):  # <rdf:Description .../>: open it to hold the directory
        return head + ">" + directory + f"\n  </{rdf}:Description>" + xml[start.end():]
    return head + ">" + directory + xml[start.end():]


def fit_segment(xml: str, limit: int) -> str:
    """``xml`` shortened to at most ``limit`` UTF-8 bytes by removing the packet's padding
    (the whitespace XMP writers leave before ``<?xpacket end``); unchanged if it fits."""
    if len(xml.encode("utf-8")) <= limit:
        return xml
    return re.sub(r"\s{2,}(<\?xpacket end)", r"\n\1", xml)


__all__ = ["fit_segment", "merge_primary_xmp", "namespace_prefix", "strip_gain_map_xmp"]
