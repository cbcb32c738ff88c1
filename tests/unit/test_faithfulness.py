"""Faithfulness flags on real-looking news in several languages and scripts."""

from __future__ import annotations

from decimal import Decimal

import pytest

from summarize.quality.faithfulness import check_summary, name_candidates, numbers

# (lang, source, faithful summary, unfaithful summary, the invented items)
CASES = [
    (
        "en",
        "The city council of Leeds approved a budget of £1,250,000 on Tuesday. Mayor Sarah Collins said 45% of "
        "the money would go to schools, and 3 new libraries would open by 2027.",
        "Leeds approved a £1.25 million budget; Mayor Sarah Collins said 45% goes to schools and 3 libraries open by 2027.",
        "Leeds approved a £1.75 million budget; Mayor Sarah Collins said 60% goes to schools, with help from Tony Blair.",
        {"1.75", "60", "Tony", "Blair"},
    ),
    (
        "de",
        "Der Bundestag hat am 14.10.2026 ein Paket von 2,5 Milliarden Euro beschlossen. 412 Abgeordnete stimmten "
        "dafür, 1.034 Kommunen sollen profitieren.",
        "Der Bundestag beschloss ein Paket von 2,5 Mrd. Euro; 412 Abgeordnete stimmten dafür, 1034 Kommunen profitieren.",
        "Der Bundestag beschloss ein Paket von 3,5 Mrd. Euro; 512 Abgeordnete stimmten dafür.",
        {"3,5", "512"},
    ),
    (
        "fr",
        "Le gouvernement d'Élisabeth Borne a annoncé à Marseille une hausse de 3,2 % du budget, soit 1 200 postes "
        "supplémentaires d'ici 2025.",
        "À Marseille, le gouvernement d'Élisabeth Borne annonce une hausse de 3,2 % et 1 200 postes d'ici 2025.",
        "À Lyon, le gouvernement annonce une hausse de 4,8 % et 1 500 postes.",
        {"Lyon", "4,8", "1 500"},
    ),
    (
        "ru",
        "Президент Владимир Путин провёл встречу в Москве с губернаторами 12 регионов. Расходы вырастут на 7,5%, "
        "сообщил Кремль.",
        "Путин встретился в Москве с губернаторами 12 регионов; Кремль сообщил о росте расходов на 7,5%.",
        "Путин встретился в Казани с губернаторами 15 регионов.",
        {"Казани", "15"},
    ),
    (
        "ar",
        "أعلنت وزارة الصحة تسجيل ١٬٢٥٠ إصابة جديدة خلال ٢٤ ساعة، وارتفعت نسبة الشفاء إلى ٩٣٫٥٪.",
        "سجلت وزارة الصحة 1250 إصابة جديدة في 24 ساعة، ونسبة الشفاء 93.5٪.",
        "سجلت وزارة الصحة ١٬٨٠٠ إصابة جديدة في ٤٨ ساعة.",
        {"1\u202f800", "48"},
    ),
    (
        "fa",
        "بانک مرکزی اعلام کرد نرخ تورم در ماه گذشته به ۴۲٫۳ درصد رسید و ۱۵۰۰ میلیارد ریال تزریق شد.",
        "بانک مرکزی: تورم ماه گذشته ۴۲٫۳ درصد بود.",
        "بانک مرکزی: تورم ماه گذشته ۴۵ درصد بود.",
        {"45"},
    ),
    (
        "hi",
        "मुंबई में भारी बारिश से १२० उड़ानें रद्द हुईं और २५ लोगों की मौत हो गई।",
        "मुंबई में बारिश से 120 उड़ानें रद्द, 25 लोगों की मौत।",
        "मुंबई में बारिश से ३०० उड़ानें रद्द, २५ लोगों की मौत।",
        {"300"},
    ),
    (
        "zh",
        "国家统计局公布，今年前三季度国内生产总值同比增长５．２％，约为９１万亿元。",
        "前三季度GDP同比增长5.2%，约91万亿元。",
        "前三季度GDP同比增长6.1%，约91万亿元。",
        {"6.1"},
    ),
    (
        "el",
        "Ο πρωθυπουργός Κυριάκος Μητσοτάκης επισκέφθηκε τη Θεσσαλονίκη και ανακοίνωσε 850 νέες θέσεις εργασίας.",
        "Ο Μητσοτάκης ανακοίνωσε στη Θεσσαλονίκη 850 νέες θέσεις εργασίας.",
        "Ο Μητσοτάκης ανακοίνωσε στην Πάτρα 950 νέες θέσεις εργασίας.",
        {"Πάτρα", "950"},
    ),
    (
        "tr",
        "İstanbul Büyükşehir Belediyesi, Ekrem İmamoğlu'nun açıklamasına göre 2.300 yeni otobüs alacak.",
        "Ekrem İmamoğlu'na göre İstanbul 2300 yeni otobüs alacak.",
        "Ekrem İmamoğlu'na göre Ankara 4300 yeni otobüs alacak.",
        {"Ankara", "4300"},
    ),
]


@pytest.mark.parametrize(("lang", "source", "faithful", "unfaithful", "invented"), CASES, ids=[c[0] for c in CASES])
def test_faithful_summary_is_not_flagged(lang: str, source: str, faithful: str, unfaithful: str, invented: set[str]) -> None:
    result = check_summary(faithful, source, lang)
    assert result.flags == ()
    assert result.unsupported == ()


@pytest.mark.parametrize(("lang", "source", "faithful", "unfaithful", "invented"), CASES, ids=[c[0] for c in CASES])
def test_invented_figures_and_names_are_caught(lang: str, source: str, faithful: str, unfaithful: str, invented: set[str]) -> None:
    result = check_summary(unfaithful, source, lang)
    assert set(result.unsupported) == invented
    expect_flags = []
    if any(any(ch.isdigit() for ch in item) for item in invented):
        expect_flags.append("unsupported_number")
    if any(not any(ch.isdigit() for ch in item) for item in invented):
        expect_flags.append("unsupported_name")
    assert list(result.flags) == expect_flags


