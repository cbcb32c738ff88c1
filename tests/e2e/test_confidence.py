"""Confidence on every output: mean log-probability per generated token, from both backends alike.

The backends' figures are checked against an independent computation (a teacher-forced forward
pass of the model over its own output), against each other under greedy decoding in float32,
and through a whole run into the Parquet columns, the `low_confidence` flag and the SQL in docs/quality.md.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from summarize.align import weighted_logprob
from summarize.backends import hf
from summarize.backends.ct2 import cumulated
from summarize.backends.hf import StepRecorder, TransformersGenerator, chosen_scores, record_width
from summarize.errors import UsageError
from summarize.guards import LOW_CONFIDENCE, confidence
from summarize.options import DEFAULT_MIN_LOGPROB, GenerationOptions, RunOptions
from tests.conftest import invoke, sample_articles, write_jsonl

TEXTS = [
    "The city council met on Monday to discuss the budget for next year.",
    "Hello world.",
    "Der Stadtrat hat am Montag über den Haushalt gesprochen, der im Herbst beschlossen wird.",
]
GREEDY = GenerationOptions(max_new_tokens=10, num_beams=1, no_repeat_ngram_size=0, repetition_penalty=1.0)
BEAM = GenerationOptions(max_new_tokens=10, num_beams=3, no_repeat_ngram_size=0, repetition_penalty=1.0)
# The summarizer's defaults: beams, no repeated n-grams and a repetition penalty, all processing the scores.
PROCESSED = GenerationOptions(max_new_tokens=12, num_beams=4, no_repeat_ngram_size=2, repetition_penalty=1.3)
FAMILIES = ("t5", "marian", "m2m100")


def _langs(family: str) -> dict[str, Any]:
    return {} if family == "t5" else {"source_lang": "en", "target_lang": "de"}


@pytest.fixture(scope="module")
def torch_models(tiny: dict[str, Path]) -> dict[str, TransformersGenerator]:
    return {f: TransformersGenerator.load(str(tiny[f]), device="cpu") for f in FAMILIES}


@pytest.fixture
def strict(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every chosen token must be among the recorded top scores: the teacher-forced fallback fails the test."""

    def fail(*_args: Any) -> None:
        pytest.fail("a chosen token was not among StepRecorder's top scores")

    monkeypatch.setattr(TransformersGenerator, "_rescore", fail)


