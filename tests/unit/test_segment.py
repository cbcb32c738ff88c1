"""Tests for summarize.segment: paragraphs, sentences, offsets, reassembly and long-sentence splits."""

from __future__ import annotations

import random
import re
import subprocess
import sys
import unicodedata
from collections.abc import Callable

import pytest

from summarize.segment import NO_SPACE_LANGS, Sentence, reassemble, segment, split_long, split_paragraphs

_WS = re.compile(r"\s+")


def squash(text: str) -> str:
    return _WS.sub("", text)


def texts(text: str, lang: str | None) -> list[str]:
    return [s.text for s in segment(text, lang)]


def check_invariants(text: str, lang: str | None) -> list[Sentence]:
    """Everything that must hold for any input; returns the sentences for further checks."""
    sents = segment(text, lang)
    paras = split_paragraphs(text)
    assert [s.seg_index for s in sents] == list(range(len(sents)))
    prev_end = 0
    prev_para = 0
    for s in sents:
        assert s.text, "no empty sentences"
        assert s.text == s.text.strip()
        assert text[s.start : s.end] == s.text
        assert text[s.start : s.end].strip() == s.text
        assert s.start >= prev_end, "sentences are in order and do not overlap"
        assert s.para_index in (prev_para, prev_para + 1)
        p_start, p_end = paras[s.para_index]
        assert p_start <= s.start < s.end <= p_end
        prev_end, prev_para = s.end, s.para_index
    # Nothing but whitespace is lost or duplicated.
    assert squash("".join(s.text for s in sents)) == squash(text)
    assert squash(reassemble([(s.para_index, s.text) for s in sents], lang=lang)) == squash(text)
    if sents:
        assert sents[-1].para_index == len(paras) - 1
    return sents


# --------------------------------------------------------------------------- split_paragraphs


def test_split_paragraphs_blank_lines() -> None:
    text = "First para line one\nline two.\n\nSecond para.\n \t \n\n\nThird para."
    spans = split_paragraphs(text)
    assert [text[a:b] for a, b in spans] == ["First para line one\nline two.", "Second para.", "Third para."]


def test_split_paragraphs_single_newline_is_not_a_break() -> None:
    text = "Headline\nBody text. More text.\nAnd more."
    assert split_paragraphs(text) == [(0, len(text))]


def test_split_paragraphs_trims_and_skips_empty() -> None:
    text = "  \n\n  Para one.  \n\n\u3000\n\n Para two.\n  "
    spans = split_paragraphs(text)
    assert [text[a:b] for a, b in spans] == ["Para one.", "Para two."]


def test_split_paragraphs_crlf() -> None:
    text = "One.\r\nStill one.\r\n\r\nTwo.\r\n \r\nThree."
    assert [text[a:b] for a, b in split_paragraphs(text)] == ["One.\r\nStill one.", "Two.", "Three."]


@pytest.mark.parametrize("text", ["", " ", "\n\n", " \n \n\t"])
def test_split_paragraphs_empty(text: str) -> None:
    assert split_paragraphs(text) == []
    assert segment(text, "en") == []


# --------------------------------------------------------------------------- segment: languages

