"""Advantage and return estimators, truncation-aware.

Time-index convention (rlax): arrays are ``(T, ...)`` over the rollout; for step ``t``
``value_t = V(s_t)`` and ``next_value_t = V(s'_t)`` where ``s'_t`` is the observation *after* the
step and *before* any auto-reset. Then

    delta_t = r_t + gamma * (1 - terminated_t) * next_value_t - value_t
    A_t     = delta_t + gamma * lambda * (1 - done_t) * A_{t+1},   done_t = terminated_t or truncated_t

so a time limit (``truncated``) still bootstraps from ``V(s'_t)`` but cuts the recursion at the
episode boundary (Pardo et al. 2018, "Time Limits in Reinforcement Learning"; SB3 issue #633).
Folding truncation into ``done`` — as CleanRL's ``ppo.py`` does — biases values on time-limited
tasks like Pendulum.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def compute_gae(
    reward: jax.Array,
    value: jax.Array,
    next_value: jax.Array,
    terminated: jax.Array,
    truncated: jax.Array,
    gamma: float,
    gae_lambda: float,
) -> tuple[jax.Array, jax.Array]:
    """Generalized advantage estimation (Schulman et al. 2016) over a ``(T, ...)`` rollout.

    Returns ``(advantages, returns)`` with ``returns = advantages + value`` (the lambda-return
    target of the critic).
    """
    not_terminated = 1.0 - terminated.astype(reward.dtype)
    not_done = 1.0 - jnp.logical_or(terminated, truncated).astype(reward.dtype)
    delta = reward + gamma * not_terminated * next_value - value

    def backward(carry, xs):
        delta_t, not_done_t = xs
        adv = delta_t + gamma * gae_lambda * not_done_t * carry
        return adv, adv

    _, advantages = jax.lax.scan(backward, jnp.zeros_like(delta[0]), (delta, not_done), reverse=True)
    return advantages, advantages + value


def discounted_returns(
    reward: jax.Array,
    next_value: jax.Array,
    terminated: jax.Array,
    truncated: jax.Array,
    gamma: float,
) -> jax.Array:
    """Monte-Carlo returns within each episode, bootstrapped from ``V(s')`` where the data stops:
    at a truncation and at the end of the rollout; zero after a termination.

        G_t = r_t + gamma * (1 - terminated_t) * (next_value_t if cut_t else G_{t+1})
    """
    not_terminated = 1.0 - terminated.astype(reward.dtype)
    cut = truncated.at[-1].set(True)

    def backward(g_next, xs):
        r, v_next, nt, c = xs
        g = r + gamma * nt * jnp.where(c, v_next, g_next)
        return g, g

    _, returns = jax.lax.scan(
        backward, jnp.zeros_like(reward[0]), (reward, next_value, not_terminated, cut), reverse=True
    )
    return returns


def q_lambda_returns(
    reward: jax.Array,
    next_max_q: jax.Array,
    terminated: jax.Array,
    truncated: jax.Array,
    gamma: float,
    q_lambda: float,
) -> jax.Array:
    """Peng's Q(lambda) targets over a ``(T, ...)`` rollout, as PQN trains on them (Gallici et al. 2024,
    "Simplifying Deep Temporal Difference Learning", lambda 0.65; Peng & Williams 1996):

        G_t = r_t + gamma * (1 - terminated_t) * ((1 - lambda) * next_max_q_t + lambda * G_{t+1})

    with ``next_max_q_t = max_a Q(s'_t, a)`` and ``G_{t+1}`` replaced by ``next_max_q_t`` where the data
    stops: at a truncation (bootstrap from the final observation) and at the end of the rollout.
    ``lambda = 0`` gives 1-step Q-learning targets, ``lambda = 1`` the discounted returns of
    :func:`discounted_returns`. PQN's reference code folds truncation into ``done`` (no bootstrap);
    we keep them apart as everywhere else in this file.
    """
    not_terminated = 1.0 - terminated.astype(reward.dtype)
    cut = truncated.at[-1].set(True)

    def backward(g_next, xs):
        r, q_next, nt, c = xs
        g = r + gamma * nt * jnp.where(c, q_next, (1.0 - q_lambda) * q_next + q_lambda * g_next)
        return g, g

    _, returns = jax.lax.scan(
        backward, jnp.zeros_like(reward[0]), (reward, next_max_q, not_terminated, cut), reverse=True
    )
    return returns
