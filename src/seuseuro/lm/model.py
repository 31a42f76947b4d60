"""A decoder-only transformer with the Llama / Qwen2 architecture, in Equinox.

Reproduced (so Hugging Face Qwen2 and Llama checkpoints load unchanged, lm/hf.py): pre-norm blocks
with RMSNorm (statistics in float32), rotary position embeddings in the "rotate half" layout,
grouped-query attention (each key/value head serves ``n_heads // n_kv_heads`` query heads), a SwiGLU
MLP (``down(silu(gate(x)) * up(x))``), optional biases on the q/k/v projections (Qwen2 has them,
Llama not) and optionally tied input/output embeddings. Weights are stored as Hugging Face stores
them, ``(out_features, in_features)``.

Simplified: no RoPE scaling variants (linear, YaRN, Llama-3), no sliding-window attention, no dropout;
everything runs in float32.

Two entry points share one code path: :meth:`Transformer.__call__` runs whole sequences, and with a
:class:`KVCache` it writes the new keys and values at ``write_index`` and attends over the cache
(lm/sample.py). Padding is expressed by a validity mask and per-token positions, so a left-padded
prompt computes exactly what the unpadded one does.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp

from seuseuro.errors import UserError, require_finite

_NEG = -1e30  # a finite "minus infinity": a fully masked row stays finite instead of NaN


@dataclasses.dataclass(frozen=True)
class LMConfig:
    """Shape of the transformer. Defaults: a ~0.8M-parameter model that trains in minutes on a CPU."""

    vocab_size: int = 96
    """Tokens in the vocabulary (set from the tokenizer)."""
    d_model: int = 128
    """Width of the residual stream (hidden_size). 64-256 for CPU models."""
    n_layers: int = 4
    """Transformer blocks. 2-8 for CPU models."""
    n_heads: int = 4
    """Query heads."""
    n_kv_heads: int = 2
    """Key/value heads (grouped-query attention); must divide n_heads. n_heads gives plain MHA."""
    d_ff: int = 384
    """Width of the SwiGLU MLP (intermediate_size), usually ~3x d_model."""
    max_seq_len: int = 128
    """Longest prompt + answer the model is used with (sets the KV cache size limit)."""
    rope_theta: float = 10000.0
    """Base of the rotary frequencies (Qwen2: 1e6, Llama-2: 1e4)."""
    norm_eps: float = 1e-6
    """RMSNorm epsilon."""
    qkv_bias: bool = True
    """Biases on the q/k/v projections (True for Qwen2, False for Llama)."""
    tie_embeddings: bool = True
    """Use the input embedding matrix as the output head (saves vocab x d_model parameters)."""
    head_dim: int = 0
    """Width of one attention head; 0 means d_model // n_heads."""

    def __post_init__(self):
        require_finite(self)
        if self.n_heads < 1 or self.n_kv_heads < 1 or self.head_dim < 0:
            raise UserError(f"n_heads={self.n_heads} and n_kv_heads={self.n_kv_heads} must be >= 1, head_dim >= 0")
        if self.rope_theta <= 0 or self.norm_eps <= 0:
            raise UserError(f"rope_theta={self.rope_theta} and norm_eps={self.norm_eps} must be > 0")
        if self.hd < 2:
            raise UserError(
                f"head dimension {self.hd} (d_model // n_heads) must be >= 2; raise d_model or set head_dim"
            )
        if self.n_heads % self.n_kv_heads:
            raise UserError(f"n_kv_heads={self.n_kv_heads} must divide n_heads={self.n_heads}")
        if self.hd % 2:
            raise UserError(f"head dimension {self.hd} must be even for rotary embeddings")
        if min(self.vocab_size, self.d_model, self.n_layers, self.d_ff, self.max_seq_len) < 1:
            raise UserError("vocab_size, d_model, n_layers, d_ff and max_seq_len must be positive")

    @property
    def hd(self) -> int:
        return self.head_dim or self.d_model // self.n_heads


class KVCache(NamedTuple):
    """Keys and values of every layer for a batch of sequences of up to ``S`` tokens."""

    k: tuple[jax.Array, ...]  # per layer (B, S, n_kv_heads, hd)
    v: tuple[jax.Array, ...]  # per layer (B, S, n_kv_heads, hd)
    valid: jax.Array  # (B, S) bool: which cache slots hold real (non-pad) tokens


