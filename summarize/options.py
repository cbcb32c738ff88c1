"""Options, built once at the edge (CLI, config file, Python API) and passed down frozen."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from .choices import (  # noqa: F401  (the choice sets are part of the options' public names)
    Backend,
    DetectorName,
    Device,
    EngineName,
    Extract,
    LongInput,
    OnDuplicate,
    TableFormat,
    Task,
    choice,
)
from .errors import UsageError
from .models import langcodes
from .schema import KEEP_TYPES, PARTITIONS, TABLES

DEFAULT_SUMMARY_MODEL = "csebuetnlp/mT5_multilingual_XLSum"
DEFAULT_TRANSLATION_MODEL = "facebook/m2m100_418M"
_LANG_CHARS = set("abcdefghijklmnopqrstuvwxyz-_")


FIELDS = ("summary", "title", "text")  # the fields `--translate` takes


def _check_lang(code: str, what: str) -> None:
    if not code or not set(code.lower()) <= _LANG_CHARS or len(code) > 12:
        raise UsageError(f"{what}: {code!r} is not a language code (use ISO 639-1, e.g. en, de, zh)")


@dataclass(frozen=True)
class ReadOptions:
    """How input records become articles.

    Attributes:
        id_col: Column holding the article id; articles without one get a content-derived id.
        text_col: Column holding the article body.
        title_col: Column holding the title (optional in the input).
        lang_col: Column holding a known language; None means detect every article.
        keep_cols: Extra input columns carried through to `articles`; `NAME:TYPE` (TYPE one of
            `schema.KEEP_TYPES`) fixes the column's type, and is split into `keep_cols` (names)
            and `keep_types` here.
        keep_types: (name, type) of the kept columns given a type.
        published_col: Column holding the publication time (parsed into `published_at`); None
            means `published` when the input has it.
        follow_symlinks: Read symbolic links in an input folder that lead out of it (by default
            they are skipped, each with a reject row).
        strip_html: The old spelling of `extract=Extract.all`: when True, pages are stripped
            of markup rather than extracted.
        extract: `main` (default): a web page becomes its article (trafilatura) and its
            metadata, a text dump loses its header lines (to title, date, source) and its
            standalone chrome lines ("Advertisement", "Share"), each removal flagged and the
            removed lines kept; `all`: a page keeps every visible text; `none`: texts are
            taken as they are.
        on_duplicate_id: `all` keeps every record, `first` drops later duplicates (listed in
            rejects, not an error), `last` drops earlier ones (the last version in the batch
            wins: for correction feeds), `error` rejects them as errors. A dataset's tables
            are keyed by article id, so under `all` a table output rejects a later duplicate as
            an error (an `--append` or `--upsert` batch with one is refused before it starts).
        max_chars: Longer texts and titles are cut to this many characters (flags `input_truncated`,
            `title_truncated`), so one runaway record cannot stall a batch.
    """

    id_col: str = "id"
    text_col: str = "text"
    title_col: str = "title"
    lang_col: str | None = None
    keep_cols: tuple[str, ...] = ()
    strip_html: bool = False
    on_duplicate_id: OnDuplicate = OnDuplicate.all
    max_chars: int = 100_000
    keep_types: tuple[tuple[str, str], ...] = ()
    published_col: str | None = None
    follow_symlinks: bool = False
    extract: Extract = Extract.main

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "extract", Extract("all" if self.strip_html else self.extract))
        except ValueError:
            raise UsageError(f"--extract must be main, all or none, not {self.extract!r}") from None
        names, types = [], dict(self.keep_types)
        for spec in self.keep_cols:
            name, sep, typ = spec.rpartition(":")
            if not sep or typ not in KEEP_TYPES:
                name, typ = spec, ""
            if not name:
                raise UsageError(f"--keep-col {spec!r}: give a column name")
            names.append(name)
            if typ:
                types[name] = typ
        clash = [n for n in names if n in TABLES["articles"].names]
        if clash:
            raise UsageError(f"--keep-col {', '.join(clash)}: the articles table already has a column of that name "
                             f"(its columns: {', '.join(TABLES['articles'].names)}); rename the column in the input")
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise UsageError(f"--keep-col {', '.join(twice)} given twice")
        object.__setattr__(self, "keep_cols", tuple(names))
        object.__setattr__(self, "keep_types", tuple(sorted(types.items())))
        if self.max_chars < 1:
            raise UsageError("--max-chars must be >= 1")
        object.__setattr__(self, "on_duplicate_id", choice(OnDuplicate, self.on_duplicate_id, "--on-duplicate-id"))
        if not self.text_col:
            raise UsageError("--text-col must name a column")


@dataclass(frozen=True)
class DetectOptions:
    """Language detection settings.

    Attributes:
        engine: `ensemble` (default: langdetect and fastText, lingua for hard cases when installed),
            or one engine alone: `langdetect`, `fasttext` or `lingua` (optional extra).
        seed: Seed that makes langdetect deterministic.
        min_chars: Fewer letters than this and the answer is `und` (`too_short`).
        min_score: A detector probability below this gives `und` (`ambiguous`).
        verify_lang: Check languages given by `--lang-col` and flag confident disagreement.
        verify_min_score: Detector confidence needed to overrule a given language.
    """

    engine: DetectorName = DetectorName.ensemble
    seed: int = 0
    min_chars: int = 4
    min_score: float = 0.5
    verify_lang: bool = False
    verify_min_score: float = 0.9

    def __post_init__(self) -> None:
        object.__setattr__(self, "engine", choice(DetectorName, self.engine, "--detector"))
        if not 0.0 <= self.min_score <= 1.0:
            raise UsageError("--min-lang-score must be between 0 and 1")
        if self.min_chars < 0:
            raise UsageError("--min-lang-chars must be >= 0")


@dataclass(frozen=True)
class GenerationOptions:
    """Decoding settings for one task (summarization or translation).

    Attributes:
        max_new_tokens: Most tokens generated per input (for translation: the cap on the
            length-proportional limit).
        num_beams: Beam width; 1 is greedy decoding.
        no_repeat_ngram_size: Forbid repeating n-grams of this size (0 disables).
        repetition_penalty: >1 discourages repeated tokens.
        length_penalty: Beam-search length penalty.
        batch_size: Most inputs per `generate` call.
        max_batch_tokens: Most padded input tokens per `generate` call.
        min_new_tokens: Fewest tokens generated per input before the end token may come (0: no
            minimum; benchmarks use it to force equal output lengths on every path).
    """

    # Summary defaults are the decoding the default model (XL-Sum mT5) was published and scored
    # with: 84 tokens, 4 beams, no repeated 2-gram. The 2-gram ban already makes every loop of
    # two tokens or more impossible, so the repetition penalty stays neutral (1.0): a penalty
    # such as 1.2 (designed for sampling) would also push down every token already written,
    # i.e. the subword pieces of the names a summary must repeat, common characters of Chinese
    # or Japanese, and function words, which garbles summaries more than it saves. Translation
    # has its own defaults (`default_translation_generation`): no ban, since a faithful
    # translation repeats what its source repeats. Both are flagged by `guards` when they loop.
    # (XL-Sum's config also has a length penalty of 0.6; 1.0 stays because translations share
    # this default and must not be pushed towards shorter beams.)
    max_new_tokens: int = 84
    num_beams: int = 4
    no_repeat_ngram_size: int = 2
    repetition_penalty: float = 1.0
    length_penalty: float = 1.0
    batch_size: int = 16
    max_batch_tokens: int = 8192
    min_new_tokens: int = 0

    def __post_init__(self) -> None:
        if self.min_new_tokens < 0:
            raise UsageError("min new tokens must be >= 0")
        if self.max_new_tokens < 1:
            raise UsageError("max new tokens must be >= 1")
        if self.num_beams < 1:
            raise UsageError("beams must be >= 1")
        if self.no_repeat_ngram_size < 0:
            raise UsageError("no-repeat n-gram size must be >= 0")
        if self.repetition_penalty <= 0:
            raise UsageError("repetition penalty must be > 0")
        if self.batch_size < 1 or self.max_batch_tokens < 1:
            raise UsageError("batch size and max batch tokens must be >= 1")


def default_translation_generation() -> GenerationOptions:
    return GenerationOptions(max_new_tokens=512, num_beams=4, no_repeat_ngram_size=0, repetition_penalty=1.0)


DEFAULT_MIN_LOGPROB = -2.5
"""Default `--min-logprob`: the `low_confidence` flag's threshold, in nats per generated token.

