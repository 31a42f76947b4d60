"""The evaluator: full episodes with any act function, on a JAX-native or a Gymnasium env.

``act(params, obs, key) -> action`` acts on a batch ``(E, *obs_shape)`` of raw observations (any
normalization the agent was trained with is the act function's business, its statistics part of
``params``). Each of the ``episodes`` parallel copies plays one episode; the result is the
undiscounted return of each. Box actions are clipped to the space's bounds on their way to the env.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from seuseuro.core.wrappers import AutoResetVecEnv, EpisodeStatistics
from seuseuro.envs.spaces import action_spec

EvalActFn = Callable[[Any, jax.Array, jax.Array], jax.Array]


def evaluate(
    act: EvalActFn, params: Any, env: Any, seed: int, episodes: int, max_steps: int | None = None
) -> np.ndarray:
    """Undiscounted return of ``episodes`` episodes (one per parallel copy), as a numpy array."""
    if getattr(env, "is_jax_native", False):
        return evaluate_compiled(act, params, env, jax.random.PRNGKey(seed), episodes, max_steps)
    return evaluate_on_host(act, params, env, seed, episodes, max_steps)


def evaluate_compiled(act: EvalActFn, params: Any, jax_env: Any, key: jax.Array, episodes: int,
                      max_steps: int | None = None) -> np.ndarray:  # fmt: skip
    """The JAX-native case: every episode in one compiled scan of ``max_steps`` steps."""
    spec = action_spec(jax_env.action_space)
    venv = EpisodeStatistics(AutoResetVecEnv(jax_env.env, jax_env.params, episodes))
    max_steps = max_steps or jax_env.max_episode_steps or 1000

    @eqx.filter_jit
    def run(params, key):
        reset_key, key = jax.random.split(key)
        obs, state = venv.reset(reset_key)

        def step(carry, _):
            state, obs, key, done, ret = carry
            key, act_key, step_key = jax.random.split(key, 3)
            action = act(params, obs, act_key)
            if spec.low is not None:
                action = jnp.clip(action, spec.low, spec.high)
            obs, state, _, _, _, info = venv.step(step_key, state, action)
            ret = jnp.where(done, ret, jnp.where(info["returned"], info["episode_return"], ret))
            return (state, obs, key, jnp.logical_or(done, info["returned"]), ret), None

        init = (state, obs, key, jnp.zeros(episodes, bool), jnp.full(episodes, jnp.nan))
        (_, _, _, _, ret), _ = jax.lax.scan(step, init, None, max_steps)
        return ret

    return np.asarray(run(params, key))


def evaluate_on_host(act: EvalActFn, params: Any, env: Any, seed: int, episodes: int,
                     max_steps: int | None = None) -> np.ndarray:  # fmt: skip
    """The Gymnasium case: a host loop over a vector env of ``episodes`` copies, each counted until
    its first episode ends."""
    spec = action_spec(env.action_space)
    venv = env.make_vec(episodes, seed)
    raw, _ = venv.reset(seed=seed)
    jitted = jax.jit(act)
    key = jax.random.PRNGKey(seed)
    returns = np.zeros(episodes)
    finished = np.zeros(episodes, bool)
    for _ in range(max_steps or env.max_episode_steps or 10_000):
        key, sub = jax.random.split(key)
        a = np.asarray(jitted(params, jnp.asarray(raw, jnp.float32), sub))
        raw, reward, terminated, truncated, _ = venv.step(a if spec.discrete else np.clip(a, spec.low, spec.high))
        returns += np.where(finished, 0.0, reward)
        finished |= np.logical_or(terminated, truncated)
        if finished.all():
            break
    venv.close()
    return returns
