"""Learned lenders: a trained PPO / PPO-Lagrangian run turned into a lending policy for the audit.

The policy acts from the observation only (it never sees the simulator's state) and samples its
action, as it did in training. A run with several training seeds is audited with its first seed's
policy (``seed_index`` picks another); the audit's own seeds are independent populations.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax

from seuseuro.envs.fairness.lending import LendingEnv, LendingParams
from seuseuro.errors import UserError
from seuseuro.fairness.agents import LendingPolicy
from seuseuro.runs import RunDir

SUPPORTED_ALGOS = ("ppo", "ppo-lagrangian")


def policy_from_actor_critic(actor_critic: Any, obs_stats: Any = None) -> LendingPolicy:
    """A LendingPolicy that samples from a PPO-family ActorCritic (obs normalized if it was trained so)."""
    from seuseuro.algos.ppo import sample_action
    from seuseuro.core.normalization import normalize

    def policy(key, obs, state, params):
        if obs_stats is not None:
            obs = normalize(obs_stats, obs)
        action, _ = sample_action(actor_critic, obs[None], key)
        return action[0].astype("int32")

    return policy


def load_run_policy(run_dir: str | Path, seed_index: int = 0) -> tuple[LendingPolicy, LendingParams, dict[str, Any]]:
    """(policy, env params, description) of a trained run on a lending environment."""
    from seuseuro.core.wrappers import NormalizeObsState, find_wrapper_state

    run = RunDir.open(run_dir)
    if run.algo not in SUPPORTED_ALGOS:
        raise UserError(f"{run.path} is a {run.algo} run; the audit handles {', '.join(SUPPORTED_ALGOS)} runs")
    from seuseuro.envs.fairness import FAIRNESS_ENVS

    lending_ids = [k for k, cls in FAIRNESS_ENVS.items() if issubclass(cls, LendingEnv)]
    if run.env_id not in lending_ids:
        raise UserError(
            f"{run.path} was trained on {run.env_id}; the lending audit needs a run on {' or '.join(lending_ids)} "
            "(train one with: seuseuro train ppo-lagrangian --env Lending-v0)"
        )
    if not run.latest_checkpoint.exists():
        raise UserError(f"{run.path} has no checkpoint; train it first, then audit it")
    from seuseuro.commands.evaluate import load_trained_state

    _, env, _, state = load_trained_state(run)
    num_seeds = jax.tree.leaves(state.update_step)[0].shape[0]
    if not 0 <= seed_index < num_seeds:
        raise UserError(f"seed index {seed_index} is out of range: the run has {num_seeds} seed(s)")
    pick = lambda tree: jax.tree.map(lambda x: x[seed_index], tree)
    obs_norm = find_wrapper_state(pick(state.env_state), NormalizeObsState)
    trained = pick(state.policy)
    actor_critic = getattr(trained, "actor_critic", trained)  # PPO-Lagrangian wraps PPO's actor-critic
    policy = policy_from_actor_critic(actor_critic, None if obs_norm is None else obs_norm.stats)
    description = {
        "name": f"{run.algo} ({run.path.name}, seed {seed_index})",
        "rule": "learned policy, actions sampled",
        "source": str(run.path),
    }
    return policy, env.params, description
