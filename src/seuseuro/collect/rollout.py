"""The compiled rollout: ``num_steps`` of ``act`` + ``env.step`` in one ``lax.scan`` (PureJaxRL's
``_env_step``, Lu et al. 2022), for any algorithm.

An act function ``act(params, obs, key) -> (action, log_prob | None)`` chooses actions for a batch
``(N, *obs_shape)`` of observations; the env is a batched, auto-resetting wrapper stack
(``core.wrappers``) whose ``info`` carries ``next_obs`` (before the reset) and the episode
statistics. Box actions are clipped to the space's bounds on their way to the env only: the
transition stores the action as chosen, whose log-probability the act function returned.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from seuseuro.core.types import EpisodeInfo, Transition

# (params, obs (N, *obs_shape), key) -> (action (N, *action_shape), log_prob (N,) or None)
ActFn = Callable[[Any, jax.Array, jax.Array], tuple[jax.Array, jax.Array | None]]


def collect_rollout(
    act: ActFn,
    params: Any,
    env: Any,
    env_state: Any,
    obs: jax.Array,
    key: jax.Array,
    num_steps: int,
    *,
    action_low: jax.Array | None = None,
    action_high: jax.Array | None = None,
    cost_key: str | None = None,
) -> tuple[Transition, EpisodeInfo, Any, jax.Array, jax.Array]:
    """Scan ``num_steps`` steps; returns (transitions (T, N, ...), episodes (T, N), env_state, obs, key).

    ``cost_key`` copies ``info[cost_key]`` into ``Transition.cost`` (a constrained algorithm's cost).
    """

    def step(carry, _):
        env_state, obs, key = carry
        key, act_key, step_key = jax.random.split(key, 3)
        action, log_prob = act(params, obs, act_key)
        env_action = action if action_low is None else jnp.clip(action, action_low, action_high)
        next_obs, env_state, reward, terminated, truncated, info = env.step(step_key, env_state, env_action)
        cost = None if cost_key is None else info[cost_key].astype(jnp.float32)
        transition = Transition(
            obs, action, reward, terminated, truncated, info["next_obs"], log_prob=log_prob, cost=cost
        )
        episode = EpisodeInfo(info["returned"], info["episode_return"], info["episode_length"])
        return (env_state, next_obs, key), (transition, episode)

    (env_state, obs, key), (traj, episodes) = jax.lax.scan(step, (env_state, obs, key), None, num_steps)
    return traj, episodes, env_state, obs, key


def episode_metrics(info: EpisodeInfo) -> dict[str, jax.Array]:
    """Mean return and length of the episodes that ended in a rollout (NaN if none did)."""
    count = info.returned.sum()
    denom = jnp.maximum(count, 1)
    nan_if_none = jnp.where(count > 0, 1.0, jnp.nan)
    return {
        "rollout/episode_return": (info.episode_return * info.returned).sum() / denom * nan_if_none,
        "rollout/episode_length": (info.episode_length * info.returned).sum() / denom * nan_if_none,
        "rollout/episodes": count.astype(jnp.float32),
    }
