"""GRPO: every loss mode against hand-computed values, plus one rollout + update on a tiny model."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from seuseuro.algos import grpo
from seuseuro.envs.text import make_task
from seuseuro.errors import UserError
from seuseuro.lm.model import LMConfig, Transformer
from seuseuro.lm.rollout import prompt_length
from seuseuro.lm.tokenizer import train_tokenizer


def test_group_advantages_by_hand():
    rewards = jnp.array([[1.0, 0.0, 0.0, 1.0], [1.0, 1.0, 1.0, 1.0]])
    adv = grpo.group_advantages(rewards, scale=True, eps=0.0)
    # mean 0.5; Bessel std sqrt(4 * 0.25 / 3) = 0.57735
    np.testing.assert_allclose(adv[0], [0.866025, -0.866025, -0.866025, 0.866025], atol=1e-5)
    np.testing.assert_allclose(grpo.group_advantages(rewards, scale=True)[1], 0.0)  # equal group: 0, not NaN
    np.testing.assert_allclose(grpo.group_advantages(rewards, scale=False)[0], [0.5, -0.5, -0.5, 0.5])  # Dr. GRPO


def test_aggregation_modes_by_hand():
    per_token = jnp.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    mask = jnp.array([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    assert float(grpo.aggregate(per_token, mask, "token_mean", 3)) == pytest.approx(7 / 3)  # DAPO
    assert float(grpo.aggregate(per_token, mask, "seq_mean_token_mean", 3)) == pytest.approx(2.75)  # GRPO
    assert float(grpo.aggregate(per_token, mask, "seq_mean_token_sum_norm", 3)) == pytest.approx(7 / 6)  # Dr.
    # a fully masked answer (dropped group) counts in no normalizer
    mask2 = jnp.array([[1.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    assert float(grpo.aggregate(per_token, mask2, "seq_mean_token_mean", 3)) == pytest.approx(1.5)
    assert float(grpo.aggregate(per_token, mask2, "seq_mean_token_sum_norm", 3)) == pytest.approx(1.0)


def test_decoupled_clip_and_clip_fraction_by_hand():
    config = grpo.Config(clip_low=0.2, clip_high=0.28, loss_agg="token_mean")
    ratio = jnp.array([[1.5, 0.5], [1.5, 0.5]])
    old = jnp.zeros((2, 2))
    loss, m = grpo.clipped_policy_loss(jnp.log(ratio), old, jnp.array([1.0, -1.0]), jnp.ones((2, 2)), config)
    # A=+1: min(1.5, 1.28)=1.28, min(0.5, 0.8)=0.5; A=-1: min(-1.5,-1.28)=-1.5, min(-0.5,-0.8)=-0.8
    assert float(loss) == pytest.approx((-1.28 - 0.5 + 1.5 + 0.8) / 4, abs=1e-6)
    assert float(m["train/clip_fraction"]) == pytest.approx(0.5)


def test_kl_penalty_by_hand():
    assert float(grpo.kl_k3(jnp.log(0.5), jnp.log(0.25))) == pytest.approx(0.5 + np.log(2) - 1, abs=1e-6)
    assert float(grpo.kl_k3(jnp.array(-1.0), jnp.array(-1.0))) == 0.0
    config = grpo.Config(kl_coef=0.1)
    logp, ref = jnp.full((1, 2), jnp.log(0.5)), jnp.full((1, 2), jnp.log(0.25))
    loss, m = grpo.clipped_policy_loss(logp, logp, jnp.array([0.0]), jnp.ones((1, 2)), config, ref)
    assert float(loss) == pytest.approx(0.1 * (0.5 + np.log(2) - 1), abs=1e-6)
    assert float(m["train/kl"]) == pytest.approx(0.5 + np.log(2) - 1, abs=1e-6)


def test_on_policy_gradient_is_advantage_weighted_log_likelihood():
    config = grpo.Config(loss_agg="token_mean")
    grad = jax.grad(
        lambda lp: grpo.clipped_policy_loss(
            lp, jax.lax.stop_gradient(lp), jnp.array([1.0, -1.0]), jnp.ones((2, 2)), config
        )[0]
    )(jnp.zeros((2, 2)))
    np.testing.assert_allclose(grad, [[-0.25, -0.25], [0.25, 0.25]])


def test_overlong_penalty_and_equal_groups_by_hand():
    np.testing.assert_allclose(grpo.overlong_reward(jnp.array([5, 6, 8, 10]), 10, 4, 1.0), [0, 0, -0.5, -1.0])
    np.testing.assert_allclose(grpo.equal_group_mask(jnp.array([[1.0, 1.0], [0.0, 1.0]])), [[0, 0], [1, 1]])


def test_bad_config_is_a_user_error():
    with pytest.raises(UserError, match="group_size"):
        grpo.Config(group_size=1)
    with pytest.raises(UserError, match="clip_low"):
        grpo.Config(clip_low=1.5)


@pytest.mark.parametrize(
    "options",
    [
        dict(loss_agg="seq_mean_token_mean", kl_coef=0.04, clip_high=0.28, overlong="penalty", overlong_buffer=4),
        dict(
            loss_agg="seq_mean_token_sum_norm", scale_rewards=False, drop_equal_groups=True, overlong="mask", epochs=2
        ),
    ],
)
def test_rollout_and_update_run_and_drop_what_they_should(options):
    task = make_task("addition", digits=2)
    problems = task.sample(4, seed=0, split="train")
    tok = train_tokenizer([t for p in task.sample(100, 0, "train") for t in (p.prompt, p.solution)], 64)
    model = Transformer.init(LMConfig(vocab_size=tok.vocab_size, d_model=32, n_layers=1, d_ff=48), jax.random.key(0))
    config = grpo.Config(prompts_per_step=4, group_size=2, max_new_tokens=8, **options)
    plen = prompt_length(tok, [p.prompt for p in problems])
    state = grpo.init_state(model, config)
    batch, metrics = grpo.rollout(state, model, tok, problems, task.score, jax.random.key(1), config, plen)
    assert batch.tokens.shape == (8, plen + 8) and batch.mask.shape == (8, 8)
    assert metrics["rollout/accuracy"] == 0.0  # a random model never answers
    if config.drop_equal_groups:  # every group scores 0: nothing is learned from them
        assert float(batch.mask.sum()) == 0.0
    new_state, m = grpo.make_update(config, plen)(state, batch)
    assert int(new_state.step) == 1 and np.isfinite(float(m["train/loss"]))
    if config.overlong == "penalty":  # random answers run to the budget and are penalized
        assert metrics["rollout/reward"] < 0
    if config.drop_equal_groups:
        assert float(m["train/grad_norm"]) == 0.0
    assert dataclasses.asdict(config)
