"""`summarize eval`: scores equal to the reference libraries' own, reference files in every shape, the command."""

from __future__ import annotations

import json
import os
from pathlib import Path
from statistics import fmean

import pytest

from summarize.errors import UsageError
from summarize.quality.evalfiles import read_references
from summarize.quality.evaluate import Hypothesis, Reference, bleu_tokenizer, evaluate, rouge_language

# (lang, [(hypothesis, reference), ...]): short news-like pairs, two or three per language.
FIXTURES: dict[str, list[tuple[str, str]]] = {
    "en": [
        ("The council approved the new budget for schools on Tuesday.", "On Tuesday the council approved a budget for new schools."),
        ("Floods forced thousands of people to leave their homes.", "Thousands of residents were forced from their homes by flooding."),
        ("The foxes jumped over fences.", "A fox jumps over the fence."),
    ],
    "de": [
        ("Der Bundestag hat das Gesetz am Freitag beschlossen.", "Am Freitag beschloss der Bundestag das neue Gesetz."),
        ("Die Preise für Energie steigen weiter.", "Energiepreise steigen weiter an."),
    ],
    "ru": [
        ("Президент провёл встречу с губернаторами регионов.", "Президент встретился с губернаторами нескольких регионов."),
        ("В Москве выпал первый снег.", "Первый снег выпал в Москве в понедельник."),
    ],
    "zh": [
        ("国家统计局公布前三季度经济数据。", "国家统计局发布了前三季度的经济数据。"),
        ("北京今天下了大雨。", "北京今天出现强降雨。"),
    ],
    "ja": [
        ("東京で大きな地震がありました。", "東京で強い地震が発生しました。"),
        ("政府は新しい経済対策を発表した。", "政府が経済対策を発表しました。"),
    ],
    "ko": [
        ("서울에서 큰 화재가 발생했습니다.", "서울 도심에서 화재가 발생했다."),
        ("정부는 새로운 경제 정책을 발표했다.", "정부가 경제 정책을 발표했습니다."),
    ],
    "th": [
        ("วันนี้ฝนตกหนักในกรุงเทพ", "ฝนตกหนักในกรุงเทพวันนี้"),
        ("รัฐบาลประกาศมาตรการใหม่", "รัฐบาลได้ประกาศมาตรการเศรษฐกิจใหม่"),
    ],
    "ar": [
        ("أعلنت الحكومة عن خطة جديدة للتعليم.", "الحكومة تعلن خطة جديدة لإصلاح التعليم."),
        ("ارتفعت أسعار النفط اليوم.", "ارتفاع أسعار النفط في تعاملات اليوم."),
    ],
    "hi": [
        ("मुंबई में भारी बारिश से उड़ानें रद्द हुईं।", "भारी बारिश के कारण मुंबई में कई उड़ानें रद्द।"),
        ("सरकार ने नई नीति की घोषणा की।", "सरकार ने नई आर्थिक नीति घोषित की।"),
    ],
    "tr": [
        ("İstanbul'da yeni otobüsler hizmete girdi.", "İstanbul'da yeni otobüsler sefere başladı."),
        ("Merkez Bankası faiz oranlarını artırdı.", "Merkez Bankası faizleri yükseltti."),
    ],
}

# What the scores must be computed with: the language names multilingual-rouge knows, and the
# sacrebleu tokenizers that need no download.
EXPECTED_ROUGE_LANG = {"en": "english", "de": "german", "ru": "russian", "zh": "chinese", "ja": "japanese",
                       "ko": None, "th": "thai", "ar": "arabic", "hi": "hindi", "tr": "turkish"}
EXPECTED_BLEU_TOK = {"en": "13a", "de": "13a", "ru": "13a", "zh": "zh", "ja": "ja-mecab", "ko": "ko-mecab",
                     "th": "char", "ar": "13a", "hi": "13a", "tr": "13a"}


