"""Build tiny random-weight seq2seq models with real architectures and real tokenizers.

Nothing in this project's test or CI environments can reach the Hugging Face Hub, so the test suites
stand in for real checkpoints (t5-small, mt5-small, opus-mt, m2m100, mbart-50, nllb-200) with miniature
copies: the same model classes, the same tokenizer classes and file layouts, the same special-token and
language-code conventions, but about a megabyte of random weights each and SentencePiece models trained
in a fraction of a second on the text in ``samples/``.

Usage::

    python -m summarize.testing.tiny OUT_DIR [--only t5,marian,...] [--vocab-size N] [--corpus PATH] [--force]

Each family gets one folder under ``OUT_DIR`` that loads with ``AutoTokenizer.from_pretrained`` and
``AutoModelForSeq2SeqLM.from_pretrained``, plus a ``tiny.json`` describing it and a ``.complete`` marker
that lets later runs skip the work.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import shutil
import sys
import tempfile
import time
import unicodedata
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FAMILIES: tuple[str, ...] = ("t5", "mt5", "marian", "m2m100", "mbart50", "nllb")
"""Every family this module can build, in build order."""

DEFAULT_VOCAB_SIZE = 4000
"""Target size of the trained SentencePiece vocabulary (language and sentinel tokens come on top).

