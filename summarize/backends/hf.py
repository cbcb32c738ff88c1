"""The transformers backend: tokenizer -> AutoModelForSeq2SeqLM.generate -> decode.

transformers v5 has no summarization or translation pipeline, so this is the whole path. The
text side (language tokens per family, encoding, decoding) is shared with the CTranslate2
backend in `text.py`; this module only picks device and dtype and runs `generate`.
"""

from __future__ import annotations

import functools
import logging
import math
import os
from collections.abc import Collection, Sequence
from dataclasses import replace
from typing import Any

from ..errors import ModelError
from ..options import GenerationOptions
from .base import Output, mean_logprob
from .source import FORCED_BOS, NO_FP16, Source, TextCodec, decoding, fetch_error, input_limit, load_error, load_source

__all__ = ["FORCED_BOS", "NO_FP16", "TransformersGenerator", "choose_dtype", "cpu_threads", "fetch_error",
           "free_gpu_bytes", "resolve_device"]

log = logging.getLogger(__name__)

_THREADS_SET = False


def free_gpu_bytes() -> int | None:
    """Free memory of the current CUDA device, or None without one (sizes the model pool's budget)."""
    import torch

    if not torch.cuda.is_available():
        return None
    free, _total = torch.cuda.mem_get_info()
    return int(free)


