"""Policy-gradient and value losses as small pure functions (rlax style).

Each returns per-element values where an algorithm must choose its own aggregation (GRPO's
sequence-mean vs token-mean vs constant normalizer) and a scalar where there is only one sensible
reduction. Signs: *losses* are minimized.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def masked_mean(x: jax.Array, mask: jax.Array | None = None) -> jax.Array:
    """Mean of ``x``, or its mean over the elements where ``mask`` is 1 (0 if there are none).

    Masks mark samples that are not real transitions, e.g. the step in which a Gymnasium vector
    env with next-step auto-reset resets a finished copy (collect/host.py).
    """
    if mask is None:
        return x.mean()
    # where, not x * mask: a NaN or inf in a masked-out sample (0 * inf = NaN) must not reach the mean
    return jnp.where(mask > 0, x, 0.0).sum() / jnp.maximum(mask.sum(), 1.0)


def normalize_advantages(adv: jax.Array, eps: float = 1e-8, mask: jax.Array | None = None) -> jax.Array:
    """Zero mean, unit std over the (mini)batch ("37 details", detail 7), over the masked-in samples."""
    mean = masked_mean(adv, mask)
    std = jnp.sqrt(masked_mean((adv - mean) ** 2, mask))
    return (adv - mean) / (std + eps)


def clipped_surrogate_objective(
    ratio: jax.Array, advantage: jax.Array, clip_low: float, clip_high: float | None = None
) -> jax.Array:
    """Per-element PPO objective ``min(r A, clip(r, 1-eps_low, 1+eps_high) A)`` (to be *maximized*).

    ``clip_high`` defaults to ``clip_low``; a larger ``clip_high`` is DAPO's decoupled clip
    ("clip-higher", Yu et al. 2025).
    """
    clip_high = clip_low if clip_high is None else clip_high
    clipped = jnp.clip(ratio, 1.0 - clip_low, 1.0 + clip_high)
    return jnp.minimum(ratio * advantage, clipped * advantage)


def clipped_surrogate_loss(
    log_ratio: jax.Array, advantage: jax.Array, clip_eps: float, mask: jax.Array | None = None
) -> jax.Array:
    """PPO's clipped policy loss, mean over the batch (Schulman et al. 2017, eq. 7), negated."""
    return -masked_mean(clipped_surrogate_objective(jnp.exp(log_ratio), advantage, clip_eps), mask)


def clip_fraction(log_ratio: jax.Array, clip_eps: float, mask: jax.Array | None = None) -> jax.Array:
    """Fraction of samples whose ratio left the trust region (a health metric)."""
    return masked_mean((jnp.abs(jnp.exp(log_ratio) - 1.0) > clip_eps).astype(jnp.float32), mask)


def approx_kl(log_ratio: jax.Array, mask: jax.Array | None = None) -> jax.Array:
    """Low-variance estimator of KL(old || new): E[(r - 1) - log r] (Schulman 2020, "k3")."""
    return masked_mean((jnp.exp(log_ratio) - 1.0) - log_ratio, mask)


def value_loss(
    value: jax.Array, old_value: jax.Array, target: jax.Array, clip_eps: float | None, mask: jax.Array | None = None
) -> jax.Array:
    """0.5 * squared error; with ``clip_eps`` the PPO2 clipped value loss ("37 details", detail 9)."""
    unclipped = (value - target) ** 2
    if clip_eps is None:
        return 0.5 * masked_mean(unclipped, mask)
    clipped_value = old_value + jnp.clip(value - old_value, -clip_eps, clip_eps)
    return 0.5 * masked_mean(jnp.maximum(unclipped, (clipped_value - target) ** 2), mask)