CASES: list[tuple[str | None, str, list[str]]] = [
    # English: abbreviations, quotes, decimals
    ("en", 'Dr. Smith went to the U.S. in 2020. He said: "Stop." Then he left.',
     ["Dr. Smith went to the U.S. in 2020.", 'He said: "Stop."', "Then he left."]),
    ("en", "The economy grew 3.5 percent. Mr. Jones and Ms. Lee met at 9 a.m. on Monday. They signed.",
     ["The economy grew 3.5 percent.", "Mr. Jones and Ms. Lee met at 9 a.m. on Monday.", "They signed."]),
    ("en", "The U.S. Army said so. Others disagreed.", ["The U.S. Army said so.", "Others disagreed."]),
    ("en", '"Is it over?" she asked. "No." He smiled.', ['"Is it over?" she asked.', '"No."', "He smiled."]),
    ("en", "It cost $1,000.50 in Jan. 2024. Really?! Yes.", ["It cost $1,000.50 in Jan. 2024.", "Really?!", "Yes."]),
    ("en", "1. First item. 2. Second item.", ["1. First item.", "2. Second item."]),
    # German: z. B., Nr., ordinals, 1.000, „…“
    ("de", "Das kostet z. B. 1.000 Euro. Danach ist Nr. 5 dran. Am 3. Okt. 2020 kam er.",
     ["Das kostet z. B. 1.000 Euro.", "Danach ist Nr. 5 dran.", "Am 3. Okt. 2020 kam er."]),
    ("de", "Er sagte: „Halt.“ Dann ging er. Im 20. Jahrhundert war es anders. Der 1. FC Köln gewann.",
     ["Er sagte: „Halt.“", "Dann ging er.", "Im 20. Jahrhundert war es anders.", "Der 1. FC Köln gewann."]),
    ("de", "Die Inflation lag bei 2,5 Prozent. Prof. Dr. Schmidt widersprach. Dipl.-Ing. Weber schwieg.",
     ["Die Inflation lag bei 2,5 Prozent.", "Prof. Dr. Schmidt widersprach.", "Dipl.-Ing. Weber schwieg."]),
    # French: « … », M., 3,5 %
    ("fr", "M. Dupont a dit : « Arrête. » Puis il est parti. La croissance est de 3,5 %. Mme Martin est d'accord.",
     ["M. Dupont a dit : « Arrête. »", "Puis il est parti.", "La croissance est de 3,5 %.", "Mme Martin est d'accord."]),
    # Spanish: ¿…? ¡…!, Sr., EE. UU., "no." as a word
    ("es", "¿Qué pasa? ¡Nada! El Sr. García llegó. Dijo que no. Luego se fue. Los EE. UU. crecieron un 3,5 %.",
     ["¿Qué pasa?", "¡Nada!", "El Sr. García llegó.", "Dijo que no.", "Luego se fue.", "Los EE. UU. crecieron un 3,5 %."]),
    # Russian: «…», т. е., initials
    ("ru", "Он сказал: «Стой.» Потом ушёл. Это, т. е. рост, составил 3,5 процента. В. В. Путин выступил.",
     ["Он сказал: «Стой.»", "Потом ушёл.", "Это, т. е. рост, составил 3,5 процента.", "В. В. Путин выступил."]),
    # Arabic (right to left): ؟ and ., «…», د. (doctor)
    ("ar", "هل أنت بخير؟ نعم، أنا بخير. قال: «توقف.» ثم غادر. ارتفع بنسبة 3.5 في المائة. د. محمد جاء.",
     ["هل أنت بخير؟", "نعم، أنا بخير.", "قال: «توقف.»", "ثم غادر.", "ارتفع بنسبة 3.5 في المائة.", "د. محمد جاء."]),
    # Hebrew (right to left): ד"ר is an abbreviation with a gershayim, not a quote
    ("he", 'שלום, מה שלומך? אני בסדר. ד"ר כהן אמר: "עצור." ואז הלך. המחיר עלה ב-3.5 אחוז.',
     ["שלום, מה שלומך?", "אני בסדר.", 'ד"ר כהן אמר: "עצור."', "ואז הלך.", "המחיר עלה ב-3.5 אחוז."]),
    ("he", 'צה"ל הודיע. ד"ר כהן אמר: "עצור." ואז הלך. ד"ר לוי שתק.',
     ['צה"ל הודיע.', 'ד"ר כהן אמר: "עצור."', "ואז הלך.", 'ד"ר לוי שתק.']),
    # Persian: ؟, Persian digits with a decimal point
    ("fa", "آیا خوبی؟ بله. قیمت ۳.۵ درصد افزایش یافت. او گفت: «بس است.» سپس رفت.",
     ["آیا خوبی؟", "بله.", "قیمت ۳.۵ درصد افزایش یافت.", "او گفت: «بس است.»", "سپس رفت."]),
    # Chinese: 。！？ without spaces, 「…」 and “…”, decimals
    ("zh", "今天天气很好。我们去公园吧！你同意吗？增长了3.5%。他说：「停下。」然后他走了。",
     ["今天天气很好。", "我们去公园吧！", "你同意吗？", "增长了3.5%。", "他说：「停下。」", "然后他走了。"]),
    ("zh", "他说：“我们会赢。”大家都笑了。价格为1.000元。", ["他说：“我们会赢。”", "大家都笑了。", "价格为1.000元。"]),
    # Japanese: 。 without spaces; a quote followed by と is one sentence
    ("ja", "今日は晴れです。公園に行きましょう！いいですか？彼は「止まれ。」と言った。価格は3.5%上昇した。",
     ["今日は晴れです。", "公園に行きましょう！", "いいですか？", "彼は「止まれ。」と言った。", "価格は3.5%上昇した。"]),
    ("ja", "彼は「本当ですか？」と聞いた。「はい。」それから去った。",
     ["彼は「本当ですか？」と聞いた。", "「はい。」", "それから去った。"]),
    # Hindi: danda, डॉ.
    ("hi", "आज मौसम अच्छा है। क्या हम पार्क चलें? हाँ! डॉ. शर्मा ने कहा कि विकास 3.5 प्रतिशत रहा।",
     ["आज मौसम अच्छा है।", "क्या हम पार्क चलें?", "हाँ!", "डॉ. शर्मा ने कहा कि विकास 3.5 प्रतिशत रहा।"]),
    # Turkish: Dr., Doç., 3,5 and 1.000
    ("tr", "Dr. Yılmaz geldi. Büyüme yüzde 3,5 oldu. Ankara'da 1.000 kişi toplandı. Doç. Dr. Ali konuştu.",
     ["Dr. Yılmaz geldi.", "Büyüme yüzde 3,5 oldu.", "Ankara'da 1.000 kişi toplandı.", "Doç. Dr. Ali konuştu."]),
    # Korean: a quote followed by the particle 라고 is one sentence
    ("ko", '그는 "멈춰."라고 말했다. 그리고 떠났다. 성장률은 3.5%였다.',
     ['그는 "멈춰."라고 말했다.', "그리고 떠났다.", "성장률은 3.5%였다."]),
    # Lower-case continuation after an abbreviation the library does not know
    ("pl", "Dr Kowalski przyszedł, tj. wczoraj. Dobrze.", ["Dr Kowalski przyszedł, tj. wczoraj.", "Dobrze."]),
    ("it", "Ha detto no. Poi è uscito. Il sig. Rossi è arrivato.",
     ["Ha detto no.", "Poi è uscito.", "Il sig. Rossi è arrivato."]),
    # Khmer khan (។)
    ("km", "សួស្តី។ សុខសប្បាយទេ?", ["សួស្តី។", "សុខសប្បាយទេ?"]),
    # Unknown language: every script's terminators still work
    (None, "Hello there. 你好。再见。 مرحبا؟ नमस्ते। Bye.", ["Hello there.", "你好。", "再见。", "مرحبا؟", "नमस्ते।", "Bye."]),
    ("und", "Dr. Smith came. He left.", ["Dr. Smith came.", "He left."]),
]  # fmt: skip


