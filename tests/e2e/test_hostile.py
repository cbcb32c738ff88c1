"""Hostile input: broken encodings, HTML, control characters, huge lines, binaries, duplicates, odd CSV."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from summarize import api, io
from summarize.cli.common import EXIT_PIPE
from summarize.errors import UsageError
from summarize.options import GenerationOptions, ReadOptions, RunOptions
from summarize.schema import Article, Reject
from tests.conftest import invoke, read, sample_articles, write_jsonl

TEXT = sample_articles(1)[0]["text"]


def records(path: Path, **opts: object) -> list[Article | Reject]:
    return list(io.read_records([str(path)], ReadOptions(**opts)))  # type: ignore[arg-type]


def test_damaged_utf8_is_replaced_and_flagged(tmp_path: Path) -> None:
    # Mostly good UTF-8 with a few broken bytes stays UTF-8: re-reading it as a legacy encoding
    # would turn every good character into mojibake.
    f = tmp_path / "in.jsonl"
    f.write_bytes('{"id": "x", "text": "Grüße aus Köln, schöne Straße '.encode() + b'\xff\xfe und mehr"}\n')
    (art,) = records(f)
    assert isinstance(art, Article)
    assert "\ufffd" in art.text and "invalid_utf8" in art.flags and "Grüße aus Köln" in art.text


def test_legacy_encodings_are_detected_and_recorded(tmp_path: Path) -> None:
    f = tmp_path / "in.jsonl"
    f.write_bytes(b'{"id": "x", "text": "caf\xe9 au lait, un march\xe9 tr\xe8s anim\xe9 ce matin en ville"}\n')
    (art,) = records(f)
    assert isinstance(art, Article) and art.text == "café au lait, un marché très animé ce matin en ville"
    assert any(flag.startswith("decoded_from:") for flag in art.flags) and "invalid_utf8" not in art.flags
    folder = tmp_path / "texts"
    folder.mkdir()
    ru = "Москва — столица России. Сегодня в городе прошло заседание городской думы о новом бюджете."
    (folder / "ru.txt").write_bytes(ru.encode("cp1251"))
    (folder / "bom.txt").write_bytes("Ein Text mit Byte-Order-Mark in UTF-16.".encode("utf-16"))
    bom, got = records(folder)
    assert isinstance(got, Article) and got.text == ru and got.flags == ("decoded_from:cp1251",)
    assert isinstance(bom, Article) and bom.text == "Ein Text mit Byte-Order-Mark in UTF-16."
    assert bom.flags == ("decoded_from:utf-16-le",)


ZH = ("北京市政府今天宣布，明年将新建三条地铁线路，以缓解城市交通压力。"
      "市长在新闻发布会上表示，新线路将连接主要商业区和居民区，预计每天运送乘客五十万人次。")
GB2312_PAGE = f"""<!DOCTYPE html>
<html><head><meta charset="gb2312"><title>北京新建地铁线路</title>
<style>body {{ font-size: 14px; }}</style></head>
<body><h1>北京新建地铁线路</h1><p>{ZH}</p><script>var x = "广告";</script></body></html>
""".encode("gb2312")


def test_declared_meta_charset_is_honoured(tmp_path: Path) -> None:
    # The page: GB2312 declared by <meta charset>, read from a folder with --strip-html.
    folder = tmp_path / "pages"
    folder.mkdir()
    (folder / "news.txt").write_bytes(GB2312_PAGE)
    (art,) = records(folder, strip_html=True)
    assert isinstance(art, Article)
    assert "\ufffd" not in art.text and ZH in art.text and "广告" not in art.text
    assert "decoded_from:gb2312" in art.flags and "html_stripped" in art.flags


def test_gb2312_page_is_detected_as_chinese(tmp_path: Path) -> None:
    from summarize.detect.detector import make_detector
    from summarize.models.routing import detection_of
    from summarize.options import DetectOptions

    folder = tmp_path / "pages"
    folder.mkdir()
    (folder / "news.html").write_bytes(GB2312_PAGE)
    (art,) = records(folder)
    assert isinstance(art, Article)
    assert detection_of(art, make_detector(DetectOptions())).lang == "zh"


def test_folder_reads_html_pages_stripped(tmp_path: Path) -> None:
    folder = tmp_path / "pages"
    folder.mkdir()
    (folder / "a.html").write_bytes(GB2312_PAGE)
    (folder / "b.htm").write_text("<html><head><title>Council vote</title></head><body><p>" + TEXT + "</p></body></html>",
                                  encoding="utf-8")
    (folder / "c.txt").write_text(TEXT, encoding="utf-8")
    got = records(folder)
    assert [r.source.rsplit("/", 1)[1] for r in got] == ["a.html", "b.htm", "c.txt"]
    a, b, _ = got
    assert isinstance(a, Article) and a.title == "北京新建地铁线路" and "<" not in a.text and ZH in a.text
    # The page's article (main-content extraction, the default): blank lines inside one <p> are
    # spaces on a page, so the text comes back as one paragraph.
    assert isinstance(b, Article) and b.title == "Council vote" and "html_extracted" in b.flags
    assert b.text.split() == TEXT.split() and "\n" not in b.text
    assert io.count_records([str(folder)]) == 3
    # --extract all: every visible text, stripped as before.
    _, b_all, _ = records(folder, extract="all")
    assert isinstance(b_all, Article) and b_all.text == TEXT and "html_stripped" in b_all.flags


def test_stray_nul_does_not_reject_a_text_file(tmp_path: Path) -> None:
    # Like Markus Kuhn's UTF-8 stress test: one U+0000 and malformed sequences in a real text file.
    folder = tmp_path / "texts"
    folder.mkdir()
    body = ("UTF-8 decoder capability and stress test\n\nGreek: κόσμε\n" + TEXT + "\n").encode()
    (folder / "stress.txt").write_bytes(body + b"NUL here: \x00 end\nbad: \xc0\xaf \xed\xa0\x80\n")
    (art,) = records(folder)
    assert isinstance(art, Article)
    assert "\x00" not in art.text and "κόσμε" in art.text and "nul_removed" in art.flags and "invalid_utf8" in art.flags


def test_csv_blank_lines_are_skipped(tmp_path: Path) -> None:
    f = tmp_path / "in.csv"
    quoted = '"' + TEXT.replace('"', '""') + '"'
    f.write_text(f"id,text\n1,{quoted}\n\n2,second article about the weather\n\n", encoding="utf-8")
    got = records(f)
    assert [type(r).__name__ for r in got] == ["Article", "Article"]
    assert [r.id for r in got] == ["1", "2"]  # type: ignore[union-attr]


def test_html_is_flagged_or_stripped(tmp_path: Path) -> None:
    html = '<p>The <a href="https://x.org">council</a> met &amp; voted.</p><p>Roads will close.</p><script>var x=1;</script>'
    f = write_jsonl(tmp_path / "in.jsonl", [{"id": "h", "text": html}])
    (art,) = records(f, extract="none")
    assert isinstance(art, Article) and "html" in art.flags and art.text == html
    # A fragment (no page around it) has no boilerplate to tell apart: the default and the old
    # --strip-html both strip it.
    for opts in ({}, {"strip_html": True}, {"extract": "all"}):
        (art,) = records(f, **opts)
        assert isinstance(art, Article)
        assert art.text == "The council met & voted.\n\nRoads will close."
        assert "html_stripped" in art.flags


def test_control_and_zero_width_characters_are_removed(tmp_path: Path) -> None:
    f = write_jsonl(tmp_path / "in.jsonl", [{"id": "c", "title": "Ti\u200btle\x07", "text": "Line\x00 one\u200b.\u202e\nLine\ttwo\x1b."}])
    (art,) = records(f)
    assert isinstance(art, Article)
    assert art.text == "Line one.\nLine\ttwo." and art.title == "Title"
    assert "control_chars" in art.flags


def test_zero_width_joiners_are_text_not_noise(tmp_path: Path) -> None:
    # ZWNJ is spelling in Persian (می‌خواهم), ZWJ glues emoji sequences: neither is removed or flagged.
    text = "من می\u200cخواهم بروم. خانواده: 👨\u200d👩\u200d👧"
    f = write_jsonl(tmp_path / "in.jsonl", [{"id": "fa", "text": text}])
    (art,) = records(f)
    assert isinstance(art, Article) and art.text == text and "control_chars" not in art.flags


def test_extremely_long_line_is_cut_and_flagged(tmp_path: Path) -> None:
    f = write_jsonl(tmp_path / "in.jsonl", [{"id": "long", "text": (TEXT + "\n\n") * 400}])
    assert f.stat().st_size > 300_000
    (art,) = records(f, max_chars=50_000)
    assert isinstance(art, Article) and len(art.text) == 50_000 and "input_truncated" in art.flags


def test_binary_file_in_folder_is_rejected(tmp_path: Path) -> None:
    folder = tmp_path / "texts"
    folder.mkdir()
    (folder / "ok.txt").write_text(TEXT, encoding="utf-8")
    (folder / "photo.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    got = records(folder)
    assert [type(r).__name__ for r in got] == ["Article", "Reject"]
    assert isinstance(got[1], Reject) and "binary" in got[1].error and got[1].source.endswith("photo.txt")


@pytest.mark.parametrize(("mode", "articles", "rejects", "fatal"), [("all", 3, 0, 0), ("first", 2, 1, 0), ("error", 2, 1, 1)])
def test_duplicate_ids(tmp_path: Path, mode: str, articles: int, rejects: int, fatal: int) -> None:
    f = write_jsonl(tmp_path / "in.jsonl", [{"id": "1", "text": TEXT}, {"id": "2", "text": TEXT}, {"id": "1", "text": "other " + TEXT}])
    got = records(f, on_duplicate_id=mode)
    assert sum(isinstance(r, Article) for r in got) == articles
    rej = [r for r in got if isinstance(r, Reject)]
    assert len(rej) == rejects and sum(r.fatal for r in rej) == fatal
    if rej:
        assert rej[0].line == 3 and "duplicate id '1'" in rej[0].error


def test_json_values_of_the_wrong_type(tmp_path: Path) -> None:
    f = write_jsonl(tmp_path / "in.jsonl", [
        {"id": 7, "text": TEXT},
        {"id": 7.0, "text": TEXT},
        {"id": {"a": 1}, "text": TEXT},
        {"id": "t", "text": 12},
        {"id": "n", "text": None},
        {"id": "ti", "title": ["x"], "text": TEXT},
        "3",
        "null",
    ])
    got = records(f)
    kinds = [(type(r).__name__, getattr(r, "id", None) or getattr(r, "error", "")) for r in got]
    assert kinds[0] == ("Article", "7") and kinds[1] == ("Article", "7")
    errors = [r.error for r in got if isinstance(r, Reject)]
    assert len(errors) == 6
    assert "id must be a string or a number" in errors[0]
    assert "text must be a string, got int" in errors[1]
    assert "missing text" in errors[2]
    assert "title must be a string" in errors[3]
    assert "JSON object" in errors[4] and "JSON object" in errors[5]


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_csv_with_other_delimiters_and_quoting(tmp_path: Path, delimiter: str) -> None:
    f = tmp_path / "in.csv"
    text = 'He said "no, never"; then left.\nSecond line, here.'
    quoted = '"' + text.replace('"', '""') + '"'
    f.write_text(f"id{delimiter}text\n1{delimiter}{quoted}\n2{delimiter}plain text about the weather\n", encoding="utf-8")
    got = records(f)
    assert [r.text for r in got if isinstance(r, Article)] == [text, "plain text about the weather"]


def test_input_file_that_disappears_mid_run(tmp_path: Path, tiny: dict[str, Path]) -> None:
    first = write_jsonl(tmp_path / "a.jsonl", [{"id": f"a{i}", "text": TEXT} for i in range(3)])
    second = write_jsonl(tmp_path / "b.jsonl", [{"id": "b0", "text": TEXT}])

    def vanish(_: int) -> None:
        second.unlink(missing_ok=True)

    fast = GenerationOptions(max_new_tokens=4, num_beams=1, no_repeat_ngram_size=0)
    options = RunOptions(summary_model=str(tiny["t5"]), translation_model=str(tiny["m2m100"]), to=("en",),
                         summary=fast, translation=fast, shard_size=1)
    out = tmp_path / "out"
    info = api.run([first, second], out, options, progress=vanish)
    assert info.exit_code == 1 and info.counts == {"ok": 3}
    rej = read(out, "rejects")
    assert rej["source"].to_list() == [str(second)] and "could not be read" in rej["error"][0]


def test_hostile_batch_end_to_end(tmp_path: Path, fast_args: list[str]) -> None:
    f = tmp_path / "in.jsonl"
    lines = [
        json.dumps({"id": "html", "text": "<p>" + TEXT + "</p>"}),
        json.dumps({"id": "ctl", "text": TEXT.replace(" ", " \u200b", 5) + "\x07"}),
        '{"id": "bad json"',
        json.dumps({"id": "emoji", "text": "🎉🎉🎉 🎈"}),
        json.dumps({"id": "digits", "text": "12 345 678, 90.1"}),
    ]
    f.write_bytes(("\n".join(lines) + "\n").encode() + b'{"id": "latin", "text": "d\xe9j\xe0 vu en ville ce matin"}\n')
    out = tmp_path / "out"
    res = invoke(["run", str(f), "--out", str(out), "--strip-html", *fast_args])
    assert res.exit_code == 1  # the malformed line is a reject
    arts = read(out, "articles")
    assert arts["id"].to_list() == ["html", "ctl", "emoji", "digits", "latin"]
    status = dict(zip(arts["id"], arts["status"], strict=True))
    assert status["html"] == "ok" and status["ctl"] == "ok"
    assert status["emoji"] == "skipped" and status["digits"] == "skipped"
    flags = dict(zip(arts["id"], arts["flags"].to_list(), strict=True))
    assert "html_stripped" in flags["html"] and "control_chars" in flags["ctl"] and any(f.startswith("decoded_from:") for f in flags["latin"])
    assert read(out, "rejects").height == 1
    assert pl.read_parquet(out / "translations").filter(pl.col("id") == "emoji").height == 0


# --- usage mistakes: logs, pipes, environment, exit codes ---------------------------------------

ROOT = Path(__file__).resolve().parents[2]


def run_cli(args: list[str], env: dict[str, str] | None = None, **kw: object) -> subprocess.CompletedProcess[bytes]:
    """The real console entry point in a subprocess: stderr is a pipe, not a terminal."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "summarize.cli", *args], cwd=ROOT, env=full_env,
                          capture_output=True, timeout=600, **kw)  # type: ignore[call-overload,no-any-return]


