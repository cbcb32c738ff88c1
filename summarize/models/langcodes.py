"""Language codes: ISO 639-1 as the lingua franca, and the codes each model family expects.

This is the one place that normalises language codes (`normalise`) and knows which languages are
too close to tell apart (`same_language`): detection, segmentation, options, guards and routing
all ask it. Everything outside this module speaks normalised ISO 639-1 (`de`, `zh`), or an ISO
639-3 code where a language has no 639-1 code (`ast`, `pcm`, `yue`). This module turns those into what a
model family wants: `__de__` for M2M100, `de_DE` for mBART-50, `deu_Latn` for NLLB, `<2de>` for
MADLAD-400, a `>>deu<<` label for multi-target OPUS-MT models, and English language names for
prompted models (T5, Flan-T5, mT0). The tables live in `summarize/data/` and are read lazily once.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path

from ..errors import UnsupportedLanguageError

_DATA = Path(__file__).parent.parent / "data"

#: Model families this module knows. Families after `mt0` take no language code at all: their
#: checkpoints summarize (or translate) in a fixed way and `family_code` refuses them.
FAMILIES: tuple[str, ...] = (
    "marian",
    "m2m100",
    "mbart50",
    "mbart",
    "nllb",
    "madlad",
    "t5",
    "flan-t5",
    "mt0",
    "mt5",
    "bart",
    "pegasus",
    "seq2seq",
)
_CODELESS = frozenset({"mt5", "bart", "pegasus", "seq2seq"})

UNDETERMINED = "und"

# Withdrawn ISO 639-1 codes still emitted by old systems (Java locales, Google APIs).
_DEPRECATED = {"iw": "he", "in": "id", "ji": "yi", "jw": "jv", "mo": "ro"}

# ISO 639-2/B ("bibliographic") codes differ from the 639-3/639-2/T ones in languages.tsv.
_ISO639_2B = {
    "alb": "sq", "arm": "hy", "baq": "eu", "bur": "my", "chi": "zh", "cze": "cs", "dut": "nl",
    "fre": "fr", "geo": "ka", "ger": "de", "gre": "el", "ice": "is", "mac": "mk", "mao": "mi",
    "may": "ms", "per": "fa", "rum": "ro", "slo": "sk", "tib": "bo", "wel": "cy",
}  # fmt: skip

# Only these four languages were in the original T5 translation mixture.
_T5_LANGUAGES = frozenset({"en", "de", "fr", "ro"})

# Region subtags that imply a Chinese script when no script subtag is given.
_ZH_REGION_SCRIPT = {"tw": "Hant", "hk": "Hant", "mo": "Hant", "cn": "Hans", "sg": "Hans"}

# Languages so close that a detector cannot tell them apart in a short text, so that one found
# where the other was given or asked for is no evidence of a wrong language: the Serbo-Croatian
# standards, the Norwegian written standards and Danish, Indonesian and Malay, the Chinese
# varieties, Persian and Dari.
CLOSE_GROUPS: tuple[frozenset[str], ...] = (
    frozenset({"hr", "sr", "bs", "sh", "cnr"}),
    frozenset({"no", "nb", "nn", "da"}),
    frozenset({"id", "ms"}),
    frozenset({"zh", "yue", "wuu"}),
    frozenset({"fa", "prs"}),
)

# Varieties and written standards that language detectors answer with their macrolanguage.
_MACROLANGUAGE = {"nb": "no", "yue": "zh", "wuu": "zh", "prs": "fa"}

_MBART_CC25 = 25  # mbart-large-cc25 knows the first 25 codes of the mBART-50 list, in order.


def _rows(name: str) -> list[dict[str, str]]:
    with (_DATA / name).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


@cache
def _languages() -> dict[str, tuple[tuple[str, ...], str, str]]:
    """code -> (ISO 639-3 codes, default script, English name)."""
    return {r["code"]: (tuple(r["iso639_3"].split(",")), r["script"], r["name"]) for r in _rows("languages.tsv")}


@cache
def _from_639_3() -> dict[str, str]:
    # A code listed first (the language's own 639-3 code) wins over a secondary listing, so
    # `nob` maps to `nb` although `no` lists it as its standard variety.
    out: dict[str, str] = {}
    langs = _languages()
    for code, (iso3, _, _) in langs.items():
        out.setdefault(iso3[0], code)
    for code, (iso3, _, _) in langs.items():
        for other in iso3[1:]:
            out.setdefault(other, code)
    for b, code in _ISO639_2B.items():
        out.setdefault(b, code)
    return out


@cache
def _nllb() -> dict[str, tuple[str, ...]]:
    """code -> NLLB codes, the default first. Varieties without a 639-1 code get their 639-3 key."""
    out: dict[str, list[str]] = {}
    for r in _rows("nllb.tsv"):
        key = r["code"] or normalise(r["nllb"].split("_")[0])
        out.setdefault(key, []).append(r["nllb"])
    for key, codes in out.items():
        default = _languages().get(key, ((), "Latn", ""))[1] or "Latn"
        codes.sort(key=lambda c: c.split("_")[1] != default)
    # langdetect and M2M100 say `no`; NLLB only has the two written standards.
    out.setdefault("no", list(out["nb"]))
    return {k: tuple(v) for k, v in out.items()}


@cache
def _nllb_names() -> dict[str, str]:
    names: dict[str, str] = {}
    for r in _rows("nllb.tsv"):
        key = r["code"] or normalise(r["nllb"].split("_")[0])
        names.setdefault(key, re.sub(r"\s*\([^)]*\)$", "", r["name"]))
    return names


@cache
def _m2m100() -> dict[str, str]:
    table = {r["code"]: r["m2m100"] for r in _rows("m2m100.tsv")}
    table.setdefault("nb", table["no"])  # M2M100's Norwegian data is Bokmål
    return table


@cache
def _mbart50() -> dict[str, str]:
    return {r["code"]: r["mbart50"] for r in _rows("mbart50.tsv")}


@cache
def _mbart_cc25() -> dict[str, str]:
    rows = _rows("mbart50.tsv")[:_MBART_CC25]
    return {r["code"]: r["mbart50"] for r in rows}


@cache
def language_set(name: str) -> frozenset[str]:
    """Return a named set of language codes: a family name (see `supported`), `xlsum` (the 45
    XL-Sum languages) or `langdetect` (the 55 langdetect profiles, normalised). The registry uses
    these names so that its data file need not repeat long code lists."""
    if name == "xlsum":
        return frozenset(r["code"] for r in _rows("xlsum.tsv"))
    if name == "langdetect":
        return frozenset(_langdetect().values())
    if name in FAMILIES:
        return supported(name)
    raise ValueError(f"unknown language set {name!r}; known: xlsum, langdetect, {', '.join(FAMILIES)}")


@cache
def _langdetect() -> dict[str, str]:
    return {r["detector_code"]: r["code"] for r in _rows("langdetect.tsv")}


def langdetect_code(detector_code: str) -> str:
    """Map what `langdetect.detect()` returns (`zh-cn`, `no`) to this project's code."""
    return _langdetect().get(detector_code) or normalise(detector_code)


