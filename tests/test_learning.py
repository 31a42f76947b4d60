"""Learning tests: PPO must reach the published scores (slow; run in CI).

Metric: mean undiscounted return of 20 evaluation episodes with greedy actions (SB3 zoo's metric).
"""

import json

import pytest

from seuseuro.cli import main

pytestmark = pytest.mark.slow


def _train_and_eval(tmp_path, env_id, seed, *flags):
    run = tmp_path / "run"
    args = [
        "train",
        "ppo",
        "--env",
        env_id,
        "--seed",
        str(seed),
        "--run-dir",
        str(run),
        "--no-progress",
        "--no-tensorboard",
    ]
    rc = main([*args, *flags])
    assert rc == 0
    return json.loads((run / "eval.json").read_text())["aggregate"]["mean_return"]


def test_cartpole_compiled_solves_in_100k_steps(tmp_path, learning_seed):
    # RL-Zoo hyperparameters (the defaults): SB3 solves CartPole (500) at 100k steps; 500 on 10 of 10 seeds here.
    assert _train_and_eval(tmp_path, "CartPole-v1", learning_seed) >= 475


def test_cartpole_through_the_gymnasium_bridge(tmp_path, learning_seed):
    assert _train_and_eval(tmp_path, "gymnasium:CartPole-v1", learning_seed) >= 475


def test_pendulum_continuous_actions(tmp_path, learning_seed):
    # Box actions, observation and reward normalization; -250 is "solved" in RL-Zoo's sense. 500k, not 300k:
    # over 10 seeds (jax 0.11.2) 300k gave -180..-231 (the worst 19 above the bar), 500k -181..-211; the
    # compiled loop makes the extra 200k steps cost seconds.
    assert _train_and_eval(tmp_path, "Pendulum-v1", learning_seed, "--total-steps", "500000") >= -250
