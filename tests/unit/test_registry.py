from __future__ import annotations

from pathlib import Path

import pytest

from summarize.errors import UnsupportedLanguageError, UsageError
from summarize.models.registry import (
    AUTO_FAMILY,
    IDENTITY_FAMILY,
    SUMMARIZATION,
    TRANSLATION,
    ModelInfo,
    Registry,
    Route,
)

XLSUM = "csebuetnlp/mT5_multilingual_XLSum"
BART = "facebook/bart-large-cnn"
MUL_EN = "Helsinki-NLP/opus-mt-mul-en"
M2M = "facebook/m2m100_418M"
NLLB = "facebook/nllb-200-distilled-600M"


@pytest.fixture(scope="module")
def reg() -> Registry:
    return Registry.load()


def _ids(route: Route) -> list[str]:
    return [m.id for m in route.models]


def test_shipped_registry(reg: Registry) -> None:
    by_id = {m.id: m for m in reg.models()}
    xlsum = by_id[XLSUM]
    assert xlsum.task == SUMMARIZATION and xlsum.family == "mt5" and xlsum.default
    assert xlsum.noncommercial and xlsum.allowed_by_default and xlsum.licence == "cc-by-nc-sa-4.0"
    assert len(xlsum.languages) == 43 and "pcm" in xlsum.languages
    assert by_id[BART].english_pivot and by_id[BART].languages == {"en"}
    assert by_id[MUL_EN].languages == frozenset() and by_id[MUL_EN].targets == {"en"}
    assert by_id[M2M].licence == "mit" and not by_id[M2M].noncommercial
    nllb = by_id[NLLB]
    assert nllb.noncommercial and not nllb.allowed_by_default and nllb.licence == "cc-by-nc-4.0"
    de_en = by_id["Helsinki-NLP/opus-mt-de-en"]
    assert de_en.family == "marian" and de_en.task == TRANSLATION and de_en.target_token == "no"
    assert by_id["Helsinki-NLP/opus-mt-tc-big-en-pt"].target_token == "required"
    # Priority: bilingual pairs, then mul-en, then M2M100, then NLLB.
    order = [m.id for m in reg.translation]
    assert order.index("Helsinki-NLP/opus-mt-de-en") < order.index(MUL_EN) < order.index(M2M) < order.index(NLLB)
    assert reg.get(NLLB) is nllb and reg.get("nope") is None


def test_opus_pairs_are_plain_iso_codes(reg: Registry) -> None:
    marian = [m for m in reg.translation if m.family == "marian" and m.id != MUL_EN]
    assert len(marian) > 700
    for m in marian:
        assert all(len(c) == 2 for c in m.languages | m.targets), m.id
        assert m.languages.isdisjoint(m.targets) or m.languages == {"no", "nb", "nn"}, m.id


def test_bilingual_opus_pair_preferred(reg: Registry) -> None:
    route = reg.translation_route("de", "fr")
    assert _ids(route) == ["Helsinki-NLP/opus-mt-de-fr"]
    step = route.steps[0]
    assert (step.task, step.source_lang, step.target_lang) == (TRANSLATION, "de", "fr")
    assert _ids(reg.translation_route("en", "de")) == ["Helsinki-NLP/opus-mt-en-de"]
    # The classic 2020 model comes before the tc-big one for the same pair.
    assert _ids(reg.translation_route("en", "fr")) == ["Helsinki-NLP/opus-mt-en-fr"]
    assert [m.id for m in reg.translation_candidates("en", "fr")][:3] == [
        "Helsinki-NLP/opus-mt-en-fr",
        "Helsinki-NLP/opus-mt-tc-big-en-fr",
        M2M,
    ]


def test_mul_en_into_english_without_bilingual_model(reg: Registry) -> None:
    # There is no opus-mt-kn-en; Kannada into English goes through the many-to-English model.
    assert _ids(reg.translation_route("kn", "en")) == [MUL_EN]
    assert _ids(reg.translation_route("ckb", "en")) == [MUL_EN]


def test_m2m100_otherwise(reg: Registry) -> None:
    assert _ids(reg.translation_route("en", "kn")) == [M2M]
    assert _ids(reg.translation_route("kn", "ta")) == [M2M]


