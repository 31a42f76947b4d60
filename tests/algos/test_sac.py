"""SAC: smoke (compiled Pendulum, Gymnasium Pendulum, MuJoCo), Box-only, exact resume with the replay
buffer in the checkpoint, the CLI, and (slow) learning Pendulum within the RL-Zoo budget of 20k steps,
compiled and through the Gymnasium collector (issue 11, item 4)."""

import dataclasses

import jax
import numpy as np
import pytest

from seuseuro.algos import sac
from seuseuro.cli import main
from seuseuro.core.checkpoint import load_checkpoint, save_checkpoint
from seuseuro.envs.registry import make
from seuseuro.errors import UserError

TINY = sac.Config(
    total_steps=4 * 2 * 4, num_envs=4, num_steps=2, gradient_steps=2, buffer_size=64, batch_size=16,
    learning_starts=8, hidden_sizes=(16,), policy_frequency=2,
)  # fmt: skip


def _train(env_id, config=TINY, seeds=1, chunk=2, updates=None):
    trainer = sac.make_train(config, make(env_id), num_seeds=seeds, updates_per_chunk=chunk)
    state, metrics = trainer.run_updates(
        trainer.init(jax.random.split(jax.random.PRNGKey(0), seeds)), updates or config.num_updates
    )
    return trainer, state, metrics


@pytest.mark.parametrize("env_id", ["Pendulum-v1", "gymnasium:Pendulum-v1", "HalfCheetah-v5"])
def test_smoke(env_id):
    _, state, metrics = _train(env_id, TINY, seeds=2)
    assert int(state.update_step[0]) == TINY.num_updates
    losses = metrics["train/critic_loss"]
    assert np.isnan(losses[:, 0]).all()  # 8 steps collected: not past learning_starts yet
    assert np.isfinite(losses[:, 1:]).all()  # then gradient steps every round
    # actor steps every policy_frequency (2) critic steps, twice: one per critic step on average
    assert int(state.learner.grad_step[0]) == (TINY.num_updates - 1) * TINY.gradient_steps
    assert int(state.buffer.rows_added[0]) == TINY.total_steps // TINY.num_envs
    acted = np.asarray(state.buffer.data.action)
    assert (acted >= -2.0 - 1e-6).all() and (acted <= 2.0 + 1e-6).all() if "Pendulum" in env_id else True


def test_only_box_actions():
    with pytest.raises(UserError, match="SAC acts in 1-D Box action spaces"):
        sac.make_train(TINY, make("CartPole-v1"))


def test_invalid_configs_are_user_errors():
    sac.Config()  # the defaults (CleanRL's MuJoCo set) are valid: the CLI builds them
    with pytest.raises(UserError, match="--learning-starts"):
        sac.Config(total_steps=100, learning_starts=100)
    with pytest.raises(UserError, match="--tau"):
        sac.Config(tau=0.0)
    with pytest.raises(UserError, match="--alpha"):
        sac.Config(alpha=float("nan"))


def test_actions_are_rescaled_to_the_bounds_and_log_std_is_bounded():
    _, state, _ = _train("Pendulum-v1", TINY, seeds=2)  # the smoke test's program (compilation cache)
    one = jax.tree.map(lambda x: x[0], state)
    obs = jax.random.normal(jax.random.PRNGKey(1), (64, 3)) * 100.0
    mean, log_std = jax.vmap(one.learner.actor)(obs)
    assert (log_std >= sac.LOG_STD_MIN).all() and (log_std <= sac.LOG_STD_MAX).all()
    act, params = sac.policy_for_eval(TINY, one, deterministic=False)
    actions = np.asarray(act(params, obs, jax.random.PRNGKey(2)))
    assert actions.shape == (64, 1) and (np.abs(actions) <= 2.0).all() and np.abs(actions).max() > 1.0


def test_resume_half_way_ends_with_identical_state(tmp_path):
    config = dataclasses.replace(TINY, total_steps=4 * 2 * 6)
    trainer, full, _ = _train("Pendulum-v1", config, seeds=2)
    _, half, _ = _train("Pendulum-v1", config, seeds=2, updates=2)
    save_checkpoint(tmp_path / "c.npz", half, {})
    state, _ = load_checkpoint(tmp_path / "c.npz", trainer.state_template())
    assert int(state.buffer.rows_added[0]) == 4 and state.buffer.valid.shape == (
        2,
        16,
        4,
    )  # the buffer came back with the checkpoint
    for _ in range(2):
        state, _ = trainer.run_chunk(state, 2)
    for x, y in zip(jax.tree.leaves(full), jax.tree.leaves(state), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_cli_train_and_eval(tmp_path):
    run = tmp_path / "run"
    # TINY as flags, 2 seeds, chunks of 2: the smoke test's program (compilation cache)
    argv = ["train", "sac", "--env", "Pendulum-v1", "--total-steps", "32", "--learning-starts", "8",
            "--num-envs", "4", "--num-steps", "2", "--gradient-steps", "2", "--buffer-size", "64",
            "--batch-size", "16", "--hidden-sizes", "16", "--policy-frequency", "2", "--num-seeds", "2",
            "--chunk-updates", "2", "--eval-episodes", "2", "--run-dir", str(run), "--no-progress",
            "--no-tensorboard"]  # fmt: skip
    assert main(argv) == 0
    assert main(["eval", str(run), "--episodes", "2"]) == 0


# Learning: RL-Zoo's Pendulum set (lr 1e-3, one gradient step per env step) with smaller networks
# and batches, and 1k random steps, so that 12k steps take ~40 s on 2 loaded cores (compilation
# included). RL-Zoo reports -157 +- 89 after 20k steps with (256, 256) networks and batch 256.
LEARN = sac.tuned_config(
    "Pendulum-v1", total_steps=20_000, learning_starts=1_000, hidden_sizes=(64, 64), batch_size=128
)
MIN_RETURN = -200.0


@pytest.mark.slow
# Compiled, and through the host collector (Gymnasium's Pendulum). Whole 20k budget, seeds 0-4 on the 2-core
# CPU: -151, -152, -151, -169, -164 through the collector (smallest margin 31 to the bar). Scored every 2.5k
# steps and stopped at the bar (issue 9): compiled, seeds 0-4 crossed it at 7.5k, 7.5k, 5k, 5k, 5k (-179, -132,
# -157, -162, -155); their returns at 20k: -186, -134, -154, -138, -145. Through the collector: at 7.5k, 5k, 7.5k,
# 5k, 7.5k (-155, -154, -151, -165, -161).
@pytest.mark.parametrize("env_id", ["Pendulum-v1", "gymnasium:Pendulum-v1"])
def test_learns_pendulum(env_id, learning_seed, train_until_bar):
    env = make(env_id)
    trainer = sac.make_train(LEARN, env, num_seeds=1, updates_per_chunk=-(-LEARN.num_updates // 8))

    state = trainer.init(jax.random.split(jax.random.PRNGKey(learning_seed), 1))
    scores = train_until_bar(sac, trainer, state, env, 1000 + learning_seed, 20, MIN_RETURN)
    assert scores[-1] >= MIN_RETURN, scores
