"""Close language pairs on held-out text: how often each language is read as its neighbour.

Sets (none of them tuned on):

* Indonesian: the two held-out parts of `benchmarks/data/id-lingua.txt`, real web sentences from
  lingua's test data (its README has the split): `id` is data lines 1-149, `id-b` lines 488-888
  (copied after the split was fixed, never counted or fitted on); lines 150-487 are for tuning only;
* Malay, Croatian, Serbian, Czech, Slovak, Danish, Norwegian, Spanish, Portuguese: the held-out part
  of eld's big test (lines 501 onward of each language, as `benchmarks/langid.py` reads them).

Bosnian and Galician have no held-out sentences here (eld ships none); the detector never answers
either (langdetect has no profile for them), so their rows would only say that.

Each set is read four ways: sentence by sentence; as texts of 3 and of 5 consecutive sentences (one
paragraph, as a news paragraph of that many sentences); and as articles of four paragraphs of
consecutive sentences, about 75 words each (the shape of `benchmarks/langid.py`'s articles). Every
text goes through the real command, `summarize detect FILE --extract none --out -` (one process for
all of them; `--extract none` keeps the texts exactly as in the sets). Prints, per language and
unit, the share detected correctly and the share given to each close neighbour. Run from the
repository root, pinned to one core as the other benchmarks are:

    taskset -c 1 .venv/bin/python benchmarks/close_pairs.py [--per-lang 500] [--json FILE]

`--set NAME=LANG:FILE` (repeatable) reads another held-out set, one sentence a line, such as the
Indonesian and Malay news sentences described in `benchmarks/data/README.md` (not stored here);
`--only-sets` reads those alone.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.langid import ELD_TUNE, FOLD, eld_path  # noqa: E402

ID_SENTENCES = ROOT / "benchmarks" / "data" / "id-lingua.txt"
# Data lines (1-based, inclusive) of id-lingua.txt: the two held-out parts and the tuning part.
ID_HELDOUT = {"id": (1, 149), "id-b": (488, 888)}
ID_TUNE = (150, 487)
GROUPS = {"id": "ms", "ms": "id", "hr": "sr bs sl", "sr": "hr bs mk", "cs": "sk", "sk": "cs", "da": "no sv",
          "no": "da sv", "es": "pt gl ca", "pt": "es gl"}
UNITS = {"sentence": 1, "3 sentences": 3, "5 sentences": 5, "article": 0}
ARTICLE_PARAGRAPHS = 4
PARAGRAPH_WORDS = 75


def id_lines(first: int, last: int) -> list[str]:
    """Data lines `first` to `last` (1-based, inclusive) of id-lingua.txt."""
    lines = [line for line in ID_SENTENCES.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    return lines[first - 1 : last]


def eld_part(langs: set[str], part: str, per_lang: int) -> dict[str, list[str]]:
    """eld sentences of `langs`, in file order: the tuning part (lines 1-500) or the held-out one."""
    out: dict[str, list[str]] = defaultdict(list)
    seen: Counter[str] = Counter()
    with eld_path().open(encoding="utf-8") as fh:
        for line in fh:
            lang, _, text = line.rstrip("\n").partition("\t")
            if lang not in langs:
                continue
            seen[lang] += 1
            held = seen[lang] > ELD_TUNE
            if held == (part == "heldout") and len(out[lang]) < per_lang and text.strip():
                out[lang].append(text.replace("\ufffd", "").strip())
    return dict(out)


def sentences(per_lang: int, extra: list[str] = ()) -> dict[str, tuple[str, list[str]]]:
    """Each held-out set by name: its gold language and its sentences.

    `extra`: more sets as `NAME=LANG:FILE`, a file of one sentence a line (blank lines skipped).
    """
    out = {name: ("id", id_lines(*lines)) for name, lines in ID_HELDOUT.items()}
    for lang, texts in eld_part(set(GROUPS) - {"id"}, "heldout", per_lang).items():
        out[lang] = (lang, texts)
    for spec in extra:
        name, _, rest = spec.partition("=")
        lang, _, file = rest.partition(":")
        if not (name and lang in GROUPS and file):
            raise SystemExit(f"--set {spec!r}: expected NAME=LANG:FILE with LANG one of {' '.join(GROUPS)}")
        lines = Path(file).read_text(encoding="utf-8").splitlines()
        out[name] = (lang, [line.strip() for line in lines if line.strip()])
    return out


def texts_of(sentences: list[str], unit: int) -> list[str]:
    """The sentences as texts of `unit` consecutive sentences (0: four-paragraph articles)."""
    if unit:
        return [" ".join(sentences[i : i + unit]) for i in range(0, len(sentences) - unit + 1, unit)]
    paragraphs, current = [], []
    for sentence in sentences:
        current.append(sentence)
        if sum(len(s.split()) for s in current) >= PARAGRAPH_WORDS:
            paragraphs.append(" ".join(current))
            current = []
    whole = len(paragraphs) - len(paragraphs) % ARTICLE_PARAGRAPHS
    return ["\n\n".join(paragraphs[i : i + ARTICLE_PARAGRAPHS]) for i in range(0, whole, ARTICLE_PARAGRAPHS)]


def detect_all(texts: list[str]) -> list[str]:
    """The language `summarize detect` gives each text (one process for all)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "texts.jsonl"
        with path.open("w", encoding="utf-8") as fh:
            for i, text in enumerate(texts):
                fh.write(json.dumps({"id": f"t{i}", "text": text}, ensure_ascii=False) + "\n")
        env = dict(os.environ, HF_HUB_OFFLINE="1")
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
        cmd = [sys.executable, "-m", "summarize.cli", "detect", str(path), "--extract", "none", "--out", "-", "-q"]
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    rows = {row["id"]: row["lang"] for row in map(json.loads, proc.stdout.splitlines())}
    return [rows[f"t{i}"] for i in range(len(texts))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-lang", type=int, default=500, help="eld held-out sentences per language (at most 500)")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=LANG:FILE",
                        help="another held-out set: a file of one sentence a line in LANG (repeatable)")
    parser.add_argument("--only-sets", action="store_true", help="read only the --set files")
    args = parser.parse_args(argv)
    sets = sentences(args.per_lang, args.set)
    if args.only_sets:
        sets = {name: sets[name] for name in (spec.partition("=")[0] for spec in args.set)}
    jobs = [(name, gold, unit, text) for name, (gold, sents) in sets.items()
            for unit, size in UNITS.items() for text in texts_of(sents, size)]
    answers = detect_all([text for *_, text in jobs])
    got: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for (name, _, unit, _), lang in zip(jobs, answers, strict=True):
        got[name, unit][FOLD.get(lang, lang)] += 1
    result: dict[str, dict[str, object]] = {}
    print("| set | unit | texts | correct | read as a close neighbour |\n|---|---|---:|---:|---|")
    for name, gold, unit in dict.fromkeys((name, gold, unit) for name, gold, unit, _ in jobs):
        counts = got[name, unit]
        n = sum(counts.values())
        neighbours = {other: round(counts[other] / n, 4) for other in GROUPS[gold].split()}
        result.setdefault(name, {"lang": gold})[unit] = {
            "texts": n, "correct": round(counts[gold] / n, 4), "as_neighbour": neighbours
        }
        shown = ", ".join(f"{k} {100 * v:.1f}%" for k, v in neighbours.items())
        print(f"| {name} | {unit} | {n} | {100 * counts[gold] / n:.1f}% | {shown} |")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
