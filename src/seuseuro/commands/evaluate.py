"""`seuseuro eval RUN_DIR`: per-seed and aggregate return with a 95% confidence interval.

Writes eval.json into the run directory (``experiment.evaluate_run``) and prints a table.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import tyro

from seuseuro.errors import UserError
from seuseuro.experiment import evaluate_run, load_trained_state, num_seeds_of, policy_for_eval, rl_algorithm
from seuseuro.runs import RunDir


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

    from seuseuro.envs.scene3d.render import write_episode_gif

    config, env, _, state = loaded or load_trained_state(run)
    if env.family != "scene3d":
        raise UserError(f"--video draws 3D-scene episodes; {run.env_id} is a {env.family} environment")
    paths = []
    for s in range(num_seeds_of(state)):
        act, params = policy_for_eval(run, config, state, s, deterministic)
        path = run.plots_dir / f"episode-seed{s}.gif"
        write_episode_gif(path, lambda obs, key, act=act, params=params: act(params, obs, key), env.env, env.params,
                          jax.random.PRNGKey(seed + s))  # fmt: skip
        paths.append(path)
    return paths


def run_eval(args: EvalArgs) -> int:
    run = RunDir.open(args.run_dir)
    rl_algorithm(run)  # a one-line error for an LM run's directory
    loaded = load_trained_state(run)  # read the checkpoint once, for the returns and the videos
    summary = evaluate_run(run, args.episodes, args.deterministic, args.seed, loaded=loaded)
    print_eval_table(summary, run)
    if args.video:
        for path in write_videos(run, args.deterministic, args.seed, loaded):
            print(path)
    return 0
