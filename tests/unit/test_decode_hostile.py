"""Decoding never damages valid text: UTF-8 stays UTF-8 whatever it says, BOMs work for every format,
damaged UTF-8 is never re-read by a legacy codec. Kuhn's stress file is the hardest real case."""

from __future__ import annotations

import codecs
import json
from pathlib import Path

import pytest

from summarize import io
from summarize.io.decode import decode
from summarize.options import ReadOptions
from summarize.schema import Article, Reject

KUHN = Path(__file__).resolve().parents[1] / "data" / "UTF-8-test.txt"
FR = "Le président a visité Genève où il a rencontré des élèves"
DE = "Müller aus Zürich grüßt die Straße"


def records(path: Path, **opts: object) -> list[Article | Reject]:
    return list(io.read_records([str(path)], ReadOptions(**opts)))  # type: ignore[arg-type]


def articles(path: Path, **opts: object) -> list[Article]:
    recs = records(path, **opts)
    assert all(isinstance(r, Article) for r in recs), [r for r in recs if isinstance(r, Reject)]
    return recs  # type: ignore[return-value]


def test_kuhn_stress_file_is_read_as_damaged_utf8_not_a_legacy_encoding(tmp_path: Path) -> None:
    data = KUHN.read_bytes()
    assert b"CC BY 4.0" in data[:300]  # the licence note travels with the file
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "UTF-8-test.txt").write_bytes(data)
    (art,) = articles(folder)
    # Its NUL (test 2.1.1) and the C1 and DEL controls go as in any text; no legacy codec is named.
    assert art.flags == ("invalid_utf8", "nul_removed", "control_chars")
    # Every valid character survives as itself (an ISO-8859-2 reading turned them into mojibake).
    for valid in ("\u03ba\u1f79\u03c3\u03bc\u03b5", "\U00010000", "\u07ff", "\U0010ffff", "THE END"):
        assert valid in art.text
    assert art.text.count("\ufffd") == data.decode("utf-8", "replace").count("\ufffd") > 300


def test_kuhn_lines_as_jsonl_never_meet_a_multibyte_codec(tmp_path: Path) -> None:
    # Each line of the stress file as a JSON record, raw bytes kept: every record parses (no codec
    # swallowed the backslash of an escape), every valid line is unchanged, and no damaged line
    # is read as Big5, GB18030 or another multibyte code page.
    lines = KUHN.read_bytes().split(b"\n")
    f = tmp_path / "kuhn.jsonl"
    body = [b'{"id": "%d", "text": "x\\"' % i + line.replace(b"\\", b"/").replace(b'"', b"'").replace(b"\x00", b" ") + b'\\" y"}'
            for i, line in enumerate(lines) if line.strip()]
    f.write_bytes(b"\n".join(body) + b"\n")
    arts = articles(f)
    assert len(arts) == len(body)
    multibyte = ("gb18030", "big5hkscs", "cp932", "euc_jp", "cp949", "euc_kr", "johab", "shift_jis")
    for art, raw in zip(arts, body, strict=True):
        decoded = [flag.split(":", 1)[1] for flag in art.flags if flag.startswith("decoded_from:")]
        assert not any(d.startswith(multibyte) for d in decoded), (raw, decoded)
        assert art.text.startswith('x"') and art.text.endswith('" y')
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            continue
        assert not decoded and "invalid_utf8" not in art.flags  # valid lines are left alone


@pytest.mark.parametrize("declared", ["iso-8859-1", "windows-1252", "shift_jis", "utf-7"])
def test_utf8_jsonl_is_utf8_whatever_its_html_declares(tmp_path: Path, declared: str) -> None:
    text = f'<html><head><meta charset="{declared}"></head><body>{FR} +ADw-script+AD4-</body></html>'
    f = tmp_path / "in.jsonl"
    f.write_text(json.dumps({"id": "a", "text": text}, ensure_ascii=False) + "\n", encoding="utf-8")
    (art,) = articles(f)
    assert FR in art.text and "+ADw-script+AD4-" in art.text and "<script>" not in art.text
    assert not any(flag.startswith("decoded_from") for flag in art.flags)


def test_one_csv_cell_declaring_a_charset_changes_no_row(tmp_path: Path) -> None:
    f = tmp_path / "in.csv"
    rows = ["id,text", 'a,"<meta charset=windows-1252> first"'] + [f"{i},{DE} {i}" for i in range(5)]
    f.write_text("\n".join(rows) + "\n", encoding="utf-8")
    arts = articles(f)
    assert [a.text for a in arts[1:]] == [f"{DE} {i}" for i in range(5)]


def test_a_txt_that_mentions_an_encoding_is_still_utf8(tmp_path: Path) -> None:
    folder = tmp_path / "t"
    folder.mkdir()
    (folder / "a.txt").write_text(f"This file was once shift_jis, then <meta charset=shift_jis>. {DE}", encoding="utf-8")
    (art,) = articles(folder)
    assert DE in art.text and not any(f.startswith("decoded_from") for f in art.flags)


