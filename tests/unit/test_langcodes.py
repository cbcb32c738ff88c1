from __future__ import annotations

import pytest

from summarize.errors import UnsupportedLanguageError
from summarize.models import langcodes
from summarize.models.langcodes import (
    FAMILIES,
    family_code,
    family_of,
    language_name,
    language_set,
    marian_target_token,
    normalise,
    supported,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("de", "de"),
        ("zh-cn", "zh"),
        ("zh-TW", "zh"),
        ("zh_Hant", "zh"),
        ("pt-BR", "pt"),
        ("EN_us", "en"),
        (" fr ", "fr"),
        ("iw", "he"),
        ("in", "id"),
        ("ji", "yi"),
        ("jw", "jv"),
        ("mo", "ro"),
        ("deu", "de"),
        ("ger", "de"),
        ("cmn", "zh"),
        ("fil", "tl"),
        ("swh", "sw"),
        ("nob", "nb"),
        ("nor", "no"),
        ("nb", "nb"),
        ("nn", "nn"),
        ("no", "no"),
        ("und", "und"),
        ("", "und"),
        ("pcm", "pcm"),
        ("ast", "ast"),
        ("yue", "yue"),
    ],
)
def test_normalise(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


@pytest.mark.parametrize(
    ("family", "lang", "code"),
    [
        ("m2m100", "de", "__de__"),
        ("m2m100", "nb", "__no__"),
        ("m2m100", "nso", "__ns__"),
        ("m2m100", "zh-cn", "__zh__"),
        ("mbart50", "de", "de_DE"),
        ("mbart50", "en", "en_XX"),
        ("mbart50", "pt-BR", "pt_XX"),
        ("mbart", "ja", "ja_XX"),
        ("nllb", "de", "deu_Latn"),
        ("nllb", "ar", "arb_Arab"),
        ("nllb", "zh", "zho_Hans"),
        ("nllb", "zh-TW", "zho_Hant"),
        ("nllb", "zh-Hant", "zho_Hant"),
        ("nllb", "no", "nob_Latn"),
        ("nllb", "nn", "nno_Latn"),
        ("nllb", "ast", "ast_Latn"),
        ("nllb", "yue", "yue_Hant"),
        ("nllb", "ace", "ace_Latn"),
        ("madlad", "de", "<2de>"),
        ("t5", "de", "German"),
        ("t5", "ro", "Romanian"),
        ("flan-t5", "sw", "Swahili"),
        ("mt0", "pa", "Punjabi"),
        ("marian", "fr", ">>fr<<"),
    ],
)
def test_family_code(family: str, lang: str, code: str) -> None:
    assert family_code(family, lang) == code
    assert normalise(lang) in supported(family) or family == "madlad"


@pytest.mark.parametrize(
    ("family", "lang"),
    [
        ("m2m100", "nn"),
        ("m2m100", "yue"),
        ("mbart50", "no"),
        ("mbart50", "am"),
        ("mbart", "pl"),  # mbart-large-cc25 has only the first 25 mBART-50 languages
        ("nllb", "la"),
        ("t5", "es"),
        ("flan-t5", "xx"),
        ("m2m100", "und"),
        ("madlad", "und"),
    ],
)
def test_family_code_unsupported(family: str, lang: str) -> None:
    with pytest.raises(UnsupportedLanguageError) as err:
        family_code(family, lang)
    assert repr(lang) in str(err.value)
    assert family in str(err.value)


def test_unsupported_error_names_language_family_and_model() -> None:
    with pytest.raises(UnsupportedLanguageError, match=r"'es' \(Spanish\).*t5-small.*t5 family"):
        family_code("t5", "es", model="t5-small")


def test_unknown_and_codeless_families() -> None:
    with pytest.raises(ValueError, match="unknown model family"):
        family_code("gpt", "de")
    with pytest.raises(ValueError, match="takes no language code"):
        family_code("mt5", "de")
    assert supported("bart") == frozenset()


def test_supported_sets() -> None:
    assert len(supported("mbart50")) == 52
    assert len(supported("mbart")) == 25
    assert supported("t5") == {"en", "de", "fr", "ro"}
    m2m = supported("m2m100")
    assert len(m2m) == 101  # 100 languages plus nb, which M2M100 writes as no
    assert {"de", "no", "nb", "ast", "nso"} <= m2m
    nllb = supported("nllb")
    assert {"de", "no", "nb", "nn", "zh", "yue", "ckb"} <= nllb
    assert all(len(c) in (2, 3) for c in nllb)
    assert supported("madlad") == frozenset()
    assert set(FAMILIES) >= {"marian", "m2m100", "mbart50", "nllb", "madlad", "t5", "flan-t5", "mt0"}


def test_language_sets() -> None:
    xlsum = language_set("xlsum")
    assert len(xlsum) == 43  # 45 XL-Sum configs: both Chinese and both Serbian ones share a code
    assert {"pcm", "zh", "sr", "ne", "en"} <= xlsum
    assert "np" not in xlsum
    langdetect = language_set("langdetect")
    assert "zh" in langdetect and "zh-cn" not in langdetect
    assert language_set("m2m100") == supported("m2m100")
    with pytest.raises(ValueError):
        language_set("nope")


def test_langdetect_code() -> None:
    assert langcodes.langdetect_code("zh-tw") == "zh"
    assert langcodes.langdetect_code("no") == "no"
    assert langcodes.langdetect_code("de") == "de"


def test_language_name() -> None:
    assert language_name("de") == "German"
    assert language_name("pt-BR") == "Portuguese"
    assert language_name("zh-cn") == "Chinese"
    assert language_name("yue") == "Yue Chinese"
    assert language_name("acm") == "Mesopotamian Arabic"  # parenthetical script notes are dropped
    assert language_name("und") == "Undetermined"
    with pytest.raises(UnsupportedLanguageError, match="xq"):
        language_name("xq")


def test_every_table_code_has_a_name() -> None:
    for family in ("m2m100", "mbart50", "nllb"):
        for code in supported(family):
            assert language_name(code)
    for code in language_set("xlsum") | language_set("langdetect"):
        assert language_name(code)


TATOEBA_ZH = [">>cmn<<", ">>cmn_Hans<<", ">>cmn_Hant<<", ">>yue_Hant<<", ">>lzh<<", "▁the", "</s>"]
TC_EN_PT = [">>por<<", ">>pob<<", "▁a"]
GROUP_ROMANCE = [">>fr<<", ">>es<<", ">>it<<", ">>pt<<", ">>pt_br<<", ">>ro<<"]
EN_SH = [">>bos_Latn<<", ">>hrv<<", ">>srp_Cyrl<<", ">>srp_Latn<<"]
EN_NO = [">>nob<<", ">>nno<<"]


@pytest.mark.parametrize(
    ("lang", "vocab", "token"),
    [
        ("zh", TATOEBA_ZH, ">>cmn_Hans<<"),
        ("zh-TW", TATOEBA_ZH, ">>cmn_Hant<<"),
        ("zh-Hant", TATOEBA_ZH, ">>cmn_Hant<<"),
        ("pt", TC_EN_PT, ">>por<<"),
        ("pt", GROUP_ROMANCE, ">>pt<<"),
        ("pt-BR", GROUP_ROMANCE, ">>pt_br<<"),
        ("fr", GROUP_ROMANCE, ">>fr<<"),
        ("sr", EN_SH, ">>srp_Cyrl<<"),
        ("sr-Latn", EN_SH, ">>srp_Latn<<"),
        ("hr", EN_SH, ">>hrv<<"),
        ("bs", EN_SH, ">>bos_Latn<<"),  # only a script variant exists
        ("no", EN_NO, ">>nob<<"),
        ("nb", EN_NO, ">>nob<<"),
        ("nn", EN_NO, ">>nno<<"),
    ],
)
def test_marian_target_token(lang: str, vocab: list[str], token: str) -> None:
    assert marian_target_token(lang, vocab) == token
    assert marian_target_token(lang, iter(vocab)) == token  # any iterable, read once


def test_marian_target_token_bilingual_and_missing() -> None:
    assert marian_target_token("de", ["▁Haus", "</s>", "<pad>"]) is None
    with pytest.raises(UnsupportedLanguageError, match=r"'de'.*opus-mt-en-ROMANCE"):
        marian_target_token("de", GROUP_ROMANCE, model="Helsinki-NLP/opus-mt-en-ROMANCE")


@pytest.mark.parametrize(
    ("model_type", "name", "family"),
    [
        ("t5", "t5-small", "t5"),
        ("t5", "google/flan-t5-base", "flan-t5"),
        ("t5", "google/madlad400-3b-mt", "madlad"),
        ("mt5", "csebuetnlp/mT5_multilingual_XLSum", "mt5"),
        ("mt5", "bigscience/mt0-base", "mt0"),
        ("mt5", "/models/mt0-small/", "mt0"),
        ("marian", "Helsinki-NLP/opus-mt-de-en", "marian"),
        ("m2m_100", "facebook/m2m100_418M", "m2m100"),
        ("m2m_100", "facebook/nllb-200-distilled-600M", "nllb"),
        ("nllb-moe", "facebook/nllb-moe-54b", "nllb"),
        ("mbart", "facebook/mbart-large-50-many-to-many-mmt", "mbart50"),
        ("mbart", "facebook/mbart-large-cc25", "mbart"),
        ("bart", "facebook/bart-large-cnn", "bart"),
        ("pegasus", "google/pegasus-xsum", "pegasus"),
        ("led", "allenai/led-base-16384", "seq2seq"),
    ],
)
def test_family_of(model_type: str, name: str, family: str) -> None:
    assert family_of(model_type, name) == family
    assert family in FAMILIES


def test_family_of_reads_only_the_last_path_component() -> None:
    # A parent folder's name must not decide the family.
    assert family_of("m2m_100", "/home/nllb-runs/m2m100_418M") == "m2m100"


# --- one language layer: every stage normalises through `langcodes` ------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("NO", "no"), ("Nb", "nb"), ("NN", "nn"), ("EN", "en"), ("De-AT", "de"), ("ZH-HANT", "zh"),
        ("zh-Hant", "zh"), ("zh-Hans-CN", "zh"), ("pt-BR", "pt"), ("PT_br", "pt"), ("yue", "yue"),
        ("YUE-Hant", "yue"), ("sr-Latn", "sr"), ("eng_Latn", "en"),
    ],
)  # fmt: skip
def test_normalise_tags_and_case(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # ISO 639-2/T and 639-3
        ("deu", "de"), ("fra", "fr"), ("zho", "zh"), ("cmn", "zh"), ("por", "pt"), ("spa", "es"),
        ("rus", "ru"), ("ara", "ar"), ("arb", "ar"), ("nld", "nl"), ("ces", "cs"), ("ell", "el"),
        ("fas", "fa"), ("pes", "fa"), ("msa", "ms"), ("zsm", "ms"), ("nob", "nb"), ("nno", "nn"),
        ("nor", "no"), ("swh", "sw"), ("ekk", "et"), ("DEU", "de"),
        # ISO 639-2/B (bibliographic)
        ("ger", "de"), ("fre", "fr"), ("chi", "zh"), ("dut", "nl"), ("cze", "cs"), ("gre", "el"),
        ("per", "fa"), ("may", "ms"), ("wel", "cy"), ("baq", "eu"),
        # no two-letter code: kept as ISO 639-3
        ("yue", "yue"), ("ast", "ast"), ("prs", "prs"),
    ],
)  # fmt: skip
def test_normalise_iso639_2_and_3(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("nb", "no", True), ("NB", "nn", True), ("no", "da", True), ("hr", "sr", True), ("bs", "sh", True),
        ("zh-Hant", "yue", True), ("zh", "cmn", True), ("id", "ms", True), ("fa", "prs", True),
        ("pt-BR", "por", True), ("ger", "de", True), ("de", "nl", False), ("nb", "sv", False),
        ("zh", "ja", False), ("sr", "ru", False),
    ],
)  # fmt: skip
def test_same_language(a: str, b: str, same: bool) -> None:
    assert langcodes.same_language(a, b) is same
    assert langcodes.same_language(b, a) is same


