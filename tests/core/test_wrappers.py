"""Auto-reset keeps terminated and truncated apart; statistics and normalizers live in the state."""

import jax
import jax.numpy as jnp
import numpy as np

from seuseuro.core.wrappers import (
    AutoResetVecEnv,
    EpisodeStatistics,
    NormalizeObservation,
    NormalizeObsState,
    NormalizeReward,
    find_wrapper_state,
)
from seuseuro.envs import import_gymnax

# Not `import gymnax`: its plotting dependencies (seaborn, pyplot, pandas) cost every xdist worker ~4 s of
# test collection (issue 9).
gymnax = import_gymnax()


def _cartpole(max_steps):
    env, params = gymnax.make("CartPole-v1")
    return env, params.replace(max_steps_in_episode=max_steps)


def _run(venv, steps, action_fn):
    obs, state = venv.reset(jax.random.PRNGKey(0))
    out = []
    key = jax.random.PRNGKey(1)
    for t in range(steps):
        key, sub = jax.random.split(key)
        obs, state, reward, term, trunc, info = venv.step(sub, state, action_fn(t))
        out.append((obs, reward, term, trunc, info))
    return out, state


def test_time_limit_is_truncation_with_the_final_observation_kept():
    env, params = _cartpole(5)
    venv = EpisodeStatistics(AutoResetVecEnv(env, params, num_envs=2))
    out, _ = _run(venv, 5, lambda t: jnp.array([t % 2, (t + 1) % 2]))  # alternate: stays upright
    for _, _, term, trunc, info in out[:4]:
        assert not term.any() and not trunc.any() and not info["returned"].any()
    obs, _, term, trunc, info = out[4]
    assert trunc.all() and not term.any()
    np.testing.assert_array_equal(info["episode_return"], [5.0, 5.0])
    np.testing.assert_array_equal(info["episode_length"], [5, 5])
    # the returned obs is a fresh reset (|x| <= .05), the final one is where the episode ended
    assert jnp.all(jnp.abs(obs) <= 0.05)
    assert not jnp.allclose(obs, info["next_obs"])


def test_termination_is_not_truncation():
    env, params = _cartpole(500)
    venv = AutoResetVecEnv(env, params, num_envs=1)
    out, _ = _run(venv, 60, lambda t: jnp.array([1]))  # always push right: the pole falls
    ends = [(bool(term[0]), bool(trunc[0])) for _, _, term, trunc, _ in out if term[0] or trunc[0]]
    assert ends and ends[0] == (True, False)


def test_episode_statistics_reset_after_each_episode():
    env, params = _cartpole(3)
    venv = EpisodeStatistics(AutoResetVecEnv(env, params, num_envs=1))
    out, state = _run(venv, 7, lambda t: jnp.array([t % 2]))
    returned = [float(info["episode_return"][0]) for *_, info in out if info["returned"][0]]
    assert returned == [3.0, 3.0]
    assert int(state.episode_length[0]) == 1


def test_observation_normalizer_statistics_are_in_the_state():
    env, params = _cartpole(500)
    venv = NormalizeObservation(EpisodeStatistics(AutoResetVecEnv(env, params, num_envs=16)))
    out, state = _run(venv, 30, lambda t: jnp.full((16,), t % 2))
    stats = find_wrapper_state(state, NormalizeObsState).stats
    assert float(stats.count) > 16 * 30  # reset batch + one batch per step
    raw = np.concatenate([np.asarray(o) for o, *_ in out])
    assert np.abs(raw).max() <= 10.0  # clipped
    # normalized observations of the last batch have roughly zero mean
    assert np.abs(np.asarray(out[-1][0]).mean()) < 1.5


def test_reward_normalizer_scales_by_return_std():
    env, params = _cartpole(500)
    venv = NormalizeReward(EpisodeStatistics(AutoResetVecEnv(env, params, num_envs=4)), gamma=0.99)
    out, state = _run(venv, 20, lambda t: jnp.full((4,), t % 2))
    rewards = np.array([np.asarray(r) for _, r, *_ in out])
    # raw reward 1 divided by the std of the discounted return, from the statistics in the state
    np.testing.assert_allclose(rewards[-1], 1.0 / np.sqrt(float(state.stats.var) + 1e-8), rtol=1e-5)
    # the discounted-return accumulator: sum_{k<20} .99^k
    np.testing.assert_allclose(state.discounted_return, (1 - 0.99**20) / (1 - 0.99), rtol=1e-5)
    # the episode statistics still report the raw return
    assert float(state.inner.episode_return[0]) == 20.0
