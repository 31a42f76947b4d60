"""`seuseuro audit`: a fairness audit of a baseline lender or of a trained run, with a CI gate.

    seuseuro audit --agent max-utility --env lending --out audits/mu [--max-gap 0.05]
    seuseuro audit runs/ppo-lagrangian-Lending-v0-... [--max-gap 0.05]
    seuseuro train ppo-lagrangian --env Lending-v0 --cost-limit 0.1   (trains, then audits the run)

Writes audit.json, plots/*.png and report.html into --out (default: a new directory under ./runs).
Exit status: 0 when the measured gap is within --max-gap (or no gate was asked), 1 when it exceeds
it (so a user can gate their CI on fairness), 2 on bad input.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from pathlib import Path
from typing import Any, Literal

import tyro

from seuseuro.errors import UserError

ENV_IDS = {"lending": "Lending-v0"}


@dataclasses.dataclass(frozen=True)
class AuditArgs:
    """Fairness audit: run a policy over seeds and steps; write audit.json, PNG plots and an HTML report."""

    run_dir: tyro.conf.Positional[Path | None] = None
    """A trained run directory (PPO / PPO-Lagrangian on Lending-v0) to audit; omit it to audit --agent."""
    agent: Literal["max-utility", "equal-opportunity", "equal-opportunity-frozen"] | None = None
    """Baseline lender to audit (thresholds from the true distributions; see FAIRNESS.md)."""
    env: Literal["lending"] = "lending"
    """Environment of the audit (the delayed-impact lending simulation)."""
    out: Path | None = None
    """Output directory; default runs/audit-<agent>-<time>, or <RUN_DIR>/audit for a run."""
    steps: int = 20_000
    """Decisions per seed (D'Amour et al.: 20,000). Lower for a quick look."""
    seeds: int = 10
    """Independent populations (seeds), vmapped; the CI is over seeds."""
    seed: int = 0
    """Base random seed of the audit."""
    max_gap: float | None = None
    """Fail (exit status 1) when the measured equal-opportunity gap exceeds this, e.g. 0.05."""

    def __post_init__(self):
        if self.steps < 1 or self.seeds < 1:
            raise UserError("--steps and --seeds must be >= 1")
        if self.max_gap is not None and not 0.0 <= self.max_gap <= 1.0:
            raise UserError(f"--max-gap is a TPR difference in [0, 1]; got {self.max_gap}")
        if (self.run_dir is None) == (self.agent is None):
            raise UserError(
                "audit needs exactly one policy: a RUN_DIR (a trained run) or --agent max-utility|equal-opportunity"
            )


def _default_out(name: str) -> Path:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = Path("runs") / f"audit-{name}-{stamp}"
    i = 1
    while path.exists():
        path = Path("runs") / f"audit-{name}-{stamp}-{i}"
        i += 1
    return path


def run_audit(args: AuditArgs) -> int:
    from rich.console import Console

    from seuseuro.envs.fairness import lending_params
    from seuseuro.fairness import agents
    from seuseuro.fairness.audit import audit_lending, write_audit

    if args.agent is not None:
        policy = agents.BASELINE_LENDERS[args.agent]
        params = lending_params()
        description = {"name": args.agent, **agents.describe(args.agent)}
        out = args.out or _default_out(args.agent)
    else:
        from seuseuro.fairness.learned import load_run_policy

        policy, params, description = load_run_policy(args.run_dir)
        out = args.out or Path(args.run_dir) / "audit"

    summary, trace = audit_lending(
        policy,
        params,
        num_steps=args.steps,
        num_seeds=args.seeds,
        seed=args.seed,
        max_gap=args.max_gap,
        description=description,
    )
    written = write_audit(Path(out), summary, trace)

    console = Console()
    m = summary["metrics"]
    low, high = summary["gap_ci95"]
    console.print(
        f"[bold]{description['name']}[/] on {summary['env']}: {args.steps} steps x {args.seeds} seeds\n"
        f"  equal-opportunity gap {summary['gap']:.4f}  (95% CI [{low:.4f}, {high:.4f}])\n"
        f"  loans g1/g2 {m['loans g1']['mean']:.0f}/{m['loans g2']['mean']:.0f}   "
        f"credit change g1/g2 {m['credit change g1']['mean']:+.3f}/{m['credit change g2']['mean']:+.3f}   "
        f"profit {m['profit']['mean']:.0f}\n"
        f"  report: {written['report.html']}"
    )
    if summary["passed"] is False:
        console.print(f"[red]FAIL[/]: gap {summary['gap']:.4f} exceeds --max-gap {args.max_gap}")
        return 1
    if summary["passed"]:
        console.print(f"[green]PASS[/]: gap {summary['gap']:.4f} <= --max-gap {args.max_gap}")
    return 0


# =================================================================================================
# seuseuro train ppo-lagrangian
# =================================================================================================


def _ppo_lagrangian_default():
    from seuseuro.algos import ppo_lagrangian

    return ppo_lagrangian.Config()


@dataclasses.dataclass(frozen=True)
class TrainPPOLagrangianArgs:
    """Train PPO under a constraint on the cost an environment reports (Lending-v0: the windowed TPR gap
    between groups), with a cost critic and an online Lagrange multiplier; then audit the result."""

    env: str = "Lending-v0"
    """A JAX-native environment whose info reports the cost (Lending-v0, AttentionAllocation-v0, ...)."""
    algo: tyro.conf.OmitArgPrefixes[Any] = dataclasses.field(default_factory=_ppo_lagrangian_default)
    """PPO-Lagrangian hyperparameters."""
    horizon: int = 1000
    """Episode length (applicants per population before it is reset)."""
    observe_group_stats: bool = True
    """Lending: show the agent the windowed TPR and selection rate per group (the cost it accumulates)."""
    seed: int = 0
    """Base random seed."""
    num_seeds: int = 1
    """Independent training runs at once (vmapped)."""
    run_dir: Path | None = None
    """Where to write the run (default: runs/ppo-lagrangian-ENV-TIME)."""
    runs_root: Path = Path("runs")
    """Parent directory of new runs."""
    resume: Path | None = None
    """Continue the run in this directory from its latest checkpoint (its own config, seeds and env settings)."""
    chunk_updates: int = 0
    """Updates per compiled chunk between progress/log/checkpoint points (0 = about 1/20 of training)."""
    audit_steps: int = 2000
    """After training, audit seed 0 for this many applicants x 4 populations into RUN_DIR/audit (0 = skip)."""
    progress: bool = True
    """Show a progress bar."""
    tensorboard: bool = True
    """Also write TensorBoard event files."""


def env_overrides(env_id: str, horizon: int, observe_group_stats: bool) -> dict[str, Any]:
    """The env-parameter changes a PPO-Lagrangian run applies (stored in config.json for the audit)."""
    overrides: dict[str, Any] = {"max_steps_in_episode": horizon}
    if env_id.startswith("Lending"):
        overrides["observe_group_stats"] = observe_group_stats
    return overrides


def make_env(env_id: str, overrides: dict[str, Any]):
    import dataclasses as dc

    from seuseuro.envs.registry import make

    env = make(env_id)
    if not getattr(env, "is_jax_native", False):
        raise UserError(f"PPO-Lagrangian needs a JAX-native environment; {env_id} is a Gymnasium one")
    # overrides come from flags or from a run's config.json, which may be edited or from another version
    known = {f.name for f in dc.fields(env.params)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise UserError(f"{env_id} has no parameter(s) {unknown}; the run's env_overrides come from another version")
    horizon = overrides.get("max_steps_in_episode", 1)
    if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1:
        raise UserError(f"the episode length (--horizon) must be an integer >= 1, got {horizon!r}")
    if not isinstance(overrides.get("observe_group_stats", False), bool):
        raise UserError(f"observe_group_stats must be true or false, got {overrides['observe_group_stats']!r}")
    return dc.replace(env, params=env.params.replace(**overrides))


def run_train_ppo_lagrangian(args: TrainPPOLagrangianArgs) -> int:
    import jax
    from rich.console import Console

    from seuseuro.algos import ppo_lagrangian as pl
    from seuseuro.commands.train import updates_per_chunk
    from seuseuro.driver import run_training
    from seuseuro.runs import RunDir

    console = Console(stderr=True)
    if args.num_seeds < 1 or args.horizon < 1:
        raise UserError("--num-seeds and --horizon must be >= 1")
    if args.resume is not None:
        from seuseuro.commands.evaluate import rebuild_run

        run = RunDir.open_for_resume(args.resume, "ppo-lagrangian", require_checkpoint=False)
        _, _, trainer = rebuild_run(run)
        seed, num_seeds, env_id = run.require("seed", int), run.require("num_seeds", int), run.env_id
    else:
        config: pl.Config = args.algo
        overrides = env_overrides(args.env, args.horizon, args.observe_group_stats)
        env = make_env(args.env, overrides)
        chunk = updates_per_chunk(args.chunk_updates, config.num_updates)
        trainer = pl.make_train(config, env, num_seeds=args.num_seeds, updates_per_chunk=chunk)
        seed, num_seeds, env_id = args.seed, args.num_seeds, args.env
        extra = {"seed": seed, "num_seeds": num_seeds, "updates_per_chunk": chunk, "env_overrides": overrides}
        run = RunDir.create("ppo-lagrangian", env_id, config, root=args.runs_root, path=args.run_dir, extra=extra)
    console.print(f"[bold]run directory[/bold] {run.path}")
    result = run_training(
        trainer,
        run,
        jax.random.PRNGKey(seed),
        resume=args.resume is not None,
        progress=args.progress,
        tensorboard=args.tensorboard,
    )
    if result.interrupted:
        console.print(f"stopped after {result.updates_done} updates; checkpoint written. Resume with:")
        console.print(f"  seuseuro train ppo-lagrangian --resume {run.path}")
        return 130
    console.print(
        f"trained {result.updates_done * trainer.steps_per_update:,} steps x {num_seeds} seed(s) in {result.seconds:.1f} s"
    )
    if args.audit_steps > 0 and env_id.startswith("Lending"):
        return run_audit(AuditArgs(run_dir=run.path, steps=args.audit_steps, seeds=4))
    return 0
