"""Benchmark language identification: raw langdetect against `summarize.detect.Detector`.

Reads a TSV with the header `lang<TAB>kind<TAB>text` (kind is `sentence` or `short`) and prints,
for raw langdetect (seeded; its top answer and probability) and for our detector side by side,
accuracy per language and their mean, the share of confident wrong answers (wrong with a score
>= 0.9) and the share of `und`, separately for sentences and short items; then throughput in
articles per second on news-length articles (four paragraphs of about 75 words) built by joining
the dataset's sentences. Run from the repository root:

    .venv/bin/python benchmarks/langid.py [--data FILE] [--json FILE] [--engine lingua]
"""

from __future__ import annotations

import argparse
import json
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

from summarize.detect import CONFIDENT, UND, langdetect_raw, make_detector  # noqa: E402
from summarize.langcodes import normalise as normalise_code  # noqa: E402
from summarize.options import DetectOptions  # noqa: E402

DEFAULT_DATA = ROOT / "benchmarks" / "data" / "langid.tsv"
KINDS = ("sentence", "short")
PARAGRAPHS = 4
PARAGRAPH_WORDS = 75
PARAGRAPH_CHARS = 450  # for scripts written without spaces


@dataclass(frozen=True)
class Item:
    lang: str
    kind: str
    text: str


def read_items(path: Path) -> list[Item]:
    """Read the benchmark TSV; fields may be plain or CSV-quoted (quotes doubled inside)."""
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
            if len(text) >= 2 and text[0] == text[-1] == '"':
                text = text[1:-1].replace('""', '"')
            items.append(Item(normalise_code(lang), kind.strip().lower(), text))
    return items


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
        self.total[gold] += 1
        if lang == gold:
            self.correct[gold] += 1
        elif lang == UND:
            self.und[gold] += 1
        elif score >= CONFIDENT:
            self.confident_wrong[gold] += 1

    def accuracy(self, lang: str) -> float:
        return self.correct[lang] / self.total[lang] if self.total[lang] else 0.0

    def figures(self) -> dict[str, object]:
        langs = sorted(self.total)
        n = sum(self.total.values()) or 1
        return {
            "items": sum(self.total.values()),
            "mean_accuracy": sum(self.accuracy(lang) for lang in langs) / (len(langs) or 1),
            "accuracy": {lang: self.accuracy(lang) for lang in langs},
            "confident_wrong_share": sum(self.confident_wrong.values()) / n,
            "und_share": sum(self.und.values()) / n,
        }


def build_articles(items: Iterable[Item], per_lang: int, seed: int) -> list[tuple[str, str]]:
    """News-length articles per language: four paragraphs of sentences shuffled from the dataset."""
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
            paragraphs, current, position = [], [], 0
            while len(paragraphs) < PARAGRAPHS:
                current.append(order[position % len(order)])
                position += 1
                joined = " ".join(current)
                if len(joined.split()) >= PARAGRAPH_WORDS or len(joined) >= PARAGRAPH_CHARS:
                    paragraphs.append(joined)
                    current = []
            articles.append((lang, "\n\n".join(paragraphs)))
    return articles


def throughput(fn: Callable[[str], str], articles: list[tuple[str, str]]) -> dict[str, float]:
    """Articles per second (of CPU time, and of wall time) and the share answered correctly.

    Everything runs in this one thread, so CPU time is one core's time; unlike wall time it does
    not drop when other processes share the machine.
    """
    fn(articles[0][1])  # warm up: profiles and caches load once per process
    correct = 0
    cpu, wall = time.process_time(), time.perf_counter()
    for gold, text in articles:
        correct += fn(text) == gold
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {
        "articles_per_s": len(articles) / cpu,
        "articles_per_s_wall": len(articles) / wall,
        "accuracy": correct / len(articles),
    }


