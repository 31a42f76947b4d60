"""rejax SAC on Pendulum-v1 (gymnax's) at the settings of ../../../shared/peers/sb3_sac_pendulum.py (SB3's
defaults, lr 1e-3): 256x256 ReLU, batch 256, buffer 1M, 100 steps before learning, one gradient step per
env step, Polyak 0.005, temperature tuned from 1. (rejax acts with the policy from the first step; SB3
with uniform actions before learning starts.) Prints the SB3 script's line plus compile_s and
sps_after_compile. Usage: python rejax_sac_pendulum.py SEED [STEPS]"""

import sys

import jax
from rejax import SAC
from rejax_timing import compile_then_run  # this folder (the script's, on sys.path)

seed = int(sys.argv[1]) if len(sys.argv) > 1 else 0
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 20_000
algo = SAC.create(
    env="Pendulum-v1",
    total_timesteps=steps,
    eval_freq=steps,
    skip_initial_evaluation=True,
    num_envs=1,
    num_epochs=1,
    learning_rate=1e-3,
    batch_size=256,
    buffer_size=1_000_000,
    fill_buffer=100,
    gamma=0.99,
    target_update_freq=1,
    polyak=0.995,
    hidden_layer_sizes=(256, 256),
)
(ts, (lengths, returns)), compile_s, run_s = compile_then_run(algo.train, jax.random.PRNGKey(seed))
dt = compile_s + run_s
print(
    f"rejax sac pendulum seed={seed} steps={steps} train_s={dt:.1f} sps={steps / dt:.0f} compile_s={compile_s:.1f} "
    f"sps_after_compile={steps / run_s:.0f} eval_return={float(returns[-1].mean()):.1f}"
)