def json_lines(stderr: bytes) -> list[dict[str, object]]:
    lines = stderr.decode().splitlines()
    assert lines
    docs = [json.loads(line) for line in lines]  # every line parses, or this raises
    for doc in docs:
        assert str(doc["time"]).endswith("+00:00")
    return docs


def test_json_logs_are_only_json_lines(tmp_path: Path, fast_args: list[str]) -> None:
    f = write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "text": TEXT}, '{"id": broken', {"id": "b", "text": TEXT}])
    args = [a for a in fast_args if a != "--quiet"]
    res = run_cli(["run", str(f), "--out", str(tmp_path / "out"), *args, "--log-format", "json"])
    assert res.returncode == 1
    docs = json_lines(res.stderr)
    assert "%|" not in res.stderr.decode()  # no progress bar off a terminal
    closing = docs[-1]
    assert closing["counts"] == {"ok": 2} and closing["rejected"] == 1 and closing["exit_code"] == 1
    err = run_cli(["run", str(f), "--out", str(tmp_path / "o2"), *args, "--log-format", "json", "--to", "qq"])
    assert err.returncode == 2
    (doc,) = json_lines(err.stderr)
    assert doc["level"] == "error" and "qq" in str(doc["message"])
    env_err = run_cli(["run", str(f), "--out", str(tmp_path / "o3"), "--log-format", "json"], env={"SUMMARIZE_TO": ""})
    assert env_err.returncode == 2 and "SUMMARIZE_TO" in str(json_lines(env_err.stderr)[0]["message"])
    # Click's own usage errors (an unknown flag, a value of the wrong type) are JSON lines too.
    for bad in (["--bogus"], ["--beams", "x"]):
        usage = run_cli(["run", str(f), "--out", str(tmp_path / "o4"), "--log-format", "json", *bad])
        (doc,) = json_lines(usage.stderr)
        assert usage.returncode == 2 and doc["level"] == "error" and bad[0] in str(doc["message"])


