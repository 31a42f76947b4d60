"""sbx (SB3's JAX port) SAC on Pendulum-v1 with the settings of ../../../shared/peers/sb3_sac_pendulum.py
(RL-Zoo: SB3's defaults, lr 1e-3); prints train seconds and steps/s in the SB3 script's format, and
sps_after_compile: steps/s of the steps after the first 200 (which compile sbx's jitted update).
Usage: python sbx_sac_pendulum.py SEED [STEPS]"""

import sys
import time

import gymnasium as gym
from sbx import SAC

seed = int(sys.argv[1]) if len(sys.argv) > 1 else 0
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 20_000
# sbx's SAC defaults are SB3's (policy_delay 1, 256x256); net_arch given for clarity
model = SAC(
    "MlpPolicy",
    gym.make("Pendulum-v1"),
    learning_rate=1e-3,
    seed=seed,
    verbose=0,
    policy_kwargs=dict(net_arch=[256, 256]),
)
# a first short learn() call compiles sbx's jitted update (200 steps: 100 random, 100 learning), then the rest is timed
warm = 200
t = time.perf_counter()
model.learn(warm)
w = time.perf_counter() - t
t = time.perf_counter()
model.learn(steps - warm, reset_num_timesteps=False)
dt = time.perf_counter() - t
print(
    f"sbx sac pendulum seed={seed} steps={steps} train_s={w + dt:.1f} sps={steps / (w + dt):.0f} "
    f"sps_after_compile={(steps - warm) / dt:.0f}"
)
