"""SB3 or sbx (same API) SAC on a MuJoCo env with RL-Zoo's HalfCheetah set (SB3's defaults: 256x256,
batch 256, buffer 1M, lr 3e-4, one gradient step per env step, automatic temperature), learning from
step 100 (RL-Zoo: 10k) so that a short run times learning steps. Times the steps after the first
200 (which compile sbx's update). Usage: python sb3_family_sac_mujoco.py sb3|sbx ENV SEED [STEPS]"""

import sys
import time

import gymnasium as gym

lib, env_id = sys.argv[1], sys.argv[2]
seed = int(sys.argv[3]) if len(sys.argv) > 3 else 0
steps = int(sys.argv[4]) if len(sys.argv) > 4 else 1_200
if lib == "sb3":
    import torch
    from stable_baselines3 import SAC

    torch.set_num_threads(1)
else:
    from sbx import SAC

model = SAC("MlpPolicy", gym.make(env_id), learning_rate=3e-4, learning_starts=100, seed=seed, verbose=0,
            policy_kwargs=dict(net_arch=[256, 256]))  # fmt: skip
warm = 200
t = time.perf_counter()
model.learn(warm)
w = time.perf_counter() - t
t = time.perf_counter()
model.learn(steps - warm, reset_num_timesteps=False)
dt = time.perf_counter() - t
print(f"{lib} sac {env_id} seed={seed} steps={steps} train_s={w + dt:.1f} sps={steps / (w + dt):.1f} "
      f"sps_after_compile={(steps - warm) / dt:.1f}")  # fmt: skip
