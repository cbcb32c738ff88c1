"""Indonesian or Malay: the cue words of each standard and the fitted decision between the two.

The paragraphs below were written for this test, in each standard's news style; none comes from
the tuning or held-out sentences of `benchmarks/data/id-lingua.txt` or eld.
"""

from __future__ import annotations

import math

import pytest

from summarize.detect import pairs
from summarize.detect.detector import Detector, make_detector

INDONESIAN = [
    "Pemerintah Provinsi Jawa Barat menyiapkan anggaran sebesar Rp 2,5 triliun untuk memperbaiki jalan dan "
    "jembatan yang rusak akibat banjir pekan lalu. Gubernur mengatakan bahwa perbaikan akan dimulai bulan depan "
    "karena musim hujan diperkirakan berakhir pada akhir Maret. Warga berharap pekerjaan itu selesai sebelum Lebaran.",
    "Harga beras di sejumlah pasar tradisional di Jakarta naik sekitar 10 persen dalam dua minggu terakhir. "
    "Menurut pedagang, kenaikan itu terjadi karena pasokan dari daerah penghasil berkurang setelah panen "
    "terganggu cuaca buruk. Kementerian Perdagangan berjanji akan menggelar operasi pasar agar harga kembali stabil.",
    "Tim nasional sepak bola Indonesia berhasil mengalahkan Vietnam dengan skor 2-1 dalam pertandingan yang "
    "berlangsung di Stadion Utama Gelora Bung Karno, Kamis malam. Pelatih mengaku puas dengan permainan anak "
    "asuhnya, meskipun masih ada beberapa kesalahan di lini belakang yang harus diperbaiki sebelum laga berikutnya.",
    "Polisi menangkap tiga orang tersangka kasus penipuan daring yang merugikan ratusan korban dengan total "
    "kerugian mencapai Rp 15 miliar. Kepala kepolisian setempat menjelaskan bahwa para pelaku menawarkan "
    "investasi palsu melalui media sosial dan menjanjikan keuntungan yang tidak masuk akal.",
]
MALAY = [
    "Kerajaan negeri Selangor memperuntukkan RM50 juta untuk membaiki jalan raya dan jambatan yang rosak akibat "
    "banjir minggu lalu. Menteri Besar berkata kerja-kerja pembaikan akan bermula bulan depan kerana musim "
    "tengkujuh dijangka berakhir pada penghujung bulan. Penduduk berharap projek itu siap sebelum Hari Raya.",
    "Harga beras di beberapa pasar di Kuala Lumpur meningkat kira-kira 10 peratus dalam tempoh dua minggu. "
    "Menurut peniaga, kenaikan itu berlaku kerana bekalan dari kawasan pengeluar berkurangan selepas tuaian "
    "terjejas akibat cuaca buruk. Kementerian berjanji akan mengambil tindakan segera bagi menstabilkan harga.",
    "Pasukan bola sepak kebangsaan berjaya menewaskan Vietnam 2-1 dalam perlawanan yang berlangsung di Stadium "
    "Nasional Bukit Jalil malam tadi. Jurulatih berkata beliau berpuas hati dengan persembahan pemainnya, "
    "walaupun masih terdapat beberapa kesilapan di bahagian pertahanan yang perlu diperbaiki sebelum perlawanan "
    "seterusnya.",
    "Polis menahan tiga suspek yang dipercayai terlibat dalam sindiket penipuan dalam talian yang menyebabkan "
    "ratusan mangsa kerugian lebih RM5 juta. Ketua polis daerah berkata suspek menawarkan pelaburan palsu "
    "menerusi media sosial dan menjanjikan pulangan yang tidak munasabah kepada mangsa.",
]

# Words both standards write (with the same or another meaning, or much more often in one): none of
# them tells Indonesian from Malay, whatever a count on one corpus says.
_SHARED = (
    "boleh kerajaan sudah beliau saja sahaja bisa setelah selepas pemerintah polisi polis pejabat kereta "
    "dilantik tiada pelbagai lelaki peringkat bermula mengikut percuma berjaya berhasil perusahaan kalian tapi "
    "sedangkan harus tersebut ialah manakala walaupun apabila semasa ramai awam negeri daripada kepada juga "
    "baharu bilangan pengacara saat kapan pacar pajak jendela kemalangan kecelakaan wang"
)


@pytest.fixture(scope="module")
def det() -> Detector:
    return make_detector()


@pytest.mark.parametrize("text", INDONESIAN)
def test_indonesian_news_paragraphs_are_indonesian(det: Detector, text: str) -> None:
    assert len(text) >= pairs.PARAGRAPH_CHARS
    found = det.detect(text)
    assert found.lang == "id", found


