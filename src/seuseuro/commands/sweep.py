"""`seuseuro sweep ALGO --env ID --search FLAG=DIST ...`: a Ray Tune sweep of any registered RL algorithm
(``scale/sweep.py``); prints the results table and writes SWEEP/results.csv and a plot."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Annotated, Literal

import tyro

from seuseuro.errors import UserError


@dataclasses.dataclass(frozen=True)
class SweepArgs:
    """Run a hyperparameter sweep (or many seeds) on Ray Tune: each trial an ordinary run directory under the
    sweep directory, reported after every compiled chunk (ASHA stops bad trials early), restarted from its last
    checkpoint if its worker dies. Needs `pip install "seuseuro[ray]"`."""

    algo: tyro.conf.Positional[str] = "ppo"
    """A registered RL algorithm (seuseuro train --help lists them)."""
    env: str = "CartPole-v1"
    """Environment id, as for `seuseuro train`."""
    search: Annotated[tuple[str, ...], tyro.conf.UseAppendAction] = ()
    """FLAG=KIND(ARGS), one per --search, repeatable: KIND is uniform(lo,hi), loguniform(lo,hi), randint(lo,hi) (inclusive),
    choice(a,b,...) or grid(a,b,...); FLAG is a field of the algorithm's config (learning_rate, num_envs, ...)."""
    set: Annotated[tuple[str, ...], tyro.conf.UseAppendAction] = ()
    """FLAG=VALUE, one per --set, repeatable: fixed for every trial (e.g. total_steps=50000); the rest is the tuned set for --env."""
    num_samples: int = 8
    """Trials to sample (each grid(...) point is sampled this many times)."""
    seeds_per_trial: int = 1
    """Seeds vmapped inside each trial (the score's CI is across them)."""
    seed: int = 0
    """Base seed, the same for every trial (differences between trials are the flags')."""
    scheduler: Literal["asha", "pbt", "none"] = "asha"
    """asha: stop bad trials at rungs of 1, 2, 4, ... chunks; pbt: exploit/explore from checkpoints; none."""
    searcher: Literal["random", "optuna"] = "random"
    """How trials are sampled: random (and grid) search, or Optuna's TPE (pip install optuna)."""
    metric: str = "episode_return"
    """The reported metric the scheduler and the table rank by (episode_return: the last training return)."""
    mode: Literal["max", "min"] = "max"
    """Whether the metric is better high or low."""
    max_concurrent: int = 0
    """Trials at once (0: as many as the cluster's CPUs fit at --cpus-per-trial)."""
    cpus_per_trial: float = 1.0
    """CPUs per trial: each trial pins its JAX threads to this many cores (1: one-threaded XLA)."""
    gpus_per_trial: float = 0.0
    """GPUs per trial (a fraction shares a GPU: JAX then allocates on demand within that fraction)."""
    chunk_updates: int = 0
    """Updates per compiled chunk = per Tune report (0 = about 1/20 of training)."""
    max_failures: int = 3
    """Restarts of a trial whose worker died, each from its last checkpoint."""
    eval_episodes: int = 10
    """Evaluation episodes per seed at the end of each finished trial (0 = skip)."""
    address: str | None = None
    """Join a running Ray cluster ("auto", or HOST:PORT of its head); default: start Ray on this machine."""
    sweep_dir: Path | None = None
    """Where to write the sweep (default: sweeps/ALGO-ENV-TIME)."""
    resume: Path | None = None
    """Resume the sweep in this directory (after Ctrl-C or a lost driver): unfinished and errored trials continue."""


def build_spec(args: SweepArgs):
    from seuseuro.experiment import algorithm
    from seuseuro.scale.sweep import SweepSpec, default_sweep_dir, load_spec, parse_fixed, parse_search

    if args.resume is not None:
        return load_spec(args.resume)
    entry = algorithm(args.algo)
    if entry.family != "rl":
        raise UserError(f"seuseuro sweep runs RL algorithms; {args.algo} is an LM command")
    path = args.sweep_dir.resolve() if args.sweep_dir else default_sweep_dir(args.algo, args.env)
    if (path / "sweep.json").exists():
        raise UserError(f"{path} already holds a sweep; pass --resume {path} or choose another --sweep-dir")
    return SweepSpec(
        algo=args.algo, env=args.env, sweep_dir=str(path),
        searches=tuple(parse_search(s) for s in args.search), fixed=dict(parse_fixed(s) for s in args.set),
        num_samples=args.num_samples, seeds_per_trial=args.seeds_per_trial, seed=args.seed,
        scheduler=args.scheduler, searcher=args.searcher, metric=args.metric, mode=args.mode,
        max_concurrent=args.max_concurrent, cpus_per_trial=args.cpus_per_trial, gpus_per_trial=args.gpus_per_trial,
        chunk_updates=args.chunk_updates, max_failures=args.max_failures, eval_episodes=args.eval_episodes,
    )  # fmt: skip


def print_results(rows: list[dict], metric: str, top: int = 10) -> None:
    from rich.console import Console
    from rich.table import Table

    if not rows:
        Console().print("no trial reported a result")
        return
    fixed = {"trial", "env_steps", metric, "eval_return", "eval_ci95_low", "eval_ci95_high", "status", "run_dir"}
    flags = [k for k in rows[0] if k not in fixed]
    table = Table(title=f"best {min(top, len(rows))} of {len(rows)} trials")
    for col in ["trial", *flags, "env steps", metric, "eval return (95% CI)", "status"]:
        table.add_column(col)
    fmt = lambda v: f"{v:.4g}" if isinstance(v, float) else str(v)  # noqa: E731
    for row in rows[:top]:
        ev = row["eval_return"]
        ci = f"{ev:.1f} [{row['eval_ci95_low']:.1f}, {row['eval_ci95_high']:.1f}]" if math.isfinite(ev) else "-"
        table.add_row(row["trial"], *(fmt(row[f]) for f in flags), f"{row['env_steps']:,}", fmt(row[metric]), ci,
                      row["status"])  # fmt: skip
    Console().print(table)


def run_sweep_command(args: SweepArgs) -> int:
    """0: every trial finished or was stopped by the scheduler; 1: some trial failed past --max-failures;
    130: interrupted (Ctrl-C); each non-zero exit says on one line how to continue (--resume)."""
    from rich.console import Console

    from seuseuro.scale.sweep import RESULTS_FILE, SweepInterrupted, connect, run_sweep

    spec = build_spec(args)
    console = Console(stderr=True)
    connect(args.address)
    console.print(f"[bold]sweep directory[/bold] {spec.path}")
    try:
        rows = run_sweep(spec, resume=args.resume is not None)
    except SweepInterrupted as stop:
        print_results(stop.rows, spec.metric)
        console.print(f"interrupted: {stop.unfinished} trial(s) unfinished (Tune saved the sweep); "
                      f"continue with: seuseuro sweep --resume {spec.path}", highlight=False, soft_wrap=True)  # fmt: skip
        return 130
    print_results(rows, spec.metric)
    console.print(f"results: {spec.path / RESULTS_FILE}; plot: {spec.path / 'plots' / 'score_vs_flags.png'}")
    failed = sum(r["status"] == "error" for r in rows)
    if failed:
        console.print(f"error: {failed} trial(s) failed after --max-failures {spec.max_failures} restarts (Tune's "
                      f"error.txt in their directories); retry them with: seuseuro sweep --resume {spec.path}",
                      highlight=False, soft_wrap=True)  # fmt: skip
        return 1
    return 0
