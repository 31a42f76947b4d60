"""PPO: smoke per environment family, determinism, checkpoint round-trip, exact resume."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from seuseuro.algos import ppo
from seuseuro.core.checkpoint import load_checkpoint, save_checkpoint
from seuseuro.envs.registry import make
from seuseuro.errors import UserError

TINY = ppo.Config(total_steps=4 * 16 * 4, num_envs=4, num_steps=16, num_epochs=2, num_minibatches=2, hidden_sizes=(16,))


def _train(env_id, config=TINY, seeds=1, chunk=2, updates=None):
    trainer = ppo.make_train(config, make(env_id), num_seeds=seeds, updates_per_chunk=chunk)
    state, metrics = trainer.run_updates(
        trainer.init(jax.random.split(jax.random.PRNGKey(0), seeds)), updates or config.num_updates
    )
    return trainer, state, metrics


@pytest.mark.parametrize(
    "env_id,config",
    [
        ("CartPole-v1", TINY),  # classic control, discrete
        ("Pendulum-v1", dataclasses.replace(TINY, normalize_observations=True, normalize_rewards=True)),  # Box
        ("Breakout-MinAtar", TINY),  # MinAtar: image observations, flattened
        ("Breakout-MinAtar", dataclasses.replace(TINY, torso="cnn")),  # ... or through 3x3 convolutions
        ("Catch-bsuite", TINY),  # bsuite
        ("gymnasium:CartPole-v1", TINY),  # the Gymnasium bridge
        ("HalfCheetah-v5", dataclasses.replace(TINY, normalize_observations=True, normalize_rewards=True)),  # MuJoCo
    ],
)
def test_smoke_each_family(env_id, config):
    _, state, metrics = _train(env_id, config)
    assert int(state.update_step[0]) == config.num_updates
    losses = metrics["train/value_loss"]
    assert np.all(np.isfinite(losses))
    assert np.isfinite(metrics["train/entropy"]).all()


def test_partial_chunk_runs_only_the_active_updates():
    _, state, metrics = _train("CartPole-v1", TINY, chunk=3)  # 4 updates = 3 + 1 (then 2 skipped)
    assert int(state.update_step[0]) == 4
    assert metrics["train/value_loss"].shape[1] == 4


def test_same_seed_same_parameters_and_seeds_differ():
    _, a, _ = _train("CartPole-v1", TINY, seeds=2)
    _, b, _ = _train("CartPole-v1", TINY, seeds=2)
    for x, y in zip(jax.tree.leaves(a.policy), jax.tree.leaves(b.policy), strict=True):
        np.testing.assert_array_equal(x, y)
    w = a.policy.actor.layers[0].weight
    assert not np.allclose(w[0], w[1])  # the two seeds are independent runs


def test_checkpoint_round_trip_gives_the_same_next_action(tmp_path):
    trainer, state, _ = _train("CartPole-v1", TINY)
    save_checkpoint(tmp_path / "c.npz", state, {"updates_done": 4})
    loaded, meta = load_checkpoint(tmp_path / "c.npz", trainer.state_template())
    assert meta["updates_done"] == 4
    obs = jnp.asarray(np.random.default_rng(0).normal(size=(5, 4)), jnp.float32)
    pick = lambda s: jax.tree.map(lambda x: x[0], s.policy)  # noqa: E731
    a1, lp1 = ppo.sample_action(pick(state), obs, jax.random.PRNGKey(3))
    a2, lp2 = ppo.sample_action(pick(loaded), obs, jax.random.PRNGKey(3))
    np.testing.assert_array_equal(a1, a2)
    np.testing.assert_array_equal(lp1, lp2)


def test_resume_half_way_ends_with_identical_parameters(tmp_path):
    config = dataclasses.replace(TINY, total_steps=4 * 16 * 6, normalize_observations=True)
    trainer, full, _ = _train("CartPole-v1", config, chunk=2)
    _, half, _ = _train("CartPole-v1", config, chunk=2, updates=2)
    save_checkpoint(tmp_path / "c.npz", half, {})
    state, _ = load_checkpoint(tmp_path / "c.npz", trainer.state_template())
    for _ in range(2):
        state, _ = trainer.run_chunk(state, 2)
    for x, y in zip(jax.tree.leaves(full), jax.tree.leaves(state), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_evaluate_returns_one_return_per_episode():
    env = make("CartPole-v1")
    _, state, _ = _train("CartPole-v1", TINY)
    pick = lambda t: jax.tree.map(lambda x: x[0], t)  # noqa: E731
    returns = ppo.evaluate(pick(state.policy), pick(state.env_state), env, 0, 6)
    assert returns.shape == (6,) and np.all(returns >= 1) and np.all(returns <= 500)


def test_invalid_configs_are_user_errors():
    with pytest.raises(UserError, match="divisible"):
        ppo.Config(num_envs=4, num_steps=16, num_minibatches=3)
    with pytest.raises(UserError, match="gamma"):
        ppo.Config(gamma=1.5)
    with pytest.raises(UserError, match="less than one rollout"):
        ppo.Config(total_steps=10)


def test_unsupported_action_space_is_a_user_error():
    from gymnax.environments import spaces

    from seuseuro.envs.spaces import action_spec

    with pytest.raises(UserError, match="Discrete or 1-D Box"):
        action_spec(spaces.Tuple([spaces.Discrete(2), spaces.Discrete(3)]), "PPO")


def test_tuned_config_applies_overrides():
    config = ppo.tuned_config("Pendulum-v1", total_steps=123_456)
    assert config.total_steps == 123_456 and config.gamma == ppo.TUNED["Pendulum-v1"]["gamma"]
    assert ppo.tuned_config("gymnasium:HalfCheetah-v5").normalize_rewards


def test_ppo_loss_with_a_mask_equals_the_loss_of_the_valid_samples():
    """The bridge's reset steps (Transition.valid = 0) must not count in any average."""
    config = ppo.Config(hidden_sizes=(8,))
    policy = ppo.ActorCritic(jax.random.PRNGKey(0), (3,), 2, True, config)
    k = jax.random.split(jax.random.PRNGKey(1), 5)
    n = 6
    batch = (
        jax.random.normal(k[0], (n, 3)),
        jax.random.randint(k[1], (n,), 0, 2),
        -0.7 + 0.1 * jax.random.normal(k[2], (n,)),
        jnp.zeros(n),
        jax.random.normal(k[3], (n,)),
        jax.random.normal(k[4], (n,)),
    )
    mask = jnp.array([1.0, 0.0, 1.0, 1.0, 0.0, 1.0])
    keep = np.flatnonzero(np.asarray(mask))
    # Highest matmul precision: under a GPU's default (TF32) float32 matmuls the two batch shapes
    # take different kernels and round differently beyond rel 1e-5 (issue 9, seen on an H200).
    with jax.default_matmul_precision("highest"):
        masked_total, masked_stats = ppo.ppo_loss(policy, (*batch, mask), 0.2, config)
        subset_total, subset_stats = ppo.ppo_loss(policy, tuple(x[keep] for x in batch), 0.2, config)
    # abs 1e-6: each statistic is a mean of order-1 terms (normalized advantages, ratios near 1) that
    # can nearly cancel (policy loss 0.0083), and a GPU sums 4 and 6 terms in different orders: 2.4e-7
    # apart on an H200 even at highest precision (issue 9). An ignored mask moves them by ~0.1.
    assert float(masked_total) == pytest.approx(float(subset_total), rel=1e-5, abs=1e-6)
    for name in subset_stats:
        assert float(masked_stats[name]) == pytest.approx(float(subset_stats[name]), rel=1e-5, abs=1e-6), name
    unmasked_total, _ = ppo.ppo_loss(policy, batch, 0.2, config)
    assert float(unmasked_total) != pytest.approx(float(subset_total), rel=1e-3)  # the mask did something


def test_cnn_torso_needs_image_observations():
    with pytest.raises(UserError, match="--torso cnn reads"):
        ppo.make_train(dataclasses.replace(TINY, torso="cnn"), make("CartPole-v1"))
    with pytest.raises(UserError, match="--cnn-channels"):
        dataclasses.replace(TINY, cnn_channels=())
