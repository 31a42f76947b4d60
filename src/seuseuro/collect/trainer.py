"""One Trainer builder for both kinds of environment, so an algorithm writes its update once.

An algorithm gives ``new_state(key, built, env_state, obs)`` (its TrainState: a NamedTuple with
fields ``env_state``, ``obs`` and ``key``), ``learn(state, traj) -> (state, metrics)`` (one seed's
update on a rollout; it advances the key and counters) and ``acting_params(state)`` (what ``act`` /
the host policy read). JAX-native envs get the compiled chunked trainer (``collect_rollout`` +
``learn`` in one ``lax.scan``, seeds vmapped); Gymnasium envs the host collector feeding the same
``learn``. Written after DQN, PQN, SAC and TD3 each carried the same ~40 lines twice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from seuseuro.collect.host import HostCollector, HostPolicy, init_collector_state, make_host_trainer
from seuseuro.collect.rollout import ActFn, collect_rollout, episode_metrics
from seuseuro.core.chunked import Trainer, make_chunked_trainer
from seuseuro.core.types import Transition
from seuseuro.core.wrappers import wrap_for_training


def make_trainer(
    config: Any,
    env: Any,
    *,
    act: ActFn,
    host_policy: HostPolicy,
    num_seeds: int,
    num_envs: int,
    num_steps: int,
    updates_per_chunk: int,
    num_updates: int,
    steps_per_update: int,
    build_on_host: Callable[[jax.Array], Any],
    new_state: Callable[[jax.Array, Any, Any, jax.Array], Any],
    learn: Callable[[Any, Transition], tuple[Any, dict[str, jax.Array]]],
    acting_params: Callable[[Any], Any],
    action_low: jax.Array | None = None,
    action_high: jax.Array | None = None,
    gamma: float = 0.99,
    with_log_prob: bool = False,
) -> Trainer:
    """The :class:`~seuseuro.core.chunked.Trainer` of an algorithm on ``env`` (see the module docstring)."""
    obs_shape = tuple(env.observation_space.shape)
    sizes = dict(num_updates=num_updates, steps_per_update=steps_per_update)
    if not getattr(env, "is_jax_native", False):
        collector = HostCollector(
            env, host_policy, num_seeds=num_seeds, num_envs=num_envs, num_steps=num_steps, gamma=gamma,
            with_log_prob=with_log_prob,
        )  # fmt: skip

        def init_host(key, built):
            obs = jnp.zeros((num_envs, *obs_shape), jnp.float32)  # filled in by the first reset on the host
            return new_state(key, built, init_collector_state(obs_shape, num_envs), obs)

        return make_host_trainer(
            config, collector, num_seeds=num_seeds, updates_per_chunk=updates_per_chunk, **sizes,
            build_on_host=build_on_host, init_one=init_host, update_one=learn, acting_params=acting_params,
        )  # fmt: skip

    venv = wrap_for_training(env.env, env.params, num_envs)

    def init_one(key, built):
        env_key, key = jax.random.split(key)
        obs, env_state = venv.reset(env_key)
        return new_state(key, built, env_state, obs)

    def one_update(state):
        traj, episodes, env_state, obs, key = collect_rollout(
            act, acting_params(state), venv, state.env_state, state.obs, state.key, num_steps,
            action_low=action_low, action_high=action_high,
        )  # fmt: skip
        state, metrics = learn(state._replace(env_state=env_state, obs=obs, key=key), traj)
        return state, {**metrics, **episode_metrics(episodes)}

    # donated: an off-policy state holds its replay buffer, copied whole at every chunk otherwise
    return make_chunked_trainer(
        config, init_one, one_update, num_seeds, updates_per_chunk, build_on_host, **sizes, donate_state=True
    )