@pytest.mark.parametrize(("lang", "text", "expected"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_segment_languages(lang: str | None, text: str, expected: list[str]) -> None:
    assert texts(text, lang) == expected
    check_invariants(text, lang)


def test_thai_library_does_not_split_spaces() -> None:
    # Canary: sentencex leaves Thai alone (it has no sentence punctuation), which is why
    # segment() splits Thai at spaces itself. If this fails, revisit _thai_spans.
    import sentencex

    text = "วันนี้อากาศดีมาก เราไปสวนสาธารณะกันเถอะ คุณเห็นด้วยไหม"
    assert sentencex.segment("th", text) == [text]


def test_thai_splits_at_spaces_between_phrases() -> None:
    text = (
        "นายกรัฐมนตรีกล่าวว่า เศรษฐกิจจะเติบโต 3.5 เปอร์เซ็นต์ ในปีนี้ "
        "ขณะที่ธนาคารกลางคาดว่าอัตราเงินเฟ้อจะลดลงในช่วงครึ่งหลังของปี "
        "รัฐบาลวางแผนที่จะเสนอร่างกฎหมายฉบับนี้ก่อนสิ้นเดือนหน้า"
    )
    got = texts(text, "th")
    assert got == [
        "นายกรัฐมนตรีกล่าวว่า เศรษฐกิจจะเติบโต 3.5 เปอร์เซ็นต์ ในปีนี้",
        "ขณะที่ธนาคารกลางคาดว่าอัตราเงินเฟ้อจะลดลงในช่วงครึ่งหลังของปี",
        "รัฐบาลวางแผนที่จะเสนอร่างกฎหมายฉบับนี้ก่อนสิ้นเดือนหน้า",
    ]
    check_invariants(text, "th")


def test_thai_short_text_stays_whole_and_punctuation_splits() -> None:
    assert texts("วันนี้อากาศดี คุณสบายดีไหม", "th") == ["วันนี้อากาศดี คุณสบายดีไหม"]
    assert texts('เขาถามว่า "จริงหรือ?" แล้วก็เดินไป', "th") == ['เขาถามว่า "จริงหรือ?"', "แล้วก็เดินไป"]
    # The space rule is about the script, so it also applies when the language is unknown.
    assert len(texts("ขณะที่ธนาคารกลางคาดว่าอัตราเงินเฟ้อจะลดลงในช่วงครึ่งหลังของปี " * 3, None)) == 3


def test_single_newline_inside_paragraph() -> None:
    text = "The minister spoke\nfor an hour. Then she left.\nNobody asked."
    sents = check_invariants(text, "en")
    assert [s.text for s in sents] == ["The minister spoke\nfor an hour.", "Then she left.", "Nobody asked."]
    assert {s.para_index for s in sents} == {0}


def test_offsets_and_indices_across_paragraphs() -> None:
    text = "  First one. Second one.\n\n\nThird one!\n \nFourth? Fifth.  "
    sents = check_invariants(text, "en")
    assert [(s.para_index, s.seg_index, s.text) for s in sents] == [
        (0, 0, "First one."),
        (0, 1, "Second one."),
        (1, 2, "Third one!"),
        (2, 3, "Fourth?"),
        (2, 4, "Fifth."),
    ]
    assert text[sents[2].start : sents[2].end] == "Third one!"


@pytest.mark.parametrize("lang", ["EN", "en-US", "en_GB", "und", None, "", "xx", "zz-top"])
def test_language_codes_are_normalised(lang: str | None) -> None:
    assert texts("Dr. Smith came. He left.", lang) == ["Dr. Smith came.", "He left."]


def test_region_subtag_for_no_space_language() -> None:
    assert texts("你好。再见。", "zh-Hant") == ["你好。", "再见。"]


def test_no_break_and_other_unicode_spaces() -> None:
    # sentencex 1.0.32 panics on "A\u00a0." when given such text directly.
    text = "Il a dit\u00a0: «\u00a0Arrête\u00a0!\u00a0» Puis il est parti.\u2028Plan A\u00a0. Prices rose 3.5\u3000percent."
    sents = check_invariants(text, "fr")
    assert [s.text for s in sents][:2] == ["Il a dit\u00a0: «\u00a0Arrête\u00a0!\u00a0»", "Puis il est parti."]
    for lang in ("en", "de", None):
        check_invariants("A\u00a0. B\u2029. C\x85. D\u2003.", lang)


def test_unencodable_text_falls_back_to_one_sentence_per_paragraph() -> None:
    text = "Broken \ud800 text. Still here.\n\nNext para."
    sents = check_invariants(text, "en")
    assert [s.text for s in sents] == ["Broken \ud800 text. Still here.", "Next para."]


def test_sentence_is_frozen() -> None:
    s = segment("Hello.", "en")[0]
    assert s == Sentence(0, 0, "Hello.", 0, 6)
    with pytest.raises(AttributeError):
        s.text = "x"  # type: ignore[misc]


# --------------------------------------------------------------------------- round trip, property style

# Each entry is exactly one sentence, alone or next to any other entry of its list.
POOLS: dict[str, list[str]] = {
    "en": [
        "Dr. Smith told reporters in Washington that the U.S. economy grew 3.5 percent last year.",
        'He said: "Stop."',
        "Then he left the room without taking any questions.",
        "The company, based in St. Louis, said it would hire 1,200 workers by Jan. 2025.",
        "Is this the end of the boom?",
        "Mr. Jones and Ms. Lee met at 9 a.m. on Monday to sign the agreement.",
        '"We will win," she said.',
        "Prices rose!",
    ],
    "de": [
        "Das kostet z. B. 1.000 Euro, sagte Dr. Müller am Montag in Berlin.",
        "Die Wirtschaft wuchs im 3. Quartal um 0,5 Prozent.",
        "Er sagte: „Halt.“",
        "Nach Angaben der Polizei wurden Nr. 5 und Nr. 7 der Straße geräumt.",
        "Warum nicht?",
        "Der 1. FC Köln gewann am 3. Okt. mit 2:1.",
    ],
    "fr": [
        "M. Dupont a déclaré lundi que la croissance atteindrait 3,5 % cette année.",
        "Il a dit : « Arrête. »",
        "Puis il est parti sans répondre aux questions.",
        "Mme Martin, elle, n'était pas d'accord.",
        "Pourquoi maintenant ?",
    ],
    "es": [
        "¿Qué pasa?",
        "El Sr. García llegó a las 9 de la mañana.",
        "Los EE. UU. crecieron un 3,5 % en 2024.",
        "Dijo que no.",
        "¡Nada!",
        "Ella dijo: «Basta.»",
    ],
    "ru": [
        "Он сказал: «Стой.»",
        "Потом ушёл, не ответив на вопросы журналистов.",
        "Рост экономики составил 3,5 процента, т. е. больше прогноза.",
        "В 2020 г. в Москве построили больше жилья.",
        "В. В. Путин выступил в понедельник.",
    ],
    "ar": [
        "قال الوزير إن الاقتصاد نما بنسبة 3.5 في المائة في العام الماضي.",
        "هل هذه نهاية الأزمة؟",
        "قال: «توقف.»",
        "ثم غادر القاعة دون أن يجيب على الأسئلة.",
        "د. محمد جاء إلى المؤتمر.",
    ],
    "he": [
        "שלום, מה שלומך?",
        'ד"ר כהן אמר: "עצור."',
        "ואז הלך.",
        "המחיר עלה ב-3.5 אחוז.",
    ],
    "fa": [
        "آیا خوبی؟",
        "قیمت ۳.۵ درصد افزایش یافت.",
        "او گفت: «بس است.»",
        "سپس رفت.",
    ],
    "zh": [
        "国家统计局周一公布，去年经济增长了3.5%。",
        "他说：「停下。」",
        "然后他离开了会场。",
        "你同意这个看法吗？",
        "很多专家并不同意！",
        "价格为1.000元。",
    ],
    "ja": [
        "政府は月曜日、昨年の経済成長率が3.5%だったと発表した。",
        "彼は「止まれ。」と言った。",
        "専門家は、これが危機の終わりではないと見ている。",
        "本当にそうでしょうか？",
        "「はい。」",
    ],
    "hi": [
        "आज मौसम अच्छा है।",
        "क्या हम पार्क चलें?",
        "डॉ. शर्मा ने कहा कि विकास 3.5 प्रतिशत रहा।",
        "हाँ!",
    ],
    "tr": [
        "Dr. Yılmaz geldi.",
        "Büyüme yüzde 3,5 oldu.",
        "Ankara'da 1.000 kişi toplandı.",
        "Doç. Dr. Ali konuştu.",
        'O dedi ki: "Dur."',
    ],
    "ko": [
        '그는 "멈춰."라고 말했다.',
        "그리고 떠났다.",
        "성장률은 3.5%였다.",
    ],
}
# Thai has no sentence punctuation, so exact boundaries are not expected, only the invariants.
THAI = [
    "นายกรัฐมนตรีกล่าวว่า เศรษฐกิจจะเติบโต 3.5 เปอร์เซ็นต์ ในปีนี้",
    "ขณะที่ธนาคารกลางคาดว่าอัตราเงินเฟ้อจะลดลงในช่วงครึ่งหลังของปี",
    "รัฐบาลวางแผนที่จะเสนอร่างกฎหมายฉบับนี้ก่อนสิ้นเดือนหน้า",
    'เขาถามว่า "จริงหรือ?"',
    "ดีมาก",
]
SPACED_JOINERS = [" ", " ", " ", "  ", "\n", " \t"]
NO_SPACE_JOINERS = ["", "", "", " ", "\n"]
PARA_BREAKS = ["\n\n", "\n\n", "\n \n", "\r\n\r\n", "\n\n\n", "\n\t\n  "]


def build_text(rng: random.Random, pool: list[str], joiners: list[str]) -> tuple[str, list[list[str]]]:
    paras = [[rng.choice(pool) for _ in range(rng.randint(1, 6))] for _ in range(rng.randint(1, 5))]
    parts = [rng.choice(["", " ", "\n", "  \n"])]
    for i, para in enumerate(paras):
        if i:
            parts.append(rng.choice(PARA_BREAKS))
        parts.append(para[0])
        for sent in para[1:]:
            parts.append(rng.choice(joiners) + sent)
    parts.append(rng.choice(["", " ", "\n", "\n\n"]))
    return "".join(parts), paras


@pytest.mark.parametrize("lang", sorted(POOLS))
def test_round_trip_random_texts(lang: str) -> None:
    rng = random.Random(f"segment-{lang}")
    joiners = NO_SPACE_JOINERS if lang in NO_SPACE_LANGS else SPACED_JOINERS
    for _ in range(150):
        text, paras = build_text(rng, POOLS[lang], joiners)
        sents = check_invariants(text, lang)
        # The pools hold one sentence per entry, so the boundaries must come back exactly.
        got: list[list[str]] = []
        for s in sents:
            if s.para_index == len(got):
                got.append([])
            got[s.para_index].append(s.text)
        assert got == paras, text


def test_round_trip_thai() -> None:
    rng = random.Random("segment-th")
    for _ in range(150):
        text, _ = build_text(rng, THAI, [" ", " ", "  ", "\n"])
        check_invariants(text, "th")


def test_round_trip_mixed_scripts_unknown_language() -> None:
    rng = random.Random("segment-mixed")
    pool = [s for lang in ("en", "ar", "hi", "he", "ru") for s in POOLS[lang]]
    for _ in range(150):
        text, paras = build_text(rng, pool, SPACED_JOINERS)
        sents = check_invariants(text, None)
        assert len(sents) == sum(len(p) for p in paras), text


def test_round_trip_noise() -> None:
    # Arbitrary characters, punctuation and whitespace: only the invariants can be checked.
    rng = random.Random("segment-noise")
    alphabet = "ab AB.,;:!?。！？؟।«»“”\"'()「」 \n\t0123456789ใไกขค่้ 你好 مرح ။។ \u3000\u00a0-"
    for _ in range(400):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 120)))
        for lang in ("en", "de", "zh", "ja", "th", "ar", "es", None):
            check_invariants(text, lang)


