"""rejax DQN on CartPole-v1 (gymnax's) at the settings of ../../../shared/peers/sb3_dqn_cartpole.py as far as
rejax 0.1.3 allows: 256x256 ReLU, batch 64, buffer 100k, 1000 steps before learning, lr 2.3e-3, epsilon
1 -> 0.04 over 16%, vanilla (not double) Q, hard target copy every 128 gradient steps. rejax has no train
frequency: 2 envs x 1 step per round with 1 gradient step keeps SB3's 0.5 gradient steps per env step.
Its loss is optax.l2_loss (half the squared error; SB3: Huber) and it has no gradient clipping.
Prints the SB3 script's line plus compile_s and sps_after_compile; eval_return = mean of rejax's final
evaluation (128 episodes, epsilon 0.005). Usage: python rejax_dqn_cartpole.py SEED [STEPS]"""

import sys

import jax
from flax import linen as nn
from rejax import DQN
from rejax.networks import DiscreteQNetwork, EpsilonGreedyPolicy
from rejax_timing import compile_then_run  # this folder (the script's, on sys.path)

seed = int(sys.argv[1]) if len(sys.argv) > 1 else 0
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 50_000
algo = DQN.create(
    env="CartPole-v1",
    total_timesteps=steps,
    eval_freq=steps,
    skip_initial_evaluation=True,
    num_envs=2,
    num_epochs=1,
    learning_rate=2.3e-3,
    batch_size=64,
    buffer_size=100_000,
    fill_buffer=1000,
    gamma=0.99,
    target_update_freq=256,
    polyak=0.0,
    eps_start=1.0,
    eps_end=0.04,
    exploration_fraction=0.16,
    ddqn=False,
)
# rejax 0.1.3 fixes DQN's hidden sizes at (64, 64): give it SB3's network
algo = algo.replace(
    agent=EpsilonGreedyPolicy(DiscreteQNetwork)(hidden_layer_sizes=(256, 256), action_dim=2, activation=nn.relu)
)
(ts, (lengths, returns)), compile_s, run_s = compile_then_run(algo.train, jax.random.PRNGKey(seed))
dt = compile_s + run_s
print(
    f"rejax dqn cartpole seed={seed} steps={steps} train_s={dt:.1f} sps={steps / dt:.0f} compile_s={compile_s:.1f} "
    f"sps_after_compile={steps / run_s:.0f} eval_return={float(returns[-1].mean()):.1f}"
)
