"""Ray overheads (issue 12, item 6; BENCHMARKS.md "Beyond one machine: Ray").

    python benchmarks/ray_scale.py runners   # PPO steps/s: local collector vs 1, 2, 4 remote env runners
    python benchmarks/ray_scale.py sweep     # wall time per trial: `seuseuro sweep` vs the same runs by the CLI

The env for the runners: SlowCartPole-v0, CartPole whose every step busy-waits 1 ms (a documented stand-in
for a simulator step; `time.sleep` would yield the core and flatter the runners). It has no batched
implementation, so the local collector steps a SyncVectorEnv: the same code path the runners run.
Rounds interleave local and remote so machine load hits both alike.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from pathlib import Path

import gymnasium
from gymnasium.envs.classic_control.cartpole import CartPoleEnv

STEP_SECONDS = 1e-3


class SlowCartPole(CartPoleEnv):
    def step(self, action):
        end = time.perf_counter() + STEP_SECONDS
        while time.perf_counter() < end:
            pass
        return super().step(action)


gymnasium.register("SlowCartPole-v0", entry_point=SlowCartPole, max_episode_steps=500)
# "module:id": Gymnasium imports this file in each runner process, which registers the env there
RUNNER_ENV_ID = "ray_scale:SlowCartPole-v0"


def runners(rounds: int = 2, updates: int = 3) -> None:
    import jax
    import ray

    from seuseuro.algos import ppo
    from seuseuro.envs.gymnasium import GymnasiumEnv
    from seuseuro.scale.remote_envs import RemoteGymnasiumEnv

    os.environ["PYTHONPATH"] = f"{Path(__file__).parent}:{os.environ.get('PYTHONPATH', '')}"
    # 4 logical CPUs whatever the core count, so that 4 one-CPU runners can start (on 2 cores they share them)
    ray.init(num_cpus=max(4, os.cpu_count() or 1), include_dashboard=False, log_to_driver=False)
    env = GymnasiumEnv.create("SlowCartPole-v0")
    config = ppo.Config(total_steps=8 * 32 * (updates + 1), num_envs=8, num_steps=32, num_epochs=2)
    remote = {n: dataclasses.replace(RemoteGymnasiumEnv.wrap(env, n, 1.0), env_id=RUNNER_ENV_ID) for n in (1, 2, 4)}
    setups = {"local": env, **{f"{n} runner(s)": e for n, e in remote.items()}}
    rates: dict[str, list[float]] = {k: [] for k in setups}
    for r in range(rounds):
        for name, e in setups.items():
            trainer = ppo.make_train(config, e, num_seeds=1, updates_per_chunk=1)
            state = trainer.init(jax.random.split(jax.random.PRNGKey(r), 1))
            state, _ = trainer.run_chunk(state, 1)  # compile + actors start
            jax.block_until_ready(state)
            t0 = time.perf_counter()
            for _ in range(updates):
                state, _ = trainer.run_chunk(state, 1)
            jax.block_until_ready(state)
            rates[name].append(updates * trainer.steps_per_update / (time.perf_counter() - t0))
    print(f"cores: {os.cpu_count()}, load: {os.getloadavg()[0]:.1f}; env step {STEP_SECONDS * 1e3:.0f} ms busy-wait")
    base = sum(rates["local"]) / rounds
    for name, values in rates.items():
        mean = sum(values) / rounds
        print(f"{name:>12}: {mean:7.0f} steps/s  ({mean / base:.2f}x local)  rounds: {[round(v) for v in values]}")


def sweep(trials: int = 4) -> None:
    flags = [f"--set={s}" for s in ("total_steps=4096", "num_envs=4", "num_steps=64", "num_epochs=2")]
    out = Path("benchmarks/out/ray_sweep")
    subprocess.run(["rm", "-rf", str(out)], check=True)
    t0 = time.perf_counter()
    for i in range(trials):  # the same runs by the CLI, one after another
        subprocess.run([sys.executable, "-m", "seuseuro.cli", "train", "ppo", "--env", "CartPole-v1", "--total-steps",
                        "4096", "--num-envs", "4", "--num-steps", "64", "--num-epochs", "2", "--eval-episodes", "0",
                        "--no-progress", "--no-tensorboard", "--run-dir", str(out / f"cli{i}")],
                       check=True, capture_output=True)  # fmt: skip
    cli = (time.perf_counter() - t0) / trials
    results = {}
    for concurrent in (1, 2):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "seuseuro.cli", "sweep", "ppo", "--env", "CartPole-v1", *flags,
                        "--num-samples", str(trials), "--scheduler", "none", "--eval-episodes", "0",
                        "--max-concurrent", str(concurrent), "--sweep-dir", str(out / f"sweep{concurrent}")],
                       check=True, capture_output=True)  # fmt: skip
        results[concurrent] = (time.perf_counter() - t0) / trials
    print(f"cores: {os.cpu_count()}, load: {os.getloadavg()[0]:.1f}; PPO CartPole 4096 steps per run, {trials} runs")
    print(f"CLI, one after another: {cli:.1f} s per run (process start, compile, train)")
    for c, per in results.items():
        print(f"sweep, {c} at a time (Ray start included): {per:.1f} s per trial ({per - cli:+.1f} s vs the CLI)")


if __name__ == "__main__":
    {"runners": runners, "sweep": sweep}[sys.argv[1] if len(sys.argv) > 1 else "runners"]()
