"""The algorithm registry and everything train, eval, plot, audit and resume share (issue 10).

:data:`ALGORITHMS` maps a name (``seuseuro train NAME``) to where its pieces live. An RL algorithm
is one file in ``algos/`` exposing

    Config                      frozen dataclass of hyperparameters (config.json holds it)
    make_train(config, env, num_seeds, updates_per_chunk) -> core.chunked.Trainer
    tuned_config(env_id, **overrides) -> Config      (optional: the tuned sets per env)
    policy_for_eval(config, state, deterministic) -> (act, params)   for ONE seed's TrainState

and one entry below; the host driver, the evaluator and the audit then serve it. Modules are
imported on first use, so ``seuseuro --help`` never imports JAX.

Rebuilding a run (:func:`rebuild_run`): config.json records the algorithm, env id, env parameter
overrides, seeds and chunking; the same config gives the same program, and the latest checkpoint
fills its state.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
from typing import TYPE_CHECKING, Any, Literal

from seuseuro.errors import UserError

if TYPE_CHECKING:  # imported where used: the CLI reads ALGORITHMS without importing JAX
    from seuseuro.runs import RunDir


@dataclasses.dataclass(frozen=True)
class Algorithm:
    """One registry entry: where an algorithm's pieces live."""

    name: str
    module: str  # the algorithm's own file
    summary: str  # one line, for `seuseuro --help`
    family: Literal["rl", "lm"] = "rl"
    # RL: `seuseuro train NAME` is the generic command (commands/train.py) unless this names another
    # ("module:ArgsClass:run_function")
    command: str | None = None
    default_env: str = "CartPole-v1"
    help: str = ""  # the description `seuseuro train NAME --help` opens with
    tuned_source: str = ""  # where the tuned sets come from, said when one is in use

    def load(self):
        return importlib.import_module(self.module)

    def piece(self, name: str) -> Any:
        return getattr(self.load(), name)


# fmt: off
ALGORITHMS: dict[str, Algorithm] = {
    "ppo": Algorithm(
        "ppo", "seuseuro.algos.ppo", "PPO on a JAX-native or Gymnasium env",
        help="Train PPO on a JAX-native environment (whole loop compiled, seeds vmapped) or on any Gymnasium "
        "environment (stepped on the host). Hyperparameters default to a tuned set for the chosen --env "
        "(RL-Zoo / CleanRL) when one exists; every flag below overrides it.",
        tuned_source="RL-Zoo / CleanRL",
    ),
    "ppo-lagrangian": Algorithm(
        "ppo-lagrangian", "seuseuro.algos.ppo_lagrangian", "PPO under a constraint on a reported cost (fairness gap)",
        command="seuseuro.commands.train:TrainPPOLagrangianArgs:run_train_ppo_lagrangian", default_env="Lending-v0",
    ),
    "sac": Algorithm(
        "sac", "seuseuro.algos.sac", "SAC (continuous actions) on a JAX-native or Gymnasium env",
        help="Train Soft Actor-Critic (twin critics, automatic temperature, squashed Gaussian actor, replay buffer "
        "in the checkpoint) on a Box-action environment, JAX-native (compiled, seeds vmapped) or Gymnasium "
        "(stepped on the host). Hyperparameters default to a tuned set for the chosen --env when one exists.",
        tuned_source="RL-Zoo (Pendulum) / CleanRL (MuJoCo)", default_env="Pendulum-v1",
    ),
    "td3": Algorithm(
        "td3", "seuseuro.algos.td3", "TD3 (continuous actions) on a JAX-native or Gymnasium env",
        help="Train TD3 (twin critics, target policy smoothing, delayed actor, replay buffer in the checkpoint) on "
        "a Box-action environment, JAX-native (compiled, seeds vmapped) or Gymnasium (stepped on the host). "
        "Hyperparameters default to a tuned set for the chosen --env when one exists.",
        tuned_source="RL-Zoo (Pendulum) / CleanRL (MuJoCo)", default_env="Pendulum-v1",
    ),
    "dqn": Algorithm(
        "dqn", "seuseuro.algos.dqn", "DQN (double, dueling, n-step, prioritized) on a JAX-native or Gymnasium env",
        help="Train DQN (flags: double Q-learning, dueling heads, n-step returns, prioritized replay, Huber loss, "
        "Polyak targets; replay buffer in the checkpoint) on a Discrete-action environment, JAX-native (compiled, "
        "seeds vmapped) or Gymnasium (stepped on the host). Hyperparameters default to a tuned set for --env.",
        tuned_source="CleanRL (classic control) / Young & Tian 2019 (MinAtar)",
    ),
    "pqn": Algorithm(
        "pqn", "seuseuro.algos.pqn", "PQN (LayerNorm Q-network, Q(lambda), no buffer, many envs)",
        help="Train PQN (Gallici et al. 2024: LayerNorm Q-network, no target network, no replay buffer, Q(lambda) "
        "targets over rollouts of many envs, RAdam) on a Discrete-action environment, JAX-native (compiled, seeds "
        "vmapped) or Gymnasium (stepped on the host). Hyperparameters default to a tuned set for --env.",
        tuned_source="PureJaxQL (Gallici et al. 2024)",
    ),
    "sft": Algorithm(
        "sft", "seuseuro.lm.sft", "tiny LM from scratch on worked solutions", family="lm",
        command="seuseuro.commands.lm:TrainSFTArgs:run_train_sft",
    ),
    "grpo": Algorithm(
        "grpo", "seuseuro.algos.grpo", "GRPO/DAPO/Dr. GRPO on a text task", family="lm",
        command="seuseuro.commands.lm:TrainGRPOArgs:run_train_grpo",
    ),
}
# fmt: on


