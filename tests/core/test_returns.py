"""GAE against values worked out by hand (gamma 0.9, lambda 0.8 => gamma*lambda = 0.72)."""

import jax.numpy as jnp
import numpy as np
import pytest

from seuseuro.core.returns import compute_gae, discounted_returns

R = jnp.array([1.0, 1.0, 1.0])
V = jnp.array([0.5, 0.4, 0.3])
V_NEXT = jnp.array([0.4, 0.3, 0.2])
NO = jnp.array([False, False, False])
AT1 = jnp.array([False, True, False])


def test_gae_without_episode_end():
    # deltas: 1 + .9*.4 - .5 = .86, 1 + .9*.3 - .4 = .87, 1 + .9*.2 - .3 = .88
    adv, ret = compute_gae(R, V, V_NEXT, NO, NO, 0.9, 0.8)
    expected = [0.86 + 0.72 * (0.87 + 0.72 * 0.88), 0.87 + 0.72 * 0.88, 0.88]
    np.testing.assert_allclose(adv, expected, rtol=1e-6)
    np.testing.assert_allclose(ret, np.array(expected) + np.array(V), rtol=1e-6)


def test_gae_termination_does_not_bootstrap():
    # t=1 terminated: delta_1 = 1 - .4 = .6 and the recursion is cut there.
    adv, _ = compute_gae(R, V, V_NEXT, AT1, NO, 0.9, 0.8)
    np.testing.assert_allclose(adv, [0.86 + 0.72 * 0.6, 0.6, 0.88], rtol=1e-6)


def test_gae_truncation_bootstraps_but_cuts_the_recursion():
    # t=1 truncated: delta_1 = 1 + .9 * V(s'_1) - .4 = .87 (bootstrapped), A_1 = .87 (cut).
    adv, _ = compute_gae(R, V, V_NEXT, NO, AT1, 0.9, 0.8)
    np.testing.assert_allclose(adv, [0.86 + 0.72 * 0.87, 0.87, 0.88], rtol=1e-6)


def test_gae_terminated_and_truncated_together_is_terminal():
    adv, _ = compute_gae(R, V, V_NEXT, AT1, AT1, 0.9, 0.8)
    assert adv[1] == pytest.approx(0.6)


def test_gae_batched_over_envs_matches_per_env():
    r = jnp.stack([R, R * 2], axis=1)
    v = jnp.stack([V, V], axis=1)
    nv = jnp.stack([V_NEXT, V_NEXT], axis=1)
    term = jnp.stack([NO, AT1], axis=1)
    adv, _ = compute_gae(r, v, nv, term, jnp.zeros_like(term), 0.9, 0.8)
    single, _ = compute_gae(R * 2, V, V_NEXT, AT1, NO, 0.9, 0.8)
    np.testing.assert_allclose(adv[:, 1], single, rtol=1e-6)


def test_discounted_returns_are_discounted_sums():
    # lambda = 1: G_2 = 1 + .9*.2, G_1 = 1 + .9*G_2, G_0 = 1 + .9*G_1
    g2 = 1 + 0.9 * 0.2
    g1 = 1 + 0.9 * g2
    np.testing.assert_allclose(discounted_returns(R, V_NEXT, NO, NO, 0.9), [1 + 0.9 * g1, g1, g2], rtol=1e-6)
    # truncated at t=1: G_1 = 1 + .9 * V(s'_1); terminated at t=1: G_1 = 1
    np.testing.assert_allclose(discounted_returns(R, V_NEXT, NO, AT1, 0.9), [1 + 0.9 * 1.27, 1.27, g2], rtol=1e-6)
    np.testing.assert_allclose(discounted_returns(R, V_NEXT, AT1, NO, 0.9), [1.9, 1.0, g2], rtol=1e-6)


def test_q_lambda_returns_by_hand():
    from seuseuro.core.returns import q_lambda_returns

    # gamma .9, lambda .5, next_max_q = V_NEXT = [.4, .3, .2]
    # G_2 = 1 + .9 * .2 = 1.18 (end of rollout: bootstrap)
    # G_1 = 1 + .9 * (.5 * .3 + .5 * 1.18) = 1.666
    # G_0 = 1 + .9 * (.5 * .4 + .5 * 1.666) = 1.9297
    np.testing.assert_allclose(q_lambda_returns(R, V_NEXT, NO, NO, 0.9, 0.5), [1.9297, 1.666, 1.18], rtol=1e-6)
    # truncated at t=1: G_1 = 1 + .9 * .3 = 1.27; G_0 = 1 + .9 * (.2 + .635) = 1.7515
    np.testing.assert_allclose(q_lambda_returns(R, V_NEXT, NO, AT1, 0.9, 0.5), [1.7515, 1.27, 1.18], rtol=1e-6)
    # terminated at t=1: G_1 = 1; G_0 = 1 + .9 * (.2 + .5) = 1.63
    np.testing.assert_allclose(q_lambda_returns(R, V_NEXT, AT1, NO, 0.9, 0.5), [1.63, 1.0, 1.18], rtol=1e-6)


def test_q_lambda_limits_are_one_step_and_monte_carlo():
    from seuseuro.core.returns import q_lambda_returns

    np.testing.assert_allclose(
        q_lambda_returns(R, V_NEXT, AT1, NO, 0.9, 0.0), 1 + 0.9 * np.array([0.4, 0.0, 0.2]), rtol=1e-6
    )
    for term, trunc in ((NO, NO), (AT1, NO), (NO, AT1)):
        np.testing.assert_allclose(
            q_lambda_returns(R, V_NEXT, term, trunc, 0.9, 1.0),
            discounted_returns(R, V_NEXT, term, trunc, 0.9),
            rtol=1e-6,
        )