# --------------------------------------------------------------------------- reassemble


def test_reassemble_spaces_and_paragraphs() -> None:
    pairs = [(0, "First."), (0, " Second. "), (1, "Third."), (2, "Fourth."), (2, "Fifth.")]
    assert reassemble(pairs, lang="en") == "First. Second.\n\nThird.\n\nFourth. Fifth."
    assert reassemble(pairs) == "First. Second.\n\nThird.\n\nFourth. Fifth."


@pytest.mark.parametrize("lang", ["zh", "ja", "th", "zh-Hant", "ZH"])
def test_reassemble_no_space_languages(lang: str) -> None:
    assert reassemble([(0, "你好。"), (0, "再见。"), (1, "好的。")], lang=lang) == "你好。再见。\n\n好的。"
    assert reassemble([(0, "สวัสดี"), (0, "ขอบคุณ")], lang=lang) == "สวัสดีขอบคุณ"


def test_reassemble_keeps_space_between_latin_pieces_in_no_space_language() -> None:
    assert reassemble(
        [(0, "苹果发布了新款iPhone 16。"), (0, "Apple said so."), (0, "OK."), (0, "好。")], lang="zh"
    ) == ("苹果发布了新款iPhone 16。Apple said so. OK.好。")


def test_reassemble_spaced_language_always_uses_spaces() -> None:
    assert reassemble([(0, "مرحبا؟"), (0, "نعم.")], lang="ar") == "مرحبا؟ نعم."
    assert reassemble([(0, "你好。"), (0, "再见。")], lang="en") == "你好。 再见。"


