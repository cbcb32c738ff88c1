"""Benchmark language identification: each engine alone, our old detector, and the ensemble.

Two sets, each labelled in the output:

* `eld`: real web sentences that nobody here wrote: `eld/tests/data/big-test.txt` of the `eld`
  package (a `dev` dependency; 1,000 sentences for each of 60 languages, read from the installed
  package, nothing downloaded). For each language, its first 500 lines in the file are the
  TUNING part (the ensemble's weights and calibration were fitted on them) and lines 501-1,000
  the HELD-OUT part, which nothing was tuned on; `--split` chooses (held-out by default), and
  `--per-lang` how many of the part's sentences per language are read (from its start).
* `langid.tsv`: `benchmarks/data/langid.tsv`, sentences and short texts written for this project.

For every set it prints, per detector, per-language and mean accuracy on sentences, and on
two-word texts (the first two words of each sentence; for Chinese and Japanese, which are written
without spaces, the first five letters) the share correct and the share confidently wrong (wrong
with a score >= 0.9); then news-length articles per second of one core's CPU time. Detectors:
raw langdetect (seeded sampling, its top answer), raw fastText `lid.176` (top label), raw lingua
(top confidence), `old` (our detector on langdetect alone, the previous default) and `ensemble`
(the default); `--detectors ... ld+ft` adds the ensemble without lingua. Run from the repository root:

    .venv/bin/python benchmarks/langid.py [--per-lang 300] [--split heldout|tune] [--json FILE]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    # Run as a script from the repository root, the package need not be installed.
    sys.path.insert(0, str(ROOT))

from summarize.detect.detector import CONFIDENT, UND, Detector, langdetect_raw, make_detector  # noqa: E402
from summarize.detect.ensemble import _engine, _EnsembleEngine  # noqa: E402
from summarize.models.langcodes import normalise as normalise_code  # noqa: E402
from summarize.options import DetectOptions  # noqa: E402

LANGID_TSV = ROOT / "benchmarks" / "data" / "langid.tsv"
# The languages of samples/ and the close pairs the detector must tell apart (25).
ELD_LANGS = (
    "ar", "bg", "cs", "da", "de", "en", "es", "fa", "fr", "hr", "it", "ja", "ko", "ms", "nl", "no", "pl",
    "pt", "ru", "sk", "sr", "sv", "tr", "uk", "zh",
)  # fmt: skip
ELD_TUNE = 500  # per language, the first ELD_TUNE lines are the tuning part, the rest held out
# Nynorsk is Norwegian: the `no` sentences mix Bokmål and Nynorsk.
FOLD = {"nn": "no", "nb": "no"}
DETECTORS = ("langdetect", "fasttext", "lingua", "old", "ensemble")
# Not run by default: the ensemble without lingua (langdetect and fastText only).
EXTRA_DETECTORS = ("ld+ft",)
NO_SPACES = frozenset({"zh", "ja"})
# Timed on articles (raw langdetect and lingua take milliseconds an article, and are not candidates).
TIMED = ("fasttext", "old", "ld+ft", "ensemble")
PARAGRAPHS = 4
PARAGRAPH_WORDS = 75
PARAGRAPH_CHARS = 450  # for scripts written without spaces


@dataclass(frozen=True)
class Item:
    lang: str
    kind: str
    text: str


def eld_path() -> Path:
    """The `eld` package's test sentences, found without importing the package."""
    spec = importlib.util.find_spec("eld")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "tests" / "data" / "big-test.txt"
        if path.is_file():
            return path
    raise SystemExit("the eld package is not installed (it is in the dev extra): pip install -e '.[dev]'")


def read_eld(split: str, per_lang: int, langs: Iterable[str] = ELD_LANGS) -> list[Item]:
    """Sentences of one part of the eld set: per language, in file order, at most `per_lang`."""
    wanted = set(langs)
    seen: dict[str, int] = defaultdict(int)
    items = []
    with eld_path().open(encoding="utf-8") as f:
        for line in f:
            lang, _, text = line.rstrip("\n").partition("\t")
            if lang not in wanted or not text.strip():
                continue
            index = seen[lang]
            seen[lang] += 1
            in_part = index < ELD_TUNE if split == "tune" else index >= ELD_TUNE
            start = 0 if split == "tune" else ELD_TUNE
            if in_part and index - start < per_lang:
                items.append(Item(lang, "sentence", text.replace("\ufffd", "").strip()))
    return items


def read_tsv(path: Path) -> list[Item]:
    """Read the project's TSV (`lang<TAB>kind<TAB>text`, kind `sentence` or `short`)."""
    items = []
    with path.open(encoding="utf-8") as f:
        header = f.readline().rstrip("\r\n").split("\t")
        if header[:3] != ["lang", "kind", "text"]:
            raise SystemExit(f"{path}: expected the header lang<TAB>kind<TAB>text, got {header}")
        for number, line in enumerate(f, start=2):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            parts = line.split("\t", 2)
            if len(parts) != 3:
                raise SystemExit(f"{path}:{number}: expected 3 tab-separated fields")
            lang, kind, text = parts
            items.append(Item(normalise_code(lang), kind.strip().lower(), text))
    return items


