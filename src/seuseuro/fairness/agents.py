"""The baseline lenders of Liu et al. 2018 / D'Amour et al. 2020, with thresholds from the true distributions.

- :func:`max_utility_lender` lends iff the expected profit of the loan is positive,
  ``p(s) * interest - (1 - p(s)) > 0`` (``2p - 1 > 0`` at the published interest 1.0): a single
  threshold for both groups.
- :func:`equal_opportunity_lender` picks per-group (randomized) thresholds with one shared true
  positive rate, the one that maximizes expected profit (Hardt et al. 2016), recomputed at every step
  from the current score distributions: TPR is equal *in expectation at every step*, which is what
  lets the reproduction show the aggregate TPR gap that nevertheless persists under dynamics.

Simplified on purpose: the papers' agents estimate the repayment curve from the loans they made
(a burn-in of 200 steps in ml-fairness-gym); here they read the simulator's true distributions, as the
issue asks, so the findings are about the decision rule and the dynamics, not estimation error.

Every policy has the signature ``policy(key, obs, state, params) -> action`` (lend = 1): the oracle
baselines read the environment state, learned agents read ``obs`` only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from seuseuro.envs.fairness.lending import LendingParams, LendingState

LendingPolicy = Callable[[jax.Array, jax.Array, LendingState, LendingParams], jax.Array]


def expected_gain(params: LendingParams) -> jax.Array:
    """(7,) expected change in cash of a loan at each score level."""
    p = params.repay_prob
    return p * params.interest_rate * params.loan_amount - (1.0 - p) * params.loan_amount


def max_utility_accept_prob(params: LendingParams) -> jax.Array:
    """(2, 7) probability of lending per (group, score): 1 where the expected gain is positive."""
    accept = (expected_gain(params) > 0).astype(jnp.float32)
    return jnp.broadcast_to(accept, params.initial_score_dist.shape)


def accept_prob_for_tpr(score_dist: jax.Array, repay_prob: jax.Array, tpr: jax.Array) -> jax.Array:
    """(7,) lending probabilities that reach true positive rate ``tpr`` lending to the best scores first.

    Filling from the top score down maximizes precision for a given TPR because ``repay_prob`` is
    non-decreasing; the level where the target falls is lent to with a fractional probability
    (a randomized threshold, as Hardt et al. 2016).
    """
    pos_mass = score_dist * repay_prob  # (7,) mass of would-repay applicants per level
    total = jnp.maximum(pos_mass.sum(), 1e-12)
    above = jnp.cumsum(pos_mass[::-1])[::-1] - pos_mass  # would-repay mass strictly above each level
    need = tpr * total - above
    # A level with no would-repay mass lies above the threshold (lend) iff the target still needs loans
    # below it: then the policy stays a threshold when mass later moves into that level.
    fraction = jnp.clip(need / jnp.where(pos_mass > 0, pos_mass, 1.0), 0.0, 1.0)
    return jnp.where(pos_mass > 0, fraction, (need > 1e-9).astype(fraction.dtype))


def equal_opportunity_accept_prob(score_dist: jax.Array, params: LendingParams) -> jax.Array:
    """(2, 7) per-group lending probabilities with one shared TPR, chosen to maximize expected profit.

    Each group's best profit at TPR t is piecewise linear in t with kinks where a whole level is added,
    so the optimum of the group-weighted sum lies at one of the kinks of either group: evaluate those.
    """
    p = params.repay_prob
    pos_mass = score_dist * p  # (2, 7)
    total = jnp.maximum(pos_mass.sum(-1, keepdims=True), 1e-12)
    at_or_above = jnp.cumsum(pos_mass[:, ::-1], -1)[:, ::-1] / total  # (2, 7) TPR of threshold k
    candidates = jnp.concatenate([jnp.zeros(1), at_or_above.reshape(-1)])  # (15,)

    def accept_all(t):
        return jax.vmap(accept_prob_for_tpr, in_axes=(0, None, None))(score_dist, p, t)

    accepts = jax.vmap(accept_all)(candidates)  # (15, 2, 7)
    profit = (accepts * score_dist * expected_gain(params)).sum(-1) @ params.group_probs  # (15,)
    return accepts[jnp.argmax(profit)]


def _lend_with_prob(key: jax.Array, accept: jax.Array, state: LendingState) -> jax.Array:
    return (jax.random.uniform(key) < accept[state.group, state.score]).astype(jnp.int32)


def max_utility_lender(key: jax.Array, obs: jax.Array, state: LendingState, params: LendingParams) -> jax.Array:
    """Lend iff the applicant's expected profit is positive (same threshold for both groups)."""
    return _lend_with_prob(key, max_utility_accept_prob(params), state)


def equal_opportunity_lender(key: jax.Array, obs: jax.Array, state: LendingState, params: LendingParams) -> jax.Array:
    """Lend with the profit-maximizing equal-TPR thresholds of the current population."""
    return _lend_with_prob(key, equal_opportunity_accept_prob(state.score_dist, params), state)


def frozen_equal_opportunity_lender(
    key: jax.Array, obs: jax.Array, state: LendingState, params: LendingParams
) -> jax.Array:
    """The equal-opportunity thresholds of the *initial* population, never updated: a policy that is
    fair at deployment (the static audit passes) and then drifts as the population moves."""
    return _lend_with_prob(key, equal_opportunity_accept_prob(params.initial_score_dist, params), state)


BASELINE_LENDERS: dict[str, LendingPolicy] = {
    "max-utility": max_utility_lender,
    "equal-opportunity": equal_opportunity_lender,
    "equal-opportunity-frozen": frozen_equal_opportunity_lender,
}


def describe(name: str) -> dict[str, Any]:
    """One-line description of a baseline, for audit reports."""
    return {
        "max-utility": {"rule": "lend iff p(repay) * interest - (1 - p(repay)) > 0", "source": "Liu et al. 2018"},
        "equal-opportunity": {
            "rule": "per-group randomized thresholds, one shared TPR, max expected profit",
            "source": "Hardt et al. 2016; D'Amour et al. 2020",
        },
        "equal-opportunity-frozen": {
            "rule": "equal-opportunity thresholds of the initial population, never updated",
            "source": "fair-at-deployment baseline (D'Amour et al. 2020, section 2)",
        },
    }[name]