def normalise(code: str) -> str:
    """Reduce a language tag to the project's code: the ISO 639-1 code where one exists, else
    ISO 639-3. Region and script subtags are dropped (`pt-BR` -> `pt`, `zh-Hant` -> `zh`),
    withdrawn codes are replaced (`iw` -> `he`, `in` -> `id`), 3-letter codes with a 639-1
    equivalent are shortened (`deu` -> `de`, `cmn` -> `zh`, `fil` -> `tl`). Norwegian `nb`, `nn`
    and `no` are kept apart: they are different written standards to a model that knows both
    (NLLB), and the families that only know `no` map `nb` to it. Empty input gives `und`."""
    tag = code.strip().lower().replace("_", "-")
    if not tag:
        return UNDETERMINED
    primary = tag.split("-", 1)[0]
    primary = _DEPRECATED.get(primary, primary)
    if len(primary) == 3:
        primary = _from_639_3().get(primary, primary)
    return primary


def macrolanguage(code: str) -> str:
    """The code a language detector answers for a language: the normalised code, with written
    standards and varieties folded into their macrolanguage (`nb` -> `no`, `yue` -> `zh`)."""
    iso = normalise(code)
    return _MACROLANGUAGE.get(iso, iso)


def same_language(a: str, b: str) -> bool:
    """True when two codes name the same language after normalising (`pt-BR`, `por`), or two
    languages of one `CLOSE_GROUPS` group (`nb` and `no`, `hr` and `sr`, `zh` and `yue`)."""
    x, y = normalise(a), normalise(b)
    return x == y or any(x in group and y in group for group in CLOSE_GROUPS)