def test_a_non_utf8_html_page_may_declare_its_charset_but_never_utf7(tmp_path: Path) -> None:
    folder = tmp_path / "pages"
    folder.mkdir()
    (folder / "latin.html").write_bytes(f'<meta charset="iso-8859-1"><title>t</title><p>{FR}</p>'.encode("latin-1"))
    (folder / "seven.html").write_bytes(b'<meta charset="utf-7"><p>+ADw-script+AD4- caf\xe9 \xe0 la cr\xe8me</p>')
    latin, seven = articles(folder)
    assert FR in latin.text and "decoded_from:iso-8859-1" in latin.flags
    assert "<script>" not in seven.text and "+ADw-script+AD4-" in seven.text


def test_mostly_valid_utf8_with_broken_bytes_keeps_utf8(tmp_path: Path) -> None:
    data = (DE + " ").encode() * 3 + b"\xff\xfe\xc3 " + FR.encode()
    text, flags = decode(data, "x", document=True)
    assert flags == ["invalid_utf8"] and DE in text and FR in text
    text, flags = decode(data, "x")
    assert flags == ["invalid_utf8"] and FR in text


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32", "utf-8-sig"])
def test_every_format_reads_a_byte_order_mark(tmp_path: Path, encoding: str) -> None:
    bom = {"utf-16-be": codecs.BOM_UTF16_BE}.get(encoding, b"")
    enc = encoding

    def write(path: Path, text: str) -> Path:
        path.write_bytes(bom + text.encode(enc))
        return path

    recs = [{"id": f"r{i}", "text": f"{DE} — 第{i}条 \U0001f600"} for i in range(3)]
    jl = write(tmp_path / "in.jsonl", "\r\n".join(json.dumps(r, ensure_ascii=False) for r in recs) + "\r\n")
    assert [a.text for a in articles(jl)] == [r["text"] for r in recs]
    cs = write(tmp_path / "in.csv", "id,text\n" + "".join(f'{r["id"]},"{r["text"]}"\n' for r in recs))
    assert [a.text for a in articles(cs)] == [r["text"] for r in recs]
    folder = tmp_path / "docs"
    folder.mkdir()
    write(folder / "a.txt", recs[0]["text"])
    write(folder / "b.html", f"<html><head><title>{DE}</title></head><body><p>{recs[1]['text']}</p></body></html>")
    txt, html = articles(folder)
    assert txt.text == recs[0]["text"] and html.text == recs[1]["text"] and html.title == DE
    io.check_columns([str(jl), str(cs)], ReadOptions())  # the up-front check reads them the same way


@pytest.mark.parametrize(("text", "encoding"), [
    ("Москва — столица России. Сегодня в городе прошло заседание думы о новом бюджете.", "cp1251"),
    ("北京市政府今天宣布，明年将新建三条地铁线路，以缓解城市交通压力。", "gb2312"),
    ("東京都は本日、新しい地下鉄路線の建設を発表しました。", "shift_jis"),
    ("서울시는 오늘 새로운 지하철 노선 건설 계획을 발표했다.", "euc-kr"),
    ("déjà vu en ville ce matin", "latin-1"),
])
def test_real_legacy_text_is_still_detected(text: str, encoding: str) -> None:
    for document in (True, False):
        got, flags = decode(text.encode(encoding), "x", document=document)
        assert got == text and flags[0].startswith("decoded_from:")


def test_a_utf8_page_with_one_broken_byte_is_not_read_in_the_charset_it_wrongly_declares() -> None:
    page = f'<html><head><meta charset="gb2312"></head><body><p>{FR}. {DE}.</p></body></html>'.encode()
    text, flags = decode(page.replace(b"</p>", b"\xff</p>"), "x", document=True)
    assert flags == ["invalid_utf8"] and FR in text and DE in text


def test_one_broken_csv_cell_flags_only_its_own_row(tmp_path: Path) -> None:
    f = tmp_path / "in.csv"
    rows = [f"{i},{DE} {i}".encode() for i in range(6)]
    rows[2] = b'2,"' + DE.encode() + b' \xff broken\nover two lines"'  # a bad byte in a multi-line cell
    rows[4] = "4,a replacement character the bytes spell: \ufffd".encode()  # valid UTF-8, not damage
    f.write_bytes(b"id,text\n" + b"\n".join(rows) + b"\n")
    arts = articles(f)
    assert [a.id for a in arts] == [str(i) for i in range(6)]
    assert [("invalid_utf8" in a.flags) for a in arts] == [False, False, True, False, False, False]
    assert arts[2].text == f"{DE} \ufffd broken\nover two lines" and arts[4].text.endswith("\ufffd")
    assert [a.text for a in arts if a.id not in ("2", "4")] == [f"{DE} {i}" for i in (0, 1, 3, 5)]
