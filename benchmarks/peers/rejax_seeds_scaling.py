"""rejax DQN on CartPole-v1, SEEDS seeds vmapped in one jitted program (rejax's README pattern), at
CleanRL's lighter set: 120x84 ReLU, 10 envs x 1 step and 1 gradient step of batch 128 per round, buffer
10k. Prints one JSON line: steps/s of all seeds together after compilation (the final 128-episode
evaluation included). Usage: python rejax_seeds_scaling.py SEEDS STEPS_PER_SEED"""

import json
import sys

import jax
from flax import linen as nn
from rejax import DQN
from rejax.networks import DiscreteQNetwork, EpsilonGreedyPolicy
from rejax_timing import compile_then_run  # this folder (the script's, on sys.path)

seeds, steps = int(sys.argv[1]), int(sys.argv[2])
algo = DQN.create(
    env="CartPole-v1",
    total_timesteps=steps,
    eval_freq=steps,
    skip_initial_evaluation=True,
    num_envs=10,
    num_epochs=1,
    learning_rate=2.5e-4,
    batch_size=128,
    buffer_size=10_000,
    fill_buffer=0,
    target_update_freq=500,
    polyak=0.0,
    ddqn=False,
)
algo = algo.replace(
    agent=EpsilonGreedyPolicy(DiscreteQNetwork)(hidden_layer_sizes=(120, 84), action_dim=2, activation=nn.relu)
)
keys = jax.random.split(jax.random.PRNGKey(0), seeds)
_, compile_s, run_s = compile_then_run(jax.vmap(algo.train), keys)
print(
    json.dumps(
        {
            "num_seeds": seeds,
            "steps_timed": seeds * steps,
            "seconds": run_s,
            "sps": seeds * steps / run_s,
            "compile_s": compile_s,
        }
    )
)
