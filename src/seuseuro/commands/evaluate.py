"""`seuseuro eval RUN_DIR`: per-seed and aggregate return with a 95% confidence interval.

Writes eval.json into the run directory and prints a table. The aggregate interval is over seeds
when there are several (the unit of replication in RL; Agarwal et al. 2021), else over episodes.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import tyro

from seuseuro.core.statistics import mean_ci95
from seuseuro.errors import UserError
from seuseuro.runs import EVAL_FILE, RunDir, config_from_dict


@dataclasses.dataclass(frozen=True)
class EvalArgs:
    """Evaluate a trained RL run from its latest checkpoint: return per seed and across seeds (95% CI)."""

    run_dir: tyro.conf.Positional[Path]
    """The run directory (runs/ppo-...)."""
    episodes: int = 20
    """Evaluation episodes per seed."""
    deterministic: bool = True
    """Act greedily (mode of the policy); --no-deterministic samples actions (CleanRL's metric)."""
    seed: int = 1000
    """Seed of the evaluation episodes (different from training seeds)."""
    video: bool = False
    """Also write plots/episode-seedK.gif per seed: the top-down path beside the depth view (3D-scene envs)."""


def rebuild_run(run: RunDir):
    """(config, env, trainer) of a PPO-family run (``ppo`` or ``ppo-lagrangian``) from its config.json
    and run record, as its training command built them."""
    from seuseuro.algos import ppo

    source = run.path / "config.json"
    chunking = dict(num_seeds=run.require("num_seeds", int), updates_per_chunk=run.require("updates_per_chunk", int))
    if chunking["num_seeds"] < 1 or chunking["updates_per_chunk"] < 1:
        raise UserError(f"{source}: num_seeds and updates_per_chunk must be >= 1 (got {chunking}); restore the file")
    if run.algo == "ppo-lagrangian":
        from seuseuro.algos import ppo_lagrangian
        from seuseuro.fairness.commands import make_env

        config = config_from_dict(ppo_lagrangian.Config, run.config_dict, source)
        env = make_env(run.env_id, run.require("env_overrides", dict) if "env_overrides" in run.record else {})
        return config, env, ppo_lagrangian.make_train(config, env, **chunking)
    if run.algo != "ppo":
        raise UserError(f"{run.path} is a {run.algo} run; this command handles PPO-family runs")
    from seuseuro.envs.registry import make

    config = config_from_dict(ppo.Config, run.config_dict, source)
    env = make(run.env_id)
    return config, env, ppo.make_train(config, env, **chunking)


def load_trained_state(run: RunDir):
    """(config, env, trainer, state) of a PPO-family run, rebuilt from config.json + latest checkpoint."""
    from seuseuro.driver import resume_state

    config, env, trainer = rebuild_run(run)
    if not run.latest_checkpoint.exists():
        raise UserError(f"{run.path} has no checkpoint to evaluate; train it first (seuseuro train {run.algo} ...)")
    state, _ = resume_state(trainer, run)
    return config, env, trainer, state


def evaluate_run(run: RunDir, episodes: int = 20, deterministic: bool = True, seed: int = 1000, state: Any = None):
    """Evaluate every seed of a PPO run; writes and returns the eval.json summary."""
    import jax

    from seuseuro.algos import ppo

    if episodes < 1:
        raise UserError("--episodes must be >= 1")
    if run.algo not in ("ppo", "ppo-lagrangian"):
        raise UserError(f"{run.path} is a {run.algo} run; this evaluator handles PPO-family runs")
    if state is None:
        _, env, trainer, state = load_trained_state(run)
    else:
        env = rebuild_run(run)[1]
    num_seeds = jax.tree.leaves(state.update_step)[0].shape[0]
    per_seed = []
    for s in range(num_seeds):
        policy = jax.tree.map(lambda x, s=s: x[s], state.policy)
        policy = getattr(policy, "actor_critic", policy)  # PPO-Lagrangian wraps PPO's actor-critic
        env_state = jax.tree.map(lambda x, s=s: x[s], state.env_state)
        key = jax.random.PRNGKey(seed + s)
        if getattr(env, "is_jax_native", False):
            returns = ppo.evaluate(policy, env_state, env, key, episodes, deterministic)
        else:
            from seuseuro.envs.gym_bridge import evaluate_bridge

            normalize_obs = bool(run.config_dict.get("normalize_observations", False))
            returns = evaluate_bridge(policy, env_state, env, seed + s, episodes, deterministic, normalize_obs)
        m, lo, hi = mean_ci95(returns)
        per_seed.append({"seed": s, "mean_return": m, "ci95": [lo, hi], "returns": [float(r) for r in returns]})
    seed_means = [p["mean_return"] for p in per_seed]
    values = seed_means if num_seeds > 1 else per_seed[0]["returns"]
    m, lo, hi = mean_ci95(values)
    summary = {
        "env_id": run.env_id,
        "algo": run.algo,
        "episodes_per_seed": episodes,
        "deterministic": deterministic,
        "metric": "mean undiscounted return of full episodes, "
        + ("greedy" if deterministic else "sampled")
        + " actions",
        "aggregate": {"mean_return": m, "ci95": [lo, hi], "over": "seeds" if num_seeds > 1 else "episodes"},
        "per_seed": per_seed,
    }
    run.write_json(EVAL_FILE, summary)
    return summary


def print_eval_table(summary: dict, run: RunDir) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{summary['algo']} on {summary['env_id']} — {run.path}")
    table.add_column("seed", justify="right")
    table.add_column("mean return", justify="right")
    table.add_column("95% CI", justify="right")
    table.add_column("episodes", justify="right")

    def ci(pair):
        lo, hi = pair
        return "-" if not np.isfinite(lo) else f"[{lo:.1f}, {hi:.1f}]"

    for p in summary["per_seed"]:
        table.add_row(str(p["seed"]), f"{p['mean_return']:.1f}", ci(p["ci95"]), str(len(p["returns"])))
    agg = summary["aggregate"]
    table.add_row("all", f"[bold]{agg['mean_return']:.1f}", ci(agg["ci95"]), f"CI over {agg['over']}")
    Console().print(table)


def write_videos(run: RunDir, deterministic: bool, seed: int, loaded=None) -> list[Path]:
    """One GIF per seed of a 3D-scene run (``envs.scene3d.render.write_episode_gif``)."""
    import jax

    from seuseuro.algos import ppo
    from seuseuro.core.normalization import normalize
    from seuseuro.core.wrappers import NormalizeObsState, find_wrapper_state
    from seuseuro.envs.scene3d.render import write_episode_gif

    _, env, _, state = loaded or load_trained_state(run)
    if env.family != "scene3d":
        raise UserError(f"--video draws 3D-scene episodes; {run.env_id} is a {env.family} environment")
    paths = []
    for s in range(jax.tree.leaves(state.update_step)[0].shape[0]):
        policy = jax.tree.map(lambda x, s=s: x[s], state.policy)
        policy = getattr(policy, "actor_critic", policy)  # PPO-Lagrangian wraps PPO's actor-critic
        norm = find_wrapper_state(jax.tree.map(lambda x, s=s: x[s], state.env_state), NormalizeObsState)

        def act(obs, key, policy=policy, norm=norm):
            obs = obs if norm is None else normalize(norm.stats, obs)
            return ppo.sample_action(policy, obs, key, deterministic)[0]

        path = run.plots_dir / f"episode-seed{s}.gif"
        write_episode_gif(path, act, env.env, env.params, jax.random.PRNGKey(seed + s))
        paths.append(path)
    return paths


def run_eval(args: EvalArgs) -> int:
    run = RunDir.open(args.run_dir)
    loaded = load_trained_state(run) if args.video else None  # read the checkpoint once
    state = None if loaded is None else loaded[3]
    summary = evaluate_run(run, args.episodes, args.deterministic, args.seed, state=state)
    print_eval_table(summary, run)
    if args.video:
        for path in write_videos(run, args.deterministic, args.seed, loaded):
            print(path)
    return 0