def _reference_rouge(lang: str, pairs: list[tuple[str, str]]) -> dict[str, float]:
    """ROUGE straight from multilingual-rouge, configured as XL-Sum did (Japanese on UniDic Lite)."""
    import warnings

    from multilingual_rouge import rouge_scorer

    kwargs: dict = {"use_stemmer": True, "lang": EXPECTED_ROUGE_LANG[lang] or lang}
    if lang == "ja":
        import unidic_lite
        from fugashi import Tagger

        tagger = Tagger(f'-O wakati -b 50000 -d "{unidic_lite.DICDIR}" -r "{os.path.join(unidic_lite.DICDIR, "mecabrc")}"')
        kwargs["callable_tokenizer"] = lambda t: tagger.parse(t).split()
    if lang in ("en", "de", "ru", "ar"):
        from nltk.stem import SnowballStemmer

        kwargs["callable_stemmer"] = SnowballStemmer(EXPECTED_ROUGE_LANG[lang], ignore_stopwords=False).stem
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], **kwargs)
        scores = [scorer.score(ref, hyp) for hyp, ref in pairs]
    return {k: 100 * fmean(s[k].fmeasure for s in scores) for k in ("rouge1", "rouge2", "rougeL")}


def _inputs() -> tuple[list[Hypothesis], list[Reference]]:
    hyps, refs = [], []
    for lang, pairs in FIXTURES.items():
        for i, (hyp, ref) in enumerate(pairs):
            hyps.append(Hypothesis(f"{lang}-{i}", "summary", "summary", lang, hyp))
            refs.append(Reference(f"{lang}-{i}", "summary", None, ref))
    return hyps, refs


def test_language_settings() -> None:
    for lang in FIXTURES:
        assert rouge_language(lang) == EXPECTED_ROUGE_LANG[lang]
        assert bleu_tokenizer(lang) == EXPECTED_BLEU_TOK[lang]


def test_scores_equal_the_reference_libraries() -> None:
    from sacrebleu.metrics import BLEU, CHRF

    hyps, refs = _inputs()
    result = evaluate(hyps, refs)
    by_lang = {g.lang: g for g in result.groups if g.task == "summary"}
    assert result.scored == sum(len(p) for p in FIXTURES.values()) and result.missing == 0
    for lang, pairs in FIXTURES.items():
        g = by_lang[lang]
        expected = _reference_rouge(lang, pairs)
        assert (g.rouge1, g.rouge2, g.rougeL) == pytest.approx((expected["rouge1"], expected["rouge2"], expected["rougeL"]), abs=1e-9)
        h = [p[0] for p in pairs]
        r = [[p[1] for p in pairs]]
        assert g.chrf == pytest.approx(CHRF(word_order=2).corpus_score(h, r).score, abs=1e-9)
        assert g.bleu == pytest.approx(BLEU(tokenize=EXPECTED_BLEU_TOK[lang]).corpus_score(h, r).score, abs=1e-9)
        # Segmentation works: texts that share words score above zero in every script.
        assert g.rouge1 > 0
    overall = next(g for g in result.groups if g.lang == "all")
    langs = [by_lang[lang] for lang in FIXTURES]
    assert overall.rougeL == pytest.approx(fmean(g.rougeL for g in langs))  # type: ignore[misc]
    assert overall.chrf == pytest.approx(fmean(g.chrf for g in langs))  # type: ignore[misc]
    # Per article: the same ROUGE, sentence-level chrF++.
    first = next(a for a in result.articles if a.id == "en-0")
    assert first.rougeL == pytest.approx(_reference_rouge("en", FIXTURES["en"][:1])["rougeL"])
    assert first.chrf == pytest.approx(CHRF(word_order=2).sentence_score(FIXTURES["en"][0][0], [FIXTURES["en"][0][1]]).score)


def test_stemming_matches_inflected_english() -> None:
    result = evaluate([Hypothesis("a", "summary", "summary", "en", "The foxes jumped")], [Reference("a", "summary", None, "The fox jumps")])
    assert result.articles[0].rouge1 == pytest.approx(100.0)


def test_missing_failed_and_translations_are_counted() -> None:
    hyps = [
        Hypothesis("a", "summary", "summary", "de", "Der Bundestag beschloss das Gesetz."),
        Hypothesis("b", "summary", "summary", "de", None, status="error"),
        Hypothesis("a", "translation", "summary", "en", "The Bundestag passed the law."),
        Hypothesis("a", "translation", "title", "en", "Law passed"),
    ]
    refs = [
        Reference("a", "summary", None, "Der Bundestag hat das Gesetz beschlossen."),
        Reference("b", "summary", None, "Etwas anderes."),
        Reference("c", "summary", None, "Gibt es nicht."),
        Reference("a", "summary", "en", "The Bundestag has passed the law."),
    ]
    result = evaluate(hyps, refs)
    assert (result.scored, result.missing, result.without_reference) == (2, 2, 1)
    groups = {(g.task, g.field, g.lang): g for g in result.groups}
    assert groups[("summary", "summary", "de")].scored == 1 and groups[("summary", "summary", "de")].missing == 1
    assert groups[("summary", "summary", "und")].missing == 1
    assert groups[("translation", "summary", "en")].scored == 1
    assert sorted(result.missing_ids) == ["b", "c"]