def args_class_name(algo: str) -> str:
    """The name of `seuseuro train ALGO`'s flags class (``commands/train.py`` builds it on demand)."""
    return "Train" + "".join(part.capitalize() for part in algo.replace("_", "-").split("-")) + "Args"


def algorithm(name: str) -> Algorithm:
    if name not in ALGORITHMS:
        raise UserError(f"unknown algorithm {name!r}; choose one of: {', '.join(ALGORITHMS)}")
    return ALGORITHMS[name]


def rl_algorithm(run: RunDir) -> Algorithm:
    """The registry entry of an RL run; a one-line error for runs of another family."""
    entry = ALGORITHMS.get(run.algo)
    if entry is None or entry.family != "rl":
        rl = ", ".join(k for k, a in ALGORITHMS.items() if a.family == "rl")
        raise UserError(f"{run.path} is a {run.algo} run; this command handles RL runs ({rl})")
    return entry


# =================================================================================================
# Configs, chunks and environments as the training commands build them
# =================================================================================================


def updates_per_chunk(requested: int, num_updates: int) -> int:
    """Updates per compiled chunk: ``requested``, or about 1/20 of training (0 = automatic). The chunk
    trades feedback (progress, metrics, checkpoints between chunks) against speed (the goal:
    under 2% of throughput)."""
    if requested < 0:
        raise UserError("--chunk-updates must be >= 0 (0 = automatic)")
    return min(num_updates, requested) if requested else max(1, math.ceil(num_updates / 20))


def with_env_overrides(env: Any, overrides: dict[str, Any]) -> Any:
    """``env`` with some of its parameters replaced (a run's ``env_overrides``); one-line errors for
    names the env does not have and values of the wrong type (a config.json edited or from another
    version)."""
    if not overrides:
        return env
    if not getattr(env, "is_jax_native", False):
        raise UserError(f"{env.env_id} is a Gymnasium environment: its parameters cannot be overridden here")
    params = env.params
    known = {f.name: getattr(params, f.name) for f in dataclasses.fields(params)}
    unknown = sorted(set(overrides) - set(known))
    if unknown:
        raise UserError(
            f"{env.env_id} has no parameter(s) {unknown}; the run's env_overrides come from another version"
        )
    for name, value in overrides.items():
        default = known[name]
        if isinstance(default, bool) or isinstance(value, bool):
            ok = isinstance(value, bool) and isinstance(default, bool)
        elif isinstance(default, int):
            ok = isinstance(value, int) and value >= 1
        elif isinstance(default, float):
            ok = isinstance(value, int | float) and math.isfinite(value)
        else:
            ok = True
        if not ok:
            raise UserError(f"{env.env_id} parameter {name} cannot be {value!r} (its default is {default!r})")
    return dataclasses.replace(env, params=params.replace(**overrides))


