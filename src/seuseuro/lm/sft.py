"""Supervised fine-tuning (SFT) from scratch on generated worked solutions.

Why: a model with random weights gets no signal from 0/1 rewards (every answer of a group scores the
same), so the R1-Zero recipe on a tiny model needs a warm start. The model learns to
answer ``<think>worked steps</think><answer>result</answer>`` by next-token cross-entropy on the
answer tokens only (the prompt is context, not a target).

Each sequence is ``[BOS] prompt answer [EOS]``, right-padded to a fixed length. The pool of training
problems is generated and tokenized once; batches are drawn from it by a generator seeded with
``(seed, step)``, so a resumed run sees exactly the batches an uninterrupted one would.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from seuseuro.envs.text.task import Problem
from seuseuro.errors import UserError, require_finite
from seuseuro.lm.model import Transformer
from seuseuro.lm.tokenizer import TextTokenizer


@dataclasses.dataclass(frozen=True)
class SFTConfig:
    """Optimisation of the supervised warm start."""

    steps: int = 400
    """Optimizer steps. A few hundred give a partly competent model on 3-digit addition."""
    batch_size: int = 64
    """Sequences per step."""
    learning_rate: float = 3e-3
    """Peak AdamW learning rate (tiny models take 1e-3..5e-3), warmed up then cosine-decayed to 10%."""
    warmup_steps: int = 30
    """Linear warm-up steps."""
    weight_decay: float = 0.01
    """AdamW weight decay."""
    max_grad_norm: float = 1.0
    """Global gradient-norm clip."""
    num_problems: int = 20000
    """Training problems generated (train split only) and tokenized once."""

    def __post_init__(self):
        require_finite(self)
        if self.warmup_steps < 0 or self.weight_decay < 0 or self.max_grad_norm <= 0:
            raise UserError("--warmup-steps and --weight-decay must be >= 0 and --max-grad-norm > 0")
        if self.steps < 1 or self.batch_size < 1 or self.num_problems < self.batch_size:
            raise UserError("steps and batch_size must be >= 1 and num_problems >= batch_size")
        if self.learning_rate <= 0:
            raise UserError(f"learning_rate={self.learning_rate} must be > 0")


@dataclasses.dataclass(frozen=True)
class SFTData:
    tokens: np.ndarray  # (N, L) [BOS] prompt answer [EOS] then padding
    valid: np.ndarray  # (N, L)
    loss_mask: np.ndarray  # (N, L-1): 1 where token t+1 belongs to the answer (incl. EOS)


def make_sft_data(problems: Sequence[Problem], tokenizer: TextTokenizer, max_len: int) -> SFTData:
    prompts = [tokenizer.encode_prompt(p.prompt) for p in problems]
    answers = [tokenizer.encode(p.solution) + [tokenizer.eos_id] for p in problems]
    longest = max(len(a) + len(b) for a, b in zip(prompts, answers, strict=True))
    if longest > max_len:
        raise UserError(f"worked solutions need {longest} tokens but the model's context is {max_len}; raise it")
    n = len(problems)
    tokens = np.full((n, longest), tokenizer.pad_id, np.int32)
    valid = np.zeros((n, longest), bool)
    loss_mask = np.zeros((n, longest - 1), np.float32)
    for i, (p, a) in enumerate(zip(prompts, answers, strict=True)):
        tokens[i, : len(p) + len(a)] = p + a
        valid[i, : len(p) + len(a)] = True
        loss_mask[i, len(p) - 1 : len(p) + len(a) - 1] = 1.0
    return SFTData(tokens, valid, loss_mask)


def make_optimizer(config: SFTConfig) -> optax.GradientTransformation:
    schedule = optax.warmup_cosine_decay_schedule(
        0.0, config.learning_rate, min(config.warmup_steps, config.steps - 1), config.steps, 0.1 * config.learning_rate
    )
    return optax.chain(
        optax.clip_by_global_norm(config.max_grad_norm),
        optax.adamw(schedule, b1=0.9, b2=0.95, weight_decay=config.weight_decay),
    )


class SFTState(eqx.Module):
    model: Transformer
    opt_state: optax.OptState
    step: jax.Array


def init_state(model: Transformer, optimizer: optax.GradientTransformation) -> SFTState:
    return SFTState(model, optimizer.init(eqx.filter(model, eqx.is_array)), jnp.int32(0))


def sft_loss(model: Transformer, tokens, valid, loss_mask) -> tuple[jax.Array, jax.Array]:
    """Mean cross-entropy over answer tokens, and next-token accuracy on them."""
    logits, _ = model(tokens, valid)
    logits = logits[:, :-1].astype(jnp.float32)
    targets = tokens[:, 1:]
    nll = optax.softmax_cross_entropy_with_integer_labels(logits, targets)
    denom = jnp.maximum(loss_mask.sum(), 1.0)
    acc = ((jnp.argmax(logits, -1) == targets) * loss_mask).sum() / denom
    return (nll * loss_mask).sum() / denom, acc


def batch_indices(seed: int, step: int, n: int, batch_size: int) -> np.ndarray:
    return np.random.default_rng([seed, step]).integers(0, n, size=batch_size)


def make_train_step(optimizer: optax.GradientTransformation):
    @eqx.filter_jit
    def train_step(state: SFTState, tokens, valid, loss_mask) -> tuple[SFTState, dict]:
        (loss, acc), grads = eqx.filter_value_and_grad(sft_loss, has_aux=True)(state.model, tokens, valid, loss_mask)
        params = eqx.filter(state.model, eqx.is_array)
        updates, opt_state = optimizer.update(grads, state.opt_state, params)
        model = eqx.apply_updates(state.model, updates)
        metrics = {"train/loss": loss, "train/token_accuracy": acc, "train/grad_norm": optax.global_norm(grads)}
        return SFTState(model, opt_state, state.step + 1), metrics

    return train_step


def make_trainer(
    config: SFTConfig, model: Transformer, data: SFTData, seed: int, log_every: int, after_checkpoint=None
):
    """SFT as a :class:`~seuseuro.core.chunked.Trainer` for the host driver: a chunk is ``log_every``
    steps (one metrics row each), stepped from the host (one jitted step per batch). ``model`` is the
    initial model (built from the run's seed); step k's batch comes from ``(seed, k)``, so a resumed
    run continues exactly as an uninterrupted one."""
    from seuseuro.core.chunked import Trainer

    optimizer = make_optimizer(config)
    train_step = make_train_step(optimizer)

    def run_chunk(state: SFTState, n_active: int):
        start, rows = int(state.step), []
        for step in range(start, start + n_active):
            idx = batch_indices(seed, step, len(data.tokens), config.batch_size)
            state, metrics = train_step(state, data.tokens[idx], data.valid[idx], data.loss_mask[idx])
            rows.append(metrics)
        rows = jax.device_get(rows)  # one host sync per chunk
        return state, {k: np.asarray([[float(r[k]) for r in rows]]) for k in rows[0]}

    return Trainer(
        config, 1, log_every, lambda keys: init_state(model, optimizer), run_chunk,
        lambda: jax.eval_shape(lambda: init_state(model, optimizer)),
        after_checkpoint=after_checkpoint, progress_metric="train/loss", progress_digits=3, log_every_update=False,
        num_updates=config.steps, steps_per_update=1,
    )  # fmt: skip
