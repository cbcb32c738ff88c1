"""Articles per second through `summarize.segment.segment` alone, on one core.

Synthetic news articles (about 300 words, 3 to 5 paragraphs) are built from a few sentences
per language, with abbreviations, quotes and decimals so that the slower paths run too.
Usage: python benchmarks/segment_speed.py [--articles N] [--repeat R] [--langs en,de,...]
The target is at least 1,000 articles per second per language.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from summarize.segment import segment

SENTENCES: dict[str, list[str]] = {
    "en": [
        "Dr. Smith told reporters in Washington that the U.S. economy grew 3.5 percent last year.",
        'He said: "Stop." Then he left the room without taking any questions.',
        "Prices of food and energy rose faster than wages in most regions of the country.",
        "The company, based in St. Louis, said it would hire 1,200 workers by Jan. 2025.",
        "Is this the end of the boom? Analysts at the bank do not think so.",
        "Mr. Jones and Mrs. Lee met at 9 a.m. on Monday to sign the agreement.",
    ],
    "de": [
        "Das kostet z. B. 1.000 Euro, sagte Dr. Müller am Montag in Berlin.",
        "Die Wirtschaft wuchs im 3. Quartal um 0,5 Prozent und damit stärker als erwartet.",
        "Er sagte: „Halt.“ Dann ging er ohne ein weiteres Wort aus dem Saal.",
        "Nach Angaben der Polizei wurden in der Nacht Nr. 5 und Nr. 7 der Straße geräumt.",
        "Die Regierung will das Gesetz noch vor der Sommerpause im Bundestag beschließen.",
    ],
    "fr": [
        "M. Dupont a déclaré lundi que la croissance atteindrait 3,5 % cette année.",
        "Il a dit : « Arrête. » Puis il est parti sans répondre aux questions.",
        "Le gouvernement veut présenter le projet de loi avant la fin du mois de juin.",
        "Les prix de l'énergie ont augmenté plus vite que les salaires dans la plupart des régions.",
    ],
    "ru": [
        "Он сказал: «Стой.» Потом ушёл, не ответив на вопросы журналистов.",
        "Рост экономики в прошлом году составил 3,5 процента, т. е. больше прогноза.",
        "Правительство намерено принять закон до конца весенней сессии.",
        "В 2020 г. в Москве построили больше жилья, чем когда-либо раньше.",
    ],
    "ar": [
        "قال الوزير إن الاقتصاد نما بنسبة 3.5 في المائة في العام الماضي.",
        "هل هذه نهاية الأزمة؟ لا يعتقد المحللون ذلك.",
        "قال: «توقف.» ثم غادر القاعة دون أن يجيب على الأسئلة.",
        "وأضاف أن الحكومة ستقدم مشروع القانون قبل نهاية الشهر المقبل.",
    ],
    "zh": [
        "国家统计局周一公布，去年经济增长了3.5%。",
        "他说：「停下。」然后他离开了会场。",
        "分析人士认为，这并不是危机的结束。",
        "你同意这个看法吗？很多专家并不同意！",
        "政府计划在下个月底之前提交这项法案。",
    ],
    "ja": [
        "政府は月曜日、昨年の経済成長率が3.5%だったと発表した。",
        "彼は「止まれ。」と言った。",
        "専門家は、これが危機の終わりではないと見ている。",
        "本当にそうでしょうか？多くの人は疑問を持っている。",
    ],
    "th": [
        "นายกรัฐมนตรีกล่าวว่า เศรษฐกิจจะเติบโต 3.5 เปอร์เซ็นต์ ในปีนี้",
        "ขณะที่ธนาคารกลางคาดว่าอัตราเงินเฟ้อจะลดลงในช่วงครึ่งหลังของปี",
        "รัฐบาลวางแผนที่จะเสนอร่างกฎหมายฉบับนี้ก่อนสิ้นเดือนหน้า",
        "นักวิเคราะห์หลายคนไม่เชื่อว่าวิกฤตจะจบลงเร็ว ๆ นี้",
    ],
}
# Rough characters per article of about 300 words in each script.
TARGET_CHARS = {"zh": 600, "ja": 650, "th": 1500}
NO_SPACE = {"zh", "ja"}


def make_article(rng: random.Random, lang: str) -> str:
    """One synthetic article of about 300 words in 3 to 5 paragraphs."""
    pool = SENTENCES[lang]
    target = TARGET_CHARS.get(lang, 1800)
    n_paras = rng.randint(3, 5)
    joiner = "" if lang in NO_SPACE else " "
    paras = []
    for _ in range(n_paras):
        sents: list[str] = []
        while sum(len(s) for s in sents) < target / n_paras:
            sents.append(rng.choice(pool))
        paras.append(joiner.join(sents))
    return "\n\n".join(paras)


def measure(lang: str, n_articles: int, repeat: int) -> tuple[float, float]:
    """Best articles/s over `repeat` passes, and the mean number of sentences per article."""
    rng = random.Random(lang)
    articles = [make_article(rng, lang) for _ in range(n_articles)]
    segment(articles[0], lang)  # warm caches outside the timing
    best = float("inf")
    n_sentences = 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        n_sentences = sum(len(segment(a, lang)) for a in articles)
        best = min(best, time.perf_counter() - t0)
    return n_articles / best, n_sentences / n_articles


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--langs", default=",".join(SENTENCES))
    args = parser.parse_args(argv)
    print(f"{'lang':<6}{'articles/s':>12}{'sentences/article':>20}")
    slowest = float("inf")
    for lang in args.langs.split(","):
        rate, per_article = measure(lang, args.articles, args.repeat)
        slowest = min(slowest, rate)
        print(f"{lang:<6}{rate:>12,.0f}{per_article:>20.1f}")
    print(f"slowest: {slowest:,.0f} articles/s (target >= 1,000)")
    return 0 if slowest >= 1000 else 1


if __name__ == "__main__":
    raise SystemExit(main())
