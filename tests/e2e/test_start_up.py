"""Start-up does not depend on input size: a large input's first shard is committed after as
few records are read as a small input's (issue 26, item 3). Counted in records, not seconds."""

from __future__ import annotations

from pathlib import Path

import pytest

import summarize
from summarize.models import preflight
from summarize.options import GenerationOptions, ReadOptions, RunOptions
from tests.conftest import write_jsonl


class FirstCommit(Exception):
    """Raised from the progress callback: the first shard is committed, the test has its count."""


def _registry(tmp_path: Path, tiny: dict[str, Path]) -> Path:
    path = tmp_path / "registry.toml"
    path.write_text(f'replace = true\n\n[[summarization]]\nid = "{tiny["t5"]}"\nfamily = "t5"\nlanguages = ["en"]\n'
                    'licence = "apache-2.0"\n', encoding="utf-8")
    return path


def _records_before_first_commit(tmp_path: Path, tiny: dict[str, Path], n: int,
                                 counted: list[int]) -> tuple[int, list[str]]:
    inp = write_jsonl(tmp_path / f"in{n}.jsonl", [{"id": f"a{i}", "lang": "en", "text": f"Report {i} on the harbour."}
                                                  for i in range(n)])
    counted[0] = 0
    lines: list[str] = []

    def committed(_n: int) -> None:
        raise FirstCommit

    # Routed through a registry, so the pre-flight has to read the input to learn the models.
    options = RunOptions(to=("en",), registry=str(_registry(tmp_path, tiny)), shard_size=4,
                         summary=GenerationOptions(max_new_tokens=3, num_beams=1))
    with pytest.raises(FirstCommit):
        summarize.run([inp], tmp_path / f"out{n}", options, ReadOptions(lang_col="lang"), progress=committed,
                      notify=lambda line, _plan: lines.append(line))
    assert (tmp_path / f"out{n}" / "articles").is_dir()  # the first shard is there for readers
    return counted[0], lines


@pytest.mark.usefixtures("one_torch_thread")
def test_a_large_input_starts_as_soon_as_a_small_one(tmp_path: Path, tiny: dict[str, Path],
                                                     counted_reads: list[int]) -> None:
    small, said = _records_before_first_commit(tmp_path, tiny, preflight.SAMPLE_RECORDS + 50, counted_reads)
    large, _ = _records_before_first_commit(tmp_path, tiny, 20 * preflight.SAMPLE_RECORDS, counted_reads)
    assert said == ["nothing to download; 0 cached; 1 local"]  # the sample's plan found the model
    # The sample, then the first shard and the one read ahead: the same count for both sizes.
    assert small == large <= preflight.SAMPLE_RECORDS + 2 * 4