# ---- reference files ----------------------------------------------------------------------


def _write(path: Path, rows: list[dict]) -> Path:
    import polars as pl

    df = pl.DataFrame(rows)
    if path.suffix == ".csv":
        df.write_csv(path)
    elif path.suffix == ".parquet":
        df.write_parquet(path)
    else:
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
def test_reference_formats_with_wide_columns(tmp_path: Path, suffix: str) -> None:
    rows = [
        {"id": "a", "summary": "Zusammenfassung A", "summary_en": "Summary A", "title_fr": "Titre A"},
        {"id": "b", "summary": "Zusammenfassung B", "summary_en": "", "title_fr": None},
    ]
    refs = read_references(_write(tmp_path / f"refs{suffix}", rows))
    got = sorted((r.id, r.field, r.lang or "", r.text) for r in refs)
    assert got == [
        ("a", "summary", "", "Zusammenfassung A"), ("a", "summary", "en", "Summary A"),
        ("a", "title", "fr", "Titre A"), ("b", "summary", "", "Zusammenfassung B"),
    ]


def test_long_table_and_custom_column(tmp_path: Path) -> None:
    long = _write(tmp_path / "long.jsonl", [
        {"id": "a", "field": "summary", "lang": "en", "text": "Summary A"},
        {"id": "a", "field": "title", "lang": "de", "text": "Titel A"},
    ])
    assert [(r.field, r.lang) for r in read_references(long)] == [("summary", "en"), ("title", "de")]
    custom = _write(tmp_path / "c.csv", [{"id": "a", "gold": "Gold A"}])
    assert [(r.field, r.lang, r.text) for r in read_references(custom, "gold")] == [("summary", None, "Gold A")]


def test_bad_reference_files_name_file_and_row(tmp_path: Path) -> None:
    f = _write(tmp_path / "r.jsonl", [{"id": "a", "summary": "x"}, {"id": None, "summary": "y"}])
    with pytest.raises(UsageError, match=r"r\.jsonl:2: reference without an id"):
        read_references(f)
    with pytest.raises(UsageError, match=r"no column 'gold'.*columns: id, summary"):
        read_references(f, "gold")
    g = _write(tmp_path / "g.csv", [{"key": "a", "summary": "x"}])
    with pytest.raises(UsageError, match="no id column 'id'"):
        read_references(g)
    h = _write(tmp_path / "h.csv", [{"id": "a", "body": "x"}])
    with pytest.raises(UsageError, match="no reference column"):
        read_references(h)


def test_outputs_are_read_from_partitioned_tables(tmp_path: Path) -> None:
    """`--partition-by lang` folders: the language comes from the path when the file lacks it."""
    import polars as pl

    from summarize.quality.evalfiles import read_hypotheses

    (tmp_path / "run.json").write_text(json.dumps({"run_id": "r"}), encoding="utf-8")
    part = tmp_path / "articles" / "lang=de" / "date=2026-10-14"
    part.mkdir(parents=True)
    pl.DataFrame({"id": ["a"], "summary": ["Der Rat tagte."], "status": ["ok"], "summary_tokens": [5]}).write_parquet(part / "p0.parquet")
    tpart = tmp_path / "translations" / "target_lang=en"
    tpart.mkdir(parents=True)
    pl.DataFrame({"id": ["a"], "field": ["summary"], "text": ["The council met."], "status": ["ok"]}).write_parquet(tpart / "p0.parquet")
    hyps = read_hypotheses(tmp_path)
    assert [(h.task, h.field, h.lang, h.text, h.tokens) for h in hyps] == [
        ("summary", "summary", "de", "Der Rat tagte.", 5), ("translation", "summary", "en", "The council met.", None),
    ]


def test_columns_that_name_no_language_are_not_references(tmp_path: Path) -> None:
    f = _write(tmp_path / "r.jsonl", [{"id": "a", "summary": "S", "summary_len": "12", "title_de": "T"}])
    assert sorted((r.field, r.lang or "") for r in read_references(f)) == [("summary", ""), ("title", "de")]
