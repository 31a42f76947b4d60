"""Batched environment wrappers for the gymnax functional protocol.

The base layer, :class:`AutoResetVecEnv`, runs N copies of any gymnax-protocol environment
(``reset_env(key, params)``, ``step_env(key, state, action, params)``, ``is_truncated``) and
resets finished copies in place *without* losing the information learning needs: it reports
``terminated`` and ``truncated`` separately and hands back ``next_obs``, the observation after
the step and before the reset, so a time-limit can be bootstrapped (see ``core/returns.py``).

Wrappers compose by holding the inner env (no inheritance); each keeps its own statistics in its
state, so everything is a pytree that ``jit``, ``vmap`` (over seeds) and checkpoints see:

    EpisodeStatistics   undiscounted return and length of every finished episode
    NormalizeObservation running mean/std of observations, shared by the N copies
    NormalizeReward     scale rewards by the running std of the discounted return (as SB3's
                        VecNormalize; "37 details", MuJoCo detail 5)

Every wrapper has ``reset(key) -> (obs, state)`` and
``step(key, state, action) -> (obs, state, reward, terminated, truncated, info)`` with leading
dimension N on every array, plus ``observation_space``, ``action_space`` and ``num_envs``.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from seuseuro.core.normalization import RunningMeanStd, init_running_stats, normalize, update_running_stats


@dataclasses.dataclass(frozen=True, eq=False)
class AutoResetVecEnv:
    """N copies of a gymnax-protocol environment with auto-reset that keeps the episode ends apart."""

    env: Any
    params: Any
    num_envs: int

    @property
    def observation_space(self):
        return self.env.observation_space(self.params)

    @property
    def action_space(self):
        return self.env.action_space(self.params)

    def reset(self, key: jax.Array):
        keys = jax.random.split(key, self.num_envs)
        return jax.vmap(self.env.reset_env, in_axes=(0, None))(keys, self.params)

    def step(self, key: jax.Array, state, action: jax.Array):
        keys = jax.random.split(key, self.num_envs)
        return jax.vmap(self._step_one)(keys, state, action)

    def _step_one(self, key, state, action):
        step_key, reset_key = jax.random.split(key)
        next_obs, next_state, reward, terminated, info = self.env.step_env(step_key, state, action, self.params)
        truncated = jnp.logical_and(self.env.is_truncated(next_state, self.params), jnp.logical_not(terminated))
        done = jnp.logical_or(terminated, truncated)
        reset_obs, reset_state = self.env.reset_env(reset_key, self.params)
        # Branch-free select: both sides are computed, the finished copies take the reset one.
        state = jax.tree.map(lambda r, s: jax.lax.select(done, r, s), reset_state, next_state)
        obs = jax.tree.map(lambda r, s: jax.lax.select(done, r, s), reset_obs, next_obs)
        info = {k: v for k, v in dict(info).items() if k != "discount"}
        info["next_obs"] = next_obs
        return (
            obs,
            state,
            jnp.asarray(reward, jnp.float32),
            terminated.astype(bool),
            truncated.astype(bool),
            info,
        )


class EpisodeStatsState(NamedTuple):
    inner: Any
    episode_return: jax.Array  # (N,) running undiscounted return of the current episode
    episode_length: jax.Array  # (N,)


@dataclasses.dataclass(frozen=True, eq=False)
class EpisodeStatistics:
    """Adds ``returned`` (bool), ``episode_return`` and ``episode_length`` to ``info`` (0 if not done).

    Wrap it *inside* reward normalization so it records the true, unscaled return.
    """

    inner: Any

    def __getattr__(self, name):
        return _delegate(self, name)

    def reset(self, key):
        obs, state = self.inner.reset(key)
        zeros = jnp.zeros((self.inner.num_envs,), jnp.float32)
        return obs, EpisodeStatsState(state, zeros, zeros.astype(jnp.int32))

    def step(self, key, state: EpisodeStatsState, action):
        obs, inner, reward, terminated, truncated, info = self.inner.step(key, state.inner, action)
        ret = state.episode_return + reward
        length = state.episode_length + 1
        done = jnp.logical_or(terminated, truncated)
        info = {
            **info,
            "returned": done,
            "episode_return": jnp.where(done, ret, 0.0),
            "episode_length": jnp.where(done, length, 0),
        }
        new_state = EpisodeStatsState(inner, jnp.where(done, 0.0, ret), jnp.where(done, 0, length))
        return obs, new_state, reward, terminated, truncated, info


class NormalizeObsState(NamedTuple):
    inner: Any
    stats: RunningMeanStd


@dataclasses.dataclass(frozen=True, eq=False)
class NormalizeObservation:
    """Observations (and ``info['next_obs']``) normalized by running statistics held in the state.

    Statistics are updated with every batch of new observations, before normalizing it, as
    Gymnasium's NormalizeObservation does; ``frozen=True`` (for evaluation) keeps them fixed.
    """

    inner: Any
    clip: float = 10.0
    frozen: bool = False

    def __getattr__(self, name):
        return _delegate(self, name)

    def reset(self, key):
        obs, state = self.inner.reset(key)
        stats = init_running_stats(obs.shape[1:])
        if not self.frozen:
            stats = update_running_stats(stats, obs)
        return normalize(stats, obs, self.clip), NormalizeObsState(state, stats)

    def step(self, key, state: NormalizeObsState, action):
        obs, inner, reward, terminated, truncated, info = self.inner.step(key, state.inner, action)
        stats = state.stats if self.frozen else update_running_stats(state.stats, obs)
        info = {**info, "next_obs": normalize(stats, info["next_obs"], self.clip)}
        return (
            normalize(stats, obs, self.clip),
            NormalizeObsState(inner, stats),
            reward,
            terminated,
            truncated,
            info,
        )


class NormalizeRewardState(NamedTuple):
    inner: Any
    stats: RunningMeanStd  # of the discounted return
    discounted_return: jax.Array  # (N,)


@dataclasses.dataclass(frozen=True, eq=False)
class NormalizeReward:
    """Rewards divided by the running std of the discounted return, then clipped."""

    inner: Any
    gamma: float = 0.99
    clip: float = 10.0
    frozen: bool = False

    def __getattr__(self, name):
        return _delegate(self, name)

    def reset(self, key):
        obs, state = self.inner.reset(key)
        n = self.inner.num_envs
        return obs, NormalizeRewardState(state, init_running_stats(()), jnp.zeros((n,), jnp.float32))

    def step(self, key, state: NormalizeRewardState, action):
        obs, inner, reward, terminated, truncated, info = self.inner.step(key, state.inner, action)
        ret = state.discounted_return * self.gamma + reward
        stats = state.stats if self.frozen else update_running_stats(state.stats, ret)
        scaled = jnp.clip(reward / jnp.sqrt(stats.var + 1e-8), -self.clip, self.clip)
        done = jnp.logical_or(terminated, truncated)
        new_state = NormalizeRewardState(inner, stats, jnp.where(done, 0.0, ret))
        return obs, new_state, scaled, terminated, truncated, info


def _delegate(wrapper: Any, name: str) -> Any:
    """Attributes a wrapper does not define (num_envs, spaces, env, params) come from the inner env."""
    if name.startswith("__") or name == "inner":
        raise AttributeError(name)
    return getattr(wrapper.inner, name)


def find_wrapper_state(state: Any, state_type: type) -> Any | None:
    """The first state of ``state_type`` in a nest of wrapper states (e.g. the observation stats)."""
    while state is not None:
        if isinstance(state, state_type):
            return state
        state = getattr(state, "inner", None)
    return None


def wrap_for_training(
    env: Any,
    params: Any,
    num_envs: int,
    *,
    normalize_observations: bool = False,
    normalize_rewards: bool = False,
    gamma: float = 0.99,
    frozen: bool = False,
):
    """The training stack: AutoReset -> EpisodeStatistics -> [NormalizeObservation] -> [NormalizeReward].

    ``env``/``params``: a gymnax-protocol environment and its parameters; ``gamma`` is the discount
    whose return's running std scales rewards; ``frozen`` stops the normalizers' statistics updating.
    """
    wrapped = EpisodeStatistics(AutoResetVecEnv(env, params, num_envs))
    if normalize_observations:
        wrapped = NormalizeObservation(wrapped, frozen=frozen)
    if normalize_rewards:
        wrapped = NormalizeReward(wrapped, gamma=gamma, frozen=frozen)
    return wrapped
