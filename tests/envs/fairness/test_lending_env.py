"""LendingEnv dynamics against steps worked out by hand (ml-fairness-gym DelayedImpactEnv semantics)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from seuseuro.envs.fairness import FAIRNESS_ENVS, LendingEnv, LendingState, lending_params
from seuseuro.envs.fairness.lending import INITIAL_SCORE_DIST, REPAY_PROB, shift_score_mass
from seuseuro.errors import UserError

ENV = LendingEnv()


def _state(group, score, will_repay, cash=10.0, dist=INITIAL_SCORE_DIST):
    zeros = jnp.zeros(2)
    return LendingState(
        score_dist=jnp.asarray(dist, jnp.float32),
        cash=jnp.asarray(cash, jnp.float32),
        group=jnp.asarray(group, jnp.int32),
        score=jnp.asarray(score, jnp.int32),
        will_repay=jnp.asarray(will_repay),
        window_tp=zeros,
        window_pos=zeros,
        window_lent=zeros,
        window_seen=zeros,
        time=0,
    )


def _with_applicant(state, group, score, will_repay):
    group, score = jnp.asarray(group, jnp.int32), jnp.asarray(score, jnp.int32)
    return state.replace(group=group, score=score, will_repay=jnp.asarray(will_repay))


def test_registered():
    assert FAIRNESS_ENVS["Lending-v0"] is LendingEnv


def test_shift_moves_mass_up_down_and_clips_at_the_ends():
    dist = jnp.asarray(INITIAL_SCORE_DIST)
    up = shift_score_mass(dist, jnp.int32(0), jnp.int32(3), jnp.bool_(True), 0.01)
    np.testing.assert_allclose(up[0], [0, 0.1, 0.1, 0.19, 0.31, 0.3, 0], atol=1e-7)
    np.testing.assert_allclose(up[1], INITIAL_SCORE_DIST[1], atol=1e-7)  # other group untouched
    down = shift_score_mass(dist, jnp.int32(1), jnp.int32(2), jnp.bool_(False), 0.01)
    np.testing.assert_allclose(down[1], [0.1, 0.11, 0.19, 0.3, 0.3, 0, 0], atol=1e-7)
    # bottom level defaulting and top level repaying have nowhere to go
    bottom = shift_score_mass(dist, jnp.int32(1), jnp.int32(0), jnp.bool_(False), 0.01)
    np.testing.assert_allclose(bottom, dist, atol=1e-7)
    top = shift_score_mass(up, jnp.int32(0), jnp.int32(6), jnp.bool_(True), 0.01)
    np.testing.assert_allclose(top, up, atol=1e-7)
    # never more mass than the level holds
    thin = dist.at[0, 1].set(0.004).at[0, 2].set(0.196)
    moved = shift_score_mass(thin, jnp.int32(0), jnp.int32(1), jnp.bool_(True), 0.01)
    np.testing.assert_allclose(moved[0, 1:3], [0.0, 0.2], atol=1e-7)


def test_lend_repaid_default_and_deny_by_hand():
    params = lending_params(gap_window=4.0)
    key = jax.random.PRNGKey(0)
    # lend to a group-0 applicant at level 4 who repays: +interest, mass 4 -> 5
    obs, s1, r, term, info = ENV.step_env(key, _state(0, 4, True), 1, params)
    assert float(r) == 1.0 and float(s1.cash) == 11.0 and not bool(term)
    np.testing.assert_allclose(s1.score_dist[0], [0, 0.1, 0.1, 0.2, 0.29, 0.31, 0], atol=1e-7)
    assert int(info["group"]) == 0 and int(info["score"]) == 4 and bool(info["repaid"]) and bool(info["lent"])
    assert obs.shape == (9,) and float(obs.sum()) == 2.0  # one-hot group + one-hot score
    # lend to a group-1 applicant at level 2 who defaults: -1, mass 2 -> 1
    _, s2, r, _, info = ENV.step_env(key, _state(1, 2, False), 1, params)
    assert float(r) == -1.0 and float(s2.cash) == 9.0
    np.testing.assert_allclose(s2.score_dist[1], [0.1, 0.11, 0.19, 0.3, 0.3, 0, 0], atol=1e-7)
    # deny: nothing changes, but info still carries the true outcome
    _, s3, r, _, info = ENV.step_env(key, _state(1, 2, True), 0, params)
    assert float(r) == 0.0 and float(s3.cash) == 10.0 and bool(info["repaid"]) and not bool(info["lent"])
    np.testing.assert_allclose(s3.score_dist, INITIAL_SCORE_DIST, atol=1e-7)


def test_windowed_tpr_gap_cost_by_hand():
    # W = 4 -> decay 0.75 per applicant.
    params = lending_params(gap_window=4.0)
    key = jax.random.PRNGKey(1)
    s = _state(0, 4, True)
    _, s, _, _, info = ENV.step_env(key, s, 1, params)  # g0: tp 1, pos 1; g1 no positives -> TPR 1
    assert float(info["cost"]) == 0.0
    _, s, _, _, info = ENV.step_env(key, _with_applicant(s, 1, 2, True), 0, params)
    # tp = [0.75, 0], pos = [0.75, 1] -> TPR [1, 0]
    np.testing.assert_allclose(s.window_tp, [0.75, 0.0])
    np.testing.assert_allclose(float(info["cost"]), 1.0)
    _, s, _, _, info = ENV.step_env(key, _with_applicant(s, 1, 3, True), 1, params)
    # tp = [0.5625, 1], pos = [0.5625, 1.75] -> TPR [1, 1/1.75]
    np.testing.assert_allclose(float(info["cost"]), 1 - 1 / 1.75, rtol=1e-6)
    # a defaulting applicant is not a positive: denying them leaves the TPRs (up to decay) alone
    _, s, _, _, info = ENV.step_env(key, _with_applicant(s, 1, 1, False), 0, params)
    np.testing.assert_allclose(float(info["cost"]), 1 - 0.75 / (1.75 * 0.75), rtol=1e-6)


def test_group_stats_observation_and_termination():
    params = lending_params(observe_group_stats=True, gap_window=4.0)
    assert ENV.observation_space(params).shape == (13,)
    obs, s, _, _, _ = ENV.step_env(jax.random.PRNGKey(0), _state(0, 4, True), 1, params)
    # TPR [1, 1], selection rate [1, 0]
    np.testing.assert_allclose(obs[9:], [1.0, 1.0, 1.0, 0.0])
    # the bank cannot afford another loan -> terminated
    _, _, _, term, _ = ENV.step_env(jax.random.PRNGKey(0), _state(0, 4, False, cash=1.5), 1, params)
    assert bool(term)


def test_sampling_matches_published_distributions():
    params = ENV.default_params
    keys = jax.random.split(jax.random.PRNGKey(2), 40_000)
    _, states = jax.vmap(ENV.reset_env, in_axes=(0, None))(keys, params)
    group, score, repay = (np.asarray(x) for x in (states.group, states.score, states.will_repay))
    assert abs(group.mean() - 0.5) < 0.01
    for g in range(2):
        freq = np.bincount(score[group == g], minlength=7) / (group == g).sum()
        np.testing.assert_allclose(freq, INITIAL_SCORE_DIST[g], atol=0.012)
    for level in (1, 3, 5):
        assert abs(repay[score == level].mean() - REPAY_PROB[level]) < 0.025


def test_gymnax_step_jits_vmaps_and_auto_resets():
    params = lending_params(max_steps_in_episode=3)
    keys = jax.random.split(jax.random.PRNGKey(3), 4)
    obs, state = jax.vmap(ENV.reset, in_axes=(0, None))(keys, params)
    step = jax.jit(jax.vmap(ENV.step, in_axes=(0, 0, 0, None)))
    for _ in range(3):
        obs, state, reward, term, trunc, info = step(keys, state, jnp.ones(4, jnp.int32), params)
    assert bool(trunc.all()) and not bool(term.any())
    np.testing.assert_array_equal(np.asarray(state.time), 0)  # auto-reset after truncation
    np.testing.assert_allclose(np.asarray(state.cash), 10_000.0)


def test_bad_params_raise_user_error():
    with pytest.raises(UserError, match="sum to 1"):
        lending_params(group_probs=jnp.asarray([0.7, 0.7]))
    with pytest.raises(UserError, match="unknown"):
        lending_params(interest=2.0)
    with pytest.raises(UserError, match="shift"):
        lending_params(shift=-0.1)


def test_replay_score_dists_by_hand():
    from seuseuro.envs.fairness.lending import replay_score_dists

    # g0 at level 5 repays a loan (.01 moves 5 -> 6); g1 at level 0 defaults on a loan (clipped: nothing
    # moves); g1 at level 3 is denied (nothing moves). Each row is the population *before* that decision.
    before = replay_score_dists(
        jnp.asarray(INITIAL_SCORE_DIST, jnp.float32),
        jnp.asarray([0, 1, 1]),
        jnp.asarray([5, 0, 3]),
        jnp.asarray([True, False, True]),
        jnp.asarray([True, True, False]),
        0.01,
    )
    after_first = np.array(INITIAL_SCORE_DIST)
    after_first[0, 5], after_first[0, 6] = 0.29, 0.01
    np.testing.assert_allclose(before, [INITIAL_SCORE_DIST, after_first, after_first], atol=1e-6)
