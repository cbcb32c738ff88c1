"""Indonesian or Malay: the cue words of each standard, and the fitted decision between the two.

The two are one language written to two standards (Indonesia's and Malaysia's), so most sentences
could be either. What tells them apart is (1) the engines' n-gram evidence, which on a sentence is
weak and, left alone, leans Malay on Indonesian text; (2) words that one standard writes and the
other does not: a spelling of its own (bahwa/bahawa, karena/kerana, persen/peratus, sadar/sedar) or
a word of its own (kantor, narkoba / syarikat, rasuah); and (3) how often each standard writes the
words both write (beliau, kerajaan, telah, sudah, bilang): no one of them is a cue, as Indonesian
news uses every one, but together their frequencies in each standard's text are strong evidence.
The frequencies are wordfreq's word lists for `id` and `ms`, which its authors built from
Wikipedia, subtitles, web and news text of each standard, not from this project's test or benchmark
files.

Where Indonesian and Malay are the detector's two best candidates, `decide_id_ms` replaces their
odds (engine, priors and cue words as the other languages get them) by one score fitted on tuning
text only (`benchmarks/pair_fit.py`, which prints the constants below):

    log-odds of Malay = ENGINE * (the ensemble's Malay score - its Indonesian score)
                        + CUE * (distinct Malay cue words - distinct Indonesian cue words)
                        + WORDS * word_log_odds(text) + BIAS

with one set of constants for sentences (under `PARAGRAPH_CHARS`) and one for paragraphs, as the
ensemble reads them differently (fastText first, then lingua, on paragraphs). Texts under
`MIN_WORDS` words keep the general evidence.
"""

from __future__ import annotations

