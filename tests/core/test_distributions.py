"""Tanh-squashed Gaussian (SAC) against hand-computed numbers and a numeric change of variables."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from seuseuro.core import distributions as D

U = math.atanh(0.5)  # 0.549306: the pre-tanh value that squashes to 0.5


def test_sample_and_log_prob_by_hand():
    # mean 0, std 1, noise atanh(.5): u = .549306, tanh(u) = .5
    # log N(u) = -.5 * .301737 - .918939 = -1.069808; log(1 - .25) = -.287682
    # log p(a) = -1.069808 + .287682 = -.782126 in [-1, 1]
    a, lp = D.tanh_gaussian_sample_and_log_prob(jnp.zeros(1), jnp.zeros(1), jnp.array([U]))
    assert float(a[0]) == pytest.approx(0.5, rel=1e-6)
    assert float(lp) == pytest.approx(-0.782126, abs=1e-5)
    # bounds [-2, 2]: action 1.0, density divided by the half-range 2: -.782126 - log 2 = -1.475273
    a, lp = D.tanh_gaussian_sample_and_log_prob(jnp.zeros(1), jnp.zeros(1), jnp.array([U]), -2.0, 2.0)
    assert float(a[0]) == pytest.approx(1.0, rel=1e-6)
    assert float(lp) == pytest.approx(-1.475273, abs=1e-5)
    # two independent dims: the log-probs add
    _, lp2 = D.tanh_gaussian_sample_and_log_prob(jnp.zeros(2), jnp.zeros(2), jnp.array([U, -U]))
    assert float(lp2) == pytest.approx(2 * -0.782126, abs=1e-5)


def test_mode_is_the_squashed_mean():
    # dim 0: tanh(0) = 0 -> middle of [-2, 2]; dim 1: tanh(U) = .5 -> -2 + .75 * (4 - -2) = 2.5
    mode = D.tanh_gaussian_mode(jnp.array([0.0, U]), -2.0, jnp.array([2.0, 4.0]))
    np.testing.assert_allclose(mode, [0.0, 2.5], rtol=1e-6)


def test_log_det_jacobian_is_stable_where_the_naive_form_is_not():
    u = jnp.array([20.0])
    naive = jnp.log(1.0 - jnp.tanh(u) ** 2)  # tanh(20) rounds to 1 in float32
    assert not np.isfinite(float(naive[0]))
    # 2 (log 2 - 20 - softplus(-40)) = 2 (.693147 - 20) = -38.613706
    assert float(D.tanh_log_det_jacobian(u)) == pytest.approx(-38.613706, rel=1e-6)
    # and equal to the naive form where that one is accurate
    u = jnp.array([-1.3, 0.2, 2.0])
    assert float(D.tanh_log_det_jacobian(u)) == pytest.approx(float(jnp.sum(jnp.log(1 - jnp.tanh(u) ** 2))), rel=1e-5)


def test_log_prob_matches_a_numeric_change_of_variables():
    mean, std, low, high = 0.3, 0.7, -2.0, 3.0
    # float64 reference: p_a(a) = p_u(u(a)) |du/da| with u(a) = atanh(2 (a - low) / (high - low) - 1),
    # du/da by central differences.
    a = np.linspace(low + 0.05, high - 0.05, 41)

    def u_of(x):
        return np.arctanh(2 * (x - low) / (high - low) - 1)

    h = 1e-6
    du_da = (u_of(a + h) - u_of(a - h)) / (2 * h)
    p_u = np.exp(-0.5 * ((u_of(a) - mean) / std) ** 2) / (std * math.sqrt(2 * math.pi))
    expected = np.log(p_u * du_da)
    got = jax.vmap(
        lambda x: D.tanh_gaussian_log_prob(jnp.array([mean]), jnp.log(jnp.array([std])), x[None], low, high)
    )(jnp.asarray(a, jnp.float32))
    np.testing.assert_allclose(got, expected, atol=2e-4)
    # the density integrates to 1 over the box (trapezoid on a fine grid; the tails beyond are ~0)
    grid = np.linspace(low + 1e-4, high - 1e-4, 20001)
    dens = np.exp(
        np.asarray(
            jax.vmap(
                lambda x: D.tanh_gaussian_log_prob(jnp.array([mean]), jnp.log(jnp.array([std])), x[None], low, high)
            )(jnp.asarray(grid, jnp.float32))
        )
    )
    assert np.trapezoid(dens, grid) == pytest.approx(1.0, abs=2e-3)


def test_sampled_log_prob_equals_log_prob_of_the_sampled_action():
    mean, log_std = jnp.array([0.1, -0.4]), jnp.array([-0.5, 0.2])
    normal = jax.random.normal(jax.random.PRNGKey(0), (64, 2))
    a, lp = jax.vmap(lambda z: D.tanh_gaussian_sample_and_log_prob(mean, log_std, z, -1.0, jnp.array([1.0, 3.0])))(
        normal
    )
    assert bool(jnp.all(a >= jnp.array([-1.0, -1.0]))) and bool(jnp.all(a <= jnp.array([1.0, 3.0])))
    again = jax.vmap(lambda x: D.tanh_gaussian_log_prob(mean, log_std, x, -1.0, jnp.array([1.0, 3.0])))(a)
    np.testing.assert_allclose(lp, again, atol=1e-3)
    # reparameterized: finite gradients w.r.t. the distribution's parameters
    grad = jax.grad(lambda m: D.tanh_gaussian_sample_and_log_prob(m, log_std, normal[0])[1])(mean)
    assert bool(jnp.all(jnp.isfinite(grad)))
