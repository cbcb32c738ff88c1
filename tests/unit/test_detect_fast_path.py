"""The ensemble's fast path: which engines a long paragraph costs, and that the shortcuts stay right.

fastText reads a long paragraph first and decides most alone; close pairs it confuses (Danish and
Norwegian, Czech and Slovak, Croatian and Slovenian) only when the letter and word evidence (or,
for Croatian, fastText's odds over Slovenian) agrees; Malay and Indonesian, which langdetect reads
with one profile, go to lingua without langdetect. Each test here fails if a shortcut starts
answering a close pair wrongly or stops being taken.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from summarize.detect import engines as detect_engines
from summarize.detect import ensemble as detect_ensemble
from summarize.detect.detector import Detector, make_detector

# The same news paragraph (written for these tests) in each language, long enough for the fast path.
PARAGRAPHS = {
    "da": (
        "Regeringen har efter flere ugers forhandlinger indgået en aftale med et flertal i Folketinget om en ny "
        "model for finansiering af hospitalerne. Ifølge sundhedsministeren skal pengene fremover følge "
        "patienterne, og de regioner, der behandler flest, får mest. Kritikerne mener dog, at aftalen er meget "
        "dyr, og at den måske ikke løser problemet med de lange ventelister."
    ),
    "no": (
        "Regjeringen har etter flere ukers forhandlinger inngått en avtale med et flertall på Stortinget om en "
        "ny modell for finansiering av sykehusene. Ifølge helseministeren skal pengene heretter følge "
        "pasientene, og de regionene som behandler flest, får mest. Kritikerne mener likevel at avtalen er "
        "svært dyr, og at den kanskje ikke løser problemet med de lange ventelistene."
    ),
    "sk": (
        "Vláda po niekoľkých týždňoch rokovaní uzavrela dohodu s väčšinou poslancov o novom spôsobe "
        "financovania nemocníc. Podľa ministra zdravotníctva budú peniaze odteraz nasledovať pacientov a "
        "regióny, ktoré liečia najviac ľudí, dostanú najviac. Kritici však tvrdia, že dohoda je veľmi drahá a "
        "že problém dlhých čakacích lehôt sa ňou ešte nevyrieši."
    ),
    "cs": (
        "Vláda po několika týdnech jednání uzavřela dohodu s většinou poslanců o novém způsobu financování "
        "nemocnic. Podle ministra zdravotnictví budou peníze nyní následovat pacienty a regiony, které léčí "
        "nejvíce lidí, dostanou nejvíce. Kritici však tvrdí, že dohoda je velmi drahá a že problém dlouhých "
        "čekacích lhůt se jí ještě nevyřeší."
    ),
    "hr": (
        "Vlada je nakon nekoliko tjedana pregovora sklopila sporazum s većinom zastupnika o novom načinu "
        "financiranja bolnica. Prema riječima ministra zdravstva, novac će od sada pratiti pacijente, a regije "
        "koje liječe najviše ljudi dobit će najviše. Kritičari ipak tvrde da je sporazum vrlo skup i da neće "
        "riješiti problem dugih lista čekanja."
    ),
    "ms": (
        "Kerajaan telah mencapai persetujuan dengan majoriti ahli parlimen mengenai cara baharu untuk membiayai "
        "hospital selepas beberapa minggu rundingan. Menurut menteri kesihatan, wang itu akan mengikut pesakit "
        "dan negeri yang merawat paling ramai orang akan menerima peruntukan paling banyak. Namun pengkritik "
        "berkata perjanjian itu terlalu mahal dan mungkin tidak menyelesaikan masalah senarai menunggu yang panjang."
    ),
    "id": (
        "Pemerintah telah mencapai kesepakatan dengan mayoritas anggota parlemen mengenai cara baru untuk "
        "membiayai rumah sakit setelah beberapa minggu perundingan. Menurut menteri kesehatan, uang itu akan "
        "mengikuti pasien dan provinsi yang merawat paling banyak orang akan menerima dana paling besar. Namun "
        "para kritikus mengatakan kesepakatan itu terlalu mahal dan mungkin tidak bisa menyelesaikan masalah "
        "antrean panjang."
    ),
}
DE = (
    "Die Bundesregierung hat am Dienstag ein neues Gesetz zur Förderung erneuerbarer Energien beschlossen. "
    "Kritiker werfen der Koalition vor, die Interessen der Industrie über den Klimaschutz zu stellen. Die "
    "Polizei nahm nach einem Überfall auf eine Bank in der Innenstadt drei Männer fest."
)


@pytest.fixture(scope="module")
def det() -> Detector:
    return make_detector()


@pytest.fixture
def langdetect_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The texts langdetect is asked about while the test runs."""
    calls: list[str] = []
    real = detect_engines._LangdetectEngine.scores

    def counted(self: object, text: str, candidates: list[str]) -> dict[str, float] | None:
        calls.append(text)
        return real(self, text, candidates)  # type: ignore[arg-type]

    monkeypatch.setattr(detect_engines._LangdetectEngine, "scores", counted)
    yield calls


def _parts(det: Detector, text: str) -> tuple[dict[str, float] | None, ...]:
    found = det._engine.parts(text, det._candidates["latin"])  # type: ignore[attr-defined]
    assert found is not None
    return tuple(found)


def test_a_paragraph_fasttext_is_sure_of_skips_the_other_engines(det: Detector, langdetect_calls: list[str]) -> None:
    p_ld, p_ft, p_li = _parts(det, DE)
    assert p_ld is None and p_li is None and langdetect_calls == []
    assert p_ft is not None and max(p_ft, key=p_ft.__getitem__) == "de" and p_ft["de"] >= detect_ensemble.FASTTEXT_SURE
    # A short text still asks langdetect.
    assert _parts(det, "Die Polizei nahm drei Männer fest.")[0] is not None
    assert len(langdetect_calls) == 1