def init_cache(config: LMConfig, batch: int, length: int) -> KVCache:
    shape = (batch, length, config.n_kv_heads, config.hd)
    zeros = tuple(jnp.zeros(shape, jnp.float32) for _ in range(config.n_layers))
    return KVCache(zeros, zeros, jnp.zeros((batch, length), bool))


def _dense(key, out_dim: int, in_dim: int) -> jax.Array:
    # Hugging Face's initializer_range: N(0, 0.02) for every matrix.
    return 0.02 * jax.random.normal(key, (out_dim, in_dim), jnp.float32)


class RMSNorm(eqx.Module):
    weight: jax.Array
    eps: float = eqx.field(static=True)

    def __call__(self, x):
        x32 = x.astype(jnp.float32)
        x32 = x32 * jax.lax.rsqrt(jnp.mean(x32 * x32, axis=-1, keepdims=True) + self.eps)
        return self.weight * x32.astype(x.dtype)


def rope_tables(positions: jax.Array, hd: int, theta: float) -> tuple[jax.Array, jax.Array]:
    """cos and sin, ``(..., hd)``, in the "rotate half" layout of Hugging Face Llama/Qwen2."""
    inv_freq = 1.0 / (theta ** (jnp.arange(0, hd, 2, dtype=jnp.float32) / hd))
    freqs = positions.astype(jnp.float32)[..., None] * inv_freq
    emb = jnp.concatenate([freqs, freqs], axis=-1)
    return jnp.cos(emb), jnp.sin(emb)


def apply_rope(x: jax.Array, cos: jax.Array, sin: jax.Array) -> jax.Array:
    """x: (B, T, heads, hd); cos, sin: (B, T, hd)."""
    half = x.shape[-1] // 2
    rotated = jnp.concatenate([-x[..., half:], x[..., :half]], axis=-1)
    return x * cos[:, :, None] + rotated * sin[:, :, None]


class Attention(eqx.Module):
    wq: jax.Array
    wk: jax.Array
    wv: jax.Array
    wo: jax.Array
    bq: jax.Array | None
    bk: jax.Array | None
    bv: jax.Array | None
    n_heads: int = eqx.field(static=True)
    n_kv_heads: int = eqx.field(static=True)
    hd: int = eqx.field(static=True)

    @classmethod
    def init(cls, config: LMConfig, key) -> Attention:
        kq, kk, kv, ko = jax.random.split(key, 4)
        h, kvh, hd, d = config.n_heads, config.n_kv_heads, config.hd, config.d_model
        bias = (lambda n: jnp.zeros((n,), jnp.float32)) if config.qkv_bias else (lambda n: None)
        return cls(
            _dense(kq, h * hd, d),
            _dense(kk, kvh * hd, d),
            _dense(kv, kvh * hd, d),
            _dense(ko, d, h * hd),
            bias(h * hd),
            bias(kvh * hd),
            bias(kvh * hd),
            h,
            kvh,
            hd,
        )

    def __call__(self, x, cos, sin, mask, cache_kv=None, write_index=None):
        """x: (B, T, d); mask: (B, T, S) bool (S = T without a cache); returns (out, (k, v))."""
        b, t, _ = x.shape

        def proj(w, bias, heads):
            y = x @ w.T
            y = y if bias is None else y + bias
            return y.reshape(b, t, heads, self.hd)

        q = apply_rope(proj(self.wq, self.bq, self.n_heads), cos, sin)
        k = apply_rope(proj(self.wk, self.bk, self.n_kv_heads), cos, sin)
        v = proj(self.wv, self.bv, self.n_kv_heads)
        if cache_kv is not None:
            k = jax.lax.dynamic_update_slice(cache_kv[0], k, (0, write_index, 0, 0))
            v = jax.lax.dynamic_update_slice(cache_kv[1], v, (0, write_index, 0, 0))
        group = self.n_heads // self.n_kv_heads
        # query head h uses key/value head h // group (Hugging Face's repeat_kv order)
        q = q.reshape(b, t, self.n_kv_heads, group, self.hd)
        scores = jnp.einsum("btkgd,bskd->bkgts", q, k) / jnp.sqrt(jnp.float32(self.hd))
        scores = jnp.where(mask[:, None, None], scores, _NEG)
        weights = jax.nn.softmax(scores.astype(jnp.float32), axis=-1)
        out = jnp.einsum("bkgts,bskd->btkgd", weights, v).reshape(b, t, self.n_heads * self.hd)
        return out @ self.wo.T, (k, v)


