"""Hostile input end to end: every record goes through the real pipeline (tiny models) and is
accounted for, as exactly one `articles` row or one `rejects` row. Valid text that declares another
charset, a PowerShell UTF-16 file and Kuhn's stress file go through `summarize extract`, the same
reading stage without the models.

The naughty strings are written for this project (the PyPI copies of the Big List of Naughty
Strings are unmaintained forks): right-to-left and bidi controls, zalgo, emoji ZWJ sequences,
injection strings (SQL, shell, HTML/JS, format strings, paths, templates), control characters,
Unicode edge cases (surrogates spelled in JSON, noncharacters, combining marks, fullwidth and
mathematical letters) and numbers that look like something else.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import polars as pl

from tests.conftest import invoke, read, sample_articles

TEXT = sample_articles(1)[0]["text"]

NAUGHTY = [
    # empty, blank and whitespace-only
    "", " ", "\t", "\n\n\n", "\u00a0\u2000\u2001\u2002\u2003\u3000", "\u200b\u200b\u200b",
    # right to left, bidi overrides
    "مرحبا بالعالم، هذا خبر عاجل من القاهرة.", "שלום עולם, חדשות הבוקר מירושלים.",
    "\u202eevil.exe\u202c txt.gpj", "\u2067RTL isolate\u2069 and \u2066LTR isolate\u2069", "a\u200fb\u200ec",
    # zalgo and heavy combining marks
    "Z̷̢̛̛̰̳̼̬̦̩̯̘̪̍̈́̓̌̓̿͒̔̈̈́̕͠A̸̧̛̙̱̟̗̞̼̥͍̬̓̾̀̓̓̈́̒̾͝L̷̡̨̜̝̬̩̻̣̜̬̄̈́̀̔̈́̓̈́G̴̢̛̮̫̙̱̈́̓̽̀̐̂̏͝O̷̢̧̙̩̖̳̯̞̝̙̐̍̓̈́̈̈́",
    "e" + "\u0301" * 200, "ก้้้้้้้้้้้้้้้้้้้้้้้้้้้้้้้้้้้้้้้้้้้้",
    # emoji, ZWJ sequences, flags, skin tones, keycaps
    "👨\u200d👩\u200d👧\u200d👦 👩🏽\u200d💻 🏳️\u200d🌈 🇺🇦🇯🇵 1️⃣ #️⃣", "🎉" * 500,
    "The mayor 👩🏾\u200d⚖️ said 🚇 lines will open in 2027 🎉.",
    # injection strings
    "'; DROP TABLE articles; --", "1' OR '1'='1", "$(rm -rf /)", "`reboot`", "; cat /etc/passwd",
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "javascript:alert(1)", "\"><svg/onload=alert(1)>",
    "{{7*7}} ${7*7} <%= 7*7 %> #{7*7}", "%s%s%s%n%x", "{0.__class__.__mro__}", "../../../../etc/passwd",
    "..\\..\\windows\\system32", "C:\\CON\\NUL", "/dev/zero", "file:///etc/shadow", "\\\\server\\share",
    "[link](javascript:alert(1))", "=HYPERLINK(\"http://x\",\"click\")", "@SUM(1+1)*cmd|' /C calc'!A0",
    '{"text": "nested json"}', "\\u0000\\x00", "null", "undefined", "NaN", "None", "true",
    "<<<<<<<<<<>>>>>>>>>>", "]]>", "<!--", "&lt;&amp;&#0;&#xFFFF;", "\x1b[31mred\x1b[0m",
    # control characters and odd line ends
    "a\x00b\x01c\x02d\x7fe", "\x08\x08\x08backspace", "line\rline\r\nline\u2028line\u2029line\x85line",
    "\x0b\x0c\x1c\x1d\x1e\x1f", "bell\x07bell",
    # Unicode edge cases
    "\ufeffBOM inside", "\ufffe\uffff", "\U0010ffff\U000e0001", "ﬀﬁﬂﬃﬄ", "ＦＵＬＬＷＩＤＴＨ ｔｅｘｔ",
    "𝐌𝐚𝐭𝐡 𝕭𝖔𝖑𝖉 𝓢𝓬𝓻𝓲𝓹𝓽", "Ω≈ç√∫˜µ≤≥÷", "Ⱥ Ⱦ ȿ ɀ", "İstanbul ıi ǅ ǈ", "ß" * 300, "ǰ̣" * 50,
    "田中さんにあげて下さい", "社會科學院語學研究所", "울란바토르", "ᚠᛇᚻ᛫ᛒᛦᚦ", "𓀀𓀁𓀂", "⁦test⁩",
    # numbers and look-alikes
    "0", "-1", "1e309", "0x7fffffff", "1,000,000.00", "٣٤٥", "१२३", "Ⅻ", "∞", "-0.0",
]

# Markus Kuhn-style UTF-8 stress lines, written for this suite: good text around malformed
# sequences (lone continuation bytes, overlong forms, surrogates, truncated sequences, 0xFE/0xFF).
STRESS = (
    "UTF-8 decoder capability and stress test\n\nYou should see the Greek word 'kosme': κόσμε\n\n".encode()
    + b"Boundary: \x00 \xc2\x80 \xdf\xbf \xe0\xa0\x80 \xef\xbf\xbf \xf0\x90\x80\x80 \xf4\x8f\xbf\xbf\n"
    + b"Continuations: \x80 \xbf \x80\xbf\x80\xbf\n"
    + b"Lonely starts: \xc0 \xc1 \xe0 \xef \xf0 \xf7\n"
    + b"Overlong: \xc0\xaf \xe0\x80\xaf \xf0\x80\x80\xaf \xc1\xbf\n"
    + b"Surrogates: \xed\xa0\x80 \xed\xbf\xbf \xed\xa0\x80\xed\xb0\x80\n"
    + b"Impossible: \xfe \xff \xfe\xfe\xff\xff\n"
    + b"Truncated: \xe0\x80 \xf0\x80\x80 \xdf \xef\xbf\n\n"
    + TEXT.encode()
)

PAGES = {
    # name: (encoding, meta declaration, text in that language)
    "zh.html": ("gb2312", '<meta charset="gb2312">',
                "北京市政府今天宣布，明年将新建三条地铁线路，以缓解城市交通压力。新线路将连接主要商业区和居民区。"),
    "ja.html": ("shift_jis", '<meta http-equiv="Content-Type" content="text/html; charset=Shift_JIS">',
                "東京都は本日、来年度の予算案を発表しました。新しい予算では、教育と福祉に重点が置かれています。"),
    "ru.htm": ("windows-1251", "<meta charset=windows-1251>",
               "Правительство Москвы сегодня объявило о строительстве трёх новых линий метро в следующем году."),
    "fr.html": ("iso-8859-1", "<META CHARSET='ISO-8859-1'>",
                "Le conseil municipal a voté mercredi un budget réduit pour l'année prochaine, après des débats animés."),
    "de.txt": ("iso-8859-1", "<meta charset=latin1>",
               "Die Straßenbahn fährt ab Montag wieder über die Brücke, nachdem die Bauarbeiten früher endeten."),
}


def _page(title: str, meta: str, body: str) -> str:
    return f"<!DOCTYPE html><html><head>{meta}<title>{title}</title></head><body><p>{body}</p></body></html>"


def build_inputs(tmp_path: Path) -> tuple[list[str], int]:
    """The suite's inputs and how many records they hold."""
    jsonl = tmp_path / "naughty.jsonl"
    lines = []
    for i, s in enumerate(NAUGHTY):
        lines.append(json.dumps({"id": f"alone-{i}", "title": s, "text": s}, ensure_ascii=False))
        # The string as the id, inside a real article: ids are data, never paths or markup.
        lines.append(json.dumps({"id": f"{s}#{i}", "title": s, "text": f"{TEXT}\n\n{s}"}, ensure_ascii=True))
    lines += ['{"id": "half', "[1, 2, 3]", '{"text": 42}', "\ufeff" + json.dumps({"id": "bom-line", "text": TEXT})]
    jsonl.write_text("\n".join(lines) + "\n\n", encoding="utf-8")
    records = len(lines)

    csv = tmp_path / "naughty.csv"
    rows = ['"' + s.replace('"', '""') + '"' for s in NAUGHTY[6:40] if "\x00" not in s and "\r" not in s]
    csv.write_text("id,text\n" + "".join(f"c{i},{r}\n" for i, r in enumerate(rows)) + "\n\n", encoding="utf-8")
    records += len(rows)

    folder = tmp_path / "pages"
    folder.mkdir()
    for name, (enc, meta, body) in PAGES.items():
        (folder / name).write_bytes(_page(body[:12], meta, body).encode(enc))
    (folder / "stress.txt").write_bytes(STRESS)
    (folder / "photo.md").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    (folder / "empty.txt").write_bytes(b"")
    records += len(PAGES) + 3
    return [str(jsonl), str(csv), str(folder)], records


