"""Value-learning targets and helpers for the off-policy family (DQN, double DQN, PQN, SAC, TD3).

What it reproduces: rlax's ``_src/value_learning.py`` style. Each function handles ONE example
(``q_tm1``: action values at the state the action was taken in; ``q_t``: at the next state), asserts
its shapes, and is vmapped over the batch by the algorithm, which also chooses the reduction
(mean, importance-weighted mean, masked mean). ``discount_t`` is the whole bootstrap factor,
``gamma^n (1 - terminated)``, as :func:`seuseuro.core.replay.sample` returns it, so the same
function serves 1-step and n-step targets, and a truncation bootstraps (its discount is not 0).

Targets are wrapped in ``stop_gradient``: the TD error's gradient flows only through ``q_tm1``
(Mnih et al. 2015). What it simplifies: no distributional or retrace variants.
"""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp


def _assert_rank(name: str, x: jax.Array, rank: int) -> None:
    if jnp.ndim(x) != rank:
        raise ValueError(f"{name} must have rank {rank} (one example; vmap over the batch), got shape {jnp.shape(x)}")


def q_learning_target(r_t: jax.Array, discount_t: jax.Array, q_t: jax.Array) -> jax.Array:
    """``r_t + discount_t * max_a q_t[a]`` (Watkins 1989; DQN with ``q_t`` from the target network)."""
    _assert_rank("r_t", r_t, 0)
    _assert_rank("discount_t", discount_t, 0)
    _assert_rank("q_t", q_t, 1)
    return jax.lax.stop_gradient(r_t + discount_t * jnp.max(q_t))


def double_q_learning_target(
    r_t: jax.Array, discount_t: jax.Array, q_t_value: jax.Array, q_t_selector: jax.Array
) -> jax.Array:
    """``r_t + discount_t * q_t_value[argmax_a q_t_selector[a]]`` (van Hasselt et al. 2016, eq. 4):
    the online network selects the action, the target network evaluates it."""
    _assert_rank("q_t_value", q_t_value, 1)
    _assert_rank("q_t_selector", q_t_selector, 1)
    _assert_rank("r_t", r_t, 0)
    _assert_rank("discount_t", discount_t, 0)
    return jax.lax.stop_gradient(r_t + discount_t * q_t_value[jnp.argmax(q_t_selector)])


def q_learning(q_tm1: jax.Array, a_tm1: jax.Array, r_t: jax.Array, discount_t: jax.Array, q_t: jax.Array) -> jax.Array:
    """TD error ``target - q_tm1[a_tm1]`` of Q-learning (rlax.q_learning)."""
    _assert_rank("q_tm1", q_tm1, 1)
    _assert_rank("a_tm1", a_tm1, 0)
    return q_learning_target(r_t, discount_t, q_t) - q_tm1[a_tm1]


def double_q_learning(
    q_tm1: jax.Array,
    a_tm1: jax.Array,
    r_t: jax.Array,
    discount_t: jax.Array,
    q_t_value: jax.Array,
    q_t_selector: jax.Array,
) -> jax.Array:
    """TD error of double Q-learning (rlax.double_q_learning)."""
    _assert_rank("q_tm1", q_tm1, 1)
    _assert_rank("a_tm1", a_tm1, 0)
    return double_q_learning_target(r_t, discount_t, q_t_value, q_t_selector) - q_tm1[a_tm1]


def clipped_double_q_target(
    r_t: jax.Array,
    discount_t: jax.Array,
    q1_t: jax.Array,
    q2_t: jax.Array,
    log_prob_t: jax.Array | float = 0.0,
    alpha: jax.Array | float = 0.0,
) -> jax.Array:
    """``r_t + discount_t * (min(q1_t, q2_t) - alpha * log_prob_t)`` for one example.

    ``q1_t``/``q2_t`` are the twin target critics at ``(s_t, a_t ~ pi(s_t))``. TD3 (Fujimoto et al.
    2018, eq. 10) leaves ``alpha = 0`` and adds clipped noise to ``a_t``; SAC (Haarnoja et al. 2018b,
    eq. 3 with the twin critics of section 5) passes the temperature and ``log pi(a_t | s_t)``.
    """
    for name, x in (("r_t", r_t), ("discount_t", discount_t), ("q1_t", q1_t), ("q2_t", q2_t)):
        _assert_rank(name, x, 0)
    return jax.lax.stop_gradient(r_t + discount_t * (jnp.minimum(q1_t, q2_t) - alpha * log_prob_t))


def huber_loss(x: jax.Array, delta: float = 1.0) -> jax.Array:
    """Elementwise ``0.5 x^2`` for ``|x| <= delta``, ``delta (|x| - 0.5 delta)`` beyond (Huber 1964).

    Quadratic near zero, linear in the tails: its gradient is the TD error clipped to [-delta, delta],
    which is what Mnih et al. 2015 mean by "error clipping" (CleanRL's DQN uses plain MSE instead).
    """
    abs_x = jnp.abs(x)
    quadratic = jnp.minimum(abs_x, delta)
    return 0.5 * quadratic**2 + delta * (abs_x - quadratic)


def soft_update(target: Any, online: Any, tau: float | jax.Array) -> Any:
    """Polyak averaging ``target <- tau * online + (1 - tau) * target`` over the floating-point arrays
    of two pytrees of the same structure (TD3/SAC: tau = 0.005); ``tau = 1`` is DQN's hard copy.

    Unlike ``optax.incremental_update`` this leaves non-array leaves (an Equinox module's activation
    functions) and integer arrays alone, so it takes whole Equinox networks.
    """
    online_arrays, _ = eqx.partition(online, eqx.is_inexact_array)
    target_arrays, static = eqx.partition(target, eqx.is_inexact_array)
    mixed = jax.tree.map(lambda t, o: (1.0 - tau) * t + tau * o, target_arrays, online_arrays)
    return eqx.combine(mixed, static)


def periodic_hard_update(target: Any, online: Any, step: jax.Array, period: int) -> Any:
    """``online`` when ``step % period == 0``, else ``target`` (DQN's target network every ``period`` steps),
    without a Python branch on the traced step."""
    return soft_update(target, online, (step % period == 0).astype(jnp.float32))


def linear_schedule(step: jax.Array | int, start: float, end: float, duration: int) -> jax.Array:
    """``start`` moving linearly to ``end`` over ``duration`` steps, then ``end`` (DQN's epsilon:
    CleanRL anneals 1 -> 0.05 over half of training)."""
    fraction = jnp.clip(jnp.asarray(step, jnp.float32) / max(duration, 1), 0.0, 1.0)
    return start + fraction * (end - start)
