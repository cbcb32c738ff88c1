"""Input folders are what they look like: links out of them are skipped (with a reject), non-UTF-8
names get ids that round-trip, and only the files that are read make the resume fingerprint."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from summarize import io
from summarize.errors import UsageError
from summarize.io.folder import escape_name, list_folder, unescape_name
from summarize.io.identity import fingerprint
from summarize.options import ReadOptions
from summarize.schema import BOOKKEEPING, Article, Reject

TEXT = "The harbour reopened this morning after the storm."


def folder_with_outside_link(tmp_path: Path) -> Path:
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:root:/root:/bin/bash", encoding="utf-8")
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.txt").write_text(TEXT, encoding="utf-8")
    (folder / "link.txt").symlink_to(secret)
    (folder / "inside.txt").symlink_to(folder / "a.txt")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "b.txt").write_text(TEXT, encoding="utf-8")
    (folder / "sub").symlink_to(outside, target_is_directory=True)
    return folder


def test_links_out_of_the_folder_are_skipped_with_a_reject(tmp_path: Path) -> None:
    folder = folder_with_outside_link(tmp_path)
    recs = list(io.read_records([str(folder)], ReadOptions()))
    arts = {r.id: r for r in recs if isinstance(r, Article)}
    rejects = {r.source.rsplit("/", 1)[-1] or r.source: r for r in recs if isinstance(r, Reject)}
    assert set(arts) == {"a.txt", "inside.txt"}  # a link that stays inside is read
    assert "root:x" not in " ".join(a.text for a in arts.values())
    assert "outside the input folder" in rejects["link.txt"].error and "--follow-symlinks" in rejects["link.txt"].error
    assert any("folder outside" in r.error for r in recs if isinstance(r, Reject))


def test_follow_symlinks_opts_in(tmp_path: Path) -> None:
    folder = folder_with_outside_link(tmp_path)
    (folder / "loop").symlink_to(folder, target_is_directory=True)  # a loop is walked once
    recs = list(io.read_records([str(folder)], ReadOptions(follow_symlinks=True)))
    assert sorted(r.id for r in recs if isinstance(r, Article)) == ["a.txt", "inside.txt", "link.txt", "sub/b.txt"]
    assert all(isinstance(r, Article) for r in recs)


@pytest.mark.parametrize("raw", [b"caf\xe9.txt", b"back\\slash.txt", b"\xff\xfe\\x41.txt", "ünï.txt".encode()])
def test_file_names_that_are_not_utf8_get_ids_that_round_trip(tmp_path: Path, raw: bytes) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "report.pdf").write_bytes(b"%PDF")  # not read, and its name is no trouble either
    os.makedirs(os.fsencode(folder) + b"/" + b"d\xe9p\xf4t", exist_ok=True)
    with open(os.fsencode(folder) + b"/d\xe9p\xf4t/" + raw, "wb") as fh:
        fh.write(TEXT.encode())
    (art,) = list(io.read_records([str(folder)], ReadOptions()))
    assert isinstance(art, Article)
    art.id.encode("utf-8")  # storable as UTF-8 (Parquet, JSON), no surrogates
    assert art.id == escape_name("d\udce9p\udcf4t") + "/" + escape_name(os.fsdecode(raw))
    directory, name = art.id.split("/")
    assert unescape_name(directory) == b"d\xe9p\xf4t" and unescape_name(name) == raw
    fingerprint(str(folder))  # no crash in the resume fingerprint either


def test_fingerprint_covers_only_what_is_read(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.txt").write_text(TEXT, encoding="utf-8")
    before = fingerprint(str(folder))
    (folder / ".DS_Store").write_bytes(b"\x00\x01junk")
    (folder / "notes.pdf").write_bytes(b"%PDF-1.4")
    out = folder / "out"  # --out inside the input folder: a dataset is output, never input
    (out / BOOKKEEPING).mkdir(parents=True)
    (out / "report.html").write_text("<p>a report</p>", encoding="utf-8")
    assert fingerprint(str(folder)) == before
    assert [e.rel for e in list_folder(folder)] == ["a.txt"]
    (folder / "b.txt").write_text(TEXT, encoding="utf-8")
    assert fingerprint(str(folder)) != before


def test_named_pipes_are_refused_unless_given_as_stdin(tmp_path: Path) -> None:
    fifo = tmp_path / "in.jsonl"
    os.mkfifo(fifo)
    with pytest.raises(UsageError, match=r"named pipe.*give - instead"):
        io.check_inputs([str(fifo)])
    folder = tmp_path / "docs"
    folder.mkdir()
    os.mkfifo(folder / "pipe.txt")  # never opened: a read would block for ever; a reject row says so
    (folder / "a.txt").write_text(TEXT, encoding="utf-8")
    art, rej = io.read_records([str(folder)], ReadOptions())
    assert isinstance(art, Article) and art.id == "a.txt"
    assert isinstance(rej, Reject) and rej.source == f"{folder}/pipe.txt" and "named pipe" in rej.error


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every folder")
def test_an_unlistable_subfolder_is_a_reject(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    (folder / "locked").mkdir(parents=True)
    (folder / "a.txt").write_text(TEXT, encoding="utf-8")
    (folder / "locked").chmod(0)
    try:
        recs = list(io.read_records([str(folder)], ReadOptions()))
    finally:
        (folder / "locked").chmod(0o755)
    assert any(isinstance(r, Reject) and "cannot list folder" in r.error for r in recs)


def test_a_text_or_html_file_named_as_an_input_is_one_article(tmp_path: Path) -> None:
    import json

    from ..conftest import invoke

    page = tmp_path / "mill-road.html"
    page.write_text("<html><head><title>Mill Road closes | The Post</title><meta property='og:site_name' "
                    f"content='The Post'></head><body><article><p>{TEXT} {TEXT}</p><p>{TEXT}</p></article>"
                    "<footer>Contact us</footer></body></html>", encoding="utf-8")
    dump = tmp_path / "dump.txt"
    dump.write_text(f"World News\nHarbour reopens\n06 December 2025\n\n{TEXT}\n\nAdvertisement\n\n{TEXT}\n", encoding="utf-8")
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.txt").write_text(TEXT, encoding="utf-8")
    inputs = [str(page), str(dump), str(folder)]
    assert io.count_records(inputs) == 3
    arts = list(io.read_records(inputs, ReadOptions()))
    assert all(isinstance(a, Article) for a in arts)
    # Its id is its file name, its source the name given: as a folder's file, whose id is its path there.
    assert [(a.id, a.source) for a in arts] == [("mill-road.html", str(page)), ("dump.txt", str(dump)),
                                                ("a.txt", f"{folder}/a.txt")]
    html, txt = arts[0], arts[1]
    assert isinstance(html, Article) and isinstance(txt, Article)
    assert "html_extracted" in html.flags and "Contact us" not in html.text and html.title == "Mill Road closes"
    assert txt.title == "Harbour reopens" and txt.published == "06 December 2025" and "Advertisement" not in txt.text
    # Through the command; and a file, which has no columns, refuses --keep-col.
    out = invoke(["extract", str(page), "--out", "-", "-q"])
    assert out.exit_code == 0 and json.loads(out.stdout)["id"] == "mill-road.html"
    from summarize.io.tables import kept_columns

    with pytest.raises(UsageError, match="no columns to keep"):
        kept_columns([str(dump)], ReadOptions(keep_cols=("section",)))
    # A name of no known kind is still refused, before anything is read.
    (tmp_path / "notes.rtf").write_text(TEXT, encoding="utf-8")
    with pytest.raises(UsageError, match="unknown input type"):
        list(io.read_records([str(tmp_path / "notes.rtf")], ReadOptions()))