def test_reassemble_skips_empty_and_handles_empty_input() -> None:
    assert reassemble([]) == ""
    assert reassemble([(0, "  "), (0, "A."), (0, ""), (1, ""), (2, "B.")], lang="en") == "A.\n\nB."


def test_reassemble_inverts_segment() -> None:
    text = "Dr. Smith came. He left.\n\nThe end."
    sents = segment(text, "en")
    assert reassemble([(s.para_index, s.text) for s in sents], lang="en") == text
    zh = "你好。再见。\n\n好的。"
    assert reassemble([(s.para_index, s.text) for s in segment(zh, "zh")], lang="zh") == zh


# --------------------------------------------------------------------------- split_long


def words(text: str) -> int:
    return len(text.split())


def single_cluster(piece: str) -> bool:
    """Whether `piece` is one user-perceived character (base + combining marks, emoji ZWJ sequence)."""
    return all(
        unicodedata.category(c).startswith("M") or c == "\u200d" or piece[i - 1] == "\u200d"
        for i, c in enumerate(piece)
        if i
    )


def check_pieces(text: str, pieces: list[str], max_units: int, count: Callable[[str], int]) -> None:
    assert squash("".join(pieces)) == squash(text), "no text dropped or duplicated"
    for piece in pieces:
        assert piece and piece == piece.strip()
        # Only a single grapheme may exceed the limit: there is nothing smaller to cut to.
        assert count(piece) <= max_units or single_cluster(piece), piece


