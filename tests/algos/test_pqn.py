"""PQN: smoke per env kind, Discrete-only, LayerNorm, exact resume, CLI, learning."""

import dataclasses

import jax
import numpy as np
import pytest

from seuseuro.algos import pqn
from seuseuro.cli import main
from seuseuro.core.checkpoint import load_checkpoint, save_checkpoint
from seuseuro.envs.registry import make
from seuseuro.errors import UserError

TINY = pqn.Config(total_steps=4 * 8 * 4, num_envs=4, num_steps=8, num_epochs=2, num_minibatches=2, hidden_sizes=(16,))


def _train(env_id, config=TINY, seeds=1, chunk=2, updates=None):
    trainer = pqn.make_train(config, make(env_id), num_seeds=seeds, updates_per_chunk=chunk)
    state, metrics = trainer.run_updates(
        trainer.init(jax.random.split(jax.random.PRNGKey(0), seeds)), updates or config.num_updates
    )
    return trainer, state, metrics


@pytest.mark.parametrize(
    "env_id,flags",
    [("CartPole-v1", {}), ("Breakout-MinAtar", dict(torso="cnn")), ("gymnasium:CartPole-v1", {})],
)
def test_smoke(env_id, flags):
    config = dataclasses.replace(TINY, **flags)
    _, state, metrics = _train(env_id, config)
    assert int(state.update_step[0]) == config.num_updates
    assert np.isfinite(metrics["train/loss"]).all() and np.isfinite(metrics["train/q_mean"]).all()


def test_hidden_layers_are_layer_normalized():
    config = dataclasses.replace(TINY, hidden_sizes=(32,), activation="tanh")
    q = pqn.LayerNormQNetwork(jax.random.PRNGKey(0), (4,), 2, config)
    obs = 100.0 * np.arange(4, dtype=np.float32)  # large inputs: the normalized layer stays O(1)
    h = q.layers[0](q.torso(obs))
    normed = (h - h.mean()) / np.sqrt(h.var() + 1e-6)
    np.testing.assert_allclose(q(obs), q.layers[1](np.tanh(normed)), rtol=1e-5, atol=1e-5)
    plain = pqn.LayerNormQNetwork(jax.random.PRNGKey(0), (4,), 2, dataclasses.replace(config, layer_norm=False))
    assert not np.allclose(plain(obs), q(obs))


def test_box_actions_are_a_user_error():
    with pytest.raises(UserError, match="PQN acts in Discrete action spaces"):
        pqn.make_train(TINY, make("Pendulum-v1"))


def test_invalid_configs_are_user_errors():
    with pytest.raises(UserError, match="divisible"):
        pqn.Config(num_envs=4, num_steps=8, num_minibatches=3)
    with pytest.raises(UserError, match="q-lambda"):
        pqn.Config(q_lambda=1.5)


def test_resume_half_way_ends_with_identical_state(tmp_path):
    config = dataclasses.replace(TINY, total_steps=TINY.batch_size * 6)
    trainer, full, _ = _train("CartPole-v1", config)
    _, half, _ = _train("CartPole-v1", config, updates=2)
    save_checkpoint(tmp_path / "c.npz", half, {})
    state, _ = load_checkpoint(tmp_path / "c.npz", trainer.state_template())
    for _ in range(2):
        state, _ = trainer.run_chunk(state, 2)
    for x, y in zip(jax.tree.leaves(full), jax.tree.leaves(state), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_cli_train_and_eval(tmp_path):
    run = tmp_path / "run"
    argv = ["train", "pqn", "--env", "CartPole-v1", "--total-steps", "64", "--num-envs", "4", "--num-steps", "8",
            "--num-minibatches", "2", "--hidden-sizes", "16", "--eval-episodes", "2", "--run-dir", str(run),
            "--no-progress", "--no-tensorboard"]  # fmt: skip
    assert main(argv) == 0
    assert main(["eval", str(run), "--episodes", "2"]) == 0


# Learning: PureJaxQL's CartPole-v1 set (the defaults) cut from 500k to 300k steps. Measured (3 seeds,
# vmapped, 2 loaded cores): greedy return 500 / 500 / 500 at 300k; at 200k 500 / 436 / 500.
FAST_CARTPOLE = dict(total_steps=300_000)


@pytest.mark.slow
def test_pqn_solves_cartpole(learning_seed, train_until_bar):
    # Scored every 30k of the 300k steps and stopped at 475 (issue 9). Seeds 0-4 on the 2-core CPU crossed it
    # at 90k, 60k, 90k, 30k, 150k (the whole budget: 500 on all five).
    config = pqn.Config(**FAST_CARTPOLE)
    env = make("CartPole-v1")
    trainer = pqn.make_train(config, env, updates_per_chunk=-(-config.num_updates // 10))

    scores = train_until_bar(
        pqn, trainer, trainer.init(jax.random.PRNGKey(learning_seed)[None]), env, learning_seed + 100, 16, 475
    )
    assert scores[-1] >= 475, scores