def run(path: Path, options: DetectOptions, per_lang: int) -> dict[str, object]:
    items = read_items(path)
    seed = options.seed
    detector = make_detector(options)
    tallies = {(kind, who): Tally.empty() for kind in KINDS for who in ("raw", "ours")}
    for item in items:
        if item.kind not in KINDS:
            continue
        raw_lang, raw_prob = langdetect_raw(item.text, seed)
        tallies[item.kind, "raw"].add(item.lang, raw_lang, raw_prob)
        found = detector.detect(item.text)
        tallies[item.kind, "ours"].add(item.lang, found.lang, found.score)
    articles = build_articles(items, per_lang, seed)
    result: dict[str, object] = {
        "data": str(path),
        "engine": detector.name,
        "seed": seed,
        "min_chars": options.min_chars,
        "min_score": options.min_score,
        "confident": CONFIDENT,
    }
    for kind in KINDS:
        result[kind] = {who: tallies[kind, who].figures() for who in ("raw", "ours")}
    if articles:
        words = sum(len(text.split()) for _, text in articles) / len(articles)
        result["articles"] = {
            "count": len(articles),
            "mean_words": words,
            "raw": throughput(lambda t: langdetect_raw(t, seed)[0], articles),
            "ours": throughput(lambda t: detector.detect(t).lang, articles),
        }
    return result


def report(result: dict[str, object]) -> str:
    lines = [
        f"data: {result['data']}  engine: {result['engine']}  seed: {result['seed']}"
        f"  min_chars: {result['min_chars']}  min_score: {result['min_score']}"
    ]
    for kind in KINDS:
        figures = result[kind]
        assert isinstance(figures, dict)
        raw, ours = figures["raw"], figures["ours"]
        if not raw["items"]:
            continue
        lines.append("")
        lines.append(f"{kind} ({raw['items']} items)      raw   ours")
        for lang in raw["accuracy"]:
            lines.append(f"  {lang:<8} accuracy      {raw['accuracy'][lang]:6.1%} {ours['accuracy'][lang]:6.1%}")
        lines.append(f"  mean accuracy          {raw['mean_accuracy']:6.1%} {ours['mean_accuracy']:6.1%}")
        lines.append(
            f"  wrong, score >= {result['confident']:.1f}   "
            f"{raw['confident_wrong_share']:6.1%} {ours['confident_wrong_share']:6.1%}"
        )
        lines.append(f"  und                    {raw['und_share']:6.1%} {ours['und_share']:6.1%}")
    articles = result.get("articles")
    if isinstance(articles, dict):
        raw, ours = articles["raw"], articles["ours"]
        lines.append("")
        lines.append(f"articles ({articles['count']}, {articles['mean_words']:.0f} words, 4 paragraphs)  raw   ours")
        lines.append(f"  articles/s (one core)  {raw['articles_per_s']:6.0f} {ours['articles_per_s']:6.0f}")
        lines.append(f"  articles/s (wall)      {raw['articles_per_s_wall']:6.0f} {ours['articles_per_s_wall']:6.0f}")
        lines.append(f"  accuracy               {raw['accuracy']:6.1%} {ours['accuracy']:6.1%}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the TSV to read (lang, kind, text)")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument(
        "--engine", default="langdetect", choices=("langdetect", "lingua"), help="our detector's engine"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for langdetect and for building articles")
    parser.add_argument("--min-chars", type=int, help="our detector's min_chars (default: DetectOptions')")
    parser.add_argument("--min-score", type=float, help="our detector's min_score (default: DetectOptions')")
    parser.add_argument("--articles-per-lang", type=int, default=20, help="news-length articles built per language")
    args = parser.parse_args(argv)
    if not args.data.exists():
        print(f"error: {args.data} does not exist", file=sys.stderr)
        return 2
    overrides = {
        key: value for key, value in (("min_chars", args.min_chars), ("min_score", args.min_score)) if value is not None
    }
    options = DetectOptions(engine=args.engine, seed=args.seed, **overrides)
    result = run(args.data, options, args.articles_per_lang)
    print(report(result))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
