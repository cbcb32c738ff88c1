"""One place for each decision: write options, refused combinations, output-neutral fields, choice sets."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

import summarize
from summarize import WriteOptions, validate
from summarize import options as opt
from summarize.errors import UsageError
from summarize.io.identity import identity, identity_diff
from summarize.options import GenerationOptions, ReadOptions, RunOptions
from summarize.runs import output_options
from tests.conftest import sample_articles, write_jsonl


@pytest.fixture
def inp(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "in.jsonl", sample_articles(2))


REFUSED = [
    ({"overwrite": True, "resume": True}, "--resume and --overwrite exclude each other"),
    ({"overwrite": True, "append": True}, "--append and --overwrite exclude each other"),
    ({"overwrite": True, "upsert": True, "table_format": "delta"}, "--upsert and --overwrite exclude each other"),
    ({"upsert": True}, "--upsert needs --table-format delta"),
    ({"allow_duplicate_batch": True}, "--allow-duplicate-batch goes with --append or --upsert"),
]


@pytest.mark.parametrize(("flags", "message"), REFUSED)
def test_the_api_refuses_what_the_cli_refuses(inp: Path, tmp_path: Path, flags: dict[str, object],
                                              message: str) -> None:
    # The keyword arguments of `summarize.run`, a WriteOptions and the check itself: one rule.
    out = tmp_path / "out"
    with pytest.raises(UsageError, match=message):
        summarize.run([inp], out, summary_model="/no/such/model-is-never-reached", **flags)
    with pytest.raises(UsageError, match=message):
        summarize.run([inp], out, write=WriteOptions(**flags))  # type: ignore[arg-type]
    assert not out.exists()  # refused before the folder is touched


@pytest.mark.parametrize("flags", [{"resume": True}, {"overwrite": True}, {"append": True}, {"partition_by": ("lang",)},
                                   {"wide": True}, {"table_format": "delta"}])
def test_stdout_refuses_every_folder_option(flags: dict[str, object]) -> None:
    with pytest.raises(UsageError, match="needs an output folder; --out - streams rows to stdout"):
        validate.check_write("-", WriteOptions(**flags))  # type: ignore[arg-type]
    validate.check_write("out", WriteOptions(**flags))  # type: ignore[arg-type]


def test_write_options_check_their_values() -> None:
    with pytest.raises(UsageError, match="--table-format must be parquet or delta, not 'orc'"):
        WriteOptions(table_format="orc")  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="--partition-by takes lang, date; not country"):
        WriteOptions(partition_by=("lang", "country"))
    w = WriteOptions(table_format="delta", partition_by=["lang"], upsert=True)  # type: ignore[arg-type]
    assert w.table_format is opt.TableFormat.delta and w.partition_by == ("lang",) and w.adds
    assert json.loads(json.dumps(w.to_dict())) == {
        "overwrite": False, "resume": False, "append": False, "upsert": True, "allow_duplicate_batch": False,
        "table_format": "delta", "partition_by": ["lang"], "wide": False}


def test_api_takes_write_options_or_keywords_not_both(inp: Path, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not both"):
        summarize.run([inp], tmp_path / "out", write=WriteOptions(), overwrite=True)


# ---------------------------------------------------------------- fields that do not change the output


def _neutral_variants() -> list[tuple[str, RunOptions]]:
    base = RunOptions()
    changed = {"device": "cpu", "max_errors": 3, "shard_size": 7, "max_loaded_models": 2, "model_memory": 8.0,
               "backend": "torch", "compute_type": "int8_float32", "reuse": False}
    assert set(changed) == set(opt.OUTPUT_NEUTRAL)  # a new neutral field gets a case here
    out = [(k, dataclasses.replace(base, **{k: v})) for k, v in changed.items()]
    for key in opt.OUTPUT_NEUTRAL_GENERATION:
        out.append((f"summary.{key}", dataclasses.replace(base, summary=dataclasses.replace(base.summary, **{key: 3}))))
        out.append((f"translation.{key}",
                    dataclasses.replace(base, translation=dataclasses.replace(base.translation, **{key: 3}))))
    return out


@pytest.mark.parametrize(("field", "options"), _neutral_variants())
def test_neutral_fields_change_neither_the_hash_nor_the_resume_identity(field: str, options: RunOptions) -> None:
    base, read = RunOptions(), ReadOptions()
    assert options.output_hash() == base.output_hash(), field
    assert output_options(options, read, ()) == output_options(base, read, ()), field


def test_resume_with_more_model_memory_is_the_same_run(tmp_path: Path) -> None:
    # The bug of issue 27: the hash and the identity kept two lists, and model_memory was in only one.
    first = identity([], output_options(RunOptions(model_memory=4), ReadOptions(), ()))
    again = identity([], output_options(RunOptions(model_memory=8), ReadOptions(), ()))
    assert identity_diff(first, again) == []
    # An identity stored by a version that still kept the field matches one made now.
    old = {**first, "options": {**first["options"], "run.model_memory": 4, "run.summary.min_new_tokens": 0}}
    assert identity_diff(old, again) == []
    # A field that changes the output is still a difference, in the hash and in the identity.
    other = RunOptions(to=("fr",))
    assert other.output_hash() != RunOptions().output_hash()
    diffs = identity_diff(first, identity([], output_options(other, ReadOptions(), ())))
    assert diffs == ["option run.to: ['en'] then, ['fr'] now"]
    assert RunOptions(summary=GenerationOptions(min_new_tokens=5)).output_hash() != RunOptions().output_hash()


def test_run_options_round_trip_through_the_manifest() -> None:
    opts = RunOptions(to=("fr", "de"), translate=("summary", "title"), long_input="truncate", backend="torch",
                      summary=GenerationOptions(num_beams=2), detect=opt.DetectOptions(engine="langdetect"),
                      min_logprob=float("-inf"))
    stored = json.loads(json.dumps(opts.to_dict()))
    assert RunOptions.from_dict({**stored, "a_field_of_another_version": 1}) == opts


# ---------------------------------------------------------------------------------- choice sets


def test_each_choice_set_is_one_enum_used_by_the_options_and_the_cli() -> None:
    from summarize.cli import params

    by_flag = {o.name: o.annotation.__origin__ for group in (params.DETECTION, params.GENERATION, params.READING)
               for o in group}
    assert by_flag["detector"] is opt.DetectorName and by_flag["long_input"] is opt.LongInput
    assert by_flag["device"] is opt.Device and by_flag["backend"] is opt.Backend and by_flag["on_duplicate_id"] is opt.OnDuplicate
    # Plain strings from the Python API become the same members, and a wrong one is one sentence.
    assert RunOptions(device="cpu").device is opt.Device.cpu and opt.DetectOptions(engine="fasttext").engine is opt.DetectorName.fasttext
    with pytest.raises(UsageError, match="--detector must be ensemble, langdetect, fasttext or lingua, not 'cld3'"):
        opt.DetectOptions(engine="cld3")
    with pytest.raises(UsageError, match="--device must be auto, cpu or cuda, not 'tpu'"):
        RunOptions(device="tpu")
    # A member still serialises as its string: manifests and hashes are unchanged.
    assert json.dumps(RunOptions().to_dict()["long_input"]) == '"chunk"'


def test_the_detection_engines_know_every_detector_name() -> None:
    from summarize.detect.ensemble import _engine

    with pytest.raises(UsageError, match="--detector must be"):
        _engine("cld3")
    assert {m.value for m in opt.DetectorName} == {"ensemble", "langdetect", "fasttext", "lingua"}
