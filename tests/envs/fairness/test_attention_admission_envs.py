"""AttentionAllocationEnv and CollegeAdmissionEnv against steps worked out by hand."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from seuseuro.envs.fairness import FAIRNESS_ENVS, AttentionAllocationEnv, CollegeAdmissionEnv, attention_params
from seuseuro.envs.fairness.admission import AdmissionState
from seuseuro.envs.fairness.attention import all_allocations, discovery_rate_gap
from seuseuro.errors import UserError


def test_registered_and_protocol():
    for env_id in ("AttentionAllocation-v0", "CollegeAdmission-v0"):
        env = FAIRNESS_ENVS[env_id]()
        params = env.default_params
        obs, state = env.reset(jax.random.PRNGKey(0), params)
        obs, state, reward, term, trunc, info = env.step(jax.random.PRNGKey(1), state, 0, params)
        assert obs.shape == env.observation_space(params).shape and "cost" in info


def test_allocations_enumerate_every_split_of_the_units():
    table = all_allocations(5, 6)
    assert table.shape == (210, 5)  # C(10, 4)
    assert (table.sum(1) == 6).all() and len({tuple(r) for r in table}) == 210


def test_attention_step_by_hand():
    env = AttentionAllocationEnv()
    params = attention_params(env, miss_prob=0.0, dynamic_rate=0.5)
    _, state = env.reset_env(jax.random.PRNGKey(0), params)
    action = int(np.where((np.asarray(env.allocations) == [6, 0, 0, 0, 0]).all(1))[0][0])
    _, state, reward, _, info = env.step_env(jax.random.PRNGKey(3), state, action, params)
    occurred, discovered = np.asarray(info["occurred"]), np.asarray(info["discovered"])
    # miss probability 0: everything at the attended site is found, nothing elsewhere
    assert discovered[0] == occurred[0] and (discovered[1:] == 0).all() and float(reward) == occurred[0]
    np.testing.assert_allclose(info["missed"], occurred - discovered)
    # attended site: 8 - 0.5 * 6 = 5; unattended: +0.5
    np.testing.assert_allclose(state.rates, [5.0, 6.5, 4.5, 3.5, 2.0])
    np.testing.assert_allclose(env.get_obs(state), discovered)


def test_discovery_rate_gap_by_hand():
    gap = discovery_rate_gap(jnp.asarray([1.0, 0.0, 2.0]), jnp.asarray([2.0, 1.0, 0.0]))
    assert float(gap) == pytest.approx(0.5)  # 1/2 vs 0/1; the site with no incidents is left out
    assert float(discovery_rate_gap(jnp.asarray([1.0, 0.0]), jnp.asarray([2.0, 0.0]))) == 0.0


def test_attention_bad_params():
    env = AttentionAllocationEnv()
    with pytest.raises(UserError, match="initial_rates"):
        attention_params(env, initial_rates=jnp.asarray([1.0, 2.0]))
    with pytest.raises(UserError, match="miss_prob"):
        attention_params(env, miss_prob=1.5)


def test_admission_gaming_by_hand():
    env = CollegeAdmissionEnv(num_applicants=4)
    params = env.default_params  # costs (5, 10); eligible iff x >= 1.1 mu: 0.88 (g1), 0.66 (g2)
    zeros = jnp.zeros(2)
    state = AdmissionState(
        score=jnp.asarray([0.5, 0.75, 0.85, 0.95]),
        group=jnp.asarray([0, 1, 0, 1], jnp.int32),
        last_obs=jnp.zeros(5),
        window_tp=zeros,
        window_pos=zeros,
        time=0,
    )
    # threshold 16 / 20 = 0.8: applicant 0 would pay 5 * 0.3 = 1.5 > 1 (stays out); applicant 1 pays
    # 10 * 0.05 = 0.5 <= 1 (games in); 2 and 3 are above it.
    obs, _, reward, _, info = env.step_env(jax.random.PRNGKey(0), state, 16, params)
    np.testing.assert_array_equal(info["admitted"], [False, True, True, True])
    np.testing.assert_array_equal(info["manipulated"], [False, True, False, False])
    np.testing.assert_array_equal(info["eligible"], [False, True, False, True])
    np.testing.assert_allclose(info["burden"], [0, 0.5, 0, 0], atol=1e-6)
    assert float(reward) == pytest.approx((2 - 1) / 4)
    # obs: threshold, admit rate per group (1/2, 2/2), precision 2/3, gamed 1/4
    np.testing.assert_allclose(obs, [0.8, 0.5, 1.0, 2 / 3, 0.25], atol=1e-6)
    # without gaming, applicant 1 stays out
    _, _, _, _, info = env.step_env(jax.random.PRNGKey(0), state, 16, params.replace(gaming=False))
    np.testing.assert_array_equal(info["admitted"], [False, False, True, True])