def test_macrolanguage_is_what_detectors_answer() -> None:
    assert langcodes.macrolanguage("nb") == "no"
    assert langcodes.macrolanguage("nob") == "no"
    assert langcodes.macrolanguage("yue") == "zh"
    assert langcodes.macrolanguage("nn") == "nn"
    assert langcodes.macrolanguage("de-AT") == "de"


CODES = ["nb", "NO", "nob", "yue", "zh-Hant", "ZH_tw", "pt-BR", "EN", "deu", "ger", "fre", "zho", "cmn", "iw"]


@pytest.mark.parametrize("code", CODES)
def test_options_routing_and_detection_agree(code: str) -> None:
    from summarize.models.langcodes import normalise as normalise_code
    from summarize.models.routing import detection_of
    from summarize.options import RunOptions
    from summarize.schema import Article

    expected = normalise(code)
    assert RunOptions(to=(code,)).to == (expected,)
    art = Article(id="a", row_index=0, source="-", line=1, text="Text.", lang=code)
    assert detection_of(art, detector=None).lang == expected  # type: ignore[arg-type]
    assert normalise_code(code) == expected


@pytest.mark.parametrize(
    ("code", "text"),
    [
        ("ZH-Hant", "今天下雨。明天會放晴。"),
        ("zho", "今天下雨。明天会放晴。"),
        ("deu", "Das kostet ca. 5 Euro. Er kam am 3. Mai an."),
        ("ger", "Das kostet ca. 5 Euro. Er kam am 3. Mai an."),
        ("PT-br", "O Sr. Silva chegou. Ele saiu."),
    ],
)
def test_segmentation_normalises_like_langcodes(code: str, text: str) -> None:
    from summarize.segment import reassemble, segment

    got = [s.text for s in segment(text, code)]
    assert got == [s.text for s in segment(text, normalise(code))]
    assert len(got) == 2
    pieces = [(0, s) for s in got]
    assert reassemble(pieces, code) == reassemble(pieces, normalise(code))


def test_guards_and_verify_use_the_close_groups() -> None:
    from summarize import guards
    from summarize.detect.detector import verify
    from summarize.options import DetectOptions
    from summarize.schema import Detection

    def flags(expected: str, found: str) -> list[str]:
        text = "Regjeringen la fram statsbudsjettet i dag, og opposisjonen kritiserte det."
        return guards.check(text, text, expected_lang=expected, detect=lambda _t: (found, 0.99),
                            ratio_bounds=guards.TRANSLATION_RATIO)

    assert guards.WRONG_LANGUAGE not in flags("nb", "no")
    assert guards.WRONG_LANGUAGE not in flags("NB", "da")
    assert guards.WRONG_LANGUAGE not in flags("zh-Hant", "yue")
    assert guards.WRONG_LANGUAGE in flags("nb", "de")
    opts = DetectOptions(verify_lang=True)
    assert not verify("nb", Detection("no", 0.99, (("no", 1.0),), "langdetect"), opts)
    assert not verify("yue", Detection("zh", 0.99, (("zh", 1.0),), "langdetect"), opts)
    # A given Bokmål article that the detector confidently finds German is a disagreement.
    assert verify("nb", Detection("de", 0.99, (("de", 1.0),), "langdetect"), opts)
