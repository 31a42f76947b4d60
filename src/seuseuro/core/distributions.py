"""The two action distributions PPO needs, as pure functions on their parameters.

Categorical over logits for ``Discrete`` spaces; diagonal Gaussian with a state-independent
log-std for ``Box`` spaces ("37 implementation details of PPO", 2022, continuous details 1-2).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

LOG_2PI = math.log(2.0 * math.pi)


def categorical_sample_from_gumbel(logits: jax.Array, gumbel: jax.Array) -> jax.Array:
    """Gumbel-max trick: argmax(logits + g), g ~ Gumbel(0, 1), is a draw from softmax(logits)
    (what ``jax.random.categorical`` does); g = 0 gives the most likely action."""
    return jnp.argmax(logits + gumbel, axis=-1)


def categorical_log_prob(logits: jax.Array, action: jax.Array) -> jax.Array:
    log_p = jax.nn.log_softmax(logits, axis=-1)
    return jnp.take_along_axis(log_p, action[..., None].astype(jnp.int32), axis=-1)[..., 0]


def categorical_entropy(logits: jax.Array) -> jax.Array:
    log_p = jax.nn.log_softmax(logits, axis=-1)
    return -jnp.sum(jnp.exp(log_p) * log_p, axis=-1)


def gaussian_sample_from_normal(mean: jax.Array, log_std: jax.Array, normal: jax.Array) -> jax.Array:
    """mean + std * z, z ~ N(0, I); z = 0 gives the mean."""
    return mean + jnp.exp(log_std) * normal


def gaussian_log_prob(mean: jax.Array, log_std: jax.Array, action: jax.Array) -> jax.Array:
    """Sum over action dimensions of the log density of a diagonal Gaussian."""
    z = (action - mean) * jnp.exp(-log_std)
    return jnp.sum(-0.5 * z**2 - log_std - 0.5 * LOG_2PI, axis=-1)


def gaussian_entropy(log_std: jax.Array) -> jax.Array:
    return jnp.sum(log_std + 0.5 * (LOG_2PI + 1.0), axis=-1)
