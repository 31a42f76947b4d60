"""PPO losses and distributions against hand-computed numbers."""

import math

import jax.numpy as jnp
import numpy as np
import pytest

from seuseuro.core import distributions as D
from seuseuro.core.losses import (
    approx_kl,
    clip_fraction,
    clipped_surrogate_loss,
    clipped_surrogate_objective,
    normalize_advantages,
    value_loss,
)

RATIO = jnp.array([0.5, 1.0, 1.5])
ADV = jnp.array([1.0, -1.0, 2.0])


def test_clipped_surrogate_takes_the_pessimistic_term():
    # clip(r) = [.8, 1, 1.2]; min(rA, clip(r)A) = [.5, -1, 2.4]
    np.testing.assert_allclose(clipped_surrogate_objective(RATIO, ADV, 0.2), [0.5, -1.0, 2.4], rtol=1e-6)
    loss = clipped_surrogate_loss(jnp.log(RATIO), ADV, 0.2)
    assert float(loss) == pytest.approx(-(0.5 - 1.0 + 2.4) / 3, rel=1e-6)


def test_clipped_surrogate_negative_advantage_low_ratio_is_clipped():
    # r = .5, A = -1: rA = -.5, clip(r)A = -.8 -> min = -.8
    assert float(clipped_surrogate_objective(jnp.array(0.5), jnp.array(-1.0), 0.2)) == pytest.approx(-0.8)


def test_decoupled_clip_uses_the_higher_upper_bound():
    # DAPO clip-higher: upper bound 1 + .28 = 1.28 for A > 0
    assert float(clipped_surrogate_objective(jnp.array(1.5), jnp.array(1.0), 0.2, 0.28)) == pytest.approx(1.28)


def test_value_loss_plain_and_clipped():
    v, old, target = jnp.array([1.0, 2.0]), jnp.array([0.0, 0.0]), jnp.array([0.0, 3.0])
    assert float(value_loss(v, old, target, None)) == pytest.approx(0.5 * (1 + 1) / 2)
    # clipped values [.5, .5] -> squared errors [.25, 6.25]; max with [1, 1] -> [1, 6.25]
    assert float(value_loss(v, old, target, 0.5)) == pytest.approx(0.5 * (1 + 6.25) / 2)


def test_clip_fraction_and_kl():
    log_ratio = jnp.log(RATIO)
    assert float(clip_fraction(log_ratio, 0.2)) == pytest.approx(2 / 3)
    expected = np.mean([(r - 1) - math.log(r) for r in (0.5, 1.0, 1.5)])
    assert float(approx_kl(log_ratio)) == pytest.approx(expected, rel=1e-6)


def test_normalize_advantages():
    out = normalize_advantages(jnp.array([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(out, np.array([-1, 0, 1]) / np.std([1, 2, 3]), rtol=1e-5)


def test_categorical():
    logits = jnp.array([0.0, math.log(3.0)])  # probabilities .25, .75
    assert float(D.categorical_log_prob(logits, jnp.array(1))) == pytest.approx(math.log(0.75), rel=1e-6)
    assert float(D.categorical_entropy(logits)) == pytest.approx(-(0.25 * math.log(0.25) + 0.75 * math.log(0.75)))


def test_gaussian():
    half_log_2pi = 0.5 * math.log(2 * math.pi)
    lp = D.gaussian_log_prob(jnp.zeros(1), jnp.zeros(1), jnp.ones(1))
    assert float(lp) == pytest.approx(-0.5 - half_log_2pi, rel=1e-6)
    # two dims, std e^1: sum of two 1-D densities
    lp2 = D.gaussian_log_prob(jnp.zeros(2), jnp.ones(2), jnp.array([0.0, math.e]))
    assert float(lp2) == pytest.approx(2 * (-1 - half_log_2pi) - 0.5, rel=1e-6)
    assert float(D.gaussian_entropy(jnp.zeros(3))) == pytest.approx(3 * (half_log_2pi + 0.5), rel=1e-6)


def test_sampling_from_noise_by_hand():
    logits = jnp.log(jnp.array([0.25, 0.75]))
    # Gumbel-max: argmax(logits + g); g = 0 is the mode, a large g on action 0 picks it.
    assert int(D.categorical_sample_from_gumbel(logits, jnp.zeros(2))) == 1
    assert int(D.categorical_sample_from_gumbel(logits, jnp.array([1.2, 0.0]))) == 0  # -1.386 + 1.2 > -0.288
    assert int(D.categorical_sample_from_gumbel(logits, jnp.array([1.0, 0.0]))) == 1  # -0.386 < -0.288
    # Gaussian: mean + exp(log_std) * z.
    x = D.gaussian_sample_from_normal(jnp.array([1.0, -1.0]), jnp.log(jnp.array([2.0, 0.5])), jnp.array([1.0, -2.0]))
    np.testing.assert_allclose(np.asarray(x), [3.0, -2.0], rtol=1e-6)


def test_gumbel_max_draws_follow_the_softmax():
    import jax

    logits = jnp.log(jnp.array([0.2, 0.3, 0.5]))
    gumbel = jax.random.gumbel(jax.random.PRNGKey(0), (20_000, 3))
    counts = np.bincount(np.asarray(D.categorical_sample_from_gumbel(logits, gumbel)), minlength=3) / 20_000
    np.testing.assert_allclose(counts, [0.2, 0.3, 0.5], atol=0.015)


def test_masked_losses_equal_the_losses_of_the_masked_in_samples():
    from seuseuro.core.losses import masked_mean

    mask = jnp.array([1.0, 0.0, 1.0])
    assert float(masked_mean(jnp.array([1.0, 100.0, 3.0]), mask)) == pytest.approx(2.0)
    assert float(masked_mean(jnp.array([1.0, 2.0]), jnp.zeros(2))) == 0.0  # nothing masked in
    keep = np.array([0, 2])
    adv = jnp.array([1.0, 50.0, 3.0])
    np.testing.assert_allclose(normalize_advantages(adv, mask=mask)[keep], normalize_advantages(adv[keep]), rtol=1e-6)
    log_ratio = jnp.log(RATIO)
    assert float(clipped_surrogate_loss(log_ratio, ADV, 0.2, mask)) == pytest.approx(
        float(clipped_surrogate_loss(log_ratio[keep], ADV[keep], 0.2)), rel=1e-6
    )
    v, old, target = jnp.array([1.0, 9.0, 2.0]), jnp.array([0.5, 0.0, 2.5]), jnp.array([2.0, -9.0, 1.0])
    for clip in (None, 0.2):
        assert float(value_loss(v, old, target, clip, mask)) == pytest.approx(
            float(value_loss(v[keep], old[keep], target[keep], clip)), rel=1e-6
        )
    assert float(approx_kl(log_ratio, mask)) == pytest.approx(float(approx_kl(log_ratio[keep])), rel=1e-6)
    # 0.5 and 1.5 both leave [0.8, 1.2]; the 1.0 is masked out
    assert float(clip_fraction(log_ratio, 0.2, mask)) == pytest.approx(1.0)


def test_masked_out_nan_or_inf_does_not_reach_the_mean():
    from seuseuro.core.losses import masked_mean

    mask = jnp.array([1.0, 0.0, 1.0])
    assert float(masked_mean(jnp.array([2.0, jnp.nan, 4.0]), mask)) == 3.0
    assert float(masked_mean(jnp.array([2.0, jnp.inf, 4.0]), mask)) == 3.0