samples/ is only ~50k characters in 14 languages, so small vocabularies split words far more than
real checkpoints do: at 1,500 pieces the first English sample (240 words) is 584 tokens and every
sample article overflows 512, at 4,000 it is 429 (t5-small: about 300) and most articles fit, which
keeps the long-input (chunking/truncation) paths as rare as they are with real models.  It also
leaves room for every CJK character of the samples instead of mapping the rare ones to <unk>.
"""

MODEL_MAX_LENGTH = 512
"""Input limit written into every tokenizer, and the position-embedding size of the BART-like models."""

SEED = 1234
"""Base torch seed; a family that greedily generates only special tokens is re-drawn with SEED + 1, ..."""

COMPLETE_MARKER = ".complete"
INFO_FILE = "tiny.json"

# Bump when the output of a build changes, so that folders from an older builder get rebuilt.
_BUILDER_VERSION = 1

# Cap on corpus characters: training stays well under a second even when samples/ grows large.
_MAX_CORPUS_CHARS = 2_000_000
# SentencePiece silently drops sentences over max_sentence_length bytes, so long paragraphs are cut.
_MAX_LINE_CHARS = 1000
_MAX_SEED_TRIES = 8
# The lowest character_coverage SentencePiece accepts.
_MIN_COVERAGE = 0.98

# Language tokens for the Marian family, imitating a multi-target opus-mt model (e.g. en-ROMANCE)
# where the source text starts with ">>fr<< " to pick the output language.
MARIAN_LANGUAGES: tuple[str, ...] = ("en", "de", "fr", "es", "it", "pt", "nl", "ru", "uk", "ar", "zh", "hi")

PROBE_TEXT = "The city council approved the new budget for schools and public transport on Monday."

# A few news-style sentences per script so the tokenizers still cover Latin, Cyrillic, Arabic, CJK and
# Devanagari when samples/ is empty, and so sample sets that lack a script do not turn it into <unk>.
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

# ISO 639-3 -> ISO 639-1 for the NLLB (FLORES-200) codes that have a two-letter code, so tiny.json can
# list the same kind of codes as the other families; NLLB codes without one keep their three letters.
_NLLB_ISO639_1: dict[str, str] = {
    "afr": "af", "aka": "ak", "amh": "am", "arb": "ar", "asm": "as", "ayr": "ay", "azj": "az", "bak": "ba",
    "bam": "bm", "bel": "be", "ben": "bn", "bod": "bo", "bos": "bs", "bul": "bg", "cat": "ca", "ces": "cs",
    "cym": "cy", "dan": "da", "deu": "de", "dzo": "dz", "ell": "el", "eng": "en", "epo": "eo", "est": "et",
    "eus": "eu", "ewe": "ee", "fao": "fo", "pes": "fa", "fij": "fj", "fin": "fi", "fra": "fr", "gla": "gd",
    "gle": "ga", "glg": "gl", "grn": "gn", "guj": "gu", "hat": "ht", "hau": "ha", "heb": "he", "hin": "hi",
    "hrv": "hr", "hun": "hu", "hye": "hy", "ibo": "ig", "ind": "id", "isl": "is", "ita": "it", "jav": "jv",
    "jpn": "ja", "kan": "kn", "kas": "ks", "kat": "ka", "kaz": "kk", "khm": "km", "kik": "ki", "kin": "rw",
    "kir": "ky", "kon": "kg", "kor": "ko", "kmr": "ku", "lao": "lo", "lvs": "lv", "lim": "li", "lin": "ln",
    "lit": "lt", "ltz": "lb", "lug": "lg", "mal": "ml", "mar": "mr", "mkd": "mk", "plt": "mg", "mlt": "mt",
    "khk": "mn", "mri": "mi", "zsm": "ms", "mya": "my", "nld": "nl", "nno": "nn", "nob": "nb", "npi": "ne",
    "nya": "ny", "oci": "oc", "gaz": "om", "ory": "or", "pan": "pa", "pol": "pl", "por": "pt", "pbt": "ps",
    "quy": "qu", "ron": "ro", "run": "rn", "rus": "ru", "sag": "sg", "san": "sa", "sin": "si", "slk": "sk",
    "slv": "sl", "smo": "sm", "sna": "sn", "snd": "sd", "som": "so", "sot": "st", "spa": "es", "als": "sq",
    "srd": "sc", "srp": "sr", "ssw": "ss", "sun": "su", "swe": "sv", "swh": "sw", "tam": "ta", "tat": "tt",
    "tel": "te", "tgk": "tg", "tgl": "tl", "tha": "th", "tir": "ti", "tsn": "tn", "tso": "ts", "tuk": "tk",
    "tur": "tr", "twi": "tw", "uig": "ug", "ukr": "uk", "urd": "ur", "uzn": "uz", "vie": "vi", "wol": "wo",
    "xho": "xh", "ydd": "yi", "yor": "yo", "zho": "zh", "zul": "zu",
}  # fmt: skip


# --------------------------------------------------------------------------------------------------
# Corpus


def default_corpus_dir() -> Path:
    """Return the repository's ``samples/`` folder.

    It is found relative to this package, not the working directory, so a build trains on the same
    text whichever folder the tests or ``make`` run from.
    """
    return Path(__file__).resolve().parents[2] / "samples"


def load_corpus(corpus: Path | None = None) -> list[str]:
    """Return the tokenizer training lines for ``corpus`` (default: ``samples/``).

    ``corpus`` is a folder, whose ``*.jsonl`` files contribute the ``title`` and ``text`` field of
    every record, or a single ``.jsonl`` or plain-text file.  Lines are cut to 1,000 characters and
    the total to two million, and the built-in multilingual corpus is always appended so every test
    script has pieces.  An explicit ``corpus`` that does not exist raises ``FileNotFoundError``; a
    missing or empty default folder just leaves the built-in corpus.
    """
    if corpus is None:
        source = default_corpus_dir()
        if not source.exists():
            return list(BUILTIN_CORPUS)
    else:
        source = Path(corpus)
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
            # The samples file may be mid-edit (or hand-written); a broken line should not stop a build.
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
            for start in range(0, len(line), _MAX_LINE_CHARS):
                yield line[start : start + _MAX_LINE_CHARS]


def _corpus_digest(lines: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------------------------------
# SentencePiece


@dataclass
class _Context:
    """State shared by the family builders of one ``build_tiny_models`` call."""

    lines: list[str]
    vocab_size: int
    digest: str
    spm_cache: dict[tuple[str, bool], bytes] = field(default_factory=dict)

    def spm(self, model_type: str, *, t5_ids: bool) -> bytes:
        """Return a serialized SentencePiece model, training it once per kind and call."""
        key = (model_type, t5_ids)
        if key not in self.spm_cache:
            self.spm_cache[key] = _train_spm(
                self.lines, model_type=model_type, vocab_size=self.vocab_size, t5_ids=t5_ids
            )
        return self.spm_cache[key]


def _coverage_and_vocab(lines: Sequence[str], vocab_size: int) -> tuple[float, int]:
    """Return the SentencePiece ``character_coverage`` and ``vocab_size`` to train with.

    SentencePiece refuses to train when the characters it must cover outnumber the vocabulary, which a
    few CJK articles easily cause at a vocabulary of 1,000, and it accepts no coverage below 0.98.  Full
    coverage is kept whenever the characters fit in half the vocabulary; otherwise the rarest characters
    become <unk>, as in the real multilingual checkpoints, and only when even 0.98 needs more characters
    than that does the vocabulary grow.
    """
    counts: Counter[str] = Counter()
    for line in lines:
        # Count roughly what the trainer counts: NFKC-normalized text with spaces as "▁".
        counts.update(unicodedata.normalize("NFKC", line).replace(" ", "\u2581"))
    budget = max(vocab_size // 2, 1)
    if len(counts) <= budget:
        return 1.0, vocab_size
    total = sum(counts.values())
    ranked = [count for _, count in counts.most_common()]
    coverage = sum(ranked[:budget]) / total * (1 - 1e-6)
    if coverage >= _MIN_COVERAGE:
        return coverage, vocab_size
    needed, covered = 0, 0
    while covered < _MIN_COVERAGE * total:
        covered += ranked[needed]
        needed += 1
    return _MIN_COVERAGE, max(vocab_size, 2 * needed)


def _train_spm(lines: Sequence[str], *, model_type: str, vocab_size: int, t5_ids: bool) -> bytes:
    import sentencepiece as spm

    # T5/mT5 models put <pad>=0 </s>=1 <unk>=2 (no <s>) in the SentencePiece model itself; the fairseq
    # and Marian families keep SentencePiece's defaults <unk>=0 <s>=1 </s>=2 and remap in their vocab.
    pad_id, eos_id, unk_id, bos_id = (0, 1, 2, -1) if t5_ids else (-1, 2, 0, 1)
    coverage, vocab_size = _coverage_and_vocab(lines, vocab_size)
    buffer = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines),
        model_writer=buffer,
        model_type=model_type,
        vocab_size=vocab_size,
        # A small corpus cannot always fill the requested vocabulary; take what it has instead of failing.
        hard_vocab_limit=False,
        character_coverage=coverage,
        # One thread keeps training deterministic, and the corpus is too small to benefit from more.
        num_threads=1,
        max_sentence_length=_MAX_LINE_CHARS * 4 + 16,
        minloglevel=2,
        pad_id=pad_id,
        eos_id=eos_id,
        unk_id=unk_id,
        bos_id=bos_id,
    )
    return buffer.getvalue()


def _spm_pieces(model: bytes) -> list[str]:
    """Return the ordinary (non-control, non-unknown) pieces of a SentencePiece model in id order."""
    import sentencepiece as spm

    processor = spm.SentencePieceProcessor(model_proto=model)
    return [
        processor.id_to_piece(i)
        for i in range(processor.get_piece_size())
        if not (processor.is_control(i) or processor.is_unknown(i))
    ]


# --------------------------------------------------------------------------------------------------
# Models


# One place for the miniature dimensions: big enough to be real multi-head, multi-layer transformers,
# small enough that six of them build and generate in seconds on two CPU cores.
_D_MODEL = 64
_FFN = 128
_LAYERS = 2
_HEADS = 4


def _bart_dims() -> dict[str, Any]:
    return {
        "d_model": _D_MODEL,
        "encoder_layers": _LAYERS,
        "decoder_layers": _LAYERS,
        "encoder_attention_heads": _HEADS,
        "decoder_attention_heads": _HEADS,
        "encoder_ffn_dim": _FFN,
        "decoder_ffn_dim": _FFN,
        "max_position_embeddings": MODEL_MAX_LENGTH,
    }


def _t5_dims() -> dict[str, Any]:
    return {
        "d_model": _D_MODEL,
        "d_kv": _D_MODEL // _HEADS,
        "d_ff": _FFN,
        "num_layers": _LAYERS,
        "num_decoder_layers": _LAYERS,
        "num_heads": _HEADS,
    }


def _extra_config(**values: Any) -> dict[str, Any]:
    """Pass through config attributes that transformers keeps and saves but does not declare as fields."""
    return values


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


@dataclass
class _Probe:
    """How to run the post-build sanity generation for one family."""

    text: str = PROBE_TEXT
    src_lang: str | None = None
    forced_bos_token: str | None = None


@dataclass
class _Plan:
    """What a family builder hands back: a model factory plus what the finishing steps need."""

    make_model: Callable[[], Any]
    generation: dict[str, Any]
    probe: _Probe
    languages: dict[str, str]


def _build_family(family: str, folder: Path, ctx: _Context) -> dict[str, Any]:
    """Write tokenizer, model and tiny.json for one family into ``folder`` and return the tiny.json data."""
    import torch
    import transformers
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer, GenerationConfig

    plan = _BUILDERS[family](folder, ctx)
    # Reload through the Auto class so the model is sized and probed with exactly what users will get.
    tokenizer = AutoTokenizer.from_pretrained(folder)
    # Keep the first seed whose greedy output is some text; if none is, the last one is used anyway.
    seed = SEED
    for attempt in range(_MAX_SEED_TRIES):
        seed = SEED + attempt
        # fork_rng: seeding must not disturb the random state of the test process that calls us.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = plan.make_model()
        _quiet_rows(model, _quiet_ids(model, tokenizer, plan))
        model.generation_config = GenerationConfig(**plan.generation)
        model.eval()
        if _probe_generates_text(model, tokenizer, plan.probe):
            break
    model.save_pretrained(folder)
    model = AutoModelForSeq2SeqLM.from_pretrained(folder)
    # What users load must generate without error (text or not: the seed search above decided that).
    _probe_generates_text(model, tokenizer, plan.probe)

    codes = plan.languages
    info: dict[str, Any] = {
        "family": family,
        "architecture": type(model).__name__,
        "model_type": model.config.model_type,
        "tokenizer_class": type(tokenizer).__name__,
        "languages": sorted(codes),
        "language_tokens": dict(sorted(codes.items())),
        "vocab_size": model.config.vocab_size,
        "tokenizer_length": len(tokenizer),
        "model_max_length": tokenizer.model_max_length,
        "seed": seed,
        "corpus_sha256": ctx.digest,
        "transformers_version": transformers.__version__,
    }
    (folder / INFO_FILE).write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return info


# Scale for the embedding rows of tokens a trained model (almost) never emits; see _quiet_rows.
_QUIET_SCALE = 0.05


def _quiet_ids(model: Any, tokenizer: Any, plan: _Plan) -> set[int]:
    """Return the ids whose embedding rows to shrink.

    Those are the special tokens except </s>, the language tokens and the embedding rows past the
    tokenizer's length: ids that trained checkpoints never (or only when forced) generate.
    """
    ids = set(tokenizer.all_special_ids) | set(tokenizer.convert_tokens_to_ids(list(plan.languages.values())))
    ids.discard(tokenizer.eos_token_id)
    ids.update(range(len(tokenizer), model.config.vocab_size))
    return {i for i in ids if isinstance(i, int) and 0 <= i < model.config.vocab_size}


def _quiet_rows(model: Any, ids: Iterable[int]) -> None:
    """Shrink the given rows of the (tied) input/output embeddings.

    With random tied embeddings the residual stream carries the input token straight to the logits, so
    a random model greedily repeats its decoder-start or forced language token (<pad> for T5, de_DE for
    mBART-50) and decodes to an empty string.  Small rows for the tokens real models never produce keep
    those tokens out of the argmax while leaving the architecture and every shape untouched.
    """
    import torch

    rows = torch.tensor(sorted(ids), dtype=torch.long)
    if rows.numel() == 0:
        return
    weights = {}
    for module in (model.get_input_embeddings(), model.get_output_embeddings()):
        if module is not None:
            weights[module.weight.data_ptr()] = module.weight
    with torch.no_grad():
        for weight in weights.values():
            weight[rows] *= _QUIET_SCALE


def _probe_generates_text(model: Any, tokenizer: Any, probe: _Probe) -> bool:
    """Run a greedy 8-token generation and report whether it decodes to any non-special text."""
    import torch

    if probe.src_lang is not None:
        tokenizer.src_lang = probe.src_lang
    kwargs: dict[str, Any] = {"max_new_tokens": 8, "num_beams": 1, "do_sample": False}
    if probe.forced_bos_token is not None:
        kwargs["forced_bos_token_id"] = tokenizer.convert_tokens_to_ids(probe.forced_bos_token)
    inputs = tokenizer([probe.text], return_tensors="pt")
    with torch.no_grad():
        output = model.generate(**inputs, **kwargs)
    return bool(tokenizer.decode(output[0], skip_special_tokens=True).strip())


# --------------------------------------------------------------------------------------------------
# Families


def _t5_like(folder: Path, ctx: _Context, *, multilingual: bool) -> _Plan:
    from transformers import MT5Config, MT5ForConditionalGeneration, T5Config, T5ForConditionalGeneration, T5Tokenizer

    model_bytes = ctx.spm("unigram", t5_ids=True)
    with tempfile.TemporaryDirectory() as scratch:
        (Path(scratch) / "spiece.model").write_bytes(model_bytes)
        # from_pretrained (not the constructor) is what converts spiece.model into the tokenizers
        # backend in transformers v5; the constructor alone would ignore the file.  mT5 ships no
        # <extra_id_N> sentinels in its tokenizer, T5 appends 100 of them after the pieces.
        tokenizer = T5Tokenizer.from_pretrained(
            scratch, extra_ids=0 if multilingual else 100, model_max_length=MODEL_MAX_LENGTH
        )
        tokenizer.save_pretrained(folder)
    (folder / "spiece.model").write_bytes(model_bytes)
    # Like the real checkpoints (32128 / 250112), the embedding matrix is padded past the tokenizer to a
    # multiple of 128, so ids the tokenizer does not know can be generated.
    vocab_size = _round_up(len(tokenizer), 128)
    generation = {"decoder_start_token_id": 0, "eos_token_id": 1, "pad_token_id": 0}
    if multilingual:
        config: Any = MT5Config(vocab_size=vocab_size, feed_forward_proj="gated-gelu", **_t5_dims())
        return _Plan(lambda: MT5ForConditionalGeneration(config), generation, _Probe(), {})
    config = T5Config(vocab_size=vocab_size, feed_forward_proj="relu", **_t5_dims())
    return _Plan(lambda: T5ForConditionalGeneration(config), generation, _Probe(text="summarize: " + PROBE_TEXT), {})


def _build_t5(folder: Path, ctx: _Context) -> _Plan:
    return _t5_like(folder, ctx, multilingual=False)


def _build_mt5(folder: Path, ctx: _Context) -> _Plan:
    return _t5_like(folder, ctx, multilingual=True)


def _build_marian(folder: Path, ctx: _Context) -> _Plan:
    from transformers import MarianConfig, MarianMTModel, MarianTokenizer

    model_bytes = ctx.spm("unigram", t5_ids=False)
    # Marian keeps its own vocab.json, independent of SentencePiece ids: </s>=0, <unk>=1, then the
    # pieces, and <pad> last (pad id = vocab size - 1, which is also the decoder start token).
    lang_tokens = [f">>{code}<<" for code in MARIAN_LANGUAGES]
    tokens = ["</s>", "<unk>", *lang_tokens, *(p for p in _spm_pieces(model_bytes) if p not in lang_tokens), "<pad>"]
    vocab = {token: index for index, token in enumerate(dict.fromkeys(tokens))}
    with tempfile.TemporaryDirectory() as scratch:
        source = Path(scratch) / "source.spm"
        source.write_bytes(model_bytes)
        vocab_path = Path(scratch) / "vocab.json"
        vocab_path.write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
        tokenizer = MarianTokenizer(
            source_spm=str(source),
            target_spm=str(source),
            vocab=str(vocab_path),
            source_lang="en",
            model_max_length=MODEL_MAX_LENGTH,
        )
        tokenizer.save_pretrained(folder)
    pad = len(vocab) - 1
    config = MarianConfig(
        vocab_size=len(vocab),
        decoder_vocab_size=len(vocab),
        pad_token_id=pad,
        eos_token_id=0,
        decoder_start_token_id=pad,
        forced_eos_token_id=0,
        activation_function="swish",
        scale_embedding=True,
        share_encoder_decoder_embeddings=True,
        **_bart_dims(),
    )
    # Values of a real opus-mt generation_config.json.
    generation = {
        "bad_words_ids": [[pad]],
        "bos_token_id": 0,
        "decoder_start_token_id": pad,
        "eos_token_id": 0,
        "forced_eos_token_id": 0,
        "max_length": MODEL_MAX_LENGTH,
        "num_beams": 4,
        "pad_token_id": pad,
    }
    languages = {code: f">>{code}<<" for code in MARIAN_LANGUAGES}
    return _Plan(lambda: MarianMTModel(config), generation, _Probe(text=">>de<< " + PROBE_TEXT), languages)


def _fairseq_generation(*, beams: int | None, forced_eos: bool) -> dict[str, Any]:
    """Return the generation_config values the fairseq-converted checkpoints (m2m100, mbart-50, nllb) ship."""
    generation: dict[str, Any] = {
        "bos_token_id": 0,
        "decoder_start_token_id": 2,
        "eos_token_id": 2,
        "max_length": 200,
        "pad_token_id": 1,
    }
    if beams is not None:
        generation.update(num_beams=beams, early_stopping=True)
    if forced_eos:
        generation["forced_eos_token_id"] = 2
    return generation


def _build_m2m100(folder: Path, ctx: _Context) -> _Plan:
    from transformers import M2M100Config, M2M100ForConditionalGeneration, M2M100Tokenizer
    from transformers.models.m2m_100.tokenization_m2m_100 import FAIRSEQ_LANGUAGE_CODES

    codes = list(FAIRSEQ_LANGUAGE_CODES["m2m100"])
    model_bytes = ctx.spm("bpe", t5_ids=False)
    # fairseq dictionary order: <s> <pad> </s> <unk>, then the pieces; the tokenizer itself appends the
    # 100 __xx__ language tokens after this vocab.
    tokens = ["<s>", "<pad>", "</s>", "<unk>", *_spm_pieces(model_bytes)]
    vocab = {token: index for index, token in enumerate(dict.fromkeys(tokens))}
    with tempfile.TemporaryDirectory() as scratch:
        spm_path = Path(scratch) / "sentencepiece.bpe.model"
        spm_path.write_bytes(model_bytes)
        vocab_path = Path(scratch) / "vocab.json"
        vocab_path.write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
        # The language tokens must be passed explicitly: M2M100Tokenizer.__init__ in transformers 5.x
        # never registers them as special tokens itself (a chained `not in` that is always false), and
        # the Hub's facebook/m2m100_418M tokenizer_config.json lists them the same way.
        tokenizer = M2M100Tokenizer(
            vocab_file=str(vocab_path),
            spm_file=str(spm_path),
            src_lang="en",
            model_max_length=MODEL_MAX_LENGTH,
            additional_special_tokens=[f"__{code}__" for code in codes],
        )
        tokenizer.save_pretrained(folder)
    # The real model reserves num_madeup_words (8) embedding rows after the language tokens.
    config = M2M100Config(
        vocab_size=len(vocab) + len(codes) + 8,
        encoder_layerdrop=0.0,
        decoder_layerdrop=0.0,
        **_bart_dims(),
    )
    languages = {code: f"__{code}__" for code in codes}
    probe = _Probe(src_lang="en", forced_bos_token="__de__")
    return _Plan(
        lambda: M2M100ForConditionalGeneration(config),
        _fairseq_generation(beams=5, forced_eos=False),
        probe,
        languages,
    )


def _build_mbart50(folder: Path, ctx: _Context) -> _Plan:
    from transformers import MBart50Tokenizer, MBartConfig, MBartForConditionalGeneration
    from transformers.models.mbart50.tokenization_mbart50 import FAIRSEQ_LANGUAGE_CODES

    model_bytes = ctx.spm("unigram", t5_ids=False)
    with tempfile.TemporaryDirectory() as scratch:
        (Path(scratch) / "sentencepiece.bpe.model").write_bytes(model_bytes)
        # from_pretrained converts the SentencePiece model and inserts <s> <pad> </s> <unk>, the pieces,
        # the 52 xx_YY codes and <mask>, the same layout as facebook/mbart-large-50-many-to-many-mmt.
        tokenizer = MBart50Tokenizer.from_pretrained(scratch, src_lang="en_XX", model_max_length=MODEL_MAX_LENGTH)
        tokenizer.save_pretrained(folder)
    (folder / "sentencepiece.bpe.model").write_bytes(model_bytes)
    config = MBartConfig(
        vocab_size=len(tokenizer),
        # As in facebook/mbart-large-50-many-to-many-mmt: model_type "mbart" alone would pick MBartTokenizer.
        **_extra_config(tokenizer_class="MBart50Tokenizer"),
        scale_embedding=True,
        decoder_start_token_id=2,
        forced_eos_token_id=2,
        **_bart_dims(),
    )
    languages = {code.split("_")[0]: code for code in FAIRSEQ_LANGUAGE_CODES}
    probe = _Probe(src_lang="en_XX", forced_bos_token="de_DE")
    return _Plan(
        lambda: MBartForConditionalGeneration(config),
        _fairseq_generation(beams=5, forced_eos=True),
        probe,
        languages,
    )


def _build_nllb(folder: Path, ctx: _Context) -> _Plan:
    from transformers import M2M100Config, M2M100ForConditionalGeneration, NllbTokenizer
    from transformers.models.nllb.tokenization_nllb import FAIRSEQ_LANGUAGE_CODES

    model_bytes = ctx.spm("bpe", t5_ids=False)
    with tempfile.TemporaryDirectory() as scratch:
        (Path(scratch) / "sentencepiece.bpe.model").write_bytes(model_bytes)
        # NLLB checkpoints are M2M100 models with a BPE tokenizer whose language codes (deu_Latn ...) are
        # added tokens after the pieces.  They must be passed as extra_special_tokens: converting a bare
        # SentencePiece model fills additional_special_tokens with its control pieces (<s>, </s>), and
        # NllbTokenizer then skips its own FAIRSEQ_LANGUAGE_CODES default, leaving no language tokens.
        tokenizer = NllbTokenizer.from_pretrained(
            scratch,
            src_lang="eng_Latn",
            model_max_length=MODEL_MAX_LENGTH,
            extra_special_tokens=list(FAIRSEQ_LANGUAGE_CODES),
        )
        tokenizer.save_pretrained(folder)
    # Real repos ship the SentencePiece model next to tokenizer.json; other tools (CTranslate2) read it.
    (folder / "sentencepiece.bpe.model").write_bytes(model_bytes)
    config = M2M100Config(
        vocab_size=len(tokenizer),
        # As in facebook/nllb-200-*: model_type "m2m_100" alone would pick M2M100Tokenizer.
        **_extra_config(tokenizer_class="NllbTokenizer"),
        encoder_layerdrop=0.0,
        decoder_layerdrop=0.0,
        **_bart_dims(),
    )
    languages: dict[str, str] = {}
    for code in FAIRSEQ_LANGUAGE_CODES:
        iso3 = code.split("_")[0]
        # First script wins (zho_Hans before zho_Hant), as a default target for a bare language code.
        languages.setdefault(_NLLB_ISO639_1.get(iso3, iso3), code)
    probe = _Probe(src_lang="eng_Latn", forced_bos_token="deu_Latn")
    return _Plan(
        lambda: M2M100ForConditionalGeneration(config),
        _fairseq_generation(beams=None, forced_eos=False),
        probe,
        languages,
    )


_BUILDERS: dict[str, Callable[[Path, _Context], _Plan]] = {
    "t5": _build_t5,
    "mt5": _build_mt5,
    "marian": _build_marian,
    "m2m100": _build_m2m100,
    "mbart50": _build_mbart50,
    "nllb": _build_nllb,
}


# --------------------------------------------------------------------------------------------------
# Public entry points


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    """Silence transformers' progress bars and warnings (and the sacremoses hint) while building."""
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    progress = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if progress:
            hf_logging.enable_progress_bar()


