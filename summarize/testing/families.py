"""The six tiny model families: tokenizer files, a config and a model factory for each.

Each builder writes a tokenizer laid out as the real checkpoint's (t5-small, mt5-small, opus-mt,
m2m100, mbart-50, nllb-200) into a folder and returns a `BuildPlan`: how to make the random-weight model,
its generation config, the probe that checks it generates, and its language tokens.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .spm import Context, spm_pieces

MODEL_MAX_LENGTH = 512
"""Input limit written into every tokenizer, and the position-embedding size of the BART-like models."""

# Language tokens for the Marian family, imitating a multi-target opus-mt model (e.g. en-ROMANCE)
# where the source text starts with ">>fr<< " to pick the output language.
MARIAN_LANGUAGES: tuple[str, ...] = ("en", "de", "fr", "es", "it", "pt", "nl", "ru", "uk", "ar", "zh", "hi")

PROBE_TEXT = "The city council approved the new budget for schools and public transport on Monday."

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
class Probe:
    """How to run the post-build sanity generation for one family."""

    text: str = PROBE_TEXT
    src_lang: str | None = None
    forced_bos_token: str | None = None


@dataclass
class BuildPlan:
    """What a family builder hands back: a model factory plus what the finishing steps need."""

    make_model: Callable[[], Any]
    generation: dict[str, Any]
    probe: Probe
    languages: dict[str, str]


def _t5_like(folder: Path, ctx: Context, *, multilingual: bool) -> BuildPlan:
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
        return BuildPlan(lambda: MT5ForConditionalGeneration(config), generation, Probe(), {})
    config = T5Config(vocab_size=vocab_size, feed_forward_proj="relu", **_t5_dims())
    return BuildPlan(lambda: T5ForConditionalGeneration(config), generation, Probe(text="summarize: " + PROBE_TEXT), {})


def _build_t5(folder: Path, ctx: Context) -> BuildPlan:
    return _t5_like(folder, ctx, multilingual=False)


def _build_mt5(folder: Path, ctx: Context) -> BuildPlan:
    return _t5_like(folder, ctx, multilingual=True)


def _build_marian(folder: Path, ctx: Context) -> BuildPlan:
    from transformers import MarianConfig, MarianMTModel, MarianTokenizer

    model_bytes = ctx.spm("unigram", t5_ids=False)
    # Marian keeps its own vocab.json, independent of SentencePiece ids: </s>=0, <unk>=1, then the
    # pieces, and <pad> last (pad id = vocab size - 1, which is also the decoder start token).
    lang_tokens = [f">>{code}<<" for code in MARIAN_LANGUAGES]
    tokens = ["</s>", "<unk>", *lang_tokens, *(p for p in spm_pieces(model_bytes) if p not in lang_tokens), "<pad>"]
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
    return BuildPlan(lambda: MarianMTModel(config), generation, Probe(text=">>de<< " + PROBE_TEXT), languages)


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


def _build_m2m100(folder: Path, ctx: Context) -> BuildPlan:
    from transformers import M2M100Config, M2M100ForConditionalGeneration, M2M100Tokenizer
    from transformers.models.m2m_100.tokenization_m2m_100 import FAIRSEQ_LANGUAGE_CODES

    codes = list(FAIRSEQ_LANGUAGE_CODES["m2m100"])
    model_bytes = ctx.spm("bpe", t5_ids=False)
    # fairseq dictionary order: <s> <pad> </s> <unk>, then the pieces; the tokenizer itself appends the
    # 100 __xx__ language tokens after this vocab.
    tokens = ["<s>", "<pad>", "</s>", "<unk>", *spm_pieces(model_bytes)]
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
    probe = Probe(src_lang="en", forced_bos_token="__de__")
    return BuildPlan(
        lambda: M2M100ForConditionalGeneration(config),
        _fairseq_generation(beams=5, forced_eos=False),
        probe,
        languages,
    )


def _build_mbart50(folder: Path, ctx: Context) -> BuildPlan:
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
    probe = Probe(src_lang="en_XX", forced_bos_token="de_DE")
    return BuildPlan(
        lambda: MBartForConditionalGeneration(config),
        _fairseq_generation(beams=5, forced_eos=True),
        probe,
        languages,
    )


def _build_nllb(folder: Path, ctx: Context) -> BuildPlan:
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
    probe = Probe(src_lang="eng_Latn", forced_bos_token="deu_Latn")
    return BuildPlan(
        lambda: M2M100ForConditionalGeneration(config),
        _fairseq_generation(beams=None, forced_eos=False),
        probe,
        languages,
    )


BUILDERS: dict[str, Callable[[Path, Context], BuildPlan]] = {
    "t5": _build_t5,
    "mt5": _build_mt5,
    "marian": _build_marian,
    "m2m100": _build_m2m100,
    "mbart50": _build_mbart50,
    "nllb": _build_nllb,
}