def _script_hint(code: str) -> str | None:
    """A script the caller asked for through a BCP 47 subtag (`sr-Latn`, `zh-TW`), else None."""
    parts = code.strip().replace("_", "-").split("-")
    for sub in parts[1:]:
        if len(sub) == 4 and sub.isalpha():
            return sub.title()
    if normalise(parts[0]) == "zh":
        for sub in parts[1:]:
            if sub.lower() in _ZH_REGION_SCRIPT:
                return _ZH_REGION_SCRIPT[sub.lower()]
    return None


def _region_hint(code: str) -> str | None:
    parts = code.strip().replace("_", "-").split("-")
    for sub in parts[1:]:
        if len(sub) == 2 and sub.isalpha():
            return sub.lower()
    return None


def default_script(lang: str) -> str | None:
    """The ISO 15924 script a language is usually written in (`Cyrl` for `sr`), if known."""
    entry = _languages().get(normalise(lang))
    return entry[1] if entry else None


def iso639_3(lang: str) -> tuple[str, ...]:
    """ISO 639-3 codes for a language, the macrolanguage (or own code) first, then the standard
    variety that models trained on Tatoeba data or NLLB use (`ar` -> `ara`, `arb`)."""
    iso = normalise(lang)
    entry = _languages().get(iso)
    if entry:
        return entry[0]
    return (iso,) if len(iso) == 3 else ()


def language_name(lang: str) -> str:
    """English name of a language, suitable for prompts (`de` -> `German`); `und` gives
    `Undetermined`. Raises UnsupportedLanguageError for a code no table knows."""
    iso = normalise(lang)
    if iso == UNDETERMINED:
        return "Undetermined"
    entry = _languages().get(iso)
    if entry:
        return entry[2]
    name = _nllb_names().get(iso)
    if name:
        return name
    raise UnsupportedLanguageError(f"unknown language code {lang!r}: no English name for it")


def _named() -> frozenset[str]:
    return frozenset(_languages()) | frozenset(_nllb_names())


@cache
def supported(family: str) -> frozenset[str]:
    """Codes `family_code` accepts for a family. An empty set means either an open family
    (`madlad`: any code, the tokenizer is the judge) or a family that takes no code at all
    (`mt5`, `bart`, `pegasus`, `seq2seq`). Raises ValueError for an unknown family."""
    fam = _check_family(family)
    if fam == "nllb":
        return frozenset(_nllb())
    if fam == "m2m100":
        return frozenset(_m2m100())
    if fam == "mbart50":
        return frozenset(_mbart50())
    if fam == "mbart":
        return frozenset(_mbart_cc25())
    if fam == "t5":
        return _T5_LANGUAGES
    if fam in ("marian", "flan-t5", "mt0"):
        return _named()
    return frozenset()


def _check_family(family: str) -> str:
    if family not in FAMILIES:
        raise ValueError(f"unknown model family {family!r}; known: {', '.join(FAMILIES)}")
    return family


def _unsupported(lang: str, family: str, model: str | None) -> UnsupportedLanguageError:
    try:
        shown = f"{lang!r} ({language_name(lang)})"
    except UnsupportedLanguageError:
        shown = repr(lang)
    where = f"model {model} ({family} family)" if model else f"the {family} model family"
    return UnsupportedLanguageError(f"language {shown} is not supported by {where}")