@pytest.mark.parametrize(
    ("written", "value"),
    [
        ("1,000", "1000"), ("1.000", "1000"), ("1 000", "1000"), ("1\u00a0000", "1000"), ("1'000", "1000"),
        ("١٬٠٠٠", "1000"), ("۱۰۰۰", "1000"), ("१०००", "1000"), ("１，０００", "1000"), ("১০০০", "1000"),
        ("1,234.5", "1234.5"), ("1.234,5", "1234.5"), ("3,5", "3.5"), ("٣٫٥", "3.5"), ("12 345 678", "12345678"),
    ],
)
def test_figures_are_read_across_digit_scripts_and_separators(written: str, value: str) -> None:
    (found,) = numbers(written)
    assert Decimal(value) in found[1]


def test_ambiguous_separator_matches_either_reading() -> None:
    assert check_summary("Costs rose to 1.5 million.", "Costs rose to 1,500,000 dollars.").flags == ()
    assert check_summary("Es kamen 1.000 Menschen.", "Es kamen 1000 Menschen.", "de").flags == ()
    assert check_summary("It rose 2.5 percent.", "Il a augmenté de 2,5 %.").flags == ()


def test_scale_words_give_the_full_value() -> None:
    assert check_summary("The deal is worth 3 million euros.", "The deal is worth €3,000,000.").flags == ()
    assert check_summary("Сделка на 3 млн рублей.", "Сумма сделки составила 3 000 000 рублей.", "ru").flags == ()
    assert check_summary("投资3万元。", "投资30000元。", "zh").flags == ()
    assert check_summary("The deal is worth 4 million euros.", "The deal is worth €3,000,000.").flags == ("unsupported_number",)


def test_date_parts_are_checked_one_by_one() -> None:
    source = "The summit opened on 14.10.2026 in Oslo."
    assert check_summary("The summit opened on 14.10.2026.", source).flags == ()
    assert check_summary("The summit opened on 15.10.2026.", source).unsupported == ("15",)


def test_names_are_judged_only_where_case_marks_them() -> None:
    # German capitalises every noun: no name check.
    assert name_candidates("Die Regierung hat die Steuer gesenkt.", "de") == []
    # Scripts without case: nothing is a name candidate.
    assert name_candidates("习近平在北京会见了拜登。", "zh") == []
    assert name_candidates("التقى الرئيس بايدن في القاهرة", "ar") == []
    # Sentence-initial words are skipped; apostrophes and hyphens split.
    assert name_candidates("Police said Jean-Pierre visited l'Élysée. Officials agreed.", "fr") == ["Jean", "Pierre", "Élysée"]


def test_inflected_names_match_their_source_form() -> None:
    assert check_summary("Встреча с Путиным прошла в Минске.", "Владимир Путин прибыл в Минск.", "ru").flags == ()
    assert check_summary("Kokous pidettiin Helsingissä.", "Kokous pidettiin Helsinki-hallissa.", "fi").flags == ()
    assert check_summary("Kokous pidettiin Tampereella.", "Kokous pidettiin Helsinki-hallissa.", "fi").flags == ("unsupported_name",)


def test_empty_summary_is_faithful() -> None:
    assert check_summary(None, "anything 42").flags == ()
    assert check_summary("   ", "anything 42").unsupported == ()


def test_dotted_abbreviations_support_undotted_ones() -> None:
    source = "Officials from the U.S. and the E.U. met in Geneva."
    assert check_summary("Officials from the US and the EU met in Geneva.", source, "en").flags == ()
    assert check_summary("Officials from the UK met in Geneva.", source, "en").unsupported == ("UK",)


def test_acronyms_of_spelled_out_names_are_supported() -> None:
    source = "The European Central Bank and the Bank of England raised rates."
    assert check_summary("Rates rose at the ECB and the BoE.", source, "en").flags == ()
    assert check_summary("Rates rose at the ECB and the IMF.", source, "en").unsupported == ("IMF",)


def test_latin_words_in_text_of_an_uncased_script_are_not_judged() -> None:
    assert name_candidates("前三季度GDP同比增长5.2%，NHK报道。", "zh") == []
    assert name_candidates("新しいICカードで管理する。", None) == []


def _sentences(text: str) -> list[str]:
    import re

    return [s for s in re.split(r"(?<=[.!?])\s+|(?<=[。！？])", text) if s.strip()]


def test_sample_articles_extracts_pass_and_swapped_summaries_are_caught() -> None:
    """On samples/ (14 languages): sentences taken from the article are faithful; the opening of
    another article in the same language, checked against this one, is not."""
    from tests.conftest import sample_articles

    rows = sample_articles()
    for r in rows:
        source = f"{r.get('title') or ''}\n{r['text']}"
        sents = _sentences(r["text"])
        for k in range(0, len(sents), 2):
            assert check_summary(" ".join(sents[k:k + 2]), source, r["id"][:2]).flags == (), (r["id"], k)
    by_lang: dict[str, list[dict]] = {}
    for r in rows:
        by_lang.setdefault(r["id"][:2], []).append(r)
    pairs = [(rs[0], rs[1]) for rs in by_lang.values() if len(rs) >= 2]
    assert len(pairs) >= 10
    for a, b in pairs:
        summary = " ".join(_sentences(a["text"])[:2])
        assert check_summary(summary, f"{b.get('title') or ''}\n{b['text']}", a["id"][:2]).flags, (a["id"], b["id"])
