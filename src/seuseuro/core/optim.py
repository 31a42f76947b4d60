"""Optimizers shared by the algorithms (Optax chains)."""

from __future__ import annotations

import optax


def clipped_adam(
    learning_rate: float,
    *,
    max_grad_norm: float | None,
    eps: float = 1e-8,
    anneal_steps: int | None = None,
) -> optax.GradientTransformation:
    """Adam after global gradient-norm clipping, the learning rate optionally decayed linearly to 0
    over ``anneal_steps`` gradient steps ("The 37 implementation details of PPO", #3, #4, #11)."""
    lr = optax.linear_schedule(learning_rate, 0.0, anneal_steps) if anneal_steps else learning_rate
    adam = optax.adam(lr, eps=eps)
    return adam if max_grad_norm is None else optax.chain(optax.clip_by_global_norm(max_grad_norm), adam)
