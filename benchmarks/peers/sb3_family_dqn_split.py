"""Where a DQN step's time goes in SB3 or sbx (same API): CartPole-v1 at RL-Zoo's set (as
../../../shared/peers/sb3_dqn_cartpole.py), epsilon held at its final 0.04 so that both timings act
alike. After a warm-up that passes learning_starts (and compiles sbx's update), it times STEPS env
steps with training (128 gradient steps every 256 env steps) and STEPS more with ``gradient_steps=0``
(collection only: acting, env, replay insert, the library's loop).
Usage: python sb3_family_dqn_split.py sb3|sbx SEED [STEPS]"""

import sys
import time

import gymnasium as gym

lib = sys.argv[1]
seed = int(sys.argv[2]) if len(sys.argv) > 2 else 0
steps = int(sys.argv[3]) if len(sys.argv) > 3 else 10_240
if lib == "sb3":
    import torch
    from stable_baselines3 import DQN

    torch.set_num_threads(1)
else:
    from sbx import DQN

model = DQN("MlpPolicy", gym.make("CartPole-v1"), learning_rate=2.3e-3, batch_size=64, buffer_size=100_000,
            learning_starts=1000, gamma=0.99, target_update_interval=10, train_freq=256, gradient_steps=128,
            exploration_initial_eps=0.04, exploration_final_eps=0.04, policy_kwargs=dict(net_arch=[256, 256]),
            seed=seed, verbose=0)  # fmt: skip
model.learn(2048)  # past learning_starts: the first training rounds (sbx compiles its update here)
t = time.perf_counter()
model.learn(steps, reset_num_timesteps=False)
train_s = time.perf_counter() - t
model.gradient_steps = 0  # OffPolicyAlgorithm.learn trains only when gradient_steps > 0
t = time.perf_counter()
model.learn(steps, reset_num_timesteps=False)
collect_s = time.perf_counter() - t
print(f"{lib} dqn split seed={seed} steps={steps} sps={steps / train_s:.1f} collect_sps={steps / collect_s:.1f} "
      f"us_per_step={train_s / steps * 1e6:.1f} collect_us_per_step={collect_s / steps * 1e6:.1f}")  # fmt: skip
