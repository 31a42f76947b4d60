"""`seuseuro audit`: a fairness audit of a baseline agent or of a trained run, with a CI gate.

    seuseuro audit --agent max-utility --env lending --out audits/mu [--max-gap 0.05]
    seuseuro audit --agent greedy --env attention [--max-gap 0.3]
    seuseuro audit --agent robust-threshold --env admission [--max-gap 0.2]
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

# The agent names per environment, spelt out here so that `seuseuro audit --help` imports no JAX;
# tests/fairness/test_fairness_audit_envs.py checks them against fairness.agents.BASELINES_BY_ENV.
AGENTS_BY_ENV: dict[str, tuple[str, ...]] = {
    "lending": ("max-utility", "equal-opportunity", "equal-opportunity-frozen"),
    "attention": ("uniform", "greedy"),
    "admission": ("fixed-threshold", "robust-threshold"),
}
ENV_IDS = {"lending": "Lending-v0", "attention": "AttentionAllocation-v0", "admission": "CollegeAdmission-v0"}
AgentName = Literal[
    "max-utility",
    "equal-opportunity",
    "equal-opportunity-frozen",
    "uniform",
    "greedy",
    "fixed-threshold",
    "robust-threshold",
]


@dataclasses.dataclass(frozen=True)
class AuditArgs:
    """Fairness audit: run a policy over seeds and steps; write audit.json, PNG plots and an HTML report.

    Gates (--max-gap) per environment: lending, the equal-opportunity gap |TPR_g1 - TPR_g2| over all
    applicants; attention, the discovery-rate gap (max - min over sites of discovered / occurred
    incidents); admission, the equal-opportunity gap |TPR_g1 - TPR_g2| over all applicants. Each is
    measured per seed over the whole run and averaged over seeds."""

    run_dir: tyro.conf.Positional[Path | None] = None
    """A trained run directory (PPO, PPO-Lagrangian, ... on any fairness env) to audit; its env is the run's."""
    agent: AgentName | None = None
    """Baseline: lending max-utility|equal-opportunity[-frozen]; attention uniform|greedy; admission *-threshold."""
    env: Literal["lending", "attention", "admission"] | None = None
    """Environment of --agent's audit: lending (the default), attention (allocation over sites), admission."""
    out: Path | None = None
    """Output directory; default runs/audit-<agent>-<time>, or <RUN_DIR>/audit for a run."""
    steps: int = 20_000
    """Decisions (lending; D'Amour et al.: 20,000) or steps / rounds (attention, admission) per seed."""
    seeds: int = 10
    """Independent populations (seeds), vmapped; the CI is over seeds."""
    seed: int = 0
    """Base random seed of the audit."""
    max_gap: float | None = None
    """Exit status 1 when the env's gap exceeds this: lending, admission: TPR gap; attention: discovery-rate gap."""

    def __post_init__(self):
        if self.steps < 1 or self.seeds < 1:
            raise UserError("--steps and --seeds must be >= 1")
        if self.max_gap is not None and not 0.0 <= self.max_gap <= 1.0:
            raise UserError(f"--max-gap is a difference of rates in [0, 1]; got {self.max_gap}")
        if (self.run_dir is None) == (self.agent is None):
            raise UserError(
                "audit needs exactly one policy: a RUN_DIR (a trained run) or --agent NAME "
                "(lending: max-utility|equal-opportunity; attention: uniform|greedy; "
                "admission: fixed-threshold|robust-threshold)"
            )
        if self.agent is not None and self.agent not in AGENTS_BY_ENV[self.env_name]:
            raise UserError(
                f"--agent {self.agent} is not a baseline of --env {self.env_name}; choose one of "
                f"{', '.join(AGENTS_BY_ENV[self.env_name])}"
            )

    @property
    def env_name(self) -> str:
        """The environment of an --agent audit (lending unless --env says otherwise)."""
        return self.env or "lending"


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

    if args.agent is not None:
        env_name, (policy, env, params) = args.env_name, baseline_policy(args.env_name, args.agent)
        from seuseuro.fairness.agents import describe

        description = {"name": args.agent, **describe(args.agent)}
        out = args.out or _default_out(args.agent)
    else:
        env_name, policy, env, params, description = load_run_policy(args.run_dir, expected_env=args.env)
        out = args.out or Path(args.run_dir) / "audit"

    summary, written = _AUDITS[env_name](policy, env, params, args, description, Path(out))
    console = Console()
    low, high = summary["gap_ci95"]
    console.print(
        f"[bold]{description['name']}[/] on {summary['env']}: {args.steps} steps x {args.seeds} seeds\n"
        f"  {_HEADLINE[env_name]} {summary['gap']:.4f}  (95% CI [{low:.4f}, {high:.4f}])\n"
        f"  {_digest(env_name, summary['metrics'])}\n"
        f"  report: {written['report.html']}"
    )
    if summary["passed"] is False:
        console.print(f"[red]FAIL[/]: gap {summary['gap']:.4f} exceeds --max-gap {args.max_gap}")
        return 1
    if summary["passed"]:
        console.print(f"[green]PASS[/]: gap {summary['gap']:.4f} <= --max-gap {args.max_gap}")
    return 0