@pytest.fixture(scope="module")
def ct2_models(tiny: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    pytest.importorskip("ctranslate2")
    from summarize.backends.ct2 import load_ct2

    old = os.environ.get("SUMMARIZE_CACHE")
    os.environ["SUMMARIZE_CACHE"] = str(tmp_path_factory.mktemp("ct2-confidence"))
    try:
        yield {f: load_ct2(str(tiny[f]), device="cpu", compute_type="float32") for f in FAMILIES}
    finally:
        if old is None:
            os.environ.pop("SUMMARIZE_CACHE", None)
        else:
            os.environ["SUMMARIZE_CACHE"] = old


# ------------------------------------------------------------------ backends


@pytest.mark.parametrize("family", ["t5", "m2m100"])
def test_torch_logprob_equals_a_teacher_forced_recomputation(
    torch_models: dict[str, TransformersGenerator], family: str, strict: None
) -> None:
    """The mean the backend reports is what the model gives its own output, scored afresh."""
    import torch

    gen = torch_models[family]
    outs = gen.generate_batch(TEXTS, GREEDY, **_langs(family))
    prep = gen.codec.prepare(TEXTS, **{"source_lang": None, "target_lang": None, **_langs(family)})
    forced = 1 if prep.target_token else 0
    eos = gen.tokenizer.eos_token_id
    for text, out in zip(prep.texts, outs, strict=True):
        enc = gen.tokenizer([text], return_tensors="pt")
        kwargs: dict[str, Any] = {"max_new_tokens": 10, "num_beams": 1, "do_sample": False}
        if prep.target_token:
            kwargs["forced_bos_token_id"] = gen.codec.token_id(prep.target_token)
        with torch.inference_mode():
            seq = gen.model.generate(**enc, **kwargs)
            logits = gen.model(**enc, decoder_input_ids=seq[:, :-1]).logits
        logp = torch.log_softmax(logits.float(), dim=-1)[0]
        chosen = seq[0, 1:]
        per_token = logp.gather(1, chosen[:, None])[:, 0].tolist()
        ids = chosen.tolist()
        end = ids.index(eos) + 1 if eos in ids else len(ids)
        expected = per_token[forced:end]
        assert out.gen_tokens == len(expected)
        assert out.logprob is not None and out.logprob <= 0
        assert out.logprob == pytest.approx(sum(expected) / len(expected), abs=1e-4)


@pytest.mark.ct2
@pytest.mark.parametrize("options", [GREEDY, BEAM], ids=["greedy", "beam"])
@pytest.mark.parametrize("family", FAMILIES)
def test_both_backends_report_the_same_confidence(
    family: str, options: GenerationOptions, torch_models: dict[str, TransformersGenerator], ct2_models: dict[str, Any],
    strict: None,
) -> None:
    ct2 = ct2_models[family]
    assert ct2 is not None, f"{family} did not convert"
    torch_out = torch_models[family].generate_batch(TEXTS, options, **_langs(family))
    ct2_out = ct2.generate_batch(TEXTS, options, **_langs(family))
    for a, b in zip(torch_out, ct2_out, strict=True):
        assert (a.text, a.tokens, a.gen_tokens) == (b.text, b.tokens, b.gen_tokens)
        assert a.logprob is not None and b.logprob is not None
        assert a.logprob <= 0 and b.logprob <= 0
        assert b.logprob == pytest.approx(a.logprob, abs=2e-3)
        # The mean covers the output's tokens, and the end token only when the model chose it.
        assert a.gen_tokens in (a.tokens, a.tokens + 1)


# ------------------------------------------------------------------ the old path, as a reference


def transition_scores(sequences: Any, scores: Sequence[Any], beam_indices: Any | None) -> Any:
    """Each chosen token's log-probability, (rows, steps), from `generate(output_scores=True)`'s scores.

    What the backend did before `StepRecorder`: it kept one (rows x vocabulary) tensor per step.
    """
    import torch

    generated = beam_indices.shape[1] if beam_indices is not None else len(scores)
    start = sequences.shape[1] - generated
    cols = []
    for t in range(min(generated, len(scores))):
        tokens = sequences[:, start + t]
        if beam_indices is None:
            cols.append(torch.log_softmax(scores[t].float(), dim=-1).gather(1, tokens[:, None])[:, 0])
        else:
            cols.append(scores[t][beam_indices[:, t].clamp(min=0), tokens].float())
    return torch.stack(cols, dim=1) if cols else torch.zeros((sequences.shape[0], 0))


def _old_path(gen: TransformersGenerator, kwargs: dict[str, Any], forced_first: bool) -> tuple[list[Any], Any]:
    """Sequences and (total, count) per output from the same `generate` call with `output_scores`."""
    import torch

    call = {k: v for k, v in kwargs.items() if k != "logits_processor"}
    beams = call["num_beams"] > 1
    with torch.inference_mode():
        out = gen.model.generate(**call, output_scores=True)
    steps = transition_scores(out.sequences, out.scores, out.beam_indices if beams else None)
    start = out.sequences.shape[1] - steps.shape[1]
    eos = {gen.tokenizer.eos_token_id}
    forced_last = call["max_new_tokens"] if getattr(gen.generation, "forced_eos_token_id", None) is not None else None
    results = []
    for i, row in enumerate(out.sequences.tolist()):
        valid = (out.beam_indices[i, : steps.shape[1]] >= 0).tolist() if beams else None
        results.append(chosen_scores(row[start:], steps[i].tolist(), valid, eos=eos, forced_first=forced_first,
                                     forced_last=forced_last))
    return out.sequences.tolist(), results


class _Spy:
    """Wraps a model's `generate` to keep the arguments and the recorder of its last call."""

    def __init__(self, gen: TransformersGenerator, monkeypatch: pytest.MonkeyPatch) -> None:
        self.kwargs: dict[str, Any] = {}
        self.sequences: list[Any] = []
        real = gen.model.generate

        def generate(**kwargs: Any) -> Any:
            self.kwargs = kwargs
            out = real(**kwargs)
            self.sequences = out.sequences.tolist()
            return out

        monkeypatch.setattr(gen.model, "generate", generate)

    @property
    def recorder(self) -> StepRecorder:
        (rec,) = [p for p in self.kwargs["logits_processor"] if isinstance(p, StepRecorder)]
        return rec


@pytest.mark.parametrize("beams", [1, 3])
@pytest.mark.parametrize("family", ["t5", "m2m100"])
def test_reference_scores_equal_transformers_own(
    torch_models: dict[str, TransformersGenerator], family: str, beams: int
) -> None:
    """The reference (the old path) is `compute_transition_scores`, one step at a time."""
    import torch

    gen = torch_models[family]
    prep = gen.codec.prepare(TEXTS, **{"source_lang": None, "target_lang": None, **_langs(family)})
    enc = gen.tokenizer(prep.texts, return_tensors="pt", padding=True)
    kwargs: dict[str, Any] = {"max_new_tokens": 10, "num_beams": beams, "do_sample": False,
                              "output_scores": True, "return_dict_in_generate": True}
    if prep.target_token:
        kwargs["forced_bos_token_id"] = gen.codec.token_id(prep.target_token)
    with torch.inference_mode():
        out = gen.model.generate(**enc, **kwargs)
        indices = out.beam_indices if beams > 1 else None
        ours = transition_scores(out.sequences, out.scores, indices)
        theirs = gen.model.compute_transition_scores(out.sequences, out.scores, indices, normalize_logits=beams == 1)
    mask = (indices >= 0) if indices is not None else torch.ones_like(theirs, dtype=torch.bool)
    assert ours.shape == theirs.shape
    assert torch.allclose(ours[mask], theirs[mask], atol=1e-5)


@pytest.mark.parametrize("renormalize", [False, True], ids=["", "renormalized"])
@pytest.mark.parametrize("options", [GREEDY, PROCESSED], ids=["greedy", "beams4-ngram-penalty"])
@pytest.mark.parametrize("family", ["t5", "m2m100"])
def test_recorded_scores_equal_the_old_output_scores_path(
    torch_models: dict[str, TransformersGenerator], family: str, options: GenerationOptions, renormalize: bool,
    strict: None, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Same outputs, same confidence as keeping every step's full scores, processors and all.

    Also with a generation config that renormalises the scores after every processor (the
    recorder's included).
    """
    gen = torch_models[family]
    monkeypatch.setattr(gen.model.generation_config, "renormalize_logits", renormalize)
    spy = _Spy(gen, monkeypatch)
    outs = gen.generate_batch(TEXTS, options, **_langs(family))
    assert "output_scores" not in spy.kwargs and "no_repeat_ngram_size" in spy.kwargs
    sequences, expected = _old_path(gen, spy.kwargs, forced_first=family != "t5")
    assert sequences == spy.sequences
    for out, (total, count) in zip(outs, expected, strict=True):
        assert out.gen_tokens == count > 0
        assert out.logprob == pytest.approx(total / count, abs=1e-6)


@pytest.mark.parametrize("options", [GREEDY, PROCESSED], ids=["greedy", "beams4-ngram-penalty"])
def test_the_recorder_keeps_rows_times_k_per_step_not_the_vocabulary(
    torch_models: dict[str, TransformersGenerator], options: GenerationOptions, monkeypatch: pytest.MonkeyPatch
) -> None:
    gen = torch_models["m2m100"]
    spy = _Spy(gen, monkeypatch)
    gen.generate_batch(TEXTS, options, **_langs("m2m100"))
    rec = spy.recorder
    rows = len(TEXTS) * options.num_beams
    vocab = gen.model.config.vocab_size
    k = record_width(options.num_beams, 1)
    assert rec.k == k and len(rec.values) == len(rec.indices) > 1
    for values, indices in zip(rec.values, rec.indices, strict=True):
        assert values.shape == indices.shape == (rows, k)
    stored = sum(v.numel() + i.numel() for v, i in zip(rec.values, rec.indices, strict=True))
    # output_scores kept rows x vocabulary floats per step; the recorder keeps 2 x rows x k numbers.
    assert stored == 2 * rows * k * len(rec.values)
    assert stored * 100 < rows * vocab * len(rec.values)


def test_a_token_outside_the_recorded_top_is_rescored_teacher_forced(
    torch_models: dict[str, TransformersGenerator], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fallback: with one score kept per row, beam search's other tokens are read from a forward pass."""
    gen = torch_models["m2m100"]
    exact = gen.generate_batch(TEXTS, BEAM, **_langs("m2m100"))
    calls: list[int] = []
    rescore = TransformersGenerator._rescore

    def counted(self: TransformersGenerator, *args: Any) -> list[float]:
        calls.append(args[1])
        return rescore(self, *args)

    monkeypatch.setattr(TransformersGenerator, "_rescore", counted)
    monkeypatch.setattr(hf, "record_width", lambda _beams, _eos: 1)
    narrow = gen.generate_batch(TEXTS, BEAM, **_langs("m2m100"))
    assert calls  # some chosen token was not the beam's best
    # Without logits processors (BEAM has none) the forward pass gives the very scores generation saw.
    for a, b in zip(exact, narrow, strict=True):
        assert (a.text, a.gen_tokens) == (b.text, b.gen_tokens)
        assert b.logprob == pytest.approx(a.logprob, abs=1e-4)


def test_chosen_scores_leave_out_forced_tokens_and_padding() -> None:
    eos = {1}
    # forced language token, two chosen tokens, the chosen end token, then padding
    assert chosen_scores([9, 5, 6, 1, 0, 0], [0.0, -1.0, -2.0, -3.0, -7.0, -7.0], None, eos=eos,
                         forced_first=True, forced_last=None) == (-6.0, 3)
    # the end token forced at the last allowed step is not the model's choice
    assert chosen_scores([5, 6, 1], [-1.0, -2.0, 0.0], None, eos=eos, forced_first=False,
                         forced_last=3) == (-3.0, 2)
    # ...but an end token chosen earlier is
    assert chosen_scores([5, 1, 1], [-1.0, -0.5, 0.0], None, eos=eos, forced_first=False,
                         forced_last=3) == (-1.5, 2)
    # beam search: steps past the hypothesis (beam index -1) are not scored
    assert chosen_scores([5, 6, 7], [-1.0, -2.0, -9.0], [True, True, False], eos=eos, forced_first=False,
                         forced_last=None) == (-3.0, 2)


def test_ct2_normalisation_is_undone() -> None:
    hyp = ["de", "a", "b", "</s>"]  # prefix, two tokens, end token
    total = -6.0
    for penalty in (0.0, 1.0, 0.6):
        score = total / len(hyp) ** penalty
        got, count = cumulated(hyp, score, forced=1, length_penalty=penalty)
        assert count == 3 and got == pytest.approx(total)
    assert cumulated(hyp, None, forced=1, length_penalty=1.0) == (0.0, 3)


def test_weighted_mean_and_guard() -> None:
    assert weighted_logprob([(-1.0, 3), (-3.0, 1)]) == (pytest.approx(-1.5), 4)
    assert weighted_logprob([(None, 0), (-2.0, 2)]) == (-2.0, 2)
    assert weighted_logprob([(None, 0)]) == (None, 0)
    assert confidence(-2.6, -2.5) == [LOW_CONFIDENCE]
    assert confidence(-2.4, -2.5) == []
    assert confidence(None, -2.5) == []
    assert confidence(-50.0, -math.inf) == []
    assert RunOptions().min_logprob == DEFAULT_MIN_LOGPROB
    with pytest.raises(UsageError, match="min-logprob"):
        RunOptions(min_logprob=0.5)


# ------------------------------------------------------------------ whole runs


def _run(tmp_path: Path, name: str, fast_args: list[str], *extra: str) -> Path:
    src = tmp_path / "in.jsonl"
    if not src.exists():
        write_jsonl(src, sample_articles(5))
    out = tmp_path / name
    res = invoke(["run", str(src), "--out", str(out), "--to", "en,fr", "--translate", "summary,title",
                  *fast_args, *extra])
    assert res.exit_code == 0, res.output
    return out


def _table(out: Path, table: str) -> pl.DataFrame:
    return pl.read_parquet(out / table / "**" / "*.parquet", hive_partitioning=False)


def test_a_run_fills_the_confidence_columns_and_flags_below_the_threshold(tmp_path: Path, fast_args: list[str]) -> None:
    out = _run(tmp_path, "all", fast_args, "--min-logprob", "-inf")
    arts = _table(out, "articles").sort("row_index")
    assert arts.schema["summary_logprob"] == pl.Float64 and arts.schema["summary_gen_tokens"] == pl.Int64
    assert arts.schema["unsupported"] == pl.List(pl.String)
    ok = arts.filter(pl.col("status") == "ok")
    assert ok.height >= 3
    for row in ok.iter_rows(named=True):
        assert row["summary_logprob"] is not None and row["summary_logprob"] <= 0
        assert row["summary_gen_tokens"] in (row["summary_tokens"], row["summary_tokens"] + 1)
        assert "low_confidence" not in row["flags"]

    segs = _table(out, "segments")
    trs = _table(out, "translations")
    generated = segs.filter(pl.col("gen_tokens") > 0)
    assert generated.height > 0 and (generated["logprob"] <= 0).all()
    # A translation's confidence is its segments', weighted by their generated tokens.
    weighted = (
        generated.group_by("id", "field", "target_lang")
        .agg(((pl.col("logprob") * pl.col("gen_tokens")).sum() / pl.col("gen_tokens").sum()).alias("expected"),
             pl.col("gen_tokens").sum().alias("expected_tokens"))
    )
    joined = trs.join(weighted, on=["id", "field", "target_lang"])
    assert joined.height > 0
    for row in joined.iter_rows(named=True):
        assert row["logprob"] == pytest.approx(row["expected"], abs=1e-9)
        assert row["gen_tokens"] == row["expected_tokens"]
    # Identity translations generate nothing: no confidence at all.
    identity = trs.filter(pl.col("model") == "identity")
    assert identity.height > 0
    assert identity["logprob"].is_null().all() and (identity["gen_tokens"] == 0).all()
    identity_segs = segs.join(identity.select("id", "field", "target_lang"), on=["id", "field", "target_lang"])
    assert identity_segs.height > 0 and identity_segs["logprob"].is_null().all()

    # Same inputs, a threshold in the middle of the scores: exactly the rows below it are flagged.
    threshold = float(ok["summary_logprob"].median())  # type: ignore[arg-type]
    out2 = _run(tmp_path, "half", fast_args, "--min-logprob", repr(threshold))
    arts2 = _table(out2, "articles").filter(pl.col("status") == "ok")
    assert arts2["summary_logprob"].to_list() == pytest.approx(ok["summary_logprob"].to_list(), abs=1e-9)
    below = {r["id"] for r in arts2.iter_rows(named=True) if r["summary_logprob"] < threshold}
    flagged = {r["id"] for r in arts2.iter_rows(named=True) if "low_confidence" in r["flags"]}
    assert flagged == below and 0 < len(below) < arts2.height
    for row in _table(out2, "translations").iter_rows(named=True):
        low = row["logprob"] is not None and row["logprob"] < threshold
        assert ("low_confidence" in row["flags"]) == low

    # The filter in docs/quality.md.
    duckdb = pytest.importorskip("duckdb")
    kept = duckdb.sql(
        f"SELECT id FROM '{out2}/articles/**/*.parquet' "
        "WHERE status = 'ok' AND NOT list_contains(flags, 'low_confidence')"
    ).fetchall()
    assert {r[0] for r in kept} == {r["id"] for r in arts2.iter_rows(named=True)} - below


@pytest.mark.ct2
def test_ct2_run_fills_the_same_columns_as_torch(tmp_path: Path, fast_args: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("ctranslate2")
    monkeypatch.setenv("SUMMARIZE_CACHE", str(tmp_path / "cache"))
    a = _table(_run(tmp_path, "torch", fast_args, "--backend", "torch", "--min-logprob", "-inf"), "articles")
    b = _table(_run(tmp_path, "ct2", fast_args, "--backend", "ct2", "--compute-type", "float32",
                    "--min-logprob", "-inf"), "articles")
    # Both models really ran through CTranslate2 (no fallback to torch): their conversions exist.
    assert len(list((tmp_path / "cache" / "ct2").glob("*/summarize-ct2.json"))) == 2
    both = a.join(b, on="id", suffix="_ct2").filter(pl.col("status") == "ok")
    assert both.height >= 3
    assert both["summary_logprob_ct2"].is_not_null().all()
    assert both["summary"].to_list() == both["summary_ct2"].to_list()
    assert both["summary_gen_tokens"].to_list() == both["summary_gen_tokens_ct2"].to_list()
    assert both["summary_logprob_ct2"].to_list() == pytest.approx(both["summary_logprob"].to_list(), abs=2e-3)
    ta = _table(tmp_path / "torch", "translations").filter(pl.col("model") != "identity")
    tb = _table(tmp_path / "ct2", "translations").filter(pl.col("model") != "identity")
    tr = ta.join(tb, on=["id", "field", "target_lang"], suffix="_ct2")
    assert tr.height > 0 and tr["logprob_ct2"].is_not_null().all()
    assert tr["logprob_ct2"].to_list() == pytest.approx(tr["logprob"].to_list(), abs=2e-3)


def test_a_pivot_summary_carries_its_summary_steps_confidence(tmp_path: Path, tiny: dict[str, Path]) -> None:
    from tests.e2e.test_families import FAST_ARGS, _registry

    rows = {r["id"]: r for r in sample_articles()}
    inp = write_jsonl(tmp_path / "in.jsonl", [rows["ru-001"], rows["en-001"]])
    out = tmp_path / "out"
    res = invoke(["run", str(inp), "--out", str(out), "--registry", str(_registry(tmp_path, tiny)), "--to", "en",
                  "--translate", "summary", *FAST_ARGS, "--min-logprob", "0"])
    assert res.exit_code == 0, res.output
    arts = {r["id"]: r for r in pl.read_parquet(out / "articles").iter_rows(named=True)}
    ru = arts["ru-001"]
    assert "pivot:en" in ru["flags"] and " > " in ru["summary_model"]
    # The T5 summary step's figures, not the translation back's: at most its token limit (+ the end).
    limit = int(FAST_ARGS[FAST_ARGS.index("--max-new-tokens") + 1])
    assert ru["summary_logprob"] is not None and ru["summary_logprob"] < 0
    assert 0 < ru["summary_gen_tokens"] <= limit + 1
    # With a threshold of 0 every scored output is below it, the pivot's included.
    for row in arts.values():
        assert "low_confidence" in row["flags"]