def two_words(item: Item) -> Item:
    """The first two words of a sentence (the first five letters where words are not spaced)."""
    if item.lang in NO_SPACES:
        text = "".join(ch for ch in item.text if ch.isalpha())[:5]
    else:
        text = " ".join([w for w in item.text.split() if any(ch.isalpha() for ch in w)][:2])
    return Item(item.lang, "two-word", text)


def with_two_words(items: list[Item]) -> list[Item]:
    return items + [two_words(item) for item in items if item.kind == "sentence"]


@dataclass
class Tally:
    """Answers of one detector on one kind of item, per language."""

    total: dict[str, int]
    correct: dict[str, int]
    confident_wrong: dict[str, int]
    und: dict[str, int]

    @classmethod
    def empty(cls) -> Tally:
        return cls(defaultdict(int), defaultdict(int), defaultdict(int), defaultdict(int))

    def add(self, gold: str, lang: str, score: float) -> None:
        lang = FOLD.get(lang, lang)
        self.total[gold] += 1
        if lang == gold:
            self.correct[gold] += 1
        elif lang == UND:
            self.und[gold] += 1
        elif score >= CONFIDENT:
            self.confident_wrong[gold] += 1

    def figures(self) -> dict[str, object]:
        langs = sorted(self.total)
        n = sum(self.total.values()) or 1
        accuracy = {lang: self.correct[lang] / self.total[lang] for lang in langs}
        return {
            "items": sum(self.total.values()),
            "mean_accuracy": sum(accuracy.values()) / (len(langs) or 1),
            "accuracy": accuracy,
            "correct_share": sum(self.correct.values()) / n,
            "confident_wrong_share": sum(self.confident_wrong.values()) / n,
            "und_share": sum(self.und.values()) / n,
        }


Answer = Callable[[str], tuple[str, float]]


def detectors(names: Iterable[str], seed: int) -> dict[str, Answer]:
    """Each detector as a function from text to (language, score)."""
    out: dict[str, Answer] = {}
    for name in names:
        if name == "langdetect":
            out[name] = lambda text: langdetect_raw(text, seed)
        elif name == "fasttext":
            model = _engine("fasttext")._model  # type: ignore[attr-defined]

            def fasttext_raw(text: str, model=model) -> tuple[str, float]:
                labels, probs = model.predict(" ".join(text.split()), k=1)
                return (normalise_code(labels[0].removeprefix("__label__")), float(probs[0])) if labels else (UND, 0.0)

            out[name] = fasttext_raw
        elif name == "lingua":
            lingua = _engine("lingua")

            def lingua_raw(text: str, lingua=lingua) -> tuple[str, float]:
                values = lingua._detector.compute_language_confidence_values(text)  # type: ignore[attr-defined]
                if not values or values[0].value <= 0.0:
                    return UND, 0.0
                return lingua._codes[values[0].language], float(values[0].value)  # type: ignore[attr-defined]

            out[name] = lingua_raw
        else:
            engine = {"old": "langdetect", "ld+ft": "ensemble"}.get(name, name)
            detector = make_detector(DetectOptions(engine=engine, seed=seed))
            if name == "ld+ft":
                detector = Detector(DetectOptions(engine=engine, seed=seed))
                ld, ft = _engine("langdetect"), _engine("fasttext")
                detector._engine = _EnsembleEngine(ld, ft, None)  # type: ignore[arg-type]

            def ours(text: str, detector=detector) -> tuple[str, float]:
                found = detector.detect(text)
                return found.lang, found.score

            out[name] = ours
    return out


def build_articles(items: Iterable[Item], per_lang: int, seed: int) -> list[tuple[str, str]]:
    """News-length articles per language: four paragraphs of sentences shuffled from the set."""
    by_lang: dict[str, list[str]] = defaultdict(list)
    for item in items:
        if item.kind == "sentence":
            by_lang[item.lang].append(item.text.strip())
    rng = random.Random(seed)
    articles = []
    for lang in sorted(by_lang):
        sentences = by_lang[lang]
        for _ in range(per_lang):
            order = sentences[:]
            rng.shuffle(order)
            paragraphs: list[str] = []
            current: list[str] = []
            position = 0
            while len(paragraphs) < PARAGRAPHS:
                current.append(order[position % len(order)])
                position += 1
                joined = " ".join(current)
                if len(joined.split()) >= PARAGRAPH_WORDS or len(joined) >= PARAGRAPH_CHARS:
                    paragraphs.append(joined)
                    current = []
            articles.append((lang, "\n\n".join(paragraphs)))
    return articles