def test_norwegian_written_standards(reg: Registry) -> None:
    assert _ids(reg.translation_route("da", "nb")) == ["Helsinki-NLP/opus-mt-da-no"]
    assert _ids(reg.translation_route("en", "nb")) == [M2M]  # M2M100 writes Bokmål as `no`
    with pytest.raises(UnsupportedLanguageError):
        reg.translation_route("en", "nn")  # only NLLB writes Nynorsk
    assert _ids(reg.translation_route("en", "nn", allow_noncommercial=True)) == [NLLB]


def test_nllb_only_when_allowed(reg: Registry) -> None:
    with pytest.raises(UnsupportedLanguageError, match=r"en \(English\) -> ckb.*nllb.*non-commercial"):
        reg.translation_route("en", "ckb")
    assert _ids(reg.translation_route("en", "ckb", allow_noncommercial=True)) == [NLLB]
    # Allowing non-commercial models does not displace better commercial ones.
    assert _ids(reg.translation_route("de", "fr", allow_noncommercial=True)) == ["Helsinki-NLP/opus-mt-de-fr"]


def test_translation_pivot_through_english(reg: Registry) -> None:
    route = reg.translation_route("ckb", "de")
    assert route.is_pivot
    assert _ids(route) == [MUL_EN, "Helsinki-NLP/opus-mt-en-de"]
    assert [(s.source_lang, s.target_lang) for s in route.steps] == [("ckb", "en"), ("en", "de")]
    with pytest.raises(UnsupportedLanguageError):
        reg.translation_route("ckb", "de", pivot=False)


def test_no_route(reg: Registry) -> None:
    with pytest.raises(UnsupportedLanguageError, match="no translation model"):
        reg.translation_route("de", "qq")
    with pytest.raises(UnsupportedLanguageError, match="not detected"):
        reg.translation_route("und", "de")
    with pytest.raises(UnsupportedLanguageError, match="undetermined"):
        reg.translation_route("de", "und")
    assert reg.translation_candidates("und", "en") == []


def test_identity_route(reg: Registry) -> None:
    route = reg.translation_route("de", "de-AT")
    assert route.is_identity and not route.is_pivot
    (step,) = route.steps
    assert step.model.id == "identity" and step.model.family == IDENTITY_FAMILY
    assert (step.source_lang, step.target_lang) == ("de", "de")


def test_force_model(reg: Registry) -> None:
    route = reg.translation_route("de", "ckb", force_model="./my-model")
    (step,) = route.steps
    assert step.model.id == "./my-model" and step.model.family == AUTO_FAMILY and step.task == TRANSLATION
    # A forced id the registry knows keeps what the registry knows about it.
    assert reg.translation_route("de", "fr", force_model=M2M).steps[0].model.family == "m2m100"
    summ = reg.summary_route("de", force_model="org/summarizer")
    assert summ.steps[0].model.family == AUTO_FAMILY and summ.steps[0].task == SUMMARIZATION
    assert reg.summary_route("de", force_model=XLSUM).steps[0].model.family == "mt5"


def test_summary_route_xlsum(reg: Registry) -> None:
    for lang in ("fr", "pcm", "zh-TW", "sr", "en"):
        route = reg.summary_route(lang)
        assert _ids(route) == [XLSUM], lang
    # XL-Sum is non-commercial but the project default: no opt-in needed.
    assert _ids(reg.summary_route("sw", allow_noncommercial=False)) == [XLSUM]


def test_summary_route_pivot(reg: Registry) -> None:
    route = reg.summary_route("de")
    assert route.is_pivot
    assert [(s.task, s.source_lang, s.target_lang) for s in route.steps] == [
        (TRANSLATION, "de", "en"),
        (SUMMARIZATION, "en", "en"),
        (TRANSLATION, "en", "de"),
    ]
    assert _ids(route) == ["Helsinki-NLP/opus-mt-de-en", BART, "Helsinki-NLP/opus-mt-en-de"]
    assert "summarize en facebook/bart-large-cnn" in route.describe()
    assert _ids(reg.summary_route("kn")) == [MUL_EN, BART, M2M]


