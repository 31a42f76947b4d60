"""DQN: smoke per flag and per env kind, Discrete-only, exact resume with the replay buffer, CLI, learning."""

import dataclasses

import jax
import numpy as np
import pytest

from seuseuro.algos import dqn
from seuseuro.cli import main
from seuseuro.core.checkpoint import load_checkpoint, save_checkpoint
from seuseuro.envs.registry import make
from seuseuro.errors import UserError

TINY = dqn.Config(
    total_steps=4 * 4 * 8, num_envs=4, num_steps=4, gradient_steps=2, batch_size=16, buffer_size=64,
    learning_starts=16, target_update_period=32, hidden_sizes=(16,),
)  # fmt: skip


def _train(env_id, config=TINY, seeds=1, chunk=4, updates=None):
    trainer = dqn.make_train(config, make(env_id), num_seeds=seeds, updates_per_chunk=chunk)
    state, metrics = trainer.run_updates(
        trainer.init(jax.random.split(jax.random.PRNGKey(0), seeds)), updates or config.num_updates
    )
    return trainer, state, metrics


@pytest.mark.parametrize(
    "env_id,flags",
    [
        ("CartPole-v1", {}),
        ("CartPole-v1", dict(double_q=True, dueling=True, n_step=3, loss="huber", tau=0.5, prioritized=True)),
        ("Breakout-MinAtar", dict(torso="cnn")),
        ("gymnasium:CartPole-v1", dict(n_step=2)),  # host-stepped, next-step auto-reset (valid mask)
    ],
)
def test_smoke(env_id, flags):
    config = dataclasses.replace(TINY, **flags)
    _, state, metrics = _train(env_id, config)
    assert int(state.update_step[0]) == config.num_updates
    learning = np.arange(1, config.num_updates + 1) * config.steps_per_update >= config.learning_starts
    assert np.isnan(metrics["train/loss"][0, ~learning]).all()  # nothing learnt before learning_starts
    assert np.isfinite(metrics["train/loss"][0, learning]).all()
    assert int(state.buffer.rows_added[0]) == min(config.num_updates * config.num_steps, 64 // 4)
    online, target = state.q.body.layers[0].weight, state.target.body.layers[0].weight
    assert not np.array_equal(online, target) or config.tau == 1.0  # the target lags (or was just copied)


def test_epsilon_decays_linearly_to_its_end_value():
    config = dataclasses.replace(TINY, total_steps=1000, exploration_fraction=0.5)  # over 500 env steps
    updates = np.array([0, 15, 40])  # 0, 240, 640 env steps (16 per update)
    eps = np.asarray(dqn.epsilon_at(config, updates))
    np.testing.assert_allclose(eps, [1.0, 1.0 - 0.95 * 240 / 500, 0.05], atol=1e-6)


def test_dueling_head_is_value_plus_centred_advantage():
    config = dataclasses.replace(TINY, dueling=True)
    q = dqn.QNetwork(jax.random.PRNGKey(0), (4,), 3, config)
    obs = np.ones(4, np.float32)
    h = jax.nn.relu(q.body(obs))
    advantage, value = q.head[0](h), q.head[1](h)
    np.testing.assert_allclose(q(obs), value + advantage - advantage.mean(), rtol=1e-6)


def test_target_network_is_copied_every_period():
    config = dataclasses.replace(TINY, target_update_period=2 * TINY.steps_per_update, learning_starts=0)
    _, state, _ = _train("CartPole-v1", config, updates=4)  # copied after update 4: equal
    np.testing.assert_array_equal(state.q.body.layers[0].weight, state.target.body.layers[0].weight)
    _, state, _ = _train("CartPole-v1", config, updates=5)  # one gradient phase since: differs
    assert not np.array_equal(state.q.body.layers[0].weight, state.target.body.layers[0].weight)


def test_box_actions_are_a_user_error():
    with pytest.raises(UserError, match="DQN acts in Discrete action spaces"):
        dqn.make_train(TINY, make("Pendulum-v1"))


def test_invalid_configs_are_user_errors():
    with pytest.raises(UserError, match="buffer-size"):
        dqn.Config(buffer_size=4, num_envs=8)
    with pytest.raises(UserError, match="loss"):
        dqn.Config(loss="l1")
    with pytest.raises(UserError, match="tau"):
        dqn.Config(tau=2.0)


def test_resume_half_way_ends_with_identical_state(tmp_path):
    config = dataclasses.replace(TINY, total_steps=TINY.steps_per_update * 8, prioritized=True, n_step=2)
    trainer, full, _ = _train("CartPole-v1", config, chunk=2)
    _, half, _ = _train("CartPole-v1", config, chunk=2, updates=4)
    save_checkpoint(tmp_path / "c.npz", half, {})
    state, _ = load_checkpoint(tmp_path / "c.npz", trainer.state_template())
    assert int(state.buffer.rows_added[0]) == 16  # the replay buffer came back with the checkpoint
    for _ in range(2):
        previous = state
        state, _ = trainer.run_chunk(state, 2)
    # the chunk reused (donated) the state's memory: no copy of the replay buffer per chunk
    assert previous.buffer.data.obs.is_deleted()
    for x, y in zip(jax.tree.leaves(full), jax.tree.leaves(state), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_cli_train_and_eval(tmp_path):
    run = tmp_path / "run"
    argv = ["train", "dqn", "--env", "CartPole-v1", "--total-steps", "64", "--learning-starts", "16",
            "--num-envs", "4", "--num-steps", "2", "--batch-size", "16", "--hidden-sizes", "16",
            "--double-q", "--eval-episodes", "2", "--run-dir", str(run), "--no-progress", "--no-tensorboard"]  # fmt: skip
    assert main(argv) == 0
    assert main(["eval", str(run), "--episodes", "2"]) == 0


# Learning: CleanRL's classic-control set with 16 envs x 1 step and 2 gradient steps per update (one
# per 8 env steps), lr 5e-4, double Q, 300k steps, and a buffer that keeps every transition (CleanRL's
# 10k buffer forgets: its curves oscillate once it holds only long episodes). Measured (3 seeds,
# vmapped, 2 loaded cores, 202 s): greedy return 500 / 500 / 500. Not reliable here: CleanRL's set
# as is (500k) 500 / 500 / 500 but 331 on this test's seed 0; RL-Zoo's 50k set 500 / 500 / 45;
# the setting below at 200k with a 50k buffer 500 / 430 / 464.
FAST_CARTPOLE = dict(
    total_steps=300_000, num_envs=16, num_steps=1, gradient_steps=2, learning_rate=5e-4, learning_starts=5_000,
    exploration_fraction=0.25, buffer_size=300_000, double_q=True,
)  # fmt: skip


@pytest.mark.slow
def test_dqn_solves_cartpole(learning_seed, train_until_bar):
    # Scored every 30k of the 300k steps and stopped at 475 (issue 9), for robustness more than speed: DQN's
    # greedy return swings between chunks (seed 4: 500 at 300k but 104 at 270k), so a test of the last chunk
    # alone depends on where the run happens to stand at 300k. Seeds 0-4 on the 2-core CPU first crossed 475
    # at 240k, 240k, 210k, 210k, 300k.
    config = dqn.Config(**FAST_CARTPOLE)
    env = make("CartPole-v1")
    trainer = dqn.make_train(config, env, updates_per_chunk=-(-config.num_updates // 10))

    scores = train_until_bar(
        dqn, trainer, trainer.init(jax.random.PRNGKey(learning_seed)[None]), env, learning_seed + 100, 16, 475
    )
    assert scores[-1] >= 475, scores
