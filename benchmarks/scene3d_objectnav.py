"""PPO with a PointNet torso on ObjectNav vs a random and a blind policy (BENCHMARKS.md, "3D scenes").

    python benchmarks/scene3d_objectnav.py --env ObjectNav-Small-v0 --total-steps 100000 --seeds 0 1 2

- "PPO + PointNet": PPO (algos/ppo.py) whose actor and critic torsos are PointNet encoders of the
  agent's semantic lidar point cloud (64 points x 13 features: xyz, hit, class, goal match, goal).
- "PPO blind": the same PPO and torso trained on the blind variant (sensor zeroed, goal kept) —
  the standard embodied-AI baseline that learns the room's priors but sees nothing.
- "random": uniformly random actions.
Every policy is scored on the same 500 new episodes per seed (sampling its actions), by success
rate and SPL (Anderson et al. 2018); mean and 95% CI over seeds (Student t).
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

from seuseuro.algos import ppo
from seuseuro.core.statistics import mean_ci95
from seuseuro.envs.registry import make
from seuseuro.envs.scene3d.tasks import evaluate_objectnav, random_policy
from seuseuro.perception.pointnet import pointnet_torso


def objectnav_config(total_steps: int, num_envs: int = 32, num_minibatches: int = 4, lr: float = 5e-4) -> ppo.Config:
    """PPO settings for ObjectNav-Small (discrete actions, sparse success bonus, 50-step episodes)."""
    return ppo.Config(
        total_steps=total_steps,
        num_envs=num_envs,
        num_steps=32,
        num_epochs=4,
        num_minibatches=num_minibatches,
        learning_rate=lr,
        gamma=0.99,
        gae_lambda=0.95,
        anneal_clip=False,
        ent_coef=0.01,
        hidden_sizes=(64,),
        activation="relu",
    )


def train_and_evaluate(env_id: str, eval_env, config: ppo.Config, seeds: list[int], episodes: int, vmap_seeds: bool):
    """Train one PPO per seed and evaluate each on new episodes. ``vmap_seeds``: all seeds in one
    compiled program (on a GPU); else one seed per program (on a CPU: see the hang note in BENCHMARKS.md)."""
    env = make(env_id)
    features = env.observation_space.shape[-1]
    results = []
    start = time.perf_counter()
    groups = [seeds] if vmap_seeds else [[seed] for seed in seeds]
    for group in groups:
        trainer = ppo.make_train(
            config, env, num_seeds=len(group), updates_per_chunk=10,
            torso_factory=pointnet_torso(features, widths=(32, 64)),
        )  # fmt: skip
        state, _ = trainer.run_updates(trainer.init(jnp.stack([jax.random.key(s) for s in group])), trainer.num_updates)
        for i, seed in enumerate(group):
            policy = jax.tree.map(lambda x, i=i: x[i] if isinstance(x, jax.Array) else x, state.policy)
            act = lambda obs, key, policy=policy: ppo.sample_action(policy, obs, key)[0]  # noqa: E731
            run = jax.jit(lambda k, act=act: evaluate_objectnav(act, eval_env.env, eval_env.params, k, episodes))
            results.append(run(jax.random.key(10_000 + seed)))
    return results, time.perf_counter() - start


def summarize(name: str, results, seconds: float | None = None) -> str:
    success = [float(r["success"].mean()) for r in results]
    spl = [float(r["spl"].mean()) for r in results]
    s_mean, s_lo, s_hi = mean_ci95(success)
    p_mean, p_lo, p_hi = mean_ci95(spl)
    per_seed = ", ".join(f"{100 * s:.0f}" for s in success)
    took = "" if seconds is None else f"{seconds:.0f}"
    return (
        f"| {name} | {100 * s_mean:.1f} [{100 * s_lo:.1f}, {100 * s_hi:.1f}] | {p_mean:.3f} [{p_lo:.3f}, {p_hi:.3f}]"
        f" | {per_seed} | {took} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="ObjectNav-Small-v0")
    parser.add_argument("--total-steps", type=int, default=100_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--episodes", type=int, default=500)
    parser.add_argument("--num-envs", type=int, default=32, help="PPO parallel envs per seed (32 steps each)")
    parser.add_argument("--num-minibatches", type=int, default=4)
    parser.add_argument("--learning-rate", type=float, default=5e-4)
    parser.add_argument("--vmap-seeds", action="store_true", help="all seeds in one compiled program (GPU)")
    parser.add_argument("--skip-blind", action="store_true", help="skip the blind baseline")
    args = parser.parse_args()
    eval_env = make(args.env)
    blind_id = args.env.replace("-v0", "-Blind-v0")
    config = objectnav_config(args.total_steps, args.num_envs, args.num_minibatches, args.learning_rate)
    print(
        f"{args.env}, {args.total_steps} steps per seed, {args.num_envs} envs, seeds {args.seeds}, "
        f"{args.episodes} eval episodes/seed, on {jax.default_backend()}"
    )
    print("| policy | success % (95% CI) | SPL (95% CI) | success % per seed | train time (s, all seeds) |")
    print("|---|---|---|---|---|")
    random_results = [
        jax.jit(lambda k: evaluate_objectnav(random_policy, eval_env.env, eval_env.params, k, args.episodes))(
            jax.random.key(10_000 + s)
        )
        for s in args.seeds
    ]
    print(summarize("random", random_results), flush=True)
    results, seconds = train_and_evaluate(args.env, eval_env, config, args.seeds, args.episodes, args.vmap_seeds)
    print(summarize("PPO + PointNet (semantic lidar)", results, seconds), flush=True)
    print(f"(mean episode length of the last policy: {np.mean([float(r['length'].mean()) for r in results]):.1f})")
    if not args.skip_blind:
        results, seconds = train_and_evaluate(
            blind_id, make(blind_id), config, args.seeds, args.episodes, args.vmap_seeds
        )
        print(summarize("PPO blind (goal only)", results, seconds), flush=True)


if __name__ == "__main__":
    main()