def test_progress_is_logged_at_intervals_off_a_terminal(caplog: pytest.LogCaptureFixture) -> None:
    import io as stdio

    from summarize.cli.common import Progress

    class Tty(stdio.StringIO):
        def isatty(self) -> bool:
            return True

    pipe = stdio.StringIO()
    with caplog.at_level("INFO", logger="summarize.progress"):
        p = Progress(10, quiet=False, every_s=0.0, stream=pipe)
        p.update(4)
        p.close()
    assert pipe.getvalue() == "" and "progress: 4/10 records" in caplog.text
    tty = Tty()
    bar = Progress(10, quiet=False, stream=tty)
    bar.update(4)
    bar.close()
    assert "4/10" in tty.getvalue()


def test_stdout_output_counts_its_articles(tmp_path: Path, fast_args: list[str]) -> None:
    f = write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "text": TEXT}, {"id": "b", "text": TEXT}])
    res = run_cli(["run", str(f), "--out", "-", *[a for a in fast_args if a != "--quiet"]])
    assert res.returncode == 0 and len(res.stdout.splitlines()) == 2
    assert "2 ok" in res.stderr.decode() and "no articles" not in res.stderr.decode()


def test_closed_stdout_pipe_ends_quietly(tmp_path: Path) -> None:
    f = write_jsonl(tmp_path / "in.jsonl", [{"id": str(i), "text": TEXT} for i in range(3000)])
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "summarize.cli", "detect", str(f), "--out", "-"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # what `| head -1` does
    err = proc.stderr.read()
    assert proc.wait(timeout=300) == EXIT_PIPE
    assert json.loads(first)["id"] == "0" and err == b""