class MLP(eqx.Module):
    w_gate: jax.Array
    w_up: jax.Array
    w_down: jax.Array

    @classmethod
    def init(cls, config: LMConfig, key) -> MLP:
        kg, ku, kd = jax.random.split(key, 3)
        d, f = config.d_model, config.d_ff
        return cls(_dense(kg, f, d), _dense(ku, f, d), _dense(kd, d, f))

    def __call__(self, x):
        return (jax.nn.silu(x @ self.w_gate.T) * (x @ self.w_up.T)) @ self.w_down.T


class Block(eqx.Module):
    attn_norm: RMSNorm
    attn: Attention
    mlp_norm: RMSNorm
    mlp: MLP


class Transformer(eqx.Module):
    """Token ids in, next-token logits out."""

    embed: jax.Array  # (vocab, d)
    blocks: tuple[Block, ...]
    norm: RMSNorm
    lm_head: jax.Array | None  # (vocab, d), None when tied to ``embed``
    config: LMConfig = eqx.field(static=True)

    @classmethod
    def init(cls, config: LMConfig, key) -> Transformer:
        keys = jax.random.split(key, 2 * config.n_layers + 2)
        ones = lambda: jnp.ones((config.d_model,), jnp.float32)
        blocks = tuple(
            Block(
                RMSNorm(ones(), config.norm_eps),
                Attention.init(config, keys[2 * i]),
                RMSNorm(ones(), config.norm_eps),
                MLP.init(config, keys[2 * i + 1]),
            )
            for i in range(config.n_layers)
        )
        embed = _dense(keys[-2], config.vocab_size, config.d_model)
        head = None if config.tie_embeddings else _dense(keys[-1], config.vocab_size, config.d_model)
        return cls(embed, blocks, RMSNorm(ones(), config.norm_eps), head, config)

    def __call__(
        self,
        tokens: jax.Array,
        valid: jax.Array,
        positions: jax.Array | None = None,
        cache: KVCache | None = None,
        write_index: jax.Array | int = 0,
    ) -> tuple[jax.Array, KVCache | None]:
        """Logits ``(B, T, vocab)`` for ``tokens (B, T)``; ``valid (B, T)`` marks real tokens.

        Without a cache, token i attends to valid tokens j <= i. With a cache, the new tokens occupy
        slots ``write_index .. write_index + T`` and attend to every valid slot up to their own."""
        b, t = tokens.shape
        if positions is None:
            positions = jnp.maximum(jnp.cumsum(valid, axis=1) - 1, 0)
        cos, sin = rope_tables(positions, self.config.hd, self.config.rope_theta)
        query_slot = write_index + jnp.arange(t)
        if cache is None:
            key_valid = valid
            key_slot = jnp.arange(t)
        else:
            key_valid = jax.lax.dynamic_update_slice(cache.valid, valid, (0, write_index))
            key_slot = jnp.arange(key_valid.shape[1])
        mask = key_valid[:, None, :] & (key_slot[None, None, :] <= query_slot[None, :, None])
        x = self.embed[tokens]
        new_k, new_v = [], []
        for i, block in enumerate(self.blocks):
            layer_cache = None if cache is None else (cache.k[i], cache.v[i])
            h, (k, v) = block.attn(block.attn_norm(x), cos, sin, mask, layer_cache, write_index)
            x = x + h
            x = x + block.mlp(block.mlp_norm(x))
            new_k.append(k)
            new_v.append(v)
        x = self.norm(x)
        head = self.embed if self.lm_head is None else self.lm_head
        logits = x @ head.T
        new_cache = None if cache is None else KVCache(tuple(new_k), tuple(new_v), key_valid)
        return logits, new_cache


def count_params(model: Transformer) -> int:
    return sum(x.size for x in jax.tree.leaves(eqx.filter(model, eqx.is_array)))


def token_logprobs(model: Transformer, tokens: jax.Array, valid: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Log-probability and entropy of each next token: both ``(B, T-1)``, entry t for token t+1."""
    logits, _ = model(tokens, valid)
    logp_all = jax.nn.log_softmax(logits[:, :-1].astype(jnp.float32), axis=-1)
    logp = jnp.take_along_axis(logp_all, tokens[:, 1:, None], axis=-1)[..., 0]
    entropy = -jnp.sum(jnp.exp(logp_all) * logp_all, axis=-1)
    return logp, entropy
