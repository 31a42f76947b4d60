"""SB3 or sbx (same API) SAC with SB3's defaults (256x256, batch 256, buffer 1M, one gradient step per env step,
automatic temperature from 1, learning from step 100) and the learning rate given: RL-Zoo's Pendulum set is
lr 1e-3 (../../../shared/peers/sb3_sac_pendulum.py), its HalfCheetah set lr 3e-4 (learning from 10k there;
100 here, so that a short run times learning steps). Prints train seconds, steps/s and sps_after_compile:
steps/s after the first 200 steps (which compile sbx's update), in the SB3 script's format.
Usage: python sb3_family_sac.py sb3|sbx ENV SEED STEPS LR"""

import sys
import time

import gymnasium as gym

lib, env_id, seed, steps, lr = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
if lib == "sb3":
    import torch
    from stable_baselines3 import SAC

    torch.set_num_threads(1)
else:
    from sbx import SAC

model = SAC("MlpPolicy", gym.make(env_id), learning_rate=lr, learning_starts=100, seed=seed, verbose=0,
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
