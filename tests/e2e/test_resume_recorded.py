"""`summarize run --resume --out DIR` with nothing else continues the run recorded in DIR/run.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import summarize
from tests.conftest import invoke, options, read, sample_articles, write_jsonl


class Stop(Exception):
    """Raised after the first shard is committed: the run is left half done, as a kill would."""


@pytest.fixture
def half_done(tmp_path: Path, tiny: dict[str, Path]) -> Path:
    inp = write_jsonl(tmp_path / "in.jsonl", sample_articles(6))
    out = tmp_path / "out"

    def stop(_n: int) -> None:
        raise Stop

    with pytest.raises(Stop):
        summarize.run([inp], out, options(tiny, to=("fr",)), progress=stop)
    assert read(out, "articles").height == 2  # one shard of two
    return out


@pytest.mark.usefixtures("one_torch_thread")
def test_resume_with_nothing_else_finishes_the_recorded_run(half_done: Path) -> None:
    before = json.loads((half_done / "run.json").read_text(encoding="utf-8"))
    # Output-neutral flags may be given; they are not part of the run's identity.
    res = invoke(["run", "--resume", "--out", str(half_done), "--model-memory", "8", "--batch-size", "3"])
    assert res.exit_code == 0, res.output
    assert "2 already done" in res.stderr
    arts = read(half_done, "articles")
    assert arts.height == 6 and arts["id"].n_unique() == 6
    after = json.loads((half_done / "run.json").read_text(encoding="utf-8"))
    assert after["options_hash"] == before["options_hash"] and after["inputs"] == before["inputs"]
    assert after["options"]["model_memory"] == 8 and after["state"] == "done"
    assert set(read(half_done, "translations")["target_lang"].unique()) == {"fr"}


@pytest.mark.usefixtures("one_torch_thread")
def test_resume_with_other_options_is_refused(half_done: Path) -> None:
    res = invoke(["run", "--resume", "--out", str(half_done), "--to", "de"])
    assert res.exit_code == 2
    assert "holds a run made with different options" in res.stderr and "option run.to" in res.stderr
    assert read(half_done, "articles").height == 2  # nothing written


def test_inputs_are_required_without_resume(tmp_path: Path) -> None:
    res = invoke(["run", "--out", str(tmp_path / "out")])
    assert res.exit_code == 2 and "give the input files" in res.stderr
    res = invoke(["run", "--resume", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "holds no run manifest (run.json)" in res.stderr
