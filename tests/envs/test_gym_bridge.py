"""The Gymnasium bridge's rollouts with a next-step auto-reset vector env (CartPole's numpy one)."""

import jax
import numpy as np

from seuseuro.algos import ppo
from seuseuro.envs.registry import make


def test_next_step_reset_steps_are_marked_invalid_and_the_rollout_lines_up(monkeypatch):
    captured = []
    original = ppo.ppo_update

    def recording_update(policy, opt_state, traj, *args, **kwargs):
        fields = (traj.obs, traj.reward, traj.terminated, traj.truncated, traj.next_obs, traj.valid)
        jax.debug.callback(lambda *xs: captured.append([np.asarray(x) for x in xs]), *fields)
        return original(policy, opt_state, traj, *args, **kwargs)

    monkeypatch.setattr(ppo, "ppo_update", recording_update)
    # short episodes (random early policy on CartPole: ~20 steps) so that resets happen inside rollouts
    config = ppo.Config(total_steps=3 * 4 * 64, num_envs=4, num_steps=64, num_epochs=1, hidden_sizes=(8,))
    trainer = ppo.make_train(config, make("gymnasium:CartPole-v1"), num_seeds=1, updates_per_chunk=3)
    state = trainer.init(jax.random.split(jax.random.PRNGKey(0), 1))
    _, metrics = trainer.run_chunk(state, 3)
    assert len(captured) == 3
    # the callback sees one seed's (T, N, ...) arrays; consecutive rollouts joined along time -> (3 T, N, ...)
    obs, reward, terminated, truncated, next_obs, valid = (
        np.concatenate(x, axis=0) for x in zip(*captured, strict=True)
    )
    assert valid.shape == (3 * 64, 4)
    done = terminated | truncated
    assert done.any() and not valid.all()
    np.testing.assert_array_equal(valid[1:], ~done[:-1])  # the step after an episode's end resets it
    assert not done[~valid].any() and np.all(reward[~valid] == 0.0)
    assert np.all(reward[valid] == 1.0)
    np.testing.assert_array_equal(next_obs[:-1], obs[1:])  # each step starts where the last one ended
    # an episode's reported length counts its valid steps only: CartPole's return is its length
    returns = np.asarray(metrics["rollout/episode_return"])
    lengths = np.asarray(metrics["rollout/episode_length"])
    np.testing.assert_allclose(returns[np.isfinite(returns)], lengths[np.isfinite(lengths)])