def test_summary_route_errors(reg: Registry) -> None:
    with pytest.raises(UnsupportedLanguageError, match="not detected"):
        reg.summary_route("und")
    # Nothing writes Central Kurdish except NLLB, so the way back needs the opt-in.
    with pytest.raises(UnsupportedLanguageError, match="pivot"):
        reg.summary_route("ckb")
    assert _ids(reg.summary_route("ckb", allow_noncommercial=True))[-1] == NLLB


def test_routes_are_cached(reg: Registry) -> None:
    assert reg.translation_route("de", "fr") is reg.translation_route("de", "fr")
    assert reg.summary_route("de") is reg.summary_route("de")


def write(tmp_path: Path, text: str, name: str = "reg.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_user_file_takes_priority(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
exclude = ["facebook/nllb-200-distilled-600M"]

[[summarization]]
id = "me/german-summarizer"
family = "mt5"
languages = ["de", "de-AT"]
licence = "apache-2.0"

[[translation]]
id = "me/de-fr"
languages = ["de"]
targets = ["fr"]

[[translation]]
id = "facebook/m2m100_418M"
family = "m2m100"
languages = ["de", "en"]
licence = "mit"
""",
    )
    reg = Registry.load(path)
    assert reg.sources[-1] == str(path)
    assert _ids(reg.summary_route("de")) == ["me/german-summarizer"]
    assert _ids(reg.summary_route("fr")) == [XLSUM]  # shipped entries still follow
    route = reg.translation_route("de", "fr")
    assert _ids(route) == ["me/de-fr"] and route.steps[0].model.family == AUTO_FAMILY
    # The user's entry for a shipped id replaces it (here: fewer languages).
    m2m = [m for m in reg.translation if m.id == M2M]
    assert len(m2m) == 1 and m2m[0].languages == {"de", "en"}
    assert reg.get(NLLB) is None
    with pytest.raises(UnsupportedLanguageError):
        reg.translation_route("en", "ckb", allow_noncommercial=True)


def test_user_file_replace_and_pairs(tmp_path: Path) -> None:
    (tmp_path / "pairs.tsv").write_text("src\ttgt\tmodel\ntr\tde\tme/tr-de\n", encoding="utf-8")
    path = write(
        tmp_path,
        """
replace = true

[[summarization]]
id = "me/any-summarizer"
english_pivot = true

[[translation]]
pairs = "pairs.tsv"
family = "marian"
licence = "cc-by-4.0"
""",
    )
    reg = Registry.load(path)
    assert [m.id for m in reg.models()] == ["me/any-summarizer", "me/tr-de"]
    assert _ids(reg.summary_route("kn")) == ["me/any-summarizer"]  # languages default to any
    pair = reg.translation_route("tr", "de").steps[0].model
    assert pair.id == "me/tr-de" and pair.target_token == "unverified"
    with pytest.raises(UnsupportedLanguageError):
        reg.translation_route("de", "en")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[summarization]\n", "not valid TOML"),
        ("colour = 1\n", "unknown key"),
        ("[[summarization]]\nfamily = 'mt5'\n", "id is required"),
        ("[[summarization]]\nid = 'x'\nfamily = 'gpt'\n", "unknown family"),
        ("[[summarization]]\nid = 'x'\nlanguages = 'klingon'\n", "unknown language set"),
        ("[[summarization]]\nid = 'x'\nnoncommercial = 'yes'\n", "true or false"),
        ("[[summarization]]\nid = 'x'\ntargets = ['en']\n", "targets is for translation"),
        ("[[translation]]\nid = 'x'\ntarget_token = 'maybe'\n", "target_token"),
        ("[[translation]]\npairs = 'missing.tsv'\n", "cannot read pairs table"),
        ("format = 2\n", "unsupported registry format"),
    ],
)
def test_invalid_user_file(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message) as err:
        Registry.load(write(tmp_path, text))
    assert "reg.toml" in str(err.value)


def test_missing_user_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read registry file"):
        Registry.load(tmp_path / "nope.toml")


def test_model_info_rules() -> None:
    m = ModelInfo(id="x", family="nllb", task=TRANSLATION, languages=frozenset({"de"}), noncommercial=True)
    assert m.reads("de") and not m.reads("fr") and m.writes("zz")
    assert not m.usable(False) and m.usable(True)
    with pytest.raises(ValueError):
        Registry([m], [])
