"""Baseline lenders: thresholds against hand-computed values; compiled rollout reproduces the published setting."""

import jax
import jax.numpy as jnp
import numpy as np

from seuseuro.envs.fairness import LendingEnv, lending_params
from seuseuro.envs.fairness.lending import replay_score_dists
from seuseuro.fairness import metrics as fm
from seuseuro.fairness.agents import (
    BASELINE_LENDERS,
    accept_prob_for_tpr,
    equal_opportunity_accept_prob,
    group_tpr,
    gym_equal_opportunity_accept_prob,
    gym_equal_opportunity_lender,
    gym_equal_opportunity_tpr_target,
    max_utility_accept_prob,
)
from seuseuro.fairness.rollout import simulate_lending

PARAMS = lending_params()


def test_max_utility_lends_where_2p_minus_1_is_positive():
    np.testing.assert_array_equal(max_utility_accept_prob(PARAMS)[0], [0, 0, 0, 1, 1, 1, 1])
    # at interest 0.5 the break-even is p = 2/3: only the 0.7 levels
    np.testing.assert_array_equal(max_utility_accept_prob(lending_params(interest_rate=0.5))[1], [0, 0, 0, 0, 0, 1, 1])


def test_accept_prob_for_tpr_fills_from_the_top():
    dist = jnp.asarray([0.1, 0.1, 0.2, 0.3, 0.3, 0.0, 0.0])
    # would-repay mass per level: .01 .02 .09 .18 .195 0 0 (total .495); TPR .5 needs .2475:
    # level 4 (.195) fully, level 3 for (.2475 - .195) / .18; empty top levels are above the threshold
    accept = accept_prob_for_tpr(dist, PARAMS.repay_prob, jnp.float32(0.5))
    np.testing.assert_allclose(accept, [0, 0, 0, 0.0525 / 0.18, 1, 1, 1], atol=1e-5)


def test_equal_opportunity_thresholds_on_the_initial_population_by_hand():
    # Group 1 (index 0) lends at levels 3-5: TPR = (.12 + .195 + .21) / .59 = .8898. Group 2 (index 1)
    # matches it: levels 3-4 (.375) plus (.8898 * .495 - .375) / .09 = .7273 of level 2.
    accept = equal_opportunity_accept_prob(PARAMS.initial_score_dist, PARAMS)
    np.testing.assert_allclose(accept[0], [0, 0, 0, 1, 1, 1, 1], atol=1e-5)
    np.testing.assert_allclose(accept[1], [0, 0, (0.525 / 0.59 * 0.495 - 0.375) / 0.09, 1, 1, 1, 1], atol=1e-4)
    pos = PARAMS.initial_score_dist * PARAMS.repay_prob
    tpr = (accept * pos).sum(1) / pos.sum(1)
    np.testing.assert_allclose(tpr[0], tpr[1], atol=1e-5)


def test_rollout_short_published_setting():
    trace = simulate_lending(BASELINE_LENDERS["max-utility"], PARAMS, num_steps=2000, num_seeds=3)
    assert trace.group.shape == (3, 2000) and trace.mean_score.shape == (3, 2001, 2)
    # max-utility never lends below level 3, and every loan is profitable in expectation
    assert not (trace.lent & (trace.score < 3)).any()
    np.testing.assert_allclose(trace.mean_score[:, 0], [[3.6, 2.6]] * 3, atol=1e-5)
    # cash bookkeeping: reward is +1 on repaid loans, -1 on defaults, 0 on denials
    expected = np.where(trace.lent, np.where(trace.repaid, 1.0, -1.0), 0.0)
    np.testing.assert_array_equal(trace.reward, expected)
    # equal-opportunity keeps the TPR gap small over a short horizon
    eo = simulate_lending(BASELINE_LENDERS["equal-opportunity"], PARAMS, num_steps=2000, num_seeds=3)
    gaps = [fm.equal_opportunity_difference(eo.log(s)) for s in range(3)]
    mu = [fm.equal_opportunity_difference(trace.log(s)) for s in range(3)]
    assert np.mean(gaps) < 0.06 < np.mean(mu)
    assert jax.numpy.all(jnp.asarray(eo.lent.sum()) > trace.lent.sum())