exp(-2.5) is about 0.08: below it the tokens the model chose had a geometric-mean probability
under 1 in 12, so it was unsure at most steps, which a fluent output in the model's own domain
should not be. The figure is reasoned, not calibrated (no real model was run to set it): look at
your model's `summary_logprob` / `logprob` distribution and set the threshold from it. A
random-weight test model scores near -log(vocabulary size) and is flagged throughout.
"""


@dataclass(frozen=True)
class RunOptions:
    """Everything a run needs besides its inputs and output folder.

    Attributes:
        to: Target languages (ISO 639-1).
        translate: Fields to translate: any of summary, title, text.
        summary_model: Hub id or local folder of the summarization model; None routes per language.
        translation_model: Hub id or local folder of the translation model; None routes per pair.
        summary: Decoding settings for summaries.
        translation: Decoding settings for translations.
        long_input: `chunk` (map-reduce over sentence-bounded chunks) or `truncate`.
        device: `auto`, `cpu` or `cuda`.
        backend: `auto` (CTranslate2 on CPU when ctranslate2 is installed, else torch), `torch` or `ct2`.
        compute_type: CTranslate2 compute type (default int8 on CPU).
        max_errors: Stop early after this many failed articles (None: never).
        shard_size: Articles processed and written together (bounds memory).
        max_loaded_models: Most models kept loaded at once (LRU); None: as many as `model_memory` holds.
        model_memory: GiB of weights kept loaded (LRU past it); None: a safe share of the RAM or
            GPU memory free when the run starts (see `backends.ModelPool`).
        prompt: Prompt template name or file (None: chosen by model family).
        registry: A user registry file overriding the shipped one.
        allow_noncommercial: Let routing use non-commercial models (NLLB, XL-Sum is always allowed as the default).
        detect: Language detection settings.
        min_logprob: Outputs whose mean log-probability per generated token (nats) is below this
            are flagged `low_confidence` (`DEFAULT_MIN_LOGPROB` explains the default);
            `-inf` turns the flag off.
        reuse: Take summaries and sentence translations already made with the same model and
            options from the output's memory instead of generating them (`summarize.reuse`);
            False (`--no-reuse`) generates everything and refreshes the memory.
    """

    to: tuple[str, ...] = ("en",)
    translate: tuple[str, ...] = ("summary",)
    summary_model: str | None = None
    translation_model: str | None = None
    summary: GenerationOptions = field(default_factory=GenerationOptions)
    translation: GenerationOptions = field(default_factory=default_translation_generation)
    long_input: LongInput = LongInput.chunk
    device: Device = Device.auto
    backend: Backend = Backend.auto
    compute_type: str | None = None
    max_errors: int | None = None
    shard_size: int = 256
    max_loaded_models: int | None = None
    model_memory: float | None = None
    prompt: str | None = None
    registry: str | None = None
    allow_noncommercial: bool = False
    detect: DetectOptions = field(default_factory=DetectOptions)
    min_logprob: float = DEFAULT_MIN_LOGPROB
    reuse: bool = True

    def __post_init__(self) -> None:
        if not self.to:
            raise UsageError("--to names no language (an empty list such as ',,'); give at least one code, e.g. --to en")
        for code in self.to:
            _check_lang(code, "--to")
        # `EN`, `pt-BR`, `zh_Hans`, `deu` name the same targets as `en`, `pt`, `zh`, `de` for routing
        # and output; `langcodes` is the one normaliser, so a target matches a given or detected source.
        object.__setattr__(self, "to", tuple(dict.fromkeys(langcodes.normalise(c) for c in self.to)))
        bad = [f for f in self.translate if f not in FIELDS]
        if bad:
            raise UsageError(f"--translate takes {', '.join(FIELDS)}; not {', '.join(bad)}")
        object.__setattr__(self, "long_input", choice(LongInput, self.long_input, "--long-input"))
        object.__setattr__(self, "device", choice(Device, self.device, "--device"))
        object.__setattr__(self, "backend", choice(Backend, self.backend, "--backend"))
        if self.max_errors is not None and self.max_errors < 1:
            raise UsageError("--max-errors must be >= 1")
        if self.shard_size < 1 or (self.max_loaded_models is not None and self.max_loaded_models < 1):
            raise UsageError("--shard-size and --max-loaded-models must be >= 1")
        if self.model_memory is not None and self.model_memory <= 0:
            raise UsageError("--model-memory must be > 0 (GiB)")
        if not self.min_logprob <= 0:  # also rejects NaN
            raise UsageError(f"--min-logprob is a mean log-probability, <= 0; not {self.min_logprob}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunOptions:
        """The options `to_dict` (as stored in a run manifest) describes; keys this version does
        not know are left out, fields the dict lacks keep their defaults."""
        nested = {"summary": GenerationOptions, "translation": GenerationOptions, "detect": DetectOptions}
        known = {f.name for f in fields(cls)}
        kw: dict[str, Any] = {}
        for key, value in data.items():
            if key not in known:
                continue
            if key in nested and isinstance(value, dict):
                sub = nested[key]
                value = sub(**{k: v for k, v in value.items() if k in {f.name for f in fields(sub)}})
            elif isinstance(value, list):
                value = tuple(value)
            kw[key] = value
        return cls(**kw)

    def output_dict(self, fingerprints: dict[str, str] | None = None) -> dict[str, Any]:
        """The options that change what is written, as plain data: `to_dict` without the
        `OUTPUT_NEUTRAL` fields, with the content `fingerprints` of the local model folders they
        name (new weights at the same path are another model). Both the options hash in every
        Parquet file and the run identity `--resume` compares are made from this, so they cannot
        disagree about a field."""
        d = self.to_dict()
        for key in OUTPUT_NEUTRAL:
            d.pop(key, None)
        if fingerprints:
            d["fingerprints"] = fingerprints
        for task in ("summary", "translation"):
            for key in OUTPUT_NEUTRAL_GENERATION:
                d[task].pop(key, None)
            if not d[task]["min_new_tokens"]:  # absent before it existed: earlier outputs still resume
                d[task].pop("min_new_tokens")
        return d

    def output_hash(self, fingerprints: dict[str, str] | None = None) -> str:
        """Hash of `output_dict`: the options that change what is written (not speed or device settings)."""
        blob = json.dumps(self.output_dict(fingerprints), sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


#: `RunOptions` fields that change how fast or where a run works, or whether it reuses earlier
#: outputs (reused rows equal fresh ones), never what it writes: a run resumed with other values
#: continues the same output.
OUTPUT_NEUTRAL = ("device", "max_errors", "shard_size", "max_loaded_models", "model_memory", "backend", "compute_type",
                  "reuse")
#: `GenerationOptions` fields of the same kind (batching only regroups the same inputs).
OUTPUT_NEUTRAL_GENERATION = ("batch_size", "max_batch_tokens")


def output_neutral(key: str, value: Any) -> bool:
    """Whether a flattened identity key (`run.model_memory`, `run.summary.batch_size`) is one that
    `RunOptions.output_dict` leaves out, so an identity stored before a field was called neutral
    still matches one made now."""
    parts = key.split(".")
    if parts[0] != "run":
        return False
    if len(parts) == 2:
        return parts[1] in OUTPUT_NEUTRAL
    if len(parts) == 3 and parts[1] in ("summary", "translation"):
        return parts[2] in OUTPUT_NEUTRAL_GENERATION or (parts[2] == "min_new_tokens" and not value)
    return False


@dataclass(frozen=True)
class WriteOptions:
    """How a run writes its output folder: into a new one, over, after or into an earlier run.

    The flags combine (`append` with `resume` continues a batch being appended); which
    combinations exclude each other is decided in one place, `validate.check_write`, which
    `summarize.run` calls for the CLI and the Python API alike.

    Attributes:
        overwrite: Replace an output folder written by summarize (only its files are deleted).
        resume: Continue an interrupted run with the same inputs and options, skipping the
            articles already written.
        append: Add this run to the dataset in the folder; earlier runs stay.
        upsert: Delta only: append, replacing the rows of every article already there (same id).
        allow_duplicate_batch: With `append`/`upsert`: accept an input the dataset already holds.
        table_format: `parquet` part files, or `delta` tables (shards committed as transactions).
        partition_by: Hive-style partition folders, any of `schema.PARTITIONS` (`lang`, `date`).
        wide: Also write one flat `wide.parquet` (a column per field and language).
    """

    overwrite: bool = False
    resume: bool = False
    append: bool = False
    upsert: bool = False
    allow_duplicate_batch: bool = False
    table_format: TableFormat = TableFormat.parquet
    partition_by: tuple[str, ...] = ()
    wide: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "table_format", choice(TableFormat, self.table_format, "--table-format"))
        parts = (self.partition_by,) if isinstance(self.partition_by, str) else self.partition_by
        object.__setattr__(self, "partition_by", tuple(parts))
        bad = [p for p in self.partition_by if p not in PARTITIONS]
        if bad:
            raise UsageError(f"--partition-by takes {', '.join(PARTITIONS)}; not {', '.join(bad)}")

    @property
    def adds(self) -> bool:
        """The run adds to a dataset (`append` or `upsert`)."""
        return self.append or self.upsert

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "partition_by": list(self.partition_by)}