def test_environment_typos_warn_and_empty_values_fail(tmp_path: Path, fast_args: list[str]) -> None:
    from summarize.cli.app import build_default_map

    warnings: list[str] = []
    got = build_default_map(["run"], env={"SUMMARIZE_BEAMZ": "3", "SUMMARIZE_BEAMS": "2"}, cwd=tmp_path, warn=warnings.append)
    assert got["run"]["beams"] == "2"
    assert len(warnings) == 1 and "SUMMARIZE_BEAMZ" in warnings[0] and "SUMMARIZE_BEAMS" in warnings[0]
    with pytest.raises(UsageError, match="SUMMARIZE_TO is empty"):
        build_default_map(["run"], env={"SUMMARIZE_TO": ""}, cwd=tmp_path)
    f = write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "text": TEXT}])
    res = run_cli(["run", str(f), "--out", str(tmp_path / "out"), *fast_args], env={"SUMMARIZE_BEAMZ": "3"})
    assert res.returncode == 0 and "SUMMARIZE_BEAMZ" in res.stderr.decode()


def _options(tiny: dict[str, Path]) -> RunOptions:
    fast = GenerationOptions(max_new_tokens=4, num_beams=1, no_repeat_ngram_size=0)
    return RunOptions(summary_model=str(tiny["t5"]), translation_model=str(tiny["m2m100"]), to=("en",),
                      summary=fast, translation=fast, shard_size=2)


