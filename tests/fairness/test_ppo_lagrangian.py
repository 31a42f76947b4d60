"""PPO-Lagrangian: the multiplier's dynamics, any reported cost, and the fairness learning test."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from seuseuro.algos import ppo
from seuseuro.algos import ppo_lagrangian as pl
from seuseuro.envs.fairness import LendingEnv, lending_params
from seuseuro.envs.registry import JaxEnv
from seuseuro.errors import UserError


def _lending(**overrides):
    params = lending_params(**{"max_steps_in_episode": 1000, "observe_group_stats": True, **overrides})
    return JaxEnv("Lending-v0", LendingEnv(), params, "fairness")


def test_multiplier_rises_above_the_limit_falls_below_and_stays_in_bounds():
    cfg = pl.Config(cost_limit=0.1, multiplier_lr=0.5, multiplier_max=2.0)
    lam = jnp.float32(0.0)
    lam = pl.update_multiplier(lam, jnp.float32(0.3), cfg)  # violated by 0.2 -> +0.1
    np.testing.assert_allclose(lam, 0.1, rtol=1e-6)
    lam = pl.update_multiplier(lam, jnp.float32(0.04), cfg)  # satisfied by 0.06 -> -0.03
    np.testing.assert_allclose(lam, 0.07, rtol=1e-5)
    assert float(pl.update_multiplier(jnp.float32(0.02), jnp.float32(0.0), cfg)) == 0.0  # projected: lambda >= 0
    assert float(pl.update_multiplier(jnp.float32(1.9), jnp.float32(1.0), cfg)) == 2.0  # clipped at max


@pytest.mark.slow
@pytest.mark.quick_compile  # ~90% of it compiling at the library's settings (issue 9)
def test_multiplier_tracks_the_constraint_during_training(learning_seed):
    # Constrain the lending rate itself (info["lent"]): any reported cost can be constrained.
    # A fresh policy lends half the time (> 0.2), so lambda rises; the policy then learns to lend
    # less, the cost drops under the limit and lambda falls back.
    config = pl.Config(
        ppo=ppo.Config(
            **{**pl.LENDING_PPO, "num_envs": 8, "num_steps": 32, "total_steps": 40 * 256, "learning_rate": 3e-3}
        ),
        cost_limit=0.2,
        multiplier_lr=2.0,
        cost_key="lent",
    )
    trainer = pl.make_train(config, _lending(), num_seeds=1, updates_per_chunk=40)
    _, metrics = trainer.run_chunk(trainer.init(jax.random.split(jax.random.PRNGKey(learning_seed), 1)), 40)
    lam, cost = np.asarray(metrics["train/multiplier"][0]), np.asarray(metrics["rollout/cost"][0])
    # Margins from a 10-seed sweep (SEUSEURO_TEST_SEED=0..9, jax 0.11.2): cost[0] 0.43-0.54, lambda's peak
    # 1.6-2.9, cost's low after the peak 0.00-0.04, mean cost over updates 20-40 0.08-0.21 (a Lagrangian
    # hovers at its limit, so "< 0.25 over the last 5 updates" failed one seed in ten by noise alone).
    # Compiled quick (conftest.py), seeds 0-4: cost[0] 0.47-0.52, peak 1.9-2.9, low 0.00-0.02, late mean
    # 0.08-0.20, lambda back to 0 in all five.
    assert cost[0] > config.cost_limit + 0.1 and lam[:3].tolist() == sorted(lam[:3].tolist()) and lam[2] > 0
    assert lam.max() > 0.3
    assert cost[5:20].min() < config.cost_limit / 2  # the policy learns to lend less, well under the limit ...
    assert cost[20:].mean() < config.cost_limit + 0.1  # ... and then stays near it
    assert lam[lam.argmax() :].min() < 0.5 * lam.max()  # the multiplier comes back down from its peak (to 0)


def test_unreported_cost_and_bad_config_are_user_errors():
    with pytest.raises(UserError, match="reports no 'risk'"):
        pl.make_train(pl.Config(cost_key="risk"), _lending())
    with pytest.raises(UserError, match="cost-limit"):
        pl.Config(cost_limit=-1.0)


def _sampled_action(p, obs, key):  # sampled, as trained; one function for every policy: one compiled rollout
    return ppo.sample_action(p, obs, key)[0]


def _measured_gap(policy_tree, params, seeds=4, steps=2000):
    from seuseuro.fairness import metrics as fm
    from seuseuro.fairness.agents import policy_from_act
    from seuseuro.fairness.rollout import simulate_lending

    gaps = []
    for s in range(jax.tree.leaves(policy_tree)[0].shape[0]):
        policy = policy_from_act(_sampled_action, jax.tree.map(lambda x, s=s: x[s], policy_tree))
        trace = simulate_lending(policy, params, num_steps=steps, num_seeds=seeds, seed=100 + s)
        gaps += [fm.equal_opportunity_difference(trace.log(i)) for i in range(seeds)]
    return float(np.mean(gaps))


@pytest.mark.slow
def test_lagrangian_keeps_the_tpr_gap_under_the_limit_where_plain_ppo_does_not(learning_seed):
    # Three training seeds (vmapped) pooled, judged against plain PPO on the same seeds. One seed alone was
    # not enough: over 10 seeds (jax 0.11.2) its Lagrangian gap was 0.03-0.06 in nine and 0.12 in one (it
    # hovers at the 0.05 limit, so "< 0.05" failed half of them). Pooled, over SEUSEURO_TEST_SEED=0..9:
    # plain 0.12-0.21, Lagrangian 0.027-0.068, ratio 0.15-0.44 (margins still ~1x the spread: see issue 9).
    env = _lending()
    ppo_config = ppo.Config(**{**pl.LENDING_PPO, "total_steps": 100 * 1024})
    key = jax.random.split(jax.random.PRNGKey(learning_seed), 3)

    plain = ppo.make_train(ppo_config, env, num_seeds=3, updates_per_chunk=100)
    plain_state, _ = plain.run_chunk(plain.init(key), 100)
    config = pl.Config(ppo=ppo_config, cost_limit=0.05, multiplier_lr=2.0)
    lagrangian = pl.make_train(config, env, num_seeds=3, updates_per_chunk=100)
    lag_state, metrics = lagrangian.run_chunk(lagrangian.init(key), 100)

    plain_gap = _measured_gap(plain_state.policy, env.params)
    lag_gap = _measured_gap(lag_state.agent.actor_critic, env.params)
    assert plain_gap > 0.1, plain_gap  # profit alone opens the gap (max-utility-like thresholds)
    assert lag_gap < 2 * config.cost_limit, lag_gap  # the constraint holds it near its limit ...
    assert lag_gap < plain_gap / 2, (lag_gap, plain_gap)  # ... and closes most of plain PPO's gap
    assert (np.asarray(metrics["train/multiplier"]).max(axis=1) > 0.0).all()


@pytest.mark.parametrize("env_id", ["AttentionAllocation-v0", "CollegeAdmission-v0"])
def test_smoke_on_the_other_fairness_envs(env_id, learning_seed):  # two updates: no learning asserted
    from seuseuro.envs.registry import make

    config = pl.Config(ppo=ppo.Config(total_steps=2 * 256, num_envs=8, num_steps=32, num_epochs=1), cost_limit=0.05)
    trainer = pl.make_train(config, make(env_id), num_seeds=1, updates_per_chunk=2)
    _, metrics = trainer.run_chunk(trainer.init(jax.random.split(jax.random.PRNGKey(learning_seed), 1)), 2)
    cost = np.asarray(metrics["rollout/cost"])
    assert np.isfinite(cost).all() and (cost >= 0).all()
    assert np.isfinite(np.asarray(metrics["train/multiplier"])).all()
