"""Baseline lenders: thresholds against hand-computed values; compiled rollout reproduces the published setting."""

import jax
import jax.numpy as jnp
import numpy as np

from seuseuro.envs.fairness import lending_params
from seuseuro.fairness import metrics as fm
from seuseuro.fairness.agents import (
    BASELINE_LENDERS,
    accept_prob_for_tpr,
    equal_opportunity_accept_prob,
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