@pytest.mark.parametrize("text", MALAY)
def test_malay_news_paragraphs_are_malay(det: Detector, text: str) -> None:
    assert len(text) >= pairs.PARAGRAPH_CHARS
    found = det.detect(text)
    assert found.lang == "ms", found


def test_an_article_of_indonesian_paragraphs_is_confidently_indonesian(det: Detector) -> None:
    found = det.detect("\n\n".join(INDONESIAN), title="Banjir, harga beras dan sepak bola")
    assert found.lang == "id" and found.score >= 0.9, found
    assert dict(found.mix).get("ms", 0.0) == 0.0, found


def test_cue_lists_hold_no_word_both_standards_write() -> None:
    assert not pairs.ID_CUES & pairs.MS_CUES
    both = set(_SHARED.split()) & (pairs.ID_CUES | pairs.MS_CUES)
    assert not both, f"written in both standards, so no cue: {sorted(both)}"
    # Whole lower-case words, as `cue_counts` matches them.
    assert all(word == word.lower() and word.isalpha() for word in pairs.ID_CUES | pairs.MS_CUES)


def test_spelling_pairs_count_for_their_own_standard() -> None:
    assert pairs.cue_counts("Dia bilang bahwa harga naik 5 persen karena uang kurang.") == (4, 0)
    assert pairs.cue_counts("Dia berkata bahawa harga naik 5 peratus kerana wang kurang.") == (0, 3)


def test_the_decision_splits_the_pair_and_keeps_its_weight() -> None:
    logits = {"id": -1.0, "ms": -0.5, "jv": -9.0}
    scores = {"id": -2.0, "ms": -1.0, "jv": -9.0}
    text = "Pemerintah mengatakan bahwa inflasi naik 3 persen karena harga pangan."
    decided = pairs.decide_id_ms(logits, scores, text, pairs.MIN_WORDS)
    assert decided["jv"] == logits["jv"]
    joint = math.log(math.exp(logits["id"]) + math.exp(logits["ms"]))
    assert math.log(math.exp(decided["id"]) + math.exp(decided["ms"])) == pytest.approx(joint)
    odds = pairs.malay_log_odds(scores["ms"] - scores["id"], text)
    assert decided["ms"] - decided["id"] == pytest.approx(odds)
    assert odds < 0  # three Indonesian spellings outweigh the engines' lean


def test_the_decision_stays_out_where_another_language_leads() -> None:
    logits = {"id": -3.0, "ms": -0.5, "jv": -1.0}
    assert pairs.decide_id_ms(logits, {"id": -3.0, "ms": -0.5, "jv": -1.0}, "kata-kata", 10) is logits
    assert pairs.decide_id_ms({"en": 0.0, "de": -1.0}, {"en": 0.0, "de": -1.0}, "text", 10) == {"en": 0.0, "de": -1.0}


def test_a_few_words_keep_the_evidence_every_language_gets() -> None:
    logits = {"id": -1.0, "ms": -0.5}
    assert pairs.decide_id_ms(logits, logits, "Pemerintah mengatakan bahwa", pairs.MIN_WORDS - 1) is logits


# Sentences written for this test with no cue word of either standard: only how often each standard
# writes their words (wordfreq's lists) tells them apart.
_NO_CUE = [
    ("id", "Warga desa itu masih menunggu bantuan setelah rumah mereka terendam banjir."),
    ("id", "Dia bilang kalau mereka sudah pergi ke sana kemarin sore bersama teman-teman kantornya."),
    ("ms", "Saya rasa harga cili akan turun lagi minggu hadapan jika cuaca semakin baik."),
    ("ms", "Ramai orang beratur panjang di luar kedai itu sejak awal pagi tadi."),
]


@pytest.mark.parametrize(("lang", "text"), _NO_CUE)
def test_word_frequencies_tell_the_standards_apart_without_cue_words(det: Detector, lang: str, text: str) -> None:
    assert pairs.cue_counts(text) == (0, 0)
    assert (pairs.word_log_odds(text) > 0) == (lang == "ms")
    found = det.detect(text)
    assert found.lang == lang and found.score >= 0.9, found


def test_word_log_odds_counts_known_words_and_caps_each_one() -> None:
    assert pairs.word_log_odds("") == 0.0
    assert pairs.word_log_odds("Xqzvw Blorptik 2025") == 0.0  # in neither list, and a number
    assert pairs.word_log_odds("bahawa") == pairs.WORD_CAP  # far more Malay than the cap lets one word say
    assert -pairs.WORD_CAP <= pairs.word_log_odds("bahwa") < -3.0  # Malay's lists hold some Indonesian text
    assert pairs.word_log_odds("Bahawa bahawa") == 2 * pairs.WORD_CAP  # every word counts, case folded
    assert abs(pairs.word_log_odds("yang")) < 0.5  # both standards write it about as often
