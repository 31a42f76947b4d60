"""Off-policy targets against values worked out by hand (rlax-style, one example, vmapped here)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from seuseuro.core.networks import MLP
from seuseuro.core.value_learning import (
    clipped_double_q_target,
    double_q_learning,
    double_q_learning_target,
    huber_loss,
    linear_schedule,
    periodic_hard_update,
    q_learning,
    q_learning_target,
    soft_update,
)

Q_T = jnp.array([3.0, -1.0, 2.0])  # next-state values (target network)
SELECTOR = jnp.array([0.0, 1.0, 5.0])  # next-state values (online network): argmax = action 2
Q_TM1 = jnp.array([1.0, 2.0, 0.0])


def test_q_learning_target_and_td_error():
    # target = .5 + .9 * max(3, -1, 2) = 3.2; td = 3.2 - q_tm1[1] = 3.2 - 2 = 1.2
    assert float(q_learning_target(jnp.array(0.5), jnp.array(0.9), Q_T)) == pytest.approx(3.2)
    assert float(q_learning(Q_TM1, jnp.array(1), jnp.array(0.5), jnp.array(0.9), Q_T)) == pytest.approx(1.2)
    # terminated: discount 0 -> target = r
    assert float(q_learning_target(jnp.array(0.5), jnp.array(0.0), Q_T)) == pytest.approx(0.5)
    # 3-step: the buffer hands reward = G and discount = .9^3 = .729 -> 2 + .729 * 3 = 4.187
    assert float(q_learning_target(jnp.array(2.0), jnp.array(0.729), Q_T)) == pytest.approx(4.187)


def test_double_q_selects_with_online_and_evaluates_with_target():
    # online argmax = 2, target value there = 2: .5 + .9 * 2 = 2.3 (plain max would give 3.2)
    target = double_q_learning_target(jnp.array(0.5), jnp.array(0.9), Q_T, SELECTOR)
    assert float(target) == pytest.approx(2.3)
    # td for action 0: 2.3 - 1 = 1.3
    td = double_q_learning(Q_TM1, jnp.array(0), jnp.array(0.5), jnp.array(0.9), Q_T, SELECTOR)
    assert float(td) == pytest.approx(1.3)


def test_vmapped_over_a_batch_and_shapes_are_checked():
    q_tm1 = jnp.stack([Q_TM1, Q_TM1])
    td = jax.vmap(q_learning)(
        q_tm1, jnp.array([1, 0]), jnp.array([0.5, 1.0]), jnp.array([0.9, 0.0]), jnp.stack([Q_T, Q_T])
    )
    np.testing.assert_allclose(td, [1.2, 1.0 - 1.0], rtol=1e-6)  # second: target 1 (terminal) - q 1
    with pytest.raises(ValueError, match="rank"):
        q_learning(q_tm1, jnp.array([1, 0]), jnp.array([0.5, 1.0]), jnp.array([0.9, 0.9]), q_tm1)


def test_gradient_flows_only_through_q_tm1():
    grad_q_t = jax.grad(lambda q: q_learning(Q_TM1, jnp.array(1), jnp.array(0.5), jnp.array(0.9), q))(Q_T)
    np.testing.assert_array_equal(grad_q_t, jnp.zeros(3))
    grad_q_tm1 = jax.grad(lambda q: q_learning(q, jnp.array(1), jnp.array(0.5), jnp.array(0.9), Q_T))(Q_TM1)
    np.testing.assert_array_equal(grad_q_tm1, [0.0, -1.0, 0.0])


def test_clipped_double_q_target():
    r, d, q1, q2 = jnp.array(1.0), jnp.array(0.99), jnp.array(5.0), jnp.array(4.0)
    # TD3: 1 + .99 * min(5, 4) = 4.96
    assert float(clipped_double_q_target(r, d, q1, q2)) == pytest.approx(4.96)
    # SAC, alpha .2, log_prob -1.5: 1 + .99 * (4 + .3) = 5.257
    assert float(clipped_double_q_target(r, d, q1, q2, jnp.array(-1.5), 0.2)) == pytest.approx(5.257)
    # terminated: only the reward, whatever the entropy bonus
    assert float(clipped_double_q_target(r, jnp.array(0.0), q1, q2, jnp.array(-1.5), 0.2)) == pytest.approx(1.0)


def test_huber_loss_and_its_gradient_is_the_clipped_error():
    x = jnp.array([-3.0, -1.0, 0.5, 2.0])
    # |x|<=1: .5 x^2 -> .5, .125; beyond: |x| - .5 -> 2.5, 1.5
    np.testing.assert_allclose(huber_loss(x), [2.5, 0.5, 0.125, 1.5], rtol=1e-6)
    # delta 2: x = 3 -> 2 * (3 - 1) = 4; x = 1 -> .5
    np.testing.assert_allclose(huber_loss(jnp.array([3.0, 1.0]), 2.0), [4.0, 0.5], rtol=1e-6)
    np.testing.assert_allclose(jax.grad(lambda v: huber_loss(v).sum())(x), [-1.0, -1.0, 0.5, 1.0], rtol=1e-6)


def test_soft_update_mixes_float_arrays_and_keeps_the_rest():
    target = {"w": jnp.array([0.0, 4.0]), "step": jnp.asarray(7, jnp.int32)}
    online = {"w": jnp.array([8.0, 0.0]), "step": jnp.asarray(1, jnp.int32)}
    # .25 * online + .75 * target = [2, 3]; the integer counter is not averaged
    out = soft_update(target, online, 0.25)
    np.testing.assert_allclose(out["w"], [2.0, 3.0], rtol=1e-6)
    assert int(out["step"]) == 7
    # a whole Equinox network (its activation function is a non-array leaf)
    net_t, net_o = MLP(jax.random.PRNGKey(0), 3, 2), MLP(jax.random.PRNGKey(1), 3, 2)
    x = jnp.ones(3)
    np.testing.assert_allclose(soft_update(net_t, net_o, 1.0)(x), net_o(x), rtol=1e-6)
    np.testing.assert_allclose(soft_update(net_t, net_o, 0.0)(x), net_t(x), rtol=1e-6)


def test_periodic_hard_update_under_jit():
    target, online = {"w": jnp.zeros(2)}, {"w": jnp.ones(2)}
    update = jax.jit(periodic_hard_update, static_argnums=3)
    np.testing.assert_array_equal(update(target, online, jnp.asarray(500), 500)["w"], [1.0, 1.0])
    np.testing.assert_array_equal(update(target, online, jnp.asarray(501), 500)["w"], [0.0, 0.0])


def test_linear_schedule():
    # 1 -> .05 over 100 steps: halfway .525, then flat
    values = [float(linear_schedule(s, 1.0, 0.05, 100)) for s in (0, 50, 100, 200)]
    np.testing.assert_allclose(values, [1.0, 0.525, 0.05, 0.05], rtol=1e-6)
    assert float(jax.jit(linear_schedule, static_argnums=(1, 2, 3))(jnp.asarray(25), 1.0, 0.0, 100)) == pytest.approx(
        0.75
    )
