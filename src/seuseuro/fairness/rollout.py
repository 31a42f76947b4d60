"""Run a lending policy for many steps over many seeds in one compiled program, recording what fairness
analysis needs: the decision log (group, score, decision, true outcome, reward, cost) and each group's
score distribution over time.

One long episode per seed, as D'Amour et al. run it (``step_env`` without auto-reset, so the population
keeps evolving for all ``num_steps``); seeds are vmapped, steps scanned. ``simulate_env`` does the same for
any fairness environment (attention allocation, college admission) and returns its ``info`` per step.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import numpy as np

from seuseuro.envs.fairness.lending import LendingEnv, LendingParams, mean_repay_prob, mean_score
from seuseuro.fairness.agents import LendingPolicy
from seuseuro.fairness.metrics import DecisionLog


@dataclasses.dataclass(frozen=True)
class LendingTrace:
    """Host arrays of one rollout; leading dims (S seeds, T steps)."""

    group: np.ndarray  # (S, T) int
    score: np.ndarray  # (S, T) int, score level of the decided applicant
    repaid: np.ndarray  # (S, T) bool, true outcome (also for denied applicants)
    lent: np.ndarray  # (S, T) bool
    reward: np.ndarray  # (S, T) change in cash
    cost: np.ndarray  # (S, T) windowed TPR gap the env reports
    mean_score: np.ndarray  # (S, T + 1, 2) each group's mean score level, before step 0 and after each step
    mean_repay: np.ndarray  # (S, T + 1, 2) each group's mean P(repay)
    initial_dist: np.ndarray  # (S, 2, 7)
    final_dist: np.ndarray  # (S, 2, 7)

    @property
    def num_seeds(self) -> int:
        return self.group.shape[0]

    def log(self, seed: int) -> DecisionLog:
        """The decision log of one seed."""
        return DecisionLog(self.group[seed], self.lent[seed], self.repaid[seed], self.reward[seed])


_DEFAULT_LENDING_ENV = LendingEnv()  # stateless (gymnax protocol); shared so `_simulate` compiles once per shape


# eqx.filter_jit: a policy's arrays (a trained network's parameters, ``agents.ActPolicy``) are traced, everything
# else (baseline functions, the env, num_steps) is static: one compilation serves every policy of one shape.
@eqx.filter_jit
def _simulate(policy: LendingPolicy, env: LendingEnv, params: LendingParams, keys: jax.Array, num_steps: int):
    def one_seed(key):
        reset_key, key = jax.random.split(key)
        obs, state = env.reset_env(reset_key, params)
        initial = state.score_dist

        def step(carry, step_key):
            obs, state = carry
            act_key, env_key = jax.random.split(step_key)
            action = policy(act_key, obs, state, params)
            obs, state, reward, _, info = env.step_env(env_key, state, action, params)
            record = {
                "group": info["group"],
                "score": info["score"],
                "repaid": info["repaid"],
                "lent": info["lent"],
                "reward": reward,
                "cost": info["cost"],
                "mean_score": mean_score(state.score_dist),
                "mean_repay": mean_repay_prob(state.score_dist, params),
            }
            return (obs, state), record

        (_, final), records = jax.lax.scan(step, (obs, state), jax.random.split(key, num_steps))
        records["initial_dist"], records["final_dist"] = initial, final.score_dist
        records["mean_score_0"] = mean_score(initial)
        records["mean_repay_0"] = mean_repay_prob(initial, params)
        return records

    return jax.vmap(one_seed)(keys)


def simulate_lending(
    policy: LendingPolicy,
    params: LendingParams,
    *,
    num_steps: int,
    num_seeds: int,
    seed: int = 0,
    env: LendingEnv | None = None,
) -> LendingTrace:
    """Run ``policy`` for ``num_steps`` on ``num_seeds`` independent populations (compiled, vmapped)."""
    env = _DEFAULT_LENDING_ENV if env is None else env  # one instance: the compiled program is keyed on it
    keys = jax.random.split(jax.random.PRNGKey(seed), num_seeds)
    out = jax.tree.map(np.asarray, _simulate(policy, env, params, keys, num_steps))
    with_start = lambda name: np.concatenate([out[f"{name}_0"][:, None], out[name]], axis=1)
    return LendingTrace(
        group=out["group"],
        score=out["score"],
        repaid=out["repaid"],
        lent=out["lent"],
        reward=out["reward"],
        cost=out["cost"],
        mean_score=with_start("mean_score"),
        mean_repay=with_start("mean_repay"),
        initial_dist=out["initial_dist"],
        final_dist=out["final_dist"],
    )


# --- any fairness environment: the info of every step ---------------------------------------------
Policy = Callable[[jax.Array, jax.Array, Any, Any], jax.Array]


@eqx.filter_jit  # as `_simulate`: a policy's arrays traced, the rest static
def _simulate_env(policy: Policy, env: Any, params: Any, keys: jax.Array, num_steps: int, state_record):
    def one_seed(key):
        reset_key, key = jax.random.split(key)
        obs, state = env.reset_env(reset_key, params)

        def step(carry, step_key):
            obs, state = carry
            act_key, env_key = jax.random.split(step_key)
            action = policy(act_key, obs, state, params)
            # the decision is made on ``state``: record what it held (e.g. true rates) before stepping
            before = {} if state_record is None else state_record(state)
            obs, state, reward, _, info = env.step_env(env_key, state, action, params)
            return (obs, state), {**info, **before, "action": action, "reward": reward}

        _, records = jax.lax.scan(step, (obs, state), jax.random.split(key, num_steps))
        return records

    return jax.vmap(one_seed)(keys)


def simulate_env(
    policy: Policy,
    env: Any,
    params: Any,
    *,
    num_steps: int,
    num_seeds: int,
    seed: int = 0,
    state_record: Callable[[Any], dict[str, jax.Array]] | None = None,
) -> dict[str, np.ndarray]:
    """Run ``policy(key, obs, state, params)`` for ``num_steps`` on ``num_seeds`` independent episodes of
    a gymnax-protocol ``env`` (one long episode each, no auto-reset; compiled, vmapped). Returns every
    ``info`` field plus ``action`` and ``reward`` as host arrays (S, T, ...), and ``state_record(state)``'s
    fields taken from the state each decision was made in."""
    keys = jax.random.split(jax.random.PRNGKey(seed), num_seeds)
    return jax.tree.map(np.asarray, _simulate_env(policy, env, params, keys, num_steps, state_record))