@pytest.mark.parametrize("lang", ["da", "no", "sk", "cs", "hr"])
def test_close_pairs_decided_by_fasttext_when_the_evidence_agrees(
    det: Detector, langdetect_calls: list[str], lang: str
) -> None:
    p_ld, _, p_li = _parts(det, PARAGRAPHS[lang])
    assert p_ld is None and p_li is None and langdetect_calls == [], "fastText should have decided alone"
    found = det.detect(PARAGRAPHS[lang])
    assert found.lang == lang and found.score >= 0.9, found
    assert found.mix == ((lang, 1.0),)


@pytest.mark.parametrize("lang", ["ms", "id"])
def test_malay_and_indonesian_skip_langdetect_and_ask_lingua(
    det: Detector, langdetect_calls: list[str], lang: str
) -> None:
    # langdetect reads Malay with Indonesian's profile: it could not tell the two apart.
    p_ld, p_ft, p_li = _parts(det, PARAGRAPHS[lang])
    assert p_ld is None and langdetect_calls == []
    assert p_ft is not None and p_ft.get("id", 0.0) + p_ft.get("ms", 0.0) >= detect_ensemble.FASTTEXT_SURE
    assert p_li is not None and set(p_li) >= {"id", "ms"}
    found = det.detect(PARAGRAPHS[lang])
    assert found.lang == lang and found.score >= 0.9, found


def test_evidence_against_fasttext_sends_a_close_pair_on_to_the_other_engines(
    det: Detector, langdetect_calls: list[str]
) -> None:
    # Danish with Norwegian words in it: fastText still says Danish, the cue words say Norwegian.
    text = PARAGRAPHS["da"].replace("meget", "mye").replace("måske", "kanskje") + " Det var berre eg og dei."
    p_ft = det._engine._ft.probabilities(text, det._candidates["latin"])  # type: ignore[attr-defined]
    assert max(p_ft, key=p_ft.__getitem__) == "da" and p_ft["da"] >= detect_ensemble.CLOSE_PAIR_SURE
    assert not detect_ensemble.close_pair_agrees(text, "da", p_ft)
    assert _parts(det, text)[0] is not None and len(langdetect_calls) == 1
    assert det.detect(text).lang in ("da", "no")


def test_close_pair_check() -> None:
    agrees = detect_ensemble.close_pair_agrees
    # Letters and cue words: each paragraph's own language passes, its neighbour does not.
    for lang, neighbour in (("da", "no"), ("no", "da"), ("sk", "cs"), ("cs", "sk")):
        assert agrees(PARAGRAPHS[lang], lang, {lang: 0.6, neighbour: 0.3}), lang
        assert not agrees(PARAGRAPHS[lang], neighbour, {neighbour: 0.6, lang: 0.3}), lang
    # Below CLOSE_PAIR_SURE fastText is not trusted whatever the evidence.
    assert not agrees(PARAGRAPHS["da"], "da", {"da": 0.45, "no": 0.4})
    # Croatian: fastText's odds over Slovenian decide.
    assert agrees(PARAGRAPHS["hr"], "hr", {"hr": 0.8, "sl": 0.1})
    assert not agrees(PARAGRAPHS["hr"], "hr", {"hr": 0.6, "sl": 0.3})
    # Malay and Indonesian never pass this check: fastText reads most Malay as Indonesian.
    assert not agrees(PARAGRAPHS["ms"], "ms", {"ms": 0.99})
    assert not agrees(PARAGRAPHS["id"], "id", {"id": 0.99})


# An English paragraph long enough to settle an article (written for these tests).
LONG_EN = (
    "The city council approved the new budget for schools and public transport on Monday after a long "
    "debate. Officials said the plan would cost about two billion dollars over the next five years, and "
    "critics warned that the money might not reach the poorest districts."
)


@pytest.fixture
def lingua_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real = detect_engines._LinguaEngine.scores

    def counted(self: object, text: str, candidates: list[str], **kw: bool) -> dict[str, float] | None:
        calls.append(text)
        return real(self, text, candidates, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(detect_engines._LinguaEngine, "scores", counted)
    return calls


@pytest.mark.parametrize("title", ["FISCAL AFFAIRS", "Harry S. Truman: message to Congress"])
def test_a_short_title_under_a_settled_article_goes_without_lingua(
    det: Detector, lingua_calls: list[str], title: str
) -> None:
    det.detect(title)
    assert lingua_calls, "the title alone is a hard case (the fast engines disagree or are unsure)"
    lingua_calls.clear()
    found = det.detect(f"{LONG_EN}\n\n{LONG_EN.replace('Monday', 'Tuesday')}", title)
    assert (found.lang, found.mix, lingua_calls) == ("en", (("en", 1.0),), [])


def test_short_pieces_that_could_change_the_language_are_still_arbitrated(det: Detector, lingua_calls: list[str]) -> None:
    found = det.detect("Short news.\n\nMarkets rose today.", "FISCAL AFFAIRS")
    assert found.lang == "en" and lingua_calls


def test_a_title_in_another_language_still_counts_in_the_mix(det: Detector, lingua_calls: list[str]) -> None:
    title = "Die Bundesregierung beschließt einen neuen Haushalt für Schulen und den öffentlichen Verkehr"
    found = det.detect(f"{LONG_EN}\n\n{LONG_EN}", title)
    assert found.lang == "en" and dict(found.mix)["de"] > 0.1
