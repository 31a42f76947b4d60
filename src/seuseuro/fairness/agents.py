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

The other two fairness environments' baselines (their action tables depend on the env instance, so
each is a factory ``make(env) -> policy``):

- attention allocation: :func:`uniform_allocator` (units spread evenly) and :func:`greedy_allocator`
  (ml-fairness-gym's greedy allocator, on the incidents it has *discovered*: the runaway feedback loop
  of Ensign et al. 2018 that D'Amour et al. 2020 section 5.2 reproduce);
- college admission: :func:`fixed_threshold_officer` (the threshold that maximizes accuracy if nobody
  games: ml-fairness-gym's naive jury) and :func:`robust_threshold_officer` (the Stackelberg threshold
  that anticipates gaming at the known costs: Hardt et al. 2016, whose social cost Milli et al. 2019
  measure).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp

from seuseuro.envs.fairness.admission import AdmissionParams, AdmissionState, CollegeAdmissionEnv
from seuseuro.envs.fairness.attention import AttentionAllocationEnv, AttentionParams, AttentionState
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


class ActPolicy(eqx.Module):
    """A learned policy as a pytree: ``params`` are traced arguments of the rollout programs (``rollout.py``),
    not constants baked into them, so auditing several seeds or runs of one architecture compiles the
    simulation once (it compiled once per policy: ~4.6 s of CPU each for Lending, issue 9)."""

    act: Callable = eqx.field(static=True)
    params: Any

    def __call__(self, key, obs, state, env_params):
        return self.act(self.params, obs[None], key)[0].astype(jnp.int32)


def policy_from_act(act, params) -> LendingPolicy:
    """A LendingPolicy from any algorithm's batched act function ``act(params, obs (B, ...), key) ->
    actions (B,)`` (``experiment.policy_for_eval`` gives one for a trained run): it decides from the
    observation alone, never from the simulator's state."""
    return ActPolicy(act, params)


# --- attention allocation -------------------------------------------------------------------------
AttentionPolicy = Callable[[jax.Array, jax.Array, AttentionState, AttentionParams], jax.Array]
GREEDY_EPSILON = 0.1  # share of steps the greedy allocator explores with a uniform allocation (epsilon-greedy)


def allocation_action(allocations: jax.Array, counts: jax.Array) -> jax.Array:
    """() index of the row of ``allocations`` (A, K) equal to ``counts`` (K,): the env's action for it."""
    return jnp.argmax(jnp.all(allocations == counts[None, :], axis=1)).astype(jnp.int32)


def even_counts(key: jax.Array, num_sites: int, num_units: int) -> jax.Array:
    """(K,) units per site as even as possible, the remainder on distinct sites drawn at random."""
    rank = jax.random.permutation(key, num_sites)
    return (num_units // num_sites + (rank < num_units % num_sites)).astype(jnp.int32)


def greedy_counts(estimate: jax.Array, num_units: int, miss_prob: float, key: jax.Array) -> jax.Array:
    """(K,) units that maximize expected discoveries if incidents arrive at rates ``estimate`` (K,):
    each unit goes to the site with the largest marginal gain ``estimate * miss^n * (1 - miss)``, which
    is optimal because the gain falls with every unit already there. Ties are broken at random."""
    jitter = 1e-6 * jax.random.uniform(key, estimate.shape)

    def add_unit(_, counts):
        gain = (estimate + jitter) * miss_prob ** counts.astype(jnp.float32)
        return counts + jax.nn.one_hot(jnp.argmax(gain), estimate.shape[0], dtype=jnp.int32)

    return jax.lax.fori_loop(0, num_units, add_unit, jnp.zeros(estimate.shape, jnp.int32))


def uniform_allocator(env: AttentionAllocationEnv) -> AttentionPolicy:
    """Spread the units evenly over the sites every step (the remainder to random sites)."""

    def policy(key, obs, state, params):
        return allocation_action(env.allocations, even_counts(key, env.num_sites, env.num_units))

    return policy


def greedy_allocator(env: AttentionAllocationEnv, epsilon: float = GREEDY_EPSILON) -> AttentionPolicy:
    """Allocate greedily to the sites with the most *discovered* incidents (the env's exponentially
    weighted window of discovered counts: what the agent has observed, never the true rates), exploring
    with an even allocation a share ``epsilon`` of the steps. Discoveries only happen where units are,
    so a site that gets none looks quiet and keeps getting none: the feedback loop the audit measures."""

    def policy(key, obs, state, params):
        k_explore, k_even, k_tie = jax.random.split(key, 3)
        greedy = greedy_counts(state.window_discovered, env.num_units, params.miss_prob, k_tie)
        explore = jax.random.uniform(k_explore) < epsilon
        counts = jnp.where(explore, even_counts(k_even, env.num_sites, env.num_units), greedy)
        return allocation_action(env.allocations, counts)

    return policy


# --- college admission ----------------------------------------------------------------------------
AdmissionPolicy = Callable[[jax.Array, jax.Array, AdmissionState, AdmissionParams], jax.Array]


def _prob_score_at_least(cutoff: jax.Array, mu: jax.Array, sigma: jax.Array) -> jax.Array:
    """P(x >= cutoff) for x = clip(N(mu, sigma), 0, 1), the env's true scores (clipping puts mass on 0 and 1)."""
    tail = 1.0 - jax.scipy.stats.norm.cdf((cutoff - mu) / sigma)
    return jnp.where(cutoff <= 0.0, 1.0, jnp.where(cutoff > 1.0, 0.0, tail))


def expected_admission_reward(thresholds: jax.Array, params: AdmissionParams, strategic: bool) -> jax.Array:
    """(M,) expected reward per applicant, P(admit and eligible) - P(admit and not eligible), of each
    published threshold (M,), when applicants game it at the env's costs (``strategic``) or not.

    A group-g applicant with true score x is admitted iff x >= t - 1 / cost_g under gaming (raising the
    score by t - x costs cost_g (t - x), worth it up to the benefit 1), iff x >= t without; eligible iff
    x >= (1 + factor) mu_g.
    """
    reach = jnp.where(strategic, 1.0 / params.group_cost, 0.0)  # (2,)
    admit_cut = thresholds[:, None] - reach[None, :]  # (M, 2)
    eligible_cut = (1.0 + params.true_threshold_factor) * params.mu  # (2,)
    admitted = _prob_score_at_least(admit_cut, params.mu, params.sigma)
    admitted_eligible = _prob_score_at_least(jnp.maximum(admit_cut, eligible_cut), params.mu, params.sigma)
    per_group = admitted_eligible - (admitted - admitted_eligible)  # (M, 2)
    return per_group @ params.mix_weight


def _best_threshold_officer(env: CollegeAdmissionEnv, strategic: bool) -> AdmissionPolicy:
    def policy(key, obs, state, params):
        thresholds = env.threshold(jnp.arange(env.num_thresholds))
        return jnp.argmax(expected_admission_reward(thresholds, params, strategic)).astype(jnp.int32)

    return policy


def fixed_threshold_officer(env: CollegeAdmissionEnv) -> AdmissionPolicy:
    """Publish the threshold that maximizes the expected reward if applicants reported their true
    scores (ml-fairness-gym's naive jury): gaming then admits the ineligible who can afford it."""
    return _best_threshold_officer(env, strategic=False)


def robust_threshold_officer(env: CollegeAdmissionEnv) -> AdmissionPolicy:
    """Publish the threshold that maximizes the expected reward *given* that applicants game it at the
    known costs (Hardt et al. 2016's Stackelberg classifier). It raises the bar by what the cheap group
    can gain, which the costly group cannot: Milli et al. 2019's social cost of strategic classification."""
    return _best_threshold_officer(env, strategic=True)


# --- the registry the audit command reads ---------------------------------------------------------
BASELINE_ALLOCATORS: dict[str, Callable[[AttentionAllocationEnv], AttentionPolicy]] = {
    "uniform": uniform_allocator,
    "greedy": greedy_allocator,
}
BASELINE_OFFICERS: dict[str, Callable[[CollegeAdmissionEnv], AdmissionPolicy]] = {
    "fixed-threshold": fixed_threshold_officer,
    "robust-threshold": robust_threshold_officer,
}
BASELINES_BY_ENV: dict[str, tuple[str, ...]] = {
    "lending": tuple(BASELINE_LENDERS),
    "attention": tuple(BASELINE_ALLOCATORS),
    "admission": tuple(BASELINE_OFFICERS),
}

_DESCRIPTIONS: dict[str, dict[str, str]] = {
    "max-utility": {"rule": "lend iff p(repay) * interest - (1 - p(repay)) > 0", "source": "Liu et al. 2018"},
    "equal-opportunity": {
        "rule": "per-group randomized thresholds, one shared TPR, max expected profit",
        "source": "Hardt et al. 2016; D'Amour et al. 2020",
    },
    "equal-opportunity-frozen": {
        "rule": "equal-opportunity thresholds of the initial population, never updated",
        "source": "fair-at-deployment baseline (D'Amour et al. 2020, section 2)",
    },
    "uniform": {"rule": "units spread evenly over the sites every step", "source": "ml-fairness-gym"},
    "greedy": {
        "rule": f"units greedily to the sites with most discovered incidents, {GREEDY_EPSILON:.0%} uniform exploration",
        "source": "ml-fairness-gym's greedy allocator; Ensign et al. 2018; D'Amour et al. 2020 section 5.2",
    },
    "fixed-threshold": {
        "rule": "threshold of max expected reward if nobody games (naive jury)",
        "source": "ml-fairness-gym college admission; Milli et al. 2019",
    },
    "robust-threshold": {
        "rule": "threshold of max expected reward under gaming at the known costs (Stackelberg)",
        "source": "Hardt et al. 2016 (strategic classification); Milli et al. 2019",
    },
}


def describe(name: str) -> dict[str, Any]:
    """One-line description of a baseline, for audit reports."""
    return _DESCRIPTIONS[name]