def test_signal_after_the_last_article_is_not_an_interruption(tmp_path: Path, tiny: dict[str, Path]) -> None:
    f = write_jsonl(tmp_path / "in.jsonl", [{"id": str(i), "text": TEXT} for i in range(4)])
    seen = [0]

    def term_on_last(n: int) -> None:
        seen[0] += n
        if seen[0] == 4:  # the last shard is done: the signal arrives with nothing left to do
            os.kill(os.getpid(), signal.SIGTERM)

    out = tmp_path / "out"
    info = api.run([f], out, _options(tiny), progress=term_on_last)
    assert info.interrupted is None and info.exit_code == 0
    assert json.loads((out / "run.json").read_text())["state"] == "done"
    assert read(out, "articles").height == 4


def test_resumed_run_exit_code_follows_the_output(tmp_path: Path, tiny: dict[str, Path]) -> None:
    # A malformed record in the first shard: the whole output has a reject, so every way of getting
    # to the complete output must exit 1, whether or not the run was stopped and resumed.
    recs: list[dict[str, object] | str] = ['{"id": broken', *({"id": str(i), "text": TEXT} for i in range(5))]
    f = write_jsonl(tmp_path / "in.jsonl", recs)
    assert api.run([f], tmp_path / "straight", _options(tiny)).exit_code == 1

    def term_once(_: int) -> None:
        if not (tmp_path / "sent").exists():
            (tmp_path / "sent").touch()
            os.kill(os.getpid(), signal.SIGTERM)

    out = tmp_path / "out"
    first = api.run([f], out, _options(tiny), progress=term_once)
    assert first.interrupted == "SIGTERM" and first.exit_code == 143
    again = api.run([f], out, _options(tiny), resume=True)
    assert again.interrupted is None and again.rejected == 1 and again.exit_code == 1