def test_split_long_fits_already() -> None:
    assert split_long("Short sentence.", 10, words) == ["Short sentence."]
    assert split_long("   ", 10, words) == []
    with pytest.raises(ValueError):
        split_long("text", 0, words)


def test_split_long_prefers_semicolon_then_colon_then_comma() -> None:
    text = "He said this, and that: one thing; another thing, and more, and more."
    assert split_long(text, 8, words) == ["He said this, and that: one thing;", "another thing, and more, and more."]
    text = "The list was long: apples, pears, plums, cherries, and grapes."
    assert split_long(text, 6, words) == ["The list was long:", "apples, pears, plums, cherries, and grapes."]
    text = "The list was long, apples and pears, plums and cherries, grapes and figs."
    assert split_long(text, 7, words) == [
        "The list was long, apples and pears,",
        "plums and cherries, grapes and figs.",
    ]


def test_split_long_falls_back_to_spaces() -> None:
    text = "one two three four five six seven eight nine ten"
    assert split_long(text, 4, words) == ["one two three four", "five six seven eight", "nine ten"]


def test_split_long_never_cuts_numbers() -> None:
    text = "Costs rose to 1,000 euros in the north, 2,500 euros in the south and 3:1 against the west"
    pieces = split_long(text, 30, len)
    check_pieces(text, pieces, 30, len)
    joined_cuts = {p[-1] for p in pieces[:-1]}
    assert all(not p.endswith(("1,", "2,", "3:")) for p in pieces), pieces
    assert joined_cuts


