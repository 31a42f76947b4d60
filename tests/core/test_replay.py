"""The functional replay buffer against hand-worked contents, n-step returns and sampling frequencies."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from seuseuro.core import replay
from seuseuro.core.checkpoint import load_checkpoint, save_checkpoint
from seuseuro.core.types import Transition
from seuseuro.errors import UserError


def step(t, reward, terminated=None, truncated=None, valid=None, num_envs=None):
    """One call's worth of N transitions; obs = 100 e + t, next_obs = obs + .5 (the pre-reset obs)."""
    reward = jnp.asarray(reward, jnp.float32)
    n = reward.shape[0] if num_envs is None else num_envs
    obs = (100.0 * jnp.arange(n) + t)[:, None]
    return Transition(
        obs=obs,
        action=jnp.full((n,), t, jnp.int32),
        log_prob=jnp.zeros(n),
        reward=reward,
        terminated=jnp.zeros(n, bool) if terminated is None else jnp.asarray(terminated),
        truncated=jnp.zeros(n, bool) if truncated is None else jnp.asarray(truncated),
        next_obs=obs + 0.5,
        valid=None if valid is None else jnp.asarray(valid),
    )


def draw(buffer, num=4000, beta=0.4, seed=0):
    """Many samples at once: a dict flat index -> (reward, discount, next_obs) and the index counts."""
    s = jax.jit(replay.sample, static_argnums=2)(buffer, jax.random.PRNGKey(seed), num, beta)
    return s, np.bincount(np.asarray(s.index), minlength=buffer.rows * buffer.num_envs)


def by_index(s):
    return {
        int(i): (float(r), float(d), float(o[0]))
        for i, r, d, o in zip(s.index, s.reward, s.discount, s.next_obs, strict=True)
    }


def test_wrap_around_overwrites_the_oldest_row():
    buf = replay.init(3, step(0, [0.0]))
    for t in range(5):  # rows: t0 -> 0, t1 -> 1, t2 -> 2, t3 -> 0, t4 -> 1
        buf = replay.add(buf, step(t, [float(t)]))
    np.testing.assert_array_equal(buf.data.reward[:, 0], [3.0, 4.0, 2.0])
    assert int(buf.cursor) == 2 and int(buf.rows_added) == 3
    s, counts = draw(buf)
    assert set(np.asarray(s.reward).tolist()) == {2.0, 3.0, 4.0}
    assert counts.min() > 1000  # uniform over 3 rows: ~1333 each


def test_only_written_and_valid_rows_are_sampled():
    # 2 envs, 4 rows; two steps written, env 1's second step is an auto-reset step (valid = 0)
    buf = replay.init(8, step(0, [0.0, 0.0]))
    buf = replay.add(buf, step(0, [1.0, 2.0]))
    buf = replay.add(buf, step(1, [3.0, 4.0], valid=[True, False]))
    s, _ = draw(buf)
    # flat index = row * 2 + env: valid are 0, 1, 2; 3 is the reset step, 4..7 never written.
    # Uniform replay may (with probability (1/4)^8 here) return the reset step, but with weight 0.
    kept = np.asarray(s.weight) > 0
    counts = np.bincount(np.asarray(s.index)[kept], minlength=8)
    assert counts[3:].sum() == 0 and counts[:3].min() > 1000
    assert set(np.asarray(s.reward)[kept].tolist()) == {1.0, 2.0, 3.0}
    np.testing.assert_array_equal(s.weight[np.asarray(s.index) < 3], 1.0)


def test_sampling_an_empty_buffer_gives_zero_weights():
    s, _ = draw(replay.init(4, step(0, [0.0])), num=8)
    np.testing.assert_array_equal(s.weight, 0.0)


def test_truncation_bootstraps_and_termination_does_not():
    # env 0 truncated, env 1 terminated, env 2 goes on; gamma .9
    buf = replay.init(6, step(0, [0.0] * 3), gamma=0.9)
    buf = replay.add(buf, step(0, [1.0, 1.0, 1.0], terminated=[False, True, False], truncated=[True, False, False]))
    assert bool(buf.data.truncated[0, 0]) and not bool(buf.data.terminated[0, 0])
    got = by_index(draw(buf, num=300)[0])
    # discounts: truncated .9 (bootstrap from the final obs 0.5), terminated 0, running .9
    assert got[0] == (1.0, pytest.approx(0.9), 0.5)
    assert got[1] == (1.0, 0.0, 100.5)
    assert got[2] == (1.0, pytest.approx(0.9), 200.5)