def test_every_hostile_record_is_accounted_for(tmp_path: Path, fast_args: list[str]) -> None:
    inputs, expected = build_inputs(tmp_path)
    out = tmp_path / "out"
    res = invoke(["run", *inputs, "--out", str(out), "--strip-html", "--to", "en,fr", *fast_args])
    assert res.exit_code == 1, res.output  # the malformed JSON lines and the binary file are rejects
    arts, rejects = read(out, "articles"), read(out, "rejects")
    assert arts.height + rejects.height == expected
    # exactly once each: no (source, line) pair appears twice, in a table or across the two
    keys = Counter(zip(arts["source"], arts["line"], strict=True)) + Counter(zip(rejects["source"], rejects["line"], strict=True))
    folder_rows = {k: v for k, v in keys.items() if k[0].startswith(inputs[2])}
    assert all(v == 1 for v in folder_rows.values()) and len(folder_rows) == len(PAGES) + 3
    assert all(v == 1 for k, v in keys.items() if not k[0].startswith(inputs[2]))
    assert set(arts["status"].unique()) <= {"ok", "skipped", "error"}
    assert arts.filter(pl.col("status") == "error").filter(pl.col("error").is_null()).height == 0
    assert all(r for r in rejects["error"])  # every reject says why

    ids = set(arts["id"])
    for i, s in enumerate(NAUGHTY):
        assert f"{s}#{i}" in ids  # a hostile id survives as data
    assert not any(p.name.startswith("..") for p in out.rglob("*"))
    assert {p.name for p in out.iterdir() if p.is_dir()} >= {"articles", "rejects", "segments", "translations"}

    rej_sources = " ".join(rejects["source"])
    assert "photo.md" in rej_sources and "stress.txt" not in rej_sources
    flags = {src.rsplit("/", 1)[-1]: f for src, f in zip(arts["source"], arts["flags"].to_list(), strict=True)
             if src.startswith(inputs[2])}
    assert "nul_removed" in flags["stress.txt"] and "invalid_utf8" in flags["stress.txt"]
    for name in PAGES:
        assert any(f.startswith("decoded_from:") for f in flags[name]), (name, flags[name])
    langs = {src.rsplit("/", 1)[-1]: lang for src, lang in zip(arts["source"], arts["lang"], strict=True)}
    assert (langs["zh.html"], langs["ja.html"], langs["ru.htm"]) == ("zh", "ja", "ru")

    titles = {src.rsplit("/", 1)[-1]: t for src, t in zip(arts["source"], arts["title"], strict=True)}
    for name, (_, _, body) in PAGES.items():
        if name.endswith(".txt"):  # markup in a .txt file is stripped with --strip-html; no title taken
            assert "html_stripped" in flags[name] and titles[name] is None
        else:
            assert titles[name] == body[:12]  # decoded right: no replacement characters, no mojibake