def throughput(fn: Answer, articles: list[tuple[str, str]], warm_up: list[tuple[str, str]]) -> dict[str, float]:
    """Articles per second of this thread's CPU time (one core's), and the share correct.

    `warm_up` (other articles, one per language) is read first, untimed: profiles and models load
    once per process (lingua loads each language's model the first time it compares it), which a
    run of thousands of articles pays once.
    """
    for _, text in warm_up:
        fn(text)
    correct = 0
    cpu = time.process_time()
    for gold, text in articles:
        lang = fn(text)[0]
        correct += FOLD.get(lang, lang) == gold
    cpu = time.process_time() - cpu
    return {"articles_per_s": len(articles) / cpu, "accuracy": correct / len(articles)}


def evaluate(items: list[Item], answers: dict[str, Answer]) -> dict[str, dict[str, object]]:
    """Figures per kind of item and per detector."""
    tallies: dict[tuple[str, str], Tally] = defaultdict(Tally.empty)
    for item in items:
        for name, fn in answers.items():
            lang, score = fn(item.text)
            tallies[item.kind, name].add(item.lang, lang, score)
    kinds = sorted({kind for kind, _ in tallies}, key=("sentence", "two-word", "short").index)
    return {kind: {name: tallies[kind, name].figures() for name in answers} for kind in kinds}


def run(args: argparse.Namespace) -> dict[str, object]:
    answers = detectors(args.detectors, args.seed)
    sets: dict[str, list[Item]] = {}
    if args.set in ("all", "eld"):
        sets[f"eld-{args.split}"] = with_two_words(read_eld(args.split, args.per_lang))
    if args.set in ("all", "langid.tsv"):
        sets["langid.tsv"] = with_two_words(read_tsv(LANGID_TSV))
    result: dict[str, object] = {"seed": args.seed, "confident": CONFIDENT, "detectors": list(answers), "sets": {}}
    for name, items in sets.items():
        figures: dict[str, object] = dict(evaluate(items, answers))
        articles = build_articles(items, args.articles_per_lang, args.seed)
        warm_up = build_articles(items, 1, args.seed + 1)
        timed = {who: throughput(answers[who], articles, warm_up) for who in answers if who in TIMED}
        figures["articles"] = {
            "count": len(articles),
            "mean_words": sum(len(text.split()) for _, text in articles) / len(articles),
            # Other jobs on the machine slow every detector; the ratio to `old`, timed in the same
            # run, is what carries over to another machine.
            "load_average": os.getloadavg()[0],
            **timed,
        }
        result["sets"][name] = figures  # type: ignore[index]
    return result


def report(result: dict[str, object]) -> str:
    names = result["detectors"]
    assert isinstance(names, list)
    head = "".join(f"{name:>11}" for name in names)
    lines = []
    sets = result["sets"]
    assert isinstance(sets, dict)
    for set_name, figures in sets.items():
        for kind, by_name in figures.items():
            if kind == "articles":
                continue
            first = by_name[names[0]]
            lines += ["", f"[{set_name}] {kind} ({first['items']} items)", f"{'':<26}{head}"]
            if kind == "sentence":
                for lang in first["accuracy"]:
                    row = "".join(f"{by_name[n]['accuracy'][lang]:11.1%}" for n in names)
                    lines.append(f"  {lang + ' accuracy':<24}{row}")
            rows = (
                ("mean accuracy", "mean_accuracy"),
                ("correct", "correct_share"),
                (f"wrong, score >= {CONFIDENT}", "confident_wrong_share"),
                ("und", "und_share"),
            )
            for label, key in rows:
                lines.append(f"  {label:<24}" + "".join(f"{by_name[n][key]:11.1%}" for n in names))
        articles = figures["articles"]
        timed = [n for n in names if n in articles]
        lines += [
            "",
            f"[{set_name}] news-length articles ({articles['count']}, {articles['mean_words']:.0f} words)",
            f"{'':<26}" + "".join(f"{n:>11}" for n in timed),
        ]
        lines.append(
            f"  {'articles/s, one core':<24}" + "".join(f"{articles[n]['articles_per_s']:11.0f}" for n in timed)
        )
        lines.append(f"  {'accuracy':<24}" + "".join(f"{articles[n]['accuracy']:11.1%}" for n in timed))
        if "old" in articles:
            old = articles["old"]["articles_per_s"]
            lines.append(
                f"  {'speed / old':<24}" + "".join(f"{articles[n]['articles_per_s'] / old:11.2f}" for n in timed)
            )
        lines.append(f"  load average (1 min): {articles['load_average']:.1f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", choices=("all", "eld", "langid.tsv"), default="all", help="which set(s) to run")
    parser.add_argument("--split", choices=("heldout", "tune"), default="heldout", help="which part of the eld set")
    parser.add_argument("--per-lang", type=int, default=300, help="eld sentences per language (at most 500)")
    parser.add_argument("--detectors", nargs="+", choices=DETECTORS + EXTRA_DETECTORS, default=list(DETECTORS))
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--seed", type=int, default=0, help="seed for raw langdetect and for building articles")
    parser.add_argument("--articles-per-lang", type=int, default=20, help="news-length articles built per language")
    args = parser.parse_args(argv)
    result = run(args)
    print(report(result))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
