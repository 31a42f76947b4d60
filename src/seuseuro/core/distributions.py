"""Action distributions as pure functions on their parameters.

Categorical over logits for ``Discrete`` spaces; diagonal Gaussian with a state-independent
log-std for ``Box`` spaces ("37 implementation details of PPO", 2022, continuous details 1-2);
the tanh-squashed Gaussian of SAC, rescaled to the action box (bottom of the file).
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


# --- tanh-squashed Gaussian (SAC, Haarnoja et al. 2018, appendix C) ---------------------------------
# a = low + (tanh(u) + 1) / 2 * (high - low),  u ~ N(mean, std^2). By the change of variables,
#     log p(a) = log N(u; mean, std) - sum_i [log(1 - tanh(u_i)^2) + log((high_i - low_i) / 2)].
# log(1 - tanh(u)^2) is computed as 2 (log 2 - u - softplus(-2u)) (TensorFlow Probability's Tanh
# bijector): the naive form is log(0) = -inf once |u| > ~9 in float32, where tanh(u) rounds to 1.
# The scale term makes this the density of the action actually sent to the env (CleanRL includes it;
# SB3 measures log-probs in [-1, 1] and leaves it out): a constant, so gradients agree, but it shifts
# the entropy that SAC's automatic temperature compares to its target (-|A|).


def tanh_log_det_jacobian(u: jax.Array) -> jax.Array:
    """``sum_i log(1 - tanh(u_i)^2)`` over the last axis, stable for large ``|u|``."""
    return jnp.sum(2.0 * (math.log(2.0) - u - jax.nn.softplus(-2.0 * u)), axis=-1)


def squash_to_bounds(u: jax.Array, low: jax.Array | float, high: jax.Array | float) -> jax.Array:
    """``low + (tanh(u) + 1) / 2 * (high - low)``: maps the real line into the action box."""
    return low + 0.5 * (jnp.tanh(u) + 1.0) * (high - low)


def tanh_gaussian_sample_and_log_prob(
    mean: jax.Array,
    log_std: jax.Array,
    normal: jax.Array,
    low: jax.Array | float = -1.0,
    high: jax.Array | float = 1.0,
) -> tuple[jax.Array, jax.Array]:
    """A squashed, rescaled action from noise ``normal ~ N(0, I)`` and its log density (summed over dims).

    The log-prob uses the pre-tanh ``u`` directly, never ``atanh(a)``, so it stays finite when the
    action rounds to a bound; it is differentiable in ``mean``/``log_std`` (reparameterization).
    """
    u = gaussian_sample_from_normal(mean, log_std, normal)
    log_scale = _log_half_range(low, high, u)
    log_prob = gaussian_log_prob(mean, log_std, u) - tanh_log_det_jacobian(u) - log_scale
    return squash_to_bounds(u, low, high), log_prob


def tanh_gaussian_log_prob(
    mean: jax.Array,
    log_std: jax.Array,
    action: jax.Array,
    low: jax.Array | float = -1.0,
    high: jax.Array | float = 1.0,
    eps: float = 1e-6,
) -> jax.Array:
    """Log density of a given in-bounds ``action`` (inverts the squash; clipped ``eps`` inside the bounds,
    so prefer :func:`tanh_gaussian_sample_and_log_prob`'s value for actions the policy just drew)."""
    y = jnp.clip(2.0 * (action - low) / (jnp.asarray(high) - low) - 1.0, -1.0 + eps, 1.0 - eps)
    u = jnp.arctanh(y)
    log_scale = _log_half_range(low, high, u)
    return gaussian_log_prob(mean, log_std, u) - tanh_log_det_jacobian(u) - log_scale


def tanh_gaussian_mode(mean: jax.Array, low: jax.Array | float = -1.0, high: jax.Array | float = 1.0) -> jax.Array:
    """The deterministic action used in evaluation: the squashed mean (SAC's ``tanh(mu)``)."""
    return squash_to_bounds(mean, low, high)


def _log_half_range(low: jax.Array | float, high: jax.Array | float, u: jax.Array) -> jax.Array:
    """``sum_i log((high_i - low_i) / 2)`` over the action dims of ``u`` (scalar bounds broadcast)."""
    return jnp.sum(jnp.broadcast_to(jnp.log(0.5 * (jnp.asarray(high) - jnp.asarray(low))), u.shape), axis=-1)