KUHN = Path(__file__).resolve().parents[1] / "data" / "UTF-8-test.txt"
FR = "Le président a visité Genève où il a rencontré les élèves du collège"
DE = "Müller aus Zürich grüßt die Straße"


def build_decoding_inputs(tmp_path: Path) -> tuple[list[str], dict[str, str]]:
    """Valid text that claims another encoding, a UTF-16 file with a BOM and Kuhn's stress file;
    the inputs and, per (file name, line), the text each record must keep."""
    keep: dict[str, str] = {}
    jsonl = tmp_path / "declares.jsonl"
    recs = []
    for i, declared in enumerate(["iso-8859-1", "utf-7"]):
        page = f'<html><head><meta charset="{declared}"></head><body><p>{FR} +ADw-script+AD4-.</p></body></html>'
        recs.append(json.dumps({"id": f"j{i}", "text": page}, ensure_ascii=False))
        keep[f"declares.jsonl:{i + 1}"] = f"{FR} +ADw-script+AD4-"
    jsonl.write_text("\n".join(recs) + "\n", encoding="utf-8")
    csv = tmp_path / "cell.csv"
    rows = ['c0,"<meta charset=windows-1252> first"'] + [f"c{i},{DE} {i}" for i in range(1, 6)]
    csv.write_text("id,text\n" + "\n".join(rows) + "\n", encoding="utf-8")
    keep.update({f"cell.csv:{i + 2}": f"{DE} {i}" for i in range(1, 6)})  # line 1 is the header
    ps = tmp_path / "powershell.jsonl"  # what `ConvertTo-Json | Out-File` writes: UTF-16 LE, BOM, CRLF
    ps.write_bytes("\r\n".join(json.dumps({"id": f"p{i}", "text": f"{DE} {i}"}) for i in range(3)).encode("utf-16")
                   + "\r\n".encode("utf-16-le"))
    keep.update({f"powershell.jsonl:{i + 1}": f"{DE} {i}" for i in range(3)})
    folder = tmp_path / "texts"
    folder.mkdir()
    (folder / "mentions.txt").write_text(f"Once stored as shift_jis, see <meta charset=shift_jis>. {DE}", encoding="utf-8")
    keep["mentions.txt:1"] = DE
    (folder / "UTF-8-test.txt").write_bytes(KUHN.read_bytes())
    keep["UTF-8-test.txt:1"] = "\u03ba\u1f79\u03c3\u03bc\u03b5"  # the Greek 'kosme', valid in the damaged file
    return [str(jsonl), str(csv), str(ps), str(folder)], keep