def test_split_long_no_space_script_cuts_anywhere() -> None:
    text = "今天天气很好我们去公园吧你同意吗" * 3
    pieces = split_long(text, 10, len)
    check_pieces(text, pieces, 10, len)
    assert all(len(p) == 10 for p in pieces[:-1])


def test_split_long_prefers_fullwidth_comma() -> None:
    text = "国家统计局周一公布，去年经济增长了百分之三点五，高于预期"
    assert split_long(text, 15, len) == ["国家统计局周一公布，", "去年经济增长了百分之三点五，", "高于预期"]


def test_split_long_keeps_combining_marks_and_emoji_sequences() -> None:
    for text in ("ที่นี่มีน้ำ", "नमस्ते दुनिया", "family 👨\u200d👩\u200d👧 emoji"):
        pieces = split_long(text, 2, len)
        check_pieces(text, pieces, 2, len)
        for piece in pieces:
            assert not unicodedata.category(piece[0]).startswith("M"), pieces
            assert "\u200d" not in (piece[0], piece[-1]), pieces


def test_split_long_non_additive_count() -> None:
    # A tokenizer-like count where a piece costs more than the sum of its parts.
    def tokens(t: str) -> int:
        return len(t.encode()) // 4 + 2

    text = "Der Minister sagte am Montag, dass die Wirtschaft wachsen werde; die Opposition widersprach heftig."
    pieces = split_long(text, 10, tokens)
    check_pieces(text, pieces, 10, tokens)


def test_split_long_random() -> None:
    rng = random.Random("split-long")
    vocab = ["word", "Wort", "1,000", "3.5", "слово", "كلمة", "词语", "単語", "คำ", "शब्द", "x", "longerword"]
    seps = [" ", " ", " ", ", ", "; ", ": ", "，", "、", "；", "", "  "]
    counts: list[Callable[[str], int]] = [len, words, lambda t: len(t.encode()) // 3 + 1]
    for _ in range(500):
        text = "".join(rng.choice(vocab) + rng.choice(seps) for _ in range(rng.randint(1, 40)))
        count = rng.choice(counts)
        max_units = rng.randint(1, 30)
        pieces = split_long(text, max_units, count)
        check_pieces(text, pieces, max_units, count)
        # Consecutive pieces come from consecutive slices of the text, in order.
        pos = 0
        for piece in pieces:
            found = text.find(piece, pos)
            assert found >= 0 and not text[pos:found].strip(), (text, pieces)
            pos = found + len(piece)
        assert not text[pos:].strip()


# --------------------------------------------------------------------------- hygiene


def test_module_imports_no_heavy_dependencies() -> None:
    code = (
        "import sys, summarize.segment\n"
        "heavy = {'torch', 'polars', 'transformers', 'pysbd'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
