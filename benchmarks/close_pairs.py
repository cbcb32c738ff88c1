"""Close language pairs on held-out sentences: how often each language is read as its neighbour.

Sets (none of them tuned on):

* Indonesian: `benchmarks/data/id-lingua.txt`, its first 149 lines, real web sentences from
  lingua's test data (see the file's header; its remaining lines are for tuning only);
* Malay, Croatian, Serbian, Czech, Slovak, Danish, Norwegian, Spanish, Portuguese: the held-out part
  of eld's big test (lines 501 onward of each language, as `benchmarks/langid.py` reads them).

Bosnian and Galician have no held-out sentences here (eld ships none), so their rows are absent.
Prints, per language, the share detected correctly and the share given to each close neighbour.
Run from the repository root:

    .venv/bin/python benchmarks/close_pairs.py [--per-lang 300] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.langid import ELD_TUNE, FOLD, eld_path  # noqa: E402
from summarize.detect.detector import make_detector  # noqa: E402
from summarize.options import DetectOptions  # noqa: E402

ID_HELDOUT = ROOT / "benchmarks" / "data" / "id-lingua.txt"
ID_HELDOUT_LINES = 149
GROUPS = {"id": "ms", "ms": "id", "hr": "sr bs sl", "sr": "hr bs mk", "cs": "sk", "sk": "cs", "da": "no sv",
          "no": "da sv", "es": "pt gl ca", "pt": "es gl"}


def sentences(per_lang: int) -> dict[str, list[str]]:
    lines = [line for line in ID_HELDOUT.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    out: dict[str, list[str]] = {"id": lines[:ID_HELDOUT_LINES]}
    seen: Counter[str] = Counter()
    with eld_path().open(encoding="utf-8") as fh:
        for line in fh:
            lang, _, text = line.rstrip("\n").partition("\t")
            if lang not in GROUPS:
                continue
            seen[lang] += 1
            if seen[lang] > ELD_TUNE and len(out.setdefault(lang, [])) < per_lang:
                out[lang].append(text)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-lang", type=int, default=300, help="eld held-out sentences per language")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    detector = make_detector(DetectOptions())
    result = {}
    print("| language | sentences | correct | read as a close neighbour |\n|---|---:|---:|---|")
    for lang, texts in sentences(args.per_lang).items():
        got = Counter(FOLD.get(d.lang, d.lang) for d in map(detector.detect, texts))
        n = len(texts)
        neighbours = {other: round(got[other] / n, 4) for other in GROUPS[lang].split()}
        result[lang] = {"sentences": n, "correct": round(got[lang] / n, 4), "as_neighbour": neighbours}
        shown = ", ".join(f"{k} {100 * v:.1f}%" for k, v in neighbours.items())
        print(f"| {lang} | {n} | {100 * got[lang] / n:.1f}% | {shown} |")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
