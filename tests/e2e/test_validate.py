"""Pre-flight checks: usage mistakes are exit 2 with one sentence, before any model loads."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from summarize import validate
from summarize.errors import ModelError, UsageError
from summarize.options import RunOptions
from tests.conftest import invoke, sample_articles, write_jsonl


@pytest.fixture
def inp(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "in.jsonl", sample_articles(2))


def one_error_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    assert lines[0].startswith("summarize: error: ")
    return lines[0]


@pytest.mark.parametrize(("code", "hint"), [("qq", "did you mean"), ("xx-YY", "did you mean"), ("english", "en (English)")])
def test_unknown_to_code_is_exit_2_before_any_model(tmp_path: Path, inp: Path, fast_args: list[str], code: str, hint: str) -> None:
    out = tmp_path / "out"
    res = invoke(["run", str(inp), "--out", str(out), *fast_args, "--to", code])
    assert res.exit_code == 2
    line = one_error_line(res.output)
    assert "unknown language code" in line and hint in line and "summarize models list" in line
    assert not out.exists()  # nothing was written: the check came before the output folder


def test_known_codes_in_any_spelling_pass() -> None:
    validate.check_targets(["EN", "pt-BR", "zh_Hant", "deu", "fil"])
    with pytest.raises(UsageError):
        validate.check_targets(["und"])


def test_missing_local_model_folder_says_so(tmp_path: Path, inp: Path, fast_args: list[str]) -> None:
    res = invoke(["run", str(inp), "--out", str(tmp_path / "out"), *fast_args, "--summary-model", "./nomodel"])
    assert res.exit_code == 2
    line = one_error_line(res.output)
    assert "no such folder: ./nomodel" in line and "Hub" not in line


def test_truncated_weights_are_exit_2_naming_the_file(tmp_path: Path, inp: Path, fast_args: list[str],
                                                       tiny: dict[str, Path]) -> None:
    model = tmp_path / "model"
    shutil.copytree(tiny["t5"], model)
    weights = model / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    res = invoke(["run", str(inp), "--out", str(tmp_path / "out"), *fast_args, "--summary-model", str(model)])
    assert res.exit_code == 2
    line = one_error_line(res.output)
    assert str(weights) in line and "--summary-model" in line


def test_unreadable_config_is_exit_2_naming_the_file(tmp_path: Path, tiny: dict[str, Path]) -> None:
    model = tmp_path / "model"
    shutil.copytree(tiny["m2m100"], model)
    (model / "config.json").write_text('{"model_type": "m2m_100", ', encoding="utf-8")
    with pytest.raises(ModelError, match=r"config\.json"):
        validate.check_model(str(model), "--translation-model")
    (model / "config.json").unlink()
    with pytest.raises(ModelError, match=r"config\.json is missing"):
        validate.check_model(str(model), "--translation-model")
    validate.check_model("org/some-hub-model", "--summary-model")  # Hub ids are the fetch step's business


def test_output_without_room_is_refused_before_the_work(tmp_path: Path, inp: Path, fast_args: list[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    free_mb = shutil.disk_usage(tmp_path).free // 2**20
    monkeypatch.setenv(validate.MIN_FREE_ENV, str(free_mb * 2 + 1))
    out = tmp_path / "out"
    res = invoke(["run", str(inp), "--out", str(out), *fast_args])
    assert res.exit_code == 2
    assert "MB free" in one_error_line(res.output) and not out.exists()


def test_output_that_is_a_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.write_text("x", encoding="utf-8")
    with pytest.raises(UsageError, match="not a folder"):
        validate.check_output(str(target))
    validate.check_output(str(tmp_path / "new" / "deeper"))  # a folder still to be made is fine


@pytest.mark.parametrize("flags", [["--resume"], ["--overwrite"], ["--partition-by", "lang"], ["--format", "wide"]])
def test_folder_only_options_with_stdout_are_refused(inp: Path, fast_args: list[str], flags: list[str]) -> None:
    res = invoke(["run", str(inp), "--out", "-", *fast_args, *flags])
    assert res.exit_code == 2 and "needs an output folder" in res.output


def test_dry_run_exits_2_when_a_pair_is_unserved(inp: Path) -> None:
    # `ak` (Akan) is a known language that only a non-commercial model of the registry writes.
    res = invoke(["run", str(inp), "--out", "unused", "--to", "ak", "--dry-run"])
    assert res.exit_code == 2
    assert json.loads(res.stdout)["plan"]["unserved"]
    ok = invoke(["run", str(inp), "--out", "unused", "--to", "fr", "--dry-run"])
    assert ok.exit_code == 0 and not json.loads(ok.stdout)["plan"]["unserved"]


def test_before_run_checks_options_it_is_given(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="exclude each other"):
        validate.before_run(RunOptions(), str(tmp_path), overwrite=True, resume=True)
    with pytest.raises(ModelError, match="no such folder"):
        validate.before_run(RunOptions(translation_model="~/no/such/model"), None)
    validate.before_run(RunOptions(to=("en", "fr")), str(tmp_path))
