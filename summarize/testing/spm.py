"""SentencePiece models for the tiny tokenizers, trained once per kind and build."""

from __future__ import annotations

import io
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from .spm_corpus import MAX_LINE_CHARS

# The lowest character_coverage SentencePiece accepts.
_MIN_COVERAGE = 0.98


@dataclass
class Context:
    """State shared by the family builders of one ``build_tiny_models`` call."""

    lines: list[str]
    vocab_size: int
    digest: str
    spm_cache: dict[tuple[str, bool], bytes] = field(default_factory=dict)

    def spm(self, model_type: str, *, t5_ids: bool) -> bytes:
        """Return a serialized SentencePiece model, training it once per kind and call."""
        key = (model_type, t5_ids)
        if key not in self.spm_cache:
            self.spm_cache[key] = train_spm(
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


def train_spm(lines: Sequence[str], *, model_type: str, vocab_size: int, t5_ids: bool) -> bytes:
    """Train a SentencePiece model on ``lines`` and return it serialized (deterministic: one thread)."""
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
        max_sentence_length=MAX_LINE_CHARS * 4 + 16,
        minloglevel=2,
        pad_id=pad_id,
        eos_id=eos_id,
        unk_id=unk_id,
        bos_id=bos_id,
    )
    return buffer.getvalue()


def spm_pieces(model: bytes) -> list[str]:
    """Return the ordinary (non-control, non-unknown) pieces of a SentencePiece model in id order."""
    import sentencepiece as spm

    processor = spm.SentencePieceProcessor(model_proto=model)
    return [
        processor.id_to_piece(i)
        for i in range(processor.get_piece_size())
        if not (processor.is_control(i) or processor.is_unknown(i))
    ]