_HEADLINE = {
    "lending": "equal-opportunity gap",
    "attention": "discovery-rate gap",
    "admission": "equal-opportunity gap",
}


def _digest(env_name: str, m: dict) -> str:
    """One line of the env's main outcomes for the console (everything is in audit.json)."""
    mean = lambda name: m[name]["mean"]
    if env_name == "lending":
        return (
            f"loans g1/g2 {mean('loans g1'):.0f}/{mean('loans g2'):.0f}   "
            f"credit change g1/g2 {mean('credit change g1'):+.3f}/{mean('credit change g2'):+.3f}   "
            f"profit {mean('profit'):.0f}"
        )
    if env_name == "attention":
        sites = sorted({int(k.rsplit(" ", 1)[1]) for k in m if k.startswith("discovery rate site")})
        rates = "/".join(f"{mean(f'discovery rate site {k}'):.2f}" for k in sites)
        return (
            f"discovery rate per site {rates}   discovered {mean('incidents discovered'):.0f}, "
            f"missed {mean('incidents missed'):.0f}"
        )
    return (
        f"admission rate g1/g2 {mean('admission rate g1'):.3f}/{mean('admission rate g2'):.3f}   "
        f"manipulation g1/g2 {mean('manipulation rate g1'):.3f}/{mean('manipulation rate g2'):.3f}   "
        f"reward per applicant {mean('reward per applicant'):.3f}"
    )


def baseline_policy(env_name: str, agent: str):
    """(policy, env instance, env params) of a baseline agent on its environment's defaults."""
    from seuseuro.envs.fairness import AttentionAllocationEnv, CollegeAdmissionEnv, LendingEnv, lending_params
    from seuseuro.fairness import agents

    if env_name == "lending":
        return agents.BASELINE_LENDERS[agent], LendingEnv(), lending_params()
    if env_name == "attention":
        env = AttentionAllocationEnv()
        return agents.BASELINE_ALLOCATORS[agent](env), env, env.default_params
    env = CollegeAdmissionEnv()
    return agents.BASELINE_OFFICERS[agent](env), env, env.default_params


def _audit_lending(policy, env, params, args: AuditArgs, description, out: Path):
    from seuseuro.fairness.audit import audit_lending, write_audit

    summary, trace = audit_lending(
        policy,
        params,
        num_steps=args.steps,
        num_seeds=args.seeds,
        seed=args.seed,
        max_gap=args.max_gap,
        description=description,
    )
    return summary, write_audit(out, summary, trace)


def _audit_attention(policy, env, params, args: AuditArgs, description, out: Path):
    from seuseuro.fairness.attention_audit import audit_attention, plot_attention
    from seuseuro.fairness.audit import write_audit

    summary, trace = audit_attention(
        policy,
        env,
        params,
        num_steps=args.steps,
        num_seeds=args.seeds,
        seed=args.seed,
        max_gap=args.max_gap,
        description=description,
    )
    return summary, write_audit(out, summary, trace, plot=plot_attention)


def _audit_admission(policy, env, params, args: AuditArgs, description, out: Path):
    from seuseuro.fairness.admission_audit import audit_admission, plot_admission
    from seuseuro.fairness.audit import write_audit

    summary, trace = audit_admission(
        policy,
        env,
        params,
        num_steps=args.steps,
        num_seeds=args.seeds,
        seed=args.seed,
        max_gap=args.max_gap,
        description=description,
    )
    return summary, write_audit(out, summary, trace, plot=plot_admission)


_AUDITS = {"lending": _audit_lending, "attention": _audit_attention, "admission": _audit_admission}


def load_run_policy(run_dir: Path, seed_index: int = 0, expected_env: str | None = None):
    """(env name, policy, env instance, env params, description) of a trained RL run on a fairness
    environment: its seed ``seed_index``'s policy, acting from the observation alone with sampled
    actions, as in training. A run with several training seeds is audited with its first seed's policy;
    the audit's own seeds are independent populations (or episodes). ``expected_env`` (the user's
    --env), when given, must be the run's."""
    from seuseuro.envs.fairness import FAIRNESS_ENVS, AttentionAllocationEnv, CollegeAdmissionEnv
    from seuseuro.envs.fairness.lending import LendingEnv
    from seuseuro.experiment import load_trained_state, num_seeds_of, policy_for_eval, rl_algorithm
    from seuseuro.fairness.agents import policy_from_act
    from seuseuro.runs import RunDir

    run = RunDir.open(run_dir)
    rl_algorithm(run)
    kinds = {"lending": LendingEnv, "attention": AttentionAllocationEnv, "admission": CollegeAdmissionEnv}
    env_cls = FAIRNESS_ENVS.get(run.env_id)
    env_name = next((name for name, cls in kinds.items() if env_cls is not None and issubclass(env_cls, cls)), None)
    if env_name is None:
        raise UserError(
            f"{run.path} was trained on {run.env_id}; the audit needs a run on a fairness environment "
            f"({', '.join(FAIRNESS_ENVS)}); train one with: seuseuro train ppo-lagrangian --env Lending-v0"
        )
    if expected_env is not None and expected_env != env_name:
        raise UserError(f"{run.path} was trained on {run.env_id}, not on --env {expected_env}; drop --env or fix it")
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
    return env_name, policy_from_act(act, params), env.env, env.params, description