def resolve_device(device: str) -> str:
    """`auto` becomes `cuda` when a GPU is usable, else `cpu`."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ModelError("--device cuda was asked for but no CUDA device is available")
    return device


def choose_dtype(family: str, device: str, *, bf16_supported: bool) -> str:
    """`float32` on CPU; on GPU `bfloat16` where supported, else float16 except for T5-like families."""
    if device != "cuda":
        return "float32"
    if bf16_supported:
        return "bfloat16"
    return "float32" if family in NO_FP16 else "float16"


def cpu_threads() -> int:
    """Threads for inference: `OMP_NUM_THREADS` when set, else every core this process may run on.

    The affinity mask (which containers and taskset narrow) rather than the machine's core
    count; an explicit `OMP_NUM_THREADS` wins so that several workers sharing a machine can
    each take fewer cores (threads spinning on busy cores cost far more than they give).
    """
    env = os.environ.get("OMP_NUM_THREADS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def _set_threads() -> None:
    # Use every core the process may run on; torch defaults to physical cores only on some builds.
    global _THREADS_SET
    if _THREADS_SET:
        return
    import torch

    torch.set_num_threads(cpu_threads())
    _THREADS_SET = True


class TransformersGenerator:
    """A loaded transformers seq2seq model and its tokenizer."""

    def __init__(self, name: str, tokenizer: Any, model: Any, family: str, device: str, revision: str | None,
                 generation: Any = None) -> None:
        self.name = name
        self.tokenizer = tokenizer
        self.model = model
        self.family = family
        self.device = device
        self.revision = revision
        self.generation = generation if generation is not None else model.generation_config
        self.max_input_tokens = input_limit(tokenizer, model.config)
        self.codec = TextCodec(name, tokenizer, family, self.max_input_tokens)
        self.last_forced_bos: int | None = None

    @classmethod
    def load(cls, model: str, *, device: str = "auto") -> TransformersGenerator:
        """Load a model from a local folder or a Hub id (cached by huggingface_hub)."""
        return cls.from_source(load_source(model), device=device)

    @classmethod
    def from_source(cls, source: Source, *, device: str = "auto") -> TransformersGenerator:
        """Load the weights of an already resolved model onto `device` in the dtype its family allows."""
        import torch
        from transformers import AutoModelForSeq2SeqLM

        from ..models.downloads import hub_reachable

        _set_threads()
        dev = resolve_device(device)
        bf16 = dev == "cuda" and torch.cuda.is_bf16_supported()
        dtype = getattr(torch, choose_dtype(source.family, dev, bf16_supported=bf16))
        try:
            cache_only = source.local or not hub_reachable()  # offline: no retries before the cache
            net = AutoModelForSeq2SeqLM.from_pretrained(source.path, local_files_only=cache_only, dtype=dtype)
        except (OSError, ValueError) as exc:
            raise load_error(source.model, source.local, exc) from exc
        net.to(dev)
        net.eval()
        log.info("loaded %s (%s) on %s as %s", source.model, source.family, dev, dtype)
        return cls(source.model, source.tokenizer, net, source.family, dev, source.revision, source.generation)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self.codec.count_tokens(texts)

    def generate_batch(
        self,
        texts: Sequence[str],
        options: GenerationOptions,
        *,
        max_new_tokens: int | None = None,
        min_new_tokens: int | None = None,
        source_lang: str | None = None,
        target_lang: str | None = None,
    ) -> list[Output]:
        import torch
        from transformers import LogitsProcessorList

        if not texts:
            return []
        d = decoding(options, self.generation, max_new_tokens=max_new_tokens, min_new_tokens=min_new_tokens)
        kwargs: dict[str, Any] = {
            "max_new_tokens": d.max_new_tokens,
            "num_beams": d.num_beams,
            "no_repeat_ngram_size": d.no_repeat_ngram_size,
            "repetition_penalty": d.repetition_penalty,
            "length_penalty": d.length_penalty,
            "do_sample": False,
            # `beam_indices` (which row each step's token came from) without `output_scores`.
            "return_dict_in_generate": True,
        }
        if d.min_new_tokens:
            kwargs["min_new_tokens"] = d.min_new_tokens
        if d.num_beams > 1:
            kwargs["early_stopping"] = True
        prep = self.codec.prepare(texts, source_lang=source_lang, target_lang=target_lang)
        self.last_forced_bos = None
        if prep.target_token is not None:
            self.last_forced_bos = kwargs["forced_bos_token_id"] = self.codec.token_id(prep.target_token)
        # Right padding with an attention mask: the encoder ignores pads, and batched greedy
        # outputs match one-at-a-time outputs.
        enc = self.tokenizer(
            prep.texts, return_tensors="pt", padding=True, truncation=True, max_length=self.max_input_tokens
        ).to(self.device)
        eos = _ids(self.generation.eos_token_id) | _ids(self.tokenizer.eos_token_id)
        beams = d.num_beams > 1
        # `renormalize_logits` appends a log_softmax after every processor, ours included: do it here.
        renormalize = bool(getattr(self.model.generation_config, "renormalize_logits", False))
        recorder = StepRecorder(record_width(d.num_beams, len(eos)), normalize=renormalize or not beams)
        with torch.inference_mode():
            out = self.model.generate(**enc, **kwargs, logits_processor=LogitsProcessorList([recorder]))
            steps = recorder.chosen(out.sequences, out.beam_indices if beams else None)
        sequences = out.sequences.tolist()
        start = len(sequences[0]) - steps.shape[1]  # the decoder start token(s) have no score
        valid = (out.beam_indices[:, : steps.shape[1]] >= 0).tolist() if beams else None
        results = []
        for i, (row, scores) in enumerate(zip(sequences, steps.tolist(), strict=True)):
            score = functools.partial(chosen_scores, row[start:], valid=valid[i] if valid else None, eos=eos,
                                      forced_first=prep.target_token is not None,
                                      forced_last=d.max_new_tokens if d.forced_eos else None)
            total, count = score(scores)
            if math.isnan(total):  # a chosen token outside the recorded top k: see StepRecorder
                total, count = score(self._rescore(enc, i, out.sequences[i], start, scores))
            results.append((total, count))
        return [replace(o, logprob=mean_logprob(t, n), gen_tokens=n)
                for o, (t, n) in zip(self.codec.outputs(sequences), results, strict=True)]

    def _rescore(self, enc: Any, row: int, sequence: Any, start: int, scores: list[float]) -> list[float]:
        """`scores` with its unknown (NaN) steps filled from one teacher-forced pass over the output.

        The fallback of `StepRecorder.chosen`, which should never be needed: the pass gives the
        model's own log-probabilities, before logits processors (repetition penalty, n-gram
        blocking) adjust them, so a filled step can differ slightly from what generation saw.
        """
        import torch

        log.warning("%s: a chosen token was outside the recorded top scores; rescoring output %d", self.name, row)
        with torch.inference_mode():
            logits = self.model(input_ids=enc["input_ids"][row: row + 1],
                                attention_mask=enc["attention_mask"][row: row + 1],
                                decoder_input_ids=sequence[None, :-1]).logits[0]
            logp = torch.log_softmax(logits.float(), dim=-1)
        return [logp[start - 1 + t, int(sequence[start + t])].item() if math.isnan(s) else s
                for t, s in enumerate(scores)]


def record_width(num_beams: int, n_eos: int) -> int:
    """How many top scores per row and step `StepRecorder` keeps so every chosen token is among them.

    Greedy search takes the argmax (two, so a tie cannot hide it). Beam search ranks, per batch
    item, every (beam, token) by the beam's score plus the token's, and keeps the best
    `max(2, 1 + eos tokens) * num_beams` (transformers' `beams_to_keep`); adding the beam's score
    does not reorder one beam's tokens, so each kept token is within its beam's top that many.
    """
    return 2 if num_beams <= 1 else max(2, 1 + n_eos) * num_beams


class StepRecorder:
    """A logits processor that keeps each step's top `k` scores per row, and only those.

    Appended to `generate`'s processors, which transformers v5 puts after its own (only sampling
    warpers, watermarking and `renormalize_logits` come later), so it sees the final scores that
    pick the tokens: processed logits under greedy search (normalised here with
    `log_softmax`, `normalize`), log-probabilities after processors under beam search. It keeps
    (rows x k) values and token ids per step where `output_scores` would keep (rows x vocabulary);
    `chosen` then reads each output's token score per step, as `compute_transition_scores` would.
    """

    def __init__(self, k: int, *, normalize: bool) -> None:
        self.k = k
        self.normalize = normalize
        self.values: list[Any] = []
        self.indices: list[Any] = []

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        logp = torch.log_softmax(scores.float(), dim=-1) if self.normalize else scores
        top = torch.topk(logp, min(self.k, logp.shape[-1]), dim=-1)
        self.values.append(top.values.float())
        self.indices.append(top.indices)
        return scores

    def chosen(self, sequences: Any, beam_indices: Any | None) -> Any:
        """The score of each output's token per step, (rows, steps); NaN where it was not recorded.

        Steps past a beam hypothesis (`beam_indices` -1) read its beam 0 and are dropped by the
        caller; so are steps after the end token, whose padding is not among the top scores.
        """
        import torch

        generated = beam_indices.shape[1] if beam_indices is not None else len(self.values)
        start = sequences.shape[1] - generated
        cols = []
        for t in range(min(generated, len(self.values))):
            rows = beam_indices[:, t].clamp(min=0) if beam_indices is not None else slice(None)
            values, indices = self.values[t][rows], self.indices[t][rows]
            hit = indices == sequences[:, start + t, None].to(indices.device)
            got = values.gather(1, hit.int().argmax(dim=1, keepdim=True))[:, 0]
            cols.append(torch.where(hit.any(dim=1), got, torch.full_like(got, math.nan)).cpu())
        return torch.stack(cols, dim=1) if cols else torch.zeros((sequences.shape[0], 0))


def _ids(value: Any) -> set[int]:
    if value is None:
        return set()
    return {int(v) for v in value} if isinstance(value, (list, tuple)) else {int(value)}


def chosen_scores(generated: Sequence[int], scores: Sequence[float], valid: Sequence[bool] | None, *,
                  eos: Collection[int], forced_first: bool, forced_last: int | None) -> tuple[float, int]:
    """Sum and count of the log-probabilities of the tokens the model chose in one output.

    `generated` and `scores` are aligned per step. Left out: a forced first token (the target
    language), a forced end token at the `forced_last`-th step (the model had no choice, and
    CTranslate2, which stops one step earlier instead, never scores it), every step after the
    end token (padding) and, under beam search, steps past the hypothesis (`valid` false).
    """
    total, count = 0.0, 0
    for step, (token, score) in enumerate(zip(generated, scores, strict=False)):
        if valid is not None and (step >= len(valid) or not valid[step]):
            break
        if step == 0 and forced_first:
            continue
        if token in eos:
            if forced_last is None or step != forced_last - 1:
                total, count = total + score, count + 1
            break
        total, count = total + score, count + 1
    return total, count