def test_gym_protocol_thresholds_on_the_initial_population_by_hand():
    # Same optimum as the exact lender above (TPR .525 / .59, group 2 lends .7273 of level 2), found by
    # the gym's bounded search on the 1e-6-smoothed corpus: equal up to its tolerance.
    np.testing.assert_allclose(
        gym_equal_opportunity_tpr_target(PARAMS.initial_score_dist, PARAMS), 0.525 / 0.59, atol=2e-5
    )
    accept = gym_equal_opportunity_accept_prob(PARAMS.initial_score_dist, PARAMS)
    np.testing.assert_allclose(accept[0], [0, 0, 0, 1, 1, 1, 1], atol=1e-4)
    np.testing.assert_allclose(accept[1], [0, 0, (0.525 / 0.59 * 0.495 - 0.375) / 0.09, 1, 1, 1, 1], atol=1e-4)


def test_gym_protocol_optimum_at_the_other_groups_kink_by_hand():
    # g1 = half level 3, half level 5: would-repay mass .3 + .35 = .65; g2 = half level 1, half level 5:
    # .1 + .35 = .45. Profit per unit of shared TPR: g1 level 5 .4/.7*.65 = .37, level 3 .2/.6*.65 = .22;
    # g2 level 5 .4/.7*.45 = .26, level 1 -.8/.2*.45 = -1.8. Past g2's kink (.35/.45 = 7/9) the sum
    # .22 - 1.8 < 0, before it > 0: the target is 7/9, g1 lends (7/9 * .65 - .35) / .3 of level 3.
    dist = jnp.asarray([[0, 0, 0, 0.5, 0, 0.5, 0], [0, 0.5, 0, 0, 0, 0.5, 0]], jnp.float32)
    np.testing.assert_allclose(gym_equal_opportunity_tpr_target(dist, PARAMS), 7 / 9, atol=2e-5)
    accept = gym_equal_opportunity_accept_prob(dist, PARAMS)
    np.testing.assert_allclose(accept[0, 3:], [(7 / 9 * 0.65 - 0.35) / 0.3, 1, 1, 1], atol=1e-4)
    # levels holding only the corpus' 1e-6 pseudo-mass are left out: the search's tolerance decides them
    np.testing.assert_allclose(accept[1, [1, 5]], [0, 1], atol=1e-4)
    exact = equal_opportunity_accept_prob(dist, PARAMS)
    np.testing.assert_allclose(group_tpr(exact, dist, PARAMS.repay_prob), [7 / 9, 7 / 9], atol=1e-5)


def test_gym_protocol_lends_to_everyone_during_burn_in_only():
    _, state = LendingEnv().reset_env(jax.random.PRNGKey(0), PARAMS)
    state = state.replace(group=jnp.int32(1), score=jnp.int32(0))  # level 0: never lent to afterwards
    key, obs = jax.random.PRNGKey(1), jnp.zeros(9)
    assert int(gym_equal_opportunity_lender(key, obs, state, PARAMS)) == 1
    assert int(gym_equal_opportunity_lender(key, obs, state.replace(time=1), PARAMS)) == 0


def test_target_tpr_is_equal_on_a_static_population_and_replay_matches_the_rollout():
    static = lending_params(shift=0.0)
    moving = simulate_lending(BASELINE_LENDERS["equal-opportunity"], PARAMS, num_steps=500, num_seeds=1)
    before = replay_score_dists(
        moving.initial_dist[0], moving.group[0], moving.score[0], moving.repaid[0], moving.lent[0], PARAMS.shift
    )
    np.testing.assert_allclose(before @ np.asarray(PARAMS.repay_prob), moving.mean_repay[0, :-1], atol=1e-5)
    # constant per-step targets, equal across groups: the aggregate target is equal too (no Simpson term)
    trace = simulate_lending(BASELINE_LENDERS["equal-opportunity"], static, num_steps=500, num_seeds=1)
    step_tpr = group_tpr(
        equal_opportunity_accept_prob(static.initial_score_dist, static), static.initial_score_dist, static.repay_prob
    )
    target = fm.cumulative_target_tpr(trace.log(0), np.broadcast_to(np.asarray(step_tpr), (500, 2)))
    np.testing.assert_allclose(target[-1, 0], target[-1, 1], atol=1e-6)