def test_n_step_returns_stop_at_episode_ends_invalid_rows_and_the_newest_row():
    # 2 envs, 8 rows, n = 3, gamma .5. obs(e, t) = 100 e + t, next_obs = obs + .5.
    #   env 0: r = 1, 2, 4 (truncated), [reset step, invalid, r = 100], 8, 16
    #   env 1: r = 1, 2 (terminated), 4, 8, 16, 32
    buf = replay.init(16, step(0, [0.0, 0.0]), n_step=3, gamma=0.5)
    env0 = [1, 2, 4, 100, 8, 16]
    env1 = [1, 2, 4, 8, 16, 32]
    for t in range(6):
        buf = replay.add(
            buf,
            step(t, [env0[t], env1[t]], terminated=[False, t == 1], truncated=[t == 2, False], valid=[t != 3, True]),
        )
    got = by_index(draw(buf)[0])
    idx = lambda t, e: 2 * t + e  # noqa: E731
    expected = {
        # env 0 from t0: 1 + .5 * 2 + .25 * 4 = 3, cut by the truncation at t2: discount .5^3, next_obs 2.5
        idx(0, 0): (3.0, 0.125, 2.5),
        idx(1, 0): (4.0, 0.25, 2.5),  # 2 + .5 * 4
        idx(2, 0): (4.0, 0.5, 2.5),
        # from t4: 8 + .5 * 16 = 16; t5 is the newest row, so only 2 steps: discount .25, next_obs 5.5
        idx(4, 0): (16.0, 0.25, 5.5),
        idx(5, 0): (16.0, 0.5, 5.5),
        # env 1 from t0: 1 + .5 * 2 = 2, terminated at t1: no bootstrap
        idx(0, 1): (2.0, 0.0, 101.5),
        idx(1, 1): (2.0, 0.0, 101.5),
        idx(2, 1): (12.0, 0.125, 104.5),  # 4 + .5 * 8 + .25 * 16
        idx(3, 1): (24.0, 0.125, 105.5),  # 8 + .5 * 16 + .25 * 32
        idx(4, 1): (32.0, 0.25, 105.5),  # 16 + .5 * 32
        idx(5, 1): (32.0, 0.5, 105.5),
    }
    assert idx(3, 0) not in got  # the reset step is never sampled
    assert set(got) == set(expected)
    for i, (r, d, o) in expected.items():
        assert got[i] == (pytest.approx(r), pytest.approx(d), pytest.approx(o)), i


def test_n_step_returns_across_the_wrap_around():
    # 1 env, 4 rows, n = 3, gamma .5; rewards t + 1 for t = 0..5 -> rows hold t4, t5, t2, t3; cursor 2
    buf = replay.init(4, step(0, [0.0]), n_step=3, gamma=0.5)
    for t in range(6):
        buf = replay.add(buf, step(t, [t + 1.0]))
    got = by_index(draw(buf, num=400)[0])
    # t2 (row 2): 3 + .5 * 4 + .25 * 5 = 6.25, next_obs of t4 (row 0) = 4.5
    assert got[2] == (6.25, 0.125, 4.5)
    # t3 (row 3): 4 + .5 * 5 + .25 * 6 = 8, reading rows 3, 0, 1; next_obs 5.5
    assert got[3] == (8.0, 0.125, 5.5)
    # t4 (row 0): 5 + .5 * 6 = 8, stopped at the newest row t5; t5 alone: 6
    assert got[0] == (8.0, 0.25, 5.5)
    assert got[1] == (6.0, 0.5, 5.5)


def test_prioritized_sampling_frequencies_and_importance_weights():
    # alpha 1, eps ~ 0: P = [1, 2, 3, 6] / 12
    buf = replay.init(5, step(0, [0.0]), prioritized=True, alpha=1.0, priority_eps=1e-9)
    for t in range(4):
        buf = replay.add(buf, step(t, [float(t)]))
    buf = replay.update_priorities(buf, jnp.array([0, 1, 2, 3]), jnp.array([1.0, -2.0, 3.0, 6.0]))
    s, counts = draw(buf, num=12_000, beta=1.0)
    # binomial std of a frequency <= sqrt(.25 / 12000) = .0046; stratified draws vary less: margin .03
    np.testing.assert_allclose(counts[:4] / 12_000, np.array([1, 2, 3, 6]) / 12, atol=0.03)
    assert counts[4] == 0  # the unwritten row
    # beta 1: w_i = (N P_i)^-1 / max_j (N P_j)^-1 = P_min / P_i = [1, 1/2, 1/3, 1/6]
    w = {int(i): float(x) for i, x in zip(s.index, s.weight, strict=True)}
    np.testing.assert_allclose([w[i] for i in range(4)], [1.0, 0.5, 1 / 3, 1 / 6], rtol=1e-5)
    # a new transition enters at the largest priority so far (6)
    buf = replay.add(buf, step(4, [4.0]))
    assert float(buf.priority[4, 0]) == pytest.approx(6.0)


def test_priority_update_sets_td_error_powers_and_the_running_maximum():
    # p_i^alpha = (|td_i| + eps)^alpha, alpha .6, eps .01: |td| .99 -> 1, 3.99 -> 4^.6 = 2.2974
    buf = replay.init(4, step(0, [0.0]), prioritized=True, alpha=0.6, priority_eps=0.01)
    for t in range(3):
        buf = replay.add(buf, step(t, [0.0]))
    buf = replay.update_priorities(buf, jnp.array([0, 2]), jnp.array([-0.99, 3.99]))
    # row 1 keeps the priority it entered with (the maximum then, 1); row 3 is unwritten
    np.testing.assert_allclose(np.asarray(buf.priority[:, 0]), [1.0, 1.0, 4**0.6, 0.0], rtol=1e-5)
    assert float(buf.max_priority) == pytest.approx(4**0.6, rel=1e-5)
    # P = [1, 1, 2.2974] / 4.2974; beta .5: w_i = (P_i / P_min)^-.5 = [1, 1, 0.6598]
    s, _ = draw(buf, num=64, beta=0.5)
    w = {int(i): float(x) for i, x in zip(s.index, s.weight, strict=True)}
    assert w[2] == pytest.approx(4**-0.3, rel=1e-5) and w[0] == pytest.approx(1.0)


