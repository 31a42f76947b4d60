"""SAC / TD3 throughput (issue 11): env steps per second per seed, after compilation, on Pendulum-v1
(JAX-native, compiled, seeds vmapped) and HalfCheetah-v5 (Gymnasium, host collector), in the
learning phase (past learning_starts, one gradient step per env step as CleanRL / RL-Zoo).

    python benchmarks/sac_td3_speed.py [--seeds 3] [--halfcheetah-steps 600]  (HalfCheetah: slow on a loaded CPU)

Prints one JSON line per (algorithm, env); BENCHMARKS.md "Off-policy" quotes them.
"""

from __future__ import annotations

import argparse
import json
import time

import jax

from seuseuro.algos import sac, td3
from seuseuro.envs.registry import make


def steps_per_second(module, config, env_id: str, seeds: int, chunk: int) -> dict:
    env = make(env_id)
    trainer = module.make_train(config, env, num_seeds=seeds, updates_per_chunk=chunk)
    t0 = time.perf_counter()
    state = trainer.init(jax.random.split(jax.random.PRNGKey(0), seeds))
    done = 0
    # first chunks: compilation and the random phase (learning_starts), not timed
    warm_updates = -(-config.learning_starts // trainer.steps_per_update) + chunk
    while done < warm_updates:
        state, _ = trainer.run_chunk(state, chunk)
        done += chunk
    jax.block_until_ready(state)
    warm = time.perf_counter() - t0
    t1, timed = time.perf_counter(), 0
    while done + chunk <= trainer.num_updates:
        state, _ = trainer.run_chunk(state, chunk)
        done += chunk
        timed += chunk
    jax.block_until_ready(state)
    seconds = time.perf_counter() - t1
    steps = timed * trainer.steps_per_update
    return dict(algo=module.__name__.split(".")[-1], env=env_id, seeds=seeds, num_envs=config.num_envs,
                gradient_steps_per_env_step=config.gradient_steps / config.steps_per_update,
                hidden=list(config.hidden_sizes), batch=config.batch_size, timed_steps_per_seed=steps,
                steps_per_s_per_seed=round(steps / seconds, 1), steps_per_s_all_seeds=round(seeds * steps / seconds, 1),
                warmup_s=round(warm, 1))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--halfcheetah-steps", type=int, default=600)
    args = parser.parse_args()
    for module in (sac, td3):
        # Pendulum: the tuned sets (RL-Zoo budget 20k; full-size networks), 1k steps timed after 1k random and a first learning chunk
        config = module.tuned_config("Pendulum-v1", total_steps=3_000, learning_starts=1_000)
        print(json.dumps(steps_per_second(module, config, "Pendulum-v1", args.seeds, chunk=250)), flush=True)
    for module in (sac, td3):
        # HalfCheetah: CleanRL's MuJoCo set, 1k random steps rather than 5k/25k to reach learning sooner
        config = module.tuned_config(
            "HalfCheetah-v5", total_steps=1_000 + args.halfcheetah_steps, learning_starts=1_000
        )
        print(json.dumps(steps_per_second(module, config, "HalfCheetah-v5", args.seeds, chunk=100)), flush=True)


if __name__ == "__main__":
    main()