import functools
import math
import re


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Words of Indonesian's standard that Malay's does not write (its counterpart after the slash in
# the comments' pairs), and the other way round. Lower case, whole words.
ID_CUES = _words(
    # spellings: bahwa/bahawa karena/kerana bagian/bahagian beda/beza yaitu/iaitu mau/mahu coba/cuba
    # kendaraan/kenderaan film/filem musik/muzik partai/parti televisi/televisyen proyek/projek
    # taksi/teksi, -itas/-iti, uang/wang, persen/peratus, miliar/bilion, menit/minit, resmi/rasmi,
    # arti/erti, sadar/sedar, sehat/sihat, nomor/nombor, telepon/telefon, Inggris/Inggeris ...
    """
    bahwa karena karenanya bagian berbeda perbedaan membedakan yaitu mau mencoba dicoba coba kendaraan
    film musik partai televisi proyek taksi aktivitas kualitas kuantitas universitas komunitas fasilitas
    kapasitas identitas realitas produktivitas kreativitas mayoritas minoritas integritas efektivitas
    prioritas entitas stabilitas solidaritas popularitas otoritas mobilitas fakultas uang keuangan
    persen persentase miliar milyar triliun menit resmi diresmikan peresmian arti berarti artinya sadar
    menyadari kesadaran disadari sehat kesehatan nomor telepon inggris jepang eropa prancis ekspor impor
    apartemen kampanye paspor stasiun dekade istri sekedar paham resiko khawatir kristen ustadz shalat
    sholat salat kue kartu sepeda truk
    """
    # months and days: Agustus/Ogos Juli/Julai Maret/Mac Desember/Disember Kamis/Khamis Jumat/Jumaat
    # Senin/Isnin
    """
    agustus juli maret desember juni nopember kamis jumat senin
    """
    # words of its own: kantor (pejabat), mobil (kereta), dokter (doktor), obat (ubat), pasien
    # (pesakit), kasus (kes), narkoba (dadah), korupsi (rasuah), butuh (perlu) ...
    """
    kantor mobil dokter obat mengobati pengobatan pasien kasus narkoba korupsi perampokan divonis vonis
    jaksa kepolisian teroris terorisme tentara militer parlemen oposisi pemilu gubernur walikota bupati
    kabupaten kecamatan kelurahan serikat tiongkok sepakbola bandara ponsel bensin liburan wisata
    wisatawan pariwisata sekretaris departemen asuransi investasi merek konsumen warganet bioskop koran
    dosen beasiswa survei situs unduh mengunduh manajemen manajer polusi tabrakan toko memulai dimulai
    membutuhkan dibutuhkan kebutuhan butuh pacaran ganteng jelek capek majelis formulir insinyur arsitek
    jembatan kemacetan macet medali direktur prajurit teknis
    """
    # informal Indonesian
    """
    nggak enggak gak aja banget dong deh kok udah gimana cewek cowok gue ngomong nonton bikin
    """
)
MS_CUES = _words(
    """
    bahawa kerana bahagian berbeza perbezaan membezakan iaitu mahu cuba mencuba dicuba kenderaan filem
    muzik parti televisyen projek teksi aktiviti kualiti kuantiti universiti komuniti fasiliti kapasiti
    identiti realiti produktiviti kreativiti majoriti minoriti integriti solidariti populariti autoriti
    mobiliti fakulti kewangan peratus peratusan bilion trilion minit rasmi dirasmikan perasmian erti
    bererti ertinya sedar menyedari kesedaran disedari sihat kesihatan nombor telefon inggeris jepun
    eropah eksport apartmen kempen pasport stesen dekad khuatir kristian kuih kad basikal trak
    """
    """
    ogos julai disember khamis jumaat isnin
    """
    """
    syarikat antarabangsa ditubuhkan menubuhkan penubuhan tempatan sukan kakitangan menerusi pesakit
    ubat mengubati kes dadah rasuah rompakan pendakwa peguam tentera ketenteraan pengganas parlimen
    gabenor setiausaha insurans pelaburan pelabur jenama pawagam akhbar talian pensyarah biasiswa
    peperiksaan perisian laluan percutian pelancong pelancongan motosikal bimbit purata memulakan
    dimulakan bersetuju tingkap kacak hodoh jurulatih jurucakap kejohanan lebuhraya
    tempoh saiz bersaiz teknikal pakej bajet mesyuarat perkhidmatan pentadbiran mentadbir majlis borang
    saintifik temujanji makmal ujikaji jurutera arkitek jururawat graduan jambatan trafik kesesakan
    bomba bandaraya pilihanraya kahwin berkahwin perkahwinan pingat timbalan pengerusi bendahari
    berhormat perajurit
    """
)
_WORD = re.compile(r"\w+")

# Fitted by benchmarks/pair_fit.py on tuning text only (id-lingua.txt lines 150-487, eld's Malay
# lines 1-500, alone and in runs of 2, 3 and 5 sentences): (ENGINE, CUE, WORDS, BIAS). On
# paragraphs the bias would move until at most 1% of the tuning Indonesian comes out Malay; the fit
# meets that as it is (Indonesian read as Malay 15.4% -> 0.0%; Malay not read as Malay 1.7% -> 0.0%).
# On sentences it moves only as far as Malay loses nothing (Indonesian read as Malay 10.3% -> 3.8%,
# Malay not read as Malay 3.7% both ways): there, each point Indonesian gains costs Malay several
# (docs/detection.md).
PARAGRAPH_CHARS = 250
SENTENCE_FIT = (0.231, 1.633, 0.465, 0.046)
PARAGRAPH_FIT = (0.301, 0.019, 0.817, -0.516)
# Texts of fewer words keep the evidence every language gets: on the first 2 to 4 words of the
# tuning sentences the decision, whose odds are honest about how little a few words say, answers
# `und` or Indonesian more often than it gains for the pair; from 5 words on it does better.
MIN_WORDS = 5


_LETTERS = re.compile(r"[^\W\d_]+")
# wordfreq's lists stop near a frequency of 1e-6; a word one list lacks counts as that rare there.
WORD_FLOOR = 1e-6
WORD_CAP = 4.0  # the most one word may move the odds (one foreign name must not decide)


@functools.cache
def _frequencies() -> tuple[dict[str, float], dict[str, float]]:
    from wordfreq import get_frequency_dict

    return get_frequency_dict("id", wordlist="small"), get_frequency_dict("ms", wordlist="small")


def word_log_odds(text: str) -> float:
    """How much more Malay than Indonesian the text's words are, by their frequencies.

    The sum over the text's words of log(frequency in Malay / frequency in Indonesian), each term
    clipped to +-`WORD_CAP`, from wordfreq's word lists (Wikipedia, subtitles, web and news text of
    each standard); words neither list has add nothing.
    """
    ind, may = _frequencies()
    total = 0.0
    for word in _LETTERS.findall(text.lower()):
        a, b = ind.get(word, 0.0), may.get(word, 0.0)
        if a or b:
            total += max(-WORD_CAP, min(WORD_CAP, math.log(b + WORD_FLOOR) - math.log(a + WORD_FLOOR)))
    return total


def cue_counts(text: str) -> tuple[int, int]:
    """How many distinct Indonesian and Malay cue words the text has."""
    words = set(_WORD.findall(text.lower()))
    return len(ID_CUES & words), len(MS_CUES & words)


def malay_log_odds(engine_odds: float, text: str) -> float:
    """The fitted log-odds that a text the engines find Indonesian or Malay is Malay.

    `engine_odds` is the ensemble's Malay score minus its Indonesian one, before priors and letter
    evidence; `text` is the text the detector read (cue words are counted in all of it).
    """
    engine, cue, words, bias = PARAGRAPH_FIT if len(text) >= PARAGRAPH_CHARS else SENTENCE_FIT
    id_cues, ms_cues = cue_counts(text)
    return engine * engine_odds + cue * (ms_cues - id_cues) + words * word_log_odds(text) + bias


def id_ms_lead(logits: dict[str, float]) -> bool:
    """Whether Indonesian and Malay are the two best candidates (no other language ahead of either)."""
    if "id" not in logits or "ms" not in logits:
        return False
    others = [value for lang, value in logits.items() if lang not in ("id", "ms")]
    return not others or max(others) <= min(logits["id"], logits["ms"])


def decide_id_ms(logits: dict[str, float], scores: dict[str, float], text: str, words: int) -> dict[str, float]:
    """`logits` with the split between Indonesian and Malay set by `malay_log_odds`, where those
    two are the best candidates and the text has at least `MIN_WORDS` words; otherwise `logits`
    unchanged.

    The two keep their joint weight against the other candidates; only its split changes.
    """
    if words < MIN_WORDS or not id_ms_lead(logits):
        return logits
    odds = malay_log_odds(scores["ms"] - scores["id"], text)
    both = max(logits["id"], logits["ms"])
    both += math.log(math.exp(logits["id"] - both) + math.exp(logits["ms"] - both))
    # log(sigmoid(x)) without overflow on either side.
    return {
        **logits,
        "ms": both - _log1p_exp(-odds),
        "id": both - _log1p_exp(odds),
    }


def _log1p_exp(x: float) -> float:
    return x + math.log1p(math.exp(-x)) if x > 0 else math.log1p(math.exp(x))
