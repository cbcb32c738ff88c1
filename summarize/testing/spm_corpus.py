"""The text the tiny models' tokenizers are trained on, shipped inside the package.

The corpus lives in ``summarize/testing/corpus/`` (a copy of the repository's ``samples/*.jsonl``),
so a wheel install and a checkout train the same tokenizers and build identical models; editing
``samples/`` for a demo does not change the test models. A built-in set of sentences in every
script the tests use is always appended.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

# Cap on corpus characters: training stays well under a second even when a given corpus is large.
_MAX_CORPUS_CHARS = 2_000_000
MAX_LINE_CHARS = 1000
"""SentencePiece silently drops sentences over max_sentence_length bytes, so long paragraphs are cut."""

# A few news-style sentences per script so the tokenizers still cover Latin, Cyrillic, Arabic, CJK and
# Devanagari when a corpus is empty, and so sample sets that lack a script do not turn it into <unk>.
BUILTIN_CORPUS: tuple[str, ...] = (
    # English
    "The government announced a new plan on Tuesday to expand rail services across the northern region.",
    "Officials said the project would cost about two billion dollars and take five years to complete.",
    "Heavy rain caused flooding in several towns, forcing hundreds of families to leave their homes.",
    "The central bank kept interest rates unchanged, citing slowing inflation and a weaker labour market.",
    "Scientists reported that the glacier has lost nearly a third of its volume since 1990.",
    "The football club confirmed that its captain will miss the rest of the season with a knee injury.",
    # German
    "Die Regierung hat am Dienstag einen neuen Plan zum Ausbau des Schienennetzes im Norden vorgestellt.",
    "Nach Angaben der Polizei wurden bei dem Unfall auf der Autobahn drei Menschen leicht verletzt.",
    "Die Inflation ist im vergangenen Monat überraschend deutlich gesunken, teilte das Statistikamt mit.",
    "Der Stadtrat stimmte mit großer Mehrheit für den Bau einer neuen Brücke über den Fluss.",
    # French
    "Le gouvernement a présenté mardi un projet de loi visant à réformer le système des retraites.",
    "Selon la préfecture, plus de dix mille personnes ont manifesté samedi dans les rues de Lyon.",
    "Les prix de l'énergie ont fortement augmenté cet hiver, pesant sur le budget des ménages.",
    "L'équipe nationale s'est qualifiée pour la finale après une victoire difficile contre l'Espagne.",
    # Spanish
    "El Gobierno aprobó el martes un nuevo paquete de medidas para frenar la subida de los precios.",
    "Miles de personas se manifestaron en Madrid para pedir mejores condiciones laborales.",
    "La sequía ha reducido la cosecha de aceite de oliva a la mitad en el sur del país.",
    # Italian and Portuguese
    "Il governo italiano ha approvato una riforma della giustizia dopo mesi di trattative in parlamento.",
    "Le forti piogge hanno provocato frane e allagamenti in diverse province del nord.",
    "O governo brasileiro anunciou um novo programa de investimentos em energia solar e eólica.",
    "A inflação em Portugal caiu pelo terceiro mês consecutivo, segundo o instituto de estatística.",
    # Polish, Turkish, Dutch
    "Rząd zapowiedział w środę podwyżkę płacy minimalnej od początku przyszłego roku.",
    "Hükümet, deprem bölgesinde yeni konutların inşasına önümüzdeki ay başlanacağını açıkladı.",
    "De gemeenteraad heeft ingestemd met de bouw van duizend nieuwe woningen in het centrum.",
    # Russian, Ukrainian, Bulgarian (Cyrillic)
    "Правительство объявило во вторник о новом плане развития железных дорог на севере страны.",
    "По данным синоптиков, в ближайшие дни в столице ожидаются сильные морозы и снегопады.",
    "Центральный банк сохранил ключевую ставку без изменений, сославшись на замедление инфляции.",
    "Уряд оголосив про нову програму відновлення зруйнованих будинків і шкіл у східних областях.",
    "За даними метеорологів, наступного тижня в Києві очікується значне потепління.",
    "Правителството одобри нов бюджет, който предвижда повече средства за образование.",
    # Arabic and Persian (Arabic script)
    "أعلنت الحكومة يوم الثلاثاء عن خطة جديدة لتوسيع شبكة السكك الحديدية في شمال البلاد.",
    "قال مسؤولون إن المشروع سيكلف نحو ملياري دولار ويستغرق خمس سنوات لإنجازه.",
    "تسببت الأمطار الغزيرة في فيضانات في عدة مدن وأجبرت مئات العائلات على مغادرة منازلها.",
    "دولت روز سه‌شنبه طرح تازه‌ای برای گسترش حمل و نقل عمومی در تهران اعلام کرد.",
    # Chinese, Japanese, Korean (CJK)
    "政府星期二宣布了一项扩大北部地区铁路服务的新计划。",
    "官员表示，该项目将耗资约二十亿美元，需要五年时间才能完成。",
    "暴雨导致多个城镇发生洪水，数百户家庭被迫离开家园。",
    "中央银行维持利率不变，理由是通货膨胀放缓和劳动力市场疲软。",
    "政府は火曜日、北部地域の鉄道網を拡大する新たな計画を発表した。",
    "大雨の影響で複数の町が浸水し、数百世帯が避難を余儀なくされた。",
    "정부는 화요일 북부 지역의 철도망을 확대하는 새로운 계획을 발표했다.",
    # Hindi and Marathi (Devanagari)
    "सरकार ने मंगलवार को उत्तरी क्षेत्र में रेल सेवाओं के विस्तार की नई योजना की घोषणा की।",
    "अधिकारियों ने कहा कि इस परियोजना पर लगभग दो अरब डॉलर खर्च होंगे और इसे पूरा होने में पांच साल लगेंगे।",
    "भारी बारिश के कारण कई शहरों में बाढ़ आ गई और सैकड़ों परिवारों को अपने घर छोड़ने पड़े।",
    "राज्य सरकारने शेतकऱ्यांसाठी नवीन कर्जमाफी योजना जाहीर केली आहे.",
)


def default_corpus_dir() -> Path:
    """Return the folder of the shipped training corpus, ``summarize/testing/corpus/``.

    It is package data found next to this module, never the working directory or a checkout's
    ``samples/``, so every install and every folder the tests run from trains on the same text.
    """
    return Path(__file__).resolve().parent / "corpus"


def load_corpus(corpus: Path | None = None) -> list[str]:
    """Return the tokenizer training lines for ``corpus`` (default: the shipped corpus).

    ``corpus`` is a folder, whose ``*.jsonl`` files contribute the ``title`` and ``text`` field of
    every record, or a single ``.jsonl`` or plain-text file.  Lines are cut to 1,000 characters and
    the total to two million, and the built-in multilingual corpus is always appended so every test
    script has pieces.  A ``corpus`` that does not exist raises ``FileNotFoundError``; so does a
    missing shipped corpus, which would otherwise silently train different tokenizers.
    """
    source = default_corpus_dir() if corpus is None else Path(corpus)
    if not source.exists():
        raise FileNotFoundError(f"corpus not found: {source}")
    files = sorted(source.glob("*.jsonl")) if source.is_dir() else [source]
    lines: list[str] = []
    budget = _MAX_CORPUS_CHARS
    for path in files:
        texts = _jsonl_texts(path) if path.suffix == ".jsonl" else _plain_texts(path)
        for line in _split_lines(texts):
            if budget <= 0:
                break
            lines.append(line)
            budget -= len(line)
    return lines + list(BUILTIN_CORPUS)



def _jsonl_texts(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8", errors="replace") as handle:
        for raw in handle:
            # A corpus file may be mid-edit (or hand-written); a broken line should not stop a build.
            try:
                record = json.loads(raw)
            except ValueError:
                continue
            if not isinstance(record, dict):
                continue
            for key in ("title", "text"):
                value = record.get(key)
                if isinstance(value, str):
                    yield value


def _plain_texts(path: Path) -> Iterator[str]:
    yield path.read_text(encoding="utf-8", errors="replace")


def _split_lines(texts: Iterable[str]) -> Iterator[str]:
    for text in texts:
        for line in text.splitlines():
            line = " ".join(line.split())
            for start in range(0, len(line), MAX_LINE_CHARS):
                yield line[start : start + MAX_LINE_CHARS]



def corpus_digest(lines: Sequence[str]) -> str:
    """SHA-256 of the training lines: part of each model's fingerprint, so a changed corpus rebuilds."""
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()