def make_env(env_id: str, overrides: dict[str, Any] | None = None) -> Any:
    from seuseuro.envs.registry import make

    return with_env_overrides(make(env_id), overrides or {})


# =================================================================================================
# Rebuilding a run from its directory
# =================================================================================================


def rebuild_run(run: RunDir):
    """(config, env, trainer) of an RL run from its config.json, as its training command built them."""
    from seuseuro.runs import CONFIG_FILE, config_from_dict

    entry = rl_algorithm(run)
    source = run.path / CONFIG_FILE
    config = config_from_dict(entry.piece("Config"), run.config_dict, source)
    chunking = dict(num_seeds=run.require("num_seeds", int), updates_per_chunk=run.require("updates_per_chunk", int))
    if chunking["num_seeds"] < 1 or chunking["updates_per_chunk"] < 1:
        raise UserError(f"{source}: num_seeds and updates_per_chunk must be >= 1 (got {chunking}); restore the file")
    overrides = run.require("env_overrides", dict) if "env_overrides" in run.record else {}
    env = make_env(run.env_id, overrides)
    return config, env, entry.piece("make_train")(config, env, **chunking)


def load_trained_state(run: RunDir):
    """(config, env, trainer, state) of an RL run, rebuilt from config.json + the latest checkpoint."""
    from seuseuro.driver import resume_state

    config, env, trainer = rebuild_run(run)
    if not run.latest_checkpoint.exists():
        raise UserError(f"{run.path} has no checkpoint to evaluate; train it first (seuseuro train {run.algo} ...)")
    state, _ = resume_state(trainer, run)
    return config, env, trainer, state


def num_seeds_of(state: Any) -> int:
    import jax

    return jax.tree.leaves(state)[0].shape[0]


def seed_state(state: Any, index: int) -> Any:
    """One seed's TrainState out of a state whose leaves have a leading seed axis."""
    import jax

    return jax.tree.map(lambda x: x[index], state)


def policy_for_eval(run: RunDir, config: Any, state: Any, seed_index: int, deterministic: bool = True):
    """(act, params) of seed ``seed_index`` of a trained RL run, for ``collect.evaluate``."""
    return rl_algorithm(run).piece("policy_for_eval")(config, seed_state(state, seed_index), deterministic)


# =================================================================================================
# Evaluation of a run: eval.json
# =================================================================================================


def evaluate_run(run: RunDir, episodes: int = 20, deterministic: bool = True, seed: int = 1000, loaded=None) -> dict:
    """Evaluate every seed of an RL run (``loaded``: a ``load_trained_state`` result, else read from
    disk); writes and returns the eval.json summary. The aggregate interval is over seeds when there
    are several (the unit of replication in RL; Agarwal et al. 2021), else over episodes."""
    from seuseuro.collect.evaluate import evaluate
    from seuseuro.core.statistics import mean_ci95
    from seuseuro.runs import EVAL_FILE

    if episodes < 1:
        raise UserError("--episodes must be >= 1")
    config, env, _, state = loaded or load_trained_state(run)
    per_seed = []
    for s in range(num_seeds_of(state)):
        act, params = policy_for_eval(run, config, state, s, deterministic)
        returns = evaluate(act, params, env, seed + s, episodes)
        m, lo, hi = mean_ci95(returns)
        per_seed.append({"seed": s, "mean_return": m, "ci95": [lo, hi], "returns": [float(r) for r in returns]})
    seed_means = [p["mean_return"] for p in per_seed]
    values = seed_means if len(per_seed) > 1 else per_seed[0]["returns"]
    m, lo, hi = mean_ci95(values)
    summary = {
        "env_id": run.env_id,
        "algo": run.algo,
        "episodes_per_seed": episodes,
        "deterministic": deterministic,
        "metric": "mean undiscounted return of full episodes, "
        + ("greedy" if deterministic else "sampled")
        + " actions",
        "aggregate": {"mean_return": m, "ci95": [lo, hi], "over": "seeds" if len(per_seed) > 1 else "episodes"},
        "per_seed": per_seed,
    }
    run.write_json(EVAL_FILE, summary)
    return summary
