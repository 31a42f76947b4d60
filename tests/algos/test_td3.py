"""TD3: smoke (compiled Pendulum, Gymnasium Pendulum), Box-only, exact resume with the replay
buffer in the checkpoint, the CLI, and (slow) learning Pendulum within the RL-Zoo budget of 20k steps."""

import dataclasses

import jax
import numpy as np
import pytest

from seuseuro.algos import td3
from seuseuro.cli import main
from seuseuro.core.checkpoint import load_checkpoint, save_checkpoint
from seuseuro.envs.registry import make
from seuseuro.errors import UserError

TINY = td3.Config(
    total_steps=4 * 2 * 4, num_envs=4, num_steps=2, gradient_steps=2, buffer_size=64, batch_size=16,
    learning_starts=8, hidden_sizes=(16,),
)  # fmt: skip


def _train(env_id, config=TINY, seeds=1, chunk=2, updates=None):
    trainer = td3.make_train(config, make(env_id), num_seeds=seeds, updates_per_chunk=chunk)
    state, metrics = trainer.run_updates(
        trainer.init(jax.random.split(jax.random.PRNGKey(0), seeds)), updates or config.num_updates
    )
    return trainer, state, metrics


# HalfCheetah-v5 through the same host path: test_sac.py (one MuJoCo compile per suite is enough)
@pytest.mark.parametrize("env_id", ["Pendulum-v1", "gymnasium:Pendulum-v1"])
def test_smoke(env_id):
    _, state, metrics = _train(env_id, TINY, seeds=2)
    assert int(state.update_step[0]) == TINY.num_updates
    losses = metrics["train/critic_loss"]
    assert np.isnan(losses[:, 0]).all()  # 8 steps collected: not past learning_starts yet
    assert np.isfinite(losses[:, 1:]).all()  # then gradient steps every round
    assert int(state.learner.grad_step[0]) == (TINY.num_updates - 1) * TINY.gradient_steps
    assert int(state.buffer.rows_added[0]) == TINY.total_steps // TINY.num_envs
    acted = np.asarray(state.buffer.data.action)
    assert (acted >= -2.0 - 1e-6).all() and (acted <= 2.0 + 1e-6).all() if "Pendulum" in env_id else True


def test_only_box_actions():
    with pytest.raises(UserError, match="TD3 acts in 1-D Box action spaces"):
        td3.make_train(TINY, make("CartPole-v1"))


def test_invalid_configs_are_user_errors():
    td3.Config()  # the defaults (CleanRL's MuJoCo set) are valid: the CLI builds them
    with pytest.raises(UserError, match="--learning-starts"):
        td3.Config(total_steps=100, learning_starts=100)
    with pytest.raises(UserError, match="--tau"):
        td3.Config(tau=0.0)
    with pytest.raises(UserError, match="--noise-clip"):
        td3.Config(noise_clip=-0.1)
    with pytest.raises(UserError, match="--learning-rate"):
        td3.Config(learning_rate=float("nan"))


def test_actions_are_rescaled_to_the_bounds_and_the_actor_is_delayed():
    _, state, _ = _train("Pendulum-v1", TINY, seeds=2)  # the smoke test's program (compilation cache)
    one = jax.tree.map(lambda x: x[0], state)
    obs = jax.random.normal(jax.random.PRNGKey(1), (64, 3)) * 100.0
    act, params = td3.policy_for_eval(TINY, one, deterministic=False)
    actions = np.asarray(act(params, obs, jax.random.PRNGKey(2)))
    assert actions.shape == (64, 1) and (np.abs(actions) <= 2.0).all()
    # 6 critic steps, the actor and targets moved at steps 2, 4, 6: the target actor is a Polyak
    # average of the actor's 3 updates, never equal to either the initial or the current actor
    w, w_target = one.learner.actor.net.layers[0].weight, one.learner.target_actor.net.layers[0].weight
    assert not np.allclose(w, w_target)


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
    argv = ["train", "td3", "--env", "Pendulum-v1", "--total-steps", "32", "--learning-starts", "8",
            "--num-envs", "4", "--num-steps", "2", "--gradient-steps", "2", "--buffer-size", "64",
            "--batch-size", "16", "--hidden-sizes", "16", "--num-seeds", "2",
            "--chunk-updates", "2", "--eval-episodes", "2", "--run-dir", str(run), "--no-progress",
            "--no-tensorboard"]  # fmt: skip
    assert main(argv) == 0
    assert main(["eval", str(run), "--episodes", "2"]) == 0


# Learning: RL-Zoo's Pendulum set (gamma 0.98, noise 0.1, one gradient step per env step; RL-Zoo reports -152 +- 90
# after 20k steps with (400, 300) networks) with (64, 64) networks, batch 128 and 1k random steps rather than 10k,
# for speed, and lr 5e-4 rather than 1e-3: with the small networks and 1e-3 the return swung after it first crossed
# -200 (seed 1: -139 at 7.5k, then -321, -272, -374, -134 at 20k; seed 0 ended at -190.5, 9.5 above the bar). With
# 5e-4, seeds 0-4 on the 2-core CPU crossed at 10k, 12.5k, 10k, 7.5k, 7.5k (-185, -130, -156, -167, -166) and stayed
# above the bar after (-181, -133, -150, -145, -146 at 20k) (issue 9).
LEARN = td3.tuned_config(
    "Pendulum-v1", total_steps=20_000, learning_starts=1_000, hidden_sizes=(64, 64), batch_size=128, learning_rate=5e-4
)
MIN_RETURN = -200.0


@pytest.mark.slow
# Scored every 2.5k of the 20k steps and stopped at the first score at or above the bar (issue 9): seeds above.
def test_learns_pendulum(learning_seed, train_until_bar):
    env = make("Pendulum-v1")
    trainer = td3.make_train(LEARN, env, num_seeds=1, updates_per_chunk=-(-LEARN.num_updates // 8))

    state = trainer.init(jax.random.split(jax.random.PRNGKey(learning_seed), 1))
    scores = train_until_bar(td3, trainer, state, env, 1000 + learning_seed, 20, MIN_RETURN)
    assert scores[-1] >= MIN_RETURN, scores
