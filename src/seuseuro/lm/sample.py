"""Batched, jitted sampling with a KV cache: temperature, nucleus (top-p) and stop tokens.

Prompts are left-padded so that every sequence of the batch writes its next token into the same
cache slot; positions come from the validity mask, so padding changes nothing (lm/model.py). One
prefill call fills the cache with the prompts, then a ``lax.scan`` emits one token per step for a
fixed ``max_new_tokens`` (static shapes, one compilation). A sequence that has emitted a stop token
keeps emitting padding; its length counts the stop token.

:func:`generate_uncached` recomputes the whole prefix at every step; it exists to test that the
cache changes nothing (tests/lm/test_sample.py) and costs O(T^2) more.
"""

from __future__ import annotations

import dataclasses
from functools import partial

import equinox as eqx
import jax
import jax.numpy as jnp

from seuseuro.errors import UserError
from seuseuro.lm.model import Transformer, init_cache


@dataclasses.dataclass(frozen=True)
class SamplingConfig:
    """How tokens are drawn."""

    max_new_tokens: int = 48
    """Tokens generated per answer (answers that do not stop are truncated there)."""
    temperature: float = 1.0
    """Softmax temperature; 0 means greedy (argmax). 1.0 for RL rollouts, 0 for evaluation."""
    top_p: float = 1.0
    """Nucleus sampling: keep the smallest set of tokens whose probability reaches top_p. 1 keeps all."""
    stop_ids: tuple[int, ...] = ()
    """Token ids that end an answer (the EOS id is always added by the callers in lm/)."""

    def __post_init__(self):
        if self.max_new_tokens < 1:
            raise UserError(f"max_new_tokens={self.max_new_tokens} must be >= 1")
        if self.temperature < 0:
            raise UserError(f"temperature={self.temperature} must be >= 0 (0 is greedy)")
        if not 0.0 < self.top_p <= 1.0:
            raise UserError(f"top_p={self.top_p} must be in (0, 1]")


def sample_token(key, logits: jax.Array, temperature: float, top_p: float) -> jax.Array:
    """One token per row of ``logits (B, V)``."""
    if temperature == 0.0:
        return jnp.argmax(logits, axis=-1).astype(jnp.int32)
    logits = logits.astype(jnp.float32) / temperature
    if top_p < 1.0:
        # Holtzman et al. 2020: drop the tail whose cumulative probability lies beyond top_p; the
        # most likely token is always kept.
        order = jnp.argsort(-logits, axis=-1)
        sorted_logits = jnp.take_along_axis(logits, order, axis=-1)
        probs = jax.nn.softmax(sorted_logits, axis=-1)
        before = jnp.cumsum(probs, axis=-1) - probs
        sorted_logits = jnp.where(before < top_p, sorted_logits, -jnp.inf)
        logits = jnp.full_like(logits, -jnp.inf).at[jnp.arange(logits.shape[0])[:, None], order].set(sorted_logits)
    return jax.random.categorical(key, logits, axis=-1).astype(jnp.int32)


def _positions(valid: jax.Array) -> jax.Array:
    return jnp.maximum(jnp.cumsum(valid, axis=1) - 1, 0)


def _finish(tokens, stop_ids, pad_id):
    """Pad everything after the first stop token; lengths include the stop token."""
    is_stop = jnp.isin(tokens, jnp.asarray(stop_ids, jnp.int32))
    stopped_before = jnp.cumsum(is_stop, axis=1) - is_stop > 0
    tokens = jnp.where(stopped_before, pad_id, tokens)
    lengths = jnp.sum(~stopped_before, axis=1)
    finished = jnp.any(is_stop, axis=1)
    return tokens, lengths, finished


@partial(eqx.filter_jit, donate="none")
def generate(
    model: Transformer,
    prompt: jax.Array,
    prompt_valid: jax.Array,
    key: jax.Array,
    config: SamplingConfig,
    pad_id: int,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Sample answers to left-padded prompts ``(B, P)``.

    Returns ``tokens (B, N)`` (padding after the stop token), ``lengths (B,)`` (tokens up to and
    including the stop token) and ``finished (B,)`` (a stop token was emitted within N tokens)."""
    b, p = prompt.shape
    n = config.max_new_tokens
    if p + n > model.config.max_seq_len:
        raise UserError(
            f"prompt ({p} tokens) + answer ({n}) exceed the model's context of {model.config.max_seq_len}; "
            "shorten the prompt or lower max_new_tokens"
        )
    positions = _positions(prompt_valid)
    cache = init_cache(model.config, b, p + n)
    logits, cache = model(prompt, prompt_valid, positions, cache, 0)
    last_logits, next_pos = logits[:, -1], positions[:, -1] + 1
    stop = jnp.asarray(config.stop_ids, jnp.int32)

    def step(carry, key_t):
        cache, last_logits, pos, done, t = carry
        tok = sample_token(key_t, last_logits, config.temperature, config.top_p)
        tok = jnp.where(done, pad_id, tok)
        logits, cache = model(tok[:, None], jnp.ones((b, 1), bool), pos[:, None], cache, p + t)
        done = done | jnp.isin(tok, stop)
        return (cache, logits[:, 0], pos + 1, done, t + 1), tok

    carry = (cache, last_logits, next_pos, jnp.zeros((b,), bool), jnp.int32(0))
    _, tokens = jax.lax.scan(step, carry, jax.random.split(key, n))
    return _finish(tokens.T, config.stop_ids, pad_id)


@partial(eqx.filter_jit, donate="none")
def generate_uncached(model, prompt, prompt_valid, key, config: SamplingConfig, pad_id: int):
    """The same as :func:`generate` without a cache: the whole prefix is recomputed each step."""
    b, p = prompt.shape
    n = config.max_new_tokens
    seq = jnp.concatenate([prompt, jnp.full((b, n), pad_id, jnp.int32)], axis=1)
    valid = jnp.concatenate([prompt_valid, jnp.zeros((b, n), bool)], axis=1)

    def step(carry, inputs):
        seq, valid = carry
        key_t, t = inputs
        logits, _ = model(seq, valid)
        last = jax.lax.dynamic_index_in_dim(logits, p + t - 1, axis=1, keepdims=False)
        tok = sample_token(key_t, last, config.temperature, config.top_p)
        seq = jax.lax.dynamic_update_slice(seq, tok[:, None], (0, p + t))
        valid = jax.lax.dynamic_update_slice(valid, jnp.ones((b, 1), bool), (0, p + t))
        return (seq, valid), tok

    _, tokens = jax.lax.scan(step, (seq, valid), (jax.random.split(key, n), jnp.arange(n)))
    return _finish(tokens.T, config.stop_ids, pad_id)