def family_code(family: str, lang: str, *, model: str | None = None) -> str:
    """Return the code `family` expects for language `lang`: `__de__` (m2m100, the form its
    tokenizer's `lang_code_to_token` uses; pass `de` as `src_lang`/`tgt_lang`), `de_DE` (mbart50,
    mbart), `deu_Latn` (nllb; a script subtag such as `zh-Hant` picks the variety), `<2de>`
    (madlad), the English name (`German`) for t5, flan-t5 and mt0, and `>>de<<` for marian,
    which is only a guess for old group models: use `marian_target_token` with the tokenizer's
    vocabulary instead. Raises UnsupportedLanguageError naming the language, the family and
    `model` when given; ValueError for an unknown family or one that takes no code."""
    fam = _check_family(family)
    iso = normalise(lang)
    if fam in _CODELESS:
        raise ValueError(f"the {fam} model family takes no language code")
    if iso == UNDETERMINED:
        raise _unsupported(lang, fam, model)
    if fam == "nllb":
        codes = _nllb().get(iso)
        if not codes:
            raise _unsupported(lang, fam, model)
        script = _script_hint(lang)
        return next((c for c in codes if script and c.endswith("_" + script)), codes[0])
    if fam == "m2m100":
        m2m = _m2m100().get(iso)
        if m2m is None:
            raise _unsupported(lang, fam, model)
        return f"__{m2m}__"
    if fam in ("mbart50", "mbart"):
        mbart = (_mbart50() if fam == "mbart50" else _mbart_cc25()).get(iso)
        if mbart is None:
            raise _unsupported(lang, fam, model)
        return mbart
    if fam == "madlad":
        return f"<2{iso}>"
    if iso not in supported(fam):
        raise _unsupported(lang, fam, model)
    if fam == "marian":
        return f">>{iso}<<"
    return language_name(iso)  # t5, flan-t5, mt0 name the language in the prompt


_LABEL = re.compile(r"^>>(.+)<<$")


def marian_target_token(lang: str, vocab_tokens: Iterable[str], *, model: str | None = None) -> str | None:
    """Pick the `>>xx<<` target label a multi-target OPUS-MT model needs for `lang`, from the
    tokenizer's vocabulary (all of it or just its `>>..<<` entries). Old group models use 639-1
    labels (`>>pt<<`), Tatoeba and tc models 639-3 labels, often with a script (`>>por<<`,
    `>>cmn_Hans<<`, `>>srp_Cyrl<<`). Tries, in order: a region variant asked for (`pt-BR` ->
    `>>pt_br<<`), each code with the wanted script, each bare code, then any `code_*` variant.
    Returns None when the vocabulary has no labels (a bilingual model needs none); raises
    UnsupportedLanguageError when it has labels but none for `lang`."""
    labels: dict[str, str] = {}
    for tok in vocab_tokens:
        m = _LABEL.match(tok)
        if m:
            labels.setdefault(m.group(1).lower(), tok)
    if not labels:
        return None
    iso = normalise(lang)
    bases = [iso, *(c for c in iso639_3(iso) if c != iso)]
    script = _script_hint(lang) or default_script(iso)
    region = _region_hint(lang)
    tries: list[str] = []
    if region:
        tries += [f"{b}_{region}" for b in bases]
    if script:
        tries += [f"{b}_{script.lower()}" for b in bases]
    tries += bases
    for key in tries:
        if key in labels:
            return labels[key]
    for b in bases:
        variants = sorted(k for k in labels if k.startswith(b + "_"))
        if variants:
            return labels[variants[0]]
    raise _unsupported(lang, "marian", model)


def family_of(model_type: str, name_or_path: str) -> str:
    """Map a transformers `config.model_type` plus the model's Hub id or folder to a family.
    The name decides where one architecture serves several families: NLLB is `m2m_100`, mT0 is
    `mt5`, Flan-T5 and MADLAD-400 are `t5`, mBART-50 is `mbart`. Only the last path component is
    read, so a local folder should keep the Hub name (`models/flan-t5-base`). Unknown
    architectures give `seq2seq` (no codes, no prompt)."""
    mt = model_type.strip().lower().replace("-", "_")
    name = name_or_path.strip().rstrip("/\\").replace("\\", "/").rsplit("/", 1)[-1].lower().replace("_", "-")
    if "nllb" in name or mt.startswith("nllb"):
        return "nllb"
    if "madlad" in name:
        return "madlad"
    if mt == "t5":
        return "flan-t5" if "flan" in name else "t5"
    if mt in ("mt5", "umt5"):
        return "mt0" if re.search(r"(^|[^a-z0-9])mt0", name) else "mt5"
    if mt == "marian":
        return "marian"
    if mt == "m2m_100":
        return "m2m100"
    if mt == "mbart":
        return "mbart50" if re.search(r"mbart.*50", name) else "mbart"
    if mt == "bart":
        return "bart"
    if mt in ("pegasus", "pegasus_x", "bigbird_pegasus"):
        return "pegasus"
    return "seq2seq"
