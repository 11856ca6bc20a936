"""The items of a batch: what INPUT holds, one :class:`Item` per output photo.

INPUT is a folder or a CSV manifest:

* a folder of pairs ``NAME_sdr.(png|tif|tiff|jpg|jpeg)`` + ``NAME_hdr.(exr|hdr|png|tif|tiff)``
  (item ``pair``);
* a folder of linear HDR images ``NAME.(exr|hdr)`` with ``--tmo``: the pair is made on
  the fly by the pair maker, as ``gainmlp pair`` does (item ``tonemap``);
* a folder of gain-map JPEGs ``NAME.(jpg|jpeg)`` (Ultra HDR, Adobe, ISO 21496-1), whose
  map is re-encoded over the same base image (item ``gainmap``);
* a CSV manifest with a header row naming ``name`` and ``sdr,hdr`` or ``photo`` (or ``hdr``
  alone with ``--tmo``); relative paths are relative to the manifest's folder.

A folder may mix the three kinds; other files and hidden files are ignored. Problems of
one item (a pair without its partner, two inputs of the same name, a bad manifest row)
make that item a failed one (:attr:`Item.error`) without stopping the others; a folder or
manifest that cannot be read at all, or holds no item, is a :class:`GainMLPError`.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

from gainmlp.errors import GainMLPError

SDR_SUFFIXES = (".png", ".tif", ".tiff", ".jpg", ".jpeg")
HDR_SUFFIXES = (".exr", ".hdr", ".png", ".tif", ".tiff")
LINEAR_SUFFIXES = (".exr", ".hdr")
JPEG_SUFFIXES = (".jpg", ".jpeg")
KINDS = ("pair", "tonemap", "gainmap")
MAX_NAME = 200


@dataclass(frozen=True)
class Item:
    """One photo to make: ``OUT_DIR/NAME.jpg`` from ``sdr`` + ``hdr`` (``pair``), from
    ``hdr`` alone with a tone mapper (``tonemap``) or from the gain-map JPEG ``photo``
    (``gainmap``). ``error`` is set when the item cannot be made at all."""

    name: str
    kind: str
    sdr: str | None = None
    hdr: str | None = None
    photo: str | None = None
    error: str | None = None
    sources: tuple[str, ...] = ()

    @property
    def inputs(self) -> list[str]:
        """The input files, in the order they are read (a failed item's: what was found)."""
        return [p for p in (self.sdr, self.hdr, self.photo) if p] or list(self.sources)

    def input_bytes(self) -> int | None:
        """The input files' total size, None when one of them cannot be read."""
        try:
            return sum(os.stat(p).st_size for p in self.inputs) if self.inputs else None
        except OSError:
            return None


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot name an output file ``NAME.jpg``, or None."""
    if not name:
        return "empty name"
    if len(name) > MAX_NAME:
        return f"name longer than {MAX_NAME} characters"
    if name.startswith(".") or any(c in name for c in "/\\\0") or not name.isprintable():
        return f"name {name!r} cannot name a file (leading dot, slash or control character)"
    return None


def _bad(name: str, error: str, *inputs: Path | str | None) -> Item:
    return Item(name, "bad", error=error, sources=tuple(str(p) for p in inputs if p))


def _dedupe(items: list[Item]) -> list[Item]:
    """Items sorted by name; a name used twice fails every item that uses it."""
    by_name: dict[str, list[Item]] = {}
    for item in items:
        by_name.setdefault(item.name, []).append(item)
    out = []
    for name in sorted(by_name):
        group = by_name[name]
        if len(group) == 1:
            out.append(group[0])
            continue
        paths = [p for it in group for p in it.inputs]
        out.append(_bad(name, f"name {name!r} is used by {len(group)} inputs "
                              f"({', '.join(sorted(set(paths)))}); their outputs would collide",
                        *paths))
    return out


def scan_folder(folder: Path, tmo: str | None) -> list[Item]:
    """The items of a folder (see the module docstring)."""
    try:
        entries = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
    except OSError as exc:
        raise GainMLPError(f"{folder}: cannot list the folder ({exc.strerror})") from None
    halves: dict[str, dict[str, list[Path]]] = {}
    items: list[Item] = []
    for p in entries:
        if not p.is_file():
            continue
        stem, suffix = p.stem, p.suffix.lower()
        low = stem.lower()
        if low.endswith("_sdr") and suffix in SDR_SUFFIXES:
            halves.setdefault(stem[:-4], {"sdr": [], "hdr": []})["sdr"].append(p)
        elif low.endswith("_hdr") and suffix in HDR_SUFFIXES:
            halves.setdefault(stem[:-4], {"sdr": [], "hdr": []})["hdr"].append(p)
        elif suffix in LINEAR_SUFFIXES:
            items.append(Item(stem, "tonemap", hdr=str(p)) if tmo else
                         _bad(stem, "an HDR image alone needs --tmo to make its SDR", p))
        elif suffix in JPEG_SUFFIXES:
            items.append(Item(stem, "gainmap", photo=str(p)))
    for name, found in halves.items():
        sdr, hdr = found["sdr"], found["hdr"]
        if len(sdr) == 1 and len(hdr) == 1:
            items.append(Item(name, "pair", sdr=str(sdr[0]), hdr=str(hdr[0])))
        elif not sdr or not hdr:
            have, want = ("SDR", "HDR") if sdr else ("HDR", "SDR")
            items.append(_bad(name, f"{have} {(sdr or hdr)[0].name} has no {want} partner "
                                    f"{name}_{want.lower()}.* beside it", *(sdr + hdr)))
        else:
            items.append(_bad(name, f"several files for one pair: "
                                    f"{', '.join(p.name for p in sdr + hdr)}", *(sdr + hdr)))
    items = [it if name_problem(it.name) is None else _bad(it.name, name_problem(it.name),
                                                           *it.inputs)
             for it in items]
    if items and all(it.kind == "bad" and "needs --tmo" in (it.error or "") for it in items):
        raise GainMLPError(f"{folder}: holds HDR images without SDR partners; give --tmo to "
                           "make their SDR, or name pairs NAME_sdr.* + NAME_hdr.*")
    return _dedupe(items)


def _cell(row: dict, key: str) -> str:
    return (row.get(key) or "").strip()


def read_manifest(path: Path, tmo: str | None) -> list[Item]:
    """The items of a CSV manifest (see the module docstring)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise GainMLPError(f"{path}: cannot read the manifest ({exc})") from None
    try:
        return _manifest_items(path, text, tmo)
    except csv.Error as exc:  # e.g. a cell over the csv module's 128 KB field limit
        raise GainMLPError(f"{path}: not a readable CSV manifest ({exc})") from None


def _manifest_items(path: Path, text: str, tmo: str | None) -> list[Item]:
    reader = csv.DictReader(text.splitlines())
    header = [h.strip() for h in (reader.fieldnames or [])]
    reader.fieldnames = header
    if "name" not in header or not ({"sdr", "hdr"} <= set(header) or "photo" in header
                                     or ("hdr" in header and tmo)):
        raise GainMLPError(f"{path}: the manifest's header must name the columns name,sdr,hdr "
                           f"or name,photo (or name,hdr with --tmo), not {','.join(header)}")
    base = path.parent

    def resolve(cell: str) -> str:
        p = Path(cell).expanduser()
        return str(p if p.is_absolute() else base / p)

    items = []
    for number, row in enumerate(reader, start=2):
        name = _cell(row, "name")
        problem = name_problem(name)
        label = f"row{number}" if problem else name
        if None in row:
            items.append(_bad(label, f"manifest line {number} has more fields than the header"))
            continue
        sdr, hdr, photo = _cell(row, "sdr"), _cell(row, "hdr"), _cell(row, "photo")
        if problem:
            items.append(_bad(label, f"manifest line {number}: {problem}"))
        elif photo and not (sdr or hdr):
            items.append(Item(name, "gainmap", photo=resolve(photo)))
        elif sdr and hdr and not photo:
            items.append(Item(name, "pair", sdr=resolve(sdr), hdr=resolve(hdr)))
        elif hdr and not (sdr or photo) and tmo:
            items.append(Item(name, "tonemap", hdr=resolve(hdr)))
        else:
            items.append(_bad(label, f"manifest line {number}: give sdr and hdr, or photo"
                                     + (", or hdr alone (with --tmo)" if not tmo else "")))
    return _dedupe(items)


def discover(source: str | os.PathLike, tmo: str | None = None) -> list[Item]:
    """Every item of INPUT (a folder or a ``.csv`` manifest), sorted by name."""
    src = Path(source)
    if src.is_dir():
        items = scan_folder(src, tmo)
    elif src.is_file() and src.suffix.lower() == ".csv":
        items = read_manifest(src, tmo)
    elif src.exists():
        raise GainMLPError(f"{src}: INPUT must be a folder or a .csv manifest")
    else:
        raise GainMLPError(f"{src}: no such folder or manifest")
    if not items:
        raise GainMLPError(f"{src}: no items (expected NAME_sdr.* + NAME_hdr.* pairs, .exr/.hdr "
                           "images with --tmo, gain-map .jpg files, or a .csv manifest)")
    return items


__all__ = ["HDR_SUFFIXES", "Item", "KINDS", "LINEAR_SUFFIXES", "SDR_SUFFIXES", "discover",
           "name_problem", "read_manifest", "scan_folder"]
