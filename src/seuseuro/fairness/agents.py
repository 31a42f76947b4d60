"""The baseline lenders of Liu et al. 2018 / D'Amour et al. 2020, with thresholds from the true distributions.

- :func:`max_utility_lender` lends iff the expected profit of the loan is positive,
  ``p(s) * interest - (1 - p(s)) > 0`` (``2p - 1 > 0`` at the published interest 1.0): a single
  threshold for both groups.
- :func:`equal_opportunity_lender` picks per-group (randomized) thresholds with one shared true
  positive rate, the one that maximizes expected profit (Hardt et al. 2016), recomputed at every step
  from the current score distributions: TPR is equal *in expectation at every step*, which is what
  lets the reproduction show the aggregate TPR gap that nevertheless persists under dynamics.

As in D'Amour et al.'s experiment: ml-fairness-gym's lending run (experiments/acm_fat_2020) uses
``OracleThresholdAgent``, which rebuilds its training corpus from the simulator's *true* current
distributions at every step (no censored lend-only data, no frozen thresholds; burn-in 1 step) and
thresholds the integer score level directly. :func:`gym_equal_opportunity_lender` follows that protocol
to the detail (1-step lend-to-all burn-in, 1e-6-smoothed corpus, bounded search for the shared TPR);
its per-step TPR equals :func:`equal_opportunity_lender`'s up to the search tolerance.

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


def group_tpr(accept: jax.Array, score_dist: jax.Array, repay_prob: jax.Array) -> jax.Array:
    """(2,) expected TPR per group of lending probabilities ``accept`` (2, 7) on ``score_dist`` (2, 7)."""
    pos_mass = score_dist * repay_prob
    return (accept * pos_mass).sum(-1) / jnp.maximum(pos_mass.sum(-1), 1e-12)


# ml-fairness-gym's protocol (agents/oracle_lending_agent.py, agents/threshold_policies.py,
# experiments/acm_fat_2020/lending_experiments_main.py): every (score level, label) of the oracle's
# training corpus gets weight mass + 1e-6, the shared TPR target comes from scipy's bounded scalar
# minimizer on [0, 1] (xatol 1e-5), and the first step (burnin=1) lends to everyone.
GYM_WEIGHT_EPS = 1e-6
GYM_BURNIN_STEPS = 1
GYM_SEARCH_ITERS = 30  # golden-section steps: the bracket shrinks to 0.618**30 = 5e-7 < scipy's xatol 1e-5
_GOLDEN = 0.6180339887498949


def _gym_label_masses(score_dist: jax.Array, params: LendingParams) -> tuple[jax.Array, jax.Array]:
    """(2, 7) would-repay and would-default weights of the gym oracle's training corpus."""
    p = params.repay_prob
    return score_dist * p + GYM_WEIGHT_EPS, score_dist * (1.0 - p) + GYM_WEIGHT_EPS


def _gym_accept_at(tpr: jax.Array, pos: jax.Array) -> jax.Array:
    """(2, 7) lending probabilities reaching ``tpr`` on the weighted corpus, best scores first."""
    return jax.vmap(accept_prob_for_tpr, in_axes=(0, None, None))(pos, jnp.ones(pos.shape[-1]), tpr)


def gym_equal_opportunity_tpr_target(score_dist: jax.Array, params: LendingParams) -> jax.Array:
    """() the shared TPR target ml-fairness-gym's equal-opportunity oracle chooses for ``score_dist``.

    As ``threshold_policies.equality_of_opportunity_thresholds``: maximize the summed (not group-
    weighted: both groups' corpora sum to 1) weighted profit tp * interest - fp over the target in
    [0, 1] with a bounded scalar search. The profit is concave in the target (P(repay) is non-decreasing
    in the score, so each added slice of TPR is less profitable), which makes golden-section search, as
    scipy's bounded Brent, converge to the optimum kink up to its tolerance.
    """
    pos, neg = _gym_label_masses(score_dist, params)

    def profit(t):
        accept = _gym_accept_at(t, pos)
        return (accept * (pos * params.interest_rate * params.loan_amount - neg * params.loan_amount)).sum()

    def shrink(_, bracket):
        lo, hi = bracket
        left, right = hi - _GOLDEN * (hi - lo), lo + _GOLDEN * (hi - lo)
        keep_left = profit(left) >= profit(right)
        return jnp.where(keep_left, lo, left), jnp.where(keep_left, right, hi)

    lo, hi = jax.lax.fori_loop(0, GYM_SEARCH_ITERS, shrink, (jnp.float32(0.0), jnp.float32(1.0)))
    return (lo + hi) / 2


def gym_equal_opportunity_accept_prob(score_dist: jax.Array, params: LendingParams) -> jax.Array:
    """(2, 7) ml-fairness-gym's equal-opportunity lending probabilities for ``score_dist``.

    The gym randomizes between the two ROC-convex-hull thresholds around the target; this interpolates
    between adjacent score levels instead. The expected TPR and profit are the same: the only hull
    vertices dropped are collinear ones (equal P(repay), levels 5 and 6) or levels holding only the
    1e-6 pseudo-mass.
    """
    pos, _ = _gym_label_masses(score_dist, params)
    return _gym_accept_at(gym_equal_opportunity_tpr_target(score_dist, params), pos)


def gym_equal_opportunity_lender(
    key: jax.Array, obs: jax.Array, state: LendingState, params: LendingParams
) -> jax.Array:
    """ml-fairness-gym's ``OracleThresholdAgent`` with ``EQUALIZE_OPPORTUNITY`` as D'Amour et al. ran it:
    lend to everyone for the burn-in step, then the gym's equal-TPR thresholds of the current population
    (re-computed after every loan; a denial leaves the population, hence the thresholds, unchanged)."""
    accept = gym_equal_opportunity_accept_prob(state.score_dist, params)
    lend = _lend_with_prob(key, accept, state)
    return jnp.where(state.time < GYM_BURNIN_STEPS, 1, lend).astype(jnp.int32)


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


def policy_from_act(act, params) -> LendingPolicy:
    """A LendingPolicy from any algorithm's batched act function ``act(params, obs (B, ...), key) ->
    actions (B,)`` (``experiment.policy_for_eval`` gives one for a trained run): it decides from the
    observation alone, never from the simulator's state."""

    def policy(key, obs, state, env_params):
        return act(params, obs[None], key)[0].astype(jnp.int32)

    return policy
