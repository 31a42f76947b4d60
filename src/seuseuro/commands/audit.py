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
from typing import Literal

import tyro

from seuseuro.errors import UserError


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


def load_run_policy(run_dir: Path, seed_index: int = 0):
    """(policy, env params, description) of a trained RL run on a lending environment: its seed
    ``seed_index``'s policy, acting from the observation alone with sampled actions, as in training.
    A run with several training seeds is audited with its first seed's policy; the audit's own
    seeds are independent populations."""
    from seuseuro.envs.fairness import FAIRNESS_ENVS
    from seuseuro.envs.fairness.lending import LendingEnv
    from seuseuro.experiment import load_trained_state, num_seeds_of, policy_for_eval, rl_algorithm
    from seuseuro.fairness.agents import policy_from_act
    from seuseuro.runs import RunDir

    run = RunDir.open(run_dir)
    rl_algorithm(run)
    lending_ids = [k for k, cls in FAIRNESS_ENVS.items() if issubclass(cls, LendingEnv)]
    if run.env_id not in lending_ids:
        raise UserError(
            f"{run.path} was trained on {run.env_id}; the lending audit needs a run on {' or '.join(lending_ids)} "
            "(train one with: seuseuro train ppo-lagrangian --env Lending-v0)"
        )
    if not run.latest_checkpoint.exists():
        raise UserError(f"{run.path} has no checkpoint; train it first, then audit it")
    config, env, _, state = load_trained_state(run)
    if not 0 <= seed_index < num_seeds_of(state):
        raise UserError(f"seed index {seed_index} is out of range: the run has {num_seeds_of(state)} seed(s)")
    act, params = policy_for_eval(run, config, state, seed_index, deterministic=False)
    description = {
        "name": f"{run.algo} ({run.path.name}, seed {seed_index})",
        "rule": "learned policy, actions sampled",
        "source": str(run.path),
    }
    return policy_from_act(act, params), env.params, description