def _fingerprint(family: str, ctx: _Context) -> dict[str, Any]:
    import transformers

    return {
        "builder": _BUILDER_VERSION,
        "family": family,
        "vocab_size": ctx.vocab_size,
        "seed": SEED,
        "corpus_sha256": ctx.digest,
        "transformers_version": transformers.__version__,
    }


def _is_complete(folder: Path, fingerprint: dict[str, Any]) -> bool:
    marker = folder / COMPLETE_MARKER
    try:
        return bool(json.loads(marker.read_text(encoding="utf-8")) == fingerprint)
    except (OSError, ValueError):
        return False


def _parse_families(families: Iterable[str] | None) -> list[str]:
    if families is None:
        return list(FAMILIES)
    if isinstance(families, str):  # "t5,marian" as on the command line, not a sequence of letters
        families = families.split(",")
    chosen = list(dict.fromkeys(f.strip() for f in families if f.strip()))
    unknown = [f for f in chosen if f not in FAMILIES]
    if unknown:
        raise ValueError(f"unknown famil{'ies' if len(unknown) > 1 else 'y'} {unknown}; choose from {list(FAMILIES)}")
    return chosen


def build_tiny_models(
    out_dir: Path,
    families: Iterable[str] | None = None,
    *,
    vocab_size: int = DEFAULT_VOCAB_SIZE,
    corpus: Path | None = None,
    force: bool = False,
    log: Callable[[str], None] | None = None,
) -> dict[str, Path]:
    """Build tiny models of ``families`` (default: all of ``FAMILIES``) and return ``{family: folder}``.

    Each family goes to ``out_dir/<family>``, with tokenizers trained on ``load_corpus(corpus)`` to
    about ``vocab_size`` pieces.  A folder whose ``.complete`` marker matches this builder version,
    vocab size, corpus digest and transformers version is reused unless ``force``; anything else is
    rebuilt in a temporary sibling folder and renamed into place, so a crash or a concurrent build
    never leaves a half-written folder marked complete.  ``log`` receives one line per family.
    """
    chosen = _parse_families(families)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = load_corpus(corpus)
    ctx = _Context(lines=lines, vocab_size=vocab_size, digest=_corpus_digest(lines))
    built: dict[str, Path] = {}
    for family in chosen:
        folder = out_dir / family
        fingerprint = _fingerprint(family, ctx)
        if not force and _is_complete(folder, fingerprint):
            built[family] = folder
            if log:
                log(f"{family}: up to date in {folder}")
            continue
        started = time.perf_counter()
        scratch = Path(tempfile.mkdtemp(prefix=f".{family}.", dir=out_dir))
        try:
            with _quiet_transformers():
                _build_family(family, scratch, ctx)
            (scratch / COMPLETE_MARKER).write_text(json.dumps(fingerprint, indent=2) + "\n", encoding="utf-8")
            # mkdtemp (and safetensors) create owner-only modes; a shared cache folder must be readable.
            scratch.chmod(0o755)
            for path in scratch.iterdir():
                path.chmod(0o644)
            if folder.exists():
                shutil.rmtree(folder)
            try:
                os.replace(scratch, folder)
            except OSError:
                # Another process (a parallel test session) put its finished copy there first; keep it.
                if not _is_complete(folder, fingerprint):
                    raise
        finally:
            if scratch.exists():
                shutil.rmtree(scratch, ignore_errors=True)
        built[family] = folder
        if log:
            log(f"{family}: built in {time.perf_counter() - started:.1f}s -> {folder}")
    return built


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line: parse ``argv`` (default ``sys.argv[1:]``), build, return the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m summarize.testing.tiny",
        description="Build tiny random-weight seq2seq models (real architectures and tokenizers) for tests.",
    )
    parser.add_argument("out_dir", type=Path, metavar="OUT_DIR", help="folder that receives one subfolder per family")
    parser.add_argument(
        "--only",
        type=lambda value: [part for part in value.split(",") if part.strip()],
        default=None,
        metavar="FAMILIES",
        help=f"comma-separated subset of {','.join(FAMILIES)} (default: all)",
    )
    parser.add_argument(
        "--vocab-size",
        type=int,
        default=DEFAULT_VOCAB_SIZE,
        metavar="N",
        help=f"target SentencePiece vocabulary size before language/sentinel tokens (default {DEFAULT_VOCAB_SIZE})",
    )
    parser.add_argument(
        "--corpus",
        type=Path,
        default=None,
        help="folder of *.jsonl files (title/text fields) or a single file to train tokenizers on (default: samples/)",
    )
    parser.add_argument("--force", action="store_true", help="rebuild even when a folder is marked complete")
    args = parser.parse_args(argv)
    if args.vocab_size < 100:
        parser.error("--vocab-size must be at least 100")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    started = time.perf_counter()
    try:
        build_tiny_models(
            args.out_dir,
            args.only,
            vocab_size=args.vocab_size,
            corpus=args.corpus,
            force=args.force,
            log=lambda message: print(message, flush=True),
        )
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"done in {time.perf_counter() - started:.1f}s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