def test_prioritized_alpha_flattens_and_never_samples_invalid_rows():
    # alpha .5: p^alpha = [1, 2] for |td| = [1, 4] -> P = [1/3, 2/3]; row 2 invalid with a huge priority
    buf = replay.init(3, step(0, [0.0]), prioritized=True, alpha=0.5, priority_eps=1e-9)
    for t in range(3):
        buf = replay.add(buf, step(t, [0.0], valid=[t != 2]))
    buf = replay.update_priorities(buf, jnp.array([0, 1, 2]), jnp.array([1.0, 4.0, 1e6]))
    _, counts = draw(buf, num=6000)
    assert counts[2] == 0
    np.testing.assert_allclose(counts[:2] / 6000, [1 / 3, 2 / 3], atol=0.03)


def test_proportional_draws_with_padding_and_zero_mass():
    # 7 slots (padded to a 3 x 3 grid); zero mass at 0, 3, 6 must never be drawn
    mass = jnp.array([0.0, 1.0, 2.0, 0.0, 1.0, 4.0, 0.0])
    idx = replay._sample_proportional(jax.random.PRNGKey(3), mass, 8000)
    counts = np.bincount(np.asarray(idx), minlength=9)
    assert counts[[0, 3, 6, 7, 8]].sum() == 0
    np.testing.assert_allclose(counts[[1, 2, 4, 5]] / 8000, np.array([1, 2, 1, 4]) / 8, atol=0.03)


def test_jit_and_vmap_over_seeds_inside_a_scan():
    num_seeds, num_envs = 3, 2

    def fill(seed_offset):
        buf = replay.init(8, step(0, [0.0] * num_envs), n_step=2, gamma=0.5)

        def body(b, t):
            return replay.add(b, step(t, jnp.full((num_envs,), seed_offset + t), num_envs=num_envs)), None

        return jax.lax.scan(body, buf, jnp.arange(6.0))[0]

    bufs = jax.jit(jax.vmap(fill))(1000.0 * jnp.arange(num_seeds))
    assert bufs.valid.shape == (num_seeds, 4, num_envs)
    keys = jax.random.split(jax.random.PRNGKey(0), num_seeds)
    s = jax.jit(jax.vmap(lambda b, k: replay.sample(b, k, 16)))(bufs, keys)
    assert s.reward.shape == (num_seeds, 16) and s.obs.shape == (num_seeds, 16, 1)
    # each seed samples its own data: rows keep t = 2..5, rewards off + t with off = 1000 seed;
    # 2-step returns (off + t) + .5 (off + t + 1) for t = 2, 3, 4 and off + 5 for the newest row
    for i in range(num_seeds):
        off = 1000.0 * i
        allowed = {off + t + 0.5 * (off + t + 1) for t in (2, 3, 4)} | {off + 5}
        assert set(np.asarray(s.reward[i]).tolist()) <= allowed
        one = replay.sample(jax.tree.map(lambda x: x[i], bufs), keys[i], 16)  # noqa: B023
        np.testing.assert_allclose(s.reward[i], one.reward, rtol=1e-6)
        np.testing.assert_array_equal(s.index[i], one.index)


def test_checkpoint_round_trip_gives_identical_samples(tmp_path):
    buf = replay.init(6, step(0, [0.0, 0.0]), n_step=2, gamma=0.9, prioritized=True)
    for t in range(4):
        buf = replay.add(buf, step(t, [float(t), -float(t)], valid=[True, t != 2]))
    buf = replay.update_priorities(buf, jnp.array([0, 3]), jnp.array([0.5, 2.0]))
    save_checkpoint(tmp_path / "buffer.npz", {"buffer": buf}, {"step": 4})
    template = {"buffer": replay.init(6, step(0, [0.0, 0.0]), n_step=2, gamma=0.9, prioritized=True)}
    loaded = load_checkpoint(tmp_path / "buffer.npz", template)[0]["buffer"]
    for a, b in zip(jax.tree.leaves(buf), jax.tree.leaves(loaded), strict=True):
        np.testing.assert_array_equal(a, b)
    key = jax.random.PRNGKey(7)
    for a, b in zip(replay.sample(buf, key, 32), replay.sample(loaded, key, 32), strict=True):
        np.testing.assert_array_equal(a, b)


def test_bad_configuration_is_a_user_error():
    with pytest.raises(UserError, match="capacity"):
        replay.init(2, step(0, [0.0] * 4))
    with pytest.raises(UserError, match="n_step"):
        replay.init(8, step(0, [0.0]), n_step=0)
