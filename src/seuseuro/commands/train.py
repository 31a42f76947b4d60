"""`seuseuro train ALGO`: train a registered RL algorithm, write a run directory, plot, evaluate, print
a result table. One generic command serves every entry of ``experiment.ALGORITHMS`` (its flags: the
shared :class:`RunOptions` plus the algorithm's Config); `train ppo-lagrangian` has its own, with the
fairness environment's settings and an audit of the result."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Any

import tyro

from seuseuro.errors import UserError
from seuseuro.experiment import algorithm, args_class_name, updates_per_chunk
from seuseuro.runs import RunDir, config_from_dict

ENV_HELP = (
    "Environment id: gymnax (CartPole-v1, Pendulum-v1, Breakout-MinAtar, ...), seuseuro (Lending-v0, "
    "ObjectNav-v0, ...) or any Gymnasium id; `gymnasium:ID` forces the Gymnasium version (`seuseuro envs` "
    "lists them)."
)


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """The flags every RL training command shares (the algorithm's own Config is added beside them)."""

    env: str = "CartPole-v1"
    """Environment id (see `seuseuro envs`)."""
    seed: int = 0
    """Base random seed; seed k of --num-seeds uses an independent key derived from it."""
    num_seeds: int = 1
    """Independent training runs at once (vmapped in one compiled program). 1-64."""
    run_dir: Path | None = None
    """Where to write the run (default: runs/ALGO-ENV-TIME)."""
    runs_root: Path = Path("runs")
    """Parent directory of new runs when --run-dir is not given."""
    resume: Path | None = None
    """Continue the run in this directory from its latest checkpoint (same config, same seeds)."""
    chunk_updates: int = 0
    """Updates per compiled chunk between progress/log/checkpoint points (0 = about 1/20 of training)."""
    checkpoint_every: int = 1
    """Write checkpoints/latest.npz every this many chunks."""
    stop_at_return: float | None = None
    """Stop early once the mean training return of the last chunk reaches this (e.g. 475 on CartPole)."""
    eval_episodes: int = 20
    """Episodes per seed in the final evaluation (0 = skip)."""
    progress: bool = True
    """Show a progress bar."""
    tensorboard: bool = True
    """Also write TensorBoard event files (run_dir/tb)."""
    env_runners: int = 0
    """Gymnasium envs: step the env copies in this many Ray actors (pip install "seuseuro[ray]"; RAY_ADDRESS joins
    a cluster). Same result as 0 (local) for the same seeds, except CartPole's batched env (ARCHITECTURE.md)."""


_ARGS_CLASSES: dict[str, type] = {}


def train_args_class(algo: str) -> type:
    """The flags of `seuseuro train ALGO` for a registered RL algorithm: :class:`RunOptions` plus its
    Config's fields (each a documented flag, without prefix)."""
    if algo not in _ARGS_CLASSES:
        entry = algorithm(algo)
        config_cls = entry.piece("Config")
        cls = dataclasses.make_dataclass(
            args_class_name(algo),
            [
                ("env", Annotated[str, tyro.conf.arg(help=ENV_HELP)], dataclasses.field(default=entry.default_env)),
                ("config", Annotated[config_cls, tyro.conf.OmitArgPrefixes], dataclasses.field(default=config_cls())),
            ],
            bases=(RunOptions,),
            frozen=True,
        )
        cls.__doc__ = entry.help or entry.summary
        cls.algo = algo
        _ARGS_CLASSES[algo] = cls
    return _ARGS_CLASSES[algo]


def __getattr__(name: str):
    """`TrainPPOArgs`, `TrainDqnArgs`, ...: built on first use from the registry (the CLI asks by name)."""
    from seuseuro.experiment import ALGORITHMS

    for algo, entry in ALGORITHMS.items():
        if entry.family == "rl" and entry.command is None and args_class_name(algo) == name:
            return train_args_class(algo)
    raise AttributeError(name)


def _flag_given(argv: list[str], flag: str) -> str | None:
    for i, a in enumerate(argv):
        if a == flag and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith(flag + "="):
            return a.split("=", 1)[1]
    return None


def _env_from_argv(args_cls: type, argv: list[str]) -> str:
    return _flag_given(argv, "--env") or args_cls.env


def default_args(args_cls: type, argv: list[str]):
    """Defaults of a generic `train ALGO` for this command line: the algorithm's tuned config for --env
    (before flags override it), when it has tuned sets; None (the dataclass defaults) otherwise."""
    algo = getattr(args_cls, "algo", None)
    if algo is None:
        return None
    module = algorithm(algo).load()
    env_id = _env_from_argv(args_cls, argv)
    try:
        config = module.tuned_config(env_id) if hasattr(module, "tuned_config") else module.Config()
    except UserError:
        config = module.Config()
    return args_cls(env=env_id, config=config)


def hyperparameter_set(algo: str, env_id: str) -> str:
    """Which hyperparameters a run of ``algo`` on ``env_id`` starts from, in words (issue 11: `--help` and the
    training log say it)."""
    entry = algorithm(algo)
    bare = env_id.split(":")[-1]
    if bare in getattr(entry.load(), "TUNED", {}):
        return f"the tuned set for {bare} ({entry.tuned_source}); flags override it"
    return f"no tuned set for {bare}, so the Config class's defaults (described under config options)"


def defaults_note(args_cls: type, argv: list[str]) -> str | None:
    """One line for `--help`: which hyperparameter set the defaults shown are, for this --env."""
    algo = getattr(args_cls, "algo", None)
    if algo is None:
        return None
    return f"Defaults below: {hyperparameter_set(algo, _env_from_argv(args_cls, argv))}."


def run_train(args) -> int:
    """`seuseuro train ALGO` for any registered RL algorithm (``experiment.ALGORITHMS``)."""
    import jax
    from rich.console import Console

    from seuseuro.commands.evaluate import print_eval_table
    from seuseuro.commands.plot import plot_runs
    from seuseuro.driver import run_training
    from seuseuro.envs.registry import make
    from seuseuro.experiment import evaluate_run

    algo = args.algo
    entry = algorithm(algo)
    module = entry.load()
    console = Console(stderr=True)
    if args.num_seeds < 1:
        raise UserError("--num-seeds must be >= 1")
    if args.checkpoint_every < 1:
        raise UserError("--checkpoint-every must be >= 1")
    if args.env_runners < 0:
        raise UserError("--env-runners must be >= 0 (0 = step the envs in this process)")
    if args.resume is not None:
        run = RunDir.open_for_resume(args.resume, algo, require_checkpoint=False)  # the driver starts it afresh
        if run.require("num_seeds", int) < 1 or run.require("updates_per_chunk", int) < 1:
            raise UserError(f"{run.path}/config.json: num_seeds and updates_per_chunk must be >= 1; restore the file")
        if args.env != run.env_id and args.env != type(args).env:
            raise UserError(f"{args.resume} trained on {run.env_id}, not {args.env}; drop --env to resume it")
        config = config_from_dict(module.Config, run.config_dict, run.path / "config.json")
        env_id, seed, num_seeds = run.env_id, run.require("seed", int), run.require("num_seeds", int)
        chunk = run.require("updates_per_chunk", int)
        env_runners = run.record.get("env_runners", 0) if args.env_runners == 0 else args.env_runners
    else:
        env_runners = args.env_runners
        config, env_id, seed, num_seeds = args.config, args.env, args.seed, args.num_seeds
        chunk = updates_per_chunk(args.chunk_updates, config.num_updates)
    env = local_env = make(env_id)  # the evaluation steps its episodes here, without runners
    if env_runners:  # remote Gymnasium env runners (scale/remote_envs.py); Ray imported only here
        from seuseuro.scale.remote_envs import RemoteGymnasiumEnv

        env = RemoteGymnasiumEnv.wrap(env, env_runners)
    trainer = module.make_train(config, env, num_seeds=num_seeds, updates_per_chunk=chunk)
    if args.resume is None:
        extra = {"seed": seed, "num_seeds": num_seeds, "updates_per_chunk": chunk, "env_runners": env_runners}
        run = RunDir.create(algo, env_id, config, root=args.runs_root, path=args.run_dir, extra=extra)
    console.print(f"[bold]run directory[/bold] {run.path}")
    if args.resume is None and env_id.split(":")[-1] in getattr(module, "TUNED", {}):
        console.print(f"hyperparameters: {hyperparameter_set(algo, env_id)}")

    result = run_training(
        trainer,
        run,
        jax.random.PRNGKey(seed),
        resume=args.resume is not None,
        checkpoint_every=args.checkpoint_every,
        progress=args.progress,
        tensorboard=args.tensorboard,
        stop_at_return=args.stop_at_return,
    )
    if result.interrupted:
        console.print(f"stopped after {result.updates_done} updates; checkpoint written. Resume with:")
        console.print(f"  seuseuro train {algo} --resume {run.path}")
        return 130
    if result.reached_target:
        console.print(f"reached the target return {args.stop_at_return} after {result.updates_done} updates")
    plot_path = plot_runs([run.path], run.plots_dir / "learning_curve.png")
    console.print(f"trained {result.updates_done * trainer.steps_per_update:,} steps x {num_seeds} seed(s) in "
                  f"{result.seconds:.1f} s ({result.steps_per_second:,.0f} steps/s after compile); curve: {plot_path}")  # fmt: skip
    if args.eval_episodes > 0:
        loaded = (config, local_env, trainer, result.state)
        summary = evaluate_run(run, episodes=args.eval_episodes, deterministic=True, loaded=loaded)
        print_eval_table(summary, run)
    return 0


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


def run_train_ppo_lagrangian(args: TrainPPOLagrangianArgs) -> int:
    import jax
    from rich.console import Console

    from seuseuro.algos import ppo_lagrangian as pl
    from seuseuro.driver import run_training
    from seuseuro.experiment import make_env, rebuild_run

    console = Console(stderr=True)
    if args.num_seeds < 1 or args.horizon < 1:
        raise UserError("--num-seeds and --horizon must be >= 1")
    if args.resume is not None:
        run = RunDir.open_for_resume(args.resume, "ppo-lagrangian", require_checkpoint=False)
        _, _, trainer = rebuild_run(run)
        seed, num_seeds, env_id = run.require("seed", int), run.require("num_seeds", int), run.env_id
    else:
        config: pl.Config = args.algo
        env = make_env(args.env)
        # Gymnasium envs (host collector) keep their own episode length
        overrides = env_overrides(args.env, args.horizon, args.observe_group_stats) if env.is_jax_native else {}
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
    from seuseuro.envs.fairness import FAIRNESS_ENVS

    if args.audit_steps > 0 and env_id in FAIRNESS_ENVS:  # every fairness env has an audit
        from seuseuro.commands.audit import AuditArgs, run_audit

        return run_audit(AuditArgs(run_dir=run.path, steps=args.audit_steps, seeds=4))
    return 0
