"""From text problems to sampled, decoded and scored answers: what GRPO's rollouts and held-out
evaluation share.

Prompts are padded to a fixed length and batches to a fixed size (the last batch repeats its first
prompt), so the jitted sampler compiles once per shape.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import jax
import numpy as np

from seuseuro.envs.text.task import Problem, TextTask, extract_answer
from seuseuro.lm.model import Transformer
from seuseuro.lm.sample import SamplingConfig, generate
from seuseuro.lm.tokenizer import TextTokenizer, pad_left


@dataclasses.dataclass(frozen=True)
class Completions:
    """Answers sampled for a batch of prompts."""

    prompt: np.ndarray  # (B, P) left-padded prompt tokens
    prompt_valid: np.ndarray  # (B, P)
    tokens: np.ndarray  # (B, N) answer tokens, padded after the stop token
    lengths: np.ndarray  # (B,) answer tokens including the stop token
    finished: np.ndarray  # (B,) a stop token was emitted (False: truncated at N)
    texts: list[str]  # decoded answers


def prompt_length(tokenizer: TextTokenizer, prompts: Sequence[str]) -> int:
    return max(len(tokenizer.encode_prompt(p)) for p in prompts)


def complete(
    model: Transformer,
    tokenizer: TextTokenizer,
    prompts: Sequence[str],
    key: jax.Array,
    sampling: SamplingConfig,
    prompt_len: int | None = None,
) -> Completions:
    """Sample one answer per prompt (repeat prompts for groups)."""
    ids = [tokenizer.encode_prompt(p) for p in prompts]
    prompt, valid = pad_left(ids, tokenizer.pad_id, prompt_len)
    stop = tuple(sorted({tokenizer.eos_id, *sampling.stop_ids}))
    sampling = dataclasses.replace(sampling, stop_ids=stop)
    tokens, lengths, finished = generate(model, prompt, valid, key, sampling, tokenizer.pad_id)
    tokens, lengths, finished = np.asarray(tokens), np.asarray(lengths), np.asarray(finished)
    texts = [tokenizer.decode(row) for row in tokens]
    return Completions(prompt, valid, tokens, lengths, finished, texts)


@dataclasses.dataclass(frozen=True)
class EvalResult:
    accuracy: float
    """Fraction of problems answered correctly (score 1)."""
    ci95: tuple[float, float]
    """Wilson 95% interval of the accuracy."""
    mean_score: float
    """Mean checker score (counts partial credit)."""
    format_rate: float
    """Fraction of answers that parse (well formed)."""
    mean_length: float
    n: int
    examples: list[dict]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (sound near 0 and 1, unlike mean +- 2 SE)."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def evaluate(
    model: Transformer,
    tokenizer: TextTokenizer,
    task: TextTask,
    problems: Sequence[Problem],
    key: jax.Array,
    sampling: SamplingConfig,
    batch_size: int = 256,
    prompt_len: int | None = None,
    n_examples: int = 3,
) -> EvalResult:
    """Held-out accuracy of one sample per problem (greedy when ``sampling.temperature == 0``)."""
    prompt_len = prompt_len or prompt_length(tokenizer, [p.prompt for p in problems])
    scores, correct, lengths, formed, examples = [], 0, [], 0, []
    for start in range(0, len(problems), batch_size):
        chunk = list(problems[start : start + batch_size])
        fill = chunk + [chunk[0]] * (batch_size - len(chunk))
        key, sub = jax.random.split(key)
        out = complete(model, tokenizer, [p.prompt for p in fill], sub, sampling, prompt_len)
        for i, p in enumerate(chunk):
            s = task.score(p, out.texts[i])
            scores.append(s)
            correct += s == 1.0
            lengths.append(int(out.lengths[i]))
            a = extract_answer(out.texts[i])
            formed += a is not None and task.parse(a) is not None
            if len(examples) < n_examples:
                examples.append({"prompt": p.prompt, "answer": out.texts[i], "expected": p.answer, "score": s})
    n = len(problems)
    return EvalResult(
        accuracy=correct / n,
        ci95=wilson_interval(correct, n),
        mean_score=float(np.mean(scores)),
        format_rate=formed / n,
        mean_length=float(np.mean(lengths)),
        n=n,
        examples=examples,
    )