def test_valid_text_is_never_re_decoded_through_the_cli(tmp_path: Path) -> None:
    # `extract` reads through the same stage as `run` (io.read_records), without loading a model.
    inputs, keep = build_decoding_inputs(tmp_path)
    out = tmp_path / "extracted.parquet"
    res = invoke(["extract", *inputs, "--out", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    rows = pl.read_parquet(out)
    assert rows.height == len(keep) + 1 and rows["status"].to_list() == ["ok"] * rows.height  # + the charset cell
    by_key = {f"{Path(s).name}:{n}": (t, f) for s, n, t, f in rows.select("source", "line", "text", "flags").iter_rows()}
    assert set(by_key) == {*keep, "cell.csv:2"}  # every record, once
    for key, text in keep.items():
        got, flags = by_key[key]
        assert text in got and "Ã" not in got and "<script>" not in got, (key, got)
        decoded = [f for f in flags if f.startswith("decoded_from")]  # only the bytes that were not UTF-8
        assert decoded == (["decoded_from:utf-16-le"] if key.startswith("powershell") else []), (key, flags)
        damaged = key.startswith("UTF-8-test")  # Kuhn's file alone holds malformed bytes
        assert ("invalid_utf8" in flags) == damaged and ("\ufffd" in got) == damaged, (key, flags)
    assert "+ADw-script+AD4-" in by_key["declares.jsonl:2"][0]  # the UTF-7 declaration is not obeyed
