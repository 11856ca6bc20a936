"""The items of a batch: folders of pairs, HDR images, gain-map JPEGs, and manifests."""

from __future__ import annotations

import pytest

from gainmlp.batch.items import discover, name_problem
from gainmlp.errors import GainMLPError


def touch(folder, *names, data=b"x"):
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(data)


def by_name(items):
    return {it.name: it for it in items}


def test_a_mixed_folder(tmp_path):
    src = tmp_path / "in"
    touch(src, "a_sdr.png", "a_hdr.png", "b_SDR.jpg", "b_hdr.exr", "photo.jpg", "scene.exr",
          "lone_sdr.tif", "two_sdr.png", "two_sdr.jpg", "two_hdr.png", "notes.txt",
          ".hidden.jpg", "x.jpeg", "x.hdr")
    (src / "sub").mkdir()
    items = discover(src)
    assert [it.name for it in items] == sorted(it.name for it in items)
    got = by_name(items)
    assert set(got) == {"a", "b", "photo", "scene", "lone", "two", "x"}
    assert (got["a"].kind, got["a"].sdr, got["a"].hdr) == ("pair", str(src / "a_sdr.png"),
                                                           str(src / "a_hdr.png"))
    assert got["b"].kind == "pair" and got["b"].hdr.endswith("b_hdr.exr")
    assert got["photo"].kind == "gainmap" and got["photo"].inputs == [str(src / "photo.jpg")]
    assert got["scene"].kind == "bad" and "--tmo" in got["scene"].error
    assert got["lone"].kind == "bad" and "no HDR partner lone_hdr.*" in got["lone"].error
    assert got["two"].kind == "bad" and "several files" in got["two"].error
    assert got["x"].kind == "bad" and "collide" in got["x"].error  # x.jpeg and x.hdr
    assert got["a"].input_bytes() == 2 and got["lone"].inputs == [str(src / "lone_sdr.tif")]


def test_hdr_images_with_a_tone_mapper(tmp_path):
    src = tmp_path / "in"
    touch(src, "scene.exr", "other.hdr")
    got = by_name(discover(src, tmo="drago"))
    assert got["scene"].kind == got["other"].kind == "tonemap"
    assert got["scene"].hdr == str(src / "scene.exr") and got["scene"].sdr is None


def test_only_lone_hdr_images_need_tmo(tmp_path):
    touch(tmp_path / "in", "a.exr", "b.exr")
    with pytest.raises(GainMLPError, match="give --tmo"):
        discover(tmp_path / "in")


def test_manifest(tmp_path):
    touch(tmp_path / "data", "s.png", "h.png", "g.jpg", "e.exr")
    manifest = tmp_path / "data" / "list.csv"
    manifest.write_text(
        "name, sdr ,hdr,photo\n"
        "one,s.png,h.png,\n"
        f"two,,,{tmp_path / 'data' / 'g.jpg'}\n"
        "three,,e.exr,\n"
        "four,s.png,,g.jpg\n"
        ",s.png,h.png,\n"
        "../up,s.png,h.png,\n"
        "one,s.png,h.png,\n"
        "five,s.png,h.png,,extra\n")
    got = by_name(discover(manifest))
    assert "one" in got and got["one"].kind == "bad" and "collide" in got["one"].error
    assert got["two"].kind == "gainmap" and got["two"].photo == str(tmp_path / "data" / "g.jpg")
    assert got["three"].kind == "bad" and "--tmo" in got["three"].error
    assert got["four"].kind == "bad" and "line 5" in got["four"].error
    assert got["row6"].kind == "bad" and "empty name" in got["row6"].error
    assert got["row7"].kind == "bad" and "cannot name a file" in got["row7"].error
    assert got["five"].kind == "bad" and "more fields" in got["five"].error
    with_tmo = by_name(discover(manifest, tmo="ward"))
    assert with_tmo["three"].kind == "tonemap"
    assert with_tmo["three"].hdr == str(tmp_path / "data" / "e.exr")


def test_manifest_pairs_resolve_relative_to_the_manifest(tmp_path):
    touch(tmp_path / "m" / "img", "s.png", "h.png")
    (tmp_path / "m" / "pairs.csv").write_text("name,sdr,hdr\nk,img/s.png,img/h.png\n")
    [item] = discover(tmp_path / "m" / "pairs.csv")
    assert (item.kind, item.sdr) == ("pair", str(tmp_path / "m" / "img" / "s.png"))
    assert item.input_bytes() == 2
    (tmp_path / "m" / "img" / "s.png").unlink()
    assert item.input_bytes() is None


@pytest.mark.parametrize("text, match", [("id,path\nx,y\n", "header must name"),
                                         ("name,sdr,hdr\n", "no items")])
def test_bad_manifests(tmp_path, text, match):
    (tmp_path / "m.csv").write_text(text)
    with pytest.raises(GainMLPError, match=match):
        discover(tmp_path / "m.csv")


def test_bad_inputs(tmp_path):
    with pytest.raises(GainMLPError, match="no such folder"):
        discover(tmp_path / "missing")
    touch(tmp_path, "list.txt")
    with pytest.raises(GainMLPError, match="folder or a .csv"):
        discover(tmp_path / "list.txt")
    touch(tmp_path / "empty", "readme.md")
    with pytest.raises(GainMLPError, match="no items"):
        discover(tmp_path / "empty")


def test_name_problems():
    assert name_problem("IMG_0001") is None
    for bad in ("", ".hidden", "a/b", "a\\b", "tab\there", "x" * 201):
        assert name_problem(bad)
