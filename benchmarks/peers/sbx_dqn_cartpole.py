"""sbx (SB3's JAX port) DQN on CartPole-v1 with the settings of ../../../shared/peers/sb3_dqn_cartpole.py
(RL-Zoo's hyperparameters), 50k steps; prints train seconds, steps/s and the mean deterministic return
of 10 episodes in the SB3 script's format. Usage: python sbx_dqn_cartpole.py SEED [STEPS]"""

import sys
import time

import gymnasium as gym
from sbx import DQN
from stable_baselines3.common.evaluation import evaluate_policy

seed = int(sys.argv[1]) if len(sys.argv) > 1 else 0
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 50_000
env = gym.make("CartPole-v1")
model = DQN(
    "MlpPolicy",
    env,
    learning_rate=2.3e-3,
    batch_size=64,
    buffer_size=100_000,
    learning_starts=1000,
    gamma=0.99,
    target_update_interval=10,
    train_freq=256,
    gradient_steps=128,
    exploration_fraction=0.16,
    exploration_final_eps=0.04,
    policy_kwargs=dict(net_arch=[256, 256]),
    seed=seed,
    verbose=0,
)
t = time.perf_counter()
model.learn(steps)
dt = time.perf_counter() - t
mean, _ = evaluate_policy(model, gym.make("CartPole-v1"), n_eval_episodes=10, deterministic=True)
print(f"sbx dqn cartpole seed={seed} steps={steps} train_s={dt:.1f} sps={steps / dt:.0f} eval_return={mean:.1f}")
